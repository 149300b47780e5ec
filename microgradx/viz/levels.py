"""Backprop a neuron or a layer at a time: the lectures' view of the recorded pass.

A network built by ``microgradx.nn`` names each neuron's output (``layers.1.neurons.3``) and its
parameters (``layers.1.neurons.3.w.0``, ``...b``). That is enough to find, in any recorded pass,
the op steps that make up one neuron's backward and to say them in the lectures' terms:

    δ = dL/dz = dL/da * f'(z)      dL/dw_i = δ x_i      dL/db = δ      dL/dx_i += δ w_i

and, for a layer of such neurons reading the same inputs, modular backprop: the layer receives
dL/da, computes δ = dL/da ⊙ f'(z), and returns dL/dW = δ xᵀ, dL/db = δ and dL/dx = Wᵀ δ. Every
number is taken from the recorded op steps, never computed again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from microgradx.engine import Value
from microgradx.ops import ADD, MUL
from microgradx.viz.record import BackwardStep, num, short, wrt

_NEURON_NAME = re.compile(r"(?:^|\.)neurons\.\d+\Z")


@dataclass(frozen=True)
class WeightTerm:
    """One input of a neuron: ``dL/dw = δ * x`` and ``dL/dx += δ * w``."""

    weight: Value
    weight_name: str  # its name inside the neuron: "w.0"
    input: Value
    input_name: str
    weight_grad: float  # δ * x, the contribution to dL/dw
    input_grad: float  # δ * w, the contribution to dL/dx


@dataclass(frozen=True)
class NeuronStep:
    """One neuron's backward: ``δ = dL/dz = dL/da * act'(z)``, then its weights, bias, inputs."""

    index: int
    node: Value  # the neuron's output a
    name: str
    activation: str | None  # the op's label ("tanh", "σ", "relu"), None for a linear neuron
    upstream: float  # dL/da
    activation_grad: float  # act'(z) (1 without an activation)
    delta: float  # dL/dz
    terms: tuple[WeightTerm, ...]
    bias: Value | None
    bias_grad: float
    ops: tuple[BackwardStep, ...]  # the op-level steps this one is made of


@dataclass(frozen=True)
class LayerStep:
    """One layer's backward: receives dL/da for its outputs, returns dL/dx, dL/dW, dL/db."""

    index: int
    node: Value  # the layer's first neuron's output (the drawing's box is the whole layer)
    name: str
    neurons: tuple[NeuronStep, ...]
    inputs: tuple[Value, ...]
    input_names: tuple[str, ...]
    ops: tuple[BackwardStep, ...]


def neuron_owners(order: list[Value], root: Value) -> dict[Value, Value]:
    """Each node inside a neuron -> that neuron's output (named ``...neurons.N`` by nn).

    A node is inside a neuron when every node that uses it is inside that neuron (so nothing else
    needs its gradient before the neuron's step) and it is, or computes from, one of the neuron's
    own parameters (``<name>.w.i``, ``<name>.b``).
    """
    users: dict[Value, list[Value]] = {}
    for node in order:
        for child in node.children:
            users.setdefault(child, []).append(node)
    owner: dict[Value, Value] = {}
    for node in reversed(order):  # every user before the node it uses
        label = node.label or ""
        if node.op is not None and _NEURON_NAME.search(label):
            owner[node] = node
            continue
        owners = {owner.get(user) for user in users.get(node, ())}
        if len(owners) != 1 or None in owners:
            continue
        (neuron,) = owners
        assert neuron is not None and neuron.label is not None
        if node.op is not None or label.startswith(neuron.label + "."):
            owner[node] = neuron
    # Keep an op only if it reaches one of the neuron's own parameters (inputs first, here).
    has_param: dict[Value, bool] = {}
    for node in order:
        neuron = owner.get(node)
        if neuron is None:
            continue
        if node.op is None:
            has_param[node] = True
        elif node is not neuron:
            has_param[node] = any(
                owner.get(c) is neuron and has_param.get(c) for c in node.children
            )
            if not has_param[node]:
                del owner[node]
    return owner


def neuron_step(
    index: int, output: Value, ops: list[BackwardStep], names: dict[Value, str]
) -> NeuronStep:
    """The neuron-level view of the op steps inside one neuron (all from the recorded pass)."""
    name = output.label or ""
    by_node = {step.node: step for step in ops}
    first = by_node[output]
    if output.op is not None and output._right is None and output.op is not ADD:
        activation: str | None = output.op.label
        upstream, activation_grad = first.upstream, first.contributions[0].local_grad
        delta = first.contributions[0].contribution
    else:
        activation, upstream, activation_grad, delta = None, first.upstream, 1.0, first.upstream
    terms, bias, bias_grad = [], None, 0.0
    for step in ops:
        labels = [c.child.label or "" for c in step.contributions]
        if step.node.op is MUL:
            for k in (0, 1):
                if labels[k].startswith(name + ".w."):
                    weight, other = step.contributions[k], step.contributions[1 - k]
                    terms.append(
                        WeightTerm(
                            weight.child,
                            labels[k][len(name) + 1 :],
                            other.child,
                            names[other.child],
                            weight.contribution,
                            other.contribution,
                        )
                    )
                    break
        for c, label in zip(step.contributions, labels):
            if label == name + ".b":
                bias, bias_grad = c.child, c.contribution
    terms.sort(key=lambda t: _weight_order(t.weight_name))
    return NeuronStep(
        index,
        output,
        name,
        activation,
        upstream,
        activation_grad,
        delta,
        tuple(terms),
        bias,
        bias_grad,
        tuple(sorted(ops, key=lambda s: s.index)),
    )


def _weight_order(name: str) -> tuple[int, str]:
    tail = name.rsplit(".", 1)[-1]
    return (int(tail), name) if tail.isdigit() else (1 << 30, name)


def layer_name(neuron_name: str) -> str:
    return neuron_name.rsplit(".neurons.", 1)[0] if ".neurons." in neuron_name else "neurons"


def _vector(values: Iterable[float]) -> str:
    return "[" + ", ".join(short(float(v)) for v in values) + "]"


Step = BackwardStep | NeuronStep | LayerStep  # a step at any level


def layer_steps(units: list[Step], names: dict[Value, str]) -> list[Step]:
    """Neurons of one layer that read the same inputs (one forward call) become one step, where
    the layer's first neuron's step was; other steps stay as they are."""
    layers: dict[tuple[str, frozenset[Value]], list[NeuronStep]] = {}
    for unit in units:
        if isinstance(unit, NeuronStep):
            key = (layer_name(unit.name), frozenset(t.input for t in unit.terms))
            layers.setdefault(key, []).append(unit)
    result: list[Step] = []
    done: set[tuple[str, frozenset[Value]]] = set()
    for unit in units:
        if not isinstance(unit, NeuronStep):
            result.append(unit)
            continue
        key = (layer_name(unit.name), frozenset(t.input for t in unit.terms))
        if key in done:
            continue
        done.add(key)
        neurons = sorted(layers[key], key=lambda n: _weight_order(n.name))
        inputs = [t.input for t in neurons[0].terms]  # x_i goes with w.i
        result.append(
            LayerStep(
                0,
                neurons[0].node,
                key[0],
                tuple(neurons),
                tuple(inputs),
                tuple(names[v] for v in inputs),
                tuple(sorted((s for n in neurons for s in n.ops), key=lambda s: s.index)),
            )
        )
    return result


def neuron_equation(step: NeuronStep, loss: str) -> str:
    """One neuron's backward in the lectures' terms, one line per gradient."""
    loss, act = wrt(loss), step.activation
    if act:
        head = f"neuron {step.name}: a = {act}(z), z = w·x + b"
        delta = (
            f"δ = d{loss}/dz = d{loss}/da * {act}'(z) = {num(step.upstream)} *"
            f" {num(step.activation_grad)} = {num(step.delta)}"
        )
    else:
        head = f"neuron {step.name} (linear): a = z = w·x + b"
        delta = f"δ = d{loss}/dz = d{loss}/da = {num(step.delta)}"
    lines = [head, delta]
    for t in step.terms:
        lines.append(
            f"d{loss}/d{wrt(t.weight_name)} += δ * {t.input_name}"
            f" = {num(step.delta)} * {num(t.input.data)} = {num(t.weight_grad)}"
        )
    if step.bias is not None:
        lines.append(f"d{loss}/db += δ = {num(step.bias_grad)}")
    for t in step.terms:
        lines.append(
            f"d{loss}/d{wrt(t.input_name)} += δ * {t.weight_name}"
            f" = {num(step.delta)} * {num(t.weight.data)} = {num(t.input_grad)}"
        )
    return "\n".join(lines)


def layer_equation(step: LayerStep, loss: str, returned: Iterable[float]) -> str:
    """One layer's backward as a module: what it receives, computes and returns.
    ``returned``: the gradients of its inputs after the step (dL/dx so far)."""
    loss = wrt(loss)
    activations = {n.activation for n in step.neurons}
    act = activations.pop() if len(activations) == 1 else "f"
    n, m = len(step.neurons), len(step.inputs)
    neurons = f"{n} neuron" + ("s" if n != 1 else "")
    rule = f"a = {act}(W x + b)" if act else "a = W x + b (linear)"
    deltas = _vector(neuron.delta for neuron in step.neurons)
    return "\n".join(
        [
            f"layer {step.name}: {neurons}, {rule}, x = [{', '.join(step.input_names)}]",
            f"receives d{loss}/da = {_vector(neuron.upstream for neuron in step.neurons)}",
            f"δ = d{loss}/dz = d{loss}/da ⊙ {act}'(z) = {deltas}"
            if act
            else f"δ = d{loss}/dz = d{loss}/da = {deltas}",
            f"d{loss}/dW = δ xᵀ ({n}×{m}): row j is δ_j * x, e.g. row 0 = "
            f"{_vector(t.weight_grad for t in step.neurons[0].terms)}",
            f"d{loss}/db = δ",
            f"returns d{loss}/dx = Wᵀ δ (gradients so far) = {_vector(returned)}",
        ]
    )
