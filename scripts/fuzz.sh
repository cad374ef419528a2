#!/usr/bin/env bash
# Runs each fuzz target (fuzz/fuzz_targets) for a bounded time with libFuzzer and AddressSanitizer.
# New interesting inputs are kept in fuzz/corpus/<target>; crashes, timeouts and out-of-memory
# inputs land in fuzz/artifacts/<target>: minimise one with `cargo +nightly fuzz tmin TARGET FILE`,
# fix the bug, and copy the input to fuzz/regressions/<target> so `cargo test` replays it.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [TARGET...]
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(gguf response safety config)

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
status=0
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    echo "fuzz: $target for ${seconds}s" >&2
    # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: over 2 GB is unbounded growth.
    if ! cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1; then
        echo "fuzz: $target FAILED; see fuzz/artifacts/$target" >&2
        status=1
    fi
done
exit $status
