#!/usr/bin/env bash
# Checks the library crates the way another Rust application gets them. `cargo package` makes
# the crates crates.io would serve; they are unpacked side by side under target/consumer/packages
# with a workspace of their own that has no `[patch]` for third-party crates (so brush-parser
# and toktrie come from crates.io as published) and finds the cmdai crates in the unpacked
# packages. Each crate is then type-checked on its own (only its own features, as a user of that
# one crate gets it), the crates' documentation is built from the packages with warnings as
# errors, and the consumer crate in consumer/ (its own workspace) is tested against the
# unpacked cmdai-core.
#
# Type-checking instead of `cargo package`'s own verification (a full build of each crate in
# turn) gives the same answer to "does the published crate compile" in a fraction of the time:
# dependencies are checked once, with no code generation.
set -euo pipefail
cd "$(dirname "$0")/.."

crates=(cmdai-core cmdai-models cmdai-backend-openai cmdai-backend-candle cmdai-preview cmdai-eval)

target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir="$PWD/$target_dir"
root="$target_dir/consumer"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)

cargo package --quiet --allow-dirty --no-verify --target-dir "$target_dir" "${crates[@]/#/--package=}"

packages="$root/packages"
rm -rf "$packages"
mkdir -p "$packages"
{
    echo '[workspace]'
    echo 'resolver = "3"'
    printf 'members = [%s]\n' "$(printf '"%s", ' "${crates[@]}")"
    echo '[patch.crates-io]'
    printf '%s = { path = "%s" }\n' $(for crate in "${crates[@]}"; do echo "$crate $crate"; done)
} >"$packages/Cargo.toml"
for crate in "${crates[@]}"; do
    tar -xzf "$target_dir/package/$crate-$version.crate" -C "$packages"
    mv "$packages/$crate-$version" "$packages/$crate"
done
# The archives keep the files' old times: a target directory kept from an earlier run would
# take the packages for the crates it checked then.
find "$packages" -type f -exec touch {} +

export CARGO_TARGET_DIR="$root/target"
for crate in "${crates[@]}"; do
    cargo check --quiet --manifest-path "$packages/Cargo.toml" --package "$crate"
done
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps --manifest-path "$packages/Cargo.toml" --workspace

# consumer/Cargo.toml names ../target/consumer/cmdai-core.
mkdir -p target/consumer
rm -rf target/consumer/cmdai-core
ln -s "$packages/cmdai-core" target/consumer/cmdai-core
cargo test --locked --manifest-path consumer/Cargo.toml --test consumer
