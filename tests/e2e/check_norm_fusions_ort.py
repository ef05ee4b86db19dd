#!/usr/bin/env python3
"""Numerical check of the ONNX-dialect fusions in ONNX Runtime.

For each case: a decomposed pattern written in textual IR (ONNX dialect) is saved as ONNX
twice with `torchport run` -- once as is, once after the fusion pass (+ eliminate-dead-code) --
and both models are run in ONNX Runtime (tests/oracle/run.js) on the same random inputs.
Both run with ORT's graph optimizations disabled, so that the plain model computes the
decomposed math (ORT would otherwise fuse it itself). The case passes when the fused model really contains the fused op (and the plain one does not)
and the outputs agree within rtol/atol.

Cases: fuse-layer-norm (opset 17 Div form with gamma/beta; opset 18 axes inputs, Pow,
Reciprocal, two normalized dims, no gamma -> ones Scale), fuse-gelu (com.microsoft Gelu /
FastGelu at opset 17; onnx::Gelu written at opset 18 and re-declared as opset 20, since
lower-to-onnx stops at 18), fuse-pad-into-conv, fuse-pad-into-pool (AveragePool with
count_include_pad flipped to 1, MaxPool with a -inf pad).

  /usr/bin/python3 tests/e2e/check_norm_fusions_ort.py --torchport build/bin/torchport \
      [--oracle tests/oracle/run.js] [--work /tmp/fusion-check] [-k layer_norm]

Exit code 0 when every case passes.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def dense(array):
    """Textual-IR constant literal for a float32 array."""
    flat = ", ".join(repr(float(v)) for v in np.asarray(array, dtype=np.float32).ravel())
    return "dense<[%s]>" % flat


def layer_norm_17(rng):
    gamma = rng.standard_normal(8).astype(np.float32)
    beta = rng.standard_normal(8).astype(np.float32)
    text = f"""graph @main(%x: f32[2,5,8]) -> (%y: f32[2,5,8]) {{
  %w = const f32[8] {dense(gamma)}
  %b = const f32[8] {dense(beta)}
  %0: f32[2,5,1] = onnx::ReduceMean(%x) {{keepdims=1, axes=[-1]}}
  %1: f32[2,5,8] = onnx::Sub(%x, %0)
  %2: f32[2,5,8] = onnx::Mul(%1, %1)
  %3: f32[2,5,1] = onnx::ReduceMean(%2) {{keepdims=1, axes=[-1]}}
  %5 = const f32[] dense<[1e-05]>
  %6: f32[2,5,1] = onnx::Add(%3, %5)
  %7: f32[2,5,1] = onnx::Sqrt(%6)
  %8: f32[2,5,8] = onnx::Div(%1, %7)
  %9: f32[2,5,8] = onnx::Mul(%8, %w)
  %y: f32[2,5,8] = onnx::Add(%9, %b)
}}
"""
    return text, {"x": rng.standard_normal((2, 5, 8)).astype(np.float32) * 3 + 1}


def layer_norm_18(rng):
    beta = rng.standard_normal((4, 8)).astype(np.float32)
    text = f"""graph @main(%x: f32[3,2,4,8]) -> (%y: f32[3,2,4,8]) {{
  %axes = const i64[2] dense<[-1, 2]>
  %m: f32[3,2,1,1] = onnx::ReduceMean(%x, %axes)
  %d: f32[3,2,4,8] = onnx::Sub(%x, %m)
  %two = const f32[] dense<[2.0]>
  %sq: f32[3,2,4,8] = onnx::Pow(%d, %two)
  %axes2 = const i64[2] dense<[2, 3]>
  %v: f32[3,2,1,1] = onnx::ReduceMean(%sq, %axes2) {{keepdims=1}}
  %eps = const f32[1] dense<[0.001]>
  %ve: f32[3,2,1,1] = onnx::Add(%eps, %v)
  %s: f32[3,2,1,1] = onnx::Sqrt(%ve)
  %r: f32[3,2,1,1] = onnx::Reciprocal(%s)
  %n: f32[3,2,4,8] = onnx::Mul(%r, %d)
  %b = const f32[4,8] {dense(beta)}
  %y: f32[3,2,4,8] = onnx::Add(%b, %n)
}}
"""
    return text, {"x": rng.standard_normal((3, 2, 4, 8)).astype(np.float32) * 0.1 - 2}


GELU_ERF = """graph @main(%x: f32[4,16]) -> (%y: f32[4,16]) {
  %0 = const f32[] dense<[0.5]>
  %1 = const f32[] dense<[1.0]>
  %2 = const f32[] dense<[0.70710677]>
  %3: f32[4,16] = onnx::Mul(%x, %2)
  %4: f32[4,16] = onnx::Erf(%3)
  %5: f32[4,16] = onnx::Add(%4, %1)
  %6: f32[4,16] = onnx::Mul(%5, %0)
  %y: f32[4,16] = onnx::Mul(%x, %6)
}
"""

GELU_TANH = """graph @main(%x: f32[4,16]) -> (%y: f32[4,16]) {
  %half = const f32[] dense<[0.5]>
  %one = const f32[] dense<[1.0]>
  %k = const f32[] dense<[0.7978846]>
  %c = const f32[] dense<[0.044715]>
  %sq: f32[4,16] = onnx::Mul(%x, %x)
  %cube: f32[4,16] = onnx::Mul(%sq, %x)
  %w: f32[4,16] = onnx::Mul(%cube, %c)
  %sum: f32[4,16] = onnx::Add(%x, %w)
  %in: f32[4,16] = onnx::Mul(%sum, %k)
  %t: f32[4,16] = onnx::Tanh(%in)
  %a: f32[4,16] = onnx::Add(%t, %one)
  %h: f32[4,16] = onnx::Mul(%a, %half)
  %y: f32[4,16] = onnx::Mul(%x, %h)
}
"""


def gelu(text):
    def make(rng):
        return text, {"x": rng.standard_normal((4, 16)).astype(np.float32) * 3}
    return make


def pad_conv(rng):
    weight = rng.standard_normal((4, 3, 3, 5)).astype(np.float32)
    text = f"""graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,4,8,8]) {{
  %pads = const i64[8] dense<[0, 0, 1, 2, 0, 0, 1, 2]>
  %zero = const f32[] dense<[0.0]>
  %p: f32[1,3,10,12] = onnx::Pad(%x, %pads, %zero) {{mode="constant"}}
  %w = const f32[4,3,3,5] {dense(weight)}
  %y: f32[1,4,8,8] = onnx::Conv(%p, %w) {{kernel_shape=[3,5]}}
}}
"""
    return text, {"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32)}


def pad_avgpool(rng):
    text = """graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,3,4,4]) {
  %pads = const i64[8] dense<[0, 0, 2, 1, 0, 0, 0, 1]>
  %p: f32[1,3,10,10] = onnx::Pad(%x, %pads)
  %y: f32[1,3,4,4] = onnx::AveragePool(%p) {kernel_shape=[3,3], strides=[2,2]}
}
"""
    return text, {"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32) + 1}


def pad_avgpool_ceil(rng):
    # count_include_pad=1 with pads of its own and ceil_mode=1: the last window overhangs
    text = """graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,3,5,5]) {
  %pads = const i64[8] dense<[0, 0, 1, 0, 0, 0, 0, 1]>
  %p: f32[1,3,9,9] = onnx::Pad(%x, %pads)
  %y: f32[1,3,5,5] = onnx::AveragePool(%p) {kernel_shape=[3,3], strides=[2,2], pads=[1,1,0,0], count_include_pad=1, ceil_mode=1}
}
"""
    return text, {"x": rng.standard_normal((1, 3, 8, 8)).astype(np.float32) + 1}


def pad_maxpool(rng):
    text = """graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,3,5,5]) {
  %pads = const i64[8] dense<[0, 0, 1, 1, 0, 0, 1, 1]>
  %ninf = const f32[] dense<[-inf]>
  %p: f32[1,3,10,10] = onnx::Pad(%x, %pads, %ninf)
  %y: f32[1,3,5,5] = onnx::MaxPool(%p) {kernel_shape=[3,3], strides=[2,2], pads=[0,0,1,1]}
}
"""
    # all negative: a zero pad would show up in every border window
    return text, {"x": -np.abs(rng.standard_normal((1, 3, 8, 8)).astype(np.float32)) - 0.5}


# name, builder, opset written by lower-to-onnx, fusion steps, fused op type, opset to declare afterwards
CASES = [
    ("layer_norm_opset17", layer_norm_17, 17, ["fuse-layer-norm"], "LayerNormalization", None),
    ("layer_norm_opset18_axes_input", layer_norm_18, 18, ["fuse-layer-norm"], "LayerNormalization", None),
    ("gelu_erf_com_microsoft", gelu(GELU_ERF), 17, ["fuse-gelu: {domain: com.microsoft}"], "Gelu", None),
    ("gelu_tanh_com_microsoft", gelu(GELU_TANH), 17, ["fuse-gelu: {domain: com.microsoft}"], "FastGelu", None),
    ("gelu_erf_onnx20", gelu(GELU_ERF), 18, ["fuse-gelu: {opset: 20}"], "Gelu", 20),
    ("gelu_tanh_onnx20", gelu(GELU_TANH), 18, ["fuse-gelu: {opset: 20}"], "Gelu", 20),
    ("pad_into_conv", pad_conv, 17, ["fuse-pad-into-conv"], None, None),
    ("pad_into_avgpool", pad_avgpool, 17, ["fuse-pad-into-pool"], None, None),
    ("pad_into_avgpool_ceil_mode", pad_avgpool_ceil, 17, ["fuse-pad-into-pool"], None, None),
    ("pad_into_maxpool_neg_inf", pad_maxpool, 17, ["fuse-pad-into-pool"], None, None),
]


def run(cmd, **kwargs):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (result.returncode, " ".join(cmd), result.stdout,
                                                              result.stderr))
    return result


def export(torchport, work, tag, text, opset, steps, declare_opset):
    tpir = os.path.join(work, "input.tpir")
    with open(tpir, "w") as f:
        f.write(text)
    model = os.path.join(work, tag + ".onnx")
    config = os.path.join(work, tag + ".yaml")
    lines = ["torchport: 1", "input: {path: %s}" % tpir, "pipeline:", "  - lower-to-onnx: {opset: %d}" % opset]
    lines += ["  - " + step for step in steps]
    lines += ["  - save-onnx: {path: %s}" % model]
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    run([torchport, "run", config, "-q"])
    if declare_opset is not None:
        proto = onnx.load(model)
        for entry in proto.opset_import:
            if entry.domain in ("", "ai.onnx"):
                entry.version = declare_opset
        proto.ir_version = max(proto.ir_version, 9)
        onnx.save(proto, model)
    return model


def run_ort(oracle, model, inputs, work, tag):
    in_dir = os.path.join(work, tag + "_in")
    out_dir = os.path.join(work, tag + "_out")
    os.makedirs(in_dir, exist_ok=True)
    os.makedirs(out_dir, exist_ok=True)
    for name, value in inputs.items():
        np.save(os.path.join(in_dir, name + ".npy"), value)
    # ORT's own graph optimizer fuses Gelu / LayerNormalization too: with it on, both models
    # could run the same kernel and agree trivially. The reference must be the decomposed math.
    run(["node", oracle, model, in_dir, out_dir, "--opt-level", "disabled"])
    return np.load(os.path.join(out_dir, "y.npy"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torchport", required=True, help="the torchport CLI (build/bin/torchport)")
    parser.add_argument("--oracle", default=os.path.join(ROOT, "tests", "oracle", "run.js"))
    parser.add_argument("--work", help="scratch directory (default: a temporary one, removed afterwards)")
    parser.add_argument("-k", dest="filter", default="", help="only cases whose name contains this")
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-5)
    args = parser.parse_args()

    work_root = args.work or tempfile.mkdtemp(prefix="fusion-check-")
    rng = np.random.default_rng(1234)
    failures = 0
    try:
        for name, build, opset, steps, fused_op, declare in CASES:
            if args.filter not in name:
                continue
            work = os.path.join(work_root, name)
            os.makedirs(work, exist_ok=True)
            text, inputs = build(rng)
            try:
                plain = export(args.torchport, work, "plain", text, opset, [], None)
                fused = export(args.torchport, work, "fused", text, opset, steps + ["eliminate-dead-code"], declare)
                plain_ops = [n.op_type for n in onnx.load(plain).graph.node]
                fused_ops = [n.op_type for n in onnx.load(fused).graph.node]
                if fused_op is not None and (fused_op not in fused_ops or fused_op in plain_ops):
                    raise RuntimeError("expected %s in the fused model only: plain %s, fused %s" %
                                       (fused_op, plain_ops, fused_ops))
                if fused_op is None and ("Pad" not in plain_ops or "Pad" in fused_ops):
                    raise RuntimeError("expected the Pad to be fused: plain %s, fused %s" % (plain_ops, fused_ops))
                expected = run_ort(args.oracle, plain, inputs, work, "plain")
                actual = run_ort(args.oracle, fused, inputs, work, "fused")
                if expected.shape != actual.shape:
                    raise RuntimeError("shapes differ: %s vs %s" % (expected.shape, actual.shape))
                error = float(np.max(np.abs(expected - actual)))
                bound = args.atol + args.rtol * float(np.max(np.abs(expected)))
                status = "ok" if error <= bound else "FAIL"
                print("%-32s %-4s max |diff| = %.3g (bound %.3g)  fused ops: %s" % (name, status, error, bound,
                                                                                   ",".join(fused_ops)))
                failures += status != "ok"
            except Exception as error:  # noqa: BLE001 - report and go on with the next case
                print("%-32s FAIL %s" % (name, error))
                failures += 1
    finally:
        if not args.work:
            shutil.rmtree(work_root, ignore_errors=True)
    print("%d case(s) failed" % failures if failures else "all cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
