#!/usr/bin/env bash
# CPU decode and prefill of cmdai and llama.cpp side by side on another machine's CPU (the
# device tool's machine, whose CPU class this one is not): the same stand-in of the default
# model (its shapes and quantization types, random weights), two threads pinned to two logical
# CPUs, alternating runs. scripts/compare-llama-cpp.sh does the same on this machine.
#
# Here: `scripts/cpu-vs-llama-cpp-remote.sh pack` puts the x86-64-v3 release build of cmdai, the
# synthesize example, the default model's header and llama.cpp's source (the copy vendored in
# llama-cpp-python 0.3.36) into cpu-run/ (git-ignored, about 15 MB).
# There:  run: bash scripts/cpu-vs-llama-cpp-remote.sh [ROUNDS]     carry: ["cpu-run"]
# llama.cpp is built there for the instruction sets /proc/cpuinfo lists (not -march=native, as
# compare-llama-cpp.sh explains), CPU back end only. A reference for measuring only.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
pack="$repo/cpu-run"

if [[ ${1:-} == pack ]]; then
    set -e
    cd "$repo"
    mkdir -p "$pack"
    cargo build --release --quiet -p cmdai-cli --bin cmdai -p cmdai-backend-candle --example synthesize
    for binary in target/release/cmdai target/release/examples/synthesize; do
        strip -o "$pack/$(basename "$binary")" "$binary"
        xz -T2 -6 -f "$pack/$(basename "$binary")"
    done
    target/release/examples/synthesize header "$(target/release/cmdai models path default)" \
        "$pack/qwen15.header.gguf"
    xz -6 -f "$pack/qwen15.header.gguf"
    if [[ ! -f $pack/llama-src.tar.xz ]]; then
        bash scripts/build-llama-cpp-cuda.sh pack
        mv gpu-run/llama-src.tar.xz "$pack/"
    fi
    ls -la "$pack"
    exit
fi

rounds=${1:-3}
lscpu | grep -E "Model name|^CPU\(s\)|Thread|Core|Socket|L2|L3|NUMA node\(s\)"
grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E "avx512|vnni|amx" | sort | paste -sd' '
for f in "$pack"/*.xz; do
    [[ $f == *llama-src* ]] && continue
    xz -dc "$f" >"/tmp/$(basename "${f%.xz}")"
done
chmod +x /tmp/cmdai /tmp/synthesize
model=/tmp/qwen15.gguf
/tmp/synthesize fill /tmp/qwen15.header.gguf "$model" 1 >/dev/null || exit 1
export CMDAI_CACHE_DIR=/tmp/cmdai-cache CMDAI_OFFLINE=1

src=/tmp/llama-src
mkdir -p "$src"
xz -dc "$pack/llama-src.tar.xz" | tar -x -C "$src"
for left_out in pocs app; do mkdir -p "$src/$left_out" && touch "$src/$left_out/CMakeLists.txt"; done
flags=$(grep -m1 '^flags' /proc/cpuinfo)
cmake_args=(-DGGML_NATIVE=OFF)
for pair in avx:AVX avx2:AVX2 fma:FMA f16c:F16C bmi2:BMI2 avx512f:AVX512 avx512_vbmi:AVX512_VBMI \
    avx512_vnni:AVX512_VNNI avx512_bf16:AVX512_BF16 avx_vnni:AVX_VNNI; do
    if [[ " $flags " == *" ${pair%%:*} "* ]]; then cmake_args+=("-DGGML_${pair#*:}=ON"); else cmake_args+=("-DGGML_${pair#*:}=OFF"); fi
done
echo "llama.cpp: ${cmake_args[*]}"
cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${cmake_args[@]}" \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF >/tmp/configure.log 2>&1 || { tail -30 /tmp/configure.log; exit 1; }
cmake --build "$src/build" -j "$(nproc)" --target llama-bench >/tmp/build.log 2>&1 \
    || { grep -E -m 20 "error" /tmp/build.log; exit 1; }
bench=$src/build/bin/llama-bench

# Two logical CPUs as a 2-vCPU virtual machine has them: the two hyperthreads of one core where
# the CPU has them, and for comparison two separate cores.
siblings=$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list)
second_core=$(awk -F'[-,]' '{print $1}' /sys/devices/system/cpu/cpu1/topology/thread_siblings_list)
if [[ $siblings == *[,-]* ]]; then
    pairs=("$siblings" "0,$((second_core == 0 ? 2 : 1))")
else
    pairs=("0,1") # no hyperthreads: two cores
fi
echo "cpu0's siblings: $siblings; pairs measured: ${pairs[*]}"
for cpus in "${pairs[@]}"; do
    for round in $(seq "$rounds"); do
        echo "== CPUs $cpus, round $round: llama.cpp"
        taskset -c "$cpus" "$bench" -m "$model" -t 2 -p 128 -n 32 -r 3 -o md 2>&1 | grep -E "^\| qwen"
        echo "== CPUs $cpus, round $round: cmdai"
        taskset -c "$cpus" /tmp/cmdai bench --model "$model" -t 2 -p 128 -n 32 -r 3 2>&1 | tail -2
        echo "== CPUs $cpus, round $round: cmdai --kernels avx2"
        taskset -c "$cpus" /tmp/cmdai bench --model "$model" -t 2 -p 128 -n 32 -r 3 --kernels avx2 2>&1 | tail -1
    done
done
