#!/usr/bin/env bash
# Measures command quality on the development data in ../shared/data (tldr pages for Linux and
# common tools, and NL2Bash): `cmdai eval` over a fixed, seeded sample of the two, with one model
# load. The data is read in place and never copied into the repository.
#
#   scripts/dev-sample.sh [ROWS] [SEED] [-- extra cmdai flags, e.g. -m small]
#
# Defaults: 500 rows, seed 2026 (the sample docs/QUALITY.md reports). Writes the per-row results
# to target/eval/<seed>-<rows>.json and prints the summary.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${1:-500}
seed=${2:-2026}
shift $(( $# < 2 ? $# : 2 ))
[[ ${1:-} == "--" ]] && shift

data=../shared/data
if [[ ! -f $data/tldr/tldr.jsonl || ! -f $data/nl2bash/nl2bash.jsonl ]]; then
    echo "dev-sample: $data (tldr, nl2bash) is not here; nothing to measure" >&2
    exit 0
fi

out=target/eval
mkdir -p "$out"
combined=$out/dev-data.jsonl
# tldr: the Linux and common pages (macOS-only pages ask for BSD tools). A tldr line ("Display
# help") only makes sense on its tool's page, so the request names the tool, as a user would.
# NL2Bash: every row.
python3 - "$data" "$combined" <<'PY'
import json, sys
data, out = sys.argv[1], sys.argv[2]
with open(out, "w") as w:
    for line in open(f"{data}/tldr/tldr.jsonl"):
        row = json.loads(line)
        if row.get("platform") in ("common", "linux"):
            request = f'{row["nl"].rstrip(". ")} (with {row["page"]})'
            w.write(json.dumps({"request": request, "command": row["cmd"], "source": "tldr"}) + "\n")
    for line in open(f"{data}/nl2bash/nl2bash.jsonl"):
        row = json.loads(line)
        w.write(json.dumps({"request": row["nl"], "command": row["cmd"], "source": "nl2bash"}) + "\n")
PY

cargo build --release --quiet --bin cmdai
# A neutral working directory: the prompt names it, and nothing in it should steer the model.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
result=$out/$seed-$rows.json
# Execution-based comparison where the sandbox can run (Linux user namespaces).
exec_flag=()
if unshare --user --map-root-user --mount --net true 2>/dev/null; then
    exec_flag=(--exec)
else
    echo "dev-sample: no user namespaces here; comparing by text only" >&2
fi
(cd "$work" && "$OLDPWD/target/release/cmdai" eval "$OLDPWD/$combined" --sample "$rows" \
    --sample-seed "$seed" "${exec_flag[@]}" -o json "$@") > "$result"
python3 - "$result" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
summary = {k: v for k, v in report.items() if k != "results"}
print(json.dumps(summary, indent=2))
PY
echo "per-row results: $result" >&2
