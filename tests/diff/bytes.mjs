// bytes.mjs SEED FIRST COUNT DIR -- write DIR/in0 .. DIR/in{COUNT-1}: the pseudo-random inputs
// that run.sh hands to `wasm-opt -ttf` for modules FIRST .. FIRST+COUNT-1 of a seeded run. The
// same seed always gives the same bytes, hence the same modules (CI uses a fixed seed; see run.sh).
import { writeFileSync } from 'node:fs';

const [seed, first, count, dir] = process.argv.slice(2);
if (dir === undefined) {
    console.error('usage: bytes.mjs SEED FIRST COUNT DIR');
    process.exit(2);
}

// mulberry32: small, fast and fully determined by its 32-bit state.
function generator(state) {
    return () => {
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0);
    };
}

for (let k = 0; k < Number(count); k++) {
    const index = Number(first) + k;
    const next = generator((Math.imul(Number(seed) >>> 0, 0x9e3779b1) ^ index) >>> 0);
    const bytes = new Uint8Array(500 + (next() % 6000));
    for (let i = 0; i < bytes.length; i++) bytes[i] = next() & 0xff;
    writeFileSync(`${dir}/in${k}`, bytes);
}
