#!/usr/bin/env python3
"""run-cli.py -- `kapsul run` flags and exit statuses, checked command by command.

usage: run-cli.py KAPSUL TESTS_WASI_DIR

Uses cli.wat beside this script (and small guests compiled with clang for the WASI flags).
Each case states the exact stdout and exit status it needs and, where it matters, a piece of
stderr. Ends with "N passed, N failed".
"""
import os
import subprocess
import sys
import tempfile

passed = failed = 0


def case(name, cmd, status, stdout=None, stderr_has=None, env=None, cwd=None):
    global passed, failed
    p = subprocess.run(cmd, capture_output=True, timeout=60, env=env, cwd=cwd,
                       stdin=subprocess.DEVNULL)
    out, err = p.stdout.decode(), p.stderr.decode()
    problems = []
    if p.returncode != status:
        problems.append("exit %d, want %d" % (p.returncode, status))
    if stdout is not None and out != stdout:
        problems.append("stdout %r, want %r" % (out, stdout))
    if stderr_has is not None and stderr_has not in err:
        problems.append("stderr lacks %r: %r" % (stderr_has, err[:500]))
    if problems:
        failed += 1
        print("FAIL %s: %s" % (name, "; ".join(problems)))
    else:
        passed += 1
        print("PASS %s" % name)


def main():
    global passed, failed
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    k, d = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    wat = os.path.join(d, "cli.wat")
    inv = lambda *a: [k, "run", "--invoke"] + list(a[:1]) + [wat] + list(a[1:])
    case("invoke i64", inv("add64", "9223372036854775807", "-9223372036854775807"), 0, "0\n")
    case("invoke i32 hex is a bit pattern", inv("neg32", "0xFFFFFFFF"), 0, "1\n")
    case("invoke i32 out of range refused, not wrapped", inv("neg32", "4294967295"), 2, "",
         "cannot read '4294967295' as i32")
    case("invoke i64 out of range refused", inv("add64", "9223372036854775808", "0"), 2, "",
         "cannot read '9223372036854775808' as i64")
    case("invoke f32", inv("half", "3"), 0, "1.5\n")
    case("invoke f64 shortest", inv("third", "1"), 0, "0.3333333333333333\n")
    case("invoke f64 nan", inv("third", "nan"), 0, "NaN\n")
    case("invoke two results", inv("pair"), 0, "-1\n0.1\n")
    case("reactor _initialize runs first", inv("initialized"), 0, "7\n")
    case("invoke bad number", inv("neg32", "12x"), 2, "", "cannot read '12x' as i32")
    case("invoke i32 out of range", inv("neg32", "4294967296"), 2, "")
    case("invoke wrong arity", inv("add64", "1"), 2, "", "takes 2 argument(s), 1 given")
    case("invoke missing export", inv("nope"), 1, "", "no exported function 'nope'")
    case("trap status and backtrace", inv("crash"), 134, "", "trap (unreachable)")
    case("proc_exit status", inv("quit"), 3, "")
    case("max-memory caps growth", [k, "run", "--max-memory", "128K", "--invoke", "grow", wat, "1"], 0, "1\n")
    case("max-memory refuses beyond", [k, "run", "--max-memory", "128K", "--invoke", "grow", wat, "2"], 0, "-1\n")
    case("timeout stops a loop", [k, "run", "--timeout", "100ms", "--invoke", "spin", wat], 134, "", "timeout")
    case("fuel stops a loop", [k, "run", "--fuel", "100000", "--invoke", "spin", wat], 134, "", "fuel")
    case("unknown flag", [k, "run", "--frobnicate", wat], 2, "", "unknown option")
    case("flag without value", [k, "run", "--dir"], 2, "")
    case("bad size", [k, "run", "--max-memory", "lots", wat], 2, "")
    case("bad duration", [k, "run", "--timeout", "soon", wat], 2, "")
    case("missing file", [k, "run", "/nonexistent/kapsul.wasm"], 2, "")
    case("no file", [k, "run"], 2, "")
    case("help", [k, "run", "--help"], 0, None)
    case("missing --dir directory", [k, "run", "--dir", "/nonexistent/dir", wat], 2, "")
    case("bad --tcplisten", [k, "run", "--tcplisten", "nowhere", wat], 2, "")
    with tempfile.TemporaryDirectory(prefix="kapsul-cli-") as t:
        src = os.path.join(t, "env.c")
        with open(src, "w") as f:
            f.write('#include <stdio.h>\n#include <stdlib.h>\nextern char **environ;\n'
                    'int main(int c, char **v) { for (char **e = environ; *e; e++) puts(*e);\n'
                    '  for (int i = 1; i < c; i++) puts(v[i]);\n'
                    '  FILE *f = fopen("d/w.txt", "w"); puts(f ? "wrote" : "no write");\n'
                    '  return 0; }\n')
        wasm = os.path.join(t, "env.wasm")
        r = subprocess.run([os.environ.get("CLANG", "clang"), "--target=wasm32-wasi", "-O2", "-o",
                            wasm, src], capture_output=True, text=True)
        if r.returncode != 0:
            print("FAIL env guest does not build:\n" + r.stderr)
            return 1
        os.makedirs(os.path.join(t, "d"))
        env = dict(os.environ, KAPSUL_TEST_SECRET="s3cret", KAPSUL_TEST_PASS="given")
        case("env: nothing inherited, NAME passes one", [k, "run", "--env", "A=1", "--env",
             "KAPSUL_TEST_PASS", "--env", "KAPSUL_TEST_UNSET_XYZ", wasm, "x", "--y"], 0,
             "A=1\nKAPSUL_TEST_PASS=given\nx\n--y\nno write\n", env=env)
        case("--dir read-write", [k, "run", "--dir", os.path.join(t, "d") + "::d", wasm], 0,
             "wrote\n")
        os.remove(os.path.join(t, "d", "w.txt"))
        case("--dir :ro refuses writes", [k, "run", "--dir", os.path.join(t, "d") + "::d:ro", wasm],
             0, "no write\n")
        case("--dir relative host path", [k, "run", "--dir", "d", wasm], 0, "wrote\n", cwd=t)
        # A guest writing into a pipe whose reader left gets EPIPE; kapsul is not killed.
        src = os.path.join(t, "spam.c")
        with open(src, "w") as f:
            f.write('#include <unistd.h>\nint main(void) { for (int i = 0; i < 1000000; i++)\n'
                    '  if (write(1, "line\\n", 5) < 0) return 9;\n  return 0; }\n')
        spam = os.path.join(t, "spam.wasm")
        subprocess.run([os.environ.get("CLANG", "clang"), "--target=wasm32-wasi", "-O2", "-o", spam,
                        src], check=True)
        p = subprocess.Popen([k, "run", spam], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        p.stdout.readline()
        p.stdout.close()
        st = p.wait(timeout=60)
        if st == 9:
            passed += 1
            print("PASS closed stdout pipe: guest sees EPIPE")
        else:
            failed += 1
            print("FAIL closed stdout pipe: exit %d, want 9 (the guest's status on EPIPE)" % st)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
