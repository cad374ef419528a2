#!/usr/bin/env bash
# Side-by-side speed of cmdai and llama.cpp on this machine: the same GGUF, the same threads,
# alternating runs. llama.cpp is the copy vendored in llama-cpp-python (PyPI), built here for
# this CPU in a virtual environment under target/ (a reference for measuring only: nothing of
# it is part of cmdai). Each llama.cpp run: load, then per repetition one eval of P random
# tokens (prefill) and N single-token evals (decode), like `cmdai bench`.
#
#   scripts/compare-llama-cpp.sh [MODEL_PATH] [ROUNDS]     (default: the default model, 2)
set -euo pipefail
cd "$(dirname "$0")/.."

model=${1:-$(cargo run --quiet --release --bin cmdai -- models path default)}
rounds=${2:-2}
threads=2 prompt=128 generate=32

# llama.cpp is built for the instruction sets the kernel lists in /proc/cpuinfo, not with
# -march=native: on a Xeon VM whose CPUID claims more than the hypervisor allows (AVX512-VBMI,
# AMX), the native build crashed on its first evaluation.
flags=$(grep -m1 '^flags' /proc/cpuinfo)
cmake_args="-DGGML_NATIVE=OFF -DLLAMA_CURL=OFF"
for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx512f:AVX512 avx512_vbmi:AVX512_VBMI \
    avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16 avx_vnni:AVX_VNNI; do
    if [[ " $flags " == *" ${pair%%:*} "* ]]; then
        cmake_args+=" -DGGML_${pair#*:}=ON"
    else
        cmake_args+=" -DGGML_${pair#*:}=OFF"
    fi
done
venv=target/llama-cpp-venv
stamp="$venv/cmake-args"
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c "import llama_cpp" 2>/dev/null \
    || [[ $(cat "$stamp" 2>/dev/null) != "$cmake_args" ]]; then
    python3 -m venv "$venv"
    CMAKE_ARGS="$cmake_args" "$venv/bin/pip" install -q --no-cache-dir --force-reinstall \
        llama-cpp-python==0.3.36
    echo "$cmake_args" > "$stamp"
fi
echo "llama.cpp built with: $cmake_args"
cargo build --release --quiet --bin cmdai

for round in $(seq "$rounds"); do
    echo "round $round: llama.cpp"
    "$venv/bin/python" - "$model" "$threads" "$prompt" "$generate" <<'PY'
import random, sys, time
from llama_cpp import Llama
path, threads, prompt, generate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
started = time.time()
llm = Llama(model_path=path, n_ctx=512, n_threads=threads, n_batch=512, verbose=False)
load = time.time() - started
random.seed(0)
vocab = llm.n_vocab()
for rep in range(3):
    llm.reset()
    tokens = [random.randrange(1000, vocab - 1000) for _ in range(prompt)]
    t = time.time(); llm.eval(tokens); pp = time.time() - t
    t = time.time()
    for _ in range(generate):
        llm.eval([random.randrange(1000, vocab - 1000)])
    tg = time.time() - t
    print(f"  rep {rep}: load {load:.2f} s, pp{prompt} {prompt / pp:.1f} tok/s, tg{generate} {generate / tg:.1f} tok/s")
PY
    echo "round $round: cmdai"
    target/release/cmdai bench --model "$model" -t "$threads" -p "$prompt" -n "$generate" -r 3 | tail -1
done
