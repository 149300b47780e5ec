"""Hypothesis strategies for random expression graphs, for our tests and for yours.

``expressions()`` draws an ``Expression``: a few inputs and a list of steps, each applying an op
from the op table to earlier values. Every step is checked against the op's ``domain`` and
``kink`` as it is drawn, so the graphs stay well conditioned (no log of a negative number, no relu
sitting on its kink, no value or local derivative above ``max_magnitude``), and a failing example
shrinks to a short, readable formula::

    from hypothesis import given
    from microgradx import gradcheck
    from microgradx.testing import expressions

    @given(expressions())
    def test_gradients(expr):
        gradcheck(expr, expr.inputs)

``Expression.evaluate`` replays the same steps with any implementation of the ops (the test suite
uses it to build the same graph in PyTorch).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "microgradx.testing needs hypothesis: pip install 'microgradx[test]'"
    ) from error

from microgradx.engine import Value, apply
from microgradx.ops import OPS, Op

T = TypeVar("T")


@dataclass(frozen=True)
class Step:
    """``values.append(op(*[values[i] for i in args]))``"""

    op: Op
    args: tuple[int, ...]


@dataclass(frozen=True)
class Expression:
    """A random expression graph: ``inputs`` feed ``steps``; the last step is the output."""

    inputs: tuple[float, ...]
    steps: tuple[Step, ...]

    def __call__(self, *xs: Value) -> Value:
        """Build the graph over Values (one per input)."""
        return self.evaluate(xs, lambda op, args: apply(op, *args))

    def evaluate(self, xs: Sequence[T], apply_op: Callable[[Op, list[T]], T]) -> T:
        """Replay the steps with ``apply_op(op, args)`` standing in for each op."""
        if len(xs) != len(self.inputs):
            raise ValueError(f"expression takes {len(self.inputs)} inputs, got {len(xs)}")
        values = list(xs)
        for step in self.steps:
            values.append(apply_op(step.op, [values[i] for i in step.args]))
        return values[-1]

    @property
    def ops(self) -> set[str]:
        """The names of the ops this expression uses."""
        return {step.op.name for step in self.steps}

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        # Hypothesis prints failing examples with this: the formula, not the op records.
        printer.text(f"Expression({self})")  # type: ignore[attr-defined]

    def __str__(self) -> str:
        names = [f"x{i}" for i in range(len(self.inputs))]
        lines = [f"{name} = {x!r}" for name, x in zip(names, self.inputs)]
        for step in self.steps:
            name = f"v{len(names)}"
            lines.append(f"{name} = {step.op.label}({', '.join(names[i] for i in step.args)})")
            names.append(name)
        return "; ".join(lines)


def _members(ops: Iterable[Op] | None) -> list[Op]:
    chosen = OPS.values() if ops is None else ops
    return [member for op in chosen for member in (op.members() if op.param is None else (op,))]


def well_conditioned(
    op: Op, args: Sequence[float], *, min_kink_distance: float, max_magnitude: float
) -> bool:
    """True if ``op`` at ``args`` is inside its domain, away from kinks, and of moderate size."""
    if not op.domain(*args):
        return False
    if op.kink is not None and abs(op.kink(*args)) < min_kink_distance:
        return False
    out = op.forward(*args)
    if not (math.isfinite(out) and abs(out) <= max_magnitude):
        return False
    grads = op.local_grads(*args, out)
    return all(math.isfinite(g) and abs(g) <= max_magnitude for g in grads)


@st.composite
def expressions(
    draw: st.DrawFn,
    *,
    ops: Iterable[Op] | None = None,
    min_inputs: int = 1,
    max_inputs: int = 3,
    max_steps: int = 12,
    input_range: float = 3.0,
    min_kink_distance: float = 1e-2,
    max_magnitude: float = 100.0,
) -> Expression:
    """Random well-conditioned expression graphs over ``ops`` (default: the whole op table).

    Families such as ``pow_scalar`` are used at their ``param_examples``. Operands are drawn with a
    preference for recent values (deep graphs) and may repeat (``x * x``: reuse).
    """
    members = _members(ops)
    fallback = OPS["neg"]  # always well conditioned: keeps every draw valid
    n_inputs = draw(st.integers(min_inputs, max_inputs))
    finite = st.floats(-input_range, input_range, allow_nan=False, allow_infinity=False)
    inputs = [draw(finite) for _ in range(n_inputs)]
    values = list(inputs)
    steps = []
    for _ in range(draw(st.integers(1, max_steps))):
        # Index 0 is the newest value, so shrinking moves towards deep chains.
        picks = [len(values) - 1 - draw(st.integers(0, len(values) - 1)) for _ in range(2)]
        candidates = [
            op
            for op in members
            if well_conditioned(
                op,
                [values[i] for i in picks[: op.arity]],
                min_kink_distance=min_kink_distance,
                max_magnitude=max_magnitude,
            )
        ]
        op = draw(st.sampled_from(candidates or [fallback]))
        args = tuple(picks[: op.arity])
        steps.append(Step(op, args))
        values.append(op.forward(*[values[i] for i in args]))
    return Expression(tuple(inputs), tuple(steps))


def op_inputs(
    op: Op,
    *,
    input_range: float = 3.0,
    min_kink_distance: float = 1e-2,
    max_magnitude: float = 100.0,
) -> st.SearchStrategy[list[float]]:
    """Inputs for one op (bound, for a family) that are inside its well-conditioned region."""
    finite = st.floats(-input_range, input_range, allow_nan=False, allow_infinity=False)
    size = op.arity if op.arity is not None else 3  # an op of any number of inputs: three
    return st.lists(finite, min_size=size, max_size=size).filter(
        lambda xs: well_conditioned(
            op, xs, min_kink_distance=min_kink_distance, max_magnitude=max_magnitude
        )
    )
