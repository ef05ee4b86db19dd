#!/usr/bin/python3
"""Runs a shipped TorchScript-export config through the torchport CLI and checks the result
with PyTorch itself (an oracle independent of torchport's LibTorch code).

  check_config_export.py TORCHPORT CONFIG MODEL [--expect-mapped-to-cpu] [--reference REF.pt]

`torchport run CONFIG --input MODEL --json` must succeed and report exactly one written
TorchScript file; that file is loaded with torch.jit.load (format full) or
torch.jit.mobile._load_for_lite_interpreter (format lite) and its outputs on random inputs
must match MODEL's (or REF's) within 1e-5. With --expect-mapped-to-cpu the JSON report must
say the input was saved on a GPU and mapped to CPU (and the log must say so).
"""
import argparse
import json
import subprocess
import sys

import torch


def flatten(value):
    if isinstance(value, torch.Tensor):
        return [value.detach()]
    if isinstance(value, (tuple, list)):
        return [t for element in value for t in flatten(element)]
    if isinstance(value, dict):
        return [t for element in value.values() for t in flatten(element)]
    return []


def example_inputs(module):
    """Random inputs from the forward signature: 4-d image-like tensors unless 2-d fits."""
    schema = module.forward.schema
    inputs = []
    for argument in schema.arguments[1:]:
        kind = str(argument.type)
        if kind == "int":
            inputs.append(2)
        elif kind == "Tensor":
            inputs.append(None)
        else:
            raise SystemExit(f"check_config_export.py: cannot make an input of type {kind}")
    return inputs


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("torchport")
    parser.add_argument("config")
    parser.add_argument("model")
    parser.add_argument("--reference")
    parser.add_argument("--shape", default="2,3,32,32", help="shape of tensor inputs")
    parser.add_argument("--expect-mapped-to-cpu", action="store_true")
    args = parser.parse_args()

    run = subprocess.run([args.torchport, "-v", "run", args.config, "--input", args.model, "--json"],
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stdout, run.stderr, sep="\n")
        print(f"FAIL: torchport exited with {run.returncode}")
        return 1
    report = json.loads(run.stdout)
    written = [o for o in report["outputs"] if o["written"]]
    if len(written) != 1 or written[0]["step"] != "save-torchscript":
        print(f"FAIL: expected one file written by save-torchscript, got {report['outputs']}")
        return 1
    path = written[0]["path"]
    entries = report["report"]
    if args.expect_mapped_to_cpu:
        if entries.get("torchscript.mapped_to_cpu") is not True:
            print(f"FAIL: report lacks torchscript.mapped_to_cpu = true: {entries}")
            return 1
        if "were loaded to CPU" not in run.stderr:
            print(run.stderr)
            print("FAIL: the log does not say the GPU tensors were loaded to CPU")
            return 1

    reference = torch.jit.load(args.reference or args.model, map_location="cpu").eval()
    if entries["torchscript.format"] == "lite":
        from torch.jit.mobile import _load_for_lite_interpreter
        saved = _load_for_lite_interpreter(path)
    else:
        saved = torch.jit.load(path)

    torch.manual_seed(0)
    shape = [int(d) for d in args.shape.split(",")]
    inputs = [torch.randn(*shape) if i is None else i for i in example_inputs(reference)]
    with torch.no_grad():
        expected = flatten(reference(*inputs))
        actual = flatten(saved(*inputs))
    if len(expected) != len(actual):
        print(f"FAIL: {len(actual)} outputs, expected {len(expected)}")
        return 1
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e.shape != a.shape or not torch.allclose(a, e, rtol=1e-5, atol=1e-5):
            print(f"FAIL: output {i} differs: max |diff| {(a - e).abs().max().item() if e.shape == a.shape else 'shape'}")
            return 1
    print(f"ok: {path} ({entries['torchscript.format']}, optimize {entries['torchscript.optimize']}) matches "
          f"{args.reference or args.model} on {len(expected)} output(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
