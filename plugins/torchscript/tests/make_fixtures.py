#!/usr/bin/python3
"""Writes the TorchScript fixtures of the torchscript plugin tests into OUTDIR.

Run by ctest (test `torchscript_fixtures`) with Debian's /usr/bin/python3 (torch 1.13,
torchvision 0.14). Random weights, nothing downloaded. Skips the work when OUTDIR/stamp
records this script's hash, so repeated test runs are fast.

Files:
  resnet18_traced.pt      torchvision resnet18, traced (eval, no_grad) at batch 1
  resnet18_scripted.pt    the same model, scripted
  control_flow.pt         scripted: if on data, for loop, returns (tensor, {"a": ..., "b": input})
  tuple_io.pt             scripted: tuple argument, nested tuple result
  list_input.pt           scripted: List[Tensor] argument unpacked into two tensors
  tokens.pt               traced: int64 tokens [batch, seq] -> embedding -> linear
  mutates_attribute.pt    scripted: forward writes an int attribute (cannot be frozen away)
  state_dict.pth          torch.save(resnet18.state_dict())
  pickled_module.pth      torch.save(nn.Sequential(...)) (a whole pickled module)
  legacy_pickle.pth       torch.save(state_dict, _use_new_zipfile_serialization=False)
  garbage.pt              random bytes
  cuda_saved.pt           control_flow.pt with its storages relabelled as saved on cuda:0
  dict_output.pt          scripted: returns a dict filled item by item
  lstm.pt                 scripted: 2-layer LSTM (weights reach the graph as a folded list)
  attention.pt            traced under no_grad: nn.MultiheadAttention fast path
                          (aten::_native_multi_head_attention), returns (output, weights)
  encoder.pt              traced under no_grad: 2-layer nn.TransformerEncoder fast path
                          (aten::_transformer_encoder_layer_fwd)
  quantized_dynamic.pt    quantize_dynamic(Linear, ReLU, Linear), scripted: packed-params objects
  mobile.pt / mobile.ptl  optimize_for_mobile(conv, relu, conv_transpose, linear): XNNPACK op
                          contexts; .ptl saved for the lite interpreter
"""
import io
import os
import zipfile
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torchvision
from torch.utils.mobile_optimizer import optimize_for_mobile

from fixture_cache import run_cached


class ControlFlow(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, n: int) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        if bool(x.sum() > 0):
            y = self.lin(x)
        else:
            y = x * 2.0
        for i in range(n):
            y = y + i
        return y, {"a": y * 3.0, "b": x}


class TupleIO(nn.Module):
    def forward(self, pair: Tuple[torch.Tensor, torch.Tensor]) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        a, b = pair
        return a + b, (a * b, a - b)


class ListInput(nn.Module):
    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        a, b = xs
        return torch.cat([a, b], dim=1)


class Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 8)
        self.proj = nn.Linear(8, 5)

    def forward(self, tokens):
        return self.proj(self.embed(tokens))


class DictOutput(nn.Module):
    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        out: Dict[str, torch.Tensor] = {}
        out["logits"] = x * 2.0
        out["aux"] = x + 1.0
        out["logits"] = out["logits"] - 1.0
        return out


class Lstm(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.lstm(x)
        return y


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.mha = nn.MultiheadAttention(16, 2, batch_first=True)

    def forward(self, x):
        return self.mha(x, x, x)


class MutatesAttribute(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x + self.calls


def relabel_as_cuda(source: str, target: str) -> None:
    """Rewrites the storage locations pickled in data.pkl from 'cpu' to 'cuda:0'."""
    cpu = b"X\x03\x00\x00\x00cpu"
    cuda = b"X\x06\x00\x00\x00cuda:0"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zout:
        replaced = 0
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("/data.pkl"):
                replaced = data.count(cpu)
                data = data.replace(cpu, cuda)
            zout.writestr(item, data)
    if replaced == 0:
        raise SystemExit("relabel_as_cuda: no 'cpu' storage location found in data.pkl")


def write_all(out: str) -> None:
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18().eval()
    with torch.no_grad():
        torch.jit.trace(resnet, torch.randn(1, 3, 224, 224)).save(os.path.join(out, "resnet18_traced.pt"))
    torch.jit.script(resnet).save(os.path.join(out, "resnet18_scripted.pt"))
    torch.save(resnet.state_dict(), os.path.join(out, "state_dict.pth"))
    torch.save(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), os.path.join(out, "pickled_module.pth"))
    torch.save(nn.Linear(2, 2).state_dict(), os.path.join(out, "legacy_pickle.pth"),
               _use_new_zipfile_serialization=False)

    torch.jit.script(ControlFlow().eval()).save(os.path.join(out, "control_flow.pt"))
    torch.jit.script(TupleIO().eval()).save(os.path.join(out, "tuple_io.pt"))
    torch.jit.script(ListInput().eval()).save(os.path.join(out, "list_input.pt"))
    tokens = Tokens().eval()
    with torch.no_grad():
        torch.jit.trace(tokens, torch.zeros(2, 6, dtype=torch.long)).save(os.path.join(out, "tokens.pt"))
    with torch.no_grad():
        torch.jit.trace(Attention().eval(), torch.randn(2, 5, 16)).save(os.path.join(out, "attention.pt"))
        encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2).eval()
        torch.jit.trace(encoder, torch.randn(2, 5, 16)).save(os.path.join(out, "encoder.pt"))
    quantized = torch.quantization.quantize_dynamic(
        nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)).eval(), {nn.Linear}, dtype=torch.qint8)
    torch.jit.script(quantized).save(os.path.join(out, "quantized_dynamic.pt"))
    torch.jit.script(DictOutput()).save(os.path.join(out, "dict_output.pt"))
    torch.jit.script(Lstm().eval()).save(os.path.join(out, "lstm.pt"))
    torch.jit.script(MutatesAttribute()).save(os.path.join(out, "mutates_attribute.pt"))

    mobile = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.ConvTranspose2d(8, 4, 2, stride=2),
                           nn.Flatten(), nn.Linear(4 * 8 * 8, 5)).eval()
    optimized = optimize_for_mobile(torch.jit.script(mobile))
    optimized.save(os.path.join(out, "mobile.pt"))
    optimized._save_for_lite_interpreter(os.path.join(out, "mobile.ptl"))

    with open(os.path.join(out, "garbage.pt"), "wb") as f:
        f.write(bytes((i * 37 + 11) % 256 for i in range(4096)))
    relabel_as_cuda(os.path.join(out, "control_flow.pt"), os.path.join(out, "cuda_saved.pt"))


def main() -> None:
    run_cached(write_all, __file__)


if __name__ == "__main__":
    main()
