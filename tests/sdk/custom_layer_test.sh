#!/usr/bin/env bash
# The custom-layer example, end to end, against an INSTALLED torchport only (labels: sdk, slow):
#
#   1. build examples/custom_layer with find_package(torchport) from --prefix (the install
#      made by sdk.out_of_tree_plugin; nothing from the build tree)
#   2. Python loads the example's op library and scripts + saves a model calling
#      torch.ops.mylib.fancy_act, with LibTorch's output on a sample input
#   3. the installed torchport, with the example plugin, exports it three ways:
#        lower-fancy-act{mode=decompose}  -> standard ONNX, run in ONNX Runtime, == LibTorch
#        lower-fancy-act{mode=custom}     -> com.example::FancyAct, passes onnx's checker with
#                                            the plugin's schema (in-process)
#        YAML custom-op decomposition     -> standard ONNX (no C++ converter), == LibTorch;
#                                            plus save-safetensors (== the model's state_dict)
#                                            and save-dot
#   4. `torchport plugins --json` lists the plugin with its pass and converter
#
# Usage: custom_layer_test.sh --prefix DIR --example DIR --oracle DIR --work-dir DIR
#                             [--cmake CMAKE] [--ninja NINJA] [--cxx CXX] [--cxx-flags FLAGS]
# Exit 77 (skipped) when the prefix lacks the TorchScript/ONNX plugins or node/onnxruntime.
set -euo pipefail

prefix="" example="" oracle="" work_dir="" cmake_bin=cmake ninja_bin=ninja cxx="" cxx_flags=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --example) example=$2; shift 2 ;;
    --oracle) oracle=$2; shift 2 ;;
    --work-dir) work_dir=$2; shift 2 ;;
    --cmake) cmake_bin=$2; shift 2 ;;
    --ninja) ninja_bin=$2; shift 2 ;;
    --cxx) cxx=$2; shift 2 ;;
    --cxx-flags) cxx_flags=$2; shift 2 ;;
    *) echo "custom_layer_test.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for required in prefix example oracle work_dir; do
  if [[ -z "${!required}" ]]; then echo "custom_layer_test.sh: --${required//_/-} is required" >&2; exit 2; fi
done

PYTHON=/usr/bin/python3
step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
logged() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    fail "command failed: $*  (log: $log)"
  fi
}

[[ -x "$prefix/bin/torchport" ]] || fail "no installed torchport in $prefix (run sdk.out_of_tree_plugin first: it installs it)"
for plugin in torchscript onnx formats; do
  [[ -n "$(find "$prefix" -path "*/torchport/plugins/libtorchport_$plugin.so" -print -quit)" ]] ||
    skip "the install in $prefix has no $plugin plugin (build it: it needs LibTorch / onnx)"
done
command -v node >/dev/null || skip "node is not installed (ONNX Runtime comes from onnxruntime-node)"
[[ -d "$oracle/node_modules/onnxruntime-node" ]] || skip "run 'npm ci --ignore-scripts' in $oracle first"

rm -rf "$work_dir"
mkdir -p "$work_dir"
unset TORCHPORT_PLUGIN_PATH CMAKE_PREFIX_PATH
torchport="$prefix/bin/torchport"

# ---- 1. build the example against the install ----
step "build examples/custom_layer against $prefix"
configure_args=(-G Ninja "-DCMAKE_MAKE_PROGRAM=$ninja_bin" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$prefix")
[[ -n "$cxx" ]] && configure_args+=("-DCMAKE_CXX_COMPILER=$cxx")
[[ -n "$cxx_flags" ]] && configure_args+=("-DCMAKE_CXX_FLAGS=$cxx_flags")
cp -r "$example" "$work_dir/src"
rm -rf "$work_dir/src/build"
logged "$work_dir/configure.log" "$cmake_bin" -S "$work_dir/src" -B "$work_dir/build" "${configure_args[@]}"
grep -q "torchport_DIR:PATH=$prefix/" "$work_dir/build/CMakeCache.txt" ||
  fail "find_package(torchport) did not use the install in $prefix"
logged "$work_dir/build.log" "$cmake_bin" --build "$work_dir/build"
if grep -E "warning:" "$work_dir/build.log"; then fail "the example builds with warnings (log: $work_dir/build.log)"; fi
ops="$work_dir/build/libfancy_act_ops.so"
plugin="$work_dir/build/libtorchport_fancy_act.so"
[[ -f "$ops" && -f "$plugin" ]] || fail "the example did not produce $ops and $plugin"

# ---- 2. the model ----
step "script and save a model that calls torch.ops.mylib.fancy_act"
run_dir="$work_dir/run"
mkdir -p "$run_dir"
cp "$example"/configs/*.yaml "$run_dir/"
logged "$work_dir/make_model.log" "$PYTHON" "$example/python/make_model.py" --ops "$ops" --out "$run_dir"

# ---- 3. exports ----
step "the plugin is listed with what it adds"
"$torchport" plugins --plugin "$plugin" --json >"$work_dir/plugins.json" 2>"$work_dir/plugins.err" ||
  { cat "$work_dir/plugins.err" >&2; fail "torchport plugins --plugin $plugin failed"; }
"$PYTHON" - "$work_dir/plugins.json" <<'PY' || fail "torchport plugins --json (see $work_dir/plugins.json)"
import json, sys
plugins = {p["name"]: p for p in json.load(open(sys.argv[1]))["plugins"]}
fancy = plugins.get("fancy-act") or sys.exit(f"fancy-act not listed: {sorted(plugins)}")
provides = fancy["provides"]
if "pass:lower-fancy-act" not in provides or not any(p.startswith("converter:mylib::fancy_act") for p in provides):
    sys.exit(f"fancy-act provides {provides}")
for name in ("torchscript", "onnx", "formats"):
    if name not in plugins:
        sys.exit(f"installed plugin {name} not found: {sorted(plugins)}")
PY

export_with() {  # config name -> runs it, report in $run_dir/<name>.json
  local name=$1
  if ! "$torchport" run "$run_dir/$name.yaml" --plugin "$plugin" --json >"$run_dir/$name.json" 2>"$run_dir/$name.err"; then
    cat "$run_dir/$name.err" "$run_dir/$name.json" >&2
    fail "torchport run $name.yaml failed"
  fi
}
step "decomposition converter (lower-fancy-act{mode=decompose})"
export_with decompose
step "custom-domain converter (lower-fancy-act{mode=custom}), checked against the plugin's ONNX schema"
export_with custom
step "YAML custom-op decomposition, plus save-safetensors and save-dot"
export_with yaml_custom_op

# ---- 4. verification ----
step "ONNX Runtime runs the decomposed models and matches LibTorch"
for model in fancy_decomposed fancy_yaml; do
  mkdir -p "$run_dir/ort_$model"
  logged "$run_dir/ort_$model.log" node "$oracle/run.js" "$run_dir/out/$model.onnx" "$run_dir/inputs" "$run_dir/ort_$model"
done
"$PYTHON" - "$run_dir" "$ops" "$example/../../plugins/formats/tests" <<'PY' || fail "verification (see $run_dir)"
import json, pathlib, sys
import numpy as np
import onnx
import torch

run, ops, reader_dir = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
expected = np.load(run / "expected" / "y.npy")
for model in ("fancy_decomposed", "fancy_yaml"):
    outputs = json.load(open(run / f"ort_{model}" / "outputs.json"))
    entries = outputs["outputs"] if isinstance(outputs, dict) else outputs
    if len(entries) != 1:
        sys.exit(f"{model}: expected one output, got {entries}")
    got = np.load(run / f"ort_{model}" / entries[0]["file"])
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-4, atol=1e-5):
        sys.exit(f"{model}: ONNX Runtime output differs from LibTorch: max |diff| = "
                 f"{np.abs(got - expected).max() if got.shape == expected.shape else got.shape}")
    m = onnx.load(str(run / "out" / f"{model}.onnx"))
    kinds = {(n.domain, n.op_type) for n in m.graph.node}
    if any(d not in ("", "ai.onnx") for d, _ in kinds) or ("", "Sigmoid") not in kinds:
        sys.exit(f"{model}: not a standard-ONNX decomposition: {sorted(kinds)}")
    print(f"{model}: matches LibTorch (max |diff| {np.abs(got - expected).max():.2e})")

# The custom-domain model: two FancyAct nodes with their alpha, the domain imported, and
# the in-process checker (which knows the schema) passed.
m = onnx.load(str(run / "out" / "fancy_custom.onnx"))
fancy = [n for n in m.graph.node if n.op_type == "FancyAct"]
if len(fancy) != 2 or any(n.domain != "com.example" for n in fancy):
    sys.exit(f"expected 2 com.example::FancyAct nodes, got {[(n.domain, n.op_type) for n in m.graph.node]}")
alphas = sorted(round(a.f, 6) for n in fancy for a in n.attribute if a.name == "alpha")
if alphas != [0.25, 1.5]:
    sys.exit(f"FancyAct alphas {alphas}")
imports = {i.domain: i.version for i in m.opset_import}
if imports.get("com.example") != 1:
    sys.exit(f"opset imports {imports}")
report = json.load(open(run / "custom.json"))
checker = report["report"].get("onnx.checker", "")
if not checker.startswith("passed"):
    sys.exit(f"onnx.checker: {checker!r}")
if report["report"].get("fancy_act.mode") != "custom":
    sys.exit(f"report: {report['report']}")
# Strict shape inference used the schema: the custom node's output has a shape.
value_info = {v.name: v for v in list(m.graph.value_info) + list(m.graph.output)}
typed = [value_info[n.output[0]] for n in fancy if n.output[0] in value_info]
if not typed:
    sys.exit("no type/shape recorded for FancyAct outputs")

# safetensors from the YAML run == the model's parameters, read with an independent reader.
sys.path.insert(0, reader_dir)
import read_safetensors
tensors, metadata = read_safetensors.read(run / "out" / "fancy.safetensors")
torch.ops.load_library(ops)
state = torch.jit.load(str(run / "model.pt")).state_dict()
if sorted(tensors) != sorted(state):
    sys.exit(f"safetensors names {sorted(tensors)} != state_dict {sorted(state)}")
for name, value in state.items():
    if not np.array_equal(tensors[name], value.numpy()):
        sys.exit(f"safetensors {name} differs from the state_dict")
if metadata.get("producer") != "torchport":
    sys.exit(f"metadata {metadata}")
dot = (run / "out" / "fancy.dot").read_text()
if "digraph" not in dot or "onnx::Sigmoid" not in dot:
    sys.exit("fancy.dot does not draw the graph")
print("custom-domain model checked; safetensors == state_dict; dot written")
PY

echo "PASS: custom layer built against the installed SDK, exported three ways, verified in ONNX Runtime"
