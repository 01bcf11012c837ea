// Runs a WASI preview1 command module under Node's built-in node:wasi, as the
// JIT reference point of the benchmark harness.
// Usage: node bench/node-wasi.mjs FILE.wasm [ARGS...]
// The guest sees FILE as argv[0], the remaining arguments, no environment and
// no preopened directories; its exit code becomes the process exit code.
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import { argv, exit } from 'node:process';

const file = argv[2];
if (!file) {
  console.error('usage: node node-wasi.mjs FILE.wasm [ARGS...]');
  exit(2);
}
const wasi = new WASI({
  version: 'preview1',
  args: [file, ...argv.slice(3)],
  env: {},
  preopens: {},
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance) ?? 0);
