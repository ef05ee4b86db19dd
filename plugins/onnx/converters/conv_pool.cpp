// Convolutions, pooling, adaptive pooling, resizing and pixel shuffles.
//
// Pooling with ceil_mode: PyTorch drops a last window that would start in the right
// padding, ONNX's formula does not. When the input's spatial sizes are static, ceil_mode
// is rewritten as floor mode with just enough extra end padding to produce PyTorch's
// output size (exact for MaxPool, and for AveragePool when padding is not counted).
#include <algorithm>
#include <cmath>

#include "converters.h"

namespace torchport::onnxplugin {
namespace {

int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// PyTorch's pooling_output_shape.
int64_t torchPoolOutputSize(int64_t in, int64_t k, int64_t padL, int64_t padR, int64_t s, int64_t d, bool ceil) {
  int64_t out = floorDiv(in + padL + padR - d * (k - 1) - 1 + (ceil ? s - 1 : 0), s) + 1;
  if (ceil && (out - 1) * s >= in + padL) --out;
  return out;
}

// Spatial rank from a list argument length or the weight/input rank.
struct SpatialInput {
  Value* x = nullptr;
  bool unbatched = false;
};

// Adds a batch dim to unbatched inputs (rank == spatial + 1) so ONNX ops see N, C, ...
Expected<SpatialInput> batchedInput(Lowering& l, Value* input, size_t spatial, std::string_view what) {
  TP_TRY(Value * x, l.asTensor(input));
  SpatialInput out{x, false};
  if (auto r = rankOf(x)) {
    if (*r == static_cast<int64_t>(spatial) + 1) {
      out.x = l.unsqueeze(x, {0});
      out.unbatched = true;
    } else if (*r != static_cast<int64_t>(spatial) + 2) {
      return l.invalid(std::string(what) + " expects a " + std::to_string(spatial + 2) + "-D (or unbatched " +
                       std::to_string(spatial + 1) + "-D) input, got rank " + std::to_string(*r));
    }
  }
  return out;
}

Value* finishBatched(Lowering& l, const SpatialInput& in, Value* y) {
  return in.unbatched ? l.squeeze(y, {0}) : y;
}

// ---------------------------------------------------------------------------------------
// Convolution
// ---------------------------------------------------------------------------------------
struct ConvArgs {
  Value* input = nullptr;
  Value* weight = nullptr;
  Value* bias = nullptr;  // nullptr = none
  size_t stride = 3, padding = 4, dilation = 5;  // input indices
  std::optional<size_t> transposed, outputPadding;
  size_t groups = 6;
  bool transposedValue = false;
};

Status lowerConvCommon(Lowering& l, ConvArgs a) {
  TP_RETURN_IF_ERROR(l.needInputs(a.groups + 1));
  TP_TRY(Value * weight, l.asTensor(a.weight));
  auto wShape = shapeOf(weight);
  if (!wShape || wShape->size() < 3)
    return l.unsupported("convolution weight " + std::string("%") + weight->name() + " needs a known rank >= 3");
  const size_t spatial = wShape->size() - 2;
  std::vector<int64_t> kernel;
  for (size_t i = 2; i < wShape->size(); ++i) {
    if (!(*wShape)[i].isKnown()) return l.unsupported("convolution weight with a dynamic kernel size");
    kernel.push_back((*wShape)[i].size());
  }
  bool transposed = a.transposedValue;
  if (a.transposed) {
    TP_TRY(transposed, l.boolArg(*a.transposed, "transposed"));
  }
  TP_TRY(std::vector<int64_t> stride, l.intsArgExpanded(a.stride, "stride", spatial));
  TP_TRY(std::vector<int64_t> dilation, l.intsArgExpanded(a.dilation, "dilation", spatial));
  TP_TRY(int64_t groups, l.intArg(a.groups, "groups"));
  std::vector<int64_t> outputPadding(spatial, 0);
  if (a.outputPadding && transposed) {
    TP_TRY(outputPadding, l.intsArgExpanded(*a.outputPadding, "output_padding", spatial));
  }
  std::vector<int64_t> pads;  // begin..., end...
  if (const std::string* mode = staticString(l.input(a.padding))) {
    if (*mode == "valid") {
      pads.assign(2 * spatial, 0);
    } else if (*mode == "same") {
      // Total padding d * (k - 1); PyTorch puts the odd element at the end.
      pads.assign(2 * spatial, 0);
      for (size_t i = 0; i < spatial; ++i) {
        const int64_t total = dilation[i] * (kernel[i] - 1);
        pads[i] = total / 2;
        pads[i + spatial] = total - total / 2;
      }
    } else {
      return l.invalid("unknown padding mode '" + *mode + "' (expected 'valid' or 'same')");
    }
  } else {
    TP_TRY(std::vector<int64_t> padding, l.intsArgExpanded(a.padding, "padding", spatial));
    pads = padding;
    pads.insert(pads.end(), padding.begin(), padding.end());
  }
  for (int64_t p : pads)
    if (p < 0) return l.unsupported("negative convolution padding");

  TP_TRY(SpatialInput in, batchedInput(l, a.input, spatial, "convolution"));
  std::vector<Value*> inputs{in.x, weight};
  if (a.bias != nullptr && !isNone(a.bias)) {
    TP_TRY(Value * bias, l.asTensor(a.bias));
    inputs.push_back(bias);
  }

  // Output shape: N, C_out, spatial sizes when the input's are static.
  std::optional<std::vector<Dim>> outShape;
  if (auto s = shapeOf(in.x); s && s->size() == spatial + 2) {
    std::vector<Dim> dims{(*s)[0]};
    const Dim& w0 = (*wShape)[0];
    const Dim& w1 = (*wShape)[1];
    if (!transposed) dims.push_back(w0);
    else dims.push_back(w1.isKnown() ? Dim::known(w1.size() * groups) : Dim::unknown());
    for (size_t i = 0; i < spatial; ++i) {
      const Dim& d = (*s)[i + 2];
      if (!d.isKnown()) {
        dims.push_back(Dim::unknown());
        continue;
      }
      const int64_t eff = dilation[i] * (kernel[i] - 1) + 1;
      int64_t o = transposed ? (d.size() - 1) * stride[i] - pads[i] - pads[i + spatial] + eff + outputPadding[i]
                             : floorDiv(d.size() + pads[i] + pads[i + spatial] - eff, stride[i]) + 1;
      dims.push_back(Dim::known(o));
    }
    outShape = dims;
  }
  OpBuilder conv = l.op(transposed ? "ConvTranspose" : "Conv", std::span<Value* const>(inputs))
                       .attr("dilations", dilation)
                       .attr("group", groups)
                       .attr("kernel_shape", kernel)
                       .attr("pads", pads)
                       .attr("strides", stride);
  if (transposed && std::any_of(outputPadding.begin(), outputPadding.end(), [](int64_t p) { return p != 0; }))
    conv.attr("output_padding", outputPadding);
  conv.type(tensorType(dtypeOf(in.x), outShape));
  l.setOutput(0, finishBatched(l, in, conv.out()));
  return Status::ok();
}

// _convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
//              groups, benchmark, deterministic, cudnn_enabled[, allow_tf32])
Status lowerUnderscoreConvolution(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(9));
  ConvArgs a;
  a.input = l.input(0);
  a.weight = l.input(1);
  a.bias = l.input(2);
  a.transposed = 6;
  a.outputPadding = 7;
  a.groups = 8;
  return lowerConvCommon(l, a);
}

// convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)
Status lowerConvolution(Lowering& l) { return lowerUnderscoreConvolution(l); }

// conv{1,2,3}d(input, weight, bias, stride, padding, dilation, groups); padding may be a string.
Status lowerConvNd(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(7));
  ConvArgs a;
  a.input = l.input(0);
  a.weight = l.input(1);
  a.bias = l.input(2);
  return lowerConvCommon(l, a);
}

// conv_transpose{1,2,3}d(input, weight, bias, stride, padding, output_padding, groups, dilation)
Status lowerConvTransposeNd(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(8));
  ConvArgs a;
  a.input = l.input(0);
  a.weight = l.input(1);
  a.bias = l.input(2);
  a.stride = 3;
  a.padding = 4;
  a.outputPadding = 5;
  a.groups = 6;
  a.dilation = 7;
  a.transposedValue = true;
  return lowerConvCommon(l, a);
}

// ---------------------------------------------------------------------------------------
// Pooling
// ---------------------------------------------------------------------------------------
struct PoolArgs {
  size_t spatial = 2;
  bool isMax = true;
  // Input indices; dilation only for max, count_include_pad/divisor_override only for avg.
  size_t kernel = 1, stride = 2, padding = 3;
  std::optional<size_t> dilation, ceilMode, countIncludePad, divisorOverride;
};

Status lowerPoolCommon(Lowering& l, const PoolArgs& a) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  const size_t n = a.spatial;
  TP_TRY(std::vector<int64_t> kernel, l.intsArgExpanded(a.kernel, "kernel_size", n));
  std::vector<int64_t> stride = kernel;  // PyTorch: stride defaults to kernel_size
  if (!l.isNoneArg(a.stride)) {
    TP_TRY(std::vector<int64_t> s, l.intsArg(a.stride, "stride"));
    if (!s.empty()) {
      TP_TRY(stride, l.intsArgExpanded(a.stride, "stride", n));
    }
  }
  std::vector<int64_t> padding(n, 0);
  if (!l.isNoneArg(a.padding)) {
    TP_TRY(padding, l.intsArgExpanded(a.padding, "padding", n));
  }
  std::vector<int64_t> dilation(n, 1);
  if (a.dilation && !l.isNoneArg(*a.dilation)) {
    TP_TRY(dilation, l.intsArgExpanded(*a.dilation, "dilation", n));
  }
  bool ceil = false;
  if (a.ceilMode) {
    TP_TRY(ceil, l.boolArgOr(*a.ceilMode, "ceil_mode", false));
  }
  bool countIncludePad = true;
  if (a.countIncludePad) {
    TP_TRY(countIncludePad, l.boolArgOr(*a.countIncludePad, "count_include_pad", true));
  }
  if (a.divisorOverride && !l.isNoneArg(*a.divisorOverride))
    return l.unsupported("avg_pool with divisor_override has no ONNX AveragePool equivalent");
  for (size_t i = 0; i < n; ++i) {
    if (padding[i] * 2 > kernel[i])
      return l.invalid("pad should be at most half of the kernel size (padding " + formatInts(padding) +
                       ", kernel_size " + formatInts(kernel) + ")");
  }

  TP_TRY(SpatialInput in, batchedInput(l, l.input(0), n, a.isMax ? "max_pool" : "avg_pool"));
  std::vector<int64_t> pads = padding;
  pads.insert(pads.end(), padding.begin(), padding.end());
  bool onnxCeil = false;
  bool onnxCountIncludePad = countIncludePad;
  auto s = shapeOf(in.x);
  std::optional<std::vector<Dim>> outShape;
  bool staticSpatial = s && s->size() == n + 2;
  if (staticSpatial)
    for (size_t i = 0; i < n; ++i) staticSpatial = staticSpatial && (*s)[i + 2].isKnown();

  if (ceil) {
    if (staticSpatial) {
      bool needsCeilOverhang = false;
      std::vector<int64_t> extra(n, 0);
      for (size_t i = 0; i < n; ++i) {
        const int64_t size = (*s)[i + 2].size();
        const int64_t out = torchPoolOutputSize(size, kernel[i], padding[i], padding[i], stride[i], dilation[i], true);
        const int64_t needed = (out - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - (size + 2 * padding[i]);
        extra[i] = std::max<int64_t>(needed, 0);
        if (extra[i] > 0) needsCeilOverhang = true;
      }
      bool padsFit = true;
      for (size_t i = 0; i < n; ++i) padsFit = padsFit && padding[i] + extra[i] < dilation[i] * (kernel[i] - 1) + 1;
      const bool avgExact = a.isMax || !countIncludePad ||
                            std::all_of(padding.begin(), padding.end(), [](int64_t p) { return p == 0; });
      if (!needsCeilOverhang) {
        // ceil_mode changes nothing for these sizes.
      } else if (padsFit && avgExact) {
        for (size_t i = 0; i < n; ++i) pads[i + n] += extra[i];
        // The overhang window averages valid elements only, like PyTorch's ceil window.
        if (!a.isMax) onnxCountIncludePad = false;
      } else {
        onnxCeil = true;
      }
    } else {
      onnxCeil = true;
    }
  }
  if (s && s->size() == n + 2) {
    std::vector<Dim> dims{(*s)[0], (*s)[1]};
    for (size_t i = 0; i < n; ++i) {
      const Dim& d = (*s)[i + 2];
      if (!d.isKnown()) {
        dims.push_back(Dim::unknown());
        continue;
      }
      dims.push_back(Dim::known(
          onnxCeil ? torchPoolOutputSize(d.size(), kernel[i], padding[i], padding[i], stride[i], dilation[i], true)
                   : torchPoolOutputSize(d.size(), kernel[i], pads[i], pads[i + n], stride[i], dilation[i], false)));
    }
    // Where ONNX's ceil formula (no start-in-padding rule) would disagree, leave the size open.
    if (onnxCeil) {
      for (size_t i = 0; i < n; ++i) {
        if (!dims[i + 2].isKnown()) continue;
        const int64_t size = (*s)[i + 2].size();
        const int64_t onnxSize =
            (size + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1 + stride[i] - 1) / stride[i] + 1;
        if (onnxSize != dims[i + 2].size()) dims[i + 2] = Dim::unknown();
      }
    }
    outShape = dims;
  }
  OpBuilder pool = l.op(a.isMax ? "MaxPool" : "AveragePool", {in.x})
                       .attr("kernel_shape", kernel)
                       .attr("pads", pads)
                       .attr("strides", stride);
  if (onnxCeil) pool.attr("ceil_mode", 1);
  if (a.isMax) {
    if (std::any_of(dilation.begin(), dilation.end(), [](int64_t d) { return d != 1; })) pool.attr("dilations", dilation);
  } else {
    pool.attr("count_include_pad", onnxCountIncludePad ? 1 : 0);
  }
  pool.type(tensorType(dtypeOf(in.x), outShape));
  l.setOutput(0, finishBatched(l, in, pool.out()));
  if (l.node().numOutputs() > 1 && l.outputUsed(1))
    return l.unsupported("max_pool indices output: ONNX MaxPool indices are flattened differently; only the values are supported");
  return Status::ok();
}

// max_pool{1,2,3}d(self, kernel_size, stride=[], padding=0, dilation=1, ceil_mode=False)
Status lowerMaxPool(Lowering& l, size_t n) {
  PoolArgs a;
  a.spatial = n;
  a.isMax = true;
  a.dilation = 4;
  a.ceilMode = 5;
  return lowerPoolCommon(l, a);
}
Status lowerMaxPool1d(Lowering& l) { return lowerMaxPool(l, 1); }
Status lowerMaxPool2d(Lowering& l) { return lowerMaxPool(l, 2); }
Status lowerMaxPool3d(Lowering& l) { return lowerMaxPool(l, 3); }

// avg_pool{1,2,3}d(self, kernel_size, stride=[], padding=0, ceil_mode=False,
//                  count_include_pad=True[, divisor_override=None])
Status lowerAvgPool(Lowering& l, size_t n) {
  PoolArgs a;
  a.spatial = n;
  a.isMax = false;
  a.ceilMode = 4;
  a.countIncludePad = 5;
  if (n > 1) a.divisorOverride = 6;
  return lowerPoolCommon(l, a);
}
Status lowerAvgPool1d(Lowering& l) { return lowerAvgPool(l, 1); }
Status lowerAvgPool2d(Lowering& l) { return lowerAvgPool(l, 2); }
Status lowerAvgPool3d(Lowering& l) { return lowerAvgPool(l, 3); }

// PyTorch's adaptive windows along one axis: [floor(i * in / out), ceil((i + 1) * in / out)).
std::vector<std::pair<int64_t, int64_t>> adaptiveWindows(int64_t in, int64_t out) {
  std::vector<std::pair<int64_t, int64_t>> windows;
  for (int64_t i = 0; i < out; ++i) windows.emplace_back((i * in) / out, ((i + 1) * in + out - 1) / out);
  return windows;
}

// Adaptive pooling with windows of varying size (input not a multiple of the output, or
// smaller than it), over static spatial sizes, one axis at a time (both the mean and the
// max of a rectangle are separable): averages as a MatMul with a [out, in] averaging
// matrix, maxima as a Concat of per-window ReduceMax.
Expected<Value*> adaptivePoolWindows(Lowering& l, Value* x, const std::vector<int64_t>& outSize, bool isMax) {
  const size_t n = outSize.size();
  if (n > 2) return Status(l.unsupported("3-D adaptive pooling to sizes that do not divide the input"));
  auto shape = *shapeOf(x);
  Value* y = x;
  for (size_t i = 0; i < n; ++i) {
    const int64_t axis = static_cast<int64_t>(shape.size() - n + i);
    const int64_t in = shape[static_cast<size_t>(axis)].size();
    const int64_t out = outSize[i];
    if (in == out) continue;
    const auto windows = adaptiveWindows(in, out);
    std::optional<std::vector<Dim>> yShape = shapeOf(y);
    (*yShape)[static_cast<size_t>(axis)] = Dim::known(out);
    if (isMax) {
      std::vector<Value*> pieces;
      for (const auto& [begin, end] : windows)
        pieces.push_back(l.reduce("ReduceMax", l.slice(y, axis, begin, end), std::vector<int64_t>{axis}, true));
      y = l.op("Concat", std::span<Value* const>(pieces)).attr("axis", axis).type(tensorType(dtypeOf(x), yShape));
      continue;
    }
    // Averaging matrix: row o has 1 / |window o| over the window.
    const bool lastAxis = axis == static_cast<int64_t>(shape.size()) - 1;
    std::vector<float> matrix(static_cast<size_t>(in * out), 0.0f);
    for (int64_t o = 0; o < out; ++o) {
      const auto [begin, end] = windows[static_cast<size_t>(o)];
      for (int64_t k = begin; k < end; ++k) {
        const float w = 1.0f / static_cast<float>(end - begin);
        // [out, in] for the second-to-last axis, [in, out] for the last one.
        matrix[static_cast<size_t>(lastAxis ? k * out + o : o * in + k)] = w;
      }
    }
    Value* m = l.constant(Tensor::fromVector(DType::F32, lastAxis ? std::vector<int64_t>{in, out} : std::vector<int64_t>{out, in}, matrix));
    TP_TRY(m, l.castLike(m, x));
    y = lastAxis ? static_cast<Value*>(l.op("MatMul", {y, m}).type(tensorType(dtypeOf(x), yShape)))
                 : static_cast<Value*>(l.op("MatMul", {m, y}).type(tensorType(dtypeOf(x), yShape)));
  }
  return y;
}

// adaptive_{avg,max}_pool{1,2,3}d(self, output_size)
Status lowerAdaptivePool(Lowering& l, size_t n, bool isMax) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(std::vector<int64_t> outSize, l.intsArgExpanded(1, "output_size", n));
  if (isMax && l.node().numOutputs() > 1 && l.outputUsed(1))
    return l.unsupported("adaptive_max_pool indices output is not supported");
  TP_TRY(SpatialInput in, batchedInput(l, l.input(0), n, isMax ? "adaptive_max_pool" : "adaptive_avg_pool"));
  auto s = shapeOf(in.x);
  const bool global = std::all_of(outSize.begin(), outSize.end(), [](int64_t o) { return o == 1; });
  if (global) {
    std::optional<std::vector<Dim>> outShape;
    if (s) {
      outShape = std::vector<Dim>{(*s)[0], (*s)[1]};
      for (size_t i = 0; i < n; ++i) outShape->push_back(Dim::known(1));
    }
    Value* y = l.op(isMax ? "GlobalMaxPool" : "GlobalAveragePool", {in.x}).type(tensorType(dtypeOf(in.x), outShape));
    l.setOutput(0, finishBatched(l, in, y));
    return Status::ok();
  }
  if (!s || s->size() != n + 2)
    return l.unsupported("adaptive pooling to " + formatInts(outSize) +
                         " needs the input's rank and spatial sizes; declare static input shapes");
  std::vector<int64_t> kernel;
  bool identity = true;
  bool divisible = true;
  for (size_t i = 0; i < n; ++i) {
    const Dim& d = (*s)[i + 2];
    if (!d.isKnown())
      return l.unsupported("adaptive pooling to " + formatInts(outSize) + " over a dynamic spatial size (" + d.toString() +
                           "); only output size 1 (global pooling) works with dynamic sizes");
    if (outSize[i] <= 0) return l.invalid("adaptive pooling to a non-positive size " + formatInts(outSize));
    divisible = divisible && d.size() % outSize[i] == 0;
    kernel.push_back(d.size() / std::max<int64_t>(outSize[i], 1));
    identity = identity && d.size() == outSize[i];
  }
  if (identity) {
    l.passThrough(0, in.unbatched ? l.input(0) : in.x);
    return Status::ok();
  }
  std::vector<Dim> dims{(*s)[0], (*s)[1]};
  for (int64_t o : outSize) dims.push_back(Dim::known(o));
  if (!divisible) {
    TP_TRY(Value * y, adaptivePoolWindows(l, in.x, outSize, isMax));
    y->setType(tensorType(dtypeOf(in.x), dims));
    l.setOutput(0, finishBatched(l, in, y));
    return Status::ok();
  }
  OpBuilder pool = l.op(isMax ? "MaxPool" : "AveragePool", {in.x})
                       .attr("kernel_shape", kernel)
                       .attr("pads", std::vector<int64_t>(2 * n, 0))
                       .attr("strides", kernel);
  pool.type(tensorType(dtypeOf(in.x), dims));
  l.setOutput(0, finishBatched(l, in, pool.out()));
  return Status::ok();
}
Status lowerAdaptiveAvgPool1d(Lowering& l) { return lowerAdaptivePool(l, 1, false); }
Status lowerAdaptiveAvgPool2d(Lowering& l) { return lowerAdaptivePool(l, 2, false); }
Status lowerAdaptiveAvgPool3d(Lowering& l) { return lowerAdaptivePool(l, 3, false); }
Status lowerAdaptiveMaxPool1d(Lowering& l) { return lowerAdaptivePool(l, 1, true); }
Status lowerAdaptiveMaxPool2d(Lowering& l) { return lowerAdaptivePool(l, 2, true); }
Status lowerAdaptiveMaxPool3d(Lowering& l) { return lowerAdaptivePool(l, 3, true); }

// ---------------------------------------------------------------------------------------
// Resize (upsample_*): sizes or scales for the spatial dims, N and C unchanged.
// ---------------------------------------------------------------------------------------
struct ResizeSpec {
  const char* mode;   // nearest | linear | cubic
  size_t spatial;
  bool hasAlignCorners;
};

Status lowerResize(Lowering& l, const ResizeSpec& spec) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  const size_t n = spec.spatial;
  // .vec overloads: (input, output_size?, [align_corners,] scale_factors?)
  // plain overloads: (self, output_size, [align_corners,] scales_1?, ..., scales_n?)
  const size_t alignIndex = 2;
  const size_t firstScale = spec.hasAlignCorners ? 3 : 2;
  const bool vecForm = l.numInputs() == firstScale + 1 || l.overloadName() == "vec";
  bool alignCorners = false;
  if (spec.hasAlignCorners) {
    TP_TRY(alignCorners, l.boolArgOr(alignIndex, "align_corners", false));
  }
  std::optional<std::vector<int64_t>> sizes;
  std::optional<std::vector<double>> scales;
  if (!l.isNoneArg(1)) {
    if (auto v = staticInts(l.input(1))) sizes = *v;
  }
  if (vecForm) {
    if (!l.isNoneArg(firstScale)) {
      auto v = staticFloats(l.input(firstScale));
      if (!v) return l.unsupported("dynamic scale_factors");
      scales = *v;
      if (scales->size() == 1) scales->assign(n, (*scales)[0]);
    }
  } else {
    std::vector<double> given;
    bool all = true;
    for (size_t i = 0; i < n; ++i) {
      if (l.isNoneArg(firstScale + i)) {
        all = false;
        break;
      }
      TP_TRY(double sc, l.floatArg(firstScale + i, "scales"));
      given.push_back(sc);
    }
    if (all && !given.empty()) scales = given;
  }
  TP_TRY(SpatialInput in, batchedInput(l, l.input(0), n, "upsample"));
  const std::string ctm = std::string(spec.mode) == "nearest" ? "asymmetric"
                          : alignCorners                      ? "align_corners"
                                                              : "pytorch_half_pixel";
  std::vector<Value*> inputs{in.x, l.absent()};  // no roi
  std::optional<std::vector<Dim>> outShape;
  auto s = shapeOf(in.x);
  if (scales && (!sizes || l.isNoneArg(1))) {
    // Scale factors drive both the output size and the coordinate mapping, as in PyTorch.
    std::vector<float> all{1.0f, 1.0f};
    for (double sc : *scales) all.push_back(static_cast<float>(sc));
    inputs.push_back(l.constant(Tensor::fromVector(DType::F32, {static_cast<int64_t>(all.size())}, all)));
    if (s && s->size() == n + 2) {
      std::vector<Dim> dims{(*s)[0], (*s)[1]};
      for (size_t i = 0; i < n; ++i) {
        const Dim& d = (*s)[i + 2];
        dims.push_back(d.isKnown() ? Dim::known(static_cast<int64_t>(std::floor(static_cast<double>(d.size()) * (*scales)[i])))
                                   : Dim::unknown());
      }
      outShape = dims;
    }
  } else {
    TP_TRY(Value * outSize, l.asI64List(l.input(1)));
    Value* leading = l.slice(l.shape(in.x), 0, 0, 2);
    Value* sizesV = l.concatLists({leading, outSize});
    inputs.push_back(l.absent());  // no scales
    inputs.push_back(sizesV);
    if (s && s->size() == n + 2) {
      std::vector<Dim> dims{(*s)[0], (*s)[1]};
      for (size_t i = 0; i < n; ++i) dims.push_back(sizes ? Dim::known((*sizes)[i]) : Dim::unknown());
      outShape = dims;
    }
  }
  OpBuilder resize = l.op("Resize", std::span<Value* const>(inputs))
                         .attr("coordinate_transformation_mode", ctm)
                         .attr("mode", spec.mode);
  if (std::string(spec.mode) == "nearest") resize.attr("nearest_mode", "floor");
  if (std::string(spec.mode) == "cubic") resize.attr("cubic_coeff_a", -0.75);
  resize.type(tensorType(dtypeOf(in.x), outShape));
  l.setOutput(0, finishBatched(l, in, resize.out()));
  return Status::ok();
}
Status lowerUpsampleNearest1d(Lowering& l) { return lowerResize(l, {"nearest", 1, false}); }
Status lowerUpsampleNearest2d(Lowering& l) { return lowerResize(l, {"nearest", 2, false}); }
Status lowerUpsampleNearest3d(Lowering& l) { return lowerResize(l, {"nearest", 3, false}); }
Status lowerUpsampleLinear1d(Lowering& l) { return lowerResize(l, {"linear", 1, true}); }
Status lowerUpsampleBilinear2d(Lowering& l) { return lowerResize(l, {"linear", 2, true}); }
Status lowerUpsampleTrilinear3d(Lowering& l) { return lowerResize(l, {"linear", 3, true}); }
Status lowerUpsampleBicubic2d(Lowering& l) { return lowerResize(l, {"cubic", 2, true}); }

// pixel_shuffle(self, upscale_factor): DepthToSpace in CRD order.
Status lowerPixelShuffle(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t r, l.intArg(1, "upscale_factor"));
  if (rankOf(x) != 4) return l.unsupported("pixel_shuffle on inputs other than 4-D (N, C, H, W)");
  std::optional<std::vector<Dim>> out;
  if (auto s = shapeOf(x)) {
    auto scaled = [&](const Dim& d, int64_t f, bool divide) {
      if (!d.isKnown()) return Dim::unknown();
      return Dim::known(divide ? d.size() / f : d.size() * f);
    };
    out = std::vector<Dim>{(*s)[0], scaled((*s)[1], r * r, true), scaled((*s)[2], r, false), scaled((*s)[3], r, false)};
  }
  l.setOutput(0, l.op("DepthToSpace", {x}).attr("blocksize", r).attr("mode", "CRD").type(tensorType(dtypeOf(x), out)));
  return Status::ok();
}

// pixel_unshuffle(self, downscale_factor): reshape/transpose (SpaceToDepth uses DCR order).
Status lowerPixelUnshuffle(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t r, l.intArg(1, "downscale_factor"));
  auto s = shapeOf(x);
  if (!s || s->size() != 4 || !(*s)[1].isKnown() || !(*s)[2].isKnown() || !(*s)[3].isKnown())
    return l.unsupported("pixel_unshuffle needs a 4-D input with static C, H, W");
  const int64_t c = (*s)[1].size(), h = (*s)[2].size(), w = (*s)[3].size();
  Value* batch = l.slice(l.shape(x), 0, 0, 1);
  Value* shape6 = l.concatLists({batch, l.i64s({c, h / r, r, w / r, r})});
  Value* y = l.reshape(x, shape6);
  y = l.transpose(y, {0, 1, 3, 5, 2, 4});
  Value* shape4 = l.concatLists({batch, l.i64s({c * r * r, h / r, w / r})});
  l.setOutput(0, l.reshape(y, shape4));
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::_convolution", kMinOpset, kMaxOpset, "Conv / ConvTranspose with explicit pads", lowerUnderscoreConvolution},
    {"aten::convolution", kMinOpset, kMaxOpset, "Conv / ConvTranspose with explicit pads", lowerConvolution},
    {"aten::conv1d", kMinOpset, kMaxOpset, "Conv (padding ints or 'same'/'valid')", lowerConvNd},
    {"aten::conv2d", kMinOpset, kMaxOpset, "Conv (padding ints or 'same'/'valid')", lowerConvNd},
    {"aten::conv3d", kMinOpset, kMaxOpset, "Conv (padding ints or 'same'/'valid')", lowerConvNd},
    {"aten::conv_transpose1d", kMinOpset, kMaxOpset, "ConvTranspose", lowerConvTransposeNd},
    {"aten::conv_transpose2d", kMinOpset, kMaxOpset, "ConvTranspose", lowerConvTransposeNd},
    {"aten::conv_transpose3d", kMinOpset, kMaxOpset, "ConvTranspose", lowerConvTransposeNd},
    {"aten::max_pool1d", kMinOpset, kMaxOpset, "MaxPool (ceil_mode matched to PyTorch)", lowerMaxPool1d},
    {"aten::max_pool2d", kMinOpset, kMaxOpset, "MaxPool (ceil_mode matched to PyTorch)", lowerMaxPool2d},
    {"aten::max_pool3d", kMinOpset, kMaxOpset, "MaxPool (ceil_mode matched to PyTorch)", lowerMaxPool3d},
    {"aten::max_pool1d_with_indices", kMinOpset, kMaxOpset, "MaxPool (values only)", lowerMaxPool1d},
    {"aten::max_pool2d_with_indices", kMinOpset, kMaxOpset, "MaxPool (values only)", lowerMaxPool2d},
    {"aten::max_pool3d_with_indices", kMinOpset, kMaxOpset, "MaxPool (values only)", lowerMaxPool3d},
    {"aten::avg_pool1d", kMinOpset, kMaxOpset, "AveragePool (divisor_override refused)", lowerAvgPool1d},
    {"aten::avg_pool2d", kMinOpset, kMaxOpset, "AveragePool (divisor_override refused)", lowerAvgPool2d},
    {"aten::avg_pool3d", kMinOpset, kMaxOpset, "AveragePool (divisor_override refused)", lowerAvgPool3d},
    {"aten::adaptive_avg_pool1d", kMinOpset, kMaxOpset, "GlobalAveragePool, or AveragePool for static divisible sizes", lowerAdaptiveAvgPool1d},
    {"aten::adaptive_avg_pool2d", kMinOpset, kMaxOpset, "GlobalAveragePool, or AveragePool for static divisible sizes", lowerAdaptiveAvgPool2d},
    {"aten::adaptive_avg_pool3d", kMinOpset, kMaxOpset, "GlobalAveragePool, or AveragePool for static divisible sizes", lowerAdaptiveAvgPool3d},
    {"aten::adaptive_max_pool1d", kMinOpset, kMaxOpset, "GlobalMaxPool, or MaxPool for static divisible sizes", lowerAdaptiveMaxPool1d},
    {"aten::adaptive_max_pool2d", kMinOpset, kMaxOpset, "GlobalMaxPool, or MaxPool for static divisible sizes", lowerAdaptiveMaxPool2d},
    {"aten::adaptive_max_pool3d", kMinOpset, kMaxOpset, "GlobalMaxPool, or MaxPool for static divisible sizes", lowerAdaptiveMaxPool3d},
    {"aten::upsample_nearest1d", kMinOpset, kMaxOpset, "Resize nearest (asymmetric, floor)", lowerUpsampleNearest1d},
    {"aten::upsample_nearest2d", kMinOpset, kMaxOpset, "Resize nearest (asymmetric, floor)", lowerUpsampleNearest2d},
    {"aten::upsample_nearest3d", kMinOpset, kMaxOpset, "Resize nearest (asymmetric, floor)", lowerUpsampleNearest3d},
    {"aten::upsample_linear1d", kMinOpset, kMaxOpset, "Resize linear (align_corners / pytorch_half_pixel)", lowerUpsampleLinear1d},
    {"aten::upsample_bilinear2d", kMinOpset, kMaxOpset, "Resize linear (align_corners / pytorch_half_pixel)", lowerUpsampleBilinear2d},
    {"aten::upsample_trilinear3d", kMinOpset, kMaxOpset, "Resize linear (align_corners / pytorch_half_pixel)", lowerUpsampleTrilinear3d},
    {"aten::upsample_bicubic2d", kMinOpset, kMaxOpset, "Resize cubic (a = -0.75)", lowerUpsampleBicubic2d},
    {"aten::pixel_shuffle", kMinOpset, kMaxOpset, "DepthToSpace (CRD)", lowerPixelShuffle},
    {"aten::pixel_unshuffle", kMinOpset, kMaxOpset, "Reshape / Transpose / Reshape", lowerPixelUnshuffle},
};

}  // namespace

std::span<const ConverterSpec> convPoolConverters() { return kTable; }

}  // namespace torchport::onnxplugin
