// save-torchscript: TorchScript fixtures imported, written back from the torchport IR
// (frozen or not, optimized for inference or mobile, full or lite), loaded again with
// LibTorch (torch::jit::load / torch::jit::_load_for_mobile) and compared with the source
// model on the same inputs. Fixtures: make_fixtures.py and make_export_fixtures.py.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/mobile/import.h>
#include <torch/csrc/jit/mobile/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "torchport/host/diagnostics.h"
#include "torchport/host/pass_manager.h"
#include "torchport/host/pipeline.h"
#include "torchport/text_ir.h"
#include "torchscript_importer.h"

namespace torchport::torchscript {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = TORCHSCRIPT_FIXTURE_DIR;
const std::string kExportFixtures = TORCHSCRIPT_EXPORT_FIXTURE_DIR;
constexpr double kTolerance = 1e-5;

class CapturingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel level, std::string_view message) override { messages.emplace_back(level, std::string(message)); }
  bool mentions(std::string_view text) const {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const auto& entry) { return entry.second.find(text) != std::string::npos; });
  }
  std::vector<std::pair<LogLevel, std::string>> messages;
};

// A scratch directory per test, removed afterwards.
class SaveTorchScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("torchport-save-ts-" + std::string(info->name()) + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string out(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

struct PipelineRun {
  Registry registry;
  CapturingDiagnostics diagnostics;
  NullProgress progress;
  std::unique_ptr<PassContext> context;
  Status status;
};

// Imports `model` and runs `steps` (YAML list items, e.g. "  - save-torchscript: {...}\n")
// through validation and the pass manager, as `torchport run` does.
std::unique_ptr<PipelineRun> runPipeline(const std::string& model, const std::string& steps) {
  auto run = std::make_unique<PipelineRun>();
  run->status = registerTorchScriptPlugin(run->registry);
  if (!run->status) return run;
  auto config = parsePipelineYaml("torchport: 1\ninput:\n  path: " + model + "\npipeline:\n" + steps, "test.yaml");
  if (!config) {
    run->status = config.status();
    return run;
  }
  run->status = validatePipeline(*config, run->registry);
  if (!run->status) return run;
  run->context = std::make_unique<PassContext>(run->registry, run->diagnostics, run->progress);
  run->context->setOptions(config->input.options);
  auto graph = config->input.importer->import(model, *run->context);
  if (!graph) {
    run->status = graph.status();
    return run;
  }
  PassManager manager;
  run->status = manager.run(**graph, config->steps, *run->context);
  return run;
}

std::string saveStep(const std::string& path, const std::string& options) {
  return "  - save-torchscript: {path: " + path + (options.empty() ? "" : ", " + options) + "}\n";
}

void flatten(const c10::IValue& value, std::vector<at::Tensor>& out) {
  if (value.isTensor()) {
    out.push_back(value.toTensor().detach());
  } else if (value.isTuple()) {
    for (const c10::IValue& element : value.toTupleRef().elements()) flatten(element, out);
  } else if (value.isList()) {
    for (const c10::IValue& element : value.toListRef()) flatten(element, out);
  } else if (value.isGenericDict()) {
    for (const auto& entry : value.toGenericDict()) flatten(entry.value(), out);
  }
}

std::vector<at::Tensor> runSource(const std::string& file, const std::vector<c10::IValue>& inputs) {
  torch::jit::Module module = torch::jit::load(file, c10::Device(c10::kCPU));
  module.eval();
  std::vector<at::Tensor> out;
  flatten(module.forward(inputs), out);
  return out;
}

std::vector<at::Tensor> runSaved(const std::string& file, bool lite, const std::vector<c10::IValue>& inputs) {
  std::vector<at::Tensor> out;
  if (lite) {
    torch::jit::mobile::Module module = torch::jit::_load_for_mobile(file);
    flatten(module.forward(inputs), out);
  } else {
    torch::jit::Module module = torch::jit::load(file);
    flatten(module.forward(inputs), out);
  }
  return out;
}

::testing::AssertionResult allClose(const std::vector<at::Tensor>& expected, const std::vector<at::Tensor>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure() << "expected " << expected.size() << " outputs, got " << actual.size();
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!expected[i].sizes().equals(actual[i].sizes())) {
      return ::testing::AssertionFailure() << "output " << i << ": shape " << actual[i].sizes() << ", expected "
                                           << expected[i].sizes();
    }
    if (!at::allclose(actual[i], expected[i], kTolerance, kTolerance)) {
      return ::testing::AssertionFailure() << "output " << i << " differs by up to "
                                           << (actual[i] - expected[i]).abs().max().item<double>();
    }
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> nodeKinds(const torch::jit::Module& module) {
  std::vector<std::string> kinds;
  auto graph = module.get_method("forward").graph();
  std::function<void(torch::jit::Block*)> visit = [&](torch::jit::Block* block) {
    for (torch::jit::Node* node : block->nodes()) {
      kinds.emplace_back(node->kind().toQualString());
      for (torch::jit::Block* inner : node->blocks()) visit(inner);
    }
  };
  visit(graph->block());
  return kinds;
}

bool hasKind(const std::vector<std::string>& kinds, std::string_view kind) {
  return std::find(kinds.begin(), kinds.end(), kind) != kinds.end();
}

// ---------------------------------------------------------------------------------------
// Variants of one model
// ---------------------------------------------------------------------------------------
struct Variant {
  std::string options;  // YAML flow-map entries
  bool lite;
};

const Variant kVariants[] = {
    {"freeze: true", false},
    {"freeze: false", false},
    {"optimize: inference", false},
    {"optimize: mobile", false},
    {"optimize: mobile, format: lite", true},
    {"optimize: inference, format: lite", true},
    {"freeze: false", true},  // format auto: lite for the .ptl path
};

void expectVariantsMatch(const std::string& model, const std::vector<std::vector<c10::IValue>>& inputSets,
                         const std::string& scratch) {
  int index = 0;
  for (const Variant& variant : kVariants) {
    SCOPED_TRACE(model + " with " + variant.options);
    const std::string path = scratch + "/variant" + std::to_string(index++) + (variant.lite ? ".ptl" : ".pt");
    auto run = runPipeline(model, saveStep(path, variant.options));
    ASSERT_TRUE(run->status.isOk()) << run->status.message();
    ASSERT_TRUE(fs::exists(path));
    for (const auto& inputs : inputSets) {
      try {
        EXPECT_TRUE(allClose(runSource(model, inputs), runSaved(path, variant.lite, inputs)));
      } catch (const std::exception& error) {
        ADD_FAILURE() << "running " << path << " failed: " << error.what();
      }
    }
  }
}

TEST_F(SaveTorchScriptTest, ScriptedControlFlowModelMatchesInEveryVariant) {
  // Both branches of the `if` (mean > 0 and < 0) and several loop trip counts.
  at::manual_seed(1);
  at::Tensor x = at::randn({2, 3, 8, 8});
  expectVariantsMatch(kExportFixtures + "/control_net.pt",
                      {{x.abs() + 0.1, int64_t{3}}, {-(x.abs() + 0.1), int64_t{0}}, {x, int64_t{5}}}, dir_.string());
}

TEST_F(SaveTorchScriptTest, TracedConvNetMatchesInEveryVariant) {
  at::manual_seed(2);
  expectVariantsMatch(kExportFixtures + "/convnet_traced.pt", {{at::randn({3, 3, 32, 32})}}, dir_.string());
}

TEST_F(SaveTorchScriptTest, Resnet18TracedAndScriptedMatch) {
  at::manual_seed(3);
  const std::vector<std::vector<c10::IValue>> inputs = {{at::randn({2, 3, 224, 224})}};
  for (const std::string model : {"resnet18_traced.pt", "resnet18_scripted.pt"}) {
    for (const Variant& variant : {Variant{"freeze: true", false}, Variant{"optimize: mobile, format: lite", true}}) {
      SCOPED_TRACE(model + " with " + variant.options);
      const std::string path = out(model + (variant.lite ? ".ptl" : ".out.pt"));
      auto run = runPipeline(kFixtures + "/" + model, saveStep(path, variant.options));
      ASSERT_TRUE(run->status.isOk()) << run->status.message();
      EXPECT_TRUE(allClose(runSource(kFixtures + "/" + model, inputs[0]), runSaved(path, variant.lite, inputs[0])));
    }
  }
}

// ---------------------------------------------------------------------------------------
// What each option does to the written module
// ---------------------------------------------------------------------------------------
TEST_F(SaveTorchScriptTest, UnfrozenModuleKeepsNamedTrainableParameters) {
  const std::string path = out("unfrozen.pt");
  auto run = runPipeline(kExportFixtures + "/convnet_traced.pt", saveStep(path, "freeze: false"));
  ASSERT_TRUE(run->status.isOk()) << run->status.message();
  torch::jit::Module saved = torch::jit::load(path);
  std::map<std::string, at::Tensor> parameters, buffers;
  for (const auto& parameter : saved.named_parameters(false)) parameters[parameter.name] = parameter.value;
  for (const auto& buffer : saved.named_buffers(false)) buffers[buffer.name] = buffer.value;
  ASSERT_EQ(parameters.count("conv1_weight"), 1u);
  EXPECT_TRUE(parameters.at("conv1_weight").requires_grad());
  EXPECT_EQ(parameters.count("fc_bias"), 1u);
  EXPECT_EQ(buffers.count("bn1_running_mean"), 1u);
  EXPECT_EQ(parameters.count("bn1_running_mean"), 0u);
  EXPECT_TRUE(hasKind(nodeKinds(saved), "prim::GetAttr"));
  EXPECT_TRUE(hasKind(nodeKinds(saved), "aten::batch_norm"));
  EXPECT_EQ(run->context->reportEntries().at("torchscript.frozen").asBool(), false);
}

TEST_F(SaveTorchScriptTest, FrozenModuleInlinesParametersAndFoldsBatchNorm) {
  const std::string path = out("frozen.pt");
  auto run = runPipeline(kExportFixtures + "/convnet_traced.pt", saveStep(path, "freeze: true"));
  ASSERT_TRUE(run->status.isOk()) << run->status.message();
  torch::jit::Module saved = torch::jit::load(path);
  EXPECT_EQ(saved.named_parameters(false).size(), 0u);
  const auto kinds = nodeKinds(saved);
  EXPECT_FALSE(hasKind(kinds, "prim::GetAttr"));
  EXPECT_FALSE(hasKind(kinds, "aten::batch_norm"));
  EXPECT_TRUE(run->diagnostics.mentions("save-torchscript: wrote"));
}

TEST_F(SaveTorchScriptTest, MobileOptimizationPrepacksFusesAndDropsDropout) {
  const std::string path = out("mobile.pt");
  auto run = runPipeline(kExportFixtures + "/convnet_traced.pt", saveStep(path, "optimize: mobile"));
  ASSERT_TRUE(run->status.isOk()) << run->status.message();
  torch::jit::Module saved = torch::jit::load(path);
  const auto kinds = nodeKinds(saved);
  EXPECT_TRUE(hasKind(kinds, "prepacked::conv2d_clamp_run"));
  EXPECT_TRUE(hasKind(kinds, "prepacked::linear_clamp_run"));
  EXPECT_FALSE(hasKind(kinds, "aten::batch_norm"));
  EXPECT_FALSE(hasKind(kinds, "aten::hardtanh"));  // fused into the conv's clamp range
  EXPECT_FALSE(hasKind(kinds, "aten::dropout"));
  EXPECT_EQ(run->context->reportEntries().at("torchscript.optimize").asString(), "mobile");
}

TEST_F(SaveTorchScriptTest, ReportsFlattenedOutputNamesInOrder) {
  const std::string path = out("control.pt");
  auto run = runPipeline(kExportFixtures + "/control_net.pt", saveStep(path, ""));
  ASSERT_TRUE(run->status.isOk()) << run->status.message();
  const OptionValue& outputs = run->context->reportEntries().at("torchscript.outputs");
  ASSERT_TRUE(outputs.isList());
  ASSERT_EQ(outputs.asList().size(), 2u);
  EXPECT_EQ(outputs.asList()[0].asString(), "output.0");
  EXPECT_EQ(outputs.asList()[1].asString(), "output.1");
}

// The module is emitted from the torchport IR, not copied from the input file: a weight
// changed in the IR is what the written model computes with.
TEST_F(SaveTorchScriptTest, WritesTheIrNotTheInputFile) {
  const std::string model = kExportFixtures + "/convnet_traced.pt";
  auto run = std::make_unique<PipelineRun>();
  ASSERT_TRUE(registerTorchScriptPlugin(run->registry).isOk());
  auto config = parsePipelineYaml("torchport: 1\ninput:\n  path: " + model + "\npipeline:\n" + saveStep(out("rebound.pt"), ""),
                                  "test.yaml");
  ASSERT_TRUE(config.hasValue()) << config.status().message();
  ASSERT_TRUE(validatePipeline(*config, run->registry).isOk());
  run->context = std::make_unique<PassContext>(run->registry, run->diagnostics, run->progress);
  run->context->setOptions(config->input.options);
  auto graph = config->input.importer->import(model, *run->context);
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  bool rebound = false;
  for (Node* node : (*graph)->nodes()) {
    const std::string* param = node->stringAttr("param");
    if (param != nullptr && *param == "fc.bias") {
      node->setAttribute("value", Tensor::fromVector<float>(DType::F32, {5}, {1, 2, 3, 4, 5}));
      rebound = true;
    }
  }
  ASSERT_TRUE(rebound);
  PassManager manager;
  ASSERT_TRUE(manager.run(**graph, config->steps, *run->context).isOk());

  torch::jit::Module source = torch::jit::load(model);
  source.eval();
  at::Tensor bias = source.attr("fc").toModule().attr("bias").toTensor();
  {
    at::NoGradGuard noGrad;
    bias.copy_(at::tensor({1.0f, 2.0f, 3.0f, 4.0f, 5.0f}));
  }
  at::Tensor x = at::randn({2, 3, 32, 32});
  std::vector<at::Tensor> expected;
  flatten(source.forward({x}), expected);
  EXPECT_TRUE(allClose(expected, runSaved(out("rebound.pt"), false, {x})));
}

// ---------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------
constexpr const char* kLoweredIr = R"(graph @main(%x: f32[1,3,8,8]) -> (%y) {
  %w = const f32[4,3,3,3] @"conv.weight"
  %c = onnx::Conv(%x, %w) {pads=[1,1,1,1]}  # conv
  %r = onnx::Relu(%c)  # act
  %r2 = onnx::Relu(%r)  # act2
  %y = com.example::FancyAct(%r2)  # fancy
}
)";

TEST_F(SaveTorchScriptTest, OnnxDialectGraphIsRefusedListingEveryOpAndNothingIsWritten) {
  auto graph = parseGraph(kLoweredIr, "lowered.tpir");
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  Registry registry;
  ASSERT_TRUE(registerTorchScriptPlugin(registry).isOk());
  auto steps = parsePipelineText("save-torchscript{path=" + out("refused.pt") + "}");
  ASSERT_TRUE(steps.hasValue()) << steps.status().message();
  ASSERT_TRUE(validateSteps(*steps, registry).isOk());
  CapturingDiagnostics diagnostics;
  NullProgress progress;
  PassContext context(registry, diagnostics, progress);
  PassManager manager;
  const Status status = manager.run(**graph, *steps, context);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Unsupported);
  EXPECT_NE(status.message().find("onnx::Conv x1 (at conv)"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("onnx::Relu x2 (at act, act2)"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("com.example::FancyAct x1 (at fancy)"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("before lower-to-onnx"), std::string::npos) << status.message();
  EXPECT_FALSE(fs::exists(out("refused.pt")));
  EXPECT_TRUE(fs::is_empty(dir_));  // no temporary file left behind either
}

TEST_F(SaveTorchScriptTest, InvalidOptionCombinationsAreRejectedBeforeRunning) {
  Registry registry;
  ASSERT_TRUE(registerTorchScriptPlugin(registry).isOk());
  auto check = [&](const std::string& step, const std::string& expected) {
    auto steps = parsePipelineText(step);
    ASSERT_TRUE(steps.hasValue()) << steps.status().message();
    const Status status = validateSteps(*steps, registry);
    ASSERT_FALSE(status.isOk()) << step;
    EXPECT_NE(status.message().find(expected), std::string::npos) << status.message();
  };
  check("save-torchscript{path=a.pt,optimize=mobile,freeze=false}", "freeze is false");
  check("save-torchscript{path=a.pt,optimize=fast}", "fast");
  check("save-torchscript{path=a.pt,format=zip}", "zip");
  check("save-torchscript{freeze=true}", "path");
}

// ---------------------------------------------------------------------------------------
// Device mapping: a file with some storages saved on cuda:0 (relabelled in the zip archive)
// ---------------------------------------------------------------------------------------
TEST_F(SaveTorchScriptTest, MixedDeviceFileLoadsOnCpuReportsItAndRoundTrips) {
  const std::string path = out("mixed.pt");
  auto run = runPipeline(kExportFixtures + "/mixed_device.pt", saveStep(path, ""));
  ASSERT_TRUE(run->status.isOk()) << run->status.message();
  EXPECT_EQ(run->context->reportEntries().at("torchscript.mapped_to_cpu").asBool(), true);
  EXPECT_TRUE(run->diagnostics.mentions("saved with tensors on a GPU device"));
  at::Tensor x = at::randn({2, 4});
  // The relabelled file's reference is the same module saved on CPU.
  EXPECT_TRUE(allClose(runSource(kExportFixtures + "/mixed_device_cpu.pt", {x}), runSaved(path, false, {x})));

  auto cpuRun = runPipeline(kExportFixtures + "/mixed_device_cpu.pt", saveStep(out("cpu.pt"), ""));
  ASSERT_TRUE(cpuRun->status.isOk()) << cpuRun->status.message();
  EXPECT_EQ(cpuRun->context->reportEntries().at("torchscript.mapped_to_cpu").asBool(), false);
}

}  // namespace
}  // namespace torchport::torchscript
