"""A network as teachers draw it: neurons are circles in columns, every weight is an edge.

``draw_network(model)`` draws an ``MLP`` (or any ``Sequential`` of ``Linear``/``Layer`` modules, or
one such layer): edge width is proportional to |w|, colour is the sign of w (blue positive, red
negative) or, with ``color_by="grad"``, |dL/dw| on a heat scale after a ``backward()``. Tooltips
name each neuron and weight in the lectures' notation as the step-through does (``a2_1``,
``w2_1_3``: layer 2, neuron 1, input 3) beside its name in the model. Given an
input ``x``, each circle shows that neuron's output for it. Pure Python, no Graphviz needed: the
columns and rows are the layout.

``draw(obj)`` is the default drawing of anything: a network for a model, the compute graph for a
Value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from microgradx import checks
from microgradx.engine import Value, grad_number
from microgradx.files import write_atomically
from microgradx.modes import no_grad
from microgradx.nn import Linear, Module, Sequential
from microgradx.viz.graph import GraphView, draw_graph, heat
from microgradx.viz.markup import LABEL_CHARS, escape, label_of, picture_html, visible, zoom_factor

POSITIVE, NEGATIVE = "#1f77b4", "#d62728"
RADIUS = 15.0
COLUMN_GAP = 170.0
ROW_GAP = 46.0


class NetworkPicture:
    """An SVG picture: ``svg()``, ``save(path)`` (``.svg``), and its display in Jupyter, fitted
    to the output's width (``zoom=None``) or at ``zoom`` times its natural size (``zoomed``)."""

    def __init__(self, svg: str, neurons: int, edges: int, zoom: float | None = None) -> None:
        self._svg = checks.text(svg, "svg")
        self.neurons = checks.count(neurons, "neurons", minimum=0)  # a bool is not a count
        self.edges = checks.count(edges, "edges", minimum=0)
        self.zoom = zoom_factor(zoom)

    def zoomed(self, zoom: float | None) -> NetworkPicture:
        """The same picture shown at ``zoom`` times its natural size (``MIN_ZOOM`` to
        ``MAX_ZOOM``, 0.05 to 20, not a bool; None: fitted again)."""
        return NetworkPicture(self._svg, self.neurons, self.edges, zoom)

    def svg(self) -> str:
        return self._svg

    def save(self, path: str | Path) -> Path:
        """Write the picture to ``path``, which must end in ``.svg``, atomically."""
        path = checks.path(path, "path")
        if path.suffix.lower() != ".svg":
            raise ValueError(f"path must end in .svg (a network picture is SVG), got {path.name!r}")
        return write_atomically(path, self._svg.encode("utf-8"))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        # text/html first (front ends prefer it): fitted to the output's width
        html = picture_html(self._svg, self.zoom, "a network")
        return {"text/html": html, "image/svg+xml": self._svg}

    def _repr_svg_(self) -> str:
        return self._svg


def layers_of(model: Module) -> list[Linear]:
    """The fully connected layers of ``model``, in order (a ValueError if it is not a chain)."""
    if isinstance(model, Linear):
        layers = [model]
    elif isinstance(model, Sequential):
        layers = [m for m in model.layers if isinstance(m, Linear)]
    else:
        raise TypeError(
            "model must be an MLP, a Sequential of Linear/Layer modules or one layer, got"
            f" {checks.describe(model)}"
        )
    if not layers:
        raise ValueError("draw_network: the model has no Linear or Layer modules to draw")
    for before, after in itertools.pairwise(layers):
        if before.nout != after.nin:
            raise ValueError(
                f"draw_network: a layer with {before.nout} outputs feeds one with {after.nin}"
                " inputs; only a chain of fully connected layers can be drawn this way"
            )
    return layers


def draw_network(
    model: Module,
    x: Sequence[float] | None = None,
    *,
    color_by: str = "sign",
    input_names: Sequence[str] | None = None,
) -> NetworkPicture:
    """Neurons as circles, weights as edges (width |w|; colour by sign, or |grad| with
    ``color_by="grad"``). ``x``: an input to show every neuron's output for. ``input_names``:
    one str per input (default ``x0``, ``x1``, ...).

    Names and labels are drawn as ``markup.visible`` shows them (control characters written
    out, cut to ``LABEL_CHARS`` characters); the SVG is well-formed XML. Raises TypeError for an
    ``input_names`` entry (or a weight's label) that is not a str, or an ``x`` that is not a
    list of numbers, ValueError for a wrong count.
    """
    color_by = checks.choice(color_by, "color_by", ("sign", "grad"))
    layers = layers_of(model)
    nin = layers[0].nin
    inputs = None if x is None else _inputs(x, nin)
    if input_names is None:
        input_names = [f"x{i}" for i in range(nin)]
    input_names = checks.texts(input_names, "input_names")
    if len(input_names) != nin:
        raise ValueError(f"input_names: expected {nin} names, got {len(input_names)}")
    outputs = [] if inputs is None else _layer_outputs(layers, inputs)
    grid = _Grid([nin] + [layer.nout for layer in layers])
    weights = [w for layer in layers for n in layer.neurons for w in n.w]
    grads = [abs(grad_number(w)) for w in weights if grad_number(w) != 0]
    low, high = (min(grads), max(grads)) if grads else (1.0, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{grid.width:.0f}"'
        f' height="{grid.height:.0f}" viewBox="0 0 {grid.width:.0f} {grid.height:.0f}"'
        ' font-family="sans-serif" font-size="11">',
        f'<text x="8" y="16" fill="#444">{escape(_legend(color_by, low, high))}</text>',
        *_weight_lines(layers, grid, color_by, low, high),
        *_neuron_circles(layers, grid, input_names, outputs),
    ]
    captions = ["inputs"] + [
        f"{_layer_name(layer)} ({layer.neurons[0]._activation.name})" for layer in layers
    ]
    for c, caption in enumerate(captions):
        cx, _ = grid.centre(c, 0)
        parts.append(
            f'<text x="{cx:.1f}" y="{grid.height - 8:.0f}" text-anchor="middle" fill="#444">'
            f"{escape(caption, LABEL_CHARS)}</text>"
        )
    parts.append("</svg>")
    return NetworkPicture("\n".join(parts), sum(grid.sizes), len(weights))


def _layer_outputs(layers: list[Linear], inputs: list[float]) -> list[list[float]]:
    """The inputs, then every layer's outputs for them (no graph recorded)."""
    outputs = [list(inputs)]
    with no_grad():
        values: Any = inputs
        for layer in layers:
            values = layer(values)
            outputs.append([v.data for v in values])
    return outputs


class _Grid:
    """Where the circles go: one column per layer (inputs first), its neurons centred in it."""

    def __init__(self, sizes: list[int]) -> None:
        self.sizes = sizes
        self.height = max(sizes) * ROW_GAP + 70
        self.width = (len(sizes) - 1) * COLUMN_GAP + 120

    def centre(self, column: int, row: int) -> tuple[float, float]:
        top = (self.height - 30 - self.sizes[column] * ROW_GAP) / 2 + 30
        return 60 + column * COLUMN_GAP, top + (row + 0.5) * ROW_GAP


def _weight_lines(
    layers: list[Linear], grid: _Grid, color_by: str, low: float, high: float
) -> list[str]:
    """One line per weight: width |w|, colour its sign or |grad|, a tooltip naming it."""
    weights = [w for layer in layers for n in layer.neurons for w in n.w]
    biggest = max((abs(w.data) for w in weights if math.isfinite(w.data)), default=1.0) or 1.0
    parts = []
    for c, layer in enumerate(layers):
        for j, neuron in enumerate(layer.neurons):
            x2, y2 = grid.centre(c + 1, j)
            for i, w in enumerate(neuron.w):
                x1, y1 = grid.centre(c, i)
                size = 0.4 + 5.0 * min(1.0, abs(w.data) / biggest) if math.isfinite(w.data) else 6
                if color_by == "sign":
                    colour = POSITIVE if w.data >= 0 else NEGATIVE
                else:
                    colour = heat(abs(grad_number(w)), low, high)
                shown = visible(label_of(w), LABEL_CHARS) or "w"
                lecture = f"w{c + 1}_{j + 1}_{i + 1}"  # w^l_jk: layer l, neuron j, input k
                tip = f"{shown} = {w.data:.4g}, grad {grad_number(w):.4g} ({lecture})"
                parts.append(
                    f'<line x1="{x1 + RADIUS:.1f}" y1="{y1:.1f}" x2="{x2 - RADIUS:.1f}"'
                    f' y2="{y2:.1f}" stroke="{colour}" stroke-width="{size:.2f}"'
                    f' stroke-opacity="0.75"><title>{escape(tip)}</title></line>'
                )
    return parts


def _neuron_circles(
    layers: list[Linear], grid: _Grid, input_names: list[str], outputs: list[list[float]]
) -> list[str]:
    """One circle per input and neuron, with its output (given ``x``) or its activation."""
    parts = []
    for c, size in enumerate(grid.sizes):
        for j in range(size):
            cx, cy = grid.centre(c, j)
            if c == 0:
                name, fill, caption = input_names[j], "#d1f2d9", input_names[j]
            else:
                neuron = layers[c - 1].neurons[j]
                act = neuron._activation.name
                shown = visible(neuron._name or "neuron", LABEL_CHARS)
                name = f"{shown} = a{c}_{j + 1} ({act}), b{c}_{j + 1} = {neuron.b.data:.4g}"
                fill, caption = ("#ffe08a" if c == len(grid.sizes) - 1 else "#e8e0f8"), act[:4]
            inside = f"{outputs[c][j]:.2f}" if outputs else caption
            parts.append(
                f"<g><title>{escape(name)}</title>"
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{RADIUS:.0f}" fill="{fill}"'
                ' stroke="#555"/>'
                f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle" font-size="9">'
                f"{escape(inside, LABEL_CHARS)}</text></g>"
            )
    return parts


def _inputs(x: Any, nin: int) -> list[float]:
    """The input ``x`` as ``nin`` numbers (a Value gives its number)."""
    items = checks.sequence(x, "x")
    numbers = [
        v.data if isinstance(v, Value) else checks.number(v, f"x[{i}]") for i, v in enumerate(items)
    ]
    if len(numbers) != nin:
        raise ValueError(f"x must hold {nin} numbers (one per input), got {len(numbers)}")
    return numbers


def _layer_name(layer: Linear) -> str:
    """The layer's dotted name in its model (``layers.1``), as the model named it."""
    return layer._name or "layer"


def _legend(color_by: str, low: float, high: float) -> str:
    if color_by == "sign":
        return "edge width = |w|; blue: w > 0, red: w < 0"
    return f"edge width = |w|; colour = |dL/dw| from {low:.2g} (pale) to {high:.2g} (dark)"


def draw(obj: Value | Module, **options: Any) -> GraphView | NetworkPicture:
    """The default drawing: ``draw_network`` for a model, ``draw_graph`` for a Value."""
    if isinstance(obj, Module):
        return draw_network(obj, **options)
    if isinstance(obj, Value):
        return draw_graph(obj, **options)
    raise TypeError(f"obj must be a Value or a microgradx Module, got {checks.describe(obj)}")
