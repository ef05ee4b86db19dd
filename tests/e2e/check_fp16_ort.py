#!/usr/bin/python3
"""Numeric check of convert-float-to-float16 in ONNX Runtime: each model is exported twice from
the same ONNX-dialect IR, once as is (f32) and once through convert-float-to-float16, both run in
ONNX Runtime (tests/oracle) on the fixture's sample inputs, and the f16 outputs are compared
with the f32 ones relative to the largest f32 output magnitude:

    err = max|out16 - out32| / max(max|out32|, 1e-6)        (per output, per batch size)

    /usr/bin/python3 tests/e2e/check_fp16_ort.py [MODEL ...] [--fixtures DIR] [--work DIR]
        [--torchport CLI] [--import-torchport CLI] [--opset N] [--budget 1e-2] [--keep-io-types true|false]
        [--reuse-ir]

MODEL names an e2e fixture (tests/e2e/cases.py; default: resnet18 mlp_tuple transformer_encoder
self_attention mobilenet_v2 control_flow gru). Steps per model:
  1. import:  IMPORT_CLI convert FIXTURE/traced.pt -o WORK/M/model.tpir -O 0 --inputs ...
              --passes 'lower-to-onnx{opset=N},optimize{level=2}'   (needs the TorchScript plugin)
  2. export:  CLI convert model.tpir -o f32.onnx -O 0 (names, dynamic axes)
              CLI convert model.tpir -o f16.onnx -O 0 --passes convert-float-to-float16{...}
  3. run:     tests/oracle/run.js on every batch size of the fixture, both files
  4. check:   onnx.checker (full_check) on the f16 file (opset <= 17); prints its Cast count and
              which ops stayed f32 (ops other than Cast with at least one f32 input)
  5. compare: err (above) <= --budget
IMPORT_CLI defaults to CLI; give a separate one when CLI was built without the TorchScript
plugin (e.g. --import-torchport build/bin/torchport --torchport build-h5/bin/torchport).
Exit: 0 all within budget, 1 otherwise. ONNX Runtime's CPU provider has few f16 kernels on x86:
it wraps most f16 nodes in Casts to f32 (InsertCastTransformer), so what is measured is mostly
the f16 storage of weights and activations between nodes.
"""
import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
import fixtures  # noqa: E402
import run_case  # noqa: E402

DEFAULT_MODELS = ["resnet18", "mlp_tuple", "transformer_encoder", "self_attention", "mobilenet_v2", "control_flow",
                  "gru"]


def run(command: list) -> None:
    print("$ " + " ".join(str(c) for c in command), flush=True)
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise run_case.CaseFailure(f"exit {result.returncode}:\n{run_case.tail(result.stderr)}")


def f32_ops(path: Path) -> tuple:
    """(number of Cast nodes, Counter of op types still reading an f32 tensor) of an ONNX file."""
    import onnx
    model = onnx.load(str(path))
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {}
    for info in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        types[info.name] = info.type.tensor_type.elem_type
    for init in model.graph.initializer:
        types[init.name] = init.data_type
    casts = sum(1 for n in model.graph.node if n.op_type == "Cast")
    kept = Counter(n.op_type for n in model.graph.node
                   if n.op_type != "Cast" and any(types.get(i) == onnx.TensorProto.FLOAT for i in n.input))
    return casts, kept


def check(name: str, args) -> list:
    fixture_dir = args.fixtures / name
    meta = json.loads((fixture_dir / "meta.json").read_text())
    model_pt = fixture_dir / meta["modes"].get("traced", next(iter(meta["modes"].values())))
    work = args.work / name
    work.mkdir(parents=True, exist_ok=True)
    inputs_dir = fixture_dir / "inputs" / f"b{meta['trace_batch']}"
    tpir = work / "model.tpir"
    if args.reuse_ir and tpir.exists():
        print(f"  reusing {tpir}", flush=True)
    else:
        run([args.import_torchport, "convert", model_pt, "-o", tpir, "-O", "0", "-q", "--passes",
             f"lower-to-onnx{{opset={args.opset}}},optimize{{level=2}}", "--inputs", run_case.input_specs(meta, inputs_dir)])
    common = ["-O", "0", "--opset", args.opset, "-q", "--input-names", ",".join(meta["input_names"]),
              "--output-names", ",".join(meta["output_names"])]
    axes = [f"{n}:{a}={s}" for n, by_axis in meta["dynamic_axes"].items() for a, s in by_axis.items()]
    if axes:
        common += ["--dynamic-axes", ",".join(axes)]
    f32 = work / "f32.onnx"
    f16 = work / "f16.onnx"
    run([args.torchport, "convert", tpir, "-o", f32, *common])
    run([args.torchport, "convert", tpir, "-o", f16, *common, "--passes",
         f"convert-float-to-float16{{keep_io_types={args.keep_io_types}}}"])
    casts, kept = f32_ops(f16)
    print(f"  f16 model: {casts} Casts; ops still reading f32: {dict(kept) or 'none'}", flush=True)
    if int(args.opset) <= run_case.CHECKER_MAX_OPSET:
        import onnx
        try:
            onnx.checker.check_model(str(f16), full_check=True)
            print("  onnx.checker (full_check) on the f16 model: passed", flush=True)
        except Exception as err:  # noqa: BLE001 -- onnx raises several types
            raise run_case.CaseFailure(f"onnx.checker rejects the f16 model: {str(err).splitlines()[0]}") from None

    import numpy as np
    failures = []
    for batch in meta["batches"]:
        in_dir = fixture_dir / "inputs" / f"b{batch}"
        if args.keep_io_types == "false":  # the f16 model takes f16 inputs
            half_dir = work / f"in16_b{batch}"
            half_dir.mkdir(exist_ok=True)
            for f in in_dir.glob("*.npy"):
                a = np.load(f)
                np.save(half_dir / f.name, a.astype(np.float16) if a.dtype == np.float32 else a)
            in16 = half_dir
        else:
            in16 = in_dir
        run_case.run_oracle(f32, in_dir, work / f"out32_b{batch}")
        run_case.run_oracle(f16, in16, work / f"out16_b{batch}")
        for out in meta["output_names"]:
            file = f"{fixtures.safe_file_name(out)}.npy"
            ref = np.load(work / f"out32_b{batch}" / file).astype(np.float64)
            got = np.load(work / f"out16_b{batch}" / file).astype(np.float64)
            if ref.shape != got.shape:
                failures.append(f"{name} b{batch} {out}: shape {got.shape} vs f32 {ref.shape}")
                continue
            if not np.issubdtype(ref.dtype, np.floating) or ref.size == 0:
                same = np.array_equal(ref, got)
                print(f"  b{batch} {out}: non-float output, {'equal' if same else 'DIFFERENT'}")
                if not same:
                    failures.append(f"{name} b{batch} {out}: non-float output differs")
                continue
            scale = max(float(np.abs(ref).max()), 1e-6)
            err = float(np.abs(got - ref).max()) / scale
            ok = np.isfinite(got).all() and err <= args.budget
            print(f"  b{batch} {out}: max|f16 - f32| / max|f32| = {err:.2e} (max|f32| = {scale:.3g}) "
                  f"{'ok' if ok else 'OVER BUDGET'}", flush=True)
            if not ok:
                failures.append(f"{name} b{batch} {out}: relative error {err:.2e} > {args.budget}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--fixtures", type=Path, default=REPO / "build" / "e2e-fixtures")
    parser.add_argument("--work", type=Path, default=Path("/tmp/torchport-fp16-check"))
    parser.add_argument("--torchport", type=Path, default=REPO / "build" / "bin" / "torchport")
    parser.add_argument("--import-torchport", type=Path, default=None)
    parser.add_argument("--opset", default="17")
    parser.add_argument("--budget", type=float, default=1e-2)
    parser.add_argument("--keep-io-types", choices=["true", "false"], default="true")
    parser.add_argument("--reuse-ir", action="store_true", help="skip step 1 when WORK/MODEL/model.tpir exists")
    args = parser.parse_args()
    if args.import_torchport is None:
        args.import_torchport = args.torchport
    failures = []
    for name in args.models:
        print(f"== {name}", flush=True)
        try:
            failures += check(name, args)
        except run_case.CaseFailure as err:
            print(f"  FAILED: {err}", flush=True)
            failures.append(f"{name}: {str(err).splitlines()[0]}")
    print("\n" + ("all within budget" if not failures else "FAILURES:\n  " + "\n  ".join(failures)))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
