#!/usr/bin/env bash
# Type-checks the CUDA build (`--features cuda`: the candle backend, its example and tests, and
# the cmdai binary) on a machine without NVIDIA's toolkit. Nothing is linked or run.
#
# The build scripts of candle-kernels, cudarc and cmdai-backend-candle call nvcc: to learn the
# CUDA version, and to compile kernels to PTX and to a static library. They get a stand-in that
# answers the version query and writes empty outputs where nvcc would write them, so the build
# scripts finish; all Rust code, cmdai's CUDA decode path and candle's CUDA backend included,
# is type-checked for real. A real CUDA build is scripts/build-cuda.sh (docs/CUDA.md).
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir="$PWD/$target_dir"
stand_in="$target_dir/cuda-check/bin/nvcc"
mkdir -p "$(dirname "$stand_in")"
cat >"$stand_in" <<'NVCC'
#!/usr/bin/env bash
# Stand-in nvcc for type-checking only: answers version queries, writes empty outputs.
for arg in "$@"; do
    case $arg in
        --version)
            printf '%s\n' "nvcc: NVIDIA (R) Cuda compiler driver (stand-in for type-checking)" \
                "Copyright (c) NVIDIA Corporation" "Built for scripts/check-cuda.sh" \
                "Cuda compilation tools, release 13.0, V13.0.88" "Build cuda_13.0"
            exit 0 ;;
        --list-gpu-code) printf 'sm_80\nsm_86\nsm_89\nsm_90\n'; exit 0 ;;
    esac
done
out="" dir="" source=""
while (($#)); do
    case $1 in
        -o | --output-file) out=$2; shift ;;
        --output-directory) dir=$2; shift ;;
        *.cu) source=$1 ;;
    esac
    shift
done
if [[ -n $dir && -n $source ]]; then
    name=${source##*/}
    : >"$dir/${name%.cu}.ptx"
fi
case $out in
    "") ;;
    *.a) printf '!<arch>\n' >"$out" ;;
    *) : >"$out" ;;
esac
NVCC
chmod +x "$stand_in"

export NVCC="$stand_in" CUDA_HOME="$target_dir/cuda-check" CUDA_COMPUTE_CAP=90
export PATH="$(dirname "$stand_in"):$PATH"
cargo check --locked --target-dir "$target_dir" -p cmdai-backend-candle --features cuda --all-targets
cargo check --locked --target-dir "$target_dir" -p cmdai-cli --features cuda
