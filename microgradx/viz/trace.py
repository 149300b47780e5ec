"""Step through backpropagation: the recorded backward (or forward) pass, at three zoom levels.

``trace_backward(loss)`` runs the backward pass exactly as ``loss.backward()`` does and records
every step. How big a step is depends on ``level``:

* ``"op"``: one node of the graph passes its gradient to its inputs (the chain rule, literally)::

      dL/d(x1*w1) += dL/ds * ds/d(x1*w1) = 0.5000 * 1.0000 = 0.5000

  ``dL/ds`` is the gradient that arrived at ``s`` (upstream), ``ds/d(x1*w1)`` the local derivative
  of ``s`` with respect to that input. Names that are not plain identifiers are in brackets.
* ``"neuron"``: one neuron of a network built by ``microgradx.nn`` does its whole backward, in the
  lectures' terms: its delta ``δ = dL/dz = dL/da * act'(z)``, then ``dL/dw_i = δ * x_i``,
  ``dL/db = δ`` and ``dL/dx_i += δ * w_i``;
* ``"layer"``: one layer at a time, as modular backprop: the layer receives ``dL/da`` for its
  outputs and returns ``dL/dW = δ xᵀ``, ``dL/db = δ`` and ``dL/dx = Wᵀ δ``.

Every number shown is one the real pass computed; after the last step every gradient equals the one
``backward()`` gives (at the neuron and layer levels the gradients a step has delivered so far are
added in the order ``backward()`` adds them).

``print(trace)`` is the whole pass as a numbered table; ``trace.frame(i)`` draws the graph after
step i with Graphviz; ``trace.to_html(path)`` writes a self-contained page that steps through it,
and in Jupyter the trace (or ``trace.widget()``) shows the same page, which needs no kernel.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microgradx import checks
from microgradx.engine import Value, topological_order
from microgradx.files import write_atomically
from microgradx.nn import Structure
from microgradx.ops import ADD
from microgradx.viz.graph import ROLE_COLORS, GraphView, draw_graph, node_names, role
from microgradx.viz.layout import ENGINES, Box, Edge, layout
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
from microgradx.viz.markup import visible
from microgradx.viz.page import PageData, PageStep, StepPage, document, mimebundle
from microgradx.viz.record import BackwardStep, num, record_backward, short, wrt

LEVELS = ("op", "neuron", "layer")
MAX_BOXES = 4000  # past this a page is slow to lay out and no one can read it
_COARSER = {"op": "level='neuron'", "neuron": "level='layer'", "layer": "the loss of one example"}


# ---- the trace ----------------------------------------------------------------------------------


class BackwardTrace:
    """The recorded backward pass of ``root``: ``trace[i]``, ``len(trace)``, ``print(trace)``.

    ``op_steps`` is the pass node by node; ``steps`` the same pass at the trace's ``level``.
    A step ``i`` is counted from 0, and from the end when negative, as a list's.
    """

    def __init__(self, root: Value, level: str = "op") -> None:
        checks.instance(root, "root", Value, "Value")
        level = checks.choice(level, "level", LEVELS)
        if root.op is None:
            raise ValueError(
                "trace_backward needs the output of some operations, got a leaf"
                f" ({root!r}): there is no backward pass to step through"
            )
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
        self._shown = self._shown_gradients()

    # ---- the steps at this level --------------------------------------------------------------

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

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Step:
        return self.steps[i]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def grads_after(self, i: int) -> dict[Value, float]:
        """Every node's gradient after step i (i = -1: before the first step; -1 to
        ``len(trace) - 1``)."""
        i = checks.count(i, "i", -1, len(self.steps) - 1)
        grads = dict(self.start)
        for updates in self._shown[: i + 1]:
            grads.update(updates)
        return grads

    # ---- words ----------------------------------------------------------------------------------

    def equation(self, i: int) -> str:
        """What step i computes, one line per gradient it sends."""
        i = checks.index(i, "i", len(self.steps))
        step = self.steps[i]
        if isinstance(step, BackwardStep):
            return self._op_equation(step)
        if isinstance(step, NeuronStep):
            return neuron_equation(step, self.loss)
        returned = self._shown[step.index]
        inputs = [returned.get(x, self.start[x]) for x in step.inputs]
        return layer_equation(step, self.loss, inputs)

    def _op_equation(self, step: BackwardStep) -> str:
        loss, node = wrt(self.loss), wrt(step.name)
        return "\n".join(
            f"d{loss}/d{wrt(c.name)} += d{loss}/d{node} * ∂{node}/∂{wrt(c.name)}"
            f" = {num(step.upstream)} * {num(c.local_grad)} = {num(c.contribution)}"
            for c in step.contributions
        )

    def __str__(self) -> str:
        noun = {"op": "steps", "neuron": "neuron steps", "layer": "layer steps"}[self.level]
        loss = wrt(self.loss)
        header = f"backward pass of {self.loss}: {len(self)} {noun} (d{loss}/d{loss} = 1)"
        width = len(str(len(self)))
        lines = [header]
        for i, step in enumerate(self.steps):
            kind = step.op if isinstance(step, BackwardStep) else type(step).__name__[:-4].lower()
            prefix = f"{i:>{width}}  {kind:<8}"
            for k, line in enumerate(self.equation(i).splitlines()):
                lines.append((prefix if k == 0 else " " * len(prefix)) + "  " + line)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<BackwardTrace of {self.loss}: {len(self)} {self.level}-level steps>"

    # ---- pictures -------------------------------------------------------------------------------

    def frame(self, i: int, **draw_options: Any) -> GraphView:
        """The graph after step i drawn by Graphviz: gradients so far, the current node (or
        neuron, or layer) and the nodes it sends gradient to highlighted, nodes not reached yet
        greyed out. ``draw_options`` go to ``draw_graph``."""
        i = checks.index(i, "i", len(self.steps))
        step = self.steps[i]
        reached = {self.root}
        for s in self.steps[: i + 1]:
            reached.update(c.child for op_step in s.ops for c in op_step.contributions)
        if self.level != "op":
            draw_options.setdefault("collapse", self.level)
        current = [op_step.node for op_step in step.ops]
        return draw_graph(
            self.root,
            grads=self.grads_after(i),
            highlight=[*current, *(c.child for s in step.ops for c in s.contributions)],
            dimmed=[n for n in self.order if n not in reached],
            current=current,
            **draw_options,
        )

    def page_data(self, *, engine: str = "auto") -> PageData:
        """Everything the step-through page shows: one layout, and what changes at each step.

        Raises ValueError, before any layout work, when the drawing would have more than
        ``MAX_BOXES`` boxes (and says which coarser level to use). ``engine``: ``"auto"``,
        ``"dot"`` or ``"python"`` (see ``viz.layout.layout``)."""
        engine = checks.choice(engine, "engine", ENGINES)
        box_of, members = self._boxes()
        boxes, edges = self._drawing(box_of, members)
        if len(boxes) > MAX_BOXES:
            raise ValueError(
                f"the {self.level}-level picture would have {len(boxes)} boxes, more than"
                f" {MAX_BOXES}: step through it with {_COARSER[self.level]}"
            )
        laid_out = layout(boxes, edges, engine=engine)
        start = self.grads_after(-1)
        steps = []
        grads = dict(start)
        for i, step in enumerate(self.steps):
            grads.update(self._shown[i])
            children: dict[str, None] = {}
            for op_step in step.ops:
                for c in op_step.contributions:
                    box = box_of[c.child]
                    if box != box_of[step.node]:
                        children[box] = None
            updates = [(box, self._grad_line(members[box], grads)) for box in children]
            steps.append(PageStep(box_of[step.node], list(children), updates, self.equation(i)))
        return PageData(
            title=f"backward pass of {self.loss}, {self.level} by {self.level}",
            layout=laid_out,
            root=box_of[self.root],
            start={b.id: self._grad_line(members[b.id], start) for b in boxes if b.grad_line >= 0},
            steps=steps,
            table=str(self),
        )

    def _boxes(self) -> tuple[dict[Value, str], dict[str, list[Value]]]:
        """Which box draws each node (``v<k>`` its own, ``g<k>`` its neuron's or layer's), and
        each box's nodes."""
        position = {node: k for k, node in enumerate(self.order)}
        box_of: dict[Value, str] = {}
        members: dict[str, list[Value]] = {}
        layer_of: dict[Value, str] = {}
        if self.level == "layer":
            for step in self.steps:
                if isinstance(step, LayerStep):
                    for neuron in step.neurons:
                        layer_of[neuron.node] = f"g{position[step.node]}"
        for node in self.order:
            group = self.group_of.get(node)
            if group is None:
                box_of[node] = f"v{position[node]}"
            else:
                box_of[node] = layer_of.get(group) or f"g{position[group]}"
            members.setdefault(box_of[node], []).append(node)
        return box_of, members

    def _drawing(
        self, box_of: dict[Value, str], members: dict[str, list[Value]]
    ) -> tuple[list[Box], list[Edge]]:
        """The boxes: values (and op circles) outside any neuron, one box per neuron or layer."""
        position = {node: k for k, node in enumerate(self.order)}
        boxes: list[Box] = []
        edges: list[Edge] = []
        seen_edges: set[tuple[str, str]] = set()
        emitted: set[str] = set()
        params = self.structure.parameters
        for node in self.order:
            box = box_of[node]
            if node in self.group_of:
                if box not in emitted:
                    emitted.add(box)
                    boxes.append(self._group_box(box, members[box]))
                for child in node.children:
                    tail = box_of[child]
                    if tail != box and (tail, box) not in seen_edges:
                        seen_edges.add((tail, box))
                        edges.append(Edge(tail, box))
                continue
            fill = ROLE_COLORS[role(node, self.root, params)]
            boxes.append(
                Box(
                    box,
                    [self.names[node], f"data {short(node.data)}", "grad 0"],
                    fill=fill,
                    grad_line=2,
                )
            )
            if node.op is not None:
                op_id = f"o{position[node]}"
                boxes.append(Box(op_id, [node.op.label], kind="op", owner=box, fill="#eeeeee"))
                edges.append(Edge(op_id, box, owner=box))
                for child in node.children:  # every use its own edge: a + a draws two
                    edges.append(Edge(box_of[child], op_id, owner=box))
        return boxes, edges

    def _group_box(self, box: str, members: list[Value]) -> Box:
        outputs = [n for n in members if self.group_of.get(n) is n]
        ops = [n for n in members if n.op is not None]
        first = outputs[0]
        act = first.op.label if first.op is not None and first.op is not ADD else "linear"
        made = self.structure.outputs[first]
        if self.level == "layer":
            name = self.structure.layer_name(made)
            lines = [name, f"{len(outputs)} {act} neurons", f"{len(ops)} ops", "|grad| 0"]
        else:
            name = self.structure.module_name(made)
            lines = [self.names[first], f"{act} neuron", f"out {short(first.data)}", "grad 0"]
        return Box(box, lines, kind="group", fill="#e8e0f8", grad_line=3, title=name)

    def _grad_line(self, members: list[Value], grads: dict[Value, float]) -> str:
        """A box's grad line: a value's gradient, a neuron's output's, a layer's outputs' size."""
        outputs = [n for n in members if self.group_of.get(n) is n]
        if not outputs:
            return f"grad {short(grads[members[0]])}"
        if self.level == "layer":
            return f"|grad| {short(math.hypot(*(grads[n] for n in outputs)))}"
        return f"grad {short(grads[outputs[0]])}"

    def to_html(self, path: str | Path, *, engine: str = "auto") -> Path:
        """Write a self-contained page (inline SVG, CSS and JS; no network) that steps through
        the pass: slider, previous/next buttons, left/right arrow keys and the equation panel."""
        target = checks.path(path, "path")
        return write_atomically(target, self.html_page(engine=engine).encode("utf-8"))

    def html_page(self, *, engine: str = "auto") -> str:
        """The page ``to_html`` writes, as a string."""
        return document(self.page_data(engine=engine))

    def widget(self, *, engine: str = "auto") -> StepPage:
        """The step-through page as a notebook output. It is plain HTML and JavaScript: it needs
        no kernel and no ipywidgets, so it still works after the notebook is saved and reopened,
        and in an HTML export. Where scripts cannot run it shows step 0 and the table."""
        return StepPage(self.page_data(engine=engine))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        try:
            data = self.page_data()
        except ValueError as error:  # too big to draw: the table, and why there is no picture
            return {"text/plain": visible(f"{error}\n\n{self}", newlines=True)}
        return mimebundle(data)


def _renumber(step: Step, index: int) -> Step:
    if isinstance(step, BackwardStep) and step.index == index:
        return step
    values = dict(vars(step))
    values["index"] = index
    return type(step)(**values)


def trace_backward(root: Value, level: str = "op") -> BackwardTrace:
    """Run ``root.backward()`` while recording every step (the gradients are the same).

    ``level``: ``"op"`` (one graph node per step), ``"neuron"`` or ``"layer"`` (for networks built
    by ``microgradx.nn``: one neuron's or one layer's backward per step).
    """
    return BackwardTrace(root, level)


# ---- the forward pass ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ForwardStep:
    index: int
    node: Value
    name: str
    equation: str


class ForwardTrace:
    """The forward pass of ``root`` in topological order: each value from its inputs."""

    def __init__(self, root: Value) -> None:
        checks.instance(root, "root", Value, "Value")
        self.root = root
        self.order = topological_order(root)
        names = node_names(self.order, root)
        self.steps: list[ForwardStep] = []
        for node in self.order:
            name = names[node]
            if node.op is None:
                line = f"{name} = {num(node.data)}"
            else:
                line = (
                    f"{name} = {_apply(node, [names[c] for c in node.children])}"
                    f" = {_apply(node, [num(c.data) for c in node.children])} = {num(node.data)}"
                )
            self.steps.append(ForwardStep(len(self.steps), node, name, line))

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> ForwardStep:
        return self.steps[i]

    def equation(self, i: int) -> str:
        """How step i (counted as a list's index) computed its value."""
        return self.steps[checks.index(i, "i", len(self.steps))].equation

    def __str__(self) -> str:
        width = len(str(len(self)))
        return "\n".join(f"{s.index:>{width}}  {s.equation}" for s in self.steps)


def _apply(node: Value, args: Sequence[str]) -> str:
    """``a * b`` for the arithmetic operators, ``tanh(n)`` for the rest."""
    assert node.op is not None
    if len(args) == 2 and node.op.symbol in ("+", "-", "*", "/", "**"):
        return f"{args[0]} {node.op.symbol} {args[1]}"
    return f"{node.op.label}({', '.join(args)})"


def trace_forward(root: Value) -> ForwardTrace:
    """The values of ``root``'s graph in the order they were computed (inputs first)."""
    return ForwardTrace(root)
