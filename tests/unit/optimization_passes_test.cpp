// fold-constants (with plugin-style kernels and the built-in ONNX kernels called directly),
// eliminate-common-subexpressions (scaling, types) and fuse-matmul-add-into-gemm: what the
// golden files cannot express (diagnostics, kernel contracts, timing).
#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../../core/src/kernels/onnx_shape_kernels.h"
#include "../../core/src/passes/passes.h"
#include "torchport/host/core_steps.h"
#include "torchport/host/diagnostics.h"
#include "torchport/op_traits.h"
#include "torchport/text_ir.h"

namespace torchport {
namespace {

class RecordingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel level, std::string_view message) override {
    messages.push_back(std::string(level == LogLevel::Warn ? "warn: " : "note: ") + std::string(message));
  }
  bool mentions(std::string_view text) const {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const std::string& m) { return m.find(text) != std::string::npos; });
  }
  std::string all() const {
    std::string out;
    for (const auto& m : messages) out += m + "\n";
    return out;
  }
  std::vector<std::string> messages;
};

double cpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

std::unique_ptr<Graph> parse(std::string_view text) {
  auto parsed = parseGraph(text, "test");
  EXPECT_TRUE(parsed.hasValue()) << parsed.status().message();
  return parsed.hasValue() ? std::move(parsed).value() : std::make_unique<Graph>();
}

// Kernel in the style a plugin registers for aten ops: scalars come in as rank-0 tensors.
Expected<std::vector<Tensor>> addScalars(const Node&, std::span<const Tensor> inputs) {
  if (inputs.size() != 2) return Status::input("two inputs expected");
  if (inputs[0].dtype() == DType::F64) {
    return std::vector<Tensor>{Tensor::fromVector<double>(DType::F64, {}, {inputs[0].elementAsDouble(0) + inputs[1].elementAsDouble(0)})};
  }
  return std::vector<Tensor>{Tensor::scalarI64(inputs[0].elementAsInt(0) + inputs[1].elementAsInt(0))};
}

class OptimizationPassesTest : public ::testing::Test {
 protected:
  OptimizationPassesTest() : context_(registry_, diagnostics_, progress_) {
    EXPECT_TRUE(registerCoreSteps(registry_).isOk());
  }

  Status fold(Graph& g, int64_t maxElements = int64_t{1} << 20) {
    context_.resetChanged();
    context_.setOptions(Options({{"max_elements", OptionValue(OptionValue::Data(maxElements))}}));
    return runFoldConstants(g, context_);
  }

  void addKernel(std::string op, KernelFn fn) {
    KernelEntry entry;
    entry.opKind = std::move(op);
    entry.summary = "test kernel";
    entry.evaluate = std::move(fn);
    registry_.setCurrentOwner("testplugin");
    ASSERT_TRUE(registry_.addKernel(std::move(entry)).isOk());
  }

  Registry registry_;
  RecordingDiagnostics diagnostics_;
  NullProgress progress_;
  PassContext context_;
};

// ---------------------------------------------------------------------------------------
// fold-constants
// ---------------------------------------------------------------------------------------
TEST_F(OptimizationPassesTest, CoreRegistersTheOnnxKernels) {
  for (std::string_view op : {"onnx::Shape", "onnx::Gather", "onnx::Concat", "onnx::Unsqueeze", "onnx::Squeeze",
                              "onnx::Slice", "onnx::Cast", "onnx::Reshape", "onnx::Add", "onnx::Sub", "onnx::Mul",
                              "onnx::Div", "onnx::Range", "onnx::ConstantOfShape", "onnx::Expand", "onnx::Identity",
                              "onnx::Equal", "onnx::Where", "onnx::Transpose"}) {
    const KernelEntry* kernel = registry_.findKernel(op);
    ASSERT_NE(kernel, nullptr) << op;
    EXPECT_EQ(kernel->plugin, "core");
    EXPECT_FALSE(kernel->summary.empty());
  }
  const PassEntry* fold = registry_.findPass("fold-constants");
  ASSERT_NE(fold, nullptr);
  ASSERT_EQ(fold->info.options.size(), 1u);
  EXPECT_EQ(fold->info.options[0].name, "max_elements");
  EXPECT_EQ(fold->info.options[0].defaultValue.asInt(), 1048576);
  for (std::string_view pass : {"eliminate-common-subexpressions", "fuse-conv-batchnorm", "fuse-matmul-add-into-gemm"}) {
    const PassEntry* entry = registry_.findPass(pass);
    ASSERT_NE(entry, nullptr) << pass;
    EXPECT_NE(entry->info.description.find("Before"), std::string::npos) << pass;
  }
}

TEST_F(OptimizationPassesTest, ScalarConstantsFoldThroughPluginKernelsIntoScalarConstants) {
  addKernel("test::add", addScalars);
  auto g = parse(R"(graph @main() -> (%n: int, %f: float, %t: bool) {
  %a = const int 2
  %b = const int 40
  %n: int = test::add(%a, %b)
  %x = const float 0.25
  %f: float = test::add(%x, %x)
  %yes = const bool true
  %no = const bool false
  %t: bool = test::add(%yes, %no)
}
)");
  ASSERT_TRUE(fold(*g).isOk());
  EXPECT_TRUE(context_.changed());
  ASSERT_TRUE(runEliminateDeadCode(*g, context_).isOk());
  EXPECT_EQ(printGraph(*g), R"(graph @main() -> (%n: int, %f: float, %t: bool) {
  %n = const int 42
  %f = const float 0.5
  %t = const bool true
}
)");
}

TEST_F(OptimizationPassesTest, StringConstantsAndElidedTensorsDoNotReachKernels) {
  int calls = 0;
  addKernel("test::any", [&calls](const Node&, std::span<const Tensor> inputs) -> Expected<std::vector<Tensor>> {
    ++calls;
    return std::vector<Tensor>{inputs.empty() ? Tensor::scalarI64(0) : inputs[0]};
  });
  auto g = parse(R"(graph @main() -> (%a: int, %b: f32[2]) {
  %s = const str "hello"
  %a: int = test::any(%s)
  %w = const f32[2] @"w"
  %b: f32[2] = test::any(%w)
}
)");
  ASSERT_TRUE(fold(*g).isOk());
  EXPECT_EQ(calls, 0);
  EXPECT_FALSE(context_.changed());
}

TEST_F(OptimizationPassesTest, MisbehavingKernelsAreWarningsNamingThePluginAndNode) {
  addKernel("test::two", [](const Node&, std::span<const Tensor>) -> Expected<std::vector<Tensor>> {
    return std::vector<Tensor>{Tensor::scalarI64(1), Tensor::scalarI64(2)};
  });
  addKernel("test::fails", [](const Node&, std::span<const Tensor>) -> Expected<std::vector<Tensor>> {
    return Status::input("index 7 is out of range");
  });
  addKernel("test::nodata", [](const Node&, std::span<const Tensor>) -> Expected<std::vector<Tensor>> {
    return std::vector<Tensor>{Tensor(DType::F32, {2}, nullptr)};
  });
  addKernel("test::refuses", [](const Node&, std::span<const Tensor>) -> Expected<std::vector<Tensor>> {
    return Status::unsupported("dtype c64 is not supported");
  });
  auto g = parse(R"(graph @main() -> (%a: i64[], %b: i64[], %c: f32[2], %d: i64[]) {
  %k = const i64[] dense<[1]>
  %a: i64[] = test::two(%k)  # layer.a
  %b: i64[] = test::fails(%k)  # layer.b
  %c: f32[2] = test::nodata(%k)
  %d: i64[] = test::refuses(%k)
}
)");
  const std::string before = printGraph(*g);
  ASSERT_TRUE(fold(*g).isOk());
  EXPECT_EQ(printGraph(*g), before);
  EXPECT_TRUE(diagnostics_.mentions("warn: fold-constants: not folding test::two at layer.a")) << diagnostics_.all();
  EXPECT_TRUE(diagnostics_.mentions("testplugin kernel returned 2 results for 1 outputs")) << diagnostics_.all();
  EXPECT_TRUE(diagnostics_.mentions("index 7 is out of range")) << diagnostics_.all();
  EXPECT_TRUE(diagnostics_.mentions("without (enough) data")) << diagnostics_.all();
  EXPECT_TRUE(diagnostics_.mentions("note: fold-constants: not folding test::refuses")) << diagnostics_.all();
}

TEST_F(OptimizationPassesTest, BuiltinKernelsRefuseHugeResultsBeforeAllocating) {
  auto g = parse(R"(graph @main() -> (%e, %c, %r) {
  %v = const i64[1] dense<[5]>
  %shape = const i64[3] dense<[100000, 100000, 100000]>
  %e = onnx::Expand(%v, %shape)
  %c = onnx::ConstantOfShape(%shape)
  %zero = const i64[] dense<[0]>
  %max = const i64[] dense<[9223372036854775807]>
  %one = const i64[] dense<[1]>
  %r = onnx::Range(%zero, %max, %one)
}
)");
  const double start = cpuSeconds();
  ASSERT_TRUE(fold(*g, std::numeric_limits<int64_t>::max()).isOk());
  EXPECT_LT(cpuSeconds() - start, 1.0);
  EXPECT_FALSE(context_.changed());
  EXPECT_TRUE(diagnostics_.mentions("more than 67108864 elements")) << diagnostics_.all();
}

TEST_F(OptimizationPassesTest, KernelsValidateTheirInputs) {
  struct Bad {
    const char* text;
    const char* error;
  };
  const Bad cases[] = {
      {R"(graph @main() -> (%y) {
  %d = const i64[2] dense<[1, 2]>
  %s = const i64[2] dense<[-1, -1]>
  %y = onnx::Reshape(%d, %s)
}
)", "more than one -1"},
      {R"(graph @main() -> (%y) {
  %d = const i64[2] dense<[1, 2]>
  %s = const i64[1] dense<[3]>
  %y = onnx::Reshape(%d, %s)
}
)", "cannot reshape"},
      {R"(graph @main() -> (%y) {
  %d = const i64[2] dense<[1, 2]>
  %a = const i64[1] dense<[0]>
  %y = onnx::Squeeze(%d, %a)
}
)", "its size is not 1"},
      {R"(graph @main() -> (%y) {
  %a = const i64[2] dense<[1, 2]>
  %b = const i64[3] dense<[1, 2, 3]>
  %y = onnx::Add(%a, %b)
}
)", "cannot be broadcast"},
      {R"(graph @main() -> (%y) {
  %a = const i64[2] dense<[1, 2]>
  %b = const i32[2] dense<[1, 2]>
  %y = onnx::Add(%a, %b)
}
)", "different dtypes"},
      {R"(graph @main() -> (%y) {
  %d = const i64[2] dense<[1, 2]>
  %s = const i64[1] dense<[0]>
  %e = const i64[1] dense<[2]>
  %a = const i64[1] dense<[0]>
  %st = const i64[1] dense<[0]>
  %y = onnx::Slice(%d, %s, %e, %a, %st)
}
)", "step 0"},
      {R"(graph @main() -> (%y) {
  %d = const i64[2] dense<[1, 2]>
  %y = onnx::Concat(%d)
}
)", "attribute `axis` is required"},
      {R"(graph @main() -> (%y) {
  %d = const i64[2,2] dense<[1, 2, 3, 4]>
  %y = onnx::Transpose(%d) {perm=[0,0]}
}
)", "not a permutation"},
  };
  for (const Bad& bad : cases) {
    diagnostics_.messages.clear();
    auto g = parse(bad.text);
    ASSERT_TRUE(fold(*g).isOk());
    EXPECT_FALSE(context_.changed()) << bad.text;
    EXPECT_TRUE(diagnostics_.mentions(bad.error)) << bad.text << diagnostics_.all();
  }
}

// Slice corner cases compared with Python's slicing semantics, which ONNX follows.
TEST_F(OptimizationPassesTest, SliceFollowsPythonSlicing) {
  const Tensor data = Tensor::fromVector<int64_t>(DType::I64, {5}, {0, 1, 2, 3, 4});
  struct SliceCase {
    int64_t start, end, step;
    std::vector<int64_t> expected;
  };
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  const SliceCase cases[] = {
      {0, kMax, 1, {0, 1, 2, 3, 4}},  {-1, kMin, -1, {4, 3, 2, 1, 0}}, {1, 4, 2, {1, 3}},
      {4, 0, -3, {4, 1}},             {-100, 100, 1, {0, 1, 2, 3, 4}}, {3, 3, 1, {}},
      {10, -10, -1, {4, 3, 2, 1, 0}}, {0, 5, kMax, {0}},               {4, -6, kMin, {4}},
      {-2, -1, 1, {3}},               {2, 0, 1, {}},
  };
  Graph g;
  Node* node = g.appendNode("onnx::Slice", {}, 1);
  const KernelEntry* kernel = registry_.findKernel("onnx::Slice");
  ASSERT_NE(kernel, nullptr);
  for (const SliceCase& c : cases) {
    const std::vector<Tensor> inputs = {data, Tensor::fromVector<int64_t>(DType::I64, {1}, {c.start}),
                                        Tensor::fromVector<int64_t>(DType::I64, {1}, {c.end}),
                                        Tensor::fromVector<int64_t>(DType::I64, {1}, {0}),
                                        Tensor::fromVector<int64_t>(DType::I64, {1}, {c.step})};
    auto result = kernel->evaluate(*node, inputs);
    ASSERT_TRUE(result.hasValue()) << result.status().message();
    const Tensor& out = result->front();
    ASSERT_EQ(out.shape(), std::vector<int64_t>{static_cast<int64_t>(c.expected.size())})
        << c.start << ":" << c.end << ":" << c.step;
    for (size_t i = 0; i < c.expected.size(); ++i) EXPECT_EQ(out.elementAsInt(static_cast<int64_t>(i)), c.expected[i]);
  }
}

TEST_F(OptimizationPassesTest, FoldedSymbolicShapeChainKeepsTheRuntimePart) {
  // An absent optional input (const none) reaches kernels as an undefined tensor.
  auto g = parse(R"(graph @main(%x: f32[batch,3,4]) -> (%y: i64[2]) {
  %s: i64[2] = onnx::Shape(%x) {start=1}
  %none = const none
  %y: i64[2] = onnx::Squeeze(%s, %none)
}
)");
  ASSERT_TRUE(fold(*g).isOk());
  ASSERT_TRUE(runEliminateDeadCode(*g, context_).isOk());
  EXPECT_EQ(printGraph(*g), R"(graph @main(%x: f32[batch,3,4]) -> (%y: i64[2]) {
  %y = const i64[2] dense<[3, 4]>
}
)");
}

// Random small inputs and attributes for every built-in kernel: no crash, no out-of-bounds
// access (the sanitizer build checks), and every success returns complete tensors.
TEST_F(OptimizationPassesTest, BuiltinKernelsSurviveRandomInputs) {
  std::mt19937 rng(7);
  auto pick = [&rng](int64_t low, int64_t high) { return std::uniform_int_distribution<int64_t>(low, high)(rng); };
  const DType dtypes[] = {DType::I64, DType::I32, DType::F32, DType::Bool, DType::F16, DType::U8};
  auto randomTensor = [&]() {
    const DType dtype = dtypes[pick(0, 5)];
    std::vector<int64_t> shape(static_cast<size_t>(pick(0, 3)));
    for (int64_t& d : shape) d = pick(0, 3);
    const int64_t count = Tensor(dtype, shape, nullptr).numel();
    // Small values (shapes, indices, axes) so that valid inputs stay small.
    std::vector<int64_t> values(static_cast<size_t>(count));
    for (int64_t& v : values) v = dtype == DType::Bool ? pick(0, 1) : pick(dtype == DType::U8 ? 0 : -3, 5);
    switch (dtype) {
      case DType::I64: return Tensor::fromVector<int64_t>(dtype, shape, values);
      case DType::I32: return Tensor::fromVector<int32_t>(dtype, shape, std::vector<int32_t>(values.begin(), values.end()));
      case DType::F32: return Tensor::fromVector<float>(dtype, shape, std::vector<float>(values.begin(), values.end()));
      case DType::F16: {
        std::vector<uint16_t> bits;
        for (int64_t v : values) bits.push_back(floatToFloat16Bits(static_cast<float>(v)));
        return Tensor::fromVector<uint16_t>(dtype, shape, bits);
      }
      default: return Tensor::fromVector<uint8_t>(dtype, shape, std::vector<uint8_t>(values.begin(), values.end()));
    }
  };
  size_t successes = 0;
  for (const BuiltinKernel& kernel : onnxShapeKernels()) {
    for (int iteration = 0; iteration < 300; ++iteration) {
      Graph g;
      Node* node = g.appendNode(kernel.opKind, {}, 1);
      if (pick(0, 1)) node->setAttribute("axis", pick(-4, 4));
      if (pick(0, 2) == 0) node->setAttribute("start", pick(-5, 5));
      if (pick(0, 2) == 0) node->setAttribute("end", pick(-5, 5));
      if (pick(0, 2) == 0) node->setAttribute("to", pick(0, 17));
      if (pick(0, 2) == 0) node->setAttribute("fmod", pick(0, 1));
      if (pick(0, 2) == 0) node->setAttribute("allowzero", pick(0, 1));
      if (pick(0, 3) == 0) {
        std::vector<int64_t> values(static_cast<size_t>(pick(0, 4)));
        for (int64_t& v : values) v = pick(-4, 4);
        node->setAttribute(pick(0, 1) ? "perm" : "axes", values);
      }
      if (pick(0, 3) == 0) node->setAttribute("value", randomTensor());
      std::vector<Tensor> inputs(static_cast<size_t>(pick(0, 5)));
      for (Tensor& input : inputs) {
        if (pick(0, 6) != 0) input = randomTensor();  // else absent (none)
      }
      auto result = kernel.evaluate(*node, inputs);
      if (!result.hasValue()) {
        EXPECT_TRUE(result.status().kind() == ErrorKind::Input || result.status().kind() == ErrorKind::Unsupported)
            << kernel.opKind << ": " << result.status().message();
        EXPECT_NE(result.status().message().find(std::string(kernel.opKind)), std::string::npos)
            << "errors name the node: " << result.status().message();
        continue;
      }
      ++successes;
      for (const Tensor& t : *result) {
        ASSERT_TRUE(t.hasData()) << kernel.opKind;
        ASSERT_GE(t.bytes().size(), t.nbytes()) << kernel.opKind;
      }
    }
  }
  EXPECT_GT(successes, 500u) << "the random inputs should often be valid";
}

// ---------------------------------------------------------------------------------------
// eliminate-common-subexpressions
// ---------------------------------------------------------------------------------------
TEST_F(OptimizationPassesTest, CommonSubexpressionsScaleLinearly) {
  // A chain of n pairs of equal expressions: constants of one dtype and shape whose contents
  // differ from pair to pair (so only content hashing tells them apart), and the Mul nodes
  // reading them. A pairwise comparison, or one hash bucket per dtype and shape, would take
  // minutes. (Each value has few users: removing a use from a long use list is linear in
  // the IR, which is not what this test measures.)
#if defined(__SANITIZE_ADDRESS__)
  constexpr size_t kPairs = 20'000;
#else
  constexpr size_t kPairs = 200'000;
#endif
  Graph g;
  Value* last = g.addInput(Type::tensor(DType::F32, std::vector<int64_t>{4}), "x");
  for (size_t i = 0; i < kPairs; ++i) {
    const auto v = static_cast<float>(i);
    Node* c = g.createConstant(Tensor::fromVector<float>(DType::F32, {4}, {v, 1.f, 2.f, 3.f}));
    Node* d = g.createConstant(Tensor::fromVector<float>(DType::F32, {4}, {v, 1.f, 2.f, 3.f}));
    Node* m = g.appendNode("onnx::Mul", std::vector<Value*>{last, c->output()});
    Node* n = g.appendNode("onnx::Mul", std::vector<Value*>{last, d->output()});
    last = g.appendNode("onnx::Add", std::vector<Value*>{m->output(), n->output()})->output();
  }
  g.addOutput(last);
  const double start = cpuSeconds();
  context_.resetChanged();
  ASSERT_TRUE(runEliminateCommonSubexpressions(g, context_).isOk());
  const double seconds = cpuSeconds() - start;
  EXPECT_TRUE(context_.changed());
  EXPECT_EQ(g.numNodes(), 3 * kPairs);
  EXPECT_EQ(last->producer()->input(0), last->producer()->input(1));
  EXPECT_TRUE(g.verify().isOk());
  EXPECT_LT(seconds, 10.0);
}

TEST_F(OptimizationPassesTest, MergedNodesAdoptAKnownType) {
  auto g = parse(R"(graph @main(%x: f32[2]) -> (%y: f32[2]) {
  %a = onnx::Relu(%x)
  %b: f32[2] = onnx::Relu(%x)
  %y: f32[2] = onnx::Add(%a, %b)
}
)");
  context_.resetChanged();
  ASSERT_TRUE(runEliminateCommonSubexpressions(*g, context_).isOk());
  EXPECT_EQ(printGraph(*g), R"(graph @main(%x: f32[2]) -> (%y: f32[2]) {
  %a: f32[2] = onnx::Relu(%x)
  %y: f32[2] = onnx::Add(%a, %a)
}
)");
}

TEST_F(OptimizationPassesTest, NodesWithDifferentKnownTypesAreNotMerged) {
  auto g = parse(R"(graph @main(%x: f32[*]) -> (%y: f32[*]) {
  %a: f32[2] = onnx::Relu(%x)
  %b: f32[3] = onnx::Relu(%x)
  %y: f32[*] = onnx::Add(%a, %b)
}
)");
  const std::string before = printGraph(*g);
  ASSERT_TRUE(runEliminateCommonSubexpressions(*g, context_).isOk());
  EXPECT_EQ(printGraph(*g), before);
}

TEST_F(OptimizationPassesTest, MergingTwoGraphOutputsIsADebugNote) {
  auto g = parse(R"(graph @main(%x: f32[2]) -> (%a: f32[2], %b: f32[2]) {
  %a: f32[2] = onnx::Relu(%x)
  %b: f32[2] = onnx::Relu(%x)
}
)");
  context_.resetChanged();
  ASSERT_TRUE(runEliminateCommonSubexpressions(*g, context_).isOk());
  EXPECT_FALSE(context_.changed());
  EXPECT_TRUE(diagnostics_.mentions("merge two graph outputs")) << diagnostics_.all();
}

// ---------------------------------------------------------------------------------------
// fuse-matmul-add-into-gemm
// ---------------------------------------------------------------------------------------
TEST_F(OptimizationPassesTest, GemmFusionInsideABodyUsesOuterWeights) {
  auto g = parse(R"(graph @main(%cond: bool, %x: f32[2,4]) -> (%y: f32[2,3]) {
  %w = const f32[4,3] @"w"
  %b = const f32[3] @"b"
  %y: f32[2,3] = onnx::If(%cond) {then_branch=graph @then() -> (%t: f32[2,3]) {
    %m: f32[2,3] = onnx::MatMul(%x, %w)
    %t: f32[2,3] = onnx::Add(%m, %b)
  }, else_branch=graph @else() -> (%e: f32[2,3]) {
    %e: f32[2,3] = onnx::MatMul(%x, %w)
  }}
}
)");
  context_.resetChanged();
  ASSERT_TRUE(runFuseMatmulAddIntoGemm(*g, context_).isOk());
  EXPECT_TRUE(context_.changed());
  EXPECT_TRUE(g->verify().isOk());
  EXPECT_EQ(printGraph(*g), R"(graph @main(%cond: bool, %x: f32[2,4]) -> (%y: f32[2,3]) {
  %w = const f32[4,3] @"w"
  %b = const f32[3] @"b"
  %y: f32[2,3] = onnx::If(%cond) {then_branch=graph @then() -> (%t: f32[2,3]) {
    %t: f32[2,3] = onnx::Gemm(%x, %w, %b)
  }, else_branch=graph @else() -> (%e: f32[2,3]) {
    %e: f32[2,3] = onnx::MatMul(%x, %w)
  }}
}
)");
}

}  // namespace
}  // namespace torchport
