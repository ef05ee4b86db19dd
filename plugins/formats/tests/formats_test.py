#!/usr/bin/env python3
"""End-to-end test of the formats plugin (save-safetensors, save-dot) through the CLI.

    /usr/bin/python3 formats_test.py --torchport build/bin/torchport --work DIR

The safetensors files are read back with read_safetensors.py, an independent reader of the
format; the SVG is parsed as XML.
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import read_safetensors  # noqa: E402

MODEL = """graph @main(%x: f32[2,3], %c: bool) -> (%y: f32[2,3], %z: f32[2,3]) {
  %w = const f32[2,3] @"layer.weight" dense<[1.0, 2.0, 3.0, -4.0, 5.5, 6.25]>
  %h = const f16[3] @"layer.half" dense<[0.5, -1.0, 2.0]>
  %b = const bf16[2] @"layer.bf" dense<[1.5, -2.0]>
  %i = const i64[2] @"counts" dense<[7, -9]>
  %d = const f64[1] @"scale" dense<[0.125]>
  %m = const bool[3] @"mask" dense<[true, false, true]>
  %u = const u8[1] @"tiny" dense<[255]>
  %again = const f32[2,3] @"layer.weight" dense<[1.0, 2.0, 3.0, -4.0, 5.5, 6.25]>
  %k = const float 2.0
  %y: f32[2,3] = onnx::Add(%x, %w)  # layer
  %z: f32[2,3] = prim::If(%c) {then=graph @then() -> (%t) {
    %t: f32[2,3] = onnx::Mul(%y, %again)  # branch
  }, else=graph @else() -> (%y) {
  }}
}
"""

UNNAMED = """graph @main(%x: f32[2]) -> (%y: f32[2]) {
  %bias = const f32[2] dense<[0.5, 1.5]>
  %y: f32[2] = onnx::Add(%x, %bias)
}
"""

ELIDED = """graph @main(%x: f32[2]) -> (%y: f32[2]) {
  %bias = const f32[2] @"bias"
  %y: f32[2] = onnx::Add(%x, %bias)
}
"""


def fail(message):
    sys.exit("FAIL: " + message)


def run(torchport, work, name, model, pipeline, expect_ok=True):
    case = work / name
    case.mkdir(parents=True)
    (case / "model.tpir").write_text(model)
    (case / "config.yaml").write_text("torchport: 1\ninput: {path: model.tpir}\npipeline:\n" + pipeline)
    result = subprocess.run([torchport, "run", str(case / "config.yaml"), "--json"], capture_output=True, text=True)
    if expect_ok and result.returncode != 0:
        fail(f"{name}: torchport failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    if not expect_ok and result.returncode == 0:
        fail(f"{name}: torchport succeeded but should have failed")
    return case, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--torchport", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    work = pathlib.Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    # ---- safetensors: every dtype, alignment, metadata, dedup of a shared parameter ----
    case, result = run(args.torchport, work, "named", MODEL,
                       "  - save-safetensors: {path: out/w.safetensors, metadata: {model: tiny, epoch: 3}}\n")
    report = json.loads(result.stdout)
    if report["report"].get("safetensors.tensors") != 7:
        fail(f"expected 7 tensors in the report, got {report['report']}")
    tensors, metadata = read_safetensors.read(case / "out" / "w.safetensors")
    expected = {
        "layer.weight": np.array([[1.0, 2.0, 3.0], [-4.0, 5.5, 6.25]], dtype=np.float32),
        "layer.half": np.array([0.5, -1.0, 2.0], dtype=np.float16),
        "layer.bf": np.array([1.5, -2.0], dtype=np.float32),  # bf16 read as f32
        "counts": np.array([7, -9], dtype=np.int64),
        "scale": np.array([0.125], dtype=np.float64),
        "mask": np.array([True, False, True]),
        "tiny": np.array([255], dtype=np.uint8),
    }
    if sorted(tensors) != sorted(expected):
        fail(f"tensor names {sorted(tensors)} != {sorted(expected)}")
    for name, want in expected.items():
        got = tensors[name]
        if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
            fail(f"{name}: got {got!r} ({got.dtype}), expected {want!r} ({want.dtype})")
    if metadata != {"format": "pt", "producer": "torchport", "model": "tiny", "epoch": "3"}:
        fail(f"metadata {metadata}")
    # Each tensor starts at a multiple of its element size in the file.
    raw = (case / "out" / "w.safetensors").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        size = read_safetensors.SIZES[entry["dtype"]]
        if (8 + n + entry["data_offsets"][0]) % size != 0:
            fail(f"{name} is not aligned to {size} bytes in the file")
    if not raw[8:8 + n].endswith(b"}") and not raw[8:8 + n].rstrip(b" ").endswith(b"}"):
        fail("header padding is not spaces after the JSON")

    # Without parameter names, tensor constants are named by their values.
    case, _ = run(args.torchport, work, "unnamed", UNNAMED, "  - save-safetensors: {path: out/u.safetensors}\n")
    tensors, _ = read_safetensors.read(case / "out" / "u.safetensors")
    if list(tensors) != ["bias"] or not np.array_equal(tensors["bias"], np.array([0.5, 1.5], dtype=np.float32)):
        fail(f"fallback naming: {tensors}")

    # Errors: elided data, metadata of the wrong shape (before the run, with line:col).
    case, result = run(args.torchport, work, "elided", ELIDED, "  - save-safetensors: {path: out/e.safetensors}\n",
                       expect_ok=False)
    if "has no data" not in result.stderr + result.stdout or (case / "out" / "e.safetensors").exists():
        fail(f"elided tensor: {result.stderr}")
    case, result = run(args.torchport, work, "badmeta", UNNAMED,
                       "  - save-safetensors: {path: out/b.safetensors, metadata: [a, b]}\n", expect_ok=False)
    if result.returncode not in (2, 3) or "config.yaml:4:" not in result.stderr or "metadata must be a map" not in result.stderr:
        fail(f"bad metadata: exit {result.returncode}: {result.stderr}")

    # ---- save-dot: DOT text, clusters for nested graphs, SVG through Graphviz ----
    pipeline = "  - save-dot: {path: out/g.dot}\n"
    have_dot = shutil.which("dot") is not None
    if have_dot:
        pipeline += "  - save-dot: {path: out/g.svg}\n  - save-dot: {path: out/all.gv, format: dot, constants: true}\n"
    case, _ = run(args.torchport, work, "dot", MODEL, pipeline)
    dot = (case / "out" / "g.dot").read_text()
    for needle in ["digraph", "onnx::Add", "# layer", "subgraph cluster_", "prim::If then", "f32[2,3]", "+1 const"]:
        if needle not in dot:
            fail(f"g.dot lacks {needle!r}:\n{dot}")
    if "layer.weight" in dot:
        fail("constants are drawn although constants=false")
    if have_dot:
        root = ET.parse(case / "out" / "g.svg").getroot()
        if not root.tag.endswith("svg"):
            fail(f"g.svg root is {root.tag}")
        if "onnx::Add" not in (case / "out" / "g.svg").read_text():
            fail("g.svg does not show onnx::Add")
        if "@layer.weight" not in (case / "out" / "all.gv").read_text():
            fail("constants=true does not draw the parameters")
        # Without `dot` on PATH, svg is refused with the fix.
        env = dict(os.environ, PATH="/nonexistent")
        result = subprocess.run([os.path.abspath(args.torchport), "run", str(case / "config.yaml")], capture_output=True,
                                text=True, env=env)
        if result.returncode == 0 or "install graphviz" not in result.stderr:
            fail(f"svg without dot: exit {result.returncode}: {result.stderr}")
    else:
        print("note: Graphviz `dot` not installed; SVG output not tested")
    print("PASS: save-safetensors and save-dot")


if __name__ == "__main__":
    main()
