#!/usr/bin/env bash
# Runs the whole test suite, real-model tests included.
#
# The small real models are fetched (once; the cache persists) by cmdai's own download code
# into the normal cmdai cache (CMDAI_CACHE_DIR, else ~/.cache/cmdai), and handed to the tests
# through CMDAI_TEST_MODEL_<ID>. Set CMDAI_TEST_MODELS to choose which (default: all four
# models that ../shared/testdata has references for; Gemma 3 under the Gemma Terms of Use).
set -euo pipefail
cd "$(dirname "$0")/.."

export CMDAI_TEST_MODELS=${CMDAI_TEST_MODELS:-"smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b gemma3-270m"}

for id in $CMDAI_TEST_MODELS; do
    var="CMDAI_TEST_MODEL_$(echo "$id" | tr '[:lower:]' '[:upper:]' | tr -c '[:alnum:]\n' '_')"
    path=$(cargo run --quiet --locked --bin cmdai -- models path "$id")
    export "$var=$path"
    echo "test model $id: $path" >&2
done

cargo test --locked --workspace "$@"
