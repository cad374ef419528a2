#!/usr/bin/env bash
# On the GPU machine (its image has nvcc 13.0, CMake and ninja): builds llama.cpp's llama-bench
# and llama-speculative-simple with CUDA for compute capability 9.0 into /tmp/llama-bin, from
# gpu-run/llama-src.tar.xz. That tarball is the llama.cpp copy vendored in the llama-cpp-python
# 0.3.36 sdist (the source scripts/compare-llama-cpp.sh builds for the CPU side-by-side), less
# its docs, models and other GPU back ends; make it here with `scripts/build-llama-cpp-cuda.sh pack`.
# A reference for measuring only: nothing of it is part of cmdai.
#   run: bash scripts/build-llama-cpp-cuda.sh      carry: ["gpu-run"]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ ${1:-} == pack ]]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    url=$(curl -fsS https://pypi.org/simple/llama-cpp-python/ \
        | grep -o 'https://[^"]*llama_cpp_python-0\.3\.36\.tar\.gz' | head -n1)
    curl -fsSL "$url" -o "$work/sdist.tar.gz"
    tar -xzf "$work/sdist.tar.gz" -C "$work"
    cd "$work"/llama_cpp_python-0.3.36/vendor/llama.cpp
    mkdir -p "$repo/gpu-run"
    tar -cf - --exclude='ggml/src/ggml-'{vulkan,sycl,metal,opencl,cann,webgpu,musa,hexagon} \
        CMakeLists.txt cmake common ggml src include vendor tools examples licenses LICENSE \
        | xz -T2 -6 >"$repo/gpu-run/llama-src.tar.xz"
    ls -la "$repo/gpu-run/llama-src.tar.xz"
    exit
fi

src=/tmp/llama-src
out=/tmp/llama-bin
[[ -x $out/llama-bench ]] && exit 0
rm -rf "$src" && mkdir -p "$src" "$out"
xz -dc "$repo/gpu-run/llama-src.tar.xz" | tar -x -C "$src"
for left_out in pocs app; do # folders the pack leaves out, which CMakeLists.txt adds
    mkdir -p "$src/$left_out" && touch "$src/$left_out/CMakeLists.txt"
done
cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90-real -DGGML_NATIVE=ON \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >"$src/configure.log" 2>&1 \
    || { tail -30 "$src/configure.log"; exit 1; }
time cmake --build "$src/build" -j "$(nproc)" --target llama-bench llama-speculative-simple \
    >"$src/build.log" 2>&1 || { grep -E -m 20 "error|Error" "$src/build.log"; tail -20 "$src/build.log"; exit 1; }
cp "$src"/build/bin/llama-bench "$src"/build/bin/llama-speculative-simple "$out/"
ls -la "$out"
