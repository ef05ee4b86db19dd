// Core passes (eliminate-dead-code, eliminate-identity), op traits, and the core steps
// (tpir importer, save-ir exporter). Every rewrite has cases where it must NOT fire.
#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "../../core/src/passes/passes.h"
#include "torchport/files.h"
#include "torchport/host/core_steps.h"
#include "torchport/host/diagnostics.h"
#include "torchport/op_traits.h"
#include "torchport/text_ir.h"

namespace torchport {
namespace {

// Sanitizers make every allocation several times slower: scale the large-graph tests down
// (they guard against quadratic behaviour, which a smaller graph still exposes).
#if defined(__SANITIZE_ADDRESS__)
#define TP_SANITIZED_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TP_SANITIZED_BUILD 1
#endif
#endif
#ifdef TP_SANITIZED_BUILD
constexpr size_t kLargeGraphNodes = 100'000;
#else
constexpr size_t kLargeGraphNodes = 1'000'000;
#endif

// Process CPU seconds: other processes on a busy machine do not count.
double cpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

class QuietDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel, std::string_view message) override { messages.emplace_back(message); }
  std::vector<std::string> messages;
};

Type f32(std::vector<int64_t> shape) { return Type::tensor(DType::F32, shape); }
std::vector<Value*> in(std::initializer_list<Value*> values) { return values; }

Value* intConstant(Graph& g, int64_t v, Type type = Type::scalar(Type::Kind::Int)) {
  Node* n = g.appendNode(kConstKind, {}, 0);
  n->setAttribute("value", v);
  return n->addOutput(std::move(type));
}

Value* floatConstant(Graph& g, double v) {
  Node* n = g.appendNode(kConstKind, {}, 0);
  n->setAttribute("value", v);
  return n->addOutput(Type::scalar(Type::Kind::Float));
}

Value* noneConstant(Graph& g) {
  Node* n = g.appendNode(kConstKind, {}, 0);
  return n->addOutput(Type::scalar(Type::Kind::None));
}

std::vector<std::string> kinds(const Graph& g) {
  std::vector<std::string> out;
  for (Node* n : g.nodes()) out.push_back(n->kind());
  return out;
}

class CorePassesTest : public ::testing::Test {
 protected:
  CorePassesTest() : context_(registry_, diagnostics_, progress_) {}

  Status dce(Graph& g) {
    context_.resetChanged();
    return runEliminateDeadCode(g, context_);
  }
  Status identity(Graph& g) {
    context_.resetChanged();
    return runEliminateIdentity(g, context_);
  }

  Registry registry_;
  QuietDiagnostics diagnostics_;
  NullProgress progress_;
  PassContext context_;
};

// ---------------------------------------------------------------------------------------
// eliminate-dead-code
// ---------------------------------------------------------------------------------------
TEST_F(CorePassesTest, DeadCodeRemovesUnusedPureChains) {
  Graph g;
  Value* x = g.addInput(f32({4}), "x");
  Value* unusedInput = g.addInput(f32({4}), "unused_input");
  Node* c = g.createConstant(Tensor::fromVector<float>(DType::F32, {4}, {1, 2, 3, 4}));
  Node* mul = g.appendNode("aten::mul", in({x, c->output()}));
  g.appendNode("aten::relu", in({mul->output()}));
  g.appendNode("aten::rand", {}, 1);  // nondeterministic but effect-free: removable
  Node* y = g.appendNode("aten::neg", in({x}));
  g.addOutput(y->output());

  ASSERT_TRUE(dce(g).isOk());
  EXPECT_TRUE(context_.changed());
  EXPECT_EQ(kinds(g), (std::vector<std::string>{"aten::neg"}));
  EXPECT_EQ(g.inputs().size(), 2u);  // graph inputs stay, used or not
  EXPECT_EQ(g.inputs()[1], unusedInput);
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();

  ASSERT_TRUE(dce(g).isOk());
  EXPECT_FALSE(context_.changed());  // nothing left to do
}

TEST_F(CorePassesTest, DeadCodeKeepsSideEffectsAndOutputs) {
  Graph g;
  Value* x = g.addInput(f32({4}), "x");
  g.appendNode("prim::Print", in({x}), 0);                  // no outputs
  Node* inplace = g.appendNode("aten::add_", in({x, x}));    // unused result, mutates x
  Node* raise = g.appendNode("prim::RaiseException", in({x}), 0);
  Node* setattr = g.appendNode("prim::SetAttr", in({x}), 1);
  Node* schema = g.appendNode("mylib::scatter", in({x}), 1);
  schema->setAttribute("schema", std::string("mylib::scatter(Tensor(a!) self) -> Tensor(a!)"));
  Node* out = g.appendNode("aten::relu", in({x}));
  g.addOutput(out->output());
  g.addOutput(out->output());  // twice

  ASSERT_TRUE(dce(g).isOk());
  EXPECT_FALSE(context_.changed());
  EXPECT_EQ(g.numNodes(), 6u);
  (void)inplace;
  (void)raise;
  (void)setattr;
}

TEST_F(CorePassesTest, DeadCodeWorksInNestedGraphsAndKeepsReturnedCaptures) {
  Graph g;
  Value* x = g.addInput(f32({4}), "x");
  Value* cond = g.addInput(Type::scalar(Type::Kind::Bool), "cond");
  Node* onlyForDeadInner = g.appendNode("aten::sin", in({x}));
  Node* returned = g.appendNode("aten::cos", in({x}));  // only returned by a branch
  Node* ifNode = g.appendNode("prim::If", in({cond}), 1);
  GraphPtr thenBody = g.createSubgraph("then");
  thenBody->appendNode("aten::exp", in({onlyForDeadInner->output()}));  // dead inside
  Node* live = thenBody->appendNode("aten::neg", in({x}));
  thenBody->addOutput(live->output());
  GraphPtr elseBody = g.createSubgraph("else");
  elseBody->addOutput(returned->output());
  ifNode->setAttribute("then", thenBody);
  ifNode->setAttribute("else", elseBody);
  g.addOutput(ifNode->output());
  // A dead If whose branch raises must stay.
  Node* guard = g.appendNode("prim::If", in({cond}), 1);
  GraphPtr raising = g.createSubgraph("raising");
  raising->appendNode("prim::RaiseException", {}, 0);
  Node* r = raising->appendNode("aten::zeros", {}, 1);
  raising->addOutput(r->output());
  guard->setAttribute("then", raising);
  // A dead pure If goes entirely.
  Node* pureIf = g.appendNode("prim::If", in({cond}), 1);
  GraphPtr pureBody = g.createSubgraph("pure");
  pureBody->addOutput(pureBody->appendNode("aten::ones", {}, 1)->output());
  pureIf->setAttribute("then", pureBody);

  ASSERT_TRUE(dce(g).isOk());
  EXPECT_TRUE(context_.changed());
  EXPECT_EQ(kinds(g), (std::vector<std::string>{"aten::cos", "prim::If", "prim::If"}));
  EXPECT_EQ(kinds(*thenBody), (std::vector<std::string>{"aten::neg"}));
  EXPECT_EQ(kinds(*raising), (std::vector<std::string>{"prim::RaiseException", "aten::zeros"}));
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
}

TEST_F(CorePassesTest, DeadCodeIsLinearOnLargeGraphs) {
  // A fifth of the IR test's size keeps the suite fast; quadratic work would still show.
  const size_t nodes = kLargeGraphNodes / 5;
  Graph g;
  Value* x = g.addInput(f32({1}), "x");
  Value* current = x;
  for (size_t i = 0; i < nodes; ++i) current = g.appendNode("aten::relu", in({current}))->output();
  Node* live = g.appendNode("aten::neg", in({x}));
  g.addOutput(live->output());
  const double start = cpuSeconds();
  EXPECT_EQ(removeDeadNodes(g), nodes);
  EXPECT_EQ(g.numNodes(), 1u);
  EXPECT_LT(cpuSeconds() - start, 30.0) << "dead-code elimination is not linear";
}

// ---------------------------------------------------------------------------------------
// eliminate-identity
// ---------------------------------------------------------------------------------------
// x -> <op>(x, extra...) -> relu -> output; returns the op node.
struct IdentityCase {
  Graph g;
  Value* x;
  Node* op = nullptr;
  Node* user = nullptr;
  explicit IdentityCase(Type xType = Type::tensor(DType::F32, std::vector<int64_t>{2, 3})) {
    x = g.addInput(std::move(xType), "x");
  }
  Node* build(std::string_view kind, std::vector<Value*> extra = {}, Type outType = {}, size_t outputs = 1) {
    std::vector<Value*> inputs{x};
    inputs.insert(inputs.end(), extra.begin(), extra.end());
    op = g.appendNode(kind, inputs, outputs);
    op->output()->setType(outType.isUnknown() ? x->type() : outType);
    user = g.appendNode("aten::relu", in({op->output()}));
    EXPECT_TRUE(g.renameValue(user->output(), "out").isOk());
    g.addOutput(user->output());
    return op;
  }
  bool removed() const { return user->input(0) == x; }
};

TEST_F(CorePassesTest, IdentityRemovesSimpleIdentities) {
  for (const char* kind : {"onnx::Identity", "aten::contiguous", "aten::detach", "aten::clone"}) {
    IdentityCase c;
    c.build(kind);
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed()) << kind;
    EXPECT_TRUE(context_.changed()) << kind;
    EXPECT_EQ(c.g.numNodes(), 1u) << kind;
    EXPECT_TRUE(c.g.verify().isOk()) << c.g.verify().message();
  }
}

TEST_F(CorePassesTest, IdentityRemovesChainsAndWorksInBodies) {
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  Value* cond = g.addInput(Type::scalar(Type::Kind::Bool), "cond");
  Node* a = g.appendNode("onnx::Identity", in({x}));
  Node* b = g.appendNode("onnx::Identity", in({a->output()}));
  Node* ifNode = g.appendNode("prim::If", in({cond}), 1);
  GraphPtr body = g.createSubgraph("then");
  Node* inner = body->appendNode("aten::detach", in({b->output()}));
  Node* use = body->appendNode("aten::neg", in({inner->output()}));
  body->addOutput(use->output());
  ifNode->setAttribute("then", body);
  g.addOutput(ifNode->output());
  ASSERT_TRUE(identity(g).isOk());
  EXPECT_EQ(kinds(g), (std::vector<std::string>{"prim::If"}));
  EXPECT_EQ(kinds(*body), (std::vector<std::string>{"aten::neg"}));
  EXPECT_EQ(use->input(0), x);
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
}

TEST_F(CorePassesTest, IdentityNeverBreaksGraphOutputs) {
  // graph input -> Identity -> graph output: the output name must stay.
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  Node* id = g.appendNode("onnx::Identity", in({x}));
  ASSERT_TRUE(g.renameValue(id->output(), "y").isOk());
  g.addOutput(id->output());
  // Two outputs that would merge.
  Node* relu = g.appendNode("aten::relu", in({x}));
  g.addOutput(relu->output());
  Node* id2 = g.appendNode("onnx::Identity", in({relu->output()}));
  g.addOutput(id2->output());
  ASSERT_TRUE(identity(g).isOk());
  EXPECT_FALSE(context_.changed());
  EXPECT_EQ(g.numNodes(), 3u);
  EXPECT_EQ(g.outputs()[0]->name(), "y");

  // An identity producing a graph output from an intermediate is removed, name kept.
  Graph h;
  Value* hx = h.addInput(f32({2}), "x");
  Node* r = h.appendNode("aten::relu", in({hx}));
  Node* hid = h.appendNode("onnx::Identity", in({r->output()}));
  ASSERT_TRUE(h.renameValue(hid->output(), "y").isOk());
  h.addOutput(hid->output());
  ASSERT_TRUE(identity(h).isOk());
  EXPECT_EQ(kinds(h), (std::vector<std::string>{"aten::relu"}));
  EXPECT_EQ(h.outputs()[0]->name(), "y");
  EXPECT_EQ(h.outputs()[0], r->output());
}

TEST_F(CorePassesTest, IdentityDropoutOnlyInInference) {
  {
    IdentityCase c;
    c.build("aten::dropout", {floatConstant(c.g, 0.5), intConstant(c.g, 0, Type::scalar(Type::Kind::Bool))});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;
    c.build("aten::feature_dropout", {floatConstant(c.g, 0.5), intConstant(c.g, 1, Type::scalar(Type::Kind::Bool))});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed()) << "train=true must stay";
  }
  {
    IdentityCase c;
    Value* train = c.g.addInput(Type::scalar(Type::Kind::Bool), "train");
    c.build("aten::alpha_dropout", {floatConstant(c.g, 0.5), train});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed()) << "a non-constant train flag must stay";
  }
  {
    IdentityCase c;  // ONNX Dropout without training_mode, mask unused
    c.build("onnx::Dropout", {}, {}, 2);
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;  // training_mode = none
    c.build("onnx::Dropout", {floatConstant(c.g, 0.1), noneConstant(c.g)});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;  // mask used
    Node* d = c.build("onnx::Dropout", {}, {}, 2);
    c.g.addOutput(d->output(1));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed()) << "a used mask must stay";
  }
  {
    IdentityCase c;  // training_mode = true
    Node* t = c.g.createConstant(Tensor::fromVector<uint8_t>(DType::Bool, {}, {1}));
    c.build("onnx::Dropout", {floatConstant(c.g, 0.1), t->output()});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
}

TEST_F(CorePassesTest, IdentityCastsOnlyToTheSameDType) {
  {
    IdentityCase c;
    Node* cast = c.build("onnx::Cast");
    cast->setAttribute("to", int64_t{1});  // FLOAT
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;
    Node* cast = c.build("onnx::Cast", {}, Type::tensor(DType::F16, std::vector<int64_t>{2, 3}));
    cast->setAttribute("to", int64_t{10});  // FLOAT16
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c(Type::tensor(DType::Undefined));  // unknown source dtype
    Node* cast = c.build("onnx::Cast", {}, f32({2, 3}));
    cast->setAttribute("to", int64_t{1});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c;  // aten::to(self, ScalarType=6 (float), non_blocking, copy), output type unknown
    c.build("aten::to", {intConstant(c.g, 6), intConstant(c.g, 0, Type::scalar(Type::Kind::Bool)),
                         intConstant(c.g, 0, Type::scalar(Type::Kind::Bool))},
            Type::tensor(DType::Undefined));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;  // aten::to(self, ScalarType=4 (long))
    c.build("aten::to", {intConstant(c.g, 4)}, Type::tensor(DType::Undefined));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
}

TEST_F(CorePassesTest, IdentityReshapeAndTransposeOnlyWhenNothingMoves) {
  {
    IdentityCase c;
    c.build("onnx::Reshape", {intConstant(c.g, 0)}, f32({2, 3}));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;
    c.build("aten::view", {intConstant(c.g, 0)}, f32({3, 2}));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c(Type::tensor(DType::F32, std::vector<Dim>{Dim::symbol("batch"), Dim::known(3)}));
    c.build("aten::reshape", {intConstant(c.g, 0)},
            Type::tensor(DType::F32, std::vector<Dim>{Dim::symbol("batch"), Dim::known(3)}));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed()) << "equal symbolic shapes";
  }
  {
    IdentityCase c(Type::tensor(DType::F32, std::vector<Dim>{Dim(), Dim::known(3)}));
    c.build("aten::reshape", {intConstant(c.g, 0)}, Type::tensor(DType::F32, std::vector<Dim>{Dim(), Dim::known(3)}));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed()) << "unknown dims are not known to be equal";
  }
  {
    IdentityCase c;
    Node* t = c.build("onnx::Transpose");
    t->setAttribute("perm", std::vector<int64_t>{0, 1});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;
    Node* t = c.build("onnx::Transpose", {}, f32({3, 2}));
    t->setAttribute("perm", std::vector<int64_t>{1, 0});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c;  // default perm reverses a rank-2 tensor
    c.build("onnx::Transpose", {}, f32({3, 2}));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c;
    Node* dims = c.g.appendNode("prim::ListConstruct", in({intConstant(c.g, 0), intConstant(c.g, -1)}));
    c.build("aten::permute", {dims->output()});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
}

TEST_F(CorePassesTest, IdentityArithmeticOnlyWithoutBroadcastChanges) {
  {
    IdentityCase c;
    c.build("aten::mul", {floatConstant(c.g, 1.0)});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;  // 1 * x with a tensor of ones on the left
    Node* ones = c.g.createConstant(Tensor::fromVector<float>(DType::F32, {3}, {1, 1, 1}));
    Node* mul = c.g.appendNode("onnx::Mul", in({ones->output(), c.x}));
    mul->output()->setType(c.x->type());
    c.g.addOutput(c.g.appendNode("aten::relu", in({mul->output()}))->output());
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_EQ(c.g.outputs()[0]->producer()->input(0), c.x);
  }
  {
    IdentityCase c(f32({3}));  // x[3] * ones[2,3] broadcasts to [2,3]: not an identity
    Node* ones = c.g.createConstant(Tensor::fromVector<float>(DType::F32, {2, 3}, {1, 1, 1, 1, 1, 1}));
    c.build("onnx::Mul", {ones->output()}, f32({2, 3}));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c(Type::tensor(DType::I64, std::vector<int64_t>{2}));  // int x * 1.0 -> float
    c.build("aten::mul", {floatConstant(c.g, 1.0)}, f32({2}));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c;  // unknown output type
    c.build("aten::mul", {floatConstant(c.g, 1.0)}, Type::tensor(DType::F32));
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c;
    c.build("aten::mul", {floatConstant(c.g, 2.0)});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c;  // x + 0 * alpha
    c.build("aten::add", {intConstant(c.g, 0), intConstant(c.g, 3)});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;  // 0 + alpha * x with alpha 2 is not x
    Value* zero = intConstant(c.g, 0);
    Node* add = c.g.appendNode("aten::add", in({zero, c.x, intConstant(c.g, 2)}));
    add->output()->setType(c.x->type());
    c.g.addOutput(add->output());
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(context_.changed());
  }
  {
    IdentityCase c;
    c.build("onnx::Sub", {c.g.createConstant(Tensor::scalarF32(0.f))->output()});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;  // 0 - x is not x
    Value* zero = c.g.createConstant(Tensor::scalarF32(0.f))->output();
    Node* sub = c.g.appendNode("onnx::Sub", in({zero, c.x}));
    sub->output()->setType(c.x->type());
    c.g.addOutput(sub->output());
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(context_.changed());
  }
  {
    IdentityCase c;
    c.build("aten::div", {floatConstant(c.g, 1.0)});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_TRUE(c.removed());
  }
  {
    IdentityCase c;  // floor division by 1 is floor(x)
    Node* mode = c.g.appendNode(kConstKind, {}, 0);
    mode->setAttribute("value", std::string("floor"));
    c.build("aten::div", {floatConstant(c.g, 1.0), mode->addOutput(Type::scalar(Type::Kind::String))});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
  {
    IdentityCase c;  // elided constant: values unknown
    Node* elided = c.g.appendNode(kConstKind, {}, 0);
    elided->setAttribute("value", Tensor(DType::F32, {}, nullptr));
    c.build("onnx::Mul", {elided->addOutput(f32({}))});
    ASSERT_TRUE(identity(c.g).isOk());
    EXPECT_FALSE(c.removed());
  }
}

TEST_F(CorePassesTest, IdentityKeepsCopiesThatSeparateInPlaceMutation) {
  IdentityCase c;
  Node* clone = c.build("aten::clone", {noneConstant(c.g)});
  c.g.appendNode("aten::add_", in({clone->output(), c.x}));  // mutates the copy
  ASSERT_TRUE(identity(c.g).isOk());
  EXPECT_FALSE(c.removed());
  EXPECT_FALSE(context_.changed());
}

// ---------------------------------------------------------------------------------------
// op traits
// ---------------------------------------------------------------------------------------
TEST(OpTraitsTest, SideEffectsAndNondeterminism) {
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  auto node = [&](std::string_view kind, std::vector<Value*> inputs = {}, size_t outputs = 1) {
    return g.appendNode(kind, inputs, outputs);
  };
  EXPECT_TRUE(hasSideEffects(*node("prim::RaiseException", {}, 0)));
  EXPECT_TRUE(hasSideEffects(*node("prim::Print", {x}, 0)));
  EXPECT_TRUE(hasSideEffects(*node("prim::SetAttr", {x}, 1)));
  EXPECT_TRUE(hasSideEffects(*node("aten::add_", {x, x})));
  EXPECT_TRUE(hasSideEffects(*node("aten::copy_", {x, x})));
  EXPECT_TRUE(hasSideEffects(*node("aten::append", {x, x})));
  EXPECT_TRUE(mutatesInput(*node("aten::__iadd__", {x, x})));
  EXPECT_FALSE(hasSideEffects(*node("aten::__and__", {x, x})));
  EXPECT_FALSE(hasSideEffects(*node("aten::add", {x, x})));
  EXPECT_FALSE(hasSideEffects(*node("prim::Uninitialized")));
  EXPECT_FALSE(hasSideEffects(*node("onnx::Relu", {x})));
  EXPECT_FALSE(hasSideEffects(*node("mylib::custom", {x})));

  EXPECT_TRUE(isNondeterministic(*node("aten::rand")));
  EXPECT_TRUE(isNondeterministic(*node("aten::randn_like", {x})));
  EXPECT_TRUE(isNondeterministic(*node("aten::bernoulli", {x})));
  EXPECT_TRUE(isNondeterministic(*node("onnx::RandomNormal")));
  EXPECT_FALSE(isNondeterministic(*node("aten::relu", {x})));
  Value* p = floatConstant(g, 0.5);
  Value* yes = intConstant(g, 1, Type::scalar(Type::Kind::Bool));
  Value* no = intConstant(g, 0, Type::scalar(Type::Kind::Bool));
  EXPECT_TRUE(isNondeterministic(*node("aten::dropout", {x, p, yes})));
  EXPECT_FALSE(isNondeterministic(*node("aten::dropout", {x, p, no})));
  EXPECT_FALSE(isNondeterministic(*node("aten::dropout", {x, floatConstant(g, 0.0), yes})));  // p = 0
  EXPECT_TRUE(isNondeterministic(*node("aten::dropout", {x, p, g.addInput({}, "train")})));
  EXPECT_FALSE(isNondeterministic(*node("onnx::Dropout", {x})));
  EXPECT_TRUE(isNondeterministic(*node("onnx::Dropout", {x, p, yes})));
  EXPECT_FALSE(isPure(*node("aten::rand")));
  EXPECT_TRUE(isPure(*node("aten::relu", {x})));

  // Control flow inherits from its bodies.
  Node* ifNode = node("prim::If", {yes}, 1);
  GraphPtr body = g.createSubgraph("then");
  ifNode->setAttribute("then", body);
  EXPECT_FALSE(hasSideEffects(*ifNode));
  body->appendNode("aten::randn", {}, 1);
  EXPECT_TRUE(isNondeterministic(*ifNode));
  body->appendNode("prim::RaiseException", {}, 0);
  EXPECT_TRUE(hasSideEffects(*ifNode));
}

TEST(OpTraitsTest, ConstantInspection) {
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  EXPECT_EQ(constantInt(x), std::nullopt);
  EXPECT_EQ(constantProducer(x), nullptr);
  EXPECT_EQ(constantInt(intConstant(g, 5)), 5);
  EXPECT_EQ(constantBool(intConstant(g, 0, Type::scalar(Type::Kind::Bool))), false);
  EXPECT_EQ(constantNumber(floatConstant(g, 2.5)), 2.5);
  EXPECT_EQ(constantInt(floatConstant(g, 2.5)), std::nullopt);
  Value* tensor = g.createConstant(Tensor::fromVector<int64_t>(DType::I64, {3}, {4, 5, 6}))->output();
  EXPECT_EQ(constantInts(tensor), (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(constantInt(tensor), std::nullopt);  // not one element
  EXPECT_EQ(constantInt(g.createConstant(Tensor::scalarI64(9))->output()), 9);
  Node* list = g.appendNode("prim::ListConstruct", in({intConstant(g, 1), intConstant(g, 2)}));
  EXPECT_EQ(constantInts(list->output()), (std::vector<int64_t>{1, 2}));
  Node* mixed = g.appendNode("prim::ListConstruct", in({intConstant(g, 1), x}));
  EXPECT_EQ(constantInts(mixed->output()), std::nullopt);
  Value* ones = g.createConstant(Tensor::fromVector<float>(DType::F32, {2}, {1, 1}))->output();
  EXPECT_TRUE(isConstantFilledWith(ones, 1.0));
  EXPECT_FALSE(isConstantFilledWith(ones, 0.0));
  Value* half = g.createConstant(Tensor::fromVector<uint16_t>(DType::F16, {1}, {floatToFloat16Bits(1.0f)}))->output();
  EXPECT_TRUE(isConstantFilledWith(half, 1.0));
  EXPECT_TRUE(isNoneValue(noneConstant(g)));
  EXPECT_FALSE(isNoneValue(x));
}

// ---------------------------------------------------------------------------------------
// core steps: registration, tpir importer, save-ir exporter
// ---------------------------------------------------------------------------------------
class CoreStepsTest : public ::testing::Test {
 protected:
  CoreStepsTest() : context_(registry_, diagnostics_, progress_) {
    dir_ = std::filesystem::temp_directory_path() /
           ("torchport_core_steps_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~CoreStepsTest() override { std::filesystem::remove_all(dir_); }

  static std::span<const std::byte> bytes(std::string_view s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
  }

  Registry registry_;
  QuietDiagnostics diagnostics_;
  NullProgress progress_;
  PassContext context_;
  std::filesystem::path dir_;
};

TEST_F(CoreStepsTest, RegistersTheCoreStepsAsCore) {
  registry_.setCurrentOwner("someone");
  ASSERT_TRUE(registerCoreSteps(registry_).isOk());
  EXPECT_EQ(registry_.currentOwner(), "someone");  // restored
  const PassEntry* dce = registry_.findPass("eliminate-dead-code");
  ASSERT_NE(dce, nullptr);
  EXPECT_EQ(dce->plugin, "core");
  EXPECT_FALSE(dce->info.summary.empty());
  ASSERT_NE(registry_.findPass("eliminate-identity"), nullptr);
  const ImporterEntry* tpir = registry_.findImporter("tpir");
  ASSERT_NE(tpir, nullptr);
  EXPECT_EQ(tpir->plugin, "core");
  const ExporterEntry* saveIr = registry_.findExporter("save-ir");
  ASSERT_NE(saveIr, nullptr);
  EXPECT_EQ(saveIr->info.kind, StepKind::Export);
  ASSERT_EQ(saveIr->info.options.size(), 2u);
  EXPECT_TRUE(saveIr->info.options[0].required);
  EXPECT_EQ(saveIr->info.options[1].defaultValue.asInt(), -1);
  EXPECT_EQ(registry_.findExporterForPath("out/model.tpir"), saveIr);

  // A second registration is a duplicate and leaves the registry as it was.
  EXPECT_FALSE(registerCoreSteps(registry_).isOk());
  EXPECT_NE(registry_.findPass("eliminate-dead-code"), nullptr);
}

TEST_F(CoreStepsTest, SniffsTextualIr) {
  ASSERT_TRUE(registerCoreSteps(registry_).isOk());
  const ImporterEntry* tpir = registry_.findImporter("tpir");
  ASSERT_NE(tpir, nullptr);
  EXPECT_EQ(tpir->sniff(bytes("graph @main() -> () {\n}\n"), "model.txt"), 100);
  EXPECT_EQ(tpir->sniff(bytes("# comment\n// another\n\n  graph  @m(%x: f32[2]) -> (%x) {"), "x"), 100);
  EXPECT_EQ(tpir->sniff(bytes("graphs are nice"), "notes.tpir"), 50);
  EXPECT_EQ(tpir->sniff(bytes("graph main"), "a.bin"), 0);
  EXPECT_EQ(tpir->sniff(bytes("\x08\x07PK"), "model.onnx"), 0);
  EXPECT_EQ(tpir->sniff(bytes(""), "empty"), 0);
  EXPECT_EQ(registry_.sniffImporter(bytes("graph @main() -> () {}"), "m.ir"), tpir);
}

TEST_F(CoreStepsTest, SaveIrWritesWhatTheImporterReadsBack) {
  ASSERT_TRUE(registerCoreSteps(registry_).isOk());
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  Node* w = g.createConstant(Tensor::fromVector<float>(DType::F32, {2}, {0.5f, -1.f}), nullptr, "w");
  Node* mul = g.appendNode("aten::mul", in({x, w->output()}));
  mul->output()->setType(f32({2}));
  ASSERT_TRUE(g.renameValue(mul->output(), "y").isOk());
  g.addOutput(mul->output());

  const ExporterEntry* saveIr = registry_.findExporter("save-ir");
  ASSERT_NE(saveIr, nullptr);
  PassContext context(registry_, diagnostics_, progress_, dir_);
  context.setOptions(Options({{"path", OptionValue(OptionValue::Data(std::string("sub/model.tpir")))},
                              {"elide_above", OptionValue(OptionValue::Data(int64_t{-1}))}}));
  ASSERT_TRUE(saveIr->run(g, context).isOk());
  const auto written = dir_ / "sub" / "model.tpir";
  ASSERT_TRUE(std::filesystem::exists(written));
  auto text = readTextFile(written);
  ASSERT_TRUE(text.hasValue());
  EXPECT_EQ(*text, printGraph(g));

  auto head = readFileHead(written);
  ASSERT_TRUE(head.hasValue());
  const ImporterEntry* importer = registry_.sniffImporter(*head, written);
  ASSERT_NE(importer, nullptr);
  EXPECT_EQ(importer->info.format, "tpir");
  auto imported = importer->import(written, context);
  ASSERT_TRUE(imported.hasValue()) << imported.status().message();
  EXPECT_EQ(printGraph(**imported), printGraph(g));
  EXPECT_TRUE((*imported)->verify().isOk());
}

TEST_F(CoreStepsTest, ImportErrorsNameTheFile) {
  ASSERT_TRUE(registerCoreSteps(registry_).isOk());
  const ImporterEntry* tpir = registry_.findImporter("tpir");
  ASSERT_NE(tpir, nullptr);
  auto missing = tpir->import(dir_ / "missing.tpir", context_);
  ASSERT_FALSE(missing.hasValue());
  EXPECT_NE(missing.status().message().find("missing.tpir"), std::string::npos);
  const auto broken = dir_ / "broken.tpir";
  ASSERT_TRUE(writeFileAtomically(broken, "graph @main( {\n").isOk());
  auto bad = tpir->import(broken, context_);
  ASSERT_FALSE(bad.hasValue());
  EXPECT_EQ(bad.status().kind(), ErrorKind::Input);
  EXPECT_NE(bad.status().message().find("broken.tpir:"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace torchport
