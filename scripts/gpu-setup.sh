#!/usr/bin/env bash
# Sourced on the GPU machine (by gpu-run.sh, or before a single command there): unpacks
# gpu-run/ from scripts/gpu-pack.sh into /tmp, points at the CUDA wheels' libraries and makes
# same-shape stand-ins of the default model, SmolLM2 and Gemma 3 (/tmp/qwen15.gguf, /tmp/smollm2.gguf,
# /tmp/gemma3.gguf).
#   run: source scripts/gpu-setup.sh && /tmp/cmdai bench ...    carry: ["gpu-run"]
pack="$(cd "$(dirname "${BASH_SOURCE[0]}")/../gpu-run" && pwd)"
for f in "$pack"/*.xz; do
    name=$(basename "${f%.xz}")
    python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" "$f" "/tmp/$name"
done
chmod +x /tmp/cmdai /tmp/parity /tmp/synthesize /tmp/gpu_kernels 2>/dev/null
SP=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export LD_LIBRARY_PATH="$(ls -d "$SP"/nvidia/cu13/lib "$SP"/nvidia/*/lib 2>/dev/null | paste -sd:)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export CMDAI_CACHE_DIR=/tmp/cmdai-cache CMDAI_OFFLINE=1
for model in qwen15 smollm2 gemma3; do
    [[ -f /tmp/$model.gguf ]] || /tmp/synthesize fill "/tmp/$model.header.gguf" "/tmp/$model.gguf" 1 >/dev/null
done
