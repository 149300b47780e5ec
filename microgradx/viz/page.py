"""The step-through page: one picture, one script, per-step changes as data.

One implementation serves three places:

* ``document(...)``: a whole self-contained HTML page (``trace.to_html``), for any browser, offline;
* ``fragment(...)``: the same page as a ``<div>`` for a notebook output (``trace.widget()`` and a
  trace's own display). Its script needs no kernel, so it keeps working after the notebook is
  saved, the kernel shut down and the notebook reopened, and in ``jupyter nbconvert --to html``;
* ``mimebundle(...)``: that fragment, plus frame 0's picture (``image/svg+xml``) and the step table
  (``text/plain``) for front ends that run no scripts (an untrusted notebook, GitHub's viewer).

The page renders a ``viz.scene.Scene``: the picture is drawn once (``viz.layout``), already
showing step 0, and the scene's states travel as data: per box and edge, its looks (mark and grad
line) by step; per step, the equation. The script only looks them up and shows them (no state is
derived and no number computed in the page): nothing is laid out again, so boxes never move.

Nothing a user writes (a label) can run script or break the page: it is assembled once, from
parts, with every user text escaped where it is written (``markup.escape``; nothing inserted is
scanned again); the steps are ``markup.script_json`` (no ``<``, ``>`` or ``&`` at all); the picture
is a data block the script parses as XML; and the script writes every text with ``textContent``.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from microgradx.viz.layout import PICTURE_CSS, Layout
from microgradx.viz.markup import escape, script_json, visible
from microgradx.viz.scene import MARKS, Scene, Step, step_counter
from microgradx.viz.style import BORDER, CHILD, CURRENT, lecture_text


@dataclass(frozen=True)
class PageData:
    """A scene and its layout: everything the step-through page shows. ``fit``: the picture
    starts scaled to the output's width (the default: every drawing fits); False starts it at
    full size, scrolling and following the current box (the page's "fit to width" box)."""

    scene: Scene
    layout: Layout
    fit: bool = True

    @property
    def title(self) -> str:
        return self.scene.title

    @property
    def steps(self) -> Sequence[Step]:
        return self.scene.steps

    @property
    def table(self) -> str:
        return self.scene.table

    def state(self, i: int) -> tuple[dict[str, str], dict[str, str]]:
        """The marks and grad lines after step ``i``: the scene's (what the script shows)."""
        return self.scene.state(i)


_UID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}\Z")
# What would end a <script> data block or switch the HTML parser into its script-escaped
# states; the picture block is markup this package writes with every user text escaped, so none
# of these can be in it, and _data_block checks that they are not.
_SCRIPT_STATES = re.compile(r"<(?:!--|/?script)", re.IGNORECASE)


def _data_block(markup: str) -> str:
    if _SCRIPT_STATES.search(markup):
        raise AssertionError("a picture for the step-through page contains <script or <!--")
    return markup


def fragment(page: PageData, uid: str | None = None, *, static: bool = True) -> str:
    """The page as a ``<div>`` with its own picture, data and script (a notebook output).

    The picture travels inside a ``<script type="image/svg+xml">`` (a data block, which a
    sanitizer drops whole) and the steps in a ``<script type="application/json">``; the script
    parses the picture as XML, builds the controls with DOM calls and sets every text with
    ``textContent``, so no user text is ever parsed as HTML. Where no script runs (an untrusted
    notebook: JupyterLab strips scripts, inline SVG and styles), what remains is ``static``:
    step 0's equation, its picture as an ``<img>``, and the whole pass as text.

    Every text from the user (labels) is escaped once, where it is written; nothing inserted is
    scanned again. ``uid``: the element id (letters, digits, ``-`` and ``_``; a ValueError
    otherwise), a fresh one by default.
    """
    if uid is None:
        uid = "mgx-" + uuid.uuid4().hex[:12]
    elif not isinstance(uid, str) or not _UID.match(uid):
        raise ValueError(f"uid must be a letter then up to 63 letters, digits, - or _, got {uid!r}")
    classes, texts = page.state(0)
    n = len(page.steps)
    svg = page.layout.svg(
        classes=classes, texts=texts, marker_id=f"{uid}-arrow", names=lecture_text
    )
    data = {
        "fit": page.fit,
        "marks": ["", *MARKS],
        "steps": [
            {"n": s.node, "e": _equation(s.equation), "c": step_counter(i, n)}
            for i, s in enumerate(page.steps)
        ],
        **_looks(page.scene),
    }
    first = escape(lecture_text(page.steps[0].equation), newlines=True) if page.steps else ""
    parts = [
        f'<div class="mgx-step" id="{uid}" tabindex="0">',
        f"<style>{_CSS}</style>",
        f'<div class="mgx-title"><b>{escape(page.title)}</b></div>',
    ]
    if static:
        picture = base64.b64encode(standalone_svg(page, 0).encode("utf-8")).decode("ascii")
        parts.append(
            f'<div class="mgx-static"><pre class="mgx-equation">{first}</pre>'
            f'<img alt="{step_counter(0, len(page.steps))}" style="max-width: 100%"'
            f' src="data:image/svg+xml;base64,{picture}"></div>'
        )
    parts += [
        f'<script type="image/svg+xml" class="mgx-picture">{_data_block(svg)}</script>',
        '<details class="mgx-table"><summary>the whole pass as text</summary>'
        f"<pre>{escape(page.table, newlines=True)}</pre></details>",
        f'<script type="application/json" class="mgx-data">{script_json(data)}</script>',
        f"<script>({_SCRIPT})({script_json(uid)});</script>",
        "</div>",
    ]
    return "\n".join(parts)


def _looks(scene: Scene) -> dict[str, dict[str, list[Any]]]:
    """The scene's states, compactly: per element, its marks as a flat list ``[since, mark,
    since, mark, ...]`` (a mark by its place in ``["", *MARKS]``; an element never marked is
    left out), and per box with a grad line its texts as ``[since, text, ...]``."""
    code = {mark: k for k, mark in enumerate(["", *MARKS])}
    marks: dict[str, list[Any]] = {}
    texts: dict[str, list[Any]] = {}
    for element, looks in scene.states.items():
        flat: list[Any] = []
        for look in looks:
            if not flat or flat[-1] != code[look.mark]:
                flat += [look.since, code[look.mark]]
        if flat != [0, 0]:
            marks[element] = flat
        if looks[0].text is not None:
            written: list[Any] = []
            for look in looks:
                text = visible(look.text or "")
                if not written or written[-1] != text:
                    written += [look.since, text]
            texts[element] = written
    return {"looks": marks, "texts": texts}


def standalone_svg(page: PageData, i: int) -> str:
    """Step ``i``'s picture as a stand-alone SVG document (its styles inside)."""
    classes, texts = page.state(i)
    return page.layout.svg(classes=classes, texts=texts, style=_CSS_STATIC, names=lecture_text)


def _equation(text: str) -> str:
    """A step's equation as the page shows it: the lectures' names with raised and lowered
    indices (a²₁ for a2_1: ``style.lecture_text``), invisible characters written out."""
    return visible(lecture_text(text), newlines=True)


def document(page: PageData) -> str:
    """A whole self-contained HTML page (inline SVG, CSS and JS; nothing from the network)."""
    body = fragment(page, uid="mgx-page", static=False)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(page.title)}</title>\n<style>body {{ margin: 1rem; }}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def mimebundle(page: PageData) -> dict[str, str]:
    """The fragment for front ends that run it; frame 0 and the table for those that do not."""
    return {
        "text/html": fragment(page),
        "image/svg+xml": standalone_svg(page, 0),
        "text/plain": visible(page.table, newlines=True),  # no terminal escapes, either
    }


class StepPage:
    """A page in a notebook: displays as the interactive fragment (with its fallbacks)."""

    def __init__(self, page: PageData) -> None:
        self.page = page

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return mimebundle(self.page)

    def __repr__(self) -> str:
        return f"<step-through page: {self.page.title}, {len(self.page.steps)} steps>"


# The look of a box in each state: the stand-alone picture's rules (viz.layout).
_CSS_STATIC = PICTURE_CSS

_CSS = f"""
.mgx-step {{ font-family: system-ui, sans-serif; color: #222; max-width: 100%; outline: none; }}
.mgx-step .mgx-controls {{ display: flex; flex-wrap: wrap; gap: .5rem; align-items: center;
  margin: .4rem 0; }}
.mgx-step .mgx-slider {{ flex: 1; min-width: 8rem; }}
.mgx-step .mgx-equation {{ background: #f6f6f6; padding: .5rem; border-radius: 4px; margin: 0;
  min-height: 2.4em; max-height: 14em; overflow: auto; font-size: 13px; white-space: pre; }}
.mgx-step .mgx-graph-box {{ overflow: auto; border: 1px solid #ddd; margin-top: .4rem;
  max-height: 70vh; max-width: 100%; }}
.mgx-step .mgx-graph-box.fit svg {{ max-width: 100%; height: auto; }}
.mgx-step .mgx-graph-box:not(.fit) svg {{ max-width: none; }}
.mgx-step .mgx-table summary {{ cursor: pointer; color: #555; }}
.mgx-step svg text {{ font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  fill: #222; }}
.mgx-step g.node rect, .mgx-step g.node circle {{ stroke: {BORDER}; stroke-width: 1; }}
.mgx-step g.node.op text {{ font-size: 10px; }}
.mgx-step g.node.pending {{ opacity: 0.3; }}
.mgx-step g.node.current rect, .mgx-step g.node.current circle {{ stroke: {CURRENT};
  stroke-width: 3; }}
.mgx-step g.node.child rect, .mgx-step g.node.child circle {{ stroke: {CHILD};
  stroke-width: 3; }}
.mgx-step path.on {{ stroke: {CURRENT}; stroke-width: 2; }}
"""

# The step-through's script, a function of the root element's id. It reads the steps from the JSON
# block and the picture from its data block (parsed as XML: markup, never run), builds the
# controls with DOM calls and writes every text with textContent.
_SCRIPT = """function (uid) {
  "use strict";
  const root = document.getElementById(uid);
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  const data = JSON.parse(root.querySelector("script.mgx-data").textContent);
  const steps = data.steps;
  const block = root.querySelector("script.mgx-picture");
  const parsed = new DOMParser().parseFromString(block.textContent, "image/svg+xml");
  if (parsed.getElementsByTagName("parsererror").length) {  // never expected: say so, visibly
    const failed = document.createElement("p");
    failed.textContent = "the picture could not be read; the whole pass is below as text";
    block.after(failed);
    return;
  }
  function make(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }
  const previous = make("button", "mgx-previous", "\u25c0 previous");
  previous.title = "left arrow";
  const next = make("button", "mgx-next", "next \u25b6");
  next.title = "right arrow";
  const slider = make("input", "mgx-slider");
  slider.type = "range";
  slider.min = "0";
  slider.max = String(Math.max(0, steps.length - 1));
  slider.value = "0";
  slider.setAttribute("aria-label", "step");
  const position = make("span", "mgx-position");
  const fitBox = make("input", "mgx-fit");
  fitBox.type = "checkbox";
  fitBox.checked = Boolean(data.fit);
  const fitLabel = make("label");
  fitLabel.append(fitBox, " fit to width");
  const controls = make("div", "mgx-controls");
  controls.append(previous, next, slider, position, fitLabel);
  const equation = make("pre", "mgx-equation");
  const box = make("div", data.fit ? "mgx-graph-box fit" : "mgx-graph-box");
  box.append(document.importNode(parsed.documentElement, true));
  // The interactive part replaces the still picture (kept for where scripts do not run).
  const live = make("div", "mgx-live");
  live.append(controls, equation, box);
  const still = root.querySelector(".mgx-static");
  if (still) still.replaceWith(live);
  else block.after(live);
  // Every box and edge by its id; the grad line of each box that has one.
  const elements = {}, gradTexts = {};
  for (const g of root.querySelectorAll("g.node")) {
    elements[g.dataset.id] = g;
    const t = g.querySelector("text.grad");
    if (t) gradTexts[g.dataset.id] = t;
  }
  for (const p of root.querySelectorAll("g.mgx-edges path")) elements[p.dataset.id] = p;
  let current = 0;
  const drawn = {};  // the mark each element shows now (set by show; the picture has step 0's)
  function follow(g) {  // scroll the picture (not the page) so the current box is in view
    if (box.classList.contains("fit")) return;
    const b = g.getBoundingClientRect(), c = box.getBoundingClientRect();
    box.scrollLeft += (b.left + b.width / 2) - (c.left + c.width / 2);
    box.scrollTop += (b.top + b.height / 2) - (c.top + c.height / 2);
  }
  // An element's marks and a box's grad lines are flat lists [since step, value, ...] in step
  // order, computed by the scene in Python: the one shown at step i is the last that starts at
  // or before it. Nothing else is worked out here.
  function at(flat, i) {
    let found = flat[1];
    for (let k = 0; k < flat.length && flat[k] <= i; k += 2) found = flat[k + 1];
    return found;
  }
  function show(i) {
    current = Math.max(0, Math.min(steps.length - 1, i));
    for (const [id, flat] of Object.entries(data.looks)) {
      const element = elements[id], mark = data.marks[at(flat, current)];
      if (!element || drawn[id] === mark) continue;  // the DOM already shows it
      drawn[id] = mark;
      for (const name of data.marks) if (name) element.classList.toggle(name, name === mark);
    }
    for (const [id, flat] of Object.entries(data.texts)) {
      const t = gradTexts[id], text = at(flat, current);
      if (t && t.textContent !== text) t.textContent = text;
    }
    const step = steps[current];
    if (step) {
      equation.textContent = step.e;
      if (elements[step.n]) follow(elements[step.n]);
    }
    slider.value = String(current);
    position.textContent = step ? step.c : "";  // "step 1 of n": counted by the scene
    root.dataset.step = String(current);
    root.dataset.current = step ? step.n : "";
  }
  previous.addEventListener("click", () => show(current - 1));
  next.addEventListener("click", () => show(current + 1));
  slider.addEventListener("input", () => show(Number(slider.value)));
  fitBox.addEventListener("change", (event) => {
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
}"""
