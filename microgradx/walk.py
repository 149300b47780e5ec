"""The backward walk: the one place the chain rule is applied.

Every node, outputs first (the reverse of ``topological_order``), passes the gradient that reached
it (its *upstream*, dL/dnode) to each input::

    dL/dinput += dL/dnode * dnode/dinput       # contribution = upstream * local derivative

``walk`` decides everything that makes this the chain rule: the order, which nodes pass nothing
(a leaf; a node nothing reached; an upstream of exactly zero, which contributes exactly 0 even
where a local derivative is infinite, as ``log`` at 0), which inputs receive (the caller may cut
some off: a compiled ``x.detach()``), the local derivatives (the op table's rule, with ``+`` and
``*`` written out), and the accumulation (the first contribution starts an input's gradient, the
next ones add to it, a leaf's starts from its gradient before the pass). A ``Gradients`` object
says only what the numbers are: floats on the nodes (``backward``), floats or Values in a dict
(``grad``, ``create_graph``, ``detect_anomaly``), recorded steps (the step-through), or the
source that computes them (the two compilers, ``microgradx.replay_python`` and
``microgradx.replay_numpy``).

``walk_floats`` is ``walk`` with ``OnNodes`` written in: the loop every training step runs. A
test checks that the two agree bit for bit on random graphs over the whole op table, and that
the ``+`` and ``*`` forms agree with the table's rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from microgradx import checks
from microgradx.modes import RECORDING, AnomalyError
from microgradx.ops import ADD, MUL, Op

_isfinite = math.isfinite

# What a walk knows of an upstream gradient before it forms any contribution.
ZERO = 0  # exactly zero: the node contributes nothing (the zero-upstream rule)
NONZERO = 1
ZERO_GRAPH = 2  # a Value whose number is 0 (create_graph): its graph still carries derivatives
UNKNOWN = 3  # known only when the generated code runs: the code tests it

# ``+`` and ``*``: the table's local derivatives, written out (a test checks them against the
# table): ADD's are (1, 1), so each input gets the upstream itself (u * 1.0 is u, bit for bit);
# MUL's are (b, a), the other input's number.
PASS_THROUGH = (ADD,)
SWAPPED = (MUL,)


class Gradients:
    """What the numbers of one walk are, and where they are kept (see the module docstring).

    ``walk`` calls, for each node that passes a gradient: ``upstream`` (the gradient that reached
    it, ``None`` if nothing did), ``zero`` (one of ZERO, NONZERO, ZERO_GRAPH, UNKNOWN), then
    ``opened``, ``local_grads`` (or ``number`` for ``*``), ``times`` and ``accumulate`` for each
    input, and ``closed``. A node whose upstream is ZERO gets ``passed_nothing`` instead."""

    def upstream(self, node: Any) -> Any:
        raise NotImplementedError

    def zero(self, upstream: Any) -> int:
        return ZERO if upstream == 0.0 else NONZERO

    def receives(self, child: Any) -> bool:
        """Whether ``child``'s gradient is kept (a compiled ``x.detach()``: it goes nowhere)."""
        return True

    def number(self, node: Any) -> Any:
        """What stands for ``node``'s number in a local derivative (``*``'s is the other input)."""
        return node.data

    def local_grads(self, node: Any, op: Op) -> Sequence[Any]:
        return local_grads(node, op)

    def times(self, upstream: Any, local: Any) -> Any:
        return upstream * local

    def opened(self, node: Any, upstream: Any, zero: int) -> None:
        """Before the node's contributions (the generated code's zero test goes here)."""

    def accumulate(self, node: Any, i: int, child: Any, local: Any, contribution: Any) -> None:
        raise NotImplementedError

    def closed(self, node: Any, upstream: Any) -> None:
        """After the node's contributions."""

    def passed_nothing(self, node: Any, upstream: Any) -> None:
        """A node whose upstream is zero: it contributes nothing."""


def local_grads(node: Any, op: Op) -> Sequence[Any]:
    """d(node)/d(input) for each input, at the numbers recorded in the graph: the op's rule."""
    return op.local_grads(*[c.data for c in node.children], node.data)


def walk(order: Sequence[Any], grads: Gradients) -> None:
    """The chain rule over ``order`` (inputs first, as ``topological_order`` gives it), visited
    outputs first so that a node passes its gradient on after every node that used it.

    Each contribution ``upstream * local`` goes to ``grads.accumulate``; the module docstring
    says which nodes and inputs are skipped. A Value upstream whose number is 0 (ZERO_GRAPH)
    still carries a graph, so its contributions are formed, except where the local derivative is
    infinite or NaN: there the contribution is dropped, which is the 0 the float walk gives."""
    # the methods bound once, and the hooks called only where a kind of Gradients has them
    upstream_of, zero_of, number, times = grads.upstream, grads.zero, grads.number, grads.times
    local_grads, accumulate = grads.local_grads, grads.accumulate
    kind = type(grads)
    cuts = kind.receives is not Gradients.receives  # some inputs may receive nothing
    hooks = kind.opened is not Gradients.opened or kind.closed is not Gradients.closed
    for node in reversed(order):
        op = node.op
        if op is None:
            continue  # a leaf passes nothing on
        upstream = upstream_of(node)
        if upstream is None:
            continue  # nothing reached this node
        children = node.children
        receiving: Sequence[int] = range(len(children))
        if cuts:
            receiving = [i for i in receiving if grads.receives(children[i])]
            if not receiving:
                continue
        zero = zero_of(upstream)
        if zero == ZERO:
            grads.passed_nothing(node, upstream)
            continue
        if hooks:
            grads.opened(node, upstream, zero)
        through = op in PASS_THROUGH
        if through:
            local: Sequence[Any] = (1.0,) * len(children)
        elif op in SWAPPED:
            local = (number(children[1]), number(children[0]))
        else:
            local = local_grads(node, op)
        for i in receiving:
            child, derivative = children[i], local[i]
            if zero == ZERO_GRAPH and not _isfinite(float(derivative)):
                continue
            contribution = upstream if through else times(upstream, derivative)
            accumulate(node, i, child, derivative, contribution)
        if hooks:
            grads.closed(node, upstream)


def walk_floats(order: Sequence[Any]) -> None:
    """``walk(order, OnNodes())`` with ``OnNodes``' methods written in, and the commonest ops'
    cases first: one pass of plain float arithmetic, the loop every training step runs."""
    for node in reversed(order):
        op = node.op
        if op is None:
            continue
        upstream = node.grad
        if upstream == 0.0:
            continue  # the zero-upstream rule: contributes exactly 0
        a, b = node._left, node._right
        if b is None:  # one input
            a.grad += upstream * op.local_grads(a.data, node.data)[0]
        elif op is ADD:  # PASS_THROUGH
            a.grad += upstream
            b.grad += upstream
        elif op is MUL:  # SWAPPED
            a.grad += upstream * b.data
            b.grad += upstream * a.data
        else:
            children = node.children
            local = op.local_grads(*[c.data for c in children], node.data)
            for child, derivative in zip(children, local):
                child.grad += upstream * derivative


class OnNodes(Gradients):
    """Float gradients kept on the nodes (``backward``): every gradient is started before the
    walk (see ``start``), so each contribution adds."""

    def upstream(self, node: Any) -> Any:
        return node.grad

    def accumulate(self, node: Any, i: int, child: Any, local: Any, contribution: Any) -> None:
        child.grad = child.grad + contribution  # a leaf's Value grad (create_graph) stays one


class InDict(Gradients):
    """Gradients kept in a dict, nothing written on the nodes (``grad``, ``create_graph``,
    ``detect_anomaly``). ``local``: the local derivatives (Values for ``create_graph``);
    ``check``: raise ``AnomalyError`` at the first contribution that is not finite."""

    def __init__(self, grads: dict[Any, Any], check: bool = False, values: bool = False) -> None:
        self.grads = grads
        self.check = check
        self.values = values  # local derivatives as Values (create_graph)

    def upstream(self, node: Any) -> Any:
        return self.grads.get(node)

    def zero(self, upstream: Any) -> int:
        if type(upstream) is float:
            return ZERO if upstream == 0.0 else NONZERO
        return ZERO_GRAPH if float(upstream) == 0.0 else NONZERO

    def number(self, node: Any) -> Any:
        return node if self.values else node.data

    def local_grads(self, node: Any, op: Op) -> Sequence[Any]:
        return sharpened(op, node) if self.values else local_grads(node, op)

    def accumulate(self, node: Any, i: int, child: Any, local: Any, contribution: Any) -> None:
        if self.check and not _isfinite(contribution):
            upstream = self.grads[node]
            detail = f"d/d(input {i}) = {local!r}, upstream gradient {upstream!r}"
            inputs = [c.data for c in node.children]
            raise AnomalyError(node.op.label, inputs, "backward", contribution, detail)
        before = self.grads.get(child)
        self.grads[child] = contribution if before is None else before + contribution


def starting_grad(leaf: Any) -> Any:
    """A leaf's ``grad`` before a pass adds to it: ``None`` (PyTorch's set-to-None idiom) is 0, a
    Value (from ``create_graph``) stays, any other number becomes a float; anything else is
    refused by name (``TypeError``/``ValueError``) before the pass changes anything."""
    grad = leaf.grad
    if grad is None:
        return 0.0
    if isinstance(grad, type(leaf)):
        return grad
    name = f"grad of {leaf.label!r}" if leaf.label else "grad of a leaf"
    return checks.number(grad, f"{name} (set before backward())")


def seed(grads: dict[Any, Any], output: Any, gradient: Any) -> None:
    """Add ``gradient`` to ``output``'s entry (an output given twice gets both seeds)."""
    before = grads.get(output)
    grads[output] = gradient if before is None else before + gradient


def start(
    order: Sequence[Any], root: Any, starts: Sequence[tuple[Any, Any]], gradient: Any
) -> None:
    """Start a pass on the nodes: every intermediate gradient at 0, each leaf at its gradient
    before the pass (``starts``: its checked value), the output seeded with ``gradient`` (added,
    for a leaf output: leaves accumulate across passes)."""
    for node in order:
        if node.op is not None:
            node.grad = 0.0  # a fresh pass for intermediate nodes; leaves accumulate
    for leaf, grad in starts:
        leaf.grad = grad
    root.grad = root.grad + gradient if root.op is None else gradient


def store(order: Sequence[Any], root: Any, grads: dict[Any, Any]) -> None:
    """Write a dict walk's gradients on the nodes as ``walk_floats`` leaves them: a leaf's added
    to its gradient before the pass (the output's is already in ``grads``, its seed)."""
    for node in order:
        total = grads.get(node, 0.0)
        if node.op is None and node is not root:
            total = node.grad + total  # leaves accumulate across passes
        node.grad = total


def sharpened(op: Op, node: Any) -> tuple[Any, ...]:
    """``op``'s local derivatives as Values, for ``create_graph``: each one's graph is the op's
    formula on Values (so it can be differentiated again), and its number is that of the op's
    float formula, which is the accurate one (softmax's p_i = e_i / S on Values rounds three
    more times than the float formula, and would make these gradients differ from backward()'s
    in the last bit). The node keeps its op and inputs; only its number is the better one."""
    children = node.children
    graphs = op.local_grads(*children, node)
    if RECORDING[0]:  # compile() records the Value formula as it is: it replays it
        return tuple(graphs)
    numbers = local_grads(node, op)
    sharp = []
    for graph, number in zip(graphs, numbers):
        kind = type(node)
        if type(graph) is kind and graph.op is not None and not _same_bits(graph.data, number):
            graph = kind(float(number), None, graph.op, graph._left, graph._right)
        sharp.append(graph)
    return tuple(sharp)


def _same_bits(a: float, b: float) -> bool:
    return (a != a and b != b) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


class Source(Gradients):
    """Gradients as the generated code that computes them (the compilers): an upstream, a local
    derivative and a contribution are ``(text, names read)`` pairs, and ``accumulate`` writes the
    statement that adds a contribution, through ``statement``. The zero-upstream rule is tested
    when the code runs (``UNKNOWN``)."""

    def zero(self, upstream: Any) -> int:
        return UNKNOWN

    def times(self, upstream: Any, local: Any) -> Any:
        return f"{upstream[0]} * {local[0]}", upstream[1] + local[1]

    @staticmethod
    def adds(target: str, term: str, first: bool = False, in_place: bool = True) -> str:
        """The statement adding ``term`` to ``target``. A first contribution starts from +0.0
        (``0.0 + term``: the sum the float walk makes from a gradient started at 0.0)."""
        if first:
            return f"{target} = 0.0 + {term}"
        return f"{target} += {term}" if in_place else f"{target} = {target} + {term}"


# ---- a sum of products, as the compiled Python back-end runs it (microgradx.replay_python) -------


def chain_backward(
    g: float, weights: Sequence[Any], xs: Sequence[float], grads: list[float]
) -> None:
    """``walk`` over a chain ``z = start + w0*x0 + w1*x1 + ...`` whose upstream ``g`` is not 0,
    each node of it used once, its weights and values all different (``replay_python._Chain``):
    each ``+`` passes ``g`` on unchanged (0.0 + g is g for g != 0), each ``*`` contributes
    ``g * x`` to its weight (input 0, first) and ``g * w`` to its value's gradient ``grads[k]``
    (SWAPPED). Each node gets one contribution, so running them together keeps the walk's order."""
    for k, (w, x) in enumerate(zip(weights, xs)):
        w.grad += g * x
        grads[k] += g * w.data


def chain_backward_source(name: str, n: int) -> list[str]:
    """``chain_backward`` for ``n`` products written out as straight-line code (the same
    operations in the same order; about twice as fast as the loop): a function ``name``."""
    w = [f"w{k}" for k in range(n)]
    x = [f"x{k}" for k in range(n)]
    body = [f"def {name}(g, W, X, G):", f"    {', '.join(w)}, = W", f"    {', '.join(x)}, = X"]
    body += [f"    w{k}.grad += g * x{k}" for k in range(n)]
    body.append(f"    {', '.join(f'G{k}' for k in range(n))}, = G")
    body.append(f"    G[:] = ({', '.join(f'G{k} + g * w{k}.data' for k in range(n))},)")
    return body
