// PassManager: stats, fixpoint termination (convergence and the iteration cap), IR print
// hooks, per-step IR verification catching a deliberately broken pass, error prefixes,
// exporters, progress reporting and nested node counts.
#include <gtest/gtest.h>

#include <stdexcept>

#include "torchport/host/diagnostics.h"
#include "torchport/host/pass_manager.h"
#include "torchport/host/pipeline.h"

namespace torchport {
namespace {

class RecordingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel level, std::string_view message) override {
    if (level == LogLevel::Warn) warnings.emplace_back(message);
  }
  std::vector<std::string> warnings;
};

class RecordingProgress final : public Progress {
 public:
  void start(std::string_view task, size_t total) override { events.push_back("start " + std::string(task) + " " + std::to_string(total)); }
  void advance(size_t steps) override { events.push_back("advance " + std::to_string(steps)); }
  void finish() override { events.push_back("finish"); }
  std::vector<std::string> events;
};

std::vector<Value*> values(std::initializer_list<Value*> list) { return list; }

// x -> A -> B -> output, plus `deadCount` unused nodes hanging off x.
std::unique_ptr<Graph> makeGraph(int deadCount) {
  auto graph = std::make_unique<Graph>("main");
  Value* x = graph->addInput(Type::tensor(DType::F32, std::vector<int64_t>{2}), "x");
  Node* a = graph->appendNode("test::A", values({x}));
  Node* b = graph->appendNode("test::B", values({a->output()}));
  graph->addOutput(b->output());
  for (int i = 0; i < deadCount; ++i) graph->appendNode("test::Dead", values({x}));
  return graph;
}

// Removes one unused node per run, like a pass that needs the driver's fixpoint.
Status eraseOneDeadNode(Graph& graph, PassContext& context) {
  auto nodes = graph.nodeSnapshot();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node* node = *it;
    bool used = false;
    for (Value* output : node->outputs()) used = used || output->hasUses() || output->isGraphOutput();
    if (!used) {
      TP_RETURN_IF_ERROR(graph.eraseNode(node));
      context.setChanged();
      return Status::ok();
    }
  }
  return Status::ok();
}

class PassManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    add("erase-one-dead", eraseOneDeadNode);
    add("always-changes", [](Graph&, PassContext& context) {
      context.setChanged();
      return Status::ok();
    });
    add("noop", [](Graph&, PassContext&) { return Status::ok(); });
    // Moves the last node to the front: its input is now used before it is defined.
    add("break-order", [](Graph& graph, PassContext& context) {
      auto nodes = graph.nodeSnapshot();
      nodes.back()->moveBefore(nodes.front());
      context.setChanged();
      return Status::ok();
    });
    add("fails", [](Graph&, PassContext&) { return Status::unsupported("test::A at layer1 has no converter"); });
    add("throws", [](Graph&, PassContext&) -> Status { throw std::runtime_error("boom"); });
    PassInfo exporter;
    exporter.name = "save-test";
    OptionSpec path;
    path.name = "path";
    path.required = true;
    exporter.options = {path};
    ASSERT_TRUE(registry_
                    .addExporter(exporter, "test", {".test"},
                                 [this](const Graph& graph, PassContext& context) {
                                   exportedPath_ = context.options().getString("path");
                                   exportedNodes_ = countNodesDeep(graph);
                                   return Status::ok();
                                 })
                    .isOk());
  }

  void add(std::string name, PassFn fn) {
    PassInfo info;
    info.name = std::move(name);
    ASSERT_TRUE(registry_.addPass(info, std::move(fn)).isOk());
  }

  std::vector<PipelineStep> steps(std::string_view text) {
    auto parsed = parsePipelineText(text);
    EXPECT_TRUE(parsed) << parsed.status().message();
    if (!parsed) return {};
    Status status = validateSteps(parsed.value(), registry_);
    EXPECT_TRUE(status.isOk()) << status.message();
    return std::move(parsed).value();
  }

  Registry registry_;
  RecordingDiagnostics diagnostics_;
  RecordingProgress progress_;
  PassContext context_{registry_, diagnostics_, progress_};
  std::string exportedPath_;
  size_t exportedNodes_ = 0;
};

TEST_F(PassManagerTest, RecordsStatsPerStep) {
  auto graph = makeGraph(2);
  auto pipeline = steps("erase-one-dead,noop,save-test{path=out/m.test}");
  PassManager manager;
  Status status = manager.run(*graph, pipeline, context_);
  ASSERT_TRUE(status.isOk()) << status.message();
  const auto& stats = manager.stats();
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].name, "erase-one-dead");
  EXPECT_EQ(stats[0].nodesBefore, 4u);
  EXPECT_EQ(stats[0].nodesAfter, 3u);
  EXPECT_TRUE(stats[0].changed);
  EXPECT_EQ(stats[1].name, "noop");
  EXPECT_FALSE(stats[1].changed);
  EXPECT_EQ(stats[1].nodesBefore, 3u);
  EXPECT_GE(stats[1].seconds, 0.0);
  EXPECT_EQ(stats[2].name, "save-test");
  EXPECT_EQ(exportedPath_, "out/m.test") << "exporters see their own options";
  EXPECT_EQ(exportedNodes_, 3u);
  EXPECT_EQ(progress_.events,
            (std::vector<std::string>{"start pipeline 3", "advance 1", "advance 1", "advance 1", "finish"}));
}

TEST_F(PassManagerTest, FixpointRepeatsUntilNothingChanges) {
  auto graph = makeGraph(3);
  auto pipeline = steps("fixpoint{max_iterations=10}(noop,erase-one-dead)");
  PassManager manager;
  ASSERT_TRUE(manager.run(*graph, pipeline, context_).isOk());
  EXPECT_EQ(graph->numNodes(), 2u);
  const auto& stats = manager.stats();
  ASSERT_EQ(stats.size(), 3u);  // merged child entries, then the group
  EXPECT_EQ(stats[0].name, "noop");
  EXPECT_EQ(stats[1].name, "erase-one-dead");
  EXPECT_EQ(stats[1].iterations, 4) << "3 rounds that erase, 1 that finds nothing";
  EXPECT_EQ(stats[1].nodesBefore, 5u);
  EXPECT_EQ(stats[1].nodesAfter, 2u);
  EXPECT_TRUE(stats[1].changed);
  EXPECT_FALSE(stats[0].changed);
  EXPECT_EQ(stats[2].name, "fixpoint");
  EXPECT_EQ(stats[2].iterations, 4);
  EXPECT_TRUE(stats[2].changed);
  EXPECT_TRUE(diagnostics_.warnings.empty());
}

TEST_F(PassManagerTest, FixpointCapIsAWarningNotAnError) {
  auto graph = makeGraph(0);
  auto pipeline = steps("fixpoint{max_iterations=3}(always-changes),noop");
  PassManager manager;
  Status status = manager.run(*graph, pipeline, context_);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_EQ(manager.stats().back().name, "noop") << "the pipeline went on after the capped group";
  EXPECT_EQ(manager.stats()[1].iterations, 3);
  ASSERT_EQ(diagnostics_.warnings.size(), 1u);
  EXPECT_NE(diagnostics_.warnings[0].find("fixpoint group at <pipeline>:1:1 still changed the graph after 3 iterations "
                                          "(last changes by always-changes)"),
            std::string::npos)
      << diagnostics_.warnings[0];
}

TEST_F(PassManagerTest, PrintHookRunsAfterSelectedSteps) {
  std::vector<std::string> printed;
  PassManagerOptions options;
  options.printIrAfter = {"noop"};
  options.printHook = [&](std::string_view step, const Graph& graph) {
    printed.push_back(std::string(step) + ":" + std::to_string(graph.numNodes()));
  };
  auto graph = makeGraph(1);
  auto pipeline = steps("erase-one-dead,noop,noop");
  PassManager selected(options);
  ASSERT_TRUE(selected.run(*graph, pipeline, context_).isOk());
  EXPECT_EQ(printed, (std::vector<std::string>{"noop:2", "noop:2"}));

  printed.clear();
  options.printIrAfter = {"all"};
  PassManager all(options);
  auto graph2 = makeGraph(1);
  ASSERT_TRUE(all.run(*graph2, pipeline, context_).isOk());
  EXPECT_EQ(printed, (std::vector<std::string>{"erase-one-dead:2", "noop:2", "noop:2"}));
}

TEST_F(PassManagerTest, VerifyCatchesTheStepThatBrokeTheIr) {
  auto graph = makeGraph(0);
  auto pipeline = steps("noop,break-order,noop");
  PassManager manager;
  Status status = manager.run(*graph, pipeline, context_);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Internal);
  EXPECT_EQ(status.message().rfind("step 'break-order' (<pipeline>:1:6) left the IR inconsistent", 0), 0u)
      << status.message();
  EXPECT_EQ(manager.stats().size(), 1u) << "stops at the broken step";
  EXPECT_EQ(progress_.events.back(), "finish");

  PassManagerOptions noVerify;
  noVerify.verify = PassManagerOptions::Verify::Never;
  PassManager unchecked(noVerify);
  auto graph2 = makeGraph(0);
  EXPECT_TRUE(unchecked.run(*graph2, pipeline, context_).isOk());
}

TEST_F(PassManagerTest, ErrorsArePrefixedWithStepAndLocation) {
  auto graph = makeGraph(0);
  auto failing = steps("noop, fails");
  PassManager manager;
  Status status = manager.run(*graph, failing, context_);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Unsupported) << "the pass's error class is kept";
  EXPECT_EQ(status.message(), "step 'fails' (<pipeline>:1:7): test::A at layer1 has no converter");

  auto throwing = steps("throws");
  Status thrown = manager.run(*graph, throwing, context_);
  ASSERT_FALSE(thrown.isOk());
  EXPECT_EQ(thrown.kind(), ErrorKind::Internal);
  EXPECT_EQ(thrown.message(), "step 'throws' (<pipeline>:1:1): threw an exception (a bug in plugin 'core'): boom");
}

TEST_F(PassManagerTest, UnvalidatedStepsAreRefused) {
  auto graph = makeGraph(0);
  auto parsed = parsePipelineText("noop");
  ASSERT_TRUE(parsed);
  PassManager manager;
  Status status = manager.run(*graph, parsed.value(), context_);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Internal);
  EXPECT_NE(status.message().find("was not validated"), std::string::npos);
}

TEST(CountNodesDeep, IncludesNestedGraphs) {
  Graph graph("main");
  Value* cond = graph.addInput(Type::scalar(Type::Kind::Bool), "cond");
  Node* branch = graph.appendNode("prim::If", values({cond}));
  GraphPtr thenBody = graph.createSubgraph("then");
  Node* inner = thenBody->appendNode("test::Inner", {});
  thenBody->appendNode("test::Inner2", values({inner->output()}));
  thenBody->addOutput(inner->output());
  GraphPtr elseBody = graph.createSubgraph("else");
  Node* other = elseBody->appendNode("test::Other", {});
  elseBody->addOutput(other->output());
  branch->setAttribute("then", thenBody);
  branch->setAttribute("else", elseBody);
  graph.addOutput(branch->output());
  EXPECT_EQ(graph.numNodes(), 1u);
  EXPECT_EQ(countNodesDeep(graph), 4u);
}

TEST(Diagnostics, ParseLogLevel) {
  EXPECT_EQ(parseLogLevel("debug"), LogLevel::Debug);
  EXPECT_EQ(parseLogLevel("WARN"), LogLevel::Warn);
  EXPECT_EQ(parseLogLevel("warning"), LogLevel::Warn);
  EXPECT_EQ(parseLogLevel("off"), LogLevel::Off);
  EXPECT_EQ(parseLogLevel("loud"), std::nullopt);
}

TEST(Diagnostics, QuietProgressWritesNothingAndLogsRespectTheLevel) {
  configureLogging(LogLevel::Warn);
  ::testing::internal::CaptureStderr();
  TerminalProgress progress(/*quiet=*/true);
  progress.start("pipeline", 2);
  progress.advance();
  progress.advance(5);
  progress.finish();
  SpdlogDiagnostics diagnostics;
  diagnostics.debug("hidden detail");
  diagnostics.warn("shown warning");
  std::string captured = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(captured.find("pipeline"), std::string::npos) << captured;
  EXPECT_EQ(captured.find("hidden detail"), std::string::npos) << captured;
  EXPECT_EQ(captured.rfind("torchport: ", 0), 0u) << captured;
  EXPECT_NE(captured.find(": shown warning\n"), std::string::npos) << captured;
  configureLogging(LogLevel::Info);
}

}  // namespace
}  // namespace torchport
