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
from bisect import insort
from dataclasses import replace

from microgradx.engine import Value, topological_order
from microgradx.nn import Structure
from microgradx.viz.levels import (
    LayerStep,
    LossStep,
    NeuronStep,
    Step,
    layer_equation,
    layer_steps,
    loss_equation,
    neuron_equation,
    neuron_owners,
    neuron_step,
)
from microgradx.viz.markup import label_of
from microgradx.viz.record import BackwardStep, record_backward
from microgradx.viz.scene import Box, Edge, Scene, build
from microgradx.viz.scene import Step as SceneStep
from microgradx.viz.style import (
    GROUP_FILL,
    OP_FILL,
    ROLE_COLORS,
    group_heading,
    node_names,
    num,
    op_label,
    parameter_names,
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
        self.loss_nodes: set[Value] = set()  # the loss's own nodes (levels above "op")
        self._parameter_names: dict[Value, str] = {}
        if level != "op":
            self.group_of = neuron_owners(self.structure)
            if not self.group_of:
                raise ValueError(
                    f"level={level!r} needs a network built by microgradx.nn (its neurons"
                    " record what they compute); this graph has none: use level='op'"
                )
            self.loss_nodes = self._loss_part()
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
        loss_ops = [step for step in self.op_steps if step.node in self.loss_nodes]
        if loss_ops:  # the loss's ops first, as one step: its nodes get gradient from it alone
            units.append(self._loss_step(loss_ops))
        for step in self.op_steps:  # a neuron's step comes where its output's step came
            if step.node in self.loss_nodes:
                continue
            if step.node not in self.group_of:
                units.append(step)
            elif self.group_of[step.node] is step.node:
                units.append(
                    neuron_step(0, step.node, inside[step.node], self.names, self.structure)
                )
        units = self._named_deltas(units)
        if self.level == "layer":
            units = layer_steps(units, self.names, self.structure)
        return [_renumber(unit, i) for i, unit in enumerate(units)]

    def _loss_part(self) -> set[Value]:
        """The loss's own nodes: ops outside every neuron that feed no neuron (the network's
        inputs and what computed them are not the loss's), and the unlabelled constants only
        they read. Every node that gives one of them gradient is one of them, so they can all
        send their gradients first, in one step."""
        if not self.group_of:
            return set()
        feeds: set[Value] = set()
        stack = [x for made in self.structure.outputs.values() for x in made.call.inputs]
        while stack:  # down from the network's inputs (no recursion)
            node = stack.pop()
            if node not in feeds:
                feeds.add(node)
                stack.extend(node.children)
        part = {
            n for n in self.order if n.op is not None and n not in self.group_of and n not in feeds
        }
        readers: dict[Value, list[Value]] = {}
        for node in self.order:
            for child in node.children:
                readers.setdefault(child, []).append(node)
        params = self.structure.parameters
        for node in self.order:
            alone = node.op is None and node not in self.group_of and node not in feeds
            constant = alone and not label_of(node) and node not in params
            if constant and all(r in part for r in readers.get(node, ())):
                part.add(node)
        return part

    def _loss_step(self, ops: list[BackwardStep]) -> LossStep:
        sent: dict[Value, str] = {}
        for op_step in ops:
            for c in op_step.contributions:
                if c.child not in self.loss_nodes:
                    sent.setdefault(c.child, self.lecture_name(c.child))
        return LossStep(0, self.root, self.loss, tuple(ops), tuple(sent.items()))

    def lecture_name(self, node: Value) -> str:
        """A node's name, a parameter's in the lectures' notation (``w2_1_3``, ``b2_1``)."""
        if not self._parameter_names:
            self._parameter_names = parameter_names(self.structure)
        return self._parameter_names.get(node) or self.names[node]

    def _named_deltas(self, units: list[Step]) -> list[Step]:
        """Each neuron step told where its ∂L/∂a came from: from the next layer's neurons only
        (a hidden neuron: BP2, with their terms w δ), from the loss only (an output neuron:
        BP1), or from both."""
        senders: dict[Value, int] = {}
        for op_step in self.op_steps:
            for c in op_step.contributions:
                senders[c.child] = senders.get(c.child, 0) + 1
        terms: dict[Value, list[tuple[str, float, str, float]]] = {}
        from_loss: set[Value] = set()
        for unit in units:
            if isinstance(unit, NeuronStep):
                delta = f"δ{unit.tag}{unit.example}"
                for t in unit.terms:
                    terms.setdefault(t.input, []).append(
                        (t.weight_name, t.weight.data, delta, unit.delta)
                    )
            elif isinstance(unit, LossStep):
                from_loss.update(n for n, _ in unit.sent)
        named: list[Step] = []
        for unit in units:
            if isinstance(unit, NeuronStep):
                node, got = unit.node, terms.get(unit.node, [])
                if got and len(got) == senders.get(node, 0):
                    unit = replace(unit, role="hidden", backpropagated=tuple(got))
                elif not got and node in from_loss:
                    unit = replace(unit, role="output")
            named.append(unit)
        return named

    def _shown_gradients(self) -> list[dict[Value, float]]:
        """After each step, the new gradient of every node it sent gradient to.

        A node's gradient is the sum of the contributions delivered so far, added in the order of
        ``backward()``: once all have arrived it is exactly ``backward()``'s number. A
        contribution arriving after those before it in that order is added to the running total
        (one addition: a node fed by n steps costs n, not n^2 / 2); one arriving before some
        already delivered (a neuron's or layer's step groups ops) makes the node's total summed
        again in order.
        """
        delivered: dict[Value, list[tuple[int, float]]] = {}
        totals: dict[Value, float] = {}
        shown = []
        for step in self.steps:
            touched: dict[Value, None] = {}
            for op_step in step.ops:
                for c in op_step.contributions:
                    node, arrived = c.child, (op_step.index, c.contribution)
                    got = delivered.setdefault(node, [])
                    if got and got[-1][0] > op_step.index:
                        insort(got, arrived, key=lambda item: item[0])  # after equal indices
                        total = self.start[node]
                        for _, contribution in got:
                            total = total + contribution
                        totals[node] = total
                    else:
                        got.append(arrived)
                        totals[node] = totals.get(node, self.start[node]) + c.contribution
                    touched[node] = None
            shown.append({node: totals[node] for node in touched})
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
        if isinstance(step, LossStep):
            return loss_equation(step, self.loss, [self.shown[i][n] for n, _ in step.sent])
        returned = self.shown[step.index]
        inputs = [returned.get(x, self.start[x]) for x in step.inputs]
        return layer_equation(step, self.loss, inputs)

    def table(self) -> str:
        """The whole pass as a table, one line per gradient sent, its steps numbered 1 to n (as
        the page's counter and the text frames count them: ``trace[i]`` is step i + 1)."""
        loss = wrt(self.loss)
        count = len(self.steps)
        noun = _NOUNS[self.level]
        lines = [f"backward pass of {self.loss}: {count} {noun} (d{loss}/d{loss} = 1)"]
        width = len(str(count))
        for i, step in enumerate(self.steps):
            kind = step.op if isinstance(step, BackwardStep) else type(step).__name__[:-4].lower()
            prefix = f"{i + 1:>{width}}  {kind:<8}"
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
        if node in recorded.loss_nodes:  # the loss's ops and constants: one box
            box_of[node] = f"g{position[recorded.root]}"
        elif group is None:
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
        if node in group_of or node in recorded.loss_nodes:
            if box not in emitted:
                emitted.add(box)
                if node in group_of:
                    boxes.append(_group_box(recorded, box, members[box]))
                else:
                    boxes.append(_loss_box(recorded, box, members[box]))
            for child in node.children:
                tail = box_of[child]
                if tail != box and (tail, box) not in seen_edges:
                    seen_edges.add((tail, box))
                    edges.append(Edge(tail, box))
            continue
        fill = ROLE_COLORS[role(node, recorded.root, params)]
        # above the op level a parameter no one neuron owns (read by every example of a
        # mini-batch) is named as the lectures name it, w1_3_2; its label is the tooltip
        name = recorded.lecture_name(node) if recorded.level != "op" else recorded.names[node]
        lines = [name, f"data {short(node.data)}", "grad 0"]
        title = recorded.names[node] if name != recorded.names[node] else ""
        boxes.append(Box(box, lines, fill=fill, grad_line=2, title=title))
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
    # its name in the lectures' notation; the tooltip its name in the model (layers.1)
    shown, kind, name = group_heading(
        recorded.structure, first, recorded.names[first], recorded.level, len(outputs)
    )
    if recorded.level == "layer":
        lines = [shown, kind, f"{len(ops)} ops", "|grad| 0"]
    else:
        lines = [shown, kind, f"out {short(first.data)}", "grad 0"]
    return Box(box, lines, kind="group", fill=GROUP_FILL, grad_line=3, title=name)


def _loss_box(recorded: RecordedPass, box: str, members: list[Value]) -> Box:
    ops = sum(1 for n in members if n.op is not None)
    lines = [recorded.loss, f"the loss: {ops} ops", f"data {short(recorded.root.data)}", "grad 0"]
    fill = ROLE_COLORS["output"]
    return Box(box, lines, kind="group", fill=fill, grad_line=3, title="the loss")


def _grad_line(recorded: RecordedPass, members: list[Value], grads: dict[Value, float]) -> str:
    """A box's grad line: a value's gradient, a neuron's output's, a layer's outputs' size,
    the loss's own."""
    if recorded.root in members:
        return f"grad {short(grads[recorded.root])}"
    outputs = [n for n in members if recorded.group_of.get(n) is n]
    if not outputs:
        return f"grad {short(grads[members[0]])}"
    if recorded.level == "layer":
        return f"|grad| {short(math.hypot(*(grads[n] for n in outputs)))}"
    return f"grad {short(grads[outputs[0]])}"
