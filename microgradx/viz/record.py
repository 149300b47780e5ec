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

from microgradx import walk
from microgradx.engine import PASS_LOCK, Value, grad_number, topological_order
from microgradx.viz.style import num, op_label, short, wrt

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
    refused by name before anything changes, a pass that raises (an op of the user's, Ctrl-C)
    puts every grad back as it was, and passes take turns with ``backward()``'s in other threads
    (``engine.PASS_LOCK``): a pass in between would reset the gradients this one is adding."""
    with PASS_LOCK:
        order = topological_order(root)
        leaves = {node: walk.starting_grad(node) for node in order if node.op is None}
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
    # as backward(): intermediate gradients start afresh, leaves add up
    walk.start(order, root, list(leaves.items()), 1.0)
    start = {node: grad_number(node) for node in order}
    recorder = _Recorder(order, names)
    walk.walk(order, recorder)
    return recorder.steps, start


class _Recorder(walk.OnNodes):
    """The engine's walk on the nodes' float gradients, noting each step as it is made."""

    def __init__(self, order: list[Value], names: dict[Value, str]) -> None:
        self.position = {node: k for k, node in enumerate(order)}
        self.names = names
        self.steps: list[BackwardStep] = []
        self.contributions: list[Contribution] = []

    def upstream(self, node: Any) -> Any:
        return float(node.grad)

    def opened(self, node: Any, upstream: Any, zero: int) -> None:
        self.contributions = []

    def accumulate(self, node: Any, i: int, child: Any, local: Any, contribution: Any) -> None:
        before = float(child.grad)
        super().accumulate(node, i, child, local, contribution)
        self.contributions.append(
            Contribution(
                child, self.names[child], float(local), contribution, before, float(child.grad)
            )
        )

    def closed(self, node: Any, upstream: Any) -> None:
        self.steps.append(
            BackwardStep(
                len(self.steps),
                node,
                self.names[node],
                self.position[node],
                op_label(node.op),
                upstream,
                tuple(self.contributions),
            )
        )

    def passed_nothing(self, node: Any, upstream: Any) -> None:
        # a zero upstream contributes exactly 0, as in backward(): the step shows it
        self.opened(node, upstream, walk.ZERO)
        for child, local in zip(node.children, node.local_grads()):
            grad = float(child.grad)
            self.contributions.append(
                Contribution(child, self.names[child], float(local), 0.0, grad, grad)
            )
        self.closed(node, upstream)
