"""Step-through of backprop: the recorded pass, its text, frames, the page, and a real browser."""

from __future__ import annotations

import html
import itertools
import os
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given

from microgradx import Value, losses
from microgradx.nn import MLP
from microgradx.testing import Expression, expressions
from microgradx.viz import layout as layout_module
from microgradx.viz import trace as trace_module
from microgradx.viz import trace_backward, trace_forward
from microgradx.viz.page import StepPage

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
    assert lines[1].startswith("0  +") and lines[3].startswith("1  *")
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
    assert len(neuron) == 33 + 2  # 33 neurons and the two ops of the loss (bce_with_logits, / 1)
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
    assert lines[0] == "neuron layers.2.neurons.0 (linear): a = z = w·x + b"
    hidden = next(s for s in trace if getattr(s, "activation", None) == "tanh")
    lines = trace.equation(hidden.index).splitlines()
    assert lines[0] == f"neuron {hidden.name}: a = tanh(z), z = w·x + b"
    assert lines[1].startswith("δ = dL/dz = dL/da * tanh'(z) = ")
    assert lines[2].startswith("dL/d(w.0) += δ * layers.0.neurons.0 = ")
    assert any(line.startswith("dL/db += δ = ") for line in lines)
    assert lines[-1].startswith("dL/d(layers.0.neurons.15) += δ * w.15 = ")


def test_layer_steps_are_modules_receiving_dL_da_and_returning_dL_dx():
    _, loss = _moons_loss()
    trace = trace_backward(loss, level="layer")
    layers = [s for s in trace if isinstance(s, trace_module.LayerStep)]
    assert [s.name for s in layers] == ["layers.2", "layers.1", "layers.0"]
    assert [len(s.neurons) for s in layers] == [1, 16, 16]
    lines = trace.equation(layers[1].index).splitlines()
    assert lines[0].startswith(
        "layer layers.1: 16 neurons, a = tanh(W x + b), x = [layers.0.neurons.0,"
    )
    assert lines[1].startswith("receives dL/da = [")
    assert lines[3].startswith("dL/dW = δ xᵀ (16×16)")
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
        mentioned.update(re.findall(r"[d∂]([A-Za-z_][A-Za-z0-9_]*)\b", text))
        mentioned.update(re.findall(r"^neuron (\S+?):? ", text, flags=re.M))
        mentioned.update(re.findall(r"δ \* (\S+) = ", text))
    mentioned -= {"z", "a", "b", "L"} - names  # a neuron's own z, a and b: inside its box
    mentioned = {m for m in mentioned if not m.startswith("w.")}  # its weights: inside its box
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
    assert root.get_attribute("data-current") == expected_box
    current = page.evaluate(
        "[...document.querySelectorAll('g.node.current')].map(g => g.dataset.id)"
    )
    assert expected_box in current
    assert all(c == expected_box or c.startswith("o") for c in current)
    assert page.inner_text(".mgx-equation") == trace.equation(i)


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
        assert not page.is_checked(".mgx-fit")  # too wide to fit and stay readable
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
