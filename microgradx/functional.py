"""Derivatives as functions: ``grad``, ``value_and_grad``, ``hessian``, ``hvp``; and the chain
rule spelled out as a sum over paths (``chain_rule_paths``).

Each helper takes ``f``, a function of Values returning one Value, and numbers to evaluate at.
Second derivatives differentiate the first ones: ``backward(create_graph=True)`` leaves every
gradient as a Value whose own graph can be run backward again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from microgradx.engine import Value, topological_order, zero_grad

Function = Callable[..., Value]


def _leaves(xs: Sequence[float], name: str) -> list[Value]:
    if isinstance(xs, (int, float, Value)):
        raise TypeError(f"{name} must be a list of numbers, got {type(xs).__name__}")
    return [Value(x.data if isinstance(x, Value) else x, label=f"x{i}") for i, x in enumerate(xs)]


def _call(f: Function, leaves: list[Value]) -> Value:
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"f must return a Value, got {type(out).__name__}")
    return out


def value_and_grad(f: Function) -> Callable[[Sequence[float]], tuple[float, list[float]]]:
    """``value_and_grad(f)(xs)`` is ``(f(xs), [df/dx_1, ..., df/dx_n])``: one reverse pass."""

    def evaluate(xs: Sequence[float]) -> tuple[float, list[float]]:
        leaves = _leaves(xs, "xs")
        out = _call(f, leaves)
        out.backward()
        return out.data, [float(x.grad) for x in leaves]

    return evaluate


def grad(f: Function) -> Callable[[Sequence[float]], list[float]]:
    """``grad(f)(xs)`` is the gradient of f at xs."""
    evaluate = value_and_grad(f)
    return lambda xs: evaluate(xs)[1]


def _first_derivatives(f: Function, xs: Sequence[float]) -> tuple[list[Value], list[Value]]:
    """The inputs and df/dx_i as Values that can be differentiated again."""
    leaves = _leaves(xs, "xs")
    _call(f, leaves).backward(create_graph=True)
    firsts = [x.grad if isinstance(x.grad, Value) else Value(x.grad) for x in leaves]
    zero_grad(leaves)  # also breaks the cycle x -> x.grad -> ... -> x
    return leaves, firsts


def hessian(f: Function, xs: Sequence[float]) -> list[list[float]]:
    """The matrix of second derivatives H_ij = d^2 f / dx_i dx_j (one reverse pass per row, so
    meant for small inputs)."""
    leaves, firsts = _first_derivatives(f, xs)
    rows = []
    for first in firsts:
        zero_grad(leaves)
        first.backward()
        rows.append([float(x.grad) for x in leaves])
    return rows


def hvp(f: Function, xs: Sequence[float], v: Sequence[float]) -> list[float]:
    """The Hessian-vector product H v, without forming H: differentiate (grad f . v) once more."""
    if len(v) != len(xs):
        raise ValueError(f"v has {len(v)} entries but xs has {len(xs)}")
    leaves, firsts = _first_derivatives(f, xs)
    total = Value(0.0)
    for first, vi in zip(firsts, v):
        total = total + first * vi
    total.backward()
    return [float(x.grad) for x in leaves]


# ---- the chain rule as a sum over paths ---------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """One path from the input up to the output, with the local derivative of each edge."""

    nodes: tuple[Value, ...]  # input first, output last
    factors: tuple[float, ...]  # d(nodes[k+1]) / d(nodes[k]) along this edge

    @property
    def product(self) -> float:
        return math.prod(self.factors)

    def __str__(self) -> str:
        names = " -> ".join(n.label or (n.op.label if n.op else "?") for n in self.nodes)
        factors = " * ".join(f"{f:.4g}" for f in self.factors)
        return f"{names}: {factors} = {self.product:.6g}"


def _paths_from(output: Value, input: Value) -> dict[Value, int]:
    """For each node, how many paths lead from ``input`` to it (dynamic programming in
    topological order, so counting is cheap even when the count is astronomical)."""
    paths: dict[Value, int] = {}
    for node in topological_order(output):
        paths[node] = 1 if node is input else sum(paths[c] for c in node.children)
    return paths


def count_paths(output: Value, input: Value) -> int:
    """How many distinct paths lead from ``input`` to ``output`` (``a + a`` counts two)."""
    return _paths_from(output, input)[output]


def chain_rule_paths(output: Value, input: Value, limit: int = 10_000) -> list[Path]:
    """Every path from ``input`` to ``output``, each with the product of its local derivatives.

    Their sum is d(output)/d(input): the chain rule for graphs. The number of paths can grow
    exponentially with depth (a chain of k ``y = y * y`` steps has 2^k), which is exactly the work
    backpropagation avoids by summing at each node once; above ``limit`` paths this refuses.
    """
    paths = _paths_from(output, input)
    total = paths[output]
    if total > limit:
        raise ValueError(
            f"{total} paths lead from the input to the output, more than limit={limit}: "
            "enumerating them grows exponentially with depth, which is the work backpropagation "
            "avoids by adding up each node's gradient once. Use backward() instead."
        )
    local = {
        node: list(node.local_grads()) for node in topological_order(output) if node.op is not None
    }
    found: list[Path] = []
    # Depth-first from the output down to the input, with an explicit stack.
    stack: list[tuple[Value, tuple[Value, ...], tuple[float, ...]]] = [(output, (output,), ())]
    while stack:
        node, nodes, factors = stack.pop()
        if node is input:
            found.append(Path(tuple(reversed(nodes)), tuple(reversed(factors))))
            continue
        for k, child in enumerate(node.children):
            if paths[child]:  # only towards the input
                stack.append((child, (*nodes, child), (*factors, local[node][k])))
    return found
