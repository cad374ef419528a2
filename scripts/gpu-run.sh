#!/usr/bin/env bash
# Runs on the GPU machine, in the repository with gpu-run/ from scripts/gpu-pack.sh (see docs/CUDA.md): unpack, point at the CUDA wheels' libraries, make
# same-shape stand-ins of the default model and SmolLM2, benchmark, and check CPU/GPU parity.
set -uo pipefail
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
time source "$(dirname "$0")/gpu-setup.sh"
/tmp/cmdai doctor 2>&1 | grep -i -E "device|cuda|gpu" | head -5
ls -la /tmp/qwen15.gguf /tmp/smollm2.gguf
for t in f32 f16 q8_0 q4_0; do /tmp/synthesize tiny /tmp/tiny-$t.gguf $t; echo "== parity tiny $t"; /tmp/parity /tmp/tiny-$t.gguf cuda 0.02 | tail -3; done
# Heads of 32, which the fused CUDA kernels take (the tiny models above have 16, so they run
# candle's operations): prompts of 16 tokens and of 700 (two chunks of the prompt kernels).
for arch in llama qwen2 qwen3 gemma3; do for t in q8_0 q4_0; do
  /tmp/synthesize tiny /tmp/tiny32-$arch-$t.gguf $t $arch 32
  for p in 16 700; do echo "== parity tiny $arch $t, heads of 32, $p-token prompt"; /tmp/parity /tmp/tiny32-$arch-$t.gguf cuda 0.02 $p; done
done; done
echo "== parity smollm2 stand-in"; /tmp/parity /tmp/smollm2.gguf cuda 0.02
echo "== parity gemma3-270m stand-in, 700-token prompt (sliding window 512)"; /tmp/parity /tmp/gemma3.gguf cuda 0.02 700
echo "== parity qwen2.5-coder-1.5b stand-in"; /tmp/parity /tmp/qwen15.gguf cuda 0.02
echo "== parity qwen2.5-coder-1.5b stand-in, 700-token prompt"; /tmp/parity /tmp/qwen15.gguf cuda 0.02 700
for pn in "32 32" "128 32" "512 128"; do set -- $pn
  echo "== bench cuda -p $1 -n $2"; /tmp/cmdai bench --model /tmp/qwen15.gguf --device cuda -p "$1" -n "$2" -r 3 2>&1 | tail -8
done
# The decode step three ways: fused kernels replayed as a CUDA graph (the default), the same
# kernels launched one by one, and candle's own operations.
for way in graph launches operations; do
  echo "== decode, $way"; /tmp/cmdai bench --model /tmp/qwen15.gguf --device cuda --cuda-decode "$way" -p 32 -n 128 -r 3 2>&1 | tail -3
done
echo "== -v on cuda"; /tmp/cmdai -v --model /tmp/qwen15.gguf --device cuda --max-tokens 8 "list files" 2>&1 | tail -4
