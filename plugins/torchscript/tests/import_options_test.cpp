// The importer's `input:` options: structure checks with located, actionable messages.
#include <gtest/gtest.h>

#include <string>

#include "import_options.h"
#include "torchport/host/pipeline.h"
#include "torchscript_importer.h"

namespace torchport::torchscript {
namespace {

// Validates `input:` (YAML, indented by 2) of a config importing control_flow.pt.
Status validateInput(const std::string& inputYaml, PipelineConfig* out = nullptr) {
  const std::string yaml = "torchport: 1\ninput:\n  path: " + std::string(TORCHSCRIPT_FIXTURE_DIR) +
                           "/control_flow.pt\n" + inputYaml + "pipeline: []\n";
  auto config = parsePipelineYaml(yaml, "test.yaml");
  if (!config) return config.status();
  Registry registry;
  Status registered = registerTorchScriptPlugin(registry);
  if (!registered) return registered;
  Status status = validatePipeline(*config, registry);
  if (out != nullptr) *out = std::move(config).value();
  return status;
}

TEST(TorchScriptOptions, WellFormedInputsParse) {
  PipelineConfig config;
  Status status = validateInput(
      "  inputs:\n"
      "    image: {shape: [batch, 3, '?', 224], dtype: float16}\n"
      "    steps: {value: 4}\n"
      "  infer_shapes: false\n",
      &config);
  ASSERT_TRUE(status.isOk()) << status.message();
  auto settings = parseImportSettings(config.input.options);
  ASSERT_TRUE(settings.hasValue()) << settings.status().message();
  ASSERT_EQ(settings->inputs.size(), 2u);
  const InputDeclaration& image = settings->inputs[0];
  EXPECT_EQ(image.name, "image");
  ASSERT_TRUE(image.shape.has_value());
  ASSERT_EQ(image.shape->size(), 4u);
  EXPECT_EQ((*image.shape)[0], Dim::symbol("batch"));
  EXPECT_EQ((*image.shape)[1], Dim::known(3));
  EXPECT_TRUE((*image.shape)[2].isUnknown());
  EXPECT_EQ(image.dtype, DType::F16);
  EXPECT_EQ(settings->inputs[1].name, "steps");
  ASSERT_TRUE(settings->inputs[1].value.has_value());
  EXPECT_EQ(settings->inputs[1].value->asInt(), 4);
  EXPECT_FALSE(settings->inferShapes);
  EXPECT_TRUE(settings->removeExceptionChecks);
  EXPECT_EQ(settings->method, "forward");
}

TEST(TorchScriptOptions, InputsMustBeAMap) {
  Status status = validateInput("  inputs: [x, y]\n");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("inputs must be a map"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("test.yaml:4"), std::string::npos) << status.message();
}

TEST(TorchScriptOptions, BadDimIsLocated) {
  Status status = validateInput("  inputs:\n    x: {shape: [1, -3, 4]}\n");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("negative"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("test.yaml:5"), std::string::npos) << status.message();

  status = validateInput("  inputs:\n    x: {shape: [1, 2.5]}\n");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("is not a size"), std::string::npos) << status.message();

  status = validateInput("  inputs:\n    x: {shape: 7}\n");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("must be a list"), std::string::npos) << status.message();
}

TEST(TorchScriptOptions, UnknownDtypeListsTheKnownOnes) {
  Status status = validateInput("  inputs:\n    x: {shape: [1], dtype: float33}\n");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("float33"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("float32"), std::string::npos) << status.message();
}

TEST(TorchScriptOptions, UnknownKeyAndConflictingKeys) {
  Status status = validateInput("  inputs:\n    x: {shap: [1]}\n");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("unknown key 'shap'"), std::string::npos) << status.message();

  status = validateInput("  inputs:\n    x: {shape: [1], value: 3}\n");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("not both"), std::string::npos) << status.message();

  status = validateInput("  inputs:\n    x: {value: [1, 2]}\n");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("int, float or bool"), std::string::npos) << status.message();
}

TEST(TorchScriptOptions, UnknownImporterOptionIsRejected) {
  Status status = validateInput("  infer_shape: true\n");
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("infer_shape"), std::string::npos) << status.message();
}

TEST(TorchScriptOptions, DtypeSpellings) {
  EXPECT_EQ(parseTensorDType("float32"), DType::F32);
  EXPECT_EQ(parseTensorDType("float"), DType::F32);
  EXPECT_EQ(parseTensorDType("torch.float16"), DType::F16);
  EXPECT_EQ(parseTensorDType("i64"), DType::I64);
  EXPECT_EQ(parseTensorDType("long"), DType::I64);
  EXPECT_EQ(parseTensorDType("bool"), DType::Bool);
  EXPECT_FALSE(parseTensorDType("floaty").has_value());
}

}  // namespace
}  // namespace torchport::torchscript
