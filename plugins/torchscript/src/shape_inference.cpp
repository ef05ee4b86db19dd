// Shape and dtype inference by execution on meta tensors.
//
// Why execution: LibTorch 1.13's static passes are not enough for conversion. The legacy
// PropagateInputShapes gives only ranks for convolutions (so flatten/linear lose even
// those) and hits internal asserts on scripted torchvision models; the symbolic shape
// pass is marked work-in-progress and has no formula for aten::_convolution (what traced
// convs are). Running the graph instead asks every kernel for its real output shape, on
// tensors of the `Meta` device, which carry sizes and dtypes but no data, so a run costs
// no FLOPs and no activation memory.
//
// Run twice with different sizes substituted for each symbolic input dim (7 and 11 for the
// first symbol, 13 and 17 for the next...): a dim equal in both runs is static; one that
// equals the substitutes of exactly one symbol in both runs is that symbol; anything else
// (batch * 2, a data-dependent size) is unknown.
//
// LibTorch without Python has fewer meta kernels than `import torch` (whose Python meta
// registrations cover convolution, batch_norm...). An op without one gets its output sizes
// from TorchScript's shape functions (the registry of the symbolic shape analysis, used
// here with concrete sizes); aten::_convolution (traced convs) borrows aten::convolution's.
// Only ops without either run on CPU, on zero-filled inputs of the same shapes (small
// constants keep their real values; data-dependent ops like aten::Bool see zeros).
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_strided.h>
#include <ATen/ops/zeros.h>
#include <c10/core/GradMode.h>

#include <functional>
#include <map>
#include <set>

#include <torch/csrc/jit/passes/symbolic_shape_analysis.h>
#include <torch/csrc/jit/runtime/operator.h>

#include "jit_bridge.h"

namespace torchport::torchscript {

namespace jit = torch::jit;

namespace {

// CPU tensors up to this many elements keep their data (shape arithmetic, index tensors);
// bigger ones become meta tensors.
constexpr int64_t kKeepDataElements = 4096;
// Guards against loops that would run (nearly) forever with substituted sizes.
constexpr size_t kMaxExecutedNodes = 2'000'000;

// What one run saw of one value (loops may show it several times).
struct Observation {
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  std::vector<int64_t> sizes;  // -1: differed between loop iterations
  bool rankVaries = false;
  bool dtypeVaries = false;
};
using Observations = std::unordered_map<const jit::Value*, Observation>;

// Sizes used for symbolic dims in one attempt: symbol k gets runA[k] in the first run and
// runB[k] in the second. Distinct primes, so that derived sizes rarely fake a symbol.
struct Substitution {
  std::vector<std::string> symbols;  // "" for anonymous ('?') dims
  std::vector<int64_t> runA, runB;
};

bool isPrime(int64_t n) {
  if (n < 2) return false;
  for (int64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

Substitution makeSubstitution(std::vector<std::string> symbols, int64_t base) {
  Substitution substitution;
  substitution.symbols = std::move(symbols);
  int64_t candidate = base;
  auto nextPrime = [&] {
    while (!isPrime(candidate)) ++candidate;
    return candidate++;
  };
  for (size_t i = 0; i < substitution.symbols.size(); ++i) {
    substitution.runA.push_back(nextPrime());
    substitution.runB.push_back(nextPrime());
  }
  return substitution;
}

class ShapeRunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

c10::IValue mapTensors(const c10::IValue& value, const std::function<at::Tensor(const at::Tensor&)>& fn) {
  if (value.isTensor()) {
    const at::Tensor& tensor = value.toTensor();
    return tensor.defined() ? c10::IValue(fn(tensor)) : value;
  }
  if (value.isTensorList()) {
    c10::List<at::Tensor> mapped;
    for (const at::Tensor& tensor : value.toTensorVector()) mapped.push_back(tensor.defined() ? fn(tensor) : tensor);
    return mapped;
  }
  if (value.isList()) {
    c10::impl::GenericList source = value.toList();
    c10::impl::GenericList mapped(source.elementType());
    for (const c10::IValue& element : source) mapped.push_back(mapTensors(element, fn));
    return mapped;
  }
  if (value.isTuple()) {
    std::vector<c10::IValue> elements;
    for (const c10::IValue& element : value.toTupleRef().elements()) elements.push_back(mapTensors(element, fn));
    return c10::ivalue::Tuple::create(std::move(elements));
  }
  return value;
}

bool anyTensor(const c10::IValue& value, const std::function<bool(const at::Tensor&)>& predicate) {
  bool found = false;
  mapTensors(value, [&](const at::Tensor& tensor) {
    found = found || predicate(tensor);
    return tensor;
  });
  return found;
}

at::Tensor toMeta(const at::Tensor& tensor) {
  if (tensor.is_meta()) return tensor;
  return at::empty_strided(tensor.sizes(), tensor.strides(), tensor.options().device(c10::kMeta));
}

// Big CPU results become meta tensors so that later ops stay cheap.
at::Tensor shrink(const at::Tensor& tensor) {
  return tensor.device().is_cpu() && tensor.numel() > kKeepDataElements ? toMeta(tensor) : tensor;
}

class MetaInterpreter {
 public:
  MetaInterpreter(Observations& observations, const ModulePaths* paths) : observations_(observations), paths_(paths) {}

  void run(jit::Graph& graph, const std::vector<c10::IValue>& inputs) {
    for (size_t i = 0; i < inputs.size(); ++i) bind(graph.inputs()[i], inputs[i]);
    runBlock(graph.block());
  }

 private:
  void bind(const jit::Value* value, c10::IValue ivalue) {
    if (ivalue.isTensor() && ivalue.toTensor().defined()) {
      const at::Tensor& tensor = ivalue.toTensor();
      Observation seen{tensor.scalar_type(), std::vector<int64_t>(tensor.sizes().begin(), tensor.sizes().end())};
      auto [it, fresh] = observations_.emplace(value, seen);
      if (!fresh) merge(it->second, seen);
    }
    env_[value] = std::move(ivalue);
  }

  static void merge(Observation& into, const Observation& seen) {
    if (into.dtype != seen.dtype) into.dtypeVaries = true;
    if (into.sizes.size() != seen.sizes.size()) {
      into.rankVaries = true;
      return;
    }
    for (size_t d = 0; d < into.sizes.size(); ++d) {
      if (into.sizes[d] != seen.sizes[d]) into.sizes[d] = -1;
    }
  }

  const c10::IValue& valueOf(const jit::Value* value) const {
    auto it = env_.find(value);
    if (it == env_.end()) throw ShapeRunError("value %" + value->debugName() + " has not been computed");
    return it->second;
  }

  void runBlock(jit::Block* block) {
    for (jit::Node* node : block->nodes()) {
      if (++executed_ > kMaxExecutedNodes) {
        throw ShapeRunError("gave up after executing " + std::to_string(kMaxExecutedNodes) + " nodes (a long loop?)");
      }
      runNode(node);
    }
  }

  void runNode(jit::Node* node) {
    const c10::Symbol kind = node->kind();
    if (kind == c10::prim::Constant) {
      c10::IValue value = *jit::toIValue(node->output());
      bind(node->output(), mapTensors(value, shrinkConstant));
      return;
    }
    if (kind == c10::prim::If) {
      const bool condition = valueOf(node->input()).toBool();
      jit::Block* branch = node->blocks()[condition ? 0 : 1];
      runBlock(branch);
      for (size_t i = 0; i < node->outputs().size(); ++i) bind(node->outputs()[i], valueOf(branch->outputs()[i]));
      return;
    }
    if (kind == c10::prim::Loop) {
      runLoop(node);
      return;
    }
    // Messages only (the interpreter implements them itself, no operator to call); they
    // produce nothing a shape depends on.
    if (kind == c10::aten::warn || kind == c10::prim::Print) return;
    std::vector<c10::IValue> results = execute(node);
    for (size_t i = 0; i < node->outputs().size(); ++i) {
      bind(node->outputs()[i], mapTensors(results[i], shrink));
    }
  }

  static at::Tensor shrinkConstant(const at::Tensor& tensor) { return shrink(tensor); }

  void runLoop(jit::Node* node) {
    jit::Block* body = node->blocks()[0];
    const int64_t maxTrips = valueOf(node->inputs()[0]).toInt();
    bool condition = valueOf(node->inputs()[1]).toBool();
    std::vector<c10::IValue> carried;
    for (size_t i = 2; i < node->inputs().size(); ++i) carried.push_back(valueOf(node->inputs()[i]));
    for (int64_t trip = 0; condition && trip < maxTrips; ++trip) {
      bind(body->inputs()[0], c10::IValue(trip));
      for (size_t i = 0; i < carried.size(); ++i) bind(body->inputs()[i + 1], carried[i]);
      runBlock(body);
      condition = valueOf(body->outputs()[0]).toBool();
      for (size_t i = 0; i < carried.size(); ++i) carried[i] = valueOf(body->outputs()[i + 1]);
    }
    for (size_t i = 0; i < node->outputs().size(); ++i) bind(node->outputs()[i], carried.at(i));
  }

  std::vector<c10::IValue> invoke(jit::Node* node, const std::vector<c10::IValue>& inputs) {
    jit::Stack stack(inputs.begin(), inputs.end());
    node->getOperation()(stack);
    if (stack.size() != node->outputs().size()) {
      throw ShapeRunError(std::string(node->kind().toQualString()) + " left " + std::to_string(stack.size()) +
                          " values, expected " + std::to_string(node->outputs().size()));
    }
    return std::vector<c10::IValue>(stack.begin(), stack.end());
  }

  // Container and cast nodes are interpreter instructions, not operators (getOperation
  // fails on them); their (hidden) LibTorch helpers are re-done here.
  std::optional<std::vector<c10::IValue>> executeInstruction(jit::Node* node, std::vector<c10::IValue>& inputs) {
    const c10::Symbol kind = node->kind();
    if (kind == c10::prim::ListConstruct) {
      const auto listType = node->output()->type()->expect<c10::ListType>();
      c10::impl::GenericList list(listType->getElementType());
      list.reserve(inputs.size());
      for (c10::IValue& input : inputs) list.push_back(std::move(input));
      return std::vector<c10::IValue>{c10::IValue(std::move(list))};
    }
    if (kind == c10::prim::TupleConstruct) {
      auto tupleType = node->output()->type()->cast<c10::TupleType>();
      if (tupleType && tupleType->schema()) {
        return std::vector<c10::IValue>{c10::ivalue::Tuple::createNamed(std::move(inputs), tupleType)};
      }
      return std::vector<c10::IValue>{c10::ivalue::Tuple::create(std::move(inputs))};
    }
    if (kind == c10::prim::DictConstruct) {
      const auto dictType = node->output()->type()->expect<c10::DictType>();
      c10::impl::GenericDict dict(dictType->getKeyType(), dictType->getValueType());
      for (size_t i = 0; i + 1 < inputs.size(); i += 2) dict.insert_or_assign(inputs[i], inputs[i + 1]);
      return std::vector<c10::IValue>{c10::IValue(std::move(dict))};
    }
    if (kind == c10::prim::ListUnpack) {
      std::vector<c10::IValue> elements = inputs.at(0).toList().vec();
      if (elements.size() != node->outputs().size()) {
        throw ShapeRunError("prim::ListUnpack of a list of " + std::to_string(elements.size()) + " elements into " +
                            std::to_string(node->outputs().size()));
      }
      return elements;
    }
    if (kind == c10::prim::TupleUnpack) return inputs.at(0).toTupleRef().elements().vec();
    if (kind == c10::prim::TupleSlice) {
      const auto& elements = inputs.at(0).toTupleRef().elements();
      const auto begin = static_cast<size_t>(node->i(c10::attr::beg));
      const auto end = static_cast<size_t>(node->i(c10::attr::end));
      std::vector<c10::IValue> slice(elements.begin() + begin, elements.begin() + end);
      return std::vector<c10::IValue>{c10::ivalue::Tuple::create(std::move(slice))};
    }
    // Only messages are formatted (warnings, exceptions): the format string will do.
    if (kind == c10::aten::format) return std::vector<c10::IValue>{inputs.at(0)};
    if (kind == c10::prim::Uninitialized) return std::vector<c10::IValue>{c10::IValue::uninitialized()};
    if (kind == c10::prim::unchecked_cast) return std::vector<c10::IValue>{inputs.at(0)};
    if (kind == c10::prim::isinstance) {
      const c10::TypePtr actual = inputs.at(0).type();
      bool matches = false;
      for (const c10::TypePtr& candidate : node->tys(c10::attr::types)) {
        matches = matches || actual->isSubtypeOf(*candidate);
      }
      return std::vector<c10::IValue>{c10::IValue(matches)};
    }
    return std::nullopt;
  }

  std::vector<c10::IValue> execute(jit::Node* node) {
    std::vector<c10::IValue> inputs;
    for (const jit::Value* input : node->inputs()) inputs.push_back(valueOf(input));
    try {
      if (auto results = executeInstruction(node, inputs)) return *std::move(results);
    } catch (const std::exception& error) {
      throw ShapeRunError(describeJitNode(node, paths_) + ": " + firstLineOf(error));
    }
    const c10::FunctionSchema* schema = node->maybeSchema();
    const bool hasMeta = std::any_of(inputs.begin(), inputs.end(), [](const c10::IValue& v) {
      return anyTensor(v, [](const at::Tensor& t) { return t.is_meta(); });
    });
    const bool hasCpu = std::any_of(inputs.begin(), inputs.end(), [](const c10::IValue& v) {
      return anyTensor(v, [](const at::Tensor& t) { return !t.is_meta() && t.dim() > 0; });
    });
    // 1. As is (meta kernels; CPU for small data-carrying tensors). Known-missing meta
    //    kernels are not retried: every failure builds a C++ backtrace.
    const bool knownNoMeta = schema != nullptr && hasMeta && noMetaKernel_.count(schema) > 0;
    if (!knownNoMeta) {
      try {
        return invoke(node, inputs);
      } catch (const std::exception&) {
      }
    }
    // 2. Mixed meta/CPU inputs: everything on meta.
    if (hasMeta && hasCpu && !knownNoMeta) {
      std::vector<c10::IValue> metaInputs;
      for (const c10::IValue& input : inputs) metaInputs.push_back(mapTensors(input, toMeta));
      try {
        return invoke(node, metaInputs);
      } catch (const std::exception&) {
      }
    }
    if (schema != nullptr && hasMeta) noMetaKernel_.insert(schema);
    // 3. No meta kernel: TorchScript's shape functions (the registry symbolic shape
    //    analysis uses) give the output sizes from the input sizes.
    if (hasMeta) {
      if (auto results = runShapeFunction(node, inputs)) return *std::move(results);
      if (auto results = runFusedOpRule(node, inputs)) return *std::move(results);
    }
    // 4. Run it for real, on CPU, with zeros of the right shapes.
    std::vector<c10::IValue> cpuInputs;
    for (const c10::IValue& input : inputs) {
      cpuInputs.push_back(mapTensors(input, [](const at::Tensor& t) {
        return t.is_meta() ? at::zeros(t.sizes(), t.options().device(c10::kCPU)) : t;
      }));
    }
    ++cpuFallbacks_[node->kind().toQualString()];
    try {
      return invoke(node, cpuInputs);
    } catch (const std::exception& error) {
      throw ShapeRunError(describeJitNode(node, paths_) + ": " + firstLineOf(error));
    }
  }

  // PyTorch's fused inference fast paths (what eval-mode transformers traced under
  // no_grad contain) have neither meta kernels nor shape functions, and running them on
  // CPU costs real attention FLOPs. Their shapes are simple:
  //   _native_multi_head_attention(query [B,L,E], key [B,S,E], ..., num_head, ...,
  //     need_weights, average_attn_weights) -> ([B,L,E], need_weights ? [B,L,S] (averaged)
  //     or [B,H,L,S] : undefined)
  //   _transformer_encoder_layer_fwd(src, ...) -> src's shape
  static std::optional<std::vector<c10::IValue>> runFusedOpRule(jit::Node* node, const std::vector<c10::IValue>& inputs) {
    const std::string_view kind = node->kind().toQualString();
    auto like = [](const at::Tensor& tensor, at::IntArrayRef sizes) {
      return c10::IValue(at::empty(sizes, tensor.options().device(c10::kMeta)));
    };
    if (kind == "aten::_native_multi_head_attention" && inputs.size() >= 12 && inputs[0].isTensor() &&
        inputs[1].isTensor() && inputs[4].isInt() && inputs[10].isBool() && inputs[11].isBool()) {
      const at::Tensor& query = inputs[0].toTensor();
      const at::Tensor& key = inputs[1].toTensor();
      if (query.dim() != 3 || key.dim() != 3) return std::nullopt;
      std::vector<c10::IValue> results = {like(query, query.sizes())};
      if (!inputs[10].toBool()) {
        results.emplace_back(at::Tensor());
      } else if (inputs[11].toBool()) {
        results.push_back(like(query, {query.size(0), query.size(1), key.size(1)}));
      } else {
        results.push_back(like(query, {query.size(0), inputs[4].toInt(), query.size(1), key.size(1)}));
      }
      return results;
    }
    if (kind == "aten::_transformer_encoder_layer_fwd" && !inputs.empty() && inputs[0].isTensor()) {
      const at::Tensor& source = inputs[0].toTensor();
      return std::vector<c10::IValue>{like(source, source.sizes())};
    }
    return std::nullopt;
  }

  // Outputs of `node` as meta tensors sized by its TorchScript shape function, when it has
  // one and every output is a tensor. The element type is the promotion of the tensor
  // inputs' types: right for the ops that get here (convolutions, norms, activations,
  // pooling, linear algebra); ops that change it (comparisons, argmax, size) have meta
  // kernels.
  static std::optional<std::vector<c10::IValue>> runShapeFunction(jit::Node* node, const std::vector<c10::IValue>& inputs) {
    const c10::FunctionSchema* schema = node->maybeSchema();
    if (schema == nullptr) return std::nullopt;
    // Traced convolutions record aten::_convolution, which has no shape function;
    // aten::convolution has one and takes the same first nine arguments.
    std::vector<c10::IValue> arguments = inputs;
    if (node->kind() == c10::Symbol::fromQualString("aten::_convolution") && arguments.size() >= 9) {
      static const std::shared_ptr<jit::Operator> convolution = jit::getOperatorForLiteral(
          "aten::convolution(Tensor input, Tensor weight, Tensor? bias, int[] stride, int[] padding, int[] dilation, "
          "bool transposed, int[] output_padding, int groups) -> Tensor");
      if (convolution == nullptr) return std::nullopt;
      schema = &convolution->schema();
      arguments.resize(9);
    }
    for (const c10::Argument& output : schema->returns()) {
      if (output.type()->kind() != c10::TypeKind::TensorType) return std::nullopt;
    }
    std::vector<jit::SSAInput> shapeInputs;
    std::optional<c10::ScalarType> dtype;
    std::optional<c10::Device> device;
    for (const c10::IValue& argument : arguments) {
      if (argument.isTensor() && argument.toTensor().defined()) {
        const at::Tensor& tensor = argument.toTensor();
        shapeInputs.emplace_back(c10::SymbolicShape(tensor.sizes()));
        dtype = dtype ? c10::promoteTypes(*dtype, tensor.scalar_type()) : tensor.scalar_type();
      } else if (argument.isTensor()) {
        shapeInputs.emplace_back(c10::IValue());  // undefined optional tensor
      } else {
        shapeInputs.emplace_back(argument);
      }
    }
    if (!dtype) return std::nullopt;
    c10::optional<std::vector<c10::SymbolicShape>> shapes;
    try {
      shapes = jit::calculateSymbolicShapesOnOp(schema, shapeInputs);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (!shapes || shapes->size() != node->outputs().size()) return std::nullopt;
    std::vector<c10::IValue> results;
    for (const c10::SymbolicShape& shape : *shapes) {
      auto sizes = shape.sizes();
      if (!sizes) return std::nullopt;
      std::vector<int64_t> concrete;
      for (const c10::ShapeSymbol& dim : *sizes) {
        if (!dim.is_static()) return std::nullopt;
        concrete.push_back(dim.static_size());
      }
      results.emplace_back(at::empty(concrete, at::TensorOptions().dtype(*dtype).device(c10::kMeta)));
    }
    return results;
  }

  Observations& observations_;
  const ModulePaths* paths_;
  std::unordered_map<const jit::Value*, c10::IValue> env_;
  size_t executed_ = 0;
  std::set<const c10::FunctionSchema*> noMetaKernel_;  // ops whose meta call failed
  std::map<std::string, size_t> cpuFallbacks_;         // op kind -> times run on CPU

 public:
  // "aten::foo x2, aten::bar x1": ops without a meta kernel, for the debug log.
  std::string cpuFallbackSummary() const {
    std::string summary;
    for (const auto& [kind, count] : cpuFallbacks_) {
      summary += (summary.empty() ? "" : ", ") + kind + " x" + std::to_string(count);
    }
    return summary;
  }
};

// Example inputs for one run: tensors on meta with substituted sizes, scalars from
// `value:` or a harmless default. nullopt (with the reason) when an input cannot be made.
std::optional<std::vector<c10::IValue>> makeInputs(const jit::Graph& graph, const std::vector<InputDeclaration>& inputs,
                                                   const Substitution& substitution, bool runA, std::string& reason) {
  std::vector<c10::IValue> values;
  size_t anonymous = 0;
  auto substitute = [&](const Dim& dim) -> int64_t {
    if (dim.isKnown()) return dim.size();
    const auto& sizes = runA ? substitution.runA : substitution.runB;
    if (dim.isSymbol()) {
      for (size_t k = 0; k < substitution.symbols.size(); ++k) {
        if (substitution.symbols[k] == dim.symbolName()) return sizes[k];
      }
    }
    // Anonymous dims come after the named symbols, in order of appearance.
    size_t named = 0;
    for (const std::string& symbol : substitution.symbols) named += symbol.empty() ? 0 : 1;
    return sizes.at(named + anonymous++);
  };
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    const jit::Value* input = graph.inputs()[i];
    const InputDeclaration* declaration = i < inputs.size() ? &inputs[i] : nullptr;
    const c10::TypePtr& type = input->type();
    if (type->kind() == c10::TypeKind::TensorType) {
      if (declaration == nullptr || !declaration->shape) {
        reason = "input '" + (declaration ? declaration->name : input->debugName()) +
                 "' has no shape (declare it under input: inputs:)";
        return std::nullopt;
      }
      std::vector<int64_t> sizes;
      for (const Dim& dim : *declaration->shape) sizes.push_back(substitute(dim));
      auto scalarType = scalarTypeFromDType(declaration->dtype.value_or(DType::F32));
      if (!scalarType) {
        reason = "input '" + declaration->name + "' has an element type LibTorch cannot create";
        return std::nullopt;
      }
      values.emplace_back(at::empty(sizes, at::TensorOptions().dtype(*scalarType).device(c10::kMeta)));
      continue;
    }
    const OptionValue* example = declaration && declaration->value ? &*declaration->value : nullptr;
    switch (type->kind()) {
      case c10::TypeKind::IntType: values.emplace_back(example && example->isInt() ? example->asInt() : int64_t{1}); break;
      case c10::TypeKind::FloatType: values.emplace_back(example && !example->isBool() ? example->asFloat() : 1.0); break;
      case c10::TypeKind::BoolType: values.emplace_back(example && example->isBool() ? example->asBool() : false); break;
      case c10::TypeKind::NoneType:
      case c10::TypeKind::OptionalType: values.emplace_back(); break;
      default:
        reason = "input '" + input->debugName() + "' of type " + type->repr_str() + " cannot be made up";
        return std::nullopt;
    }
  }
  return values;
}

Dim mergeDim(int64_t a, int64_t b, const Substitution& substitution) {
  if (a < 0 || b < 0) return Dim::unknown();
  if (a == b) return Dim::known(a);
  const std::string* match = nullptr;
  size_t matches = 0;
  for (size_t k = 0; k < substitution.symbols.size(); ++k) {
    if (substitution.runA[k] == a && substitution.runB[k] == b) {
      match = &substitution.symbols[k];
      ++matches;
    }
  }
  return matches == 1 && !match->empty() ? Dim::symbol(*match) : Dim::unknown();
}

DType dtypeOf(const Observation& observation) {
  if (observation.dtypeVaries) return DType::Undefined;
  return dtypeFromScalarType(observation.dtype).value_or(DType::Undefined);
}

JitTypeMap mergeRuns(const Observations& runA, const Observations* runB, const Substitution& substitution) {
  JitTypeMap types;
  for (const auto& [value, a] : runA) {
    if (a.rankVaries) {
      types[value] = Type::tensor(dtypeOf(a));
      continue;
    }
    const Observation* b = nullptr;
    if (runB != nullptr) {
      auto it = runB->find(value);
      if (it != runB->end()) b = &it->second;
    }
    std::vector<Dim> dims;
    if (runB == nullptr) {  // no symbols: a single run is exact
      for (int64_t size : a.sizes) dims.push_back(size < 0 ? Dim::unknown() : Dim::known(size));
      types[value] = Type::tensor(dtypeOf(a), std::move(dims));
      continue;
    }
    if (b == nullptr || b->rankVaries || b->sizes.size() != a.sizes.size()) {
      // Seen in one run only (another branch was taken in the other): rank only.
      types[value] = b == nullptr || b->sizes.size() == a.sizes.size()
                         ? Type::tensor(dtypeOf(a), std::vector<Dim>(a.sizes.size(), Dim::unknown()))
                         : Type::tensor(dtypeOf(a));
      continue;
    }
    for (size_t d = 0; d < a.sizes.size(); ++d) dims.push_back(mergeDim(a.sizes[d], b->sizes[d], substitution));
    DType dtype = dtypeOf(a) == dtypeOf(*b) ? dtypeOf(a) : DType::Undefined;
    types[value] = Type::tensor(dtype, std::move(dims));
  }
  return types;
}

}  // namespace

JitTypeMap inferTypesByExecution(jit::Graph& graph, const std::vector<InputDeclaration>& inputs,
                                 Diagnostics& diagnostics, const ModulePaths* paths) {
  // Symbols in order of first appearance, then one anonymous entry per '?' dim.
  std::vector<std::string> symbols;
  size_t anonymous = 0;
  for (const InputDeclaration& declaration : inputs) {
    if (!declaration.shape) continue;
    for (const Dim& dim : *declaration.shape) {
      if (dim.isSymbol() && std::find(symbols.begin(), symbols.end(), dim.symbolName()) == symbols.end()) {
        symbols.push_back(dim.symbolName());
      } else if (dim.isUnknown()) {
        ++anonymous;
      }
    }
  }
  symbols.insert(symbols.end(), anonymous, std::string());
  const bool symbolic = !symbols.empty();

  // Small sizes first (cheap, and rarely coincide with real dims); bigger ones for models
  // whose kernels need a minimum size (large convolution windows...).
  std::string failure;
  for (int64_t base : {7, 97, 227}) {
    Substitution substitution = makeSubstitution(symbols, base);
    std::string reason;
    auto inputsA = makeInputs(graph, inputs, substitution, true, reason);
    if (!inputsA) {
      diagnostics.info("torchscript: shapes left unknown: " + reason);
      return {};
    }
    try {
      c10::NoGradGuard noGrad;
      Observations runA;
      MetaInterpreter interpreterA(runA, paths);
      interpreterA.run(graph, *inputsA);
      if (const std::string cpu = interpreterA.cpuFallbackSummary(); !cpu.empty()) {
        diagnostics.debug("torchscript: shape inference ran on CPU (no meta kernel): " + cpu);
      }
      if (!symbolic) return mergeRuns(runA, nullptr, substitution);
      Observations runB;
      auto inputsB = makeInputs(graph, inputs, substitution, false, reason);
      MetaInterpreter(runB, paths).run(graph, *inputsB);
      return mergeRuns(runA, &runB, substitution);
    } catch (const std::exception& error) {
      failure = firstLineOf(error);
      diagnostics.debug("torchscript: shape inference with symbol sizes from " + std::to_string(base) +
                        " failed: " + failure);
      if (!symbolic) break;  // other sizes would not change anything
    }
  }
  diagnostics.warn("torchscript: could not run the graph to infer shapes (" + failure +
                   "); values keep the types TorchScript declares (often unknown shapes)");
  return {};
}

}  // namespace torchport::torchscript
