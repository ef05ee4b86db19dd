// Unpacking of quantized packed-params objects (see packed_params.h for the tuple layout).
#include "packed_params.h"

#include <string_view>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/core/function.h>
#include <ATen/core/class_type.h>
#include <ATen/core/jit_type.h>
#include <torch/csrc/jit/ir/constants.h>

namespace torchport::torchscript {
namespace {

constexpr std::string_view kLinearParams = "__torch__.torch.classes.quantized.LinearPackedParamsBase";
constexpr std::string_view kConv2dParams = "__torch__.torch.classes.quantized.Conv2dPackedParamsBase";
constexpr std::string_view kQuantizedPrefix = "__torch__.torch.classes.quantized.";
constexpr std::string_view kRnnCellParams = "__torch__.torch.classes.rnn.CellParamsBase";

std::string classNameOf(const c10::IValue& object) {
  auto named = object.type()->cast<c10::NamedType>();
  return named && named->name() ? named->name()->qualifiedName() : object.type()->repr_str();
}

// Calls a method of the custom class (unpack, stride, ...) without arguments.
std::optional<c10::IValue> callMethod(const c10::IValue& object, const char* name) {
  torch::jit::Function* method = object.toObject()->type()->findMethod(name);
  if (method == nullptr) return std::nullopt;
  std::vector<c10::IValue> stack{object};
  return (*method)(std::move(stack));
}

struct QuantizedWeight {
  at::Tensor values, scale, zeroPoint;
  int64_t axis = 0;
};

std::optional<QuantizedWeight> splitQuantized(const at::Tensor& weight, std::string& problem) {
  if (!weight.is_quantized()) {
    problem = "its weight is not a quantized tensor";
    return std::nullopt;
  }
  QuantizedWeight out;
  out.values = weight.int_repr().contiguous();
  const auto integerType = out.values.scalar_type();
  switch (weight.qscheme()) {
    case c10::kPerTensorAffine:
      out.scale = at::scalar_tensor(weight.q_scale(), at::kFloat);
      out.zeroPoint = at::scalar_tensor(weight.q_zero_point(), at::TensorOptions().dtype(integerType));
      return out;
    case c10::kPerChannelAffine:
      out.scale = weight.q_per_channel_scales().to(at::kFloat).contiguous();
      out.zeroPoint = weight.q_per_channel_zero_points().to(integerType).contiguous();
      out.axis = weight.q_per_channel_axis();
      return out;
    default:
      problem = "its weight uses the quantization scheme " + std::string(c10::toString(weight.qscheme())) +
                " (only per-tensor and per-channel affine weights have an ONNX QDQ form)";
      return std::nullopt;
  }
}

c10::IValue floatBias(const c10::IValue& bias) {
  if (bias.isNone() || !bias.isTensor() || !bias.toTensor().defined()) return c10::IValue();
  at::Tensor tensor = bias.toTensor().detach();
  if (tensor.is_quantized()) tensor = tensor.dequantize();
  return tensor.to(at::kFloat).contiguous();
}

// The f32 tensors of one dynamic-quantized LSTM cell (a layer and direction):
// {w_ih, w_hh} then, with biases, {b_ih, b_hh}. The cell's state (its __getstate__) is
// (kind, tensors, doubles, longs, objects); for kind "quantized_dynamic" the objects are the
// LinearPackedParamsBase of w_ih and w_hh and the tensors are the f32 biases b_ih, b_hh.
std::optional<std::vector<at::Tensor>> unpackDynamicLstmCell(const c10::IValue& cell, bool hasBiases,
                                                             std::string& problem) {
  std::optional<c10::IValue> state = callMethod(cell, "__getstate__");
  if (state && state->isTuple() && state->toTupleRef().elements().size() == 2 &&
      state->toTupleRef().elements()[0].isTuple()) {
    state = state->toTupleRef().elements()[0];  // (state, class name), as Python pickles it
  }
  if (!state || !state->isTuple() || state->toTupleRef().elements().size() != 5 ||
      !state->toTupleRef().elements()[0].isString()) {
    problem = "its __getstate__ did not return (kind, tensors, doubles, longs, objects) (saved by another PyTorch?)";
    return std::nullopt;
  }
  // A vector copy: indexing the tuple's small inline storage past 3 trips -Warray-bounds.
  const std::vector<c10::IValue> fields = state->toTupleRef().elements().vec();
  const std::string kind = fields[0].toStringRef();
  if (kind != "quantized_dynamic") {
    problem = "its cells are of kind '" + kind +
              "' (torchport converts the int8 cells of quantize_dynamic(..., dtype=torch.qint8), "
              "kind 'quantized_dynamic')";
    return std::nullopt;
  }
  if (!fields[4].isList() || fields[4].toListRef().size() != 2 || !fields[1].isList()) {
    problem = "its 'quantized_dynamic' state does not hold the packed w_ih and w_hh";
    return std::nullopt;
  }
  std::vector<at::Tensor> tensors;
  for (const c10::IValue& packed : fields[4].toListRef()) {
    std::optional<c10::IValue> unpacked =
        packed.isObject() ? callMethod(packed, "unpack") : std::optional<c10::IValue>();
    if (!unpacked || !unpacked->isTuple() || unpacked->toTupleRef().elements().empty() ||
        !unpacked->toTupleRef().elements()[0].isTensor()) {
      problem = "its packed weights did not unpack() to (weight, bias)";
      return std::nullopt;
    }
    const at::Tensor weight = unpacked->toTupleRef().elements()[0].toTensor();
    if (!weight.is_quantized() ||
        (weight.qscheme() != c10::kPerTensorAffine && weight.qscheme() != c10::kPerChannelAffine)) {
      problem = "its weights are not per-tensor or per-channel affine quantized tensors";
      return std::nullopt;
    }
    tensors.push_back(weight.dequantize().to(at::kFloat).contiguous());
  }
  if (hasBiases) {
    const auto biases = fields[1].toListRef();
    if (biases.size() != 2) {
      problem = "it has " + std::to_string(biases.size()) + " bias tensors where has_biases expects b_ih and b_hh";
      return std::nullopt;
    }
    for (const c10::IValue& bias : biases) {
      c10::IValue asFloat = floatBias(bias);
      if (asFloat.isNone()) {
        problem = "one of its biases is missing although has_biases is true";
        return std::nullopt;
      }
      tensors.push_back(asFloat.toTensor());
    }
  }
  return tensors;
}

std::optional<bool> constantBool(torch::jit::Value* value) {
  std::optional<c10::IValue> constant = torch::jit::toIValue(value);
  if (!constant || !constant->isBool()) return std::nullopt;
  return constant->toBool();
}

std::optional<int64_t> constantInt(torch::jit::Value* value) {
  std::optional<c10::IValue> constant = torch::jit::toIValue(value);
  if (!constant || !constant->isInt()) return std::nullopt;
  return constant->toInt();
}

// aten::quantized_lstm.input -> aten::lstm.input when its cells unpack (see the header).
bool lowerQuantizedLstm(torch::jit::Graph& graph, torch::jit::Node* node, const ModulePaths& paths) {
  namespace jit = torch::jit;
  // The .input overload: (input, Tensor[] hx, CellParamsBase[] params, ...); .data takes
  // (data, batch_sizes, hx, params...) and the legacy overloads a Tensor[] params.
  if (node->inputs().size() != 11 || node->outputs().size() != 3 ||
      node->input(1)->type()->kind() != c10::TypeKind::ListType) {
    return false;
  }
  jit::Node* list = node->input(2)->node();
  const std::optional<bool> hasBiases = constantBool(node->input(3));
  const std::optional<int64_t> layers = constantInt(node->input(4));
  const std::optional<bool> bidirectional = constantBool(node->input(7));
  const std::optional<bool> useDynamic = constantBool(node->input(10));
  if (list->kind() != c10::prim::ListConstruct || !hasBiases || !layers || !bidirectional || !useDynamic ||
      !*useDynamic) {
    return false;
  }
  const int64_t directions = *bidirectional ? 2 : 1;
  if (static_cast<int64_t>(list->inputs().size()) != *layers * directions) return false;

  std::string prefix;
  if (auto callstack = node->callstack()) prefix = paths.pathOf(*callstack);
  if (!prefix.empty()) prefix += ".";
  jit::WithInsertPoint insertPoint(node);
  std::vector<jit::Value*> params;
  for (size_t cellIndex = 0; cellIndex < list->inputs().size(); ++cellIndex) {
    std::optional<c10::IValue> cell = jit::toIValue(list->input(cellIndex));
    std::string ignored;
    if (!cell || !cell->isObject() || classNameOf(*cell) != kRnnCellParams) return false;
    std::optional<std::vector<at::Tensor>> tensors = unpackDynamicLstmCell(*cell, *hasBiases, ignored);
    if (!tensors) return false;
    const std::string suffix = "_l" + std::to_string(cellIndex / directions) + (cellIndex % directions ? "_reverse" : "");
    const char* names[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (size_t i = 0; i < tensors->size(); ++i) {
      jit::Value* constant = graph.insertConstant((*tensors)[i]);
      // "self." marks a module attribute path for nameConstants (as freezing names them).
      constant->setDebugName("self." + prefix + names[i] + suffix);
      params.push_back(constant);
    }
  }
  jit::Value* flat = graph.insertNode(graph.createList(c10::TensorType::get(), params))->output();
  std::vector<jit::Value*> inputs = {node->input(0), node->input(1), flat};
  for (size_t i = 3; i <= 8; ++i) inputs.push_back(node->input(i));
  jit::Node* lstm = graph.insertNode(graph.create(c10::Symbol::fromQualString("aten::lstm"), inputs, 3));
  lstm->setSourceRange(node->sourceRange());
  if (auto callstack = node->callstack()) {
    lstm->setCallStack(*callstack);
    flat->node()->setCallStack(*callstack);
  }
  for (size_t i = 0; i < 3; ++i) {
    lstm->output(i)->setType(node->output(i)->type());
    node->output(i)->replaceAllUsesWith(lstm->output(i));
  }
  node->destroy();
  return true;
}

size_t lowerQuantizedLstmsIn(torch::jit::Graph& graph, torch::jit::Block* block, const ModulePaths& paths) {
  size_t lowered = 0;
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    torch::jit::Node* node = *it++;
    for (torch::jit::Block* inner : node->blocks()) lowered += lowerQuantizedLstmsIn(graph, inner, paths);
    if (node->kind() == c10::Symbol::fromQualString("aten::quantized_lstm") && lowerQuantizedLstm(graph, node, paths)) {
      ++lowered;
    }
  }
  return lowered;
}

}  // namespace

size_t lowerQuantizedLstms(torch::jit::Graph& graph, const ModulePaths& paths) {
  return lowerQuantizedLstmsIn(graph, graph.block(), paths);
}

std::optional<c10::IValue> unpackQuantizedParams(const c10::IValue& object, std::string& problem) {
  if (!object.isObject()) return std::nullopt;
  const std::string className = classNameOf(object);
  if (className == kRnnCellParams) {
    // aten::quantized_lstm.input with int8 cells was rewritten to aten::lstm before
    // conversion (lowerQuantizedLstms); whatever still holds cell params is refused here.
    std::string why;
    if (unpackDynamicLstmCell(object, /*hasBiases=*/false, why)) {
      why = "only aten::quantized_lstm (padded input, constant has_biases/num_layers/bidirectional) is "
            "converted, not quantized GRU cells (aten::quantized_gru) or packed sequences";
    }
    problem = "holds the cell parameters of a dynamic-quantized recurrent layer that torchport cannot convert: " +
              why + "; quantize_dynamic only nn.LSTM and nn.Linear (qconfig_spec={nn.LSTM, nn.Linear}, "
              "dtype=torch.qint8), only the nn.Linear layers (qconfig_spec={nn.Linear}), or export the float model";
    return std::nullopt;
  }
  const bool linear = className == kLinearParams;
  const bool conv = className == kConv2dParams;
  if (!linear && !conv) {
    if (std::string_view(className).starts_with(kQuantizedPrefix)) {
      problem = "is a quantized packed-params object of class " + className +
                " that torchport cannot unpack (known: LinearPackedParamsBase, Conv2dPackedParamsBase)";
    }
    return std::nullopt;
  }
  std::optional<c10::IValue> unpacked = callMethod(object, "unpack");
  if (!unpacked || !unpacked->isTuple() || unpacked->toTupleRef().elements().size() != 2 ||
      !unpacked->toTupleRef().elements()[0].isTensor()) {
    problem = "is a " + className + " whose unpack() did not return (weight, bias)";
    return std::nullopt;
  }
  const auto& fields = unpacked->toTupleRef().elements();
  std::string why;
  std::optional<QuantizedWeight> weight = splitQuantized(fields[0].toTensor(), why);
  if (!weight) {
    problem = "is a " + className + " that cannot be unpacked: " + why;
    return std::nullopt;
  }
  std::vector<c10::IValue> elements{weight->values, weight->scale, weight->zeroPoint, weight->axis,
                                    floatBias(fields[1])};
  if (conv) {
    for (const char* accessor : {"stride", "padding", "dilation", "groups", "output_padding", "transpose"}) {
      std::optional<c10::IValue> field = callMethod(object, accessor);
      if (!field) {
        problem = "is a " + className + " without the accessor " + accessor + "() (saved by an older PyTorch?)";
        return std::nullopt;
      }
      elements.push_back(*field);
    }
  }
  return c10::ivalue::Tuple::create(std::move(elements));
}

}  // namespace torchport::torchscript
