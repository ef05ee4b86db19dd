#!/usr/bin/python3
"""Lite-interpreter (.ptl) files of the mobile e2e cases: torchport converts them like .pt files.

    /usr/bin/python3 lite_interpreter.py MODEL MODE OPSET --fixtures DIR --work DIR --torchport PATH

PyTorch 1.13's _save_for_lite_interpreter writes a zip with the mobile bytecode (bytecode.pkl)
AND the full TorchScript module (code/, data.pkl, constants), so torch::jit::load reads it and
the XNNPACK op contexts are unpacked as for the .pt file. The fixture's `<mode>.ptl` (written
by fixtures.py for cases with mobile=True) is converted and compared with LibTorch's outputs
of the same model, with the case's tolerance -- the same steps as run_case.py.
Exit: 0 pass, 1 fail.
"""
import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import cases  # noqa: E402
import fixtures  # noqa: E402
import run_case  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("mode", choices=[cases.TRACED, cases.SCRIPTED])
    parser.add_argument("opset", type=int)
    parser.add_argument("--fixtures", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--torchport", type=Path, required=True)
    args = parser.parse_args()
    label = f"{args.model} {args.mode}.ptl opset {args.opset}"
    try:
        if not cases.get(args.model).mobile:
            raise run_case.CaseFailure(f"{args.model} is not a mobile case (mobile=True in cases.py)")
        meta = fixtures.ensure(args.fixtures, [args.model], log=run_case.log)[args.model]
        fixture_dir = args.fixtures / args.model
        lite = fixture_dir / f"{args.mode}.ptl"
        if not lite.exists():
            raise run_case.CaseFailure(f"{lite} missing: fixtures.py writes it for mobile cases")
        shutil.rmtree(args.work, ignore_errors=True)
        args.work.mkdir(parents=True)
        onnx_path = args.work / f"{args.model}.onnx"
        trace_inputs = fixture_dir / "inputs" / f"b{meta['trace_batch']}"
        run_case.convert_with_torchport(args.torchport, lite, onnx_path, args.opset, meta, trace_inputs)
        problems = run_case.check_model(onnx_path, args.opset, meta)
        failures = []
        for batch in meta["batches"]:
            ort_dir = args.work / f"ort_b{batch}"
            run_case.run_oracle(onnx_path, fixture_dir / "inputs" / f"b{batch}", ort_dir)
            failures += run_case.compare(fixture_dir / "ref" / args.mode / f"b{batch}", ort_dir, meta, batch)
        if problems or failures:
            raise run_case.CaseFailure("\n".join(problems + failures))
    except run_case.CaseFailure as failure:
        run_case.log(f"FAIL {label}: {failure}")
        return 1
    run_case.log(f"PASS {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
