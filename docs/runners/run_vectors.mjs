// Test a JavaScript engine against microgradx's golden vectors (docs/vectors.md).
//
//   microgradx vectors --out cases.jsonl
//   node run_vectors.mjs cases.jsonl ./engine.mjs
//
// The module exports a class Value: new Value(number), .data, .grad, .backward(), methods add sub
// mul div pow taking a Value or a number, neg(), and the file's other ops by the same names
// (tanh(), exp(), leaky_relu(0.2), ...). Cases with an op the class lacks are skipped. Prints each
// failing case; exit status 1 if any.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [path, engine] = process.argv.slice(2);
if (!engine) {
  console.error("usage: node run_vectors.mjs cases.jsonl ./engine.mjs");
  process.exit(2);
}
const { Value } = await import(pathToFileURL(resolve(engine)).href);
const SPECIAL = { pow_scalar: (a, p) => a.pow(p), rpow_scalar: (a, c) => new Value(c).pow(a) };
const METHOD = { pow_scalar: "pow", rpow_scalar: "pow" }; // the method each special op needs
const lift = (x) => (x instanceof Value ? x : new Value(x)); // a plain number on the left: 2 - x
const apply = (op, [a, ...rest]) => (SPECIAL[op] ? SPECIAL[op](a, ...rest) : lift(a)[op](...rest));
const has = (op) => typeof Value.prototype[METHOD[op] ?? op] === "function";
const close = (got, expected, rtol) =>
  Math.abs(got - expected) <= rtol * Math.max(1, Math.abs(expected));

function run(c) { // null if the engine gets case c right, else what it got wrong
  const xs = c.inputs.map((x, i) => (c.constants.includes(i) ? x : new Value(x)));
  const nodes = [...xs]; // inputs first, then one node per step
  for (const step of c.steps) {
    nodes.push(apply(step.op, [...step.args.map((i) => nodes[i]), ...(step.params ?? [])]));
  }
  const out = nodes[nodes.length - 1];
  out.backward();
  if (!close(out.data, c.output, c.rtol)) return `output ${out.data}, expected ${c.output}`;
  for (const [i, g] of c.grads.entries()) {
    if (g !== null && !close(xs[i].grad, g, c.rtol)) {
      return `gradient of x${i} ${xs[i].grad}, expected ${g}`;
    }
  }
  return null;
}

const lines = readFileSync(path, "utf8").trim().split("\n");
const [header, ...cases] = lines.map((line) => JSON.parse(line));
if (header.version !== 1) {
  console.error(`${path}: format version ${header.version}; this runner reads 1`);
  process.exit(2);
}
let passed = 0, failed = 0, skipped = 0;
for (const c of cases) {
  if (!c.ops.every(has)) {
    skipped++;
    continue;
  }
  let problem;
  try {
    problem = run(c);
  } catch (error) { // a crash of the engine (a stack overflow, ...) fails the case
    problem = `${error.name}: ${error.message}`;
  }
  if (problem) {
    failed++;
    console.log(`FAIL case ${c.id} (${c.category}) ${c.name.slice(0, 80)}: ${problem}`);
  } else passed++;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped (ops the engine lacks)`);
process.exit(failed ? 1 : 0);
