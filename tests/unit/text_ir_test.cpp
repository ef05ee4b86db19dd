// Textual IR: printer/parser round trips, every error class with its exact position, and
// robustness against truncated and mutated input.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "torchport/text_ir.h"

namespace torchport {
namespace {

// ---------------------------------------------------------------------------------------
// Structural comparison (names, types, attributes with exact kinds and bits, provenance).
// ---------------------------------------------------------------------------------------
void expectTensorsIdentical(const Tensor& a, const Tensor& b, const std::string& where) {
  EXPECT_EQ(a.dtype(), b.dtype()) << where;
  EXPECT_EQ(a.shape(), b.shape()) << where;
  ASSERT_EQ(a.hasData(), b.hasData()) << where;
  if (a.hasData()) {
    auto x = a.bytes(), y = b.bytes();
    ASSERT_EQ(x.size(), y.size()) << where;
    // memcmp with a null pointer is UB even for size 0 (empty tensors have no bytes).
    if (!x.empty()) {
      EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size())) << where << ": tensor bytes differ";
    }
  }
}

void expectGraphsEqual(const Graph& a, const Graph& b);

void expectAttributesEqual(const Attribute& a, const Attribute& b, const std::string& where) {
  ASSERT_EQ(attributeKind(a), attributeKind(b)) << where;
  switch (attributeKind(a)) {
    case AttributeKind::Int: EXPECT_EQ(std::get<int64_t>(a), std::get<int64_t>(b)) << where; break;
    case AttributeKind::Float:
      EXPECT_EQ(std::bit_cast<uint64_t>(std::get<double>(a)), std::bit_cast<uint64_t>(std::get<double>(b))) << where;
      break;
    case AttributeKind::String: EXPECT_EQ(std::get<std::string>(a), std::get<std::string>(b)) << where; break;
    case AttributeKind::Tensor: expectTensorsIdentical(std::get<Tensor>(a), std::get<Tensor>(b), where); break;
    case AttributeKind::Ints: EXPECT_EQ(std::get<std::vector<int64_t>>(a), std::get<std::vector<int64_t>>(b)) << where; break;
    case AttributeKind::Floats: {
      const auto& x = std::get<std::vector<double>>(a);
      const auto& y = std::get<std::vector<double>>(b);
      ASSERT_EQ(x.size(), y.size()) << where;
      for (size_t i = 0; i < x.size(); ++i)
        EXPECT_EQ(std::bit_cast<uint64_t>(x[i]), std::bit_cast<uint64_t>(y[i])) << where << "[" << i << "]";
      break;
    }
    case AttributeKind::Strings:
      EXPECT_EQ(std::get<std::vector<std::string>>(a), std::get<std::vector<std::string>>(b)) << where;
      break;
    case AttributeKind::Graph: expectGraphsEqual(*std::get<GraphPtr>(a), *std::get<GraphPtr>(b)); break;
  }
}

void expectGraphsEqual(const Graph& a, const Graph& b) {
  EXPECT_EQ(a.name(), b.name());
  ASSERT_EQ(a.inputs().size(), b.inputs().size()) << "graph @" << a.name();
  for (size_t i = 0; i < a.inputs().size(); ++i) {
    EXPECT_EQ(a.inputs()[i]->name(), b.inputs()[i]->name());
    EXPECT_EQ(a.inputs()[i]->type(), b.inputs()[i]->type()) << "input %" << a.inputs()[i]->name();
  }
  ASSERT_EQ(a.outputs().size(), b.outputs().size()) << "graph @" << a.name();
  for (size_t i = 0; i < a.outputs().size(); ++i) EXPECT_EQ(a.outputs()[i]->name(), b.outputs()[i]->name());
  ASSERT_EQ(a.numNodes(), b.numNodes()) << "graph @" << a.name();
  auto an = a.nodeSnapshot(), bn = b.nodeSnapshot();
  for (size_t n = 0; n < an.size(); ++n) {
    const Node& x = *an[n];
    const Node& y = *bn[n];
    std::string where = "node " + std::to_string(n) + " (" + x.kind() + ") of @" + a.name();
    EXPECT_EQ(x.kind(), y.kind()) << where;
    EXPECT_EQ(x.provenance(), y.provenance()) << where;
    ASSERT_EQ(x.numInputs(), y.numInputs()) << where;
    for (size_t i = 0; i < x.numInputs(); ++i) EXPECT_EQ(x.input(i)->name(), y.input(i)->name()) << where;
    ASSERT_EQ(x.numOutputs(), y.numOutputs()) << where;
    for (size_t i = 0; i < x.numOutputs(); ++i) {
      EXPECT_EQ(x.output(i)->name(), y.output(i)->name()) << where;
      EXPECT_EQ(x.output(i)->type(), y.output(i)->type()) << where << " output " << i;
    }
    ASSERT_EQ(x.attributes().size(), y.attributes().size()) << where;
    for (size_t i = 0; i < x.attributes().size(); ++i) {
      EXPECT_EQ(x.attributes()[i].first, y.attributes()[i].first) << where;
      expectAttributesEqual(x.attributes()[i].second, y.attributes()[i].second, where + " attribute " + x.attributes()[i].first);
    }
  }
}

std::unique_ptr<Graph> parseOrDie(std::string_view text) {
  auto parsed = parseGraph(text, "test.tpir");
  EXPECT_TRUE(parsed.hasValue()) << parsed.status().message();
  if (!parsed.hasValue()) return nullptr;
  return std::move(parsed).value();
}

// print(parse(text)) must give text back, and the graph must be valid.
void expectRoundTrip(const std::string& text) {
  auto graph = parseOrDie(text);
  ASSERT_NE(graph, nullptr);
  Status verified = graph->verify();
  EXPECT_TRUE(verified.isOk()) << verified.message();
  EXPECT_EQ(printGraph(*graph), text);
  auto again = parseOrDie(printGraph(*graph));
  ASSERT_NE(again, nullptr);
  expectGraphsEqual(*graph, *again);
}

std::string parseError(std::string_view text) {
  auto parsed = parseGraph(text, "t.tpir");
  if (parsed.hasValue()) return "<parsed fine>";
  EXPECT_EQ(parsed.status().kind(), ErrorKind::Input);
  return parsed.status().message();
}

// ---------------------------------------------------------------------------------------
// Round trips of printer-form text
// ---------------------------------------------------------------------------------------
const char* const kFullExample = R"(graph @main(%input: f32[batch,3,224,224], %mask: bool[batch,?], %cond: bool, %n: int) -> (%output: f32[batch,1000], %y: f32[2], %input: f32[batch,3,224,224]) {
  %w = const f32[64,3,7,7] @"conv1.weight"
  %b = const f32[2] dense<[1.0, -2.5]>
  %b2 = const f32[2] @"fc.bias" dense<[0.1, 1e+20]>
  %k = const int 3
  %f = const float 0.5
  %t = const bool true
  %nn = const none
  %s = const str "cpu \"quoted\"\n"
  %dev = const device "cuda:0"
  %l = const list<int> [1,2]
  %lf = const list<float> [0.25, -1.0]
  %lb = const list<bool> [true, false]
  %ls = const list<str> ["a", "b"]
  %le = const list<int> []
  %scalar = const i64[] dense<[-9223372036854775808]>
  %g: f32[*] = prim::Constant() {value=dense<f32[2]: [1.0, 2.0]>}
  %mixed: float = prim::Constant() {value=3}
  %extra: int = prim::Constant() {value=7, note="kept"}
  %1: f32[batch,64,112,112] = aten::conv2d(%input, %w, %b) {stride=[2,2], alpha=1.0, mode="x", empty_i=ints[], empty_f=floats[], empty_s=strings[], fl=[0.5, 2.0], names=["a", "b"]}  # conv1 loc("model.py:42")
  %2: int, %3 = prim::foo(%1)  # layer1.0.conv1
  prim::Print(%1)  # loc("model.py:7")
  %4: tuple<f32[2],int> = prim::TupleConstruct(%b, %k)
  %5: optional<f32[*]> = prim::bar()
  %6: list<list<int>> = prim::baz()
  %7: obj<__torch__.torch.classes.xnnpack.Conv2dOpContext> = prim::GetAttr()
  %8: ?[*] = aten::unknown_thing(%input, %input)
  %9: i64[2,"dim with space","0abc"] = onnx::Shape(%8)
  %y: f32[2] = prim::If(%cond) {then=graph @then() -> (%t1: f32[2]) {
    %t1: f32[2] = aten::relu(%b)  # then.relu
  }, else=graph @else() -> (%b: f32[2]) {
  }}
  %10: f32[2] = prim::Loop(%n, %cond, %b) {body=graph @body(%i: int, %carried: f32[2]) -> (%cond: bool, %next: f32[2]) {
    %next: f32[2] = aten::add(%carried, %b2)
    %inner = prim::If(%cond) {then=graph @then.1() -> (%i: int) {
    }, else=graph @else.1() -> (%deep) {
      %deep = aten::neg(%i)
    }}
  }}
  %output: f32[batch,1000] = aten::linear(%1, %w, %b)
}
)";

TEST(TextIrRoundTrip, FullExampleIsAFixpoint) { expectRoundTrip(kFullExample); }

TEST(TextIrRoundTrip, ParsedStructureMatchesText) {
  auto graph = parseOrDie(kFullExample);
  ASSERT_NE(graph, nullptr);
  EXPECT_EQ(graph->name(), "main");
  ASSERT_EQ(graph->inputs().size(), 4u);
  const Type& inputType = graph->inputs()[0]->type();
  ASSERT_TRUE(inputType.isTensor());
  EXPECT_EQ(inputType.dtype(), DType::F32);
  ASSERT_TRUE(inputType.hasRank());
  EXPECT_TRUE((*inputType.shape())[0].isSymbol());
  EXPECT_EQ((*inputType.shape())[0].symbolName(), "batch");
  EXPECT_EQ((*inputType.shape())[1].size(), 3);
  EXPECT_TRUE((*graph->inputs()[1]->type().shape())[1].isUnknown());
  EXPECT_EQ(graph->inputs()[2]->type().kind(), Type::Kind::Bool);
  // Graph input passed straight through as an output.
  EXPECT_EQ(graph->outputs()[2], graph->inputs()[0]);

  auto nodes = graph->nodeSnapshot();
  const Node& w = *nodes[0];
  EXPECT_EQ(w.kind(), kConstKind);
  ASSERT_NE(w.tensorAttr("value"), nullptr);
  EXPECT_FALSE(w.tensorAttr("value")->hasData());
  EXPECT_EQ(w.tensorAttr("value")->shape(), (std::vector<int64_t>{64, 3, 7, 7}));
  ASSERT_NE(w.stringAttr("param"), nullptr);
  EXPECT_EQ(*w.stringAttr("param"), "conv1.weight");
  EXPECT_EQ(w.attributes()[0].first, "value");
  EXPECT_EQ(w.attributes()[1].first, "param");

  const Node& b = *nodes[1];
  ASSERT_TRUE(b.tensorAttr("value")->hasData());
  auto data = b.tensorAttr("value")->data<float>();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0], 1.0f);
  EXPECT_EQ(data[1], -2.5f);

  const Node& t = *nodes[5];
  EXPECT_EQ(t.output()->type().kind(), Type::Kind::Bool);
  EXPECT_EQ(t.intAttr("value"), 1);
  const Node& none = *nodes[6];
  EXPECT_EQ(none.output()->type().kind(), Type::Kind::None);
  EXPECT_TRUE(none.attributes().empty());
  EXPECT_EQ(*nodes[7]->stringAttr("value"), "cpu \"quoted\"\n");
  EXPECT_EQ(*nodes[11]->intsAttr("value"), (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(nodes[13]->intsAttr("value")->empty());

  const Node& conv = *nodes[18];
  EXPECT_EQ(conv.kind(), "aten::conv2d");
  EXPECT_EQ(conv.provenance().modulePath, "conv1");
  EXPECT_EQ(conv.provenance().sourceRange, "model.py:42");
  std::vector<std::string> names;
  for (const auto& [name, value] : conv.attributes()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"stride", "alpha", "mode", "empty_i", "empty_f", "empty_s", "fl", "names"}));
  EXPECT_EQ(attributeKind(*conv.findAttribute("alpha")), AttributeKind::Float);
  EXPECT_EQ(attributeKind(*conv.findAttribute("empty_i")), AttributeKind::Ints);
  EXPECT_EQ(attributeKind(*conv.findAttribute("empty_f")), AttributeKind::Floats);
  EXPECT_EQ(attributeKind(*conv.findAttribute("empty_s")), AttributeKind::Strings);
  EXPECT_EQ(attributeKind(*nodes[16]->findAttribute("value")), AttributeKind::Int);  // %mixed
  EXPECT_EQ(nodes[16]->output()->type().kind(), Type::Kind::Float);

  EXPECT_EQ(nodes[20]->numOutputs(), 0u);
  EXPECT_EQ(nodes[20]->provenance().modulePath, "");
  EXPECT_EQ(nodes[20]->provenance().sourceRange, "model.py:7");

  const Node& ifNode = *nodes[27];
  GraphPtr thenGraph = ifNode.graphAttr("then");
  GraphPtr elseGraph = ifNode.graphAttr("else");
  ASSERT_NE(thenGraph, nullptr);
  ASSERT_NE(elseGraph, nullptr);
  EXPECT_EQ(thenGraph->name(), "then");
  EXPECT_EQ(thenGraph->parent(), graph.get());
  // Capture: the then-branch's relu reads %b of the outer graph.
  EXPECT_EQ(thenGraph->nodeSnapshot()[0]->input(0), nodes[1]->output());
  // The else-branch returns an outer value directly.
  EXPECT_EQ(elseGraph->outputs()[0], nodes[1]->output());

  GraphPtr body = nodes[28]->graphAttr("body");
  ASSERT_NE(body, nullptr);
  EXPECT_EQ(body->inputs()[0]->name(), "i");
  EXPECT_EQ(body->outputs()[0], graph->inputs()[2]);  // %cond captured as body output
  GraphPtr deepElse = body->nodeSnapshot()[1]->graphAttr("else");
  ASSERT_NE(deepElse, nullptr);
  EXPECT_EQ(deepElse->nodeSnapshot()[0]->input(0), body->inputs()[0]);  // two levels up
}

TEST(TextIrRoundTrip, EmptyGraph) { expectRoundTrip("graph @main() -> () {\n}\n"); }

TEST(TextIrRoundTrip, QuotedNamesKindsAndAttributes) {
  expectRoundTrip(R"(graph @"my graph"(%"in put": f32[2], %"x:": int) -> (%"out\tput") {
  %"out\tput" = "my ops::weird kind"(%"in put") {"attr name"=1, "x-y"=2}
  %onnx::Conv_12 = com.example::FancyAct(%"out\tput")  # "module path with spaces" loc("a \"b\".py:3")
  %/layer1/conv/Conv_output_0 = ai.onnx::Relu(%onnx::Conv_12)  # /layer1/conv
  %"\x01\x7f" = prim::X()
}
)");
}

TEST(TextIrRoundTrip, FloatSpellings) {
  expectRoundTrip(R"(graph @main() -> () {
  prim::A() {a=0.0, b=-0.0, c=1.0, d=0.1, e=1e+20, f=1e-07, g=inf, h=-inf, i=nan, j=-nan, k=nan(0x7ff8000000000001), l=5e-324, m=1.7976931348623157e+308, n=123456789.0}
  %x = const float -0.0
  %y = const float nan(0xfff0000000000001)
  %z = const list<float> [inf, -inf, nan]
}
)");
}

TEST(TextIrRoundTrip, TensorDtypes) {
  expectRoundTrip(R"(graph @main() -> () {
  %f16 = const f16[5] dense<[1.0, -0.099975586, 65504.0, 5.9604645e-08, nan(0x7e01)]>
  %bf16 = const bf16[4] dense<[1.0, -3.140625, inf, nan]>
  %f64 = const f64[2,2] dense<[0.1, 0.2, 0.30000000000000004, -nan]>
  %f32 = const f32[3] dense<[0.1, nan(0x7fc00001), 3.4028235e+38]>
  %i8 = const i8[2] dense<[-128, 127]>
  %i16 = const i16[2] dense<[-32768, 32767]>
  %i32 = const i32[2] dense<[-2147483648, 2147483647]>
  %u8 = const u8[2] dense<[0, 255]>
  %u16 = const u16[1] dense<[65535]>
  %u32 = const u32[1] dense<[4294967295]>
  %u64 = const u64[1] dense<[18446744073709551615]>
  %bool = const bool[2,2] dense<[true, false, false, true]>
  %oddbool = const bool[2] dense<0x0102>
  %c64 = const c64[1] dense<0x0000803f00000040>
  %empty = const f32[0,3] dense<[]>
  %elided_empty = const f32[0]
  %attr = prim::X() {t=dense<i64[2]: [1, -1]>, e=dense<f32[3,3]>, c=dense<c128[1]: 0x00000000000000000000000000000000>, u=dense<?[2]>}
}
)");
}

TEST(TextIrRoundTrip, HalfPrecisionBitExact) {
  // Every f16 and bf16 bit pattern survives print -> parse.
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  for (DType dtype : {DType::F16, DType::BF16}) {
    Graph graph;
    Node* node = graph.createConstant(Tensor::fromVector(dtype, {65536}, all));
    graph.addOutput(node->output());
    auto parsed = parseOrDie(printGraph(graph));
    ASSERT_NE(parsed, nullptr);
    const Tensor* tensor = parsed->nodeSnapshot()[0]->tensorAttr("value");
    ASSERT_NE(tensor, nullptr);
    auto values = tensor->data<uint16_t>();
    ASSERT_EQ(values.size(), all.size());
    for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(values[i], all[i]) << dtypeName(dtype) << " pattern " << i;
  }
}

TEST(TextIrRoundTrip, F32AndF64BitExact) {
  std::mt19937_64 random(42);
  std::vector<uint32_t> f32(2000);
  std::vector<uint64_t> f64(2000);
  for (auto& v : f32) v = static_cast<uint32_t>(random());
  for (auto& v : f64) v = random();
  f32[0] = 0x00000001;  // smallest subnormal
  f64[0] = 0x0000000000000001;
  Graph graph;
  graph.addOutput(graph.createConstant(Tensor::fromVector(DType::F32, {2000}, f32))->output());
  graph.addOutput(graph.createConstant(Tensor::fromVector(DType::F64, {2000}, f64))->output());
  Node* attrs = graph.appendNode("prim::A", {}, 0);
  std::vector<double> doubles;
  for (uint64_t bits : f64) doubles.push_back(std::bit_cast<double>(bits));
  attrs->setAttribute("floats", doubles);
  attrs->setAttribute("one", doubles[5]);
  auto parsed = parseOrDie(printGraph(graph));
  ASSERT_NE(parsed, nullptr);
  expectGraphsEqual(graph, *parsed);
  EXPECT_EQ(printGraph(*parsed), printGraph(graph));
}

TEST(TextIrRoundTrip, ProgrammaticGraph) {
  Graph graph("net");
  Value* x = graph.addInput(Type::tensor(DType::F32, std::vector<Dim>{Dim::symbol("batch"), Dim::known(4)}), "x");
  Value* flag = graph.addInput(Type::scalar(Type::Kind::Bool), "flag");
  Node* weight = graph.createConstant(Tensor::fromVector<float>(DType::F32, {4}, {1.f, 2.f, 3.f, 4.f}), nullptr, "weight");
  weight->setAttribute("param", std::string("fc.weight"));
  Value* inputs[] = {x, weight->output()};
  Node* mul = graph.appendNode("aten::mul", inputs, 1);
  mul->output()->setType(Type::tensor(DType::F32, std::nullopt));
  mul->setAttribute("i", int64_t{1});
  mul->setAttribute("f", 1.0);
  mul->setAttribute("s", std::string("1"));
  mul->setAttribute("ints", std::vector<int64_t>{});
  mul->setAttribute("floats", std::vector<double>{});
  mul->setAttribute("strings", std::vector<std::string>{});
  mul->setProvenance({"block.mul", "net.py:12:3"});
  Value* condInputs[] = {flag};
  Node* ifNode = graph.appendNode("prim::If", condInputs, 1);
  GraphPtr thenGraph = graph.createSubgraph("then");
  Value* thenInputs[] = {mul->output()};
  Node* relu = thenGraph->appendNode("aten::relu", thenInputs, 1);
  thenGraph->addOutput(relu->output());
  GraphPtr elseGraph = graph.createSubgraph("else");
  elseGraph->addOutput(x);
  ifNode->setAttribute("then", thenGraph);
  ifNode->setAttribute("else", elseGraph);
  Node* tuple = graph.appendNode("prim::TupleConstruct", {}, 1);
  tuple->output()->setType(Type::tuple({Type::list(Type::scalar(Type::Kind::Int)), Type::optional(Type::object("__torch__.M")), Type::unknown()}));
  graph.addOutput(ifNode->output());
  graph.addOutput(tuple->output());
  ASSERT_TRUE(graph.verify().isOk()) << graph.verify().message();

  std::string text = printGraph(graph);
  auto parsed = parseOrDie(text);
  ASSERT_NE(parsed, nullptr);
  expectGraphsEqual(graph, *parsed);
  EXPECT_EQ(printGraph(*parsed), text);
  EXPECT_NE(text.find("%weight = const f32[4] @\"fc.weight\" dense<[1.0, 2.0, 3.0, 4.0]>"), std::string::npos) << text;
  EXPECT_NE(text.find("{i=1, f=1.0, s=\"1\", ints=ints[], floats=floats[], strings=strings[]}  # block.mul loc(\"net.py:12:3\")"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("tuple<list<int>,optional<obj<__torch__.M>>,unknown>"), std::string::npos) << text;
}

TEST(TextIrPrinter, ConstSugarFallsBackToGenericForm) {
  Graph graph;
  // Type does not match the tensor's shape: generic form keeps both.
  Node* c1 = graph.createConstant(Tensor::fromVector<float>(DType::F32, {2}, {1.f, 2.f}));
  c1->output()->setType(Type::tensor(DType::F32, std::vector<Dim>{Dim::symbol("n")}));
  // Extra attribute.
  Node* c2 = graph.createConstant(Tensor::scalarI64(5));
  c2->setAttribute("extra", int64_t{1});
  // Bool typed constant holding 2.
  Node* c3 = graph.appendNode(kConstKind, {}, 1);
  c3->output()->setType(Type::scalar(Type::Kind::Bool));
  c3->setAttribute("value", int64_t{2});
  // param before value.
  Node* c4 = graph.appendNode(kConstKind, {}, 1);
  c4->output()->setType(Type::scalar(Type::Kind::Int));
  c4->setAttribute("param", std::string("p"));
  c4->setAttribute("value", int64_t{2});
  for (Node* n : {c1, c2, c3, c4}) graph.addOutput(n->output());
  std::string text = printGraph(graph);
  auto lines = [&] {
    std::vector<std::string> result;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      result.push_back(text.substr(start, end - start));
      start = end + 1;
    }
    return result;
  }();
  ASSERT_EQ(lines.size(), 6u) << text;
  EXPECT_EQ(lines[1], "  %" + c1->output()->name() + ": f32[n] = prim::Constant() {value=dense<f32[2]: [1.0, 2.0]>}");
  EXPECT_NE(lines[2].find("= prim::Constant() {value=dense<i64[]: [5]>, extra=1}"), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3], "  %" + c3->output()->name() + ": bool = prim::Constant() {value=2}");
  EXPECT_EQ(lines[4], "  %" + c4->output()->name() + ": int = prim::Constant() {param=\"p\", value=2}");
  auto parsed = parseOrDie(text);
  ASSERT_NE(parsed, nullptr);
  expectGraphsEqual(graph, *parsed);
}

TEST(TextIrPrinter, ElidesLargeTensorsAndProvenanceOnRequest) {
  Graph graph;
  Node* small = graph.createConstant(Tensor::fromVector<float>(DType::F32, {2}, {1.f, 2.f}), nullptr, "small");
  Node* big = graph.createConstant(Tensor::fromVector<float>(DType::F32, {3}, {1.f, 2.f, 3.f}), nullptr, "big");
  big->setAttribute("param", std::string("big.weight"));
  big->setProvenance({"mod", ""});
  Node* user = graph.appendNode("prim::A", {}, 0);
  user->setAttribute("t", Tensor::fromVector<int64_t>(DType::I64, {3}, {1, 2, 3}));
  graph.addOutput(small->output());
  graph.addOutput(big->output());
  PrintOptions options;
  options.elideTensorsAbove = 2;
  options.printProvenance = false;
  EXPECT_EQ(printGraph(graph, options),
            "graph @main() -> (%small: f32[2], %big: f32[3]) {\n"
            "  %small = const f32[2] dense<[1.0, 2.0]>\n"
            "  %big = const f32[3] @\"big.weight\"\n"
            "  prim::A() {t=dense<i64[3]>}\n"
            "}\n");
  EXPECT_NE(printGraph(graph).find("%big = const f32[3] @\"big.weight\" dense<[1.0, 2.0, 3.0]>  # mod\n"), std::string::npos);
}

TEST(TextIrParser, LenientSpellingsNormalize) {
  // Whitespace, int literals for floats, typed non-empty lists, \x escapes, missing
  // trailing newline: all accepted and printed canonically.
  auto graph = parseOrDie(
      "graph   @main ( %x :f32[ 2 ] )->(%y){\n"
      "%y:f32[2]=aten::mul(%x,%x){a=[1, 2.5], b=ints[1,2], c=floats[1], d=\"\\x41\", e=+3, f=1E3}#m   loc(\"s\")\n"
      "  %c = const float 2\n"
      "  %h = const f16[1] dense<[0.1]>\n"
      "}");
  ASSERT_NE(graph, nullptr);
  EXPECT_EQ(printGraph(*graph),
            "graph @main(%x: f32[2]) -> (%y: f32[2]) {\n"
            "  %y: f32[2] = aten::mul(%x, %x) {a=[1.0, 2.5], b=[1,2], c=[1.0], d=\"A\", e=3, f=1000.0}  # m loc(\"s\")\n"
            "  %c = const float 2.0\n"
            "  %h = const f16[1] dense<[0.099975586]>\n"
            "}\n");
}

TEST(TextIrParser, CommentsAreIgnored) {
  auto graph = parseOrDie(
      "# a file header comment\n"
      "// another one\n"
      "graph @main(%x) -> (%x) {  // trailing\n"
      "  # full-line hash comment\n"
      "  %a = aten::x(%x)  # mod loc(\"f.py:1\")  \n"
      "  %b = aten::y(%a, %x) // note: not provenance\n"
      "  // %c = aten::z()\n"
      "}\n");
  ASSERT_NE(graph, nullptr);
  EXPECT_EQ(printGraph(*graph),
            "graph @main(%x) -> (%x) {\n"
            "  %a = aten::x(%x)  # mod loc(\"f.py:1\")\n"
            "  %b = aten::y(%a, %x)\n"
            "}\n");
}

TEST(TextIrParser, F16RoundsToNearestEven) {
  auto graph = parseOrDie(
      "graph @main() -> () {\n"
      "  %h = const f16[5] dense<[1.00048828125, 1.00146484375, 65520.0, 2.9802322e-08, 2.9802326e-08]>\n"
      "  %b = const bf16[2] dense<[1.00390625, 1.01171875]>\n"
      "}\n");
  ASSERT_NE(graph, nullptr);
  auto nodes = graph->nodeSnapshot();
  auto half = nodes[0]->tensorAttr("value")->data<uint16_t>();
  EXPECT_EQ(half[0], 0x3c00);  // tie -> even (1.0)
  EXPECT_EQ(half[1], 0x3c02);  // tie -> even (1.001953125)
  EXPECT_EQ(half[2], 0x7c00);  // rounds up to inf
  EXPECT_EQ(half[3], 0x0000);  // exactly half the smallest subnormal: tie -> even (0)
  EXPECT_EQ(half[4], 0x0001);  // one float ulp above: rounds up
  auto bf = nodes[1]->tensorAttr("value")->data<uint16_t>();
  EXPECT_EQ(bf[0], 0x3f80);  // tie -> even
  EXPECT_EQ(bf[1], 0x3f82);  // tie -> even (up)
}

// ---------------------------------------------------------------------------------------
// Errors: each class with its exact position.
// ---------------------------------------------------------------------------------------
TEST(TextIrErrors, Syntax) {
  EXPECT_EQ(parseError(""), "t.tpir:1:1: expected 'graph' at the start of the IR (graph @main(%x: f32[2]) -> (%y) { ... }), found end of input");
  EXPECT_EQ(parseError("graph main() -> () {\n}\n"),
            "t.tpir:1:7: expected the graph's name (graph @main(...)), found 'main'");
  EXPECT_EQ(parseError("graph @main() -> () {}\n"),
            "t.tpir:1:22: expected a line break after '{', found '}' (one node per line)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = aten::x()  %b = aten::y()\n}\n"),
            "t.tpir:2:19: expected a line break after a node, found %b (one node per line)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = aten::x(\n}\n"),
            "t.tpir:3:1: expected an input value (%name), found '}'");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = aten::x()\n"),
            "t.tpir:3:1: unterminated body of graph @main (opened at 1:1): expected '}'");
  EXPECT_EQ(parseError("graph @main() -> () {\n}\ngraph @other() -> () {\n}\n"),
            "t.tpir:3:1: unexpected 'graph' after the graph's closing '}'; a file holds one graph");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = relu()\n}\n"),
            "t.tpir:2:8: node kind 'relu' must be qualified as domain::name (e.g. aten::relu)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = aten::x\n}\n"),
            "t.tpir:3:1: expected '(' after the node kind (write () for a node without inputs), found '}'");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = aten::x() $\n}\n"),
            "t.tpir:2:18: unexpected character '$'");
  EXPECT_EQ(parseError("graph @main() -> () {  # not provenance\n}\n"),
            "t.tpir:1:24: expected a line break after '{', found a '#' comment ('#' after other tokens on a line is a "
            "node's provenance; write other comments with //)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = aten::x() {a=1}\n  # m\n}\n"), "<parsed fine>");
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() # m loc(\"a\") junk\n}\n"),
            "t.tpir:2:26: unexpected text in provenance comment; expected `# module.path loc(\"file.py:42\")`");
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() {a=1, a=2}\n}\n"), "t.tpir:2:19: duplicate attribute 'a'");
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() {a=[]}\n}\n"),
            "t.tpir:2:16: an empty list must say its kind: ints[], floats[] or strings[]");
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() {a=[1, \"s\"]}\n}\n"),
            "t.tpir:2:20: a list cannot mix strings and numbers");
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() {a=true}\n}\n"),
            "t.tpir:2:16: attributes have no bool kind; write 1 or 0");
  EXPECT_EQ(parseError("graph @main(%) -> () {\n}\n"),
            "t.tpir:1:13: expected a value name after '%' ([A-Za-z0-9_./-]+ with :: allowed, or a quoted \"string\")");
  EXPECT_EQ(parseError("graph @main(%\"\") -> () {\n}\n"), "t.tpir:1:13: empty value name");
}

TEST(TextIrErrors, Strings) {
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() {s=\"abc}\n}\n"),
            "t.tpir:2:16: unterminated string: add the closing '\"' (strings cannot span lines; write a newline as \\n)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() {s=\"a\\qb\"}\n}\n"),
            "t.tpir:2:18: unknown escape \\q in string; use \\\", \\\\, \\n, \\t, \\r or \\xHH");
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() {s=\"\\x4\"}\n}\n"),
            "t.tpir:2:17: bad escape: \\x needs two hex digits (e.g. \\x0a)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x()  # loc(\"abc\n}\n"),
            "t.tpir:2:20: unterminated string: add the closing '\"' (strings cannot span lines; write a newline as \\n)");
}

TEST(TextIrErrors, Types) {
  EXPECT_EQ(parseError("graph @main(%x: f33[2]) -> () {\n}\n"),
            "t.tpir:1:17: unknown dtype 'f33' (expected f32, f64, f16, bf16, i8..i64, u8..u64, bool, c64, c128, ...)");
  EXPECT_EQ(parseError("graph @main(%x: integer) -> () {\n}\n"),
            "t.tpir:1:17: unknown type 'integer' (expected a tensor type such as f32[2,3], or int, float, bool, str, none, "
            "device, list<T>, tuple<T,...>, optional<T>, obj<Class>, unknown)");
  EXPECT_EQ(parseError("graph @main(%x: f32) -> () {\n}\n"),
            "t.tpir:1:17: tensor type 'f32' needs a shape: f32[2,3], f32[batch,?] or f32[*] for unknown rank");
  EXPECT_EQ(parseError("graph @main(%x: f32[2,-1]) -> () {\n}\n"),
            "t.tpir:1:23: bad dimension '-1': expected a size >= 0, a symbol or '?'");
  EXPECT_EQ(parseError("graph @main(%x: list<int) -> () {\n}\n"),
            "t.tpir:1:25: expected '>' closing list<...>, found ')'");
  EXPECT_EQ(parseError("graph @main(%x: f32[2,3) -> () {\n}\n"),
            "t.tpir:1:24: expected ',' or ']' in the shape, found ')'");
  std::string deep = "graph @main(%x: ";
  for (int i = 0; i < 100; ++i) deep += "list<";
  EXPECT_EQ(parseError(deep), "t.tpir:1:177: types nested more than 32 levels deep");
}

TEST(TextIrErrors, Names) {
  EXPECT_EQ(parseError("graph @main(%x) -> () {\n  %x = aten::y()\n}\n"),
            "t.tpir:2:3: duplicate value name %x (first defined at 1:13); value names are unique across a graph and its "
            "nested graphs");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = aten::x(%nope)\n}\n"), "t.tpir:2:16: unknown value %nope");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = aten::x(%b)\n  %b = aten::y()\n}\n"),
            "t.tpir:2:16: value %b is used before its definition at 3:3");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %a = aten::x(%a)\n}\n"), "t.tpir:2:16: node uses its own output %a");
  EXPECT_EQ(parseError("graph @main() -> (%nope) {\n}\n"), "t.tpir:1:19: unknown value %nope in the outputs of graph @main");
  // A nested graph's value used outside it.
  EXPECT_EQ(parseError("graph @main(%c) -> (%inner) {\n"
                       "  %a = prim::If(%c) {then=graph @t() -> (%inner) {\n"
                       "    %inner = aten::x()\n"
                       "  }, else=graph @e() -> (%c) {\n"
                       "  }}\n"
                       "}\n"),
            "t.tpir:1:21: value %inner (defined at 3:5) is not visible here: a value is visible after its definition in its "
            "own graph and in nested graphs of later nodes, never outside its graph nor inside its own node's graphs");
  // A node's own output used inside its nested graph.
  EXPECT_EQ(parseError("graph @main(%c) -> () {\n"
                       "  %a = prim::If(%c) {then=graph @t() -> (%a) {\n"
                       "  }}\n"
                       "}\n"),
            "t.tpir:2:42: value %a (defined at 2:3) is not visible here: a value is visible after its definition in its own "
            "graph and in nested graphs of later nodes, never outside its graph nor inside its own node's graphs");
  // Same name in two sibling nested graphs: still a duplicate (shared name table).
  EXPECT_EQ(parseError("graph @main(%c) -> () {\n"
                       "  %a = prim::If(%c) {then=graph @t() -> (%v) {\n"
                       "    %v = aten::x()\n"
                       "  }, else=graph @e() -> (%v) {\n"
                       "    %v = aten::x()\n"
                       "  }}\n"
                       "}\n"),
            "t.tpir:5:5: duplicate value name %v (first defined at 3:5); value names are unique across a graph and its "
            "nested graphs");
}

TEST(TextIrErrors, OutputTypeAnnotation) {
  EXPECT_EQ(parseError("graph @main(%x: f32[2]) -> (%x: f32[3]) {\n}\n"),
            "t.tpir:1:33: graph output %x is annotated as " + Type::tensor(DType::F32, std::vector<int64_t>{3}).toString() +
                " but its type is " + Type::tensor(DType::F32, std::vector<int64_t>{2}).toString() + "; fix the annotation (or omit it)");
}

TEST(TextIrErrors, Numbers) {
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() {a=99999999999999999999}\n}\n"),
            "t.tpir:2:16: bad number '99999999999999999999' (expected a 64-bit integer or a float)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  aten::x() {a=1.5x}\n}\n"),
            "t.tpir:2:16: bad number '1.5x' (expected a float such as 1.5, -2e-3, inf or nan)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const i8[1] dense<[128]>\n}\n"),
            "t.tpir:2:27: bad number '128' for a i8 tensor (expected an integer in [-128, 127])");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const u8[1] dense<[-1]>\n}\n"),
            "t.tpir:2:27: bad number '-1' for a u8 tensor (expected an integer in [0, 255])");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const f32[1] dense<[1e39]>\n}\n"),
            "t.tpir:2:28: bad number '1e39' (expected a float within f32 range such as 1.5 or -2e-3)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const f32[2] dense<[1.0]>\n}\n"),
            "t.tpir:2:27: tensor f32[2] needs 2 elements, found 1");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const f32[1] dense<[1.0, 2.0]>\n}\n"),
            "t.tpir:2:33: too many elements: tensor f32[1] has 1");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const f32[1] dense<0x0000>\n}\n"),
            "t.tpir:2:27: hex data of f32[1] needs 8 hex digits, found 4");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const f32[1] dense<[nan(0x3f800000)]>\n}\n"),
            "t.tpir:2:32: nan(0x3f800000) is not a NaN bit pattern for f32");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const f32[4294967296,4294967296] dense<[]>\n}\n"),
            "t.tpir:2:47: tensor f32[4294967296,4294967296] is too large");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const int 1.5\n}\n"), "t.tpir:2:18: bad number '1.5' for a const int");
}

TEST(TextIrErrors, Consts) {
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c: int = const int 1\n}\n"),
            "t.tpir:2:7: the type of a const goes after 'const': %c = const <type> ...");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c, %d = const int 1\n}\n"), "t.tpir:2:7: 'const' defines exactly one value");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const f32[n] dense<[1.0]>\n}\n"),
            "t.tpir:2:14: a const tensor needs a dtype and a static shape (use the generic form %x: T = prim::Constant() "
            "{value=...} otherwise)");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const int 1 {a=1}\n}\n"),
            "t.tpir:2:20: a const with extra attributes must use the generic form %c: T = prim::Constant() {value=..., ...}");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const tuple<int> [1]\n}\n"),
            "t.tpir:2:14: 'const' supports tensor, int, float, bool, str, device, none and list types; use the generic form "
            "%x: T = prim::Constant() {value=...}");
  EXPECT_EQ(parseError("graph @main() -> () {\n  %c = const bool 1\n}\n"),
            "t.tpir:2:19: expected true or false after 'const bool', found number 1");
}

TEST(TextIrErrors, NestingDepthIsBounded) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "graph @g() -> () {\n  prim::If() {then=";
  std::string message = parseError(text);
  EXPECT_NE(message.find("graphs nested more than 32 levels deep"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------------------
// Robustness: no crash, no hang on truncated or mutated input.
// ---------------------------------------------------------------------------------------
TEST(TextIrRobustness, EveryPrefixParsesOrFailsCleanly) {
  std::string text = kFullExample;
  for (size_t length = 0; length < text.size(); ++length) {
    auto parsed = parseGraph(std::string_view(text).substr(0, length), "prefix");
    if (!parsed.hasValue()) {
      EXPECT_EQ(parsed.status().kind(), ErrorKind::Input) << length;
      EXPECT_EQ(parsed.status().message().rfind("prefix:", 0), 0u) << parsed.status().message();
    }
  }
  // Only the full text (and the text without its final newline) parse.
  EXPECT_TRUE(parseGraph(std::string_view(text).substr(0, text.size() - 1)).hasValue());
  EXPECT_FALSE(parseGraph(std::string_view(text).substr(0, text.size() - 2)).hasValue());
}

TEST(TextIrRobustness, RandomMutationsNeverCrash) {
  const std::string base = kFullExample;
  const std::string alphabet = "%@#\"\\{}[]()<>,=:?*-+.0123456789abcxyz \n\t\x01\xff";
  std::mt19937 random(1234);
  int parsedCount = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text = base;
    int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t pos = random() % text.size();
      switch (random() % 3) {
        case 0: text[pos] = alphabet[random() % alphabet.size()]; break;
        case 1: text.insert(pos, 1, alphabet[random() % alphabet.size()]); break;
        default: text.erase(pos, 1 + random() % 8); break;
      }
      if (text.empty()) text = "g";
    }
    auto parsed = parseGraph(text, "fuzz");
    if (parsed.hasValue()) {
      ++parsedCount;
      // Whatever parses must print to a fixpoint.
      std::string printed = printGraph(**parsed);
      auto again = parseGraph(printed, "reprint");
      ASSERT_TRUE(again.hasValue()) << again.status().message() << "\n" << printed;
      EXPECT_EQ(printGraph(**again), printed);
    } else {
      EXPECT_EQ(parsed.status().kind(), ErrorKind::Input);
    }
  }
  EXPECT_GT(parsedCount, 0);
}

}  // namespace
}  // namespace torchport
