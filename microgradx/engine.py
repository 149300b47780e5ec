"""The engine: a scalar ``Value`` that records how it was computed, and ``backward`` (the chain rule).

Every arithmetic operation on Values creates a new Value that remembers its ``children`` (the inputs)
and its ``op`` (an entry of the op table in ``microgradx.ops``). ``loss.backward()`` then visits the
graph in reverse topological order (every node after all the nodes that used it) and applies the
chain rule at each node::

    child.grad += upstream * local_grad        # dL/dchild += dL/dnode * dnode/dchild

Design choices worth knowing (each keeps large graphs cheap and correct):

* No recursion anywhere: graphs are walked with explicit stacks, so a 1,000,000-op chain works.
* No reference cycles: a node points to its children and to a shared op, never back, and no node
  holds a closure. Dropping the last reference to the output frees the whole graph at once by
  reference counting, without waiting for Python's cycle collector.
* ``children`` is a tuple, not a set: ``a + a`` has two edges to ``a`` and ``a`` gets both gradients.
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Union

from microgradx import ops
from microgradx.ops import ADD, MUL, Op

Operand = Union["Value", float, int]
"""What the operators accept: a Value or a real number (a number becomes a constant leaf)."""

_isfinite = math.isfinite


class _Mode(threading.local):
    """Per-thread switches (like PyTorch's): is the graph being recorded, is anomaly mode on."""

    grad_enabled: bool = True
    anomaly: bool = False


_mode = _Mode()


class AnomalyError(FloatingPointError):
    """Raised in ``detect_anomaly()`` mode when an op produces a NaN or an infinity.

    Attributes: ``op`` (the op's name), ``inputs`` (its input values), ``direction``
    (``"forward"`` or ``"backward"``) and ``result`` (the offending number).
    """

    def __init__(
        self, op: str, inputs: Sequence[float], direction: str, result: float, detail: str = ""
    ) -> None:
        self.op = op
        self.inputs = tuple(inputs)
        self.direction = direction
        self.result = result
        args = ", ".join(repr(x) for x in inputs)
        message = f"{op}({args}) produced {result!r} in the {direction} pass"
        super().__init__(message + (f": {detail}" if detail else ""))


def _real(x: object, what: str) -> float:
    """``x`` as a float, or a TypeError that names what was given."""
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real):  # int, bool, fractions, NumPy scalars
        return float(x)
    raise TypeError(f"{what} must be a real number (int or float), got {type(x).__name__}")


class Value:
    """A scalar in a computation graph.

    ``data`` is the number, ``grad`` is dL/d(this value) after ``L.backward()``, ``children`` are the
    Values it was computed from, ``op`` is the op that computed it (``None`` for a leaf), and
    ``label`` is an optional name for graphs and messages.

    >>> x = Value(2.0, label="x")
    >>> y = x * x + 1
    >>> y.backward()
    >>> x.grad
    4.0
    """

    # __slots__: no per-node __dict__; a node costs about 160 bytes instead of about 400.
    __slots__ = ("data", "grad", "children", "op", "label", "__weakref__")

    data: float
    grad: float | Value  # a Value after backward(create_graph=True)
    children: tuple[Value, ...]
    op: Op | None
    label: str | None

    def __init__(self, data: float, label: str | None = None) -> None:
        self.data = _real(data, "Value data")
        if label is not None and not isinstance(label, str):
            raise TypeError(f"Value label must be a str or None, got {type(label).__name__}")
        self.grad = 0.0
        self.children = ()
        self.op = None
        self.label = label

    # ---- operators: explicit one-liners so type checkers and IDEs see them -----------------------

    def __add__(self, other: Operand) -> Value:
        # Fast path: + is the most common op, so it skips the generic apply().
        if type(other) is not Value:
            other = _constant(other)
        return _record(self.data + other.data, (self, other), ADD)

    def __radd__(self, other: Operand) -> Value:
        return _constant(other) + self

    def __mul__(self, other: Operand) -> Value:
        # Fast path, like __add__.
        if type(other) is not Value:
            other = _constant(other)
        return _record(self.data * other.data, (self, other), MUL)

    def __rmul__(self, other: Operand) -> Value:
        return _constant(other) * self

    def __sub__(self, other: Operand) -> Value:
        return apply(ops.SUB, self, other)

    def __rsub__(self, other: Operand) -> Value:
        return apply(ops.SUB, other, self)

    def __truediv__(self, other: Operand) -> Value:
        return apply(ops.DIV, self, other)

    def __rtruediv__(self, other: Operand) -> Value:
        return apply(ops.DIV, other, self)

    def __pow__(self, exponent: Operand) -> Value:
        """x ** p: a number p gives the op ``pow_scalar``; a Value exponent gives ``pow``."""
        if isinstance(exponent, Value):
            return apply(ops.POW, self, exponent)
        return apply(ops.POW_SCALAR.bind(_real(exponent, "exponent")), self)

    def __rpow__(self, base: Operand) -> Value:
        """c ** x for a number c (the op ``rpow_scalar``)."""
        return apply(ops.RPOW_SCALAR.bind(_real(base, "base")), self)

    def __neg__(self) -> Value:
        return apply(ops.NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        """|x|; the subgradient at 0 is 0."""
        return apply(ops.ABS, self)

    def __float__(self) -> float:
        return self.data

    # ---- named ops: each docstring is the op table's math line (a test keeps them equal) --------

    def exp(self) -> Value:
        """e^x"""
        return apply(ops.EXP, self)

    def log(self) -> Value:
        """ln(x)"""
        return apply(ops.LOG, self)

    def sqrt(self) -> Value:
        """sqrt(x)"""
        return apply(ops.SQRT, self)

    def tanh(self) -> Value:
        """tanh(x) = (e^x - e^-x) / (e^x + e^-x)"""
        return apply(ops.TANH, self)

    def sigmoid(self) -> Value:
        """sigmoid(x) = 1 / (1 + e^-x)"""
        return apply(ops.SIGMOID, self)

    def relu(self) -> Value:
        """relu(x) = max(x, 0)"""
        return apply(ops.RELU, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """leaky_relu(x) = x if x > 0 else s * x"""
        return apply(ops.LEAKY_RELU.bind(_real(negative_slope, "negative_slope")), self)

    def softplus(self) -> Value:
        """softplus(x) = log(1 + e^x)"""
        return apply(ops.SOFTPLUS, self)

    def sin(self) -> Value:
        """sin(x)"""
        return apply(ops.SIN, self)

    def cos(self) -> Value:
        """cos(x)"""
        return apply(ops.COS, self)

    # ---- graph -----------------------------------------------------------------------------------

    def backward(self, gradient: float = 1.0, *, create_graph: bool = False) -> None:
        """Fill in ``grad`` for every Value this one depends on: dself/dnode, by the chain rule.

        Leaves *accumulate*: calling ``backward()`` twice adds the gradients, as in PyTorch (use
        ``zero_grad`` between steps). Non-leaf nodes show the gradient of the most recent pass.

        With ``create_graph=True`` the gradients are themselves Values whose graphs can be
        differentiated again (second derivatives, Hessian-vector products).
        """
        gradient = _real(gradient, "gradient")
        order = topological_order(self)
        order.reverse()  # outputs first: a node is visited after every node that used it
        for node in order:
            if node.op is not None:
                node.grad = 0.0  # a fresh pass for intermediate nodes; leaves accumulate
        self.grad = self.grad + gradient if self.op is None else gradient
        if create_graph:
            _backward_create_graph(order)
        elif _mode.anomaly:
            _backward_checked(order)
        else:
            _backward_fast(order)

    def detach(self) -> Value:
        """A new leaf with the same data and label: the graph stops here."""
        return Value(self.data, self.label)

    def __repr__(self) -> str:
        parts = [f"data={self.data!r}", f"grad={self.grad!r}"]
        if self.op is not None:
            parts.append(f"op={self.op.label!r}")
        if self.label is not None:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"


# ---- recording ops -------------------------------------------------------------------------------

_new_value = object.__new__


def _record(data: float, children: tuple[Value, ...], op: Op) -> Value:
    """Make the Value ``op(*children) = data``; remember how it was made unless in ``no_grad``."""
    out: Value = _new_value(Value)  # skips __init__'s input checks: data is already a float
    out.data = data
    out.grad = 0.0
    out.label = None
    mode = _mode
    if mode.grad_enabled:
        out.children = children
        out.op = op
    else:
        out.children = ()
        out.op = None
    if mode.anomaly and not _isfinite(data):
        raise AnomalyError(op.label, [child.data for child in children], "forward", data)
    return out


def _constant(x: object) -> Value:
    if isinstance(x, Value):
        return x
    return Value(_real(x, "operand"))


def apply(op: Op, *inputs: Operand) -> Value:
    """``op(*inputs)`` as a new node of the graph. Numbers become constant leaves.

    This is how every named op is applied, and how a user applies an op of their own (an ``Op``
    built like those in ``microgradx.ops``).
    """
    if len(inputs) != op.arity:
        raise TypeError(f"op {op.name!r} takes {op.arity} input(s), got {len(inputs)}")
    if op.param_name is not None and op.param is None:
        raise TypeError(f"op {op.name!r} needs a parameter: use op.bind({op.param_name})")
    children = tuple(_constant(x) for x in inputs)
    return _record(op.forward(*[c.data for c in children]), children, op)


def maximum(a: Operand, b: Operand) -> Value:
    """max(a, b); at a == b each input gets half the gradient (as torch.maximum)."""
    return apply(ops.MAXIMUM, a, b)


def minimum(a: Operand, b: Operand) -> Value:
    """min(a, b); at a == b each input gets half the gradient (as torch.minimum)."""
    return apply(ops.MINIMUM, a, b)


# ---- walking the graph ---------------------------------------------------------------------------


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, inputs first, ``root`` last (each node once).

    Kahn's algorithm, walked from the output: first count how many times each node is used, then
    release a node once every node that used it has been released. No recursion, so graph depth
    is limited only by memory.
    """
    uses: dict[Value, int] = {root: 0}
    stack = [root]
    while stack:
        for child in stack.pop().children:
            if child in uses:
                uses[child] += 1
            else:
                uses[child] = 1
                stack.append(child)
    order = []
    ready = [root]
    while ready:
        node = ready.pop()
        order.append(node)
        for child in node.children:
            uses[child] -= 1
            if uses[child] == 0:
                ready.append(child)
    order.reverse()
    return order


def _backward_fast(order: list[Value]) -> None:
    for node in order:
        op = node.op
        if op is None:
            continue
        upstream = node.grad
        children = node.children
        if op is ADD:  # fast paths for the two commonest ops: same math as their table entries
            a, b = children
            a.grad += upstream
            b.grad += upstream
        elif op is MUL:
            a, b = children
            a.grad += upstream * b.data
            b.grad += upstream * a.data
        else:
            local_grads = op.local_grads(*[c.data for c in children], node.data)
            for child, local in zip(children, local_grads):
                child.grad += upstream * local


def _backward_checked(order: list[Value]) -> None:
    """The backward pass of anomaly mode: every contribution is checked as it is made."""
    for node in order:
        op = node.op
        if op is None:
            continue
        upstream = node.grad
        inputs = [c.data for c in node.children]
        local_grads = op.local_grads(*inputs, node.data)
        for i, (child, local) in enumerate(zip(node.children, local_grads)):
            contribution = upstream * local
            if not _isfinite(contribution):
                detail = f"d/d(input {i}) = {local!r}, upstream gradient {upstream!r}"
                raise AnomalyError(op.label, inputs, "backward", contribution, detail)
            child.grad += contribution


def _backward_create_graph(order: list[Value]) -> None:
    """Backward where each gradient is built from Values, so it can be differentiated again."""
    with enable_grad():
        for node in order:
            op = node.op
            if op is None:
                continue
            upstream = node.grad
            local_grads = op.local_grads(*node.children, node)
            for child, local in zip(node.children, local_grads):
                child.grad = child.grad + upstream * local
    for node in order:
        if not isinstance(node.grad, Value):
            node.grad = Value(node.grad)  # a constant gradient is a constant leaf


def zero_grad(values: Iterable[Value]) -> None:
    """Set ``grad`` to 0 for each Value (before the next ``backward()``)."""
    for v in values:
        v.grad = 0.0


# ---- modes ---------------------------------------------------------------------------------------


@contextmanager
def _switch(name: str, on: bool) -> Iterator[None]:
    before = getattr(_mode, name)
    setattr(_mode, name, on)
    try:
        yield
    finally:
        setattr(_mode, name, before)


def no_grad() -> AbstractContextManager[None]:
    """``with no_grad():`` computes values without recording a graph (this thread only)."""
    return _switch("grad_enabled", False)


def enable_grad() -> AbstractContextManager[None]:
    """Record the graph again inside a ``no_grad()`` block."""
    return _switch("grad_enabled", True)


def is_grad_enabled() -> bool:
    return _mode.grad_enabled


def detect_anomaly() -> AbstractContextManager[None]:
    """``with detect_anomaly():`` raises ``AnomalyError`` at the first op that yields NaN or inf.

    Forward: the first op whose output is not finite. Backward: the first op whose contribution
    ``upstream * local_grad`` to one of its inputs is not finite. Checking costs time: use it to
    find a problem, not in every run.
    """
    return _switch("anomaly", True)
