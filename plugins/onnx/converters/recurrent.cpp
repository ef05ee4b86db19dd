// Recurrent layers (filled in below).
#include "converters.h"

namespace torchport::onnxplugin {
namespace {
constexpr ConverterSpec kTable[] = {
    {"aten::__placeholder_rnn", kMinOpset, kMaxOpset, "", nullptr},
};
}  // namespace
std::span<const ConverterSpec> recurrentConverters() { return std::span<const ConverterSpec>(kTable).first(0); }
}  // namespace torchport::onnxplugin
