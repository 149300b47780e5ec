"""Record a backward pass: the same float operations, in the same order, as ``backward()``.

Each step is one node passing its gradient to its inputs, written the way the lectures write it::

    dL/d(x1*w1) += dL/ds * ∂s/∂(x1*w1) = 0.5000 * 1.0000 = 0.5000

``dL/ds`` is the gradient that arrived at ``s`` (upstream); ``∂s/∂(x1*w1)`` is the local derivative
of ``s`` with respect to that input (a ``∂``, so it cannot be mistaken for a gradient ``dL/d...``).
A name that is not a plain identifier is written in brackets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microgradx.engine import Value, starting_grad, topological_order
from microgradx.viz.style import num, short, wrt

__all__ = ["BackwardStep", "Contribution", "num", "record_backward", "short", "wrt"]


@dataclass(frozen=True)
class Contribution:
    """What one step adds to one input's gradient."""

    child: Value
    name: str
    local_grad: float
    contribution: float
    grad_before: float
    grad_after: float


@dataclass(frozen=True)
class BackwardStep:
    """One node of the graph passes ``upstream`` = dL/dnode to its inputs."""

    index: int
    node: Value
    name: str
    position: int  # the node's index in topological order ("v{position}" in drawings)
    op: str
    upstream: float
    contributions: tuple[Contribution, ...]

    @property
    def ops(self) -> tuple[BackwardStep, ...]:
        return (self,)


def record_backward(
    root: Value, names: dict[Value, str]
) -> tuple[list[BackwardStep], dict[Value, float]]:
    """Run the backward pass of ``root`` in ``backward()``'s order, recording every step.

    As ``backward()``: a leaf's grad set to None starts from 0, one that is not a number is
    refused by name before anything changes, and a pass that raises (an op of the user's,
    Ctrl-C) puts every grad back as it was."""
    order = topological_order(root)
    leaves = {node: starting_grad(node) for node in order if node.op is None}
    before = [node.grad for node in order]
    try:
        return _recorded_pass(root, order, leaves, names)
    except BaseException:
        for node, grad in zip(order, before):
            node.grad = grad
        raise


def _recorded_pass(
    root: Value, order: list[Value], leaves: dict[Value, Any], names: dict[Value, str]
) -> tuple[list[BackwardStep], dict[Value, float]]:
    position = {node: k for k, node in enumerate(order)}
    start: dict[Value, float] = {}
    for node in order:
        # as backward(): intermediate gradients start afresh, leaves add up
        node.grad = leaves[node] if node.op is None else 0.0
        start[node] = float(node.grad)
    root.grad = root.grad + 1.0 if root.op is None else 1.0
    start[root] = float(root.grad)
    steps: list[BackwardStep] = []
    for node in reversed(order):
        if node.op is None:
            continue
        upstream = float(node.grad)
        local_grads = node.local_grads()
        contributions = []
        for child, local in zip(node.children, local_grads):
            before = after = float(child.grad)
            contribution = 0.0  # a zero upstream contributes exactly 0, as in backward()
            if upstream != 0.0:
                contribution = upstream * local
                child.grad = child.grad + contribution  # a Value grad (create_graph) stays one
                after = float(child.grad)
            contributions.append(
                Contribution(child, names[child], local, contribution, before, after)
            )
        steps.append(
            BackwardStep(
                len(steps),
                node,
                names[node],
                position[node],
                node.op.label,
                upstream,
                tuple(contributions),
            )
        )
    return steps, start
