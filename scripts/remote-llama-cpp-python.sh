#!/usr/bin/env bash
# cmdai --backend openai against a real OpenAI-compatible server with a real model:
# llama-cpp-python's server (from PyPI) serving SmolLM2-135M from cmdai's own cache, on loopback.
#
# The first run builds llama-cpp-python (it compiles llama.cpp: about 15 minutes on 2 cores) into
# a virtual environment under $CMDAI_DEV_DIR (default ~/.cache/cmdai-dev); later runs reuse it.
# Not part of .ci/run. Usage: scripts/remote-llama-cpp-python.sh
set -euo pipefail
cd "$(dirname "$0")/.."

dev_dir=${CMDAI_DEV_DIR:-"$HOME/.cache/cmdai-dev"}
venv="$dev_dir/llama-cpp-python-0.3.36"
if ! "$venv/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
    echo "building llama-cpp-python into $venv (once; about 15 minutes on 2 cores)" >&2
    python3 -m venv "$venv"
    CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2} \
        "$venv/bin/pip" install --quiet 'llama-cpp-python[server]==0.3.36'
fi

cargo build --release --locked --bin cmdai
cmdai=target/release/cmdai
model=$("$cmdai" models path smollm2-135m)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port/v1"
log=$(mktemp)
"$venv/bin/python" -m llama_cpp.server --model "$model" --model_alias smollm2 \
    --host 127.0.0.1 --port "$port" --n_ctx 2048 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT

for _ in $(seq 1 120); do
    curl -sf "$url/models" >/dev/null && break
    kill -0 $server 2>/dev/null || { cat "$log" >&2; echo "the server did not start" >&2; exit 1; }
    sleep 0.5
done
curl -sf "$url/models" >/dev/null || { cat "$log" >&2; echo "the server did not answer" >&2; exit 1; }

export CMDAI_BACKEND=openai CMDAI_REMOTE_URL=$url
failed=0
check() { # name, then a command that must succeed
    local name=$1
    shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name" >&2; failed=1; fi
}

json=$("$cmdai" -o json "list all files in the current directory") || true
check "a request returns a command from the server" \
    python3 -c 'import json,sys; v = json.loads(sys.argv[1]); assert v["backend"] == "openai" and v["model"] == "smollm2" and v["command"], v' "$json"
echo "     $json"

streamed=$("$cmdai" --stream "show the current date" 2>&1 >/dev/null) || true
check "--stream shows the reply as it arrives" grep -q '```' <<<"$streamed"

batch=$(printf '{"id": 1, "request": "show disk usage"}\n{"id": 2, "request": "print the working directory"}\n' | "$cmdai" batch)
check "batch answers every line" test "$(grep -c '"id"' <<<"$batch")" -eq 2

status=0
wrong=$("$cmdai" --remote-url "http://127.0.0.1:$port/v2" --remote-model smollm2 "list files" 2>&1) || status=$?
check "a wrong URL is a clear error" grep -q "check the model name and the URL" <<<"$wrong"
check "... with exit status 1" test "$status" -eq 1

exit $failed
