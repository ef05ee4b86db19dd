// Spectral ops: aten::stft (both overloads) and aten::view_as_real of its result, plus
// aten::list (list copy), which torch.stft's scripted padding code uses.
//
// Complex results: ONNX has no complex element type, so a complex tensor is carried as a
// real tensor with a trailing dim of 2 (real, imag) -- exactly what torch.view_as_real
// gives and what stft(return_complex=False) returns. stft(return_complex=True) is therefore
// accepted only when every use of its result is aten::view_as_real (which becomes a no-op);
// any other consumer of a complex tensor (abs, angle, mul...) is refused with the fix:
// call torch.view_as_real(spec) and compute on the (real, imag) pair.
//
// stft(x [L] or [B, L], n_fft, hop=n_fft/4, win_length=n_fft, window=ones, normalized,
//      onesided=True, return_complex) -> [B?, n_bins, n_frames, 2]
//   window: [win_length], zero-padded on both sides to n_fft (left = (n_fft - win) / 2)
//   n_frames = 1 + (L - n_fft) / hop; n_bins = n_fft / 2 + 1 if onesided else n_fft
//   X[k, t] = sum_n x[t * hop + n] * w[n] * exp(-2 pi i k n / n_fft), times n_fft^-1/2 if normalized
// The .center overload (center, pad_mode) first pads x by n_fft / 2 on both sides; torch.stft
// in Python does that padding itself before calling the plain overload.
//
// Opset >= 17: ONNX STFT (signal [B, L, 1], frame_step, window, frame_length; output
// [B, frames, bins, 2], transposed to PyTorch's [B, bins, frames, 2]).
// Below 17: frames gathered with an index matrix (t * hop + n), multiplied by the window,
// then one MatMul with the constant DFT basis [n_fft, 2 * n_bins] = [cos | -sin].
#include <cmath>
#include <numbers>

#include "converters.h"

namespace torchport::onnxplugin {
namespace {

struct StftArgs {
  int64_t nFft = 0;
  int64_t hop = 0;
  int64_t winLength = 0;
  bool center = false;
  std::string padMode = "reflect";
  bool normalized = false;
  bool onesided = true;
  bool returnComplex = false;
};

Expected<StftArgs> readStftArgs(Lowering& l) {
  // aten::stft(self, n_fft, hop_length?, win_length?, window?, normalized, onesided?, return_complex?)
  // aten::stft.center(self, n_fft, hop_length?, win_length?, window?, center, pad_mode, normalized, onesided?, return_complex?)
  const bool centerOverload = l.overloadName() == "center" || l.numInputs() == 10;
  StftArgs a;
  TP_TRY(a.nFft, l.intArg(1, "n_fft"));
  if (a.nFft <= 0) return Status(l.invalid("stft: n_fft must be positive, got " + std::to_string(a.nFft)));
  TP_TRY(a.hop, l.intArgOr(2, "hop_length", a.nFft / 4));
  TP_TRY(a.winLength, l.intArgOr(3, "win_length", a.nFft));
  size_t next = 5;
  if (centerOverload) {
    TP_TRY(a.center, l.boolArgOr(5, "center", true));
    TP_TRY(a.padMode, l.stringArgOr(6, "pad_mode", "reflect"));
    next = 7;
  }
  TP_TRY(a.normalized, l.boolArgOr(next, "normalized", false));
  TP_TRY(a.onesided, l.boolArgOr(next + 1, "onesided", true));
  // None = False for real inputs in PyTorch 1.x (with a deprecation warning).
  TP_TRY(a.returnComplex, l.boolArgOr(next + 2, "return_complex", false));
  if (a.hop <= 0) return Status(l.invalid("stft: hop_length must be positive, got " + std::to_string(a.hop)));
  if (a.winLength <= 0 || a.winLength > a.nFft)
    return Status(l.invalid("stft: win_length " + std::to_string(a.winLength) + " must be in [1, n_fft = " +
                            std::to_string(a.nFft) + "]"));
  return a;
}

// Zero-pads a 1-D window of `length` to n_fft, centred as PyTorch does.
Value* padWindow(Lowering& l, Value* window, int64_t length, int64_t nFft) {
  if (length == nFft) return window;
  const int64_t left = (nFft - length) / 2;
  Value* pads = l.i64s({left, nFft - length - left});
  return l.op("Pad", {window, pads}).attr("mode", "constant").type(tensorType(dtypeOf(window), knownDims({nFft})));
}

// The window as a [n_fft] tensor of `dtype`; nullptr for a rectangular full-length window.
Expected<Value*> stftWindow(Lowering& l, const StftArgs& a, DType dtype) {
  if (l.isNoneArg(4)) {
    if (a.winLength == a.nFft) return static_cast<Value*>(nullptr);
    return padWindow(l, l.filled(1.0, dtype, {a.winLength}), a.winLength, a.nFft);
  }
  TP_TRY(Value * window, l.asTensor(l.input(4)));
  if (rankOf(window) && *rankOf(window) != 1) return Status(l.invalid("stft: the window must be 1-D"));
  if (auto size = staticDimOf(window, 0); size && *size != a.winLength)
    return Status(l.invalid("stft: window has " + std::to_string(*size) + " elements, win_length is " +
                            std::to_string(a.winLength)));
  if (dtypeOf(window) != dtype) {
    TP_TRY(window, l.castTo(window, dtype));
  }
  return padWindow(l, window, a.winLength, a.nFft);
}

Expected<Value*> centerPad(Lowering& l, Value* x, const StftArgs& a, int64_t rank) {
  std::string mode;
  if (a.padMode == "reflect") mode = "reflect";
  else if (a.padMode == "constant") mode = "constant";
  else if (a.padMode == "replicate") mode = "edge";
  else return Status(l.unsupported("stft with pad_mode='" + a.padMode + "' (supported: reflect, constant, replicate)"));
  const int64_t pad = a.nFft / 2;
  std::vector<int64_t> pads(static_cast<size_t>(2 * rank), 0);
  pads[static_cast<size_t>(rank - 1)] = pad;
  pads[static_cast<size_t>(2 * rank - 1)] = pad;
  std::optional<std::vector<Dim>> shape = shapeOf(x);
  if (shape && shape->back().isKnown()) shape->back() = Dim::known(shape->back().size() + 2 * pad);
  else if (shape) shape->back() = Dim::unknown();
  return static_cast<Value*>(l.op("Pad", {x, l.i64s(pads)}).attr("mode", mode).type(tensorType(dtypeOf(x), shape)));
}

// [n_fft, 2 * bins]: cos(2 pi k n / N) | -sin(2 pi k n / N), times `scale`.
Tensor dftBasis(int64_t nFft, int64_t bins, double scale, DType dtype) {
  const size_t cols = static_cast<size_t>(2 * bins);
  std::vector<double> basis(static_cast<size_t>(nFft) * cols);
  for (int64_t n = 0; n < nFft; ++n) {
    for (int64_t k = 0; k < bins; ++k) {
      // k * n mod N keeps the angle small, so large transforms stay accurate.
      const double angle = 2.0 * std::numbers::pi * static_cast<double>((k * n) % nFft) / static_cast<double>(nFft);
      basis[static_cast<size_t>(n) * cols + static_cast<size_t>(k)] = std::cos(angle) * scale;
      basis[static_cast<size_t>(n) * cols + static_cast<size_t>(bins + k)] = -std::sin(angle) * scale;
    }
  }
  const std::vector<int64_t> shape{nFft, 2 * bins};
  if (dtype == DType::F64) return Tensor::fromVector(DType::F64, shape, basis);
  std::vector<float> single(basis.begin(), basis.end());
  return Tensor::fromVector(DType::F32, shape, single);
}

Status lowerStft(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(StftArgs a, readStftArgs(l));
  if (a.returnComplex) {
    for (const Use& use : l.output()->uses()) {
      if (use.user->kind() != "aten::view_as_real") {
        return l.unsupported("stft(return_complex=True) whose complex result is used by " + use.user->describe() +
                             ": ONNX has no complex tensors; torchport carries them as (real, imag) pairs only "
                             "into torch.view_as_real. Use torch.view_as_real(spec) (or return_complex=False) and "
                             "compute e.g. the magnitude as spec.pow(2).sum(-1).sqrt()");
      }
    }
  }
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  const DType dtype = dtypeOf(x);
  if (dtype != DType::F32 && dtype != DType::F64)
    return l.unsupported("stft of a " + std::string(dtypeName(dtype)) + " input (only real f32/f64 signals; complex "
                         "inputs have no ONNX form)");
  std::optional<int64_t> rank = rankOf(x);
  if (!rank || (*rank != 1 && *rank != 2)) return l.unsupported("stft of an input whose rank is not known to be 1 or 2");
  if (a.center) {
    TP_TRY(x, centerPad(l, x, a, *rank));
  }
  const int64_t bins = a.onesided ? a.nFft / 2 + 1 : a.nFft;
  TP_TRY(Value * window, stftWindow(l, a, dtype));

  std::optional<int64_t> frames;
  if (auto length = staticDimOf(x, -1)) {
    if (*length < a.nFft)
      return l.invalid("stft: the signal has " + std::to_string(*length) + " samples, fewer than n_fft = " +
                       std::to_string(a.nFft));
    frames = 1 + (*length - a.nFft) / a.hop;
  }
  const Dim framesDim = frames ? Dim::known(*frames) : Dim::unknown();
  std::vector<Dim> outShape;
  if (*rank == 2) outShape.push_back(dimOf(x, 0));
  outShape.insert(outShape.end(), {Dim::known(bins), framesDim, Dim::known(2)});
  const double scale = a.normalized ? 1.0 / std::sqrt(static_cast<double>(a.nFft)) : 1.0;

  if (l.opset() >= 17) {
    Value* batched = *rank == 1 ? l.unsqueeze(x, {0}) : x;
    Value* signal = l.unsqueeze(batched, {2});  // [B, L, 1]
    if (window == nullptr) window = l.filled(1.0, dtype, {a.nFft});
    std::vector<Dim> stftShape{dimOf(batched, 0), framesDim, Dim::known(bins), Dim::known(2)};
    Value* spec = l.op("STFT", {signal, l.i64(a.hop), window, l.i64(a.nFft)})
                      .attr("onesided", a.onesided ? 1 : 0)
                      .type(tensorType(dtype, stftShape));
    std::vector<Dim> transposed{stftShape[0], stftShape[2], stftShape[1], stftShape[3]};
    Value* result = l.op("Transpose", {spec}).attr("perm", std::vector<int64_t>{0, 2, 1, 3}).type(tensorType(dtype, transposed));
    if (a.normalized) result = l.op("Mul", {result, l.scalar(scale, dtype)}).type(tensorType(dtype, transposed));
    if (*rank == 1) result = l.squeeze(result, {0});
    l.setOutput(0, result);
    return Status::ok();
  }

  // Frame indices [frames, n_fft] = t * hop + n.
  std::vector<int64_t> offsets(static_cast<size_t>(a.nFft));
  for (int64_t n = 0; n < a.nFft; ++n) offsets[static_cast<size_t>(n)] = n;
  Value* indices = nullptr;
  if (frames) {
    std::vector<int64_t> all;
    all.reserve(static_cast<size_t>(*frames * a.nFft));
    for (int64_t t = 0; t < *frames; ++t)
      for (int64_t n = 0; n < a.nFft; ++n) all.push_back(t * a.hop + n);
    indices = l.constant(Tensor::fromVector(DType::I64, {*frames, a.nFft}, all));
  } else {
    const Type scalarI64 = tensorType(DType::I64, std::vector<Dim>{});
    Value* length = l.dimSize(x, -1);
    Value* span = l.op("Sub", {length, l.i64(a.nFft)}).type(scalarI64);
    Value* count = l.op("Add", {l.op("Div", {span, l.i64(a.hop)}).type(scalarI64), l.i64(1)}).type(scalarI64);
    Value* steps = l.op("Range", {l.i64(0), count, l.i64(1)}).type(tensorType(DType::I64, std::vector<Dim>{framesDim}));
    Value* starts = l.op("Mul", {steps, l.i64(a.hop)}).type(tensorType(DType::I64, std::vector<Dim>{framesDim}));
    Value* column = l.unsqueeze(starts, {1});
    Value* offsetRow = l.constant(Tensor::fromVector(DType::I64, {1, a.nFft}, offsets));
    indices = l.op("Add", {column, offsetRow}).type(tensorType(DType::I64, std::vector<Dim>{framesDim, Dim::known(a.nFft)}));
  }
  std::vector<Dim> framedShape;
  if (*rank == 2) framedShape.push_back(dimOf(x, 0));
  framedShape.insert(framedShape.end(), {framesDim, Dim::known(a.nFft)});
  Value* framed = l.op("Gather", {x, indices}).attr("axis", *rank - 1).type(tensorType(dtype, framedShape));
  if (window != nullptr) framed = l.op("Mul", {framed, window}).type(tensorType(dtype, framedShape));
  std::vector<Dim> productShape = framedShape;
  productShape.back() = Dim::known(2 * bins);
  Value* product = l.op("MatMul", {framed, l.constant(dftBasis(a.nFft, bins, scale, dtype))})
                       .type(tensorType(dtype, productShape));
  // [..., frames, 2 * bins] -> [..., frames, 2, bins] -> [..., bins, frames, 2]
  std::vector<Dim> splitShape = framedShape;
  splitShape.back() = Dim::known(2);
  splitShape.push_back(Dim::known(bins));
  Value* split = l.reshape(product, l.i64s(*rank == 2 ? std::vector<int64_t>{0, 0, 2, bins} : std::vector<int64_t>{0, 2, bins}));
  split->setType(tensorType(dtype, splitShape));
  const std::vector<int64_t> perm = *rank == 2 ? std::vector<int64_t>{0, 3, 1, 2} : std::vector<int64_t>{2, 0, 1};
  l.setOutput(0, l.op("Transpose", {split}).attr("perm", perm).type(tensorType(dtype, outShape)));
  return Status::ok();
}

// view_as_real(complex) -> [..., 2]: complex tensors are already (real, imag) pairs here.
Status lowerViewAsReal(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  Value* x = l.input(0);
  const Node* producer = x->producer();
  const bool fromStft = producer != nullptr && producer->kind().rfind("onnx::", 0) == 0 && isFloatingPoint(dtypeOf(x)) &&
                        staticDimOf(x, -1) == std::optional<int64_t>(2);
  if (!fromStft)
    return l.unsupported("view_as_real of a complex tensor that does not come from aten::stft (complex tensors "
                         "have no ONNX form; torchport only carries stft results as (real, imag) pairs)");
  l.passThrough(0, x);
  return Status::ok();
}

// aten::list(t[] l) -> t[]: a copy of a list (torch.stft's scripted centering code builds the
// padded shape with list(x.size())). Lists are immutable values once lowered: the same value.
Status lowerListCopy(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  const Type::Kind kind = l.input(0)->type().kind();
  if (kind != Type::Kind::List && kind != Type::Kind::Tensor && kind != Type::Kind::Unknown)
    return l.unsupported("aten::list of a " + l.input(0)->type().toString() + " (only list copies are converted)");
  l.passThrough(0, l.input(0));
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::stft", kMinOpset, 16, "frames (Gather) x window, MatMul with the DFT basis [cos | -sin]", lowerStft},
    {"aten::stft", 17, kMaxOpset, "STFT (signal [B, L, 1]) transposed to [B, bins, frames, 2]", lowerStft},
    {"aten::view_as_real", kMinOpset, kMaxOpset, "no-op on stft results (complex = trailing (real, imag) dim)",
     lowerViewAsReal},
    {"aten::list", kMinOpset, kMaxOpset, "no-op (a copy of a list)", lowerListCopy},
};

}  // namespace

std::span<const ConverterSpec> spectralConverters() { return kTable; }

}  // namespace torchport::onnxplugin
