#!/usr/bin/env bash
# On the GPU machine: cmdai and llama.cpp built with CUDA, on the same card and the same GGUF,
# alternating in one run (docs/CUDA.md, "Side by side with llama.cpp on one card").
#
# Carries gpu-run/ from scripts/gpu-pack.sh (cmdai, synthesize and the models' headers), plus
# gpu-run/llama-src.tar.xz (`scripts/build-llama-cpp-cuda.sh pack`): llama.cpp from the copy
# vendored in llama-cpp-python 0.3.36, the source scripts/compare-llama-cpp.sh builds for the CPU,
# which scripts/build-llama-cpp-cuda.sh builds there with the image's nvcc for compute
# capability 9.0 (a reference for measuring only; nothing of it is part of cmdai).
#
#   run: bash scripts/gpu-vs-llama-cpp.sh [ROUNDS]      carry: ["gpu-run"]
set -uo pipefail
rounds=${1:-2}
here="$(dirname "$0")"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
bash "$here/build-llama-cpp-cuda.sh" || exit 1
source "$here/gpu-setup.sh"
bench=/tmp/llama-bin/llama-bench
model=/tmp/qwen15.gguf # the default model's shapes and quantization types, random weights
ls -la "$model"
/tmp/cmdai doctor 2>&1 | grep -i -E "gpu kernels|cuda" | head -3 # compiles the kernels once
for round in $(seq "$rounds"); do
    echo "== round $round: llama.cpp (flash attention on)"
    "$bench" -m "$model" -ngl 99 -fa 1 -p 32,128,512 -n 32,128 -r 3 -o md 2>&1 | grep -E "^\|"
    echo "== round $round: llama.cpp (flash attention off)"
    "$bench" -m "$model" -ngl 99 -fa 0 -p 128,512 -n 128 -r 3 -o md 2>&1 | grep -E "^\|" | tail -3
    echo "== round $round: cmdai"
    for pn in "32 32" "128 32" "512 32" "32 128" "512 128"; do
        set -- $pn
        echo "-- cmdai bench -p $1 -n $2"
        /tmp/cmdai bench --model "$model" --device cuda -p "$1" -n "$2" -r 3 2>&1 | tail -4
    done
done
