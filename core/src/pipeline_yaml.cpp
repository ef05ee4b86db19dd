// Reads pipeline config files (DESIGN.md section 3) with yaml-cpp. yaml-cpp reports errors
// by throwing; this file is the boundary where those become Status values. Schema
// problems are collected so that one run reports all of them, each as
// "file:line:col: message naming the key".
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <optional>
#include <set>

#include "config_internal.h"
#include "torchport/files.h"
#include "torchport/host/pipeline.h"

namespace torchport {

namespace {

constexpr int kMaxNesting = 64;
const std::vector<std::string> kTopLevelKeys = {"torchport", "plugins", "input", "pipeline"};

class YamlConfigReader {
 public:
  YamlConfigReader(std::string file, std::string_view text) : file_(std::move(file)), text_(text) {}

  Status read(const YAML::Node& root, PipelineConfig& config) {
    if (!root.IsDefined() || root.IsNull()) {
      return Status::input(file_ + ": the config is empty; it needs at least `torchport: " +
                           std::to_string(kConfigSchemaVersion) + "` and a `pipeline:` list");
    }
    if (!root.IsMap()) {
      return Status::input(at(root.Mark()).toString() + ": the top level must be a map with keys " +
                           detail::joinNames(kTopLevelKeys) + ", got " + kindOf(root));
    }
    bool sawVersion = false;
    std::set<std::string, std::less<>> seen;
    for (auto it = root.begin(); it != root.end(); ++it) {
      // Copies: yaml-cpp iterators hand out temporaries, references would dangle.
      const YAML::Node keyNode = it->first;
      const YAML::Node value = it->second;
      const std::string key = keyNode.Scalar();
      SourceLocation keyWhere = at(keyNode.Mark());
      if (!seen.insert(key).second) {
        problem(keyWhere, "top-level key '" + key + "' appears more than once");
        continue;
      }
      if (key == "torchport") {
        sawVersion = true;
        readVersion(value, keyWhere, config);
      } else if (key == "plugins") {
        readPlugins(value, keyWhere, config);
      } else if (key == "input") {
        readInput(value, keyWhere, config);
      } else if (key == "pipeline") {
        readPipeline(value, keyWhere, config.steps);
      } else {
        problem(keyWhere, "unknown top-level key '" + key + "'" + detail::didYouMeanSuffix(key, kTopLevelKeys) +
                              "; known keys: " + detail::joinNames(kTopLevelKeys));
      }
    }
    if (!sawVersion) {
      // Reported first: without a version the rest of the file may follow another schema.
      problems_.insert(problems_.begin(), at(root.Mark()).toString() + ": missing `torchport: " +
                                              std::to_string(kConfigSchemaVersion) +
                                              "` (the config schema version); add it as the first line");
    }
    return detail::problemsToStatus(problems_);
  }

 private:
  SourceLocation at(const YAML::Mark& mark) const {
    if (mark.is_null() || mark.line < 0) return SourceLocation{file_, 0, 0};
    return SourceLocation{file_, mark.line + 1, mark.column + 1};
  }

  // Null nodes carry the mark of whatever token follows them, so callers pass the key's
  // location to use instead.
  SourceLocation at(const YAML::Node& node, const SourceLocation& fallback) const {
    if (node.IsNull()) return fallback;
    SourceLocation where = at(node.Mark());
    return where.line > 0 ? where : fallback;
  }

  void problem(const SourceLocation& where, const std::string& message) {
    problems_.push_back(where.toString() + ": " + message);
  }

  static std::string kindOf(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Null: return "nothing";
      case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
      case YAML::NodeType::Sequence: return "a list";
      case YAML::NodeType::Map: return "a map";
      case YAML::NodeType::Undefined: break;
    }
    return "nothing";
  }

  static OptionValue nullAt(const SourceLocation& where) {
    OptionValue value;
    value.setWhere(where);
    return value;
  }

  static bool isQuoted(const YAML::Node& node) { return node.Tag() == "!"; }

  OptionValue toValue(const YAML::Node& node, const SourceLocation& fallback, int depth) {
    SourceLocation where = at(node, fallback);
    if (depth > kMaxNesting) {
      problem(where, "values nested more than 64 deep");
      return nullAt(where);
    }
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullAt(where);
      case YAML::NodeType::Scalar:
        if (isQuoted(node)) return OptionValue(node.Scalar(), where);
        return OptionValue(detail::parsePlainScalar(node.Scalar()), where);
      case YAML::NodeType::Sequence: {
        OptionValue::List list;
        for (const YAML::Node& element : node) list.push_back(toValue(element, where, depth + 1));
        return OptionValue(std::move(list), where);
      }
      case YAML::NodeType::Map: {
        OptionValue::Map map;
        std::map<std::string, int, std::less<>> firstLine;
        for (auto it = node.begin(); it != node.end(); ++it) {
          const YAML::Node keyNode = it->first;
          const YAML::Node valueNode = it->second;
          SourceLocation keyWhere = at(keyNode, where);
          if (!keyNode.IsScalar()) {
            problem(keyWhere, "map keys must be plain names, got " + kindOf(keyNode));
            continue;
          }
          const std::string key = keyNode.Scalar();
          if (auto seen = firstLine.find(key); seen != firstLine.end()) {
            problem(keyWhere, "key '" + key + "' appears twice (first on line " + std::to_string(seen->second) + ")");
            continue;
          }
          firstLine.emplace(key, keyWhere.line);
          map.emplace_back(key, toValue(valueNode, keyWhere, depth + 1));
        }
        return OptionValue(std::move(map), where);
      }
    }
    return nullAt(where);
  }

  void readVersion(const YAML::Node& value, const SourceLocation& keyWhere, PipelineConfig& config) {
    SourceLocation where = at(value, keyWhere);
    OptionValue version = toValue(value, keyWhere, 0);
    if (!version.isInt() || isQuoted(value)) {
      problem(where, "'torchport' must be the config schema version, the number " +
                         std::to_string(kConfigSchemaVersion) + "; got " + version.toString());
      return;
    }
    if (version.asInt() != kConfigSchemaVersion) {
      problem(where, "config schema version " + std::to_string(version.asInt()) + " is not supported, this build reads " +
                         std::to_string(kConfigSchemaVersion));
      return;
    }
    config.schemaVersion = static_cast<int>(version.asInt());
  }

  void readPlugins(const YAML::Node& value, const SourceLocation& keyWhere, PipelineConfig& config) {
    if (value.IsNull()) return;
    if (!value.IsSequence()) {
      problem(at(value, keyWhere), "'plugins' must be a list of plugin files, e.g. `plugins: [./libmyops.so]`, got " +
                                       kindOf(value));
      return;
    }
    for (const YAML::Node& item : value) {
      SourceLocation where = at(item, keyWhere);
      if (!item.IsScalar() || item.Scalar().empty()) {
        problem(where, "each entry of 'plugins' must be a plugin file path, got " + kindOf(item));
        continue;
      }
      config.plugins.emplace_back(item.Scalar(), where);
    }
  }

  void readInput(const YAML::Node& value, const SourceLocation& keyWhere, PipelineConfig& config) {
    SourceLocation where = at(value, keyWhere);
    if (!value.IsMap()) {
      problem(where, "'input' must be a map, e.g. `input: {path: model.pt}`, got " + kindOf(value));
      return;
    }
    config.hasInput = true;
    config.input.where = where;
    config.input.raw = toValue(value, keyWhere, 0);
    const OptionValue* path = config.input.raw.find("path");
    if (path == nullptr || path->isNull()) {
      problem(where, "input: missing 'path' (the model file to read), e.g. `path: model.pt`");
    } else if (!path->isString() || path->asString().empty()) {
      problem(path->where(), "input: 'path' must be a file path, got " + path->toString());
    } else {
      config.input.path = path->asString();
    }
    if (const OptionValue* format = config.input.raw.find("format"); format != nullptr && !format->isNull()) {
      if (!format->isString() || format->asString().empty()) {
        problem(format->where(), "input: 'format' must be a format name such as torchscript or onnx, got " +
                                     format->toString());
      } else {
        config.input.format = format->asString();
      }
    }
  }

  void readPipeline(const YAML::Node& value, const SourceLocation& keyWhere, std::vector<PipelineStep>& steps) {
    if (value.IsNull()) return;
    if (value.IsScalar()) {  // the text grammar: `pipeline: "fold-constants,save-onnx{path=m.onnx}"`
      readTextSteps(value, keyWhere, steps);
      return;
    }
    if (!value.IsSequence()) {
      problem(at(value, keyWhere), "'pipeline' must be a list of steps (`- step-name` or `- step-name: {options}`), got " +
                                       kindOf(value));
      return;
    }
    readStepList(value, keyWhere, steps, 0);
  }

  void readTextSteps(const YAML::Node& scalar, const SourceLocation& fallback, std::vector<PipelineStep>& steps) {
    SourceLocation origin = at(scalar, fallback);
    if (isQuoted(scalar)) origin.column += 1;  // the mark is on the opening quote
    auto parsed = detail::parsePipelineTextAt(scalar.Scalar(), origin);
    if (!parsed) {
      problems_.push_back(parsed.status().message());
      return;
    }
    for (PipelineStep& step : parsed.value()) steps.push_back(std::move(step));
  }

  void readStepList(const YAML::Node& list, const SourceLocation& fallback, std::vector<PipelineStep>& steps, int depth) {
    if (depth > kMaxNesting) {
      problem(at(list, fallback), "fixpoint groups nested more than 64 deep");
      return;
    }
    for (const YAML::Node& item : list) readStep(item, at(list, fallback), steps, depth);
  }

  void readStep(const YAML::Node& item, const SourceLocation& fallback, std::vector<PipelineStep>& steps, int depth) {
    SourceLocation where = at(item, fallback);
    if (item.IsScalar()) {
      readTextSteps(item, fallback, steps);
      return;
    }
    if (!item.IsMap()) {
      problem(where, "a pipeline step must be `- step-name` or `- step-name: {options}`, got " + kindOf(item));
      return;
    }
    if (item.size() != 1) {
      std::vector<std::string> keys;
      for (auto it = item.begin(); it != item.end(); ++it) keys.push_back(it->first.Scalar());
      problem(where, "a pipeline step must be a single `step-name: {options}` entry, got keys " + detail::joinNames(keys) +
                         "; indent a step's options below its name, or start each step with '-'");
      return;
    }
    const YAML::Node nameNode = item.begin()->first;
    const YAML::Node options = item.begin()->second;
    SourceLocation nameWhere = at(nameNode, where);
    const std::string name = nameNode.Scalar();
    if (name.empty() || !std::all_of(name.begin(), name.end(), detail::isStepNameChar)) {
      problem(nameWhere, "'" + name + "' is not a step name (letters, digits, '-', '_' and '.' only)");
      return;
    }
    PipelineStep step;
    step.name = name;
    step.where = nameWhere;
    if (!options.IsNull() && !options.IsMap()) {
      problem(at(options, nameWhere), "options of step '" + name + "' must be a map (`" + name +
                                          ": {key: value}`), got " + kindOf(options));
      return;
    }
    OptionValue raw = toValue(options, nameWhere, 0);
    if (name == "fixpoint") {
      // `steps` is structure, not an option: take it out so the rest validates as options.
      // std::optional: assigning one YAML::Node to another would alias, not rebind.
      std::optional<YAML::Node> children;
      if (options.IsMap()) {
        for (auto it = options.begin(); it != options.end(); ++it) {
          if (it->first.Scalar() == "steps") children.emplace(it->second);
        }
      }
      if (!children) {
        problem(nameWhere, "fixpoint group needs its steps: `fixpoint: {max_iterations: 4, steps: [step-a, step-b]}`");
        return;
      }
      if (!children->IsSequence()) {
        problem(at(*children, nameWhere), "'steps' of a fixpoint group must be a list of steps, got " + kindOf(*children));
        return;
      }
      readStepList(*children, nameWhere, step.children, depth + 1);
      if (raw.isMap()) {
        auto& map = raw.asMap();
        map.erase(std::remove_if(map.begin(), map.end(), [](const auto& kv) { return kv.first == "steps"; }), map.end());
      }
    }
    step.rawOptions = std::move(raw);
    steps.push_back(std::move(step));
  }

  // The text line holding a yaml-cpp error, to spot tab indentation (a frequent mistake
  // that yaml-cpp reports without naming tabs).
  bool lineHasTabIndent(int zeroBasedLine) const {
    if (zeroBasedLine < 0) return false;
    size_t start = 0;
    for (int line = 0; line < zeroBasedLine; ++line) {
      start = text_.find('\n', start);
      if (start == std::string_view::npos) return false;
      ++start;
    }
    for (size_t i = start; i < text_.size() && (text_[i] == ' ' || text_[i] == '\t'); ++i) {
      if (text_[i] == '\t') return true;
    }
    return false;
  }

 public:
  Status syntaxError(const YAML::Exception& error) const {
    std::string where = at(error.mark).toString();
    std::string message = where + ": invalid YAML: " + error.msg;
    bool tabs = lineHasTabIndent(error.mark.line) || lineHasTabIndent(error.mark.line - 1);
    if (tabs) message += " (this line is indented with a tab; YAML indentation must use spaces)";
    else message += " (check the indentation and the brackets/quotes around this point)";
    return Status::input(message);
  }

 private:
  std::string file_;
  std::string_view text_;
  std::vector<std::string> problems_;
};

}  // namespace

Expected<PipelineConfig> parsePipelineYaml(std::string_view yamlText, const std::filesystem::path& file) {
  PipelineConfig config;
  config.file = file;
  if (!file.empty()) {
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(file, ec);
    config.baseDir = ec ? file.parent_path() : absolute.parent_path();
  }
  const std::string displayName = file.empty() ? std::string("<config>") : file.string();
  YamlConfigReader reader(displayName, yamlText);
  try {
    YAML::Node root = YAML::Load(std::string(yamlText));
    TP_RETURN_IF_ERROR(reader.read(root, config));
  } catch (const YAML::Exception& error) {
    return reader.syntaxError(error);
  }
  return config;
}

Expected<PipelineConfig> loadPipelineFile(const std::filesystem::path& file) {
  auto text = readTextFile(file);
  if (!text) return text.status().withContext("pipeline config");  // the message already names the file
  return parsePipelineYaml(text.value(), file);
}

}  // namespace torchport
