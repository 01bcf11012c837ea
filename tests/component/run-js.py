#!/usr/bin/env python3
"""run-js.py -- JavaScript components built during the test, about 12 MB each (a SpiderMonkey
engine pre-initialized by wizer), never checked in:
  js-counter/  componentize-js on counter.js with custom exports (counter.wit);
  spin-js/     a Spin JS SDK HTTP handler built by @spinframework/build-tools' j2w (GET + POST echo).
kapsul must validate both; `kapsul inspect` must list the handler's wasi:http imports and its
wasi:http/incoming-handler export; `kapsul run --invoke` calls the counter; and test_ctemplate
instantiates each both ways (kpCInstance_new and a component template), 5 instances in a row
each, with the same results: the counter's JavaScript state starts from scratch in every instance
(bump() is 1 again after an instance counted to 3 and filled its heap). The handler is
instantiated with the WASI 0.2 host's wasi:http (serving it is tests/serve/test_components.py).

usage: run-js.py KAPSUL TEST_CTEMPLATE TESTS_COMPONENT_DIR
Ends with "N passed, N failed"."""
import os
import subprocess
import sys
import tempfile

passed = failed = 0


def check(name, got, want):
    global passed, failed
    if got == want:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}\n  got:  {got!r}\n  want: {want!r}")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def main():
    kapsul, test_ctemplate, here = (os.path.abspath(a) for a in sys.argv[1:4])
    src = os.path.dirname(os.path.dirname(here))  # test_ctemplate reads tests/component from there
    with tempfile.TemporaryDirectory(prefix="kp_js_") as tmp:
        counter = os.path.join(tmp, "counter.wasm")
        spin = os.path.join(tmp, "spin.wasm")
        p = run(["node", os.path.join(here, "js-counter", "build.mjs"), counter], cwd=here)
        check("componentize-js builds js-counter", (p.returncode, os.path.exists(counter)), (0, True))
        if p.returncode:
            print(p.stderr[-2000:])
        p = run([os.path.join(here, "spin-js", "build.sh"), spin])
        check("j2w builds spin-js", (p.returncode, os.path.exists(spin)), (0, True))
        if p.returncode:
            print(p.stderr[-2000:])

        for name, path in (("js-counter", counter), ("spin-js", spin)):
            if os.path.exists(path):
                p = run([kapsul, "validate", path])
                check(f"kapsul validate {name}", (p.returncode, p.stderr), (0, ""))

        if os.path.exists(spin):
            p = run([kapsul, "inspect", spin])
            lines = p.stdout.splitlines()
            check("inspect spin-js: status", p.returncode, 0)
            for want in ("export wasi:http/incoming-handler@0.2.3: handle: "
                         "func(request: incoming-request, response-out: response-outparam)",
                         "import wasi:http/types@0.2.3: incoming-request: resource",
                         "import wasi:http/types@0.2.3: outgoing-response: resource",
                         "import wasi:http/types@0.2.3: [constructor]outgoing-response: func(headers: headers) "
                         "-> outgoing-response",
                         "import wasi:http/outgoing-handler@0.2.3: handle: func(request: outgoing-request, "
                         "options: option<request-options>) -> result<future-incoming-response, error-code>"):
                check(f"inspect spin-js lists: {want[:70]}", want in lines, True)
            p = run([test_ctemplate, spin,
                     "has:wasi:http/incoming-handler@0.2.3#handle;has:wasi:http/incoming-handler@0.2.3#nothing",
                     "yes;no;"], cwd=src)
            check("spin-js instantiated both ways",
                  (p.returncode, p.stdout.endswith(" 0 failed\n")), (0, True))
            if p.returncode:
                print(p.stdout[-3000:], p.stderr[-3000:])

        if os.path.exists(counter):
            for call, out in (('hello("kapsul")', '"Hello, kapsul!"\n'), ("bump()", "1\n"), ("fill(3)", "3\n")):
                p = run([kapsul, "run", "--invoke", call, counter])
                check(f"kapsul run --invoke {call} js-counter", (p.returncode, p.stdout, p.stderr), (0, out, ""))
            p = run([test_ctemplate, counter, 'hello("x");bump();bump();fill(1000);bump()',
                     '"Hello, x!";1;2;1000;3;'], cwd=src)
            check("js-counter both ways, fresh state in every instance",
                  (p.returncode, p.stdout.endswith(" 0 failed\n")), (0, True))
            if p.returncode:
                print(p.stdout[-3000:], p.stderr[-3000:])
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
