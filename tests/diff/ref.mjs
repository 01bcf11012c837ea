// ref.mjs -- the reference side of the differential test: runs a wasm-opt -ttf module under
// Node's V8 with the same protocol as tests/diff/driver.c (see there) and prints the same format.
// Usage: node ref.mjs FILE.wasm...  (with several files, each file's output follows "== FILE")
import { readFileSync, writeFileSync } from 'node:fs';

let bytes;
const out = [];
const print = (s) => out.push(s);

// ---- A minimal reader of the type, import, function and export sections, for signatures ----
function signatures(buf) {
  let p = 8;
  const u32 = () => { let r = 0, s = 0, b; do { b = buf[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
  const types = [], funcTypes = [];
  while (p < buf.length) {
    const id = buf[p++], size = u32(), end = p + size;
    if (id === 1) {
      for (let n = u32(); n > 0; n--) {
        p++; // 0x60
        const params = []; for (let k = u32(); k > 0; k--) params.push(buf[p++]);
        const results = []; for (let k = u32(); k > 0; k--) results.push(buf[p++]);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = u32(); n > 0; n--) {
        for (let k = 0; k < 2; k++) { const len = u32(); p += len; } // module and field names
        const kind = buf[p++];
        if (kind === 0) funcTypes.push(types[u32()]);
        else if (kind === 1) { p++; const f = buf[p++]; u32(); if (f & 1) u32(); }
        else if (kind === 2) { const f = buf[p++]; u32(); if (f & 1) u32(); }
        else if (kind === 3) { p += 2; }
      }
    } else if (id === 3) {
      for (let n = u32(); n > 0; n--) funcTypes.push(types[u32()]);
    }
    p = end;
  }
  return funcTypes;
}

const KIND = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128', 0x70: 'funcref', 0x6f: 'externref' };
const f32buf = new Float32Array(1), u32buf = new Uint32Array(f32buf.buffer);
const f64buf = new Float64Array(1), u64buf = new BigUint64Array(f64buf.buffer);

function fmt(kind, v) {
  switch (kind) {
    case 'i32': return `i32 ${v | 0}`;
    case 'i64': return `i64 ${BigInt.asIntN(64, v)}`;
    case 'f32': if (Number.isNaN(v)) return 'f32 nan'; f32buf[0] = v; return `f32 0x${u32buf[0].toString(16).padStart(8, '0')}`;
    case 'f64': if (Number.isNaN(v)) return 'f64 nan'; f64buf[0] = v; return `f64 0x${u64buf[0].toString(16).padStart(16, '0')}`;
    case 'funcref': case 'externref': return `${kind} ${v === null ? 'null' : 'ref'}`;
    default: return kind;
  }
}

function category(e) {
  const m = String(e && e.message);
  if (e instanceof RangeError && /call stack/i.test(m)) return 'stack';
  if (e instanceof TypeError) return 'host';
  if (/unreachable/.test(m)) return 'unreachable';
  if (/memory access out of bounds|data segment/.test(m)) return 'memory';
  if (/divide by zero|remainder by zero|integer overflow|float unrepresentable|integer result unrepresentable/.test(m)) return 'arith';
  if (/table|signature mismatch|null function|element segment/.test(m)) return 'table';
  return `other(${m})`;
}

const log = (kind) => (v) => print(`log ${fmt(kind, v)}`);
const imports = {
  'fuzzing-support': {
    'log-i32': log('i32'), 'log-i64': log('i64'), 'log-f32': log('f32'), 'log-f64': log('f64'),
    'log-v128': () => { throw new TypeError('log-v128'); },
  },
};

let instance;
function runModule(path) {
  bytes = readFileSync(path);
  exportSig.map = undefined;
  instance = undefined;
  try {
    const module = new WebAssembly.Module(bytes);
    instance = new WebAssembly.Instance(module, imports);
    const sigs = signatures(bytes);
    const hang = instance.exports.hangLimitInitializer;
    for (const ex of WebAssembly.Module.exports(module)) {
      if (ex.kind !== 'function') continue;
      print(`export ${ex.name}`);
      const f = instance.exports[ex.name];
      // The export's function index is not in the JS API; find it through the export section.
      const sig = exportSig(ex.name);
      const kinds = [...sig.params, ...sig.results].map((t) => KIND[t]);
      if (kinds.includes('v128')) { print('skip'); continue; }
      if (hang) hang();
      const args = sig.params.map((t) => (KIND[t] === 'i64' ? 0n : KIND[t] === 'funcref' || KIND[t] === 'externref' ? null : 0));
      try {
        const r = f(...args);
        const rk = sig.results.map((t) => KIND[t]);
        const vals = rk.length === 0 ? [] : rk.length === 1 ? [r] : r;
        print(['result', ...rk.map((k, i) => fmt(k, vals[i]))].join(' '));
      } catch (e) {
        print(`trap ${category(e)}`);
      }
      if (process.env.KAPSUL_DIFF_VERBOSE) printMemory();
    }
    printMemory();
  } catch (e) {
    if (instance === undefined && e instanceof WebAssembly.RuntimeError) print(`instantiate trap ${category(e)}`);
    else if (instance === undefined) print(`instantiate error: ${e.message}`);
    else throw e;
  }
}

const files = process.argv.slice(2);
for (const f of files) {
  if (files.length > 1) print(`== ${f}`);
  try {
    runModule(f);
  } catch (e) {
    print(`ref error: ${e.message}`);
  }
}
process.stdout.write(out.map((l) => l + '\n').join(''));

// The exported memory's size in pages and FNV-1a hash (also after every call when
// KAPSUL_DIFF_VERBOSE is set, to find the call where two engines part).
function printMemory() {
  const mem = instance.exports.memory;
  if (mem instanceof WebAssembly.Memory) {
    const a = new Uint8Array(mem.buffer);
    let h = 2166136261;
    for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a[i], 16777619) >>> 0;
    print(`memory ${a.length / 65536} ${h.toString(16).padStart(8, '0')}`);
    if (process.env.KAPSUL_DIFF_MEMDUMP) writeFileSync(process.env.KAPSUL_DIFF_MEMDUMP, a);
  }
}

// Signature of an exported function, from the export section and the function index space.
function exportSig(name) {
  if (!exportSig.map) {
    const buf = bytes, funcs = signatures(buf), map = new Map();
    let p = 8;
    const u32 = () => { let r = 0, s = 0, b; do { b = buf[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
    while (p < buf.length) {
      const id = buf[p++], size = u32(), end = p + size;
      if (id === 7) {
        for (let n = u32(); n > 0; n--) {
          const len = u32(), nm = buf.subarray(p, p + len).toString('utf8'); p += len;
          const kind = buf[p++], idx = u32();
          if (kind === 0) map.set(nm, funcs[idx]);
        }
      }
      p = end;
    }
    exportSig.map = map;
  }
  return exportSig.map.get(name);
}
