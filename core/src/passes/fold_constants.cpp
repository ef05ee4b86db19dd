// fold-constants: evaluates nodes whose inputs are all constants and replaces them by
// constants, using the kernel registry (Registry::findKernel: core's built-in ONNX shape
// kernels, plugins' kernels such as LibTorch's for aten ops).
//
// Before:
//   graph @main(%x: f32[2,3,4]) -> (%y: f32[2,12]) {
//     %s: i64[3] = onnx::Shape(%x)
//     %i = const i64[1] dense<[0]>
//     %b: i64[1] = onnx::Gather(%s, %i) {axis=0}
//     %rest = const i64[1] dense<[12]>
//     %shape: i64[2] = onnx::Concat(%b, %rest) {axis=0}
//     %y: f32[2,12] = onnx::Reshape(%x, %shape)
//   }
// After (fold-constants,eliminate-dead-code):
//   graph @main(%x: f32[2,3,4]) -> (%y: f32[2,12]) {
//     %shape = const i64[2] dense<[2, 12]>
//     %y: f32[2,12] = onnx::Reshape(%x, %shape)
//   }
// With %x: f32[batch,3,4] the Shape stays (batch is only known at run time), but
// `onnx::Shape(%x) {start=1}` still folds to [3, 4].
//
// What folds: a node, in the root graph or a nested If/Loop body, that
//   - is pure (op_traits.h: no side effects, deterministic) and not control flow (no graph
//     attributes), has outputs, and has a kernel registered for its exact kind (or domain
//     wildcard);
//   - has only constant inputs that carry data: tensor constants, and for plugin kernels
//     (aten) scalar constants, passed as rank-0 tensors (int and bool -> i64 / bool, float ->
//     f64), int/float lists (-> 1-D i64 / f64) and none (-> an absent Tensor, dtype
//     undefined). String constants and elided tensors (data not loaded) do not fold;
//   - special case: onnx::Shape / onnx::Size fold from the input's TYPE when the input is not
//     a constant, if the dims they read (Shape's start/end range) are all known sizes;
//   - partially known shapes: Shape of f32[batch,3,224,224] is [?,3,224,224]; the built-in
//     Gather, Slice, Concat, (Un)Squeeze, Reshape and Identity carry such vectors along (they
//     only move elements) and fold as soon as their result holds known dims only, e.g.
//     Gather(Shape(x), 1) = 3. Arithmetic never sees the unknown dims.
// The results become constants inserted before the node; they take over the node's output
// names (graph outputs keep theirs) and the node is erased. Its now-unused constant inputs
// are left for eliminate-dead-code. Outputs whose type is int / float / bool / list<int> /
// list<float> become scalar constants (one element) or lists (rank <= 1).
//
// Option max_elements (default 2^20). Safety:
//   - a folded result larger than `max_elements` elements is refused when it is also larger
//     than every constant input of the node (so Expand / Tile / ConstantOfShape of a small
//     constant do not bloat the file, while Transpose / Cast / Reshape of a large weight,
//     which do not grow the data, still fold);
//   - a result whose dtype or known dims disagree with the declared output type is refused
//     with a warning (a kernel bug or a wrong type annotation: either way, not ours to pick);
//   - kernel refusals are never errors: an unsupported dtype or attribute is a debug note,
//     an invalid node (Gather index out of range, division by zero...) a warning; the node
//     stays and runs at inference time, where a genuinely invalid node still fails.
// One forward walk folds whole chains: a folded node's users see constants when visited.
// Linear in the number of nodes plus the size of the folded data.
#include <algorithm>
#include <limits>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "../kernels/onnx_shape_kernels.h"
#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

constexpr int64_t kDefaultMaxElements = int64_t{1} << 20;

// Marks a dim that only run time knows in a partially known shape vector. Real dims are
// never negative; a constant INT64_MIN moved along with them only makes folding give up.
constexpr int64_t kUnknownDim = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxPartialElements = 64;  // shape vectors, not data

bool hasUnknownDim(const Tensor& t) {
  if (t.dtype() != DType::I64) return false;
  for (int64_t v : t.data<int64_t>()) {
    if (v == kUnknownDim) return true;
  }
  return false;
}

// Built-in kernels that only move the elements of input `index` (never compute with them), so
// an unknown-dim marker there either reaches the result unchanged or is dropped.
bool movesShapeElements(std::string_view kind, size_t index) {
  if (kind == "onnx::Concat") return true;
  return index == 0 && (kind == "onnx::Gather" || kind == "onnx::Slice" || kind == "onnx::Squeeze" ||
                        kind == "onnx::Unsqueeze" || kind == "onnx::Identity" || kind == "onnx::Reshape");
}

// The value of a constant as a kernel input; nullopt when it cannot be one.
std::optional<Tensor> constantAsTensor(const Value* value) {
  const Node* producer = constantProducer(value);
  if (producer == nullptr) return std::nullopt;
  const Attribute* attribute = producer->findAttribute("value");
  if (attribute == nullptr) {
    if (value->type().isTensor()) return std::nullopt;  // malformed tensor constant
    return Tensor();                                     // none: an absent optional input
  }
  if (const auto* tensor = std::get_if<Tensor>(attribute)) {
    const size_t size = dtypeSize(tensor->dtype());
    if (!tensor->hasData() || size == 0 || static_cast<uint64_t>(tensor->numel()) > tensor->bytes().size() / size) {
      return std::nullopt;  // elided or malformed
    }
    return *tensor;
  }
  if (const auto* v = std::get_if<int64_t>(attribute)) {
    if (value->type().kind() == Type::Kind::Bool) return Tensor::fromVector<uint8_t>(DType::Bool, {}, {*v != 0});
    return Tensor::scalarI64(*v);
  }
  if (const auto* v = std::get_if<double>(attribute)) return Tensor::fromVector<double>(DType::F64, {}, {*v});
  if (const auto* v = std::get_if<std::vector<int64_t>>(attribute)) {
    return Tensor::fromVector<int64_t>(DType::I64, {static_cast<int64_t>(v->size())}, *v);
  }
  if (const auto* v = std::get_if<std::vector<double>>(attribute)) {
    return Tensor::fromVector<double>(DType::F64, {static_cast<int64_t>(v->size())}, *v);
  }
  return std::nullopt;  // strings, graphs
}

// Does `result` fit the declared type of the value it replaces?
bool fitsDeclaredType(const Tensor& result, const Type& declared) {
  switch (declared.kind()) {
    case Type::Kind::Unknown: return true;
    case Type::Kind::Int: return result.numel() == 1 && (isInteger(result.dtype()) || result.dtype() == DType::Bool);
    case Type::Kind::Bool: return result.numel() == 1 && (isInteger(result.dtype()) || result.dtype() == DType::Bool);
    case Type::Kind::Float: return result.numel() == 1 && isFloatingPoint(result.dtype());
    case Type::Kind::List: {
      if (result.rank() > 1 || declared.elements().empty()) return false;
      const Type::Kind element = declared.elements().front().kind();
      return (element == Type::Kind::Int && isInteger(result.dtype())) ||
             (element == Type::Kind::Float && isFloatingPoint(result.dtype()));
    }
    case Type::Kind::Tensor: {
      if (declared.dtype() != DType::Undefined && declared.dtype() != result.dtype()) return false;
      if (!declared.hasRank()) return true;
      if (static_cast<int64_t>(declared.rank()) != result.rank()) return false;
      for (size_t i = 0; i < declared.rank(); ++i) {
        const Dim& dim = (*declared.shape())[i];
        if (dim.isKnown() && dim.size() != result.shape()[i]) return false;
      }
      return true;
    }
    default: return false;
  }
}

// A constant node holding `result` in the form the declared type asks for.
Node* createResultConstant(Graph& graph, Node* before, const Tensor& result, const Type& declared) {
  Node* node = nullptr;
  switch (declared.kind()) {
    case Type::Kind::Int:
    case Type::Kind::Bool:
      node = graph.insertNodeBefore(before, kConstKind, {}, 0);
      node->setAttribute("value", result.elementAsInt(0));
      node->addOutput(declared);
      return node;
    case Type::Kind::Float:
      node = graph.insertNodeBefore(before, kConstKind, {}, 0);
      node->setAttribute("value", result.elementAsDouble(0));
      node->addOutput(declared);
      return node;
    case Type::Kind::List: {
      node = graph.insertNodeBefore(before, kConstKind, {}, 0);
      if (declared.elements().front().kind() == Type::Kind::Int) {
        std::vector<int64_t> values(static_cast<size_t>(result.numel()));
        for (size_t i = 0; i < values.size(); ++i) values[i] = result.elementAsInt(static_cast<int64_t>(i));
        node->setAttribute("value", std::move(values));
      } else {
        std::vector<double> values(static_cast<size_t>(result.numel()));
        for (size_t i = 0; i < values.size(); ++i) values[i] = result.elementAsDouble(static_cast<int64_t>(i));
        node->setAttribute("value", std::move(values));
      }
      node->addOutput(declared);
      return node;
    }
    default: return graph.createConstant(result, before);
  }
}

class ConstantFolder {
 public:
  ConstantFolder(PassContext& context, int64_t maxElements) : context_(context), maxElements_(maxElements) {}

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph& graph, Node* node) {
      return visit(graph, *node);
    });
  }

  size_t folded() const { return folded_; }

 private:
  void note(const Node& node, std::string_view why) {
    context_.diag().debug("fold-constants: not folding " + node.describe() + ": " + std::string(why));
  }

  Status visit(Graph& graph, Node& node) {
    if (node.isConstant() || node.numOutputs() == 0 || hasGraphAttribute(node) || !isPure(node)) {
      return Status::ok();
    }
    if (node.kind() == "onnx::Shape" || node.kind() == "onnx::Size") {
      if (auto result = shapeFromType(node)) {
        if (!fitsDeclaredType(*result, node.output()->type())) {
          context_.diag().warn("fold-constants: not folding " + node.describe() + ": its input's type gives " +
                               std::to_string(result->numel()) + " element(s), output %" + node.output()->name() +
                               " is declared as " + node.output()->type().toString());
          return Status::ok();
        }
        if (!hasUnknownDim(*result)) return replace(graph, node, {std::move(*result)});
        partial_[node.output()] = std::move(*result);
        return Status::ok();
      }
    }
    const KernelEntry* kernel = context_.registry().findKernel(node.kind());
    if (kernel == nullptr || !kernel->evaluate) return Status::ok();

    std::vector<Tensor> inputs;
    inputs.reserve(node.numInputs());
    int64_t largestInput = 0;
    bool readsPartial = false;
    for (size_t i = 0; i < node.numInputs(); ++i) {
      std::optional<Tensor> tensor = constantAsTensor(node.input(i));
      if (!tensor && kernel->plugin == "core" && movesShapeElements(node.kind(), i)) {
        auto partial = partial_.find(node.input(i));
        if (partial != partial_.end()) {
          tensor = partial->second;
          readsPartial = true;
        }
      }
      if (!tensor) return Status::ok();  // not all inputs are constants with data
      largestInput = std::max(largestInput, tensor->dtype() == DType::Undefined ? 0 : tensor->numel());
      inputs.push_back(std::move(*tensor));
    }
    // Skip the evaluation when the declared types already show a result over the cap.
    for (const Value* output : node.outputs()) {
      if (!output->type().isTensor()) continue;
      if (auto shape = output->type().staticShape()) {
        const int64_t count = Tensor(output->type().dtype(), *shape, nullptr).numel();
        if (tooLarge(count, largestInput)) {
          note(node, "its result has " + std::to_string(count) + " elements (max_elements=" +
                         std::to_string(maxElements_) + ")");
          return Status::ok();
        }
      }
    }

    Expected<std::vector<Tensor>> results = kernel->evaluate(node, inputs);
    if (readsPartial) {
      // Still unknown dims in the result: remember it for the next data-movement op.
      if (!results.hasValue() || results->size() != 1) return Status::ok();
      const Tensor& result = results->front();
      if (hasUnknownDim(result)) {
        if (result.numel() <= kMaxPartialElements) partial_[node.output()] = result;
        return Status::ok();
      }
    }
    if (!results.hasValue()) {
      const Status& status = results.status();
      if (status.kind() == ErrorKind::Unsupported) {
        note(node, status.message());
      } else {
        context_.diag().warn("fold-constants: not folding " + node.describe() + ": the " + kernel->plugin +
                             " kernel failed: " + status.message());
      }
      return Status::ok();
    }
    if (results->size() != node.numOutputs()) {
      context_.diag().warn("fold-constants: not folding " + node.describe() + ": the " + kernel->plugin +
                           " kernel returned " + std::to_string(results->size()) + " results for " +
                           std::to_string(node.numOutputs()) + " outputs");
      return Status::ok();
    }
    for (size_t i = 0; i < results->size(); ++i) {
      const Tensor& result = (*results)[i];
      const size_t size = dtypeSize(result.dtype());
      if (!result.hasData() || size == 0 || static_cast<uint64_t>(result.numel()) > result.bytes().size() / size) {
        context_.diag().warn("fold-constants: not folding " + node.describe() + ": the " + kernel->plugin +
                             " kernel returned a result without (enough) data");
        return Status::ok();
      }
      if (tooLarge(result.numel(), largestInput)) {
        note(node, "its result has " + std::to_string(result.numel()) + " elements (max_elements=" +
                       std::to_string(maxElements_) + ")");
        return Status::ok();
      }
      const Type& declared = node.output(i)->type();
      if (!fitsDeclaredType(result, declared)) {
        std::string shape;
        for (int64_t d : result.shape()) shape += (shape.empty() ? "" : ",") + std::to_string(d);
        context_.diag().warn("fold-constants: not folding " + node.describe() + ": the " + kernel->plugin +
                             " kernel computed " + std::string(dtypeName(result.dtype())) + "[" + shape +
                             "] for output %" + node.output(i)->name() + " declared as " + declared.toString());
        return Status::ok();
      }
    }
    return replace(graph, node, std::move(*results));
  }

  bool tooLarge(int64_t count, int64_t largestInput) const { return count > maxElements_ && count > largestInput; }

  // onnx::Shape / onnx::Size of a non-constant input with a known rank. Shape marks the dims
  // its type does not know with kUnknownDim; Size needs them all.
  static std::optional<Tensor> shapeFromType(const Node& node) {
    if (node.numInputs() != 1 || node.numOutputs() != 1) return std::nullopt;
    const Value* input = node.input(0);
    std::vector<Dim> dims;
    if (const Node* producer = constantProducer(input); producer != nullptr && producer->tensorAttr("value")) {
      for (int64_t d : producer->tensorAttr("value")->shape()) dims.push_back(Dim::known(d));  // elided data too
    } else if (input->type().isTensor() && input->type().hasRank()) {
      dims = *input->type().shape();
    } else {
      return std::nullopt;
    }
    int64_t start = 0, end = static_cast<int64_t>(dims.size());
    if (node.kind() == "onnx::Shape") std::tie(start, end) = onnxShapeRange(node, end);
    std::vector<int64_t> sizes;
    for (int64_t i = start; i < end; ++i) {
      const Dim& dim = dims[static_cast<size_t>(i)];
      if (!dim.isKnown() && node.kind() == "onnx::Size") return std::nullopt;
      sizes.push_back(dim.isKnown() ? dim.size() : kUnknownDim);
    }
    if (node.kind() == "onnx::Shape") {
      return Tensor::fromVector<int64_t>(DType::I64, {static_cast<int64_t>(sizes.size())}, sizes);
    }
    const int64_t count = Tensor(DType::I64, sizes, nullptr).numel();
    if (count == std::numeric_limits<int64_t>::max()) return std::nullopt;  // saturated: overflow
    return Tensor::scalarI64(count);
  }

  Status replace(Graph& graph, Node& node, std::vector<Tensor> results) {
    std::vector<Node*> constants;
    for (size_t i = 0; i < results.size(); ++i) {
      Value* output = node.output(i);
      Node* constant = createResultConstant(graph, &node, results[i], output->type());
      constants.push_back(constant);
      if (!graph.canReplaceAllUsesWith(output, constant->output())) {
        // Cannot happen for a fresh constant; undo rather than leave a half-folded node.
        for (Node* created : constants) TP_RETURN_IF_ERROR(graph.eraseNode(created));
        note(node, "its outputs cannot be rewired");
        return Status::ok();
      }
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < results.size(); ++i) {
      names.push_back(node.output(i)->name());
      // A root graph output's name moves to the constant here already.
      TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(node.output(i), constants[i]->output()));
    }
    TP_RETURN_IF_ERROR(graph.eraseNode(&node));
    // The constants take over the folded values' names, so that the IR stays readable.
    for (size_t i = 0; i < constants.size(); ++i) {
      Value* value = constants[i]->output();
      if (value->name() != names[i] && graph.findValue(names[i]) == nullptr) {
        TP_RETURN_IF_ERROR(graph.renameValue(value, names[i]));
      }
    }
    ++folded_;
    return Status::ok();
  }

  PassContext& context_;
  int64_t maxElements_;
  size_t folded_ = 0;
  // Shape vectors with unknown dims (kUnknownDim), by value: what Shape of a partly known
  // type and data-movement ops on it computed. Never folded themselves, but a Gather or
  // Slice that picks only known dims out of them is.
  std::unordered_map<const Value*, Tensor> partial_;
};

}  // namespace

PassInfo foldConstantsInfo() {
  PassInfo info;
  info.name = "fold-constants";
  info.summary = "Evaluate nodes whose inputs are all constants (shape arithmetic, weight transposes ...)";
  info.description =
      "Replaces every pure, deterministic node whose inputs are all constants with data by constants, computed by "
      "the kernel registered for its kind (core: ONNX Shape, Size, Gather, Concat, (Un)Squeeze, Slice, Cast, "
      "Reshape, Transpose, Expand, Tile, ConstantOfShape, Range, Where, Add/Sub/Mul/Div/Mod, Neg, comparisons, "
      "Not/And/Or; plugins add more, e.g. aten ops). onnx::Shape and onnx::Size also fold when their input is not "
      "a constant but its type knows the dims they read; Gather/Slice/Concat/(Un)Squeeze/Reshape/Identity of a "
      "partly known shape (batch, 3, 224, 224) fold when they pick known dims only. Works inside If/Loop bodies. The folded node's constant "
      "inputs are left for eliminate-dead-code.\n"
      "Before:\n"
      "  %s: i64[3] = onnx::Shape(%x)            # %x: f32[2,3,4]\n"
      "  %i = const i64[1] dense<[0]>\n"
      "  %b: i64[1] = onnx::Gather(%s, %i) {axis=0}\n"
      "After:\n"
      "  %b = const i64[1] dense<[2]>\n"
      "Refused (a debug note, the node stays): kernels that do not support the dtype or find the node invalid, "
      "results over max_elements elements that are also larger than every input, results that disagree with the "
      "declared output type (a warning).";
  info.kind = StepKind::Transform;

  OptionSpec maxElements;
  maxElements.name = "max_elements";
  maxElements.type = OptionType::Int;
  maxElements.defaultValue = OptionValue(OptionValue::Data(kDefaultMaxElements));
  maxElements.minInt = 0;
  maxElements.doc =
      "largest folded result, in elements, unless it is no larger than the node's largest constant input (keeps "
      "Expand/Tile/ConstantOfShape of small constants from bloating the model)";
  info.options = {std::move(maxElements)};
  return info;
}

Status runFoldConstants(Graph& graph, PassContext& context) {
  ConstantFolder folder(context, context.options().getInt("max_elements", kDefaultMaxElements));
  TP_RETURN_IF_ERROR(folder.run(graph));
  if (folder.folded() > 0) {
    context.setChanged();
    context.diag().debug("fold-constants: folded " + std::to_string(folder.folded()) + " node" +
                         (folder.folded() == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
