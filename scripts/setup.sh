#!/usr/bin/env bash
# Installs what torchport needs to build and test, on Debian 12. Idempotent: when every
# package is already installed it does not touch apt at all (and then works without
# root); otherwise it runs `apt-get update` only when the package lists lack a candidate,
# then `apt-get install` of the missing packages only.
#
# Node.js and npm are NOT installed from apt (Debian's npm conflicts with the preinstalled
# Node 20 and breaks the apt transaction); the ONNX Runtime oracle used by the end-to-end
# tests comes from npm (`npm ci --ignore-scripts` in tests/oracle), when npm exists.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

PACKAGES=(
  cmake ninja-build g++ pkg-config
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libboost-dev libboost-filesystem-dev
  libtorch-dev libonnx-dev libprotobuf-dev protobuf-compiler
  python3-torch python3-torchvision python3-onnx python3-numpy
  graphviz time
)

log() { echo "setup: $*"; }

is_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

has_candidate() {
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

install_packages() {
  local missing=() package
  for package in "${PACKAGES[@]}"; do
    is_installed "$package" || missing+=("$package")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "all ${#PACKAGES[@]} Debian packages are installed"
    return 0
  fi
  log "missing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: error: installing packages needs root; run: sudo bash scripts/setup.sh" >&2
    return 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local need_update=0
  for package in "${missing[@]}"; do
    has_candidate "$package" || need_update=1
  done
  if [ "$need_update" -eq 1 ]; then
    log "apt-get update (package lists lack a candidate)"
    apt-get update
  fi
  apt-get install -y --no-install-recommends "${missing[@]}"
}

# ONNX Runtime for the end-to-end oracle (tests/oracle), from its lockfile.
install_oracle() {
  local oracle="$ROOT/tests/oracle"
  [ -f "$oracle/package-lock.json" ] || return 0
  if ! command -v npm >/dev/null 2>&1; then
    log "warning: npm not found; the ONNX Runtime oracle (tests/oracle) is not installed." \
      "Install Node.js 18+ with npm (not from apt) to run the end-to-end tests."
    return 0
  fi
  # npm ci records what it installed in node_modules/.package-lock.json; reinstall when
  # that is missing or older than the lockfile.
  local installed="$oracle/node_modules/.package-lock.json"
  if [ -d "$oracle/node_modules" ] && [ -f "$installed" ] && [ ! "$oracle/package-lock.json" -nt "$installed" ]; then
    log "tests/oracle/node_modules is up to date"
    return 0
  fi
  log "npm ci --ignore-scripts in tests/oracle"
  (cd "$oracle" && npm ci --ignore-scripts --no-audit --no-fund)
}

install_packages
install_oracle
