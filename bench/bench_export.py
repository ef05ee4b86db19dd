#!/usr/bin/python3
"""torchport convert vs torch.onnx.export, measured side by side in one run.

    /usr/bin/python3 bench/bench_export.py --torchport BUILD/bin/torchport --fixtures BUILD/e2e-fixtures
        --work DIR [--models resnet50,vit_b_16,transformer_encoder] [--iterations 20] [--opset 17]

For each model (the traced TorchScript file of the e2e fixtures) both exporters run as whole
processes under /usr/bin/time -v; then, per exported file: node count, file size (plus any
external data), ONNX Runtime median latency (tests/oracle/run.js --bench, 1 thread, the
fixture's traced-batch inputs), and the node count after ORT's 'basic' offline optimization
(--optimize-basic). Ratios are torchport / torch.onnx.export: below 1 means torchport is
smaller / faster. A peer failure (torch.onnx.export cannot export the fused transformer ops)
is reported as "peer failed", a torchport failure as "torchport failed", each with its reason.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import fixtures  # noqa: E402
import run_case  # noqa: E402  (the CLI invocation lives there, in one place)

PYTHON = "/usr/bin/python3"
ORACLE = ROOT / "tests" / "oracle" / "run.js"
DEFAULT_MODELS = "resnet50,vit_b_16,transformer_encoder"


def measure(command, log_file: Path) -> dict:
    """Runs a command as a whole process; wall seconds and peak RSS (MB), via /usr/bin/time -v
    when present, else the kernel's rusage of the child."""
    use_time = Path("/usr/bin/time").exists()
    full = (["/usr/bin/time", "-v"] + command) if use_time else command
    start = time.perf_counter()
    proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    log_file.write_text(f"$ {' '.join(full)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    rss_mb = None
    if use_time:
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
        rss_mb = int(match.group(1)) / 1024 if match else None
        # time -v reports the command's own status as "Exit status: N" and exits with it.
        stderr = stderr[: stderr.rfind("\tCommand being timed:")] if "\tCommand being timed:" in stderr else stderr
    return {"ok": proc.returncode == 0, "returncode": proc.returncode, "wall_s": wall, "rss_mb": rss_mb,
            "stderr": stderr.strip()}


def first_lines(text: str, count: int = 2) -> str:
    """The gist of a failed process's stderr: its last lines, without Python warnings and
    /usr/bin/time's own "Command exited" line."""
    noise = ("Warning", "warnings.warn", "Command exited with non-zero status", "Command terminated by signal")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not any(n in line for n in noise)]
    return " | ".join(lines[-count:]) if lines else "(no message)"


def file_size_mb(path: Path) -> float:
    """The model file plus external data files it references (torchport may split weights out)."""
    import onnx
    total = path.stat().st_size
    model = onnx.load(str(path), load_external_data=False)
    locations = set()
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                locations.add(entry.value)
    total += sum((path.parent / loc).stat().st_size for loc in locations if (path.parent / loc).exists())
    return total / 1e6


def count_nodes(path: Path) -> int:
    """Nodes of the main graph and of every nested (If/Loop) graph."""
    import onnx

    def count(graph):
        total = 0
        for node in graph.node:
            total += 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    total += count(attr.g)
                elif attr.type == onnx.AttributeProto.GRAPHS:
                    total += sum(count(g) for g in attr.graphs)
        return total
    return count(onnx.load(str(path), load_external_data=False).graph)


def ort_latency(model: Path, inputs: Path, iterations: int) -> dict:
    result = subprocess.run(["node", str(ORACLE), str(model), str(inputs), "--bench", str(iterations),
                             "--threads", "1"], capture_output=True, text=True)
    if result.returncode != 0:
        return {"ok": False, "error": first_lines(result.stderr)}
    return {"ok": True, **json.loads(result.stdout.strip().splitlines()[-1])}


def ort_basic_nodes(model: Path, out: Path):
    result = subprocess.run(["node", str(ORACLE), str(model), "--optimize-basic", str(out)], capture_output=True, text=True)
    if result.returncode != 0:
        return None, first_lines(result.stderr)
    return count_nodes(out), None


def describe_file(path: Path, inputs: Path, work: Path, tag: str, iterations: int) -> dict:
    info = {"nodes": count_nodes(path), "size_mb": file_size_mb(path)}
    info["ort"] = ort_latency(path, inputs, iterations)
    info["basic_nodes"], info["basic_error"] = ort_basic_nodes(path, work / f"{tag}_ort_basic.onnx")
    return info


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def bench_model(name: str, meta: dict, args) -> dict:
    fixture_dir = args.fixtures / name
    work = args.work / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # The traced file when the case has one (scripted-only cases: control flow).
    mode = "traced" if "traced" in meta["modes"] else next(iter(meta["modes"]))
    model_pt = fixture_dir / meta["modes"][mode]
    inputs = fixture_dir / "inputs" / f"b{meta['trace_batch']}"
    result = {"model": name, "source": str(model_pt), "source_mb": model_pt.stat().st_size / 1e6}

    tp_out = work / "torchport.onnx"
    if not args.torchport.exists():
        result["torchport"] = {"ok": False, "stderr": f"torchport CLI not found at {args.torchport} (build it)"}
    else:
        result["torchport"] = measure(run_case.torchport_command(args.torchport, model_pt, tp_out, args.opset, meta, inputs),
                                      work / "torchport.log")
        if result["torchport"]["ok"] and not tp_out.exists():
            result["torchport"].update(ok=False, stderr=f"exited 0 but wrote no {tp_out}")

    peer_out = work / "torch_onnx.onnx"
    peer_command = [PYTHON, str(HERE / "torch_onnx_export.py"), str(model_pt), str(peer_out),
                    "--inputs-dir", str(inputs), "--opset", str(args.opset),
                    "--input-names", ",".join(meta["input_names"]), "--output-names", ",".join(meta["output_names"])]
    for input_name, axes in meta["dynamic_axes"].items():
        for axis, symbol in axes.items():
            peer_command += ["--dynamic-axes", f"{input_name}:{axis}={symbol}"]
    result["peer"] = measure(peer_command, work / "torch_onnx.log")

    for key, path in (("torchport", tp_out), ("peer", peer_out)):
        if result[key]["ok"]:
            result[key].update(describe_file(path, inputs, work, key, args.iterations))
    return result


def fmt(value, spec=".2f", none="n/a"):
    return none if value is None else format(value, spec)


def report(results, args):
    print()
    print(f"torchport convert vs torch.onnx.export (opset {args.opset}); ratio = torchport / peer, < 1 is better for torchport")
    print(f"ONNX Runtime latency: median of {args.iterations} runs, 1 thread, traced batch size")
    for r in results:
        tp, peer = r["torchport"], r["peer"]
        print(f"\n== {r['model']}  ({r['source_mb']:.1f} MB TorchScript)")
        rows = [("wall time s", "wall_s"), ("peak RSS MB", "rss_mb"), ("nodes", "nodes"), ("file MB", "size_mb")]
        print(f"  {'metric':<26}{'torchport':>12}{'torch.onnx':>12}{'ratio':>9}")
        for label, key in rows:
            a = tp.get(key) if tp["ok"] or key in ("wall_s", "rss_mb") else None
            b = peer.get(key) if peer["ok"] or key in ("wall_s", "rss_mb") else None
            both_ok = tp["ok"] and peer["ok"]
            spec = "d" if key == "nodes" else ".2f"
            print(f"  {label:<26}{fmt(a, spec):>12}{fmt(b, spec):>12}{fmt(ratio(a, b) if both_ok else None):>9}")
        a = tp.get("ort", {}).get("median_ms") if tp["ok"] else None
        b = peer.get("ort", {}).get("median_ms") if peer["ok"] else None
        print(f"  {'ORT latency ms':<26}{fmt(a, '.3f'):>12}{fmt(b, '.3f'):>12}{fmt(ratio(a, b)):>9}")
        a = tp.get("basic_nodes") if tp["ok"] else None
        b = peer.get("basic_nodes") if peer["ok"] else None
        print(f"  {'nodes after ORT basic opt':<26}{fmt(a, 'd'):>12}{fmt(b, 'd'):>12}{fmt(ratio(a, b)):>9}")
        if tp["ok"] and peer["ok"]:
            print(f"  torchport nodes / peer nodes after ORT basic: {fmt(ratio(tp['nodes'], peer.get('basic_nodes')))}")
        for key, who in (("torchport", "torchport"), ("peer", "peer (torch.onnx.export)")):
            side = r[key]
            if not side["ok"]:
                print(f"  {who} failed: {first_lines(side['stderr'])}")
            elif not side["ort"]["ok"]:
                print(f"  {who}'s file failed in ONNX Runtime: {side['ort']['error']}")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torchport", type=Path, required=True)
    parser.add_argument("--fixtures", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    if shutil.which("node") is None:
        sys.exit("node not found on PATH: the ONNX Runtime oracle needs it")

    names = args.models.split(",")
    metas = fixtures.ensure(args.fixtures, names)
    results = []
    for name in names:
        print(f"benchmarking {name} ...", flush=True)
        results.append(bench_model(name, metas[name], args))
    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
        print(f"raw results: {args.json}")


if __name__ == "__main__":
    main()
