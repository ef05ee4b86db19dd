// Unpacking of quantized packed-params objects (see packed_params.h for the tuple layout).
#include "packed_params.h"

#include <string_view>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/core/function.h>
#include <ATen/core/class_type.h>
#include <ATen/core/jit_type.h>

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

}  // namespace

std::optional<c10::IValue> unpackQuantizedParams(const c10::IValue& object, std::string& problem) {
  if (!object.isObject()) return std::nullopt;
  const std::string className = classNameOf(object);
  if (className == kRnnCellParams) {
    problem = "holds the cell parameters of a dynamic-quantized LSTM/GRU (aten::quantized_lstm); torchport "
              "does not convert quantized recurrent layers yet: quantize_dynamic only the nn.Linear layers "
              "(qconfig_spec={nn.Linear}) or export the float model";
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
