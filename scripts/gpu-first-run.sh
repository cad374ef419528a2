#!/usr/bin/env bash
# Runs on the GPU machine (carry gpu-run/ from scripts/gpu-pack.sh): what a user's first request
# costs on a fresh GPU machine, where the time goes, and what later runs cost (docs/CUDA.md,
# "The first run"). A fresh machine is simulated with an empty driver JIT cache
# (CUDA_CACHE_PATH) and an empty cmdai cache (CMDAI_CACHE_DIR) per case.
#   run: bash scripts/gpu-first-run.sh    carry: ["gpu-run"]
set -uo pipefail
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
source "$(dirname "$0")/gpu-setup.sh"
ls -la /tmp/cmdai
# Prefixes each line with the seconds since $1 (a `date +%s.%N`).
stamp() {
    python3 -u -c 'import sys, time
t0 = float(sys.argv[1])
for line in sys.stdin:
    print(f"{time.time() - t0:7.2f} s | {line}", end="", flush=True)' "$1"
}
request() { /tmp/cmdai -v --model /tmp/qwen15.gguf --device cuda --max-tokens 16 "list files" 2>&1; }
fresh() { rm -rf "/tmp/nv-$1" "/tmp/cc-$1"; export CUDA_CACHE_PATH="/tmp/nv-$1" CMDAI_CACHE_DIR="/tmp/cc-$1"; }

echo "== 1. first request, fresh machine (empty JIT cache, no marker)"
fresh a; t0=$(date +%s.%N); request | stamp "$t0"
echo "== 2. the same request again"
t0=$(date +%s.%N); request | stamp "$t0"
echo "== 3. as before this change: empty JIT cache, marker present, so candle compiles during the load"
export CUDA_CACHE_PATH=/tmp/nv-b; rm -rf /tmp/nv-b; t0=$(date +%s.%N); request | stamp "$t0"
echo "== 4. which modules that load compiled: loads from its cache are fast, the rest compile now"
/tmp/gpu_kernels
echo "== 5. every module compiled (CUDA_CACHE_DISABLE=1), one after another"
CUDA_CACHE_DISABLE=1 /tmp/gpu_kernels
echo "== 6. every module loaded from the cache the first request filled"
export CUDA_CACHE_PATH=/tmp/nv-a; /tmp/gpu_kernels
echo "== 7. cmdai doctor on a fresh machine, then a request"
fresh c; t0=$(date +%s.%N); /tmp/cmdai doctor 2>&1 | grep -E "cmdai:|device|gpu" | stamp "$t0"
t0=$(date +%s.%N); request | stamp "$t0"
echo "== 8. cmdai bench on a fresh machine"
fresh d; /tmp/cmdai bench --model /tmp/qwen15.gguf --device cuda -p 32 -n 32 -r 3 2>&1 | tail -9
