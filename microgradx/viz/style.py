"""Names, numbers and colours of every picture of a graph (one place, every renderer uses it).

The step-through page's SVG, the Graphviz drawings and the text frames all name a node, write a
number and colour a box through this module, so they always agree:

* ``node_names``: a node's name (its label, else ``L`` for an unlabelled output and ``v<k>`` for
  its place in topological order); ``wrt(name)``: the name as it follows ``d`` in a derivative;
  ``parameter_names``: a network's weights and biases as the lectures name them (``w2_1_3``,
  ``b2_1``); ``group_heading``: the first lines of a neuron's or a layer's box (``a2_1``,
  ``tanh neuron``; ``layer 2``, ``16 tanh neurons``), in every picture that collapses them;
* ``lecture_text(text)``: the lectures' names with their indices raised and lowered, for a page
  (``a2_1`` as a²₁, ``w2_1_3`` as w²₁₃, ``W2`` as W², ``δ^L`` as δᴸ); text frames keep ``a2_1``;
* ``num(x)`` (equations, 4 decimals) and ``short(x)`` (boxes, 4 significant digits);
* ``ROLE_COLORS`` and ``role``: the fill of a parameter, input, constant, intermediate or output;
  ``HEAT`` and ``heat``: |grad| on a log scale; and the colours of groups, op circles, the current
  step (red) and the nodes it sends gradient to (orange).
"""

from __future__ import annotations

import math
import re

from microgradx.engine import Value
from microgradx.nn import Structure
from microgradx.ops import ADD, Op
from microgradx.viz.markup import LABEL_CHARS, label_of, visible

ROLE_COLORS = {
    "parameter": "#cfe2ff",
    "input": "#d1f2d9",
    "constant": "#f1f1f1",
    "intermediate": "#ffffff",
    "output": "#ffe08a",
}
HEAT = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]  # |grad|: small to large
GROUP_FILL = "#e8e0f8"  # a neuron's or a layer's box
OP_FILL = "#eeeeee"  # an op's circle
DIMMED_FILL = "#e6e6e6"  # a node the pass has not reached yet (Graphviz frames)
CURRENT = "#d62728"  # the step being shown: its box, its op, its edges
CHILD = "#ff7f0e"  # the boxes the current step sends gradient to
BORDER = "#777777"
OP_BORDER = "#888888"
EDGE = "#555555"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SUPERSCRIPT = str.maketrans("0123456789+-()lL", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ˡᴸ")
_SUBSCRIPT = str.maketrans("0123456789jk", "₀₁₂₃₄₅₆₇₈₉ⱼₖ")
_NOT_IN_A_WORD = r"(?<![A-Za-z0-9_.])"
# a2_1, z2_1, δ2_1, b2_1 (a^l_j), w2_1_3 (w^l_jk), w2_k_1 and δ2_j (indices j, k)
_INDEXED = re.compile(_NOT_IN_A_WORD + r"([azbwδ])(\d+)_(\d+|[jk])(?:_(\d+|[jk]))?(?![A-Za-z0-9_])")
_LAYER_VECTOR = re.compile(_NOT_IN_A_WORD + r"([azbδW])(\d+)(?![A-Za-z0-9_])")  # a2, W2: a^2, W^2
_RAISED = re.compile(r"\^(\([lL0-9+-]+\)|[lL0-9])")  # δ^L, W^(l+1)
_LOWERED = re.compile(r"(?<=[A-Za-zδΣˡᴸ⁾⁰¹²³⁴⁵⁶⁷⁸⁹])_(jk|j|k)(?![A-Za-z0-9_])")  # w^l_jk, Σ_k


def num(x: float) -> str:
    """A number in an equation: 4 decimals, or 4 significant digits in e-notation when tiny."""
    return f"{x:.4f}" if abs(x) >= 1e-3 or x == 0 or not math.isfinite(x) else f"{x:.4e}"


def short(x: float) -> str:
    """A number in a box (data, grad): 4 significant digits."""
    return f"{x:.4g}"


def wrt(name: str) -> str:
    """``name`` as it follows ``d`` in a derivative: ``x``, but ``(x1*w1)`` and ``(layers.0)``."""
    return name if _IDENTIFIER.match(name) else f"({name})"


def node_names(
    order: list[Value], root: Value, structure: Structure | None = None
) -> dict[Value, str]:
    """Every node's name in drawings and equations: its label, else for a node a network's
    neuron computed its name in the lectures' notation (``a2_1``, ``z2_1``: ``nn.Structure``),
    else ``L`` for the output and ``v<k>`` (its place in topological order) for any other node.

    A label is shown as ``markup.visible`` writes it (control characters and other invisible
    ones written out as ``\\x07``, ``\\u202e``) and cut to ``LABEL_CHARS`` characters with an
    ellipsis. Raises TypeError if a node's label was set to something other than a str.
    """
    structured = (structure or Structure(order)).names()  # from attribute names: user text too
    return {
        node: visible(label_of(node), LABEL_CHARS)
        or visible(structured.get(node, ""), LABEL_CHARS)
        or ("L" if node is root else f"v{k}")
        for k, node in enumerate(order)
    }


def parameter_names(structure: Structure) -> dict[Value, str]:
    """The lectures' names of the parameters of every neuron ``structure`` recorded: weight k of
    neuron j of layer l is ``wl_j_k`` (w^l_jk), its bias ``bl_j`` (b^l_j). A neuron outside any
    layer has no place, and its parameters no such name."""
    names: dict[Value, str] = {}
    for made in structure.outputs.values():
        tag = structure.tag(made)
        if tag:
            for k, w in enumerate(made.neuron.w, 1):
                names.setdefault(w, f"w{tag}_{k}")
            names.setdefault(made.neuron.b, f"b{tag}")
    return names


def group_heading(
    structure: Structure, output: Value, name: str, level: str, neurons: int = 1
) -> tuple[str, str, str]:
    """A collapsed box's first two lines and its tooltip, in the lectures' notation.

    ``output``: the (first) neuron's output, ``name`` its name (``a2_1``: ``node_names``);
    ``level``: ``"neuron"`` gives ``("a2_1", "tanh neuron", <the neuron's module name>)``,
    ``"layer"`` gives ``("layer 2", "16 tanh neurons", "layers.1")`` for ``neurons`` neurons
    (``[3]`` after the layer's number on example 3 of several). The module's dotted name is the
    tooltip only. A neuron without an activation is ``linear``."""
    made = structure.outputs[output]
    op = output.op
    act = op_label(op) if op is not None and op is not ADD else "linear"
    if level == "layer":
        tag = structure.tag(made)
        shown = f"layer {tag.split('_')[0]}{structure.example(made)}" if tag else ""
        noun = f"{neurons} {act} neuron" + ("s" if neurons != 1 else "")
        return shown or structure.layer_name(made), noun, structure.layer_name(made)
    return name, f"{act} neuron", structure.module_name(made)


def lecture_text(text: str) -> str:
    """``text`` with the lectures' names written as they are printed: ``a2_1`` as a²₁ (a^l_j),
    ``w2_1_3`` as w²₁₃ (w^l_jk; w²₁₆,₃ when an index has two digits), ``W2`` as W², ``δ^L`` as
    δᴸ, ``W^(l+1)`` as W⁽ˡ⁺¹⁾, ``b^l_j`` as bˡⱼ. Unicode super- and subscripts, so a page shows
    them as text (nothing is parsed as markup); other text is left as it is."""

    def indexed(found: re.Match[str]) -> str:
        indices = [i for i in found.groups()[2:] if i is not None]
        joint = "," if any(len(i) > 1 for i in indices) else ""
        lowered = joint.join(i.translate(_SUBSCRIPT) for i in indices)
        return found.group(1) + found.group(2).translate(_SUPERSCRIPT) + lowered

    text = _INDEXED.sub(indexed, text)
    text = _LAYER_VECTOR.sub(lambda m: m.group(1) + m.group(2).translate(_SUPERSCRIPT), text)
    text = _RAISED.sub(lambda m: m.group(1).translate(_SUPERSCRIPT), text)
    return _LOWERED.sub(lambda m: m.group(1).translate(_SUBSCRIPT), text)


def op_label(op: Op) -> str:
    """An op's text on a graph, in an equation or a step (``tanh``, ``**2``), as ``visible``
    writes it (an op's name and symbol are user text: an escape sequence or U+202E in one would
    otherwise reach the terminal raw), cut to ``LABEL_CHARS`` characters."""
    return visible(op.label, LABEL_CHARS)


def role(node: Value, root: Value, parameters: set[Value] | set[int]) -> str:
    """parameter, input, constant, intermediate or output (how the drawings colour a node)."""
    if node is root:
        return "output"
    if node.op is not None:
        return "intermediate"
    label = label_of(node)
    if node in parameters or id(node) in parameters:
        return "parameter"
    return "input" if label else "constant"


def heat(value: float, low: float, high: float) -> str:
    """A colour for |grad| on a log scale from ``low`` to ``high``."""
    if not value > 0 or not math.isfinite(value):
        return HEAT[0] if value == 0 else HEAT[-1]
    if high <= low:
        return HEAT[-1]
    t = (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
    return HEAT[min(len(HEAT) - 1, max(0, int(t * len(HEAT))))]


def refuse_renamed(function: str, given: dict[str, object], renamed: dict[str, str]) -> None:
    """Raise a one-line TypeError for a keyword of ``function`` that was renamed (old -> new in
    ``renamed``; kept for one release) or that it never had (as Python's own message says)."""
    for old in given:
        if old in renamed:
            raise TypeError(f"{function}() takes {renamed[old]}= now, not {old}=")
        raise TypeError(f"{function}() got an unexpected keyword argument {old!r}")
