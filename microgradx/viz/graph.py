"""Draw compute graphs: readable, deterministic, and working on any machine, in a browser too.

``draw_graph(root)`` walks the graph (no recursion) and describes the drawing once: which boxes,
their lines of text and colours, which arrows. Two renderers draw that description:

* Graphviz, when a program is installed (``viz.renderer.find_renderer``: ``MICROGRADX_DOT``,
  ``dot``, or ``graphviz-pure``, which ``pip install 'microgradx[viz]'`` brings): the drawing's
  DOT text (``GraphView.source``, written here; no Python package needed) is laid out by it;
* microgradx's own layout and SVG (the step-through page's: ``viz.layout.layered``), when no
  Graphviz program exists: after ``pip install microgradx`` with no extras, and in a browser's
  Python (Pyodide, JupyterLite), where no program can run. It shows the same boxes, numbers,
  colours, marks, collapsed neurons and layers, caption and legend, always left to right; one
  grey line under it says it was laid out without Graphviz (``GraphView.layout_used()``).

Value nodes are tables (label, data, grad); op nodes are small circles with the op's symbol; every
use of a value is its own edge, so ``a + a`` shows two arrows. Networks built by ``microgradx.nn``
can be drawn one box per neuron or per layer (``level=``), using what the network recorded
while it computed (``nn.Structure``): which neuron made which node, in which layer call; the
boxes and the parameters outside them are named in the lectures' notation (a²₁ for a^l_j,
w²₁₃ for w^l_jk, b²₁, ``layer 2``: ``viz.style.group_heading``, ``lecture_text``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from microgradx import checks
from microgradx.engine import Value, grad_number, topological_order
from microgradx.files import write_atomically
from microgradx.nn import Structure
from microgradx.viz.layout import LAYOUTS, PICTURE_CSS, layered
from microgradx.viz.markup import (
    MAX_ZOOM,
    MIN_ZOOM,
    dot_escape,
    label_of,
    picture_html,
    zoom_factor,
)
from microgradx.viz.renderer import (
    INSTALL_HELP,
    RendererNotFound,
    RenderError,
    find_renderer,
    render,
    renderer_name,
)
from microgradx.viz.scene import CHAR_WIDTH, LINE_HEIGHT, PAD, Box, Edge
from microgradx.viz.style import (
    CURRENT,
    DIMMED_FILL,
    EDGE,
    GROUP_FILL,
    HEAT,
    OP_BORDER,
    OP_FILL,
    ROLE_COLORS,
    group_heading,
    heat,
    lecture_text,
    node_names,
    op_label,
    parameter_names,
    refuse_renamed,
    role,
    short,
)

# Re-exported: the names and colours used to live here (viz.network imports heat from here), and
# the renderer's functions (viz.renderer).
__all__ = [
    "HEAT",
    "INSTALL_HELP",
    "LAYOUTS",
    "MAX_ZOOM",
    "MIN_ZOOM",
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

FONT = "Courier"  # written as font-family="Courier,monospace": see _Picture.dot
OWN_LAYOUT_NOTE = "laid out by microgradx: no Graphviz program found"


# ---- the drawing, described once ----------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """One node of a drawing: ``kind`` ``"value"`` (a table: name, data, grad), ``"op"`` (a
    circle with the op's symbol), ``"group"`` (a neuron or a layer) or ``"legend"`` (``cells``
    coloured ``fills``). ``cells`` are the texts as a user wrote them (each renderer escapes
    them where it writes them); ``bold``: drawn with a thick red border."""

    id: str
    kind: str
    cells: tuple[str, ...]
    fill: str
    bold: bool = False
    title: str = ""  # a tooltip (the own SVG's), the module's name of a collapsed box
    fills: tuple[str, ...] = ()


@dataclass(frozen=True)
class Arrow:
    """``tail`` feeds ``head``; ``red``: a current step's edge; ``label``: a local gradient;
    ``own``: an op circle's edge to its value (coloured explicitly in DOT)."""

    tail: str
    head: str
    red: bool = False
    label: str = ""
    own: bool = False


@dataclass(frozen=True)
class Drawing:
    """What ``draw_graph`` draws, for either renderer: ``dot()`` (Graphviz's input) and
    ``svg()`` (microgradx's own layout)."""

    shapes: tuple[Shape, ...]
    arrows: tuple[Arrow, ...]
    rankdir: str = "LR"
    caption: str = ""

    def dot(self) -> str:
        """The DOT text (the layout of the ``graphviz`` package's, which it used to write)."""
        lines = [
            "digraph microgradx {",
            f"\t{_attributes(fontname=FONT, rankdir=self.rankdir)}",
        ]
        if self.caption:  # HTML-like: nothing in it is DOT syntax
            lines.append(f"\tlabel=<{dot_escape(self.caption)}> labelloc=t")
        lines.append(f"\tnode [{_attributes(fontname=FONT, fontsize='11')}]")
        lines.append(f"\tedge [{_attributes(arrowsize='0.7', color=EDGE, fontname=FONT)}]")
        arrows: dict[str, list[Arrow]] = {}  # an op's own edge comes right after the op
        for arrow in self.arrows:
            if arrow.own:
                arrows.setdefault(arrow.tail, []).append(arrow)
        for shape in self.shapes:
            if shape.kind != "legend":
                lines.append(f"\t{shape.id} [{_dot_node(shape)}]")
            for arrow in arrows.get(shape.id, ()):
                lines.append(f"\t{_dot_edge(arrow)}")
        for arrow in self.arrows:
            if not arrow.own:
                lines.append(f"\t{_dot_edge(arrow)}")
        for shape in self.shapes:  # the legend last, after the edges
            if shape.kind == "legend":
                lines.append(f"\t{shape.id} [{_dot_node(shape)}]")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def svg(self, note: str = "") -> str:
        """The drawing laid out by microgradx (``viz.layout.layered``), as SVG text: the same
        boxes and lines as Graphviz's (a value's cells one under another), marks, caption above,
        legend and ``note`` below. Its ``width`` and ``viewBox`` let a page scale it to fit."""
        classes: dict[str, str] = {}
        legend = [s for s in self.shapes if s.kind == "legend"]
        for shape in self.shapes:
            if shape.bold:
                classes[shape.id] = "current"
        for k, arrow in enumerate(self.arrows):
            if arrow.red:
                classes[f"e{k}"] = "on"
        widest_label = max((len(a.label) for a in self.arrows), default=0)
        gap = 36.0 + widest_label * CHAR_WIDTH
        for _ in range(4):  # edge labels with no free spot: wider columns give them room
            boxes = [
                Box(s.id, list(s.cells), s.kind, s.title, fill=s.fill)
                for s in self.shapes
                if s.kind != "legend"
            ]
            edges = [
                Edge(a.tail, a.head, id=f"e{k}", label=a.label) for k, a in enumerate(self.arrows)
            ]
            layout = layered(boxes, edges, column_gap=gap)
            if not layout.crowded:
                break
            gap *= 1.5
        top = LINE_HEIGHT + PAD + 4 if self.caption else 0.0
        for box in layout.boxes:
            box.y += top
        for edge in layout.edges:
            edge.points = [(x, y + top) for x, y in edge.points]
        extra: list[Box] = []
        if self.caption:
            extra.append(Box("caption", [self.caption], "text", self.caption, fill="none"))
        below = layout.height + top + 4
        for shape in legend:  # one row of cells, the first (|grad|) white
            x = PAD
            for k, (text, fill) in enumerate(zip(shape.cells, ("#ffffff", *shape.fills))):
                cell = Box(f"{shape.id}{k}", [text], "value", "|grad| scale", fill=fill)
                cell.x, cell.y = x + cell.width / 2, below + cell.height / 2
                x += cell.width
                extra.append(cell)
            below += LINE_HEIGHT + PAD + 4
        if note:
            extra.append(Box("note", [note], "text", note, fill="none"))
            classes["note"] = "note"
        for box in extra:
            if box.id == "caption":
                box.x, box.y = PAD + box.width / 2, PAD + box.height / 2
            elif box.id == "note":
                box.x, box.y = PAD + box.width / 2, below + box.height / 2
                below += box.height
        layout.boxes.extend(extra)
        layout.width = max([layout.width, *(b.x + b.width / 2 + PAD for b in extra)])
        layout.height = below + PAD
        return layout.svg(classes=classes, style=PICTURE_CSS, marker_id="mgx-graph-arrow")


def _quote(value: str) -> str:
    """A DOT ID: as it is if it is one (a word or a number, not a keyword) or HTML-like,
    else quoted (``"`` and ``\\`` escaped)."""
    if value.startswith("<") and value.endswith(">"):
        return value
    keyword = value.lower() in ("node", "edge", "graph", "digraph", "subgraph", "strict")
    if _DOT_ID.match(value) and not keyword:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_DOT_ID = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*|-?(\.[0-9]+|[0-9]+(\.[0-9]*)?))\Z")


def _attributes(label: str | None = None, **attrs: str) -> str:
    """``label=... key=value ...``: the label first, then the rest sorted by name."""
    found = [f"label={_quote(label)}"] if label is not None else []
    found += [f"{key}={_quote(value)}" for key, value in sorted(attrs.items())]
    return " ".join(found)


def _dot_node(shape: Shape) -> str:
    if shape.kind == "op":
        return _attributes(
            f"<{dot_escape(shape.cells[0])}>",  # HTML-like: nothing in it is DOT syntax
            shape="circle",
            width="0.3",
            fixedsize="false",
            margin="0.02",
            style="filled",
            fillcolor=shape.fill,
            color=CURRENT if shape.bold else OP_BORDER,
        )
    if shape.kind == "legend":
        first, *rest = shape.cells
        scale = "".join(
            f'<TD BGCOLOR="{fill}">{dot_escape(text)}</TD>' for text, fill in zip(rest, shape.fills)
        )
        return _attributes(
            f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0"><TR><TD>{dot_escape(first)}'
            f"</TD>{scale}</TR></TABLE>>",
            shape="plain",
        )
    return _attributes(
        _table([dot_escape(c) for c in shape.cells], shape.fill, shape.bold), shape="plain"
    )


def _dot_edge(arrow: Arrow) -> str:
    attrs: dict[str, str] = {}
    if arrow.own:
        attrs["color"] = CURRENT if arrow.red else EDGE
    elif arrow.red:
        attrs["color"] = CURRENT
        attrs["penwidth"] = "2"
    if arrow.label:
        attrs["fontsize"] = "9"
    listed = _attributes(arrow.label or None, **attrs)
    return f"{arrow.tail} -> {arrow.head}" + (f" [{listed}]" if listed else "")


# ---- what draw_graph returns --------------------------------------------------------------------


@dataclass(frozen=True)
class GraphView:
    """A drawn graph: ``source`` is the DOT text; ``svg()``, ``save(path)``, Jupyter display.

    ``layout``: who lays it out. ``"auto"`` (the default): a Graphviz program if one is
    installed, else microgradx's own layout (``drawing``, when the view has one; a grey line
    under the picture says so); ``"dot"``: a Graphviz program, ``RendererNotFound`` (saying how
    to install one) if there is none; ``"python"``: microgradx's own layout. A Graphviz program
    named by ``MICROGRADX_DOT`` that cannot be found is an error, never silently replaced.

    In a notebook it fits the output's width (``zoom=None``); ``view.zoomed(2.0)`` shows it at
    twice its natural size, scrolling sideways (``zoomed(1.0)``: its natural size). ``zoom``
    is ``MIN_ZOOM`` to ``MAX_ZOOM`` (0.05 to 20), never a bool (TypeError/ValueError naming it,
    however the view is made)."""

    source: str
    nodes: int  # how many nodes the drawing has (values, ops and summary boxes)
    zoom: float | None = None  # None: fit the output's width; else times the natural size
    layout: str = "auto"
    drawing: Drawing | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # here, so every way of making a view checks them: draw_graph, zoomed, replace, GraphView
        object.__setattr__(self, "source", checks.text(self.source, "source"))
        object.__setattr__(self, "nodes", checks.count(self.nodes, "nodes", minimum=0))
        object.__setattr__(self, "zoom", zoom_factor(self.zoom))
        object.__setattr__(self, "layout", checks.choice(self.layout, "layout", LAYOUTS))

    def zoomed(self, zoom: float | None) -> GraphView:
        """The same drawing shown at ``zoom`` times its natural size (``MIN_ZOOM`` to
        ``MAX_ZOOM``; None: fitted to the width again)."""
        return replace(self, zoom=zoom_factor(zoom))

    def _program(self) -> str | None:
        """The Graphviz program to run, or None: microgradx's own layout."""
        if self.drawing is not None:
            if self.layout == "python":
                return None
            if self.layout == "auto" and not os.environ.get("MICROGRADX_DOT"):
                try:
                    return find_renderer()
                except RendererNotFound:
                    return None
        return find_renderer()

    def layout_used(self) -> str:
        """Who lays the drawing out: ``"dot"``, ``"graphviz-pure"`` or ``"python"``
        (microgradx's own layout). Raises ``RendererNotFound`` as ``svg()`` does."""
        program = self._program()
        return "python" if program is None else renderer_name(program)

    def svg(self, renderer: str | Path | None = None) -> str:
        """The drawing as SVG text (``renderer``: a Graphviz program to run, as for
        ``render``; None: as ``layout`` says)."""
        if renderer is not None:
            checks.path(renderer, "renderer")
            return render(self.source, "svg", renderer).decode("utf-8")
        program = self._program()
        if program is None:
            assert self.drawing is not None  # _program returns None only with a drawing
            return self.drawing.svg(OWN_LAYOUT_NOTE if self.layout == "auto" else "")
        return render(self.source, "svg", program).decode("utf-8")

    def save(self, path: str | Path, renderer: str | Path | None = None) -> Path:
        """Write ``.svg``, ``.png`` or ``.dot`` (chosen by ``path``'s suffix), atomically. A PNG
        needs a Graphviz program (``RendererNotFound`` without one: save an SVG)."""
        path = checks.path(path, "path")
        suffix = path.suffix.lower()
        if suffix not in (".svg", ".png", ".dot"):
            raise ValueError(f"path must end in .svg, .png or .dot, got {path.name!r}")
        if renderer is not None:
            checks.path(renderer, "renderer")
        if suffix == ".dot":
            data = self.source.encode("utf-8")
        elif suffix == ".svg":
            data = self.svg(renderer).encode("utf-8")
        else:
            if renderer is None and self._program() is None:
                raise RendererNotFound(
                    f"a PNG needs a Graphviz program (save {path.stem}.svg instead)\n{INSTALL_HELP}"
                )
            data = render(self.source, "png", renderer)
        return write_atomically(path, data)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        try:
            svg = self.svg()
            # text/html first (front ends prefer it): the picture fitted to the output's width
            html = picture_html(svg, self.zoom, "a compute graph")
            return {"text/html": html, "image/svg+xml": svg}
        except RendererNotFound as error:  # show the source and how to fix it, not a traceback
            return {"text/plain": f"{error}\n\n{self.source}"}


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
            grad = checks.number(grad, f"grads[{label_of(node) or 'a Value'!r:.40}]")
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
    layout: str = "auto",
    **renamed: Any,
) -> GraphView:
    """Draw the graph that computed ``root``.

    ``highlight``: Values drawn with a thick red border (and the edges between them in red).
    ``color_by``: ``"role"`` (parameter, input, constant, intermediate, output) or ``"grad"``
    (|grad| on a log heat scale, with a legend). ``level``: ``"op"`` (every node), ``"neuron"``
    or ``"layer"`` to draw a network built by ``microgradx.nn`` one box per neuron or layer
    (the same word as ``trace_backward``'s; ``collapse=`` is refused with a message naming it),
    named as the lectures name them (a²₁ and ``tanh neuron``; ``layer 2`` and ``16 tanh
    neurons``; a parameter outside the boxes w²₁₃ or b²₁; the module's name is the tooltip).
    ``parameters``: Values to colour as parameters besides a network's (which it records).
    Above ``max_nodes`` drawn nodes, raises ``ValueError`` (suggesting ``level``).
    ``grads`` shows other gradients than the nodes' own (the step-through shows a pass halfway),
    and ``dimmed`` nodes are drawn greyed out (not reached yet). ``current``: the values whose op
    is the step being shown (their op circles and incoming edges in red); by default every
    highlighted value's. ``caption``: a line of text above the drawing (a step-through frame
    says ``step 2 of 3``). ``zoom``: in a notebook the drawing fits the output's width (None,
    the default) or is shown at ``zoom`` times its natural size (``MIN_ZOOM`` to ``MAX_ZOOM``,
    0.05 to 20; not a bool), scrolling (``GraphView.zoomed``).
    ``layout``: ``"auto"`` (Graphviz if a program is installed, else microgradx's own layout),
    ``"dot"`` (Graphviz, an error naming how to install it if none is) or ``"python"`` (the own
    layout, which ignores ``rankdir``: always left to right); see ``GraphView``.
    Every argument is checked first (TypeError/ValueError naming it): the
    lists hold Values, ``grads`` maps Values to numbers, ``max_nodes`` is an int >= 1.
    """
    refuse_renamed("draw_graph", renamed, {"collapse": "level"})
    checks.instance(root, "root", Value, "Value")
    marked = {id(v) for v in checks.instances(highlight, "highlight", Value, "Value")}
    zoom = zoom_factor(zoom)
    layout = checks.choice(layout, "layout", LAYOUTS)
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
    picture = _Picture(root, options)
    drawing = picture.drawing()
    return GraphView(drawing.dot(), picture.count, zoom, layout, drawing)


class _Picture:
    """One drawing in the making: which box draws each node, its colours and texts."""

    def __init__(self, root: Value, options: _Options) -> None:
        self.root = root
        self.options = options
        self.order = topological_order(root)
        self.structure = Structure(self.order)  # what a network recorded: neurons, layers, params
        # first: it refuses a label that is not a str
        self.names = node_names(self.order, root, self.structure)
        self.titles: dict[Value, str] = {}  # a box's tooltip, where its name is not its label
        if options.level != "op":
            # a parameter outside the boxes (read by every example of a mini-batch) is named as
            # the lectures name it, w2_1_3, as the step-through names it; its label the tooltip
            for node, name in parameter_names(self.structure).items():
                if node in self.names:
                    self.titles[node] = self.names[node]
                    self.names[node] = name
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

    def drawing(self) -> Drawing:
        # Monospace text: a renderer sizes each box from its font metrics and the viewer draws
        # the text in its own fonts. Every monospace font is 0.6 em a character, so Graphviz,
        # graphviz-pure (Helvetica metrics narrower than a browser's sans-serif ran box texts
        # together), microgradx's own layout and any browser agree on the width.
        shapes: list[Shape] = []
        arrows: list[Arrow] = []
        self.draw_values(shapes, arrows)
        self.draw_groups(shapes)
        self.draw_edges(arrows)
        if self.options.color_by == "grad":
            shapes.append(self.legend())
        return Drawing(tuple(shapes), tuple(arrows), self.options.rankdir, self.options.caption)

    def draw_values(self, shapes: list[Shape], arrows: list[Arrow]) -> None:
        options = self.options
        for node in self.values:
            # Every box shows a name (a generated one if unlabelled), the one equations use,
            # with the lectures' indices raised and lowered (a2_1 as a²₁).
            cells = [lecture_text(self.names[node])]
            if options.show_data:
                cells.append(f"data {short(node.data)}")
            if options.show_grad:
                cells.append(f"grad {short(self.grad_of(node))}")
            bold = id(node) in options.marked
            value_id = f"v{self.index[node]}"
            title = self.titles.get(node, "")
            shapes.append(Shape(value_id, "value", tuple(cells), self.fill(node), bold, title))
            if node.op is None:
                continue
            lit = id(node) in options.lit
            op_id = f"o{self.index[node]}"
            shapes.append(Shape(op_id, "op", (op_label(node.op),), OP_FILL, lit))
            arrows.append(Arrow(op_id, value_id, red=lit, own=True))

    def draw_groups(self, shapes: list[Shape]) -> None:
        options = self.options
        for k, key in enumerate(sorted(self.boxes)):
            members = self.boxes[key]
            ops = [n for n in members if n.op is not None]
            outputs = [n for n in ops if n in self.structure.outputs]
            first = outputs[0]
            name, kind, module = group_heading(
                self.structure, first, self.names[first], options.level, len(outputs)
            )
            cells = [lecture_text(name), kind, f"{len(ops)} ops, {len(members) - len(ops)} params"]
            if options.level == "neuron":  # one neuron: its output's value and gradient
                if options.show_data:
                    cells.append(f"out {short(first.data)}")
                if options.show_grad:
                    cells.append(f"grad {short(self.grad_of(first))}")
            bold = any(id(m) in options.marked for m in members)
            shapes.append(Shape(f"g{k}", "group", tuple(cells), GROUP_FILL, bold, module))

    def draw_edges(self, arrows: list[Arrow]) -> None:
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
                label = short(float(local[k])) if local is not None and not inside else ""
                red = id(child) in options.marked and id(node) in options.lit
                arrows.append(Arrow(tail, target, red, label))

    def legend(self) -> Shape:
        low, high = self.low, self.high
        steps = [low * (high / low) ** (i / (len(HEAT) - 1)) for i in range(len(HEAT))]
        steps = steps if self.sizes else [0.0]
        cells = ("|grad|", *(short(s) for s in steps))
        return Shape("legend", "legend", cells, "", fills=tuple(heat(s, low, high) for s in steps))
