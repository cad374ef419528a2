#!/usr/bin/env bash
# Builds the library crates the way another Rust application gets them. `cargo package` makes
# the crates crates.io would serve and builds each of them on its own, outside the workspace and
# without its `[patch]` section (so brush-parser and toktrie come from crates.io as published,
# and the crates find each other through cargo's local overlay of the packages). cmdai-core's
# package is then unpacked to target/consumer/cmdai-core and the consumer crate in consumer/
# (its own workspace, no `[patch]`) is tested against it, after the library crates'
# documentation is built with warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir="$PWD/$target_dir"

cargo package --quiet --allow-dirty --target-dir "$target_dir" \
    -p cmdai-core -p cmdai-models -p cmdai-backend-openai -p cmdai-backend-candle -p cmdai-preview \
    -p cmdai-eval
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

RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --target-dir "$target_dir" \
    -p cmdai-core -p cmdai-models -p cmdai-backend-openai -p cmdai-backend-candle -p cmdai-preview \
    -p cmdai-eval

CARGO_TARGET_DIR="$target_dir/consumer/target" cargo test --locked \
    --manifest-path consumer/Cargo.toml --test consumer
