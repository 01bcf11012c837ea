# wast.sh -- the spec-script runner: a clean script, a script with failures (one line each, then
# the counts), per-script summaries, a runaway loop cut by the deadline, unreadable scripts.
k wast pass.wast
k wast mixed.wast
k wast --summary pass.wast mixed.wast
k wast --timeout 0.3 runaway.wast
k wast no-such-file.wast
k wast --verbose mixed.wast
