"""Draw compute graphs with Graphviz: readable, deterministic, and working on a fresh machine.

``draw_graph(root)`` walks the graph (no recursion), builds DOT text with the ``graphviz``
package, and renders it with the first renderer it finds:

1. the command named by the environment variable ``MICROGRADX_DOT``, if set;
2. ``dot`` on the PATH (Graphviz itself);
3. ``graphviz-pure`` (a self-contained renderer from PyPI that ``pip install 'microgradx[viz]'``
   brings along), on the PATH or next to the running Python.

Value nodes are tables (label, data, grad); op nodes are small circles with the op's symbol; every
use of a value is its own edge, so ``a + a`` shows two arrows. Networks built by ``microgradx.nn``
can be drawn one box per neuron or per layer (``level=``), using what the network recorded
while it computed (``nn.Structure``): which neuron made which node, in which layer call.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microgradx import checks
from microgradx.engine import Value, grad_number, topological_order
from microgradx.files import write_atomically
from microgradx.nn import Structure
from microgradx.viz.markup import dot_escape, label_of, picture_html
from microgradx.viz.style import (
    CURRENT,
    DIMMED_FILL,
    EDGE,
    GROUP_FILL,
    HEAT,
    OP_BORDER,
    OP_FILL,
    ROLE_COLORS,
    heat,
    node_names,
    op_label,
    refuse_renamed,
    role,
    short,
)

# Re-exported: the names and colours used to live here (viz.network imports heat from here).
__all__ = [
    "HEAT",
    "ROLE_COLORS",
    "GraphView",
    "RenderError",
    "RendererNotFound",
    "draw_graph",
    "find_renderer",
    "heat",
    "node_names",
    "render",
    "role",
]

INSTALL_HELP = """no Graphviz renderer found. Install one of:
  pip install 'microgradx[viz]'      (brings graphviz-pure, a self-contained renderer)
  Debian/Ubuntu: sudo apt-get install graphviz
  macOS:         brew install graphviz
  conda:         conda install -c conda-forge graphviz
or set MICROGRADX_DOT=/path/to/dot"""


class RendererNotFound(RuntimeError):
    """No Graphviz renderer could be found; the message says how to install one."""


class RenderError(RuntimeError, ValueError):
    """The renderer refused the DOT ``source`` or the format ``fmt`` (its message says which,
    with the renderer's own words). A ``RuntimeError`` as before, and a ``ValueError``: the
    arguments were wrong, as with any other argument the package refuses."""


MAX_ZOOM = 20.0
FONT = "Courier"  # written as font-family="Courier,monospace": see _Picture.view
_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*\Z")  # svg, png, plain-ext, xdot1.4, png:cairo


def find_renderer() -> str:
    """The path of the renderer ``draw_graph`` uses (see the module docstring for the order)."""
    override = os.environ.get("MICROGRADX_DOT")
    if override:
        path = shutil.which(override)
        if path is None:
            raise RendererNotFound(f"MICROGRADX_DOT={override!r} is not an executable program")
        return path
    found = shutil.which("dot") or shutil.which("graphviz-pure")
    if found:
        return found
    beside_python = Path(sys.executable).parent / "graphviz-pure"  # a venv not on the PATH
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    raise RendererNotFound(INSTALL_HELP)


def render(source: str, fmt: str = "svg", renderer: str | Path | None = None) -> bytes:
    """Run a renderer on DOT ``source``; ``fmt`` is any Graphviz output format (svg, png, ...).

    ``renderer``: the program to run (a path or a name on the PATH); ``None``: ``find_renderer()``.
    Raises ``RenderError`` (a RuntimeError and a ValueError) naming ``source`` or ``fmt`` when the
    renderer refuses them, ``RendererNotFound`` when it cannot be run.
    """
    source = checks.text(source, "source")
    fmt = checks.text(fmt, "fmt")
    if not _FORMAT.match(fmt):
        raise ValueError(f"fmt must be a Graphviz output format such as 'svg', got {fmt!r:.60}")
    if renderer is not None:
        checks.path(renderer, "renderer")
    # as given ("./dot" stays a path, not a name looked up on the PATH)
    program = find_renderer() if renderer is None else os.fspath(renderer)
    try:
        result = subprocess.run(
            [program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, timeout=60
        )
    except OSError as error:
        raise RendererNotFound(f"cannot run {program}: {error}\n{INSTALL_HELP}") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"{Path(program).name} took more than 60 s: draw fewer nodes (level='layer',"
            " or the loss of one example rather than a batch)"
        ) from None
    message = result.stderr.decode("utf-8", "replace").strip()
    name = Path(program).name
    if f'Format: "{fmt}" not recognized' in message:  # as dot and graphviz-pure both say
        raise RenderError(f"fmt={fmt!r} is not a format {name} writes: {message}")
    if result.returncode != 0:
        raise RenderError(f"{name} could not render source (not DOT it reads?): {message}")
    return result.stdout


@dataclass(frozen=True)
class GraphView:
    """A drawn graph: ``source`` is the DOT text; ``svg()``, ``save(path)``, Jupyter display.

    In a notebook it fits the output's width (``zoom=None``); ``view.zoomed(2.0)`` shows it at
    twice its natural size, scrolling sideways (``zoomed(1.0)``: Graphviz's own size)."""

    source: str
    nodes: int  # how many nodes the drawing has (values, ops and summary boxes)
    zoom: float | None = None  # None: fit the output's width; else times the natural size

    def zoomed(self, zoom: float | None) -> GraphView:
        """The same drawing shown at ``zoom`` times its natural size (a positive number; None:
        fitted to the width again)."""
        if zoom is not None:
            zoom = checks.in_range(zoom, "zoom", 0.0, MAX_ZOOM, low_open=True)
        return GraphView(self.source, self.nodes, zoom)

    def svg(self, renderer: str | Path | None = None) -> str:
        """The drawing as SVG text (``renderer``: as for ``render``)."""
        return render(self.source, "svg", renderer).decode("utf-8")

    def save(self, path: str | Path, renderer: str | Path | None = None) -> Path:
        """Write ``.svg``, ``.png`` or ``.dot`` (chosen by ``path``'s suffix), atomically."""
        path = checks.path(path, "path")
        suffix = path.suffix.lower()
        if suffix not in (".svg", ".png", ".dot"):
            raise ValueError(f"path must end in .svg, .png or .dot, got {path.name!r}")
        if renderer is not None:
            checks.path(renderer, "renderer")
        if suffix == ".dot":
            data = self.source.encode("utf-8")
        else:
            data = render(self.source, suffix[1:], renderer)
        return write_atomically(path, data)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        try:
            svg = self.svg()
            # text/html first (front ends prefer it): the picture fitted to the output's width
            html = picture_html(svg, self.zoom, "a compute graph")
            return {"text/html": html, "image/svg+xml": svg}
        except RendererNotFound as error:  # show the source and how to fix it, not a traceback
            return {"text/plain": f"{error}\n\n{self.source}"}


def _graphviz() -> Any:
    try:
        import graphviz  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise ImportError(
            "drawing graphs needs the viz extra: pip install 'microgradx[viz]'"
        ) from None
    return graphviz


def _table(cells: list[str], fill: str, bold: bool) -> str:
    border = f' COLOR="{CURRENT}"' if bold else ""
    row = "".join(f"<TD>{cell}</TD>" for cell in cells)
    return (
        f'<<TABLE BORDER="{3 if bold else 1}" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"'
        f' BGCOLOR="{fill}"{border}><TR>{row}</TR></TABLE>>'
    )


def _groups(structure: Structure, level: str) -> dict[Value, tuple[str, int]]:
    """Which collapsed box each node falls in: (name, instance) for every node of a neuron/layer.

    The nodes a neuron computed (and its parameters no other box uses) are the ones the network
    recorded (``nn.Structure``). With ``level="layer"`` the neurons of one call of a layer
    (one example) share a box.
    """
    member: dict[Value, tuple[str, int]] = {}
    instance_of: dict[int, int] = {}
    for node, made in structure.owner.items():
        if level == "layer":
            key, name = id(made.call), structure.layer_name(made)
        else:
            key, name = id(made), structure.module_name(made)
        member[node] = (name, instance_of.setdefault(key, len(instance_of)))
    return member


def _grads(grads: Any) -> dict[Value, float]:
    """``draw_graph``'s ``grads``: a mapping from Values to numbers."""
    checked: dict[Value, float] = {}
    for node, grad in checks.mapping(grads, "grads").items():
        checks.instance(node, "grads keys", Value, "Value")
        if type(grad) is not float:  # the message's name only when needed: most are floats
            grad = checks.real(grad, f"grads[{label_of(node) or 'a Value'!r:.40}]")
        checked[node] = grad
    return checked


LEVELS = ("op", "neuron", "layer")


@dataclass(frozen=True)
class _Options:
    """``draw_graph``'s arguments, checked (sets of ids: Values hash by identity anyway)."""

    rankdir: str
    show_data: bool
    show_grad: bool
    show_local_grads: bool
    marked: set[int]  # highlighted values
    lit: set[int]  # values whose op circle is lit (the current step's)
    color_by: str
    level: str
    params: set[int]
    max_nodes: int
    given: dict[Value, float] | None  # gradients to show instead of the nodes' own
    greyed: set[int]
    caption: str


def draw_graph(
    root: Value,
    *,
    rankdir: str = "LR",
    show_data: bool = True,
    show_grad: bool = True,
    show_local_grads: bool = False,
    highlight: Iterable[Value] = (),
    color_by: str = "role",
    level: str = "op",
    parameters: Iterable[Value] = (),
    max_nodes: int = 2000,
    grads: Mapping[Value, float] | None = None,
    dimmed: Iterable[Value] = (),
    current: Iterable[Value] | None = None,
    caption: str = "",
    zoom: float | None = None,
    **renamed: Any,
) -> GraphView:
    """Draw the graph that computed ``root``.

    ``highlight``: Values drawn with a thick red border (and the edges between them in red).
    ``color_by``: ``"role"`` (parameter, input, constant, intermediate, output) or ``"grad"``
    (|grad| on a log heat scale, with a legend). ``level``: ``"op"`` (every node), ``"neuron"``
    or ``"layer"`` to draw a network built by ``microgradx.nn`` one box per neuron or layer
    (the same word as ``trace_backward``'s; ``collapse=`` is refused with a message naming it).
    ``parameters``: Values to colour as parameters besides a network's (which it records).
    Above ``max_nodes`` drawn nodes, raises ``ValueError`` (suggesting ``level``).
    ``grads`` shows other gradients than the nodes' own (the step-through shows a pass halfway),
    and ``dimmed`` nodes are drawn greyed out (not reached yet). ``current``: the values whose op
    is the step being shown (their op circles and incoming edges in red); by default every
    highlighted value's. ``caption``: a line of text above the drawing (a step-through frame
    says ``step 2 of 3``). ``zoom``: in a notebook the drawing fits the output's width (None,
    the default) or is shown at ``zoom`` times its natural size, scrolling (``GraphView.zoomed``).
    Every argument is checked first (TypeError/ValueError naming it): the
    lists hold Values, ``grads`` maps Values to numbers, ``max_nodes`` is an int >= 1.
    """
    refuse_renamed("draw_graph", renamed, {"collapse": "level"})
    checks.instance(root, "root", Value, "Value")
    marked = {id(v) for v in checks.instances(highlight, "highlight", Value, "Value")}
    if zoom is not None:
        zoom = checks.in_range(zoom, "zoom", 0.0, MAX_ZOOM, low_open=True)
    options = _Options(
        rankdir=checks.choice(rankdir, "rankdir", ("LR", "TB", "RL", "BT")),
        show_data=checks.flag(show_data, "show_data"),
        show_grad=checks.flag(show_grad, "show_grad"),
        show_local_grads=checks.flag(show_local_grads, "show_local_grads"),
        color_by=checks.choice(color_by, "color_by", ("role", "grad")),
        level=checks.choice(level, "level", LEVELS),
        marked=marked,
        params={id(p) for p in checks.instances(parameters, "parameters", Value, "Value")},
        max_nodes=checks.count(max_nodes, "max_nodes"),
        given=None if grads is None else _grads(grads),
        greyed={id(v) for v in checks.instances(dimmed, "dimmed", Value, "Value")},
        caption=checks.text(caption, "caption"),
        # Whose op circle is lit: only the current step's, not the ops that made its inputs.
        lit=marked
        if current is None
        else {id(v) for v in checks.instances(current, "current", Value, "Value")},
    )
    view = _Picture(root, options).view()
    return GraphView(view.source, view.nodes, zoom)


class _Picture:
    """One drawing in the making: which box draws each node, its colours, then the DOT text."""

    def __init__(self, root: Value, options: _Options) -> None:
        self.graphviz = _graphviz()
        self.root = root
        self.options = options
        self.order = topological_order(root)
        self.structure = Structure(self.order)  # what a network recorded: neurons, layers, params
        # first: it refuses a label that is not a str
        self.names = node_names(self.order, root, self.structure)
        self.index = {node: i for i, node in enumerate(self.order)}
        self.groups = _groups(self.structure, options.level) if options.level != "op" else {}
        self.params = options.params | {id(p) for p in self.structure.parameters}
        # A box per group, then one per value (and an op circle per computed value).
        self.boxes: dict[tuple[str, int], list[Value]] = {}
        for node in self.order:
            if node in self.groups:
                self.boxes.setdefault(self.groups[node], []).append(node)
        self.box_index = {key: k for k, key in enumerate(sorted(self.boxes))}
        self.values = [n for n in self.order if n not in self.groups]
        self.count = sum(1 if n.op is None else 2 for n in self.values) + len(self.boxes)
        self.count += options.color_by == "grad"  # the legend
        if self.count > options.max_nodes:
            raise ValueError(
                f"the graph has {self.count} nodes to draw, more than"
                f" max_nodes={options.max_nodes}: draw a network with level='layer'"
                " (or 'neuron'), or raise max_nodes"
            )
        grads = (self.grad_of(n) for n in self.order)
        self.sizes = [abs(g) for g in grads if g != 0 and math.isfinite(g)]
        self.low, self.high = (min(self.sizes), max(self.sizes)) if self.sizes else (1.0, 1.0)

    def grad_of(self, node: Value) -> float:
        given = self.options.given
        return given[node] if given is not None and node in given else grad_number(node)

    def fill(self, node: Value) -> str:
        if id(node) in self.options.greyed:
            return DIMMED_FILL
        if self.options.color_by == "grad":
            return heat(abs(self.grad_of(node)), self.low, self.high)
        return ROLE_COLORS[role(node, self.root, self.params)]

    def node_id(self, node: Value) -> str:
        if node in self.groups:
            return f"g{self.box_index[self.groups[node]]}"
        return f"v{self.index[node]}"

    def view(self) -> GraphView:
        dot = self.graphviz.Digraph(name="microgradx")
        # Monospace text: a renderer sizes each box from its font metrics and the viewer draws
        # the text in its own fonts. Every monospace font is 0.6 em a character, so Graphviz,
        # graphviz-pure (Helvetica metrics narrower than a browser's sans-serif ran box texts
        # together) and any browser agree on the width; the step-through page's is monospace too.
        dot.attr(rankdir=self.options.rankdir, fontname=FONT)
        if self.options.caption:  # HTML-like: nothing in it is DOT syntax
            dot.attr(label=f"<{dot_escape(self.options.caption)}>", labelloc="t")
        dot.attr("node", fontname=FONT, fontsize="11")
        dot.attr("edge", color=EDGE, arrowsize="0.7", fontname=FONT)
        self.draw_values(dot)
        self.draw_groups(dot)
        self.draw_edges(dot)
        if self.options.color_by == "grad":
            self.draw_legend(dot)
        return GraphView(dot.source, self.count)

    def draw_values(self, dot: Any) -> None:
        options = self.options
        for node in self.values:
            # Every box shows a name (a generated one if unlabelled), the one equations use.
            cells = [dot_escape(self.names[node])]
            if options.show_data:
                cells.append(f"data {short(node.data)}")
            if options.show_grad:
                cells.append(f"grad {short(self.grad_of(node))}")
            bold = id(node) in options.marked
            dot.node(f"v{self.index[node]}", _table(cells, self.fill(node), bold), shape="plain")
            if node.op is None:
                continue
            lit = id(node) in options.lit
            op_id = f"o{self.index[node]}"
            dot.node(
                op_id,
                f"<{dot_escape(op_label(node.op))}>",  # HTML-like: nothing in it is DOT syntax
                shape="circle",
                width="0.3",
                fixedsize="false",
                margin="0.02",
                style="filled",
                fillcolor=OP_FILL,
                color=CURRENT if lit else OP_BORDER,
            )
            dot.edge(op_id, f"v{self.index[node]}", color=CURRENT if lit else EDGE)

    def draw_groups(self, dot: Any) -> None:
        options = self.options
        for k, key in enumerate(sorted(self.boxes)):
            members = self.boxes[key]
            ops = [n for n in members if n.op is not None]
            outputs = [n for n in ops if n in self.structure.outputs]
            cells = [dot_escape(key[0]), f"{len(ops)} ops, {len(members) - len(ops)} params"]
            if options.level == "layer":
                cells.append(f"{len(outputs)} neurons")
            else:  # one neuron: its output's name, value and gradient
                cells.insert(1, dot_escape(self.names[outputs[0]]))
                if options.show_data:
                    cells.append(f"out {short(outputs[0].data)}")
                if options.show_grad:
                    cells.append(f"grad {short(self.grad_of(outputs[0]))}")
            bold = any(id(m) in options.marked for m in members)
            dot.node(f"g{k}", _table(cells, GROUP_FILL, bold), shape="plain")

    def draw_edges(self, dot: Any) -> None:
        """Every use of a value is its own edge (a + a gives two); between boxes, one per pair."""
        options = self.options
        drawn: set[tuple[str, str]] = set()
        for node in self.order:
            if node.op is None:
                continue
            head = self.node_id(node)
            inside = node in self.groups
            local = node.local_grads() if options.show_local_grads else None
            for k, child in enumerate(node.children):
                tail = self.node_id(child)
                if inside and tail == head:
                    continue  # an edge within one collapsed box
                target = head if inside else f"o{self.index[node]}"
                if inside or child in self.groups:
                    if (tail, target) in drawn:
                        continue
                    drawn.add((tail, target))
                attrs: dict[str, str] = {}
                if local is not None and not inside:
                    attrs["label"] = short(float(local[k]))
                    attrs["fontsize"] = "9"
                if id(child) in options.marked and id(node) in options.lit:
                    attrs["color"] = CURRENT
                    attrs["penwidth"] = "2"
                dot.edge(tail, target, **attrs)

    def draw_legend(self, dot: Any) -> None:
        low, high = self.low, self.high
        steps = [low * (high / low) ** (i / (len(HEAT) - 1)) for i in range(len(HEAT))]
        steps = steps if self.sizes else [0.0]
        scale = "".join(f'<TD BGCOLOR="{heat(s, low, high)}">{short(s)}</TD>' for s in steps)
        dot.node(
            "legend",
            f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0"><TR><TD>|grad|</TD>{scale}'
            "</TR></TABLE>>",
            shape="plain",
        )
