// Recurrent layers: aten::lstm / gru / rnn_tanh / rnn_relu (the `.input` overloads, i.e.
// padded, not packed sequences) -> one ONNX LSTM / GRU / RNN per layer; single steps
// aten::lstm_cell / gru_cell -> elementwise decomposition (see lowerLstmCell).
//
// Gate order differs: PyTorch LSTM rows are (i, f, g, o), ONNX (i, o, f, c); PyTorch GRU
// (r, z, n), ONNX (z, r, h) with linear_before_reset=1 (PyTorch applies the reset gate
// after the hidden projection). Weights are reordered with Slice/Concat on the constant
// weights, which fold-constants (or ONNX Runtime at load) evaluates once. Layers are
// chained: Y [seq, dirs, batch, H] -> [seq, batch, dirs * H] for the next layer.
#include "converters.h"

namespace torchport::onnxplugin {
namespace {

struct RnnKind {
  const char* onnxOp;
  int64_t gates;
  std::vector<int64_t> gateOrder;  // ONNX gate k takes PyTorch block gateOrder[k]
  bool hasCell;                    // LSTM
  const char* activation;          // RNN only
};

// Rows of `w` regrouped in ONNX gate order: Concat(Slice(w, g*H, (g+1)*H) for g in order).
Value* reorderGates(Lowering& l, Value* w, const RnnKind& kind, int64_t hidden) {
  bool identity = true;
  for (size_t i = 0; i < kind.gateOrder.size(); ++i) identity = identity && kind.gateOrder[i] == static_cast<int64_t>(i);
  if (identity) return w;
  std::vector<Value*> blocks;
  for (int64_t g : kind.gateOrder) blocks.push_back(l.slice(w, 0, g * hidden, (g + 1) * hidden));
  std::optional<std::vector<Dim>> s = shapeOf(w);
  return l.op("Concat", std::span<Value* const>(blocks)).attr("axis", 0).type(tensorType(dtypeOf(w), s));
}

Value* stackDirections(Lowering& l, const std::vector<Value*>& perDirection) {
  std::vector<Value*> parts;
  for (Value* v : perDirection) parts.push_back(l.unsqueeze(v, {0}));
  if (parts.size() == 1) return parts[0];
  std::optional<std::vector<Dim>> s = shapeOf(parts[0]);
  if (s) (*s)[0] = Dim::known(static_cast<int64_t>(parts.size()));
  return l.op("Concat", std::span<Value* const>(parts)).attr("axis", 0).type(tensorType(dtypeOf(parts[0]), s));
}

std::optional<std::vector<Value*>> listElements(Value* list) {
  const Node* p = list->producer();
  if (p == nullptr || p->kind() != "onnx::SequenceConstruct") return std::nullopt;
  return std::vector<Value*>(p->inputs().begin(), p->inputs().end());
}

// (input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
Status lowerRecurrent(Lowering& l, const RnnKind& kind) {
  TP_RETURN_IF_ERROR(l.needInputs(9));
  if (l.input(1)->type().isTensor() && kind.hasCell)
    return l.unsupported("packed sequences (lstm.data); pass padded tensors instead of PackedSequence");
  auto params = listElements(l.input(2));
  if (!params) return l.unsupported("recurrent weights that are not a constant list");
  TP_TRY(bool hasBiases, l.boolArg(3, "has_biases"));
  TP_TRY(int64_t layers, l.intArg(4, "num_layers"));
  TP_TRY(double dropout, l.floatArg(5, "dropout"));
  TP_TRY(bool train, l.boolArg(6, "train"));
  TP_TRY(bool bidirectional, l.boolArg(7, "bidirectional"));
  TP_TRY(bool batchFirst, l.boolArg(8, "batch_first"));
  if (train && dropout > 0.0 && layers > 1)
    return l.unsupported("recurrent dropout in training mode; export the model in eval mode (model.eval())");
  const int64_t dirs = bidirectional ? 2 : 1;
  const size_t perCell = hasBiases ? 4 : 2;
  if (params->size() != static_cast<size_t>(layers * dirs) * perCell)
    return l.unsupported("recurrent layer with " + std::to_string(params->size()) + " weight tensors, expected " +
                         std::to_string(static_cast<size_t>(layers * dirs) * perCell) +
                         " (projections, proj_size > 0, are not supported)");
  auto hidden = staticDimOf((*params)[1], 1);  // w_hh: [gates * H, H]
  if (!hidden) return l.unsupported("recurrent weights of unknown shape");
  const int64_t H = *hidden;

  TP_TRY(Value * x, l.asTensor(l.input(0)));
  const bool unbatched = rankOf(x) == 2;
  if (unbatched) x = l.unsqueeze(x, {batchFirst ? 0 : 1});
  if (batchFirst) x = l.transpose(x, {1, 0, 2});

  Value* h0 = nullptr;
  Value* c0 = nullptr;
  if (kind.hasCell) {
    auto hx = listElements(l.input(1));
    if (!hx || hx->size() != 2) return l.unsupported("LSTM initial state that is not an (h0, c0) pair built in the graph");
    TP_TRY(h0, l.asTensor((*hx)[0]));
    TP_TRY(c0, l.asTensor((*hx)[1]));
  } else {
    TP_TRY(h0, l.asTensor(l.input(1)));
  }
  if (unbatched) {
    h0 = l.unsqueeze(h0, {1});
    if (c0 != nullptr) c0 = l.unsqueeze(c0, {1});
  }

  std::vector<Value*> finalH, finalC;
  for (int64_t layer = 0; layer < layers; ++layer) {
    std::vector<Value*> ws, rs, bs;
    for (int64_t d = 0; d < dirs; ++d) {
      const size_t base = static_cast<size_t>(layer * dirs + d) * perCell;
      TP_TRY(Value * wih, l.castLike((*params)[base], x));
      TP_TRY(Value * whh, l.castLike((*params)[base + 1], x));
      ws.push_back(reorderGates(l, wih, kind, H));
      rs.push_back(reorderGates(l, whh, kind, H));
      if (hasBiases) {
        TP_TRY(Value * bih, l.castLike((*params)[base + 2], x));
        TP_TRY(Value * bhh, l.castLike((*params)[base + 3], x));
        Value* pair[] = {reorderGates(l, bih, kind, H), reorderGates(l, bhh, kind, H)};
        bs.push_back(l.op("Concat", pair).attr("axis", 0).type(tensorType(dtypeOf(x), knownDims({2 * kind.gates * H}))));
      }
    }
    std::vector<Value*> inputs{x, stackDirections(l, ws), stackDirections(l, rs)};
    inputs.push_back(hasBiases ? stackDirections(l, bs) : l.absent());
    inputs.push_back(l.absent());  // sequence_lens: all sequences use the full length
    inputs.push_back(l.slice(h0, 0, layer * dirs, (layer + 1) * dirs));
    if (kind.hasCell) inputs.push_back(l.slice(c0, 0, layer * dirs, (layer + 1) * dirs));
    const size_t outputs = kind.hasCell ? 3 : 2;
    OpBuilder cell = l.op(kind.onnxOp, std::span<Value* const>(inputs), outputs)
                         .attr("hidden_size", H)
                         .attr("direction", bidirectional ? "bidirectional" : "forward");
    if (std::string_view(kind.onnxOp) == "GRU") cell.attr("linear_before_reset", 1);
    if (kind.activation != nullptr)  // one activation per direction
      cell.attr("activations", Attribute(std::vector<std::string>(static_cast<size_t>(dirs), kind.activation)));
    const Dim seq = dimOf(x, 0), batch = dimOf(x, 1);
    cell.type(tensorType(dtypeOf(x), std::vector<Dim>{seq, Dim::known(dirs), batch, Dim::known(H)}), 0);
    cell.type(tensorType(dtypeOf(x), std::vector<Dim>{Dim::known(dirs), batch, Dim::known(H)}), 1);
    if (kind.hasCell) cell.type(tensorType(dtypeOf(x), std::vector<Dim>{Dim::known(dirs), batch, Dim::known(H)}), 2);
    finalH.push_back(cell.out(1));
    if (kind.hasCell) finalC.push_back(cell.out(2));
    // [seq, dirs, batch, H] -> [seq, batch, dirs * H]; one direction needs only a Squeeze.
    if (dirs == 1) {
      x = l.squeeze(cell.out(0), {1});
    } else {
      Value* y = l.transpose(cell.out(0), {0, 2, 1, 3});
      x = l.reshape(y, l.i64s({0, 0, dirs * H}));
    }
    x->setType(tensorType(dtypeOf(cell.out(0)), std::vector<Dim>{seq, batch, Dim::known(dirs * H)}));
  }
  Value* output = batchFirst ? l.transpose(x, {1, 0, 2}) : x;
  if (unbatched) output = l.squeeze(output, {batchFirst ? 0 : 1});
  auto concatStates = [&](const std::vector<Value*>& states) -> Value* {
    Value* s = states[0];
    if (states.size() > 1) {
      std::optional<std::vector<Dim>> shape = shapeOf(states[0]);
      if (shape) (*shape)[0] = Dim::known(layers * dirs);
      s = l.op("Concat", std::span<Value* const>(states)).attr("axis", 0).type(tensorType(dtypeOf(states[0]), shape));
    }
    return unbatched ? l.squeeze(s, {1}) : s;
  };
  l.setOutput(0, output);
  l.setOutput(1, concatStates(finalH));
  if (kind.hasCell && l.node().numOutputs() > 2) l.setOutput(2, concatStates(finalC));
  return Status::ok();
}

Status lowerLstm(Lowering& l) { return lowerRecurrent(l, {"LSTM", 4, {0, 3, 1, 2}, true, nullptr}); }
Status lowerGru(Lowering& l) { return lowerRecurrent(l, {"GRU", 3, {1, 0, 2}, false, nullptr}); }
Status lowerRnnTanh(Lowering& l) { return lowerRecurrent(l, {"RNN", 1, {0}, false, "Tanh"}); }
Status lowerRnnRelu(Lowering& l) { return lowerRecurrent(l, {"RNN", 1, {0}, false, "Relu"}); }

// ---- single time steps (nn.LSTMCell / nn.GRUCell, and scripted loops over them) ----
// Decomposed into MatMul/Gemm + elementwise ops rather than a one-step ONNX LSTM / GRU:
// the cell's input is [batch, in] with no sequence axis, and the gates map 1:1.
//   gates_x = x @ w_ih^T + b_ih,  gates_h = h @ w_hh^T + b_hh   (biases optional)
// lstm_cell(x, [h, c], w_ih, w_hh, b_ih, b_hh) -> (h', c'), gate blocks (i, f, g, o):
//   c' = sigmoid(f) * c + sigmoid(i) * tanh(g),  h' = sigmoid(o) * tanh(c')
// gru_cell(x, h, w_ih, w_hh, b_ih, b_hh) -> h', gate blocks (r, z, n):
//   r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * h_n)
//   h' = (1 - z) * n + z * h = n + z * (h - n)
Expected<Value*> cellProjection(Lowering& l, Value* x, size_t weightAt, size_t biasAt) {
  Value* bias = l.numInputs() > biasAt && !l.isNoneArg(biasAt) ? l.input(biasAt) : nullptr;
  return emitLinear(l, x, l.input(weightAt), bias);
}

Value* binary(Lowering& l, std::string_view op, Value* a, Value* b) {
  return l.op(op, {a, b}).type(tensorType(dtypeOf(a), shapeOf(a)));
}
Value* unary(Lowering& l, std::string_view op, Value* a) { return l.op(op, {a}).type(tensorType(dtypeOf(a), shapeOf(a))); }

Status lowerLstmCell(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(4));
  auto hx = listElements(l.input(1));
  if (!hx || hx->size() != 2) return l.unsupported("lstm_cell state that is not an [h, c] list built in the graph");
  auto hidden = staticDimOf(l.input(3), 1);  // w_hh: [4H, H]
  if (!hidden) return l.unsupported("lstm_cell weights of unknown shape");
  const int64_t H = *hidden;
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(Value * h, l.asTensor((*hx)[0]));
  TP_TRY(Value * c, l.asTensor((*hx)[1]));
  TP_TRY(Value * fromX, cellProjection(l, x, 2, 4));
  TP_TRY(Value * fromH, cellProjection(l, h, 3, 5));
  Value* gates = binary(l, "Add", fromX, fromH);
  Value* in = unary(l, "Sigmoid", l.slice(gates, -1, 0, H));
  Value* forget = unary(l, "Sigmoid", l.slice(gates, -1, H, 2 * H));
  Value* cell = unary(l, "Tanh", l.slice(gates, -1, 2 * H, 3 * H));
  Value* out = unary(l, "Sigmoid", l.slice(gates, -1, 3 * H, 4 * H));
  TP_TRY(c, l.castLike(c, forget));
  Value* c1 = binary(l, "Add", binary(l, "Mul", forget, c), binary(l, "Mul", in, cell));
  Value* h1 = binary(l, "Mul", out, unary(l, "Tanh", c1));
  l.setOutput(0, h1);
  if (l.node().numOutputs() > 1) l.setOutput(1, c1);
  return Status::ok();
}

Status lowerGruCell(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(4));
  auto hidden = staticDimOf(l.input(3), 1);  // w_hh: [3H, H]
  if (!hidden) return l.unsupported("gru_cell weights of unknown shape");
  const int64_t H = *hidden;
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(Value * h, l.asTensor(l.input(1)));
  TP_TRY(Value * fromX, cellProjection(l, x, 2, 4));
  TP_TRY(Value * fromH, cellProjection(l, h, 3, 5));
  Value* reset = unary(l, "Sigmoid", binary(l, "Add", l.slice(fromX, -1, 0, H), l.slice(fromH, -1, 0, H)));
  Value* update = unary(l, "Sigmoid", binary(l, "Add", l.slice(fromX, -1, H, 2 * H), l.slice(fromH, -1, H, 2 * H)));
  Value* candidate = unary(l, "Tanh", binary(l, "Add", l.slice(fromX, -1, 2 * H, 3 * H),
                                              binary(l, "Mul", reset, l.slice(fromH, -1, 2 * H, 3 * H))));
  TP_TRY(h, l.castLike(h, candidate));
  l.setOutput(0, binary(l, "Add", candidate, binary(l, "Mul", update, binary(l, "Sub", h, candidate))));
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::lstm", kMinOpset, kMaxOpset, "one ONNX LSTM per layer (gates reordered i,o,f,c)", lowerLstm},
    {"aten::gru", kMinOpset, kMaxOpset, "one ONNX GRU per layer (gates z,r,h; linear_before_reset=1)", lowerGru},
    {"aten::rnn_tanh", kMinOpset, kMaxOpset, "one ONNX RNN per layer (Tanh)", lowerRnnTanh},
    {"aten::rnn_relu", kMinOpset, kMaxOpset, "one ONNX RNN per layer (Relu)", lowerRnnRelu},
    {"aten::lstm_cell", kMinOpset, kMaxOpset, "one LSTM step: Gemm/MatMul + Sigmoid/Tanh (gates i,f,g,o)",
     lowerLstmCell},
    {"aten::gru_cell", kMinOpset, kMaxOpset, "one GRU step: Gemm/MatMul + Sigmoid/Tanh (gates r,z,n)", lowerGruCell},
};

}  // namespace

std::span<const ConverterSpec> recurrentConverters() { return kTable; }

}  // namespace torchport::onnxplugin
