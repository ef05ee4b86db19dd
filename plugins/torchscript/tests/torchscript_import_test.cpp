// Importing TorchScript fixtures (see make_fixtures.py) through the registered importer,
// the way a pipeline does: YAML `input:` -> validatePipeline -> importer.
#include <gtest/gtest.h>

// The one test source that includes LibTorch: to check that weights are borrowed from
// the module's own tensors.
#include <torch/csrc/jit/api/module.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "torchport/files.h"
#include "torchport/host/diagnostics.h"
#include "torchport/host/pipeline.h"
#include "torchport/host/plugin_host.h"
#include "torchport/text_ir.h"
#include "torchscript_importer.h"

namespace torchport::torchscript {
namespace {

const std::string kFixtures = TORCHSCRIPT_FIXTURE_DIR;

class CapturingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel level, std::string_view message) override { messages.emplace_back(level, std::string(message)); }
  bool mentions(std::string_view text, LogLevel atLeast = LogLevel::Trace) const {
    return std::any_of(messages.begin(), messages.end(), [&](const auto& entry) {
      return entry.first >= atLeast && entry.second.find(text) != std::string::npos;
    });
  }
  std::string dump() const {
    std::string out;
    for (const auto& [level, message] : messages) out += message + "\n";
    return out;
  }
  std::vector<std::pair<LogLevel, std::string>> messages;
};

struct ImportRun {
  Registry registry;
  CapturingDiagnostics diagnostics;
  NullProgress progress;
  std::unique_ptr<PassContext> context;
  Expected<std::unique_ptr<Graph>> graph = Status::internal("not run");

  Graph& g() { return *graph.value(); }
};

// Imports fixture `file` with extra `input:` lines (YAML, indented by 2).
std::unique_ptr<ImportRun> importFixture(const std::string& file, const std::string& inputYaml = "") {
  auto run = std::make_unique<ImportRun>();
  Status registered = registerTorchScriptPlugin(run->registry);
  if (!registered) {
    run->graph = registered;
    return run;
  }
  const std::string path = kFixtures + "/" + file;
  auto config = parsePipelineYaml("torchport: 1\ninput:\n  path: " + path + "\n" + inputYaml + "pipeline: []\n", "test.yaml");
  if (!config) {
    run->graph = config.status();
    return run;
  }
  Status valid = validatePipeline(*config, run->registry);
  if (!valid) {
    run->graph = valid;
    return run;
  }
  run->context = std::make_unique<PassContext>(run->registry, run->diagnostics, run->progress);
  run->context->setOptions(config->input.options);
  run->graph = config->input.importer->import(path, *run->context);
  return run;
}

void collectNodes(const Graph& graph, std::vector<const Node*>& out) {
  for (const Node* node : graph.nodes()) {
    out.push_back(node);
    for (const auto& [name, attribute] : node->attributes()) {
      if (const auto* body = std::get_if<GraphPtr>(&attribute); body != nullptr && *body != nullptr) {
        collectNodes(**body, out);
      }
    }
  }
}

std::vector<const Node*> nodesOfKind(const Graph& graph, std::string_view kind) {
  std::vector<const Node*> all, matching;
  collectNodes(graph, all);
  for (const Node* node : all) {
    if (node->kind() == kind) matching.push_back(node);
  }
  return matching;
}

const Node* constantForParam(const Graph& graph, std::string_view param) {
  for (const Node* node : nodesOfKind(graph, kConstKind)) {
    const std::string* name = node->stringAttr("param");
    if (name != nullptr && *name == param) return node;
  }
  return nullptr;
}

const std::string* paramOf(const Value* value) {
  if (value->producer() == nullptr || !value->producer()->isConstant()) return nullptr;
  return value->producer()->stringAttr("param");
}

std::vector<std::string> names(std::span<Value* const> values) {
  std::vector<std::string> out;
  for (const Value* value : values) out.push_back(value->name());
  return out;
}

void expectPrintsAndParses(const Graph& graph) {
  PrintOptions options;
  options.elideTensorsAbove = 16;
  const std::string text = printGraph(graph, options);
  auto parsed = parseGraph(text, "imported");
  EXPECT_TRUE(parsed.hasValue()) << parsed.status().message() << "\n" << text.substr(0, 2000);
}

constexpr const char* kImageInput =
    "  inputs:\n"
    "    image: {shape: [batch, 3, 224, 224], dtype: float32}\n";

// ---------------------------------------------------------------------------------------
// ResNet-18, traced and scripted
// ---------------------------------------------------------------------------------------
void checkResnet(ImportRun& run, std::string_view convKind) {
  ASSERT_TRUE(run.graph.hasValue()) << run.graph.status().message();
  Graph& graph = run.g();
  EXPECT_TRUE(graph.verify().isOk()) << graph.verify().message();

  ASSERT_EQ(graph.inputs().size(), 1u);
  EXPECT_EQ(graph.inputs()[0]->name(), "image");
  EXPECT_EQ(graph.inputs()[0]->type().toString(), "f32[batch,3,224,224]");
  ASSERT_EQ(graph.outputs().size(), 1u);
  EXPECT_EQ(graph.outputs()[0]->name(), "output");
  EXPECT_EQ(graph.outputs()[0]->type().toString(), "f32[batch,1000]");

  auto convs = nodesOfKind(graph, convKind);
  ASSERT_EQ(convs.size(), 20u);
  // The stem conv: symbolic batch, static spatial sizes.
  EXPECT_EQ(convs[0]->output()->type().toString(), "f32[batch,64,112,112]");
  EXPECT_EQ(convs[0]->provenance().modulePath, "conv1");
  const std::string* schema = convs[0]->stringAttr("schema");
  ASSERT_NE(schema, nullptr);
  EXPECT_EQ(schema->rfind(std::string(convKind) + "(Tensor input, Tensor weight, Tensor? bias", 0), 0u) << *schema;

  auto layer1Conv1 = std::find_if(convs.begin(), convs.end(),
                                  [](const Node* n) { return n->provenance().modulePath == "layer1.0.conv1"; });
  ASSERT_NE(layer1Conv1, convs.end());
  EXPECT_NE((*layer1Conv1)->provenance().sourceRange.find("conv.py:"), std::string::npos)
      << (*layer1Conv1)->provenance().sourceRange;
  const std::string* weightName = paramOf((*layer1Conv1)->input(1));
  ASSERT_NE(weightName, nullptr);
  EXPECT_EQ(*weightName, "layer1.0.conv1.weight");
  EXPECT_TRUE(std::all_of(convs.begin(), convs.end(), [](const Node* n) { return !n->provenance().modulePath.empty(); }));

  // Weights are borrowed from LibTorch's tensors.
  const Node* weight = constantForParam(graph, "layer1.0.conv1.weight");
  ASSERT_NE(weight, nullptr);
  const Tensor* tensor = weight->tensorAttr("value");
  ASSERT_NE(tensor, nullptr);
  EXPECT_EQ(tensor->shape(), (std::vector<int64_t>{64, 64, 3, 3}));
  EXPECT_EQ(tensor->dtype(), DType::F32);
  ASSERT_TRUE(tensor->hasData());
  EXPECT_EQ(tensor->storage()->kind(), Storage::Kind::Borrowed);
  EXPECT_EQ(weight->output()->type().toString(), "f32[64,64,3,3]");

  // ... the very memory of the loaded module's parameter: no copy.
  auto module = run.context->state<torch::jit::Module>(kModuleStateKey);
  ASSERT_NE(module, nullptr);
  at::Tensor original = module->attr("layer1").toModule().attr("0").toModule().attr("conv1").toModule().attr("weight").toTensor();
  EXPECT_EQ(static_cast<const void*>(tensor->bytes().data()), original.data_ptr());

  // Equal-valued parameters stay distinct: a fresh BatchNorm's weight and running_var
  // are both all ones, and freezing's constant pooling would merge them.
  auto norms = nodesOfKind(graph, "aten::batch_norm");
  ASSERT_FALSE(norms.empty());
  std::vector<std::string> bnParams;
  for (size_t i = 1; i <= 4; ++i) {
    const std::string* name = paramOf(norms[0]->input(i));
    bnParams.push_back(name == nullptr ? "<none>" : *name);
  }
  EXPECT_EQ(bnParams, (std::vector<std::string>{"bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"}));

  // Eval mode, frozen, checks removed: no control flow or raising left.
  EXPECT_TRUE(nodesOfKind(graph, "prim::If").empty());
  EXPECT_TRUE(nodesOfKind(graph, "prim::RaiseException").empty());
  EXPECT_TRUE(nodesOfKind(graph, "prim::GetAttr").empty());
  expectPrintsAndParses(graph);
}

TEST(TorchScriptImport, TracedResnet18) {
  auto run = importFixture("resnet18_traced.pt", kImageInput);
  checkResnet(*run, "aten::_convolution");
  // Every op of a CNN has a meta kernel (or a stand-in): no real convolution was computed.
  EXPECT_FALSE(run->diagnostics.mentions("ran on CPU")) << run->diagnostics.dump();
  if (run->graph.hasValue()) {
    // Traced ReLUs are in place; alias analysis proves them safe to make functional.
    EXPECT_TRUE(nodesOfKind(run->g(), "aten::relu_").empty());
    EXPECT_FALSE(nodesOfKind(run->g(), "aten::relu").empty());
    EXPECT_EQ(run->context->reportEntries().at("torchscript.mapped_to_cpu").asBool(), false);
  }
}

TEST(TorchScriptImport, ScriptedResnet18) {
  auto run = importFixture("resnet18_scripted.pt", kImageInput);
  checkResnet(*run, "aten::conv2d");
}

TEST(TorchScriptImport, WithoutInputsTheArgumentNameIsKeptAndShapesAreUnknown) {
  auto run = importFixture("resnet18_traced.pt");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  ASSERT_EQ(run->g().inputs().size(), 1u);
  EXPECT_EQ(run->g().inputs()[0]->name(), "x");
  EXPECT_TRUE(run->g().inputs()[0]->type().isTensor());
  EXPECT_FALSE(run->g().inputs()[0]->type().hasRank());
  EXPECT_EQ(run->g().outputs()[0]->name(), "output");
  EXPECT_TRUE(run->diagnostics.mentions("has no shape"));
}

TEST(TorchScriptImport, StaticShapesWithoutSymbols) {
  auto run = importFixture("resnet18_scripted.pt", "  inputs:\n    x: {shape: [2, 3, 64, 64]}\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  EXPECT_EQ(run->g().inputs()[0]->type().toString(), "f32[2,3,64,64]");
  EXPECT_EQ(run->g().outputs()[0]->type().toString(), "f32[2,1000]");
}

// ---------------------------------------------------------------------------------------
// Control flow, containers
// ---------------------------------------------------------------------------------------
TEST(TorchScriptImport, IfAndLoopBecomeNestedGraphs) {
  auto run = importFixture("control_flow.pt",
                           "  inputs:\n"
                           "    x: {shape: [2, 4], dtype: float32}\n"
                           "    n: {value: 3}\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  Graph& graph = run->g();
  EXPECT_TRUE(graph.verify().isOk()) << graph.verify().message();
  EXPECT_EQ(names(graph.inputs()), (std::vector<std::string>{"x", "n"}));
  EXPECT_EQ(graph.inputs()[1]->type().toString(), "int");

  auto ifs = nodesOfKind(graph, "prim::If");
  ASSERT_EQ(ifs.size(), 1u);
  GraphPtr thenBranch = ifs[0]->graphAttr("then");
  GraphPtr elseBranch = ifs[0]->graphAttr("else");
  ASSERT_NE(thenBranch, nullptr);
  ASSERT_NE(elseBranch, nullptr);
  EXPECT_TRUE(thenBranch->inputs().empty());
  EXPECT_EQ(thenBranch->outputs().size(), ifs[0]->numOutputs());
  EXPECT_EQ(elseBranch->outputs().size(), ifs[0]->numOutputs());
  EXPECT_EQ(ifs[0]->input(0)->type().toString(), "bool");
  // The linear layer lives in the then branch, with its weight and its module path.
  auto linears = nodesOfKind(*thenBranch, "aten::linear");
  ASSERT_EQ(linears.size(), 1u);
  EXPECT_EQ(linears[0]->provenance().modulePath, "lin");
  const std::string* weight = paramOf(linears[0]->input(1));
  ASSERT_NE(weight, nullptr);
  EXPECT_EQ(*weight, "lin.weight");
  EXPECT_EQ(linears[0]->input(0), graph.inputs()[0]);  // a capture of the outer input

  auto loops = nodesOfKind(graph, "prim::Loop");
  ASSERT_EQ(loops.size(), 1u);
  GraphPtr body = loops[0]->graphAttr("body");
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(loops[0]->input(0), graph.inputs()[1]);  // trip count = n
  EXPECT_EQ(body->inputs().size(), 1 + loops[0]->numOutputs());
  EXPECT_EQ(body->outputs().size(), 1 + loops[0]->numOutputs());
  EXPECT_EQ(body->inputs()[0]->type().toString(), "int");

  // (y, {"a": y * 3, "b": x}) flattened; `x` is returned unchanged, so a copy carries its name.
  EXPECT_EQ(names(graph.outputs()), (std::vector<std::string>{"output.0", "output.1.a", "output.1.b"}));
  const Value* passedThrough = graph.outputs()[2];
  ASSERT_NE(passedThrough->producer(), nullptr);
  EXPECT_EQ(passedThrough->producer()->kind(), "aten::clone");
  EXPECT_EQ(passedThrough->producer()->input(0), graph.inputs()[0]);
  for (const Value* output : graph.outputs()) EXPECT_EQ(output->type().toString(), "f32[2,4]") << output->name();
  expectPrintsAndParses(graph);
}

TEST(TorchScriptImport, TupleArgumentsAndNestedTupleResultsAreFlattened) {
  auto run = importFixture("tuple_io.pt");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  EXPECT_EQ(names(run->g().inputs()), (std::vector<std::string>{"pair.0", "pair.1"}));
  EXPECT_EQ(names(run->g().outputs()), (std::vector<std::string>{"output.0", "output.1.0", "output.1.1"}));

  auto typed = importFixture("tuple_io.pt", "  inputs:\n    a: {shape: [3]}\n    b: {shape: [3]}\n");
  ASSERT_TRUE(typed->graph.hasValue()) << typed->graph.status().message();
  EXPECT_EQ(names(typed->g().inputs()), (std::vector<std::string>{"a", "b"}));
  for (const Value* output : typed->g().outputs()) EXPECT_EQ(output->type().toString(), "f32[3]");
  EXPECT_TRUE(nodesOfKind(typed->g(), "prim::TupleConstruct").empty());
}

TEST(TorchScriptImport, ListArgumentUnpackedIntoTensorsIsFlattened) {
  auto run = importFixture("list_input.pt",
                           "  inputs:\n    left: {shape: [2, 3]}\n    right: {shape: [2, 5]}\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  EXPECT_EQ(names(run->g().inputs()), (std::vector<std::string>{"left", "right"}));
  EXPECT_EQ(run->g().outputs()[0]->type().toString(), "f32[2,8]") << run->diagnostics.dump();

  auto unnamed = importFixture("list_input.pt");
  ASSERT_TRUE(unnamed->graph.hasValue()) << unnamed->graph.status().message();
  EXPECT_EQ(names(unnamed->g().inputs()), (std::vector<std::string>{"xs.0", "xs.1"}));
}

TEST(TorchScriptImport, DictFilledItemByItemIsFlattenedInInsertionOrder) {
  auto run = importFixture("dict_output.pt", "  inputs:\n    x: {shape: [batch, 2]}\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  EXPECT_EQ(names(run->g().outputs()), (std::vector<std::string>{"output.logits", "output.aux"}));
  // "logits" was overwritten: the output is the second value, x * 2 - 1.
  const Value* logits = run->g().outputs()[0];
  ASSERT_NE(logits->producer(), nullptr);
  EXPECT_EQ(logits->producer()->kind(), "aten::sub");
  EXPECT_EQ(logits->type().toString(), "f32[batch,2]");
  EXPECT_TRUE(nodesOfKind(run->g(), "aten::_set_item").empty());
}

TEST(TorchScriptImport, ParametersInsideFoldedListsKeepTheirNames) {
  auto run = importFixture("lstm.pt", "  inputs:\n    x: {shape: [batch, seq, 8]}\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  auto lstms = nodesOfKind(run->g(), "aten::lstm");
  ASSERT_EQ(lstms.size(), 1u);
  EXPECT_EQ(lstms[0]->output(0)->type().toString(), "f32[batch,seq,16]");
  const Node* weights = lstms[0]->input(2)->producer();
  ASSERT_NE(weights, nullptr);
  EXPECT_EQ(weights->kind(), "prim::ListConstruct");
  ASSERT_EQ(weights->numInputs(), 8u);
  const std::string* first = paramOf(weights->input(0));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(*first, "lstm.weight_ih_l0");
  const std::string* last = paramOf(weights->input(7));
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(*last, "lstm.bias_hh_l1");
  EXPECT_EQ(weights->input(0)->producer()->tensorAttr("value")->storage()->kind(), Storage::Kind::Borrowed);
}

// PyTorch's fused inference fast paths: shapes by rule, no attention computed on CPU.
TEST(TorchScriptImport, FusedMultiHeadAttention) {
  auto run = importFixture("attention.pt", "  inputs:\n    x: {shape: [batch, seq, 16]}\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  EXPECT_EQ(nodesOfKind(run->g(), "aten::_native_multi_head_attention").size(), 1u);
  EXPECT_EQ(names(run->g().outputs()), (std::vector<std::string>{"output.0", "output.1"}));
  EXPECT_EQ(run->g().outputs()[0]->type().toString(), "f32[batch,seq,16]");
  EXPECT_EQ(run->g().outputs()[1]->type().toString(), "f32[batch,seq,seq]");
  EXPECT_FALSE(run->diagnostics.mentions("ran on CPU")) << run->diagnostics.dump();
}

TEST(TorchScriptImport, FusedTransformerEncoderLayers) {
  auto run = importFixture("encoder.pt", "  inputs:\n    src: {shape: [batch, seq, 16]}\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  auto layers = nodesOfKind(run->g(), "aten::_transformer_encoder_layer_fwd");
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[1]->provenance().modulePath, "layers.1");
  EXPECT_EQ(run->g().outputs()[0]->type().toString(), "f32[batch,seq,16]");
  EXPECT_FALSE(run->diagnostics.mentions("ran on CPU")) << run->diagnostics.dump();
}

TEST(TorchScriptImport, TwoSymbolsOnIntegerTokens) {
  auto run = importFixture("tokens.pt", "  inputs:\n    tokens: {shape: [batch, seq], dtype: int64}\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  EXPECT_EQ(run->g().inputs()[0]->type().toString(), "i64[batch,seq]");
  EXPECT_EQ(run->g().outputs()[0]->type().toString(), "f32[batch,seq,5]");
  EXPECT_NE(constantForParam(run->g(), "embed.weight"), nullptr);
}

TEST(TorchScriptImport, UnknownDimsStayUnknown) {
  auto run = importFixture("tokens.pt", "  inputs:\n    tokens: {shape: [2, '?'], dtype: int64}\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  EXPECT_EQ(run->g().outputs()[0]->type().toString(), "f32[2,?,5]");
}

// ---------------------------------------------------------------------------------------
// optimize_for_mobile: XNNPACK op contexts become aten ops again
// ---------------------------------------------------------------------------------------
void checkMobile(ImportRun& run) {
  ASSERT_TRUE(run.graph.hasValue()) << run.graph.status().message();
  Graph& graph = run.g();
  EXPECT_TRUE(graph.verify().isOk()) << graph.verify().message();
  std::vector<const Node*> all;
  collectNodes(graph, all);
  for (const Node* node : all) EXPECT_NE(node->domain(), "prepacked") << node->describe();
  auto convs = nodesOfKind(graph, "aten::conv2d");
  ASSERT_EQ(convs.size(), 1u);
  EXPECT_EQ(convs[0]->output()->type().toString(), "f32[batch,8,4,4]");
  const Tensor* weight = convs[0]->input(1)->producer()->tensorAttr("value");
  ASSERT_NE(weight, nullptr);
  EXPECT_EQ(weight->shape(), (std::vector<int64_t>{8, 3, 3, 3}));
  EXPECT_EQ(weight->storage()->kind(), Storage::Kind::Borrowed);
  // The fused ReLU comes back as clamp(min=0).
  auto clamps = nodesOfKind(graph, "aten::clamp");
  ASSERT_EQ(clamps.size(), 1u);
  EXPECT_EQ(clamps[0]->input(0), convs[0]->output());
  EXPECT_EQ(clamps[0]->input(1)->producer()->floatAttr("value"), 0.0);
  auto transposed = nodesOfKind(graph, "aten::conv_transpose2d");
  ASSERT_EQ(transposed.size(), 1u);
  EXPECT_EQ(transposed[0]->output()->type().toString(), "f32[batch,4,8,8]");
  // conv_transpose2d(input, weight, bias, stride, padding, output_padding, groups, dilation)
  EXPECT_EQ(transposed[0]->input(3)->producer()->intsAttr("value") != nullptr, true);
  EXPECT_EQ(*transposed[0]->input(3)->producer()->intsAttr("value"), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(transposed[0]->input(6)->producer()->intAttr("value"), 1);
  EXPECT_EQ(nodesOfKind(graph, "aten::linear").size(), 1u);
  EXPECT_EQ(graph.outputs()[0]->type().toString(), "f32[batch,5]");
}

TEST(TorchScriptImport, MobileOptimizedModel) {
  auto run = importFixture("mobile.pt", "  inputs:\n    x: {shape: [batch, 3, 4, 4]}\n");
  checkMobile(*run);
  EXPECT_TRUE(run->diagnostics.mentions("XNNPACK"));
}

TEST(TorchScriptImport, LiteInterpreterFile) {
  auto run = importFixture("mobile.ptl", "  inputs:\n    x: {shape: [batch, 3, 4, 4]}\n");
  checkMobile(*run);
}

// ---------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------
TEST(TorchScriptImport, GpuSavedFileIsMappedToCpuAndSaysSo) {
  auto run = importFixture("cuda_saved.pt");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  EXPECT_EQ(run->context->reportEntries().at("torchscript.mapped_to_cpu").asBool(), true);
  EXPECT_TRUE(run->diagnostics.mentions("GPU", LogLevel::Info));
  EXPECT_NE(constantForParam(run->g(), "lin.weight"), nullptr);
}

// ---------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------
void expectRefused(const std::string& file, ErrorKind kind, std::vector<std::string> phrases,
                   const std::string& inputYaml = "") {
  auto run = importFixture(file, inputYaml);
  ASSERT_FALSE(run->graph.hasValue()) << file << " was imported";
  const Status& status = run->graph.status();
  EXPECT_EQ(status.kind(), kind) << status.message();
  EXPECT_NE(status.message().find(file), std::string::npos) << status.message();
  for (const std::string& phrase : phrases) {
    EXPECT_NE(status.message().find(phrase), std::string::npos) << "missing '" << phrase << "' in: " << status.message();
  }
}

TEST(TorchScriptImport, StateDictIsRefusedWithTheFix) {
  // Sniffing picks the state_dict importer for torch.save files (state_dict_test.cpp); forced
  // through the TorchScript importer they are refused with the fix.
  expectRefused("state_dict.pth", ErrorKind::Input, {"state_dict", "torch.jit.script(model).save"},
                "  format: torchscript\n");
}

TEST(TorchScriptImport, PickledModuleIsRefusedWithTheReason) {
  expectRefused("pickled_module.pth", ErrorKind::Input, {"pickled with torch.save(model)", "refuses"});
}

TEST(TorchScriptImport, LegacyPickleIsRefused) {
  expectRefused("legacy_pickle.pth", ErrorKind::Input, {"legacy torch.save format"}, "  format: torchscript\n");
}

TEST(TorchScriptImport, GarbageIsRefused) {
  expectRefused("garbage.pt", ErrorKind::Input, {"not a zip archive"});
}

TEST(TorchScriptImport, MissingFileIsAnInputError) {
  auto run = std::make_unique<ImportRun>();
  ASSERT_TRUE(registerTorchScriptPlugin(run->registry).isOk());
  PassContext context(run->registry, run->diagnostics, run->progress);
  auto graph = importTorchScript(kFixtures + "/no_such_model.pt", context);
  ASSERT_FALSE(graph.hasValue());
  EXPECT_EQ(graph.status().kind(), ErrorKind::Input);
  EXPECT_NE(graph.status().message().find("no_such_model.pt"), std::string::npos) << graph.status().message();
}

TEST(TorchScriptImport, StateThatForwardMutatesBecomesExplicitState) {
  auto run = importFixture("mutates_attribute.pt");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  Graph& graph = run->g();
  ASSERT_EQ(graph.inputs().size(), 2u);
  EXPECT_EQ(graph.inputs()[1]->name(), "state_in.calls");
  ASSERT_EQ(graph.outputs().size(), 2u);
  EXPECT_EQ(graph.outputs()[1]->name(), "state_out.calls");
  EXPECT_TRUE(run->diagnostics.mentions("state_in.calls: int 0")) << run->diagnostics.dump();

  auto frozen = importFixture("mutates_attribute.pt", "  state: frozen\n");
  ASSERT_TRUE(frozen->graph.hasValue()) << frozen->graph.status().message();
  EXPECT_EQ(frozen->g().inputs().size(), 1u);
  EXPECT_EQ(frozen->g().outputs().size(), 1u);
  EXPECT_TRUE(frozen->diagnostics.mentions("state: frozen", LogLevel::Warn)) << frozen->diagnostics.dump();
}

// Quantized packed params (LinearPackedParamsBase) are unpacked into a tuple of constants:
// (weight i8, scale, zero_point, axis, bias) -- see packed_params.h.
TEST(TorchScriptImport, QuantizedPackedParamsBecomeTupleOfTensors) {
  auto run = importFixture("quantized_dynamic.pt");
  ASSERT_TRUE(run->graph.hasValue()) << run->graph.status().message();
  Graph& graph = run->g();
  EXPECT_TRUE(graph.verify().isOk()) << graph.verify().message();
  auto linears = nodesOfKind(graph, "quantized::linear_dynamic");
  ASSERT_EQ(linears.size(), 2u);
  const std::vector<std::vector<int64_t>> weightShapes{{4, 4}, {2, 4}};
  for (size_t i = 0; i < linears.size(); ++i) {
    const Node* tuple = linears[i]->input(1)->producer();
    ASSERT_NE(tuple, nullptr);
    ASSERT_EQ(tuple->kind(), "prim::TupleConstruct") << tuple->describe();
    ASSERT_EQ(tuple->numInputs(), 5u);
    const Tensor* weight = tuple->input(0)->producer()->tensorAttr("value");
    ASSERT_NE(weight, nullptr);
    EXPECT_EQ(weight->dtype(), DType::I8);
    EXPECT_EQ(weight->shape(), weightShapes[i]);
    const Tensor* zeroPoint = tuple->input(2)->producer()->tensorAttr("value");
    ASSERT_NE(zeroPoint, nullptr);
    EXPECT_EQ(zeroPoint->dtype(), DType::I8);
    const Tensor* bias = tuple->input(4)->producer()->tensorAttr("value");
    ASSERT_NE(bias, nullptr);
    EXPECT_EQ(bias->dtype(), DType::F32);
    EXPECT_EQ(linears[i]->provenance().modulePath, i == 0 ? "0" : "2");
  }
}

TEST(TorchScriptImport, InputCountMismatchNamesTheInputs) {
  auto run = importFixture("control_flow.pt", "  inputs:\n    x: {shape: [2, 4]}\n");
  ASSERT_FALSE(run->graph.hasValue());
  const Status& status = run->graph.status();
  EXPECT_EQ(status.kind(), ErrorKind::Input);
  EXPECT_NE(status.message().find("declares 1 input(s) but the model's graph takes 2 (x, n)"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("test.yaml:5"), std::string::npos) << status.message();
}

TEST(TorchScriptImport, TensorDeclaredForAScalarArgument) {
  auto run = importFixture("control_flow.pt", "  inputs:\n    x: {shape: [2, 4]}\n    n: {shape: [1]}\n");
  ASSERT_FALSE(run->graph.hasValue());
  EXPECT_NE(run->graph.status().message().find("declares a tensor, but argument 2 ('n') of the model is int"),
            std::string::npos)
      << run->graph.status().message();
}

TEST(TorchScriptImport, UnknownMethod) {
  auto run = importFixture("control_flow.pt", "  method: predict\n");
  ASSERT_FALSE(run->graph.hasValue());
  EXPECT_NE(run->graph.status().message().find("no method 'predict' (it has: forward)"), std::string::npos)
      << run->graph.status().message();
}

// ---------------------------------------------------------------------------------------
// The plugin library itself
// ---------------------------------------------------------------------------------------
TEST(TorchScriptPlugin, LoadsAndRegistersTheImporter) {
  Registry registry;
  PluginHost host(registry);
  Status loaded = host.load(TORCHSCRIPT_PLUGIN_FILE);
  ASSERT_TRUE(loaded.isOk()) << loaded.message();
  ASSERT_EQ(host.plugins().size(), 1u);
  EXPECT_EQ(host.plugins()[0].name, "torchscript");
  const ImporterEntry* importer = registry.findImporter("torchscript");
  ASSERT_NE(importer, nullptr);
  EXPECT_EQ(importer->plugin, "torchscript");
  EXPECT_EQ(importer->info.extensions, (std::vector<std::string>{".pt", ".pth", ".jit", ".ptl"}));
  auto head = readFileHead(kFixtures + "/control_flow.pt");
  ASSERT_TRUE(head.hasValue());
  EXPECT_EQ(registry.sniffImporter(*head, kFixtures + "/control_flow.pt"), importer);
}

}  // namespace
}  // namespace torchport::torchscript
