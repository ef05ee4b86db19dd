#!/usr/bin/env python3
"""Scripts and saves a model that calls the custom op mylib::fancy_act, plus a sample input
and LibTorch's output for it.

    /usr/bin/python3 make_model.py --ops build/libfancy_act_ops.so --out work/

writes work/model.pt, work/inputs/x.npy (batch 2) and work/expected/y.npy.
"""
import argparse
import pathlib

import numpy as np
import torch


class FancyNet(torch.nn.Module):
    """conv -> fancy_act -> global average pool -> linear -> fancy_act."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, kernel_size=3, padding=1)
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        y = torch.ops.mylib.fancy_act(self.conv(x), 1.5)
        y = y.mean(dim=[2, 3])
        return torch.ops.mylib.fancy_act(self.fc(y), 0.25)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", required=True, help="libfancy_act_ops.so built by this example")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()

    torch.ops.load_library(args.ops)
    torch.manual_seed(0)
    out = pathlib.Path(args.out)
    (out / "inputs").mkdir(parents=True, exist_ok=True)
    (out / "expected").mkdir(parents=True, exist_ok=True)

    model = FancyNet().eval()
    scripted = torch.jit.script(model)
    scripted.save(str(out / "model.pt"))

    x = torch.randn(args.batch, 3, 8, 8)
    with torch.no_grad():
        y = scripted(x)
        reference = model.fc((lambda t: t * torch.sigmoid(1.5 * t))(model.conv(x)).mean(dim=[2, 3]))
        reference = reference * torch.sigmoid(0.25 * reference)
    # The op's kernel computes what its docs say.
    assert torch.allclose(y, reference, atol=1e-6), "mylib::fancy_act does not compute x * sigmoid(alpha * x)"
    np.save(out / "inputs" / "x.npy", x.numpy())
    np.save(out / "expected" / "y.npy", y.numpy())
    print(f"wrote {out / 'model.pt'} (output {tuple(y.shape)})")


if __name__ == "__main__":
    main()
