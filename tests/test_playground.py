"""The browser playground (``make site``): microgradx running in Pyodide, in a real browser and
in Node, with no network beyond the local server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from microgradx import losses
from microgradx.nn import MLP
from microgradx.playground import Session, run_snippet

from .browser import launch, require_browser

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"
README = ROOT / "README.md"


def _site_or_skip() -> None:
    if not (SITE / "manifest.json").exists():
        reason = "the playground tests need site/ (make site)"
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; MICROGRADX_REQUIRE_BROWSER=1 and .ci/run builds it")
        pytest.skip(reason)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    _site_or_skip()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(SITE)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


# ---- the Python half, in CPython ----------------------------------------------------------------


def test_session_trains_and_shows_the_real_backward_pass():
    session = Session("moons", "8,8", "tanh", 0.05, "adam")
    status = session.train(3)
    assert status["epochs"] == 3 and len(status["losses"]) == 3
    step = session.step_through(5)
    assert step["steps"] > 10 and "mgx-step" in step["html"] and "<svg" in step["network"]
    # the gradients shown are those of backward() on that example's loss
    session.example_loss(5).backward()
    assert step["gradients"] == {n: p.grad for n, p in session.model.named_parameters()}


def test_bad_settings_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="dataset must be one of"):
        Session("mnist")
    with pytest.raises(ValueError, match="hidden layers: 1 to 4 sizes"):
        Session(hidden="0")
    with pytest.raises(ValueError, match="learning rate must be > 0"):
        Session(lr=float("nan"))


def test_run_snippet_prints_what_the_code_prints():
    assert run_snippet("print(Value(2.0) * 3)") == "Value(data=6.0, grad=0.0, op='*')\n"


# ---- in Chromium, from a local server only ------------------------------------------------------


def test_playground_trains_moons_and_steps_through_backprop_offline(server, tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    outside: list[str] = []

    def only_local(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.route("**/*", only_local)
        page.goto(f"{server}/index.html")
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
        ready = page.evaluate("window.playground.readySeconds")
        page.evaluate("window.playground.train(60)")
        accuracy = float(page.get_attribute("body", "data-accuracy"))
        assert accuracy >= 0.95, f"moons training accuracy {accuracy}"
        assert page.inner_text("#accuracy").endswith("%")
        page.select_option("#level", "neuron")
        page.fill("#example", "7")
        page.click("#step")
        page.wait_for_selector("#stepper .mgx-step[data-ready='1']")
        first = page.inner_text("#stepper .mgx-equation")
        state = page.evaluate("window.playground.step")
        assert first == state["equation"]
        page.click("#stepper .mgx-next")
        assert page.get_attribute("#stepper .mgx-step", "data-step") == "1"
        assert page.locator("#network svg line").count() == 2 * 16 + 16 * 16 + 16
        page.click("#run")
        page.wait_for_function("document.getElementById('output').textContent.length > 0")
        assert page.inner_text("#output").strip() == "1.000000"
        page.screenshot(path=str(tmp_path / "playground.png"), full_page=True)
        browser.close()
    assert outside == [], f"the page reached outside the local server: {outside}"
    assert ready < 60
    # The same model in CPython gives the gradients the page showed, to 1e-12.
    model = MLP(2, [16, 16, 1], seed=0)
    for p, w in zip(model.parameters(), state["weights"]):
        p.data = w
    x0, x1, target = state["example"]
    losses.bce_with_logits(model([x0, x1]), int(target)).backward()
    shown = state["gradients"]
    for name, p in model.named_parameters():
        assert shown[name] == pytest.approx(p.grad, rel=1e-12, abs=1e-15), name
    keep = os.environ.get("MICROGRADX_SCREENSHOTS")
    if keep:
        shutil.copy(tmp_path / "playground.png", Path(keep) / "playground.png")


# ---- in Node, without a browser -----------------------------------------------------------------

# README examples that need packages Pyodide's core does not have: hypothesis, and the graphviz
# package that draw_graph writes DOT with (the step-through and the network picture need neither).
NEEDS_MORE_THAN_PYODIDE = ("from hypothesis import", "import draw_graph")

_NODE_SCRIPT = """
import { loadPyodide } from "%(pyodide)s";
import { readFileSync } from "fs";
const py = await loadPyodide();
const sitePackages = py.runPython("import site; site.getsitepackages()[0]");
py.unpackArchive(new Uint8Array(readFileSync(%(wheel)s)), "wheel", { extractDir: sitePackages });
const blocks = JSON.parse(readFileSync(%(blocks)s, "utf8"));
const results = [];
for (const block of blocks) {
  try {
    py.runPython("import os, tempfile; os.chdir(tempfile.mkdtemp())");
    py.runPython(block);
    results.push("ok");
  } catch (error) {
    results.push(String(error.message).split("\\n").filter(Boolean).pop());
  }
}
console.log(JSON.stringify(results));
"""


def test_the_readme_examples_run_in_pyodide_under_node(tmp_path):
    _site_or_skip()
    if shutil.which("node") is None:
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER") == "1":
            pytest.fail("Node.js is missing, but these machines (and CI) have it")
        pytest.skip("needs Node.js (these machines have Node 20)")
    blocks = [
        textwrap.dedent(block)
        for block in re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    ]
    runnable = [b for b in blocks if not any(n in b for n in NEEDS_MORE_THAN_PYODIDE)]
    assert len(blocks) - len(runnable) <= 2 and len(runnable) >= 4
    (blocks_file := tmp_path / "blocks.json").write_text(json.dumps(runnable))
    (wheel,) = SITE.glob("microgradx-*.whl")
    script = tmp_path / "run.mjs"
    script.write_text(
        _NODE_SCRIPT
        % {
            "pyodide": (ROOT / "playground" / "node_modules" / "pyodide" / "pyodide.mjs").as_uri(),
            "wheel": json.dumps(str(wheel)),
            "blocks": json.dumps(str(blocks_file)),
        }
    )
    result = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=300, check=True
    )
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcomes == ["ok"] * len(runnable), outcomes
