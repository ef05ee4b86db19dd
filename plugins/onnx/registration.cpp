// Registration of the ONNX plugin: an explicit, ordered list.
#include "registration.h"

#include "converters/converters.h"
#include "lower_to_onnx.h"
#include "save_onnx.h"

namespace torchport::onnxplugin {
namespace {

Status registerConverters(Registry& registry, std::span<const ConverterSpec> table) {
  for (const ConverterSpec& spec : table) {
    ConverterEntry entry;
    entry.opKind = spec.opKind;
    entry.target = "onnx";
    entry.minVersion = spec.minOpset;
    entry.maxVersion = spec.maxOpset;
    entry.summary = spec.summary;
    const LowerFn lower = spec.lower;
    entry.convert = [lower](ConversionContext& context) {
      Lowering lowering(context);
      return lower(lowering);
    };
    TP_RETURN_IF_ERROR(registry.addConverter(std::move(entry)));
  }
  return Status::ok();
}

}  // namespace

Status registerOnnxPlugin(Registry& registry) {
  TP_RETURN_IF_ERROR(registry.addPass(lowerToOnnxInfo(), runLowerToOnnx));
  TP_RETURN_IF_ERROR(registry.addExporter(saveOnnxInfo(), "onnx", {".onnx"}, runSaveOnnx, validateSaveOnnxOptions));
  const std::span<const ConverterSpec> tables[] = {
      elementwiseConverters(), activationConverters(), convPoolConverters(), normalizationConverters(),
      linearConverters(),      reduceConverters(),     shapeConverters(),   creationConverters(),
      primConverters(),        attentionConverters(),  recurrentConverters(),
      spectralConverters(),    quantizedConverters(),
  };
  for (const auto& table : tables) TP_RETURN_IF_ERROR(registerConverters(registry, table));
  return Status::ok();
}

}  // namespace torchport::onnxplugin
