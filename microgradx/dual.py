"""Forward-mode differentiation with dual numbers, driven by the same op table as reverse mode.

A dual number carries a value and its derivative along one direction: ``Dual(primal, tangent)``.
Every op maps it forward with the chain rule, using the op's local derivatives from the table::

    op(x, y).tangent = d op/dx * x.tangent + d op/dy * y.tangent

One forward pass gives the derivative of *every* output along *one* input direction (a Jacobian-
vector product), where one reverse pass gives the gradient of *one* output with respect to *every*
input. So forward mode suits few inputs and many outputs (sensitivity analysis), reverse mode the
opposite (training: one loss, many weights).

**Nested derivatives.** Each ``jvp``/``derivative`` call gives its perturbation its own ``tag``
(a number that grows with every call, so an inner call's tag is larger than the outer one's). A
Dual's primal and tangent may themselves be Duals of smaller tags: that is how a derivative of a
derivative is carried. Ops combine Duals of different tags by treating the smaller-tagged one as
a constant of the larger tag, so the perturbations of two nested calls are never confused::

    derivative(lambda x: x * derivative(lambda y: x + y, 1.0), 1.0)   # 1.0, not 2.0

(Siskind and Pearlmutter, "Perturbation confusion and referential transparency", 2005; JAX
keeps its interpreters apart by levels the same way.)
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Union

from microgradx import ops
from microgradx.checks import (
    changed_call,
    count,
    describe,
    function,
    is_real,
    number,
    real,
    sequence,
    takes,
)
from microgradx.ops import Op

DualOperand = Union["Dual", float, int]

_counter: list[int] | None = None  # set by count_ops()
_tags = itertools.count(1)  # tag 0 is for Duals a user makes by hand; each jvp takes the next


@contextmanager
def count_ops() -> Iterator[list[int]]:
    """``with count_ops() as n:`` counts the dual-number ops applied inside (``n[0]``)."""
    global _counter
    before, _counter = _counter, [0]
    try:
        yield _counter
    finally:
        _counter = before


class Dual:
    """A value and its tangent: ``Dual(x, 1.0)`` seeds the derivative with respect to x.

    ``tag`` names the perturbation the tangent belongs to (``jvp`` picks a fresh one; Duals made
    by hand share tag 0). ``primal`` and ``tangent`` are numbers, or Duals of a smaller tag when
    derivatives are nested.
    """

    __slots__ = ("primal", "tag", "tangent")

    primal: Any  # float, or a Dual of a smaller tag
    tangent: Any  # float, or a Dual of a smaller tag
    tag: int

    def __init__(self, primal: DualOperand, tangent: DualOperand = 0.0, tag: int = 0) -> None:
        if type(tag) is not int or tag < 0:  # checked in full only when not a plain int >= 0
            tag = count(tag, "Dual tag", 0)
        self.primal = _part(primal, "Dual primal", tag)
        self.tangent = _part(tangent, "Dual tangent", tag)
        self.tag = tag

    @classmethod
    def apply_op(cls, op: Op, *inputs: DualOperand) -> Dual:
        """Renamed: ``microgradx.apply(op, *inputs)`` applies an op to Duals as to Values."""
        raise AttributeError("Dual.apply_op is now microgradx.apply(op, *inputs)")

    @classmethod
    def __microgradx_apply__(cls, op: Op, *inputs: DualOperand) -> Dual:
        """``op`` on duals (``microgradx.apply`` hands Duals here): the primal by the op's rule,
        the tangent by its local derivatives.

        The inputs carrying the largest tag are differentiated; every other input (a number, or a
        Dual of a smaller tag, which belongs to an enclosing derivative) is a constant here.
        """
        tag = max(x.tag for x in inputs if isinstance(x, Dual))
        primals: list[Any] = []
        tangents: list[Any] = []
        for x in inputs:
            if isinstance(x, Dual) and x.tag == tag:
                primals.append(x.primal)
                tangents.append(x.tangent)
            else:
                if not isinstance(x, Dual) and hasattr(x, "backward"):  # a Value
                    raise TypeError(
                        f"{op.name}: a Value and a forward-mode Dual meet here; compute with"
                        " Duals only (jvp, derivative) or with Values only (backward)"
                    )
                primals.append(x if isinstance(x, Dual) else number(x, "operand"))
                tangents.append(0.0)
        out = _evaluate(op, primals)
        local_grads = op.local_grads(*primals, out)
        tangent: Any = 0.0
        for g, t in zip(local_grads, tangents):
            if type(t) is float and t == 0.0:
                continue  # an input that does not move adds 0 (not 0 * inf = nan)
            tangent = tangent + (g if isinstance(g, Dual) else float(g)) * t
        if _counter is not None:
            _counter[0] += 1
        return cls(out, tangent, tag)

    # x ** p dispatches on the exponent's type (two ops), so it is written out; every other
    # operator and method is generated from the op table below.
    def __pow__(self, exponent: DualOperand) -> Dual:
        if isinstance(exponent, Dual):
            return _apply(ops.POW, self, exponent)
        return _apply(ops.POW_SCALAR.member(number(exponent, "exponent")), self)

    def __rpow__(self, base: DualOperand) -> Dual:
        return _apply(ops.RPOW_SCALAR.member(number(base, "base")), self)

    def __pos__(self) -> Dual:
        return self

    def __float__(self) -> float:
        """The innermost number (a nested Dual's primal's primal ...)."""
        return float(self.primal)

    def __repr__(self) -> str:
        tag = f", tag={self.tag}" if self.tag else ""
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r}{tag})"


_apply = Dual.__microgradx_apply__  # op on Duals (microgradx.apply reaches it for a Dual input)


def _part(x: Any, name: str, tag: int) -> Any:
    """A primal or tangent: a number, or a Dual of a smaller tag (an enclosing derivative)."""
    if isinstance(x, Dual):
        if x.tag >= tag:
            raise ValueError(
                f"{name} is a Dual of tag {x.tag}: the parts of a Dual of tag {tag} may only be"
                " Duals of smaller tags (enclosing derivatives)"
            )
        return x
    return number(x, name)


def _evaluate(op: Op, primals: list[Any]) -> Any:
    """The op's value: its float rule on numbers, or the op on Duals of smaller tags."""
    if any(isinstance(p, Dual) for p in primals):
        return _apply(op, *primals)
    return op.forward(*primals)


def _method(op: Op) -> Callable[..., Dual]:
    """Dual's method for ``op``, under the name Value uses (``op.method``)."""
    if op.param_name is not None:  # a family: leaky_relu(negative_slope=0.01)

        def with_param(self: Dual, param: float | None = op.param_default) -> Dual:
            return _apply(op.member(real(param, op.param_name or "parameter")), self)

        return with_param
    if op.arity == 1:
        return lambda self: _apply(op, self)
    return lambda self, other: _apply(op, self, other)


def _reflected(op: Op) -> Callable[..., Dual]:
    return lambda self, other: _apply(op, other, self)  # 2 - x: the number comes first


# Functions written for Values run on Duals unchanged (duck typing), so Dual needs the same names;
# generating them from the table means a new op cannot be forgotten here.
for _op in ops.OPS.values():
    if _op.method is None or _op.method in ("__pow__", "__rpow__"):
        continue
    _generated = _method(_op)
    _generated.__name__ = _op.method
    _generated.__doc__ = f"{_op.math}, with its tangent: {_op.derivative}"
    setattr(Dual, _op.method, _generated)
    if _op.arity == 2 and _op.method.startswith("__"):  # __add__ -> __radd__
        setattr(Dual, "__r" + _op.method[2:], _reflected(_op))


@changed_call("jvp(func, primals, tangents)", renamed={"f": "func"})
def jvp(
    func: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]
) -> tuple[Any, Any]:
    """Forward mode: ``(f(x), J_f(x) . v)`` for f = ``func``, x = ``primals``, v = ``tangents``,
    in one pass (``torch.func.jvp(func, primals, tangents)``: its arguments and result).

    ``f`` is written as for Values (operators, ``x.tanh()``, ``microgradx.maximum``) and returns
    one result. With v = e_i (1 in place i, 0 elsewhere) the result is df/dx_i. Calls nest: inside
    ``f``, another ``jvp`` or ``derivative`` (even of a function that uses this call's inputs)
    differentiates only its own inputs, and its result is differentiated by this call. Called
    at the top level, both results are floats; nested, they may be Duals of the enclosing calls.

    ``primals`` and ``tangents``: lists (or 1-D NumPy arrays) of equally many numbers (or Duals
    of enclosing calls); each entry is named in a TypeError/ValueError (``primals[1]``). A Dual
    of a call that has returned (an input kept in a closure and used later), given or in the
    result, is a ValueError, as JAX refuses a leaked tracer.
    """
    f = function(func, "func")
    xs = [_operand(x, f"primals[{i}]") for i, x in enumerate(sequence(primals, "primals"))]
    vs = [_operand(t, f"tangents[{i}]") for i, t in enumerate(sequence(tangents, "tangents"))]
    if len(xs) != len(vs):
        raise ValueError(f"{len(xs)} primals but {len(vs)} tangents")
    takes(f, len(xs), "func", "primals")  # named, not Python's "missing 1 required argument"
    return _jvp(f, xs, vs, "func")


def _operand(x: Any, name: str) -> Any:
    """An input of ``jvp``: a number, or a Dual of an enclosing call (whose tag is smaller than
    the one this call takes, as every earlier tag is). ValueError for a Dual of a call that has
    returned (``_refuse_leaked``)."""
    if isinstance(x, Dual):
        _refuse_leaked(x, None, name)
        return x
    return number(x, name)


class _Running(threading.local):
    """The tags of the ``jvp``/``derivative`` calls running in this thread, outermost first."""

    def __init__(self) -> None:
        self.tags: list[int] = []


_running = _Running()


def _refuse_leaked(x: Any, tag: int | None, name: str) -> None:
    """ValueError when ``x`` holds a Dual whose call has returned: an input kept from an earlier
    call (a closure, a list) and used in a later one. Its perturbation belongs to no running
    call, so no call would take it out, and a result documented as a float would be a Dual (as
    JAX's leaked tracers). Live: tag 0 (a Dual made by hand), ``tag`` (the call returning now)
    and the calls still running around it."""
    live = {0, *_running.tags} if tag is None else {0, tag, *_running.tags}
    stack = [x]
    while stack:  # a Dual's parts may be Duals of enclosing calls: a few levels
        item = stack.pop()
        if isinstance(item, Dual):
            if item.tag not in live:
                raise ValueError(
                    f"{name} holds a Dual of a jvp/derivative call that has returned (tag"
                    f" {item.tag}): an input of that call was kept (in a closure, a list) and used"
                    " after it; use the numbers it returned instead"
                )
            stack += (item.primal, item.tangent)


def _jvp(
    f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], name: str = "f"
) -> tuple[Any, Any]:
    """``jvp`` with its arguments checked (``name``: what the caller calls ``f``)."""
    tag = next(_tags)
    _running.tags.append(tag)
    try:
        out = f(*[Dual(x, t, tag) for x, t in zip(primals, tangents)])
    finally:
        _running.tags.pop()
    _refuse_leaked(out, tag, f"{name}'s result")
    if isinstance(out, Dual) and out.tag == tag:
        return out.primal, out.tangent
    # f's result does not move with this call's inputs: its tangent is 0. Any real number (a
    # NumPy scalar, a Fraction) is such a constant, returned as a float; a bool is not a number.
    if isinstance(out, Dual):
        return out, 0.0
    if is_real(out) and not isinstance(out, bool):
        return real(out, f"{name}'s result"), 0.0
    raise TypeError(f"{name} must return a number computed from its inputs, got {describe(out)}")


def derivative(f: Callable[..., Any], x: Any) -> Any:
    """df/dx of a one-input function, by one forward pass (nests: see ``jvp``). ``x``: a number
    (or a Dual of an enclosing call)."""
    return _jvp(function(f, "f"), [_operand(x, "x")], [1.0])[1]
