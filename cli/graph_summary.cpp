#include "graph_summary.h"

#include <algorithm>
#include <functional>
#include <sstream>
#include <unordered_map>

#include "torchport/host/json.h"

namespace torchport::cli {
namespace {

void forEachNodeDeep(const Graph& graph, const std::function<void(const Node&)>& visit,
                     const std::function<void(const Graph&)>& onNestedGraph = {}) {
  for (const Node* node : graph.nodes()) {
    visit(*node);
    for (const auto& [name, attribute] : node->attributes()) {
      if (const auto* nested = std::get_if<GraphPtr>(&attribute); nested != nullptr && *nested) {
        if (onNestedGraph) onNestedGraph(**nested);
        forEachNodeDeep(**nested, visit, onNestedGraph);
      }
    }
  }
}

void collectDims(std::span<Value* const> values, std::string_view side, GraphSummary& summary) {
  for (const Value* value : values) {
    const Type& type = value->type();
    if (!type.isTensor()) continue;
    if (!type.hasRank()) {
      ++summary.unknownDims;
      continue;
    }
    const auto& shape = *type.shape();
    for (size_t axis = 0; axis < shape.size(); ++axis) {
      const Dim& dim = shape[axis];
      if (dim.isUnknown()) ++summary.unknownDims;
      if (!dim.isSymbol()) continue;
      const std::string where = "%" + value->name() + " dim " + std::to_string(axis) + " (" + std::string(side) + ")";
      auto it = std::find_if(summary.dynamicDims.begin(), summary.dynamicDims.end(),
                             [&](const auto& entry) { return entry.first == dim.symbolName(); });
      if (it == summary.dynamicDims.end()) {
        summary.dynamicDims.push_back({dim.symbolName(), {where}});
      } else {
        it->second.push_back(where);
      }
    }
  }
}

std::string joined(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace

GraphSummary summarizeGraph(const Graph& graph) {
  GraphSummary summary;
  summary.name = graph.name();
  summary.nodes = graph.numNodes();
  std::map<std::string, size_t> counts;
  forEachNodeDeep(
      graph,
      [&](const Node& node) {
        ++summary.nodesDeep;
        ++counts[node.kind()];
        if (!node.isConstant()) return;
        const Tensor* tensor = node.tensorAttr("value");
        if (tensor == nullptr) return;
        ++summary.constantTensors;
        if (node.stringAttr("param") != nullptr) ++summary.parameterTensors;
        if (!tensor->hasData()) ++summary.elidedTensors;
        summary.parameterElements += tensor->numel();
        summary.parameterBytes += tensor->nbytes();
      },
      [&](const Graph&) { ++summary.nestedGraphs; });
  summary.opCounts.assign(counts.begin(), counts.end());
  std::stable_sort(summary.opCounts.begin(), summary.opCounts.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const Value* value : graph.inputs()) summary.inputs.push_back({value->name(), value->type().toString()});
  for (const Value* value : graph.outputs()) summary.outputs.push_back({value->name(), value->type().toString()});
  collectDims(graph.inputs(), "input", summary);
  collectDims(graph.outputs(), "output", summary);
  return summary;
}

OptionValue summaryToValue(const GraphSummary& summary) {
  const auto count = [](auto n) { return json::integer(static_cast<int64_t>(n)); };
  const auto signature = [](const std::vector<std::pair<std::string, std::string>>& entries) {
    OptionValue::List list;
    for (const auto& [name, type] : entries) {
      list.push_back(json::map({{"name", json::string(name)}, {"type", json::string(type)}}));
    }
    return json::list(std::move(list));
  };
  OptionValue::Map ops;
  for (const auto& [kind, n] : summary.opCounts) ops.emplace_back(kind, count(n));
  OptionValue::Map dynamic;
  for (const auto& [symbol, uses] : summary.dynamicDims) {
    OptionValue::List list;
    for (const std::string& use : uses) list.push_back(json::string(use));
    dynamic.emplace_back(symbol, json::list(std::move(list)));
  }
  return json::map({
      {"graph", json::string(summary.name)},
      {"nodes", count(summary.nodes)},
      {"nodes_including_nested", count(summary.nodesDeep)},
      {"nested_graphs", count(summary.nestedGraphs)},
      {"inputs", signature(summary.inputs)},
      {"outputs", signature(summary.outputs)},
      {"dynamic_dims", json::map(std::move(dynamic))},
      {"unknown_dims", count(summary.unknownDims)},
      {"parameters", json::map({{"tensors", count(summary.constantTensors)},
                                {"named", count(summary.parameterTensors)},
                                {"elements", count(summary.parameterElements)},
                                {"bytes", count(summary.parameterBytes)},
                                {"elided", count(summary.elidedTensors)}})},
      {"ops", json::map(std::move(ops))},
  });
}

std::string summaryToText(const GraphSummary& summary) {
  std::ostringstream out;
  out << "graph    @" << summary.name << ": " << summary.nodes << " nodes";
  if (summary.nestedGraphs > 0) {
    out << " (" << summary.nodesDeep << " including " << summary.nestedGraphs << " nested graphs)";
  }
  out << '\n';
  for (const auto& [name, type] : summary.inputs) out << "input    %" << name << ": " << type << '\n';
  for (const auto& [name, type] : summary.outputs) out << "output   %" << name << ": " << type << '\n';
  if (summary.dynamicDims.empty()) {
    out << "dynamic  none\n";
  } else {
    for (const auto& [symbol, uses] : summary.dynamicDims) {
      out << "dynamic  " << symbol << ": " << joined(uses, ", ") << '\n';
    }
  }
  if (summary.unknownDims > 0) out << "unknown  " << summary.unknownDims << " dims or ranks of inputs/outputs\n";
  out << "params   " << summary.constantTensors << " tensors (" << summary.parameterTensors << " named), "
      << summary.parameterElements << " elements, " << summary.parameterBytes << " bytes";
  if (summary.elidedTensors > 0) out << " (" << summary.elidedTensors << " without data)";
  out << '\n';
  out << "ops      " << summary.opCounts.size() << " kinds\n";
  size_t width = 0;
  for (const auto& [kind, n] : summary.opCounts) width = std::max(width, kind.size());
  for (const auto& [kind, n] : summary.opCounts) {
    out << "  " << kind << std::string(width - kind.size() + 2, ' ') << n << '\n';
  }
  return out.str();
}

namespace {

std::string dotQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

class DotWriter {
 public:
  std::string write(const Graph& graph) {
    out_ << "digraph " << dotQuote(graph.name()) << " {\n"
         << "  graph [rankdir=TB, compound=true, fontname=\"Helvetica\"];\n"
         << "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];\n"
         << "  edge [fontname=\"Helvetica\", fontsize=8];\n";
    writeGraph(graph, "  ");
    out_ << edges_.str() << "}\n";
    return out_.str();
  }

 private:
  void writeGraph(const Graph& graph, const std::string& indent) {
    for (const Value* input : graph.inputs()) {
      const std::string id = declare('v');
      sources_[input] = id;
      out_ << indent << id << " [shape=ellipse, style=solid, label="
           << dotQuote("%" + input->name() + "\n" + input->type().toString()) << "];\n";
    }
    for (const Node* node : graph.nodes()) writeNode(*node, indent);
    for (const Value* output : graph.outputs()) {
      const std::string id = declare('o');
      out_ << indent << id << " [shape=ellipse, style=solid, label="
           << dotQuote("return %" + output->name() + "\n" + output->type().toString()) << "];\n";
      edge(output, id);
    }
  }

  void writeNode(const Node& node, const std::string& indent) {
    const std::string id = declare('n');
    for (const Value* output : node.outputs()) sources_[output] = id;
    if (node.isConstant()) {
      std::string label = "const " + (node.numOutputs() == 1 ? node.output()->type().toString() : std::string());
      if (const std::string* param = node.stringAttr("param")) label += "\n" + *param;
      out_ << indent << id << " [shape=note, style=solid, fontsize=8, label=" << dotQuote(label) << "];\n";
    } else {
      std::string label = node.kind();
      if (!node.provenance().modulePath.empty()) label += "\n" + node.provenance().modulePath;
      out_ << indent << id << " [label=" << dotQuote(label) << "];\n";
    }
    for (const Value* input : node.inputs()) edge(input, id);
    for (const auto& [name, attribute] : node.attributes()) {
      const auto* nested = std::get_if<GraphPtr>(&attribute);
      if (nested == nullptr || !*nested) continue;
      const std::string cluster = "cluster_" + std::to_string(nextId_++);
      out_ << indent << "subgraph " << cluster << " {\n"
           << indent << "  label=" << dotQuote(node.kind() + " " + name) << "; style=dashed;\n";
      const size_t firstDeclared = declared_.size();
      writeGraph(**nested, indent + "  ");
      out_ << indent << "}\n";
      // A dashed edge from the owning node into the body (compound edge to the cluster).
      if (firstDeclared < declared_.size()) {
        edges_ << "  " << id << " -> " << declared_[firstDeclared] << " [style=dashed, arrowhead=none, lhead="
               << cluster << "];\n";
      }
    }
  }

  void edge(const Value* value, const std::string& target) {
    auto it = sources_.find(value);
    if (it == sources_.end()) return;  // value from outside what we drew (should not happen)
    edges_ << "  " << it->second << " -> " << target;
    if (!value->type().isUnknown()) edges_ << " [label=" << dotQuote(value->type().toString()) << "]";
    edges_ << ";\n";
  }

  std::string declare(char prefix) {
    declared_.push_back(prefix + std::to_string(nextId_++));
    return declared_.back();
  }

  std::ostringstream out_;
  std::ostringstream edges_;
  std::vector<std::string> declared_;  // DOT node ids in declaration order
  std::unordered_map<const Value*, std::string> sources_;
  size_t nextId_ = 0;
};

}  // namespace

std::string graphToDot(const Graph& graph) { return DotWriter().write(graph); }

}  // namespace torchport::cli
