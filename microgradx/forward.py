"""Forward-mode differentiation with dual numbers, driven by the same op table as reverse mode.

A dual number carries a value and its derivative along one direction: ``Dual(primal, tangent)``.
Every op maps it forward with the chain rule, using the op's local derivatives from the table::

    op(x, y).tangent = d op/dx * x.tangent + d op/dy * y.tangent

One forward pass gives the derivative of *every* output along *one* input direction (a Jacobian-
vector product), where one reverse pass gives the gradient of *one* output with respect to *every*
input. So forward mode suits few inputs and many outputs (sensitivity analysis), reverse mode the
opposite (training: one loss, many weights).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Union

from microgradx import ops
from microgradx.checks import real
from microgradx.ops import Op

DualOperand = Union["Dual", float, int]

_counter: list[int] | None = None  # set by count_ops()


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
    """A value and its tangent: ``Dual(x, 1.0)`` seeds the derivative with respect to x."""

    __slots__ = ("primal", "tangent")

    def __init__(self, primal: float, tangent: float = 0.0) -> None:
        self.primal = real(primal, "Dual primal")
        self.tangent = real(tangent, "Dual tangent")

    @classmethod
    def apply_op(cls, op: Op, *inputs: DualOperand) -> Dual:
        """``op`` on duals: the primal by the op's float rule, the tangent by its local grads."""
        duals = [x if isinstance(x, Dual) else Dual(real(x, "operand")) for x in inputs]
        primals = [d.primal for d in duals]
        out = op.forward(*primals)
        local_grads = op.local_grads(*primals, out)
        tangent = 0.0
        for g, d in zip(local_grads, duals):
            if d.tangent != 0.0:  # 0 * inf would be nan; an input that does not move adds 0
                tangent += float(g) * d.tangent
        if _counter is not None:
            _counter[0] += 1
        return cls(out, tangent)

    # x ** p dispatches on the exponent's type (two ops), so it is written out; every other
    # operator and method is generated from the op table below.
    def __pow__(self, exponent: DualOperand) -> Dual:
        if isinstance(exponent, Dual):
            return Dual.apply_op(ops.POW, self, exponent)
        return Dual.apply_op(ops.POW_SCALAR.bind(real(exponent, "exponent")), self)

    def __rpow__(self, base: DualOperand) -> Dual:
        return Dual.apply_op(ops.RPOW_SCALAR.bind(real(base, "base")), self)

    def __pos__(self) -> Dual:
        return self

    def __float__(self) -> float:
        return self.primal

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r})"


def _method(op: Op) -> Callable[..., Dual]:
    """Dual's method for ``op``, under the name Value uses (``op.method``)."""
    if op.param_name is not None:  # a family: leaky_relu(negative_slope=0.01)

        def with_param(self: Dual, param: float | None = op.param_default) -> Dual:
            return Dual.apply_op(op.bind(real(param, op.param_name or "parameter")), self)

        return with_param
    if op.arity == 1:
        return lambda self: Dual.apply_op(op, self)
    return lambda self, other: Dual.apply_op(op, self, other)


def _reflected(op: Op) -> Callable[..., Dual]:
    return lambda self, other: Dual.apply_op(op, other, self)  # 2 - x: the number comes first


# Functions written for Values run on Duals unchanged (duck typing), so Dual needs the same names;
# generating them from the table means a new op cannot be forgotten here.
for _op in ops.OPS.values():
    if _op.method is None or _op.method in ("__pow__", "__rpow__"):
        continue
    _generated = _method(_op)
    _generated.__name__ = _op.method
    _generated.__doc__ = f"{_op.math}, with its tangent: {_op.derivative}"
    setattr(Dual, _op.method, _generated)
    if _op.arity == 2:  # __add__ -> __radd__
        setattr(Dual, "__r" + _op.method[2:], _reflected(_op))


def jvp(
    f: Callable[..., Any], primals: Sequence[float], tangents: Sequence[float]
) -> tuple[float, float]:
    """Forward mode: ``(f(x), J_f(x) . v)`` for x = ``primals``, v = ``tangents``, in one pass.

    ``f`` is written as for Values (operators, ``x.tanh()``, ``microgradx.maximum``) and returns
    one result. With v = e_i (1 in place i, 0 elsewhere) the result is df/dx_i.
    """
    if len(primals) != len(tangents):
        raise ValueError(f"{len(primals)} primals but {len(tangents)} tangents")
    out = f(*[Dual(x, t) for x, t in zip(primals, tangents)])
    if not isinstance(out, Dual):
        raise TypeError(
            f"f must return a Dual (computed from its inputs), got {type(out).__name__}"
        )
    return out.primal, out.tangent


def derivative(f: Callable[..., Any], x: float) -> float:
    """df/dx of a one-input function, by one forward pass."""
    return jvp(f, [x], [1.0])[1]
