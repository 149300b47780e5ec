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
        for name, x in (("primal", primal), ("tangent", tangent)):
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise TypeError(f"Dual {name} must be a real number, got {type(x).__name__}")
        self.primal = float(primal)
        self.tangent = float(tangent)

    @classmethod
    def apply_op(cls, op: Op, *inputs: DualOperand) -> Dual:
        """``op`` on duals: the primal by the op's float rule, the tangent by its local grads."""
        duals = [x if isinstance(x, Dual) else Dual(_real(x)) for x in inputs]
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

    # Operators and methods: the same names as Value's, so one function runs on either.
    def __add__(self, other: DualOperand) -> Dual:
        return Dual.apply_op(ops.ADD, self, other)

    def __radd__(self, other: DualOperand) -> Dual:
        return Dual.apply_op(ops.ADD, other, self)

    def __sub__(self, other: DualOperand) -> Dual:
        return Dual.apply_op(ops.SUB, self, other)

    def __rsub__(self, other: DualOperand) -> Dual:
        return Dual.apply_op(ops.SUB, other, self)

    def __mul__(self, other: DualOperand) -> Dual:
        return Dual.apply_op(ops.MUL, self, other)

    def __rmul__(self, other: DualOperand) -> Dual:
        return Dual.apply_op(ops.MUL, other, self)

    def __truediv__(self, other: DualOperand) -> Dual:
        return Dual.apply_op(ops.DIV, self, other)

    def __rtruediv__(self, other: DualOperand) -> Dual:
        return Dual.apply_op(ops.DIV, other, self)

    def __pow__(self, exponent: DualOperand) -> Dual:
        if isinstance(exponent, Dual):
            return Dual.apply_op(ops.POW, self, exponent)
        return Dual.apply_op(ops.POW_SCALAR.bind(_real(exponent)), self)

    def __rpow__(self, base: DualOperand) -> Dual:
        return Dual.apply_op(ops.RPOW_SCALAR.bind(_real(base)), self)

    def __neg__(self) -> Dual:
        return Dual.apply_op(ops.NEG, self)

    def __pos__(self) -> Dual:
        return self

    def __abs__(self) -> Dual:
        return Dual.apply_op(ops.ABS, self)

    def __float__(self) -> float:
        return self.primal

    def exp(self) -> Dual:
        return Dual.apply_op(ops.EXP, self)

    def log(self) -> Dual:
        return Dual.apply_op(ops.LOG, self)

    def sqrt(self) -> Dual:
        return Dual.apply_op(ops.SQRT, self)

    def tanh(self) -> Dual:
        return Dual.apply_op(ops.TANH, self)

    def sigmoid(self) -> Dual:
        return Dual.apply_op(ops.SIGMOID, self)

    def relu(self) -> Dual:
        return Dual.apply_op(ops.RELU, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Dual:
        return Dual.apply_op(ops.LEAKY_RELU.bind(_real(negative_slope)), self)

    def softplus(self) -> Dual:
        return Dual.apply_op(ops.SOFTPLUS, self)

    def sin(self) -> Dual:
        return Dual.apply_op(ops.SIN, self)

    def cos(self) -> Dual:
        return Dual.apply_op(ops.COS, self)

    def __repr__(self) -> str:
        return f"Dual(primal={self.primal!r}, tangent={self.tangent!r})"


def _real(x: object) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"expected a real number or a Dual, got {type(x).__name__}")
    return float(x)


def jvp(
    f: Callable[..., Any], primals: Sequence[float], tangents: Sequence[float]
) -> tuple[float, float]:
    """Forward mode: ``(f(x), J_f(x) . v)`` for x = ``primals``, v = ``tangents``, in one pass.

    ``f`` is written as for Values (operators, ``x.tanh()``, ``microgradx.maximum``) and returns
    one result. With v = e_i (1 in place i, 0 elsewhere) the result is df/dx_i.
    """
    if len(primals) != len(tangents):
        raise ValueError(f"{len(primals)} primals but {len(tangents)} tangents")
    out = f(*[Dual(_real(x), _real(t)) for x, t in zip(primals, tangents)])
    if not isinstance(out, Dual):
        raise TypeError(
            f"f must return a Dual (computed from its inputs), got {type(out).__name__}"
        )
    return out.primal, out.tangent


def derivative(f: Callable[..., Any], x: float) -> float:
    """df/dx of a one-input function, by one forward pass."""
    return jvp(f, [x], [1.0])[1]
