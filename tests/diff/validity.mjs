// validity.mjs FILE... -- print "1 FILE" or "0 FILE": whether V8 (Node) accepts each module.
// Used by tests/diff/validity.sh to compare kapsul's decoder and validator against V8's.
import { readFileSync } from 'node:fs';

for (const f of process.argv.slice(2)) {
  let ok = false;
  try { ok = WebAssembly.validate(readFileSync(f)); } catch (e) { ok = false; }
  console.log(`${ok ? 1 : 0} ${f}`);
}
