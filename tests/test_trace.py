"""Step-through of backprop: the recorded pass, its text, frames, the page, and a real browser."""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import given

from microgradx import Value, losses
from microgradx.nn import MLP
from microgradx.testing import Expression, expressions
from microgradx.viz import trace_backward, trace_forward
from microgradx.viz.trace import _InlinePage


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
        "dL/da += dL/dc * dc/da = 1.0000 * -3.0000 = -3.0000\n"
        "dL/db += dL/dc * dc/db = 1.0000 * 2.0000 = 2.0000"
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
    for forbidden in ("src=", 'href="http', "@import", "url(http"):
        assert forbidden not in page
    assert page.count("<svg") == 1


def test_mlp_loss_page_stays_small(tmp_path):
    model = MLP(2, [16, 16, 1], seed=0)
    trace = trace_backward(losses.bce_with_logits(model([0.5, -1.0]), 1))
    assert len(trace) > 600
    path = trace.to_html(tmp_path / "mlp.html")
    assert path.stat().st_size < 20_000_000


def test_widget_uses_ipywidgets_or_falls_back_to_the_page(monkeypatch):
    *_, L = _lecture()
    trace = trace_backward(L)
    if importlib.util.find_spec("ipywidgets") is not None:
        assert type(trace.widget()).__name__ == "VBox"
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # as if it were not installed
    fallback = trace.widget()
    assert isinstance(fallback, _InlinePage)
    assert fallback._repr_html_().startswith("<iframe srcdoc=")


# ---- in a real browser ---------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def _browser_or_skip():
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("Debian's chromium (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("playwright (pip install playwright)")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; MICROGRADX_REQUIRE_BROWSER=1")
        pytest.skip(reason + "; CI installs them")


def test_page_steps_with_buttons_slider_and_arrow_keys_in_chromium(tmp_path):
    _browser_or_skip()
    from playwright.sync_api import sync_playwright

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    h = (a * b + a).tanh() * b
    h.label = "L"
    trace = trace_backward(h)
    page_path = trace.to_html(tmp_path / "trace.html")

    def check(page, i):
        assert page.evaluate("document.body.dataset.step") == str(i)
        current = page.evaluate("document.querySelector('g.node.current title').textContent")
        assert current == f"v{trace[i].position}"
        assert page.inner_text("#equation") == trace.equation(i)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(page_path.as_uri())
        check(page, 0)
        for i in range(1, len(trace)):  # next button
            page.click("#next")
            check(page, i)
        page.click("#next")  # stays at the last step
        check(page, len(trace) - 1)
        for i in reversed(range(len(trace) - 1)):  # left arrow key
            page.keyboard.press("ArrowLeft")
            check(page, i)
        page.keyboard.press("ArrowRight")
        check(page, 1)
        page.click("#previous")
        check(page, 0)
        for i in (len(trace) - 1, 1, 2):  # the slider
            page.fill("#slider", str(i))
            check(page, i)
        pending = page.evaluate("document.querySelectorAll('g.node.pending').length")
        page.fill("#slider", "0")
        assert page.evaluate("document.querySelectorAll('g.node.pending').length") > pending
        shot = tmp_path / "trace.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 1000
        browser.close()
    keep = os.environ.get("MICROGRADX_SCREENSHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / "trace.png")
