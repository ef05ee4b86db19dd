"""Hand-written models for the end-to-end zoo: things torchvision does not cover.

Each exercises a conversion feature: fused transformer fast-path ops, recurrent ops, int64
token inputs with a dynamic sequence length, structured (tuple / dict) outputs, and
TorchScript control flow (prim::If / prim::Loop). All are scriptable unless noted.
"""
import math
from typing import Dict, Tuple

import torch
from torch import nn
import torch.nn.functional as F


class TransformerEncoderModel(nn.Module):
    """nn.TransformerEncoder, batch_first, with a padding mask.

    Traced in eval mode under torch.no_grad() this takes PyTorch's inference fast path:
    aten::_transformer_encoder_layer_fwd, plus aten::_nested_tensor_from_mask /
    aten::to_padded_tensor (nested tensors are on by default), which torch.onnx.export
    cannot export.
    """

    def __init__(self, d_model: int = 64, nhead: int = 4, dim_feedforward: int = 128, num_layers: int = 2):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers)

    def forward(self, src: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(src, src_key_padding_mask=mask)


class SelfAttentionModel(nn.Module):
    """nn.MultiheadAttention self-attention; in eval + no_grad it becomes
    aten::_native_multi_head_attention (the fused fast path)."""

    def __init__(self, embed_dim: int = 64, num_heads: int = 4):
        super().__init__()
        self.attention = nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.attention(x, x, x, need_weights=False)
        return out


class LSTMModel(nn.Module):
    """2-layer LSTM returning the sequence output and the final hidden and cell states."""

    def __init__(self, input_size: int = 16, hidden_size: int = 32):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=2, batch_first=True)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, (h, c) = self.lstm(x)
        return out, h, c


class GRUModel(nn.Module):
    """2-layer GRU returning the sequence output and the final hidden state."""

    def __init__(self, input_size: int = 16, hidden_size: int = 32):
        super().__init__()
        self.gru = nn.GRU(input_size, hidden_size, num_layers=2, batch_first=True)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        out, h = self.gru(x)
        return out, h


class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        batch, seq, d_model = x.shape
        q, k, v = self.qkv(x).split(d_model, dim=2)
        q = q.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)
        k = k.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)
        v = v.view(batch, seq, self.num_heads, self.head_dim).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
        scores = scores.masked_fill(causal.logical_not(), float("-inf"))
        y = F.softmax(scores, dim=-1) @ v
        return self.proj(y.transpose(1, 2).reshape(batch, seq, d_model))


class DecoderBlock(nn.Module):
    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, num_heads)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.ln1(x), causal)
        return x + self.mlp(self.ln2(x))


class GPTDecoder(nn.Module):
    """A small GPT: int64 token ids [batch, seq] -> logits [batch, seq, vocab].

    The causal mask and positions are computed from the runtime sequence length, so the
    sequence axis is dynamic. The output head shares the token embedding's weight.
    """

    def __init__(self, vocab_size: int = 101, d_model: int = 64, num_heads: int = 4, num_layers: int = 2,
                 max_len: int = 64):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList([DecoderBlock(d_model, num_heads) for _ in range(num_layers)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.token_embedding.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        seq = tokens.size(1)
        positions = torch.arange(seq, dtype=torch.long, device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        causal = torch.ones(seq, seq, dtype=torch.bool, device=tokens.device).tril()
        for block in self.blocks:
            x = block(x, causal)
        return self.head(self.ln_f(x))


class MLPTuple(nn.Module):
    """MLP returning a tuple (logits, features)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh())
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        features = self.body(x)
        return self.head(features), features


class MLPDict(nn.Module):
    """MLP returning a dict {"logits", "probs"} (traced with strict=False)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 32), nn.SiLU(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        logits = self.body(x)
        return {"logits": logits, "probs": F.softmax(logits, dim=-1)}


class ControlFlowModel(nn.Module):
    """Scripted only: a data-dependent `if` (prim::If), a constant-count `for` and a `for`
    over the runtime batch size (prim::Loop). Tracing would bake both in."""

    def __init__(self, steps: int = 3):
        super().__init__()
        self.steps = steps
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 32)
        self.fc3 = nn.Linear(32, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        if bool(x.mean() > 0):
            h = torch.relu(h) * 2.0
        else:
            h = torch.tanh(h) - 1.0
        for _ in range(self.steps):
            h = h + torch.relu(self.fc2(h))
        acc = torch.zeros_like(h[0])
        for i in range(x.size(0)):
            acc = acc + h[i] * float(i + 1)
        return self.fc3(h) + self.fc3(acc)
