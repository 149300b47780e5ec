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

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "microgradx.testing and microgradx check need hypothesis: pip install 'microgradx[check]'"
        " (in a clone: pip install -e '.[check]')"
    ) from error

from microgradx.checks import (
    count,
    describe,
    function,
    in_range,
    number,
    reals,
    sequence,
)
from microgradx.engine import Value, apply
from microgradx.gradcheck import domain_holds, kink_value
from microgradx.ops import NEG, OPS, Op, all_members

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

    def __call__(self, *xs: Any) -> Any:
        """Build the graph over Values (one per input; a number becomes a constant leaf), or
        over forward mode's Duals (anything that applies ops itself, as ``engine.apply`` knows)."""
        values = [
            x
            if isinstance(x, Value) or hasattr(type(x), "__microgradx_apply__")
            else Value(number(x, f"xs[{i}] (input x{i} of the expression)"))
            for i, x in enumerate(xs)
        ]
        return self.evaluate(values, lambda op, args: apply(op, *args))

    def evaluate(self, xs: Sequence[T], apply_op: Callable[[Op, list[T]], T]) -> T:
        """Replay the steps with ``apply_op(op, args)`` standing in for each op."""
        xs = sequence(xs, "xs")
        function(apply_op, "apply_op")
        if len(xs) != len(self.inputs):
            raise ValueError(
                f"xs must hold the expression's {len(self.inputs)} inputs, got {len(xs)}"
            )
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


def _resolve(ops: object) -> list[Op]:
    """``ops`` (None, or a list of Ops and op names) as a list of ops, families expanded at their
    ``param_examples``, each once, in a fixed order."""
    if ops is None:
        return all_members()
    if isinstance(ops, (str, Op)) or not isinstance(ops, Iterable):
        raise TypeError(
            "ops must be a list of Ops or op names (e.g. ['tanh', 'log'] or [OPS['tanh']]),"
            f" got {describe(ops)}"
        )
    items = list(ops)
    if not isinstance(ops, Sequence):  # a set: its order changes from run to run; fix one
        items.sort(key=lambda op: (op.name, op.param or 0.0) if isinstance(op, Op) else (op, 0))
    if not items:
        raise ValueError("ops must not be empty: name at least one op")
    members: list[Op] = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            if item not in OPS:
                names = ", ".join(OPS)
                raise ValueError(
                    f"ops[{i}] is {item!r}, which is not an op; the op names are {names}"
                )
            item = OPS[item]
        elif not isinstance(item, Op):
            raise TypeError(f"ops[{i}] must be an Op or an op name, got {describe(item)}")
        expanded = item.members() if item.param is None else (item,)
        if not expanded:
            raise ValueError(
                f"ops[{i}] is the family {item.name!r} with no param_examples:"
                f" give a member, e.g. {item.name}.member(2.0)"
            )
        members.extend(op for op in expanded if op not in members)
    return members


def _settings(
    input_range: object, min_kink_distance: object, max_magnitude: object
) -> tuple[float, float, float]:
    return (
        in_range(input_range, "input_range", 0.0, math.inf, low_open=True, high_open=True),
        in_range(min_kink_distance, "min_kink_distance", 0.0, math.inf, high_open=True),
        in_range(max_magnitude, "max_magnitude", 0.0, math.inf, low_open=True, high_open=True),
    )


def _bound_op(op: object) -> Op:
    """``op`` (an Op or an op name) as one bound op; a family needs its parameter."""
    if isinstance(op, str):
        if op not in OPS:
            raise ValueError(f"op is {op!r}, which is not an op; the op names are {', '.join(OPS)}")
        op = OPS[op]
    if not isinstance(op, Op):
        raise TypeError(f"op must be an Op or an op name, got {describe(op)}")
    if op.param_name is not None and op.param is None:
        raise TypeError(
            f"op is the family {op.name!r}: give a member, e.g. OPS[{op.name!r}].member(2.0)"
        )
    return op


def well_conditioned(
    op: Op | str, args: Sequence[float], *, min_kink_distance: float, max_magnitude: float
) -> bool:
    """True if ``op`` at ``args`` is inside its domain, at least ``min_kink_distance`` from its
    kinks, and its value and local derivatives are finite and at most ``max_magnitude`` in size.

    Raises ``TypeError``/``ValueError`` for an ``op`` that is not a bound Op, ``args`` that are not
    ``op.arity`` real numbers, or settings that are not finite (``min_kink_distance >= 0``,
    ``max_magnitude > 0``). ``op`` may be an op name."""
    op = _bound_op(op)
    numbers = reals(args, "args", data=True)
    if len(numbers) != op.arity and not (op.arity is None and numbers):
        wanted = "one or more" if op.arity is None else str(op.arity)
        raise ValueError(f"args must hold {wanted} number(s) for {op.name}, got {len(numbers)}")
    _, distance, magnitude = _settings(1.0, min_kink_distance, max_magnitude)
    return _well_conditioned(op, numbers, distance, magnitude)


def _well_conditioned(
    op: Op, args: Sequence[float], min_kink_distance: float, max_magnitude: float
) -> bool:
    if not domain_holds(op, args):
        return False
    if op.kink is not None and abs(kink_value(op, args)) < min_kink_distance:
        return False
    out = op.forward(*args)
    if not (math.isfinite(out) and abs(out) <= max_magnitude):
        return False
    grads = op.local_grads(*args, out)
    return all(math.isfinite(g) and abs(g) <= max_magnitude for g in grads)


def expressions(
    *,
    ops: Iterable[Op | str] | None = None,
    min_inputs: int = 1,
    max_inputs: int = 3,
    max_steps: int = 12,
    input_range: float = 3.0,
    min_kink_distance: float = 1e-2,
    max_magnitude: float = 100.0,
) -> st.SearchStrategy[Expression]:
    """Random well-conditioned expression graphs over ``ops`` (default: the whole op table).

    ``ops`` is a list of Ops or op names (``["log", "mul"]``); a family such as ``pow_scalar``
    is used at its ``param_examples``. Each expression has ``min_inputs`` to ``max_inputs``
    inputs in ``[-input_range, input_range]`` and 1 to ``max_steps`` steps. Every step is
    well conditioned (see ``well_conditioned``): inside its op's domain, at least
    ``min_kink_distance`` from a kink, value and local derivatives at most ``max_magnitude``.

    Each step draws an op from ``ops``, then its operands, preferring recent values (deep graphs)
    and allowing repeats (``x * x``: reuse). When the op cannot be applied well conditioned to
    those operands, other values are tried; then a new input drawn inside its domain (while there
    are fewer than ``max_inputs``); then another of ``ops``. Only when no op of ``ops`` applies to
    any value and no input may be added does a step use an op outside ``ops``: one of the table
    that makes an asked op applicable again (``neg`` of a negative number, for ``log``), else
    ``neg``. So a graph over only ``log`` or ``sqrt`` with ``max_inputs=1`` and a negative input
    starts with ``neg``, and one over only ``maximum`` with ``max_inputs=1`` first makes a second
    value (``maximum(x, x)`` sits on its kink). With the defaults, over 90% of the steps use the
    asked ops for every single op of the table (``tests/test_arguments.py`` measures it; with
    ``max_inputs=1`` the share is 85% for ``maximum`` and ``minimum``, 89% for ``pow``, over 90%
    for the others).

    Raises ``TypeError``/``ValueError`` here, when called, for an op that is not an Op or an op
    name (an unknown name lists the valid ones), empty ``ops``, counts that are not ints >= 1,
    ``min_inputs > max_inputs``, or ranges that are not finite and positive
    (``min_kink_distance`` may be 0).
    """
    members = _resolve(ops)
    low = count(min_inputs, "min_inputs")
    high = count(max_inputs, "max_inputs")
    if low > high:
        raise ValueError(f"min_inputs ({low}) must be <= max_inputs ({high})")
    steps = count(max_steps, "max_steps")
    settings = _settings(input_range, min_kink_distance, max_magnitude)
    return _expressions(members, low, high, steps, *settings)


@st.composite
def _expressions(
    draw: st.DrawFn,
    members: list[Op],
    min_inputs: int,
    max_inputs: int,
    max_steps: int,
    input_range: float,
    min_kink_distance: float,
    max_magnitude: float,
) -> Expression:
    finite = st.floats(-input_range, input_range, allow_nan=False, allow_infinity=False)
    values = [draw(finite) for _ in range(draw(st.integers(min_inputs, max_inputs)))]
    drawing = _Drawing(draw, members, values, finite, input_range, min_kink_distance, max_magnitude)
    for _ in range(draw(st.integers(1, max_steps))):
        drawing.step(max_inputs)
    return drawing.expression()


class _Drawing:
    """An expression being drawn: the numbers so far (inputs and steps' results) and its steps.

    Inputs may be added while steps are drawn; a value is ("input", k) or ("step", j) until the
    end, when inputs are numbered first."""

    def __init__(
        self,
        draw: st.DrawFn,
        members: list[Op],
        values: list[float],
        finite: st.SearchStrategy[float],
        input_range: float,
        min_kink_distance: float,
        max_magnitude: float,
    ) -> None:
        self.draw, self.members, self.values, self.finite = draw, members, values, finite
        self.input_range = input_range
        self.limits = (min_kink_distance, max_magnitude)
        self.refs: list[tuple[str, int]] = [("input", k) for k in range(len(values))]
        self.inputs = list(values)
        self.steps: list[tuple[Op, tuple[int, ...]]] = []

    def good(self, op: Op, args: tuple[int, ...]) -> bool:
        return _well_conditioned(op, [self.values[i] for i in args], *self.limits)

    def every(self, op: Op) -> list[tuple[int, ...]]:
        """The well-conditioned choices of operands for ``op``, newest values first, among the
        first ``_MOST_TRIED`` (all of them for one or two operands; soft cross-entropy over
        three classes takes six, and 15 values give 15^6 choices)."""
        newest = range(len(self.values) - 1, -1, -1)
        tried = itertools.islice(itertools.product(newest, repeat=_arity(op)), _MOST_TRIED)
        return [args for args in tried if self.good(op, args)]

    def fresh(self, op: Op) -> tuple[float, tuple[int, ...]] | None:
        """A new input inside ``op``'s domain and the operands that use it, or None."""
        values, n = self.values, _arity(op)
        u = self.draw(self.finite)
        ladder = [u, -u] + [self.input_range * k / 4 for k in (2, -2, 1, -1, 3, -3, 4, -4)]
        for position in range(n):
            others = range(len(values) - 1, -1, -1) if n >= 2 else [None]
            for other in others:
                for candidate in ladder:
                    numbers = [values[other]] * n if other is not None else [0.0]
                    numbers[position] = candidate
                    if _well_conditioned(op, numbers, *self.limits):
                        args = [other if other is not None else 0] * n
                        args[position] = len(values)  # the new value's index
                        return candidate, tuple(args)
        return None

    def bridge(self) -> tuple[Op, tuple[int, ...]]:
        """A step outside ``members`` after which one of them applies (else ``neg``)."""
        values = self.values
        for op in [NEG, *(op for op in all_members() if op.arity == 1 and op is not NEG)]:
            for i in range(len(values) - 1, -1, -1):
                if not self.good(op, (i,)):
                    continue
                values.append(op.forward(values[i]))
                enables = any(
                    self.good(m, args) for m in self.members for args in _using_last(m, values)
                )
                values.pop()
                if enables:
                    return op, (i,)
        return NEG, (len(values) - 1,)

    def step(self, max_inputs: int) -> None:
        """Draw one step: an op of ``members`` on well-conditioned operands (a new input, or
        another op, or a bridge step when the drawn ones do not fit)."""
        draw, values = self.draw, self.values
        op = draw(st.sampled_from(self.members))
        # Index 0 is the newest value, so shrinking moves towards deep chains.
        args = tuple(
            len(values) - 1 - draw(st.integers(0, len(values) - 1)) for _ in range(_arity(op))
        )
        if not self.good(op, args):
            choices = self.every(op)
            made = None if choices or len(self.inputs) >= max_inputs else self.fresh(op)
            if choices:
                args = choices[draw(st.integers(0, len(choices) - 1))]
            elif made is not None:
                number, args = made
                self.refs.append(("input", len(self.inputs)))
                self.inputs.append(number)
                values.append(number)
            else:
                usable = [(m, a) for m in self.members for a in self.every(m)]
                if usable:
                    op, args = usable[draw(st.integers(0, len(usable) - 1))]
                else:
                    op, args = self.bridge()
        self.refs.append(("step", len(self.steps)))
        self.steps.append((op, args))
        values.append(op.forward(*[values[i] for i in args]))

    def expression(self) -> Expression:
        def index(ref: tuple[str, int]) -> int:
            kind, k = ref
            return k if kind == "input" else len(self.inputs) + k

        return Expression(
            tuple(self.inputs),
            tuple(Step(op, tuple(index(self.refs[i]) for i in args)) for op, args in self.steps),
        )


# operand choices tried per op when the drawn ones do not fit; more than two operands of the
# at most max_inputs + max_steps values (15 with the defaults) could be millions of choices
_MOST_TRIED = 512


def _using_last(op: Op, values: list[float]) -> list[tuple[int, ...]]:
    """Operand choices for ``op`` that use the newest value."""
    last = len(values) - 1
    if op.arity == 1:
        return [(last,)]
    if op.arity is None or op.arity > 2:  # the newest value first, the others newest first
        rest = [max(last - k, 0) for k in range(1, _arity(op))]
        return [(last, *rest)]
    pairs: list[tuple[int, ...]] = [(last, i) for i in range(last + 1)]
    return pairs + [(i, last) for i in range(last)]


def _arity(op: Op) -> int:
    """How many inputs a drawn step gives ``op``: its arity, or three for an op of any number."""
    return op.arity if op.arity is not None else 3


def op_inputs(
    op: Op | str,
    *,
    input_range: float = 3.0,
    min_kink_distance: float = 1e-2,
    max_magnitude: float = 100.0,
) -> st.SearchStrategy[list[float]]:
    """Inputs for one op (bound, for a family; or an op name) inside its well-conditioned region.

    Raises ``TypeError``/``ValueError`` as ``expressions`` does, and for an unbound family."""
    bound = _bound_op(op)
    low, distance, magnitude = _settings(input_range, min_kink_distance, max_magnitude)
    finite = st.floats(-low, low, allow_nan=False, allow_infinity=False)
    return st.lists(finite, min_size=_arity(bound), max_size=_arity(bound)).filter(
        lambda xs: _well_conditioned(bound, xs, distance, magnitude)
    )
