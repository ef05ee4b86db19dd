// Op trait tables (op_traits.h). Explicit, sorted lists; an op missing here is pure unless
// its schema says it mutates an argument or it has no outputs.
#include "torchport/op_traits.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace torchport {
namespace {

template <size_t N>
bool contains(const std::array<std::string_view, N>& sorted, std::string_view kind) {
  return std::binary_search(sorted.begin(), sorted.end(), kind);
}

// Ops whose effect is not (only) their outputs. Sorted.
constexpr std::array<std::string_view, 15> kSideEffectKinds = {
    "aten::_assert_async",
    "aten::backward",
    "aten::manual_seed",
    "aten::seed",
    "aten::warn",
    "prim::AddStatValue",
    "prim::CallFunction",
    "prim::CallMethod",
    "prim::Enter",
    "prim::Exit",
    "prim::Print",
    "prim::RaiseException",
    "prim::SetAttr",
    "prim::TimePoint",
    "prim::rpc_async",
};

// Mutating ops whose names do not end in a single '_'. Sorted.
constexpr std::array<std::string_view, 19> kMutatingKinds = {
    "aten::__iadd__",
    "aten::__iand__",
    "aten::__ilshift__",
    "aten::__imod__",
    "aten::__imul__",
    "aten::__ior__",
    "aten::__irshift__",
    "aten::__isub__",
    "aten::__ixor__",
    "aten::__setitem__",
    "aten::_set_item",
    "aten::append",
    "aten::clear",
    "aten::extend",
    "aten::insert",
    "aten::pop",
    "aten::remove",
    "aten::reverse",
    "aten::setdefault",
};

// Results not determined by the inputs: random, uninitialized memory, or the state of the
// process running the graph (grad mode, autocast), which folding would bake in. Sorted.
constexpr std::array<std::string_view, 34> kRandomKinds = {
    "aten::bernoulli",
    "aten::bernoulli_",
    "aten::cauchy_",
    "aten::empty",
    "aten::empty_like",
    "aten::empty_strided",
    "aten::exponential_",
    "aten::geometric_",
    "aten::is_autocast_cpu_enabled",
    "aten::is_autocast_enabled",
    "aten::is_grad_enabled",
    "aten::log_normal_",
    "aten::multinomial",
    "aten::new_empty",
    "aten::normal",
    "aten::normal_",
    "aten::poisson",
    "aten::rand",
    "aten::rand_like",
    "aten::randint",
    "aten::randint_like",
    "aten::randn",
    "aten::randn_like",
    "aten::random_",
    "aten::randperm",
    "aten::rrelu_with_noise",
    "aten::rrelu_with_noise_",
    "aten::uniform_",
    "onnx::Bernoulli",
    "onnx::Multinomial",
    "onnx::RandomNormal",
    "onnx::RandomNormalLike",
    "onnx::RandomUniform",
    "onnx::RandomUniformLike",
};

// Random only in training mode: (kind, index of the train flag, index of p or -1). Sorted.
struct TrainingFlag {
  std::string_view kind;
  size_t trainInput;
  int probabilityInput;
};
constexpr std::array<TrainingFlag, 10> kTrainingRandomKinds = {{
    {"aten::alpha_dropout", 2, 1},
    {"aten::alpha_dropout_", 2, 1},
    {"aten::dropout", 2, 1},
    {"aten::dropout_", 2, 1},
    {"aten::feature_alpha_dropout", 2, 1},
    {"aten::feature_alpha_dropout_", 2, 1},
    {"aten::feature_dropout", 2, 1},
    {"aten::feature_dropout_", 2, 1},
    {"aten::native_dropout", 2, 1},
    {"aten::rrelu", 3, -1},
}};

// binary_search needs sorted tables; a wrong array size leaves empty entries, caught too.
static_assert(std::is_sorted(kSideEffectKinds.begin(), kSideEffectKinds.end()) && !kSideEffectKinds.front().empty());
static_assert(std::is_sorted(kMutatingKinds.begin(), kMutatingKinds.end()) && !kMutatingKinds.front().empty());
static_assert(std::is_sorted(kRandomKinds.begin(), kRandomKinds.end()) && !kRandomKinds.front().empty());

bool anyNestedNode(const Node& node, bool (*predicate)(const Node&)) {
  for (const auto& [name, attribute] : node.attributes()) {
    const auto* body = std::get_if<GraphPtr>(&attribute);
    if (body == nullptr || *body == nullptr) continue;
    for (Node* inner : (*body)->nodes()) {
      if (predicate(*inner)) return true;
    }
  }
  return false;
}

// Random in training mode unless the flag is a constant false or p a constant 0.
bool randomInTraining(const Node& node, size_t trainInput, int probabilityInput) {
  if (probabilityInput >= 0 && static_cast<size_t>(probabilityInput) < node.numInputs()) {
    auto p = constantNumber(node.input(static_cast<size_t>(probabilityInput)));
    if (p && *p == 0.0) return false;
  }
  if (trainInput >= node.numInputs()) return false;  // defaults to inference
  const Value* train = node.input(trainInput);
  if (isNoneValue(train)) return false;
  auto flag = constantBool(train);
  return !flag.has_value() || *flag;
}

}  // namespace

bool mutatesInput(const Node& node) {
  if (node.domain() == "aten") {
    std::string_view name = node.opName();
    if (name.size() > 1 && name.back() == '_' && name[name.size() - 2] != '_') return true;
    if (contains(kMutatingKinds, node.kind())) return true;
  }
  // JIT alias annotations: `Tensor(a!) self` is written to.
  const std::string* schema = node.stringAttr("schema");
  return schema != nullptr && schema->find('!') != std::string::npos;
}

bool hasSideEffects(const Node& node) {
  if (node.numOutputs() == 0) return true;  // nothing else could justify running it
  if (contains(kSideEffectKinds, node.kind())) return true;
  if (mutatesInput(node)) return true;
  return anyNestedNode(node, &hasSideEffects);
}

bool isNondeterministic(const Node& node) {
  const std::string& kind = node.kind();
  if (contains(kRandomKinds, kind)) return true;
  for (const TrainingFlag& entry : kTrainingRandomKinds) {
    if (entry.kind == kind) return randomInTraining(node, entry.trainInput, entry.probabilityInput);
  }
  if (kind == "onnx::Dropout") return randomInTraining(node, 2, 1);  // (data, ratio, training_mode)
  return anyNestedNode(node, &isNondeterministic);
}

// ---------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------
const Node* constantProducer(const Value* value) {
  if (value == nullptr || value->producer() == nullptr || !value->producer()->isConstant()) return nullptr;
  return value->producer();
}

const Tensor* constantTensorData(const Value* value) {
  const Node* producer = constantProducer(value);
  if (producer == nullptr) return nullptr;
  const Tensor* tensor = producer->tensorAttr("value");
  if (tensor == nullptr || !tensor->hasData() || dtypeSize(tensor->dtype()) == 0) return nullptr;
  if (static_cast<uint64_t>(tensor->numel()) > tensor->bytes().size() / dtypeSize(tensor->dtype())) return nullptr;
  return tensor;
}

bool hasGraphAttribute(const Node& node) {
  for (const auto& [name, attribute] : node.attributes()) {
    if (std::holds_alternative<GraphPtr>(attribute)) return true;
  }
  return false;
}

std::optional<int64_t> constantInt(const Value* value) {
  const Node* node = constantProducer(value);
  if (node == nullptr) return std::nullopt;
  if (auto v = node->intAttr("value")) return v;
  const Tensor* tensor = node->tensorAttr("value");
  if (tensor != nullptr && tensor->hasData() && tensor->numel() == 1 &&
      (isInteger(tensor->dtype()) || tensor->dtype() == DType::Bool)) {
    return tensor->elementAsInt(0);
  }
  return std::nullopt;
}

std::optional<bool> constantBool(const Value* value) {
  auto v = constantInt(value);
  if (!v) return std::nullopt;
  return *v != 0;
}

std::optional<double> constantNumber(const Value* value) {
  const Node* node = constantProducer(value);
  if (node == nullptr) return std::nullopt;
  const Attribute* attribute = node->findAttribute("value");
  if (attribute == nullptr) return std::nullopt;
  if (const auto* v = std::get_if<int64_t>(attribute)) return static_cast<double>(*v);
  if (const auto* v = std::get_if<double>(attribute)) return *v;
  if (const auto* t = std::get_if<Tensor>(attribute); t != nullptr && t->hasData() && t->numel() == 1 &&
                                                      dtypeSize(t->dtype()) > 0) {
    return t->elementAsDouble(0);
  }
  return std::nullopt;
}

std::optional<std::vector<int64_t>> constantInts(const Value* value) {
  if (value == nullptr || value->producer() == nullptr) return std::nullopt;
  const Node* node = value->producer();
  if (node->kind() == "prim::ListConstruct") {
    std::vector<int64_t> out;
    out.reserve(node->numInputs());
    for (const Value* element : node->inputs()) {
      auto v = constantInt(element);
      if (!v) return std::nullopt;
      out.push_back(*v);
    }
    return out;
  }
  if (!node->isConstant()) return std::nullopt;
  if (const auto* ints = node->intsAttr("value")) return *ints;
  const Tensor* tensor = node->tensorAttr("value");
  if (tensor != nullptr && tensor->hasData() && tensor->rank() <= 1 && isInteger(tensor->dtype())) {
    std::vector<int64_t> out(static_cast<size_t>(tensor->numel()));
    for (int64_t i = 0; i < tensor->numel(); ++i) out[static_cast<size_t>(i)] = tensor->elementAsInt(i);
    return out;
  }
  return std::nullopt;
}

bool isConstantFilledWith(const Value* value, double x) {
  const Node* node = constantProducer(value);
  if (node == nullptr) return false;
  const Attribute* attribute = node->findAttribute("value");
  if (attribute == nullptr) return false;
  if (const auto* v = std::get_if<int64_t>(attribute)) return static_cast<double>(*v) == x;
  if (const auto* v = std::get_if<double>(attribute)) return *v == x;
  const auto* tensor = std::get_if<Tensor>(attribute);
  if (tensor == nullptr || !tensor->hasData() || tensor->numel() == 0 || dtypeSize(tensor->dtype()) == 0) return false;
  if (tensor->bytes().size() < tensor->nbytes()) return false;  // malformed: storage too small
  for (int64_t i = 0; i < tensor->numel(); ++i) {
    if (tensor->elementAsDouble(i) != x) return false;
  }
  return true;
}

bool isNoneValue(const Value* value) {
  if (value == nullptr) return false;
  if (value->type().kind() == Type::Kind::None) return true;
  const Node* node = constantProducer(value);
  return node != nullptr && !node->hasAttribute("value") && !value->type().isTensor();
}

}  // namespace torchport
