"""The scene: every picture of a backward pass reads one model, computed once, in Python.

Recording (what happened) -> scene (boxes, edges, every step's state) -> renderers (the page's SVG
and script, the text frames, the Graphviz frames). These tests check that the scene's states are
right, that the page carries all of them and its script only looks them up, that a renderer
needs nothing but a scene, and the keywords renamed across viz.
"""

from __future__ import annotations

import ast
import json
import re
import unicodedata
from pathlib import Path

import pytest

from microgradx import losses
from microgradx.nn import MLP
from microgradx.viz import draw_graph, page, trace_backward
from microgradx.viz.layout import place
from microgradx.viz.scene import Box, Edge, Scene, Step, build
from microgradx.viz.style import short
from microgradx.viz.text import text_frame, text_frames

from .browser import launch, require_browser
from .hostile import SHOWN, hostile_graph
from .test_trace import _lecture

PACKAGE = Path(__file__).resolve().parent.parent / "microgradx"


def _moons_loss():
    model = MLP(2, [4, 3, 1], seed=0)
    return losses.bce_with_logits(model([0.5, -1.0]), 1)


def _page_json(text: str) -> dict:
    block = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', text, re.S)
    assert block is not None
    return json.loads(block.group(1))


def _at(flat: list, i: int):
    """The page script's lookup, in Python: the last value whose step is at or before ``i``."""
    found = flat[1]
    for k in range(0, len(flat), 2):
        if flat[k] > i:
            break
        found = flat[k + 1]
    return found


def _shown_by_the_page(data: dict, i: int) -> tuple[dict[str, str], dict[str, str]]:
    marks = {e: data["marks"][_at(flat, i)] for e, flat in data["looks"].items()}
    return {e: m for e, m in marks.items() if m}, {e: _at(f, i) for e, f in data["texts"].items()}


# ---- the states are right, and computed once --------------------------------------------------


def test_every_value_box_shows_the_gradient_so_far_and_is_pending_until_reached():
    *_, loss = _lecture()
    trace = trace_backward(loss)
    scene = trace.scene
    for i in range(len(trace)):
        marks, texts = scene.state(i)
        grads = trace.grads_after(i)
        reached = {loss} | {c.child for s in trace.steps[: i + 1] for c in s.contributions}
        for k, node in enumerate(trace.order):
            assert texts[f"v{k}"] == f"grad {short(grads[node])}"
            assert (marks.get(f"v{k}") == "pending") == (node not in reached)
        assert marks[f"v{trace[i].position}"] == "current"
        assert marks[f"o{trace[i].position}"] == "current"  # the op of the current value
        for c in trace[i].contributions:
            assert marks[f"v{trace.order.index(c.child)}"] == "child"


@pytest.mark.parametrize("level", ["op", "neuron", "layer"])
def test_the_page_holds_every_steps_state_and_the_scene_computes_it_once(level, monkeypatch):
    trace = trace_backward(_moons_loss(), level=level)
    data = trace.page_data(layout="python")
    shown = _page_json(page.fragment(data))
    assert len(shown["steps"]) == len(trace)
    for i in range(len(trace)):
        assert _shown_by_the_page(shown, i) == data.scene.state(i)
        assert shown["steps"][i]["n"] == data.scene.steps[i].node
    # The scene is built once per trace: every later picture reuses it.
    calls = []
    monkeypatch.setattr(
        "microgradx.viz.trace.backward_scene", lambda *a: calls.append(a) or pytest.fail()
    )
    assert trace.scene is data.scene
    trace.html_page(layout="python")
    trace.frame_text(0)
    assert not calls


def test_the_still_picture_is_the_scenes_state():
    *_, loss = _lecture()
    data = trace_backward(loss).page_data(layout="python")
    for i in range(len(data.steps)):
        svg = page.standalone_svg(data, i)
        marks, _ = data.scene.state(i)
        drawn = {
            box: mark for mark, box in re.findall(r'class="node \w+ (\w+)" data-id="(\w+)"', svg)
        }
        drawn |= {e: m for e, m in re.findall(r'<path data-id="(\w+)" class="(\w+)"', svg)}
        assert drawn == marks


# ---- the script shows; it does not compute ----------------------------------------------------


def test_the_page_script_only_looks_states_up():
    """An architecture test: the script reads the scene's states and computes nothing from them
    (no arithmetic on numbers it shows, no folding of steps into a state of its own)."""
    script = page._SCRIPT
    # Every field the script reads from the data is a state, the step's box or its equation.
    assert set(re.findall(r"\bdata\.(\w+)", script)) == {"fit", "marks", "steps", "looks", "texts"}
    assert set(re.findall(r"\bstep\.(\w+)", script)) == {"n", "e", "c"}
    # Nothing that would parse, format or combine the gradients it shows.
    for forbidden in ("parseFloat", "parseInt", "toFixed", "toPrecision", "hypot", "Math.abs"):
        assert forbidden not in script
    # No state of its own: no set of reached boxes, no texts folded from the steps' updates.
    for folding in ("reached", "Object.assign", "updates", ".u)", ".c)"):
        assert folding not in script
    # What it looks up goes to the page as it is: no operator touches it.
    uses = [line for line in script.splitlines() if "at(flat, current)" in line]
    assert len(uses) == 2 and not any(re.search(r"[-+*/%]", line) for line in uses), uses


# ---- a renderer needs nothing but a scene -----------------------------------------------------


def _hand_made_scene() -> Scene:
    """A scene written by hand: no Value, no recording, no trace."""
    boxes = [
        Box("x", ["x", "data 2", "grad 0"], grad_line=2),
        Box("y", ["y", "data 3", "grad 0"], grad_line=2),
        Box("f", ["f", "data 6", "grad 1"], grad_line=2),
        Box("m", ["*"], kind="op", owner="f"),
    ]
    edges = [Edge("x", "m", owner="f"), Edge("y", "m", owner="f"), Edge("m", "f", owner="f")]
    steps = [Step("f", ("x", "y"), (("x", "grad 3"), ("y", "grad 2")), "df/dx = 3, df/dy = 2")]
    return build("f = x * y", boxes, edges, "f", {b.id: b.lines[2] for b in boxes[:3]}, steps, "")


def test_the_text_renderer_works_from_a_scene_alone():
    scene = _hand_made_scene()
    assert text_frame(scene, 0) == "\n".join(
        [
            "step 1 of 1",
            "df/dx = 3, df/dy = 2",
            "< x  data 2  grad 3  (gets gradient)",
            "< y  data 3  grad 2  (gets gradient)",
            "> f  data 6  grad 1  (current)",
        ]
    )
    assert text_frames(scene) == text_frame(scene, -1)
    with pytest.raises(ValueError, match=r"i must be an int in \[-1, 0\], got 1"):
        text_frame(scene, 1)
    with pytest.raises(TypeError, match="scene must be a Scene, got str"):
        text_frame("scene", 0)  # type: ignore[arg-type]
    # and the page renders the same hand-made scene
    laid_out = place(scene.boxes, scene.edges, layout="python")
    assert 'data-id="m"' in page.document(page.PageData(scene, laid_out))


def test_a_traces_text_frames_mark_what_the_page_marks():
    *_, loss = _lecture()
    trace = trace_backward(loss)
    first = trace.frame_text(0).splitlines()
    assert first[0] == "step 1 of 2" and first[1:3] == trace.equation(0).splitlines()
    rows = {line[2:].split()[0]: line for line in first[3:]}
    assert rows["L"].startswith("> ") and rows["L"].endswith("(current)")
    assert rows["c"].startswith("< ") and "grad 1" in rows["c"]
    assert rows["b"].startswith(". ") and rows["b"].endswith("(not reached yet)")
    last = {line[2:].split()[0]: line for line in trace.frame_text(-1).splitlines()[3:]}
    assert "grad -2" in last["a"] and last["L"].startswith("  ")


def test_text_frames_write_hostile_labels_out_and_run_nothing_in_a_terminal():
    trace = trace_backward(hostile_graph())
    text = "\n".join(trace.frame_text(i) for i in range(len(trace)))
    hidden = {c for c in text if not (c.isprintable() or c == "\n" or c in "\u200c\u200d")}
    assert not {c for c in hidden if unicodedata.category(c) != "Zs"}  # no ESC, no bidi override
    shown = [line[2:].split("  ")[0] for line in text.splitlines() if line[:2] in ("> ", "< ")]
    assert set(SHOWN.values()) & set(shown)


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("microgradx")}


def test_renderers_and_the_scene_import_no_recording_code():
    recording = {"microgradx.engine", "microgradx.viz.record", "microgradx.viz.levels"}
    recording |= {"microgradx.viz.steps", "microgradx.viz.trace", "microgradx.nn"}
    for module in ("scene", "text", "page", "layout"):
        found = _imports(PACKAGE / "viz" / f"{module}.py")
        assert not found & recording, (module, found & recording)


# ---- one keyword per idea -----------------------------------------------------------------------


def test_renamed_keywords_give_a_one_line_error_naming_the_new_one(tmp_path):
    *_, loss = _lecture()
    trace = trace_backward(loss)
    with pytest.raises(TypeError, match=r"^draw_graph\(\) takes level= now, not collapse=$"):
        draw_graph(loss, collapse="layer")
    for name in ("page_data", "html_page", "widget"):
        with pytest.raises(TypeError, match=rf"^{name}\(\) takes layout= now, not engine=$"):
            getattr(trace, name)(engine="python")
    with pytest.raises(TypeError, match=r"^to_html\(\) takes layout= now, not engine=$"):
        trace.to_html(tmp_path / "t.html", engine="python")
    assert not (tmp_path / "t.html").exists()
    with pytest.raises(TypeError, match=r"^place\(\) takes layout= now, not engine=$"):
        place([], [], engine="python")
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'colour_by'"):
        draw_graph(loss, colour_by="grad")
    # the new words work, and mean what trace_backward's level means
    assert draw_graph(loss, level="op").source == draw_graph(loss).source
    assert trace.page_data(layout="python").layout.used == "python"


# ---- in a real browser --------------------------------------------------------------------------


def test_the_browser_shows_exactly_the_scenes_state_at_every_step(tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    trace = trace_backward(_moons_loss(), level="neuron")
    data = trace.page_data(layout="python")
    path = trace.to_html(tmp_path / "page.html", layout="python")
    read = """() => {
      const marks = {}, texts = {};
      for (const e of document.querySelectorAll("g.node, g.mgx-edges path")) {
        const m = ["pending", "current", "child", "on"].filter(c => e.classList.contains(c));
        if (m.length) marks[e.dataset.id] = m.join(" ");
        const t = e.querySelector && e.querySelector("text.grad");
        if (t) texts[e.dataset.id] = t.textContent;
      }
      return [marks, texts];
    }"""
    with sync_playwright() as p:
        browser = launch(p)
        page_ = browser.new_page()
        page_.goto(path.as_uri())
        order = [*range(len(trace)), len(trace) // 2, 0, len(trace) - 1, 1]
        for i in order:  # forwards, then jumps both ways
            page_.fill(".mgx-slider", str(i))
            marks, texts = page_.evaluate(read)
            assert (marks, texts) == tuple(map(dict, data.scene.state(i))), i
        browser.close()
