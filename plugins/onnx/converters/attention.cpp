// Fused attention ops of PyTorch's inference fast path (filled in below).
#include "converters.h"

namespace torchport::onnxplugin {
namespace {
constexpr ConverterSpec kTable[] = {
    {"aten::__placeholder_attention", kMinOpset, kMaxOpset, "", nullptr},
};
}  // namespace
std::span<const ConverterSpec> attentionConverters() { return std::span<const ConverterSpec>(kTable).first(0); }
}  // namespace torchport::onnxplugin
