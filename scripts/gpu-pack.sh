#!/usr/bin/env bash
# Packs what scripts/gpu-run.sh needs on the GPU machine into gpu-run/ (git-ignored, about
# 17 MB: at most 64 MiB travels with a device call): the CUDA build of cmdai and of the parity,
# synthesize and gpu_kernels examples (scripts/build-cuda.sh, plus
# `cargo build --release -p cmdai-backend-candle --features cuda --example parity --example synthesize --example gpu_kernels`
# with the same environment), stripped and xz-compressed, and the headers of the real models
# (metadata and tensor table only) for same-shape stand-ins there. Then, with the device tool:
#   run: bash scripts/gpu-run.sh    carry: ["gpu-run"]
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-/work/target-cuda}/release
out=gpu-run
mkdir -p "$out"
for binary in "$target/cmdai" "$target/examples/parity" "$target/examples/synthesize" "$target/examples/gpu_kernels"; do
    [[ -x $binary ]] || { echo "missing $binary: build it with --features cuda first" >&2; exit 1; }
    strip -o "$out/$(basename "$binary")" "$binary"
    xz -T2 -6 -f "$out/$(basename "$binary")"
done
cmdai=$(command -v cmdai || echo target/release/cmdai)
for model in qwen2.5-coder-1.5b:qwen15 smollm2-135m:smollm2 gemma3-270m:gemma3; do
    path=$("$cmdai" models path "${model%%:*}")
    "$target/examples/synthesize" header "$path" "$out/${model##*:}.header.gguf" 2>/dev/null \
        || cargo run -q --release -p cmdai-backend-candle --example synthesize -- header "$path" "$out/${model##*:}.header.gguf"
    xz -6 -f "$out/${model##*:}.header.gguf"
done
ls -la "$out"
