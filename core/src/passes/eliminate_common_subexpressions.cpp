// eliminate-common-subexpressions: computes each distinct pure expression once. A node that
// repeats an earlier one (same kind, same input values, equal attributes) is removed and
// its users read the earlier node's outputs; constants with equal contents are merged.
//
// Before:
//   graph @main(%x: f32[2,3]) -> (%a: f32[2,3], %b: f32[2,3]) {
//     %w1 = const f32[3] dense<[1.0, 2.0, 3.0]>
//     %w2 = const f32[3] dense<[1.0, 2.0, 3.0]>
//     %m1: f32[2,3] = onnx::Mul(%x, %w1)
//     %m2: f32[2,3] = onnx::Mul(%x, %w2)
//     %a: f32[2,3] = onnx::Relu(%m1)
//     %b: f32[2,3] = onnx::Relu(%m2)
//   }
// After:
//   graph @main(%x: f32[2,3]) -> (%a: f32[2,3], %b: f32[2,3]) {
//     %w1 = const f32[3] dense<[1.0, 2.0, 3.0]>
//     %m1: f32[2,3] = onnx::Mul(%x, %w1)
//     %a: f32[2,3] = onnx::Relu(%m1)
//     %b: f32[2,3] = onnx::Relu(%m1)          # kept: %a and %b are distinct graph outputs
//   }
// (%w2 merges into %w1, which makes %m2 a repeat of %m1; the second Relu stays because
// merging it would give one value two output names.)
//
// Two nodes are the same expression when they have the same kind, the same input values in
// the same order, equal attributes (in any order; floats bit for bit, tensors by content),
// the same number of outputs and output types that agree (equal, or one side unknown: the
// kept node then takes the known type). Constants are compared by value and output type;
// their "param" name is ignored, so identical weights are stored once (the first keeps its
// name). Constants whose data is elided (not loaded) are never merged: equal shapes say
// nothing about equal contents.
//
// Safe because a pure, deterministic node's outputs depend only on its inputs and
// attributes. Never merged:
//   - nodes with side effects or nondeterminism (op_traits.h: prints, in-place mutation,
//     random ops, dropout in training mode ...);
//   - nodes with nested graphs (If/Loop) and nodes without outputs; their bodies are
//     processed, and a body node may reuse an earlier equal node of an enclosing graph
//     (visible there), never the other way round;
//   - in graphs that mutate anything in place (aten::add_, aten::append ...): only nodes
//     whose outputs are immutable scalars (int, float, bool, str, none, device), since two
//     equal tensors or lists may be written to separately later;
//   - when the replacement would change the graph's interface: two values that are both
//     root graph outputs keep their own producers (Graph::canReplaceAllUsesWith).
// Expected linear time: one walk with a hash table keyed by (kind, inputs, attributes);
// tensor contents are hashed only for constants that share dtype and shape with another.
#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

uint64_t mix(uint64_t seed, uint64_t value) {
  // boost::hash_combine's mixing, widened to 64 bits.
  return seed ^ (value + 0x9e3779b97f4a7c15ULL + (seed << 12) + (seed >> 4));
}

uint64_t hashString(std::string_view s) { return std::hash<std::string_view>{}(s); }

uint64_t hashDouble(double d) {
  uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

bool sameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Tensors are equal only when both carry their data and it is the same.
bool tensorsEqual(const Tensor& a, const Tensor& b) {
  return a.hasData() && b.hasData() && a.contentEquals(b);
}

bool attributesEqual(const Attribute& a, const Attribute& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<int64_t>(&a)) return *x == std::get<int64_t>(b);
  if (const auto* x = std::get_if<double>(&a)) return sameBits(*x, std::get<double>(b));
  if (const auto* x = std::get_if<std::string>(&a)) return *x == std::get<std::string>(b);
  if (const auto* x = std::get_if<Tensor>(&a)) return tensorsEqual(*x, std::get<Tensor>(b));
  if (const auto* x = std::get_if<std::vector<int64_t>>(&a)) return *x == std::get<std::vector<int64_t>>(b);
  if (const auto* x = std::get_if<std::vector<double>>(&a)) {
    const auto& y = std::get<std::vector<double>>(b);
    return x->size() == y.size() && std::equal(x->begin(), x->end(), y.begin(), sameBits);
  }
  if (const auto* x = std::get_if<std::vector<std::string>>(&a)) return *x == std::get<std::vector<std::string>>(b);
  return false;  // graphs: nodes holding them are never compared
}

bool typesAgree(const Type& a, const Type& b) { return a.isUnknown() || b.isUnknown() || a == b; }

bool isImmutableScalar(const Type& type) {
  switch (type.kind()) {
    case Type::Kind::Int:
    case Type::Kind::Float:
    case Type::Kind::Bool:
    case Type::Kind::String:
    case Type::Kind::None:
    case Type::Kind::Device: return true;
    default: return false;
  }
}

bool anyMutation(const Graph& graph) {
  for (const Node* node : graph.nodes()) {
    if (mutatesInput(*node)) return true;
    for (const auto& [name, attribute] : node->attributes()) {
      const auto* body = std::get_if<GraphPtr>(&attribute);
      if (body != nullptr && *body != nullptr && anyMutation(**body)) return true;
    }
  }
  return false;
}

// Attributes that take part in a node's identity ("param", a constant's weight name, does not).
bool comparedAttribute(const Node& node, std::string_view name) { return !(node.isConstant() && name == "param"); }

size_t comparedAttributeCount(const Node& node) {
  size_t count = 0;
  for (const auto& attribute : node.attributes()) count += comparedAttribute(node, attribute.first) ? 1 : 0;
  return count;
}

// A node's identity for hashing. Attributes are hashed order-independently and compared by
// name, so nothing is allocated per node (that would dominate on million-node graphs).
struct Expression {
  Node* node;
  uint64_t hash;
};

struct ExpressionHash {
  size_t operator()(const Expression& e) const { return static_cast<size_t>(e.hash); }
};

struct ExpressionEqual {
  bool operator()(const Expression& a, const Expression& b) const {
    const Node& x = *a.node;
    const Node& y = *b.node;
    if (a.hash != b.hash || x.kind() != y.kind() || x.numInputs() != y.numInputs() ||
        x.numOutputs() != y.numOutputs() || comparedAttributeCount(x) != comparedAttributeCount(y)) {
      return false;
    }
    if (!std::equal(x.inputs().begin(), x.inputs().end(), y.inputs().begin())) return false;
    for (const auto& [name, attribute] : x.attributes()) {
      if (!comparedAttribute(x, name)) continue;
      const Attribute* other = y.findAttribute(name);
      if (other == nullptr || !attributesEqual(attribute, *other)) return false;
    }
    for (size_t i = 0; i < x.numOutputs(); ++i) {
      const Type& s = x.output(i)->type();
      const Type& t = y.output(i)->type();
      // Constants: the type is part of the value (`const bool true` is not `const int 1`).
      if (x.isConstant() ? !(s == t) : !typesAgree(s, t)) return false;
    }
    return true;
  }
};

// Tensor attributes per (dtype, shape), keyed by a hash of the two: a collision only makes
// hashAttribute read some tensor contents it could have skipped.
using SignatureCounts = std::unordered_map<uint64_t, size_t>;

uint64_t signatureOf(const Tensor& tensor) {
  uint64_t h = static_cast<uint64_t>(tensor.dtype());
  for (int64_t d : tensor.shape()) h = mix(h, static_cast<uint64_t>(d));
  return h;
}

class SubexpressionElimination {
 public:
  SubexpressionElimination(Graph& root, PassContext& context) : context_(context), mutation_(anyMutation(root)) {
    countTensorSignatures(root);
    table_.reserve(root.numNodes());
  }

  Status run(Graph& root) {
    TP_RETURN_IF_ERROR(runIn(root));
    // Erased last to first: each erased node's input uses then sit at the end of their use
    // lists, where removing them is O(1) (a shared input such as the model input can have
    // hundreds of thousands of uses).
    for (auto it = duplicates_.rbegin(); it != duplicates_.rend(); ++it) {
      TP_RETURN_IF_ERROR((*it)->owningGraph()->eraseNode(*it));
    }
    return Status::ok();
  }

  size_t removed() const { return duplicates_.size(); }

 private:
  Status runIn(Graph& graph) {
    // Entries a nested body added are removed when it is left (its values are not visible
    // outside); the root graph's entries simply die with the table.
    const bool nested = graph.parent() != nullptr;
    std::vector<const Expression*> scope;
    for (Node* node : graph.nodeSnapshot()) {
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* body = std::get_if<GraphPtr>(&attribute);
        if (body != nullptr && *body != nullptr) TP_RETURN_IF_ERROR(runIn(**body));
      }
      if (!eligible(*node)) continue;
      auto [entry, isNew] = table_.insert(describe(*node));
      if (isNew) {
        if (nested) scope.push_back(&*entry);
        continue;
      }
      TP_RETURN_IF_ERROR(merge(graph, *node, *entry->node));
    }
    for (const Expression* expression : scope) table_.erase(table_.find(*expression));
    return Status::ok();
  }

  bool eligible(const Node& node) const {
    if (node.numOutputs() == 0 || hasGraphAttribute(node) || !isPure(node)) return false;
    if (node.isConstant()) {
      const Tensor* tensor = node.tensorAttr("value");
      if (tensor != nullptr && !tensor->hasData()) return false;  // elided: contents unknown
    }
    if (mutation_) {
      for (const Value* output : node.outputs()) {
        if (!isImmutableScalar(output->type())) return false;
      }
    }
    return true;
  }

  Expression describe(Node& node) const {
    Expression e{&node, hashString(node.kind())};
    for (const Value* input : node.inputs()) e.hash = mix(e.hash, reinterpret_cast<uintptr_t>(input));
    e.hash = mix(e.hash, node.numOutputs());
    uint64_t attributes = 0;  // a sum: the attributes' order does not matter
    for (const auto& [name, attribute] : node.attributes()) {
      if (comparedAttribute(node, name)) attributes += mix(hashString(name), hashAttribute(attribute));
    }
    e.hash = mix(e.hash, attributes);
    return e;
  }

  uint64_t hashAttribute(const Attribute& attribute) const {
    uint64_t h = attribute.index();
    if (const auto* v = std::get_if<int64_t>(&attribute)) return mix(h, static_cast<uint64_t>(*v));
    if (const auto* v = std::get_if<double>(&attribute)) return mix(h, hashDouble(*v));
    if (const auto* v = std::get_if<std::string>(&attribute)) return mix(h, hashString(*v));
    if (const auto* v = std::get_if<std::vector<int64_t>>(&attribute)) {
      for (int64_t x : *v) h = mix(h, static_cast<uint64_t>(x));
      return h;
    }
    if (const auto* v = std::get_if<std::vector<double>>(&attribute)) {
      for (double x : *v) h = mix(h, hashDouble(x));
      return h;
    }
    if (const auto* v = std::get_if<std::vector<std::string>>(&attribute)) {
      for (const std::string& x : *v) h = mix(h, hashString(x));
      return h;
    }
    if (const auto* v = std::get_if<Tensor>(&attribute)) {
      h = mix(h, static_cast<uint64_t>(v->dtype()));
      for (int64_t d : v->shape()) h = mix(h, static_cast<uint64_t>(d));
      // Reading the data is the expensive part: only when another tensor has this signature.
      auto count = signatures_.find(signatureOf(*v));
      if (v->hasData() && count != signatures_.end() && count->second > 1) h = mix(h, v->contentHash());
      return h;
    }
    return h;
  }

  void countTensorSignatures(const Graph& graph) {
    for (const Node* node : graph.nodes()) {
      for (const auto& [name, attribute] : node->attributes()) {
        if (const auto* tensor = std::get_if<Tensor>(&attribute)) {
          ++signatures_[signatureOf(*tensor)];
        } else if (const auto* body = std::get_if<GraphPtr>(&attribute); body != nullptr && *body != nullptr) {
          countTensorSignatures(**body);
        }
      }
    }
  }

  // Rewires the users of `duplicate` (in `graph`) to the earlier, equal `kept`; the
  // duplicate, now unused, is erased at the end of the pass.
  Status merge(Graph& graph, Node& duplicate, Node& kept) {
    for (size_t i = 0; i < duplicate.numOutputs(); ++i) {
      if (!graph.canReplaceAllUsesWith(duplicate.output(i), kept.output(i))) {
        context_.diag().debug("eliminate-common-subexpressions: kept " + duplicate.describe() + ", equal to " +
                              kept.describe() + ": merging them would merge two graph outputs");
        return Status::ok();
      }
    }
    for (size_t i = 0; i < duplicate.numOutputs(); ++i) {
      Value* from = duplicate.output(i);
      Value* to = kept.output(i);
      if (to->type().isUnknown()) to->setType(from->type());
      TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(from, to));
    }
    duplicates_.push_back(&duplicate);
    return Status::ok();
  }

  PassContext& context_;
  bool mutation_;
  SignatureCounts signatures_;
  std::unordered_set<Expression, ExpressionHash, ExpressionEqual> table_;
  std::vector<Node*> duplicates_;  // in visiting order
};

}  // namespace

PassInfo eliminateCommonSubexpressionsInfo() {
  PassInfo info;
  info.name = "eliminate-common-subexpressions";
  info.summary = "Compute repeated pure expressions once and merge constants with equal contents";
  info.description =
      "Removes every pure, deterministic node that repeats an earlier one: same kind, same input values, equal "
      "attributes (floats bit for bit, tensors by content), agreeing output types. Its users read the earlier "
      "node's outputs. Constants with equal values and types are merged too (their \"param\" names are ignored, "
      "so identical weights are stored once); constants with elided data are not. Nested If/Loop bodies are "
      "processed and may reuse values of enclosing graphs.\n"
      "Before:\n"
      "  %m1: f32[2,3] = onnx::Mul(%x, %w)\n"
      "  %m2: f32[2,3] = onnx::Mul(%x, %w)\n"
      "  %y: f32[2,3] = onnx::Add(%m1, %m2)\n"
      "After:\n"
      "  %m1: f32[2,3] = onnx::Mul(%x, %w)\n"
      "  %y: f32[2,3] = onnx::Add(%m1, %m1)\n"
      "Never merges nodes with side effects or randomness, control flow, two distinct graph outputs, and - in "
      "graphs with in-place mutation - nodes producing tensors or lists. Expected linear time.";
  info.kind = StepKind::Transform;
  return info;
}

Status runEliminateCommonSubexpressions(Graph& graph, PassContext& context) {
  SubexpressionElimination elimination(graph, context);
  TP_RETURN_IF_ERROR(elimination.run(graph));
  if (elimination.removed() > 0) {
    context.setChanged();
    context.diag().debug("eliminate-common-subexpressions: removed " + std::to_string(elimination.removed()) +
                         " node" + (elimination.removed() == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
