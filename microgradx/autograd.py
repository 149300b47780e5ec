"""``grad``: gradients returned instead of stored, as ``torch.autograd.grad``.

``Value.backward`` writes ``.grad`` on every node of the graph; ``grad`` runs the same walk
(``microgradx.walk``) with the gradients kept in a dict, so a call inside a function being
differentiated never disturbs the outer call's gradients (``microgradx.functional`` is built on it).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from microgradx import walk
from microgradx.checks import describe, flag, real
from microgradx.engine import Operand, Value, topological_order
from microgradx.modes import enable_grad, mode


def grad(
    outputs: Value | Sequence[Value],
    inputs: Value | Sequence[Value],
    grad_outputs: Operand | Sequence[Operand] | None = None,
    *,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Any, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned, not stored (as
    ``torch.autograd.grad``, with its arguments in its order).

    Returns a tuple with d(sum_k grad_outputs[k] * outputs[k]) / d(inputs[i]) for each input:
    floats, or Values with ``create_graph=True`` (then they can be differentiated again). No
    ``.grad`` anywhere is read or written, so a call inside a function being differentiated
    never disturbs the outer call's gradients. ``grad_outputs``: the seed of each output
    (default 1).

    An input is *used* when the graph reaches it from an output, whatever the numbers: one
    whose gradient is exactly 0 (a dead ReLU, an underflowed ``exp``, a zero seed) gets 0, as
    ``backward()`` gives it. An input the outputs do not reach raises ``ValueError``, unless
    ``allow_unused=True`` (its gradient is then ``None``) or ``materialize_grads=True`` (0.0);
    ``allow_unused=False`` with ``materialize_grads=True`` is a ``ValueError`` (as PyTorch). The
    flags must be ``True`` or ``False`` (``TypeError``); ``allow_unused=None`` means
    ``materialize_grads``' value, as PyTorch. ``retain_graph`` is accepted for PyTorch's sake:
    graphs here are always kept. In ``detect_anomaly()`` mode each contribution is checked as it
    is made (``AnomalyError``).
    """
    if retain_graph is not None:
        flag(retain_graph, "retain_graph")
    create_graph = flag(create_graph, "create_graph")
    materialize_grads = flag(materialize_grads, "materialize_grads")
    allow_unused = materialize_grads if allow_unused is None else flag(allow_unused, "allow_unused")
    if materialize_grads and not allow_unused:
        raise ValueError(
            "allow_unused=False with materialize_grads=True: materialize_grads gives an unused"
            " input 0.0, so it needs allow_unused=True (or None)"
        )
    outs = _value_list(outputs, "outputs")
    ins = _value_list(inputs, "inputs")
    if grad_outputs is None:
        seeds: list[Any] = [1.0] * len(outs)
    else:
        given = grad_outputs if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
        if len(given) != len(outs):
            raise ValueError(f"grad_outputs has {len(given)} entries for {len(outs)} outputs")
        seeds = [g if isinstance(g, Value) else real(g, "grad_outputs") for g in given]
    grads: dict[Value, Any] = {}
    for out, seed in zip(outs, seeds):
        walk.seed(grads, out, seed)
    order = _order_of(outs)
    with enable_grad() if create_graph else nullcontext():
        walk.walk(order, walk.InDict(grads, mode.anomaly, create_graph))
    # Used: reached from an output in the graph. A used input can have no entry in ``grads``:
    # every path to it passed an upstream of exactly 0 (the zero-upstream rule), so its
    # gradient is exactly 0, not undefined.
    used = set(order)
    results: list[Any] = []
    for k, x in enumerate(ins):
        g = grads.get(x)
        if g is None:
            if materialize_grads or x in used:
                g = 0.0
            elif not allow_unused:
                raise ValueError(
                    f"inputs[{k}] is not used to compute the outputs: its gradient is undefined"
                    " (allow_unused=True gives None, materialize_grads=True gives 0.0)"
                )
        if create_graph and g is not None and not isinstance(g, Value):
            g = Value(g)
        elif not create_graph and isinstance(g, Value):
            g = g.data
        results.append(g)
    return tuple(results)


def _value_list(x: Value | Sequence[Value], name: str) -> list[Value]:
    items = [x] if isinstance(x, Value) else x
    if not isinstance(items, (list, tuple)) or not items:
        raise TypeError(f"{name} must be a Value or a non-empty list of Values, got {describe(x)}")
    for k, item in enumerate(items):
        if not isinstance(item, Value):
            raise TypeError(f"{name}[{k}] must be a Value, got {type(item).__name__}")
    return list(items)


def _order_of(outputs: list[Value]) -> list[Value]:
    """Every node the outputs depend on, inputs first (each after the nodes it uses)."""
    if len(outputs) == 1:
        return topological_order(outputs[0])
    seen: set[Value] = set()
    order = []
    for out in outputs:  # the union of the orders is an order: a node's inputs come before it
        for node in topological_order(out):
            if node not in seen:
                seen.add(node)
                order.append(node)
    return order
