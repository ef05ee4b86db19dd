// Run sessions (torchport/host/session.h): the order validate -> import -> run, "every
// problem at once", nothing written when invalid, reports and their JSON form.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "torchport/files.h"
#include "torchport/host/diagnostics.h"
#include "torchport/host/json.h"
#include "torchport/host/session.h"

namespace torchport {
namespace {
namespace fs = std::filesystem;

constexpr const char* kModel = R"(graph @main(%x: f32[batch,4]) -> (%y: f32[batch,4]) {
  %c: f32[batch,4] = aten::contiguous(%x)  # body
  %dead: f32[batch,4] = aten::sigmoid(%x)
  %y: f32[batch,4] = aten::relu(%c)  # act
}
)";

class CollectingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel, std::string_view message) override { messages.emplace_back(message); }
  std::vector<std::string> messages;
};

class SessionTest : public ::testing::Test {
 protected:
  SessionTest() {
    dir_ = fs::temp_directory_path() / ("torchport_session_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    write("model.tpir", kModel);
    sessionOptions_.scanPluginPaths = false;  // only what the test asks for
    sessionOptions_.diagnostics = &diagnostics_;
  }
  ~SessionTest() override { fs::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  PipelineConfig config(const std::string& yaml) {
    write("config.yaml", yaml);
    auto parsed = loadPipelineFile(dir_ / "config.yaml");
    EXPECT_TRUE(parsed.hasValue()) << parsed.status().message();
    return parsed.hasValue() ? std::move(parsed).value() : PipelineConfig{};
  }

  RunReport run(const std::string& yaml, RunOptions options = {}) {
    return runPipeline(config(yaml), options, sessionOptions_);
  }

  fs::path dir_;
  CollectingDiagnostics diagnostics_;
  SessionOptions sessionOptions_;
};

TEST_F(SessionTest, RunsAPipelineAndReportsIt) {
  RunOptions options;
  options.keepGraph = true;
  const RunReport report = run(
      "torchport: 1\n"
      "input: {path: model.tpir}\n"
      "pipeline:\n"
      "  - eliminate-identity\n"
      "  - eliminate-dead-code\n"
      "  - save-ir: {path: out/clean.tpir}\n",
      options);
  ASSERT_TRUE(report.status.isOk()) << report.status.message();
  EXPECT_EQ(report.stage, RunStage::Done);
  EXPECT_EQ(report.inputFormat, "tpir");
  EXPECT_EQ(report.inputPath, dir_ / "model.tpir");
  EXPECT_EQ(report.nodesImported, 3u);
  EXPECT_EQ(report.nodesFinal, 1u);
  ASSERT_EQ(report.steps.size(), 3u);
  EXPECT_EQ(report.steps[0].name, "eliminate-identity");
  EXPECT_TRUE(report.steps[0].changed);
  ASSERT_EQ(report.graphInputs.size(), 1u);
  EXPECT_EQ(report.graphInputs[0].name, "x");
  EXPECT_EQ(report.graphInputs[0].type, "f32[batch,4]");
  ASSERT_EQ(report.graphOutputs.size(), 1u);
  EXPECT_EQ(report.graphOutputs[0].name, "y");

  ASSERT_EQ(report.outputs.size(), 1u);
  EXPECT_EQ(report.outputs[0].step, "save-ir");
  EXPECT_EQ(report.outputs[0].path, dir_ / "out" / "clean.tpir");
  EXPECT_TRUE(report.outputs[0].written);
  EXPECT_GT(report.outputs[0].bytes, 0u);
  auto written = readTextFile(dir_ / "out" / "clean.tpir");
  ASSERT_TRUE(written.hasValue());
  EXPECT_EQ(written->find("contiguous"), std::string::npos);
  EXPECT_EQ(written->find("sigmoid"), std::string::npos);
  ASSERT_NE(report.graph, nullptr);
  EXPECT_EQ(report.graph->numNodes(), 1u);

  const std::string json = toJson(runReportToValue(report));
  EXPECT_NE(json.find("\"ok\": true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"stage\": \"done\""), std::string::npos);
  EXPECT_NE(json.find("\"name\": \"eliminate-dead-code\""), std::string::npos);
  EXPECT_NE(json.find("\"written\": true"), std::string::npos);
  EXPECT_EQ(json.find("\"error\""), std::string::npos);
}

TEST_F(SessionTest, InvalidPipelineReportsEveryProblemAndWritesNothing) {
  RunOptions options;
  options.extraPlugins.push_back({dir_ / "libtorchport_missing.so", SourceLocation{"--plugin", 0, 0}});
  const RunReport report = run(
      "torchport: 1\n"
      "input: {path: model.tpir}\n"
      "pipeline:\n"
      "  - eliminate-identiy\n"
      "  - save-ir: {path: out/clean.tpir, elide_above: lots}\n",
      options);
  ASSERT_FALSE(report.status.isOk());
  EXPECT_EQ(report.stage, RunStage::Validate);
  const std::string& message = report.status.message();
  EXPECT_NE(message.find("--plugin: "), std::string::npos) << message;
  EXPECT_NE(message.find("libtorchport_missing.so"), std::string::npos) << message;
  EXPECT_NE(message.find("config.yaml:4:5: unknown step 'eliminate-identiy'"), std::string::npos) << message;
  EXPECT_NE(message.find("eliminate-identity"), std::string::npos) << "did-you-mean: " << message;
  EXPECT_NE(message.find("config.yaml:5:"), std::string::npos) << message;
  EXPECT_NE(message.find("elide_above"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir_ / "out")) << "nothing may be created when the pipeline is invalid";
  EXPECT_TRUE(report.steps.empty());
  EXPECT_EQ(report.nodesImported, 0u);

  const std::string json = toJson(runReportToValue(report));
  EXPECT_NE(json.find("\"ok\": false"), std::string::npos);
  EXPECT_NE(json.find("\"stage\": \"validate\""), std::string::npos);
  EXPECT_NE(json.find("\"exit_code\": " + std::to_string(exitCodeFor(report.status))), std::string::npos) << json;
}

TEST_F(SessionTest, MissingInputAndMissingConfigPluginAreReportedWithLocations) {
  const RunReport report = run(
      "torchport: 1\n"
      "plugins: [./libtorchport_nothere.so]\n"
      "input: {path: absent.tpir}\n"
      "pipeline: [eliminate-dead-code]\n");
  ASSERT_FALSE(report.status.isOk());
  EXPECT_EQ(report.stage, RunStage::Validate);
  const std::string& message = report.status.message();
  EXPECT_NE(message.find("config.yaml:2:"), std::string::npos) << message;
  EXPECT_NE(message.find("libtorchport_nothere.so"), std::string::npos) << message;
  EXPECT_NE(message.find("config.yaml:3:"), std::string::npos) << message;
  EXPECT_NE(message.find("absent.tpir"), std::string::npos) << message;
}

TEST_F(SessionTest, ConfigWithoutInputIsRejected) {
  const RunReport report = run("torchport: 1\npipeline: [eliminate-dead-code]\n");
  ASSERT_FALSE(report.status.isOk());
  EXPECT_EQ(report.stage, RunStage::Validate);
  EXPECT_NE(report.status.message().find("no `input:`"), std::string::npos) << report.status.message();
}

TEST_F(SessionTest, InputOverrideReplacesTheConfigInput) {
  write("other.tpir", "graph @main(%a: f32[2]) -> (%b: f32[2]) {\n  %b: f32[2] = aten::neg(%a)\n}\n");
  RunOptions options;
  options.inputPath = dir_ / "other.tpir";
  const RunReport report = run("torchport: 1\ninput: {path: absent.tpir}\npipeline: [eliminate-dead-code]\n", options);
  ASSERT_TRUE(report.status.isOk()) << report.status.message();
  EXPECT_EQ(report.inputPath, dir_ / "other.tpir");
  ASSERT_EQ(report.graphInputs.size(), 1u);
  EXPECT_EQ(report.graphInputs[0].name, "a");
}

TEST_F(SessionTest, PrintIrAfterNamesMustBeStepsOfThePipeline) {
  RunOptions options;
  options.passManager.printIrAfter = {"eliminate-dead-code", "no-such-step"};
  const RunReport rejected = run("torchport: 1\ninput: {path: model.tpir}\npipeline: [eliminate-dead-code]\n", options);
  ASSERT_FALSE(rejected.status.isOk());
  EXPECT_EQ(rejected.stage, RunStage::Validate);
  EXPECT_NE(rejected.status.message().find("no-such-step"), std::string::npos);
  EXPECT_EQ(rejected.status.message().find("'eliminate-dead-code'"), std::string::npos)
      << "only the unknown name is a problem: " << rejected.status.message();

  std::vector<std::string> printed;
  options.passManager.printIrAfter = {"eliminate-dead-code"};
  options.passManager.printHook = [&](std::string_view step, const Graph&) { printed.emplace_back(step); };
  const RunReport accepted = run("torchport: 1\ninput: {path: model.tpir}\npipeline: [eliminate-identity, eliminate-dead-code]\n", options);
  ASSERT_TRUE(accepted.status.isOk()) << accepted.status.message();
  EXPECT_EQ(printed, std::vector<std::string>{"eliminate-dead-code"});
}

TEST_F(SessionTest, ImportFailureStopsBeforeAnyStep) {
  write("broken.tpir", "graph @main(%x: f32[2]) -> (%x) {\n  %y = aten::relu(%nope)\n}\n");
  const RunReport report = run(
      "torchport: 1\ninput: {path: broken.tpir, format: tpir}\n"
      "pipeline: [{save-ir: {path: out/x.tpir}}]\n");
  ASSERT_FALSE(report.status.isOk());
  EXPECT_EQ(report.stage, RunStage::Import);
  EXPECT_EQ(report.status.kind(), ErrorKind::Input);
  EXPECT_NE(report.status.message().find("broken.tpir:2:"), std::string::npos) << report.status.message();
  EXPECT_TRUE(report.steps.empty());
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(SessionTest, FailingStepStopsTheRunAndKeepsEarlierStats) {
  write("blocker", "a file where a directory is needed");
  const RunReport report = run(
      "torchport: 1\ninput: {path: model.tpir}\n"
      "pipeline:\n  - eliminate-identity\n  - save-ir: {path: blocker/x.tpir}\n");
  ASSERT_FALSE(report.status.isOk());
  EXPECT_EQ(report.stage, RunStage::Run);
  ASSERT_FALSE(report.steps.empty());
  EXPECT_EQ(report.steps[0].name, "eliminate-identity");
  ASSERT_EQ(report.outputs.size(), 1u);
  EXPECT_FALSE(report.outputs[0].written);
}

TEST_F(SessionTest, ImportFileSniffsOrFailsWithTheRightKind) {
  Session session(sessionOptions_);
  ASSERT_TRUE(session.setupStatus().isOk());
  ASSERT_TRUE(session.loadPlugins({}).isOk());
  std::string format;
  auto graph = session.importFile(dir_ / "model.tpir", {}, &format);
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  EXPECT_EQ(format, "tpir");
  EXPECT_EQ((*graph)->numNodes(), 3u);

  write("noise.bin", std::string("\x01\x02\x03 not a model", 16));
  auto unknown = session.importFile(dir_ / "noise.bin");
  ASSERT_FALSE(unknown.hasValue());
  EXPECT_EQ(unknown.status().kind(), ErrorKind::Unsupported);
  EXPECT_NE(unknown.status().message().find("tpir"), std::string::npos) << "lists known formats";

  auto badFormat = session.importFile(dir_ / "model.tpir", "nope");
  ASSERT_FALSE(badFormat.hasValue());
  EXPECT_EQ(badFormat.status().kind(), ErrorKind::Usage);

  auto missing = session.importFile(dir_ / "absent.tpir");
  ASSERT_FALSE(missing.hasValue());
  EXPECT_EQ(missing.status().kind(), ErrorKind::Input);
  EXPECT_NE(missing.status().message().find("absent.tpir"), std::string::npos);

  EXPECT_FALSE(session.loadPlugins({}).isOk()) << "plugins load once per session";
}

TEST(SessionExitCodes, FollowErrorKinds) {
  EXPECT_EQ(exitCodeFor(Status::ok()), 0);
  EXPECT_EQ(exitCodeFor(Status::usage("x")), 2);
  EXPECT_EQ(exitCodeFor(Status::input("x")), 3);
  EXPECT_EQ(exitCodeFor(Status::unsupported("x")), 4);
  EXPECT_EQ(exitCodeFor(Status::verification("x")), 5);
  EXPECT_EQ(exitCodeFor(Status::internal("x")), 70);
}

}  // namespace
}  // namespace torchport
