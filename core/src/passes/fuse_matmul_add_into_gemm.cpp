// fuse-matmul-add-into-gemm: turns onnx::MatMul of a rank-2 input by a constant matrix,
// followed by onnx::Add of a constant bias vector, into one onnx::Gemm (what torch.onnx
// emits for nn.Linear on 2-D inputs; runtimes have a faster fused kernel for it).
//
// Before:
//   graph @main(%x: f32[batch,4]) -> (%y: f32[batch,3]) {
//     %w = const f32[4,3] @"fc.weight_t"
//     %m: f32[batch,3] = onnx::MatMul(%x, %w)
//     %b = const f32[3] @"fc.bias"
//     %y: f32[batch,3] = onnx::Add(%m, %b)
//   }
// After:
//   graph @main(%x: f32[batch,4]) -> (%y: f32[batch,3]) {
//     %w = const f32[4,3] @"fc.weight_t"
//     %b = const f32[3] @"fc.bias"
//     %y: f32[batch,3] = onnx::Gemm(%x, %w, %b)
//   }
//
// Math: Gemm(A, B, C) = alpha * A' B' + beta * C with the defaults alpha = beta = 1 and no
// transposes is A B + C, C broadcast to [M, N] unidirectionally — exactly MatMul then Add
// when A is [M, K], B is [K, N] and C is [N] or [1, N].
//
// Fires only when (otherwise nothing happens: the pattern did not match):
//   - A's type is known to have rank 2 (MatMul of higher ranks batches, Gemm does not;
//     rank 1 MatMul drops a dim);
//   - B is a constant of rank 2 [K, N] (its data may be elided) and C a constant of shape
//     [N] or [1, N]; the Add may take the MatMul result as either operand (addition
//     commutes);
//   - A (when its dtype is known), B and C share one dtype that Gemm accepts (f16, bf16,
//     f32, f64, i32, i64, u32, u64);
//   - the MatMul output has exactly one use (the Add) and is not a graph output;
//   - the Add's output may be rewired (its graph-output name moves to the Gemm).
// Works inside If/Loop bodies. The Gemm replaces the Add in place and takes the MatMul's
// provenance.
#include <string>
#include <vector>

#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

const Tensor* constantTensorAttr(const Value* value) {
  const Node* producer = constantProducer(value);
  return producer == nullptr ? nullptr : producer->tensorAttr("value");
}

bool isGemmType(DType dtype) {
  switch (dtype) {
    case DType::F16:
    case DType::BF16:
    case DType::F32:
    case DType::F64:
    case DType::I32:
    case DType::I64:
    case DType::U32:
    case DType::U64: return true;
    default: return false;
  }
}

class MatmulAddFusion {
 public:
  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph& graph, Node* node) {
      if (node->kind() != "onnx::Add" || node->numInputs() != 2 || node->numOutputs() != 1) return Status::ok();
      for (size_t operand = 0; operand < 2; ++operand) {
        bool fusedHere = false;
        TP_RETURN_IF_ERROR(tryFuse(graph, *node, operand, fusedHere));
        if (fusedHere) break;  // the Add is gone
      }
      return Status::ok();
    });
  }

  size_t fused() const { return fused_; }

 private:
  // Fuses when input `operand` of `add` is the MatMul and the other one the bias.
  Status tryFuse(Graph& graph, Node& add, size_t operand, bool& fusedHere) {
    Value* product = add.input(operand);
    Value* biasValue = add.input(1 - operand);
    Node* matmul = product->producer();
    if (matmul == nullptr || matmul->kind() != "onnx::MatMul" || matmul->numInputs() != 2 ||
        matmul->numOutputs() != 1 || product->uses().size() != 1 || product->isGraphOutput()) {
      return Status::ok();
    }
    Value* a = matmul->input(0);
    Value* bValue = matmul->input(1);
    const Tensor* b = constantTensorAttr(bValue);
    const Tensor* bias = constantTensorAttr(biasValue);
    if (b == nullptr || bias == nullptr || b->rank() != 2) return Status::ok();
    if (!a->type().isTensor() || !a->type().hasRank() || a->type().rank() != 2) return Status::ok();
    const int64_t n = b->shape()[1];
    const bool biasShapeOk = bias->shape() == std::vector<int64_t>{n} || bias->shape() == std::vector<int64_t>{1, n};
    if (!biasShapeOk) return Status::ok();
    const DType dtype = b->dtype();
    if (!isGemmType(dtype) || bias->dtype() != dtype) return Status::ok();
    if (a->type().dtype() != DType::Undefined && a->type().dtype() != dtype) return Status::ok();
    // Gemm needs A's dim 1 to be K when known.
    const Dim& k = (*a->type().shape())[1];
    if (k.isKnown() && k.size() != b->shape()[0]) return Status::ok();

    Value* sum = add.output();
    if (!graph.canReplaceAllUsesWith(sum, product)) return Status::ok();  // same check as for the Gemm's output
    // At the Add's place every operand is visible: A and B precede the MatMul, C the Add.
    Node* gemm = graph.insertNodeBefore(&add, "onnx::Gemm", std::vector<Value*>{a, bValue, biasValue});
    gemm->setProvenance(matmul->provenance());
    gemm->output()->setType(sum->type().isUnknown() ? product->type() : sum->type());
    const std::string name = sum->name();
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(sum, gemm->output()));
    TP_RETURN_IF_ERROR(graph.eraseNode(&add));
    TP_RETURN_IF_ERROR(matmul->owningGraph()->eraseNode(matmul));
    if (gemm->output()->name() != name && graph.findValue(name) == nullptr) {
      TP_RETURN_IF_ERROR(graph.renameValue(gemm->output(), name));
    }
    fusedHere = true;
    ++fused_;
    return Status::ok();
  }

  size_t fused_ = 0;
};

}  // namespace

PassInfo fuseMatmulAddIntoGemmInfo() {
  PassInfo info;
  info.name = "fuse-matmul-add-into-gemm";
  info.summary = "Fuse onnx::MatMul by a constant matrix plus a constant bias vector into onnx::Gemm";
  info.description =
      "Replaces onnx::MatMul(A, B) followed by onnx::Add with C (either operand order) by onnx::Gemm(A, B, C) "
      "when A has rank 2, B is a constant [K, N], C a constant [N] or [1, N], all of one Gemm dtype, and the "
      "MatMul result has no other user and is not a graph output.\n"
      "Before:\n"
      "  %m: f32[batch,3] = onnx::MatMul(%x, %w)      # %x: f32[batch,4], %w: const f32[4,3]\n"
      "  %y: f32[batch,3] = onnx::Add(%m, %b)         # %b: const f32[3]\n"
      "After:\n"
      "  %y: f32[batch,3] = onnx::Gemm(%x, %w, %b)\n"
      "Math: Gemm with alpha = beta = 1 and no transposes is A B + C, C broadcast over the rows.";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseMatmulAddIntoGemm(Graph& graph, PassContext& context) {
  MatmulAddFusion fusion;
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() > 0) {
    context.setChanged();
    context.diag().debug("fuse-matmul-add-into-gemm: fused " + std::to_string(fusion.fused()) + " MatMul+Add pair" +
                         (fusion.fused() == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
