#!/usr/bin/python3
"""The peer: export a TorchScript file to ONNX with torch.onnx.export (Debian's python3-torch).

    /usr/bin/python3 torch_onnx_export.py MODEL.pt OUT.onnx --inputs-dir DIR --input-names a,b
        --output-names y --dynamic-axes input:0=batch ... [--opset 17]

Loads the same .pt torchport converts (torch.jit.load), feeds the sample inputs from
DIR/<name>.npy and exports with do_constant_folding=True. Run as its own process so the
benchmark measures it whole (interpreter start, torch import, export), like torchport's CLI.
Exit 1 with the exception's first line on stderr when the export fails.
"""
import argparse
import sys
from pathlib import Path


def parse_axes(specs):
    axes = {}
    for spec in specs:
        name, _, rest = spec.partition(":")
        axis, _, symbol = rest.partition("=")
        axes.setdefault(name, {})[int(axis)] = symbol
    return axes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--inputs-dir", type=Path, required=True)
    parser.add_argument("--input-names", required=True)
    parser.add_argument("--output-names", required=True)
    parser.add_argument("--dynamic-axes", action="append", default=[], help="NAME:AXIS=SYMBOL, repeatable")
    parser.add_argument("--opset", type=int, default=17)
    args = parser.parse_args()

    import numpy as np
    import torch
    input_names = args.input_names.split(",")
    module = torch.jit.load(str(args.model))
    example = tuple(torch.from_numpy(np.load(args.inputs_dir / f"{name}.npy")) for name in input_names)
    try:
        with torch.no_grad():
            torch.onnx.export(module, example, str(args.out), opset_version=args.opset, do_constant_folding=True,
                              input_names=input_names, output_names=args.output_names.split(","),
                              dynamic_axes=parse_axes(args.dynamic_axes))
    except Exception as err:  # noqa: BLE001 -- the benchmark reports any failure as "peer failed"
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"torch.onnx.export failed: {type(err).__name__}: {first_line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
