// PyTorch's fused inference fast path, which torch.onnx.export cannot export:
//   aten::_native_multi_head_attention  (nn.MultiheadAttention in eval + no_grad)
//   aten::_transformer_encoder_layer_fwd (nn.TransformerEncoderLayer in eval + no_grad)
//   aten::_nested_tensor_from_mask / aten::to_padded_tensor (nn.TransformerEncoder with a
//   padding mask packs sequences as nested tensors)
// plus aten::scaled_dot_product_attention for newer exports.
//
// Attention is decomposed: in-projection (one MatMul when q, k, v are the same tensor),
// heads split with Reshape [0, 0, H, D] + Transpose, q scaled by 1/sqrt(D) (as PyTorch's
// kernel does before the product), masked scores, Softmax, context, out-projection.
//
// Nested tensors are represented by their padded tensor plus the "keep" mask (True = real
// token): a transient onnx::SequenceConstruct(padded, keep) that the layer and
// to_padded_tensor converters read through and that dead-code removal drops. Padded
// positions are masked out as keys and zeroed by to_padded_tensor; the output keeps the
// input's padded length (PyTorch trims to the longest sequence, which is the same when at
// least one sequence has no padding).
#include <cmath>

#include "converters.h"

namespace torchport::onnxplugin {
namespace {

Type sameType(Value* x) { return tensorType(dtypeOf(x), shapeOf(x)); }

// A nested tensor (padded values, keep mask) if `v` is one.
std::optional<std::pair<Value*, Value*>> nestedParts(Value* v) {
  const Node* p = v->producer();
  if (p == nullptr || p->kind() != "onnx::SequenceConstruct" || p->numInputs() != 2) return std::nullopt;
  if (dtypeOf(p->input(1)) != DType::Bool) return std::nullopt;
  if (p->output()->type().kind() == Type::Kind::List) return std::nullopt;  // a real list of two tensors
  return std::make_pair(p->input(0), p->input(1));
}

Value* makeNested(Lowering& l, Value* padded, Value* keep) {
  // Typed like the padded tensor: to consumers that do not know nested tensors it is the
  // tensor they expect (and the SequenceConstruct is removed once nobody reads it).
  return l.op("SequenceConstruct", {padded, keep}).type(sameType(padded));
}

enum class MaskKind { None, KeyPadding, Attention };

struct AttentionSpec {
  int64_t embedDim = 0;
  int64_t numHeads = 0;
  Value* qkvWeight = nullptr;  // [3E, E]
  Value* qkvBias = nullptr;    // [3E] or nullptr
  Value* projWeight = nullptr;
  Value* projBias = nullptr;
  Value* mask = nullptr;  // bool (True = masked out) or float (added)
  MaskKind maskKind = MaskKind::None;
};

// Rows [begin, end) of a weight or bias (axis 0).
Value* rows(Lowering& l, Value* w, int64_t begin, int64_t end) { return l.slice(w, 0, begin, end); }

// [B, L, E] -> [B, H, L, D] (or [B, H, D, L] with keyLayout, for q @ k^T)
Value* splitHeads(Lowering& l, Value* x, int64_t heads, int64_t headDim, bool keyLayout) {
  Value* r = l.reshape(x, l.i64s({0, 0, heads, headDim}));
  return l.transpose(r, keyLayout ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{0, 2, 1, 3});
}

// Returns (context [B, L, E] after out-projection, attention weights [B, H, L, S]).
Expected<std::pair<Value*, Value*>> attention(Lowering& l, Value* query, Value* key, Value* value, const AttentionSpec& s) {
  const int64_t E = s.embedDim, H = s.numHeads;
  if (H <= 0 || E % H != 0) return Status(l.invalid("embed_dim " + std::to_string(E) + " is not divisible by num_heads " + std::to_string(H)));
  const int64_t D = E / H;
  Value *q = nullptr, *k = nullptr, *v = nullptr;
  if (query == key && key == value) {
    TP_TRY(Value * qkv, emitLinear(l, query, s.qkvWeight, s.qkvBias));
    q = l.slice(qkv, -1, 0, E);
    k = l.slice(qkv, -1, E, 2 * E);
    v = l.slice(qkv, -1, 2 * E, 3 * E);
  } else {
    auto bias = [&](int64_t i) { return s.qkvBias == nullptr ? nullptr : rows(l, s.qkvBias, i * E, (i + 1) * E); };
    TP_TRY(q, emitLinear(l, query, rows(l, s.qkvWeight, 0, E), bias(0)));
    TP_TRY(k, emitLinear(l, key, rows(l, s.qkvWeight, E, 2 * E), bias(1)));
    TP_TRY(v, emitLinear(l, value, rows(l, s.qkvWeight, 2 * E, 3 * E), bias(2)));
  }
  TP_TRY(Value * scale, l.castLike(l.staticFloatValue(1.0 / std::sqrt(static_cast<double>(D))), q));
  Value* qh = splitHeads(l, q, H, D, false);
  qh = l.op("Mul", {qh, scale}).type(sameType(qh));
  Value* kh = splitHeads(l, k, H, D, true);
  Value* vh = splitHeads(l, v, H, D, false);
  Value* scores = l.op("MatMul", {qh, kh}).type(tensorTypeOfRank(dtypeOf(q), 4));
  if (s.mask != nullptr && s.maskKind != MaskKind::None) {
    TP_TRY(Value * mask, l.asTensor(s.mask));
    // Key padding [B, S] -> [B, 1, 1, S]; attention mask [L, S] broadcasts as is.
    if (s.maskKind == MaskKind::KeyPadding) mask = l.unsqueeze(mask, {1, 2});
    if (dtypeOf(mask) == DType::Bool) {
      TP_TRY(Value * negInf, l.castLike(l.staticFloatValue(-std::numeric_limits<double>::infinity()), scores));
      scores = l.op("Where", {mask, negInf, scores}).type(sameType(scores));
    } else {
      TP_TRY(mask, l.castLike(mask, scores));
      scores = l.op("Add", {scores, mask}).type(sameType(scores));
    }
  }
  Value* weights = l.op("Softmax", {scores}).attr("axis", -1).type(sameType(scores));
  Value* context = l.op("MatMul", {weights, vh}).type(tensorTypeOfRank(dtypeOf(q), 4));
  context = l.transpose(context, {0, 2, 1, 3});
  context = l.reshape(context, l.i64s({0, 0, E}));
  TP_TRY(Value * out, emitLinear(l, context, s.projWeight, s.projBias));
  return std::make_pair(out, weights);
}

Expected<MaskKind> maskKindArg(Lowering& l, size_t maskIndex, size_t typeIndex) {
  if (l.isNoneArg(maskIndex)) return MaskKind::None;
  TP_TRY(int64_t type, l.intArgOr(typeIndex, "mask_type", -1));
  if (type == 1) return MaskKind::KeyPadding;
  if (type == 0 || type == 2) return MaskKind::Attention;
  return Status(l.unsupported("attention mask with mask_type " + std::to_string(type)));
}

// _native_multi_head_attention(query, key, value, embed_dim, num_head, qkv_weight, qkv_bias,
//   proj_weight, proj_bias, mask=None, need_weights=True, average_attn_weights=True, mask_type=None)
Status lowerNativeMultiHeadAttention(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(9));
  AttentionSpec s;
  TP_TRY(s.embedDim, l.intArg(3, "embed_dim"));
  TP_TRY(s.numHeads, l.intArg(4, "num_head"));
  s.qkvWeight = l.input(5);
  s.qkvBias = l.isNoneArg(6) ? nullptr : l.input(6);
  s.projWeight = l.input(7);
  s.projBias = l.isNoneArg(8) ? nullptr : l.input(8);
  s.mask = l.isNoneArg(9) ? nullptr : l.input(9);
  TP_TRY(s.maskKind, maskKindArg(l, 9, 12));
  TP_TRY(bool needWeights, l.boolArgOr(10, "need_weights", true));
  TP_TRY(bool average, l.boolArgOr(11, "average_attn_weights", true));
  for (size_t i = 0; i < 3; ++i)
    if (auto r = rankOf(l.input(i)); r && *r != 3)
      return l.unsupported("multi-head attention on unbatched (rank " + std::to_string(*r) + ") inputs");
  TP_TRY(Value * q, l.asTensor(l.input(0)));
  Value* k = l.input(1) == l.input(0) ? q : nullptr;
  Value* v = l.input(2) == l.input(0) ? q : nullptr;
  if (k == nullptr) {
    TP_TRY(k, l.asTensor(l.input(1)));
  }
  if (v == nullptr) {
    TP_TRY(v, l.asTensor(l.input(2)));
  }
  TP_TRY(auto result, attention(l, q, k, v, s));
  l.setOutput(0, result.first);
  if (l.node().numOutputs() > 1 && l.outputUsed(1)) {
    if (!needWeights) return l.unsupported("the attention weights output is used but need_weights=False");
    Value* w = result.second;
    if (average) w = l.reduce("ReduceMean", w, std::vector<int64_t>{1}, false);
    l.setOutput(1, w);
  }
  return Status::ok();
}

// _transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight, qkv_bias, proj_weight,
//   proj_bias, use_gelu, norm_first, eps, norm_weight_1, norm_bias_1, norm_weight_2, norm_bias_2,
//   ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask=None, mask_type=None)
Status lowerTransformerEncoderLayer(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(18));
  AttentionSpec s;
  TP_TRY(s.embedDim, l.intArg(1, "embed_dim"));
  TP_TRY(s.numHeads, l.intArg(2, "num_heads"));
  s.qkvWeight = l.input(3);
  s.qkvBias = l.isNoneArg(4) ? nullptr : l.input(4);
  s.projWeight = l.input(5);
  s.projBias = l.isNoneArg(6) ? nullptr : l.input(6);
  TP_TRY(bool useGelu, l.boolArg(7, "use_gelu"));
  TP_TRY(bool normFirst, l.boolArg(8, "norm_first"));
  TP_TRY(double eps, l.floatArg(9, "eps"));
  s.mask = l.isNoneArg(18) ? nullptr : l.input(18);
  TP_TRY(s.maskKind, maskKindArg(l, 18, 19));

  Value* src = l.input(0);
  Value* keep = nullptr;
  if (auto nested = nestedParts(src)) {
    src = nested->first;
    keep = nested->second;
    if (s.mask != nullptr) return l.unsupported("a mask together with a nested-tensor input");
    s.mask = l.op("Not", {keep}).type(sameType(keep));
    s.maskKind = MaskKind::KeyPadding;
  }
  TP_TRY(Value * x, l.asTensor(src));
  const std::vector<int64_t> normShape{s.embedDim};
  Value* n1w = l.input(10);
  Value* n1b = l.input(11);
  Value* n2w = l.input(12);
  Value* n2b = l.input(13);
  Type t = sameType(x);

  auto feedForward = [&](Value* in) -> Expected<Value*> {
    TP_TRY(Value * h, emitLinear(l, in, l.input(14), l.isNoneArg(15) ? nullptr : l.input(15)));
    Type ht = sameType(h);
    if (useGelu) {
      TP_TRY(Value * half, l.castLike(l.staticFloatValue(0.5), h));
      TP_TRY(Value * one, l.castLike(l.staticFloatValue(1.0), h));
      TP_TRY(Value * invSqrt2, l.castLike(l.staticFloatValue(1.0 / std::sqrt(2.0)), h));
      Value* erf = l.op("Erf", {l.op("Mul", {h, invSqrt2}).type(ht)}).type(ht);
      h = l.op("Mul", {h, l.op("Mul", {l.op("Add", {erf, one}).type(ht), half}).type(ht)}).type(ht);
    } else {
      h = l.op("Relu", {h}).type(ht);
    }
    return emitLinear(l, h, l.input(16), l.isNoneArg(17) ? nullptr : l.input(17));
  };

  Value* y = nullptr;
  if (normFirst) {
    TP_TRY(Value * a, emitLayerNorm(l, x, normShape, n1w, n1b, eps));
    TP_TRY(auto att, attention(l, a, a, a, s));
    Value* x1 = l.op("Add", {x, att.first}).type(t);
    TP_TRY(Value * b, emitLayerNorm(l, x1, normShape, n2w, n2b, eps));
    TP_TRY(Value * ff, feedForward(b));
    y = l.op("Add", {x1, ff}).type(t);
  } else {
    TP_TRY(auto att, attention(l, x, x, x, s));
    TP_TRY(Value * x1, emitLayerNorm(l, l.op("Add", {x, att.first}).type(t), normShape, n1w, n1b, eps));
    TP_TRY(Value * ff, feedForward(x1));
    TP_TRY(y, emitLayerNorm(l, l.op("Add", {x1, ff}).type(t), normShape, n2w, n2b, eps));
  }
  l.setOutput(0, keep != nullptr ? makeNested(l, y, keep) : y);
  return Status::ok();
}

// _nested_tensor_from_mask(t, mask, mask_check=True): mask True = real token.
Status lowerNestedFromMask(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * padded, l.asTensor(l.input(0)));
  TP_TRY(Value * keep, l.castTo(l.input(1), DType::Bool));
  if (rankOf(padded) && *rankOf(padded) != 3)
    return l.unsupported("nested tensors other than [batch, seq, features]");
  l.setOutput(0, makeNested(l, padded, keep));
  return Status::ok();
}

// to_padded_tensor(self, padding, output_size=None)
Status lowerToPaddedTensor(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  auto nested = nestedParts(l.input(0));
  if (!nested) return l.unsupported("to_padded_tensor of a nested tensor not built by _nested_tensor_from_mask");
  if (!l.isNoneArg(2)) return l.unsupported("to_padded_tensor with an explicit output_size");
  auto [padded, keep] = *nested;
  TP_TRY(Value * fill, l.castLike(l.input(1), padded));
  Value* keep3 = l.unsqueeze(keep, {-1});
  l.setOutput(0, l.op("Where", {keep3, padded, fill}).type(sameType(padded)));
  return Status::ok();
}

// scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0, is_causal=False[, scale=None])
Status lowerScaledDotProductAttention(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(Value * q, l.asTensor(l.input(0)));
  TP_TRY(Value * k, l.asTensor(l.input(1)));
  TP_TRY(Value * v, l.asTensor(l.input(2)));
  TP_TRY(double dropout, l.floatArgOr(4, "dropout_p", 0.0));
  if (dropout != 0.0) return l.unsupported("scaled_dot_product_attention with dropout_p != 0 (training)");
  TP_TRY(bool causal, l.boolArgOr(5, "is_causal", false));
  auto rank = rankOf(q);
  if (!rank) return l.unsupported("scaled_dot_product_attention needs the query rank");
  Value* scale = nullptr;
  if (l.numInputs() > 6 && !l.isNoneArg(6)) {
    TP_TRY(scale, l.castLike(l.input(6), q));
  } else if (auto headDim = staticDimOf(q, -1)) {
    TP_TRY(scale, l.castLike(l.staticFloatValue(1.0 / std::sqrt(static_cast<double>(*headDim))), q));
  } else {
    TP_TRY(Value * d, l.castLike(l.dimSize(q, -1), q));
    scale = l.op("Reciprocal", {l.op("Sqrt", {d}).type(sameType(d))}).type(sameType(d));
  }
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < *rank - 2; ++i) perm.push_back(i);
  perm.push_back(*rank - 1);
  perm.push_back(*rank - 2);
  Value* kt = l.transpose(k, perm);
  Value* scores = l.op("MatMul", {l.op("Mul", {q, scale}).type(sameType(q)), kt}).type(tensorTypeOfRank(dtypeOf(q), *rank));
  if (causal) {
    // Keep col <= row: lower-triangular mask over the last two dims.
    Value* rowsR = l.op("Range", {l.i64(0), l.dimSize(q, -2), l.i64(1)}).type(tensorType(DType::I64, std::vector<Dim>{Dim::unknown()}));
    Value* colsR = l.op("Range", {l.i64(0), l.dimSize(k, -2), l.i64(1)}).type(tensorType(DType::I64, std::vector<Dim>{Dim::unknown()}));
    Value* future = l.op("Greater", {l.unsqueeze(colsR, {0}), l.unsqueeze(rowsR, {1})}).type(tensorTypeOfRank(DType::Bool, 2));
    TP_TRY(Value * negInf, l.castLike(l.staticFloatValue(-std::numeric_limits<double>::infinity()), scores));
    scores = l.op("Where", {future, negInf, scores}).type(sameType(scores));
  }
  if (!l.isNoneArg(3)) {
    TP_TRY(Value * mask, l.asTensor(l.input(3)));
    if (dtypeOf(mask) == DType::Bool) {
      // Boolean attn_mask: True = take part in attention.
      TP_TRY(Value * negInf, l.castLike(l.staticFloatValue(-std::numeric_limits<double>::infinity()), scores));
      scores = l.op("Where", {mask, scores, negInf}).type(sameType(scores));
    } else {
      TP_TRY(mask, l.castLike(mask, scores));
      scores = l.op("Add", {scores, mask}).type(sameType(scores));
    }
  }
  Value* weights = l.op("Softmax", {scores}).attr("axis", -1).type(sameType(scores));
  l.setOutput(0, l.op("MatMul", {weights, v}).type(tensorTypeOfRank(dtypeOf(q), *rank)));
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::_native_multi_head_attention", kMinOpset, kMaxOpset,
     "decomposed multi-head attention (MatMul/Softmax), key-padding or attention masks", lowerNativeMultiHeadAttention},
    {"aten::_transformer_encoder_layer_fwd", kMinOpset, kMaxOpset,
     "decomposed encoder layer (attention, layer norms, feed-forward; norm_first either way)", lowerTransformerEncoderLayer},
    {"aten::_nested_tensor_from_mask", kMinOpset, kMaxOpset, "padded tensor + keep mask (transient)", lowerNestedFromMask},
    {"aten::to_padded_tensor", kMinOpset, kMaxOpset, "Where(keep, values, padding)", lowerToPaddedTensor},
    {"aten::scaled_dot_product_attention", kMinOpset, kMaxOpset, "Softmax(q k^T * scale + mask) v", lowerScaledDotProductAttention},
};

}  // namespace

std::span<const ConverterSpec> attentionConverters() { return kTable; }

}  // namespace torchport::onnxplugin
