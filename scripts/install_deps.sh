#!/usr/bin/env bash
# Installs everything pneuma needs to build and test, from Debian packages only (no vendored sources).
# Usage: scripts/install_deps.sh [--with-torch]
#   --with-torch  also installs Debian's python3-torch, python3-torchvision and python3-h5py: the reference
#                 scripts in tools/, the model parity tests (PyTorch writes their checkpoints at test time) and bench/
set -euo pipefail
with_torch=0
for arg in "$@"; do
  case "$arg" in
    --with-torch) with_torch=1 ;;
    *) echo "install_deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done
packages=(
  build-essential cmake ninja-build pkg-config
  ccache                   # shared compile cache: rebuilds in several build folders stay cheap
  libopenblas-dev          # fast CPU GEMM behind our portable fallback
  libstb-dev               # image decoding (PNG/JPEG/BMP, 8/16-bit)
  nlohmann-json3-dev       # checkpoint metadata, reports
  libcli11-dev             # the pneuma CLI
  libzip-dev               # PyTorch .pth files are zip archives
  libhdf5-dev              # Keras .h5 weights
  libgtest-dev libgmock-dev libbenchmark-dev
)
if [ "$with_torch" = 1 ]; then packages+=(python3-torch python3-torchvision python3-numpy python3-h5py); fi
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -eq 0 ]; then echo "install_deps: all packages present"; exit 0; fi
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install_deps: installed ${missing[*]}"
