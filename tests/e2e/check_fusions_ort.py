#!/usr/bin/env python3
"""Numerical check of fuse-conv-add-bias and the fuse-consecutive-* passes in ONNX Runtime.

For each case: a pattern written in textual IR (ONNX dialect) is saved as ONNX twice with
`torchport run` -- once as is, once after the pass (+ eliminate-dead-code) -- and both models
are run in ONNX Runtime (tests/oracle/run.js) on the same random inputs. A case passes when
the op counts of the fused model are as expected (the pattern fused, or -- for must-not-fire
cases -- left alone) and every output agrees: within rtol/atol for conv biases (the fused bias
is rounded once), bit for bit (NaN == NaN) for transposes, reshapes and casts.

The must-not-fire conv cases prove the broadcast rule in ORT: adding a [M] constant to
[N, M, H, W] broadcasts along W, not along the channels, so the pass must leave it alone.

  /usr/bin/python3 tests/e2e/check_fusions_ort.py --torchport build/bin/torchport \
      [--oracle tests/oracle/run.js] [--work /tmp/fusion-check] [-k conv]

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


def dense(array, dtype=np.float32):
    flat = ", ".join(repr(float(v)) for v in np.asarray(array, dtype=dtype).ravel())
    return "dense<[%s]>" % flat


# ---- fuse-conv-add-bias -------------------------------------------------------------------

def conv_add_nobias(rng):
    w = rng.standard_normal((4, 3, 3, 3))
    k = rng.standard_normal((1, 4, 1, 1))
    text = f"""graph @main(%x: f32[2,3,8,8]) -> (%y: f32[2,4,8,8]) {{
  %w = const f32[4,3,3,3] {dense(w)}
  %c: f32[2,4,8,8] = onnx::Conv(%x, %w) {{pads=[1,1,1,1]}}
  %k = const f32[1,4,1,1] {dense(k)}
  %y: f32[2,4,8,8] = onnx::Add(%c, %k)
}}
"""
    return text, {"x": rng.standard_normal((2, 3, 8, 8))}


def conv_add_bias_reversed_strided(rng):
    w = rng.standard_normal((6, 2, 3, 3))
    b = rng.standard_normal(6)
    k = rng.standard_normal((6, 1, 1))
    text = f"""graph @main(%x: f32[1,4,9,9]) -> (%y: f32[1,6,4,4]) {{
  %w = const f32[6,2,3,3] {dense(w)}
  %b = const f32[6] {dense(b)}
  %c: f32[1,6,4,4] = onnx::Conv(%x, %w, %b) {{strides=[2,2], group=2}}
  %k = const f32[6,1,1] {dense(k)}
  %y: f32[1,6,4,4] = onnx::Add(%k, %c)
}}
"""
    return text, {"x": rng.standard_normal((1, 4, 9, 9))}


def conv_sub_scalar(rng):
    w = rng.standard_normal((3, 2, 1, 1))
    b = rng.standard_normal(3)
    text = f"""graph @main(%x: f32[1,2,5,5]) -> (%y: f32[1,3,5,5]) {{
  %w = const f32[3,2,1,1] {dense(w)}
  %b = const f32[3] {dense(b)}
  %c: f32[1,3,5,5] = onnx::Conv(%x, %w, %b)
  %k = const f32[] dense<[0.75]>
  %y: f32[1,3,5,5] = onnx::Sub(%c, %k)
}}
"""
    return text, {"x": rng.standard_normal((1, 2, 5, 5))}


def conv_transpose_grouped(rng):
    w = rng.standard_normal((4, 3, 2, 2))  # C=4, M/group=3, group=2 -> M=6
    k = rng.standard_normal((1, 6, 1, 1))
    text = f"""graph @main(%x: f32[1,4,3,3]) -> (%y: f32[1,6,6,6]) {{
  %w = const f32[4,3,2,2] {dense(w)}
  %c: f32[1,6,6,6] = onnx::ConvTranspose(%x, %w) {{group=2, strides=[2,2]}}
  %k = const f32[1,6,1,1] {dense(k)}
  %y: f32[1,6,6,6] = onnx::Add(%c, %k)
}}
"""
    return text, {"x": rng.standard_normal((1, 4, 3, 3))}


def conv1d_and_3d(rng):
    w1 = rng.standard_normal((5, 2, 3))
    k1 = rng.standard_normal((5, 1))
    w3 = rng.standard_normal((3, 2, 1, 2, 2))
    k3 = rng.standard_normal((1, 3, 1, 1, 1))
    text = f"""graph @main(%x: f32[2,2,7], %v: f32[1,2,3,4,4]) -> (%y: f32[2,5,5], %z: f32[1,3,3,3,3]) {{
  %w1 = const f32[5,2,3] {dense(w1)}
  %c1: f32[2,5,5] = onnx::Conv(%x, %w1)
  %k1 = const f32[5,1] {dense(k1)}
  %y: f32[2,5,5] = onnx::Add(%c1, %k1)
  %w3 = const f32[3,2,1,2,2] {dense(w3)}
  %c3: f32[1,3,3,3,3] = onnx::Conv(%v, %w3)
  %k3 = const f32[1,3,1,1,1] {dense(k3)}
  %z: f32[1,3,3,3,3] = onnx::Add(%c3, %k3)
}}
"""
    return text, {"x": rng.standard_normal((2, 2, 7)), "v": rng.standard_normal((1, 2, 3, 4, 4))}


def conv_add_vector_refused(rng):
    # [M] with M == W: valid ONNX broadcasting, but along W -- must stay an Add.
    w = rng.standard_normal((4, 1, 1, 1))
    k = rng.standard_normal(4)
    text = f"""graph @main(%x: f32[1,1,4,4]) -> (%y: f32[1,4,4,4]) {{
  %w = const f32[4,1,1,1] {dense(w)}
  %c: f32[1,4,4,4] = onnx::Conv(%x, %w)
  %k = const f32[4] {dense(k)}
  %y: f32[1,4,4,4] = onnx::Add(%c, %k)
}}
"""
    return text, {"x": rng.standard_normal((1, 1, 4, 4))}


# ---- fuse-consecutive-transposes / reshapes / casts -------------------------------------------

def transposes(rng):
    text = """graph @main(%x: f32[2,3,4,5]) -> (%z: f32[5,2,4,3], %w: f32[2,3,4,5]) {
  %y: f32[3,5,2,4] = onnx::Transpose(%x) {perm=[1,3,0,2]}
  %z: f32[5,2,4,3] = onnx::Transpose(%y) {perm=[1,2,3,0]}
  %t: f32[5,4,3,2] = onnx::Transpose(%x)
  %u: f32[2,3,4,5] = onnx::Transpose(%t)
  %w: f32[2,3,4,5] = onnx::Relu(%u)
}
"""
    return text, {"x": rng.standard_normal((2, 3, 4, 5))}


def reshapes(rng):
    text = """graph @main(%x: f32[2,3,4], %v: f32[2,1,6]) -> (%z: f32[2,4,3], %b: f32[3,4], %c: f32[6,2,2]) {
  %s1 = const i64[2] dense<[0, 12]>
  %y: f32[2,12] = onnx::Reshape(%x, %s1)
  %s2 = const i64[3] dense<[0, 4, -1]>
  %z: f32[2,4,3] = onnx::Reshape(%y, %s2)
  %axes = const i64[1] dense<[1]>
  %q: f32[2,6] = onnx::Squeeze(%v, %axes)
  %sb = const i64[2] dense<[-1, 4]>
  %b: f32[3,4] = onnx::Reshape(%q, %sb)
  %s3 = const i64[2] dense<[-1, 4]>
  %y3: f32[6,4] = onnx::Reshape(%x, %s3)
  %sc = const i64[3] dense<[0, 2, 2]>
  %c: f32[6,2,2] = onnx::Reshape(%y3, %sc)
}
"""
    return text, {"x": rng.standard_normal((2, 3, 4)), "v": rng.standard_normal((2, 1, 6))}


def casts(rng):
    text = """graph @main(%h: f16[64], %i: i32[64], %b: i8[64], %p: bool[64]) -> (%a: f64[64], %f: f32[64], %j: i8[64], %q: f32[64]) {
  %h1: f32[64] = onnx::Cast(%h) {to=1}
  %a: f64[64] = onnx::Cast(%h1) {to=11}
  %i1: f64[64] = onnx::Cast(%i) {to=11}
  %f: f32[64] = onnx::Cast(%i1) {to=1}
  %b1: i32[64] = onnx::Cast(%b) {to=6}
  %b2: i8[64] = onnx::Cast(%b1) {to=3}
  %j: i8[64] = onnx::Abs(%b2)
  %p1: i32[64] = onnx::Cast(%p) {to=6}
  %q: f32[64] = onnx::Cast(%p1) {to=1}
}
"""
    h = (rng.standard_normal(64) * 1000).astype(np.float16)
    h[:4] = [np.inf, -np.inf, np.nan, -0.0]
    # around 2^24: i32 -> f32 rounds, through f64 it must round the same way
    i = (np.int64(1) << 24) + rng.integers(-50, 50, 64)
    i[:3] = [np.iinfo(np.int32).max, np.iinfo(np.int32).min, -((1 << 24) + 1)]
    return text, {"h": h, "i": i.astype(np.int32), "b": rng.integers(-127, 127, 64).astype(np.int8),
                  "p": rng.integers(0, 2, 64).astype(bool)}


# name, builder, pass, exact?, {op: (count in plain, count in fused)}
CASES = [
    ("conv_add_nobias", conv_add_nobias, "fuse-conv-add-bias", False, {"Add": (1, 0), "Conv": (1, 1)}),
    ("conv_add_bias_reversed_grouped_strided", conv_add_bias_reversed_strided, "fuse-conv-add-bias", False,
     {"Add": (1, 0)}),
    ("conv_sub_scalar", conv_sub_scalar, "fuse-conv-add-bias", False, {"Sub": (1, 0)}),
    ("conv_transpose_grouped", conv_transpose_grouped, "fuse-conv-add-bias", False, {"Add": (1, 0)}),
    ("conv1d_and_conv3d", conv1d_and_3d, "fuse-conv-add-bias", False, {"Add": (2, 0)}),
    ("conv_add_vector_refused", conv_add_vector_refused, "fuse-conv-add-bias", True, {"Add": (1, 1)}),
    ("transposes", transposes, "fuse-consecutive-transposes", True, {"Transpose": (4, 1)}),
    ("reshapes", reshapes, "fuse-consecutive-reshapes", True, {"Reshape": (5, 3), "Squeeze": (1, 0)}),
    ("casts", casts, "fuse-consecutive-casts", True, {"Cast": (8, 3)}),
]


def run(cmd):
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise RuntimeError("command failed (%d): %s\n%s%s" % (result.returncode, " ".join(cmd), result.stdout,
                                                              result.stderr))
    return result


def export(torchport, work, tag, text, steps):
    tpir = os.path.join(work, "input.tpir")
    with open(tpir, "w") as f:
        f.write(text)
    model = os.path.join(work, tag + ".onnx")
    config = os.path.join(work, tag + ".yaml")
    lines = ["torchport: 1", "input: {path: %s}" % tpir, "pipeline:", "  - lower-to-onnx: {opset: 17}"]
    lines += ["  - " + step for step in steps]
    lines += ["  - save-onnx: {path: %s}" % model]
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    run([torchport, "run", config, "-q"])
    return model


def run_ort(oracle, model, inputs, work, tag):
    in_dir = os.path.join(work, tag + "_in")
    out_dir = os.path.join(work, tag + "_out")
    os.makedirs(in_dir, exist_ok=True)
    os.makedirs(out_dir, exist_ok=True)
    for name, value in inputs.items():
        np.save(os.path.join(in_dir, name + ".npy"), value)
    run(["node", oracle, model, in_dir, out_dir])
    names = [o.name for o in onnx.load(model).graph.output]
    return {name: np.load(os.path.join(out_dir, name + ".npy")) for name in names}


def compare(expected, actual, exact, rtol, atol):
    """Returns (ok, worst error description)."""
    if expected.shape != actual.shape or expected.dtype != actual.dtype:
        return False, "shape/dtype %s %s vs %s %s" % (expected.shape, expected.dtype, actual.shape, actual.dtype)
    if exact:
        if np.issubdtype(expected.dtype, np.floating):
            same = (expected == actual) | (np.isnan(expected) & np.isnan(actual))
            same &= np.signbit(expected) == np.signbit(actual)
        else:
            same = expected == actual
        return bool(np.all(same)), "%d differing element(s)" % int(np.size(same) - np.count_nonzero(same))
    error = float(np.max(np.abs(expected.astype(np.float64) - actual)))
    bound = atol + rtol * float(np.max(np.abs(expected)))
    return error <= bound, "max |diff| = %.3g (bound %.3g)" % (error, bound)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torchport", required=True, help="the torchport CLI (build/bin/torchport)")
    parser.add_argument("--oracle", default=os.path.join(ROOT, "tests", "oracle", "run.js"))
    parser.add_argument("--work", help="scratch directory (default: a temporary one, removed afterwards)")
    parser.add_argument("-k", dest="filter", default="", help="only cases whose name contains this")
    parser.add_argument("--rtol", type=float, default=1e-5)
    parser.add_argument("--atol", type=float, default=1e-6)
    args = parser.parse_args()

    work_root = args.work or tempfile.mkdtemp(prefix="fusion-check-")
    rng = np.random.default_rng(4321)
    failures = 0
    try:
        for name, build, step, exact, op_counts in CASES:
            if args.filter not in name:
                continue
            work = os.path.join(work_root, name)
            os.makedirs(work, exist_ok=True)
            text, inputs = build(rng)
            inputs = {k: (v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in inputs.items()}
            try:
                plain = export(args.torchport, work, "plain", text, [])
                fused = export(args.torchport, work, "fused", text, [step, "eliminate-dead-code"])
                plain_ops = [n.op_type for n in onnx.load(plain).graph.node]
                fused_ops = [n.op_type for n in onnx.load(fused).graph.node]
                for op, (in_plain, in_fused) in op_counts.items():
                    if plain_ops.count(op) != in_plain or fused_ops.count(op) != in_fused:
                        raise RuntimeError("expected %d/%d %s (plain/fused), got plain %s, fused %s" %
                                           (in_plain, in_fused, op, plain_ops, fused_ops))
                expected = run_ort(args.oracle, plain, inputs, work, "plain")
                actual = run_ort(args.oracle, fused, inputs, work, "fused")
                notes = []
                ok = True
                for output, value in expected.items():
                    good, note = compare(value, actual[output], exact, args.rtol, args.atol)
                    ok &= good
                    notes.append("%s: %s" % (output, note))
                print("%-40s %-4s %s  fused ops: %s" % (name, "ok" if ok else "FAIL", "; ".join(notes),
                                                        ",".join(fused_ops)))
                failures += not ok
            except Exception as error:  # noqa: BLE001 - report and go on with the next case
                print("%-40s FAIL %s" % (name, error))
                failures += 1
    finally:
        if not args.work:
            shutil.rmtree(work_root, ignore_errors=True)
    print("%d case(s) failed" % failures if failures else "all cases passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
