#!/usr/bin/env bash
# A short tour of torchport: install dependencies, build, then run one demo pipeline and
# show its input, the run (with per-step stats) and the result.
#
#   bash scripts/demo.sh                 # the default demo
#   TORCHPORT_DEMO=identity-cleanup bash scripts/demo.sh
#
#   TORCHPORT_DEMO=resnet18 bash scripts/demo.sh          # the same as the default
#
# Each demo is a function `demo_<name>` below plus the build targets it needs
# (`targets_<name>`).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JOBS=${TORCHPORT_JOBS:-2}
DEFAULT_DEMO=resnet18
DEMO=${TORCHPORT_DEMO:-$DEFAULT_DEMO}
TORCHPORT="$ROOT/build/bin/torchport"

section() { printf '\n==== %s ====\n' "$*"; }

# ---- demo: textual-IR cleanup --------------------------------------------------------
# examples/demo/model.tpir is a tiny MLP with the leftovers of a trace (contiguous, detach,
# eval-mode dropout, x*1, a dead branch); configs/identity-cleanup.yaml removes them.
targets_identity_cleanup() { echo torchport; }
demo_identity_cleanup() {
  local config=configs/identity-cleanup.yaml
  local result=build/demo/model.cleaned.tpir
  section "input: examples/demo/model.tpir"
  "$TORCHPORT" inspect examples/demo/model.tpir --ir
  section "pipeline: $config"
  cat "$config"
  section "torchport run $config --stats"
  "$TORCHPORT" run "$config" --stats
  section "result: $result"
  "$TORCHPORT" inspect "$result" --ir
}

# ---- demo: resnet18 -> ONNX -----------------------------------------------------------
# torchvision resnet18 (random weights), scripted and traced, exported like
#   torch.onnx.export(model, x, "model.onnx", opset_version=17, do_constant_folding=True,
#     input_names=["input"], output_names=["output"], dynamic_axes={"input": {0: "batch_size"}})
# then run in ONNX Runtime at batch 1 (traced) and 4 (through the dynamic axis) and compared
# with LibTorch running the same .pt files.
targets_resnet18() { echo torchport torchport_torchscript torchport_onnx; }
demo_resnet18() {
  local work=build/demo/resnet18
  section "model: torchvision resnet18, random weights (python3-torch makes the .pt files)"
  /usr/bin/python3 examples/resnet18/make_model.py "$work"
  local failures=0
  for mode in scripted traced; do
    section "torchport convert $work/$mode.pt -> $work/$mode.onnx"
    local command=("$TORCHPORT" convert "$work/$mode.pt" -o "$work/$mode.onnx" --opset 17
      --inputs 'input=f32[batch_size,3,224,224]' --input-names input --output-names output
      --dynamic-axes input:0=batch_size,output:0=batch_size --stats)
    echo "\$ ${command[*]}"
    /usr/bin/time -f "  (whole process: %e s wall, %M KB peak RSS)" "${command[@]}"
    section "ONNX Runtime vs LibTorch: $mode"
    for batch in 1 4; do
      node tests/oracle/run.js "$work/$mode.onnx" "$work/inputs/b$batch" "$work/ort/$mode/b$batch" --threads 1 >/dev/null
      /usr/bin/python3 examples/resnet18/compare.py "$work/ref/$mode/b$batch" "$work/ort/$mode/b$batch" \
        "$mode, batch $batch" || failures=$((failures + 1))
    done
  done
  section "the same export as a YAML pipeline: configs/onnx.yaml"
  "$TORCHPORT" run configs/onnx.yaml --quiet
  echo "wrote $work/model.onnx"
  section "result"
  if ((failures > 0)); then
    echo "$failures comparison(s) failed"
    return 1
  fi
  echo "resnet18 scripted and traced: ONNX Runtime matches LibTorch at batch 1 and 4"
}

# ---------------------------------------------------------------------------------------
demo_function="demo_${DEMO//-/_}"
targets_function="targets_${DEMO//-/_}"
if ! declare -F "$demo_function" >/dev/null; then
  echo "demo.sh: unknown demo '$DEMO' (available: $(declare -F | awk '/ demo_/ {sub("demo_", "", $3); gsub("_", "-", $3); print $3}' | xargs))" >&2
  exit 2
fi

section "dependencies"
bash scripts/setup.sh

section "build"
cmake -S . -B build -G Ninja >/dev/null
# shellcheck disable=SC2046  # target list is word-split on purpose
cmake --build build --parallel "$JOBS" --target $("$targets_function")

"$demo_function"
