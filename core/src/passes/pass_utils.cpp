#include "pass_utils.h"

namespace torchport {

OptionSpec targetOpsetOption() {
  OptionSpec spec = optionSpec("opset", OptionType::Int, intValue(0),
                               "ONNX opset the output targets; 0 = the opset lower-to-onnx used in this run");
  spec.minInt = 0;
  return spec;
}

std::optional<int64_t> targetOnnxOpset(const PassContext& context) {
  const int64_t option = context.options().getInt("opset", 0);
  if (option > 0) return option;
  if (auto state = context.state<int64_t>("onnx.opset")) return *state;
  return std::nullopt;
}

}  // namespace torchport
