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
step i (``draw_graph``: Graphviz, or microgradx's own layout without it);
``trace.frame_text(i)`` writes it as text for a terminal;
``trace.to_html(path)`` writes a self-contained page that steps through it, and in Jupyter the
trace (or ``trace.widget()``) shows the same page, which needs no kernel.

The trace only ties three parts together: the recording (``viz.steps.RecordedPass``, on
``viz.record`` and ``viz.levels``), the scene (``viz.scene``: boxes, edges and every step's state,
computed once) and the renderers that read the scene (``viz.page`` with ``viz.layout``,
``viz.text``), with names and colours from ``viz.style``. The frames draw the graph with
``draw_graph``, from the recording's states (gradients so far, reached nodes), also computed once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from microgradx import checks
from microgradx.engine import Value, topological_order
from microgradx.files import write_atomically
from microgradx.viz.graph import GraphView, draw_graph
from microgradx.viz.layout import LAYOUTS, place
from microgradx.viz.levels import LayerStep, LossStep, NeuronStep, Step
from microgradx.viz.markup import visible
from microgradx.viz.page import PageData, StepPage, document, mimebundle
from microgradx.viz.record import BackwardStep
from microgradx.viz.scene import Scene, step_counter
from microgradx.viz.steps import LEVELS, RecordedPass, backward_scene
from microgradx.viz.style import node_names, num, op_label, refuse_renamed
from microgradx.viz.text import text_frame

__all__ = [
    "LEVELS",
    "BackwardStep",
    "BackwardTrace",
    "ForwardStep",
    "ForwardTrace",
    "LayerStep",
    "LossStep",
    "NeuronStep",
    "trace_backward",
    "trace_forward",
]

MAX_BOXES = 4000  # past this a page is slow to lay out and no one can read it
_COARSER = {"op": "level='neuron'", "neuron": "level='layer'", "layer": "the loss of one example"}


# ---- the trace ----------------------------------------------------------------------------------


class BackwardTrace:
    """The recorded backward pass of ``root``: ``trace[i]``, ``len(trace)``, ``print(trace)``.

    Three parts, each computed once: the recording (``viz.steps.RecordedPass``: what happened,
    at the trace's ``level``), its scene (``viz.scene.Scene``: boxes, edges and every step's
    state) and the renderers (the page, Graphviz frames, text frames), which read the scene.
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
        self.recorded = RecordedPass(root, level)
        self.root = root
        self.level = level
        self.order = self.recorded.order
        self.names = self.recorded.names
        self.loss = self.recorded.loss
        self.group_of = self.recorded.group_of
        self.structure = self.recorded.structure  # what a network recorded while it computed
        self.op_steps = self.recorded.op_steps
        self.start = self.recorded.start
        self.steps: list[Step] = self.recorded.steps
        self._scene: Scene | None = None
        self._table: str | None = None

    @property
    def scene(self) -> Scene:
        """The scene every picture of this pass renders (built on first use, then kept)."""
        if self._scene is None:
            self._scene = backward_scene(self.recorded, str(self))
        return self._scene

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> Step:
        """Step i, counted as a list's index (``_picked``)."""
        return _picked(self.steps, i)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def grads_after(self, i: int) -> dict[Value, float]:
        """Every node's gradient after step i (i = -1: before the first step; -1 to
        ``len(trace) - 1``)."""
        i = checks.count(i, "i", -1, len(self.steps) - 1)
        return self.recorded.grads_after(i)

    # ---- words ----------------------------------------------------------------------------------

    def equation(self, i: int) -> str:
        """What step i computes, one line per gradient it sends."""
        return self.recorded.equation(checks.index(i, "i", len(self.steps)))

    def __str__(self) -> str:
        if self._table is None:
            self._table = self.recorded.table()
        return self._table

    def __repr__(self) -> str:
        return f"<BackwardTrace of {self.loss}: {len(self)} {self.level}-level steps>"

    # ---- pictures -------------------------------------------------------------------------------

    def frame(self, i: int, **draw_options: Any) -> GraphView:
        """The graph after step i as ``draw_graph`` draws it (Graphviz, or microgradx's own layout
        when no Graphviz program exists; ``layout=`` chooses): gradients so far, the current node
        (or neuron, or layer) and the nodes it sends gradient to highlighted, nodes not reached yet
        greyed out, headed ``step i + 1 of n`` (steps are shown counted from 1, as on the page
        and in the text frames). ``draw_options`` go to ``draw_graph``."""
        i = checks.index(i, "i", len(self.steps))
        step = self.steps[i]
        reached_at = self.recorded.reached_at
        draw_options.setdefault("level", self.level)
        draw_options.setdefault("caption", step_counter(i, len(self.steps)))
        current = [op_step.node for op_step in step.ops]
        return draw_graph(
            self.root,
            grads=self.recorded.grads_after(i),
            highlight=[*current, *(c.child for s in step.ops for c in s.contributions)],
            dimmed=[n for n in self.order if reached_at.get(n, i + 1) > i],
            current=current,
            **draw_options,
        )

    def frame_text(self, i: int) -> str:
        """Step i as plain text for a terminal (``viz.text.text_frame`` of the scene): the
        equation, then every box with its grad line, the current one and those it sends
        gradient to marked."""
        return text_frame(self.scene, checks.index(i, "i", len(self.steps)))

    def page_data(self, *, layout: str = "auto", fit: bool = True, **renamed: Any) -> PageData:
        """Everything the step-through page shows: the scene and one layout of it.

        Raises ValueError, before any layout work, when the drawing would have more than
        ``MAX_BOXES`` boxes (and says which coarser level to use). ``layout``: ``"auto"``,
        ``"dot"`` or ``"python"`` (see ``viz.layout.place``; ``engine=`` is refused with a
        message naming ``layout=``). ``fit``: the picture starts scaled to the output's width
        (the default); False: at full size, scrolling (the page's "fit to width" box)."""
        refuse_renamed("page_data", renamed, {"engine": "layout"})
        layout = checks.choice(layout, "layout", LAYOUTS)
        fit = checks.flag(fit, "fit")
        scene = self.scene
        if len(scene.boxes) > MAX_BOXES:
            raise ValueError(
                f"the {self.level}-level picture would have {len(scene.boxes)} boxes, more than"
                f" {MAX_BOXES}: step through it with {_COARSER[self.level]}"
            )
        return PageData(scene, place(scene.boxes, scene.edges, layout=layout), fit)

    def to_html(
        self, path: str | Path, *, layout: str = "auto", fit: bool = True, **renamed: Any
    ) -> Path:
        """Write a self-contained page (inline SVG, CSS and JS; no network) that steps through
        the pass: slider, previous/next buttons, left/right arrow keys and the equation panel
        (``layout`` and ``fit`` as for ``page_data``)."""
        refuse_renamed("to_html", renamed, {"engine": "layout"})
        target = checks.path(path, "path")
        return write_atomically(target, self.html_page(layout=layout, fit=fit).encode("utf-8"))

    def html_page(self, *, layout: str = "auto", fit: bool = True, **renamed: Any) -> str:
        """The page ``to_html`` writes, as a string."""
        refuse_renamed("html_page", renamed, {"engine": "layout"})
        return document(self.page_data(layout=layout, fit=fit))

    def widget(self, *, layout: str = "auto", fit: bool = True, **renamed: Any) -> StepPage:
        """The step-through page as a notebook output. It is plain HTML and JavaScript: it needs
        no kernel and no ipywidgets, so it still works after the notebook is saved and reopened,
        and in an HTML export. Where scripts cannot run it shows step 0 and the table."""
        refuse_renamed("widget", renamed, {"engine": "layout"})
        return StepPage(self.page_data(layout=layout, fit=fit))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        try:
            data = self.page_data()
        except ValueError as error:  # too big to draw: the table, and why there is no picture
            return {"text/plain": visible(f"{error}\n\n{self}", newlines=True)}
        return mimebundle(data)


T = TypeVar("T")


def _picked(steps: list[T], i: Any) -> T:
    """``steps[i]`` for an int ``i`` (a NumPy int too; negative from the end), as ``equation(i)``
    and ``frame(i)`` take it: TypeError for a bool, a float or anything else that is not an int
    (a list takes ``True`` as 1), IndexError naming the range for a place outside it. A slice
    gives a list of steps, as a list's slice does."""
    if isinstance(i, slice):
        return steps[i]  # type: ignore[return-value]
    try:
        return steps[checks.index(i, "i", len(steps))]
    except ValueError as error:  # outside: IndexError, so trace[len(trace)] stays an IndexError
        raise IndexError(str(error)) from None


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
        """Step i, counted as a list's index (``_picked``)."""
        return _picked(self.steps, i)

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
    return f"{op_label(node.op)}({', '.join(args)})"


def trace_forward(root: Value) -> ForwardTrace:
    """The values of ``root``'s graph in the order they were computed (inputs first)."""
    return ForwardTrace(root)
