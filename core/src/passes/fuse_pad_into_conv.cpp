// fuse-pad-into-conv: folds a zero-valued constant onnx::Pad of the spatial dims into the
// `pads` attribute of the onnx::Conv that reads it (what torch.onnx emits for F.pad or
// nn.ZeroPad2d in front of a convolution, and for padding_mode="zeros" with asymmetric pads).
//
// Before:
//   graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,4,8,8]) {
//     %pads = const i64[8] dense<[0, 0, 1, 2, 0, 0, 1, 2]>
//     %zero = const f32[] dense<[0.0]>
//     %p: f32[1,3,10,12] = onnx::Pad(%x, %pads, %zero) {mode="constant"}
//     %w = const f32[4,3,3,5] @"conv.weight"
//     %y: f32[1,4,8,8] = onnx::Conv(%p, %w) {kernel_shape=[3,5]}
//   }
// After:
//   graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,4,8,8]) {
//     %pads = const i64[8] dense<[0, 0, 1, 2, 0, 0, 1, 2]>      (left for eliminate-dead-code)
//     %zero = const f32[] dense<[0.0]>
//     %w = const f32[4,3,3,5] @"conv.weight"
//     %y: f32[1,4,8,8] = onnx::Conv(%x, %w) {kernel_shape=[3,5], pads=[1,2,1,2]}
//   }
//
// Math: Conv's implicit padding (auto_pad NOTSET, `pads` = [x1_begin, x2_begin, ...,
// x1_end, x2_end, ...] over the spatial dims) reads zeros outside the input, exactly what a
// constant Pad with value 0 materializes. Padding twice adds up, so the Conv's new pads are
// its old pads plus the Pad's spatial pads (ONNX Pad: [x0_begin, ..., x{r-1}_begin,
// x0_end, ..., x{r-1}_end] over all r dims; dims 0 and 1 are N and C).
//
// Fires only when (otherwise a debug note names the reason):
//   - the Pad has mode "constant" (or no mode) and pad value 0: the `value` attribute before
//     opset 11, else the optional constant_value input (absent = 0; a one-element constant);
//   - its pads are constant (attribute before opset 11, input from 11), non-negative (a
//     negative pad crops), zero on dims 0 and 1, and their count matches the data rank, which
//     must be known; the opset-18 `axes` input, when present, must be constant, in range, without
//     repeats (negative axes count from the known rank) and then says which dims the pads cover;
//   - the Pad's output is the Conv's input X (not W or B), has no other user and is not a
//     graph output;
//   - the Conv has auto_pad NOTSET (or none) and, if it has `pads`, 2 * (rank - 2) of them.
// Works inside If/Loop bodies. The Pad is erased; its constants are left for eliminate-dead-code.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

class PadConvFusion {
 public:
  explicit PadConvFusion(PassContext& context) : context_(context) {}

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph&, Node* node) {
      return node->kind() == "onnx::Conv" && node->numInputs() >= 2 ? visit(*node) : Status::ok();
    });
  }

  size_t fused() const { return fused_; }

 private:
  Status skip(const Node& conv, std::string_view why) {
    context_.diag().debug("fuse-pad-into-conv: not fusing the Pad into " + conv.describe() + ": " + std::string(why));
    return Status::ok();
  }

  Status visit(Node& conv) {
    Value* padded = conv.input(0);
    Node* pad = padded->producer();
    if (pad == nullptr || pad->kind() != "onnx::Pad") return Status::ok();  // not the pattern
    if (padded->uses().size() != 1 || padded->isGraphOutput()) {
      return skip(conv, "the Pad's output has other users or is a graph output");
    }
    if (const std::string* autoPad = conv.stringAttr("auto_pad"); autoPad != nullptr && *autoPad != "NOTSET") {
      return skip(conv, "the Conv has auto_pad " + *autoPad);
    }
    std::string why;
    auto spec = readConstantPad(*pad, why);
    if (!spec) return skip(conv, why);
    if (spec->value != 0.0) return skip(conv, "the pad value is not 0 (Conv pads with zeros)");
    const auto rank = static_cast<int64_t>(spec->pads.size() / 2);
    if (rank < 3) return skip(conv, "the padded input has rank < 3");
    if (spec->pads[0] != 0 || spec->pads[1] != 0 || spec->pads[static_cast<size_t>(rank)] != 0 ||
        spec->pads[static_cast<size_t>(rank + 1)] != 0) {
      return skip(conv, "the Pad pads the batch or channel dim");
    }
    const int64_t spatial = rank - 2;
    std::vector<int64_t> pads(static_cast<size_t>(2 * spatial), 0);
    if (const std::vector<int64_t>* existing = conv.intsAttr("pads")) {
      if (static_cast<int64_t>(existing->size()) != 2 * spatial) {
        return skip(conv, "the Conv's pads do not match the input rank");
      }
      pads = *existing;
    }
    for (int64_t i = 0; i < spatial; ++i) {
      pads[static_cast<size_t>(i)] += spec->pads[static_cast<size_t>(2 + i)];
      pads[static_cast<size_t>(spatial + i)] += spec->pads[static_cast<size_t>(rank + 2 + i)];
    }
    conv.setAttribute("pads", pads);
    conv.setInput(0, spec->data);
    TP_RETURN_IF_ERROR(pad->owningGraph()->eraseNode(pad));
    ++fused_;
    return Status::ok();
  }

  PassContext& context_;
  size_t fused_ = 0;
};

}  // namespace

PassInfo fusePadIntoConvInfo() {
  PassInfo info;
  info.name = "fuse-pad-into-conv";
  info.summary = "Fold a zero-valued constant onnx::Pad of the spatial dims into the following onnx::Conv's pads";
  info.description =
      "Removes an onnx::Pad (mode constant, pad value 0) whose only user is the X input of an onnx::Conv with "
      "auto_pad NOTSET, adding its spatial pads to the Conv's `pads` attribute.\n"
      "Before:\n"
      "  %p: f32[1,3,10,12] = onnx::Pad(%x, %pads, %zero) {mode=\"constant\"}   # %pads = [0,0,1,2,0,0,1,2]\n"
      "  %y: f32[1,4,8,8] = onnx::Conv(%p, %w) {kernel_shape=[3,5]}\n"
      "After:\n"
      "  %y: f32[1,4,8,8] = onnx::Conv(%x, %w) {kernel_shape=[3,5], pads=[1,2,1,2]}\n"
      "Math: Conv's implicit padding reads zeros, as the Pad does; the Conv's pads become its old pads plus the "
      "Pad's spatial pads (begin and end separately).\n"
      "Fires only when: the pad value is 0 (`value` attribute before opset 11, constant_value input from 11, "
      "absent = 0); the pads are constant (attribute or input), non-negative, zero on N and C, and match the "
      "input's rank, which must be known; the opset-18 `axes` input, if any, is constant and valid (negative axes "
      "use the known rank); the Pad's output feeds only the Conv's X and is not a graph output; the Conv has "
      "auto_pad NOTSET. Works inside If/Loop bodies; the Pad's constants are left for eliminate-dead-code.";
  info.kind = StepKind::Transform;
  return info;
}

Status runFusePadIntoConv(Graph& graph, PassContext& context) {
  PadConvFusion fusion(context);
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() > 0) {
    context.setChanged();
    context.diag().debug("fuse-pad-into-conv: fused " + std::to_string(fusion.fused()) + " Pad" +
                         (fusion.fused() == 1 ? "" : "s") + " into Conv");
  }
  return Status::ok();
}

}  // namespace torchport
