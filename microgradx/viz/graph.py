"""Draw compute graphs with Graphviz: readable, deterministic, and working on a fresh machine.

``draw_graph(root)`` walks the graph (no recursion), builds DOT text with the ``graphviz``
package, and renders it with the first renderer it finds:

1. the command named by the environment variable ``MICROGRADX_DOT``, if set;
2. ``dot`` on the PATH (Graphviz itself);
3. ``graphviz-pure`` (a self-contained renderer from PyPI that ``pip install 'microgradx[viz]'``
   brings along), on the PATH or next to the running Python.

Value nodes are tables (label, data, grad); op nodes are small circles with the op's symbol; every
use of a value is its own edge, so ``a + a`` shows two arrows. Networks built by ``microgradx.nn``
can be drawn one box per neuron or per layer (``collapse=``), using what the network recorded
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
from microgradx.engine import Value, topological_order
from microgradx.files import write_atomically
from microgradx.nn import Structure
from microgradx.viz.markup import LABEL_CHARS, dot_escape, label_of, visible

INSTALL_HELP = """no Graphviz renderer found. Install one of:
  pip install 'microgradx[viz]'      (brings graphviz-pure, a self-contained renderer)
  Debian/Ubuntu: sudo apt-get install graphviz
  macOS:         brew install graphviz
  conda:         conda install -c conda-forge graphviz
or set MICROGRADX_DOT=/path/to/dot"""

ROLE_COLORS = {
    "parameter": "#cfe2ff",
    "input": "#d1f2d9",
    "constant": "#f1f1f1",
    "intermediate": "#ffffff",
    "output": "#ffe08a",
}
HEAT = ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"]  # |grad|: small to large


class RendererNotFound(RuntimeError):
    """No Graphviz renderer could be found; the message says how to install one."""


class RenderError(RuntimeError, ValueError):
    """The renderer refused the DOT ``source`` or the format ``fmt`` (its message says which,
    with the renderer's own words). A ``RuntimeError`` as before, and a ``ValueError``: the
    arguments were wrong, as with any other argument the package refuses."""


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
            f"{Path(program).name} took more than 60 s: draw fewer nodes (collapse='layer',"
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
    """A drawn graph: ``source`` is the DOT text; ``svg()``, ``save(path)``, Jupyter display."""

    source: str
    nodes: int  # how many nodes the drawing has (values, ops and summary boxes)

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
            return {"image/svg+xml": self.svg()}
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


def _fmt(x: float) -> str:
    return f"{x:.4g}"


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
    structured = (structure or Structure(order)).names()
    return {
        node: visible(label_of(node), LABEL_CHARS)
        or structured.get(node)
        or ("L" if node is root else f"v{k}")
        for k, node in enumerate(order)
    }


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


def _table(cells: list[str], fill: str, bold: bool) -> str:
    border = ' COLOR="#d62728"' if bold else ""
    row = "".join(f"<TD>{cell}</TD>" for cell in cells)
    return (
        f'<<TABLE BORDER="{3 if bold else 1}" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4"'
        f' BGCOLOR="{fill}"{border}><TR>{row}</TR></TABLE>>'
    )


def _groups(structure: Structure, collapse: str) -> dict[Value, tuple[str, int]]:
    """Which collapsed box each node falls in: (name, instance) for every node of a neuron/layer.

    The nodes a neuron computed (and its parameters no other box uses) are the ones the network
    recorded (``nn.Structure``). With ``collapse="layer"`` the neurons of one call of a layer
    (one example) share a box.
    """
    member: dict[Value, tuple[str, int]] = {}
    instance_of: dict[int, int] = {}
    for node, made in structure.owner.items():
        if collapse == "layer":
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


def draw_graph(
    root: Value,
    *,
    rankdir: str = "LR",
    show_data: bool = True,
    show_grad: bool = True,
    show_local_grads: bool = False,
    highlight: Iterable[Value] = (),
    color_by: str = "role",
    collapse: str | None = None,
    parameters: Iterable[Value] = (),
    max_nodes: int = 2000,
    grads: Mapping[Value, float] | None = None,
    dimmed: Iterable[Value] = (),
    current: Iterable[Value] | None = None,
) -> GraphView:
    """Draw the graph that computed ``root``.

    ``highlight``: Values drawn with a thick red border (and the edges between them in red).
    ``color_by``: ``"role"`` (parameter, input, constant, intermediate, output) or ``"grad"``
    (|grad| on a log heat scale, with a legend). ``collapse``: ``None``, ``"neuron"`` or
    ``"layer"`` to draw a network built by ``microgradx.nn`` one box per neuron or layer.
    ``parameters``: Values to colour as parameters besides a network's (which it records).
    Above ``max_nodes`` drawn nodes, raises ``ValueError`` (suggesting ``collapse``).
    ``grads`` shows other gradients than the nodes' own (the step-through shows a pass halfway),
    and ``dimmed`` nodes are drawn greyed out (not reached yet). ``current``: the values whose op
    is the step being shown (their op circles and incoming edges in red); by default every
    highlighted value's. Every argument is checked first (TypeError/ValueError naming it): the
    lists hold Values, ``grads`` maps Values to numbers, ``max_nodes`` is an int >= 1.
    """
    checks.instance(root, "root", Value, "Value")
    rankdir = checks.choice(rankdir, "rankdir", ("LR", "TB", "RL", "BT"))
    show_data = checks.flag(show_data, "show_data")
    show_grad = checks.flag(show_grad, "show_grad")
    show_local_grads = checks.flag(show_local_grads, "show_local_grads")
    color_by = checks.choice(color_by, "color_by", ("role", "grad"))
    collapse = checks.choice(collapse, "collapse", (None, "neuron", "layer"))
    marked = {id(v) for v in checks.instances(highlight, "highlight", Value, "Value")}
    params = {id(p) for p in checks.instances(parameters, "parameters", Value, "Value")}
    max_nodes = checks.count(max_nodes, "max_nodes")
    given = None if grads is None else _grads(grads)
    greyed = {id(v) for v in checks.instances(dimmed, "dimmed", Value, "Value")}
    # Whose op circle is lit: only the current step's, not the ops that made its inputs.
    lit = marked
    if current is not None:
        lit = {id(v) for v in checks.instances(current, "current", Value, "Value")}
    graphviz = _graphviz()
    order = topological_order(root)
    structure = Structure(order)  # what a network recorded: its neurons, layers, parameters
    names = node_names(order, root, structure)  # first: it refuses a label that is not a str
    index = {node: i for i, node in enumerate(order)}
    groups = _groups(structure, collapse) if collapse else {}
    params |= {id(p) for p in structure.parameters}

    def grad_of(node: Value) -> float:
        if given is not None and node in given:
            return given[node]
        return float(node.grad)

    # Collapsed: a box per group; its output is the group's node with a consumer outside it.
    boxes: dict[tuple[str, int], list[Value]] = {}
    for node in order:
        if node in groups:
            boxes.setdefault(groups[node], []).append(node)
    visible = [n for n in order if n not in groups]
    count = sum(1 if n.op is None else 2 for n in visible) + len(boxes) + (color_by == "grad")
    if count > max_nodes:
        raise ValueError(
            f"the graph has {count} nodes to draw, more than max_nodes={max_nodes}: "
            "draw a network with collapse='layer' (or 'neuron'), or raise max_nodes"
        )

    sizes = [abs(g) for g in (grad_of(n) for n in order) if g != 0 and math.isfinite(g)]
    low, high = (min(sizes), max(sizes)) if sizes else (1.0, 1.0)

    dot = graphviz.Digraph(name="microgradx")
    dot.attr(rankdir=rankdir, fontname="Helvetica")
    dot.attr("node", fontname="Helvetica", fontsize="11")
    dot.attr("edge", color="#555555", arrowsize="0.7")

    def fill(node: Value) -> str:
        if id(node) in greyed:
            return "#e6e6e6"
        if color_by == "grad":
            return heat(abs(grad_of(node)), low, high)
        return ROLE_COLORS[role(node, root, params)]

    def node_id(node: Value) -> str:
        if node in groups:
            name, instance = groups[node]
            return f"g{box_index[(name, instance)]}"
        return f"v{index[node]}"

    box_index = {key: k for k, key in enumerate(sorted(boxes))}
    for node in visible:
        # Every box shows a name (a generated one if unlabelled), the one equations use.
        cells = [dot_escape(names[node])]
        if show_data:
            cells.append(f"data {_fmt(node.data)}")
        if show_grad:
            cells.append(f"grad {_fmt(grad_of(node))}")
        bold = id(node) in marked
        dot.node(f"v{index[node]}", _table(cells, fill(node), bold), shape="plain")
        if node.op is not None:
            bold = id(node) in lit
            op_id = f"o{index[node]}"
            dot.node(
                op_id,
                f"<{dot_escape(node.op.label)}>",  # an HTML-like label: nothing in it is DOT syntax
                shape="circle",
                width="0.3",
                fixedsize="false",
                margin="0.02",
                style="filled",
                fillcolor="#eeeeee",
                color="#d62728" if bold else "#888888",
            )
            dot.edge(op_id, f"v{index[node]}", color="#d62728" if bold else "#555555")

    for k, key in enumerate(sorted(boxes)):
        members = boxes[key]
        ops = [n for n in members if n.op is not None]
        outputs = [n for n in ops if n in structure.outputs]
        cells = [
            dot_escape(key[0]),
            f"{len(ops)} ops, {len(members) - len(ops)} params",
        ]
        if collapse == "layer":
            cells.append(f"{len(outputs)} neurons")
        else:  # one neuron: its output's name, value and gradient
            cells.insert(1, dot_escape(names[outputs[0]]))
            if show_data:
                cells.append(f"out {_fmt(outputs[0].data)}")
            if show_grad:
                cells.append(f"grad {_fmt(grad_of(outputs[0]))}")
        bold = any(id(m) in marked for m in members)
        dot.node(f"g{k}", _table(cells, "#e8e0f8", bold), shape="plain")

    # Edges: every use of a value is its own edge (a + a gives two).
    drawn: set[tuple[str, str]] = set()
    for node in order:
        if node.op is None:
            continue
        head = node_id(node)
        inside = node in groups
        local = node.local_grads() if show_local_grads else None
        for k, child in enumerate(node.children):
            tail = node_id(child)
            if inside and tail == head:
                continue  # an edge within one collapsed box
            target = head if inside else f"o{index[node]}"
            if inside or child in groups:
                if (tail, target) in drawn:
                    continue  # between boxes, one arrow per pair is enough
                drawn.add((tail, target))
            attrs: dict[str, str] = {}
            if local is not None and not inside:
                attrs["label"] = _fmt(float(local[k]))
                attrs["fontsize"] = "9"
            if id(child) in marked and id(node) in lit:
                attrs["color"] = "#d62728"
                attrs["penwidth"] = "2"
            dot.edge(tail, target, **attrs)

    if color_by == "grad":
        steps = [low * (high / low) ** (i / (len(HEAT) - 1)) for i in range(len(HEAT))]
        steps = steps if sizes else [0.0]
        scale = "".join(f'<TD BGCOLOR="{heat(s, low, high)}">{_fmt(s)}</TD>' for s in steps)
        dot.node(
            "legend",
            f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0"><TR><TD>|grad|</TD>{scale}'
            "</TR></TABLE>>",
            shape="plain",
        )
    return GraphView(dot.source, count)
