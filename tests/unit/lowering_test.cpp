// lowerGraph / findUnsupportedOps / ConversionContext with converters registered in a
// real Registry.
#include <gtest/gtest.h>

#include "torchport/host/diagnostics.h"
#include "torchport/lowering.h"

namespace torchport {
namespace {

class RecordingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel, std::string_view message) override { messages.emplace_back(message); }
  std::vector<std::string> messages;
};

// Converter emitting onnx::<Name> with the same inputs, for test::<name> ops.
ConverterEntry renameConverter(std::string from, std::string to, int minVersion = 0, int maxVersion = 1 << 30) {
  ConverterEntry entry;
  entry.opKind = std::move(from);
  entry.target = "onnx";
  entry.minVersion = minVersion;
  entry.maxVersion = maxVersion;
  entry.summary = "test";
  entry.convert = [to](ConversionContext& ctx) {
    std::vector<Value*> inputs(ctx.node().inputs().begin(), ctx.node().inputs().end());
    Node* out = ctx.emit(to, inputs, ctx.node().numOutputs());
    for (size_t i = 0; i < ctx.node().numOutputs(); ++i) ctx.mapOutput(i, out->output(i));
    return Status::ok();
  };
  return entry;
}

class LoweringTest : public ::testing::Test {
 protected:
  LoweringTest() : context_(registry_, diagnostics_, progress_) {
    registry_.setCurrentOwner("test-plugin");
  }

  Node* add(Graph& g, std::string_view kind, std::vector<Value*> inputs, std::string path = {}) {
    Node* n = g.appendNode(kind, inputs);
    n->setProvenance({std::move(path), ""});
    return n;
  }

  Status lower(Graph& g, int version = 17) {
    LoweringRequest request;
    request.target = "onnx";
    request.version = version;
    return lowerGraph(g, context_, request);
  }

  Registry registry_;
  RecordingDiagnostics diagnostics_;
  NullProgress progress_;
  PassContext context_;
};

TEST_F(LoweringTest, ListsEveryUnsupportedOpAndChangesNothing) {
  ASSERT_TRUE(registry_.addConverter(renameConverter("test::ok", "onnx::Ok")).isOk());
  Graph g;
  Value* x = g.addInput({}, "x");
  Value* v = add(g, "test::ok", {x})->output();
  for (int i = 0; i < 4; ++i) v = add(g, "test::many", {v}, "block" + std::to_string(i))->output();
  v = add(g, "test::many", {v}, "block0")->output();  // repeated path listed once
  v = add(g, "aten::fancy", {v}, "head")->output();
  Node* ifNode = g.appendNode("onnx::If", std::vector<Value*>{v}, 1);
  GraphPtr body = g.createSubgraph("then");
  Node* inner = body->appendNode("test::nested", std::vector<Value*>{v});
  inner->setProvenance({"inside.body", ""});
  body->addOutput(inner->output());
  ifNode->setAttribute("then_branch", body);
  g.addOutput(ifNode->output());
  const size_t before = g.numNodes();

  Status status = lower(g);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Unsupported);
  const std::string& m = status.message();
  EXPECT_NE(m.find("3 op kinds (7 nodes) cannot be converted to onnx (version 17)"), std::string::npos) << m;
  EXPECT_NE(m.find("aten::fancy x1 (at head)"), std::string::npos) << m;
  EXPECT_NE(m.find("test::many x5 (at block0, block1, block2, ...)"), std::string::npos) << m;
  EXPECT_NE(m.find("test::nested x1 (at inside.body)"), std::string::npos) << m;
  EXPECT_EQ(m.find("test::ok"), std::string::npos) << m;
  EXPECT_EQ(m.find("onnx::If"), std::string::npos) << m;  // already in the target domain
  EXPECT_NE(m.find("write a converter in a plugin (see README 'Writing a plugin')"), std::string::npos) << m;
  EXPECT_NE(m.find("YAML `custom-op` step"), std::string::npos) << m;
  EXPECT_EQ(g.numNodes(), before);
  EXPECT_EQ((*g.nodes().begin())->kind(), "test::ok");  // nothing converted
  EXPECT_FALSE(context_.changed());

  LoweringRequest request;
  request.target = "onnx";
  request.version = 17;
  auto ops = findUnsupportedOps(g, registry_, request);
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].kind, "aten::fancy");
  EXPECT_EQ(ops[1].kind, "test::many");
  EXPECT_EQ(ops[1].count, 5u);
  EXPECT_EQ(ops[1].modulePaths, (std::vector<std::string>{"block0", "block1", "block2"}));
}

TEST_F(LoweringTest, ConverterVersionRangesAreHonoured) {
  ASSERT_TRUE(registry_.addConverter(renameConverter("test::old", "onnx::Old", 13, 15)).isOk());
  Graph g;
  Value* x = g.addInput({}, "x");
  g.addOutput(add(g, "test::old", {x})->output());
  Status status = lower(g, 17);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("test::old x1"), std::string::npos) << status.message();
  EXPECT_TRUE(lower(g, 14).isOk());
  EXPECT_EQ((*g.nodes().begin())->kind(), "onnx::Old");
}

TEST_F(LoweringTest, ConvertsNestedBodiesKeepsNamesProvenanceAndConstants) {
  ASSERT_TRUE(registry_.addConverter(renameConverter("aten::relu", "onnx::Relu")).isOk());
  ASSERT_TRUE(registry_.addConverter(renameConverter("aten::neg", "onnx::Neg")).isOk());
  ConverterEntry ifConverter;
  ifConverter.opKind = "prim::If";
  ifConverter.target = "onnx";
  ifConverter.convert = [](ConversionContext& ctx) {
    Node* out = ctx.emit("onnx::If", {ctx.node().input(0)}, ctx.node().numOutputs());
    out->setAttribute("then_branch", ctx.node().graphAttr("then"));
    out->setAttribute("else_branch", ctx.node().graphAttr("else"));
    for (size_t i = 0; i < ctx.node().numOutputs(); ++i) ctx.mapOutput(i, out->output(i));
    return Status::ok();
  };
  ASSERT_TRUE(registry_.addConverter(ifConverter).isOk());
  int onnxConverterCalls = 0;
  ConverterEntry never = renameConverter("onnx::Sigmoid", "onnx::Sigmoid");
  never.convert = [&](ConversionContext&) {
    ++onnxConverterCalls;
    return Status::ok();
  };
  ASSERT_TRUE(registry_.addConverter(never).isOk());

  Graph g;
  Value* x = g.addInput(Type::tensor(DType::F32, std::vector<int64_t>{2}), "x");
  Value* cond = g.addInput(Type::scalar(Type::Kind::Bool), "cond");
  Node* k = g.createConstant(Tensor::scalarF32(1.f), nullptr, "k");
  Node* relu = add(g, "aten::relu", {x}, "features.act");
  relu->setProvenance({"features.act", "m.py:3"});
  relu->output()->setType(Type::tensor(DType::F32, std::vector<int64_t>{2}));
  Node* sig = add(g, "onnx::Sigmoid", {relu->output()});
  Node* ifNode = g.appendNode("prim::If", std::vector<Value*>{cond}, 1);
  GraphPtr thenBody = g.createSubgraph("then");
  Node* neg = thenBody->appendNode("aten::neg", std::vector<Value*>{sig->output()});
  thenBody->addOutput(neg->output());
  GraphPtr elseBody = g.createSubgraph("else");
  elseBody->addOutput(k->output());
  ifNode->setAttribute("then", thenBody);
  ifNode->setAttribute("else", elseBody);
  ASSERT_TRUE(g.renameValue(ifNode->output(), "out").isOk());
  g.addOutput(ifNode->output());

  Status status = lower(g);
  ASSERT_TRUE(status.isOk()) << status.message();
  EXPECT_TRUE(context_.changed());
  EXPECT_EQ(onnxConverterCalls, 0);
  ASSERT_TRUE(g.verify().isOk()) << g.verify().message();
  std::vector<std::string> kinds;
  for (Node* n : g.nodes()) kinds.push_back(n->kind());
  EXPECT_EQ(kinds, (std::vector<std::string>{"prim::Constant", "onnx::Relu", "onnx::Sigmoid", "onnx::If"}));
  Node* newRelu = g.nodeSnapshot()[1];
  EXPECT_EQ(newRelu->provenance().modulePath, "features.act");  // inherited
  EXPECT_EQ(newRelu->output()->type(), Type::tensor(DType::F32, std::vector<int64_t>{2}));  // inherited type
  EXPECT_EQ(g.outputs()[0]->name(), "out");  // graph output name kept
  EXPECT_EQ(g.outputs()[0]->producer()->kind(), "onnx::If");
  GraphPtr loweredThen = g.outputs()[0]->producer()->graphAttr("then_branch");
  ASSERT_NE(loweredThen, nullptr);
  EXPECT_EQ((*loweredThen->nodes().begin())->kind(), "onnx::Neg");
}

TEST_F(LoweringTest, GraphOutputMappedToGraphInputGetsAnIdentity) {
  ConverterEntry passThrough;
  passThrough.opKind = "aten::contiguous";
  passThrough.target = "onnx";
  passThrough.convert = [](ConversionContext& ctx) {
    ctx.mapOutput(0, ctx.node().input(0));
    return Status::ok();
  };
  ASSERT_TRUE(registry_.addConverter(passThrough).isOk());
  Graph g;
  Value* x = g.addInput({}, "x");
  Node* n = add(g, "aten::contiguous", {x});
  ASSERT_TRUE(g.renameValue(n->output(), "y").isOk());
  g.addOutput(n->output());
  ASSERT_TRUE(lower(g).isOk());
  ASSERT_EQ(g.numNodes(), 1u);
  EXPECT_EQ((*g.nodes().begin())->kind(), "onnx::Identity");
  EXPECT_EQ(g.outputs()[0]->name(), "y");
  EXPECT_EQ(g.inputs()[0]->name(), "x");
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
}

TEST_F(LoweringTest, ConverterErrorsNameTheNode) {
  ConverterEntry failing;
  failing.opKind = "aten::pad";
  failing.target = "onnx";
  failing.convert = [](ConversionContext& ctx) { return ctx.unsupported("mode 'circular' is not supported"); };
  ASSERT_TRUE(registry_.addConverter(failing).isOk());
  ConverterEntry invalid;
  invalid.opKind = "aten::bad";
  invalid.target = "onnx";
  invalid.convert = [](ConversionContext& ctx) { return ctx.invalid("expected 2 inputs"); };
  ASSERT_TRUE(registry_.addConverter(invalid).isOk());
  ConverterEntry plain;
  plain.opKind = "aten::plain";
  plain.target = "onnx";
  plain.convert = [](ConversionContext&) { return Status::internal("oops"); };
  ASSERT_TRUE(registry_.addConverter(plain).isOk());

  {
    Graph g;
    Value* x = g.addInput({}, "x");
    g.addOutput(add(g, "aten::pad", {x}, "encoder.pad")->output());
    Status status = lower(g);
    ASSERT_FALSE(status.isOk());
    EXPECT_EQ(status.kind(), ErrorKind::Unsupported);
    EXPECT_NE(status.message().find("cannot convert aten::pad at encoder.pad: mode 'circular'"), std::string::npos)
        << status.message();
  }
  {
    Graph g;
    Value* x = g.addInput({}, "x");
    g.addOutput(add(g, "aten::bad", {x}, "m")->output());
    Status status = lower(g);
    ASSERT_FALSE(status.isOk());
    EXPECT_EQ(status.kind(), ErrorKind::Input);
    EXPECT_NE(status.message().find("aten::bad at m: expected 2 inputs"), std::string::npos) << status.message();
  }
  {
    Graph g;
    Value* x = g.addInput({}, "x");
    g.addOutput(add(g, "aten::plain", {x}, "blk")->output());
    Status status = lower(g);
    ASSERT_FALSE(status.isOk());
    EXPECT_EQ(status.kind(), ErrorKind::Internal);
    EXPECT_NE(status.message().find("converting aten::plain at blk to onnx (version 17): oops"), std::string::npos)
        << status.message();
  }
}

TEST_F(LoweringTest, UnmappedUsedOutputIsAnInternalError) {
  ConverterEntry forgetful;
  forgetful.opKind = "aten::split";
  forgetful.target = "onnx";
  forgetful.convert = [](ConversionContext& ctx) {
    Node* out = ctx.emit("onnx::Split", {ctx.node().input(0)}, 2);
    ctx.mapOutput(0, out->output(0));  // forgets output 1
    return Status::ok();
  };
  ASSERT_TRUE(registry_.addConverter(forgetful).isOk());
  Graph g;
  Value* x = g.addInput({}, "x");
  Node* split = g.appendNode("aten::split", std::vector<Value*>{x}, 2);
  g.addOutput(split->output(1));
  Status status = lower(g);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Internal);
  EXPECT_NE(status.message().find("did not map output #1"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("test-plugin"), std::string::npos) << status.message();
}

TEST_F(LoweringTest, ConversionContextHelpers) {
  Graph g;
  Value* x = g.addInput({}, "x");
  Node* n = add(g, "aten::thing", {x}, "blk.sub");
  n->addOutput();
  Options options;
  ConversionContext ctx(g, *n, 13, options);
  EXPECT_EQ(ctx.targetVersion(), 13);
  Value* k = ctx.constant(Tensor::scalarI64(3));
  ASSERT_NE(k->producer(), nullptr);
  EXPECT_TRUE(k->producer()->isConstant());
  Node* emitted = ctx.emit("onnx::Add", {x, k});
  EXPECT_EQ(emitted->provenance().modulePath, "blk.sub");
  auto order = g.nodeSnapshot();
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[2], n);  // emitted before the converted node
  EXPECT_EQ(ctx.mappedOutput(1), nullptr);
  ctx.mapOutput(1, emitted->output());
  EXPECT_EQ(ctx.mappedOutput(1), emitted->output());
  EXPECT_EQ(ctx.mappedOutput(0), nullptr);
  EXPECT_EQ(ctx.outputMap().size(), 2u);
}

}  // namespace
}  // namespace torchport
