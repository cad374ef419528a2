#!/usr/bin/env bash
# Build a release `cmdai` with `--features cuda` on a Linux x86_64 machine that has
# no GPU and no system CUDA toolkit. NVIDIA's compiler, headers and link-time
# libraries come from PyPI wheels (CUDA 13.0 line), unpacked into a toolchain
# directory outside the repository. See docs/CUDA.md for the why of each step.
#
# Usage: scripts/build-cuda.sh [extra cargo build args...]
#
# Environment (all optional):
#   CUDA_TOOLCHAIN_DIR  where the wheels are downloaded and unpacked
#                       (default /work/cuda-toolchain)
#   CARGO_TARGET_DIR    cargo target dir (default /work/target-cuda; kept apart
#                       from the normal CPU build in ./target)
#   CUDA_COMPUTE_CAP    GPU architecture to compile kernels for (default 90 =
#                       H100/H200; cudaforge turns 90 into sm_90a)
#   CUDAFORGE_THREADS   parallel nvcc jobs inside candle-kernels' build script
#                       (default: number of CPUs)
#   NICE                niceness of the cargo build (default 19)
#   PYTHON              python used to run pip (default python3)
#   STRIP_COPY          1 (default) also writes <binary>.stripped; 0 skips it
set -euo pipefail

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLCHAIN_DIR="${CUDA_TOOLCHAIN_DIR:-/work/cuda-toolchain}"
WHEEL_DIR="$TOOLCHAIN_DIR/wheels"
SITE_DIR="$TOOLCHAIN_DIR/site-packages"
# CUDA 13 wheels all unpack into nvidia/cu13/{bin,include,lib,nvvm}, which is
# laid out like a normal toolkit root, so it serves as CUDA_HOME.
CUDA_DIR="$SITE_DIR/nvidia/cu13"
PYTHON="${PYTHON:-python3}"
NICE="${NICE:-19}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-cuda}"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"

# Pinned wheels, all from the CUDA 13.0 release line. The GPU machine's driver
# (580) supports CUDA 13.0, i.e. PTX ISA 9.0: a newer nvcc would emit PTX the
# driver cannot JIT. nvcc's own dependencies (crt, nvvm) are unpinned in its
# metadata, so they are pinned here and everything is installed with --no-deps.
WHEELS=(
  "nvidia-cuda-nvcc==13.0.88"    # nvcc, ptxas, fatbinary, nvlink
  "nvidia-cuda-crt==13.0.88"     # include/crt/* host/device headers nvcc needs
  "nvidia-nvvm==13.0.88"         # cicc + libdevice (nvcc's device front end)
  "nvidia-cuda-runtime==13.0.96" # cuda_runtime.h etc. + libcudart.so.13
  "nvidia-cuda-cccl==13.0.85"    # libcu++/CUB/Thrust headers (include/cccl)
  "nvidia-cuda-nvrtc==13.0.88"   # libnvrtc.so.13 (link time)
  "nvidia-cublas==13.0.2.14"     # libcublas.so.13, libcublasLt.so.13 (link time)
  "nvidia-curand==10.4.0.35"     # libcurand.so.10 (link time)
)

log() { printf '==> %s\n' "$*" >&2; }

if [[ "$(uname -s)/$(uname -m)" != "Linux/x86_64" ]]; then
  echo "This recipe is for Linux x86_64 only." >&2
  exit 1
fi
for tool in "$PYTHON" cargo gcc g++ readelf strip; do
  command -v "$tool" >/dev/null || { echo "missing required tool: $tool" >&2; exit 1; }
done

# ---------------------------------------------------------------------------
# 1. Download the wheels (skipping those already in $WHEEL_DIR)
# ---------------------------------------------------------------------------
# "nvidia-cuda-nvcc==13.0.88" -> "nvidia_cuda_nvcc-13.0.88" (wheel/dist-info stem)
wheel_stem() {
  local spec="$1" name ver
  name="${spec%%==*}"
  ver="${spec##*==}"
  printf '%s-%s' "${name//-/_}" "$ver"
}

mkdir -p "$WHEEL_DIR"
missing=()
for spec in "${WHEELS[@]}"; do
  if ! compgen -G "$WHEEL_DIR/$(wheel_stem "$spec")-*.whl" >/dev/null; then
    missing+=("$spec")
  fi
done
if ((${#missing[@]})); then
  log "downloading ${#missing[@]} wheel(s) into $WHEEL_DIR (cuBLAS alone is ~420 MB)"
  "$PYTHON" -m pip download --disable-pip-version-check --no-deps \
    --only-binary=:all: -d "$WHEEL_DIR" "${missing[@]}"
else
  log "all wheels already in $WHEEL_DIR"
fi

# ---------------------------------------------------------------------------
# 2. Unpack them into $SITE_DIR (skipped if every dist-info is present)
# ---------------------------------------------------------------------------
# `pip install --target` skips (or with --upgrade, replaces) a top-level
# directory that already exists, and every wheel here shares the top-level
# `nvidia/`. So all wheels are installed in one pip call into a fresh directory.
need_install=0
for spec in "${WHEELS[@]}"; do
  [[ -d "$SITE_DIR/$(wheel_stem "$spec").dist-info" ]] || need_install=1
done
if ((need_install)); then
  log "installing wheels into $SITE_DIR"
  wheel_files=()
  for spec in "${WHEELS[@]}"; do
    wheel_files+=("$(compgen -G "$WHEEL_DIR/$(wheel_stem "$spec")-*.whl" | head -n1)")
  done
  rm -rf "$SITE_DIR.tmp"
  "$PYTHON" -m pip install --disable-pip-version-check --no-deps --no-index \
    --target "$SITE_DIR.tmp" "${wheel_files[@]}"
  rm -rf "$SITE_DIR"
  mv "$SITE_DIR.tmp" "$SITE_DIR"
else
  log "wheels already installed in $SITE_DIR"
fi
[[ -x "$CUDA_DIR/bin/nvcc" ]] || { echo "nvcc not found at $CUDA_DIR/bin/nvcc" >&2; exit 1; }

# ---------------------------------------------------------------------------
# 3. Make the wheel tree linkable
# ---------------------------------------------------------------------------
# The wheels ship only versioned sonames (libcublas.so.13); `-lcublas` needs the
# unversioned dev symlink. They go next to the real files so that cuBLAS's
# $ORIGIN RUNPATH lets the linker find libcublasLt.so.13 too.
for lib in cudart:13 cublas:13 cublasLt:13 curand:10 nvrtc:13; do
  name="${lib%%:*}"
  ver="${lib##*:}"
  [[ -e "$CUDA_DIR/lib/lib$name.so.$ver" ]] || { echo "missing lib$name.so.$ver" >&2; exit 1; }
  ln -sfn "lib$name.so.$ver" "$CUDA_DIR/lib/lib$name.so"
done

# cudarc (dynamic-linking) links -lcuda, but libcuda.so belongs to the driver
# and no wheel carries NVIDIA's link stub. Build our own stub: a shared object
# with soname libcuda.so.1 exporting every driver function cudarc declares.
# At run time the driver's real libcuda.so.1 is loaded instead; the stub lives
# in lib/stubs and must never be put on LD_LIBRARY_PATH.
log "fetching crates (needed to read cudarc's driver bindings)"
(cd "$REPO_ROOT" && cargo fetch --locked >/dev/null)
cudarc_ver="$(awk '/^name = "cudarc"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$REPO_ROOT/Cargo.lock")"
[[ -n "$cudarc_ver" ]] || { echo "cudarc not found in Cargo.lock" >&2; exit 1; }
cudarc_src="$(compgen -G "${CARGO_HOME:-$HOME/.cargo}/registry/src/*/cudarc-$cudarc_ver" | head -n1 || true)"
[[ -n "$cudarc_src" ]] || { echo "cudarc-$cudarc_ver sources not found under ${CARGO_HOME:-$HOME/.cargo}/registry/src" >&2; exit 1; }
stub_dir="$CUDA_DIR/lib/stubs"
mkdir -p "$stub_dir"
stub_c="$stub_dir/libcuda_stub.c"
{
  echo "/* Link-time stub for libcuda.so.1, generated from cudarc-$cudarc_ver by scripts/build-cuda.sh. */"
  grep -oP '^\s+fn \Kcu\w+(?=\()' "$cudarc_src/src/driver/sys/mod.rs" | sort -u |
    sed 's/.*/int &(void) { return 999; }/'
} >"$stub_c"
gcc -shared -fPIC -O0 -Wl,-soname,libcuda.so.1 -o "$stub_dir/libcuda.so" "$stub_c"
log "libcuda stub: $(grep -c '^int ' "$stub_c") symbols -> $stub_dir/libcuda.so"

# ---------------------------------------------------------------------------
# 4. Environment for the build scripts
# ---------------------------------------------------------------------------
# PATH: cudarc's build script runs plain `nvcc --version`; cudaforge also
#       looks nvcc up on PATH (or $NVCC).
# CUDA_HOME: cudarc adds $CUDA_HOME/{lib,lib/stubs,...} as link search paths
#       (for -lcuda -lcublas -lcublasLt -lcurand -lnvrtc, and candle-kernels'
#       -lcudart). The other CUDA_* root variables are cleared so no system
#       CUDA is mixed in.
# CUDARC_CUDA_VERSION: pin cudarc's bindings to the CUDA 13.0 API (what the
#       driver 580 provides) instead of parsing `nvcc --version`.
# CUDA_COMPUTE_CAP: cudaforge compiles only this architecture (no nvidia-smi
#       here to detect one).
export PATH="$CUDA_DIR/bin:$PATH"
export NVCC="$CUDA_DIR/bin/nvcc"
export CUDA_HOME="$CUDA_DIR"
unset CUDA_PATH CUDA_ROOT CUDA_TOOLKIT_ROOT_DIR CUDNN_LIB NVCC_CCBIN || true
export CUDARC_CUDA_VERSION="${CUDARC_CUDA_VERSION:-13000}"
export CUDAFORGE_THREADS="${CUDAFORGE_THREADS:-$(nproc)}"

log "nvcc: $("$NVCC" --version | grep -o 'release [0-9.]*, V[0-9.]*')"
log "CUDA_HOME=$CUDA_HOME CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

# ---------------------------------------------------------------------------
# 5. Build
# ---------------------------------------------------------------------------
# Nothing in RUSTFLAGS: that would override .cargo/config.toml's target-cpu.
start=$(date +%s)
(cd "$REPO_ROOT" && nice -n "$NICE" cargo build --release --locked -p cmdai-cli --features cuda "$@")
elapsed=$(($(date +%s) - start))

bin="$CARGO_TARGET_DIR/release/cmdai"
size=$(stat -c %s "$bin")
log "build took $((elapsed / 60)) min $((elapsed % 60)) s"
log "binary: $bin ($size bytes, $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }') MiB)"
log "shared libraries it needs (readelf -d NEEDED):"
readelf -d "$bin" | awk '/NEEDED/ { gsub(/[][]/, "", $NF); print "    " $NF }' >&2

# A copy without the symbol table (~4 MiB smaller; panics and backtraces then
# show addresses instead of function names). The profile is left alone:
# CARGO_PROFILE_RELEASE_STRIP would change every crate's hash and so rebuild
# everything, the CUDA kernels included.
if [[ "${STRIP_COPY:-1}" == 1 ]]; then
  strip --strip-all -o "$bin.stripped" "$bin"
  ssize=$(stat -c %s "$bin.stripped")
  log "stripped copy: $bin.stripped ($ssize bytes, $(awk -v s="$ssize" 'BEGIN { printf "%.1f", s / 1048576 }') MiB)"
fi
log "at run time: LD_LIBRARY_PATH=<site-packages>/nvidia/cu13/lib plus the driver's libcuda.so.1 (docs/CUDA.md)"
echo "$bin"
