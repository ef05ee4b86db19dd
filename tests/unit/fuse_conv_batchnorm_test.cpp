// fuse-conv-batchnorm, checked numerically: a naive reference Conv / ConvTranspose /
// BatchNormalization evaluates the graph before and after the pass on random data, and the
// outputs must agree (strides, pads, dilations, groups, with and without bias, f32/f64/f16).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "../../core/src/passes/passes.h"
#include "torchport/host/diagnostics.h"
#include "torchport/ir.h"
#include "torchport/registry.h"

namespace torchport {
namespace {

class RecordingDiagnostics final : public Diagnostics {
 public:
  void log(LogLevel, std::string_view message) override { messages.emplace_back(message); }
  bool mentions(std::string_view text) const {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const std::string& m) { return m.find(text) != std::string::npos; });
  }
  std::vector<std::string> messages;
};

// Dense row-major array of doubles.
struct Array {
  std::vector<int64_t> shape;
  std::vector<double> data;
  double& at(std::initializer_list<int64_t> index) { return data[offset(index)]; }
  double at(std::initializer_list<int64_t> index) const { return data[offset(index)]; }
  size_t offset(std::initializer_list<int64_t> index) const {
    size_t flat = 0, d = 0;
    for (int64_t i : index) flat = flat * static_cast<size_t>(shape[d++]) + static_cast<size_t>(i);
    return flat;
  }
};

Array zeros(std::vector<int64_t> shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return {std::move(shape), std::vector<double>(n, 0.0)};
}

Array fromTensor(const Tensor& t) {
  Array a = zeros(t.shape());
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = t.elementAsDouble(static_cast<int64_t>(i));
  return a;
}

struct ConvAttributes {
  std::vector<int64_t> strides{1, 1}, pads{0, 0, 0, 0}, dilations{1, 1};
  int64_t group = 1;
};

ConvAttributes attributesOf(const Node& node) {
  ConvAttributes a;
  if (const auto* v = node.intsAttr("strides")) a.strides = *v;
  if (const auto* v = node.intsAttr("pads")) a.pads = *v;
  if (const auto* v = node.intsAttr("dilations")) a.dilations = *v;
  a.group = node.intAttr("group").value_or(1);
  return a;
}

// y[n, o, i, j] = B[o] + sum_{c in o's group, p, q} x[n, c, i*s - pad + p*d, ...] * W[o, c', p, q]
Array referenceConv(const Array& x, const Array& w, const Array* b, const ConvAttributes& a) {
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t m = w.shape[0], cg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  const int64_t oh = (h + a.pads[0] + a.pads[2] - a.dilations[0] * (kh - 1) - 1) / a.strides[0] + 1;
  const int64_t ow = (wd + a.pads[1] + a.pads[3] - a.dilations[1] * (kw - 1) - 1) / a.strides[1] + 1;
  EXPECT_EQ(c, cg * a.group);
  Array y = zeros({n, m, oh, ow});
  const int64_t outPerGroup = m / a.group;
  for (int64_t in = 0; in < n; ++in)
    for (int64_t o = 0; o < m; ++o)
      for (int64_t i = 0; i < oh; ++i)
        for (int64_t j = 0; j < ow; ++j) {
          double sum = b != nullptr ? b->data[static_cast<size_t>(o)] : 0.0;
          const int64_t g = o / outPerGroup;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t p = 0; p < kh; ++p)
              for (int64_t q = 0; q < kw; ++q) {
                const int64_t r = i * a.strides[0] - a.pads[0] + p * a.dilations[0];
                const int64_t s = j * a.strides[1] - a.pads[1] + q * a.dilations[1];
                if (r < 0 || r >= h || s < 0 || s >= wd) continue;
                sum += x.at({in, g * cg + ci, r, s}) * w.at({o, ci, p, q});
              }
          y.at({in, o, i, j}) = sum;
        }
  return y;
}

// Scatter form: x[n, c, i, j] * W[c, k, p, q] lands on y[n, g*M/g + k, i*s - pad + p*d, ...].
Array referenceConvTranspose(const Array& x, const Array& w, const Array* b, const ConvAttributes& a) {
  const int64_t n = x.shape[0], c = x.shape[1], h = x.shape[2], wd = x.shape[3];
  const int64_t mg = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  const int64_t m = mg * a.group;
  const int64_t oh = (h - 1) * a.strides[0] - a.pads[0] - a.pads[2] + a.dilations[0] * (kh - 1) + 1;
  const int64_t ow = (wd - 1) * a.strides[1] - a.pads[1] - a.pads[3] + a.dilations[1] * (kw - 1) + 1;
  Array y = zeros({n, m, oh, ow});
  const int64_t inPerGroup = c / a.group;
  for (int64_t in = 0; in < n; ++in)
    for (int64_t ci = 0; ci < c; ++ci)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < wd; ++j)
          for (int64_t k = 0; k < mg; ++k)
            for (int64_t p = 0; p < kh; ++p)
              for (int64_t q = 0; q < kw; ++q) {
                const int64_t r = i * a.strides[0] - a.pads[0] + p * a.dilations[0];
                const int64_t s = j * a.strides[1] - a.pads[1] + q * a.dilations[1];
                if (r < 0 || r >= oh || s < 0 || s >= ow) continue;
                y.at({in, (ci / inPerGroup) * mg + k, r, s}) += x.at({in, ci, i, j}) * w.at({ci, k, p, q});
              }
  if (b != nullptr) {
    for (size_t idx = 0; idx < y.data.size(); ++idx) {
      const auto o = static_cast<size_t>((static_cast<int64_t>(idx) / (oh * ow)) % m);
      y.data[idx] += b->data[o];
    }
  }
  return y;
}

Array referenceBatchNorm(const Array& x, const Array& scale, const Array& beta, const Array& mean, const Array& var,
                         double eps) {
  Array y = x;
  const int64_t channels = x.shape[1];
  const int64_t spatial = x.shape[2] * x.shape[3];
  for (size_t idx = 0; idx < y.data.size(); ++idx) {
    const auto o = static_cast<size_t>((static_cast<int64_t>(idx) / spatial) % channels);
    y.data[idx] = scale.data[o] * (x.data[idx] - mean.data[o]) / std::sqrt(var.data[o] + eps) + beta.data[o];
  }
  return y;
}

// Evaluates a graph of constants, Conv, ConvTranspose and BatchNormalization on `input`.
Array evaluate(const Graph& graph, const Array& input) {
  std::map<const Value*, Array> values;
  values[graph.inputs()[0]] = input;
  auto operand = [&](const Node& node, size_t i) -> const Array* {
    if (i >= node.numInputs()) return nullptr;
    auto it = values.find(node.input(i));
    return it == values.end() ? nullptr : &it->second;
  };
  for (const Node* node : graph.nodes()) {
    if (node->isConstant()) {
      if (const Tensor* t = node->tensorAttr("value")) values[node->output()] = fromTensor(*t);
    } else if (node->kind() == "onnx::Conv") {
      values[node->output()] = referenceConv(*operand(*node, 0), *operand(*node, 1), operand(*node, 2), attributesOf(*node));
    } else if (node->kind() == "onnx::ConvTranspose") {
      values[node->output()] =
          referenceConvTranspose(*operand(*node, 0), *operand(*node, 1), operand(*node, 2), attributesOf(*node));
    } else if (node->kind() == "onnx::BatchNormalization") {
      values[node->output()] = referenceBatchNorm(*operand(*node, 0), *operand(*node, 1), *operand(*node, 2),
                                                  *operand(*node, 3), *operand(*node, 4),
                                                  node->floatAttr("epsilon").value_or(1e-5));
    } else {
      ADD_FAILURE() << "unexpected node " << node->kind();
    }
  }
  return values.at(graph.outputs()[0]);
}

Tensor randomTensor(std::mt19937& rng, DType dtype, std::vector<int64_t> shape, double low, double high) {
  std::uniform_real_distribution<double> dist(low, high);
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  std::vector<double> values(n);
  for (double& v : values) v = dist(rng);
  switch (dtype) {
    case DType::F64: return Tensor::fromVector<double>(dtype, std::move(shape), values);
    case DType::F16: {
      std::vector<uint16_t> bits(n);
      for (size_t i = 0; i < n; ++i) bits[i] = floatToFloat16Bits(static_cast<float>(values[i]));
      return Tensor::fromVector<uint16_t>(dtype, std::move(shape), bits);
    }
    default: {
      std::vector<float> f(values.begin(), values.end());
      return Tensor::fromVector<float>(DType::F32, std::move(shape), f);
    }
  }
}

struct Case {
  bool transposed = false;
  bool bias = true;
  DType dtype = DType::F32;
  int64_t inChannels = 4, outChannels = 6, kernel = 3, group = 1;
  std::vector<int64_t> strides{1, 1}, pads{1, 1, 1, 1}, dilations{1, 1};
  double epsilon = 1e-3;
};

class FuseConvBatchnormNumericTest : public ::testing::Test {
 protected:
  FuseConvBatchnormNumericTest() : context_(registry_, diagnostics_, progress_) {}

  // Builds input -> conv -> BN -> output with random constants.
  std::unique_ptr<Graph> build(const Case& c) {
    auto g = std::make_unique<Graph>();
    Value* x = g->addInput(Type::tensor(c.dtype, {2, c.inChannels, 5, 6}), "x");
    const std::vector<int64_t> weightShape =
        c.transposed ? std::vector<int64_t>{c.inChannels, c.outChannels / c.group, c.kernel, c.kernel}
                     : std::vector<int64_t>{c.outChannels, c.inChannels / c.group, c.kernel, c.kernel};
    std::vector<Value*> convInputs{x, g->createConstant(randomTensor(rng_, c.dtype, weightShape, -1, 1), nullptr, "w")->output()};
    if (c.bias) convInputs.push_back(g->createConstant(randomTensor(rng_, c.dtype, {c.outChannels}, -1, 1), nullptr, "b")->output());
    Node* conv = g->appendNode(c.transposed ? "onnx::ConvTranspose" : "onnx::Conv", convInputs);
    conv->setAttribute("strides", c.strides);
    conv->setAttribute("pads", c.pads);
    conv->setAttribute("dilations", c.dilations);
    conv->setAttribute("group", c.group);
    std::vector<Value*> bnInputs{conv->output()};
    const std::pair<double, double> ranges[] = {{0.5, 2.0}, {-1.0, 1.0}, {-0.5, 0.5}, {0.1, 3.0}};
    for (const auto& [low, high] : ranges) {
      bnInputs.push_back(g->createConstant(randomTensor(rng_, DType::F32, {c.outChannels}, low, high))->output());
    }
    Node* bn = g->appendNode("onnx::BatchNormalization", bnInputs);
    bn->setAttribute("epsilon", c.epsilon);
    EXPECT_TRUE(g->renameValue(bn->output(), "y").isOk());
    g->addOutput(bn->output());
    return g;
  }

  Array randomInput(const Case& c) {
    Array x = zeros({2, c.inChannels, 5, 6});
    std::uniform_real_distribution<double> dist(-2.0, 2.0);
    for (double& v : x.data) v = dist(rng_);
    if (c.dtype == DType::F16) {  // the input a f16 model would see
      for (double& v : x.data) v = float16BitsToFloat(floatToFloat16Bits(static_cast<float>(v)));
    }
    return x;
  }

  // Fuses and returns the largest difference relative to the output's scale.
  double fuseAndCompare(const Case& c) {
    std::unique_ptr<Graph> original = build(c);
    std::unique_ptr<Graph> fused = original->clone();
    context_.resetChanged();
    EXPECT_TRUE(runFuseConvBatchnorm(*fused, context_).isOk());
    EXPECT_TRUE(context_.changed());
    EXPECT_TRUE(runEliminateDeadCode(*fused, context_).isOk());
    EXPECT_TRUE(fused->verify().isOk());
    size_t convs = 0, norms = 0;
    for (const Node* n : fused->nodes()) {
      convs += n->kind() == "onnx::Conv" || n->kind() == "onnx::ConvTranspose";
      norms += n->kind() == "onnx::BatchNormalization";
      if (n->isConstant()) {
        EXPECT_EQ(n->tensorAttr("value")->dtype(), c.dtype) << "fused constants keep the dtype";
      }
    }
    EXPECT_EQ(convs, 1u);
    EXPECT_EQ(norms, 0u);
    EXPECT_EQ(fused->outputs()[0]->name(), "y");

    const Array x = randomInput(c);
    const Array expected = evaluate(*original, x);
    const Array actual = evaluate(*fused, x);
    EXPECT_EQ(expected.shape, actual.shape);
    double scale = 0, error = 0;
    for (size_t i = 0; i < expected.data.size(); ++i) {
      scale = std::max(scale, std::abs(expected.data[i]));
      error = std::max(error, std::abs(expected.data[i] - actual.data[i]));
    }
    EXPECT_GT(scale, 0.1) << "degenerate test data";
    return error / scale;
  }

  std::mt19937 rng_{20240611};
  Registry registry_;
  RecordingDiagnostics diagnostics_;
  NullProgress progress_;
  PassContext context_;
};

TEST_F(FuseConvBatchnormNumericTest, ConvWithBiasMatchesConvThenBatchNorm) {
  EXPECT_LT(fuseAndCompare(Case{}), 1e-6);
}

TEST_F(FuseConvBatchnormNumericTest, ConvWithoutBiasStridesDilationsAndPads) {
  Case c;
  c.bias = false;
  c.strides = {2, 1};
  c.dilations = {1, 2};
  c.pads = {0, 2, 1, 1};
  EXPECT_LT(fuseAndCompare(c), 1e-6);
}

TEST_F(FuseConvBatchnormNumericTest, GroupedAndDepthwiseConv) {
  Case grouped;
  grouped.group = 2;
  EXPECT_LT(fuseAndCompare(grouped), 1e-6);
  Case depthwise;
  depthwise.inChannels = depthwise.outChannels = depthwise.group = 4;
  EXPECT_LT(fuseAndCompare(depthwise), 1e-6);
}

TEST_F(FuseConvBatchnormNumericTest, ConvTransposeScalesItsOutputChannelDim) {
  Case c;
  c.transposed = true;
  c.strides = {2, 2};
  EXPECT_LT(fuseAndCompare(c), 1e-6);
}

TEST_F(FuseConvBatchnormNumericTest, GroupedConvTranspose) {
  Case c;
  c.transposed = true;
  c.group = 2;
  c.bias = false;
  EXPECT_LT(fuseAndCompare(c), 1e-6);
}

TEST_F(FuseConvBatchnormNumericTest, DoubleAndHalfWeights) {
  Case f64;
  f64.dtype = DType::F64;
  EXPECT_LT(fuseAndCompare(f64), 1e-12);
  Case f16;
  f16.dtype = DType::F16;
  EXPECT_LT(fuseAndCompare(f16), 5e-3);  // one f16 rounding of the fused weights
}

TEST_F(FuseConvBatchnormNumericTest, TheReferenceDetectsAWrongChannelLayout) {
  // Guards the test itself: scaling ConvTranspose weights along dim 0 (Conv's layout) must
  // give a visible error, or the tests above could not catch that mistake.
  Case c;
  c.transposed = true;
  c.inChannels = 6;  // W is [6, 6, k, k]: both dims fit, only the layout differs
  std::unique_ptr<Graph> original = build(c);
  const Node* bn = nullptr;
  const Node* conv = nullptr;
  for (const Node* n : original->nodes()) {
    if (n->kind() == "onnx::BatchNormalization") bn = n;
    if (n->kind() == "onnx::ConvTranspose") conv = n;
  }
  ASSERT_NE(bn, nullptr);
  ASSERT_NE(conv, nullptr);
  Array w = fromTensor(*conv->input(1)->producer()->tensorAttr("value"));
  const Array scale = fromTensor(*bn->input(1)->producer()->tensorAttr("value"));
  const Array var = fromTensor(*bn->input(4)->producer()->tensorAttr("value"));
  const size_t block = w.data.size() / static_cast<size_t>(w.shape[0]);
  for (size_t i = 0; i < w.data.size(); ++i) {
    const size_t o = i / block;  // wrong: dim 0
    w.data[i] *= scale.data[o] / std::sqrt(var.data[o] + c.epsilon);
  }
  const Array x = randomInput(c);
  const Array withBn = evaluate(*original, x);
  const Array wrong = referenceConvTranspose(x, w, nullptr, attributesOf(*conv));
  double difference = 0;
  for (size_t i = 0; i < wrong.data.size(); ++i) difference = std::max(difference, std::abs(withBn.data[i] - wrong.data[i]));
  EXPECT_GT(difference, 0.1);
}

TEST_F(FuseConvBatchnormNumericTest, SharedWeightsStayIntactForTheOtherConv) {
  std::unique_ptr<Graph> g = build(Case{});
  Node* conv = nullptr;
  for (Node* n : g->nodes()) {
    if (n->kind() == "onnx::Conv") conv = n;
  }
  ASSERT_NE(conv, nullptr);
  Value* weight = conv->input(1);
  const Tensor before = *weight->producer()->tensorAttr("value");
  Node* other = g->appendNode("onnx::Conv", std::vector<Value*>{g->inputs()[0], weight});
  g->addOutput(other->output());
  ASSERT_TRUE(runFuseConvBatchnorm(*g, context_).isOk());
  EXPECT_EQ(other->input(1), weight);
  EXPECT_TRUE(weight->producer()->tensorAttr("value")->contentEquals(before));
  EXPECT_NE(conv->input(1), weight);
}

TEST_F(FuseConvBatchnormNumericTest, RefusalsAreDebugNotesNamingTheReason) {
  std::unique_ptr<Graph> g = build(Case{});
  Node* conv = nullptr;
  for (Node* n : g->nodes()) {
    if (n->kind() == "onnx::Conv") conv = n;
  }
  ASSERT_NE(conv, nullptr);
  Node* relu = g->appendNode("onnx::Relu", std::vector<Value*>{conv->output()});
  g->addOutput(relu->output());
  const std::string before = std::to_string(g->numNodes());
  context_.resetChanged();
  ASSERT_TRUE(runFuseConvBatchnorm(*g, context_).isOk());
  EXPECT_FALSE(context_.changed());
  EXPECT_EQ(std::to_string(g->numNodes()), before);
  EXPECT_TRUE(diagnostics_.mentions("other users")) << (diagnostics_.messages.empty() ? "" : diagnostics_.messages[0]);
  EXPECT_TRUE(diagnostics_.mentions("onnx::BatchNormalization"));
}

}  // namespace
}  // namespace torchport
