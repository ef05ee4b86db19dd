// torch.save files: the restricted pickle reader, the `state_dict` importer, binding a
// state_dict onto a TorchScript model (input.weights), and save-state-dict. Fixtures come
// from make_state_dict_fixtures.py; the real-world files from ../shared/wild/ beside the checkout (tests
// skip, saying so, when that folder is absent).
#include <gtest/gtest.h>

#include <torch/script.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "pickle_reader.h"
#include "state_dict_formats.h"
#include "torch_save_reader.h"
#include "torchport/files.h"
#include "torchport/host/diagnostics.h"
#include "torchport/host/pipeline.h"
#include "torchscript_importer.h"

namespace torchport::torchscript {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = STATE_DICT_FIXTURE_DIR;
const std::string kWild = STATE_DICT_WILD_DIR;

class CapturingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel, std::string_view message) override { messages.emplace_back(message); }
  bool mentions(std::string_view text) const {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const std::string& message) { return message.find(text) != std::string::npos; });
  }
  std::vector<std::string> messages;
};

struct Run {
  Registry registry;
  CapturingDiagnostics diagnostics;
  NullProgress progress;
  std::unique_ptr<PassContext> context;
  Expected<std::unique_ptr<Graph>> graph = Status::internal("not run");
  std::string format;

  const Status& status() const { return graph.status(); }
  const std::string& message() const { return graph.status().message(); }
};

std::string fixture(const std::string& name) { return kFixtures + "/" + name; }

// Runs the importer a pipeline would pick for `path` (sniffed), with extra `input:` lines.
std::unique_ptr<Run> importFile(const std::string& path, const std::string& inputYaml = "") {
  auto run = std::make_unique<Run>();
  if (Status registered = registerTorchScriptPlugin(run->registry); !registered) {
    run->graph = registered;
    return run;
  }
  auto config = parsePipelineYaml("torchport: 1\ninput:\n  path: " + path + "\n" + inputYaml + "pipeline: []\n", "test.yaml");
  if (!config) {
    run->graph = config.status();
    return run;
  }
  if (Status valid = validatePipeline(*config, run->registry); !valid) {
    run->graph = valid;
    return run;
  }
  run->format = config->input.importer->info.format;
  run->context = std::make_unique<PassContext>(run->registry, run->diagnostics, run->progress);
  run->context->setOptions(config->input.options);
  run->graph = config->input.importer->import(path, *run->context);
  return run;
}

std::unique_ptr<Run> bindOnto(const std::string& model, const std::string& weights, const std::string& extra = "") {
  return importFile(fixture(model), "  infer_shapes: false\n  weights: " + weights + "\n" + extra);
}

bool wildPresent(const std::string& name) { return fs::exists(kWild + "/" + name); }
#define SKIP_WITHOUT_WILD(name)                                                                              \
  if (!wildPresent(name)) {                                                                                  \
    GTEST_SKIP() << kWild << "/" << name << " is absent (real-world files are not in the repo)";             \
  }                                                                                                          \
  static_assert(true)

const Node* constantNamed(const Graph& graph, const std::string& param) {
  for (const Node* node : graph.nodes()) {
    if (node->kind() == kConstKind && node->stringAttr("param") != nullptr && *node->stringAttr("param") == param) return node;
  }
  return nullptr;
}

std::vector<float> readFloats(const std::string& path) {
  std::ifstream stream(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

std::string reportString(const Run& run, const std::string& key) {
  auto entry = run.context->reportEntries().find(key);
  return entry == run.context->reportEntries().end() ? std::string("<absent>") : entry->second.toString();
}

// ---------------------------------------------------------------------------------------
// The pickle reader on hand-written pickles
// ---------------------------------------------------------------------------------------
// Bytes of a string literal, embedded NULs included (without the terminating one).
template <size_t N>
std::vector<std::byte> raw(const char (&text)[N]) {
  std::vector<std::byte> bytes(N - 1);
  std::memcpy(bytes.data(), text, N - 1);
  return bytes;
}

TEST(PickleReader, ReadsContainersAndMemo) {
  // {'a': [1, -2, 'x'], 'b': <memo 2 = the same list>}, protocol 2 (separate literals keep
  // hex escapes from swallowing the next character).
  const auto pickle = raw("\x80\x02" "}" "q\x00" "(" "X\x01\x00\x00\x00" "a" "q\x01" "]" "q\x02" "(" "K\x01"
                          "J\xfe\xff\xff\xff" "X\x01\x00\x00\x00" "x" "e" "X\x01\x00\x00\x00" "b" "h\x02" "u" ".");
  auto result = pickle::readPickle(pickle, "test");
  ASSERT_TRUE(result.hasValue()) << result.status().message();
  const pickle::Value& root = *result->root;
  ASSERT_EQ(root.kind, pickle::Value::Kind::Dict);
  ASSERT_EQ(root.entries.size(), 2u);
  const pickle::Value& list = *root.entries[0].second;
  ASSERT_EQ(list.items.size(), 3u);
  EXPECT_EQ(list.items[0]->integer, 1);
  EXPECT_EQ(list.items[1]->integer, -2);
  EXPECT_EQ(list.items[2]->text, "x");
  EXPECT_EQ(root.entries[1].second.get(), &list);  // memo shares the object
  EXPECT_TRUE(result->disallowedGlobals.empty());
  EXPECT_EQ(result->bytesRead, pickle.size());
}

TEST(PickleReader, RecordsDisallowedGlobalsWithoutCallingThem) {
  // os.system('touch x') as pickle protocol 2 writes it: GLOBAL, args tuple, REDUCE.
  const auto pickle = raw("\x80\x02" "cposix\nsystem\n" "X\x07\x00\x00\x00" "touch x" "\x85" "R" ".");
  auto result = pickle::readPickle(pickle, "test");
  ASSERT_TRUE(result.hasValue()) << result.status().message();
  EXPECT_EQ(result->root->kind, pickle::Value::Kind::Object);
  EXPECT_EQ(result->root->global.qualified(), "posix.system");
  ASSERT_EQ(result->disallowedGlobals, std::vector<std::string>{"posix.system"});
}

TEST(PickleReader, RefusesTruncatedAndUnknownInput) {
  auto truncated = pickle::readPickle(raw("\x80\x02" "X\xff\x00\x00\x00" "ab"), "t.pth");
  ASSERT_FALSE(truncated.hasValue());
  EXPECT_NE(truncated.status().message().find("past the end"), std::string::npos) << truncated.status().message();
  EXPECT_NE(truncated.status().message().find("t.pth"), std::string::npos);
  auto noStop = pickle::readPickle(raw("\x80\x02" "N"), "t");
  ASSERT_FALSE(noStop.hasValue());
  EXPECT_NE(noStop.status().message().find("STOP"), std::string::npos) << noStop.status().message();
  auto extension = pickle::readPickle(raw("\x80\x02" "\x82\x01" "."), "t");  // EXT1
  ASSERT_FALSE(extension.hasValue());
  EXPECT_NE(extension.status().message().find("0x82"), std::string::npos) << extension.status().message();
  auto emptyStack = pickle::readPickle(raw("\x80\x02" "s" "."), "t");
  ASSERT_FALSE(emptyStack.hasValue());
  EXPECT_NE(emptyStack.status().message().find("stack is empty"), std::string::npos) << emptyStack.status().message();
  auto twoObjects = pickle::readPickle(raw("\x80\x02" "N" "N" "."), "t");
  ASSERT_FALSE(twoObjects.hasValue());
}

TEST(PickleReader, DeepNestingNeitherOverflowsTheStackNorLoops) {
  // None wrapped in a million 1-tuples: read, then freed without recursion.
  std::vector<std::byte> pickle = raw("\x80\x02" "N");
  pickle.insert(pickle.end(), 1'000'000, std::byte{0x85});
  pickle.push_back(std::byte{'.'});
  {
    auto result = pickle::readPickle(pickle, "deep");
    ASSERT_TRUE(result.hasValue()) << result.status().message();
    EXPECT_EQ(result->root->kind, pickle::Value::Kind::Tuple);
  }
  // A list that contains itself.
  auto cyclic = pickle::readPickle(raw("\x80\x02" "]" "q\x00" "h\x00" "a" "."), "cycle");
  ASSERT_TRUE(cyclic.hasValue()) << cyclic.status().message();
  EXPECT_EQ(cyclic->root->items.front().get(), cyclic->root.get());
  cyclic->root->items.clear();  // break the cycle so that the test does not leak it
}

TEST(PickleReader, AllowListMatchesWeightsOnly) {
  EXPECT_TRUE(pickle::isAllowedGlobal({"torch._utils", "_rebuild_tensor_v2"}));
  EXPECT_TRUE(pickle::isAllowedGlobal({"torch", "BFloat16Storage"}));
  EXPECT_TRUE(pickle::isAllowedGlobal({"collections", "OrderedDict"}));
  EXPECT_FALSE(pickle::isAllowedGlobal({"builtins", "eval"}));
  EXPECT_FALSE(pickle::isAllowedGlobal({"torch.nn.modules.linear", "Linear"}));
  EXPECT_FALSE(pickle::isAllowedGlobal({"torch", "load"}));
}

// ---------------------------------------------------------------------------------------
// Sniffing and the state_dict importer
// ---------------------------------------------------------------------------------------
int sniffFile(const std::string& path) {
  auto head = readFileHead(path);
  return head ? sniffStateDict(*head, path) : -1;
}

TEST(StateDictSniff, ClaimsTorchSaveButNotTorchScript) {
  EXPECT_EQ(sniffFile(fixture("resnet18_other.pth")), kSniffTorchSaveArchive);
  EXPECT_EQ(sniffFile(fixture("resnet18_other_legacy.pth")), kSniffLegacyTorchSave);
  EXPECT_EQ(sniffFile(fixture("resnet18_scripted.pt")), 0);
  EXPECT_EQ(sniffFile(fixture("not_torch.pt")), 0);
}

TEST(StateDictImport, ListsTensorsOfAStateDict) {
  auto run = importFile(fixture("resnet18_other.pth"));
  ASSERT_TRUE(run->graph.hasValue()) << run->message();
  EXPECT_EQ(run->format, "state_dict");
  const Graph& graph = **run->graph;
  EXPECT_EQ(graph.inputs().size(), 0u);
  EXPECT_EQ(graph.outputs().size(), 122u);  // resnet18: 62 parameters, 60 buffers
  const Node* conv = constantNamed(graph, "conv1.weight");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->tensorAttr("value")->shape(), (std::vector<int64_t>{64, 3, 7, 7}));
  const Node* counter = constantNamed(graph, "bn1.num_batches_tracked");
  ASSERT_NE(counter, nullptr);
  EXPECT_EQ(counter->tensorAttr("value")->dtype(), DType::I64);
}

TEST(StateDictImport, LegacyFormatHasTheSameTensors) {
  auto zip = importFile(fixture("resnet18_other.pth"));
  auto legacy = importFile(fixture("resnet18_other_legacy.pth"));
  ASSERT_TRUE(zip->graph.hasValue()) << zip->message();
  ASSERT_TRUE(legacy->graph.hasValue()) << legacy->message();
  ASSERT_EQ((*zip->graph)->outputs().size(), (*legacy->graph)->outputs().size());
  for (const Value* output : (*zip->graph)->outputs()) {
    const Node* other = constantNamed(**legacy->graph, output->name());
    ASSERT_NE(other, nullptr) << output->name();
    EXPECT_TRUE(output->producer()->tensorAttr("value")->contentEquals(*other->tensorAttr("value"))) << output->name();
  }
}

TEST(StateDictImport, MaliciousPickleIsRefusedWithoutRunningIt) {
  const fs::path marker = fixture("markers/pwned");
  fs::remove(marker);
  auto run = importFile(fixture("malicious.pth"));
  ASSERT_FALSE(run->graph.hasValue());
  EXPECT_EQ(run->status().kind(), ErrorKind::Input);
  EXPECT_NE(run->message().find("posix.system"), std::string::npos) << run->message();
  EXPECT_NE(run->message().find("nothing was executed"), std::string::npos) << run->message();
  EXPECT_NE(run->message().find("  w: Float[2]"), std::string::npos) << "tensors are still listed: " << run->message();
  EXPECT_FALSE(fs::exists(marker)) << "the pickle's payload ran";
}

TEST(StateDictImport, FullModelPickleIsRefusedWithTheFixAndItsTensorsListed) {
  auto run = importFile(fixture("full_model.pt"));
  ASSERT_FALSE(run->graph.hasValue());
  const std::string& message = run->message();
  EXPECT_NE(message.find("__main__.Net"), std::string::npos) << message;
  EXPECT_NE(message.find("torch.save(model)"), std::string::npos) << message;
  EXPECT_NE(message.find("torch.jit.script(model).save"), std::string::npos) << message;
  EXPECT_NE(message.find("model.state_dict()"), std::string::npos) << message;
  EXPECT_NE(message.find("fc.weight: Float[2, 3]"), std::string::npos) << message;

  auto sequential = importFile(fixture("full_sequential.pt"));
  ASSERT_FALSE(sequential->graph.hasValue());
  EXPECT_NE(sequential->message().find("torch.nn.modules.container.Sequential"), std::string::npos)
      << sequential->message();
  EXPECT_NE(sequential->message().find("0.weight: Float[2, 2]"), std::string::npos) << sequential->message();
}

TEST(StateDictImport, NeitherTorchSaveNorTorchScriptIsRefused) {
  Registry registry;
  CapturingDiagnostics diagnostics;
  NullProgress progress;
  PassContext ctx(registry, diagnostics, progress);
  auto graph = importStateDict(fixture("not_torch.pt"), ctx);
  ASSERT_FALSE(graph.hasValue());
  EXPECT_NE(graph.status().message().find("not a torch.save file"), std::string::npos) << graph.status().message();
}

TEST(StateDictImport, CudaSavedFileLoadsOnTheCpuWithANote) {
  auto run = importFile(fixture("resnet18_mixed.pth"));
  ASSERT_TRUE(run->graph.hasValue()) << run->message();
  EXPECT_TRUE(run->diagnostics.mentions("cuda:1")) << "no device note";
  EXPECT_EQ(reportString(*run, "state_dict.mapped_to_cpu"), "true");
}

// ---------------------------------------------------------------------------------------
// Binding onto a TorchScript model
// ---------------------------------------------------------------------------------------
void expectOutputsOf(Run& run, const std::string& expectedFile) {
  auto module = run.context->state<torch::jit::Module>(kModuleStateKey);
  ASSERT_NE(module, nullptr);
  std::vector<float> input = readFloats(fixture("resnet18_input.bin"));
  std::vector<float> expected = readFloats(expectedFile);
  ASSERT_EQ(input.size(), 3u * 64 * 64);
  at::Tensor x = torch::from_blob(input.data(), {1, 3, 64, 64}).clone();
  at::Tensor y = module->forward({x}).toTensor().contiguous();
  ASSERT_EQ(static_cast<size_t>(y.numel()), expected.size());
  const float* got = y.data_ptr<float>();
  float worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::abs(got[i] - expected[i]));
  EXPECT_LT(worst, 1e-4) << "LibTorch output of the rebound model differs from the Python model's";
}

TEST(StateDictBinding, ResnetTakesTheStateDictsWeights) {
  auto run = bindOnto("resnet18_scripted.pt", fixture("resnet18_other.pth"));
  ASSERT_TRUE(run->graph.hasValue()) << run->message();
  // The IR's parameters are the file's...
  auto file = readTorchSaveFile(fixture("resnet18_other.pth"));
  ASSERT_TRUE(file.hasValue()) << file.status().message();
  auto tensors = collectTensors(*file, file->root);
  ASSERT_TRUE(tensors.hasValue());
  size_t compared = 0;
  for (const SavedTensor& saved : *tensors) {
    const Node* constant = constantNamed(**run->graph, saved.name);
    if (constant == nullptr) continue;  // folded away (num_batches_tracked)
    const Tensor& ir = *constant->tensorAttr("value");
    at::Tensor expected = saved.tensor.contiguous();
    ASSERT_EQ(ir.nbytes(), expected.nbytes()) << saved.name;
    EXPECT_EQ(std::memcmp(ir.bytes().data(), expected.data_ptr(), ir.nbytes()), 0) << saved.name;
    ++compared;
  }
  EXPECT_GE(compared, 100u);
  // ...and so is what the model computes (Python ran the seed-1 model on the same input).
  expectOutputsOf(*run, fixture("resnet18_other_output.bin"));
  EXPECT_EQ(reportString(*run, "torchscript.weights.bound"), "122");
  EXPECT_TRUE(run->diagnostics.mentions("bound 122 of 122"));
}

TEST(StateDictBinding, WithoutWeightsTheModelKeepsItsOwn) {
  auto run = importFile(fixture("resnet18_scripted.pt"), "  infer_shapes: false\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->message();
  expectOutputsOf(*run, fixture("resnet18_own_output.bin"));
}

TEST(StateDictBinding, LegacyFormatBindsToo) {
  auto run = bindOnto("resnet18_scripted.pt", fixture("resnet18_other_legacy.pth"));
  ASSERT_TRUE(run->graph.hasValue()) << run->message();
  expectOutputsOf(*run, fixture("resnet18_other_output.bin"));
}

TEST(StateDictBinding, StrictListsEveryMismatchInOneError) {
  auto run = bindOnto("resnet18_scripted.pt", fixture("resnet18_bad.pth"));
  ASSERT_FALSE(run->graph.hasValue());
  EXPECT_EQ(run->status().kind(), ErrorKind::Input);
  const std::string& message = run->message();
  for (const char* phrase : {"1 missing, 1 unexpected, 2 mismatched", "fc.bias (Float[10])", "extra.weight (Float[4])",
                             "conv1.weight: shape [64, 3, 49] in the file, [64, 3, 7, 7] in the model",
                             "bn1.running_mean: dtype Double in the file, Float in the model", "strict: false",
                             "resnet18_bad.pth", "test.yaml:"}) {
    EXPECT_NE(message.find(phrase), std::string::npos) << "missing '" << phrase << "' in: " << message;
  }
}

TEST(StateDictBinding, NonStrictBindsWhatMatchesAndReportsTheRest) {
  auto run = bindOnto("resnet18_scripted.pt", fixture("resnet18_bad.pth"), "  strict: false\n");
  ASSERT_TRUE(run->graph.hasValue()) << run->message();
  EXPECT_EQ(reportString(*run, "torchscript.weights.bound"), "119");
  EXPECT_NE(reportString(*run, "torchscript.weights.missing").find("fc.bias"), std::string::npos);
  EXPECT_NE(reportString(*run, "torchscript.weights.unexpected").find("extra.weight"), std::string::npos);
  EXPECT_TRUE(run->diagnostics.mentions("left 4 entries unbound"));
  // A bound tensor has the file's value, an unbound one keeps the model's.
  auto file = readTorchSaveFile(fixture("resnet18_bad.pth"));
  ASSERT_TRUE(file.hasValue());
  auto tensors = collectTensors(*file, file->root);
  ASSERT_TRUE(tensors.hasValue());
  for (const SavedTensor& saved : *tensors) {
    if (saved.name != "layer1.0.conv1.weight") continue;
    const Tensor& ir = *constantNamed(**run->graph, saved.name)->tensorAttr("value");
    EXPECT_EQ(std::memcmp(ir.bytes().data(), saved.tensor.contiguous().data_ptr(), ir.nbytes()), 0);
  }
}

TEST(StateDictBinding, MaliciousWeightsAreRefusedWithoutRunningThem) {
  const fs::path marker = fixture("markers/pwned");
  fs::remove(marker);
  auto run = bindOnto("legacy_net.pt", fixture("malicious.pth"));
  ASSERT_FALSE(run->graph.hasValue());
  EXPECT_NE(run->message().find("posix.system"), std::string::npos) << run->message();
  EXPECT_NE(run->message().find("weights_only"), std::string::npos) << run->message();
  EXPECT_FALSE(fs::exists(marker)) << "the pickle's payload ran";
}

TEST(StateDictBinding, FullModelAsWeightsIsRefusedWithTheFix) {
  auto run = bindOnto("legacy_net.pt", fixture("full_model.pt"));
  ASSERT_FALSE(run->graph.hasValue());
  EXPECT_NE(run->message().find("__main__.Net"), std::string::npos) << run->message();
  EXPECT_NE(run->message().find("torch.jit.trace"), std::string::npos) << run->message();
}

TEST(StateDictBinding, CudaSavedStateDictLoadsWithANote) {
  auto run = bindOnto("resnet18_scripted.pt", fixture("resnet18_cuda.pth"));
  ASSERT_TRUE(run->graph.hasValue()) << run->message();
  EXPECT_TRUE(run->diagnostics.mentions("saved with tensors on cuda:0; they were loaded to the CPU"));
  EXPECT_EQ(reportString(*run, "torchscript.weights.mapped_to_cpu"), "true");
  expectOutputsOf(*run, fixture("resnet18_other_output.bin"));
}

TEST(StateDictBinding, MixedDeviceStateDictLoads) {
  auto run = bindOnto("resnet18_scripted.pt", fixture("resnet18_mixed.pth"));
  ASSERT_TRUE(run->graph.hasValue()) << run->message();
  EXPECT_NE(reportString(*run, "torchscript.weights.saved_devices").find("cuda:1"), std::string::npos);
  expectOutputsOf(*run, fixture("resnet18_other_output.bin"));
}

TEST(StateDictBinding, WeightsKeyNeedsWeights) {
  auto run = importFile(fixture("legacy_net.pt"), "  weights_key: model_state_dict\n");
  ASSERT_FALSE(run->graph.hasValue());
  EXPECT_NE(run->message().find("set input: weights"), std::string::npos) << run->message();
}

// ---------------------------------------------------------------------------------------
// Real-world files (burn's test data)
// ---------------------------------------------------------------------------------------
TEST(WildStateDicts, MnistListsAndBindsWithAnMpsNote) {
  SKIP_WITHOUT_WILD("burn_mnist_state_dict.pt");
  const std::string path = kWild + "/burn_mnist_state_dict.pt";
  auto listed = importFile(path);
  ASSERT_TRUE(listed->graph.hasValue()) << listed->message();
  EXPECT_EQ((*listed->graph)->outputs().size(), 20u);
  const Node* fc1 = constantNamed(**listed->graph, "fc1.weight");
  ASSERT_NE(fc1, nullptr);
  EXPECT_EQ(fc1->tensorAttr("value")->shape(), (std::vector<int64_t>{32, 11616}));
  EXPECT_TRUE(listed->diagnostics.mentions("mps"));

  auto bound = bindOnto("mnist_net.pt", path);
  ASSERT_TRUE(bound->graph.hasValue()) << bound->message();
  EXPECT_EQ(reportString(*bound, "torchscript.weights.bound"), "20");
  EXPECT_EQ(reportString(*bound, "torchscript.weights.mapped_to_cpu"), "true");
}

TEST(WildStateDicts, CheckpointNeedsItsKey) {
  SKIP_WITHOUT_WILD("burn_checkpoint.pt");
  const std::string path = kWild + "/burn_checkpoint.pt";
  auto listed = importFile(path);
  ASSERT_TRUE(listed->graph.hasValue()) << listed->message();
  EXPECT_NE(constantNamed(**listed->graph, "model_state_dict.fc1.weight"), nullptr);
  EXPECT_NE(constantNamed(**listed->graph, "optimizer_state_dict.state.0.momentum_buffer"), nullptr);

  auto withoutKey = bindOnto("checkpoint_net.pt", path);
  ASSERT_FALSE(withoutKey->graph.hasValue());
  EXPECT_NE(withoutKey->message().find("weights_key"), std::string::npos) << withoutKey->message();
  EXPECT_NE(withoutKey->message().find("model_state_dict (dict, 4 tensors)"), std::string::npos) << withoutKey->message();

  auto wrongKey = bindOnto("checkpoint_net.pt", path, "  weights_key: model\n");
  ASSERT_FALSE(wrongKey->graph.hasValue());
  EXPECT_NE(wrongKey->message().find("optimizer_state_dict"), std::string::npos) << wrongKey->message();

  auto bound = bindOnto("checkpoint_net.pt", path, "  weights_key: model_state_dict\n");
  ASSERT_TRUE(bound->graph.hasValue()) << bound->message();
  EXPECT_EQ(reportString(*bound, "torchscript.weights.bound"), "4");
}

TEST(WildStateDicts, LegacyFileListsAndBinds) {
  SKIP_WITHOUT_WILD("burn_simple_legacy.pt");
  const std::string path = kWild + "/burn_simple_legacy.pt";
  auto listed = importFile(path);
  ASSERT_TRUE(listed->graph.hasValue()) << listed->message();
  const Node* weight = constantNamed(**listed->graph, "weight");
  ASSERT_NE(weight, nullptr);
  EXPECT_EQ(weight->tensorAttr("value")->shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_NEAR(weight->tensorAttr("value")->elementAsDouble(0), -1.8130, 1e-4);
  auto bound = bindOnto("legacy_net.pt", path);
  ASSERT_TRUE(bound->graph.hasValue()) << bound->message();
  EXPECT_EQ(reportString(*bound, "torchscript.weights.format"), "legacy");
}

TEST(WildStateDicts, BFloat16ListsAndBinds) {
  SKIP_WITHOUT_WILD("burn_bfloat16_state_dict.pt");
  const std::string path = kWild + "/burn_bfloat16_state_dict.pt";
  auto listed = importFile(path);
  ASSERT_TRUE(listed->graph.hasValue()) << listed->message();
  const Node* tensor = constantNamed(**listed->graph, "tensor");
  ASSERT_NE(tensor, nullptr);
  EXPECT_EQ(tensor->tensorAttr("value")->dtype(), DType::BF16);
  EXPECT_DOUBLE_EQ(tensor->tensorAttr("value")->elementAsDouble(1), -2.5);
  auto bound = bindOnto("bfloat16_net.pt", path);
  ASSERT_TRUE(bound->graph.hasValue()) << bound->message();
  const Node* bufferConstant = constantNamed(**bound->graph, "tensor");
  ASSERT_NE(bufferConstant, nullptr) << "the buffer should reach the graph as a named constant";
  EXPECT_DOUBLE_EQ(bufferConstant->tensorAttr("value")->elementAsDouble(2), 3.5);
}

// ---------------------------------------------------------------------------------------
// save-state-dict
// ---------------------------------------------------------------------------------------
TEST(SaveStateDict, PythonReadsItBackWithWeightsOnly) {
  auto run = bindOnto("resnet18_scripted.pt", fixture("resnet18_other.pth"));
  ASSERT_TRUE(run->graph.hasValue()) << run->message();
  const fs::path out = fs::path(kFixtures) / "out" / "saved_state_dict.pth";
  fs::remove(out);
  run->context->setOptions(Options({{"path", OptionValue(out.string())}}));
  Status saved = runSaveStateDict(**run->graph, *run->context);
  ASSERT_TRUE(saved.isOk()) << saved.message();
  ASSERT_TRUE(fs::exists(out));
  const std::string command = std::string(STATE_DICT_PYTHON) + " " + fixture("check_saved_state_dict.py") + " " +
                              out.string() + " " + fixture("resnet18_other.pth") + " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  const int exitCode = ::pclose(pipe);
  EXPECT_EQ(exitCode, 0) << output;
  EXPECT_NE(output.find("ok "), std::string::npos) << output;
}

TEST(SaveStateDict, RefusesAGraphWithoutParameters) {
  Registry registry;
  CapturingDiagnostics diagnostics;
  NullProgress progress;
  PassContext context(registry, diagnostics, progress);
  const fs::path out = fs::path(kFixtures) / "out" / "empty.pth";
  fs::remove(out);
  context.setOptions(Options({{"path", OptionValue(out.string())}}));
  Graph graph;
  Status saved = runSaveStateDict(graph, context);
  ASSERT_FALSE(saved.isOk());
  EXPECT_NE(saved.message().find("no named parameters"), std::string::npos) << saved.message();
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace torchport::torchscript
