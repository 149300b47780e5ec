"""Test a micrograd-style engine against microgradx's golden vectors (docs/vectors.md).

    microgradx vectors --out cases.jsonl
    python run_vectors.py cases.jsonl engine:Value     # module engine (engine.py here), class Value

The class needs ``Value(number)``, ``.data``, ``.grad``, ``.backward()``, the operators + - * / **
and unary -, and a method for each other op (``x.tanh()``, ``x.leaky_relu(0.2)``). Cases with an
op the class does not have (it raises on one try: ``2 ** x`` without ``__rpow__``) are skipped.
Prints each failing case; exit status 1 if any.
"""

import importlib
import json
import sys

OPS = {  # how the file's ops are written in Python; every other op is a method: x.tanh()
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
    "neg": lambda a: -a,
    "abs": lambda a: abs(a),
    "pow_scalar": lambda a, p: a**p,
    "rpow_scalar": lambda a, c: c**a,
}


def close(got, expected, rtol):
    return abs(got - expected) <= rtol * max(1.0, abs(expected))


def apply(name, args):
    return OPS[name](*args) if name in OPS else getattr(args[0], name)(*args[1:])


def lacks(case, Value):
    """Whether the class raises on one of the case's ops, tried once on 0.5 (it has no such op)."""
    for step in case["steps"]:
        ins = [0.5 if i in case["constants"] else Value(0.5) for i in step["args"]]
        try:
            apply(step["op"], ins + step.get("params", []))
        except Exception:
            return True
    return False


def run(case, Value):
    """None if the engine gets the case right, else what it got wrong."""
    xs = [x if i in case["constants"] else Value(x) for i, x in enumerate(case["inputs"])]
    nodes = list(xs)  # inputs first, then one node per step
    for step in case["steps"]:
        name, args = step["op"], [nodes[i] for i in step["args"]] + step.get("params", [])
        nodes.append(apply(name, args))
    nodes[-1].backward()
    if not close(nodes[-1].data, case["output"], case["rtol"]):
        return f"output {nodes[-1].data!r}, expected {case['output']!r}"
    for i, expected in enumerate(case["grads"]):
        if expected is not None and not close(xs[i].grad, expected, case["rtol"]):
            return f"gradient of x{i} {xs[i].grad!r}, expected {expected!r}"
    return None


def main(path, target):
    sys.path.insert(0, ".")  # so that engine:Value finds engine.py in this folder
    module, _, name = target.partition(":")
    Value = getattr(importlib.import_module(module), name or "Value")
    with open(path, encoding="utf-8") as file:
        header, *cases = [json.loads(line) for line in file]
    if header.get("version") != 1:
        version = header.get("version")
        print(f"{path}: format version {version}; this runner reads 1", file=sys.stderr)
        return 2
    passed = failed = skipped = 0
    for case in cases:
        if lacks(case, Value):
            skipped += 1
            continue
        try:
            problem = run(case, Value)
        except Exception as error:  # a crash of the engine (RecursionError, ...) fails the case
            problem = f"{type(error).__name__}: {error}".removesuffix(": ")
        if problem:
            failed += 1
            print(f"FAIL case {case['id']} ({case['category']}) {case['name'][:80]}: {problem}")
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed, {skipped} skipped (ops {name or 'Value'} lacks)")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: python run_vectors.py cases.jsonl module:ClassName", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
