"""The step-through page: one picture, one script, per-step changes as data.

One implementation serves three places:

* ``document(...)``: a whole self-contained HTML page (``trace.to_html``), for any browser, offline;
* ``fragment(...)``: the same page as a ``<div>`` for a notebook output (``trace.widget()`` and a
  trace's own display). Its script needs no kernel, so it keeps working after the notebook is
  saved, the kernel shut down and the notebook reopened, and in ``jupyter nbconvert --to html``;
* ``mimebundle(...)``: that fragment, plus frame 0's picture (``image/svg+xml``) and the step table
  (``text/plain``) for front ends that run no scripts (an untrusted notebook, GitHub's viewer).

The picture is drawn once, already showing step 0; each step is a few ids and texts (the current
box, the boxes it sends gradient to, their new ``grad`` lines, the equation). The script applies
them: nothing is laid out again, so boxes never move.
"""

from __future__ import annotations

import base64
import html
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from microgradx.viz.layout import Layout


@dataclass(frozen=True)
class PageStep:
    """What changes at one step: ``node`` is the current box, ``children`` the boxes it sends
    gradient to, ``updates`` their new grad lines, ``equation`` the text shown."""

    node: str
    children: Sequence[str]
    updates: Sequence[tuple[str, str]]
    equation: str


@dataclass(frozen=True)
class PageData:
    title: str
    layout: Layout
    root: str  # the box of the output (reached before any step)
    start: Mapping[str, str]  # every box's grad line before the first step
    steps: Sequence[PageStep]
    table: str  # the whole pass as text (the fallback where no script runs)

    @property
    def fit(self) -> bool:
        """Start scaled to the output's width when that keeps the text readable."""
        return self.layout.width <= 1600

    def state(self, i: int) -> tuple[dict[str, str], dict[str, str]]:
        """The CSS classes and grad lines of every box after step ``i`` (what the script shows)."""
        texts = dict(self.start)
        reached = {self.root}
        for step in self.steps[: i + 1]:
            reached.add(step.node)
            for box_id, text in step.updates:
                texts[box_id] = text
                reached.add(box_id)
        classes = {
            box.id: "pending"
            for box in self.layout.boxes
            if box.kind != "op" and box.id not in reached
        }
        if self.steps:
            step = self.steps[i]
            classes[step.node] = "current"
            for child in step.children:
                classes[child] = "child"
            for box in self.layout.boxes:
                if box.owner == step.node:
                    classes[box.id] = "current"  # the op that computed the current value
        return classes, texts


def _json(data: Any) -> str:
    return json.dumps(data, separators=(",", ":")).replace("</", "<\\/")  # no "</script>" inside


def fragment(page: PageData, uid: str | None = None, *, static: bool = True) -> str:
    """The page as a ``<div>`` with its own picture, data and script (a notebook output).

    The interactive part (controls and the picture the script changes) travels inside a
    ``<script type="text/html">``, which a sanitizer drops whole, and the script puts it in place.
    Where no script runs (an untrusted notebook: JupyterLab strips scripts, inline SVG and styles),
    what remains is ``static``: step 0's equation, its picture as an ``<img>``, and the whole pass
    as text.
    """
    uid = uid or "mgx-" + uuid.uuid4().hex[:12]
    classes, texts = page.state(0)
    svg = page.layout.svg(classes=classes, texts=texts, marker_id=f"{uid}-arrow")
    data = {
        "root": page.root,
        "start": page.start,
        "steps": [
            {"n": s.node, "c": list(s.children), "u": [list(u) for u in s.updates], "e": s.equation}
            for s in page.steps
        ],
    }
    first = html.escape(page.steps[0].equation) if page.steps else ""
    count = max(0, len(page.steps) - 1)
    live = (
        _LIVE.replace("{fit}", " fit" if page.fit else "")
        .replace("{checked}", " checked" if page.fit else "")
        .replace("{max}", str(count))
        .replace("{first}", first)
        .replace("{svg}", svg)
    )
    still = ""
    if static:
        picture = base64.b64encode(standalone_svg(page, 0).encode("utf-8")).decode("ascii")
        still = (
            f'<div class="mgx-static"><pre class="mgx-equation">{first}</pre>'
            f'<img alt="step 0 of {count + 1}" style="max-width: 100%"'
            f' src="data:image/svg+xml;base64,{picture}"></div>'
        )
    return (
        _FRAGMENT.replace("{uid}", uid)
        .replace("{title}", html.escape(page.title))
        .replace("{static}", still)
        .replace("{table}", html.escape(page.table))
        .replace("{live}", live.replace("</script", "<\\/script"))
        .replace("{data}", _json(data))
        .replace("{script}", _SCRIPT.replace("{uid}", uid))
    )


def standalone_svg(page: PageData, i: int) -> str:
    """Step ``i``'s picture as a stand-alone SVG document (its styles inside)."""
    classes, texts = page.state(i)
    picture = page.layout.svg(classes=classes, texts=texts)
    return picture.replace("<defs>", f"<defs><style>{_CSS_STATIC}</style>", 1)


def document(page: PageData) -> str:
    """A whole self-contained HTML page (inline SVG, CSS and JS; nothing from the network)."""
    body = fragment(page, uid="mgx-page", static=False)
    title = html.escape(page.title)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>body {{ margin: 1rem; }}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


def mimebundle(page: PageData) -> dict[str, str]:
    """The fragment for front ends that run it; frame 0 and the table for those that do not."""
    return {
        "text/html": fragment(page),
        "image/svg+xml": standalone_svg(page, 0),
        "text/plain": page.table,
    }


class StepPage:
    """A page in a notebook: displays as the interactive fragment (with its fallbacks)."""

    def __init__(self, page: PageData) -> None:
        self.page = page

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return mimebundle(self.page)

    def __repr__(self) -> str:
        return f"<step-through page: {self.page.title}, {len(self.page.steps)} steps>"


# The look of a box in each state; the same rules go inside the stand-alone picture.
_CSS_STATIC = """
text { font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; fill: #222; }
g.node rect, g.node circle { stroke: #777; stroke-width: 1; }
g.node.op text { font-size: 10px; }
g.node.pending { opacity: 0.3; }
g.node.current rect, g.node.current circle { stroke: #d62728; stroke-width: 3; }
g.node.child rect, g.node.child circle { stroke: #ff7f0e; stroke-width: 3; }
path.on { stroke: #d62728; stroke-width: 2; }
"""

_FRAGMENT = """<div class="mgx-step" id="{uid}" tabindex="0">
<style>
.mgx-step { font-family: system-ui, sans-serif; color: #222; max-width: 100%; outline: none; }
.mgx-step .mgx-controls { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center;
  margin: .4rem 0; }
.mgx-step .mgx-slider { flex: 1; min-width: 8rem; }
.mgx-step .mgx-equation { background: #f6f6f6; padding: .5rem; border-radius: 4px; margin: 0;
  min-height: 2.4em; max-height: 14em; overflow: auto; font-size: 13px; white-space: pre; }
.mgx-step .mgx-graph-box { overflow: auto; border: 1px solid #ddd; margin-top: .4rem;
  max-height: 70vh; max-width: 100%; }
.mgx-step .mgx-graph-box.fit svg { max-width: 100%; height: auto; }
.mgx-step .mgx-table summary { cursor: pointer; color: #555; }
.mgx-step svg text { font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  fill: #222; }
.mgx-step g.node rect, .mgx-step g.node circle { stroke: #777; stroke-width: 1; }
.mgx-step g.node.op text { font-size: 10px; }
.mgx-step g.node.pending { opacity: 0.3; }
.mgx-step g.node.current rect, .mgx-step g.node.current circle { stroke: #d62728;
  stroke-width: 3; }
.mgx-step g.node.child rect, .mgx-step g.node.child circle { stroke: #ff7f0e; stroke-width: 3; }
.mgx-step path.on { stroke: #d62728; stroke-width: 2; }
</style>
<div class="mgx-title"><b>{title}</b></div>
{static}
<script type="text/html" class="mgx-live">{live}</script>
<details class="mgx-table"><summary>the whole pass as text</summary><pre>{table}</pre></details>
<script type="application/json" class="mgx-data">{data}</script>
<script>{script}</script>
</div>"""

_LIVE = """<div class="mgx-controls">
  <button class="mgx-previous" title="left arrow">&#9664; previous</button>
  <button class="mgx-next" title="right arrow">next &#9654;</button>
  <input class="mgx-slider" type="range" min="0" max="{max}" value="0" aria-label="step">
  <span class="mgx-position">step 0 of {max}</span>
  <label><input class="mgx-fit" type="checkbox"{checked}> fit to width</label>
</div>
<pre class="mgx-equation">{first}</pre>
<div class="mgx-graph-box{fit}">{svg}</div>"""

_SCRIPT = """(function () {
  "use strict";
  const root = document.getElementById("{uid}");
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  const data = JSON.parse(root.querySelector("script.mgx-data").textContent);
  // The interactive part replaces the still picture (kept for where scripts do not run).
  const live = document.createElement("div");
  live.className = "mgx-live";
  live.innerHTML = root.querySelector("script.mgx-live").textContent;
  const still = root.querySelector(".mgx-static");
  if (still) still.replaceWith(live);
  else root.querySelector("script.mgx-live").after(live);
  const steps = data.steps;
  const $ = (selector) => root.querySelector(selector);
  const slider = $(".mgx-slider"), box = $(".mgx-graph-box"), equation = $(".mgx-equation");
  const nodes = {}, gradTexts = {}, opOf = {}, edgesOf = {};
  for (const g of root.querySelectorAll("g.node")) {
    nodes[g.dataset.id] = g;
    const t = g.querySelector("text.grad");
    if (t) gradTexts[g.dataset.id] = t;
    if (g.dataset.owner) opOf[g.dataset.owner] = g;
  }
  for (const p of root.querySelectorAll("g.mgx-edges path")) {
    (edgesOf[p.dataset.h] = edgesOf[p.dataset.h] || []).push(p);
  }
  let current = 0, lit = [], litEdges = [];
  function follow(g) {  // scroll the picture (not the page) so the current box is in view
    if (box.classList.contains("fit")) return;
    const b = g.getBoundingClientRect(), c = box.getBoundingClientRect();
    box.scrollLeft += (b.left + b.width / 2) - (c.left + c.width / 2);
    box.scrollTop += (b.top + b.height / 2) - (c.top + c.height / 2);
  }
  function show(i) {
    current = Math.max(0, Math.min(steps.length - 1, i));
    const texts = Object.assign({}, data.start);
    const reached = new Set([data.root]);
    for (let k = 0; k <= current; k++) {
      reached.add(steps[k].n);
      for (const [id, text] of steps[k].u) { texts[id] = text; reached.add(id); }
    }
    for (const g of lit) g.classList.remove("current", "child");
    for (const p of litEdges) p.classList.remove("on");
    lit = []; litEdges = [];
    for (const [id, g] of Object.entries(nodes)) {
      if (!g.dataset.owner) g.classList.toggle("pending", !reached.has(id));
      const t = gradTexts[id];
      if (t && texts[id] !== undefined && t.textContent !== texts[id]) t.textContent = texts[id];
    }
    const step = steps[current];
    if (step) {
      const g = nodes[step.n];
      if (g) { g.classList.add("current"); lit.push(g); }
      if (opOf[step.n]) { opOf[step.n].classList.add("current"); lit.push(opOf[step.n]); }
      for (const id of step.c) {
        if (nodes[id]) { nodes[id].classList.add("child"); lit.push(nodes[id]); }
      }
      for (const p of edgesOf[step.n] || []) { p.classList.add("on"); litEdges.push(p); }
      equation.textContent = step.e;
      if (g) follow(g);
    }
    slider.value = String(current);
    $(".mgx-position").textContent = "step " + current + " of " + (steps.length - 1);
    root.dataset.step = String(current);
    root.dataset.current = step ? step.n : "";
  }
  $(".mgx-previous").addEventListener("click", () => show(current - 1));
  $(".mgx-next").addEventListener("click", () => show(current + 1));
  slider.addEventListener("input", () => show(Number(slider.value)));
  $(".mgx-fit").addEventListener("change", (event) => {
    box.classList.toggle("fit", event.target.checked);
    show(current);
  });
  function onKey(event) {
    if (event.target && event.target.tagName === "INPUT" && event.target.type !== "range") return;
    if (event.key === "ArrowLeft") show(current - 1);
    else if (event.key === "ArrowRight") show(current + 1);
    else return;
    event.preventDefault();
    event.stopPropagation();
  }
  // In a notebook the keys work while the step-through has the focus (click it); on its own
  // page, anywhere.
  root.addEventListener("keydown", onKey);
  if (root.id === "mgx-page") document.addEventListener("keydown", (event) => {
    if (!root.contains(event.target)) onKey(event);
  });
  root.addEventListener("click", (event) => {
    if (!(event.target instanceof HTMLInputElement)) root.focus({preventScroll: true});
  });
  show(0);
})();"""
