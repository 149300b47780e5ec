"""Step-through of backprop: the recorded pass, its text, frames, the page, and a real browser."""

from __future__ import annotations

import gc
import html
import itertools
import json
import os
import random
import re
import shutil
import weakref
from pathlib import Path

import pytest
from hypothesis import given

from microgradx import Value, losses, nn
from microgradx.nn import MLP, Layer
from microgradx.testing import Expression, expressions
from microgradx.viz import draw_graph, levels, trace_backward, trace_forward
from microgradx.viz import layout as layout_module
from microgradx.viz import trace as trace_module
from microgradx.viz.page import StepPage
from microgradx.viz.style import lecture_text

from .browser import launch, require_browser


def _lecture():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    c.label = "c"
    L = c + a
    L.label = "L"
    return a, b, c, L


@given(expressions())
def test_recorded_gradients_equal_those_of_backward(expr: Expression):
    plain = [Value(x) for x in expr.inputs]
    expr(*plain).backward()
    traced = [Value(x) for x in expr.inputs]
    trace = trace_backward(expr(*traced))
    assert [v.grad for v in traced] == [v.grad for v in plain]
    last = trace.grads_after(len(trace) - 1)
    assert [last.get(v, 0.0) for v in traced] == [v.grad for v in plain]


def test_steps_and_the_chain_rule_lines():
    a, b, _, L = _lecture()
    trace = trace_backward(L)
    assert len(trace) == 2
    first, second = trace[0], trace[1]
    assert (first.name, first.op, first.upstream) == ("L", "+", 1.0)
    assert (second.name, second.op, second.upstream) == ("c", "*", 1.0)
    assert trace.equation(1) == (
        "dL/da += dL/dc * ∂c/∂a = 1.0000 * -3.0000 = -3.0000\n"
        "dL/db += dL/dc * ∂c/∂b = 1.0000 * 2.0000 = 2.0000"
    )
    a_in_step_1 = second.contributions[0]
    assert (a_in_step_1.grad_before, a_in_step_1.grad_after) == (1.0, -2.0)
    assert a.grad == -2.0 and b.grad == 2.0


def test_printed_trace_is_a_numbered_aligned_table():
    *_, L = _lecture()
    lines = str(trace_backward(L)).splitlines()
    assert lines[0] == "backward pass of L: 2 steps (dL/dL = 1)"
    assert lines[1].startswith("1  +") and lines[3].startswith("2  *")  # counted 1 to n
    assert lines[1].index("dL/") == lines[2].index("dL/") == lines[3].index("dL/")


def test_forward_trace_in_topological_order():
    *_, L = _lecture()
    trace = trace_forward(L)
    assert [s.equation for s in trace] == [
        "a = 2.0000",
        "b = -3.0000",
        "c = a * b = 2.0000 * -3.0000 = -6.0000",
        "L = c + a = -6.0000 + 2.0000 = -4.0000",
    ]
    assert str(trace).splitlines()[2] == "2  c = a * b = 2.0000 * -3.0000 = -6.0000"


def test_frame_shows_the_pass_halfway():
    *_, L = _lecture()
    trace = trace_backward(L)
    first = trace.frame(0).source
    assert "grad 1" in first and "#e6e6e6" in first  # b not reached yet: greyed
    assert first.count('COLOR="#d62728"') == 3  # L and its inputs c and a highlighted
    last = trace.frame(1).source
    assert "#e6e6e6" not in last and "grad -2" in last


def test_traced_leaves_accumulate_like_backward():
    a, _, _, L = _lecture()
    L.backward()
    trace_backward(L)
    assert a.grad == -4.0  # twice -2, as two backward() calls would give


def test_page_is_self_contained_and_escapes_labels(tmp_path):
    x = Value(1.5, label="<script>alert(1)</script>")
    y = (x * x).tanh()
    page = trace_backward(y).to_html(tmp_path / "trace.html").read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for forbidden in ("src=", 'href="http', "@import", "url(http", "http://", "https://"):
        assert forbidden not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count("<svg") == 1


def _moons_loss(seed: int = 0):
    model = MLP(2, [16, 16, 1], seed=seed)
    return model, losses.bce_with_logits(model([0.5, -1.0]), 1)


def test_mlp_loss_pages_stay_small(tmp_path):
    _, loss = _moons_loss()
    op = trace_backward(loss)
    assert len(op) > 600
    assert op.to_html(tmp_path / "op.html").stat().st_size <= 1_000_000
    neuron = trace_backward(loss, level="neuron")
    assert len(neuron) == 33 + 1  # 33 neurons and the loss (bce_with_logits, / 1: one step)
    assert neuron.to_html(tmp_path / "neuron.html").stat().st_size <= 300_000


def test_uses_the_same_notation_as_the_issue_and_brackets_names_that_are_not_identifiers():
    x1, w1 = Value(2.0, label="x1"), Value(-3.0, label="w1")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    s = x1w1 + 1.0
    s.label = "s"
    trace = trace_backward(s)
    first = trace.equation(0).splitlines()[0]
    assert first == "ds/d(x1*w1) += ds/ds * ∂s/∂(x1*w1) = 1.0000 * 1.0000 = 1.0000"
    # the local derivative is a ∂, never the same text as a gradient dL/d...
    pattern = re.compile(r"d\S+/d\S+ \+= d\S+/d\S+ \* ∂\S+/∂\S+ = ")
    assert all(pattern.search(line) for line in str(trace).splitlines()[1:])


# ---- neuron and layer levels --------------------------------------------------------------------


def test_a_layers_gradient_size_has_no_overflow_in_its_squares():
    """|grad| of a layer's outputs is their L2 norm: 1e200-sized gradients squared overflowed
    (float ** 2 raises OverflowError); hypot gives the norm."""
    model = MLP(2, [3, 2], seed=0)
    out = model([1.0, 2.0])
    trace = trace_backward((out[0] + out[1]) * 1e200, level="layer")
    shown = set(re.findall(r"\|grad\| ([0-9.e+]+)", trace.html_page()))
    assert "1.414e+200" in shown  # both outputs' gradients are 1e200: sqrt(2) * 1e200


@pytest.mark.parametrize("level", ["op", "neuron", "layer"])
def test_every_level_ends_with_exactly_the_gradients_of_backward(level):
    model, loss = _moons_loss()
    leaves = [n for n in trace_forward(loss).order if n.op is None]  # parameters and inputs
    loss.backward()
    expected = {leaf: leaf.grad for leaf in leaves}
    for leaf in leaves:
        leaf.grad = 0.0
    trace = trace_backward(loss, level=level)
    last = trace.grads_after(len(trace) - 1)
    assert len(expected) == len(model.parameters()) + 4  # 2 inputs, the target, a constant
    assert all(last[leaf] == g for leaf, g in expected.items())
    assert all(leaf.grad == g for leaf, g in expected.items())


def test_neuron_steps_show_delta_and_every_parameter_gradient_of_backward():
    model, loss = _moons_loss()
    loss.backward()
    expected = {p: p.grad for p in model.parameters()}
    model.zero_grad()
    trace = trace_backward(loss, level="neuron")
    neurons = [s for s in trace if isinstance(s, trace_module.NeuronStep)]
    assert len(neurons) == 33
    shown: dict[Value, float] = {}
    for step in neurons:
        assert step.delta == step.upstream * step.activation_grad
        for term in step.terms:
            assert term.weight_grad == step.delta * term.input.data  # dL/dw = δ x
            assert term.input_grad == step.delta * term.weight.data  # dL/dx += δ w
            shown[term.weight] = term.weight_grad
        assert step.bias is not None and step.bias_grad == step.delta  # dL/db = δ
        shown[step.bias] = step.bias_grad
    assert set(shown) == set(expected)
    assert all(shown[p] == g for p, g in expected.items())
    # consumers first: a neuron's step comes after the steps of every neuron that reads it
    index = {s.node: s.index for s in neurons}
    for step in neurons:
        for term in step.terms:
            if term.input in index:
                assert index[term.input] > step.index


def test_neuron_equation_is_written_in_the_lectures_terms():
    _, loss = _moons_loss()
    trace = trace_backward(loss, level="neuron")
    step = next(s for s in trace if isinstance(s, trace_module.NeuronStep))
    lines = trace.equation(step.index).splitlines()
    # a^l_j, z^l_j, δ^l_j, w^l_jk, b^l_j as a3_1, z3_1, δ3_1, w3_1_2, b3_1 (layer 3, neuron 1)
    assert lines[0] == "neuron a3_1, the output layer (linear): a3_1 = z3_1 = w3_1·a2 + b3_1"
    assert lines[1] == f"δ3_1 = ∂L/∂a3_1 = {step.delta:.4f}   [{levels.BP1}]"
    hidden = next(s for s in trace if getattr(s, "activation", None) == "tanh")
    assert (hidden.name, hidden.module, hidden.tag) == ("a2_1", "layers.1.neurons.0", "2_1")
    lines = trace.equation(hidden.index).splitlines()
    assert lines[0] == "neuron a2_1, hidden layer 2: a2_1 = tanh(z2_1), z2_1 = w2_1·a1 + b2_1"
    # BP2: the one neuron after it sends w3_1_1 δ3_1
    assert lines[1].startswith("δ2_1 = (w3_1_1 δ3_1) * tanh'(z2_1) = (")
    assert lines[1].endswith(f"[{levels.BP2}]")
    assert lines[2].startswith("∂L/∂w2_1_1 += a1_1 δ2_1 = ") and lines[2].endswith(
        f"[{levels.BP4}]"
    )
    assert any(line.startswith("∂L/∂b2_1 += δ2_1 = ") for line in lines)
    assert any(line.endswith(f"[{levels.BP3}]") for line in lines)
    assert lines[-1].startswith("∂L/∂a1_16 += w2_1_16 δ2_1 = ")
    first_layer = trace[len(trace) - 1]
    lines = trace.equation(first_layer.index).splitlines()
    assert lines[0].startswith("neuron a1_16, hidden layer 1: ")
    # sixteen neurons send it w δ: written as the sum
    assert lines[1].startswith("δ1_16 = (Σ_k w2_k_16 δ2_k) * tanh'(z1_16) = ")
    assert lines[2].startswith("∂L/∂w1_16_1 += x1 δ1_16 = ")  # the network's inputs are x1, x2


def test_layer_steps_are_modules_receiving_dL_da_and_returning_dL_dx():
    _, loss = _moons_loss()
    trace = trace_backward(loss, level="layer")
    layers = [s for s in trace if isinstance(s, trace_module.LayerStep)]
    assert [s.name for s in layers] == ["layers.2", "layers.1", "layers.0"]
    assert [len(s.neurons) for s in layers] == [1, 16, 16]
    assert trace[0].name == "L"  # the loss's ops, one step, then the layers
    assert isinstance(trace[0], trace_module.LossStep)
    lines = trace.equation(layers[0].index).splitlines()
    assert lines[0] == "layer 3, the output layer: 1 neuron, a3 = W3 a2 + b3 (linear), a2 = [" + (
        ", ".join(f"a2_{j}" for j in range(1, 17)) + "]"
    )
    assert lines[2].endswith(f"[{levels.BP1}]")
    lines = trace.equation(layers[1].index).splitlines()
    assert lines[0].startswith("layer 2, a hidden layer: 16 neurons, a2 = tanh(W2 a1 + b2), a1 = [")
    assert lines[1].startswith("receives ∂L/∂a2 = [")
    assert lines[2].startswith("δ2 = ((W3)ᵀ δ3) ⊙ tanh'(z2) = [")
    assert lines[2].endswith(f"[{levels.BP2}]")
    assert lines[3].startswith("∂L/∂W2 = δ2 a1ᵀ (16×16)")
    # what layer 1 returns is what layer 0 receives
    returned = lines[-1].split(" = ", 2)[-1]
    received = trace.equation(layers[2].index).splitlines()[1].split(" = ", 1)[1]
    assert returned == received


def test_bad_input_is_refused_with_what_to_do():
    with pytest.raises(TypeError, match="root must be a Value, got float"):
        trace_backward(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got a leaf"):
        trace_backward(Value(1.0))
    with pytest.raises(ValueError, match="level must be one of 'op', 'neuron', 'layer'"):
        trace_backward(Value(1.0) * 2, level="neurons")
    with pytest.raises(ValueError, match="use level='op'"):
        trace_backward((Value(1.0) * 2).tanh(), level="neuron")


def test_a_picture_too_big_for_its_level_says_which_level_to_use_before_laying_out(monkeypatch):
    def no_layout(*args, **kwargs):
        raise AssertionError("laid out a picture that was refused")

    monkeypatch.setattr(trace_module, "place", no_layout)
    monkeypatch.setattr(trace_module, "MAX_BOXES", 1000)
    _, loss = _moons_loss()
    with pytest.raises(
        ValueError, match="1625 boxes, more than 1000: step through it with level='neuron'"
    ):
        trace_backward(loss).to_html("never-written.html")
    assert not Path("never-written.html").exists()
    bundle = trace_backward(loss)._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "level='neuron'" in bundle["text/plain"]


def _box_names(svg: str) -> set[str]:
    """The first line of every box in the page's picture (its name)."""
    names = set(re.findall(r'<text class="name"[^>]*>([^<]*)</text>', svg))
    return {n.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">") for n in names}


@pytest.mark.parametrize("level", ["op", "neuron"])
def test_every_name_in_an_equation_is_a_box_in_the_picture(level):
    _, loss = _moons_loss()
    trace = trace_backward(loss, level=level)
    names = _box_names(trace.html_page())
    mentioned = set()
    for i in range(len(trace)):
        text = trace.equation(i)
        mentioned.update(re.findall(r"[d∂]\(([^)]*)\)", text))
        mentioned.update(
            re.findall(r"(?<![A-Za-z])[d∂]([A-Za-z_][A-Za-z0-9_]*)(?![\^A-Za-z0-9_])", text)
        )
        mentioned.update(re.findall(r"^neuron (\S+?)[:,]? ", text, flags=re.M))
        mentioned.update(re.findall(r"\+= (\S+) δ", text))  # ∂L/∂w += a δ, ∂L/∂a += w δ
    # a neuron's own z, b and weights (z2_1, b2_1, w2_1_3): inside its box
    mentioned = {m for m in mentioned if not re.fullmatch(r"[zbw][0-9_]+", m)}
    # the page writes the lectures' names with raised and lowered indices: a2_1 as a²₁
    mentioned = {lecture_text(m) for m in mentioned}
    assert mentioned and mentioned <= names, mentioned - names


def test_the_op_of_a_highlighted_input_is_not_highlighted():
    *_, L = _lecture()
    data = trace_backward(L).page_data()
    classes, _ = data.state(0)  # step 0: L passes to c and a
    assert classes["v3"] == "current" and classes["v2"] == "child"
    assert classes.get("o3") == "current"  # the + that made L is this step
    assert "o2" not in classes  # the * that made c is not
    source = trace_backward(L).frame(0).source  # the Graphviz drawing agrees
    op_of_c = re.search(r"\bo2 \[[^\]]*\]", source)
    assert op_of_c is not None and "#d62728" not in op_of_c.group()


def test_python_layout_places_every_box_without_overlap_in_a_column():
    _, loss = _moons_loss()
    data = trace_backward(loss, level="neuron").page_data(layout="python")
    assert data.layout.used == "python"
    boxes = data.layout.boxes
    columns: dict[float, list] = {}
    for box in boxes:
        columns.setdefault(round(box.x - box.width / 2), []).append(box)
    for column in columns.values():
        column.sort(key=lambda b: b.y)
        for upper, lower in itertools.pairwise(column):
            assert upper.y + upper.height / 2 <= lower.y - lower.height / 2
    assert all(len(e.points) >= 2 for e in data.layout.edges)


def test_jupyter_display_is_the_page_with_a_picture_and_text_for_where_scripts_do_not_run():
    *_, L = _lecture()
    trace = trace_backward(L)
    bundle = trace._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/svg+xml", "text/plain"}
    assert bundle["text/plain"] == str(trace)
    assert bundle["image/svg+xml"].startswith("<svg") and "<style>" in bundle["image/svg+xml"]
    assert 'class="node value current"' in bundle["image/svg+xml"]  # frame 0, drawn in
    html_part = bundle["text/html"]
    assert html_part.startswith('<div class="mgx-step"') and "<script>" in html_part
    assert "ipywidgets" not in html_part and "require(" not in html_part
    assert html.unescape(re.search(r"<pre>(.*?)</pre>", html_part, re.S).group(1)) == str(trace)
    widget = trace.widget()
    assert isinstance(widget, StepPage)
    assert set(widget._repr_mimebundle_()) == set(bundle)
    # two outputs of one trace in one notebook do not share element ids
    assert re.search(r'id="(mgx-[0-9a-f]+)"', html_part).group(1) != re.search(
        r'id="(mgx-[0-9a-f]+)"', widget._repr_mimebundle_()["text/html"]
    ).group(1)


def test_the_page_does_not_need_graphviz(monkeypatch, tmp_path):
    def no_renderer():
        raise layout_module.RendererNotFound("none here")

    monkeypatch.setattr(layout_module, "find_renderer", no_renderer)
    *_, L = _lecture()
    data = trace_backward(L).page_data()
    assert data.layout.used == "python"


# ---- in a real browser --------------------------------------------------------------------------


def _check(page, trace, i, expected_box):
    root = page.locator(".mgx-step")
    assert root.get_attribute("data-step") == str(i)
    # counted 1 to n for the reader: a 3-step pass reads "step 1 of 3" ... "step 3 of 3"
    assert page.inner_text(".mgx-position") == f"step {i + 1} of {len(trace)}"
    assert root.get_attribute("data-current") == expected_box
    current = page.evaluate(
        "[...document.querySelectorAll('g.node.current')].map(g => g.dataset.id)"
    )
    assert expected_box in current
    assert all(c == expected_box or c.startswith("o") for c in current)
    assert page.inner_text(".mgx-equation") == lecture_text(trace.equation(i))


def test_page_steps_with_buttons_slider_and_arrow_keys_in_chromium(tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    h = (a * b + a).tanh() * b
    h.label = "L"
    trace = trace_backward(h)
    page_path = trace.to_html(tmp_path / "trace.html")

    def check(page, i):
        _check(page, trace, i, f"v{trace[i].position}")

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(page_path.as_uri())
        check(page, 0)
        for i in range(1, len(trace)):  # next button
            page.click(".mgx-next")
            check(page, i)
        page.click(".mgx-next")  # stays at the last step
        check(page, len(trace) - 1)
        for i in reversed(range(len(trace) - 1)):  # left arrow key
            page.keyboard.press("ArrowLeft")
            check(page, i)
        page.keyboard.press("ArrowRight")
        check(page, 1)
        page.click(".mgx-previous")
        check(page, 0)
        for i in (len(trace) - 1, 1, 2):  # the slider
            page.fill(".mgx-slider", str(i))
            check(page, i)
        pending = page.evaluate("document.querySelectorAll('g.node.pending').length")
        page.fill(".mgx-slider", "0")
        assert page.evaluate("document.querySelectorAll('g.node.pending').length") > pending
        # fits a 1000 px wide window: nothing cut off at the right
        assert page.evaluate("document.documentElement.scrollWidth") <= 1000
        box = page.locator(".mgx-graph-box")
        assert box.evaluate("b => b.scrollWidth <= b.clientWidth")
        shot = tmp_path / "trace.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 1000
        browser.close()
    keep = os.environ.get("MICROGRADX_SCREENSHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / "trace.png")


def test_neuron_level_page_of_an_mlp_steps_through_every_neuron_in_chromium(tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    _, loss = _moons_loss()
    trace = trace_backward(loss, level="neuron")
    data = trace.page_data()
    page_path = trace.to_html(tmp_path / "neuron.html")
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(page_path.as_uri())
        for i in range(len(trace)):
            if i:
                page.keyboard.press("ArrowRight")
            _check(page, trace, i, data.steps[i].node)
            for box_id, text in data.steps[i].updates:  # the new gradients are on the boxes
                shown = page.locator(f'g.node[data-id="{box_id}"] text.grad').text_content()
                assert shown == text
        assert page.evaluate("document.documentElement.scrollWidth") <= 1000
        browser.close()


def test_op_level_page_of_an_mlp_follows_the_current_node_in_chromium(tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    _, loss = _moons_loss()
    trace = trace_backward(loss)
    page_path = trace.to_html(tmp_path / "op.html")
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(page_path.as_uri())
        assert page.is_checked(".mgx-fit")  # every drawing starts fitted to the width
        fitted = page.locator(".mgx-graph-box svg").bounding_box()
        assert fitted["width"] <= page.locator(".mgx-graph-box").bounding_box()["width"]
        page.uncheck(".mgx-fit")  # full size: too wide to see whole, so the page follows
        for i in (0, 100, 400, len(trace) - 1):
            page.fill(".mgx-slider", str(i))
            visible = page.evaluate(
                """() => {
                  const g = document.querySelector('g.node.current[data-id^="v"]');
                  const b = g.getBoundingClientRect();
                  const c = document.querySelector('.mgx-graph-box').getBoundingClientRect();
                  return b.left >= c.left && b.right <= c.right
                    && b.top >= c.top && b.bottom <= c.bottom;
                }"""
            )
            assert visible, f"step {i}: the current node is scrolled out of view"
        assert page.evaluate("document.documentElement.scrollWidth") <= 1000
        browser.close()


def test_steps_are_shown_counted_from_1_to_n_in_text_frames_graphviz_frames_and_the_table():
    """A 3-step pass reads "step 1 of 3" to "step 3 of 3" everywhere a reader sees a counter (the
    page said "step 2 of 2" on its last step); ``trace[i]`` stays a list's index."""
    *_, L = _lecture()
    trace = trace_backward(L * 1.0)  # L = (a * b) + c, times 1: three steps
    assert len(trace) == 3
    for i in range(3):
        assert trace.frame_text(i).splitlines()[0] == f"step {i + 1} of 3"
        assert f"step {i + 1} of 3" in trace.frame(i).source
    assert trace.frame_text(-1).splitlines()[0] == "step 3 of 3"
    rows = [line[:1] for line in str(trace).splitlines()[1:] if line[:1].strip()]
    assert rows == ["1", "2", "3"]
    steps = json.loads(re.search(r'mgx-data">(.*?)</script>', trace.html_page()).group(1))
    assert [s["c"] for s in steps["steps"]] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]


def test_a_step_is_counted_as_a_list_counts_it_and_refused_by_name_outside():
    x, w = Value(0.5, label="x"), Value(-1.5, label="w")
    trace = trace_backward((x * w).tanh())
    last = len(trace) - 1
    # frame(-1) used to draw the last step with nothing reached yet (steps[: -1 + 1] is empty)
    assert trace.frame(-1).source == trace.frame(last).source
    assert trace.equation(-1) == trace.equation(last)
    for call in (trace.equation, trace.frame, trace_forward(x * w).equation):
        with pytest.raises(ValueError, match=r"i must be an int in \[-\d+, \d+\], got 1000000000"):
            call(10**9)
        with pytest.raises(TypeError, match="i must be an int, got float"):
            call(1.0)
    assert trace.grads_after(-1) == trace.start  # -1: before the first step
    with pytest.raises(ValueError, match=f"i must be an int <= {last}"):
        trace.grads_after(last + 1)
    with pytest.raises(ValueError, match="i must be an int >= -1"):
        trace.grads_after(-2)
    with pytest.raises(TypeError, match="layout must be one of 'auto', 'dot', 'python'"):
        trace.page_data(layout=["python"])


def test_trace_backward_treats_leaf_grads_as_backward_does_and_undoes_a_failed_pass():
    from microgradx import Op, apply

    x, y = Value(1.5, label="x"), Value(2.0, label="y")
    x.grad = None  # PyTorch's set-to-None: 0
    trace_backward(x * y)
    assert x.grad == 2.0
    x.grad = "abc"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="grad of 'x'"):
        trace_backward(x * y)
    # an op of the user's that raises midway: every grad as it was
    boom = Op(
        name="boom",
        symbol="boom",
        arity=1,
        forward=lambda v: v,
        local_grads=lambda v, out: (1 / 0,),
        math="boom(x) = x",
        derivative="1",
    )
    x.grad, y.grad = 0.0, 0.25
    out = apply(boom, x) * y + x * y
    with pytest.raises(ZeroDivisionError):
        trace_backward(out)
    assert (x.grad, y.grad, out.grad) == (0.0, 0.25, 0.0)


def test_the_recorded_pass_takes_turns_with_backward_in_other_threads():
    """Found: trace_backward wrote the nodes' gradients without backward()'s lock, so a
    backward() in another thread reset the intermediate gradients the recorded pass was adding
    to (4 of 5 traces recorded wrong upstreams while another thread ran backward()). While the
    recorded pass runs (inside an op's rule here), another thread cannot start a pass."""
    import threading

    from microgradx import Op, apply
    from microgradx.engine import PASS_LOCK

    could_start: list[bool] = []

    def rule(v: float, out: float) -> tuple[float]:
        def other() -> None:  # a pass in another thread would take the lock first
            got = PASS_LOCK.acquire(blocking=False)
            if got:
                PASS_LOCK.release()
            could_start.append(got)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        return (1.0,)

    probe = Op(
        name="probe",
        symbol="probe",
        arity=1,
        forward=lambda v: v,
        local_grads=rule,
        math="probe(x) = x",
        derivative="1",
    )
    x = Value(0.5, label="x")
    out = apply(probe, (x * x).tanh()) * x
    trace = trace_backward(out)
    assert could_start == [False]
    want = Value(0.5)
    (apply(probe, (want * want).tanh()) * want).backward()
    assert x.grad == want.grad and len(trace.op_steps) == 4


# ---- the network's recorded structure ------------------------------------------------------------


def _two_three_one(label_output: bool = False, label_inputs: bool = False):
    model = MLP(2, [3, 1], seed=0)
    x = [Value(1.0, label="height"), Value(2.0, label="weight")] if label_inputs else [1.0, 2.0]
    a = model(x)
    if label_output:
        a.label = "a"
    return model, losses.mse(a, 0.5)


def test_a_labelled_output_keeps_its_neuron():
    """Labelling the output (a.label = "a") split its neuron into op steps named v36, v35, ...
    (7 neuron-level steps became 12): membership was read from the output's label."""
    _, plain = _two_three_one()
    _, labelled = _two_three_one(label_output=True)
    steps = trace_backward(labelled, level="neuron")
    assert len(steps) == len(trace_backward(plain, level="neuron")) == 5  # the loss, 4 neurons
    neurons = [s for s in steps if isinstance(s, trace_module.NeuronStep)]
    assert [n.name for n in neurons] == ["a", "a1_1", "a1_2", "a1_3"]  # the user's name is kept
    assert neurons[0].module == "layers.1.neurons.0" and len(neurons[0].terms) == 3
    assert (
        trace_backward(labelled, level="neuron")
        .equation(neurons[0].index)
        .startswith("neuron a, the output layer (linear): a = z2_1 = w2_1·a1 + b2_1")
    )
    by_neuron = draw_graph(labelled, level="neuron").source
    # four neuron boxes, labelled output or not: a (the user's name), a¹₁, a¹₂, a¹₃
    assert by_neuron.count(" neuron</TD>") == 4
    assert by_neuron.count("<TD>a</TD><TD>linear neuron</TD>") == 1


def test_labelled_inputs_keep_their_names_and_their_neurons():
    _, loss = _two_three_one(label_inputs=True)
    trace = trace_backward(loss, level="layer")
    layers = [s for s in trace if isinstance(s, trace_module.LayerStep)]
    assert [s.name for s in layers] == ["layers.1", "layers.0"]
    assert layers[1].input_names == ("height", "weight")


def _batch_loss():
    """A loss over a mini-batch of two examples: the model is called once per example."""
    model = MLP(2, [3, 1], seed=0)
    batch = [([1.0, 2.0], 0.5), ([0.5, -1.0], -0.5)]
    return model, sum(((model(x) - y) ** 2 for x, y in batch), Value(0.0)) / len(batch)


def test_a_mini_batch_loss_steps_example_by_example_neuron_by_neuron():
    """A sum over a mini-batch stepped at op level even with level="neuron": the weights are
    shared by the examples, and membership was read from labels."""
    model, loss = _batch_loss()
    loss.backward()
    expected = {p: p.grad for p in model.parameters()}
    model.zero_grad()
    trace = trace_backward(loss, level="neuron")
    neurons = [s for s in trace if isinstance(s, trace_module.NeuronStep)]
    assert len(neurons) == 8  # 4 neurons, twice
    # and one step for the loss's ops: /, +, + (sum starts at 0), **2 and - twice
    assert len(trace) == 8 + 1
    assert isinstance(trace[0], trace_module.LossStep) and len(trace[0].ops) == 7
    # the first neuron step is an output neuron's, its δ the output error
    assert neurons[0].name.startswith("a2_1[") and neurons[0].role == "output"
    examples = [n.name[-3:] for n in neurons]
    assert examples == ["[1]"] * 4 + ["[2]"] * 4 or examples == ["[2]"] * 4 + ["[1]"] * 4
    assert [n.module[:-3] for n in neurons[:4]] == [
        "layers.1.neurons.0",
        "layers.0.neurons.0",
        "layers.0.neurons.1",
        "layers.0.neurons.2",
    ]
    shown: dict[Value, float] = {}
    for step in neurons:  # every weight's gradient is the sum of its two examples' δ x
        for term in step.terms:
            shown[term.weight] = shown.get(term.weight, 0.0) + term.weight_grad
    last = trace.grads_after(len(trace) - 1)
    assert all(last[p] == g for p, g in expected.items())
    assert all(shown[p] == pytest.approx(g, rel=1e-12) for p, g in expected.items() if p in shown)
    layers = trace_backward(loss, level="layer")
    assert [s.name for s in layers if isinstance(s, trace_module.LayerStep)] in (
        ["layers.1[1]", "layers.0[1]", "layers.1[2]", "layers.0[2]"],
        ["layers.1[2]", "layers.0[2]", "layers.1[1]", "layers.0[1]"],
    )
    text = str(trace)  # the example's number in what each example computed, not in the weights
    assert "δ2_1[1] = ∂L/∂(a2_1[1]) = " in text
    assert "∂L/∂w2_1_1 += a1_1[2] δ2_1[2] = " in text
    assert "∂L/∂(a2_1[1]) = " in trace.equation(0)  # the loss sends each example's ∂L/∂a^L


def test_each_call_of_a_layer_on_its_own_is_an_example_of_its_own():
    layer = Layer(2, 2, "tanh", rng=random.Random(1))
    first, second = layer([1.0, 2.0]), layer([3.0, 4.0])
    trace = trace_backward(first[0] + first[1] + second[0] + second[1], level="layer")
    names = [s.name for s in trace if isinstance(s, trace_module.LayerStep)]
    assert sorted(names) == ["layer[1]", "layer[2]"]


class _TwoLayers(nn.Module):
    """A user's model: its own __call__, no Sequential."""

    def __init__(self):
        self.hidden = Layer(2, 2, rng=random.Random(0))
        self.out = Layer(2, 1, activation=None, rng=random.Random(1))
        self.label_parameters()

    def __call__(self, x):
        return self.out(self.hidden(x))[0]


def test_a_user_modules_call_is_one_example_and_each_call_of_it_one_more():
    def layer_names(loss):
        trace = trace_backward(loss, level="layer")
        return [s.name for s in trace if isinstance(s, trace_module.LayerStep)], trace

    net = _TwoLayers()
    names, trace = layer_names((net([0.1, 0.2]) - 1) ** 2)
    assert names == ["out", "hidden"]  # one example: no [1], [2]
    lines = [trace.equation(i).splitlines()[0] for i in range(len(trace))]
    assert (
        "layer 2, the output layer: 1 neuron, a2 = W2 a1 + b2 (linear), a1 = [a1_1, a1_2]" in lines
    )
    batch = sum(((net(x) - y) ** 2 for x, y in [([0.1, 0.2], 1.0), ([0.3, -0.4], 0.0)]), Value(0))
    names, _ = layer_names(batch)  # a model called on each example of a batch: one number each
    assert sorted(names) == ["hidden[1]", "hidden[2]", "out[1]", "out[2]"]


class _Siamese(nn.Module):
    """One layer applied to two inputs in one example, then a head on both."""

    def __init__(self):
        self.s = Layer(2, 2, rng=random.Random(2))
        self.h = Layer(4, 1, activation=None, rng=random.Random(3))
        self.label_parameters()

    def __call__(self, x):
        return self.h(self.s(x[:2]) + self.s(x[2:]))[0]


def test_each_call_of_a_layer_applied_twice_has_names_of_its_own():
    s, h = Layer(2, 2, rng=random.Random(5)), Layer(2, 1, activation=None, rng=random.Random(6))
    twice, siamese = nn.Sequential(s, s, h), _Siamese()
    losses_ = [
        (twice([0.3, 0.7])[0] - 1) ** 2,
        sum(((twice(x)[0] - 1) ** 2 for x in ([0.3, 0.7], [-0.2, 0.4])), Value(0)),
        (siamese([0.3, 0.7, -0.1, 0.5]) - 1) ** 2,
    ]
    for loss in losses_:
        order = trace_forward(loss).order
        names = nn.Structure(order).names()
        assert len(set(names.values())) == len(names)  # one name per node
        for level in ("neuron", "layer"):
            trace = trace_backward(loss, level=level)
            for i in range(len(trace)):  # a neuron never reads its own output
                first = trace.equation(i).splitlines()[0]
                if first.startswith("layer "):
                    out_names = {names[o] for o in _layer_outputs(trace[i])}
                    assert not out_names & set(re.findall(r"[a-z]+[0-9_#\[\]]+", first[7:]))
    text = trace_backward(losses_[0], level="layer")
    lines = [text.equation(i).splitlines()[0] for i in range(len(text))]
    assert (
        "layer 1#2, a hidden layer: 2 neurons, a1#2 = tanh(W1 a1#1 + b1), a1#1 = [a1_1#1, a1_2#1]"
        in lines
    )
    assert (
        "layer 2, the output layer: 1 neuron, a2 = W2 a1#2 + b2 (linear), a1#2 = [a1_1#2, a1_2#2]"
        in lines
    )
    # the first call of s gets its ∂L/∂a from the second call of s, not from a layer 2
    assert (
        text.equation(len(text) - 1).splitlines()[2].startswith("δ1#1 = ((W1)ᵀ δ1#2) ⊙ tanh'(z1#1)")
    )


def _layer_outputs(step):
    return [n.node for n in step.neurons] if isinstance(step, trace_module.LayerStep) else []


def test_the_record_adds_no_reference_cycle_and_goes_with_its_graph():
    """The record lives in a weak table: a graph is freed by reference counting alone (no cycle),
    and the table's entry goes with its output."""
    model = MLP(2, [3, 1], seed=0)
    gc.collect()
    gc.disable()
    try:
        out = model([1.0, 2.0])
        assert nn.made_by(out) is not None
        probe = weakref.ref(out)
        before = len(nn._made_by)
        del out
        assert probe() is None  # freed at once: nothing points back at the node
        assert len(nn._made_by) == before - 4  # the four neurons' outputs went with it
    finally:
        gc.enable()


def test_structure_is_read_from_the_record_not_from_labels():
    """Labels carry no structure: a user's label that looks like a neuron's name makes no neuron,
    and relabelling every node of a network's graph changes no group."""
    fake = Value(1.0, label="layers.0.neurons.0.w.0") * Value(2.0, label="layers.0.neurons.0.b")
    fake = fake.tanh()
    fake.label = "layers.0.neurons.0"
    with pytest.raises(ValueError, match="use level='op'"):
        trace_backward(fake, level="neuron")
    _, loss = _two_three_one()
    before = [(type(s).__name__, len(s.ops)) for s in trace_backward(loss, level="neuron")]
    for k, node in enumerate(trace_forward(loss).order):
        node.label = f"n{k}"
    after = [(type(s).__name__, len(s.ops)) for s in trace_backward(loss, level="neuron")]
    assert after == before


def test_a_weight_read_by_two_examples_is_drawn_on_its_own_not_in_one_examples_box():
    """Both examples' neurons read the same weights: a weight inside example 1's box would draw
    an arrow from that box into example 2's, as if data flowed between them."""

    def boxes(loss: Value) -> list[str]:
        return sorted(re.findall(r"<TD>(\d+ ops, \d+ params)</TD>", draw_graph(loss, **how).source))

    how = {"level": "neuron"}
    _, single = _two_three_one()  # one example: each neuron's box holds its weights and bias
    assert boxes(single) == ["5 ops, 3 params"] * 3 + ["6 ops, 4 params"]
    _, batch = _batch_loss()  # two: each weight is a box of its own, read by both examples
    assert boxes(batch) == ["5 ops, 0 params"] * 6 + ["6 ops, 0 params"] * 2
    # named as the lectures (and the step-through) name it: w^1_11, not layers.0.neurons.0.w.0
    assert "<TD>w¹₁₁</TD>" in draw_graph(batch, **how).source
    how = {"level": "layer"}
    assert boxes(batch) == ["15 ops, 0 params"] * 2 + ["6 ops, 0 params"] * 2


def test_a_hostile_label_on_a_neurons_output_is_only_text_in_the_page(tmp_path):
    _, loss = _two_three_one()
    output = next(n for n in trace_forward(loss).order if nn.made_by(n) and n.op is not None)
    output.label = "<script>alert(1)</script>"
    page = trace_backward(loss, level="neuron").to_html(tmp_path / "t.html").read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_ops_between_layers_and_on_the_inputs_are_steps_of_their_own():
    """A neuron is what it computed from its call's inputs: an activation module between two
    Linear layers, or a user's op on the inputs, is outside every neuron."""
    model = nn.Sequential(nn.Linear(2, 3, rng=random.Random(0)), nn.Tanh(), nn.Linear(3, 1))
    scaled = [Value(1.0, label="u") * 2.0, Value(2.0, label="v") * 0.5]
    trace = trace_backward(losses.mse(model(scaled), [0.5]), level="neuron")
    kinds = [s.op if isinstance(s, trace_module.BackwardStep) else type(s).__name__ for s in trace]
    # the loss's three ops are one step; the ops on the inputs feed the network: not the loss's
    assert kinds == ["LossStep", "NeuronStep"] + ["tanh", "NeuronStep"] * 3 + ["*", "*"]
    hidden = trace[3]
    assert isinstance(hidden, trace_module.NeuronStep) and len(hidden.ops) == 4  # 2 w·x, 2 +
    assert [t.input_name for t in trace[1].terms] == ["x2_1", "x2_2", "x2_3"]  # layer 2's inputs


# ---- the lectures' notation on a 2-3-1 network ---------------------------------------------------


def _lectures_network(batch: bool = False):
    """The lectures' 2-3-1 network (tanh hidden layer, linear output) on labelled inputs x1, x2;
    with ``batch``, the squared error summed over a mini-batch of two examples."""
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    examples = [([0.5, -1.0], 1.0), ([-0.3, 0.8], -0.5)] if batch else [([0.5, -1.0], 1.0)]
    total = Value(0.0)
    for inputs, target in examples:
        x = [Value(v, label=f"x{k}") for k, v in enumerate(inputs, 1)]
        total = total + (model(x) - target) ** 2
    return model, total


def _no_module_or_generated_names(text: str) -> None:
    assert not re.search(r"layers\.\d|neurons\.\d", text), text  # never the module's dotted name
    assert not re.search(r"(?<![A-Za-z0-9_])v\d+", text), text  # never a generated v983


@pytest.mark.parametrize("batch", [False, True], ids=["one example", "mini-batch of two"])
def test_the_neuron_step_through_speaks_the_lectures_notation_on_a_2_3_1_network(batch):
    _, loss = _lectures_network(batch)
    trace = trace_backward(loss, level="neuron")
    ex = "[1]" if batch else ""
    steps = list(trace)
    # the loss's ops are one step; the first neuron step is the output neuron's
    assert isinstance(steps[0], trace_module.LossStep)
    neurons = [s for s in steps if isinstance(s, trace_module.NeuronStep)]
    assert len(steps) == 1 + len(neurons) and len(neurons) == (8 if batch else 4)
    assert neurons[0].tag == "2_1" and neurons[0].role == "output"
    assert all(n.role == "hidden" for n in neurons if n.tag.startswith("1_"))
    for i in range(len(trace)):
        _no_module_or_generated_names(trace.equation(i))
        _no_module_or_generated_names(trace.frame_text(i))
    loss_lines = trace.equation(0).splitlines()
    assert loss_lines[0].startswith("the loss L ") and loss_lines[0].endswith("sends ∂L/∂a^L")
    assert loss_lines[1].startswith(f"∂L/∂{'(a2_1[1])' if batch else 'a2_1'} = ")
    output = next(n for n in neurons if n.example in ("", ex) and n.tag == "2_1")
    lines = trace.equation(output.index).splitlines()
    a = f"a2_1{ex}"
    a_ = f"({a})" if batch else a
    assert lines[0] == f"neuron {a}, the output layer (linear): {a} = z2_1{ex} = w2_1·a1{ex} + b2_1"
    assert lines[1] == f"δ2_1{ex} = ∂L/∂{a_} = {output.delta:.4f}   [{levels.BP1}]"
    assert lines[2] == (
        f"∂L/∂w2_1_1 += a1_1{ex} δ2_1{ex} = {output.terms[0].input.data:.4f} *"
        f" {output.delta:.4f} = {output.terms[0].weight_grad:.4f}   [{levels.BP4}]"
    )
    assert f"∂L/∂b2_1 += δ2_1{ex} = {output.delta:.4f}   [{levels.BP3}]" in lines
    hidden = next(n for n in neurons if n.example in ("", ex) and n.tag == "1_2")
    lines = trace.equation(hidden.index).splitlines()
    h = f"a1_2{ex}"
    assert lines[0] == f"neuron {h}, hidden layer 1: {h} = tanh(z1_2{ex}), z1_2{ex} = w1_2·x + b1_2"
    w = output.terms[1].weight.data  # w2_1_2: the weight from a1_2 to the output neuron
    assert lines[1] == (
        f"δ1_2{ex} = (w2_1_2 δ2_1{ex}) * tanh'(z1_2{ex}) = ({w:.4f} * {output.delta:.4f}) *"
        f" {hidden.activation_grad:.4f} = {hidden.delta:.4f}   [{levels.BP2}]"
    )
    assert hidden.delta == w * output.delta * hidden.activation_grad  # BP2, as the pass did it
    assert lines[2].startswith(f"∂L/∂w1_2_1 += x1 δ1_2{ex} = ")  # the labelled inputs x1, x2
    # the boxes: the loss, the neurons a^l_j, the inputs; nothing else
    frame = trace.frame_text(0).splitlines()
    assert frame[0] == f"step 1 of {len(trace)}"
    boxes = {line[2:].split()[0] for line in frame[1 + len(trace.equation(0).splitlines()) :]}
    expected = {"L", "x1", "x2"} | {f"a{t}" for t in ("2_1", "1_1", "1_2", "1_3")}
    if batch:
        expected = {"L", "x1", "x2"} | {
            f"a{t}[{k}]" for t in ("2_1", "1_1", "1_2", "1_3") for k in (1, 2)
        }
        # the weights both examples read are boxes of their own, named w^l_jk and b^l_j
        expected |= {f"w1_{j}_{k}" for j in (1, 2, 3) for k in (1, 2)} | {"b1_1", "b1_2", "b1_3"}
        expected |= {"w2_1_1", "w2_1_2", "w2_1_3", "b2_1"}
    assert boxes == expected


@pytest.mark.parametrize("batch", [False, True], ids=["one example", "mini-batch of two"])
def test_the_layer_step_through_names_the_deltas_as_the_lectures_do(batch):
    _, loss = _lectures_network(batch)
    trace = trace_backward(loss, level="layer")
    ex = "[1]" if batch else ""
    layers = [s for s in trace if isinstance(s, trace_module.LayerStep)]
    assert isinstance(trace[0], trace_module.LossStep) and len(layers) == (4 if batch else 2)
    for i in range(len(trace)):
        _no_module_or_generated_names(trace.equation(i))
        _no_module_or_generated_names(trace.frame_text(i))
    output = next(
        s for s in layers if s.neurons[0].tag == "2_1" and s.neurons[0].example in ("", ex)
    )
    hidden = next(
        s for s in layers if s.neurons[0].tag == "1_1" and s.neurons[0].example in ("", ex)
    )
    lines = trace.equation(output.index).splitlines()
    assert lines[0] == (
        f"layer 2{ex}, the output layer: 1 neuron, a2{ex} = W2 a1{ex} + b2 (linear),"
        f" a1{ex} = [a1_1{ex}, a1_2{ex}, a1_3{ex}]"
    )
    assert lines[2].startswith(f"δ2{ex} = ∂L/∂a2{ex} = [") and lines[2].endswith(f"[{levels.BP1}]")
    assert lines[3].startswith(f"∂L/∂W2 = δ2{ex} a1{ex}ᵀ (1×3)") and lines[3].endswith(
        levels.BP4 + "]"
    )
    assert lines[4] == f"∂L/∂b2 = δ2{ex}   [{levels.BP3}]"
    lines = trace.equation(hidden.index).splitlines()
    assert lines[0] == (
        f"layer 1{ex}, a hidden layer: 3 neurons, a1{ex} = tanh(W1 x + b1), x = [x1, x2]"
    )
    assert lines[2].startswith(f"δ1{ex} = ((W2)ᵀ δ2{ex}) ⊙ tanh'(z1{ex}) = [")
    assert lines[2].endswith(f"[{levels.BP2}]")


def test_the_page_writes_the_lectures_names_with_raised_and_lowered_indices():
    _, loss = _lectures_network()
    trace = trace_backward(loss, level="neuron")
    page = trace.html_page()
    data = json.loads(re.search(r'mgx-data">(.*?)</script>', page).group(1))
    equations = [s["e"] for s in data["steps"]]
    assert equations[1].startswith(
        "neuron a²₁, the output layer (linear): a²₁ = z²₁ = w²₁·a¹ + b²₁"
    )
    assert "δ²₁ = ∂L/∂a²₁ = " in equations[1] and "δᴸ = ∂L/∂aᴸ ⊙ f'(zᴸ)" in equations[1]
    assert "∂L/∂w²₁₁ += a¹₁ δ²₁" in equations[1]
    assert "δ¹₂ = (w²₁₂ δ²₁) * tanh'(z¹₂)" in equations[3]
    assert "δˡ = ((W⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾) ⊙ f'(zˡ)" in equations[3]
    assert not any(re.search(r"[azδwb]\d+_\d", e) for e in equations)  # no a2_1 left
    names = _box_names(page)
    assert {"a²₁", "a¹₁", "a¹₂", "a¹₃", "x1", "x2", "L"} == names
    # text frames and the table keep the plain names, as a terminal writes them
    assert "a2_1" in trace.frame_text(1) and "a2_1" in str(trace)
