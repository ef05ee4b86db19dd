#!/usr/bin/env bash
# torchport convert vs torch.onnx.export on resnet50, vit_b_16 and the fused-op transformer
# encoder (the e2e fixtures' traced TorchScript files), measured in the same run.
#
#   bench/export_vs_torch_onnx.sh [--build-dir build] [--models a,b,c] [--iterations 20]
#                                 [--opset 17] [--json results.json]
#
# Prints per model: wall time, peak RSS (/usr/bin/time -v), node count, file size and ONNX
# Runtime latency of both exporters and their ratios (torchport / peer), plus the node count
# of each file after ONNX Runtime's 'basic' offline optimization. Needs: the torchport CLI
# built in the build dir, /usr/bin/python3 with torch, node + tests/oracle installed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$root/build
models=resnet50,vit_b_16,transformer_encoder
iterations=20
opset=17
json=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
    --models) models=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --opset) opset=$2; shift 2 ;;
    --json) json=(--json "$2"); shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ ! -d $root/tests/oracle/node_modules/onnxruntime-node ]]; then
  echo "onnxruntime-node missing: running npm ci --ignore-scripts in tests/oracle" >&2
  (cd "$root/tests/oracle" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
fi
[[ -x /usr/bin/time ]] || echo "note: /usr/bin/time not found (apt-get install time); peak RSS comes from rusage" >&2

exec /usr/bin/python3 "$root/bench/bench_export.py" \
  --torchport "$build_dir/bin/torchport" \
  --fixtures "$build_dir/e2e-fixtures" \
  --work "$build_dir/bench-work" \
  --models "$models" --iterations "$iterations" --opset "$opset" "${json[@]}"
