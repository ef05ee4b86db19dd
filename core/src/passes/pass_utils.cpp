#include "pass_utils.h"

#include "torchport/op_traits.h"

namespace torchport {
namespace {

// A one-element constant (an absent value is handled by the caller).
std::optional<double> oneElementConstant(const Value* value) {
  const Node* producer = constantProducer(value);
  if (producer == nullptr) return std::nullopt;
  if (const Tensor* t = producer->tensorAttr("value"); t != nullptr && t->numel() != 1) return std::nullopt;
  return constantNumber(value);
}

bool isAbsent(const Node& node, size_t index) { return node.numInputs() <= index || isNoneValue(node.input(index)); }

}  // namespace

std::optional<ConstantPad> readConstantPad(const Node& pad, std::string& why) {
  if (pad.numOutputs() != 1 || pad.numInputs() < 1 || pad.numInputs() > 4) {
    why = "the Pad is malformed";
    return std::nullopt;
  }
  if (const std::string* mode = pad.stringAttr("mode"); mode != nullptr && *mode != "constant") {
    why = "the Pad has mode \"" + *mode + "\"";
    return std::nullopt;
  }
  ConstantPad result;
  result.data = pad.input(0);
  const Type& type = result.data->type();
  if (!type.isTensor() || !type.hasRank()) {
    why = "the rank of the Pad's input is unknown";
    return std::nullopt;
  }
  const auto rank = static_cast<int64_t>(type.rank());
  std::vector<int64_t> given;
  std::vector<int64_t> axes;
  bool explicitAxes = false;
  if (pad.numInputs() == 1) {  // Pad-2: pads and value are attributes
    const std::vector<int64_t>* pads = pad.intsAttr("pads");
    if (pads == nullptr) {
      why = "the Pad has no pads (attribute or input)";
      return std::nullopt;
    }
    given = *pads;
    result.value = pad.floatAttr("value").value_or(0.0);
  } else {  // Pad-11+: pads, constant_value, axes are inputs
    if (pad.hasAttribute("pads") || pad.hasAttribute("value")) {
      why = "the Pad mixes the attribute and input forms";
      return std::nullopt;
    }
    auto pads = constantInts(pad.input(1));
    if (!pads) {
      why = "the Pad's pads are not constant";
      return std::nullopt;
    }
    given = std::move(*pads);
    if (!isAbsent(pad, 2)) {
      auto value = oneElementConstant(pad.input(2));
      if (!value) {
        why = "the Pad's constant_value is not a one-element constant";
        return std::nullopt;
      }
      result.value = *value;
    }
    if (!isAbsent(pad, 3)) {
      explicitAxes = true;
      auto axesGiven = constantInts(pad.input(3));
      if (!axesGiven) {
        why = "the Pad's axes are not constant";
        return std::nullopt;
      }
      std::vector<bool> seen(static_cast<size_t>(rank), false);
      for (int64_t axis : *axesGiven) {
        if (axis < -rank || axis >= rank) {
          why = "a Pad axis is out of range";
          return std::nullopt;
        }
        const int64_t normalized = axis < 0 ? axis + rank : axis;
        if (seen[static_cast<size_t>(normalized)]) {
          why = "the Pad's axes repeat a dim";
          return std::nullopt;
        }
        seen[static_cast<size_t>(normalized)] = true;
        axes.push_back(normalized);
      }
    }
  }
  if (!explicitAxes) {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  const auto count = static_cast<int64_t>(axes.size());
  if (static_cast<int64_t>(given.size()) != 2 * count) {
    why = "the Pad has " + std::to_string(given.size()) + " pads for " + std::to_string(count) + " dims";
    return std::nullopt;
  }
  result.pads.assign(static_cast<size_t>(2 * rank), 0);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t begin = given[static_cast<size_t>(i)];
    const int64_t end = given[static_cast<size_t>(i + count)];
    if (begin < 0 || end < 0) {
      why = "the Pad has negative pads (it crops)";
      return std::nullopt;
    }
    result.pads[static_cast<size_t>(axes[static_cast<size_t>(i)])] = begin;
    result.pads[static_cast<size_t>(axes[static_cast<size_t>(i)] + rank)] = end;
  }
  return result;
}

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
