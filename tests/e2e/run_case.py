#!/usr/bin/python3
"""One end-to-end case: convert a TorchScript fixture to ONNX, check it, run it in ONNX
Runtime at every batch size of the case, compare with LibTorch's outputs.

    /usr/bin/python3 run_case.py MODEL MODE OPSET --fixtures DIR --work DIR [--torchport PATH]
                                 [--exporter torchport|torch-onnx]

MODE is traced or scripted. Steps (each failure says which step and why):
  1. fixtures: ensure DIR/MODEL is current (generated on demand, see fixtures.py)
  2. convert:  torchport convert MODEL.pt -o OUT.onnx --opset N --inputs NAME=DTYPE[DIMS],...
               --input-names ... --output-names ... --dynamic-axes NAME:AXIS=SYMBOL,...
               (--exporter torch-onnx uses torch.onnx.export on the same .pt instead: it
               proves the harness itself, independently of torchport)
  3. check:    onnx.checker (full check, with shape inference) for opset <= 17 -- onnx 1.12
               stops at 17, so opset 18 files are validated by ONNX Runtime only -- plus the
               declared opset and graph input/output names
  4. run:      tests/oracle/run.js at each batch size
  5. compare:  per output, max|ort - ref| <= rtol * max(1, max|ref|)
Exit: 0 pass, 1 fail.

With --properties (issue 4's property test, one ctest per model: e2e.<model>.properties) the
case instead converts the model three ways and checks, at every batch size:
  - optimized (convert's default level) vs unoptimized (-O 0): both in ONNX Runtime, the
    optimized outputs must match the unoptimized ones within the case's rtol (the passes may
    only change float rounding: folded batch norms, fused gemms);
  - fp16 (`--passes convert-float-to-float16`, inputs and outputs kept f32) vs LibTorch:
    within FP16_RTOL * max(1, max|ref|) (see FP16_RTOL for why that value).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORACLE_DIR = HERE.parent / "oracle"
sys.path.insert(0, str(HERE))
import cases  # noqa: E402
import fixtures  # noqa: E402

CHECKER_MAX_OPSET = 17
# fp16 tolerance for --properties. f16 has an 11-bit significand (relative rounding 4.9e-4 per
# operation); through dozens of layers with random weights the errors add up. Measured on the
# zoo: see the fp16 section of README.md; the limit keeps a margin over the worst model while
# a wrong conversion (a dropped cast, a clamped weight, a swapped input) is far above it.
FP16_RTOL = 5e-2


class CaseFailure(Exception):
    """A failed step; the message is the whole explanation."""


def log(message=""):
    print(message, flush=True)


def tail(text: str, lines: int = 60) -> str:
    kept = text.strip().splitlines()
    if len(kept) > lines:
        kept = [f"... ({len(kept) - lines} earlier lines omitted)"] + kept[-lines:]
    return "\n".join("    " + line for line in kept)


# ---- 2. convert ------------------------------------------------------------------------------

NUMPY_TO_IR_DTYPE = {"float32": "f32", "float64": "f64", "float16": "f16", "int64": "i64", "int32": "i32",
                     "int16": "i16", "int8": "i8", "uint8": "u8", "bool": "bool"}


def input_specs(meta: dict, inputs_dir: Path) -> str:
    """--inputs value: each input's dtype and shape in forward-argument order, taken from the
    sample inputs, with the dynamic axes as symbols: 'input=f32[batch,3,64,64],mask=bool[batch,seq]'.
    (A traced .pt does not record its input types; a user declares them the same way.)"""
    import numpy as np
    specs = []
    for name in meta["input_names"]:
        sample = np.load(inputs_dir / f"{fixtures.safe_file_name(name)}.npy", mmap_mode="r")
        axes = meta["dynamic_axes"].get(name, {})
        dims = [axes.get(str(axis), str(size)) for axis, size in enumerate(sample.shape)]
        specs.append(f"{name}={NUMPY_TO_IR_DTYPE[str(sample.dtype)]}[{','.join(dims)}]")
    return ",".join(specs)


def torchport_command(torchport: Path, model_pt: Path, out: Path, opset: int, meta: dict, inputs_dir: Path,
                      extra=()) -> list:
    """The CLI invocation. Kept in one place so a change of the CLI's flags is one edit."""
    command = [str(torchport), "convert", str(model_pt), "-o", str(out), "--opset", str(opset), *extra,
               "--inputs", input_specs(meta, inputs_dir),
               "--input-names", ",".join(meta["input_names"]),
               "--output-names", ",".join(meta["output_names"])]
    axes = [f"{name}:{axis}={symbol}" for name, by_axis in meta["dynamic_axes"].items() for axis, symbol in by_axis.items()]
    if axes:
        command += ["--dynamic-axes", ",".join(axes)]
    return command


def convert_with_torchport(torchport: Path, model_pt: Path, out: Path, opset: int, meta: dict, inputs_dir: Path,
                           extra=()) -> float:
    if not torchport.exists():
        raise CaseFailure(f"torchport CLI not found at {torchport}: build the `torchport` target "
                          "(ninja -C BUILD torchport) or pass --torchport")
    command = torchport_command(torchport, model_pt, out, opset, meta, inputs_dir, extra)
    log("$ " + " ".join(command))
    start = time.time()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        raise CaseFailure("torchport convert did not finish within 900 s") from None
    seconds = time.time() - start
    if result.stdout.strip():
        log(tail(result.stdout, 20))
    if result.returncode != 0:
        if result.returncode < 0:
            what = f"was killed by signal {-result.returncode} (crash)"
        else:
            what = f"exited with {result.returncode}"
        raise CaseFailure(f"torchport convert {what}; its stderr:\n{tail(result.stderr)}")
    if not out.exists():
        raise CaseFailure(f"torchport convert exited 0 but wrote no {out}")
    return seconds


def convert_with_torch_onnx(model_pt: Path, out: Path, opset: int, meta: dict, inputs_dir: Path) -> float:
    """Stand-in exporter: torch.onnx.export of the same TorchScript file (proves the harness)."""
    import numpy as np
    import torch
    log(f"$ torch.onnx.export(torch.jit.load({model_pt.name}), opset_version={opset})")
    start = time.time()
    module = torch.jit.load(str(model_pt))
    example = tuple(torch.from_numpy(np.load(inputs_dir / f"{fixtures.safe_file_name(n)}.npy"))
                    for n in meta["input_names"])
    axes = {name: {int(a): s for a, s in v.items()} for name, v in meta["dynamic_axes"].items()}
    try:
        torch.onnx.export(module, example, str(out), opset_version=opset, do_constant_folding=True,
                          input_names=meta["input_names"], output_names=meta["output_names"], dynamic_axes=axes)
    except Exception as err:  # noqa: BLE001 -- report the peer's failure as a case failure
        raise CaseFailure(f"torch.onnx.export failed: {str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    return time.time() - start


# ---- 3. check --------------------------------------------------------------------------------

def check_model(path: Path, opset: int, meta: dict) -> list:
    """Returns the problems found (the case goes on to ONNX Runtime regardless, so one run
    shows both a checker complaint and whether the numbers are right)."""
    import onnx
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as err:  # noqa: BLE001 -- protobuf's DecodeError and friends
        raise CaseFailure(f"{path} is not a readable ONNX file: {err}") from None
    problems = []
    declared = {imp.domain or "ai.onnx": imp.version for imp in model.opset_import}
    if declared.get("ai.onnx") != opset:
        problems.append(f"declares default-domain opset {declared.get('ai.onnx')}, expected {opset}")
    graph_inputs = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    graph_outputs = [o.name for o in model.graph.output]
    if graph_inputs != meta["input_names"]:
        problems.append(f"graph inputs {graph_inputs}, expected {meta['input_names']}")
    if graph_outputs != meta["output_names"]:
        problems.append(f"graph outputs {graph_outputs}, expected {meta['output_names']}")
    for value in model.graph.input:
        axes = meta["dynamic_axes"].get(value.name, {})
        dims = value.type.tensor_type.shape.dim
        for axis, symbol in axes.items():
            if int(axis) < len(dims) and dims[int(axis)].HasField("dim_value"):
                problems.append(f"input '{value.name}' axis {axis} is fixed to {dims[int(axis)].dim_value}, "
                                f"expected dynamic '{symbol}'")
    log(f"  {len(model.graph.node)} nodes, opsets {declared}, ir_version {model.ir_version}, "
        f"{path.stat().st_size / 1e6:.1f} MB")
    if opset <= CHECKER_MAX_OPSET:
        try:
            # By path: works for files with external data and > 2 GB; full_check adds strict shape inference.
            onnx.checker.check_model(str(path), full_check=True)
            log("  onnx.checker (full_check): passed")
        except Exception as err:  # noqa: BLE001 -- onnx raises several types
            problems.append(f"onnx.checker failed: {tail(str(err), 10).strip()}")
    else:
        log(f"  onnx.checker: skipped (onnx {onnx.__version__} knows opsets <= {CHECKER_MAX_OPSET}); "
            "ONNX Runtime validates this file")
    return problems


# ---- 4. run + 5. compare ---------------------------------------------------------------------------

def oracle_command(node: str, model: Path, in_dir: Path, out_dir: Path) -> list:
    return [node, str(ORACLE_DIR / "run.js"), str(model), str(in_dir), str(out_dir), "--threads", "1"]


def run_oracle(model: Path, in_dir: Path, out_dir: Path) -> None:
    node = shutil.which("node")
    if node is None:
        raise CaseFailure("node not found on PATH: ONNX Runtime runs through Node (tests/oracle)")
    if not (ORACLE_DIR / "node_modules" / "onnxruntime-node").is_dir():
        raise CaseFailure(f"onnxruntime-node is not installed: run `npm ci --ignore-scripts` in {ORACLE_DIR} "
                          "(scripts/setup.sh does it)")
    shutil.rmtree(out_dir, ignore_errors=True)
    result = subprocess.run(oracle_command(node, model, in_dir, out_dir), capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise CaseFailure(f"ONNX Runtime failed on {model.name} with inputs {in_dir}:\n{tail(result.stderr)}")


def compare(ref_dir: Path, ort_dir: Path, meta: dict, batch: int, rtol=None, reference="LibTorch") -> list:
    """Returns a list of failure strings; prints one line per output."""
    import numpy as np
    failures = []
    rtol = meta["rtol"] if rtol is None else rtol
    for name in meta["output_names"]:
        file = f"{fixtures.safe_file_name(name)}.npy"
        ref = np.load(ref_dir / file)
        if not (ort_dir / file).exists():
            failures.append(f"batch {batch}: ONNX Runtime gave no output '{name}'")
            continue
        got = np.load(ort_dir / file)
        if got.shape != ref.shape:
            failures.append(f"batch {batch}: output '{name}' has shape {list(got.shape)}, {reference} {list(ref.shape)}")
            log(f"  b{batch} {name:<12} shape {list(got.shape)} != {list(ref.shape)}  FAIL")
            continue
        if got.dtype != ref.dtype:
            failures.append(f"batch {batch}: output '{name}' has dtype {got.dtype}, {reference} {ref.dtype}")
        if ref.size == 0:
            log(f"  b{batch} {name:<12} empty {list(ref.shape)}  ok")
            continue
        ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
        finite = np.isfinite(ref64)
        if not np.array_equal(finite, np.isfinite(got64)) or not np.array_equal(ref64[~finite], got64[~finite]):
            failures.append(f"batch {batch}: output '{name}' has inf/nan where {reference} does not (or vice versa)")
        scale = float(np.abs(ref64[finite]).max()) if finite.any() else 0.0
        error = float(np.abs(got64[finite] - ref64[finite]).max()) if finite.any() else 0.0
        limit = rtol * max(1.0, scale)
        verdict = "ok" if error <= limit else "FAIL"
        log(f"  b{batch} {name:<12} shape {list(ref.shape)}  max|ref| {scale:.4g}  max abs err {error:.3g}  "
            f"limit {limit:.3g}  {verdict}")
        if error > limit:
            failures.append(f"batch {batch}: output '{name}' max abs error {error:.3g} > {limit:.3g} "
                            f"({rtol:g} * max(1, max|ref| = {scale:.4g}))")
    return failures


def check_properties(args, meta: dict, fixture_dir: Path, trace_inputs: Path) -> list:
    """--properties: optimized vs unoptimized in ONNX Runtime, fp16 vs LibTorch. Returns failures."""
    model_pt = fixture_dir / meta["modes"][args.mode]
    variants = {"optimized": [], "unoptimized": ["-O", "0"],
                "fp16": ["--passes", "convert-float-to-float16{keep_io_types=true}"]}
    paths = {}
    for variant, extra in variants.items():
        paths[variant] = args.work / f"{args.model}.{variant}.onnx"
        seconds = convert_with_torchport(args.torchport, model_pt, paths[variant], args.opset, meta, trace_inputs, extra)
        log(f"  {variant}: converted in {seconds:.2f} s")
    failures = []
    for batch in meta["batches"]:
        inputs = fixture_dir / "inputs" / f"b{batch}"
        outs = {variant: args.work / f"ort_{variant}_b{batch}" for variant in variants}
        for variant, path in paths.items():
            run_oracle(path, inputs, outs[variant])
        log(f"  optimized vs unoptimized (both ONNX Runtime), rtol {meta['rtol']:g}:")
        failures += [f"optimized vs unoptimized: {f}" for f in
                     compare(outs["unoptimized"], outs["optimized"], meta, batch, reference="unoptimized")]
        log(f"  fp16 vs LibTorch, rtol {FP16_RTOL:g}:")
        failures += [f"fp16: {f}" for f in
                     compare(fixture_dir / "ref" / args.mode / f"b{batch}", outs["fp16"], meta, batch, rtol=FP16_RTOL)]
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("mode", choices=[cases.TRACED, cases.SCRIPTED])
    parser.add_argument("opset", type=int)
    parser.add_argument("--fixtures", type=Path, required=True, help="fixture root (generated on demand)")
    parser.add_argument("--work", type=Path, required=True, help="scratch directory for this case")
    parser.add_argument("--torchport", type=Path, help="the torchport CLI")
    parser.add_argument("--exporter", choices=["torchport", "torch-onnx"], default="torchport")
    parser.add_argument("--properties", action="store_true",
                        help="check optimized == unoptimized and fp16 ~ LibTorch instead (see above)")
    args = parser.parse_args()
    if args.exporter == "torchport" and args.torchport is None:
        parser.error("--torchport is required with --exporter torchport")
    if args.properties and args.exporter != "torchport":
        parser.error("--properties checks torchport's own passes: use --exporter torchport")

    label = f"{args.model} {args.mode} opset {args.opset} ({args.exporter})"
    step = "fixtures"
    try:
        case = cases.get(args.model)
        if args.mode not in case.modes:
            raise CaseFailure(f"{args.model} has no {args.mode} fixture (modes in cases.py: {', '.join(case.modes)})")
        try:
            meta = fixtures.ensure(args.fixtures, [args.model], log=log)[args.model]
        except Exception as err:  # noqa: BLE001 -- any generator error is this step's failure
            raise CaseFailure(f"could not generate fixtures: {type(err).__name__}: {err}") from err
        fixture_dir = args.fixtures / args.model
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        onnx_path = args.work / f"{args.model}.onnx"
        trace_inputs = fixture_dir / "inputs" / f"b{meta['trace_batch']}"

        if args.properties:
            label = f"{args.model} {args.mode} opset {args.opset} (properties: optimized == unoptimized, fp16)"
            step = "properties"
            failures = check_properties(args, meta, fixture_dir, trace_inputs)
            if failures:
                raise CaseFailure("\n".join("    - " + f for f in failures))
            log(f"PASS {label}")
            return 0

        step = "convert"
        if args.exporter == "torchport":
            seconds = convert_with_torchport(args.torchport, fixture_dir / meta["modes"][args.mode], onnx_path, args.opset, meta,
                                             trace_inputs)
        else:
            seconds = convert_with_torch_onnx(fixture_dir / meta["modes"][args.mode], onnx_path, args.opset, meta, trace_inputs)
        log(f"  converted in {seconds:.2f} s")

        step = "check"
        problems = check_model(onnx_path, args.opset, meta)
        for problem in problems:
            log(f"  check: {problem}")

        failures = []
        for batch in meta["batches"]:
            step = f"run (batch {batch})"
            ort_dir = args.work / f"ort_b{batch}"
            run_oracle(onnx_path, fixture_dir / "inputs" / f"b{batch}", ort_dir)
            step = f"compare (batch {batch})"
            failures += compare(fixture_dir / "ref" / args.mode / f"b{batch}", ort_dir, meta, batch)
        step = "check + compare" if problems and failures else ("check" if problems else "compare")
        if problems or failures:
            text = ""
            if problems:
                text += "the ONNX file is not what was asked for:\n" + "\n".join("    - " + p for p in problems)
            if failures:
                text += ("\n" if text else "") + "outputs differ from LibTorch:\n" + "\n".join("    - " + f for f in failures)
            raise CaseFailure(text)
    except CaseFailure as failure:
        log(f"FAIL {label}: {step}: {failure}")
        return 1
    log(f"PASS {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
