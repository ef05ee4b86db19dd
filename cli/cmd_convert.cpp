// `torchport convert IN -o OUT`: the common pipeline without writing a YAML file,
//   [lower-to-onnx{opset}] , optimize{level} , <--passes> , <exporter for OUT's extension>{path, ...}
// built as a PipelineConfig and validated exactly like a YAML pipeline.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli_common.h"
#include "torchport/host/json.h"
#include "torchport/host/pipeline.h"
#include "torchport/host/presets.h"
#include "torchport/ir.h"

namespace torchport::cli {
namespace fs = std::filesystem;

namespace {

struct ConvertArgs {
  std::string input;
  std::string output;
  std::string format;
  int64_t opset = 0;
  std::vector<std::string> inputNames;
  std::vector<std::string> outputNames;
  std::vector<std::string> dynamicAxes;
  std::string passes;
  int64_t optimizeLevel = kDefaultOptimizeLevel;
  std::vector<std::string> inputs;
  std::string method;                  // input.method
  std::string submodule;               // input.submodule
  std::vector<std::string> constants;  // input.constants, NAME=VALUE each
  std::string state;                   // input.state
  std::vector<std::string> plugins;
  RunOutputOptions output_;
  CLI::Option* opsetOption = nullptr;
};

SourceLocation flagLocation(std::string_view flag) { return SourceLocation{std::string(flag), 0, 0}; }

OptionValue stringList(const std::vector<std::string>& items) {
  OptionValue::List list;
  for (const std::string& item : items) list.push_back(json::string(item));
  return json::list(std::move(list));
}

// Splits on commas that are not inside [...] ("a=f32[1,3],b=i64[n]" -> two items).
std::vector<std::string> splitTopLevel(std::string_view text) {
  std::vector<std::string> items;
  std::string current;
  int depth = 0;
  for (char c : text) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) {
      items.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  items.push_back(current);
  return items;
}

// The YAML spelling of an element type (`dtype: float32`), from an IR name (f32) or
// a YAML one (float32).
std::optional<std::string> yamlDTypeName(std::string_view name) {
  static const std::vector<std::pair<DType, std::string_view>> kNames = {
      {DType::F32, "float32"}, {DType::F64, "float64"}, {DType::F16, "float16"}, {DType::BF16, "bfloat16"},
      {DType::I8, "int8"},     {DType::I16, "int16"},   {DType::I32, "int32"},   {DType::I64, "int64"},
      {DType::U8, "uint8"},    {DType::Bool, "bool"}};
  for (const auto& [dtype, yamlName] : kNames) {
    if (name == yamlName) return std::string(yamlName);
  }
  if (std::optional<DType> dtype = parseDType(name)) {
    for (const auto& [candidate, yamlName] : kNames) {
      if (candidate == *dtype) return std::string(yamlName);
    }
  }
  return std::nullopt;
}

// "16000" -> int, "0.5" -> float, "true"/"false" -> bool, "none" -> null, else a string.
OptionValue scalarFromText(const std::string& text) {
  if (text == "true" || text == "false") return json::boolean(text == "true");
  if (text == "none" || text == "None" || text == "null") return json::null();
  try {
    size_t used = 0;
    const long long integer = std::stoll(text, &used);
    if (used == text.size()) return json::integer(integer);
    const double number = std::stod(text, &used);
    if (used == text.size()) return json::number(number);
  } catch (const std::exception&) {
    // not a number: a string
  }
  return json::string(text);
}

// --constant sr=16000 (repeatable) -> {sr: 16000}
Expected<OptionValue> parseConstants(const std::vector<std::string>& items) {
  OptionValue::Map constants;
  for (const std::string& item : items) {
    const size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0) {
      return Status::usage("--constant '" + item + "': expected NAME=VALUE such as sr=16000");
    }
    constants.emplace_back(item.substr(0, equals), scalarFromText(item.substr(equals + 1)));
  }
  return json::map(std::move(constants));
}

// --inputs 'input=f32[batch,3,224,224],mask=bool[batch,?],steps=4' ->
//   {input: {shape: [batch, 3, 224, 224], dtype: float32}, mask: {...}, steps: {value: 4}}
// (NAME=NUMBER declares a scalar argument by an example value.)
Expected<OptionValue> parseInputSpecs(const std::vector<std::string>& specs) {
  OptionValue::Map inputs;
  for (const std::string& spec : specs) {
    for (const std::string& item : splitTopLevel(spec)) {
      const auto bad = [&](std::string_view why) {
        return Status::usage("--inputs '" + item + "': " + std::string(why) +
                             "; expected NAME=DTYPE[DIM,...] such as input=f32[batch,3,224,224]");
      };
      const size_t equals = item.find('=');
      const size_t open = item.find('[');
      if (equals == std::string::npos || equals == 0) return bad("missing NAME=");
      if (open == std::string::npos) {
        const OptionValue value = scalarFromText(item.substr(equals + 1));
        if (value.isInt() || value.isFloat() || value.isBool()) {
          inputs.emplace_back(item.substr(0, equals), json::map({{"value", value}}));
          continue;
        }
      }
      if (open == std::string::npos || open < equals || item.back() != ']') return bad("missing [shape]");
      const std::string name = item.substr(0, equals);
      const std::string dtypeText = item.substr(equals + 1, open - equals - 1);
      const std::optional<std::string> dtype = yamlDTypeName(dtypeText);
      if (!dtype) return bad("unknown element type '" + dtypeText + "'");
      OptionValue::List shape;
      const std::string dims = item.substr(open + 1, item.size() - open - 2);
      if (!dims.empty()) {
        for (const std::string& dim : splitTopLevel(dims)) {
          if (dim.empty()) return bad("empty dimension");
          const bool numeric = std::all_of(dim.begin(), dim.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
          if (numeric) {
            shape.push_back(json::integer(std::stoll(dim)));
          } else if (dim == "?" || std::isalpha(static_cast<unsigned char>(dim[0])) || dim[0] == '_') {
            shape.push_back(json::string(dim));
          } else {
            return bad("bad dimension '" + dim + "' (use a size, a symbol like batch, or ?)");
          }
        }
      }
      inputs.emplace_back(name, json::map({{"shape", json::list(std::move(shape))}, {"dtype", json::string(*dtype)}}));
    }
  }
  return json::map(std::move(inputs));
}

// --dynamic-axes input:0=batch,output:0=batch -> {input: {0: batch}, output: {0: batch}}
Expected<OptionValue> parseDynamicAxes(const std::vector<std::string>& items) {
  OptionValue::Map axes;
  for (const std::string& item : items) {
    const size_t colon = item.find(':');
    const size_t equals = item.find('=');
    if (colon == std::string::npos || equals == std::string::npos || equals < colon || colon == 0 ||
        equals == colon + 1 || equals + 1 == item.size()) {
      return Status::usage("--dynamic-axes '" + item + "': expected NAME:AXIS=SYMBOL such as input:0=batch");
    }
    const std::string name = item.substr(0, colon);
    const std::string axis = item.substr(colon + 1, equals - colon - 1);
    const std::string symbol = item.substr(equals + 1);
    if (!std::all_of(axis.begin(), axis.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      return Status::usage("--dynamic-axes '" + item + "': axis '" + axis + "' is not a non-negative integer");
    }
    OptionValue* perName = nullptr;
    for (auto& [key, value] : axes) {
      if (key == name) perName = &value;
    }
    if (perName == nullptr) {
      axes.emplace_back(name, json::map());
      perName = &axes.back().second;
    }
    perName->asMap().emplace_back(axis, json::string(symbol));
  }
  return json::map(std::move(axes));
}

std::string knownOutputFormats(const Registry& registry) {
  std::string known;
  for (const ExporterEntry* exporter : registry.exporters()) {
    for (const std::string& extension : exporter->extensions) {
      if (!known.empty()) known += ", ";
      known += extension + " (" + exporter->info.name + ")";
    }
  }
  return known.empty() ? std::string("none") : known;
}

Expected<PipelineConfig> buildConvertConfig(const ConvertArgs& args, const Registry& registry,
                                            const Status& pluginErrors) {
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  const fs::path outputPath = fs::absolute(args.output, ec).lexically_normal();
  const ExporterEntry* exporter = registry.findExporterForPath(outputPath);
  if (exporter == nullptr) {
    std::string message = "-o " + args.output + ": no exporter writes '" + outputPath.extension().string() +
                          "' files (known: " + knownOutputFormats(registry) +
                          "); pick one of these extensions or load the plugin that writes this format";
    if (!pluginErrors.isOk()) message = pluginErrors.message() + "\n" + message;
    return Status::usage(std::move(message));
  }
  const bool toOnnx = exporter->format == "onnx";
  if (!toOnnx) {
    std::vector<std::string> onnxOnly;
    if (args.opsetOption != nullptr && args.opsetOption->count() > 0) onnxOnly.push_back("--opset");
    if (!args.inputNames.empty()) onnxOnly.push_back("--input-names");
    if (!args.outputNames.empty()) onnxOnly.push_back("--output-names");
    if (!args.dynamicAxes.empty()) onnxOnly.push_back("--dynamic-axes");
    if (!onnxOnly.empty()) {
      std::string flags;
      for (const std::string& flag : onnxOnly) flags += (flags.empty() ? "" : ", ") + flag;
      return Status::usage(flags + (onnxOnly.size() == 1 ? " only applies" : " only apply") + " to ONNX output, but '" + args.output + "' is written by " +
                           exporter->info.name + " (" + exporter->format + ")");
    }
  }

  PipelineConfig config;
  config.baseDir = cwd;
  config.hasInput = true;
  config.input.path = fs::absolute(args.input, ec).lexically_normal();
  config.input.format = args.format;
  config.input.where = flagLocation("torchport convert");
  OptionValue::Map rawInput;
  rawInput.emplace_back("path", json::string(config.input.path.string()));
  if (!args.format.empty()) rawInput.emplace_back("format", json::string(args.format));
  if (!args.inputs.empty()) {
    TP_ASSIGN_OR_RETURN(OptionValue inputs, parseInputSpecs(args.inputs));
    rawInput.emplace_back("inputs", std::move(inputs));
  }
  if (!args.method.empty()) rawInput.emplace_back("method", json::string(args.method));
  if (!args.submodule.empty()) rawInput.emplace_back("submodule", json::string(args.submodule));
  if (!args.state.empty()) rawInput.emplace_back("state", json::string(args.state));
  if (!args.constants.empty()) {
    TP_ASSIGN_OR_RETURN(OptionValue constants, parseConstants(args.constants));
    rawInput.emplace_back("constants", std::move(constants));
  }
  config.input.raw = json::map(std::move(rawInput));

  if (toOnnx) {
    PipelineStep lower;
    lower.name = "lower-to-onnx";
    lower.where = flagLocation("--opset");
    OptionValue::Map options;
    if (args.opsetOption != nullptr && args.opsetOption->count() > 0) {
      options.emplace_back("opset", OptionValue(json::integer(args.opset).data(), flagLocation("--opset")));
    }
    lower.rawOptions = options.empty() ? OptionValue() : json::map(std::move(options));
    config.steps.push_back(std::move(lower));
  }
  if (args.optimizeLevel > 0) {
    PipelineStep optimize;
    optimize.name = std::string(kOptimizePreset);
    optimize.where = flagLocation("--optimize");
    OptionValue::Map options;
    options.emplace_back("level", OptionValue(json::integer(args.optimizeLevel).data(), flagLocation("--optimize")));
    optimize.rawOptions = json::map(std::move(options));
    config.steps.push_back(std::move(optimize));
  }
  if (!args.passes.empty()) {
    TP_ASSIGN_OR_RETURN(std::vector<PipelineStep> passes, parsePipelineText(args.passes, "--passes"));
    for (PipelineStep& step : passes) config.steps.push_back(std::move(step));
  }

  PipelineStep save;
  save.name = exporter->info.name;
  save.where = flagLocation("-o");
  OptionValue::Map saveOptions;
  saveOptions.emplace_back("path", OptionValue(json::string(outputPath.string()).data(), flagLocation("-o")));
  if (!args.inputNames.empty()) saveOptions.emplace_back("input_names", stringList(args.inputNames));
  if (!args.outputNames.empty()) saveOptions.emplace_back("output_names", stringList(args.outputNames));
  if (!args.dynamicAxes.empty()) {
    TP_ASSIGN_OR_RETURN(OptionValue axes, parseDynamicAxes(args.dynamicAxes));
    axes.setWhere(flagLocation("--dynamic-axes"));
    saveOptions.emplace_back("dynamic_axes", std::move(axes));
  }
  save.rawOptions = json::map(std::move(saveOptions));
  config.steps.push_back(std::move(save));
  return config;
}

}  // namespace

Command addConvertCommand(CLI::App& parent, GlobalOptions& globals) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* command = parent.add_subcommand(
      "convert",
      "Convert IN to OUT (format from OUT's extension) through the pipeline\n"
      "[lower-to-onnx{opset}], optimize{level}, --passes, save-<format>{path, ...}, validated like a YAML pipeline");
  command->add_option("in", args->input, "Input model (format sniffed from its content)")
      ->required()
      ->type_name("IN");
  command->add_option("-o,--output", args->output, "Output file; its extension picks the exporter (.onnx, .tpir, ...)")
      ->required()
      ->type_name("OUT");
  command->add_option("--format", args->format, "Input format instead of sniffing it (tpir, onnx, torchscript, ...)")
      ->type_name("FORMAT");
  args->opsetOption = command->add_option("--opset", args->opset, "ONNX opset (default: lower-to-onnx's default)")
                          ->type_name("N");
  command->add_option("--input-names", args->inputNames, "ONNX graph input names, comma-separated")
      ->type_name("A,B")
      ->delimiter(',')
      ->allow_extra_args(false);
  command->add_option("--output-names", args->outputNames, "ONNX graph output names, comma-separated")
      ->type_name("A,B")
      ->delimiter(',')
      ->allow_extra_args(false);
  command->add_option("--dynamic-axes", args->dynamicAxes, "Dynamic axes, comma-separated: input:0=batch,output:0=batch")
      ->type_name("NAME:AXIS=SYM,...")
      ->delimiter(',')
      ->allow_extra_args(false);
  command->add_option("-O,--optimize", args->optimizeLevel,
                      "Optimization level of the optimize preset run after lowering (0 = off; see `torchport passes "
                      "optimize`)")
      ->type_name("LEVEL")
      ->default_val(kDefaultOptimizeLevel)
      ->check(CLI::Range(int64_t{0}, int64_t{kMaxOptimizeLevel}));
  command->add_option("--passes", args->passes,
                      "Steps to run after the optimize preset and before saving, in pipeline text form")
      ->type_name("PIPELINE");
  command->add_option("--inputs", args->inputs,
                      "Input types: 'input=f32[batch,3,224,224],mask=bool[batch,16]'; NAME=NUMBER gives a scalar "
                      "argument's example value")
      ->type_name("NAME=TYPE,...")
      ->allow_extra_args(false);
  command->add_option("--method", args->method, "TorchScript: the method that becomes the graph (default forward)")
      ->type_name("NAME");
  command->add_option("--submodule", args->submodule,
                      "TorchScript: export the method of this submodule (dotted path, e.g. _model)")
      ->type_name("PATH");
  command->add_option("--constant", args->constants,
                      "TorchScript: bind a non-tensor argument to a value, e.g. --constant sr=16000 (repeatable)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  command->add_option("--state", args->state,
                      "TorchScript: assigned module attributes become state_in/state_out (explicit, default) or "
                      "constants (frozen)")
      ->type_name("explicit|frozen")
      ->check(CLI::IsMember({"explicit", "frozen"}));
  command->add_option("--plugin", args->plugins, "Load this plugin file (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  args->output_.addTo(*command);

  return {command, [args, &globals]() -> int {
            globals.quiet = args->output_.quiet;
            if (Status status = applyLogging(globals); !status.isOk()) return reportError(status);
            RunSession run(args->output_.quiet || args->output_.json);
            run.loadPlugins(pluginRequests(globals, args->plugins));
            if (!run.session.setupStatus().isOk()) return reportError(run.session.setupStatus());
            auto config = buildConvertConfig(*args, run.session.registry(), run.pluginErrors);
            if (!config.hasValue()) return reportError(config.status());
            return executeRun(run, std::move(config).value(), args->output_);
          }};
}

}  // namespace torchport::cli
