// Linear algebra: linear (Gemm for 2-D inputs, MatMul otherwise), matmul/mm/bmm, addmm,
// baddbmm, einsum, and embedding lookups.
#include "converters.h"

namespace torchport::onnxplugin {
namespace {

// numpy-style matmul result shape.
std::optional<std::vector<Dim>> matmulShape(Value* a, Value* b) {
  auto sa = shapeOf(a), sb = shapeOf(b);
  if (!sa || !sb || sa->empty() || sb->empty()) return std::nullopt;
  if (sa->size() == 1 && sb->size() == 1) return std::vector<Dim>{};
  if (sa->size() == 1) {
    std::vector<Dim> out(sb->begin(), sb->end() - 2);
    out.push_back(sb->back());
    return out;
  }
  if (sb->size() == 1) return std::vector<Dim>(sa->begin(), sa->end() - 1);
  std::vector<Dim> batchA(sa->begin(), sa->end() - 2), batchB(sb->begin(), sb->end() - 2);
  auto batch = broadcastShapes(batchA, batchB);
  if (!batch) return std::nullopt;
  batch->push_back((*sa)[sa->size() - 2]);
  batch->push_back(sb->back());
  return batch;
}

Expected<std::pair<Value*, Value*>> sameDtypePair(Lowering& l, Value* a, Value* b) {
  TP_TRY(Value * x, l.asTensor(a));
  TP_TRY(Value * y, l.asTensor(b));
  const DType da = dtypeOf(x), db = dtypeOf(y);
  if (da != DType::Undefined && db != DType::Undefined && da != db) {
    // PyTorch rejects mixed dtypes here; follow the first operand like a weight-only cast would.
    TP_TRY(y, l.castTo(y, da));
  }
  return std::make_pair(x, y);
}

Status lowerMatMul(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(auto ops, sameDtypePair(l, l.input(0), l.input(1)));
  auto [a, b] = ops;
  l.setOutput(0, l.op("MatMul", {a, b}).type(tensorType(dtypeOf(a), matmulShape(a, b))));
  return Status::ok();
}

// linear(input, weight[out, in], bias[out]?)
Status lowerLinear(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * y, emitLinear(l, l.input(0), l.input(1), l.isNoneArg(2) ? nullptr : l.input(2)));
  l.setOutput(0, y);
  return Status::ok();
}

// addmm(self, mat1, mat2, *, beta=1, alpha=1) = beta * self + alpha * (mat1 @ mat2)
Status lowerAddmm(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(auto ops, sameDtypePair(l, l.input(1), l.input(2)));
  auto [a, b] = ops;
  TP_TRY(Value * c, l.castLike(l.input(0), a));
  TP_TRY(double beta, l.floatArgOr(3, "beta", 1.0));
  TP_TRY(double alpha, l.floatArgOr(4, "alpha", 1.0));
  if (rankOf(a) && rankOf(a) != 2) return l.invalid("addmm expects 2-D matrices");
  l.setOutput(0, l.op("Gemm", {a, b, c})
                     .attr("alpha", alpha)
                     .attr("beta", beta)
                     .type(tensorType(dtypeOf(a), matmulShape(a, b))));
  return Status::ok();
}

// baddbmm(self, batch1, batch2, *, beta=1, alpha=1)
Status lowerBaddbmm(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(auto ops, sameDtypePair(l, l.input(1), l.input(2)));
  auto [a, b] = ops;
  TP_TRY(Value * c, l.castLike(l.input(0), a));
  TP_TRY(double beta, l.floatArgOr(3, "beta", 1.0));
  TP_TRY(double alpha, l.floatArgOr(4, "alpha", 1.0));
  Type t = tensorType(dtypeOf(a), matmulShape(a, b));
  Value* product = l.op("MatMul", {a, b}).type(t);
  if (alpha != 1.0) {
    TP_TRY(Value * alphaV, l.castLike(l.staticFloatValue(alpha), a));
    product = l.op("Mul", {product, alphaV}).type(t);
  }
  if (beta == 0.0) {
    l.setOutput(0, product);  // PyTorch ignores self (even NaNs) when beta is 0
    return Status::ok();
  }
  if (beta != 1.0) {
    TP_TRY(Value * betaV, l.castLike(l.staticFloatValue(beta), a));
    c = l.op("Mul", {c, betaV}).type(tensorType(dtypeOf(a), shapeOf(c)));
  }
  l.setOutput(0, l.op("Add", {product, c}).type(t));
  return Status::ok();
}

// einsum(equation, tensors, *, path=None)
Status lowerEinsum(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  const std::string* equation = staticString(l.input(0));
  if (equation == nullptr) return l.unsupported("einsum with a non-constant equation");
  const Node* list = l.input(1)->producer();
  if (list == nullptr || list->kind() != "onnx::SequenceConstruct")
    return l.unsupported("einsum over a dynamic list of tensors");
  std::vector<Value*> inputs;
  for (Value* v : list->inputs()) {
    TP_TRY(Value * t, l.asTensor(v));
    inputs.push_back(t);
  }
  DType dt = DType::Undefined;
  TP_TRY(inputs, l.promoteOperands(inputs, dt));
  std::string eq;
  for (char c : *equation)
    if (c != ' ') eq += c;
  std::optional<int64_t> rank;
  if (auto arrow = eq.find("->"); arrow != std::string::npos && eq.find("...") == std::string::npos)
    rank = static_cast<int64_t>(eq.size() - arrow - 2);
  l.setOutput(0, l.op("Einsum", std::span<Value* const>(inputs)).attr("equation", eq).type(tensorTypeOfRank(dt, rank)));
  return Status::ok();
}

// embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False)
Status lowerEmbedding(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * weight, l.asTensor(l.input(0)));
  TP_TRY(Value * indices, l.asTensor(l.input(1)));
  if (DType dt = dtypeOf(indices); dt != DType::Undefined && dt != DType::I64 && dt != DType::I32) {
    TP_TRY(indices, l.castTo(indices, DType::I64));
  }
  std::optional<std::vector<Dim>> shape = shapeOf(indices);
  if (shape) shape->push_back(dimOf(weight, 1));
  l.setOutput(0, l.op("Gather", {weight, indices}).attr("axis", 0).type(tensorType(dtypeOf(weight), shape)));
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::linear", kMinOpset, kMaxOpset, "Gemm(transB=1) for 2-D inputs, MatMul + Add otherwise", lowerLinear},
    {"aten::matmul", kMinOpset, kMaxOpset, "MatMul", lowerMatMul},
    {"aten::mm", kMinOpset, kMaxOpset, "MatMul", lowerMatMul},
    {"aten::bmm", kMinOpset, kMaxOpset, "MatMul", lowerMatMul},
    {"aten::mv", kMinOpset, kMaxOpset, "MatMul", lowerMatMul},
    {"aten::dot", kMinOpset, kMaxOpset, "MatMul of vectors", lowerMatMul},
    {"aten::addmm", kMinOpset, kMaxOpset, "Gemm(alpha, beta)", lowerAddmm},
    {"aten::baddbmm", kMinOpset, kMaxOpset, "beta * self + alpha * MatMul", lowerBaddbmm},
    {"aten::einsum", kMinOpset, kMaxOpset, "Einsum", lowerEinsum},
    {"aten::embedding", kMinOpset, kMaxOpset, "Gather(weight, indices, axis=0)", lowerEmbedding},
};

}  // namespace

Expected<Value*> emitLinear(Lowering& l, Value* input, Value* weight, Value* biasArg) {
  TP_TRY(auto ops, sameDtypePair(l, input, weight));
  auto [x, w] = ops;
  if (rankOf(w) && *rankOf(w) != 2) return Status(l.unsupported("linear with a weight of rank " + std::to_string(*rankOf(w))));
  Value* bias = nullptr;
  if (biasArg != nullptr && !isNone(biasArg)) {
    TP_TRY(bias, l.castLike(biasArg, x));
  }
  std::optional<std::vector<Dim>> outShape = shapeOf(x);
  if (outShape && !outShape->empty()) outShape->back() = dimOf(w, 0);
  Type t = tensorType(dtypeOf(x), outShape);
  if (rankOf(x) == 2 && (bias == nullptr || rankOf(bias) == 1)) {
    std::vector<Value*> inputs{x, w};
    if (bias != nullptr) inputs.push_back(bias);
    return static_cast<Value*>(l.op("Gemm", std::span<Value* const>(inputs)).attr("transB", 1).type(t));
  }
  Value* wt = l.transpose(w, {1, 0});
  Value* y = l.op("MatMul", {x, wt}).type(t);
  if (bias != nullptr) y = l.op("Add", {y, bias}).type(t);
  return y;
}

std::span<const ConverterSpec> linearConverters() { return kTable; }

}  // namespace torchport::onnxplugin
