// nan-explain.mjs KAPSUL.mem V8.mem -- decide whether two final memories differ only in NaN bits.
// The spec lets an operation that returns a NaN pick any arithmetic NaN (canonical NaN for
// canonical inputs), so engines may store different NaN bit patterns. A difference is explained
// when every differing byte lies inside some 4-byte window that holds an f32 NaN in both memories,
// or some 8-byte window that holds an f64 NaN in both. Exit 0 if explained, 1 if not.
import { readFileSync } from 'node:fs';

const a = readFileSync(process.argv[2]), b = readFileSync(process.argv[3]);
if (a.length !== b.length) { console.log('sizes differ'); process.exit(1); }
const isNaN32 = (m, s) => s >= 0 && s + 4 <= m.length && ((m.readUInt32LE(s) >>> 23) & 0xff) === 0xff && (m.readUInt32LE(s) & 0x7fffff) !== 0;
const isNaN64 = (m, s) => {
  if (s < 0 || s + 8 > m.length) return false;
  const hi = m.readUInt32LE(s + 4), lo = m.readUInt32LE(s);
  return ((hi >>> 20) & 0x7ff) === 0x7ff && ((hi & 0xfffff) !== 0 || lo !== 0);
};
let differing = 0;
for (let i = 0; i < a.length; i++) {
  if (a[i] === b[i]) continue;
  differing++;
  let ok = false;
  for (let s = i - 3; s <= i && !ok; s++) ok = isNaN32(a, s) && isNaN32(b, s);
  for (let s = i - 7; s <= i && !ok; s++) ok = isNaN64(a, s) && isNaN64(b, s);
  if (!ok) { console.log(`byte ${i} differs outside any NaN`); process.exit(1); }
}
console.log(`${differing} differing bytes, all inside NaNs in both memories`);
