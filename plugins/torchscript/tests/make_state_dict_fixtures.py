#!/usr/bin/python3
"""Writes the torch.save fixtures of the state_dict tests into OUTDIR.

Run by ctest (test `state_dict_fixtures`) with Debian's /usr/bin/python3 (torch 1.13,
torchvision 0.14). Random weights, nothing downloaded. Skips the work when OUTDIR/stamp
records this script's hash. Nothing here ever unpickles the hostile files it writes.

Files:
  resnet18_scripted.pt     torchvision resnet18 (seed 0), scripted
  resnet18_other.pth       state_dict of another resnet18 (seed 1)
  resnet18_other_output.bin / resnet18_input.bin
                           float32 input [1,3,64,64] and the seed-1 model's output on it
  resnet18_own_output.bin  the seed-0 (scripted) model's output on the same input
  resnet18_other_legacy.pth the seed-1 state_dict in the legacy (pre-1.6) format
  resnet18_bad.pth         seed-1 state_dict minus fc.bias, plus extra.weight, conv1.weight
                           reshaped, bn1.running_mean as float64
  resnet18_cuda.pth        seed-1 state_dict with every storage labelled cuda:0
  resnet18_mixed.pth       seed-1 state_dict with every other storage labelled cuda:1
  full_model.pt            torch.save(Net()) of a __main__ class (a whole pickled model)
  full_sequential.pt       torch.save(nn.Sequential(...))
  malicious.pth            torch.save({"w": tensor, "x": Evil()}); Evil.__reduce__ runs
                           os.system("touch OUTDIR/markers/pwned") if ever unpickled
  not_torch.pt             a plain pickle of a list (neither torch.save nor TorchScript)
  checkpoint_net.pt        scripted fc1 Linear(5,10), fc2 Linear(10,3) (burn_checkpoint.pt)
  mnist_net.pt             scripted net with burn_mnist_state_dict.pt's parameter names
  legacy_net.pt            scripted module with weight[2,3], bias[2], buffer running_mean[2]
                           (burn_simple_legacy.pt)
  bfloat16_net.pt          scripted module with a bfloat16 buffer `tensor` [3]
                           (burn_bfloat16_state_dict.pt)
  check_saved_state_dict.py  SAVED REFERENCE: torch.load(SAVED, weights_only=True), compare
"""
import os
import pickle

import torch
import torch.nn as nn
import torchvision

from fixture_cache import run_cached


class Evil:
    marker = ""

    def __reduce__(self):
        return (os.system, ("touch " + Evil.marker,))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(x)


class CheckpointNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(5, 10)
        self.fc2 = nn.Linear(10, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class MnistNet(nn.Module):
    """burn's examples/import-model-weights mnist net, by its state_dict keys and shapes."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.conv3 = nn.Conv2d(16, 24, 3)
        self.norm1 = nn.BatchNorm2d(24)
        self.fc1 = nn.Linear(11616, 32)
        self.fc2 = nn.Linear(32, 10)
        self.norm2 = nn.BatchNorm1d(10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.norm1(self.conv3(x)))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        return self.norm2(self.fc2(x))


class LegacyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(2, 3))
        self.bias = nn.Parameter(torch.zeros(2))
        self.register_buffer("running_mean", torch.zeros(2))

    def forward(self, x):
        return x @ self.weight.t() + self.bias - self.running_mean


class BFloat16Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("tensor", torch.zeros(3, dtype=torch.bfloat16))

    def forward(self, x):
        return x + self.tensor.float()


class DevicePickler(pickle._Pickler):
    """A pure-Python pickler for torch.save(pickle_module=...) whose storage ids claim a
    device: `device_for(key)` gives the location string torch.save would have written on
    a machine with that GPU (this one has none)."""

    device_for = staticmethod(lambda key: "cpu")

    @property
    def persistent_id(self):
        return self._relabel

    @persistent_id.setter
    def persistent_id(self, function):
        def relabel(obj):
            pid = function(obj)
            if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage":
                pid = pid[:3] + (DevicePickler.device_for(pid[2]),) + pid[4:]
            return pid

        self._relabel = relabel


class DevicePickleModule:
    Pickler = DevicePickler
    Unpickler = pickle.Unpickler
    load = pickle.load


def save_with_devices(state_dict, path, device_for):
    DevicePickler.device_for = staticmethod(device_for)
    torch.save(state_dict, path, pickle_module=DevicePickleModule)
    with open(path, "rb") as f:
        data = f.read()
    expected = {device_for(str(i)) for i in range(len(state_dict))}
    for device in expected:
        assert device.encode() in data, (path, device)
    reloaded = torch.load(path, map_location="cpu")
    assert all(torch.equal(reloaded[k], v) for k, v in state_dict.items()), path


def resnet(seed):
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(num_classes=10).eval()
    # Non-trivial BatchNorm statistics so that a wrong binding shows in the outputs.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
    return model


def write_all(out):
    os.makedirs(os.path.join(out, "markers"), exist_ok=True)
    own = resnet(0)
    torch.jit.script(own).save(os.path.join(out, "resnet18_scripted.pt"))
    other = resnet(1)
    state = other.state_dict()
    torch.save(state, os.path.join(out, "resnet18_other.pth"))
    torch.save(state, os.path.join(out, "resnet18_other_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.manual_seed(7)
    example = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        other_output = other(example)
        own_output = own(example)
    assert not torch.allclose(other_output, own_output)
    example.numpy().astype("float32").tofile(os.path.join(out, "resnet18_input.bin"))
    other_output.numpy().astype("float32").tofile(os.path.join(out, "resnet18_other_output.bin"))
    own_output.numpy().astype("float32").tofile(os.path.join(out, "resnet18_own_output.bin"))

    bad = dict(state)
    del bad["fc.bias"]
    bad["extra.weight"] = torch.zeros(4)
    bad["conv1.weight"] = state["conv1.weight"].reshape(64, 3, 49)
    bad["bn1.running_mean"] = state["bn1.running_mean"].double()
    torch.save(bad, os.path.join(out, "resnet18_bad.pth"))

    keys = list(state.keys())
    save_with_devices(state, os.path.join(out, "resnet18_cuda.pth"), lambda key: "cuda:0")
    save_with_devices(state, os.path.join(out, "resnet18_mixed.pth"),
                      lambda key: "cuda:1" if int(key) % 2 == 0 else "cpu")
    assert len(keys) > 2

    torch.save(Net(), os.path.join(out, "full_model.pt"))
    torch.save(nn.Sequential(nn.Linear(2, 2), nn.ReLU()), os.path.join(out, "full_sequential.pt"))
    Evil.marker = os.path.join(out, "markers", "pwned")
    torch.save({"w": torch.ones(2), "x": Evil()}, os.path.join(out, "malicious.pth"))
    with open(os.path.join(out, "not_torch.pt"), "wb") as f:
        pickle.dump([1, 2, 3], f, protocol=2)

    torch.jit.script(CheckpointNet()).save(os.path.join(out, "checkpoint_net.pt"))
    torch.jit.script(MnistNet().eval()).save(os.path.join(out, "mnist_net.pt"))
    torch.jit.script(LegacyNet()).save(os.path.join(out, "legacy_net.pt"))
    torch.jit.script(BFloat16Net()).save(os.path.join(out, "bfloat16_net.pt"))

    with open(os.path.join(out, "check_saved_state_dict.py"), "w") as f:
        f.write(CHECKER)


CHECKER = '''import sys
import torch
saved = torch.load(sys.argv[1], weights_only=True)
reference = torch.load(sys.argv[2], weights_only=True)
assert isinstance(saved, dict), type(saved)
assert saved, "empty"
for key, tensor in saved.items():
    assert key in reference, "unexpected key " + key
    assert tensor.dtype == reference[key].dtype, key
    assert torch.equal(tensor, reference[key]), "values differ: " + key
missing = [k for k in reference if k not in saved and not k.endswith("num_batches_tracked")]
assert not missing, "missing " + ", ".join(missing)
print("ok", len(saved))
'''


def main() -> None:
    run_cached(write_all, __file__)


if __name__ == "__main__":
    main()
