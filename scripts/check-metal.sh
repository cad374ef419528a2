#!/usr/bin/env bash
# Type-checks the Metal build (macOS on Apple silicon) from Linux: the candle backend and the
# cmdai binary with `--features metal`, for aarch64-apple-darwin. Nothing is linked or run.
#
# A few dependencies compile C for the target in their build scripts (ring, for TLS), which
# would need Apple's SDK. They get a stand-in compiler: clang, targeting macOS, compiling an
# empty file in place of each source, so their build scripts finish; all Rust code, cmdai's and
# candle's Metal code included, is type-checked for real. Needs rustup and clang (installed from
# Debian's packages when missing, as .ci/run does).
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-apple-darwin
rustup target list --installed | grep -qx "$target" || rustup target add "$target"
if ! command -v clang >/dev/null; then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get install -y -q clang >/dev/null \
        || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q clang >/dev/null; }
fi
ar=$(command -v llvm-ar || ls /usr/lib/llvm-*/bin/llvm-ar 2>/dev/null | tail -1)

target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir="$PWD/$target_dir"
stand_in="$target_dir/metal-check/clang"
mkdir -p "$(dirname "$stand_in")"
cat >"$stand_in" <<'CC'
#!/usr/bin/env bash
# Stand-in C compiler for type-checking only: an empty macOS object for whatever was asked.
# Preprocessing (cc-rs asks which compiler family this is) goes to the real clang.
for arg in "$@"; do
    [[ $arg == -E ]] && exec clang --target=arm64-apple-macos11 -ffreestanding "$@"
done
out=""
while (($#)); do
    case $1 in
        -o) out=$2; shift ;;
        -o*) out=${1#-o} ;;
        -Fo*) out=${1#-Fo} ;; # cc-rs may take the stand-in for an MSVC-style driver
    esac
    shift
done
[[ -n $out ]] || exit 0
exec clang --target=arm64-apple-macos11 -c -x c /dev/null -o "$out"
CC
chmod +x "$stand_in"

export CC_aarch64_apple_darwin="$stand_in" AR_aarch64_apple_darwin="$ar"
for package in cmdai-backend-candle cmdai-cli; do
    echo "check-metal: cargo check --target $target -p $package --features metal" >&2
    cargo check --locked --target "$target" -p "$package" --features metal
done
