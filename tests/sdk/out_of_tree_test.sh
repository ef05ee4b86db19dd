#!/usr/bin/env bash
# Out-of-tree plugin test: what a third party does with an installed torchport.
#
#   1. cmake --install <build> --prefix <work>/prefix
#   2. configure + build a copy of sdk/template with find_package(torchport) and Ninja
#   3. the installed `torchport plugins --plugin <built .so> --json` lists the plugin and its
#      pass; a small program built against the installed SDK loads it through PluginHost
#   4. `cmake --install` of the plugin puts it where the installed torchport finds it
#      without --plugin
#   5. the package is relocatable and refuses an incompatible major version
#
# Usage: out_of_tree_test.sh --build-dir DIR --template DIR --loader-check DIR --work-dir DIR
#                            [--cmake CMAKE] [--ninja NINJA] [--cxx CXX] [--cxx-flags FLAGS]
#                            [--version X.Y.Z]
set -euo pipefail

build_dir="" template="" loader_check="" work_dir="" cmake_bin=cmake ninja_bin=ninja cxx="" cxx_flags="" version=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --template) template=$2; shift 2 ;;
    --loader-check) loader_check=$2; shift 2 ;;
    --work-dir) work_dir=$2; shift 2 ;;
    --cmake) cmake_bin=$2; shift 2 ;;
    --ninja) ninja_bin=$2; shift 2 ;;
    --cxx) cxx=$2; shift 2 ;;
    --cxx-flags) cxx_flags=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    *) echo "out_of_tree_test.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
for required in build_dir template loader_check work_dir; do
  if [[ -z "${!required}" ]]; then echo "out_of_tree_test.sh: --${required//_/-} is required" >&2; exit 2; fi
done

PYTHON=/usr/bin/python3
step() { echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# Runs a command with its output in a log; shows the log when it fails.
logged() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    fail "command failed: $*  (log: $log)"
  fi
}

[[ -x "$build_dir/bin/torchport" ]] ||
  fail "$build_dir/bin/torchport is missing: build everything first (ninja -C $build_dir), the test installs the whole build"

rm -rf "$work_dir"
mkdir -p "$work_dir"
prefix="$work_dir/prefix"
# Neither the caller's plugin path nor its prefix path may leak into what is tested here.
unset TORCHPORT_PLUGIN_PATH CMAKE_PREFIX_PATH

configure_args=(-G Ninja "-DCMAKE_MAKE_PROGRAM=$ninja_bin" -DCMAKE_BUILD_TYPE=Release)
[[ -n "$cxx" ]] && configure_args+=("-DCMAKE_CXX_COMPILER=$cxx")
[[ -n "$cxx_flags" ]] && configure_args+=("-DCMAKE_CXX_FLAGS=$cxx_flags")

# ---- 1. install ----
step "install $build_dir into $prefix"
if ! "$cmake_bin" --install "$build_dir" --prefix "$prefix" >"$work_dir/install.log" 2>&1; then
  cat "$work_dir/install.log" >&2
  if grep -q "cannot find" "$work_dir/install.log"; then
    fail "cmake --install needs every installed target built: run 'ninja -C $build_dir' first"
  fi
  fail "cmake --install $build_dir failed (log: $work_dir/install.log)"
fi
for file in bin/torchport include/torchport/torchport.h include/torchport/plugin.h include/torchport/registry.h \
            include/torchport/host/plugin_host.h; do
  [[ -f "$prefix/$file" ]] || fail "the install lacks $file"
done
config=$(find "$prefix" -name torchportConfig.cmake -print -quit)
[[ -n "$config" ]] || fail "the install has no torchportConfig.cmake"
package_dir=$(dirname "$config")
for file in torchportConfigVersion.cmake torchportTargets.cmake torchportPlugin.cmake; do
  [[ -f "$package_dir/$file" ]] || fail "the install lacks $package_dir/$file"
done
if grep -q "$build_dir" "$package_dir"/torchportTargets*.cmake; then
  fail "the installed package refers to the build tree ($build_dir)"
fi

# ---- 2. build the template against the installed SDK ----
step "build the plugin template against the installed SDK"
cp -r "$template" "$work_dir/template-src"
rm -rf "$work_dir/template-src/build"
logged "$work_dir/template-configure.log" "$cmake_bin" -S "$work_dir/template-src" -B "$work_dir/template-build" \
  "${configure_args[@]}" "-DCMAKE_PREFIX_PATH=$prefix"
grep -q "torchport_DIR:PATH=$package_dir" "$work_dir/template-build/CMakeCache.txt" ||
  fail "find_package(torchport) did not pick the installed package in $package_dir"
logged "$work_dir/template-build.log" "$cmake_bin" --build "$work_dir/template-build"
plugin="$work_dir/template-build/libtorchport_template.so"
[[ -f "$plugin" ]] || fail "the template did not produce $plugin"
# Hidden visibility: the entry point is exported, the plugin's own functions are not.
exports=$(nm -D --defined-only "$plugin")
grep -q ' T torchport_get_plugin_info$' <<<"$exports" || fail "$plugin does not export torchport_get_plugin_info"
if grep -qE 'registerAll|countOps|countNodes' <<<"$exports"; then
  fail "$plugin exports internal symbols (hidden visibility not applied)"
fi

# Checks `torchport plugins --json` output (file $1): plugin "template" with its pass, loaded
# from $2.
check_plugins_json() {
  "$PYTHON" - "$1" "$2" <<'EOF'
import json, os, sys
report_file, expected_path = sys.argv[1], sys.argv[2]
with open(report_file) as f:
    report = json.load(f)
plugins = report.get("plugins", [])
found = [p for p in plugins if p.get("name") == "template"]
if not found:
    sys.exit("plugin 'template' is not listed: %s" % [p.get("name") for p in plugins])
plugin = found[0]
if "pass:template-count-ops" not in plugin.get("provides", []):
    sys.exit("plugin 'template' does not provide pass:template-count-ops: %s" % plugin.get("provides"))
if plugin.get("version") != "0.1.0":
    sys.exit("plugin 'template' has version %r, expected 0.1.0" % plugin.get("version"))
if os.path.realpath(plugin.get("path") or "") != os.path.realpath(expected_path):
    sys.exit("plugin 'template' was loaded from %r, expected %r" % (plugin.get("path"), expected_path))
if report.get("warnings"):
    sys.exit("unexpected warnings: %s" % report["warnings"])
EOF
}

# ---- 3. the installed torchport loads it ----
step "installed torchport loads the plugin (--plugin)"
if ! "$prefix/bin/torchport" plugins --plugin "$plugin" --json >"$work_dir/plugins.json" 2>"$work_dir/plugins.err"; then
  cat "$work_dir/plugins.err" >&2
  fail "torchport plugins --plugin $plugin --json failed"
fi
check_plugins_json "$work_dir/plugins.json" "$plugin" || fail "torchport plugins --json (see $work_dir/plugins.json)"
"$prefix/bin/torchport" passes --plugin "$plugin" >"$work_dir/passes.txt" 2>&1 ||
  { cat "$work_dir/passes.txt" >&2; fail "torchport passes --plugin $plugin failed"; }
grep -q 'template-count-ops' "$work_dir/passes.txt" || fail "torchport passes does not list template-count-ops"

step "the plugin's pass runs in a pipeline that names the plugin in \`plugins:\`"
mkdir -p "$work_dir/pipeline"
cat >"$work_dir/pipeline/model.tpir" <<'EOF'
graph @main(%x: f32[2]) -> (%z: f32[2]) {
  %y: f32[2] = test::op(%x)
  %w: f32[2] = aten::relu(%y)
  %z: f32[2] = test::op(%w)
}
EOF
cat >"$work_dir/pipeline/config.yaml" <<EOF
torchport: 1
plugins: [$plugin]
input:
  path: model.tpir
pipeline:
  - template-count-ops: {op: "test::op"}
  - save-ir: {path: out/model.tpir}
EOF
if ! "$prefix/bin/torchport" run "$work_dir/pipeline/config.yaml" --json >"$work_dir/pipeline/report.json" \
     2>"$work_dir/pipeline/run.err"; then
  cat "$work_dir/pipeline/run.err" "$work_dir/pipeline/report.json" >&2
  fail "torchport run with the template plugin failed"
fi
"$PYTHON" - "$work_dir/pipeline/report.json" <<'EOF' || fail "pipeline report (see $work_dir/pipeline/report.json)"
import json, sys
with open(sys.argv[1]) as f:
    report = json.load(f)
if report.get("ok") is not True:
    sys.exit("run not ok: %s" % report.get("error"))
count = report.get("report", {}).get("template.count")
if count != 2:
    sys.exit("template.count is %r, expected 2 (two test::op nodes)" % count)
EOF
[[ -f "$work_dir/pipeline/out/model.tpir" ]] || fail "the pipeline did not write out/model.tpir"

step "a program built against the installed SDK loads the plugin through PluginHost"
logged "$work_dir/loader-configure.log" "$cmake_bin" -S "$loader_check" -B "$work_dir/loader-build" \
  "${configure_args[@]}" "-DCMAKE_PREFIX_PATH=$prefix"
logged "$work_dir/loader-build.log" "$cmake_bin" --build "$work_dir/loader-build"
logged "$work_dir/loader-run.log" "$work_dir/loader-build/loader_check" "$plugin" template-count-ops
grep -q '^template 0.1.0 ' "$work_dir/loader-run.log" || fail "loader_check did not load plugin 'template' 0.1.0"
grep -q 'pass:template-count-ops' "$work_dir/loader-run.log" || fail "loader_check: template-count-ops not provided"
grep -q '^ran template-count-ops$' "$work_dir/loader-run.log" || fail "loader_check: the pass did not run"

# ---- 4. installed next to torchport, it is found without --plugin ----
step "cmake --install of the plugin puts it on torchport's search path"
logged "$work_dir/template-install.log" "$cmake_bin" --install "$work_dir/template-build" --prefix "$prefix"
installed=$(find "$prefix" -path '*/torchport/plugins/libtorchport_template.so' -print -quit)
[[ -n "$installed" ]] || fail "torchport_add_plugin(... INSTALL) did not install into <prefix>/lib/torchport/plugins"
if ! "$prefix/bin/torchport" plugins --json >"$work_dir/plugins-installed.json" 2>"$work_dir/plugins-installed.err"; then
  cat "$work_dir/plugins-installed.err" >&2
  fail "torchport plugins --json failed after installing the plugin"
fi
check_plugins_json "$work_dir/plugins-installed.json" "$installed" ||
  fail "installed plugin not found by the search path (see $work_dir/plugins-installed.json)"

# ---- 5. relocatable, and versioned ----
step "the package is relocatable and checks its version"
mv "$prefix" "$work_dir/moved-prefix"
logged "$work_dir/moved-configure.log" "$cmake_bin" -S "$work_dir/template-src" -B "$work_dir/moved-build" \
  "${configure_args[@]}" "-DCMAKE_PREFIX_PATH=$work_dir/moved-prefix"
grep -q "torchport_DIR:PATH=$work_dir/moved-prefix/" "$work_dir/moved-build/CMakeCache.txt" ||
  fail "find_package(torchport) did not find the moved package"
if [[ -n "$version" ]]; then
  major=${version%%.*}
  mkdir -p "$work_dir/version-check"
  cat >"$work_dir/version-check/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.20)
project(version_check LANGUAGES CXX)
find_package(torchport $((major + 1)).0 REQUIRED)
EOF
  if "$cmake_bin" -S "$work_dir/version-check" -B "$work_dir/version-check/build" "${configure_args[@]}" \
       "-DCMAKE_PREFIX_PATH=$work_dir/moved-prefix" >"$work_dir/version-check.log" 2>&1; then
    fail "find_package(torchport $((major + 1)).0) accepted torchport $version"
  fi
  grep -q "$version" "$work_dir/version-check.log" || fail "the version mismatch message does not name $version"
fi

echo "PASS: out-of-tree plugin built against the installed SDK and loaded by torchport"
