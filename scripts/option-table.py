#!/usr/bin/env python3
"""Writes cmdai-core/src/options/gnu.tsv: the options of common GNU tools, read from their own
`--help` on a GNU/Linux machine (Debian 12 made the committed table). cmdai checks generated
commands against it before showing them (cmdai_core::options): `ls --max-depth` or `tail -r`
are asked for again with the finding named.

One line a tool: name, short options without an argument, short options that take one, long
options without an argument and long options that take one (space-separated). An option whose
argument is optional and attached is listed as taking one when it is short (`sed -i[SUFFIX]`: the
rest of the word is its argument) and none when it is long (`--context[=NUM]`). `find`'s expression is not in its `--help` completely,
so cmdai_core::options has it by hand.

    scripts/option-table.py > cmdai-core/src/options/gnu.tsv
"""

import re
import subprocess
import sys
import tempfile

TOOLS = """
basename cat chgrp chmod chown cksum comm cp csplit cut date df dirname du env expand fmt fold
head id install join ln ls md5sum mkdir mktemp mv nice nl nproc numfmt od paste readlink
realpath rm rmdir seq sha1sum sha256sum sha512sum shuf sort split stat tac tail tee timeout
touch tr truncate uname uniq wc
xargs grep egrep fgrep sed tar gzip gunzip zcat xz unxz xzcat bzip2 bunzip2 diff cmp
free pgrep pkill lsblk column hostname file
""".split()

# A help line's option part: up to two spaces before the description, or the end of the line.
OPTION_LINE = re.compile(r"^\s{1,10}(-.*?)(?:\s{2,}(?!-)|$)")


def takes_argument(long_option):
    """`--width=COLS`, `--euid <ID,...>`, `--exclude TEST`; not `--context[=NUM]`."""
    return re.match(r"--[\w-]+(=|\s+[^\s-])", long_option) is not None


def options(help_text):
    short_plain, short_arg, long_plain, long_arg = set(), set(), set(), set()
    for line in help_text.splitlines():
        match = OPTION_LINE.match(line)
        if not match:
            continue
        spec = match.group(1).strip()
        # "-e script, --expression=script", "-d --decompress", "-c, -C NUM, --context[=NUM]"
        parts = [p for p in re.split(r",\s*|\s+(?=--?[A-Za-z0-9])", spec) if p.startswith("-")]
        longs = [p for p in parts if p.startswith("--")]
        long_takes = any(takes_argument(p) for p in longs)
        shorts = [p for p in parts if re.match(r"-[A-Za-z0-9?@]", p) and not p.startswith("--")]
        for part in longs:
            name = re.match(r"--([A-Za-z0-9][\w-]*)", part)
            if not name:
                continue
            (long_arg if takes_argument(part) else long_plain).add(name.group(1))
        for part in shorts:
            letter = part[1]
            rest = part[2:]
            if letter.isdigit():
                continue  # -NUM and -0 ... -9: numbers are never checked
            # "-e script"; "-i[SUFFIX]" (what follows it in the same word is its argument);
            # "-w, --width=COLS"
            takes = (
                rest.startswith(" ") and not rest.strip().startswith("-")
                or rest.startswith("[")
                or (rest == "" and len(shorts) == 1 and long_takes)
            )
            (short_arg if takes else short_plain).add(letter)
    short_plain -= short_arg
    long_plain -= long_arg
    return short_plain, short_arg, long_plain, long_arg


# Tools whose short options are also tried one by one, for the ones their --help leaves out
# (`df -m`, `sort -y`): each runs as `TOOL -X` with no operand, in an empty directory, stdin
# empty. Not tools for which an option alone acts on the system (pkill -v, hostname -b).
PROBED = set(TOOLS) - {"pgrep", "pkill", "hostname"}
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
UNKNOWN = ("invalid option", "unrecognized option", "illegal option", "unknown option", "bad flag")


def hidden_options(tool, known):
    """The letters `tool` takes that its --help did not list: (without, with an argument)."""
    plain, argument = set(), set()
    with tempfile.TemporaryDirectory() as empty:
        for letter in LETTERS:
            if letter in known:
                continue
            try:
                run = subprocess.run([tool, f"-{letter}"], capture_output=True, errors="replace",
                                     timeout=3, cwd=empty, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                continue
            said = (run.stdout + run.stderr).lower()
            if any(word in said for word in UNKNOWN):
                continue
            (argument if "requires an argument" in said else plain).add(letter)
    return plain, argument


# Options the --help text writes as patterns (diff's `--LTYPE-line-format=LFMT`).
EXTRA_LONG_ARGUMENT = {
    "diff": [f"{kind}-{what}-format" for kind in ("old", "new", "unchanged", "changed")
             for what in ("line", "group")] + ["line-format"],
}


def main():
    for tool in TOOLS:
        try:
            flag = "--long-help" if tool in ("xz", "unxz", "xzcat") else "--help"
            run = subprocess.run([tool, flag], capture_output=True, text=True, timeout=5)
        except FileNotFoundError:
            print(f"skipped {tool}: not installed", file=sys.stderr)
            continue
        sp, sa, lp, la = options(run.stdout + run.stderr)
        if not (sp or sa or lp or la):
            print(f"skipped {tool}: no options read", file=sys.stderr)
            continue
        lp |= {"help", "version"}
        la |= set(EXTRA_LONG_ARGUMENT.get(tool, []))
        if tool in PROBED:
            hp, ha = hidden_options(tool, sp | sa)
            sp |= hp
            sa |= ha
        row = ["".join(sorted(sp)), "".join(sorted(sa)), " ".join(sorted(lp)), " ".join(sorted(la))]
        print("\t".join([tool] + row))


if __name__ == "__main__":
    main()
