// Graph / Node / Value: construction, use lists, rewiring, names, verification, cloning,
// and the cost model (a million nodes).
#include <gtest/gtest.h>

#include <ctime>

#include "torchport/ir.h"

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

Type f32(std::vector<int64_t> shape) { return Type::tensor(DType::F32, shape); }


// %x -> aten::relu -> aten::neg -> output %out
struct Chain {
  Graph graph;
  Value* x;
  Node* relu;
  Node* neg;
  Chain() {
    x = graph.addInput(f32({2}), "x");
    Value* in[] = {x};
    relu = graph.appendNode("aten::relu", in);
    Value* mid[] = {relu->output()};
    neg = graph.appendNode("aten::neg", mid);
    EXPECT_TRUE(graph.renameValue(neg->output(), "out").isOk());
    graph.addOutput(neg->output());
  }
};

TEST(IrTest, BuildsNodesWithUseLists) {
  Chain c;
  EXPECT_EQ(c.graph.numNodes(), 2u);
  ASSERT_EQ(c.x->uses().size(), 1u);
  EXPECT_EQ(c.x->uses()[0], (Use{c.relu, 0}));
  EXPECT_EQ(c.relu->output()->producer(), c.relu);
  EXPECT_EQ(c.relu->output()->owningGraph(), &c.graph);
  EXPECT_TRUE(c.x->isGraphInput());
  EXPECT_FALSE(c.relu->output()->isGraphOutput());
  EXPECT_TRUE(c.neg->output()->isGraphOutput());
  EXPECT_EQ(c.relu->domain(), "aten");
  EXPECT_EQ(c.relu->opName(), "relu");
  EXPECT_TRUE(c.graph.verify().isOk()) << c.graph.verify().message();
  EXPECT_TRUE(c.graph.isTopologicallySorted());
}

TEST(IrTest, NodeInputEditingKeepsUseIndicesRight) {
  Graph g;
  Value* a = g.addInput({}, "a");
  Value* b = g.addInput({}, "b");
  Value* in[] = {a, b, a};
  Node* n = g.appendNode("aten::cat", in);
  EXPECT_EQ(a->uses().size(), 2u);
  n->removeInput(0);  // now (b, a)
  ASSERT_EQ(a->uses().size(), 1u);
  EXPECT_EQ(a->uses()[0], (Use{n, 1}));
  EXPECT_EQ(b->uses()[0], (Use{n, 0}));
  n->setInput(0, a);  // (a, a)
  EXPECT_FALSE(b->hasUses());
  EXPECT_EQ(a->uses().size(), 2u);
  n->addInput(b);
  EXPECT_EQ(b->uses()[0], (Use{n, 2}));
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
  n->removeAllInputs();
  EXPECT_FALSE(a->hasUses());
  EXPECT_FALSE(b->hasUses());
  EXPECT_TRUE(g.verify().isOk());
}

TEST(IrTest, NamesAreUniqueAcrossNestedGraphs) {
  Graph g;
  Value* x = g.addInput({}, "x");
  EXPECT_EQ(x->name(), "x");
  Value* x1 = g.addInput({}, "x");
  EXPECT_EQ(x1->name(), "x.1");
  EXPECT_EQ(g.uniqueName("x"), "x.2");
  EXPECT_EQ(g.uniqueName("fresh"), "fresh");
  Node* n = g.appendNode("aten::relu", std::vector<Value*>{x});
  EXPECT_FALSE(n->output()->name().empty());

  GraphPtr body = g.createSubgraph("body");
  EXPECT_EQ(body->parent(), &g);
  EXPECT_EQ(&body->root(), &g);
  Value* inner = body->addInput({}, "x");
  EXPECT_EQ(inner->name(), "x.2");  // shared table
  EXPECT_EQ(g.findValue("x.2"), inner);
  EXPECT_EQ(body->findValue("x"), x);
  EXPECT_EQ(g.findValue("nope"), nullptr);
}

TEST(IrTest, EmptyHintsGiveNumbersThatSkipTakenNames) {
  Graph g;
  g.addInput({}, "0");
  Value* v = g.addInput();
  EXPECT_EQ(v->name(), "1");
  Value* w = g.addInput();
  EXPECT_EQ(w->name(), "2");
}

TEST(IrTest, RenameValue) {
  Chain c;
  Value* mid = c.relu->output();
  EXPECT_TRUE(c.graph.renameValue(mid, "mid").isOk());
  EXPECT_EQ(mid->name(), "mid");
  EXPECT_EQ(c.graph.findValue("mid"), mid);
  Status taken = c.graph.renameValue(mid, "x");
  EXPECT_FALSE(taken.isOk());
  EXPECT_NE(taken.message().find("%x"), std::string::npos);
  EXPECT_EQ(mid->name(), "mid");
  EXPECT_FALSE(c.graph.renameValue(mid, "").isOk());
  EXPECT_TRUE(c.graph.verify().isOk()) << c.graph.verify().message();
}

TEST(IrTest, EraseNodeRefusesNeededOutputsAndReleasesNames) {
  Chain c;
  Status refused = c.graph.eraseNode(c.relu);
  ASSERT_FALSE(refused.isOk());
  EXPECT_EQ(refused.kind(), ErrorKind::Internal);
  EXPECT_NE(refused.message().find("aten::neg"), std::string::npos) << refused.message();
  Status output = c.graph.eraseNode(c.neg);
  EXPECT_FALSE(output.isOk());
  EXPECT_NE(output.message().find("graph output"), std::string::npos) << output.message();

  Node* dead = c.graph.appendNode("aten::sin", std::vector<Value*>{c.x});
  ASSERT_TRUE(c.graph.renameValue(dead->output(), "dead").isOk());
  EXPECT_EQ(c.x->uses().size(), 2u);
  ASSERT_TRUE(c.graph.eraseNode(dead).isOk());
  EXPECT_EQ(c.x->uses().size(), 1u);
  EXPECT_EQ(c.graph.findValue("dead"), nullptr);
  EXPECT_EQ(c.graph.uniqueName("dead"), "dead");
  EXPECT_TRUE(c.graph.verify().isOk()) << c.graph.verify().message();
}

TEST(IrTest, InsertAndMoveNodes) {
  Chain c;
  Node* first = c.graph.insertNodeAfter(nullptr, "prim::Constant", {}, 1);
  Node* beforeNeg = c.graph.insertNodeBefore(c.neg, "aten::abs", std::vector<Value*>{c.x});
  Node* afterRelu = c.graph.insertNodeAfter(c.relu, "aten::cos", std::vector<Value*>{c.x});
  auto order = c.graph.nodeSnapshot();
  ASSERT_EQ(order.size(), 5u);
  EXPECT_EQ(order[0], first);
  EXPECT_EQ(order[1], c.relu);
  EXPECT_EQ(order[2], afterRelu);
  EXPECT_EQ(order[3], beforeNeg);
  EXPECT_EQ(order[4], c.neg);
  beforeNeg->moveBefore(c.relu);
  afterRelu->moveAfter(c.neg);
  order = c.graph.nodeSnapshot();
  EXPECT_EQ(order[1], beforeNeg);
  EXPECT_EQ(order[4], afterRelu);
  EXPECT_TRUE(c.graph.isTopologicallySorted());
  c.neg->moveBefore(c.relu);  // user before producer
  EXPECT_FALSE(c.graph.isTopologicallySorted());
}

TEST(IrTest, ConstantsAndAttributes) {
  Graph g;
  Node* k = g.createConstant(Tensor::fromVector<float>(DType::F32, {2}, {1.f, 2.f}), nullptr, "w");
  EXPECT_TRUE(k->isConstant());
  EXPECT_EQ(k->output()->name(), "w");
  EXPECT_EQ(k->output()->type(), f32({2}));
  ASSERT_NE(k->tensorAttr("value"), nullptr);
  EXPECT_EQ(k->tensorAttr("value")->elementAsDouble(1), 2.0);

  Node* n = g.appendNode("onnx::Gemm", std::vector<Value*>{k->output()});
  n->setAttribute("alpha", int64_t{2});
  n->setAttribute("transB", int64_t{1});
  n->setAttribute("alpha", 0.5);  // replaced in place, order kept
  ASSERT_EQ(n->attributes().size(), 2u);
  EXPECT_EQ(n->attributes()[0].first, "alpha");
  EXPECT_EQ(n->floatAttr("alpha"), 0.5);
  EXPECT_EQ(n->floatAttr("transB"), 1.0);  // ints widen
  EXPECT_EQ(n->intAttr("alpha"), std::nullopt);
  EXPECT_EQ(n->stringAttr("alpha"), nullptr);
  EXPECT_TRUE(n->removeAttribute("transB"));
  EXPECT_FALSE(n->removeAttribute("transB"));
  EXPECT_EQ(attributeKind(Attribute(std::vector<int64_t>{1})), AttributeKind::Ints);
  EXPECT_EQ(attributeKindName(AttributeKind::Graph), "graph");
}

TEST(IrTest, DescribeNamesProvenanceOrOutput) {
  Graph g;
  Node* n = g.appendNode("aten::conv2d", {}, 1);
  ASSERT_TRUE(g.renameValue(n->output(), "c").isOk());
  EXPECT_EQ(n->describe(), "aten::conv2d producing %c");
  n->setProvenance({"layer1.0.conv1", "model.py:42"});
  EXPECT_EQ(n->describe(), "aten::conv2d at layer1.0.conv1 (model.py:42)");
}

TEST(IrTest, RemoveOutputsAndInputs) {
  Graph g;
  Value* a = g.addInput({}, "a");
  Node* n = g.appendNode("prim::TupleUnpack", std::vector<Value*>{a}, 3);
  Value* third = n->output(2);
  g.addOutput(n->output(1));
  EXPECT_FALSE(n->removeOutput(1).isOk());  // graph output
  EXPECT_TRUE(n->removeOutput(0).isOk());
  EXPECT_EQ(third->producerIndex(), 1u);
  EXPECT_FALSE(g.removeInput(0).isOk());  // used
  Value* unused = g.addInput({}, "unused");
  EXPECT_TRUE(g.removeInput(1).isOk());
  (void)unused;
  EXPECT_EQ(g.findValue("unused"), nullptr);
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
}

// ---------------------------------------------------------------------------------------
// replaceAllUsesWith
// ---------------------------------------------------------------------------------------
TEST(IrTest, ReplaceAllUsesWithMovesUsesAndKeepsOutputNames) {
  Chain c;
  Node* abs = c.graph.insertNodeBefore(c.neg, "aten::abs", std::vector<Value*>{c.relu->output()});
  Value* replacement = abs->output();
  Value* old = c.neg->output();
  Node* user = c.graph.appendNode("aten::exp", std::vector<Value*>{old});
  ASSERT_TRUE(c.graph.replaceAllUsesWith(old, replacement).isOk());
  EXPECT_EQ(user->input(0), replacement);
  EXPECT_FALSE(old->hasUses());
  EXPECT_FALSE(old->isGraphOutput());
  EXPECT_EQ(c.graph.outputs()[0], replacement);
  EXPECT_EQ(replacement->name(), "out");  // the output name is stable
  EXPECT_EQ(c.graph.findValue("out"), replacement);
  ASSERT_TRUE(c.graph.eraseNode(c.neg).isOk());
  EXPECT_TRUE(c.graph.verify().isOk()) << c.graph.verify().message();
}

TEST(IrTest, ReplaceAllUsesWithRefusesToBreakGraphOutputs) {
  Chain c;
  Value* out = c.neg->output();
  // A graph input cannot take over an output name.
  EXPECT_FALSE(c.graph.canReplaceAllUsesWith(out, c.x));
  Status status = c.graph.replaceAllUsesWith(out, c.x);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("graph input"), std::string::npos) << status.message();
  EXPECT_EQ(c.graph.outputs()[0], out);  // nothing changed
  EXPECT_EQ(out->name(), "out");
  // Two graph outputs cannot be merged either.
  c.graph.addOutput(c.relu->output());
  EXPECT_FALSE(c.graph.canReplaceAllUsesWith(out, c.relu->output()));
  EXPECT_FALSE(c.graph.canReplaceAllUsesWith(c.relu->output(), c.x));  // relu is an output now
  // A value that is not an output may be replaced by a graph input.
  c.graph.removeOutput(1);
  EXPECT_TRUE(c.graph.canReplaceAllUsesWith(c.relu->output(), c.x));
  EXPECT_TRUE(c.graph.verify().isOk()) << c.graph.verify().message();
}

TEST(IrTest, ReplaceAllUsesWithReachesNestedGraphsAndRejectsInvisibleValues) {
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  Value* cond = g.addInput(Type::scalar(Type::Kind::Bool), "cond");
  Node* relu = g.appendNode("aten::relu", std::vector<Value*>{x});
  Node* ifNode = g.appendNode("prim::If", std::vector<Value*>{cond}, 1);
  GraphPtr thenBody = g.createSubgraph("then");
  Node* inner = thenBody->appendNode("aten::neg", std::vector<Value*>{relu->output()});  // capture
  thenBody->addOutput(inner->output());
  GraphPtr elseBody = g.createSubgraph("else");
  elseBody->addOutput(relu->output());  // returns the capture directly
  ifNode->setAttribute("then", thenBody);
  ifNode->setAttribute("else", elseBody);
  g.addOutput(ifNode->output());
  ASSERT_TRUE(g.verify().isOk()) << g.verify().message();
  EXPECT_TRUE(relu->output()->isGraphOutput());  // returned by a nested graph

  // A value defined inside a body is not visible to the outer graph.
  EXPECT_FALSE(g.canReplaceAllUsesWith(relu->output(), inner->output()));
  EXPECT_FALSE(g.replaceAllUsesWith(relu->output(), inner->output()).isOk());

  Node* abs = g.insertNodeAfter(relu, "aten::abs", std::vector<Value*>{x});
  ASSERT_TRUE(g.replaceAllUsesWith(relu->output(), abs->output()).isOk());
  EXPECT_EQ(inner->input(0), abs->output());
  EXPECT_EQ(elseBody->outputs()[0], abs->output());
  EXPECT_FALSE(relu->output()->isGraphOutput());
  EXPECT_TRUE(abs->output()->isGraphOutput());
  ASSERT_TRUE(g.eraseNode(relu).isOk());
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();

  // Nested output names are positional: replacing an inner output by a body input is fine.
  Value* bodyInput = thenBody->addInput(f32({2}), "i");
  EXPECT_TRUE(thenBody->replaceAllUsesWith(inner->output(), bodyInput).isOk());
  EXPECT_EQ(thenBody->outputs()[0], bodyInput);
}

TEST(IrTest, DestroyingBodiesDetachesCaptures) {
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  Node* loop = g.appendNode("prim::Loop", {}, 0);
  {
    GraphPtr body = g.createSubgraph("body");
    Node* inner = body->appendNode("aten::neg", std::vector<Value*>{x});
    body->addOutput(inner->output());
    body->addOutput(x);
    loop->setAttribute("body", body);
  }
  EXPECT_EQ(x->uses().size(), 1u);
  EXPECT_TRUE(x->isGraphOutput());
  EXPECT_TRUE(loop->removeAttribute("body"));  // last reference: the body is destroyed
  EXPECT_FALSE(x->hasUses());
  EXPECT_FALSE(x->isGraphOutput());
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
}

// ---------------------------------------------------------------------------------------
// verify(): every broken invariant is reported, naming the node
// ---------------------------------------------------------------------------------------
TEST(IrTest, VerifyReportsEveryProblemWithNodeDescriptions) {
  Graph other;  // declared first: it outlives `g`, whose node keeps reading its value
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  Node* producer = g.appendNode("aten::relu", std::vector<Value*>{x});
  producer->setProvenance({"encoder.act", ""});
  Node* user = g.appendNode("aten::neg", std::vector<Value*>{producer->output()});
  user->setProvenance({"encoder.neg", "m.py:7"});
  g.addOutput(user->output());
  ASSERT_TRUE(g.verify().isOk());

  user->moveBefore(producer);                    // 1: use before definition
  g.appendNode("badkind", std::vector<Value*>{x});  // 2: unqualified kind
  // 3: value of another graph
  Value* foreign = other.addInput({}, "foreign");
  g.appendNode("aten::abs", std::vector<Value*>{foreign});
  auto detached = std::make_shared<Graph>("stray");  // 4+5: own name table, no parent
  producer->setAttribute("body", detached);

  Status status = g.verify();
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Internal);
  const std::string& m = status.message();
  EXPECT_NE(m.find("(5 problems)"), std::string::npos) << m;
  EXPECT_NE(m.find("aten::neg at encoder.neg (m.py:7): input #0 %"), std::string::npos) << m;
  EXPECT_NE(m.find("used before it is defined"), std::string::npos) << m;
  EXPECT_NE(m.find("'badkind' is not qualified"), std::string::npos) << m;
  EXPECT_NE(m.find("not defined in this graph tree"), std::string::npos) << m;
  EXPECT_NE(m.find("does not share the name table"), std::string::npos) << m;
  EXPECT_NE(m.find("parent pointer"), std::string::npos) << m;
  EXPECT_FALSE(g.isTopologicallySorted());
}

TEST(IrTest, VerifyCatchesValuesFromNonEnclosingGraphsAndSharedBodies) {
  Graph g;
  Value* cond = g.addInput(Type::scalar(Type::Kind::Bool), "cond");
  Node* ifNode = g.appendNode("prim::If", std::vector<Value*>{cond}, 0);
  GraphPtr body = g.createSubgraph("then");
  Node* inner = body->appendNode("aten::rand", {}, 1);
  ifNode->setAttribute("then", body);
  Node* outer = g.appendNode("aten::neg", std::vector<Value*>{inner->output()});  // reaches into a body
  Node* second = g.appendNode("prim::If", std::vector<Value*>{cond}, 0);
  second->setAttribute("then", body);  // same body attached twice
  Status status = g.verify();
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("which does not enclose graph @main"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("attached to more than one node"), std::string::npos) << status.message();
  outer->removeAllInputs();
}

TEST(IrTest, VerifyCatchesUseOfOwnOutputAndOutputFromBody) {
  Graph g;
  Node* n = g.appendNode("aten::relu", {}, 1);
  n->addInput(n->output());  // a node reading its own output
  Status status = g.verify();
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("used before it is defined"), std::string::npos) << status.message();
}

// ---------------------------------------------------------------------------------------
// clone
// ---------------------------------------------------------------------------------------
TEST(IrTest, CloneIsDeepAndKeepsNamesCapturesAndStorage) {
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  Value* cond = g.addInput(Type::scalar(Type::Kind::Bool), "cond");
  Node* w = g.createConstant(Tensor::fromVector<float>(DType::F32, {2}, {1.f, 2.f}), nullptr, "w");
  Node* mul = g.appendNode("aten::mul", std::vector<Value*>{x, w->output()});
  mul->setProvenance({"layer", "f.py:1"});
  Node* ifNode = g.appendNode("prim::If", std::vector<Value*>{cond}, 1);
  GraphPtr body = g.createSubgraph("then");
  Node* inner = body->appendNode("aten::neg", std::vector<Value*>{mul->output()});
  body->addOutput(inner->output());
  GraphPtr elseBody = g.createSubgraph("else");
  elseBody->addOutput(mul->output());
  ifNode->setAttribute("then", body);
  ifNode->setAttribute("else", elseBody);
  g.addOutput(ifNode->output());
  ASSERT_TRUE(g.verify().isOk()) << g.verify().message();

  std::unique_ptr<Graph> copy = g.clone();
  ASSERT_TRUE(copy->verify().isOk()) << copy->verify().message();
  auto nodes = copy->nodeSnapshot();
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[1]->provenance(), mul->provenance());
  EXPECT_EQ(nodes[1]->output()->name(), mul->output()->name());
  GraphPtr copiedBody = nodes[2]->graphAttr("then");
  ASSERT_NE(copiedBody, nullptr);
  ASSERT_NE(copiedBody, body);
  EXPECT_EQ(copiedBody->parent(), copy.get());
  Node* copiedInner = *copiedBody->nodes().begin();
  EXPECT_EQ(copiedInner->input(0), nodes[1]->output());  // capture mapped into the clone
  EXPECT_EQ(nodes[2]->graphAttr("else")->outputs()[0], nodes[1]->output());
  EXPECT_EQ(nodes[0]->tensorAttr("value")->storage(), w->tensorAttr("value")->storage());  // shared
  EXPECT_EQ(copy->findValue("x"), copy->inputs()[0]);

  // Independent: editing the copy leaves the original intact.
  ASSERT_TRUE(copy->renameValue(copy->inputs()[0], "renamed").isOk());
  EXPECT_EQ(x->name(), "x");
  EXPECT_EQ(mul->output()->uses().size(), 1u);
  EXPECT_TRUE(g.verify().isOk());
}

TEST(IrTest, CloneOfNestedGraphSharesParentAndCaptures) {
  Graph g;
  Value* x = g.addInput(f32({2}), "x");
  Node* ifNode = g.appendNode("prim::If", std::vector<Value*>{x}, 1);
  GraphPtr body = g.createSubgraph("then");
  Node* inner = body->appendNode("aten::neg", std::vector<Value*>{x});
  ASSERT_TRUE(g.renameValue(inner->output(), "y").isOk());
  body->addOutput(inner->output());
  ifNode->setAttribute("then", body);
  std::unique_ptr<Graph> copy = body->clone();
  EXPECT_EQ(copy->parent(), &g);
  Node* copiedInner = *copy->nodes().begin();
  EXPECT_EQ(copiedInner->input(0), x);
  EXPECT_EQ(copiedInner->output()->name(), "y.1");
  GraphPtr attached = std::move(copy);
  ifNode->setAttribute("else", attached);
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
}

// ---------------------------------------------------------------------------------------
// Cost model: a million nodes
// ---------------------------------------------------------------------------------------
TEST(IrTest, MillionNodeGraphStaysLinear) {
  const double start = cpuSeconds();
  const size_t kNodes = kLargeGraphNodes;
  {
    Graph g;
    Value* current = g.addInput(f32({1}), "x");
    Node* shared = g.createConstant(Tensor::scalarF32(1.f), nullptr, "one");
    for (size_t i = 0; i < kNodes; ++i) {
      Value* in[] = {current, shared->output()};
      current = g.appendNode("aten::add", in)->output();
    }
    g.addOutput(current);
    EXPECT_EQ(shared->output()->uses().size(), kNodes);
    EXPECT_TRUE(g.verify().isOk());
    EXPECT_TRUE(g.isTopologicallySorted());
    EXPECT_EQ(g.clone()->numNodes(), kNodes + 1);
    // Replace the last output (graph output) by a new node, then erase the old one.
    Node* last = current->producer();
    Node* fresh = g.appendNode("aten::relu", std::vector<Value*>{last->input(0)});
    ASSERT_TRUE(g.replaceAllUsesWith(current, fresh->output()).isOk());
    ASSERT_TRUE(g.eraseNode(last).isOk());
    // Erase from the back: every erase finds its use at the end of the shared list.
    for (size_t i = 0; i < kNodes / 2; ++i) {
      Node* tail = g.outputs()[0]->producer();
      Node* prev = tail->input(0)->producer();
      ASSERT_TRUE(g.replaceAllUsesWith(prev->output(), prev->input(0)).isOk());
      ASSERT_TRUE(g.eraseNode(prev).isOk());
    }
    EXPECT_EQ(g.numNodes(), kNodes / 2 + 1);
  }  // destruction of the rest
  // Linear work is a few CPU seconds; anything quadratic would take hours.
  EXPECT_LT(cpuSeconds() - start, 60.0) << "graph operations are not linear";
}

}  // namespace
}  // namespace torchport
