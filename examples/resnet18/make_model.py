#!/usr/bin/env python3
"""The demo's model: torchvision resnet18 with random weights, saved scripted and traced,
plus inputs at two batch sizes and LibTorch's outputs for them (torch.jit.load of the
saved files, so the reference is what the .pt computes, not the eager module).

    /usr/bin/python3 examples/resnet18/make_model.py OUT_DIR

Writes OUT_DIR/{scripted,traced}.pt, OUT_DIR/inputs/b{1,4}/input.npy and
OUT_DIR/ref/{scripted,traced}/b{1,4}/output.npy. Cached: does nothing when they exist.
"""
import sys
from pathlib import Path

import numpy as np
import torch
import torchvision

BATCHES = (1, 4)  # traced at 1; 4 exercises the dynamic batch axis


def main() -> int:
    out = Path(sys.argv[1])
    done = out / "ref" / "traced" / f"b{BATCHES[-1]}" / "output.npy"
    if done.exists():
        print(f"model files already in {out}")
        return 0
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    # Random-init BN statistics are 0/1, which hides BN-folding mistakes: give them values.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    out.mkdir(parents=True, exist_ok=True)
    example = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.jit.script(model).save(str(out / "scripted.pt"))
        torch.jit.trace(model, example).save(str(out / "traced.pt"))
    for batch in BATCHES:
        x = torch.randn(batch, 3, 224, 224)
        (out / "inputs" / f"b{batch}").mkdir(parents=True, exist_ok=True)
        np.save(out / "inputs" / f"b{batch}" / "input.npy", x.numpy())
        for mode in ("scripted", "traced"):
            loaded = torch.jit.load(str(out / f"{mode}.pt"))
            with torch.no_grad():
                y = loaded(x)
            ref = out / "ref" / mode / f"b{batch}"
            ref.mkdir(parents=True, exist_ok=True)
            np.save(ref / "output.npy", y.numpy())
    print(f"wrote resnet18 (random weights) scripted + traced to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
