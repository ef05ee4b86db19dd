// The core `custom-op` step (core/src/passes/custom_op.cpp) driven from YAML: mapping to a
// custom-domain node and to a decomposition, the session state that lowering reads, and
// the pre-run checks that name the config line:col (and the IR's own line:col).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "torchport/host/diagnostics.h"
#include "torchport/host/session.h"
#include "torchport/lowering.h"
#include "torchport/text_ir.h"

namespace torchport {
namespace {
namespace fs = std::filesystem;

constexpr const char* kModel = R"(graph @main(%x: f32[batch,4]) -> (%y: f32[batch,4]) {
  %alpha = const float 1.5
  %y: f32[batch,4] = mylib::fancy_act(%x, %alpha)  # block.act
}
)";

class QuietDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel level, std::string_view message) override {
    if (level >= LogLevel::Warn) warnings.emplace_back(message);
  }
  std::vector<std::string> warnings;
};

class CustomOpTest : public ::testing::Test {
 protected:
  CustomOpTest() {
    dir_ = fs::temp_directory_path() / ("torchport_custom_op_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "model.tpir") << kModel;
    sessionOptions_.scanPluginPaths = false;
    sessionOptions_.diagnostics = &diagnostics_;
  }
  ~CustomOpTest() override { fs::remove_all(dir_); }

  RunReport run(const std::string& pipeline) {
    std::ofstream(dir_ / "config.yaml") << "torchport: 1\ninput: {path: model.tpir}\npipeline:\n" << pipeline;
    auto config = loadPipelineFile(dir_ / "config.yaml");
    EXPECT_TRUE(config.hasValue()) << config.status().message();
    RunOptions options;
    options.keepGraph = true;
    return runPipeline(std::move(config).value(), options, sessionOptions_);
  }

  fs::path dir_;
  QuietDiagnostics diagnostics_;
  SessionOptions sessionOptions_;
};

TEST_F(CustomOpTest, MapsToACustomDomainNodeWithAttributesFromConstants) {
  const RunReport report = run(
      "  - custom-op: {op: mylib::fancy_act, domain: com.example, name: FancyAct, version: 3,\n"
      "                attributes: {alpha: {input: 1, type: float}, mode: fast}}\n"
      "  - eliminate-dead-code\n");
  ASSERT_TRUE(report.status.isOk()) << report.status.message();
  ASSERT_NE(report.graph, nullptr);
  EXPECT_EQ(printGraph(*report.graph),
            "graph @main(%x: f32[batch,4]) -> (%y: f32[batch,4]) {\n"
            "  %y: f32[batch,4] = com.example::FancyAct(%x) {alpha=1.5, mode=\"fast\"}  # block.act\n"
            "}\n");
  auto count = report.entries.find("custom-op.mylib::fancy_act");
  ASSERT_NE(count, report.entries.end());
  EXPECT_EQ(count->second.asInt(), 1);
}

TEST_F(CustomOpTest, DecompositionFromAYamlBlockScalarIsInlined) {
  const RunReport report = run(
      "  - custom-op:\n"
      "      op: mylib::fancy_act\n"
      "      arity: 2\n"
      "      decomposition: |\n"
      "        graph @fancy_act(%x, %alpha) -> (%y) {\n"
      "          %ax = onnx::Mul(%x, %alpha)\n"
      "          %s = onnx::Sigmoid(%ax)\n"
      "          %y = onnx::Mul(%x, %s)\n"
      "        }\n");
  ASSERT_TRUE(report.status.isOk()) << report.status.message();
  ASSERT_NE(report.graph, nullptr);
  std::map<std::string, int> kinds;
  for (const Node* node : report.graph->nodes()) ++kinds[node->kind()];
  EXPECT_EQ(kinds["onnx::Mul"], 2);
  EXPECT_EQ(kinds["onnx::Sigmoid"], 1);
  EXPECT_EQ(kinds["mylib::fancy_act"], 0);
  // The graph output keeps its name and type; the body's nodes take the node's provenance.
  ASSERT_EQ(report.graph->outputs().size(), 1u);
  const Value* output = report.graph->outputs()[0];
  EXPECT_EQ(output->name(), "y");
  EXPECT_EQ(output->type().toString(), "f32[batch,4]");
  EXPECT_EQ(output->producer()->kind(), "onnx::Mul");
  EXPECT_EQ(output->producer()->provenance().modulePath, "block.act");
}

TEST_F(CustomOpTest, BadIrInADecompositionNamesTheConfigLineAndTheIrPosition) {
  const RunReport report = run(
      "  - eliminate-dead-code\n"
      "  - custom-op:\n"
      "      op: mylib::fancy_act\n"
      "      decomposition: \"graph @d(%x, %a) -> (%y) {\\n  %y = onnx::Mul(%x, %b)\\n}\"\n");
  ASSERT_FALSE(report.status.isOk());
  EXPECT_EQ(report.stage, RunStage::Validate);
  EXPECT_EQ(report.status.kind(), ErrorKind::Input);
  const std::string& message = report.status.message();
  EXPECT_NE(message.find("config.yaml:7:22: decomposition: decomposition of mylib::fancy_act:2:"), std::string::npos)
      << message;
  EXPECT_NE(message.find("%b"), std::string::npos) << message;
  EXPECT_EQ(report.steps.size(), 0u) << "nothing may run when the pipeline is invalid";
}

TEST_F(CustomOpTest, EveryInvalidCustomOpStepIsReportedAtOnceWithItsLocation) {
  const RunReport report = run(
      "  - custom-op: {op: fancy_act, domain: com.example, name: FancyAct}\n"
      "  - custom-op: {op: mylib::fancy_act, domain: com.example, name: FancyAct, arity: 1,\n"
      "                attributes: {alpha: {input: 1}}}\n"
      "  - custom-op: {op: mylib::fancy_act, decomposition: \"graph @d(%x) -> (%y) {\\n  %y = acme::op(%x)\\n}\"}\n");
  ASSERT_FALSE(report.status.isOk());
  const std::string& message = report.status.message();
  EXPECT_NE(message.find("config.yaml:4:21: op 'fancy_act' is not a qualified op kind"), std::string::npos) << message;
  EXPECT_NE(message.find("config.yaml:6:45: attribute 'alpha': input 1 is out of range: the op has 1 input(s)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("unknown op acme::op in the decomposition of mylib::fancy_act"), std::string::npos) << message;
  EXPECT_NE(message.find("config.yaml:7:"), std::string::npos) << message;
}

TEST_F(CustomOpTest, DomainVersionsAreRecordedForTheLoweringAndConflictsRefused) {
  std::ofstream(dir_ / "model.tpir") << R"(graph @main(%x: f32[4]) -> (%y: f32[4]) {
  %a: f32[4] = mylib::one(%x)
  %y: f32[4] = mylib::two(%a)
}
)";
  const RunReport ok = run(
      "  - custom-op: {op: mylib::one, domain: com.example, name: One, version: 2}\n"
      "  - custom-op: {op: mylib::two, domain: com.example, name: Two, version: 2}\n");
  ASSERT_TRUE(ok.status.isOk()) << ok.status.message();

  const RunReport conflict = run(
      "  - custom-op: {op: mylib::one, domain: com.example, name: One, version: 2}\n"
      "  - custom-op: {op: mylib::two, domain: com.example, name: Two, version: 1}\n");
  ASSERT_FALSE(conflict.status.isOk());
  EXPECT_EQ(conflict.stage, RunStage::Run);
  EXPECT_NE(conflict.status.message().find("domain com.example is already used with version 2"), std::string::npos)
      << conflict.status.message();
  EXPECT_NE(conflict.status.message().find("config.yaml:5:"), std::string::npos) << conflict.status.message();
}

TEST_F(CustomOpTest, AnAbsentOpOnlyWarns) {
  const RunReport report = run("  - custom-op: {op: mylib::other, domain: com.example, name: Other}\n");
  ASSERT_TRUE(report.status.isOk()) << report.status.message();
  ASSERT_FALSE(diagnostics_.warnings.empty());
  EXPECT_NE(diagnostics_.warnings.back().find("no mylib::other node in the graph"), std::string::npos);
  EXPECT_EQ(report.entries.count("custom-op.mylib::other"), 0u);
}

TEST_F(CustomOpTest, AttributeOfTheWrongConstantKindIsAnError) {
  const RunReport report = run(
      "  - custom-op: {op: mylib::fancy_act, domain: com.example, name: FancyAct,\n"
      "                attributes: {alpha: {input: 1, type: ints}}}\n");
  ASSERT_FALSE(report.status.isOk());
  EXPECT_NE(report.status.message().find("holds a float constant, not a ints"), std::string::npos)
      << report.status.message();
  EXPECT_NE(report.status.message().find("mylib::fancy_act at block.act"), std::string::npos) << report.status.message();
}

// ---- lowerGraph keeps the custom domains a custom-op step declared for the target ----
class NullProgress final : public Progress {
 public:
  void start(std::string_view, size_t) override {}
  void advance(size_t) override {}
  void finish() override {}
};

TEST(LoweringKeptDomains, CustomDomainsDeclaredInTheSessionStateAreKept) {
  Registry registry;
  ConverterEntry relu;
  relu.opKind = "aten::relu";
  relu.target = "toy";
  relu.convert = [](ConversionContext& ctx) {
    ctx.mapOutput(0, ctx.emit("toy::Relu", {ctx.node().input(0)})->output());
    return Status::ok();
  };
  ASSERT_TRUE(registry.addConverter(relu).isOk());
  const char* text = R"(graph @main(%x: f32[4]) -> (%y: f32[4]) {
  %r: f32[4] = aten::relu(%x)
  %y: f32[4] = com.example::FancyAct(%r) {alpha=1.5}
}
)";
  QuietDiagnostics diagnostics;
  NullProgress progress;
  LoweringRequest request;
  request.target = "toy";

  // Undeclared, the custom node is an op without a converter.
  auto undeclared = parseGraph(text);
  ASSERT_TRUE(undeclared.hasValue()) << undeclared.status().message();
  PassContext plain(registry, diagnostics, progress);
  const Status refused = lowerGraph(**undeclared, plain, request);
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.message().find("com.example::FancyAct x1"), std::string::npos) << refused.message();

  // Declared for the target (as custom-op does), it is final; the rest is lowered.
  auto declared = parseGraph(text);
  ASSERT_TRUE(declared.hasValue());
  PassContext context(registry, diagnostics, progress);
  context.setState("toy.domain_versions", std::make_shared<std::map<std::string, int64_t>>(
                                              std::map<std::string, int64_t>{{"com.example", 1}}));
  const Status lowered = lowerGraph(**declared, context, request);
  ASSERT_TRUE(lowered.isOk()) << lowered.message();
  std::vector<std::string> kinds;
  for (const Node* node : (*declared)->nodes()) kinds.push_back(node->kind());
  EXPECT_EQ(kinds, (std::vector<std::string>{"toy::Relu", "com.example::FancyAct"}));
}

}  // namespace
}  // namespace torchport
