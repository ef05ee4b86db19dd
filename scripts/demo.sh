#!/usr/bin/env bash
# A short tour of torchport: install dependencies, build, then run one demo pipeline and
# show its input, the run (with per-step stats) and the result.
#
#   bash scripts/demo.sh                 # the default demo
#   TORCHPORT_DEMO=identity-cleanup bash scripts/demo.sh
#
# Each demo is a function `demo_<name>` below plus the build targets it needs
# (`targets_<name>`); adding one (e.g. a resnet18 -> ONNX export) means adding those two and
# changing DEFAULT_DEMO.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JOBS=${TORCHPORT_JOBS:-2}
DEFAULT_DEMO=identity-cleanup
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
