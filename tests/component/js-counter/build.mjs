// build.mjs -- builds counter.js into a component with componentize-js (StarlingMonkey, wizer):
//   node build.mjs OUT.wasm
// Features the world does not need are left out, so the component imports only wasi:cli, io,
// clocks, random and filesystem interfaces (kapsul's WASI 0.2 host). About 12 MB: built at test
// time into a temporary directory, never checked in.
import { _setPreopens } from "@bytecodealliance/preview2-shim/filesystem";
_setPreopens({ "/": "/" }); // jco's embed reads the WIT through preview2-shim
const { componentize } = await import("@bytecodealliance/componentize-js");
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error("usage: node build.mjs OUT.wasm");
  process.exit(2);
}
const { component } = await componentize({
  sourcePath: join(here, "counter.js"),
  witPath: join(here, "counter.wit"),
  worldName: "counter",
  disableFeatures: ["http", "fetch-event"],
});
await writeFile(out, component);
console.log(`${out}: ${component.length} bytes`);
