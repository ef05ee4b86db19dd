// fuse-pad-into-pool: folds a constant onnx::Pad of the spatial dims into the `pads`
// attribute of the onnx::AveragePool or onnx::MaxPool that reads it, when the pool's own
// implicit padding behaves exactly like the explicit pad values.
//
// Before:
//   graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,3,8,8]) {
//     %pads = const i64[8] dense<[0, 0, 1, 1, 0, 0, 1, 1]>
//     %zero = const f32[] dense<[0.0]>
//     %p: f32[1,3,10,10] = onnx::Pad(%x, %pads, %zero) {mode="constant"}
//     %y: f32[1,3,8,8] = onnx::AveragePool(%p) {kernel_shape=[3,3]}
//   }
// After:
//   graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,3,8,8]) {
//     %pads = const i64[8] dense<[0, 0, 1, 1, 0, 0, 1, 1]>      (left for eliminate-dead-code)
//     %zero = const f32[] dense<[0.0]>
//     %y: f32[1,3,8,8] = onnx::AveragePool(%x) {kernel_shape=[3,3], count_include_pad=1, pads=[1,1,1,1]}
//   }
//
// Math. The explicit pad values are ordinary input elements for the pool; implicit pads
// (the pool's `pads`, auto_pad NOTSET) are not. The fused pool gets pads = old pads + the
// Pad's spatial pads, so the explicit values must behave like implicit padding:
//   - AveragePool: implicit pads are zeros that enter the divisor only with
//     count_include_pad=1, while explicit zeros always enter the sum and the divisor. So the
//     pad value must be 0 and the fused pool must count pads: fires when count_include_pad=1
//     (every pad was counted already), or when count_include_pad=0 but the pool has no pads
//     of its own and ceil_mode=0 (then setting count_include_pad=1 counts exactly the former
//     explicit zeros; with ceil_mode=1 a window may overhang the end, and whether the overhang
//     is counted would change). Any other value, or count_include_pad=0 with own pads, would
//     change some divisor: not fused.
//   - MaxPool: implicit pads are ignored, i.e. act like -inf. A pad value of 0 is NOT
//     equivalent (max(-3, 0) = 0 at the border but max(-3) = -3 implicitly), unless the input
//     is known non-negative, which this pass does not try to prove: not fused. A pad value of
//     -inf is equivalent wherever a window holds at least one input element; a window made only
//     of padding gives -inf explicitly but the lowest finite value in ONNX Runtime's implicit
//     padding. To rule such windows out the pass requires dilations 1, ceil_mode=0 and every
//     fused pad smaller than the kernel along its dim (then the first and last window of each
//     dim overlap the input). The Indices output (second output) would index the padded
//     tensor, so a MaxPool whose second output is used is not fused. Float dtypes only.
//
// Also required (otherwise a debug note names the reason): mode "constant"; constant pads
// (attribute before opset 11, input from 11), non-negative, zero on dims 0 and 1, as many as
// the known data rank needs; the opset-18 `axes` input, if any, constant and valid (negative
// axes use the known rank); the Pad's output feeds only the pool's X and is not a graph
// output; the pool has auto_pad NOTSET (or none) and a kernel_shape of rank - 2 dims.
// Works inside If/Loop bodies. The Pad is erased; its constants are left for eliminate-dead-code.
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

// (Pad reading is the same as in fuse_pad_into_conv.cpp; duplicated because passes share no
// private header yet.)
class PadPoolFusion {
 public:
  explicit PadPoolFusion(PassContext& context) : context_(context) {}

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph&, Node* node) {
      const bool pool = node->kind() == "onnx::AveragePool" || node->kind() == "onnx::MaxPool";
      return pool && node->numInputs() == 1 ? visit(*node) : Status::ok();
    });
  }

  size_t fused() const { return fused_; }

 private:
  Status skip(const Node& pool, std::string_view why) {
    context_.diag().debug("fuse-pad-into-pool: not fusing the Pad into " + pool.describe() + ": " + std::string(why));
    return Status::ok();
  }

  Status visit(Node& pool) {
    Value* padded = pool.input(0);
    Node* pad = padded->producer();
    if (pad == nullptr || pad->kind() != "onnx::Pad") return Status::ok();  // not the pattern
    const bool isMax = pool.kind() == "onnx::MaxPool";
    if (padded->uses().size() != 1 || padded->isGraphOutput()) {
      return skip(pool, "the Pad's output has other users or is a graph output");
    }
    if (pool.numOutputs() < 1 || pool.numOutputs() > 2 || (!isMax && pool.numOutputs() != 1)) {
      return skip(pool, "the pool is malformed");
    }
    if (pool.numOutputs() == 2 && (pool.output(1)->hasUses() || pool.output(1)->isGraphOutput())) {
      return skip(pool, "the MaxPool's Indices output is used (it would index the padded tensor)");
    }
    if (const std::string* autoPad = pool.stringAttr("auto_pad"); autoPad != nullptr && *autoPad != "NOTSET") {
      return skip(pool, "the pool has auto_pad " + *autoPad);
    }
    std::string why;
    auto spec = readConstantPad(*pad, why);
    if (!spec) return skip(pool, why);
    const auto rank = static_cast<int64_t>(spec->pads.size() / 2);
    if (rank < 3) return skip(pool, "the padded input has rank < 3");
    if (spec->pads[0] != 0 || spec->pads[1] != 0 || spec->pads[static_cast<size_t>(rank)] != 0 ||
        spec->pads[static_cast<size_t>(rank + 1)] != 0) {
      return skip(pool, "the Pad pads the batch or channel dim");
    }
    const int64_t spatial = rank - 2;
    const std::vector<int64_t>* kernel = pool.intsAttr("kernel_shape");
    if (kernel == nullptr || static_cast<int64_t>(kernel->size()) != spatial) {
      return skip(pool, "the pool's kernel_shape does not match the input rank");
    }
    std::vector<int64_t> pads(static_cast<size_t>(2 * spatial), 0);
    bool ownPads = false;
    if (const std::vector<int64_t>* existing = pool.intsAttr("pads")) {
      if (static_cast<int64_t>(existing->size()) != 2 * spatial) {
        return skip(pool, "the pool's pads do not match the input rank");
      }
      pads = *existing;
      for (int64_t p : pads) ownPads = ownPads || p != 0;
    }
    for (int64_t i = 0; i < spatial; ++i) {
      pads[static_cast<size_t>(i)] += spec->pads[static_cast<size_t>(2 + i)];
      pads[static_cast<size_t>(spatial + i)] += spec->pads[static_cast<size_t>(rank + 2 + i)];
    }
    const int64_t ceilMode = pool.intAttr("ceil_mode").value_or(0);

    bool setCountIncludePad = false;
    if (isMax) {
      if (!(std::isinf(spec->value) && spec->value < 0)) {
        return skip(pool, "the pad value is not -inf (MaxPool's implicit padding never wins the max; an explicit "
                          "finite value can)");
      }
      const DType dtype = spec->data->type().dtype();
      if (!isFloatingPoint(dtype)) return skip(pool, "the input dtype is not known to be floating-point");
      if (ceilMode != 0) return skip(pool, "ceil_mode=1 (a window could hold padding only)");
      if (const std::vector<int64_t>* dilations = pool.intsAttr("dilations")) {
        for (int64_t d : *dilations) {
          if (d != 1) return skip(pool, "dilations are not 1 (a window could hold padding only)");
        }
      }
      for (int64_t i = 0; i < spatial; ++i) {
        const int64_t k = (*kernel)[static_cast<size_t>(i)];
        if (pads[static_cast<size_t>(i)] >= k || pads[static_cast<size_t>(spatial + i)] >= k) {
          return skip(pool, "a fused pad is not smaller than the kernel (a window could hold padding only)");
        }
      }
    } else {
      if (spec->value != 0.0) return skip(pool, "the pad value is not 0 (AveragePool pads with zeros)");
      if (pool.intAttr("count_include_pad").value_or(0) == 0) {
        if (ownPads) return skip(pool, "count_include_pad=0 and the pool has pads of its own");
        if (ceilMode != 0) return skip(pool, "count_include_pad=0 with ceil_mode=1");
        setCountIncludePad = true;
      }
    }
    if (setCountIncludePad) pool.setAttribute("count_include_pad", int64_t{1});
    pool.setAttribute("pads", pads);
    pool.setInput(0, spec->data);
    TP_RETURN_IF_ERROR(pad->owningGraph()->eraseNode(pad));
    ++fused_;
    return Status::ok();
  }

  PassContext& context_;
  size_t fused_ = 0;
};

}  // namespace

PassInfo fusePadIntoPoolInfo() {
  PassInfo info;
  info.name = "fuse-pad-into-pool";
  info.summary = "Fold a constant onnx::Pad of the spatial dims into the following AveragePool / MaxPool's pads";
  info.description =
      "Removes an onnx::Pad (mode constant) whose only user is the input of an onnx::AveragePool or onnx::MaxPool "
      "with auto_pad NOTSET, adding its spatial pads to the pool's `pads`, when the explicit pad values act like "
      "the pool's implicit padding:\n"
      "  AveragePool: pad value 0 and count_include_pad=1; or count_include_pad=0 with no pads of its own and "
      "ceil_mode=0, in which case count_include_pad becomes 1 (the former explicit zeros were counted).\n"
      "  MaxPool: pad value -inf only (implicit padding never wins a max; a 0 pad would, on negative inputs); "
      "float dtype, ceil_mode=0, dilations 1, every fused pad smaller than the kernel (no window of padding "
      "only), Indices output unused.\n"
      "Before:\n"
      "  %p: f32[1,3,10,10] = onnx::Pad(%x, %pads, %zero) {mode=\"constant\"}   # %pads = [0,0,1,1,0,0,1,1]\n"
      "  %y: f32[1,3,8,8] = onnx::AveragePool(%p) {kernel_shape=[3,3]}\n"
      "After:\n"
      "  %y: f32[1,3,8,8] = onnx::AveragePool(%x) {kernel_shape=[3,3], count_include_pad=1, pads=[1,1,1,1]}\n"
      "Also required: constant, non-negative pads (attribute before opset 11, input from 11) that leave N and C "
      "alone and match the known input rank; a valid constant opset-18 `axes` input if any; the Pad's output has "
      "no other user and is not a graph output. Works inside If/Loop bodies; the Pad's constants are left for "
      "eliminate-dead-code.";
  info.kind = StepKind::Transform;
  return info;
}

Status runFusePadIntoPool(Graph& graph, PassContext& context) {
  PadPoolFusion fusion(context);
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() > 0) {
    context.setChanged();
    context.diag().debug("fuse-pad-into-pool: fused " + std::to_string(fusion.fused()) + " Pad" +
                         (fusion.fused() == 1 ? "" : "s") + " into pools");
  }
  return Status::ok();
}

}  // namespace torchport
