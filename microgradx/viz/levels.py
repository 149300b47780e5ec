"""Backprop a neuron or a layer at a time: the lectures' view of the recorded pass.

A network built by ``microgradx.nn`` records, while it computes, which neuron made which node, in
which call of its layer and on which input example (``nn.Structure``). That is enough to find, in
any recorded pass, the op steps that make up one neuron's backward, whatever the loss built on the
network's outputs (a sum over a mini-batch too), and to say them in the lectures' terms, with
a^l_j written ``a2_1`` (layer 2, neuron 1), z^l_j ``z2_1``, δ^l_j ``δ2_1``, w^l_jk ``w2_1_3``,
b^l_j ``b2_1`` (and ``a2_1[3]`` on example 3 of several):

    δ = ∂L/∂z = ∂L/∂a * f'(z)      ∂L/∂w_k = x_k δ      ∂L/∂b = δ      ∂L/∂x_k += w_k δ

and, for a layer of such neurons reading the same inputs, modular backprop: the layer receives
∂L/∂a, computes δ = ∂L/∂a ⊙ f'(z), and returns ∂L/∂W = δ xᵀ, ∂L/∂b = δ and ∂L/∂x = Wᵀ δ.
The delta and parameter equations are named as the course names them (Nielsen's "Neural
Networks and Deep Learning", ch. 2, which notebooks 01 and 09 follow; ``BP1`` to ``BP4``): the
output layer's δ^L = ∂L/∂a^L ⊙ f'(z^L) is *the output error* (BP1), a hidden layer's
δ^l = ((W^(l+1))ᵀ δ^(l+1)) ⊙ f'(z^l) *the backpropagated error* (BP2), ∂L/∂b^l_j = δ^l_j (BP3)
and ∂L/∂w^l_jk = a^(l-1)_k δ^l_j (BP4). The loss's own ops (outside the network) are one step,
``LossStep``: it sends ∂L/∂a^L to the output neurons, so the first neuron step is the output
neuron's. Every number is taken from the recorded op steps, never computed again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from microgradx.engine import Value
from microgradx.nn import Call, NeuronCall, Structure
from microgradx.ops import ADD, MUL
from microgradx.viz.record import BackwardStep, num, short, wrt
from microgradx.viz.style import op_label

BP1 = "BP1, the output error: δ^L = ∂L/∂a^L ⊙ f'(z^L)"
BP2 = "BP2, the backpropagated error: δ^l = ((W^(l+1))ᵀ δ^(l+1)) ⊙ f'(z^l)"
BP3 = "BP3: ∂L/∂b^l_j = δ^l_j"
BP4 = "BP4: ∂L/∂w^l_jk = a^(l-1)_k δ^l_j"
SPELLED_OUT = 3  # a hidden δ spells out Σ_k w^(l+1)_kj δ^(l+1)_k up to this many terms


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
    # Where its ∂L/∂a came from: "output" (the loss only: δ is BP1's output error), "hidden"
    # (only the next layer's neurons: BP2's backpropagated error), "" (both, or other ops).
    role: str = ""
    # For a hidden neuron, the next layer's terms w^(l+1)_kj δ^(l+1)_k: (weight name, w, δ
    # name, δ), in the order backward() added them.
    backpropagated: tuple[tuple[str, float, str, float], ...] = ()
    inputs_name: str = "x"  # its input vector: "x" (the network's inputs) or "a1" (a^(l-1))


@dataclass(frozen=True)
class LossStep:
    """The loss's own ops (outside the network) at once: it sends ∂L/∂a^L to the output
    neurons (and to anything else its ops read: a penalty's weights, the inputs)."""

    index: int
    node: Value  # the loss
    name: str
    ops: tuple[BackwardStep, ...]
    sent: tuple[tuple[Value, str], ...]  # what it sends gradient to, with its name


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
        inputs_name=_inputs_name(made, structure),
    )


def _inputs_name(made: NeuronCall, structure: Structure) -> str:
    """``a1`` (a^(l-1)) when the neuron reads layer l - 1's neurons (``a1[2]`` on example 2,
    ``a1#1`` for the first call of a layer called twice), else ``x``."""
    read = next(
        (structure.outputs.get(x) for x in made.call.inputs if x in structure.outputs), None
    )
    if read is None or read.neuron._place is None:
        return "x"
    return f"a{read.neuron._place[0]}{structure.example(read)}"


def layer_name(step: NeuronStep, structure: Structure) -> str:
    """The dotted name of the neuron's layer (``layers.1``; ``[k]`` on example k of several)."""
    return structure.layer_name(structure.outputs[step.node])


def _vector(values: Iterable[float]) -> str:
    return "[" + ", ".join(short(float(v)) for v in values) + "]"


Step = BackwardStep | NeuronStep | LayerStep | LossStep  # a step at any level


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


def _tagged(line: str, rule: str) -> str:
    return f"{line}   [{rule}]"


def neuron_equation(step: NeuronStep, loss: str) -> str:
    """One neuron's backward in the lectures' terms, one line per gradient: for neuron j of
    layer l, a2_1 is a^l_j, z2_1 z^l_j, δ2_1 δ^l_j, w2_1_3 w^l_jk and b2_1 b^l_j; its δ named
    as the course names it (BP1 for the output layer, BP2 for a hidden one; BP3 and BP4 on the
    parameters' gradients)."""
    loss, act, tag, each = wrt(loss), step.activation, step.tag, step.tag + step.example
    a, delta, b = wrt(step.name), f"δ{each}", wrt(f"b{tag}")
    layer = tag.split("_")[0] if tag else ""
    where = {"output": ", the output layer", "hidden": f", hidden layer {layer}"}.get(step.role, "")
    rule = f"z{each} = w{tag}·{step.inputs_name} + b{tag}"
    if act:
        lines = [f"neuron {step.name}{where}: {step.name} = {act}(z{each}), {rule}"]
        slope = f" * {act}'(z{each})"
        slope_value = f" * {num(step.activation_grad)}"
    else:
        lines = [f"neuron {step.name}{where} (linear): {step.name} = {rule}"]
        slope = slope_value = ""
    terms = step.backpropagated
    if step.role == "hidden" and 0 < len(terms) <= SPELLED_OUT:
        sums = " + ".join(f"{w} {d}" for w, _, d, _ in terms)
        values = " + ".join(f"{num(w)} * {num(d)}" for _, w, _, d in terms)
        line = f"{delta} = ({sums}){slope} = ({values}){slope_value} = {num(step.delta)}"
    elif step.role == "hidden":
        line = (
            f"{delta} = (Σ_k w{int(layer) + 1}_k_{tag.split('_')[1]}"
            f" δ{int(layer) + 1}_k{step.example}){slope}"
            f" = {num(step.upstream)}{slope_value} = {num(step.delta)}"
        )
    elif act:
        line = (
            f"{delta} = ∂{loss}/∂{a}{slope} = {num(step.upstream)}{slope_value} = {num(step.delta)}"
        )
    else:
        line = f"{delta} = ∂{loss}/∂{a} = {num(step.delta)}"
    rule_name = {"output": BP1, "hidden": BP2}.get(step.role)
    lines.append(_tagged(line, rule_name) if rule_name else line)
    for k, t in enumerate(step.terms):
        line = (
            f"∂{loss}/∂{wrt(t.weight_name)} += {t.input_name} {delta}"
            f" = {num(t.input.data)} * {num(step.delta)} = {num(t.weight_grad)}"
        )
        lines.append(_tagged(line, BP4) if k == 0 else line)
    if step.bias is not None:
        lines.append(_tagged(f"∂{loss}/∂{b} += {delta} = {num(step.bias_grad)}", BP3))
    for t in step.terms:
        lines.append(
            f"∂{loss}/∂{wrt(t.input_name)} += {t.weight_name} {delta}"
            f" = {num(t.weight.data)} * {num(step.delta)} = {num(t.input_grad)}"
        )
    return "\n".join(lines)


def loss_equation(step: LossStep, loss: str, sent: Sequence[float]) -> str:
    """The loss's ops as one step: the gradient it sends to each node outside it (``sent``:
    their gradients after the step, in ``step.sent``'s order)."""
    name = wrt(loss)
    ops = f"{len(step.ops)} op" + ("s" if len(step.ops) != 1 else "")
    lines = [f"the loss {loss} ({ops}; level='op' shows them one by one) sends ∂{name}/∂a^L"]
    lines += [f"∂{name}/∂{wrt(n)} = {num(g)}" for (_, n), g in zip(step.sent, sent)]
    return "\n".join(lines)


def layer_equation(step: LayerStep, loss: str, returned: Iterable[float]) -> str:
    """One layer's backward as a module: what it receives, computes and returns, in the
    lectures' terms (layer l's a^l, z^l, δ^l, W^l, b^l written a2, z2, δ2, W2, b2; its δ named
    BP1 for the output layer, BP2 for a hidden one). ``returned``: the gradients of its inputs
    after the step (∂L/∂x so far)."""
    loss = wrt(loss)
    first = step.neurons[0]
    activations = {n.activation for n in step.neurons}
    act = activations.pop() if len(activations) == 1 else "f"
    n, m = len(step.neurons), len(step.inputs)
    layer = first.tag.split("_")[0] if first.tag else ""
    ex = first.example
    a, z, d = (f"{s}{layer}{ex}" for s in "azδ") if layer else ("a", "z", "δ")
    w, b = (f"W{layer}", f"b{layer}") if layer else ("W", "b")  # every example reads the same ones
    x = first.inputs_name if layer else "x"
    roles = {neuron.role for neuron in step.neurons}
    role = roles.pop() if len(roles) == 1 else ""
    where = {"output": ", the output layer", "hidden": ", a hidden layer"}.get(role, "")
    neurons = f"{n} neuron" + ("s" if n != 1 else "")
    rule = f"{a} = {act}({w} {x} + {b})" if act else f"{a} = {w} {x} + {b} (linear)"
    deltas = _vector(neuron.delta for neuron in step.neurons)
    upstream = _vector(neuron.upstream for neuron in step.neurons)
    slope = f" ⊙ {act}'({z})" if act else ""
    if role == "hidden":  # the layer that sent it ∂L/∂a, named by the terms it sent
        weight, _, sender, _ = first.backpropagated[0]
        after_w = f"W{weight[1:].split('_')[0]}"
        after_d = "δ" + re.sub(r"_[0-9]+", "", sender[1:], count=1)
        delta = _tagged(f"{d} = (({after_w})ᵀ {after_d}){slope} = {deltas}", BP2)
    else:
        delta = f"{d} = ∂{loss}/∂{a}{slope} = {deltas}"
        delta = _tagged(delta, BP1) if role == "output" else delta
    title = f"layer {layer}{ex}" if layer else f"layer {step.name}"
    return "\n".join(
        [
            f"{title}{where}: {neurons}, {rule}, {x} = [{', '.join(step.input_names)}]",
            f"receives ∂{loss}/∂{a} = {upstream}",
            delta,
            _tagged(
                f"∂{loss}/∂{w} = {d} {x}ᵀ ({n}×{m}): row j is {d}_j {x}, e.g. row 1 = "
                f"{_vector(t.weight_grad for t in first.terms)}",
                BP4,
            ),
            _tagged(f"∂{loss}/∂{b} = {d}", BP3),
            f"returns ∂{loss}/∂{x} = ({w})ᵀ {d} (gradients so far) = {_vector(returned)}",
        ]
    )
