// fuse-gelu: turns the decomposed GELU that exporters emit (exact, with Erf, or the tanh
// approximation) into one onnx::Gelu (opset 20), or, with domain=com.microsoft, into ONNX
// Runtime's contrib ops com.microsoft::Gelu / com.microsoft::FastGelu.
//
// Before (exact):
//   graph @main(%x: f32[2,4]) -> (%y: f32[2,4]) {
//     %c = const f32[] dense<[0.70710677]>
//     %u: f32[2,4] = onnx::Mul(%x, %c)                           # or onnx::Div(%x, 1.4142135)
//     %e: f32[2,4] = onnx::Erf(%u)
//     %one = const f32[] dense<[1.0]>
//     %a: f32[2,4] = onnx::Add(%e, %one)
//     %half = const f32[] dense<[0.5]>
//     %h: f32[2,4] = onnx::Mul(%a, %half)
//     %y: f32[2,4] = onnx::Mul(%x, %h)
//   }
// After (fuse-gelu{opset=20}):
//   graph @main(%x: f32[2,4]) -> (%y: f32[2,4]) {
//     %y: f32[2,4] = onnx::Gelu(%x) {approximate="none"}         (constants left for eliminate-dead-code)
//   }
// Before (tanh approximation):
//   %x3 = onnx::Pow(%x, 3)  (or x * (x * x), (x * x) * x)    %w = onnx::Mul(0.044715, %x3)
//   %i = onnx::Add(%x, %w)    %k = onnx::Mul(0.7978846, %i)    %t = onnx::Tanh(%k)
//   %a = onnx::Add(%t, 1)     %y = 0.5 * x * a (as below)
// After: %y = onnx::Gelu(%x) {approximate="tanh"}
//
// Math: Gelu(x) = 0.5 * x * (1 + erf(x / sqrt(2))); with approximate="tanh",
// 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))). ONNX Gelu-20 computes exactly
// these; com.microsoft::Gelu is the erf form and com.microsoft::FastGelu the tanh form.
//
// Matching: the last node is a Mul whose operands, after opening one nested single-use Mul,
// are the three factors x, 0.5 and a = 1 + erf(...) / 1 + tanh(...) in any order and nesting
// (x * (a * 0.5), (x * a) * 0.5, (0.5 * x) * a, ...). Adds and Muls take their operands in
// either order. The x inside erf/tanh must be the same value as the factor x.
//
// Fires only when (otherwise a debug note names the reason, once the shape of a GELU is seen):
//   - domain=onnx: the target opset (the `opset` option, else the one lower-to-onnx used) is
//     known and >= 20; domain=com.microsoft: no ONNX opset condition (the contrib domain is
//     versioned separately, version 1);
//   - x has dtype f32, f64, f16 or bf16 (FastGelu: not f64, ORT does not define it);
//   - the constants are one-element, of rank 0 or at most x's known rank (no broadcasting up),
//     0.5 and 1 exactly, 1/sqrt(2), sqrt(2), sqrt(2/pi), 0.044715 and the exponent 3 within the
//     rounding of their own dtype (relative 1e-6 for f32/f64, 1e-3 for f16, 1e-2 for bf16);
//   - every intermediate value has exactly one use, in the pattern, and is not a graph output.
// The Gelu replaces the last Mul (its name and graph-output slot are kept). Works inside
// If/Loop bodies.
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kSqrtHalf = 0.7071067811865476;
constexpr double kSqrt2OverPi = 0.7978845608028654;
constexpr double kCubicCoefficient = 0.044715;

bool singleUse(const Value* value) { return value->uses().size() == 1 && !value->isGraphOutput(); }

Node* producerOf(const Value* value, std::string_view kind, size_t numInputs) {
  Node* producer = value->producer();
  return producer != nullptr && producer->kind() == kind && producer->numOutputs() == 1 &&
                 producer->numInputs() == numInputs
             ? producer
             : nullptr;
}

class GeluFusion {
 public:
  GeluFusion(PassContext& context, bool contrib, std::optional<int64_t> opset)
      : context_(context), contrib_(contrib), opset_(opset) {}

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph&, Node* node) {
      const bool binaryMul = node->kind() == "onnx::Mul" && node->numInputs() == 2 && node->numOutputs() == 1;
      return binaryMul ? visit(*node) : Status::ok();
    });
  }

  size_t fused() const { return fused_; }

 private:
  // What a match found: the input, the form, and the nodes to erase (consumers first).
  struct Match {
    Value* x = nullptr;
    bool tanh = false;
    std::vector<Node*> nodes;
    std::vector<Value*> constants;  // checked once x's type is known
    std::vector<double> expected;   // the value each constant must have
  };

  Status skip(const Node& node, std::string_view why) {
    context_.diag().debug("fuse-gelu: not fusing the GELU ending at " + node.describe() + ": " + std::string(why));
    return Status::ok();
  }

  // A one-element constant (any value; checked later against x's type).
  static bool isOneElementConstant(const Value* value) {
    const Node* producer = constantProducer(value);
    if (producer == nullptr) return false;
    if (const Tensor* t = producer->tensorAttr("value"); t != nullptr && t->numel() != 1) return false;
    return constantNumber(value).has_value();
  }

  // a = 1 + erf(x / sqrt2) or 1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)); fills `m` (x, form,
  // nodes after the product, constants) on success.
  static bool matchInner(Value* a, Match& m) {
    Node* add = producerOf(a, "onnx::Add", 2);
    if (add == nullptr || !singleUse(a)) return false;
    for (size_t i = 0; i < 2; ++i) {
      Value* one = add->input(i);
      Value* activation = add->input(1 - i);
      if (!isOneElementConstant(one) || !singleUse(activation)) continue;
      Match trial;
      trial.nodes.push_back(add);
      trial.constants.push_back(one);
      trial.expected.push_back(1.0);
      if (Node* erf = producerOf(activation, "onnx::Erf", 1)) {
        trial.nodes.push_back(erf);
        if (matchErfArgument(erf->input(0), trial)) {
          m = std::move(trial);
          return true;
        }
      } else if (Node* tanh = producerOf(activation, "onnx::Tanh", 1)) {
        trial.nodes.push_back(tanh);
        trial.tanh = true;
        if (matchTanhArgument(tanh->input(0), trial)) {
          m = std::move(trial);
          return true;
        }
      }
    }
    return false;
  }

  // u = x / sqrt(2), x * sqrt(0.5) or sqrt(0.5) * x.
  static bool matchErfArgument(Value* u, Match& m) {
    if (!singleUse(u)) return false;
    if (Node* div = producerOf(u, "onnx::Div", 2)) {
      if (!isOneElementConstant(div->input(1))) return false;
      m.nodes.push_back(div);
      m.x = div->input(0);
      m.constants.push_back(div->input(1));
      m.expected.push_back(kSqrt2);
      return true;
    }
    Node* mul = producerOf(u, "onnx::Mul", 2);
    if (mul == nullptr) return false;
    for (size_t i = 0; i < 2; ++i) {
      if (isOneElementConstant(mul->input(i)) && !isOneElementConstant(mul->input(1 - i))) {
        m.nodes.push_back(mul);
        m.x = mul->input(1 - i);
        m.constants.push_back(mul->input(i));
        m.expected.push_back(kSqrtHalf);
        return true;
      }
    }
    return false;
  }

  // k = c1 * (x + c2 * x^3) in any operand order; x^3 = Pow(x, 3), x * (x * x) or (x * x) * x.
  static bool matchTanhArgument(Value* k, Match& m) {
    Node* scale = producerOf(k, "onnx::Mul", 2);
    if (scale == nullptr || !singleUse(k)) return false;
    for (size_t i = 0; i < 2; ++i) {
      Value* c1 = scale->input(i);
      Value* inner = scale->input(1 - i);
      Node* sum = producerOf(inner, "onnx::Add", 2);
      if (!isOneElementConstant(c1) || sum == nullptr || !singleUse(inner)) continue;
      for (size_t j = 0; j < 2; ++j) {
        Value* x = sum->input(j);
        Value* cubic = sum->input(1 - j);
        Node* cubicMul = producerOf(cubic, "onnx::Mul", 2);
        if (cubicMul == nullptr || !singleUse(cubic)) continue;
        for (size_t l = 0; l < 2; ++l) {
          Value* c2 = cubicMul->input(l);
          Value* cube = cubicMul->input(1 - l);
          std::vector<Node*> cubeNodes;
          std::vector<Value*> cubeConstants;
          if (!isOneElementConstant(c2) || !matchCube(cube, x, cubeNodes, cubeConstants)) continue;
          m.x = x;
          for (Node* node : {scale, sum, cubicMul}) m.nodes.push_back(node);
          m.nodes.insert(m.nodes.end(), cubeNodes.begin(), cubeNodes.end());
          m.constants.push_back(c1);
          m.expected.push_back(kSqrt2OverPi);
          m.constants.push_back(c2);
          m.expected.push_back(kCubicCoefficient);
          for (Value* c : cubeConstants) {
            m.constants.push_back(c);
            m.expected.push_back(3.0);
          }
          return true;
        }
      }
    }
    return false;
  }

  static bool matchCube(Value* cube, const Value* x, std::vector<Node*>& nodes, std::vector<Value*>& constants) {
    if (!singleUse(cube)) return false;
    if (Node* pow = producerOf(cube, "onnx::Pow", 2)) {
      if (pow->input(0) != x || !isOneElementConstant(pow->input(1))) return false;
      nodes.push_back(pow);
      constants.push_back(pow->input(1));
      return true;
    }
    Node* outer = producerOf(cube, "onnx::Mul", 2);
    if (outer == nullptr) return false;
    for (size_t i = 0; i < 2; ++i) {
      if (outer->input(i) != x) continue;
      Value* square = outer->input(1 - i);
      Node* inner = producerOf(square, "onnx::Mul", 2);
      if (inner != nullptr && singleUse(square) && inner->input(0) == x && inner->input(1) == x) {
        nodes.push_back(outer);
        nodes.push_back(inner);
        return true;
      }
    }
    return false;
  }

  // Factors of the final product: (p * q) * r or r * (p * q) with one single-use inner Mul.
  // Tries each way to open it; true with `m` filled when x, 0.5 and a are found.
  static bool matchProduct(Node& last, Match& m) {
    for (size_t open = 0; open < 2; ++open) {
      Value* nested = last.input(open);
      Node* innerMul = producerOf(nested, "onnx::Mul", 2);
      if (innerMul == nullptr || !singleUse(nested)) continue;
      const std::vector<Value*> factors{innerMul->input(0), innerMul->input(1), last.input(1 - open)};
      for (size_t halfIndex = 0; halfIndex < 3; ++halfIndex) {
        if (!isOneElementConstant(factors[halfIndex])) continue;
        for (size_t aIndex = 0; aIndex < 3; ++aIndex) {
          if (aIndex == halfIndex) continue;
          Match trial;
          if (!matchInner(factors[aIndex], trial)) continue;
          const size_t xIndex = 3 - halfIndex - aIndex;
          if (factors[xIndex] != trial.x) continue;
          trial.nodes.insert(trial.nodes.begin(), {&last, innerMul});
          trial.constants.push_back(factors[halfIndex]);
          trial.expected.push_back(0.5);
          m = std::move(trial);
          return true;
        }
      }
    }
    return false;
  }

  static double tolerance(DType dtype) {
    switch (dtype) {
      case DType::F16: return 1e-3;
      case DType::BF16: return 1e-2;
      default: return 1e-6;
    }
  }

  Status visit(Node& last) {
    Match m;
    if (!matchProduct(last, m)) return Status::ok();  // not the pattern
    const char* form = m.tanh ? "tanh" : "none";
    if (!contrib_ && (!opset_ || *opset_ < 20)) {
      return skip(last, opset_ ? "the target opset " + std::to_string(*opset_) + " is below 20 (onnx::Gelu)"
                               : std::string("the target opset is unknown (set the opset option)"));
    }
    const Type& xType = m.x->type();
    const DType dtype = xType.dtype();
    if (!xType.isTensor() ||
        (dtype != DType::F32 && dtype != DType::F64 && dtype != DType::F16 && dtype != DType::BF16)) {
      return skip(last, "the input dtype " + std::string(dtypeName(dtype)) + " is not f32, f64, f16 or bf16");
    }
    if (contrib_ && m.tanh && dtype == DType::F64) return skip(last, "com.microsoft::FastGelu has no f64 form");
    for (size_t i = 0; i < m.constants.size(); ++i) {
      const Node* producer = constantProducer(m.constants[i]);
      const Tensor* tensor = producer->tensorAttr("value");
      const int64_t rank = tensor != nullptr ? tensor->rank() : 0;
      if (rank > 0 && (!xType.hasRank() || rank > static_cast<int64_t>(xType.rank()))) {
        return skip(last, "a constant has a rank that could broadcast the input up");
      }
      const double value = *constantNumber(m.constants[i]);
      const double expected = m.expected[i];
      const bool exact = expected == 0.5 || expected == 1.0 || expected == 3.0;
      const DType constantDtype = tensor != nullptr ? tensor->dtype() : dtype;
      if (exact ? value != expected : !(std::fabs(value - expected) <= tolerance(constantDtype) * expected)) {
        return skip(last, "a constant is " + std::to_string(value) + " where the GELU has " + std::to_string(expected));
      }
    }

    Graph& graph = *last.owningGraph();
    Value* result = last.output();
    const std::string kind = contrib_ ? (m.tanh ? "com.microsoft::FastGelu" : "com.microsoft::Gelu") : "onnx::Gelu";
    Node* gelu = graph.insertNodeBefore(&last, kind, std::vector<Value*>{m.x});
    if (!contrib_) gelu->setAttribute("approximate", std::string(form));
    gelu->setProvenance(last.provenance());
    gelu->output()->setType(result->type().isUnknown() ? xType : result->type());
    const std::string name = result->name();
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(result, gelu->output()));
    for (Node* node : m.nodes) TP_RETURN_IF_ERROR(node->owningGraph()->eraseNode(node));
    if (gelu->output()->name() != name && graph.findValue(name) == nullptr) {
      TP_RETURN_IF_ERROR(graph.renameValue(gelu->output(), name));
    }
    ++fused_;
    return Status::ok();
  }

  PassContext& context_;
  bool contrib_;
  std::optional<int64_t> opset_;
  size_t fused_ = 0;
};

}  // namespace

PassInfo fuseGeluInfo() {
  PassInfo info;
  info.name = "fuse-gelu";
  info.summary = "Fuse the decomposed GELU (Erf or tanh approximation) into onnx::Gelu (opset 20) or ORT's contrib ops";
  info.description =
      "Replaces 0.5 * x * (1 + Erf(x / sqrt(2))) by onnx::Gelu(x){approximate=\"none\"} and "
      "0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3))) by onnx::Gelu(x){approximate=\"tanh\"}.\n"
      "Before:\n"
      "  %u: f32[2,4] = onnx::Mul(%x, %c)         # %c = 0.70710677 (or onnx::Div(%x, 1.4142135))\n"
      "  %e: f32[2,4] = onnx::Erf(%u)\n"
      "  %a: f32[2,4] = onnx::Add(%e, %one)       # %one = 1.0\n"
      "  %h: f32[2,4] = onnx::Mul(%a, %half)      # %half = 0.5\n"
      "  %y: f32[2,4] = onnx::Mul(%x, %h)\n"
      "After:\n"
      "  %y: f32[2,4] = onnx::Gelu(%x) {approximate=\"none\"}\n"
      "Recognized: x * sqrt(0.5) or x / sqrt(2) inside Erf; x^3 as Pow(x, 3), x*(x*x) or (x*x)*x; the three "
      "factors x, 0.5 and (1 + ...) multiplied in any order and nesting; every Add/Mul in either operand order. "
      "Constants must be one-element (rank 0 or <= x's rank), 0.5 / 1 / 3 exactly, the irrational ones within "
      "the rounding of their dtype.\n"
      "Fires only when: domain=onnx and the target opset is known and >= 20 (onnx::Gelu is opset 20), or "
      "domain=com.microsoft; x is f32, f64, f16 or bf16; no intermediate value has another user or is a graph "
      "output. Works inside If/Loop bodies.\n"
      "Options:\n"
      "  opset: the ONNX opset the output targets; 0 (default) = the opset lower-to-onnx used in this run "
      "(lower-to-onnx stops at 18, so onnx::Gelu needs opset=20 here, and the saved model must then declare "
      "opset >= 20). Ignored with domain=com.microsoft.\n"
      "  domain: onnx (default) emits onnx::Gelu; com.microsoft emits ONNX Runtime's contrib ops "
      "com.microsoft::Gelu (erf form) and com.microsoft::FastGelu (tanh form; no f64), which run on ONNX Runtime "
      "at any opset but on no other runtime.";
  info.options = {targetOpsetOption()};
  OptionSpec domain = optionSpec("domain", OptionType::String, stringValue("onnx"),
                                 "onnx: emit onnx::Gelu (opset >= 20); com.microsoft: emit ONNX Runtime's "
                                 "com.microsoft::Gelu / FastGelu");
  domain.choices = {"onnx", "com.microsoft"};
  info.options.push_back(std::move(domain));
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseGelu(Graph& graph, PassContext& context) {
  const bool contrib = context.options().getString("domain", "onnx") == "com.microsoft";
  GeluFusion fusion(context, contrib, targetOnnxOpset(context));
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() > 0) {
    context.setChanged();
    context.diag().debug("fuse-gelu: fused " + std::to_string(fusion.fused()) + " GELU" +
                         (fusion.fused() == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
