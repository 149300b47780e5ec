"""Golden vectors: cases any autodiff engine, in any language, can test itself with.

``generate(seed)`` draws cases from a seeded ``random.Random`` and computes each with
microgradx; ``dumps`` writes them as JSON Lines (one header line, then one case per line), the
format of docs/vectors.md. A case applies ops of the op table to numbered inputs, as
``microgradx.strategies.Expression`` does (inputs are numbered first, then each step's result),
and gives the output's value and its gradient with respect to every input as float64 numbers
(written with ``repr``, so they read back bit for bit).

Categories: ``op`` (each op on its own, on both sides of a kink), ``reuse`` (``a + a``,
``a * a``, a subexpression feeding two paths), ``mixed`` (plain numbers on either side of an
operator), ``depth`` (chains of ``depth`` ops, deeper than a recursive topological sort
survives), ``expression`` (random graphs over several ops) and ``mlp`` (the squared error of a
2-3-1 network on one example; its gradients are one training step's).

Every case is well conditioned, so that another correct engine (another libm, ``a / b`` as
``a * b ** -1``, ``tanh`` written with ``exp``) agrees within the case's ``rtol``: each step is
inside its op's domain, at least ``KINK_DISTANCE`` from a kink, with its value and local
derivatives at most ``MAGNITUDE`` in size; and the whole case is kept only if rounding every
node's value by a few units in the last place (relative ``PERTURBATION``) moves the output and
every gradient by less than a tenth of ``rtol * max(1, |expected|)``. ``rtol`` is ``EXACT_RTOL``
for cases of ``add``, ``sub``, ``mul`` and ``neg`` only (each result correctly rounded; only the
order of a gradient's sum can differ) and ``RTOL`` otherwise. No case holds inf or NaN: how an
engine overflows is a question of behaviour, which ``microgradx check`` reports.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from microgradx.checks import count
from microgradx.engine import Value, apply, grad_number
from microgradx.files import write_atomically, write_target
from microgradx.gradcheck import domain_holds, kink_value
from microgradx.ops import OPS, Op

FORMAT_VERSION = 1  # raised only when a field changes meaning; new fields and cases keep it
GENERATOR_VERSION = 1  # raised whenever the same seed gives other cases
DEFAULT_DEPTH = 1200  # steps in a depth chain: Python's default recursion limit is 1000
RTOL = 1e-9
EXACT_RTOL = 1e-12
EXACT_OPS = frozenset({"add", "sub", "mul", "neg"})
KINK_DISTANCE = 0.05
MAGNITUDE = 20.0
PERTURBATION = 2.0**-50  # about 4 units in the last place
OP_CASES = 4  # cases per op (per parameter, for a family)
EXPRESSIONS = 24
INPUT_RANGE = 3.0
# The ops of micrograd and its lecture: half the graphs of several ops use only these (those
# selected), so that a port with just these runs them too; the other half use every op selected.
CORE_OPS = frozenset(
    {"add", "sub", "mul", "div", "neg", "pow_scalar", "exp", "log", "tanh", "relu", "sigmoid"}
)
# Ops a port is likely to spell as operators; the rest are methods of the same name.
OPERATORS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def port_ops() -> list[Op]:
    """The ops of the table a micrograd-style ``Value`` has as an operator or a method: one or two
    inputs and a ``method`` (``maximum``, ``softmax`` and the losses are functions, not here)."""
    return [op for op in OPS.values() if op.method is not None and op.arity in (1, 2)]


def resolve(names: Iterable[str] | None) -> list[Op]:
    """The ops named (default: every one of ``port_ops()``), families at their
    ``param_examples``. Raises ``ValueError`` naming an unknown name and listing the valid ones."""
    table = {op.name: op for op in port_ops()}
    chosen = list(table) if names is None else list(dict.fromkeys(names))
    if not chosen:
        raise ValueError("--ops must name at least one op")
    for name in chosen:
        if name not in table:
            raise ValueError(f"--ops: no op {name!r}; the ops are {', '.join(table)}")
    members: list[Op] = []
    for name in chosen:
        op = table[name]
        members.extend(op.members() if op.param_name is not None else [op])
    return members


@dataclass
class _Case:
    """A case being built: input numbers (``constants`` are plain numbers, not Values) and
    steps ``(op, argument indices)``."""

    category: str
    inputs: list[float]
    constants: set[int]
    steps: list[tuple[Op, tuple[int, ...]]]
    name: str = ""


_Build = Callable[[_Case, list[float]], bool]  # fills a case's steps; False if it cannot


def _run(
    case: _Case, perturb: Callable[[], float] | None = None
) -> tuple[list[float], list[float]]:
    """Every node's value and every input's gradient, by microgradx; with ``perturb``, each
    step's result is multiplied by ``1 + perturb()`` (a rounding error of another engine)."""
    xs = [Value(x) for x in case.inputs]
    nodes = list(xs)
    for op, args in case.steps:
        out = apply(op, *[nodes[i] for i in args])
        nodes.append(out if perturb is None else out * (1.0 + perturb()))
    nodes[-1].backward()
    return [node.data for node in nodes], [grad_number(x) for x in xs]


def _fits(op: Op, numbers: Sequence[float]) -> bool:
    """``op`` at ``numbers`` is well conditioned (see the module's docstring)."""
    if not domain_holds(op, numbers):
        return False
    if op.kink is not None and abs(kink_value(op, numbers)) < KINK_DISTANCE:
        return False
    out = apply(op, *[Value(x) for x in numbers])
    return all(math.isfinite(v) and abs(v) <= MAGNITUDE for v in (out.data, *out.local_grads()))


def rtol(case_ops: Iterable[str]) -> float:
    """The case's relative tolerance: ``EXACT_RTOL`` for ops in ``EXACT_OPS`` only, else RTOL."""
    return EXACT_RTOL if set(case_ops) <= EXACT_OPS else RTOL


def _conditioned(case: _Case, rng: random.Random) -> bool:
    """True if rounding errors of a few ULP at every node move no result by a tenth of rtol."""
    values, grads = _run(case)
    tolerance = rtol(op.name for op, _ in case.steps) / 10
    for _ in range(2):
        moved_values, moved_grads = _run(case, lambda: rng.choice((-1, 1)) * PERTURBATION)
        pairs = [(moved_values[-1], values[-1]), *zip(moved_grads, grads)]
        if not all(abs(got - want) <= tolerance * max(1.0, abs(want)) for got, want in pairs):
            return False
    return True


def _pools(ops: Sequence[Op], n: int) -> list[Sequence[Op]]:
    """``n`` op lists for graphs of several ops: the core ops of ``ops`` and all of ``ops`` in
    turn (all of them each time where the core is missing or is all of them)."""
    core = [op for op in ops if op.name in CORE_OPS]
    return [core if k % 2 == 0 and core else ops for k in range(n)]


def _number(rng: random.Random) -> float:
    return round(rng.uniform(-INPUT_RANGE, INPUT_RANGE), 3)  # short decimals a reader can copy


def _extend(
    rng: random.Random,
    case: _Case,
    values: list[float],
    ops: Sequence[Op],
    pick: Callable[[int], tuple[int, ...]],
) -> bool:
    """Append one well-conditioned step: an op of ``ops`` on ``pick(arity)``; a plain number
    only as an operand of an operator, never as every operand."""
    for _ in range(60):
        op = rng.choice(ops)
        args = pick(op.arity or 1)
        plain = [i in case.constants for i in args]
        if any(plain) and (op.name not in OPERATORS or all(plain)):
            continue
        if _fits(op, [values[i] for i in args]):
            case.steps.append((op, args))
            values.append(op.forward(*[values[i] for i in args]))
            return True
    return False


def _recent(rng: random.Random, values: list[float]) -> Callable[[int], tuple[int, ...]]:
    """Operands preferring the newest values (deep graphs), repeats allowed (reuse)."""
    return lambda arity: tuple(
        max(0, len(values) - 1 - int(rng.expovariate(0.7))) for _ in range(arity)
    )


def _draw(
    rng: random.Random,
    category: str,
    make_inputs: Callable[[], tuple[list[float], set[int]]],
    build: Callable[[_Case, list[float]], bool],
) -> _Case | None:
    """A case of fresh inputs filled by ``build``, built and well conditioned (40 tries)."""
    for _ in range(40):
        inputs, constants = make_inputs()
        case = _Case(category, inputs, constants, [])
        if build(case, list(inputs)) and _conditioned(case, rng):
            return case
    return None


def _numbers(
    rng: random.Random, n: int, constants: Iterable[int] = ()
) -> Callable[[], tuple[list[float], set[int]]]:
    return lambda: ([_number(rng) for _ in range(n)], set(constants))


def _single(op: Op, args: tuple[int, ...], side: int = 0) -> _Build:
    """One step ``op(*args)``; with ``side`` (+1 or -1), only on that side of the op's kink."""

    def build(case: _Case, values: list[float]) -> bool:
        numbers = [values[i] for i in args]
        if side and op.kink is not None and kink_value(op, numbers) * side < 0:
            return False
        case.steps.append((op, args))
        return _fits(op, numbers)

    return build


def _op_cases(rng: random.Random, ops: Sequence[Op]) -> list[_Case | None]:
    """Each op alone, ``OP_CASES`` times; an op with a kink on each side of it in turn (where
    its domain has two sides)."""
    cases = []
    for op in ops:
        arity = op.arity or 1
        for k in range(OP_CASES):
            side = 1 if k % 2 == 0 else -1
            args = tuple(range(arity))
            case = _draw(rng, "op", _numbers(rng, arity), _single(op, args, side))
            cases.append(case or _draw(rng, "op", _numbers(rng, arity), _single(op, args)))
    return cases


def _reuse_cases(rng: random.Random, ops: Sequence[Op]) -> list[_Case | None]:
    """``x op x`` for each operator, then a subexpression ``s`` feeding two paths that meet."""
    binary = [op for op in ops if op.arity == 2]
    cases = [_draw(rng, "reuse", _numbers(rng, 1), _single(op, (0, 0))) for op in binary]

    def diamond(pool: Sequence[Op], case: _Case, values: list[float]) -> bool:
        shared = lambda arity: (2, *[rng.randrange(3) for _ in range(arity - 1)])  # noqa: E731
        meet = [op for op in pool if op.arity == 2]
        return (
            _extend(rng, case, values, pool, _recent(rng, values))
            and _extend(rng, case, values, pool, shared)
            and _extend(rng, case, values, pool, shared)
            and _extend(rng, case, values, meet, lambda arity: (3, 4))
        )

    if binary:
        for pool in _pools(ops, 6):
            if any(op.arity == 2 for op in pool):
                cases.append(_draw(rng, "reuse", _numbers(rng, 2), partial(diamond, pool)))
    return cases


def _random_steps(rng: random.Random, ops: Sequence[Op], low: int, high: int) -> _Build:
    def build(case: _Case, values: list[float]) -> bool:
        steps = rng.randint(low, high)
        return all(_extend(rng, case, values, ops, _recent(rng, values)) for _ in range(steps))

    return build


def _mixed_cases(rng: random.Random, ops: Sequence[Op]) -> list[_Case | None]:
    """A plain number on the left and on the right of each operator, then random graphs with
    a plain number among their inputs (only ever beside a Value: ``2 * x``, never ``tanh(2)``)."""
    cases = []
    for op in ops:
        if op.name in OPERATORS:
            for constant in (0, 1):
                make = _numbers(rng, 2, [constant])
                cases.append(_draw(rng, "mixed", make, _single(op, (0, 1))))
    if any(op.name in OPERATORS for op in ops):
        for pool in _pools(ops, 4):
            constant = rng.randrange(3)
            steps = _random_steps(rng, pool, 3, 6)

            def build(case: _Case, values: list[float], steps: _Build = steps) -> bool:
                used = {i for _, args in case.steps for i in args} if steps(case, values) else ()
                return bool(case.constants & set(used))  # the plain number takes part

            cases.append(_draw(rng, "mixed", _numbers(rng, 3, [constant]), build))
    return cases


def _chain(op: Op, depth: int, other: int | None) -> _Build:
    """``v = op(v, x_other)`` (or ``op(v)``) ``depth`` times, from the last input."""

    def build(case: _Case, values: list[float]) -> bool:
        for _ in range(depth):
            args = (len(values) - 1,) if other is None else (len(values) - 1, other)
            if not _fits(op, [values[i] for i in args]):
                return False
            case.steps.append((op, args))
            values.append(op.forward(*[values[i] for i in args]))
        return True

    return build


def _depth_cases(rng: random.Random, ops: Sequence[Op], depth: int) -> list[_Case | None]:
    """Chains of ``depth`` steps: adding x0 again and again (x0 reused ``depth`` times),
    multiplying by a number near 1, negating, and tanh of tanh of ... (those in ``ops``)."""

    def near_one() -> tuple[list[float], set[int]]:
        return [round(1 + rng.uniform(-1e-3, 1e-3), 6), _number(rng)], set()

    def small() -> tuple[list[float], set[int]]:  # 1200 * 0.01: the sum stays small
        return [round(rng.uniform(-0.01, 0.01), 4), _number(rng)], set()

    chains = {
        "add": (small, 0, "v = v + x0"),
        "mul": (near_one, 0, "v = v * x0"),
        "neg": (_numbers(rng, 1), None, "v = -v"),
        "tanh": (_numbers(rng, 1), None, "v = tanh(v)"),
    }
    cases = []
    for op in ops:
        if op.name in chains:
            make, other, formula = chains[op.name]
            case = _draw(rng, "depth", make, _chain(op, depth, other))
            if case is not None:
                start = "x1" if other is not None else "x0"
                case.name = f"v = {start}; {depth} times: {formula}"
            cases.append(case)
    return cases


def _mlp(rng: random.Random, ops: Sequence[Op]) -> list[_Case | None]:
    """The squared error ``(y_hat - y) ** 2`` of a 2-3-1 network (tanh, else relu, hidden) on
    one example: inputs x0, x1 and y are plain numbers, then w1 (3x2), b1, w2, b2."""
    names = {op.name: op for op in ops}
    act = names.get("tanh") or names.get("relu")
    if act is None or not {"add", "sub", "mul"} <= set(names):
        return []
    add, mul = names["add"], names["mul"]

    def build(case: _Case, values: list[float]) -> bool:
        def step(op: Op, *args: int) -> int:
            case.steps.append((op, args))
            values.append(op.forward(*[values[i] for i in args]))
            return len(values) - 1

        w1, b1, w2, b2 = 3, 9, 12, 15  # where each parameter block starts among the inputs
        outputs = []
        for j in range(3):
            s = step(add, step(mul, w1 + 2 * j, 0), step(mul, w1 + 2 * j + 1, 1))
            outputs.append(step(mul, w2 + j, step(act, step(add, s, b1 + j))))
        y_hat = step(add, step(add, step(add, outputs[0], outputs[1]), outputs[2]), b2)
        d = step(names["sub"], y_hat, 2)
        step(mul, d, d)
        return all(_fits(op, [values[i] for i in args]) for op, args in case.steps)

    def make() -> tuple[list[float], set[int]]:
        weights = [round(rng.uniform(-1, 1), 3) for _ in range(13)]
        return [_number(rng), _number(rng), float(rng.choice((-1, 1))), *weights], {0, 1, 2}

    return [_draw(rng, "mlp", make, build) for _ in range(2)]


# ---- the file ------------------------------------------------------------------------------------


def _formula(case: _Case) -> str:
    """The steps as a learner writes them: ``v2 = x0 * x1; v3 = tanh(v2)`` (a plain number
    shown as itself: ``v2 = 0.5 * x1``)."""
    names = [
        (repr(x) if x >= 0 else f"({x!r})") if i in case.constants else f"x{i}"
        for i, x in enumerate(case.inputs)
    ]
    parts = []
    for op, args in case.steps:
        a = [names[i] for i in args]
        p = op.param
        if op.name in OPERATORS:
            text = f"{a[0]} {OPERATORS[op.name]} {a[1]}"
        elif op.name == "neg":
            text = f"-{a[0]}"
        elif op.name == "pow_scalar":
            text = f"{a[0]} ** {p!r}"
        elif op.name == "rpow_scalar":
            text = f"{p!r} ** {a[0]}"
        else:
            text = f"{op.name}({a[0]}{'' if p is None else f', {p!r}'})"
        names.append(f"v{len(names)}")
        parts.append(f"{names[-1]} = {text}")
    return "; ".join(parts)


def _record(number: int, case: _Case) -> dict[str, object]:
    values, grads = _run(case)
    used = sorted({op.name for op, _ in case.steps})
    steps: list[dict[str, object]] = []
    for op, args in case.steps:
        step: dict[str, object] = {"op": op.name, "args": list(args)}
        if op.param is not None:
            step["params"] = [op.param]
        steps.append(step)
    return {
        "id": number,
        "category": case.category,
        "name": case.name or _formula(case),
        "ops": used,
        "rtol": rtol(used),
        "inputs": case.inputs,
        "constants": sorted(case.constants),
        "steps": steps,
        "output": values[-1],
        "grads": [None if i in case.constants else g for i, g in enumerate(grads)],
        "values": values,
    }


CATEGORIES = ("op", "reuse", "mixed", "expression", "depth", "mlp")


def generate(
    seed: int = 0, ops: Iterable[str] | None = None, depth: int = DEFAULT_DEPTH
) -> list[dict[str, object]]:
    """The header and the cases, as dicts (``dumps`` writes them). Deterministic: the same
    ``seed``, ``ops`` and ``depth`` give the same file, byte for byte, with one microgradx
    version and math library (``exp``, ``tanh``, ... come from the platform's C library, which
    may differ in a last bit elsewhere: well within every case's tolerance).

    ``ops``: op names of ``port_ops()`` (default all); a case uses only these. ``depth``: steps
    in a depth chain. Raises ``ValueError`` for an unknown op name (listing the valid ones) and
    ``TypeError``/``ValueError`` for a ``seed`` or ``depth`` that is not an int >= 0 / >= 1.
    """
    count(seed, "seed", minimum=0)
    count(depth, "depth")
    members = resolve(ops)
    rng = random.Random(seed)
    drawn: list[_Case | None] = [
        *_op_cases(rng, members),
        *_reuse_cases(rng, members),
        *_mixed_cases(rng, members),
        *[
            _draw(
                rng, "expression", _numbers(rng, rng.randint(1, 3)), _random_steps(rng, pool, 2, 8)
            )
            for pool in _pools(members, EXPRESSIONS)
        ],
        *_depth_cases(rng, members, depth),
        *_mlp(rng, members),
    ]
    cases = [_record(i, case) for i, case in enumerate(c for c in drawn if c is not None)]
    header = _header(seed, members, depth, cases)
    return [header, *cases]


def _header(
    seed: int, members: Sequence[Op], depth: int, cases: Sequence[dict[str, object]]
) -> dict[str, object]:
    import microgradx  # the package's version (this module is imported by it)

    ops: dict[str, dict[str, object]] = {}
    for op in members:
        entry = ops.setdefault(
            op.name,
            {"name": op.name, "arity": op.arity, "math": op.math, "derivative": op.derivative},
        )
        if op.param is not None:
            entry.setdefault("params", []).append(op.param)  # type: ignore[attr-defined]
    return {
        "format": "microgradx golden vectors",
        "version": FORMAT_VERSION,
        "generator": f"microgradx {microgradx.__version__}, vectors {GENERATOR_VERSION}",
        "seed": seed,
        "depth": depth,
        "compare": "abs(got - expected) <= rtol * max(1, abs(expected))",
        "ops": list(ops.values()),
        "counts": {c: sum(case["category"] == c for case in cases) for c in CATEGORIES},
        "cases": len(cases),
    }


def dumps(lines: Sequence[dict[str, object]]) -> str:
    """JSON Lines: one compact object per line, floats as ``repr`` (exact), no inf or NaN."""
    return "".join(
        json.dumps(line, allow_nan=False, separators=(",", ":")) + "\n" for line in lines
    )


def write(out: str, *, seed: int = 0, ops: str | None = None, depth: int = DEFAULT_DEPTH) -> int:
    """``microgradx vectors``: generate and write to the file ``out`` (atomically; a folder, a
    FIFO or a device there is refused before any work) or, for ``-``, to standard output; the
    number of cases written (the lines after the header).
    ``ops`` is comma-separated op names. Raises ``ValueError`` for an unknown op name and
    ``OSError`` for a path that cannot be written (``NotARegularFileError`` for a folder, a FIFO
    or a device; ``FileNotFoundError`` for a folder that does not exist), before any work."""
    if out != "-" and not write_target(out).parent.is_dir():  # checked before the work
        raise FileNotFoundError(f"{out}: the folder {os.path.dirname(out)} does not exist")
    names = None if ops is None else [name.strip() for name in ops.split(",")]
    lines = generate(seed, names, depth)
    text = dumps(lines)
    if out == "-":
        sys.stdout.write(text)
    else:
        write_atomically(out, text.encode("utf-8"))
    return len(lines) - 1
