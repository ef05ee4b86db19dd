#include "lower_to_onnx.h"

#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "prepare_aten.h"
#include "torchport/lowering.h"

namespace torchport::onnxplugin {
namespace {


// In-place aten ops: `relu_`, `add_` (not dunders like `__and__`).
bool isInPlace(const Node& node) {
  if (node.domain() != "aten") return false;
  std::string_view name = node.opName();
  return name.size() > 1 && name.back() == '_' && name.substr(0, 2) != "__";
}

// Ops whose effect is not (only) their outputs.
bool hasSideEffects(const Node& node) {
  const std::string& k = node.kind();
  if (k == "prim::RaiseException" || k == "aten::warn" || k == "prim::Print" || k == "prim::SetAttr" ||
      k == "aten::append" || k == "aten::insert" || k == "aten::_set_item" || k == "aten::extend" ||
      k == "aten::pop" || k == "aten::clear" || k == "aten::copy_")
    return true;
  return isInPlace(node);
}

template <class Visit>
void forEachGraphAttribute(const Node& node, const Visit& visit) {
  for (const auto& [name, attribute] : node.attributes())
    if (const auto* g = std::get_if<GraphPtr>(&attribute); g != nullptr && *g != nullptr) visit(**g);
}

// True when the bodies of `node` only compute, check and raise (no mutation, no output).
bool onlyAssertions(const Node& node) {
  bool ok = true;
  forEachGraphAttribute(node, [&](const Graph& body) {
    for (Node* inner : body.nodes()) {
      const std::string& k = inner->kind();
      const bool checkOnly = k == "prim::RaiseException" || k == "aten::warn" || k == "prim::Print";
      if (!checkOnly && hasSideEffects(*inner)) ok = false;
      if (ok && !onlyAssertions(*inner)) ok = false;
    }
  });
  return ok;
}

// Drops zero-output control flow that only asserts, and warnings / prints.
Expected<size_t> dropAssertions(Graph& graph) {
  size_t removed = 0;
  for (Node* node : graph.nodeSnapshot()) {
    forEachGraphAttribute(*node, [&](Graph& body) {
      auto inner = dropAssertions(body);
      if (inner) removed += *inner;
    });
    const std::string& k = node->kind();
    const bool controlFlow = k == "prim::If" || k == "prim::Loop";
    if ((controlFlow && node->numOutputs() == 0 && onlyAssertions(*node)) || k == "aten::warn" || k == "prim::Print") {
      TP_RETURN_IF_ERROR(graph.eraseNode(node));
      ++removed;
    }
  }
  return removed;
}

bool unused(const Node& node) {
  for (const Value* v : node.outputs())
    if (v->hasUses() || v->isGraphOutput()) return false;
  return true;
}

Expected<size_t> removeDeadOnce(Graph& graph) {
  size_t removed = 0;
  auto nodes = graph.nodeSnapshot();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node* node = *it;
    bool childSideEffects = false;
    forEachGraphAttribute(*node, [&](Graph& body) {
      for (Node* inner : body.nodes())
        if (inner->domain() != "onnx" && hasSideEffects(*inner)) childSideEffects = true;
    });
    if (unused(*node) && !hasSideEffects(*node) && !childSideEffects) {
      TP_RETURN_IF_ERROR(graph.eraseNode(node));
      ++removed;
      continue;
    }
    Status nested = Status::ok();
    forEachGraphAttribute(*node, [&](Graph& body) {
      if (!nested.isOk()) return;
      auto inner = removeDeadOnce(body);
      if (!inner) nested = inner.status();
      else removed += *inner;
    });
    TP_RETURN_IF_ERROR(nested);
  }
  return removed;
}

// Maps nested graphs to the node owning them, for "is this use later than that node".
void collectOwners(const Graph& graph, std::unordered_map<const Graph*, const Node*>& owners) {
  for (Node* node : graph.nodes())
    forEachGraphAttribute(*node, [&](const Graph& body) {
      owners[&body] = node;
      collectOwners(body, owners);
    });
}

// The node of `graph` that contains `user` (itself, or the control-flow node around it).
const Node* ancestorIn(const Graph& graph, const Node* user, const std::unordered_map<const Graph*, const Node*>& owners) {
  while (user != nullptr && user->owningGraph() != &graph) {
    auto it = owners.find(user->owningGraph());
    user = it == owners.end() ? nullptr : it->second;
  }
  return user;
}

// An in-place op lowered as a functional op is only correct when nothing reads the
// mutated tensor afterwards (TorchScript's RemoveMutation pass makes that so).
Status checkMutations(const Graph& graph, const std::unordered_map<const Graph*, const Node*>& owners) {
  std::unordered_map<const Node*, size_t> position;
  size_t index = 0;
  for (Node* node : graph.nodes()) position[node] = index++;
  for (Node* node : graph.nodes()) {
    Status nested = Status::ok();
    forEachGraphAttribute(*node, [&](const Graph& body) {
      if (nested.isOk()) nested = checkMutations(body, owners);
    });
    TP_RETURN_IF_ERROR(nested);
    if (!isInPlace(*node) || node->numInputs() == 0) continue;
    const Value* self = node->input(0);
    if (self->isGraphOutput())
      return Status::unsupported("cannot lower " + node->describe() + " to ONNX: it mutates %" + self->name() +
                                 ", a graph output; ONNX ops are functional. Re-export the model without in-place "
                                 "ops on outputs, or run TorchScript's remove-mutation before converting");
    for (const Use& use : self->uses()) {
      if (use.user == node) continue;
      const Node* at = ancestorIn(graph, use.user, owners);
      if (at == nullptr || at == node) continue;
      auto pos = position.find(at);
      if (pos != position.end() && pos->second > position[node])
        return Status::unsupported("cannot lower " + node->describe() + " to ONNX: it mutates %" + self->name() +
                                   ", which " + use.user->describe() +
                                   " reads afterwards; ONNX ops are functional, so the mutation would be lost. "
                                   "Replace the in-place op in the model (e.g. x = x.relu() instead of x.relu_()) "
                                   "or remove the mutation before converting");
    }
  }
  return Status::ok();
}

// Everything left must be ONNX (any ONNX domain) or a constant.
void collectLeftovers(const Graph& graph, std::map<std::string, size_t>& leftovers) {
  for (Node* node : graph.nodes()) {
    const std::string_view domain = node->domain();
    if (!node->isConstant() && (domain == "aten" || domain == "prim")) ++leftovers[node->kind()];
    forEachGraphAttribute(*node, [&](const Graph& body) { collectLeftovers(body, leftovers); });
  }
}

}  // namespace

Expected<size_t> removeDeadNodes(Graph& graph) {
  size_t total = 0;
  for (;;) {
    TP_ASSIGN_OR_RETURN(size_t removed, removeDeadOnce(graph));
    if (removed == 0) return total;
    total += removed;
  }
}

PassInfo lowerToOnnxInfo() {
  PassInfo info;
  info.name = "lower-to-onnx";
  info.summary = "Lower aten/prim ops to the ONNX dialect for a target opset (13..18)";
  info.description =
      "Converts every aten/prim node with the ONNX plugin's converter tables (one entry per op and "
      "opset range), keeping dtypes and shapes on the way.\n"
      "Before:  %y = aten::conv2d(%x, %w, %b, %stride, %pad, %dil, %groups)\n"
      "After:   %y = onnx::Conv(%x, %w, %b) {dilations=[1,1], group=1, kernel_shape=[3,3], pads=[1,1,1,1], strides=[1,1]}\n"
      "Assertion-only control flow (zero-output ifs that only raise) and warnings are dropped: ONNX has no "
      "exceptions. In-place ops are lowered functionally; one whose mutation is read later is refused. "
      "Ops without a converter are reported all at once with counts and module paths.";
  OptionSpec opset;
  opset.name = "opset";
  opset.type = OptionType::Int;
  opset.defaultValue = intValue(17);
  opset.doc = "ONNX opset version to target (13..18)";
  opset.minInt = 13;
  opset.maxInt = 18;
  info.options.push_back(std::move(opset));
  info.kind = StepKind::Transform;
  return info;
}

Status runLowerToOnnx(Graph& graph, PassContext& context) {
  const int64_t opset = context.options().getInt("opset", 17);
  if (opset < 13 || opset > 18)
    return Status::usage("lower-to-onnx: opset " + std::to_string(opset) + " is outside the supported range 13..18");

  // 1. Prepare: static checks of scripted code folded, assertions dropped, dead code removed.
  size_t assertions = 0;
  for (int round = 0; round < 16; ++round) {
    TP_ASSIGN_OR_RETURN(size_t folded, simplifyStaticScripting(graph));
    TP_ASSIGN_OR_RETURN(size_t dropped, dropAssertions(graph));
    TP_ASSIGN_OR_RETURN(size_t dead, removeDeadNodes(graph));
    assertions += dropped;
    if (folded == 0 && dropped == 0 && dead == 0) break;
  }
  if (assertions > 0)
    context.diag().info("lower-to-onnx: dropped " + std::to_string(assertions) +
                        " assertion/warning node(s): ONNX graphs cannot raise");
  std::unordered_map<const Graph*, const Node*> owners;
  collectOwners(graph, owners);
  TP_RETURN_IF_ERROR(checkMutations(graph, owners));

  // 2. Convert.
  LoweringRequest request;
  request.target = "onnx";
  request.version = static_cast<int>(opset);
  request.options = &context.options();
  TP_RETURN_IF_ERROR(lowerGraph(graph, context, request));

  // 3. Clean up and check.
  TP_ASSIGN_OR_RETURN(size_t deadAfter, removeDeadNodes(graph));
  (void)deadAfter;
  std::map<std::string, size_t> leftovers;
  collectLeftovers(graph, leftovers);
  if (!leftovers.empty()) {
    std::string list;
    for (const auto& [kind, count] : leftovers) list += "\n  " + kind + " x" + std::to_string(count);
    return Status::internal("lower-to-onnx left non-ONNX nodes behind (a converter emitted them):" + list);
  }
  context.setState(kOpsetStateKey, std::make_shared<int64_t>(opset));
  context.report("onnx.opset", intValue(opset));
  context.setChanged();
  return Status::ok();
}

}  // namespace torchport::onnxplugin
