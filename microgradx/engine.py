"""The engine: a scalar ``Value`` that records how it was computed, and ``backward``.

Every arithmetic operation on Values creates a new Value that remembers its ``children`` (its
inputs) and its ``op`` (an entry of the op table in ``microgradx.ops``). ``loss.backward()`` then
visits the graph in reverse topological order (every node after all the nodes that used it) and
applies the chain rule at each node::

    child.grad += upstream * local_grad        # dL/dchild += dL/dnode * dnode/dchild

Design choices worth knowing (each keeps large graphs cheap and correct):

* No recursion anywhere: graphs are walked with explicit stacks, so a 1,000,000-op chain works.
* No reference cycles: a node points to its children and to a shared op, never back, and no node
  holds a closure. Dropping the last reference to the output frees the whole graph at once by
  reference counting, without waiting for Python's cycle collector.
* Every op has one or two inputs, kept in two slots, ``_left`` and ``_right``, rather than in a
  tuple: one object per node instead of two halves the work of Python's cycle collector, which
  otherwise dominates the cost of building large graphs. ``children`` gives them as a tuple.
* ``children`` is a tuple, not a set: ``a + a`` has two edges to ``a``, and ``a`` gets both
  gradients.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Union

from microgradx import ops
from microgradx.checks import real
from microgradx.modes import IN_USE, AnomalyError, enable_grad, mode
from microgradx.ops import ADD, MUL, Op

Operand = Union["Value", float, int]
"""What the operators accept: a Value or a real number (a number becomes a constant leaf)."""

_isfinite = math.isfinite
_POW_SCALAR_OPS = ops.POW_SCALAR._bound  # the cache behind POW_SCALAR.bind(p)


class Value:
    """A scalar in a computation graph.

    ``data`` is the number, ``grad`` is dL/d(this value) after ``L.backward()``, ``children``
    are the Values it was computed from, ``op`` is the op that computed it (``None`` for a
    leaf), and ``label`` is an optional name for graphs and messages.

    >>> x = Value(2.0, label="x")
    >>> y = x * x + 1
    >>> y.backward()
    >>> x.grad
    4.0
    """

    # __slots__: no per-node __dict__; a node with its float costs about 110 bytes, not 400.
    __slots__ = ("__weakref__", "_left", "_right", "data", "grad", "label", "op")

    data: float
    grad: float | Value  # a Value after backward(create_graph=True)
    op: Op | None
    label: str | None
    _left: Value | None  # the first input (None for a leaf)
    _right: Value | None  # the second input of a binary op

    def __init__(
        self,
        data: float,
        label: str | None = None,
        _op: Op | None = None,
        _left: Value | None = None,
        _right: Value | None = None,
    ) -> None:
        # _op, _left and _right are for the engine's own use (see _unary): a user makes leaves.
        if type(data) is not float:
            data = real(data, "Value data")
        if label is not None and type(label) is not str:
            raise TypeError(f"Value label must be a str or None, got {type(label).__name__}")
        self.data = data
        self.grad = 0.0
        self.op = _op
        self.label = label
        self._left = _left
        self._right = _right

    @property
    def children(self) -> tuple[Value, ...]:
        """The Values this one was computed from: ``()`` for a leaf, ``(a, a)`` for ``a + a``."""
        if self._left is None:
            return ()
        if self._right is None:
            return (self._left,)
        return (self._left, self._right)

    # ---- operators: explicit one-liners so type checkers and IDEs see them -----------------------

    def __add__(self, other: Operand) -> Value:
        # Fast path: + is the most common op, so it inlines _binary().
        if type(other) is not Value:
            other = _constant(other)
        if IN_USE[0]:
            return _record_in_mode(self.data + other.data, ADD, self, other)
        return Value(self.data + other.data, None, ADD, self, other)

    def __radd__(self, other: Operand) -> Value:
        return _constant(other) + self

    def __mul__(self, other: Operand) -> Value:
        # Fast path, like __add__.
        if type(other) is not Value:
            other = _constant(other)
        if IN_USE[0]:
            return _record_in_mode(self.data * other.data, MUL, self, other)
        return Value(self.data * other.data, None, MUL, self, other)

    def __rmul__(self, other: Operand) -> Value:
        return _constant(other) * self

    def __sub__(self, other: Operand) -> Value:
        return _binary(ops.SUB, self, other)

    def __rsub__(self, other: Operand) -> Value:
        return _binary(ops.SUB, other, self)

    def __truediv__(self, other: Operand) -> Value:
        return _binary(ops.DIV, self, other)

    def __rtruediv__(self, other: Operand) -> Value:
        return _binary(ops.DIV, other, self)

    def __pow__(self, exponent: Operand) -> Value:
        """x ** p: a number p gives the op ``pow_scalar``; a Value exponent gives ``pow``."""
        if isinstance(exponent, Value):
            return _binary(ops.POW, self, exponent)
        # x ** 2 is common: once bound, its op comes straight from bind()'s cache.
        op = _POW_SCALAR_OPS.get(exponent) if type(exponent) in (float, int) else None
        if op is None:
            op = ops.POW_SCALAR.bind(real(exponent, "exponent"))
        return _unary(op, self)

    def __rpow__(self, base: Operand) -> Value:
        """c ** x for a number c (the op ``rpow_scalar``)."""
        return _unary(ops.RPOW_SCALAR.bind(real(base, "base")), self)

    def __neg__(self) -> Value:
        return _unary(ops.NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        """|x|; the subgradient at 0 is 0."""
        return _unary(ops.ABS, self)

    def __float__(self) -> float:
        return self.data

    def __bool__(self) -> bool:
        # A Value in an `if` is almost always a bug (it was always true before): say so.
        raise TypeError(
            "the truth value of a Value is ambiguous: compare its number, e.g. `if v.data > 0:`"
        )

    # ---- named ops: each docstring is the op table's math line (a test keeps them equal) --------

    def exp(self) -> Value:
        """e^x"""
        return _unary(ops.EXP, self)

    def log(self) -> Value:
        """ln(x)"""
        return _unary(ops.LOG, self)

    def sqrt(self) -> Value:
        """sqrt(x)"""
        return _unary(ops.SQRT, self)

    def tanh(self) -> Value:
        """tanh(x) = (e^x - e^-x) / (e^x + e^-x)"""
        return _unary(ops.TANH, self)

    def sigmoid(self) -> Value:
        """sigmoid(x) = 1 / (1 + e^-x)"""
        return _unary(ops.SIGMOID, self)

    def relu(self) -> Value:
        """relu(x) = max(x, 0)"""
        return _unary(ops.RELU, self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """leaky_relu(x) = x if x > 0 else s * x"""
        return _unary(ops.LEAKY_RELU.bind(real(negative_slope, "negative_slope")), self)

    def softplus(self) -> Value:
        """softplus(x) = log(1 + e^x)"""
        return _unary(ops.SOFTPLUS, self)

    def sin(self) -> Value:
        """sin(x)"""
        return _unary(ops.SIN, self)

    def cos(self) -> Value:
        """cos(x)"""
        return _unary(ops.COS, self)

    # ---- graph -----------------------------------------------------------------------------------

    def backward(self, gradient: float = 1.0, *, create_graph: bool = False) -> None:
        """Fill in ``grad`` for every Value this one depends on: dself/dnode, by the chain rule.

        Leaves *accumulate*: calling ``backward()`` twice adds the gradients, as in PyTorch (use
        ``zero_grad`` between steps). Non-leaf nodes show the gradient of the most recent pass.

        With ``create_graph=True`` the gradients are themselves Values whose graphs can be
        differentiated again (second derivatives, Hessian-vector products). As in PyTorch, such a
        gradient refers back to the graph that holds it (``x.grad`` depends on ``x``): a reference
        cycle, which ``zero_grad`` breaks.
        """
        gradient = real(gradient, "gradient")
        order = topological_order(self)
        order.reverse()  # outputs first: a node is visited after every node that used it
        for node in order:
            if node.op is not None:
                node.grad = 0.0  # a fresh pass for intermediate nodes; leaves accumulate
        self.grad = self.grad + gradient if self.op is None else gradient
        if create_graph:
            with enable_grad():
                _backward(order, check=False, create_graph=True)
            for node in order:
                if not isinstance(node.grad, Value):
                    node.grad = Value(node.grad)  # a constant gradient is a constant leaf
        elif mode.anomaly:
            _backward(order, check=True, create_graph=False)
        else:
            _backward_fast(order)

    def local_grads(self) -> tuple[float, ...]:
        """d(self)/d(child) for each child, at the numbers recorded in the graph (``()`` for a
        leaf): the op table's rule applied to this node's inputs and output."""
        if self.op is None:
            return ()
        inputs = [c.data for c in self.children]
        return tuple(float(g) for g in self.op.local_grads(*inputs, self.data))

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
# While no thread is inside no_grad() or detect_anomaly() (IN_USE[0] == 0, nearly always), recording
# an op skips reading the thread-local modes, which costs more than the op itself.


def _unary(op: Op, x: Value) -> Value:
    """Record ``op(x)``: a new node that remembers its op and input (unless in ``no_grad``)."""
    if IN_USE[0]:
        return _record_in_mode(op.forward(x.data), op, x, None)
    return Value(op.forward(x.data), None, op, x)


def _binary(op: Op, a: Operand, b: Operand) -> Value:
    """Record ``op(a, b)``; a number on either side becomes a constant leaf."""
    if type(a) is not Value:
        a = _constant(a)
    if type(b) is not Value:
        b = _constant(b)
    if IN_USE[0]:
        return _record_in_mode(op.forward(a.data, b.data), op, a, b)
    return Value(op.forward(a.data, b.data), None, op, a, b)


def _record_in_mode(data: float, op: Op, left: Value, right: Value | None) -> Value:
    """``_unary``/``_binary`` while some thread is in no_grad() or detect_anomaly()."""
    if mode.anomaly and not _isfinite(data):
        inputs = [left.data] if right is None else [left.data, right.data]
        raise AnomalyError(op.label, inputs, "forward", data)
    if mode.grad_enabled:
        return Value(data, None, op, left, right)
    return Value(data)


def _constant(x: object) -> Value:
    if isinstance(x, Value):
        return x
    return Value(real(x, "operand"))


def apply(op: Op, *inputs: Operand) -> Value:
    """``op(*inputs)`` as a new node of the graph. Numbers become constant leaves.

    This is how every named op is applied, and how a user applies an op of their own (an ``Op``
    built like those in ``microgradx.ops``).
    """
    if len(inputs) != op.arity:
        raise TypeError(f"op {op.name!r} takes {op.arity} input(s), got {len(inputs)}")
    if op.param_name is not None and op.param is None:
        raise TypeError(f"op {op.name!r} needs a parameter: use op.bind({op.param_name})")
    if op.arity == 1:
        return _unary(op, _constant(inputs[0]))
    return _binary(op, *inputs)


def maximum(a: Operand, b: Operand) -> Value:
    """max(a, b); at a == b each input gets half the gradient (as torch.maximum)."""
    other = _other_number_type(a, b)
    if other is not None:
        return other.apply_op(ops.MAXIMUM, a, b)  # type: ignore[no-any-return]
    return _binary(ops.MAXIMUM, a, b)


def minimum(a: Operand, b: Operand) -> Value:
    """min(a, b); at a == b each input gets half the gradient (as torch.minimum)."""
    other = _other_number_type(a, b)
    if other is not None:
        return other.apply_op(ops.MINIMUM, a, b)  # type: ignore[no-any-return]
    return _binary(ops.MINIMUM, a, b)


def _other_number_type(*xs: object) -> Any:
    """A number type that applies table ops itself (forward mode's ``Dual``), if one is given:
    ``maximum`` then works on it too, without the engine knowing about it."""
    for x in xs:
        if not isinstance(x, (Value, int, float)) and hasattr(type(x), "apply_op"):
            return type(x)
    return None


# ---- walking the graph ---------------------------------------------------------------------------


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, inputs first, ``root`` last (each node once).

    Depth-first search with an explicit stack instead of recursion, so graph depth is limited only
    by memory. Each node is met twice: first to push its inputs, then (``inputs_done``), after all
    of them are in ``order``, to take its own place after them.
    """
    order: list[Value] = []
    visited = set()
    # Two parallel stacks rather than one stack of (node, flag) tuples: a deep graph keeps every
    # entry alive at once, and millions of tuples would wake the cycle collector again and again.
    stack = [root]
    inputs_done = [False]
    while stack:
        node = stack.pop()
        if inputs_done.pop():
            order.append(node)
        elif node not in visited:
            visited.add(node)
            stack.append(node)  # come back to it once its inputs are placed
            inputs_done.append(True)
            left, right = node._left, node._right  # the input slots (faster than .children)
            if left is not None and left not in visited:
                stack.append(left)
                inputs_done.append(False)
            if right is not None and right not in visited:
                stack.append(right)
                inputs_done.append(False)
    return order


def _backward_fast(order: list[Value]) -> None:
    """The chain rule at every node, in ``order`` (outputs first): child.grad += upstream * local.

    A zero upstream gradient contributes exactly 0 (as in PyTorch), even where the local
    derivative is infinite (log at 0): 0 * inf would otherwise put a NaN into every gradient below.
    """
    for node in order:
        op = node.op
        if op is None:
            continue
        upstream = node.grad
        if upstream == 0.0:
            continue
        a, b = node._left, node._right
        assert a is not None  # a node made by an op has at least one input
        if b is None:  # a unary op: child.grad += upstream * local_grad
            a.grad += upstream * op.local_grads(a.data, node.data)[0]
        elif op is ADD:  # fast paths for the two commonest ops: same math as their table entries
            a.grad += upstream
            b.grad += upstream
        elif op is MUL:
            a.grad += upstream * b.data
            b.grad += upstream * a.data
        else:
            local_a, local_b = op.local_grads(a.data, b.data, node.data)
            a.grad += upstream * local_a
            b.grad += upstream * local_b


def _backward(order: list[Value], *, check: bool, create_graph: bool) -> None:
    """The same pass, spelled out: with ``check`` (anomaly mode) each contribution is checked as
    it is made; with ``create_graph`` the rules run on Values, so the gradients are graphs too."""
    for node in order:
        op = node.op
        if op is None:
            continue
        upstream = node.grad
        if type(upstream) is float and upstream == 0.0:
            continue  # contributes exactly 0 (see _backward_fast)
        children = node.children
        if create_graph:
            local_grads = op.local_grads(*children, node)
        else:
            local_grads = op.local_grads(*[c.data for c in children], node.data)
        for i, (child, local) in enumerate(zip(children, local_grads)):
            contribution = upstream * local
            if check and not _isfinite(contribution):
                detail = f"d/d(input {i}) = {local!r}, upstream gradient {upstream!r}"
                inputs = [c.data for c in children]
                raise AnomalyError(op.label, inputs, "backward", contribution, detail)
            child.grad = child.grad + contribution


def zero_grad(values: Iterable[Value]) -> None:
    """Set ``grad`` to 0 for each Value (before the next ``backward()``)."""
    for v in values:
        v.grad = 0.0
