"""One differential fuzz suite: every path of the library on the same random graphs.

Hypothesis draws graphs (inputs reused, branches on numbers, numbers read from the graph that
become constants or detached leaves, every op of the table and every member of its families,
signed zeros, infinities, NaN) and runs each through every path:

===============================  ==========================================================
path                             equal to ``backward()``'s output and input gradients
===============================  ==========================================================
``backward()``                   the reference
``trace_backward`` (viz)         bit for bit (README: "equals backward()'s, bit for bit")
``compile(backend="python")``    bit for bit, also called on other inputs (guards re-record)
``compile(backend="numpy")``     to 1e-12 (relative, or absolute for numbers near 0: NumPy's
                                 tanh may differ from C's in the last bit, and 1 - tanh² of
                                 a large number keeps only that bit's difference); NaN,
                                 infinities and zeros (with their signs) exactly
``autograd.grad``                the same numbers (it adds the first contribution to
                                 nothing, so a -0.0 gradient stays -0.0 there: sign of zero
                                 free)
``backward(create_graph=True)``  the same numbers on well-conditioned graphs (at special
                                 values a zero upstream gradient that is a Value is not
                                 skipped, so 0 * inf gives NaN where backward() gives 0)
``forward.jvp`` (forward mode)   to 1e-9 relative on well-conditioned graphs (the chain rule
                                 summed in the other direction rounds differently, and meets
                                 infinities in another order)
torch float64                    to 1e-9 relative on well-conditioned graphs (its own
                                 libm); required in CI (MICROGRADX_REQUIRE_TORCH=1)
===============================  ==========================================================

A path may instead refuse, with its reason: a compiled program refuses non-finite data
("must be finite numbers"). Equal means: the same number, NaN equal to NaN, and (where bit for
bit) -0.0 unequal to 0.0.

Every op of ``ops.OPS`` gets its own test (parametrized from the table), so a new op is covered
without a line here; the graphs of that test always contain it.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradx
from microgradx import Value, apply
from microgradx.autograd import grad as engine_grad
from microgradx.dual import jvp
from microgradx.ops import ADD, OPS, Op
from microgradx.testing import well_conditioned
from microgradx.viz import trace_backward
from tests.test_vs_torch import torch_apply

# ---- graphs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """``values.append(...)``: ``("op", op, args)``; ``("branch", i, threshold, (op, args),
    (op, args))``: the first if ``number(values[i]) > threshold``; ``("detach", i)``; ``("read",
    i, c)``: a new constant ``number(values[i]) * c`` (a number read from the graph)."""

    kind: str
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Graph:
    inputs: tuple[float, ...]
    steps: tuple[Step, ...]

    def ops(self) -> set[str]:
        names = set()
        for step in self.steps:
            if step.kind == "op":
                names.add(step.parts[0].name)
            elif step.kind == "branch":
                names.update((step.parts[2][0].name, step.parts[3][0].name))
        return names

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"Graph({self})")  # hypothesis shows the formula, not the op records

    def __str__(self) -> str:
        lines = [f"v{i} = {x!r}" for i, x in enumerate(self.inputs)]
        k = len(self.inputs)
        for step in self.steps:
            p = step.parts
            if step.kind == "op":
                text = f"{p[0].label}({', '.join(f'v{a}' for a in p[1])})"
            elif step.kind == "branch":
                (oa, aa), (ob, ab) = p[2], p[3]
                text = (
                    f"{oa.label}({', '.join(f'v{a}' for a in aa)}) if v{p[0]} > {p[1]!r}"
                    f" else {ob.label}({', '.join(f'v{a}' for a in ab)})"
                )
            elif step.kind == "detach":
                text = f"detach(v{p[0]})"
            else:
                text = f"constant(number(v{p[0]}) * {p[1]!r})"
            lines.append(f"v{k} = {text}")
            k += 1
        return "; ".join(lines)


@dataclass(frozen=True)
class Numbers:
    """How one path spells the graph's building blocks."""

    apply: Callable[[Op, list[Any]], Any]
    number: Callable[[Any], float]  # the float inside (what a branch compares)
    detach: Callable[[Any], Any]
    constant: Callable[[float], Any]


def evaluate(graph: Graph, xs: Sequence[Any], how: Numbers) -> Any:
    values = list(xs)
    for step in graph.steps:
        p = step.parts
        if step.kind == "op":
            values.append(how.apply(p[0], [values[a] for a in p[1]]))
        elif step.kind == "branch":
            op, args = p[2] if how.number(values[p[0]]) > p[1] else p[3]
            values.append(how.apply(op, [values[a] for a in args]))
        elif step.kind == "detach":
            values.append(how.detach(values[p[0]]))
        else:
            values.append(how.constant(how.number(values[p[0]]) * p[1]))
    return values[-1]


VALUES = Numbers(
    apply=lambda op, args: apply(op, *args),
    number=lambda v: v.data,
    detach=lambda v: v.detach(),
    constant=Value,
)
DUALS = Numbers(  # forward mode: a detached value or a constant is a plain number (no tangent)
    apply=lambda op, args: (
        apply(op, *args) if any(hasattr(a, "primal") for a in args) else op.forward(*args)
    ),
    number=lambda d: d.primal if hasattr(d, "primal") else d,
    detach=lambda d: d.primal if hasattr(d, "primal") else d,
    constant=lambda x: x,
)


def _members(op: Op) -> list[Op]:
    return list(op.members())


ALL_MEMBERS = [member for op in OPS.values() for member in op.members()]
# a step takes at most this many operands (an op of any number of inputs is given three)
MOST_OPERANDS = max(member.arity or 3 for member in ALL_MEMBERS)
ORDINARY = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
# finite specials (a compiled program refuses non-finite data) and the non-finite ones
FINITE_SPECIAL = st.sampled_from(
    [-0.0, 0.0, 1e-300, -1e-300, 5e-324, 1e300, -1e300, 800.0, -800.0, 0.5, -1.0, 2.0, 3.0]
)
SPECIAL = st.one_of(FINITE_SPECIAL, st.sampled_from([math.inf, -math.inf, math.nan]))


@st.composite
def graphs(
    draw: st.DrawFn, family: str, *, special: bool = False, max_steps: int = 7
) -> tuple[Graph, list[float]]:
    """A graph that uses ``family`` at least once, and other inputs to call it on.

    Well-conditioned unless ``special``: every op is applied inside its domain, away from its
    kinks, with moderate values and derivatives (``testing.well_conditioned``), and every branch
    is at least 0.1 away from its threshold, so paths that round differently take the same
    branches. ``special``: any op on any value, inputs among signed zeros, tiny, huge and
    non-finite numbers, thresholds among them too.
    """
    member = draw(st.sampled_from(_members(OPS[family])))
    numbers = SPECIAL if special else ORDINARY
    conditions = {"min_kink_distance": 1e-2, "max_magnitude": 100.0}
    # the family's own inputs first, where it is well conditioned
    if special:
        own = [draw(numbers) for _ in range(member.arity or 3)]
    else:
        from microgradx.testing import op_inputs

        own = draw(op_inputs(member))
    extra = [draw(numbers) for _ in range(draw(st.integers(0, 2)))]
    inputs = [*own, *extra]
    values: list[float] = list(inputs)  # each value's number, as the graph computes it
    steps: list[Step] = []
    count = draw(st.integers(1, max_steps))
    forced_at = draw(st.integers(0, count - 1))

    def picks(n: int) -> list[int]:
        return [len(values) - 1 - draw(st.integers(0, len(values) - 1)) for _ in range(n)]

    def fits(op: Op, args: list[int]) -> bool:
        return special or well_conditioned(op, [values[a] for a in args], **conditions)

    def some_op() -> tuple[Op, list[int]]:
        args = picks(MOST_OPERANDS)
        ops = [op for op in ALL_MEMBERS if fits(op, args[: op.arity or 3])]
        op = draw(st.sampled_from(ops or [OPS["neg"]]))
        return op, args[: op.arity or 3]

    def run(op: Op, args: list[int]) -> float:
        return op.forward(*[values[a] for a in args])

    for k in range(count):
        if k == forced_at:
            args = picks(member.arity or 3)
            if not fits(member, args):
                args = list(range(len(own)))  # its own inputs: well conditioned there
            steps.append(Step("op", (member, tuple(args))))
            values.append(run(member, args))
            continue
        kind = draw(st.sampled_from(["op", "op", "op", "branch", "detach", "read"]))
        if kind == "op":
            op, args = some_op()
            steps.append(Step("op", (op, tuple(args))))
            values.append(run(op, args))
        elif kind == "branch":
            tested = picks(1)[0]
            first, second = some_op(), some_op()
            number = values[tested]
            if special:
                threshold = draw(numbers)
            else:  # well away from the number, on either side
                threshold = number + draw(st.sampled_from([-1.0, 1.0])) * draw(st.floats(0.1, 1.0))
            chosen = first if number > threshold else second
            steps.append(
                Step(
                    "branch",
                    (tested, threshold, (first[0], tuple(first[1])), (second[0], tuple(second[1]))),
                )
            )
            values.append(run(*chosen))
        elif kind == "detach":
            steps.append(Step("detach", (picks(1)[0],)))
            values.append(values[steps[-1].parts[0]])
        else:
            source = picks(1)[0]
            factor = draw(st.sampled_from([2.0, -0.5, 1.0]))
            steps.append(Step("read", (source, factor)))
            values.append(values[source] * factor)
    if steps[-1].kind != "op":  # the output is always computed by an op (never a leaf)
        steps.append(Step("op", (ADD, (len(values) - 1, len(values) - 1))))
    other = [draw(FINITE_SPECIAL if special else ORDINARY) for _ in inputs]
    return Graph(tuple(inputs), tuple(steps)), other


# ---- the paths ----------------------------------------------------------------------------------


def _same_bits(a: float, b: float) -> bool:
    return (a != a and b != b) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


def _same_number(a: float, b: float) -> bool:
    return (a != a and b != b) or a == b


def _close(a: float, b: float, rel: float, abs_: float = 0.0, zero_sign: bool = True) -> bool:
    """Within ``rel`` (relative) or ``abs_`` where both are finite; NaN and infinities exactly;
    two zeros with the same sign (``zero_sign``) or any."""
    if a != a or b != b or math.isinf(a) or math.isinf(b):
        return _same_bits(a, b)
    if a == 0 and b == 0:
        return _same_bits(a, b) or not zero_sign
    return abs(a - b) <= abs_ + rel * max(abs(a), abs(b))


def reference(graph: Graph, xs: Sequence[float]) -> tuple[float, list[float]]:
    leaves = [Value(x) for x in xs]
    out = evaluate(graph, leaves, VALUES)
    out.backward()
    return out.data, [leaf.grad for leaf in leaves]


def _optional(name: str) -> Any:
    """numpy or torch; without it skip that path, except in CI where it is required."""
    try:
        return __import__(name)
    except ImportError:
        if os.environ.get("MICROGRADX_REQUIRE_TORCH") == "1":
            pytest.fail(f"{name} is not installed, but CI installs it (MICROGRADX_REQUIRE_TORCH=1)")
        return None


def check_every_path(graph: Graph, other: list[float], well_conditioned: bool) -> None:
    xs = list(graph.inputs)
    out, grads = reference(graph, xs)
    where = f"{graph} at {xs}"

    # trace_backward: the recorded pass, bit for bit
    leaves = [Value(x) for x in xs]
    root = evaluate(graph, leaves, VALUES)
    trace = trace_backward(root)
    final = trace.grads_after(len(trace) - 1)
    for k, leaf in enumerate(leaves):
        assert _same_bits(leaf.grad, grads[k]), f"trace_backward d/dx{k}: {where}"
        assert _same_bits(final.get(leaf, 0.0), grads[k]), f"trace.grads_after d/dx{k}: {where}"

    # autograd.grad: the same numbers (a first contribution is not added to 0.0: -0.0 may stay)
    leaves = [Value(x) for x in xs]
    root = evaluate(graph, leaves, VALUES)
    returned = engine_grad(root, leaves, materialize_grads=True)
    for k, g in enumerate(returned):
        assert _same_number(g, grads[k]), f"autograd.grad d/dx{k} {g} vs {grads[k]}: {where}"

    # compiled, Python: bit for bit, at the inputs and at others (guards may record again)
    finite = all(math.isfinite(x) for x in xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a full cache: then interpreted
        program = microgradx.compile(lambda *v: evaluate(graph, v, VALUES), xs)
        for inputs in (xs, other, xs):
            if not all(math.isfinite(x) for x in inputs):
                with pytest.raises(ValueError, match="must be finite numbers"):
                    program(*inputs)  # the path refuses, and says why
                continue
            want, want_grads = reference(graph, inputs)
            replayed = program.run(*inputs)
            got = replayed.output
            assert _same_bits(got, want), f"compiled {got} vs {want}: {graph} at {inputs}"
            for k, g in enumerate(replayed.input_grads):
                assert _same_bits(g, want_grads[k]), f"compiled d/dx{k}: {graph} at {inputs}"

        # compiled, NumPy: a batch of both input rows at once
        if _optional("numpy") is not None and finite and all(math.isfinite(x) for x in other):
            program = microgradx.compile(lambda *v: evaluate(graph, v, VALUES), xs, backend="numpy")
            rows = [xs, other]
            replayed = program.run_batch(rows)
            outputs = replayed.output
            # IEEE arithmetic only: the level-by-level program is bit for bit (each node the
            # same float operation, each gradient's terms added in the walk's order)
            exact = graph.ops() <= ARITHMETIC
            for r, row in enumerate(rows):
                want, want_grads = reference(graph, row)
                got = float(outputs[r])
                assert _close(got, want, 1e-12, 1e-12), f"numpy {got} vs {want}: {graph} at {row}"
                assert not exact or _same_bits(got, want), f"numpy {got} vs {want}: {graph} {row}"
                for k, column in enumerate(replayed.input_grads):
                    g = float(column[r])
                    assert _close(g, want_grads[k], 1e-12, 1e-12), f"numpy d/dx{k}: {graph} {row}"
                    assert not exact or _same_bits(g, want_grads[k]), f"numpy d/dx{k}: {graph}"

    if not well_conditioned:
        return

    # backward(create_graph=True): gradients that are Values, with the same numbers
    leaves = [Value(x) for x in xs]
    root = evaluate(graph, leaves, VALUES)
    root.backward(create_graph=True)
    for k, leaf in enumerate(leaves):
        g = leaf.grad.data if isinstance(leaf.grad, Value) else leaf.grad
        assert _same_number(g, grads[k]), f"create_graph d/dx{k} {g} vs {grads[k]}: {where}"

    # forward mode: one jvp per input
    for k in range(len(xs)):
        tangent = [1.0 if j == k else 0.0 for j in range(len(xs))]
        value, derivative = jvp(lambda *d: evaluate(graph, d, DUALS), xs, tangent)
        assert _close(float(value), out, 1e-12, zero_sign=False), f"jvp value: {where}"
        assert _close(float(derivative), grads[k], 1e-9, 1e-12, False), f"jvp d/dx{k}: {where}"

    # torch float64
    torch = _optional("torch")
    if torch is not None:
        torch.set_default_dtype(torch.float64)
        tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
        tensors_numbers = Numbers(
            apply=lambda op, args: torch_apply(torch, op, args),
            number=lambda t: t.item(),
            detach=lambda t: t.detach(),
            constant=lambda x: torch.tensor(x, dtype=torch.float64),
        )
        result = evaluate(graph, tensors, tensors_numbers)
        if result.requires_grad:
            result.backward()
        # (a zero's sign is free: backward() adds each gradient to a +0.0 start, torch does not)
        assert _close(result.item(), out, 1e-9, 1e-12, False), f"torch {result.item()}: {where}"
        for k, tensor in enumerate(tensors):
            theirs = 0.0 if tensor.grad is None else tensor.grad.item()
            assert _close(theirs, grads[k], 1e-9, 1e-12, False), f"torch d/dx{k}: {where}"


# ---- the tests ----------------------------------------------------------------------------------


FAMILIES = list(OPS)  # every op of the table has its tests: a new op is covered without a line
ARITHMETIC = {"add", "sub", "mul", "div", "neg"}  # NumPy's are IEEE's, as Python's


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=30)
@given(data=st.data())
def test_every_path_agrees_on_well_conditioned_graphs(family: str, data: st.DataObject) -> None:
    graph, other = data.draw(graphs(family), label="graph")
    assert family in graph.ops()
    check_every_path(graph, other, well_conditioned=True)


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=25)
@given(data=st.data())
def test_every_exact_path_agrees_at_special_values(family: str, data: st.DataObject) -> None:
    graph, other = data.draw(graphs(family, special=True), label="graph")
    assert family in graph.ops()
    check_every_path(graph, other, well_conditioned=False)
