// Generic dialect lowering (lowering.h) and the ConversionContext converters work with
// (registry.h).
//
// lowerGraph first checks the whole graph (nested bodies included) and refuses, changing
// nothing, with ONE error listing every op kind that has no converter. Then it converts in
// order: for each node, nested bodies are lowered first, then its converter emits new
// nodes before it and maps each old output to a new value; uses of the old outputs are
// rewired (replaceAllUsesWith, so graph output names stay) and the old node is erased.
//
// Conventions:
//  - Nodes already in the target domain are kept, and so are nodes in the custom domains
//    declared for the target in the session state "<target>.domain_versions" (custom-op).
//    prim::Constant is the IR's universal constant: converted when a converter for it
//    exists, kept otherwise.
//  - When a converter maps a graph output to a value that cannot take over the output's
//    name (a graph input, or another graph output), a `<target>::Identity` node is
//    inserted between them (ONNX has Identity; other targets must map to fresh values).
//  - A mapped value of unknown type inherits the tensor type of the output it replaces.
#include "torchport/lowering.h"

#include <algorithm>
#include <map>
#include <set>

namespace torchport {

// ---------------------------------------------------------------------------------------
// ConversionContext
// ---------------------------------------------------------------------------------------
Node* ConversionContext::emit(std::string_view kind, std::span<Value* const> inputs, size_t numOutputs) {
  Node* node = graph_.insertNodeBefore(&node_, kind, inputs, numOutputs);
  node->setProvenance(node_.provenance());
  return node;
}

Value* ConversionContext::constant(Tensor tensor) {
  return graph_.createConstant(std::move(tensor), &node_)->output();
}

void ConversionContext::mapOutput(size_t index, Value* value) {
  if (outputs_.size() <= index) outputs_.resize(std::max(index + 1, node_.numOutputs()), nullptr);
  outputs_[index] = value;
}

Value* ConversionContext::mappedOutput(size_t index) const {
  return index < outputs_.size() ? outputs_[index] : nullptr;
}

Status ConversionContext::unsupported(std::string_view why) const {
  return Status::unsupported("cannot convert " + node_.describe() + ": " + std::string(why));
}

Status ConversionContext::invalid(std::string_view why) const {
  return Status::input("cannot convert " + node_.describe() + ": " + std::string(why));
}

// ---------------------------------------------------------------------------------------
// Unsupported ops
// ---------------------------------------------------------------------------------------
namespace {

constexpr size_t kModulePathsPerOp = 3;

const Options& optionsOf(const LoweringRequest& request) {
  static const Options empty;
  return request.options != nullptr ? *request.options : empty;
}

// Custom domains the target keeps as they are (see lowering.h): nodes in them are final.
using KeptDomains = std::set<std::string, std::less<>>;

bool needsConversion(const Node& node, std::string_view target, const KeptDomains& kept) {
  return node.domain() != target && !kept.contains(node.domain());
}

KeptDomains keptDomainsOf(const PassContext& context, std::string_view target) {
  KeptDomains kept;
  if (auto domains = context.state<std::map<std::string, int64_t>>(std::string(target) + ".domain_versions")) {
    for (const auto& [domain, version] : *domains) kept.insert(domain);
  }
  return kept;
}

template <class Visit>
void forEachNodeDeep(const Graph& graph, const Visit& visit) {
  for (Node* node : graph.nodes()) {
    visit(*node);
    for (const auto& [name, attribute] : node->attributes()) {
      const auto* body = std::get_if<GraphPtr>(&attribute);
      if (body != nullptr && *body != nullptr) forEachNodeDeep(**body, visit);
    }
  }
}

std::string targetLabel(const LoweringRequest& request) {
  std::string label(request.target);
  if (request.version != 0) label += " (version " + std::to_string(request.version) + ")";
  return label;
}

std::string unsupportedMessage(const std::vector<UnsupportedOp>& ops, const LoweringRequest& request) {
  size_t total = 0;
  for (const auto& op : ops) total += op.count;
  std::string message = std::to_string(ops.size()) + " op kind" + (ops.size() == 1 ? "" : "s") + " (" +
                        std::to_string(total) + " node" + (total == 1 ? "" : "s") + ") cannot be converted to " +
                        targetLabel(request) + ": no converter is registered for:";
  for (const auto& op : ops) {
    message += "\n  " + op.kind + " x" + std::to_string(op.count);
    if (!op.modulePaths.empty()) {
      message += " (at ";
      for (size_t i = 0; i < op.modulePaths.size(); ++i) message += (i > 0 ? ", " : "") + op.modulePaths[i];
      if (op.count > op.modulePaths.size()) message += ", ...";
      message += ")";
    }
  }
  message +=
      "\nTo add one, write a converter in a plugin (see README 'Writing a plugin') or map it with a YAML "
      "`custom-op` step.";
  return message;
}

}  // namespace

namespace {

std::vector<UnsupportedOp> findUnsupportedOpsKeeping(const Graph& graph, const Registry& registry,
                                                     const LoweringRequest& request, const KeptDomains& kept) {
  std::map<std::string, UnsupportedOp, std::less<>> byKind;  // sorted by kind: stable messages
  forEachNodeDeep(graph, [&](const Node& node) {
    if (!needsConversion(node, request.target, kept)) return;
    if (registry.findConverter(node.kind(), request.target, request.version) != nullptr) return;
    if (node.isConstant()) return;  // constants are kept when nobody converts them
    auto [it, inserted] = byKind.try_emplace(node.kind());
    UnsupportedOp& op = it->second;
    if (inserted) op.kind = node.kind();
    ++op.count;
    const std::string& path = node.provenance().modulePath;
    if (!path.empty() && op.modulePaths.size() < kModulePathsPerOp &&
        std::find(op.modulePaths.begin(), op.modulePaths.end(), path) == op.modulePaths.end()) {
      op.modulePaths.push_back(path);
    }
  });
  std::vector<UnsupportedOp> result;
  result.reserve(byKind.size());
  for (auto& [kind, op] : byKind) result.push_back(std::move(op));
  return result;
}

}  // namespace

std::vector<UnsupportedOp> findUnsupportedOps(const Graph& graph, const Registry& registry,
                                              const LoweringRequest& request) {
  return findUnsupportedOpsKeeping(graph, registry, request, KeptDomains());
}

// ---------------------------------------------------------------------------------------
// lowerGraph
// ---------------------------------------------------------------------------------------
namespace {

class Lowering {
 public:
  Lowering(PassContext& context, const LoweringRequest& request, KeptDomains kept)
      : context_(context), request_(request), kept_(std::move(kept)) {}

  Status lower(Graph& graph) {
    for (Node* node : graph.nodeSnapshot()) {
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* body = std::get_if<GraphPtr>(&attribute);
        if (body != nullptr && *body != nullptr) TP_RETURN_IF_ERROR(lower(**body));
      }
      TP_RETURN_IF_ERROR(convert(*node));
      context_.progress().advance();
    }
    return Status::ok();
  }

  size_t converted() const { return converted_; }

 private:
  Status convert(Node& node) {
    if (!needsConversion(node, request_.target, kept_)) return Status::ok();
    const ConverterEntry* converter =
        context_.registry().findConverter(node.kind(), request_.target, request_.version);
    if (converter == nullptr) {
      if (node.isConstant()) return Status::ok();
      // Only reachable for nodes created during lowering (the up-front check saw the rest).
      return Status::unsupported("cannot convert " + node.describe() + " to " + targetLabel(request_) +
                                 ": no converter is registered for " + node.kind() +
                                 "; write one in a plugin (see README 'Writing a plugin') or map it with a YAML "
                                 "`custom-op` step");
    }
    Graph& graph = *node.owningGraph();
    ConversionContext conversion(graph, node, request_.version, optionsOf(request_));
    Status status = converter->convert(conversion);
    if (!status.isOk()) {
      if (status.message().find(node.describe()) != std::string::npos) return status;
      return status.withContext("converting " + node.describe() + " to " + targetLabel(request_));
    }

    for (size_t i = 0; i < node.numOutputs(); ++i) {
      Value* old = node.output(i);
      Value* replacement = conversion.mappedOutput(i);
      if (replacement == nullptr) {
        if (!old->hasUses() && !old->isGraphOutput()) continue;
        return Status::internal("the " + node.kind() + " converter to " + std::string(request_.target) + " (plugin '" +
                                converter->plugin + "') did not map output #" + std::to_string(i) + " %" + old->name() +
                                " of " + node.describe() + ", which is still used; the converter must call mapOutput");
      }
      if (replacement == old) {
        return Status::internal("the " + node.kind() + " converter (plugin '" + converter->plugin + "') mapped output %" +
                                old->name() + " of " + node.describe() + " to itself; map it to a value it emitted");
      }
      if (replacement->type().isUnknown() && old->type().isTensor()) replacement->setType(old->type());
      if (!graph.canReplaceAllUsesWith(old, replacement)) {
        // e.g. a graph output mapped straight to a graph input: keep the output's own node.
        std::string identityKind = std::string(request_.target) + "::Identity";
        Value* inputs[] = {replacement};
        Node* identity = conversion.emit(identityKind, inputs, 1);
        identity->output()->setType(replacement->type());
        replacement = identity->output();
      }
      TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(old, replacement));
    }
    TP_RETURN_IF_ERROR(graph.eraseNode(&node));
    ++converted_;
    return Status::ok();
  }

  PassContext& context_;
  const LoweringRequest& request_;
  KeptDomains kept_;
  size_t converted_ = 0;
};

}  // namespace

Status lowerGraph(Graph& graph, PassContext& context, const LoweringRequest& request) {
  KeptDomains kept = keptDomainsOf(context, request.target);
  std::vector<UnsupportedOp> unsupported = findUnsupportedOpsKeeping(graph, context.registry(), request, kept);
  if (!unsupported.empty()) return Status::unsupported(unsupportedMessage(unsupported, request));

  size_t total = 0;
  forEachNodeDeep(graph, [&](const Node&) { ++total; });
  context.progress().start("lowering to " + std::string(request.target), total);
  Lowering lowering(context, request, std::move(kept));
  Status status = lowering.lower(graph);
  context.progress().finish();
  if (lowering.converted() > 0) context.setChanged();
  if (status.isOk()) {
    context.diag().debug("lowered " + std::to_string(lowering.converted()) + " nodes to " + targetLabel(request));
  }
  return status;
}

}  // namespace torchport
