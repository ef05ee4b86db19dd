// lower-to-onnx on representative graphs (the op mixes of torchvision CNNs, transformers,
// shape arithmetic), at opsets 13, 17 and 18. For opset <= 17 save-onnx runs libonnx's
// checker and strict shape inference, so a passing save is the structural check.
#include <gtest/gtest.h>

#include "test_support.h"

namespace torchport::onnxtest {
namespace {

constexpr std::string_view kResNetBlock = R"(graph @main(%x: f32[batch,3,32,32]) -> (%y) {
  %w1 = const f32[8,3,3,3] @"conv1.weight"
  %none = const none
  %s1 = const list<int> [1,1]
  %p1 = const list<int> [1,1]
  %zero2 = const list<int> [0,0]
  %false = const bool false
  %true = const bool true
  %one = const int 1
  %c1 = aten::_convolution(%x, %w1, %none, %s1, %p1, %s1, %false, %zero2, %one, %false, %false, %true, %true)
  %bnw = const f32[8] @"bn1.weight"
  %bnb = const f32[8] @"bn1.bias"
  %bnm = const f32[8] @"bn1.running_mean"
  %bnv = const f32[8] @"bn1.running_var"
  %mom = const float 0.1
  %eps = const float 1e-05
  %b1 = aten::batch_norm(%c1, %bnw, %bnb, %bnm, %bnv, %false, %mom, %eps, %true)
  %r1 = aten::relu_(%b1)
  %k3 = const list<int> [3,3]
  %s2 = const list<int> [2,2]
  %mp = aten::max_pool2d(%r1, %k3, %s2, %p1, %s1, %true)
  %w2 = const f32[8,8,3,3] @"conv2.weight"
  %b2 = const f32[8] @"conv2.bias"
  %c2 = aten::conv2d(%mp, %w2, %b2, %s1, %p1, %s1, %one)
  %add = aten::add_(%c2, %mp, %one)
  %r2 = aten::relu_(%add)
  %out1 = const list<int> [1,1]
  %gap = aten::adaptive_avg_pool2d(%r2, %out1)
  %m1 = const int -1
  %flat = aten::flatten(%gap, %one, %m1)
  %fcw = const f32[10,8] @"fc.weight"
  %fcb = const f32[10] @"fc.bias"
  %y = aten::linear(%flat, %fcw, %fcb)
}
)";

constexpr std::string_view kMobileNetBlock = R"(graph @main(%x: f32[batch,16,8,8]) -> (%y) {
  %wdw = const f32[16,1,3,3] @"dw.weight"
  %bdw = const f32[16] @"dw.bias"
  %s1 = const list<int> [1,1]
  %p1 = const list<int> [1,1]
  %groups = const int 16
  %dw = aten::conv2d(%x, %wdw, %bdw, %s1, %p1, %s1, %groups)
  %lo = const float 0.0
  %hi = const float 6.0
  %h = aten::hardtanh_(%dw, %lo, %hi)
  %hs = aten::hardswish_(%h)
  %out1 = const list<int> [1,1]
  %se = aten::adaptive_avg_pool2d(%hs, %out1)
  %gate = aten::hardsigmoid(%se)
  %scaled = aten::mul(%hs, %gate)
  %sil = aten::silu_(%scaled)
  %sig = aten::sigmoid(%sil)
  %k = const list<int> [2,2]
  %zero2 = const list<int> [0,0]
  %false = const bool false
  %none = const none
  %ap = aten::avg_pool2d(%sig, %k, %k, %zero2, %false, %false, %none)
  %p = const float 0.2
  %d = aten::dropout(%ap, %p, %false)
  %alpha = const float 0.1
  %y = aten::leaky_relu(%d, %alpha)
}
)";

constexpr std::string_view kTransformerBlock = R"(graph @main(%x: f32[batch,seq,16]) -> (%y) {
  %shape = const list<int> [16]
  %lnw = const f32[16] @"ln.weight"
  %lnb = const f32[16] @"ln.bias"
  %eps = const float 1e-05
  %true = const bool true
  %ln = aten::layer_norm(%x, %shape, %lnw, %lnb, %eps, %true)
  %qw = const f32[48,16] @"qkv.weight"
  %qb = const f32[48] @"qkv.bias"
  %qkv = aten::linear(%ln, %qw, %qb)
  %split = const int 16
  %m1 = const int -1
  %parts = aten::split(%qkv, %split, %m1)
  %q, %k, %v = prim::ListUnpack(%parts)
  %zero = const int 0
  %one = const int 1
  %two = const int 2
  %b = aten::size(%q, %zero)
  %n = aten::size(%q, %one)
  %four = const int 4
  %hs = prim::ListConstruct(%b, %n, %four, %four)
  %qh = aten::view(%q, %hs)
  %kh = aten::reshape(%k, %hs)
  %vh = aten::view(%v, %hs)
  %perm = const list<int> [0,2,1,3]
  %qt = aten::permute(%qh, %perm)
  %kt = aten::permute(%kh, %perm)
  %vt = aten::permute(%vh, %perm)
  %m2 = const int -2
  %ktt = aten::transpose(%kt, %m2, %m1)
  %scores = aten::matmul(%qt, %ktt)
  %scale = const float 0.5
  %scaled = aten::mul(%scores, %scale)
  %none = const none
  %attn = aten::softmax(%scaled, %m1, %none)
  %ctx = aten::matmul(%attn, %vt)
  %back = aten::transpose(%ctx, %one, %two)
  %cont = aten::contiguous(%back, %zero)
  %full = const int 16
  %os = prim::ListConstruct(%b, %n, %full)
  %merged = aten::reshape(%cont, %os)
  %approx = const str "tanh"
  %g = aten::gelu(%merged, %approx)
  %res = aten::add(%g, %x, %one)
  %max = const int 9223372036854775807
  %sl = aten::slice(%res, %one, %zero, %max, %one)
  %first = aten::select(%sl, %one, %zero)
  %keep = const bool false
  %dims = const list<int> [-1]
  %mean = aten::mean(%first, %dims, %true, %none)
  %y = aten::sub(%first, %mean, %one)
}
)";

// ShuffleNet's channel shuffle as traced: sizes through NumToTensor / floor_divide / Int.
constexpr std::string_view kChannelShuffle = R"(graph @main(%x: f32[batch,8,4,4]) -> (%y1, %y2) {
  %zero = const int 0
  %one = const int 1
  %two = const int 2
  %three = const int 3
  %b = aten::size(%x, %zero)
  %c = aten::size(%x, %one)
  %ct = prim::NumToTensor(%c)
  %h = aten::size(%x, %two)
  %w = aten::size(%x, %three)
  %g = const i64[] dense<[2]>
  %cpg = aten::floor_divide(%ct, %g)
  %cpgi = aten::Int(%cpg)
  %groups = const int 2
  %s1 = prim::ListConstruct(%b, %groups, %cpgi, %h, %w)
  %v1 = aten::view(%x, %s1)
  %t = aten::transpose(%v1, %one, %two)
  %cont = aten::contiguous(%t, %zero)
  %m1 = const int -1
  %s2 = prim::ListConstruct(%b, %m1, %h, %w)
  %v2 = aten::view(%cont, %s2)
  %chunks = aten::chunk(%v2, %two, %one)
  %y1, %y2 = prim::ListUnpack(%chunks)
}
)";

constexpr std::string_view kReductions = R"(graph @main(%x: f32[batch,6,5]) -> (%a, %b, %c, %d) {
  %dims = const list<int> [1]
  %true = const bool true
  %false = const bool false
  %none = const none
  %a = aten::mean(%x, %dims, %true, %none)
  %b = aten::sum(%x, %dims, %false, %none)
  %last = const list<int> [-1]
  %c = aten::amax(%x, %last, %false)
  %f64 = const int 7
  %m1 = const int -1
  %d = aten::log_softmax(%x, %m1, %f64)
}
)";

// PyTorch's fused inference fast path: multi-head attention with a key padding mask, and
// a whole encoder layer (post-norm, gelu).
constexpr std::string_view kFastPathAttention = R"(graph @main(%x: f32[batch,seq,16], %pad: bool[batch,seq]) -> (%y, %z) {
  %e = const int 16
  %h = const int 2
  %qkvw = const f32[48,16] @"attn.in_proj_weight"
  %qkvb = const f32[48] @"attn.in_proj_bias"
  %ow = const f32[16,16] @"attn.out_proj.weight"
  %ob = const f32[16] @"attn.out_proj.bias"
  %false = const bool false
  %true = const bool true
  %mt = const int 1
  %y, %w = aten::_native_multi_head_attention(%x, %x, %x, %e, %h, %qkvw, %qkvb, %ow, %ob, %pad, %false, %true, %mt)
  %eps = const float 1e-05
  %n1w = const f32[16] @"norm1.weight"
  %n1b = const f32[16] @"norm1.bias"
  %n2w = const f32[16] @"norm2.weight"
  %n2b = const f32[16] @"norm2.bias"
  %f1w = const f32[32,16] @"linear1.weight"
  %f1b = const f32[32] @"linear1.bias"
  %f2w = const f32[16,32] @"linear2.weight"
  %f2b = const f32[16] @"linear2.bias"
  %none = const none
  %keep = aten::logical_not(%pad)
  %nested = aten::_nested_tensor_from_mask(%y, %keep, %false)
  %enc = aten::_transformer_encoder_layer_fwd(%nested, %e, %h, %qkvw, %qkvb, %ow, %ob, %true, %false, %eps, %n1w, %n1b, %n2w, %n2b, %f1w, %f1b, %f2w, %f2b, %none, %none)
  %zero = const float 0.0
  %z = aten::to_padded_tensor(%enc, %zero, %none)
}
)";

// A 2-layer LSTM (batch_first) and a 1-layer bidirectional GRU.
constexpr std::string_view kRecurrent = R"(graph @main(%x: f32[batch,seq,4]) -> (%out, %hn, %cn, %gout) {
  %zero = const int 0
  %b = aten::size(%x, %zero)
  %two = const int 2
  %hidden = const int 3
  %shape = prim::ListConstruct(%two, %b, %hidden)
  %none = const none
  %h0 = aten::zeros(%shape, %none, %none, %none, %none)
  %c0 = aten::zeros(%shape, %none, %none, %none, %none)
  %hx = prim::ListConstruct(%h0, %c0)
  %w0 = const f32[12,4] @"lstm.weight_ih_l0"
  %r0 = const f32[12,3] @"lstm.weight_hh_l0"
  %bi0 = const f32[12] @"lstm.bias_ih_l0"
  %bh0 = const f32[12] @"lstm.bias_hh_l0"
  %w1 = const f32[12,3] @"lstm.weight_ih_l1"
  %r1 = const f32[12,3] @"lstm.weight_hh_l1"
  %bi1 = const f32[12] @"lstm.bias_ih_l1"
  %bh1 = const f32[12] @"lstm.bias_hh_l1"
  %params = prim::ListConstruct(%w0, %r0, %bi0, %bh0, %w1, %r1, %bi1, %bh1)
  %true = const bool true
  %false = const bool false
  %p = const float 0.0
  %out, %hn, %cn = aten::lstm(%x, %hx, %params, %true, %two, %p, %false, %false, %true)
  %gw = const f32[9,4] @"gru.weight_ih_l0"
  %gr = const f32[9,3] @"gru.weight_hh_l0"
  %gbi = const f32[9] @"gru.bias_ih_l0"
  %gbh = const f32[9] @"gru.bias_hh_l0"
  %gwr = const f32[9,4] @"gru.weight_ih_l0_reverse"
  %grr = const f32[9,3] @"gru.weight_hh_l0_reverse"
  %gbir = const f32[9] @"gru.bias_ih_l0_reverse"
  %gbhr = const f32[9] @"gru.bias_hh_l0_reverse"
  %gparams = prim::ListConstruct(%gw, %gr, %gbi, %gbh, %gwr, %grr, %gbir, %gbhr)
  %one = const int 1
  %gout, %ghn = aten::gru(%x, %h0, %gparams, %true, %one, %p, %false, %true, %true)
}
)";

// Data-dependent control flow: an If with results and a counted Loop.
constexpr std::string_view kControlFlow = R"(graph @main(%x: f32[batch,4], %n: i64[]) -> (%y, %z) {
  %none = const none
  %s = aten::sum(%x, %none)
  %fzero = const float 0.0
  %positive = aten::gt(%s, %fzero)
  %y = prim::If(%positive) {then=graph @then() -> (%t) {
    %t = aten::relu(%x)
  }, else=graph @else() -> (%e) {
    %e = aten::neg(%x)
  }}
  %count = aten::Int(%n)
  %true = const bool true
  %z = prim::Loop(%count, %true, %x) {body=graph @body(%i: int, %acc: f32[batch,4]) -> (%go: bool, %next) {
    %go = const bool true
    %half = const float 0.5
    %next = aten::mul(%acc, %half)
  }}
}
)";

class LowerAndCheck : public ::testing::TestWithParam<int> {};

struct Saved {
  onnx::ModelProto model;
  std::vector<std::string> ops;
};

Saved lowerAndSave(OnnxEnv& env, std::string_view ir, int opset, const TempDir& dir) {
  auto graph = env.parse(ir);
  EXPECT_TRUE(graph.hasValue()) << graph.status().message();
  Saved saved;
  if (!graph.hasValue()) return saved;
  Status status = env.lowerAndSave(**graph, opset, dir.path(), saved.model);
  EXPECT_TRUE(status.isOk()) << status.message();
  saved.ops = opTypes(saved.model);
  return saved;
}

bool contains(const std::vector<std::string>& ops, std::string_view op) {
  return std::find(ops.begin(), ops.end(), op) != ops.end();
}

TEST_P(LowerAndCheck, ResNetBlock) {
  OnnxEnv env;
  TempDir dir;
  Saved s = lowerAndSave(env, kResNetBlock, GetParam(), dir);
  EXPECT_TRUE(contains(s.ops, "Conv"));
  EXPECT_TRUE(contains(s.ops, "BatchNormalization"));
  EXPECT_TRUE(contains(s.ops, "MaxPool"));
  EXPECT_TRUE(contains(s.ops, "GlobalAveragePool"));
  EXPECT_TRUE(contains(s.ops, "Flatten"));
  EXPECT_TRUE(contains(s.ops, "Gemm"));
  EXPECT_EQ(s.model.opset_import(0).version(), GetParam());
  // Initializers carry the parameter names.
  std::set<std::string> names;
  for (const auto& init : s.model.graph().initializer()) names.insert(init.name());
  EXPECT_TRUE(names.count("conv1.weight")) << "initializer names should come from the 'param' attribute";
  EXPECT_TRUE(names.count("fc.bias"));
}

TEST_P(LowerAndCheck, MobileNetBlock) {
  OnnxEnv env;
  TempDir dir;
  Saved s = lowerAndSave(env, kMobileNetBlock, GetParam(), dir);
  EXPECT_TRUE(contains(s.ops, "Clip"));
  EXPECT_EQ(contains(s.ops, "HardSwish"), GetParam() >= 14);
  EXPECT_TRUE(contains(s.ops, "HardSigmoid"));
  EXPECT_TRUE(contains(s.ops, "AveragePool"));
  EXPECT_TRUE(contains(s.ops, "LeakyRelu"));
  EXPECT_FALSE(contains(s.ops, "Dropout")) << "eval-mode dropout is the identity";
}

TEST_P(LowerAndCheck, TransformerBlock) {
  OnnxEnv env;
  TempDir dir;
  Saved s = lowerAndSave(env, kTransformerBlock, GetParam(), dir);
  EXPECT_EQ(contains(s.ops, "LayerNormalization"), GetParam() >= 17);
  EXPECT_TRUE(contains(s.ops, "Softmax"));
  EXPECT_TRUE(contains(s.ops, "Split"));
  EXPECT_TRUE(contains(s.ops, "Transpose"));
  EXPECT_TRUE(contains(s.ops, "Tanh")) << "gelu(approximate='tanh') decomposes with Tanh";
  // ReduceMean: axes attribute up to 17, input from 18.
  for (const auto& node : s.model.graph().node()) {
    if (node.op_type() != "ReduceMean") continue;
    EXPECT_EQ(node.input_size(), GetParam() >= 18 ? 2 : 1);
  }
}

TEST_P(LowerAndCheck, ChannelShuffle) {
  OnnxEnv env;
  TempDir dir;
  Saved s = lowerAndSave(env, kChannelShuffle, GetParam(), dir);
  EXPECT_TRUE(contains(s.ops, "Split"));
  EXPECT_FALSE(contains(s.ops, "SequenceConstruct")) << "ListUnpack reads through the split list";
  ASSERT_EQ(s.model.graph().output_size(), 2);
  // Output types are known: [batch, 4, 4, 4].
  const auto& out = s.model.graph().output(0).type().tensor_type();
  ASSERT_EQ(out.shape().dim_size(), 4);
  EXPECT_EQ(out.shape().dim(0).dim_param(), "batch");
}

TEST_P(LowerAndCheck, Reductions) {
  OnnxEnv env;
  TempDir dir;
  Saved s = lowerAndSave(env, kReductions, GetParam(), dir);
  EXPECT_TRUE(contains(s.ops, "ReduceMean"));
  EXPECT_TRUE(contains(s.ops, "ReduceSum"));
  EXPECT_TRUE(contains(s.ops, "ReduceMax"));
  EXPECT_TRUE(contains(s.ops, "LogSoftmax"));
  // log_softmax(dtype=float64) casts first; the output is f64.
  EXPECT_EQ(s.model.graph().output(3).type().tensor_type().elem_type(), onnx::TensorProto::DOUBLE);
}

TEST_P(LowerAndCheck, FastPathAttention) {
  OnnxEnv env;
  TempDir dir;
  Saved s = lowerAndSave(env, kFastPathAttention, GetParam(), dir);
  EXPECT_TRUE(contains(s.ops, "Softmax"));
  EXPECT_TRUE(contains(s.ops, "Where")) << "masked scores";
  EXPECT_TRUE(contains(s.ops, "Erf")) << "the encoder layer's gelu";
  EXPECT_FALSE(contains(s.ops, "SequenceConstruct")) << "nested tensors are read through";
}

TEST_P(LowerAndCheck, Recurrent) {
  OnnxEnv env;
  TempDir dir;
  Saved s = lowerAndSave(env, kRecurrent, GetParam(), dir);
  EXPECT_EQ(std::count(s.ops.begin(), s.ops.end(), "LSTM"), 2) << "one ONNX LSTM per layer";
  EXPECT_EQ(std::count(s.ops.begin(), s.ops.end(), "GRU"), 1);
  for (const auto& node : s.model.graph().node()) {
    if (node.op_type() != "GRU") continue;
    bool linearBeforeReset = false;
    std::string direction;
    for (const auto& a : node.attribute()) {
      if (a.name() == "linear_before_reset") linearBeforeReset = a.i() == 1;
      if (a.name() == "direction") direction = a.s();
    }
    EXPECT_TRUE(linearBeforeReset);
    EXPECT_EQ(direction, "bidirectional");
  }
  ASSERT_EQ(s.model.graph().output_size(), 4);
  EXPECT_EQ(s.model.graph().output(0).type().tensor_type().shape().dim(2).dim_value(), 3);
}

TEST_P(LowerAndCheck, ControlFlow) {
  OnnxEnv env;
  TempDir dir;
  Saved s = lowerAndSave(env, kControlFlow, GetParam(), dir);
  EXPECT_TRUE(contains(s.ops, "If"));
  EXPECT_TRUE(contains(s.ops, "Loop"));
  for (const auto& node : s.model.graph().node()) {
    if (node.op_type() != "Loop") continue;
    ASSERT_EQ(node.attribute_size(), 1);
    const auto& body = node.attribute(0).g();
    EXPECT_EQ(body.input_size(), 3) << "iteration, condition, carried value";
    EXPECT_EQ(body.output_size(), 2);
  }
}

INSTANTIATE_TEST_SUITE_P(Opsets, LowerAndCheck, ::testing::Values(13, 17, 18),
                         [](const ::testing::TestParamInfo<int>& info) { return "opset" + std::to_string(info.param); });

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------
TEST(LowerToOnnxErrors, ListsEveryUnsupportedOpWithCounts) {
  OnnxEnv env;
  auto graph = env.parse(R"(graph @main(%x: f32[2,3]) -> (%y) {
  %a = aten::frobnicate(%x)
  %b = aten::frobnicate(%a)
  %c = aten::wibble(%b)
  %y = aten::relu(%c)
}
)");
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  Status status = env.lower(**graph, 17);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Unsupported);
  EXPECT_NE(status.message().find("aten::frobnicate x2"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("aten::wibble x1"), std::string::npos) << status.message();
  EXPECT_EQ(status.message().find("aten::relu"), std::string::npos) << "relu has a converter";
}

TEST(LowerToOnnxErrors, RefusesTrainingModeBatchNorm) {
  OnnxEnv env;
  auto graph = env.parse(R"(graph @main(%x: f32[2,4,3,3]) -> (%y) {
  %w = const f32[4] @"bn.weight"
  %b = const f32[4] @"bn.bias"
  %m = const f32[4] @"bn.running_mean"
  %v = const f32[4] @"bn.running_var"
  %train = const bool true
  %mom = const float 0.1
  %eps = const float 1e-05
  %y = aten::batch_norm(%x, %w, %b, %m, %v, %train, %mom, %eps, %train)
}
)");
  ASSERT_TRUE(graph.hasValue());
  Status status = env.lower(**graph, 17);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("training mode"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("aten::batch_norm"), std::string::npos) << "the error names the node";
}

TEST(LowerToOnnxErrors, RefusesMutationReadLater) {
  OnnxEnv env;
  // In-place relu_ on %t, then %t read again: the functional lowering would lose the mutation.
  Graph g;
  Value* x = g.addInput(Type::tensor(DType::F32, std::vector<int64_t>{2, 3}), "x");
  Node* relu = g.appendNode("aten::relu", std::vector<Value*>{x});
  Node* inplace = g.appendNode("aten::relu_", std::vector<Value*>{relu->output()});
  (void)inplace;
  Node* one = g.createConstant(Tensor::scalarI64(1));
  Node* add = g.appendNode("aten::add", std::vector<Value*>{relu->output(), relu->output(), one->output()});
  g.addOutput(add->output());
  Status status = env.lower(g, 17);
  ASSERT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("mutates"), std::string::npos) << status.message();
}

TEST(LowerToOnnxErrors, NegativeTransposeAxisNeedsRank) {
  OnnxEnv env;
  auto graph = env.parse(R"(graph @main(%x: f32[*]) -> (%y) {
  %a = const int -1
  %b = const int 0
  %y = aten::transpose(%x, %a, %b)
}
)");
  ASSERT_TRUE(graph.hasValue()) << graph.status().message();
  Status status = env.lower(**graph, 17);
  ASSERT_FALSE(status.isOk());
  EXPECT_EQ(status.kind(), ErrorKind::Unsupported);
  EXPECT_NE(status.message().find("rank"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace torchport::onnxtest
