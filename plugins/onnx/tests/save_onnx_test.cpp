// save-onnx: names, dynamic axes, initializer naming and deduplication, external data,
// checker integration, and that nothing is written when any step fails.
#include <gtest/gtest.h>

#include <fstream>

#include "save_onnx.h"
#include "test_support.h"

namespace torchport::onnxtest {
namespace {

constexpr std::string_view kTwoLinears = R"(graph @main(%x: f32[4,8]) -> (%y, %z) {
  %w1 = const f32[8,8] @"a.weight"
  %w2 = const f32[8,8] @"b.weight"
  %b = const f32[8] @"a.bias"
  %h = aten::linear(%x, %w1, %b)
  %y = aten::relu(%h)
  %z = aten::linear(%y, %w2, %b)
}
)";

TEST(SaveOnnx, RenamesInputsAndOutputsAndMakesAxesDynamic) {
  OnnxEnv env;
  TempDir dir;
  auto graph = env.parse(kTwoLinears);
  ASSERT_TRUE(graph.hasValue());
  onnx::ModelProto model;
  OptionValue extra = map({{"input_names", list({str("input")})},
                           {"output_names", list({str("logits"), str("features")})},
                           {"dynamic_axes", map({{"input", map({{"0", str("batch")}})}, {"logits", list({integer(0)})}})},
                           {"metadata", map({{"source", str("unit test")}})}});
  Status status = env.lowerAndSave(**graph, 17, dir.path(), model, extra);
  ASSERT_TRUE(status.isOk()) << status.message();
  ASSERT_EQ(model.graph().input_size(), 1);
  EXPECT_EQ(model.graph().input(0).name(), "input");
  EXPECT_EQ(model.graph().input(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(model.graph().input(0).type().tensor_type().shape().dim(1).dim_value(), 8);
  ASSERT_EQ(model.graph().output_size(), 2);
  EXPECT_EQ(model.graph().output(0).name(), "logits");
  EXPECT_EQ(model.graph().output(1).name(), "features");
  EXPECT_EQ(model.graph().output(0).type().tensor_type().shape().dim(0).dim_param(), "logits_dynamic_axis_0");
  EXPECT_EQ(model.producer_name(), "torchport");
  EXPECT_EQ(model.ir_version(), 8);
  ASSERT_EQ(model.metadata_props_size(), 1);
  EXPECT_EQ(model.metadata_props(0).key(), "source");
}

TEST(SaveOnnx, StoresIdenticalWeightsOnce) {
  OnnxEnv env;
  TempDir dir;
  auto graph = env.parse(kTwoLinears, /*fillWeights=*/false);
  ASSERT_TRUE(graph.hasValue());
  // Both weights zero: equal contents, one initializer; the bias differs in shape.
  for (Node* node : (*graph)->nodes()) {
    if (!node->isConstant()) continue;
    const Tensor* t = node->tensorAttr("value");
    if (t != nullptr) node->setAttribute("value", Tensor::zeros(t->dtype(), t->shape()));
  }
  onnx::ModelProto model;
  Status status = env.lowerAndSave(**graph, 13, dir.path(), model);
  ASSERT_TRUE(status.isOk()) << status.message();
  std::vector<std::string> names;
  for (const auto& init : model.graph().initializer()) names.push_back(init.name());
  EXPECT_EQ(names.size(), 2u) << "a.weight and b.weight are identical and must be stored once";
  EXPECT_EQ(model.ir_version(), 7) << "opset 13 -> IR 7 (onnx.helper VERSION_TABLE)";
}

TEST(SaveOnnx, WritesNothingWhenAtenNodesRemain) {
  OnnxEnv env;
  TempDir dir;
  auto graph = env.parse(kTwoLinears);
  ASSERT_TRUE(graph.hasValue());
  Status status = env.save(**graph, map({{"path", str((dir.path() / "model.onnx").string())}}));
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Unsupported);
  EXPECT_NE(status.message().find("aten::linear x2"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("aten::relu x1"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("lower-to-onnx"), std::string::npos) << status.message();
  EXPECT_TRUE(dir.files().empty());
}

TEST(SaveOnnx, CheckerFailureIsInternalAndWritesNothing) {
  OnnxEnv env;
  TempDir dir;
  // Conv with a 1-D weight: structurally an ONNX node, rejected by shape inference.
  auto graph = env.parse(R"(graph @main(%x: f32[1,3,8,8]) -> (%y) {
  %w = const f32[3] @"w"
  %y: f32[1,3,8,8] = onnx::Conv(%x, %w) {kernel_shape=[3,3]}
}
)");
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  const auto path = dir.path() / "model.onnx";
  // A previous file at the target must survive a failed save untouched.
  { std::ofstream(path) << "previous"; }
  Status status = env.save(**graph, map({{"path", str(path.string())}}));
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Internal);
  EXPECT_NE(status.message().find("shape inference"), std::string::npos) << status.message();
  EXPECT_EQ(dir.files(), std::vector<std::string>{"model.onnx"});
  std::ifstream in(path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "previous");
}

TEST(SaveOnnx, UnknownOpIsRejectedByTheChecker) {
  OnnxEnv env;
  TempDir dir;
  auto graph = env.parse(R"(graph @main(%x: f32[2]) -> (%y) {
  %y: f32[2] = onnx::NoSuchOp(%x)
}
)");
  ASSERT_TRUE(graph.hasValue());
  Status status = env.save(**graph, map({{"path", str((dir.path() / "m.onnx").string())}}));
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("NoSuchOp"), std::string::npos) << status.message();
  EXPECT_TRUE(dir.files().empty());
}

TEST(SaveOnnx, ExternalDataAlways) {
  OnnxEnv env;
  TempDir dir;
  auto graph = env.parse(kTwoLinears);
  ASSERT_TRUE(graph.hasValue());
  onnx::ModelProto model;
  Status status = env.lowerAndSave(**graph, 17, dir.path(), model,
                                   map({{"external_data", str("always")}, {"external_data_threshold", integer(64)}}));
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(dir.files(), (std::vector<std::string>{"model.data", "model.onnx"}));
  size_t external = 0;
  for (const auto& init : model.graph().initializer()) {
    if (init.data_location() != onnx::TensorProto::EXTERNAL) continue;
    ++external;
    EXPECT_FALSE(init.has_raw_data());
    int64_t offset = -1;
    std::string location;
    for (const auto& entry : init.external_data()) {
      if (entry.key() == "offset") offset = std::stoll(entry.value());
      if (entry.key() == "location") location = entry.value();
    }
    EXPECT_EQ(location, "model.data");
    EXPECT_EQ(offset % 4096, 0) << "external tensors are 4096-byte aligned";
  }
  EXPECT_EQ(external, 2u) << "the two 8x8 weights (256 bytes) go out, the 32-byte bias stays";
  EXPECT_GE(std::filesystem::file_size(dir.path() / "model.data"), 4096u + 256u);
}

TEST(SaveOnnx, Opset18SkipsTheCheckerAndSaysSo) {
  OnnxEnv env;
  TempDir dir;
  auto graph = env.parse(kTwoLinears);
  ASSERT_TRUE(graph.hasValue());
  onnx::ModelProto model;
  Status status = env.lowerAndSave(**graph, 18, dir.path(), model);
  ASSERT_TRUE(status.isOk()) << status.message();
  const auto& report = env.context().reportEntries();
  auto it = report.find("onnx.checker");
  ASSERT_NE(it, report.end());
  EXPECT_EQ(it->second.asString(), "skipped: libonnx 1.12 supports opset <= 17");
  EXPECT_EQ(model.opset_import(0).version(), 18);
}

TEST(SaveOnnx, DynamicAxesMustNameAnInputOrOutput) {
  OnnxEnv env;
  TempDir dir;
  auto graph = env.parse(kTwoLinears);
  ASSERT_TRUE(graph.hasValue());
  ASSERT_TRUE(env.lower(**graph, 17).isOk());
  Status status = env.save(**graph, map({{"path", str((dir.path() / "m.onnx").string())},
                                         {"dynamic_axes", map({{"nope", list({integer(0)})}})}}));
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Usage);
  EXPECT_NE(status.message().find("'nope'"), std::string::npos) << status.message();
  EXPECT_TRUE(dir.files().empty());
}

TEST(SaveOnnx, RejectsMalformedDynamicAxesBeforeRunning) {
  OnnxEnv env;
  TempDir dir;
  Graph graph;
  Status status = env.save(graph, map({{"path", str((dir.path() / "m.onnx").string())},
                                       {"dynamic_axes", map({{"input", map({{"x", str("batch")}})}})}}));
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("not a non-negative axis index"), std::string::npos) << status.message();
}

TEST(SaveOnnx, CompletesUnknownOutputTypesWithShapeInference) {
  OnnxEnv env;
  TempDir dir;
  auto graph = env.parse(R"(graph @main(%x: f32[2,3]) -> (%y) {
  %y = onnx::Relu(%x)
}
)");
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  const auto path = dir.path() / "m.onnx";
  Status status = env.save(**graph, map({{"path", str(path.string())}}));
  ASSERT_TRUE(status.isOk()) << status.message();
  auto model = loadModel(path);
  ASSERT_TRUE(model.hasValue());
  const auto& out = model->graph().output(0).type().tensor_type();
  EXPECT_EQ(out.elem_type(), onnx::TensorProto::FLOAT);
  ASSERT_EQ(out.shape().dim_size(), 2);
  EXPECT_EQ(out.shape().dim(1).dim_value(), 3);
}

TEST(SaveOnnx, RefusesInputsWithoutTypes) {
  OnnxEnv env;
  TempDir dir;
  auto graph = env.parse(R"(graph @main(%x: ?[*]) -> (%y) {
  %y = onnx::Relu(%x)
}
)");
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  Status status = env.save(**graph, map({{"path", str((dir.path() / "m.onnx").string())}}));
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Unsupported);
  EXPECT_NE(status.message().find("--inputs"), std::string::npos) << status.message();
  EXPECT_TRUE(dir.files().empty());
}

TEST(SaveOnnx, IrVersionTable) {
  EXPECT_EQ(onnxplugin::irVersionForOpset(13), 7);
  EXPECT_EQ(onnxplugin::irVersionForOpset(14), 7);
  EXPECT_EQ(onnxplugin::irVersionForOpset(15), 8);
  EXPECT_EQ(onnxplugin::irVersionForOpset(17), 8);
  EXPECT_EQ(onnxplugin::irVersionForOpset(18), 8);
}

}  // namespace
}  // namespace torchport::onnxtest
