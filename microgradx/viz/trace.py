"""Step through backpropagation: a recorded backward (or forward) pass, one node at a time.

``trace_backward(root)`` runs the backward pass exactly as ``root.backward()`` does, and records
each step: the node visited, its upstream gradient dL/dnode, and for each of its inputs the local
derivative, the contribution ``upstream * local`` and that input's gradient before and after::

    dL/da += dL/dc * dc/da = 1.0000 * -3.0000 = -3.0000

``print(trace)`` is the whole pass as a numbered table; ``trace.frame(i)`` draws the graph as it
stands after step i; ``trace.widget()`` steps through it in Jupyter; ``trace.to_html(path)``
writes a self-contained page that does the same in any browser, offline.

The page holds *one* SVG of the graph and, per step, only what changes (the current node and the
new gradient texts); its script applies them. That keeps the file small (a 2-16-16-1 MLP's loss,
about 1,600 nodes and 800 steps, is a few MB) where one SVG per step would be hundreds of MB.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microgradx.engine import Value, topological_order
from microgradx.files import write_atomically
from microgradx.viz.graph import GraphView, draw_graph


def _num(x: float) -> str:
    return f"{x:.4f}" if abs(x) >= 1e-3 or x == 0 else f"{x:.4e}"


@dataclass(frozen=True)
class Contribution:
    """What one step adds to one input's gradient."""

    child: Value
    name: str
    local_grad: float
    contribution: float
    grad_before: float
    grad_after: float


@dataclass(frozen=True)
class BackwardStep:
    """Step i of the backward pass: ``node`` passes ``upstream`` = dL/dnode to its inputs."""

    index: int
    node: Value
    name: str
    position: int  # the node's index in topological order ("v{position}" in drawings)
    op: str
    upstream: float
    contributions: tuple[Contribution, ...]


class BackwardTrace:
    """The recorded backward pass of ``root``: ``trace[i]``, ``len(trace)``, ``print(trace)``."""

    def __init__(
        self,
        root: Value,
        steps: list[BackwardStep],
        order: list[Value],
        start: dict[Value, float],
    ) -> None:
        self.root = root
        self.steps = steps
        self.order = order
        self.start = start  # every gradient before the first step
        self.names = {node: _name(node, i, root) for i, node in enumerate(order)}
        self.loss = self.names[root]

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> BackwardStep:
        return self.steps[i]

    def __iter__(self) -> Iterator[BackwardStep]:
        return iter(self.steps)

    def equation(self, i: int) -> str:
        """The chain-rule line(s) of step i, one per input of the node."""
        step = self.steps[i]
        loss = self.loss
        return "\n".join(
            f"d{loss}/d{c.name} += d{loss}/d{step.name} * d{step.name}/d{c.name}"
            f" = {_num(step.upstream)} * {_num(c.local_grad)} = {_num(c.contribution)}"
            for c in step.contributions
        )

    def __str__(self) -> str:
        header = f"backward pass of {self.loss}: {len(self)} steps (d{self.loss}/d{self.loss} = 1)"
        width = len(str(len(self)))
        lines = [header]
        for i in range(len(self)):
            step = self.steps[i]
            prefix = f"{i:>{width}}  {step.op:<8}"
            for k, line in enumerate(self.equation(i).splitlines()):
                lines.append((prefix if k == 0 else " " * len(prefix)) + "  " + line)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<BackwardTrace of {self.loss}: {len(self)} steps>"

    # ---- seeing it ------------------------------------------------------------------------------

    def grads_after(self, i: int) -> dict[Value, float]:
        """Every node's gradient after step i (i = -1: before the first step)."""
        grads = dict(self.start)
        for step in self.steps[: i + 1]:
            for c in step.contributions:
                grads[c.child] = c.grad_after
        return grads

    def frame(self, i: int, **draw_options: Any) -> GraphView:
        """The graph after step i: gradients so far, the current node and its edges highlighted,
        nodes the pass has not reached yet greyed out."""
        step = self.steps[i]
        reached = {self.root} | {c.child for s in self.steps[: i + 1] for c in s.contributions}
        return draw_graph(
            self.root,
            grads=self.grads_after(i),
            highlight=[step.node, *(c.child for c in step.contributions)],
            dimmed=[n for n in self.order if n not in reached],
            **draw_options,
        )

    def to_html(self, path: str | Path, **draw_options: Any) -> Path:
        """Write a self-contained page (inline SVG, CSS and JS; no network) that steps through
        the pass: slider, previous/next buttons, left/right arrow keys and the equation panel."""
        return write_atomically(path, self.html_page(**draw_options).encode("utf-8"))

    def html_page(self, **draw_options: Any) -> str:
        """The page ``to_html`` writes, as a string."""
        svg = draw_graph(self.root, **draw_options).svg()
        svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE inside HTML
        start = self.grads_after(-1)
        position = {node: k for k, node in enumerate(self.order)}
        data = {
            "loss": self.loss,
            "root": f"v{len(self.order) - 1}",
            "start": {f"v{k}": f"grad {_short(start[n])}" for k, n in enumerate(self.order)},
            "steps": [
                {
                    "node": f"v{step.position}",
                    "children": [f"v{position[c.child]}" for c in step.contributions],
                    "equation": self.equation(i),
                    "updates": [
                        [f"v{position[c.child]}", f"grad {_short(c.grad_after)}"]
                        for c in step.contributions
                    ],
                }
                for i, step in enumerate(self.steps)
            ],
        }
        payload = json.dumps(data).replace("</", "<\\/")  # no "</script>" inside the script
        title = html.escape(f"backward pass of {self.loss}")
        return _PAGE.replace("{title}", title).replace("{svg}", svg).replace("{data}", payload)

    def widget(self, **draw_options: Any) -> Any:
        """In Jupyter: a slider, previous/next and play buttons, the frame and the equation.
        Without ipywidgets, the static page of ``to_html``, inline."""
        try:
            import ipywidgets  # type: ignore[import-untyped,import-not-found,unused-ignore]
            from IPython import display as ipython_display
        except ImportError:
            return _InlinePage(self.html_page(**draw_options))
        widgets: Any = ipywidgets  # neither package ships type information
        display: Any = ipython_display.display
        SVG: Any = ipython_display.SVG
        slider = widgets.IntSlider(value=0, min=0, max=len(self) - 1, description="step")
        play = widgets.Play(value=0, min=0, max=len(self) - 1, interval=800)
        widgets.jslink((play, "value"), (slider, "value"))
        previous, following = (
            widgets.Button(description="◀ previous"),
            widgets.Button(description="next ▶"),
        )
        equation = widgets.HTML()
        picture = widgets.Output()

        def show(change: Any = None) -> None:
            i = slider.value
            equation.value = f"<pre>{html.escape(self.equation(i))}</pre>"
            picture.clear_output(wait=True)
            with picture:
                display(SVG(self.frame(i, **draw_options).svg()))

        previous.on_click(lambda _: setattr(slider, "value", max(0, slider.value - 1)))
        following.on_click(lambda _: setattr(slider, "value", min(len(self) - 1, slider.value + 1)))
        slider.observe(show, names="value")
        show()
        return widgets.VBox([widgets.HBox([play, previous, following, slider]), equation, picture])


class _InlinePage:
    """The step-through page shown in a notebook (in an iframe, so its script runs on its own)."""

    def __init__(self, page: str) -> None:
        self.page = page

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self.page, quote=True)}" '
            'style="width: 100%; height: 620px; border: 1px solid #ddd"></iframe>'
        )


def _short(x: float) -> str:
    return f"{x:.4g}"  # as draw_graph writes gradients


def _name(node: Value, position: int, root: Value) -> str:
    if node.label:
        return node.label
    return "L" if node is root else f"v{position}"


def trace_backward(root: Value) -> BackwardTrace:
    """Run ``root.backward()`` while recording every step (the gradients are the same)."""
    if not isinstance(root, Value):
        raise TypeError(f"trace_backward needs a Value, got {type(root).__name__}")
    order = topological_order(root)
    position = {node: k for k, node in enumerate(order)}
    leaf_start = {node: float(node.grad) for node in order if node.op is None}
    for node in order:
        if node.op is not None:
            node.grad = 0.0  # as backward(): intermediate gradients start afresh, leaves add up
    root_start = float(root.grad) + 1.0 if root.op is None else 1.0
    root.grad = root_start
    names = {node: _name(node, k, root) for k, node in enumerate(order)}
    steps: list[BackwardStep] = []
    for node in reversed(order):
        if node.op is None:
            continue
        upstream = float(node.grad)
        local_grads = node.op.local_grads(*[c.data for c in node.children], node.data)
        contributions = []
        for child, local in zip(node.children, local_grads):
            before = float(child.grad)
            contribution = upstream * float(local)
            child.grad = before + contribution
            contributions.append(
                Contribution(child, names[child], float(local), contribution, before, child.grad)
            )
        steps.append(
            BackwardStep(
                len(steps),
                node,
                names[node],
                position[node],
                node.op.label,
                upstream,
                tuple(contributions),
            )
        )
    start = {node: 0.0 if node.op is not None else leaf_start[node] for node in order}
    start[root] = root_start
    return BackwardTrace(root, steps, order, start)


@dataclass(frozen=True)
class ForwardStep:
    index: int
    node: Value
    name: str
    equation: str


class ForwardTrace:
    """The forward pass of ``root`` in topological order: each value from its inputs."""

    def __init__(self, root: Value) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"trace_forward needs a Value, got {type(root).__name__}")
        self.root = root
        self.order = topological_order(root)
        names = {node: _name(node, k, root) for k, node in enumerate(self.order)}
        self.steps: list[ForwardStep] = []
        for node in self.order:
            name = names[node]
            if node.op is None:
                line = f"{name} = {_num(node.data)}"
            else:
                line = (
                    f"{name} = {_apply(node, [names[c] for c in node.children])}"
                    f" = {_apply(node, [_num(c.data) for c in node.children])} = {_num(node.data)}"
                )
            self.steps.append(ForwardStep(len(self.steps), node, name, line))

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> ForwardStep:
        return self.steps[i]

    def equation(self, i: int) -> str:
        return self.steps[i].equation

    def __str__(self) -> str:
        width = len(str(len(self)))
        return "\n".join(f"{s.index:>{width}}  {s.equation}" for s in self.steps)


def _apply(node: Value, args: list[str]) -> str:
    """``a * b`` for the arithmetic operators, ``tanh(n)`` for the rest."""
    assert node.op is not None
    if len(args) == 2 and node.op.symbol in ("+", "-", "*", "/", "**"):
        return f"{args[0]} {node.op.symbol} {args[1]}"
    return f"{node.op.label}({', '.join(args)})"


def trace_forward(root: Value) -> ForwardTrace:
    """The values of ``root``'s graph in the order they were computed (inputs first)."""
    return ForwardTrace(root)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 1rem; color: #222; }
  #controls { display: flex; gap: .5rem; align-items: center; margin-bottom: .5rem; }
  #slider { flex: 1; }
  #equation { background: #f6f6f6; padding: .6rem; border-radius: 4px; min-height: 2.6em;
              font-size: 14px; white-space: pre; }
  #graph { overflow: auto; border: 1px solid #ddd; margin-top: .5rem; }
  #graph.fit svg { max-width: 100%; height: auto; }
  #graph { max-height: 75vh; }
  g.node.pending { opacity: 0.3; }
  g.node.current polygon, g.node.current ellipse { stroke: #d62728; stroke-width: 3; }
  g.node.child polygon, g.node.child ellipse { stroke: #ff7f0e; stroke-width: 3; }
</style>
</head>
<body>
<h2>{title}</h2>
<div id="controls">
  <button id="previous" title="left arrow">&#9664; previous</button>
  <button id="next" title="right arrow">next &#9654;</button>
  <input id="slider" type="range" min="0" value="0">
  <span id="position"></span>
  <label><input id="fit" type="checkbox" checked> fit to width</label>
</div>
<div id="equation"></div>
<div id="graph" class="fit">{svg}</div>
<script id="trace-data" type="application/json">{data}</script>
<script>
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("trace-data").textContent);
  const steps = data.steps;
  const slider = document.getElementById("slider");
  const graph = document.getElementById("graph");
  document.getElementById("fit").addEventListener("change", (event) => {
    graph.classList.toggle("fit", event.target.checked);
    show(current);
  });
  slider.max = String(Math.max(0, steps.length - 1));
  const nodes = {};      // "v3" -> the <g> of its value box
  const gradTexts = {};  // "v3" -> the <text> holding "grad ..."
  for (const g of document.querySelectorAll("#graph g.node")) {
    const id = g.querySelector("title").textContent;
    nodes[id] = g;
    for (const t of g.querySelectorAll("text")) {
      if (t.textContent.startsWith("grad ")) gradTexts[id] = t;
    }
  }
  let current = 0;
  function show(i) {
    current = Math.max(0, Math.min(steps.length - 1, i));
    const texts = Object.assign({}, data.start);
    const reached = new Set([data.root]);
    for (let k = 0; k <= current; k++) {
      reached.add(steps[k].node);
      for (const [id, text] of steps[k].updates) { texts[id] = text; reached.add(id); }
    }
    for (const [id, g] of Object.entries(nodes)) {
      g.classList.remove("current", "child", "pending");
      if (id.startsWith("v") && !reached.has(id)) g.classList.add("pending");
      if (gradTexts[id] && texts[id] !== undefined) gradTexts[id].textContent = texts[id];
    }
    const step = steps[current];
    if (step) {
      if (nodes[step.node]) {
        nodes[step.node].classList.add("current");
        if (!graph.classList.contains("fit")) {  // full size: bring the current node into view
          nodes[step.node].scrollIntoView({block: "nearest", inline: "nearest"});
        }
      }
      for (const id of step.children) if (nodes[id]) nodes[id].classList.add("child");
      document.getElementById("equation").textContent = step.equation;
    }
    slider.value = String(current);
    document.getElementById("position").textContent =
      "step " + current + " of " + (steps.length - 1);
    document.body.dataset.step = String(current);
    document.body.dataset.current = step ? step.node : "";
  }
  document.getElementById("previous").addEventListener("click", () => show(current - 1));
  document.getElementById("next").addEventListener("click", () => show(current + 1));
  slider.addEventListener("input", () => show(Number(slider.value)));
  document.addEventListener("keydown", (event) => {
    if (event.key === "ArrowLeft") { show(current - 1); event.preventDefault(); }
    if (event.key === "ArrowRight") { show(current + 1); event.preventDefault(); }
  });
  show(0);
})();
</script>
</body>
</html>
"""
