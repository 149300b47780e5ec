"""The scene: what every picture of a backward pass shows, computed once, in Python.

A scene is the model between what happened (``viz.record``, ``viz.levels``: the recorded steps)
and the pictures of it (``viz.layout`` and ``viz.page``: the step-through page's SVG;
``viz.text``: frames for a terminal). It holds

* ``boxes``: what is drawn (a value's box, an op's circle, a neuron's or layer's box), with the
  lines of text each shows, its colour and its tooltip, named and coloured by ``viz.style``;
* ``edges``: which box feeds which (every use its own edge: ``a + a`` draws two);
* ``steps``: per step, the current box, the boxes it sends gradient to, their new grad lines and
  the equation;
* ``states``: every box's and edge's look at every step (a mark, ``pending``, ``current``,
  ``child`` or ``on``, and its grad line), stored as the steps at which it changes: ``look(id,
  i)`` is the last change at or before step ``i``. Renderers only read these states; none
  derives one (the page's script looks them up the same way, and does no arithmetic).

A scene refers to no Value: a renderer needs nothing but the scene, so a new one (the text
frames are the proof) touches no recording code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from microgradx import checks
from microgradx.viz.markup import LABEL_CHARS, visible

CHAR_WIDTH = 6.7  # px per character of 11 px monospace text (a little more than most fonts use)
LINE_HEIGHT = 14.0
PAD = 5.0
OP_RADIUS = 11.0
NEURON_RADIUS = 18.0
GRAD_LINE_CHARS = 16  # "grad -1.234e-05", "|grad| 0.1234"
MARKS = ("pending", "current", "child", "on")  # how a step marks a box or an edge


def step_counter(i: int, n: int) -> str:
    """``step 1 of 3``: step ``i`` (a list's index, 0 to n - 1) as every picture and table
    counts it for a reader, from 1 to ``n``."""
    return f"step {i + 1} of {n}"


@dataclass
class Box:
    """One drawn node: a value or group box (``lines`` of text) or an op circle (``kind="op"``).

    ``x`` and ``y`` (its centre, in px) are set on the copy that ``viz.layout`` places."""

    id: str
    lines: list[str]
    kind: str = "value"  # "value", "op", "group" (a neuron or layer) or "neuron" (a circle)
    title: str = ""  # the tooltip; the box's id if empty
    owner: str = ""  # an op circle's value box (the page highlights it with its value)
    fill: str = "#ffffff"
    grad_line: int = -1  # which line is "grad ...", the one the steps rewrite (-1: none)
    x: float = 0.0
    y: float = 0.0

    def __post_init__(self) -> None:
        # What the box shows, as it is drawn (labels come from users): its width follows it.
        self.lines = [visible(line, LABEL_CHARS) for line in self.lines]
        self.title = visible(self.title, LABEL_CHARS)

    @property
    def width(self) -> float:
        """In px, for monospace text (so Python knows the size a browser draws)."""
        if self.kind == "op":  # a circle around the op's symbol
            return max(2 * OP_RADIUS, len(self.lines[0]) * CHAR_WIDTH * 0.9 + 6)
        if self.kind == "neuron":
            return 2 * NEURON_RADIUS
        # The grad line changes as the pass goes on: room for the longest it can become.
        widest = max(
            GRAD_LINE_CHARS if k == self.grad_line else len(line)
            for k, line in enumerate(self.lines)
        )
        return widest * CHAR_WIDTH + 2 * PAD

    @property
    def height(self) -> float:
        if self.kind in ("op", "neuron"):
            return self.width
        return len(self.lines) * LINE_HEIGHT + PAD


@dataclass
class Edge:
    """``tail`` feeds ``head``; ``id`` names it in the states (``e<k>``)."""

    tail: str
    head: str
    owner: str = ""  # the box whose step lights this edge (its head's value box for an op)
    id: str = ""
    points: list[tuple[float, float]] = field(default_factory=list)  # set by viz.layout
    label: str = ""  # drawn beside the edge (draw_graph's local gradients)
    label_at: tuple[float, float] | None = None  # its text's anchor, set by viz.layout


@dataclass(frozen=True)
class Step:
    """One step as the scene shows it: ``node`` is the current box, ``children`` the boxes it
    sends gradient to, ``updates`` their new grad lines, ``equation`` the text shown."""

    node: str
    children: tuple[str, ...]
    updates: tuple[tuple[str, str], ...]
    equation: str


@dataclass(frozen=True)
class Look:
    """How a box or an edge looks from step ``since`` on: its ``mark`` ("" or one of
    ``MARKS``) and its grad line (``None``: it has none)."""

    since: int
    mark: str
    text: str | None


@dataclass(frozen=True)
class Scene:
    """Boxes, edges, steps and every element's look at every step (see the module docstring)."""

    title: str
    boxes: Sequence[Box]
    edges: Sequence[Edge]
    steps: Sequence[Step]
    states: Mapping[str, tuple[Look, ...]]  # box or edge id -> its changes, by step
    table: str  # the whole pass as text, one line per gradient sent

    def look(self, element: str, i: int) -> Look:
        """Box or edge ``element``'s look at step ``i`` (the last change at or before it; ``i``
        an int place among the steps, from the end if negative, as ``state`` takes it)."""
        element = checks.text(element, "element")
        if element not in self.states:
            raise ValueError(f"element must be a box or edge id of this scene, got {element!r:.60}")
        return self._look(element, checks.index(i, "i", len(self.steps)))

    def _look(self, element: str, i: int) -> Look:
        changes = self.states[element]
        found = changes[0]
        for change in changes:
            if change.since > i:
                break
            found = change
        return found

    def state(self, i: int) -> tuple[dict[str, str], dict[str, str]]:
        """The marks (of boxes and edges that have one) and grad lines after step ``i`` (an int
        place among the steps, from the end if negative; not a bool, a float or a place
        outside: TypeError/ValueError naming ``i``, rather than a frame of no step)."""
        i = checks.index(i, "i", len(self.steps))
        marks: dict[str, str] = {}
        texts: dict[str, str] = {}
        for element in self.states:
            look = self._look(element, i)
            if look.mark:
                marks[element] = look.mark
            if look.text is not None:
                texts[element] = look.text
        return marks, texts


def build(
    title: str,
    boxes: Sequence[Box],
    edges: Sequence[Edge],
    root: str,
    start: Mapping[str, str],
    steps: Sequence[Step],
    table: str,
) -> Scene:
    """The scene of a pass: every box's and edge's look at every step, worked out once.

    ``root``: the output's box (reached before any step); ``start``: the grad lines before the
    first step. At step i the current box, and each op circle it owns, is ``current``; the boxes
    it sends gradient to are ``child``; the edges into it are ``on``; a box no step has reached
    yet (not the root, not a current box or a child so far) is ``pending`` (op circles never);
    grad lines are the newest update so far.
    """
    edges = [e if e.id else Edge(e.tail, e.head, e.owner, f"e{k}") for k, e in enumerate(edges)]
    marks, reached_at = _marks(boxes, edges, root, steps)
    reached_on: dict[int, list[str]] = {}
    for box_id, at in reached_at.items():
        reached_on.setdefault(at, []).append(box_id)
    pends = {b.id for b in boxes if b.kind != "op"}
    has_text = {b.id for b in boxes if b.grad_line >= 0}
    texts = dict(start)
    states: dict[str, list[Look]] = {b.id: [] for b in boxes}
    states.update({e.id: [] for e in edges})
    never = len(steps)

    def look(element: str, i: int) -> Look:
        mark = marks[i].get(element, "") if i < len(marks) else ""
        if not mark and element in pends and reached_at.get(element, never) > i:
            mark = "pending"
        return Look(i, mark, texts.get(element, "") if element in has_text else None)

    for i in range(max(1, len(steps))):
        if i < len(steps):
            texts.update(steps[i].updates)
        if i == 0:
            changed: Sequence[str] = list(states)
        else:  # only what step i or step i - 1 touched can look different now
            changed = list(
                {
                    **marks[i - 1],
                    **marks[i],
                    **dict(steps[i].updates),
                    **dict.fromkeys(reached_on.get(i, ())),
                }
            )
        for element in changed:
            new = look(element, i)
            previous = states[element]
            if not previous or (previous[-1].mark, previous[-1].text) != (new.mark, new.text):
                previous.append(new)
    return Scene(
        title, list(boxes), edges, list(steps), {k: tuple(v) for k, v in states.items()}, table
    )


def _marks(
    boxes: Sequence[Box], edges: Sequence[Edge], root: str, steps: Sequence[Step]
) -> tuple[list[dict[str, str]], dict[str, int]]:
    """What each step marks (``current``, ``child``, ``on``), and the step that first reaches
    each box (-1 for the root)."""
    owned: dict[str, list[str]] = {}  # a box -> the op circles and edges its step lights
    lit_edges: dict[str, list[str]] = {}
    for box in boxes:
        if box.owner:
            owned.setdefault(box.owner, []).append(box.id)
    for edge in edges:
        lit_edges.setdefault(edge.owner or edge.head, []).append(edge.id)
    marks: list[dict[str, str]] = []
    reached_at = {root: -1}
    for i, step in enumerate(steps):
        marked = dict.fromkeys(lit_edges.get(step.node, ()), "on")
        marked[step.node] = "current"
        marked.update(dict.fromkeys(step.children, "child"))
        marked.update(dict.fromkeys(owned.get(step.node, ()), "current"))
        marks.append(marked)
        for box_id in (step.node, *(b for b, _ in step.updates)):
            reached_at.setdefault(box_id, i)
    return marks, reached_at
