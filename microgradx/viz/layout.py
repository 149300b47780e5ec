"""Lay a graph out once and write it as one compact SVG that a page's script can change.

The step-through page needs a picture whose boxes never move: every step only changes classes and
texts. So the layout is computed once, here, from the boxes' sizes (text in a monospace font, so
Python knows how wide each box is) and the edges between them:

* with Graphviz (``dot``, or ``graphviz-pure``) when one is installed: ``dot -Tplain`` gives each
  box's centre and each edge's spline, and this module draws them itself;
* otherwise with a small layered layout in pure Python (``layered``: columns by longest path from
  the inputs, rows ordered by the mean row of each box's inputs, straight edges), which also runs
  in a browser's Python (Pyodide), where no ``dot`` binary exists. ``draw_graph`` draws with it
  too when no Graphviz program is installed.

Writing the SVG here, instead of keeping Graphviz's, makes the page about three times smaller (a
box is a ``<rect>`` and its lines of text, an edge one ``<path>`` with a shared arrow marker), and
gives every box a ``data-id`` the script can find it by.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from microgradx import checks
from microgradx.viz.markup import escape, measure
from microgradx.viz.renderer import RendererNotFound, find_renderer, render, renderer_name
from microgradx.viz.scene import LINE_HEIGHT, PAD, Box, Edge
from microgradx.viz.style import BORDER, CHILD, CURRENT, EDGE, refuse_renamed

__all__ = [
    "LAYOUTS",
    "MAX_COLUMN_GAP",
    "PICTURE_CSS",
    "Box",
    "Edge",
    "Layout",
    "RendererNotFound",
    "find_renderer",
    "layered",
    "place",
]

# The look of a box in each state (colours from viz.style), inside every stand-alone picture (the
# step-through's frames, draw_graph's own drawings); the page repeats them scoped to itself.
# Text is monospace, as scene.CHAR_WIDTH sizes the boxes for.
PICTURE_CSS = f"""
text {{ font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; fill: #222; }}
g.node rect, g.node circle {{ stroke: {BORDER}; stroke-width: 1; }}
g.node.op text {{ font-size: 10px; }}
g.node.pending {{ opacity: 0.3; }}
g.node.current rect, g.node.current circle {{ stroke: {CURRENT}; stroke-width: 3; }}
g.node.child rect, g.node.child circle {{ stroke: {CHILD}; stroke-width: 3; }}
path.on {{ stroke: {CURRENT}; stroke-width: 2; }}
g.node.text rect {{ stroke: none; }}
g.node.note text {{ fill: #777; }}
text.edge-label {{ font-size: 9px; }}
"""
EDGE_LABEL_FONT = 9.0  # px, as PICTURE_CSS writes it
# px between columns, at most: room for the longest edge label (a number, about 11 characters)
# three times over; more only spreads a picture astronomically wide
MAX_COLUMN_GAP = 1000.0


@dataclass
class Layout:
    """Boxes with positions and edges with their paths, in px; ``svg()`` draws them."""

    boxes: list[Box]
    edges: list[Edge]
    width: float
    height: float
    used: str  # "dot", "graphviz-pure" or "python": which layout placed the boxes
    crowded: int = 0  # edge labels the python layout found no free spot for

    def svg(
        self,
        *,
        classes: Mapping[str, str] | None = None,
        texts: Mapping[str, str] | None = None,
        marker_id: str = "mgx-arrow",
        style: str = "",
        names: Callable[[str], str] | None = None,
    ) -> str:
        """The picture, well-formed XML. ``classes``: a mark per box or edge id (a step's state,
        drawn in: ``Scene.state``); ``texts``: grad lines per box id; ``style``: CSS to put
        inside (a stand-alone picture's); ``names``: how a box's first line (its name) is
        written (the page: ``style.lecture_text``, a²₁ for a2_1)."""
        classes = classes or {}
        texts = texts or {}
        marker = escape(marker_id)
        out = [
            f'<svg class="mgx-graph" xmlns="http://www.w3.org/2000/svg"'
            f' width="{self.width:.0f}" height="{self.height:.0f}"'
            f' viewBox="0 0 {self.width:.0f} {self.height:.0f}">',
            f"<defs>{f'<style>{escape(style, newlines=True)}</style>' if style else ''}"
            f'<marker id="{marker}" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7"'
            ' markerHeight="7" orient="auto"><path d="M0,0L8,4L0,8z"'
            f' fill="{EDGE}"/></marker></defs>',
            f'<g class="mgx-edges" fill="none" stroke="{EDGE}" marker-end="url(#{marker})">',
        ]
        for edge in self.edges:
            mark = classes.get(edge.id, "")
            drawn = f' class="{escape(mark)}"' if mark else ""
            out.append(f'<path data-id="{escape(edge.id)}"{drawn} d="{_path(edge.points)}"/>')
        out.append("</g>")
        for edge in self.edges:
            if edge.label and edge.points:
                x, y = edge.label_at or _label_point(edge.points)
                out.append(
                    f'<text class="edge-label" x="{x:.0f}" y="{y:.0f}" text-anchor="middle">'
                    f"{escape(edge.label)}</text>"
                )
        for box in self.boxes:
            out.append(_draw_box(box, classes.get(box.id, ""), texts.get(box.id), names))
        out.append("</svg>")
        return "\n".join(out)


def _label_point(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Where an edge's label goes: above the middle of a straight edge, at its midpoint's
    height (the label's baseline 3 px above it)."""
    (x0, y0), (x1, y1) = points[0], points[-1]
    return (x0 + x1) / 2, (y0 + y1) / 2 - 3


def _path(points: list[tuple[float, float]]) -> str:
    if len(points) >= 4 and (len(points) - 1) % 3 == 0:  # Graphviz's cubic B-spline pieces
        head = f"M{points[0][0]:.0f},{points[0][1]:.0f}C"
        return head + " ".join(f"{x:.0f},{y:.0f}" for x, y in points[1:])
    return "M" + "L".join(f"{x:.0f},{y:.0f}" for x, y in points)


def _draw_box(
    box: Box, extra: str, grad_text: str | None, names: Callable[[str], str] | None = None
) -> str:
    title = escape(box.title or box.id)
    classes = " ".join(["node", box.kind, extra]).strip()
    attrs = f'class="{escape(classes)}" data-id="{escape(box.id)}"'
    if box.owner:
        attrs += f' data-owner="{escape(box.owner)}"'
    if box.kind in ("op", "neuron"):
        r = box.width / 2
        label = escape(box.lines[0]) if box.lines else ""
        return (
            f"<g {attrs}><title>{title}</title>"
            f'<circle cx="{box.x:.0f}" cy="{box.y:.0f}" r="{r:.0f}" fill="{escape(box.fill)}"/>'
            f'<text x="{box.x:.0f}" y="{box.y + 4:.0f}" text-anchor="middle">{label}</text></g>'
        )
    left, top = box.x - box.width / 2, box.y - box.height / 2
    parts = [
        f"<g {attrs}><title>{title}</title>"
        f'<rect x="{left:.0f}" y="{top:.0f}" width="{box.width:.0f}" height="{box.height:.0f}"'
        f' rx="3" fill="{escape(box.fill)}"/>'
    ]
    for k, line in enumerate(box.lines):
        text = grad_text if (k == box.grad_line and grad_text is not None) else line
        if k == 0 and names is not None:
            text = names(text)
        cls = ' class="grad"' if k == box.grad_line else (' class="name"' if k == 0 else "")
        y = top + PAD / 2 + LINE_HEIGHT * (k + 1) - 3
        parts.append(f'<text{cls} x="{left + PAD:.0f}" y="{y:.0f}">{escape(text)}</text>')
    parts.append("</g>")
    return "".join(parts)


# ---- computing positions ------------------------------------------------------------------------


LAYOUTS = ("auto", "dot", "python")


def place(
    boxes: Sequence[Box], edges: Sequence[Edge], *, layout: str = "auto", **renamed: Any
) -> Layout:
    """Place copies of ``boxes`` left to right along copies of ``edges`` (tail before head).

    ``layout``: ``"auto"`` (Graphviz if a renderer is installed, else pure Python), ``"dot"``
    (Graphviz, an error if none is installed) or ``"python"``. (``engine=`` is refused with a
    message naming ``layout=``: "engine" is the autodiff engine's word.)
    """
    refuse_renamed("place", renamed, {"engine": "layout"})
    layout = checks.choice(layout, "layout", LAYOUTS)
    boxes = [copy.copy(box) for box in boxes]  # the scene's boxes stay as they are
    edges = [copy.copy(edge) for edge in edges]
    if layout != "python":
        try:
            program = find_renderer()
        except RendererNotFound:
            if layout == "dot":
                raise
        else:
            return _layout_with_graphviz(boxes, edges, program)
    return layered(boxes, edges)


def _layout_with_graphviz(boxes: list[Box], edges: list[Edge], program: str) -> Layout:
    lines = [
        "digraph L {",
        "rankdir=LR; nodesep=0.12; ranksep=0.3;",
        'node [shape=box fixedsize=true label=""];',
    ]
    for box in boxes:
        shape = " shape=circle" if box.kind in ("op", "neuron") else ""
        lines.append(f"{box.id} [width={box.width / 72:.3f} height={box.height / 72:.3f}{shape}];")
    for edge in edges:
        lines.append(f"{edge.tail} -> {edge.head};")
    lines.append("}")
    plain = render("\n".join(lines), "plain", program).decode("utf-8")
    by_id = {box.id: box for box in boxes}
    height = 0.0
    width = 0.0
    # plain does not list edges in the order they were given: match them by (tail, head), in
    # order among equal pairs (a + a has two)
    edge_points: dict[tuple[str, str], list[list[tuple[float, float]]]] = {}
    for line in plain.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "graph":
            width, height = float(parts[2]) * 72, float(parts[3]) * 72
        elif parts[0] == "node":
            box = by_id[parts[1]]
            box.x, box.y = float(parts[2]) * 72, height - float(parts[3]) * 72
        elif parts[0] == "edge":
            n = int(parts[3])
            coords = [float(v) * 72 for v in parts[4 : 4 + 2 * n]]
            points = [(coords[2 * i], height - coords[2 * i + 1]) for i in range(n)]
            edge_points.setdefault((parts[1], parts[2]), []).append(points)
    for edge in edges:
        edge.points = edge_points[(edge.tail, edge.head)].pop(0)
    return Layout(boxes, edges, width, height, renderer_name(program))


def layered(boxes: list[Box], edges: list[Edge], *, column_gap: float = 36.0) -> Layout:
    """Place ``boxes`` (in place) in columns, left to right, in pure Python: a box's column is
    the longest path to it from a box with no inputs, rows ordered by the mean row of each box's
    inputs (then of its consumers); straight edges. ``column_gap``: px between columns (room for
    labels), 0 to ``MAX_COLUMN_GAP``, not a bool (else TypeError/ValueError, no box moved)."""
    column_gap = measure(column_gap, "column_gap", 0.0, MAX_COLUMN_GAP)
    ids = [box.id for box in boxes]
    inputs: dict[str, list[str]] = {i: [] for i in ids}
    outputs: dict[str, list[str]] = {i: [] for i in ids}
    for edge in edges:
        inputs[edge.head].append(edge.tail)
        outputs[edge.tail].append(edge.head)
    column = _longest_path_columns(ids, inputs, outputs)
    for i in ids:  # an input sits just before its first reader, not far off in column 0
        if not inputs[i] and outputs[i]:
            column[i] = min(column[j] for j in outputs[i]) - 1
    columns: list[list[str]] = [[] for _ in range(max(column.values(), default=-1) + 1)]
    for i in ids:
        columns[column[i]].append(i)
    # Order each column by the mean row of its boxes' inputs (then of their consumers), twice.
    row = {i: float(k) for col in columns for k, i in enumerate(col)}
    for sweep in range(4):
        forward = sweep % 2 == 0
        for col in columns if forward else reversed(columns):
            neighbours = inputs if forward else outputs

            def mean_row(i: str, around: dict[str, list[str]] = neighbours) -> float:
                near = around[i]
                return sum(row[n] for n in near) / len(near) if near else row[i]

            col.sort(key=mean_row)
            for k, i in enumerate(col):
                row[i] = float(k)
    by_id = {box.id: box for box in boxes}
    gap_x, gap_y = column_gap, 10.0
    x = gap_x / 2
    tallest = 0.0
    for col in columns:
        col_width = max((by_id[i].width for i in col), default=0.0)
        y = gap_y
        for i in col:
            box = by_id[i]
            box.x, box.y = x + col_width / 2, y + box.height / 2
            y += box.height + gap_y
        tallest = max(tallest, y)
        x += col_width + gap_x
    for col in columns:  # centre each column vertically
        used = sum(by_id[i].height + gap_y for i in col) + gap_y
        for i in col:
            by_id[i].y += (tallest - used) / 2
    _straight_edges(by_id, edges)
    crowded = _place_labels(boxes, edges)
    return Layout(boxes, edges, x - gap_x / 2, tallest, "python", crowded)


def _straight_edges(by_id: dict[str, Box], edges: list[Edge]) -> None:
    """Each edge from its tail's right side to its head's left side; a + a: each use its own
    edge, drawn apart (6 px between them)."""
    pairs: dict[tuple[str, str], int] = {}
    for edge in edges:
        pairs[edge.tail, edge.head] = pairs.get((edge.tail, edge.head), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    for edge in edges:
        tail, head = by_id[edge.tail], by_id[edge.head]
        k = seen[edge.tail, edge.head] = seen.get((edge.tail, edge.head), -1) + 1
        dy = (k - (pairs[edge.tail, edge.head] - 1) / 2) * 6.0
        edge.points = [
            (tail.x + tail.width / 2, tail.y + dy),
            (head.x - head.width / 2, head.y + dy),
        ]


def _label_box(edge: Edge, t: float, above: bool) -> tuple[float, float, float, float, float]:
    """The label's anchor x, baseline y and its box, at ``t`` along ``edge`` (0: the tail),
    its text just above the line or just below it."""
    (x0, y0), (x1, y1) = edge.points[0], edge.points[-1]
    x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    width = len(edge.label) * EDGE_LABEL_FONT * 0.62
    baseline = y - 3 if above else y + EDGE_LABEL_FONT + 1
    top = baseline - EDGE_LABEL_FONT
    return x, baseline, x - width / 2, top, x + width / 2


# along an edge, middle first: 0.5, 0.46, 0.54, ... 0.1, 0.9
_SPOTS = tuple(0.5 + sign * k * 0.04 for k in range(11) for sign in ((1,) if k == 0 else (-1, 1)))


Area = tuple[float, float, float, float]  # left, top, right, bottom, in px


class Occupied:
    """The areas placed so far (boxes, then labels), found by a grid of buckets: ``free(area)``
    compares ``area`` only with the areas in the grid cells it covers, not with every area placed
    (which made placing the labels of an n-node graph take time quadratic in n).

    Two areas overlap when their open interiors meet (touching edges do not); a point inside
    both lies in a cell each of them was filed under, so no overlapping area is missed and the
    answer is the one comparing with every area would give. ``compared`` counts the pairs
    compared (a test counts them instead of timing)."""

    CELL = 64.0  # px: about a box's width, so an area is filed under a few cells

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list[Area]] = {}
        self.compared = 0

    def _span(self, area: Area) -> tuple[range, range]:
        cell = self.CELL
        columns = range(math.floor(area[0] / cell), math.floor(area[2] / cell) + 1)
        rows = range(math.floor(area[1] / cell), math.floor(area[3] / cell) + 1)
        return columns, rows

    def add(self, area: Area) -> None:
        columns, rows = self._span(area)
        for i in columns:
            for j in rows:
                self.cells.setdefault((i, j), []).append(area)

    def free(self, area: Area) -> bool:
        """True when ``area`` overlaps no area added so far."""
        columns, rows = self._span(area)
        seen: set[int] = set()  # an area filed under several of these cells: compared once
        for i in columns:
            for j in rows:
                for a in self.cells.get((i, j), ()):
                    if id(a) in seen:
                        continue
                    seen.add(id(a))
                    self.compared += 1
                    if a[0] < area[2] and area[0] < a[2] and a[1] < area[3] and area[1] < a[3]:
                        return False
        return True


def _place_labels(boxes: list[Box], edges: list[Edge]) -> int:
    """Put each edge's label where it touches no box and no label placed before it: the first
    free spot along the edge, middle first, above the line, then below (the middle if none).
    Returns how many found no free spot (the caller may widen the columns and try again).
    Each spot is compared only with the areas near it (``Occupied``): linear in the labels."""
    taken = Occupied()
    for b in boxes:
        taken.add((b.x - b.width / 2, b.y - b.height / 2, b.x + b.width / 2, b.y + b.height / 2))
    crowded = 0
    for edge in edges:
        if not edge.label or not edge.points:
            continue
        chosen = None
        for t in _SPOTS:
            for above in (True, False):
                x, baseline, left, top, right = _label_box(edge, t, above)
                area = (left - 1, top - 1, right + 1, baseline + 3)
                if taken.free(area):
                    chosen = (x, baseline, area)
                    break
            if chosen is not None:
                break
        if chosen is None:
            crowded += 1
            x, baseline, left, top, right = _label_box(edge, 0.5, True)
            chosen = (x, baseline, (left, top, right, baseline + 3))
        edge.label_at = (chosen[0], chosen[1])
        taken.add(chosen[2])
    return crowded


def _longest_path_columns(
    ids: Iterable[str], inputs: dict[str, list[str]], outputs: dict[str, list[str]]
) -> dict[str, int]:
    """Kahn's algorithm (no recursion): each box one column right of its rightmost input."""
    waiting = {i: len(inputs[i]) for i in ids}
    ready = [i for i, n in waiting.items() if n == 0]
    column = dict.fromkeys(ready, 0)
    while ready:
        i = ready.pop()
        for j in outputs[i]:
            column[j] = max(column.get(j, 0), column[i] + 1)
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    return column
