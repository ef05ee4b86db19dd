// save-dot: a picture of the graph as Graphviz DOT, or SVG rendered by Graphviz's `dot`.
//
// Graph inputs and outputs are ellipses, ops are boxes labelled with their kind, attributes
// that fit on a line, and module path; edges carry the value's type. Constants are left out
// (their consumers show them as "+N const" in the label) unless `constants: true`. Nested
// graphs (If branches, Loop bodies) are drawn as clusters inside their node's cluster; an
// edge from an outer value into a body is a capture.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "formats.h"
#include "torchport/files.h"

extern char** environ;

namespace torchport::formats {
namespace {

constexpr size_t kMaxAttributeText = 40;

// DOT's quoted strings take JSON's escapes for what we produce.
std::string quote(std::string_view text) { return jsonString(text); }

std::string attributeText(const Attribute& attribute) {
  std::ostringstream out;
  if (const auto* i = std::get_if<int64_t>(&attribute)) out << *i;
  else if (const auto* d = std::get_if<double>(&attribute)) out << *d;
  else if (const auto* s = std::get_if<std::string>(&attribute)) out << '"' << *s << '"';
  else if (const auto* ints = std::get_if<std::vector<int64_t>>(&attribute)) {
    out << '[';
    for (size_t k = 0; k < ints->size(); ++k) out << (k > 0 ? "," : "") << (*ints)[k];
    out << ']';
  } else if (const auto* floats = std::get_if<std::vector<double>>(&attribute)) {
    out << '[';
    for (size_t k = 0; k < floats->size(); ++k) out << (k > 0 ? "," : "") << (*floats)[k];
    out << ']';
  } else if (const auto* tensor = std::get_if<Tensor>(&attribute)) {
    out << "tensor " << dtypeName(tensor->dtype()) << '[';
    for (size_t k = 0; k < tensor->shape().size(); ++k) out << (k > 0 ? "," : "") << tensor->shape()[k];
    out << ']';
  } else {
    return {};  // strings lists and graphs: not shown
  }
  return out.str();
}

class DotWriter {
 public:
  explicit DotWriter(bool showConstants) : showConstants_(showConstants) {}

  std::string write(const Graph& graph) {
    out_ << "digraph " << quote(graph.name()) << " {\n"
         << "  rankdir=TB;\n"
         << "  node [fontname=\"Helvetica\", fontsize=10];\n"
         << "  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];\n";
    for (const Value* input : graph.inputs()) {
      out_ << "  " << id(input) << " [shape=ellipse, style=filled, fillcolor=\"#d8ecd8\", label="
           << quote(input->name() + "\n" + input->type().toString()) << "];\n";
    }
    writeBody(graph, "  ");
    for (const Value* output : graph.outputs()) {
      const std::string sink = "out_" + std::to_string(counter_++);
      out_ << "  " << sink << " [shape=ellipse, style=filled, fillcolor=\"#f3dcc8\", label="
           << quote(output->name() + "\n" + output->type().toString()) << "];\n";
      edge(output, sink, "  ");
    }
    out_ << "}\n";
    return out_.str();
  }

 private:
  // A value's source node id: the graph input's ellipse or its producer's box.
  std::string id(const Value* value) {
    if (value->producer() == nullptr) return "v_" + key(value);
    return "n_" + key(value->producer());
  }
  template <class T>
  std::string key(const T* object) {
    auto [it, inserted] = ids_.emplace(static_cast<const void*>(object), ids_.size());
    return std::to_string(it->second);
  }
  bool hidden(const Value* value) const {
    return !showConstants_ && value->producer() != nullptr && value->producer()->isConstant();
  }
  void edge(const Value* value, const std::string& target, const std::string& indent) {
    if (hidden(value)) return;
    out_ << indent << id(value) << " -> " << target << " [label=" << quote(value->type().toString()) << "];\n";
  }

  void writeBody(const Graph& graph, const std::string& indent) {
    for (const Node* node : graph.nodes()) {
      if (node->isConstant() && !showConstants_) continue;
      std::string label = node->kind();
      size_t hiddenConstants = 0;
      for (const Value* input : node->inputs()) hiddenConstants += hidden(input) ? 1 : 0;
      for (const auto& [name, attribute] : node->attributes()) {
        if (name == "schema") continue;
        const std::string text = attributeText(attribute);
        if (!text.empty() && text.size() <= kMaxAttributeText) label += "\n" + name + "=" + text;
      }
      if (const std::string* param = node->stringAttr("param"); param != nullptr && node->isConstant()) label += "\n@" + *param;
      if (hiddenConstants > 0) label += "\n+" + std::to_string(hiddenConstants) + " const";
      if (!node->provenance().modulePath.empty()) label += "\n# " + node->provenance().modulePath;
      const char* fill = node->isConstant() ? "#eeeeee" : "#dde6f5";
      out_ << indent << "n_" << key(node) << " [shape=box, style=\"rounded,filled\", fillcolor=\"" << fill
           << "\", label=" << quote(label) << "];\n";
      for (const Value* input : node->inputs()) edge(input, "n_" + key(node), indent);
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* nested = std::get_if<GraphPtr>(&attribute);
        if (nested == nullptr || *nested == nullptr) continue;
        const Graph& body = **nested;
        out_ << indent << "subgraph cluster_" << counter_++ << " {\n"
             << indent << "  label=" << quote(node->kind() + " " + name) << "; style=dashed; color=\"#888888\";\n";
        for (const Value* input : body.inputs()) {
          out_ << indent << "  " << id(input) << " [shape=ellipse, label="
               << quote(input->name() + "\n" + input->type().toString()) << "];\n";
        }
        writeBody(body, indent + "  ");
        const std::string sink = "ret_" + std::to_string(counter_++);
        out_ << indent << "  " << sink << " [shape=point];\n";
        for (const Value* output : body.outputs()) edge(output, sink, indent + "  ");
        out_ << indent << "}\n";
        out_ << indent << sink << " -> n_" << key(node) << " [style=dotted];\n";
      }
    }
  }

  bool showConstants_;
  std::ostringstream out_;
  std::map<const void*, size_t> ids_;
  size_t counter_ = 0;
};

// `dot -Tsvg in -o out`, its stderr kept for the error message.
Expected<std::string> renderSvg(const std::string& dotText) {
  ScratchDirectory scratch("torchport-dot-");
  if (scratch.path().empty()) return Status::internal("save-dot: cannot create a scratch directory for Graphviz");
  const std::filesystem::path input = scratch.path() / "graph.dot";
  const std::filesystem::path output = scratch.path() / "graph.svg";
  const std::filesystem::path errors = scratch.path() / "dot.err";
  TP_RETURN_IF_ERROR(writeFileAtomically(input, dotText));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::string program = "dot", format = "-Tsvg", in = input.string(), flag = "-o", out = output.string();
  char* argv[] = {program.data(), format.data(), in.data(), flag.data(), out.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "dot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return Status::unsupported("save-dot: format svg needs Graphviz's `dot` on PATH, which was not found (" +
                               std::string(std::strerror(spawned)) +
                               "); install graphviz (apt-get install graphviz) or use format: dot");
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::internal("save-dot: waiting for `dot` failed: " + std::string(std::strerror(errno)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    auto message = readTextFile(errors);
    return Status::internal("save-dot: `dot -Tsvg` failed" +
                            (WIFEXITED(status) ? " with exit code " + std::to_string(WEXITSTATUS(status)) : std::string()) +
                            (message.hasValue() && !message->empty() ? ": " + *message : std::string()));
  }
  return readTextFile(output);
}

}  // namespace

PassInfo saveDotInfo() {
  PassInfo info;
  info.name = "save-dot";
  info.summary = "Draw the graph: Graphviz DOT, or SVG rendered with Graphviz's `dot`";
  info.description =
      "Inputs/outputs are ellipses, ops boxes (kind, short attributes, module path), edges carry types; If/Loop "
      "bodies are clusters. format=auto picks svg for *.svg paths and dot otherwise; svg needs `dot` on PATH "
      "(package graphviz) and says so when it is missing. Constants are hidden unless constants=true.";
  info.kind = StepKind::Export;
  OptionSpec path;
  path.name = "path";
  path.type = OptionType::String;
  path.required = true;
  path.doc = "output file (.dot/.gv or .svg)";
  OptionSpec format;
  format.name = "format";
  format.type = OptionType::String;
  format.defaultValue = stringValue("auto");
  format.choices = {"auto", "dot", "svg"};
  format.doc = "dot, svg, or auto (from the path's extension)";
  OptionSpec constants;
  constants.name = "constants";
  constants.type = OptionType::Bool;
  constants.defaultValue = OptionValue(OptionValue::Data(false));
  constants.doc = "draw constant nodes too";
  info.options = {std::move(path), std::move(format), std::move(constants)};
  return info;
}

Status saveDot(const Graph& graph, PassContext& context) {
  const std::filesystem::path path = context.resolvePath(context.options().getString("path"));
  std::string format = context.options().getString("format", "auto");
  if (format == "auto") format = path.extension() == ".svg" ? "svg" : "dot";
  const std::string dotText = DotWriter(context.options().getBool("constants", false)).write(graph);
  if (format == "svg") {
    TP_ASSIGN_OR_RETURN(std::string svg, renderSvg(dotText));
    TP_RETURN_IF_ERROR(writeFileAtomically(path, svg).withContext("save-dot"));
  } else {
    TP_RETURN_IF_ERROR(writeFileAtomically(path, dotText).withContext("save-dot"));
  }
  context.report("dot.path", stringValue(path.string()));
  context.report("dot.format", stringValue(format));
  context.diag().info("save-dot: wrote " + path.string() + " (" + format + ")");
  return Status::ok();
}

}  // namespace torchport::formats
