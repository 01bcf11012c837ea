// build-http.mjs -- the recipe for the componentize-js test handler (not checked in: 12-14 MB):
//   node tests/component/http/build-http.mjs OUT.wasm
// The WIT is jco's bundled wasi:http 0.2.12 package and its dependencies, relabelled 0.2.10 (the
// version componentize-js's StarlingMonkey engine targets) with the `network-error-code` gates of
// wasi:sockets removed, written to a temporary directory next to a world that includes
// wasi:http/proxy. jco's WIT reader goes through preview2-shim's filesystem, which sees nothing
// until _setPreopens grants it the root.
import { _setPreopens } from "@bytecodealliance/preview2-shim/filesystem";
import { componentize } from "@bytecodealliance/componentize-js";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";

_setPreopens({ "/": "/" });
const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error("usage: build-http.mjs OUT.wasm [SOURCE.js]");
  process.exit(2);
}
const source = process.argv[3] || join(here, "handler.js");
const builtin = join(here, "..", "node_modules", "@bytecodealliance", "jco", "lib", "wit", "builtin", "0.2.12");
const tmp = mkdtempSync(join(tmpdir(), "kapsul-http-wit-"));
try {
  const wit = join(tmp, "wit");
  for (const pkg of readdirSync(builtin)) {
    mkdirSync(join(wit, "deps", pkg), { recursive: true });
    const text = readFileSync(join(builtin, pkg, "package.wit"), "utf8")
      .replaceAll("@0.2.12", "@0.2.10")
      .split("\n")
      .filter((line) => !line.includes("@unstable(feature = network-error-code)"))
      .join("\n");
    writeFileSync(join(wit, "deps", pkg, "package.wit"), text);
  }
  writeFileSync(join(wit, "world.wit"), "package kapsul:test;\n\nworld handler {\n  include wasi:http/proxy@0.2.10;\n}\n");
  const { component } = await componentize({ sourcePath: source, witPath: wit, worldName: "handler" });
  writeFileSync(out, component);
  console.log(`built ${out} (${component.length} bytes)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
