#!/usr/bin/env bash
# Runs on the GPU machine, in the repository with gpu-run/ from scripts/gpu-pack.sh (see docs/CUDA.md): unpack, point at the CUDA wheels' libraries, make
# same-shape stand-ins of the default model and SmolLM2, benchmark, and check CPU/GPU parity.
set -uo pipefail
cd "$(dirname "$0")/../gpu-run"
for f in *.xz; do python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$f" "/tmp/${f%.xz}"; done
chmod +x /tmp/cmdai /tmp/parity /tmp/synthesize 2>/dev/null
SP=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export LD_LIBRARY_PATH="$(ls -d "$SP"/nvidia/cu13/lib "$SP"/nvidia/*/lib 2>/dev/null | paste -sd:)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CMDAI_CACHE_DIR=/tmp/cmdai-cache CMDAI_OFFLINE=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
/tmp/cmdai doctor 2>&1 | grep -i -E "device|cuda|gpu" | head -5
time /tmp/synthesize fill /tmp/qwen15.header.gguf /tmp/qwen15.gguf 1
/tmp/synthesize fill /tmp/smollm2.header.gguf /tmp/smollm2.gguf 1
ls -la /tmp/qwen15.gguf /tmp/smollm2.gguf
for t in f32 f16 q8_0 q4_0; do /tmp/synthesize tiny /tmp/tiny-$t.gguf $t; echo "== parity tiny $t"; /tmp/parity /tmp/tiny-$t.gguf cuda 0.02 | tail -3; done
echo "== parity smollm2 stand-in"; /tmp/parity /tmp/smollm2.gguf cuda 0.02
echo "== parity qwen2.5-coder-1.5b stand-in"; /tmp/parity /tmp/qwen15.gguf cuda 0.02
for pn in "32 32" "128 32" "512 128"; do set -- $pn
  echo "== bench cuda -p $1 -n $2"; /tmp/cmdai bench --model /tmp/qwen15.gguf --device cuda -p "$1" -n "$2" -r 3 2>&1 | tail -8
done
echo "== -v on cuda"; /tmp/cmdai -v --model /tmp/qwen15.gguf --device cuda --max-tokens 8 "list files" 2>&1 | tail -4
