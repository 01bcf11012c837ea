#!/usr/bin/env python3
"""layers.py -- the layering rule of /work/shared/DESIGN.md as a test: every directory of src/ has
a rank, and a file may include only from its own directory or from a directory of lower rank.

usage: tests/layers.py SRC_DIR     check a tree; one line per upward include or unranked directory
       tests/layers.py --self-test  check that the check itself catches both (on a scratch tree)

A directory missing from RANKS fails the check, so a new directory gets its place in the layer
list by a deliberate edit here. Ends with "N passed, N failed" (files without / with a problem;
an unranked directory counts as one failure)."""
import os
import re
import sys
import tempfile

# Lowest first (DESIGN.md, "Layers"): base and os at the bottom, the module model and the text
# format above them, then engine, runtime, wasi, and the application layers, the CLI on top. Ranks
# are distinct, so two directories can never include each other.
RANKS = {
    ".": -1,  # src/config.h: every layer's limits and defaults; includes nothing of kapsul
    "base": 0,
    "os": 1,
    "module": 2,
    "component": 2.5,  # component model: decoder, validator, WIT view (needs only module and base)
    "text": 3,
    "engine": 4,
    "runtime": 5,
    "wasi": 6,
    "cinstance": 6.3,  # component instances over the public API (kapsul.h) and src/component
    "wasip2": 6.6,  # the WASI 0.2 host: component instances, and src/wasi's sandbox underneath
    "oci": 7,
    "app": 8,
    "serve": 9,
    "cli": 10,
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE_EXT = (".c", ".h", ".def", ".inc")


def top(rel):
    """The src/ directory a path (relative to src/) lies in; "." for files at the top."""
    parts = rel.split(os.sep)
    return parts[0] if len(parts) > 1 else "."


def resolve(src, rel, name):
    """The file an include names, relative to src/, or None when it is outside src/ (kapsul.h,
    system headers). Quoted includes look beside the including file first, as the compiler does."""
    for cand in (os.path.join(os.path.dirname(rel), name), name):
        cand = os.path.normpath(cand)
        if not cand.startswith("..") and os.path.isfile(os.path.join(src, cand)):
            return cand
    return None


def check(src, out=sys.stdout):
    """Returns (passed, failed) and prints one line per problem."""
    passed = failed = 0
    unranked = set()
    files = []
    for root, dirs, names in os.walk(src):
        dirs.sort()
        for n in sorted(names):
            if n.endswith(SOURCE_EXT):
                files.append(os.path.relpath(os.path.join(root, n), src))
    for rel in files:
        d = top(rel)
        if d not in RANKS:
            if d not in unranked:
                unranked.add(d)
                print(f"src/{rel}: directory '{d}' has no rank in tests/layers.py; give it one "
                      "(DESIGN.md's layer list)", file=out)
                failed += 1
            continue
        bad = False
        with open(os.path.join(src, rel), errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                tgt = resolve(src, rel, m.group(2))
                if tgt is None:
                    continue
                td = top(tgt)
                if td == d:
                    continue
                if td not in RANKS or RANKS[td] > RANKS[d]:
                    rank = RANKS.get(td, "none")
                    print(f"src/{rel}:{lineno}: {d} (rank {RANKS[d]}) includes {m.group(2)} from {td} "
                          f"(rank {rank}): a layer may include only from below", file=out)
                    bad = True
        if bad:
            failed += 1
        else:
            passed += 1
    return passed, failed


def self_test():
    """The check must reject an upward include and an unranked directory, and pass a clean tree."""
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        def write(rel, text):
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w") as f:
                f.write(text)
        write("base/base.h", "#include <stdint.h>\n#include \"kapsul.h\"\n")
        write("engine/interp.c", "#include \"base/base.h\"\n#include \"engine/ir.h\"\n")
        write("engine/ir.h", "\n")
        write("runtime/runtime.h", "#include \"engine/ir.h\"\n")
        sink = open(os.devnull, "w")
        if check(tmp, sink) != (4, 0):
            print("self-test: a clean tree was rejected")
            ok = False
        write("engine/lower.c", "#include \"engine/ir.h\"\n  #  include \"runtime/runtime.h\"\n")
        if check(tmp, sink)[1] != 1:
            print("self-test: an upward include (engine -> runtime) was not caught")
            ok = False
        os.remove(os.path.join(tmp, "engine/lower.c"))
        write("newdir/x.c", "#include \"base/base.h\"\n")
        if check(tmp, sink)[1] != 1:
            print("self-test: an unranked directory was not caught")
            ok = False
        sink.close()
    print(f"{3 if ok else 0} passed, {0 if ok else 1} failed")
    return ok


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        sys.exit(0 if self_test() else 1)
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    passed, failed = check(sys.argv[1])
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
