#!/usr/bin/python3
"""Writes the fixtures of the save-torchscript tests (and of the device-mapping test) into OUTDIR.

Run by ctest (test `torchscript_export_fixtures`) with Debian's /usr/bin/python3 (torch 1.13).
Random weights (BatchNorm statistics too, so that folding them changes the weights), nothing
downloaded. Skips the work when OUTDIR/stamp records this script's hash.

Files:
  convnet_traced.pt        traced (eval, no_grad): conv-bn-relu, conv-bn-hardtanh, avgpool,
                           flatten, dropout, linear -- what conv-bn folding, XNNPACK
                           prepacking, hardtanh fusion and dropout removal act on
  control_net.pt           scripted: conv-bn-relu, `if` on data, `for` loop over an int
                           argument, returns (logits, sum)
  mixed_device.pt          traced: a module whose parameters are saved on 'cpu' and whose
                           tensor constant (a plain tensor attribute, in constants.pkl) is
                           relabelled as saved on 'cuda:0' -- a mixed-device file
  mixed_device_cpu.pt      the same module before relabelling (the reference)
"""
import os
import zipfile

import torch
import torch.nn as nn
import torch.nn.functional as F

from fixture_cache import run_cached


def randomize_batchnorm(module: nn.Module) -> None:
    for child in module.modules():
        if isinstance(child, nn.BatchNorm2d):
            with torch.no_grad():
                child.running_mean.uniform_(-0.5, 0.5)
                child.running_var.uniform_(0.5, 2.0)
                child.weight.uniform_(0.5, 1.5)
                child.bias.uniform_(-0.2, 0.2)


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.hardtanh(self.bn2(self.conv2(y)))
        y = torch.flatten(self.pool(y), 1)
        return self.fc(self.dropout(y))


class ControlNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor, n: int):
        y = F.relu(self.bn(self.conv(x)))
        if bool(x.mean() > 0):
            y = y * 2.0
        else:
            y = y - 1.0
        for i in range(n):
            y = y + 0.5 * i
        z = self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))
        return z, y.sum()


class MixedDevice(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.offset = torch.tensor([0.5, -1.0, 2.0])  # plain attribute: a constant when traced

    def forward(self, x):
        return self.fc(x) + self.offset


def relabel_constants_as_cuda(source: str, target: str) -> None:
    """Rewrites the storage location pickled in constants.pkl (only) from 'cpu' to 'cuda:0'.

    Entry names, order and compression (stored) are kept; zipfile aligns nothing, which
    torch's reader accepts (it copies unaligned records)."""
    cpu = b"X\x03\x00\x00\x00cpu"
    cuda = b"X\x06\x00\x00\x00cuda:0"
    replaced = 0
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("/constants.pkl"):
                replaced += data.count(cpu)
                data = data.replace(cpu, cuda)
            zout.writestr(item, data)
    if replaced == 0:
        raise SystemExit("relabel_constants_as_cuda: no 'cpu' storage location in constants.pkl")


def write_all(out: str) -> None:
    torch.manual_seed(0)
    convnet = ConvNet().eval()
    randomize_batchnorm(convnet)
    with torch.no_grad():
        torch.jit.trace(convnet, torch.randn(1, 3, 32, 32)).save(os.path.join(out, "convnet_traced.pt"))

    control = ControlNet().eval()
    randomize_batchnorm(control)
    torch.jit.script(control).save(os.path.join(out, "control_net.pt"))

    mixed = MixedDevice().eval()
    with torch.no_grad():
        traced = torch.jit.trace(mixed, torch.randn(2, 4), check_trace=False)
    cpu_path = os.path.join(out, "mixed_device_cpu.pt")
    traced.save(cpu_path)
    relabel_constants_as_cuda(cpu_path, os.path.join(out, "mixed_device.pt"))


def main() -> None:
    run_cached(write_all, __file__)


if __name__ == "__main__":
    main()
