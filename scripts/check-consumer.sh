#!/usr/bin/env bash
# Builds and tests cmdai-core the way another Rust application gets it: `cargo package` makes the
# crate crates.io would serve, it is unpacked to target/consumer/cmdai-core, and the consumer
# crate in consumer/ (its own workspace, no `[patch]`, so brush-parser comes from crates.io as
# published) is tested against it. Then the library crates' documentation is built with
# warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir="$PWD/$target_dir"

cargo package --quiet --allow-dirty --no-verify -p cmdai-core --target-dir "$target_dir"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
unpacked="$target_dir/consumer/cmdai-core"
rm -rf "$unpacked" "$target_dir/consumer/cmdai-core-$version"
mkdir -p "$target_dir/consumer"
tar -xzf "$target_dir/package/cmdai-core-$version.crate" -C "$target_dir/consumer"
mv "$target_dir/consumer/cmdai-core-$version" "$unpacked"
# consumer/Cargo.toml names ../target/consumer/cmdai-core; point it at this target dir.
if [[ $unpacked != "$PWD/target/consumer/cmdai-core" ]]; then
    mkdir -p target/consumer
    rm -rf target/consumer/cmdai-core
    ln -s "$unpacked" target/consumer/cmdai-core
fi

CARGO_TARGET_DIR="$target_dir/consumer/target" cargo test --locked --manifest-path consumer/Cargo.toml

RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --target-dir "$target_dir" \
    -p cmdai-core -p cmdai-models -p cmdai-backend-openai -p cmdai-backend-candle
