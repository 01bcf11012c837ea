// counter.js -- a componentize-js guest with state in JavaScript globals (the world: counter.wit).
// A fresh instance must see count 0 and an empty array whatever an earlier instance did.
let count = 0;
const kept = [];

export function hello(name) {
  return `Hello, ${name}!`;
}

export function bump() {
  count += 1;
  return count;
}

export function fill(n) {
  for (let i = 0; i < n; i++) kept.push("x".repeat(1023) + String(i % 10));
  return kept.length;
}
