#!/usr/bin/env python3
"""Linearity benchmark: synthetic ONNX-dialect graphs of 10k, 100k and 1M nodes through
`torchport convert -O <level>` (the default pipeline), timing each pass from `--json`.

The graph is a chain of blocks that give every default pass work, so a pass whose cost is
not linear in graph size shows up as a time ratio far above the size ratio:
  - Conv + BatchNormalization (fuse-conv-batchnorm), MatMul + Add (fuse-matmul-add-into-gemm)
  - Identity and x*1 (eliminate-identity), duplicated Relu (eliminate-common-subexpressions)
  - a Shape -> Gather -> Concat -> Reshape chain on a static shape (fold-constants)
  - a dead branch (eliminate-dead-code)
  - one constant shared by every block (a value with ~N/20 uses: per-use bookkeeping that
    scans use lists would be quadratic here)
Nothing here passes or fails; it prints a table (and --json writes it).

  bench/linearity.py --build-dir build [--sizes 10000,100000,1000000] [--level 2]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

BLOCK_NODES = 22  # nodes per block, constants included (checked against the import count)


def block(i, x):
    """One block: input value name x (f32[4,4]), returns (text, output name)."""
    p = f"b{i}"
    lines = [
        f"  %{p}.w = const f32[4,4,1,1] dense<[" + ", ".join(["0.5"] * 16) + "]>",
        f"  %{p}.x4: f32[1,4,4,1] = onnx::Reshape(%{x}, %shape4)",
        f"  %{p}.c: f32[1,4,4,1] = onnx::Conv(%{p}.x4, %{p}.w) {{kernel_shape=[1,1]}}",
        f"  %{p}.s = const f32[4] dense<[1.0, 2.0, 3.0, 4.0]>",
        f"  %{p}.bn: f32[1,4,4,1] = onnx::BatchNormalization(%{p}.c, %{p}.s, %{p}.s, %{p}.s, %{p}.s)",
        f"  %{p}.r1: f32[1,4,4,1] = onnx::Relu(%{p}.bn)",
        f"  %{p}.r2: f32[1,4,4,1] = onnx::Relu(%{p}.bn)",
        f"  %{p}.sum: f32[1,4,4,1] = onnx::Add(%{p}.r1, %{p}.r2)",
        f"  %{p}.id: f32[1,4,4,1] = onnx::Identity(%{p}.sum)",
        f"  %{p}.one: f32[1,4,4,1] = onnx::Mul(%{p}.id, %one)",
        f"  %{p}.shp: i64[4] = onnx::Shape(%{p}.one)",
        f"  %{p}.idx = const i64[1] dense<[1]>",
        f"  %{p}.d: i64[1] = onnx::Gather(%{p}.shp, %{p}.idx) {{axis=0}}",
        f"  %{p}.cat: i64[2] = onnx::Concat(%{p}.d, %minus1) {{axis=0}}",
        f"  %{p}.flat: f32[4,4] = onnx::Reshape(%{p}.one, %{p}.cat)",
        f"  %{p}.mw = const f32[4,4] dense<[" + ", ".join(["0.25"] * 16) + "]>",
        f"  %{p}.mm: f32[4,4] = onnx::MatMul(%{p}.flat, %{p}.mw)",
        f"  %{p}.mb = const f32[4] dense<[0.1, 0.2, 0.3, 0.4]>",
        f"  %{p}.fc: f32[4,4] = onnx::Add(%{p}.mm, %{p}.mb)",
        f"  %{p}.dead: f32[4,4] = onnx::Neg(%{p}.fc)",
        f"  %{p}.y: f32[4,4] = onnx::Tanh(%{p}.fc)",
    ]
    return "\n".join(lines) + "\n", f"{p}.y"


def write_graph(path, nodes):
    blocks = max(1, nodes // BLOCK_NODES)
    with open(path, "w") as f:
        f.write("graph @main(%x: f32[4,4]) -> (%y: f32[4,4]) {\n")
        f.write("  %shape4 = const i64[4] dense<[1, 4, 4, 1]>\n")
        f.write("  %one = const f32[] dense<[1.0]>\n")
        f.write("  %minus1 = const i64[1] dense<[-1]>\n")
        x = "x"
        for i in range(blocks):
            text, x = block(i, x)
            f.write(text)
        f.write(f"  %y: f32[4,4] = onnx::Identity(%{x})\n")
        f.write("}\n")


def measure(torchport, size, level, workdir):
    source = os.path.join(workdir, f"g{size}.tpir")
    target = os.path.join(workdir, f"g{size}.out.tpir")
    write_graph(source, size)
    start = time.perf_counter()
    result = subprocess.run([torchport, "convert", source, "-o", target, "-O", str(level), "--json"],
                            capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"torchport failed on {size} nodes:\n{result.stderr}")
    report = json.loads(result.stdout)
    steps = {s["name"]: s["seconds"] for s in report["steps"]}
    pipeline = steps.get("optimize", 0.0)
    passes = {name: secs for name, secs in steps.items() if name not in ("optimize", "save-ir")}
    return {"nodes": report["input"]["nodes"], "nodes_after": report["graph"]["nodes"],
            "optimize_s": pipeline, "run_s": report.get("seconds", 0.0), "wall_s": wall, "passes": passes}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--level", type=int, default=None, help="optimize level (default: convert's default)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torchport = os.path.join(args.build_dir, "bin", "torchport")
    level = args.level
    if level is None:
        level = 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="torchport-linearity-") as workdir:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(torchport, size, level, workdir))
            r = rows[-1]
            print(f"{r['nodes']:>9} nodes -> {r['nodes_after']:>8}: optimize {r['optimize_s']:7.3f} s, "
                  f"convert wall {r['wall_s']:7.3f} s (parse + optimize + write)", flush=True)
    base = rows[0]
    print("\nper-pass seconds (ratio to the smallest graph; linear = node ratio):")
    names = sorted(base["passes"])
    print(f"{'pass':36}" + "".join(f"{r['nodes']:>16}" for r in rows))
    for name in names:
        cells = []
        for r in rows:
            secs = r["passes"].get(name, 0.0)
            ratio = secs / base["passes"][name] if base["passes"][name] > 0 else float("nan")
            cells.append(f"{secs:8.3f} ({ratio:5.0f}x)")
        print(f"{name:36}" + "".join(f"{c:>16}" for c in cells))
    print(f"{'node ratio':36}" + "".join(f"{r['nodes'] / base['nodes']:>15.0f}x" for r in rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
