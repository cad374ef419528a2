#!/usr/bin/env bash
# On the GPU machine: cmdai and llama.cpp built with CUDA, on the same card and the same GGUF,
# alternating in one run (docs/CUDA.md, "Side by side with llama.cpp on one card").
#
# Carries gpu-run/ from scripts/gpu-pack.sh, plus gpu-run/llama-bench.xz: llama.cpp's
# llama-bench from the copy vendored in llama-cpp-python 0.3.36 (the same source as
# scripts/compare-llama-cpp.sh), built here with CUDA 13.0 for compute capability 9.0 by
# scripts/build-llama-cpp-cuda.sh (a reference for measuring only; nothing of it is part of cmdai).
#
#   run: bash scripts/gpu-vs-llama-cpp.sh [ROUNDS]      carry: ["gpu-run"]
set -uo pipefail
rounds=${1:-2}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
source "$(dirname "$0")/gpu-setup.sh"
chmod +x /tmp/llama-bench
model=/tmp/qwen15.gguf # the default model's shapes and quantization types, random weights
ls -la "$model"
/tmp/cmdai doctor 2>&1 | grep -i "gpu kernels" # compiles candle's kernels once, before timing
for round in $(seq "$rounds"); do
    echo "== round $round: llama.cpp (flash attention on, then llama-bench's default)"
    /tmp/llama-bench -m "$model" -ngl 99 -fa 1 -p 32,128,512 -n 32,128 -r 3 -o md 2>&1 | grep -E "^\|"
    /tmp/llama-bench -m "$model" -ngl 99 -p 128,512 -n 128 -r 3 -o md 2>&1 | grep -E "^\|" | tail -2
    echo "== round $round: cmdai"
    for pn in "32 32" "128 32" "512 32" "32 128"; do
        set -- $pn
        /tmp/cmdai bench --model "$model" --device cuda -p "$1" -n "$2" -r 3 2>&1 | tail -1
    done
done
