"""The recorded backward pass at a level, and the scene that pictures it.

``RecordedPass(root, level)`` is what happened: ``viz.record``'s op steps (the pass node by node),
regrouped by ``viz.levels`` into neuron or layer steps, the gradient of every node after each
step, the step at which each node is first reached, and each step's equation. It is computed
once; the trace, its Graphviz frames and its scene all read it.

``backward_scene(recorded)`` turns it into a ``viz.scene.Scene``: one box per value (with its
op's circle) outside any neuron, one box per neuron (``level="neuron"``) or layer
(``level="layer"``), edges between them, and per step the current box, the boxes it sends
gradient to and their new grad lines; names and colours from ``viz.style``.
"""

from __future__ import annotations

import math

from microgradx.engine import Value, topological_order
from microgradx.nn import Structure
from microgradx.ops import ADD
from microgradx.viz.levels import (
    LayerStep,
    NeuronStep,
    Step,
    layer_equation,
    layer_steps,
    neuron_equation,
    neuron_owners,
    neuron_step,
)
from microgradx.viz.record import BackwardStep, record_backward
from microgradx.viz.scene import Box, Edge, Scene, build
from microgradx.viz.scene import Step as SceneStep
from microgradx.viz.style import (
    GROUP_FILL,
    OP_FILL,
    ROLE_COLORS,
    node_names,
    num,
    op_label,
    role,
    short,
    wrt,
)

LEVELS = ("op", "neuron", "layer")
_NOUNS = {"op": "steps", "neuron": "neuron steps", "layer": "layer steps"}


class RecordedPass:
    """``root``'s backward pass, recorded (it runs ``backward()``'s float operations), at
    ``level``: ``op_steps`` node by node, ``steps`` at the level, ``start`` every node's gradient
    before the first step, ``shown[i]`` the new gradients step i gave, ``reached_at[node]`` the
    first step that sent gradient to it (-1: the output, reached before any step).

    The caller checks ``root`` (a computed Value) and ``level`` (one of ``LEVELS``); a level
    above ``"op"`` raises ValueError when the graph has no network built by ``microgradx.nn``.
    """

    def __init__(self, root: Value, level: str) -> None:
        self.root = root
        self.level = level
        self.order = topological_order(root)
        self.structure = Structure(self.order)  # what a network recorded while it computed
        self.names = node_names(self.order, root, self.structure)
        self.loss = self.names[root]
        self.group_of: dict[Value, Value] = {}  # node -> the output of its neuron
        if level != "op":
            self.group_of = neuron_owners(self.structure)
            if not self.group_of:
                raise ValueError(
                    f"level={level!r} needs a network built by microgradx.nn (its neurons"
                    " record what they compute); this graph has none: use level='op'"
                )
        self.op_steps, self.start = record_backward(root, self.names)
        self.steps: list[Step] = self._group_steps()
        self.shown = self._shown_gradients()
        self._equations: list[str | None] = [None] * len(self.steps)
        self.reached_at: dict[Value, int] = {root: -1}
        for i, step in enumerate(self.steps):
            for op_step in step.ops:
                for c in op_step.contributions:
                    self.reached_at.setdefault(c.child, i)

    def _group_steps(self) -> list[Step]:
        if self.level == "op":
            return list(self.op_steps)
        inside: dict[Value, list[BackwardStep]] = {}
        for step in self.op_steps:
            neuron = self.group_of.get(step.node)
            if neuron is not None:
                inside.setdefault(neuron, []).append(step)
        units: list[Step] = []
        for step in self.op_steps:  # a neuron's step comes where its output's step came
            if step.node not in self.group_of:
                units.append(step)
            elif self.group_of[step.node] is step.node:
                units.append(
                    neuron_step(0, step.node, inside[step.node], self.names, self.structure)
                )
        if self.level == "layer":
            units = layer_steps(units, self.names, self.structure)
        return [_renumber(unit, i) for i, unit in enumerate(units)]

    def _shown_gradients(self) -> list[dict[Value, float]]:
        """After each step, the new gradient of every node it sent gradient to.

        A node's gradient is the sum of the contributions delivered so far, added in the order of
        ``backward()``: once all have arrived it is exactly ``backward()``'s number.
        """
        delivered: dict[Value, list[tuple[int, float]]] = {}
        shown = []
        for step in self.steps:
            touched: dict[Value, None] = {}
            for op_step in step.ops:
                for c in op_step.contributions:
                    delivered.setdefault(c.child, []).append((op_step.index, c.contribution))
                    touched[c.child] = None
            grads = {}
            for node in touched:
                total = self.start[node]
                for _, contribution in sorted(delivered[node], key=lambda item: item[0]):
                    total = total + contribution
                grads[node] = total
            shown.append(grads)
        return shown

    def grads_after(self, i: int) -> dict[Value, float]:
        """Every node's gradient after step i (-1: before the first step); i is checked by
        the caller."""
        grads = dict(self.start)
        for updates in self.shown[: i + 1]:
            grads.update(updates)
        return grads

    def equation(self, i: int) -> str:
        """What step i computes, one line per gradient it sends (worked out once, then kept)."""
        known = self._equations[i]
        if known is None:
            known = self._equations[i] = self._equation(i)
        return known

    def _equation(self, i: int) -> str:
        step = self.steps[i]
        if isinstance(step, BackwardStep):
            loss, node = wrt(self.loss), wrt(step.name)
            return "\n".join(
                f"d{loss}/d{wrt(c.name)} += d{loss}/d{node} * ∂{node}/∂{wrt(c.name)}"
                f" = {num(step.upstream)} * {num(c.local_grad)} = {num(c.contribution)}"
                for c in step.contributions
            )
        if isinstance(step, NeuronStep):
            return neuron_equation(step, self.loss)
        returned = self.shown[step.index]
        inputs = [returned.get(x, self.start[x]) for x in step.inputs]
        return layer_equation(step, self.loss, inputs)

    def table(self) -> str:
        """The whole pass as a numbered table, one line per gradient sent."""
        loss = wrt(self.loss)
        count = len(self.steps)
        noun = _NOUNS[self.level]
        lines = [f"backward pass of {self.loss}: {count} {noun} (d{loss}/d{loss} = 1)"]
        width = len(str(count))
        for i, step in enumerate(self.steps):
            kind = step.op if isinstance(step, BackwardStep) else type(step).__name__[:-4].lower()
            prefix = f"{i:>{width}}  {kind:<8}"
            for k, line in enumerate(self.equation(i).splitlines()):
                lines.append((prefix if k == 0 else " " * len(prefix)) + "  " + line)
        return "\n".join(lines)


def _renumber(step: Step, index: int) -> Step:
    if isinstance(step, BackwardStep) and step.index == index:
        return step
    values = dict(vars(step))
    values["index"] = index
    return type(step)(**values)


# ---- the scene ----------------------------------------------------------------------------------


def backward_scene(recorded: RecordedPass, table: str | None = None) -> Scene:
    """The scene of a recorded pass (``table``: its text, ``recorded.table()`` by default)."""
    box_of, members = _boxes(recorded)
    boxes, edges = _drawing(recorded, box_of, members)
    start = recorded.grads_after(-1)
    steps = []
    grads = dict(start)
    for i, step in enumerate(recorded.steps):
        grads.update(recorded.shown[i])
        children: dict[str, None] = {}
        for op_step in step.ops:
            for c in op_step.contributions:
                box = box_of[c.child]
                if box != box_of[step.node]:
                    children[box] = None
        updates = tuple((box, _grad_line(recorded, members[box], grads)) for box in children)
        steps.append(SceneStep(box_of[step.node], tuple(children), updates, recorded.equation(i)))
    level = recorded.level
    return build(
        title=f"backward pass of {recorded.loss}, {level} by {level}",
        boxes=boxes,
        edges=edges,
        root=box_of[recorded.root],
        start={b.id: _grad_line(recorded, members[b.id], start) for b in boxes if b.grad_line >= 0},
        steps=steps,
        table=recorded.table() if table is None else table,
    )


def _boxes(recorded: RecordedPass) -> tuple[dict[Value, str], dict[str, list[Value]]]:
    """Which box draws each node (``v<k>`` its own, ``g<k>`` its neuron's or layer's), and
    each box's nodes."""
    position = {node: k for k, node in enumerate(recorded.order)}
    box_of: dict[Value, str] = {}
    members: dict[str, list[Value]] = {}
    layer_of: dict[Value, str] = {}
    if recorded.level == "layer":
        for step in recorded.steps:
            if isinstance(step, LayerStep):
                for neuron in step.neurons:
                    layer_of[neuron.node] = f"g{position[step.node]}"
    for node in recorded.order:
        group = recorded.group_of.get(node)
        if group is None:
            box_of[node] = f"v{position[node]}"
        else:
            box_of[node] = layer_of.get(group) or f"g{position[group]}"
        members.setdefault(box_of[node], []).append(node)
    return box_of, members


def _drawing(
    recorded: RecordedPass, box_of: dict[Value, str], members: dict[str, list[Value]]
) -> tuple[list[Box], list[Edge]]:
    """The boxes: values (and op circles) outside any neuron, one box per neuron or layer."""
    position = {node: k for k, node in enumerate(recorded.order)}
    boxes: list[Box] = []
    edges: list[Edge] = []
    seen_edges: set[tuple[str, str]] = set()
    emitted: set[str] = set()
    group_of = recorded.group_of
    params = recorded.structure.parameters
    for node in recorded.order:
        box = box_of[node]
        if node in group_of:
            if box not in emitted:
                emitted.add(box)
                boxes.append(_group_box(recorded, box, members[box]))
            for child in node.children:
                tail = box_of[child]
                if tail != box and (tail, box) not in seen_edges:
                    seen_edges.add((tail, box))
                    edges.append(Edge(tail, box))
            continue
        fill = ROLE_COLORS[role(node, recorded.root, params)]
        lines = [recorded.names[node], f"data {short(node.data)}", "grad 0"]
        boxes.append(Box(box, lines, fill=fill, grad_line=2))
        if node.op is not None:
            op_id = f"o{position[node]}"
            boxes.append(Box(op_id, [op_label(node.op)], kind="op", owner=box, fill=OP_FILL))
            edges.append(Edge(op_id, box, owner=box))
            for child in node.children:  # every use its own edge: a + a draws two
                edges.append(Edge(box_of[child], op_id, owner=box))
    return boxes, edges


def _group_box(recorded: RecordedPass, box: str, members: list[Value]) -> Box:
    outputs = [n for n in members if recorded.group_of.get(n) is n]
    ops = [n for n in members if n.op is not None]
    first = outputs[0]
    act = op_label(first.op) if first.op is not None and first.op is not ADD else "linear"
    made = recorded.structure.outputs[first]
    if recorded.level == "layer":
        name = recorded.structure.layer_name(made)
        lines = [name, f"{len(outputs)} {act} neurons", f"{len(ops)} ops", "|grad| 0"]
    else:
        name = recorded.structure.module_name(made)
        lines = [recorded.names[first], f"{act} neuron", f"out {short(first.data)}", "grad 0"]
    return Box(box, lines, kind="group", fill=GROUP_FILL, grad_line=3, title=name)


def _grad_line(recorded: RecordedPass, members: list[Value], grads: dict[Value, float]) -> str:
    """A box's grad line: a value's gradient, a neuron's output's, a layer's outputs' size."""
    outputs = [n for n in members if recorded.group_of.get(n) is n]
    if not outputs:
        return f"grad {short(grads[members[0]])}"
    if recorded.level == "layer":
        return f"|grad| {short(math.hypot(*(grads[n] for n in outputs)))}"
    return f"grad {short(grads[outputs[0]])}"
