"""Backprop a neuron or a layer at a time: the lectures' view of the recorded pass.

A network built by ``microgradx.nn`` records, while it computes, which neuron made which node, in
which call of its layer and on which input example (``nn.Structure``). That is enough to find, in
any recorded pass, the op steps that make up one neuron's backward, whatever the loss built on the
network's outputs (a sum over a mini-batch too), and to say them in the lectures' terms, with
a^l_j written ``a2_1`` (layer 2, neuron 1), z^l_j ``z2_1``, δ^l_j ``δ2_1``, w^l_jk ``w2_1_3``,
b^l_j ``b2_1`` (and ``a2_1[3]`` on example 3 of several):

    δ = dL/dz = dL/da * f'(z)      dL/dw_k = δ x_k      dL/db = δ      dL/dx_k += δ w_k

and, for a layer of such neurons reading the same inputs, modular backprop: the layer receives
dL/da, computes δ = dL/da ⊙ f'(z), and returns dL/dW = δ xᵀ, dL/db = δ and dL/dx = Wᵀ δ. Every
number is taken from the recorded op steps, never computed again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from microgradx.engine import Value
from microgradx.nn import Call, Structure
from microgradx.ops import ADD, MUL
from microgradx.viz.record import BackwardStep, num, short, wrt
from microgradx.viz.style import op_label


@dataclass(frozen=True)
class WeightTerm:
    """One input of a neuron: ``dL/dw = δ * x`` and ``dL/dx += δ * w``."""

    weight: Value
    weight_name: str  # its name in the lectures' notation: "w2_1_3" (w^2_13)
    input: Value
    input_name: str
    weight_grad: float  # δ * x, the contribution to dL/dw
    input_grad: float  # δ * w, the contribution to dL/dx


@dataclass(frozen=True)
class NeuronStep:
    """One neuron's backward: ``δ = dL/dz = dL/da * act'(z)``, then its weights, bias, inputs."""

    index: int
    node: Value  # the neuron's output a
    name: str  # its output's name: "a2_1" (a^2_1; "a2_1[3]" on example 3), or the user's label
    activation: str | None  # the op's label ("tanh", "σ", "relu"), None for a linear neuron
    upstream: float  # dL/da
    activation_grad: float  # act'(z) (1 without an activation)
    delta: float  # dL/dz
    terms: tuple[WeightTerm, ...]
    bias: Value | None
    bias_grad: float
    ops: tuple[BackwardStep, ...]  # the op-level steps this one is made of
    tag: str = ""  # its indices in the lectures' notation: "2_1" (w2_1_3, b2_1)
    example: str = ""  # "[3]" on example 3 of several (a2_1[3], z2_1[3], δ2_1[3])
    module: str = ""  # the neuron's dotted name in its network: "layers.1.neurons.0" ("[3]")
    call: Call | None = None  # the call of its layer it was part of (one example)


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


def neuron_owners(structure: Structure) -> dict[Value, Value]:
    """Each node inside a neuron -> that neuron's output, as the network recorded it: the ops
    the neuron computed, and its parameters when no other neuron call uses them."""
    output_of = {id(made): out for out, made in structure.outputs.items()}
    return {node: output_of[id(made)] for node, made in structure.owner.items()}


def neuron_step(
    index: int,
    output: Value,
    ops: list[BackwardStep],
    names: dict[Value, str],
    structure: Structure,
) -> NeuronStep:
    """The neuron-level view of the op steps inside one neuron (all from the recorded pass)."""
    made = structure.outputs[output]
    neuron, tag = made.neuron, structure.tag(made)
    weight_index = {id(w): k for k, w in enumerate(neuron.w, 1)}
    by_node = {step.node: step for step in ops}
    first = by_node[output]
    if output.op is not None and output._right is None and output.op is not ADD:
        activation: str | None = op_label(output.op)
        upstream, activation_grad = first.upstream, first.contributions[0].local_grad
        delta = first.contributions[0].contribution
    else:
        activation, upstream, activation_grad, delta = None, first.upstream, 1.0, first.upstream
    terms: list[tuple[int, WeightTerm]] = []
    bias, bias_grad = None, 0.0
    for step in ops:
        if step.node.op is MUL:
            for k in (0, 1):
                position = weight_index.get(id(step.contributions[k].child))
                if position is not None:
                    weight, other = step.contributions[k], step.contributions[1 - k]
                    term = WeightTerm(
                        weight.child,
                        f"w{tag}_{position}",
                        other.child,
                        names[other.child],
                        weight.contribution,
                        other.contribution,
                    )
                    terms.append((position, term))
                    break
        for c in step.contributions:
            if c.child is neuron.b:
                bias, bias_grad = c.child, c.contribution
    terms.sort(key=lambda item: item[0])
    return NeuronStep(
        index,
        output,
        names[output],
        activation,
        upstream,
        activation_grad,
        delta,
        tuple(term for _, term in terms),
        bias,
        bias_grad,
        tuple(sorted(ops, key=lambda s: s.index)),
        tag,
        structure.example(made),
        structure.module_name(made),
        made.call,
    )


def layer_name(step: NeuronStep, structure: Structure) -> str:
    """The dotted name of the neuron's layer (``layers.1``; ``[k]`` on example k of several)."""
    return structure.layer_name(structure.outputs[step.node])


def _vector(values: Iterable[float]) -> str:
    return "[" + ", ".join(short(float(v)) for v in values) + "]"


Step = BackwardStep | NeuronStep | LayerStep  # a step at any level


def layer_steps(units: list[Step], names: dict[Value, str], structure: Structure) -> list[Step]:
    """Neurons of one call of a layer (one example) become one step, where the layer's first
    neuron's step was; other steps stay as they are."""
    layers: dict[int, list[NeuronStep]] = {}
    for unit in units:
        if isinstance(unit, NeuronStep):
            layers.setdefault(id(unit.call), []).append(unit)
    result: list[Step] = []
    done: set[int] = set()
    for unit in units:
        if not isinstance(unit, NeuronStep):
            result.append(unit)
            continue
        key = id(unit.call)
        if key in done:
            continue
        done.add(key)
        neurons = sorted(layers[key], key=lambda n: _neuron_order(n, structure))
        inputs = [t.input for t in neurons[0].terms]  # x_k goes with w_k
        result.append(
            LayerStep(
                0,
                neurons[0].node,
                layer_name(neurons[0], structure),
                tuple(neurons),
                tuple(inputs),
                tuple(names[v] for v in inputs),
                tuple(sorted((s for n in neurons for s in n.ops), key=lambda s: s.index)),
            )
        )
    return result


def _neuron_order(step: NeuronStep, structure: Structure) -> int:
    made = structure.outputs[step.node]
    layer = made.call.module
    neurons = getattr(layer, "neurons", [made.neuron])
    return next(j for j, n in enumerate(neurons) if n is made.neuron)


def neuron_equation(step: NeuronStep, loss: str) -> str:
    """One neuron's backward in the lectures' terms, one line per gradient: for neuron j of
    layer l, a2_1 is a^l_j, z2_1 z^l_j, δ2_1 δ^l_j, w2_1_3 w^l_jk and b2_1 b^l_j."""
    loss, act, tag, each = wrt(loss), step.activation, step.tag, step.tag + step.example
    a, z, delta, b = wrt(step.name), wrt(f"z{each}"), f"δ{each}", wrt(f"b{tag}")
    rule = f"z{each} = w{tag}·x + b{tag}"
    if act:
        head = f"neuron {step.name} ({step.module}): {step.name} = {act}(z{each}), {rule}"
        lines = [
            head,
            f"{delta} = d{loss}/d{z} = d{loss}/d{a} * {act}'(z{each}) = {num(step.upstream)} *"
            f" {num(step.activation_grad)} = {num(step.delta)}",
        ]
    else:
        head = f"neuron {step.name} ({step.module}, linear): {step.name} = {rule}"
        lines = [head, f"{delta} = d{loss}/d{z} = d{loss}/d{a} = {num(step.delta)}"]
    for t in step.terms:
        lines.append(
            f"d{loss}/d{wrt(t.weight_name)} += {delta} * {t.input_name}"
            f" = {num(step.delta)} * {num(t.input.data)} = {num(t.weight_grad)}"
        )
    if step.bias is not None:
        lines.append(f"d{loss}/d{b} += {delta} = {num(step.bias_grad)}")
    for t in step.terms:
        lines.append(
            f"d{loss}/d{wrt(t.input_name)} += {delta} * {t.weight_name}"
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
