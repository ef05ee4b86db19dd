// Reductions. ONNX moved `axes` from an attribute to an input for ReduceSum at opset 13
// and for the other Reduce* ops at opset 18; Lowering::reduce picks the form, so each
// converter here is valid for the whole 13..18 range.
#include <cmath>
#include <limits>

#include "converters.h"

namespace torchport::onnxplugin {
namespace {

// dim argument: None or [] = all axes; an int or int list otherwise.
Expected<std::optional<std::vector<int64_t>>> dimsArg(Lowering& l, size_t i) {
  if (l.isNoneArg(i)) return std::optional<std::vector<int64_t>>();
  TP_TRY(std::vector<int64_t> dims, l.intsArg(i, "dim"));
  if (dims.empty()) return std::optional<std::vector<int64_t>>();
  return std::optional<std::vector<int64_t>>(dims);
}

// PyTorch sums / products of integral or bool tensors accumulate in int64.
Expected<Value*> accumulateInput(Lowering& l, Value* x, std::optional<DType> dtype, bool integerToI64) {
  if (dtype) return l.castTo(x, *dtype);
  const DType dt = dtypeOf(x);
  if (integerToI64 && dt != DType::Undefined && (isInteger(dt) || dt == DType::Bool)) return l.castTo(x, DType::I64);
  if (dt == DType::Bool) return l.castTo(x, DType::I64);
  return x;
}

// mean(self, dtype) | mean.dim(self, dim, keepdim=False, dtype=None)
Status lowerMean(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  std::optional<std::vector<int64_t>> dims;
  bool keepdim = false;
  size_t dtypeIndex = 1;
  if (l.numInputs() >= 3) {
    TP_TRY(dims, dimsArg(l, 1));
    TP_TRY(keepdim, l.boolArgOr(2, "keepdim", false));
    dtypeIndex = 3;
  }
  TP_TRY(std::optional<DType> dtype, l.dtypeArg(dtypeIndex));
  TP_TRY(x, accumulateInput(l, x, dtype, false));
  if (DType dt = dtypeOf(x); dt != DType::Undefined && !isFloatingPoint(dt))
    return l.invalid("mean of an integer tensor (PyTorch requires a floating dtype; pass dtype=torch.float32)");
  l.setOutput(0, l.reduce("ReduceMean", x, dims, keepdim));
  return Status::ok();
}

// sum(self, dtype) | sum.dim_IntList(self, dim, keepdim=False, dtype=None)
Status lowerSum(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  std::optional<std::vector<int64_t>> dims;
  bool keepdim = false;
  size_t dtypeIndex = 1;
  if (l.numInputs() >= 3) {
    TP_TRY(dims, dimsArg(l, 1));
    TP_TRY(keepdim, l.boolArgOr(2, "keepdim", false));
    dtypeIndex = 3;
  }
  TP_TRY(std::optional<DType> dtype, l.dtypeArg(dtypeIndex));
  TP_TRY(x, accumulateInput(l, x, dtype, true));
  l.setOutput(0, l.reduce("ReduceSum", x, dims, keepdim));
  return Status::ok();
}

// prod(self, dtype) | prod.dim_int(self, dim, keepdim=False, dtype=None)
Status lowerProd(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  std::optional<std::vector<int64_t>> dims;
  bool keepdim = false;
  size_t dtypeIndex = 1;
  if (l.numInputs() >= 3) {
    TP_TRY(int64_t dim, l.intArg(1, "dim"));
    dims = std::vector<int64_t>{dim};
    TP_TRY(keepdim, l.boolArgOr(2, "keepdim", false));
    dtypeIndex = 3;
  }
  TP_TRY(std::optional<DType> dtype, l.dtypeArg(dtypeIndex));
  TP_TRY(x, accumulateInput(l, x, dtype, true));
  l.setOutput(0, l.reduce("ReduceProd", x, dims, keepdim));
  return Status::ok();
}

// ReduceMax / ReduceMin have no bool kernels: reduce as u8 and cast back.
Expected<Value*> reduceExtremum(Lowering& l, const char* op, Value* x, const std::optional<std::vector<int64_t>>& dims,
                                bool keepdim) {
  if (dtypeOf(x) == DType::Bool) {
    TP_TRY(Value * asInt, l.castTo(x, DType::I32));
    Value* r = l.reduce(op, asInt, dims, keepdim);
    return l.castTo(r, DType::Bool);
  }
  return l.reduce(op, x, dims, keepdim);
}

// amax(self, dim=[], keepdim=False)
Status lowerAmaxAmin(Lowering& l, const char* op) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(auto dims, dimsArg(l, 1));
  TP_TRY(bool keepdim, l.boolArgOr(2, "keepdim", false));
  TP_TRY(Value * y, reduceExtremum(l, op, x, dims, keepdim));
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerAmax(Lowering& l) { return lowerAmaxAmin(l, "ReduceMax"); }
Status lowerAmin(Lowering& l) { return lowerAmaxAmin(l, "ReduceMin"); }

// max(self) | max.other(self, other) | max.dim(self, dim, keepdim=False) -> (values, indices)
Status lowerMaxMin(Lowering& l, bool isMax) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  const char* reduceOp = isMax ? "ReduceMax" : "ReduceMin";
  if (l.numInputs() == 2) {
    if (l.input(0)->type().kind() == Type::Kind::List)
      return l.unsupported("max/min of a list (prim::max on int lists)");
    DType dt = DType::Undefined;
    std::vector<Value*> operands{l.input(0), l.input(1)};
    TP_TRY(std::vector<Value*> promoted, l.promoteOperands(operands, dt));
    auto shape = broadcastShapes(shapeOf(promoted[0]), shapeOf(promoted[1]));
    l.setOutput(0, l.op(isMax ? "Max" : "Min", {promoted[0], promoted[1]}).type(tensorType(dt, shape)));
    return Status::ok();
  }
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  if (l.numInputs() == 1) {
    TP_TRY(Value * y, reduceExtremum(l, reduceOp, x, std::nullopt, false));
    l.setOutput(0, y);
    return Status::ok();
  }
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  TP_TRY(bool keepdim, l.boolArgOr(2, "keepdim", false));
  TP_TRY(Value * values, reduceExtremum(l, reduceOp, x, std::vector<int64_t>{dim}, keepdim));
  l.setOutput(0, values);
  if (l.node().numOutputs() > 1) {
    Value* input = x;
    if (dtypeOf(x) == DType::Bool) {
      TP_TRY(input, l.castTo(x, DType::I32));
    }
    Value* indices = l.op(isMax ? "ArgMax" : "ArgMin", {input})
                         .attr("axis", dim)
                         .attr("keepdims", keepdim ? 1 : 0)
                         .type(tensorType(DType::I64, shapeOf(values)));
    l.setOutput(1, indices);
  }
  return Status::ok();
}
Status lowerMax(Lowering& l) { return lowerMaxMin(l, true); }
Status lowerMin(Lowering& l) { return lowerMaxMin(l, false); }

// argmax(self, dim=None, keepdim=False)
Status lowerArgExtremum(Lowering& l, const char* op) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(bool keepdim, l.boolArgOr(2, "keepdim", false));
  if (dtypeOf(x) == DType::Bool) {
    TP_TRY(x, l.castTo(x, DType::I32));
  }
  if (l.isNoneArg(1)) {
    if (keepdim) return l.unsupported("argmax/argmin over all elements with keepdim=True");
    Value* flat = l.reshape(x, l.i64s({-1}));
    l.setOutput(0, l.op(op, {flat}).attr("axis", 0).attr("keepdims", 0).type(tensorType(DType::I64, std::vector<Dim>{})));
    return Status::ok();
  }
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  Value* shapeRef = l.reduce("ReduceMax", x, std::vector<int64_t>{dim}, keepdim);  // for the result type only
  auto outShape = shapeOf(shapeRef);
  l.setOutput(0, l.op(op, {x}).attr("axis", dim).attr("keepdims", keepdim ? 1 : 0).type(tensorType(DType::I64, outShape)));
  return Status::ok();
}
Status lowerArgmax(Lowering& l) { return lowerArgExtremum(l, "ArgMax"); }
Status lowerArgmin(Lowering& l) { return lowerArgExtremum(l, "ArgMin"); }

// logsumexp(self, dim, keepdim=False)
Status lowerLogsumexp(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(auto dims, dimsArg(l, 1));
  TP_TRY(bool keepdim, l.boolArgOr(2, "keepdim", false));
  if (DType dt = dtypeOf(x); dt != DType::Undefined && !isFloatingPoint(dt)) {
    TP_TRY(x, l.castTo(x, DType::F32));
  }
  l.setOutput(0, l.reduce("ReduceLogSumExp", x, dims, keepdim));
  return Status::ok();
}

// Number of elements reduced over `dims` (all dims when nullopt), as a 0-d tensor like x.
Expected<Value*> reducedCount(Lowering& l, Value* x, const std::optional<std::vector<int64_t>>& dims) {
  auto s = shapeOf(x);
  if (s) {
    int64_t count = 1;
    bool known = true;
    const int64_t rank = static_cast<int64_t>(s->size());
    for (int64_t i = 0; i < rank && known; ++i) {
      bool reduced = !dims;
      if (dims)
        for (int64_t d : *dims) reduced = reduced || (d < 0 ? d + rank : d) == i;
      if (!reduced) continue;
      if (!(*s)[static_cast<size_t>(i)].isKnown()) known = false;
      else count *= (*s)[static_cast<size_t>(i)].size();
    }
    if (known) return l.castLike(l.staticFloatValue(static_cast<double>(count)), x);
  }
  Value* sizes = l.shape(x);
  if (dims) sizes = l.op("Gather", {sizes, l.i64s(*dims)}).attr("axis", 0).type(tensorType(DType::I64, knownDims({static_cast<int64_t>(dims->size())})));
  Value* count = l.reduce("ReduceProd", sizes, std::nullopt, false);
  return l.castLike(count, x);
}

// var/std: (self, unbiased) | (self, dim, unbiased, keepdim) | .correction(self, dim, *, correction, keepdim)
Status lowerVarStd(Lowering& l, bool isStd) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  if (DType dt = dtypeOf(x); dt != DType::Undefined && !isFloatingPoint(dt))
    return l.invalid("var/std of a non-floating tensor");
  std::optional<std::vector<int64_t>> dims;
  double correction = 1.0;
  bool keepdim = false;
  const std::string overload = l.overloadName();
  if (l.numInputs() == 2) {  // (self, unbiased)
    TP_TRY(bool unbiased, l.boolArgOr(1, "unbiased", true));
    correction = unbiased ? 1.0 : 0.0;
  } else if (overload == "correction" || (l.numInputs() == 4 && !isStaticScalar(l.input(2)) && isNone(l.input(2)))) {
    TP_TRY(dims, dimsArg(l, 1));
    TP_TRY(correction, l.floatArgOr(2, "correction", 1.0));
    TP_TRY(keepdim, l.boolArgOr(3, "keepdim", false));
  } else if (l.numInputs() >= 4) {
    TP_TRY(dims, dimsArg(l, 1));
    if (l.input(2)->type().kind() == Type::Kind::Bool || overload == "dim") {
      TP_TRY(bool unbiased, l.boolArgOr(2, "unbiased", true));
      correction = unbiased ? 1.0 : 0.0;
    } else {
      TP_TRY(correction, l.floatArgOr(2, "correction", 1.0));
    }
    TP_TRY(keepdim, l.boolArgOr(3, "keepdim", false));
  } else {
    return l.unsupported("this var/std overload");
  }
  Type t = tensorType(dtypeOf(x), shapeOf(x));
  Value* mean = l.reduce("ReduceMean", x, dims, true);
  Value* centered = l.op("Sub", {x, mean}).type(t);
  Value* sumSq = l.reduce("ReduceSum", l.op("Mul", {centered, centered}).type(t), dims, keepdim);
  TP_TRY(Value * count, reducedCount(l, x, dims));
  TP_TRY(Value * corr, l.castLike(l.staticFloatValue(correction), x));
  Type st = tensorType(dtypeOf(x), shapeOf(sumSq));
  Value* denominator = l.op("Sub", {count, corr}).type(tensorType(dtypeOf(x), std::vector<Dim>{}));
  Value* var = l.op("Div", {sumSq, denominator}).type(st);
  l.setOutput(0, isStd ? static_cast<Value*>(l.op("Sqrt", {var}).type(st)) : var);
  return Status::ok();
}
Status lowerVar(Lowering& l) { return lowerVarStd(l, false); }
Status lowerStd(Lowering& l) { return lowerVarStd(l, true); }

// p-norms over dims: norm(self, p=2) | norm.ScalarOpt_dim(self, p, dim, keepdim=False)
// linalg_vector_norm(self, ord=2, dim=None, keepdim=False, *, dtype=None)
Status pNorm(Lowering& l, Value* x, double p, const std::optional<std::vector<int64_t>>& dims, bool keepdim) {
  if (DType dt = dtypeOf(x); dt != DType::Undefined && !isFloatingPoint(dt)) {
    TP_TRY(x, l.castTo(x, DType::F32));
  }
  Type t = tensorType(dtypeOf(x), shapeOf(x));
  if (p == 2.0) {
    l.setOutput(0, l.reduce("ReduceL2", x, dims, keepdim));
  } else if (p == 1.0) {
    l.setOutput(0, l.reduce("ReduceL1", x, dims, keepdim));
  } else if (std::isinf(p)) {
    Value* a = l.op("Abs", {x}).type(t);
    l.setOutput(0, l.reduce(p > 0 ? "ReduceMax" : "ReduceMin", a, dims, keepdim));
  } else if (p == 0.0) {
    TP_TRY(Value * zero, l.castLike(l.staticFloatValue(0.0), x));
    Value* nz = l.op("Not", {l.op("Equal", {x, zero}).type(tensorType(DType::Bool, shapeOf(x)))})
                    .type(tensorType(DType::Bool, shapeOf(x)));
    TP_TRY(Value * asFloat, l.castLike(nz, x));
    l.setOutput(0, l.reduce("ReduceSum", asFloat, dims, keepdim));
  } else {
    TP_TRY(Value * pV, l.castLike(l.staticFloatValue(p), x));
    TP_TRY(Value * invP, l.castLike(l.staticFloatValue(1.0 / p), x));
    Value* powed = l.op("Pow", {l.op("Abs", {x}).type(t), pV}).type(t);
    Value* s = l.reduce("ReduceSum", powed, dims, keepdim);
    l.setOutput(0, l.op("Pow", {s, invP}).type(tensorType(dtypeOf(x), shapeOf(s))));
  }
  return Status::ok();
}

Status lowerNorm(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(double p, l.floatArgOr(1, "p", 2.0));
  std::optional<std::vector<int64_t>> dims;
  bool keepdim = false;
  if (l.numInputs() >= 4) {
    TP_TRY(dims, dimsArg(l, 2));
    TP_TRY(keepdim, l.boolArgOr(3, "keepdim", false));
  }
  if (l.numInputs() >= 5) {
    TP_TRY(std::optional<DType> dtype, l.dtypeArg(4));
    if (dtype) {
      TP_TRY(x, l.castTo(x, *dtype));
    }
  }
  return pNorm(l, x, p, dims, keepdim);
}

Status lowerVectorNorm(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(double p, l.floatArgOr(1, "ord", 2.0));
  TP_TRY(auto dims, dimsArg(l, 2));
  TP_TRY(bool keepdim, l.boolArgOr(3, "keepdim", false));
  TP_TRY(std::optional<DType> dtype, l.dtypeArg(4));
  if (dtype) {
    TP_TRY(x, l.castTo(x, *dtype));
  }
  return pNorm(l, x, p, dims, keepdim);
}

// frobenius_norm(self, dim, keepdim=False)
Status lowerFrobeniusNorm(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(auto dims, dimsArg(l, 1));
  TP_TRY(bool keepdim, l.boolArgOr(2, "keepdim", false));
  return pNorm(l, x, 2.0, dims, keepdim);
}

// all / any (self) | (self, dim, keepdim=False): reduce a 0/1 integer view.
Status lowerAllAny(Lowering& l, bool isAll) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.castTo(l.input(0), DType::Bool));
  std::optional<std::vector<int64_t>> dims;
  bool keepdim = false;
  if (l.numInputs() >= 2) {
    TP_TRY(dims, dimsArg(l, 1));
    TP_TRY(keepdim, l.boolArgOr(2, "keepdim", false));
  }
  TP_TRY(Value * y, reduceExtremum(l, isAll ? "ReduceMin" : "ReduceMax", x, dims, keepdim));
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerAll(Lowering& l) { return lowerAllAny(l, true); }
Status lowerAny(Lowering& l) { return lowerAllAny(l, false); }

// cumsum(self, dim, *, dtype=None)
Status lowerCumsum(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(std::optional<DType> dtype, l.dtypeArg(2));
  TP_TRY(x, accumulateInput(l, x, dtype, true));
  TP_TRY(Value * axis, l.asI64Scalar(l.input(1)));
  l.setOutput(0, l.op("CumSum", {x, axis}).type(tensorType(dtypeOf(x), shapeOf(x))));
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::mean", kMinOpset, kMaxOpset, "ReduceMean (axes attribute < 18, input >= 18)", lowerMean},
    {"aten::sum", kMinOpset, kMaxOpset, "ReduceSum (ints accumulate in i64)", lowerSum},
    {"aten::prod", kMinOpset, kMaxOpset, "ReduceProd", lowerProd},
    {"aten::amax", kMinOpset, kMaxOpset, "ReduceMax", lowerAmax},
    {"aten::amin", kMinOpset, kMaxOpset, "ReduceMin", lowerAmin},
    {"aten::max", kMinOpset, kMaxOpset, "ReduceMax (+ ArgMax for max.dim), Max for max.other", lowerMax},
    {"aten::min", kMinOpset, kMaxOpset, "ReduceMin (+ ArgMin for min.dim), Min for min.other", lowerMin},
    {"aten::maximum", kMinOpset, kMaxOpset, "Max", lowerMax},
    {"aten::minimum", kMinOpset, kMaxOpset, "Min", lowerMin},
    {"aten::argmax", kMinOpset, kMaxOpset, "ArgMax (first occurrence)", lowerArgmax},
    {"aten::argmin", kMinOpset, kMaxOpset, "ArgMin (first occurrence)", lowerArgmin},
    {"aten::logsumexp", kMinOpset, kMaxOpset, "ReduceLogSumExp", lowerLogsumexp},
    {"aten::var", kMinOpset, kMaxOpset, "sum((x - mean)^2) / (N - correction)", lowerVar},
    {"aten::std", kMinOpset, kMaxOpset, "sqrt of var", lowerStd},
    {"aten::norm", kMinOpset, kMaxOpset, "ReduceL1 / ReduceL2 / max|x| / general p-norm", lowerNorm},
    {"aten::linalg_vector_norm", kMinOpset, kMaxOpset, "ReduceL1 / ReduceL2 / max|x| / general p-norm", lowerVectorNorm},
    {"aten::frobenius_norm", kMinOpset, kMaxOpset, "ReduceL2", lowerFrobeniusNorm},
    {"aten::all", kMinOpset, kMaxOpset, "ReduceMin over a bool view", lowerAll},
    {"aten::any", kMinOpset, kMaxOpset, "ReduceMax over a bool view", lowerAny},
    {"aten::cumsum", kMinOpset, kMaxOpset, "CumSum", lowerCumsum},
};

}  // namespace

std::span<const ConverterSpec> reduceConverters() { return kTable; }

}  // namespace torchport::onnxplugin
