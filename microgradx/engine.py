"""The engine: a scalar ``Value`` that records how it was computed, and ``backward``.

Every arithmetic operation on Values creates a new Value that remembers its ``children`` (its
inputs) and its ``op`` (an entry of the op table in ``microgradx.ops``). ``loss.backward()`` then
visits the graph in reverse topological order (every node after all the nodes that used it) and
applies the chain rule at each node::

    child.grad += upstream * local_grad        # dL/dchild += dL/dnode * dnode/dchild

That walk is ``microgradx.walk``, the one place the chain rule is applied: ``backward`` here,
``microgradx.autograd.grad``, the step-through's recorded pass and both compilers all use it.

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
import threading
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any, Union

from microgradx import ops, walk
from microgradx.checks import describe, flag, gone, number, real
from microgradx.modes import IN_USE, RECORDING, AnomalyError, RecordedNumber, enable_grad, mode
from microgradx.ops import ADD, MUL, Op

Operand = Union["Value", float, int]
"""What the operators accept: a Value or a real number (a number becomes a constant leaf)."""

_isfinite = math.isfinite
_POW_SCALAR_OPS = ops.POW_SCALAR._bound  # the cache behind POW_SCALAR.member(p)


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
    __slots__ = ("__weakref__", "_left", "_right", "_seen", "data", "grad", "label", "op")

    data: float
    grad: float | Value | None  # a Value after backward(create_graph=True); None: cleared
    op: Op | None
    label: str | None
    _left: Value | None  # the first input (None for a leaf, and for an op of three or more)
    _right: Value | tuple[Value, ...] | None  # the second input; all of them for three or more
    _seen: object  # topological_order's stamp: the token of the last walk that met this node

    def __init__(
        self,
        data: float,
        label: str | None = None,
        _op: Op | None = None,
        _left: Value | None = None,
        _right: Value | tuple[Value, ...] | None = None,
    ) -> None:
        # _op, _left and _right are for the engine's own use (see _unary): a user makes leaves.
        if type(data) is not float:
            # While compile() records, a number read from the graph remembers where it came from
            # (microgradx.replay); a Value made from one (detach(), Value(x.data * 2)) keeps it.
            data = data.keep() if isinstance(data, RecordedNumber) else number(data, "Value data")
        if label is not None and type(label) is not str:
            raise TypeError(f"Value label must be a str or None, got {type(label).__name__}")
        self.data = data
        self.grad = 0.0
        self.op = _op
        self.label = label
        self._left = _left
        self._right = _right
        self._seen = None

    @property
    def children(self) -> tuple[Value, ...]:
        """The Values this one was computed from: ``()`` for a leaf, ``(a, a)`` for ``a + a``."""
        if self._left is None:
            return () if self._right is None else self._right  # type: ignore[return-value]
        if self._right is None:
            return (self._left,)
        return (self._left, self._right)  # type: ignore[return-value]

    # ---- operators: explicit one-liners so type checkers and IDEs see them -----------------------

    def __add__(self, other: Operand) -> Value:
        # Fast path: + is the most common op, so it inlines _binary().
        if type(other) is not Value:
            other = _constant(other)
        if IN_USE[0]:
            if RECORDING[0]:
                return _record_op(ADD, self, other)
            return _record_in_mode(self.data + other.data, ADD, self, other)
        return Value(self.data + other.data, None, ADD, self, other)

    def __radd__(self, other: Operand) -> Value:
        return _constant(other) + self

    def __mul__(self, other: Operand) -> Value:
        # Fast path, like __add__.
        if type(other) is not Value:
            other = _constant(other)
        if IN_USE[0]:
            if RECORDING[0]:
                return _record_op(MUL, self, other)
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
        # x ** 2 is common: once bound, its op comes straight from member()'s cache.
        op = _POW_SCALAR_OPS.get(exponent) if type(exponent) in (float, int) else None
        if op is None:
            op = ops.POW_SCALAR.member(number(exponent, "exponent"))
        return _unary(op, self)

    def __rpow__(self, base: Operand) -> Value:
        """c ** x for a number c (the op ``rpow_scalar``)."""
        return _unary(ops.RPOW_SCALAR.member(number(base, "base")), self)

    def __neg__(self) -> Value:
        return _unary(ops.NEG, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        """|x|; the subgradient at 0 is 0."""
        return _unary(ops.ABS, self)

    def __float__(self) -> float:
        return float(self.data)  # a plain float even while compile() records (it notes the read)

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
        return _unary(ops.LEAKY_RELU.member(real(negative_slope, "negative_slope")), self)

    def softplus(self) -> Value:
        """softplus(x) = log(1 + e^x)"""
        return _unary(ops.SOFTPLUS, self)

    def sin(self) -> Value:
        """sin(x)"""
        return _unary(ops.SIN, self)

    def cos(self) -> Value:
        """cos(x)"""
        return _unary(ops.COS, self)

    def log1p(self) -> Value:
        """log1p(x) = ln(1 + x)"""
        return _unary(ops.LOG1P, self)

    def elu(self, alpha: float = 1.0) -> Value:
        """elu(x) = x if x > 0 else a (e^x - 1)"""
        return _unary(ops.ELU.member(real(alpha, "alpha")), self)

    def silu(self) -> Value:
        """silu(x) = x sigmoid(x)"""
        return _unary(ops.SILU, self)

    def gelu(self) -> Value:
        """gelu(x) = x Phi(x) = x erfc(-x / sqrt(2)) / 2"""
        return _unary(ops.GELU, self)

    # ---- graph -----------------------------------------------------------------------------------

    def backward(self, gradient: float = 1.0, *, create_graph: bool = False) -> None:
        """Fill in ``grad`` for every Value this one depends on: dself/dnode, by the chain rule.

        Leaves *accumulate*: calling ``backward()`` twice adds the gradients, as in PyTorch (use
        ``zero_grad`` between steps; a leaf whose ``grad`` was set to ``None``, PyTorch's way of
        clearing it, starts from 0). Non-leaf nodes show the gradient of the most recent pass.

        With ``create_graph=True`` the gradients are themselves Values whose graphs can be
        differentiated again (second derivatives, Hessian-vector products). As in PyTorch, such a
        gradient refers back to the graph that holds it (``x.grad`` depends on ``x``): a reference
        cycle, which ``zero_grad`` breaks. (``microgradx.autograd.grad`` and
        ``microgradx.functional`` return gradients instead of storing them, and leave no cycle.)

        Threads: a pass writes ``grad`` on the nodes it visits, so passes run one at a time (a
        process-wide lock, ``PASS_LOCK``, which ``trace_backward``'s recorded pass takes too): two
        threads calling ``backward()`` on one graph at once each add their gradient exactly once,
        as if one call came after the other.
        """
        gradient = real(gradient, "gradient")
        create_graph = flag(create_graph, "create_graph")
        with PASS_LOCK:
            order, changed, starts = _pass_plan(self)  # every leaf's start checked first
            # A pass that raises (detect_anomaly(), an op of the user's, Ctrl-C) puts every grad
            # back as it was: no half-added gradients, no intermediate grads reset for nothing.
            try:
                for node, _ in changed:
                    if node.op is not None:
                        node.grad = _FRESH  # a fresh pass for intermediate nodes
                walk.start((), self, starts, gradient)  # the leaves' starts, the seed
                if not create_graph and not mode.anomaly:
                    walk.walk_floats(order)
                    return
                # the general walk keeps the gradients in a dict; store them as the fast pass does
                grads = {self: self.grad}
                with enable_grad() if create_graph else nullcontext():
                    walk.walk(order, walk.InDict(grads, mode.anomaly, create_graph))
                walk.store(order, self, grads)
                if create_graph:  # a constant gradient is a constant leaf
                    for node in order:
                        if not isinstance(node.grad, Value):
                            node.grad = Value(grad_number(node))
            except BaseException:
                for node in order:
                    node.grad = _FRESH  # what each node not in changed held
                for node, grad in changed:
                    node.grad = grad
                raise

    def local_grads(self) -> tuple[float, ...]:
        """d(self)/d(child) for each child, at the numbers recorded in the graph (``()`` for a
        leaf): the op table's rule applied to this node's inputs and output."""
        if self.op is None:
            return ()
        return tuple(float(g) for g in walk.local_grads(self, self.op))

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
        if RECORDING[0]:
            return _record_op(op, x, None)
        return _record_in_mode(op.forward(x.data), op, x, None)
    return Value(op.forward(x.data), None, op, x)


def _binary(op: Op, a: Operand, b: Operand) -> Value:
    """Record ``op(a, b)``; a number on either side becomes a constant leaf."""
    if type(a) is not Value:
        a = _constant(a)
    if type(b) is not Value:
        b = _constant(b)
    if IN_USE[0]:
        if RECORDING[0]:
            return _record_op(op, a, b)
        return _record_in_mode(op.forward(a.data, b.data), op, a, b)
    return Value(op.forward(a.data, b.data), None, op, a, b)


def _record_in_mode(
    data: float, op: Op, left: Value | None, right: Value | tuple[Value, ...] | None
) -> Value:
    """Record a node while some thread is in no_grad() or detect_anomaly()."""
    if mode.anomaly and not _isfinite(data):
        inputs = _inputs(left, right)
        raise AnomalyError(op.label, [x.data for x in inputs], "forward", data)
    if mode.grad_enabled:
        return Value(data, None, op, left, right)
    return Value(data)


def _record_op(op: Op, left: Value | None, right: Value | tuple[Value, ...] | None) -> Value:
    """Record ``op`` while some thread records for compile(): this thread's recording, if any,
    gives the op's rule plain floats (the rule's own tests are not the function's) and is told
    of the node made."""
    inputs = _inputs(left, right)
    recorder = mode.recorder
    if recorder is None:  # another thread records: this one only computes
        return _record_in_mode(op.forward(*[x.data for x in inputs]), op, left, right)
    node = _record_in_mode(op.forward(*recorder.numbers(inputs)), op, left, right)
    recorder.made(node, op, inputs)
    return node


def _inputs(left: Value | None, right: Value | tuple[Value, ...] | None) -> tuple[Value, ...]:
    if left is None:
        return () if right is None else right  # type: ignore[return-value]
    return (left,) if right is None else (left, right)  # type: ignore[return-value]


def _constant(x: object) -> Value:
    if type(x) is not float:
        if isinstance(x, Value):
            return x
        # compile()'s recording: a number read from the graph stays tied to it (see Value())
        x = x.keep() if isinstance(x, RecordedNumber) else number(x, "operand")
    return Value(x)


def apply(op: Op, *inputs: Operand) -> Value:
    """``op(*inputs)``, for every number type: on Values a new node of the graph (numbers become
    constant leaves; inside ``compile`` the node is recorded), on forward mode's Duals a Dual
    (the inputs' type applies it: ``__microgradx_apply__``).

    This is how every named op is applied, and how a user applies an op of their own (an ``Op``
    built like those in ``microgradx.ops``). An op of three or more inputs (``arity`` 3 or more,
    or ``None`` for any number) keeps them all in one tuple. Raises ``TypeError`` for a wrong
    number of inputs, a family without its parameter (``op.member(p)``), or a non-Op.
    """
    if not isinstance(op, Op):
        raise TypeError(f"op must be an Op (see microgradx.ops), got {type(op).__name__}")
    if op.arity is not None and len(inputs) != op.arity:
        raise TypeError(f"op {op.name!r} takes {op.arity} input(s), got {len(inputs)}")
    if not inputs:
        raise TypeError(f"op {op.name!r} needs at least one input")
    if op.param_name is not None and op.param is None:
        raise TypeError(f"op {op.name!r} needs a parameter: use op.member({op.param_name})")
    other = _other_number_type(*inputs)
    if other is not None:  # a Dual (forward mode) applies the op itself
        return other.__microgradx_apply__(op, *inputs)  # type: ignore[no-any-return]
    if len(inputs) == 1:
        return _unary(op, _constant(inputs[0]))
    if len(inputs) == 2:
        return _binary(op, *inputs)
    values = tuple(_constant(x) for x in inputs)
    if IN_USE[0] and RECORDING[0]:
        return _record_op(op, None, values)
    data = op.forward(*[x.data for x in values])
    if IN_USE[0]:
        return _record_in_mode(data, op, None, values)
    return Value(data, None, op, None, values)


def maximum(a: Operand, b: Operand) -> Value:
    """max(a, b); at a == b each input gets half the gradient (as torch.maximum)."""
    other = _other_number_type(a, b)
    if other is not None:
        return other.__microgradx_apply__(ops.MAXIMUM, a, b)  # type: ignore[no-any-return]
    return _binary(ops.MAXIMUM, a, b)


def minimum(a: Operand, b: Operand) -> Value:
    """min(a, b); at a == b each input gets half the gradient (as torch.minimum)."""
    other = _other_number_type(a, b)
    if other is not None:
        return other.__microgradx_apply__(ops.MINIMUM, a, b)  # type: ignore[no-any-return]
    return _binary(ops.MINIMUM, a, b)


def _other_number_type(*xs: object) -> Any:
    """A number type that applies table ops itself (forward mode's ``Dual``), if one is given:
    ``maximum`` then works on it too, without the engine knowing about it."""
    for x in xs:
        if not isinstance(x, (Value, int, float)) and hasattr(type(x), "__microgradx_apply__"):
            return type(x)
    return None


# ---- walking the graph ---------------------------------------------------------------------------


def topological_order(root: Value) -> list[Value]:
    """Every node ``root`` depends on, inputs first, ``root`` last (each node once).

    The order of the plain depth-first search that pushes a node's first input, then its second,
    and so expands the second first, placing each node once all its inputs are placed (the
    drawings, the step-through, the compilers and ``backward``'s sums follow it). Written with an
    explicit stack instead of recursion, so graph depth is limited only by memory, and with the
    shortcuts below, which change its cost and not its order.

    Raises ``TypeError`` unless ``root`` is a Value.
    """
    if not isinstance(root, Value):
        raise TypeError(f"root must be a Value, got {describe(root)}")
    return _ordered(root, None)


def _ordered(root: Value, changed: list[tuple[Value, Any]] | None) -> list[Value]:
    """``topological_order(root)``; with a list ``changed``, each node whose grad is not the
    very 0.0 it started as goes in it with its grad, as the walk meets the node (``_pass_plan``):
    read while the walk has the node at hand, it costs a third of a pass of its own over nodes
    no longer in the cache."""
    # Long: one loop, so that the walk's state stays in local variables; split into functions
    # it would pay a call for each node, which is what the walk's cost is made of.
    # "Met in this walk" is a stamp on the node (its _seen slot holds this walk's own token), not
    # a set: a set of a million nodes misses the cache on every lookup, while the node's own
    # memory is read anyway. A stamped node is placed (in ``order``) or *opened*: its inputs are
    # being placed and it waits in ``opened``, to be placed after them. The walk never meets an
    # opened node again before it is placed: everything walked while a node waits is among its
    # inputs, their inputs and so on, and the graph has no cycle. So one stamp serves both, and
    # the nodes opened since a pending input was set aside are all placed, at once and in
    # reverse, before it is expanded (``marks``: how many nodes were waiting when each pending
    # input was set aside). That is the order of the one-stack depth-first search with a stamp
    # for each state (the docstring's), at a slice and an extend for a run of nodes instead of a
    # pop and a test for each: an MLP's chain of sums b + w1 x1 + w2 x2 + ... is one run.
    # A pending input met already is skipped without placing its run: marks only grow up the
    # pending list, so the next input expanded (or the end) places that run and the ones below
    # it in the same order. Placed at each skip, a run would cost a slice for every node of a
    # chain that sets aside an input met further down (x + (x + ...), a recurrence w * h): twice
    # the old walk's time on such graphs.
    # The token refers to nothing, so no cycle. Walks take turns (a lock), so two threads' stamps
    # never mix. ``order.append(node)`` is written out, not saved as a bound method: CPython 3.11
    # turns the written form into an inline append (no call), which a saved method would not get.
    seen = object()
    # topological_order keeps nothing: after a pass every grad is another float than the first
    # 0.0, and a (node, grad) kept for each node made its walk 2.5 times as long. Tested second,
    # ``keep`` costs nothing where the grad is that 0.0 (backward() on a graph just built).
    keep = changed is not None
    kept: list[tuple[Value, Any]] = [] if changed is None else changed
    order: list[Value] = []
    opened: list[Value] = []  # waiting for their inputs; placed in reverse, a run at a time
    pending: list[Any] = [root]  # inputs set aside, expanded last first
    marks = [0]  # len(opened) when each pending input was set aside
    with _walk_lock:
        while pending:
            node = pending.pop()
            mark = marks.pop()
            if node._seen is seen:  # set aside by two users, or placed since
                continue  # (its run, if any, is placed with the next one: see above)
            if len(opened) > mark:  # the nodes opened since `node` was set aside are done
                run = opened[mark:]
                del opened[mark:]
                run.reverse()
                order += run
            while True:  # expand node; walk into an input directly rather than setting it aside
                node._seen = seen
                if node.grad is not _FRESH and keep:
                    kept.append((node, node.grad))
                left, right = node._left, node._right
                if left is None:
                    if right is None:  # a leaf
                        order.append(node)
                        break
                    # an op of three or more inputs: all of them in a tuple
                    waiting = [c for c in right if c._seen is not seen]
                    if waiting:
                        opened.append(node)
                        pending += waiting
                        marks += [len(opened)] * len(waiting)
                    else:
                        order.append(node)
                    break
                if right is not None and right._seen is not seen:
                    # The second input is expanded first. When its own inputs are all placed (a
                    # leaf; w * x of a placed weight and input, most nodes of a network) it is
                    # placed here, and the first input is walked into without being set aside.
                    inner, outer = right._left, right._right
                    if (
                        outer is None
                        if inner is None
                        else inner._seen is seen and (outer is None or outer._seen is seen)
                    ):
                        right._seen = seen
                        order.append(right)
                        if right.grad is not _FRESH and keep:
                            kept.append((right, right.grad))
                    else:
                        opened.append(node)
                        if left._seen is not seen:
                            pending.append(left)
                            marks.append(len(opened))
                        node = right
                        continue
                if left._seen is not seen:
                    opened.append(node)
                    node = left
                    continue
                order.append(node)
                break
        opened.reverse()
        order += opened
    return order


_walk_lock = threading.Lock()  # one topological_order at a time (see its stamps)
# One pass at a time writes .grad (see Value.backward): backward() holds it, and so does every
# other pass that writes gradients on the nodes (the step-through's, microgradx.viz.record).
# Reentrant: an op's rule may itself call backward() on another graph.
PASS_LOCK = threading.RLock()


_FRESH = Value(0.0).grad  # the 0.0 every Value's grad starts as (see _pass_plan)


def _pass_plan(
    root: Value,
) -> tuple[list[Value], list[tuple[Value, Any]], list[tuple[Value, Any]]]:
    """What ``root.backward()`` reads before it writes: the nodes in ``topological_order``, the
    nodes whose grad the pass changes with their grads before it (``changed``, put back if the
    pass raises), and each leaf's checked starting grad where it is not its grad as it is
    (``walk.starting_grad``: ``None`` is 0.0; a bad one raises here, before anything is
    written).

    Most nodes of a graph just built hold the very 0.0 object every Value starts with
    (``_FRESH``): an intermediate one is already started and a leaf starts from itself, so
    neither is written nor kept, and finding them is one identity test a node, in one pass (the
    walk and its bookkeeping were a quarter of a training step; three passes over the nodes were
    a third of that). An equal but other 0.0 is simply kept and written: only the cost differs.
    """
    changed: list[tuple[Value, Any]] = []
    order = _ordered(root, changed)
    starts = [
        (n, walk.starting_grad(n)) for n, g in changed if n.op is None and type(g) is not float
    ]
    return order, changed, starts


def zero_grad(values: Iterable[Value], *, set_to_none: bool = False) -> None:
    """Set ``grad`` to 0 for each Value (before the next ``backward()``), or to ``None`` with
    ``set_to_none=True`` (torch's way of clearing a gradient: ``backward()`` starts it at 0, an
    optimizer skips a parameter whose gradient stays None). ``Module.zero_grad`` and
    ``Optimizer.zero_grad`` clear to None by default, as torch's.

    Raises ``TypeError`` (and changes nothing) unless ``values`` is an iterable of Values and
    ``set_to_none`` a bool."""
    cleared = None if flag(set_to_none, "set_to_none") else 0.0
    if isinstance(values, (Value, str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"values must be a list of Values, got {describe(values)}")
    items = list(values)
    for k, v in enumerate(items):
        if not isinstance(v, Value):
            raise TypeError(f"values[{k}] must be a Value, got {describe(v)}")
    for v in items:
        v.grad = cleared


def grad_number(value: Value) -> float:
    """``value.grad`` as a float, for showing it: a cleared gradient (``None``) is 0.0, as
    ``backward()`` reads it; a Value (after ``create_graph=True``) is its number."""
    grad = value.grad
    return 0.0 if grad is None else float(grad)


# One release of a clear error for the names that moved (then they go).
__getattr__ = gone(
    __name__,
    {"grad": "use microgradx.autograd.grad", "chain_rule": "use microgradx.walk.walk"},
)
