#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run):
#   1. dependencies (scripts/setup.sh, idempotent);
#   2. build/ (Ninja, every plugin) and ctest over every label: unit, golden, plugin host,
#      cli, sdk, e2e...;
#   3. build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer, without the
#      LibTorch / ONNX plugins, running the core unit, golden and plugin-host tests.
# Exits non-zero on the first failure. TORCHPORT_JOBS sets build parallelism (default 2).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JOBS=${TORCHPORT_JOBS:-2}

section() { printf '\n==== %s ====\n' "$*"; }

section "dependencies"
bash scripts/setup.sh

section "build (build/)"
cmake -S . -B build -G Ninja -DTORCHPORT_BUILD_TESTS=ON
cmake --build build --parallel "$JOBS"

section "tests (build/, all labels)"
ctest --test-dir build --output-on-failure --parallel 2

section "build under ASan/UBSan (build-asan/)"
cmake -S . -B build-asan -G Ninja -DTORCHPORT_BUILD_TESTS=ON -DTORCHPORT_SANITIZE=ON \
  -DTORCHPORT_BUILD_TORCHSCRIPT=OFF -DTORCHPORT_BUILD_ONNX=OFF
cmake --build build-asan --parallel "$JOBS"

section "unit + golden + plugin host tests under ASan/UBSan"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build-asan --output-on-failure --parallel 2 -L "unit|golden"

section "all tests passed"
