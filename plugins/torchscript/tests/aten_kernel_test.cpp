// The generic aten kernel (aten_kernel.h) on small aten graphs in textual IR: through
// fold-constants with the plugin registered (what folds, what stays, which note or warning
// explains it), and called directly for what fold-constants cannot hand it yet (Tensor[]
// arguments) or filters before (random, in-place, elided data). Ends with a rough timing
// of one evaluation.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "aten_kernel.h"
#include "torchport/host/core_steps.h"
#include "torchport/host/diagnostics.h"
#include "torchport/host/pass_manager.h"
#include "torchport/host/pipeline.h"
#include "torchport/registry.h"
#include "torchport/text_ir.h"
#include "torchscript_importer.h"

namespace torchport::torchscript {
namespace {

class CapturingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel level, std::string_view message) override { messages.emplace_back(level, std::string(message)); }
  bool mentions(std::string_view text, LogLevel level) const {
    return std::any_of(messages.begin(), messages.end(), [&](const auto& entry) {
      return entry.first == level && entry.second.find(text) != std::string::npos;
    });
  }
  std::string text() const {
    std::string all;
    for (const auto& [level, message] : messages) all += message + "\n";
    return all;
  }
  std::vector<std::pair<LogLevel, std::string>> messages;
};

struct Folded {
  std::unique_ptr<Graph> graph;
  std::string ir;
  CapturingDiagnostics diagnostics;
};

Registry& registry() {
  static std::unique_ptr<Registry> instance = [] {
    auto r = std::make_unique<Registry>();
    EXPECT_TRUE(registerCoreSteps(*r).isOk());
    r->setCurrentOwner("torchscript");
    EXPECT_TRUE(registerTorchScriptPlugin(*r).isOk());
    r->setCurrentOwner("core");
    return r;
  }();
  return *instance;
}

std::unique_ptr<Graph> parse(const std::string& text) {
  auto parsed = parseGraph(text, "test");
  EXPECT_TRUE(parsed.hasValue()) << parsed.status().message();
  if (!parsed.hasValue()) return nullptr;
  EXPECT_TRUE(parsed.value()->verify().isOk());
  return std::move(parsed).value();
}

// Runs `pipeline` (fold-constants by default) on `text`.
std::unique_ptr<Folded> fold(const std::string& text, const std::string& pipeline = "fold-constants,eliminate-dead-code") {
  auto folded = std::make_unique<Folded>();
  folded->graph = parse(text);
  if (folded->graph == nullptr) return folded;
  auto steps = parsePipelineText(pipeline);
  EXPECT_TRUE(steps.hasValue()) << steps.status().message();
  EXPECT_TRUE(validateSteps(*steps, registry()).isOk());
  NullProgress progress;
  PassContext context(registry(), folded->diagnostics, progress);
  PassManager manager;
  Status status = manager.run(*folded->graph, *steps, context);
  EXPECT_TRUE(status.isOk()) << status.message();
  folded->ir = printGraph(*folded->graph);
  return folded;
}

// The constant a graph output was folded into (nullptr: not a constant).
const Node* outputConstant(const Graph& graph, std::string_view name) {
  for (const Value* output : graph.outputs()) {
    if (output->name() == name && output->producer() != nullptr && output->producer()->isConstant()) {
      return output->producer();
    }
  }
  return nullptr;
}

std::vector<double> values(const Tensor& tensor) {
  std::vector<double> out;
  for (int64_t i = 0; i < tensor.numel(); ++i) out.push_back(tensor.elementAsDouble(i));
  return out;
}

// Folds `text` and returns output `name`'s tensor constant (checks it is one).
Tensor foldedTensor(const std::string& text, std::string_view name, std::string* log = nullptr) {
  auto folded = fold(text);
  const Node* constant = outputConstant(*folded->graph, name);
  if (log != nullptr) *log = folded->diagnostics.text();
  EXPECT_NE(constant, nullptr) << "%" << name << " was not folded:\n" << folded->ir << folded->diagnostics.text();
  if (constant == nullptr || constant->tensorAttr("value") == nullptr) return {};
  return *constant->tensorAttr("value");
}

// ---------------------------------------------------------------------------------------
// Folding through fold-constants
// ---------------------------------------------------------------------------------------
TEST(AtenKernel, IsRegisteredForTheAtenDomain) {
  const KernelEntry* kernel = registry().findKernel("aten::anything");
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->opKind, "aten::*");
  EXPECT_EQ(kernel->plugin, "torchscript");
  EXPECT_EQ(registry().findKernel("prim::ListConstruct"), nullptr);
}

TEST(AtenKernel, AddWithAlphaFromTheSchemaAttribute) {
  Tensor y = foldedTensor(R"ir(graph @main() -> (%y: f32[2]) {
  %a = const f32[2] dense<[1.0, 2.0]>
  %b = const f32[2] dense<[10.0, 20.0]>
  %alpha = const int 2
  %y: f32[2] = aten::add(%a, %b, %alpha) {schema="aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"}
}
)ir",
                          "y");
  EXPECT_EQ(y.dtype(), DType::F32);
  EXPECT_EQ(values(y), (std::vector<double>{21.0, 42.0}));
}

TEST(AtenKernel, AddWithoutSchemaPicksTheOverloadFromTypes) {
  // Defaults filled in (alpha=1); int + int is aten::add.int, not the Scalar overload.
  auto folded = fold(R"ir(graph @main() -> (%y: f32[2], %n: int, %f: float) {
  %a = const f32[2] dense<[1.0, 2.0]>
  %b = const f32[2] dense<[10.0, 20.0]>
  %y: f32[2] = aten::add(%a, %b)
  %i = const int 3
  %j = const int 4
  %n: int = aten::add(%i, %j)
  %h = const float 0.5
  %f: float = aten::add(%i, %h)
}
)ir");
  EXPECT_EQ(folded->ir, R"ir(graph @main() -> (%y: f32[2], %n: int, %f: float) {
  %y = const f32[2] dense<[11.0, 22.0]>
  %n = const int 7
  %f = const float 3.5
}
)ir") << folded->diagnostics.text();
}

TEST(AtenKernel, MulScalar) {
  Tensor y = foldedTensor(R"ir(graph @main() -> (%y: f32[3]) {
  %a = const f32[3] dense<[1.0, -2.0, 4.0]>
  %s = const float 0.5
  %y: f32[3] = aten::mul(%a, %s) {schema="aten::mul.Scalar(Tensor self, Scalar other) -> Tensor"}
}
)ir",
                          "y");
  EXPECT_EQ(values(y), (std::vector<double>{0.5, -1.0, 2.0}));
}

TEST(AtenKernel, Matmul) {
  Tensor y = foldedTensor(R"ir(graph @main() -> (%y: f32[2,2]) {
  %a = const f32[2,3] dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]>
  %b = const f32[3,2] dense<[1.0, 0.0, 0.0, 1.0, 1.0, 1.0]>
  %y: f32[2,2] = aten::matmul(%a, %b) {schema="aten::matmul(Tensor self, Tensor other) -> Tensor"}
}
)ir",
                          "y");
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(values(y), (std::vector<double>{4.0, 5.0, 10.0, 11.0}));
}

TEST(AtenKernel, SizeLenAndIntArithmeticOnLists) {
  auto folded = fold(R"ir(graph @main() -> (%s: list<int>, %n: int, %e: int, %m: int, %b: bool) {
  %x = const f32[2,3,1] dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]>
  %s: list<int> = aten::size(%x) {schema="aten::size(Tensor self) -> int[]"}
  %n: int = aten::len(%s) {schema="aten::len.t(t[] a) -> int"}
  %one = const int 1
  %e: int = aten::__getitem__(%s, %one) {schema="aten::__getitem__.t(t[](a) list, int idx) -> t(*)"}
  %m: int = aten::mul(%n, %e)
  %b: bool = aten::gt(%m, %e)
}
)ir");
  EXPECT_EQ(folded->ir, R"ir(graph @main() -> (%s: list<int>, %n: int, %e: int, %m: int, %b: bool) {
  %s = const list<int> [2,3,1]
  %n = const int 3
  %e = const int 3
  %m = const int 9
  %b = const bool true
}
)ir") << folded->diagnostics.text();
}

TEST(AtenKernel, ToWithDtype) {
  Tensor y = foldedTensor(R"ir(graph @main() -> (%y: i64[3]) {
  %a = const f32[3] dense<[1.5, -2.5, 3.0]>
  %long = const int 4
  %false = const bool false
  %none = const none
  %y: i64[3] = aten::to(%a, %long, %false, %false, %none) {schema="aten::to.dtype(Tensor(a) self, ScalarType dtype, bool non_blocking=False, bool copy=False, MemoryFormat? memory_format=None) -> Tensor(a)"}
}
)ir",
                          "y");
  EXPECT_EQ(y.dtype(), DType::I64);
  EXPECT_EQ(values(y), (std::vector<double>{1.0, -2.0, 3.0}));
}

TEST(AtenKernel, ArangeAndZeros) {
  auto folded = fold(R"ir(graph @main() -> (%r: i64[4], %z: f32[2,3], %h: f16[2]) {
  %end = const int 4
  %none = const none
  %r: i64[4] = aten::arange(%end, %none, %none, %none, %none)
  %shape = const list<int> [2, 3]
  %z: f32[2,3] = aten::zeros(%shape, %none, %none, %none, %none) {schema="aten::zeros(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor"}
  %two = const list<int> [2]
  %half = const int 5
  %h: f16[2] = aten::zeros(%two, %half, %none, %none, %none)
}
)ir");
  EXPECT_EQ(folded->ir, R"ir(graph @main() -> (%r: i64[4], %z: f32[2,3], %h: f16[2]) {
  %r = const i64[4] dense<[0, 1, 2, 3]>
  %z = const f32[2,3] dense<[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]>
  %h = const f16[2] dense<[0.0, 0.0]>
}
)ir") << folded->diagnostics.text();
}

TEST(AtenKernel, SoftmaxWithDtypeNone) {
  Tensor y = foldedTensor(R"ir(graph @main() -> (%y: f32[2,2]) {
  %a = const f32[2,2] dense<[0.0, 0.0, 1.0, 1.0]>
  %dim = const int -1
  %none = const none
  %y: f32[2,2] = aten::softmax(%a, %dim, %none) {schema="aten::softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor"}
}
)ir",
                          "y");
  EXPECT_EQ(values(y), (std::vector<double>{0.5, 0.5, 0.5, 0.5}));
}

TEST(AtenKernel, TransposeAndViewGiveContiguousCopies) {
  auto folded = fold(R"ir(graph @main() -> (%t: f32[3,2], %v: f32[3,2]) {
  %a = const f32[2,3] dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]>
  %zero = const int 0
  %one = const int 1
  %t: f32[3,2] = aten::transpose(%a, %zero, %one) {schema="aten::transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)"}
  %shape = const list<int> [3, 2]
  %v: f32[3,2] = aten::view(%a, %shape) {schema="aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)"}
}
)ir");
  EXPECT_EQ(folded->ir, R"ir(graph @main() -> (%t: f32[3,2], %v: f32[3,2]) {
  %t = const f32[3,2] dense<[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]>
  %v = const f32[3,2] dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]>
}
)ir") << folded->diagnostics.text();
  // The view owns its bytes: no aliasing of the (erased) input constant.
  const Node* v = outputConstant(*folded->graph, "v");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->tensorAttr("value")->storage()->kind(), Storage::Kind::Owned);
}

TEST(AtenKernel, SeveralReturnsMapToSeveralOutputs) {
  auto folded = fold(R"ir(graph @main() -> (%m: f32[2], %i: i64[2]) {
  %a = const f32[2,3] dense<[1.0, 7.0, 3.0, 9.0, 5.0, 6.0]>
  %one = const int 1
  %false = const bool false
  %m: f32[2], %i: i64[2] = aten::max(%a, %one, %false) {schema="aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)"}
}
)ir");
  EXPECT_EQ(folded->ir, R"ir(graph @main() -> (%m: f32[2], %i: i64[2]) {
  %m = const f32[2] dense<[7.0, 9.0]>
  %i = const i64[2] dense<[1, 0]>
}
)ir") << folded->diagnostics.text();
}

TEST(AtenKernel, FoldsChainsAndEvalDropout) {
  // dropout with train=false is the identity (deterministic despite its random tag).
  auto folded = fold(R"ir(graph @main(%x: f32[2]) -> (%y: f32[2]) {
  %a = const f32[2] dense<[1.0, 4.0]>
  %p = const float 0.5
  %false = const bool false
  %d: f32[2] = aten::dropout(%a, %p, %false) {schema="aten::dropout(Tensor input, float p, bool train) -> Tensor"}
  %s: f32[2] = aten::sqrt(%d)
  %y: f32[2] = aten::add(%x, %s)
}
)ir");
  EXPECT_EQ(folded->ir, R"ir(graph @main(%x: f32[2]) -> (%y: f32[2]) {
  %s = const f32[2] dense<[1.0, 2.0]>
  %y: f32[2] = aten::add(%x, %s)
}
)ir") << folded->diagnostics.text();
}

// ---------------------------------------------------------------------------------------
// Must not fold
// ---------------------------------------------------------------------------------------
TEST(AtenKernel, RandomDropoutInTrainingAndInPlaceStay) {
  const std::string text = R"ir(graph @main() -> (%r: f32[2], %d: f32[2], %i: f32[2]) {
  %shape = const list<int> [2]
  %none = const none
  %r: f32[2] = aten::rand(%shape, %none, %none, %none, %none) {schema="aten::rand(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor"}
  %a = const f32[2] dense<[1.0, 4.0]>
  %p = const float 0.5
  %true = const bool true
  %d: f32[2] = aten::dropout(%a, %p, %true) {schema="aten::dropout(Tensor input, float p, bool train) -> Tensor"}
  %b = const f32[2] dense<[1.0, 4.0]>
  %one = const int 1
  %i: f32[2] = aten::add_(%b, %a, %one) {schema="aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)"}
}
)ir";
  auto folded = fold(text);
  EXPECT_EQ(folded->ir, text) << folded->diagnostics.text();

  // The kernel refuses them too when asked directly (fold-constants filters them first).
  auto graph = parse(text);
  for (const Node* node : graph->nodes()) {
    if (node->isConstant()) continue;
    std::vector<Tensor> inputs;
    for (const Value* input : node->inputs()) {
      const Node* producer = input->producer();
      if (const Tensor* t = producer->tensorAttr("value")) {
        inputs.push_back(*t);
      } else if (const auto* ints = producer->intsAttr("value")) {
        inputs.push_back(Tensor::fromVector<int64_t>(DType::I64, {static_cast<int64_t>(ints->size())}, *ints));
      } else if (auto i = producer->intAttr("value")) {
        inputs.push_back(input->type().kind() == Type::Kind::Bool ? Tensor::fromVector<uint8_t>(DType::Bool, {}, {uint8_t(*i)})
                                                                  : Tensor::scalarI64(*i));
      } else if (auto f = producer->floatAttr("value")) {
        inputs.push_back(Tensor::fromVector<double>(DType::F64, {}, {*f}));
      } else {
        inputs.emplace_back();
      }
    }
    auto result = evaluateAtenNode(*node, inputs);
    ASSERT_FALSE(result.hasValue()) << node->kind();
    EXPECT_EQ(result.status().kind(), ErrorKind::Unsupported) << result.status().message();
  }
}

TEST(AtenKernel, RandomTagIsCheckedOnTheSchemaToo) {
  // op_traits calls dropout with p=0 deterministic whatever the train flag, so fold-constants
  // asks the kernel; the schema's nondeterministic_seeded tag with train=true still refuses.
  auto folded = fold(R"ir(graph @main() -> (%d: f32[2]) {
  %a = const f32[2] dense<[1.0, 4.0]>
  %p = const float 0.0
  %true = const bool true
  %d: f32[2] = aten::dropout(%a, %p, %true) {schema="aten::dropout(Tensor input, float p, bool train) -> Tensor"}
}
)ir");
  EXPECT_EQ(outputConstant(*folded->graph, "d"), nullptr) << folded->ir;
  EXPECT_TRUE(folded->diagnostics.mentions("nondeterministic_seeded", LogLevel::Debug)) << folded->diagnostics.text();
}

TEST(AtenKernel, GlobalStateQueriesStay) {
  // Scripted nn.MultiheadAttention / TransformerEncoderLayer test torch.is_grad_enabled():
  // under the kernel's InferenceMode it says false, but that is this process, not the model.
  const std::string text = R"ir(graph @main() -> (%g: bool, %a: bool) {
  %g: bool = aten::is_grad_enabled() {schema="aten::is_grad_enabled() -> bool"}
  %a: bool = aten::is_autocast_enabled() {schema="aten::is_autocast_enabled() -> bool"}
}
)ir";
  // op_traits lists them as nondeterministic (process state), so fold-constants never asks
  // the kernel; the kernel refuses them too ("reads global state") for other callers.
  auto folded = fold(text);
  EXPECT_EQ(folded->ir, text);
}

TEST(AtenKernel, RefusalsAreNotesAndLibTorchErrorsWarnings) {
  auto folded = fold(R"ir(graph @main() -> (%c: f32[2], %bad: f32[2,2], %parts: list<f32[1]>) {
  %a = const f32[2] dense<[1.0, 4.0]>
  %none = const none
  %c: f32[2] = aten::clamp(%a, %none, %none)
  %x = const f32[2,3] dense<[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]>
  %bad: f32[2,2] = aten::matmul(%x, %x) {schema="aten::matmul(Tensor self, Tensor other) -> Tensor"}
  %one = const int 1
  %zero = const int 0
  %parts: list<f32[1]> = aten::split(%a, %one, %zero) {schema="aten::split.Tensor(Tensor(a -> *) self, int split_size, int dim=0) -> Tensor(a)[]"}
}
)ir");
  EXPECT_EQ(outputConstant(*folded->graph, "c"), nullptr);
  EXPECT_EQ(outputConstant(*folded->graph, "bad"), nullptr);
  EXPECT_EQ(outputConstant(*folded->graph, "parts"), nullptr);
  const CapturingDiagnostics& log = folded->diagnostics;
  EXPECT_TRUE(log.mentions("ambiguous: several overloads of aten::clamp", LogLevel::Debug)) << log.text();
  EXPECT_TRUE(log.mentions("LibTorch's aten::matmul failed", LogLevel::Warn)) << log.text();
  EXPECT_TRUE(log.mentions("aten::split.Tensor: output %parts: a result of type List[Tensor]", LogLevel::Debug))
      << log.text();
}

TEST(AtenKernel, RefusesElidedComplexAndUnknownOverloads) {
  auto graph = parse(R"ir(graph @main() -> (%y: f32[2,3], %z: f32[2]) {
  %w = const f32[2,3] @"w"
  %y: f32[2,3] = aten::neg(%w)
  %z: f32[2] = aten::no_such_op(%w)
}
)ir");
  const Node* neg = graph->outputs()[0]->producer();
  Tensor elided(DType::F32, {2, 3}, nullptr);
  auto result = evaluateAtenNode(*neg, std::span<const Tensor>(&elided, 1));
  ASSERT_FALSE(result.hasValue());
  EXPECT_NE(result.status().message().find("elided"), std::string::npos) << result.status().message();

  Tensor complex = Tensor::zeros(DType::C64, {2, 3});
  result = evaluateAtenNode(*neg, std::span<const Tensor>(&complex, 1));
  ASSERT_FALSE(result.hasValue());
  EXPECT_NE(result.status().message().find("c64"), std::string::npos) << result.status().message();

  const Node* unknown = graph->outputs()[1]->producer();
  Tensor data = Tensor::zeros(DType::F32, {2, 3});
  result = evaluateAtenNode(*unknown, std::span<const Tensor>(&data, 1));
  ASSERT_FALSE(result.hasValue());
  EXPECT_EQ(result.status().kind(), ErrorKind::Unsupported);
  EXPECT_NE(result.status().message().find("no operator"), std::string::npos) << result.status().message();
}

// ---------------------------------------------------------------------------------------
// Tensor[] arguments: read from the prim::ListConstruct (fold-constants does not pass
// lists of tensors to kernels yet, see the report; the kernel handles them already).
// ---------------------------------------------------------------------------------------
TEST(AtenKernel, CatOfAListOfConstants) {
  const std::string text = R"ir(graph @main() -> (%y: f32[3]) {
  %a = const f32[1] dense<[1.0]>
  %b = const f32[2] dense<[2.0, 3.0]>
  %list: list<f32[*]> = prim::ListConstruct(%a, %b)
  %zero = const int 0
  %y: f32[3] = aten::cat(%list, %zero) {schema="aten::cat(Tensor[] tensors, int dim=0) -> Tensor"}
}
)ir";
  auto graph = parse(text);
  const Node* cat = graph->outputs()[0]->producer();
  Tensor inputs[] = {Tensor(), Tensor::scalarI64(0)};
  auto result = evaluateAtenNode(*cat, inputs);
  ASSERT_TRUE(result.hasValue()) << result.status().message();
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ(values(result->front()), (std::vector<double>{1.0, 2.0, 3.0}));

  // Through fold-constants: the list is no constant, so the cat stays (for now).
  auto folded = fold(text);
  EXPECT_EQ(outputConstant(*folded->graph, "y"), nullptr) << folded->ir;
}

// ---------------------------------------------------------------------------------------
// Cost: one small evaluation (overload lookup, conversion, LibTorch call, copy out).
// ---------------------------------------------------------------------------------------
TEST(AtenKernel, OverheadPerNode) {
  for (const bool withSchema : {true, false}) {
    const std::string attribute =
        withSchema ? R"ir( {schema="aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"})ir" : "";
    auto graph = parse(R"ir(graph @main() -> (%y: f32[4]) {
  %a = const f32[4] dense<[1.0, 2.0, 3.0, 4.0]>
  %one = const int 1
  %y: f32[4] = aten::add(%a, %a, %one))ir" + attribute + "\n}\n");
    const Node* add = graph->outputs()[0]->producer();
    Tensor inputs[] = {*add->input(0)->producer()->tensorAttr("value"), *add->input(0)->producer()->tensorAttr("value"),
                       Tensor::scalarI64(1)};
    ASSERT_TRUE(evaluateAtenNode(*add, inputs).hasValue());
    constexpr int kRuns = 2000;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRuns; ++i) ASSERT_TRUE(evaluateAtenNode(*add, inputs).hasValue());
    const double micros =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / kRuns;
    std::printf("aten kernel: aten::add on f32[4] %s schema attribute: %.1f us per node\n",
                withSchema ? "with" : "without", micros);
    EXPECT_LT(micros, 5000.0);  // only catches pathologies (a shared machine)
  }
}

}  // namespace
}  // namespace torchport::torchscript
