#!/usr/bin/env bash
# End-to-end tests of the torchport command line (ctest label: cli).
#   bash tests/cli_test.sh path/to/torchport path/to/source-dir
# Every check runs the real binary and looks at exit code, stdout, stderr and the files
# it did (or did not) write. Prints one line per check; exits non-zero if any failed.
set -uo pipefail

TORCHPORT=${1:?usage: cli_test.sh TORCHPORT SOURCE_DIR}
SRC=${2:?usage: cli_test.sh TORCHPORT SOURCE_DIR}
TORCHPORT=$(cd "$(dirname "$TORCHPORT")" && pwd)/$(basename "$TORCHPORT")
SRC=$(cd "$SRC" && pwd)
[ -x "$TORCHPORT" ] || { echo "cli_test.sh: $TORCHPORT is not an executable" >&2; exit 2; }
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
DEMO_MODEL="$SRC/examples/demo/model.tpir"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/torchport-cli-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

failures=0
checks=0
OUT="$WORK/stdout"
ERR="$WORK/stderr"
RC=0

# run ARGS...: runs torchport, keeping stdout/stderr/exit code for the assertions below.
run() {
  "$TORCHPORT" "$@" >"$OUT" 2>"$ERR"
  RC=$?
}

fail() {
  failures=$((failures + 1))
  echo "FAIL: $CHECK: $*"
  echo "  exit code: $RC"
  echo "  stdout:"; sed 's/^/    | /' "$OUT" | head -40
  echo "  stderr:"; sed 's/^/    | /' "$ERR" | head -40
}

begin() { CHECK="$1"; checks=$((checks + 1)); }
pass() { echo "ok: $CHECK"; }

expect_rc() { [ "$RC" -eq "$1" ] || { fail "expected exit code $1"; return 1; }; }
expect_stdout() { grep -qE -- "$1" "$OUT" || { fail "stdout lacks /$1/"; return 1; }; }
expect_stderr() { grep -qE -- "$1" "$ERR" || { fail "stderr lacks /$1/"; return 1; }; }
expect_no_stdout() { ! grep -qE -- "$1" "$OUT" || { fail "stdout unexpectedly has /$1/"; return 1; }; }
expect_json_stdout() {
  "$PYTHON" -m json.tool <"$OUT" >/dev/null 2>"$WORK/json-error" || {
    fail "stdout is not valid JSON: $(cat "$WORK/json-error")"
    return 1
  }
}
# Exactly one error, printed once, prefixed "torchport: error:".
expect_single_error() {
  local count
  count=$(grep -c '^torchport: error:' "$ERR")
  [ "$count" -eq 1 ] || { fail "expected exactly one 'torchport: error:' line, got $count"; return 1; }
}
expect_missing() { [ ! -e "$1" ] || { fail "$1 must not exist"; return 1; }; }
expect_file() { [ -s "$1" ] || { fail "$1 was not written"; return 1; }; }

# A config in the work dir for the error cases; $1 = file name, stdin = YAML.
config() { cat >"$WORK/$1"; }

# ---------------------------------------------------------------------------------------
begin "--version prints torchport and plugin API versions"
run --version
expect_rc 0 && expect_stdout '^torchport [0-9]+\.[0-9]+\.[0-9]+$' && expect_stdout '^plugin API version [0-9]+$' && pass

begin "--help exits 0"
run --help
expect_rc 0 && expect_stdout 'Subcommands' && expect_stdout 'convert' && pass

begin "unknown command is a usage error with a suggestion"
run rnu
expect_rc 2 && expect_single_error && expect_stderr "did you mean 'run'" && pass

begin "missing argument is a usage error"
run run
expect_rc 2 && expect_stderr '^torchport: error:' && pass

begin "bad --log-level is a usage error"
run --log-level loud passes
expect_rc 2 && expect_single_error && expect_stderr 'trace, debug, info' && pass

# ---------------------------------------------------------------------------------------
begin "passes lists the core steps"
run passes
expect_rc 0 && expect_stdout '^  eliminate-dead-code ' && expect_stdout '^  eliminate-identity ' &&
  expect_stdout '^  save-ir ' && expect_stdout 'fixpoint' && pass

begin "passes NAME documents a step and its options"
run passes save-ir
expect_rc 0 && expect_stdout '^save-ir \(export' && expect_stdout 'Options:' &&
  expect_stdout '^  path +string +\(required\)' && expect_stdout 'elide_above +int' && pass

begin "passes NAME with description"
run passes eliminate-identity
expect_rc 0 && expect_stdout 'Before:' && expect_stdout 'After:' && pass

begin "passes --json is valid JSON"
run passes --json
expect_rc 0 && expect_json_stdout && expect_stdout '"name": "eliminate-dead-code"' && pass

begin "passes NAME --json is valid JSON with options"
run passes save-ir --json
expect_rc 0 && expect_json_stdout && expect_stdout '"options"' && expect_stdout '"required": true' && pass

begin "passes with an unknown name suggests the closest"
run passes eliminate-dead-cod
expect_rc 2 && expect_single_error && expect_stderr "did you mean 'eliminate-dead-code'" && pass

# ---------------------------------------------------------------------------------------
begin "plugins lists core and the search path"
run plugins
expect_rc 0 && expect_stdout '^core ' && expect_stdout 'importers \([0-9]+\):.*tpir' && expect_stdout 'search path' && pass

begin "plugins --json is valid JSON"
run plugins --json
expect_rc 0 && expect_json_stdout && expect_stdout '"name": "core"' && pass

begin "--plugin with a missing file fails"
run --plugin "$WORK/libtorchport_absent.so" plugins
expect_rc 2 && expect_single_error && expect_stderr 'libtorchport_absent.so' && pass

# ---------------------------------------------------------------------------------------
begin "run the demo config (configs/identity-cleanup.yaml)"
run run "$SRC/configs/identity-cleanup.yaml" --stats
RESULT="$SRC/build/demo/model.cleaned.tpir"
if expect_rc 0 && expect_stdout '^wrote ' && expect_stdout '^eliminate-identity ' && expect_file "$RESULT"; then
  if grep -qE 'aten::(contiguous|detach|dropout|sigmoid|mul)' "$RESULT"; then
    fail "identities / dead code left in $RESULT"
  elif ! grep -q 'aten::linear' "$RESULT"; then
    fail "$RESULT lost the model"
  else
    pass
  fi
fi

begin "run --json prints only a JSON report, even with --print-ir-after"
config json-ok.yaml <<EOF
torchport: 1
input: {path: $DEMO_MODEL}
pipeline:
  - eliminate-identity
  - eliminate-dead-code
  - save-ir: {path: out/json-ok.tpir}
EOF
run run json-ok.yaml --json --print-ir-after all
expect_rc 0 && expect_json_stdout && expect_stdout '"ok": true' && expect_stderr 'IR after eliminate-identity' &&
  expect_file out/json-ok.tpir && pass

begin "run --print-ir-after STEP prints the IR"
run run json-ok.yaml --print-ir-after eliminate-dead-code -q
expect_rc 0 && expect_stdout 'IR after eliminate-dead-code' && expect_stdout '^graph @main' &&
  expect_no_stdout '^wrote' && pass

begin "run --print-ir-after with a step not in the pipeline is rejected before running"
rm -rf out
run run json-ok.yaml --print-ir-after fold-everything
expect_rc 2 && expect_single_error && expect_stderr 'fold-everything' && expect_missing out && pass

begin "run --input overrides the config's input"
printf 'graph @main(%%a: f32[2]) -> (%%b: f32[2]) {\n  %%b: f32[2] = aten::neg(%%a)\n}\n' >other.tpir
run run json-ok.yaml --input other.tpir --json
expect_rc 0 && expect_json_stdout && expect_stdout '"name": "a"' && pass

# ---------------------------------------------------------------------------------------
# Broken configs: one message on stderr naming file:line:column, an exit code for the
# class of problem, and the output file NOT written.
rm -rf out
begin "typo in a pass name"
config typo.yaml <<EOF
torchport: 1
input: {path: $DEMO_MODEL}
pipeline:
  - eliminate-identiy
  - save-ir: {path: out/typo.tpir}
EOF
run run typo.yaml
expect_rc 3 && expect_single_error && expect_stderr 'typo\.yaml:4:5: ' && expect_stderr "did you mean 'eliminate-identity'" &&
  expect_missing out/typo.tpir && expect_missing out && pass

begin "wrong option type"
config type.yaml <<EOF
torchport: 1
input: {path: $DEMO_MODEL}
pipeline:
  - save-ir: {path: out/type.tpir, elide_above: lots}
EOF
run run type.yaml
expect_rc 3 && expect_single_error && expect_stderr 'type\.yaml:4:[0-9]+: .*elide_above' && expect_missing out && pass

begin "bad indentation"
config indent.yaml <<EOF
torchport: 1
input:
  path: $DEMO_MODEL
 pipeline:
  - save-ir: {path: out/indent.tpir}
EOF
run run indent.yaml
expect_rc 3 && expect_single_error && expect_stderr 'indent\.yaml:[0-9]+:[0-9]+: ' && expect_missing out && pass

begin "missing plugin"
config plugin.yaml <<EOF
torchport: 1
plugins: [./libtorchport_nothere.so]
input: {path: $DEMO_MODEL}
pipeline:
  - save-ir: {path: out/plugin.tpir}
EOF
run run plugin.yaml
expect_rc 2 && expect_single_error && expect_stderr 'plugin\.yaml:2:[0-9]+: .*libtorchport_nothere\.so' && expect_missing out && pass

begin "every problem of a config is reported at once"
config many.yaml <<EOF
torchport: 1
input: {path: missing.tpir}
pipeline:
  - eliminate-identiy
  - save-ir: {path: out/many.tpir, colour: red}
EOF
run run many.yaml
expect_rc 3 && expect_single_error && expect_stderr 'many\.yaml:2:[0-9]+: .*missing\.tpir' &&
  expect_stderr 'many\.yaml:4:5: ' && expect_stderr 'many\.yaml:5:[0-9]+: .*colour' && expect_missing out && pass

begin "failed run with --json still prints a JSON report"
run run many.yaml --json
expect_rc 3 && expect_json_stdout && expect_stdout '"ok": false' && expect_stdout '"exit_code": 3' && expect_single_error && pass

begin "unreadable input is an input error"
printf 'graph @main(%%x: f32[2]) -> (%%x) {\n  %%y = aten::relu(%%nope)\n}\n' >broken.tpir
config broken.yaml <<EOF
torchport: 1
input: {path: broken.tpir}
pipeline:
  - save-ir: {path: out/broken.tpir}
EOF
run run broken.yaml
expect_rc 3 && expect_single_error && expect_stderr 'broken\.tpir:2:[0-9]+' && expect_missing out && pass

begin "missing config file"
run run does-not-exist.yaml
expect_rc 3 && expect_single_error && expect_stderr 'does-not-exist\.yaml' && pass

# ---------------------------------------------------------------------------------------
begin "inspect summarizes a model"
run inspect "$DEMO_MODEL"
expect_rc 0 && expect_stdout '^graph +@main: 15 nodes' && expect_stdout '^input +%input: f32\[batch,4\]' &&
  expect_stdout '^dynamic +batch' && expect_stdout '^  aten::linear +2$' && expect_stdout '^params +5 tensors' && pass

begin "inspect --ir prints the textual IR, eliding large tensors"
run inspect "$DEMO_MODEL" --ir
expect_rc 0 && expect_stdout '^graph @main\(%input: f32\[batch,4\]\)' &&
  expect_stdout '%fc1.weight = const f32\[8,4\] @"fc1.weight"$' && pass

begin "inspect --ir --full prints every tensor"
run inspect "$DEMO_MODEL" --ir --full
expect_rc 0 && expect_stdout '%fc1.weight = const f32\[8,4\] @"fc1.weight" dense<' && pass

begin "inspect --json is valid JSON"
run inspect "$DEMO_MODEL" --json --ir
expect_rc 0 && expect_json_stdout && expect_stdout '"aten::linear": 2' && expect_stdout '"ir": "graph @main' && pass

begin "inspect --dot writes Graphviz"
run inspect "$DEMO_MODEL" --dot graph.dot
if expect_rc 0 && expect_file graph.dot; then
  if command -v dot >/dev/null 2>&1 && ! dot -Tsvg graph.dot -o graph.svg 2>"$WORK/dot-error"; then
    fail "dot rejects the DOT file: $(cat "$WORK/dot-error")"
  else
    pass
  fi
fi

begin "inspect of a file nobody can read"
printf '\x01\x02\x03 not a model\n' >noise.bin
run inspect noise.bin
expect_rc 4 && expect_single_error && expect_stderr 'noise\.bin' && expect_stderr 'tpir' && pass

begin "inspect of a missing file"
run inspect absent.tpir
expect_rc 3 && expect_single_error && expect_stderr 'absent\.tpir' && pass

# ---------------------------------------------------------------------------------------
begin "convert tpir -> tpir with --passes"
run convert "$DEMO_MODEL" -o conv/clean.tpir --passes 'fixpoint(eliminate-identity,eliminate-dead-code)'
if expect_rc 0 && expect_file conv/clean.tpir; then
  if grep -qE 'aten::(contiguous|detach|sigmoid)' conv/clean.tpir; then fail "convert left identities"; else pass; fi
fi

begin "convert with a bad --passes is rejected with its column, nothing written"
run convert "$DEMO_MODEL" -o conv2/clean.tpir --passes 'eliminate-identity,elim{x=1}'
expect_rc 3 && expect_single_error && expect_stderr '--passes:1:20: ' && expect_missing conv2 && pass

begin "convert with ONNX-only flags to a non-ONNX output is a usage error"
run convert "$DEMO_MODEL" -o conv3/clean.tpir --opset 17
expect_rc 2 && expect_single_error && expect_stderr '--opset' && expect_missing conv3 && pass

begin "convert to an extension nobody writes"
run convert "$DEMO_MODEL" -o conv4/model.xyz
expect_rc 2 && expect_single_error && expect_stderr '\.tpir \(save-ir\)' && expect_missing conv4 && pass

begin "convert --inputs is checked"
run convert "$DEMO_MODEL" -o conv5/m.tpir --inputs 'input=f33[1,4]'
expect_rc 2 && expect_single_error && expect_stderr 'f33' && expect_missing conv5 && pass

begin "convert --json"
run convert "$DEMO_MODEL" -o conv6/m.tpir --json
expect_rc 0 && expect_json_stdout && expect_stdout '"written": true' && expect_file conv6/m.tpir && pass

# torch.save files (torchscript plugin): inspect lists a state_dict; a hostile pickle is
# refused without running (its payload would create $WORK/pwned).
if "$PYTHON" -c 'import torch' 2>/dev/null; then
  "$PYTHON" - "$WORK" <<'PY'
import os, sys, torch
work = sys.argv[1]
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + os.path.join(work, "pwned"),))
torch.save({"fc.weight": torch.zeros(2, 3)}, os.path.join(work, "sd.pth"), _use_new_zipfile_serialization=False)
torch.save({"w": torch.ones(1), "x": Evil()}, os.path.join(work, "evil.pth"))
PY
  begin "inspect a legacy state_dict"
  run inspect sd.pth
  expect_rc 0 && expect_stdout 'fc\.weight: f32\[2,3\]' && pass

  begin "inspect refuses a hostile pickle without running it"
  run inspect evil.pth
  expect_rc 3 && expect_stderr 'posix\.system' && expect_missing pwned && pass
fi

echo
echo "$((checks - failures))/$checks CLI checks passed"
[ "$failures" -eq 0 ]
