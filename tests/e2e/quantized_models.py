"""Quantized and spectral models for the end-to-end zoo (issue 7).

Quantized models are made the way users make them: torch.quantization.quantize_dynamic for
Linear layers, and eager-mode static quantization (fuse, prepare, calibrate on seeded random
data, convert). Debian's PyTorch 1.13 has no fbgemm (engines: qnnpack, onednn), so the static
model uses the 'onednn' qconfig (per-channel symmetric int8 weights, quint8 activations,
reduce_range=False) -- the same QDQ patterns fbgemm's produce.

Each factory returns an eval-mode nn.Module; fixtures.py scripts / traces it as usual.
"""
from typing import Tuple

import torch
from torch import nn


class _Mlp(nn.Module):
    def __init__(self, dim: int = 16, hidden: int = 64, classes: int = 10):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def dynamic_quant_mlp() -> nn.Module:
    """quantize_dynamic(Linear): quantized::linear_dynamic with LinearPackedParamsBase."""
    model = _Mlp().eval()
    return torch.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


class _LstmTagger(nn.Module):
    def __init__(self, dim: int = 16, hidden: int = 32, classes: int = 8):
        super().__init__()
        self.lstm = nn.LSTM(dim, hidden, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out, (h, c) = self.lstm(x)
        return self.head(out), h, c


def dynamic_quant_lstm() -> nn.Module:
    """quantize_dynamic({LSTM, Linear}): aten::quantized_lstm with CellParamsBase objects (2 layers,
    batch_first), then quantized::linear_dynamic; returns the head's output and the final (h, c)."""
    model = _LstmTagger().eval()
    return torch.quantization.quantize_dynamic(model, {nn.LSTM, nn.Linear}, dtype=torch.qint8)


class _ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = torch.quantization.QuantStub()
        self.conv1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.skip = torch.nn.quantized.FloatFunctional()
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 8 * 8, 10)
        self.dequant = torch.quantization.DeQuantStub()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.quant(x)
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.relu2(self.skip.add(self.conv2(y), y))
        y = torch.flatten(self.pool(y), 1)
        return self.dequant(self.fc(y))


def static_quant_convnet() -> nn.Module:
    """Static quantization: quantize_per_tensor, quantized::conv2d_relu / conv2d, quantized::add,
    max_pool2d and flatten on quantized tensors, quantized::linear, dequantize."""
    model = _ConvNet().eval()
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():  # non-trivial BatchNorm statistics, folded into conv1 by fusion
        model.bn1.running_mean.copy_(torch.randn(16, generator=gen) * 0.1)
        model.bn1.running_var.copy_(torch.rand(16, generator=gen) + 0.5)
    torch.quantization.fuse_modules(model, [["conv1", "bn1", "relu1"]], inplace=True)
    model.qconfig = torch.quantization.get_default_qconfig("onednn")
    prepared = torch.quantization.prepare(model)
    with torch.no_grad():
        for _ in range(8):
            prepared(torch.randn(4, 3, 32, 32, generator=gen))
    return torch.quantization.convert(prepared).eval()


class StftMagnitude(nn.Module):
    """|STFT| through torch.view_as_real (ONNX has no complex tensors), Hann window buffer,
    center=True (torch.stft pads in Python: reflect), onesided, return_complex=True."""

    def __init__(self, n_fft: int = 64, hop: int = 16):
        super().__init__()
        self.n_fft = n_fft
        self.hop = hop
        self.register_buffer("window", torch.hann_window(n_fft))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(x, self.n_fft, hop_length=self.hop, window=self.window, center=True,
                          normalized=False, onesided=True, return_complex=True)
        return torch.view_as_real(spec).pow(2).sum(-1).sqrt()


class StftRealNormalized(nn.Module):
    """The legacy real-valued output (return_complex=False, as silero_vad_micro uses), two-sided,
    normalized, win_length < n_fft, no centering."""

    def __init__(self, n_fft: int = 32, hop: int = 8, win: int = 24):
        super().__init__()
        self.n_fft, self.hop, self.win = n_fft, hop, win
        self.register_buffer("window", torch.hamming_window(win))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stft(x, self.n_fft, hop_length=self.hop, win_length=self.win, window=self.window, center=False,
                          normalized=True, onesided=False, return_complex=False)
