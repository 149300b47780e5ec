"""The browser playground (``make site``): microgradx running in Pyodide, in a real browser and
in Node, with no network beyond the local server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from microgradx import losses, playground
from microgradx.nn import MLP
from microgradx.playground import Session, handle, run_snippet
from microgradx.viz.style import lecture_text

from .browser import launch, local_route, require_browser, serve
from .hostile import HOSTILE, ROOT_LABEL, SHOWN, Watch, names_in_picture, steps_through

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"
README = ROOT / "README.md"


def _site_or_skip() -> None:
    if not (SITE / "manifest.json").exists():
        reason = "the playground tests need site/ (make site)"
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; MICROGRADX_REQUIRE_BROWSER=1 and .ci/run builds it")
        pytest.skip(reason)


@pytest.fixture
def server():
    _site_or_skip()
    with serve(SITE) as base:
        yield base


# ---- the build script's output (npm and pip stubbed: no network, fast) -------------------------


@pytest.fixture
def site_build(monkeypatch, tmp_path):
    """playground/build_site.py with a fake Pyodide core and a wheel build that writes a file (or
    fails once ``fail`` is set). Returns (module, the wheel builds, fail)."""
    monkeypatch.syspath_prepend(str(ROOT / "playground"))
    import build_site

    core = tmp_path / "core"
    core.mkdir()
    for name in build_site.PYODIDE_FILES:
        (core / name).write_text("{}")
    monkeypatch.setattr(build_site, "pyodide_core", lambda: core)
    builds: list[Path] = []
    fail = threading.Event()

    def build_wheel(dest: Path) -> Path:
        builds.append(dest)
        if fail.is_set():
            raise RuntimeError("pip wheel failed (test stub)")
        wheel = dest / "microgradx-9.9-py3-none-any.whl"
        wheel.write_text("wheel")
        return wheel

    monkeypatch.setattr(build_site, "build_wheel", build_wheel)
    monkeypatch.chdir(tmp_path)
    return build_site, builds, fail


@pytest.mark.parametrize(
    "case", ["link", "file", "unmarked", "current folder", "through a link's parent", "repository"]
)
def test_site_refuses_an_output_a_build_did_not_make_and_deletes_nothing(
    site_build, tmp_path, capsys, case
):
    build_site, builds, _ = site_build
    mine = tmp_path / "mine"
    mine.mkdir()
    victim = mine / "precious.txt"
    victim.write_text("keep me")
    (tmp_path / "link").symlink_to(mine)
    (tmp_path / "file.txt").write_text("keep me")
    output = {
        "link": "link",
        "file": "file.txt",
        "unmarked": "mine",
        "current folder": ".",
        "through a link's parent": "link/..",
        "repository": str(ROOT),
    }[case]
    if case == "file":
        victim = tmp_path / "file.txt"
    if case == "repository":
        victim = ROOT / "pyproject.toml"
    with pytest.raises(SystemExit) as exit_:
        build_site.main(["--output", output])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --output: " in error and "refusing" in error, error
    assert victim.exists() and builds == [] and (tmp_path / "link").is_symlink()


def test_site_replaces_only_its_own_previous_build_and_a_failure_keeps_it(site_build, tmp_path):
    build_site, builds, fail = site_build
    build_site.main(["--output", "site"])
    site = tmp_path / "site"
    manifest = json.loads((site / "manifest.json").read_text())
    assert manifest == {"wheel": "microgradx-9.9-py3-none-any.whl"}
    assert (site / ".microgradx-build").is_file() and (site / "pyodide" / "pyodide.mjs").exists()
    (site / "old.txt").write_text("previous build")
    build_site.main(["--output", "site"])
    assert not (site / "old.txt").exists() and (site / "index.html").exists()
    (site / "old.txt").write_text("still served")
    fail.set()
    with pytest.raises(RuntimeError, match="test stub"):
        build_site.main(["--output", "site"])
    assert (site / "old.txt").read_text() == "still served" and len(builds) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core", "site"]  # no half-built folder


def test_a_site_build_without_npm_is_one_line_naming_it_and_makes_nothing(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.syspath_prepend(str(ROOT / "playground"))
    import build_site

    monkeypatch.setattr(build_site, "HERE", tmp_path / "playground")  # no node_modules: npm's job
    monkeypatch.setattr(build_site.shutil, "which", lambda name: None)
    monkeypatch.setattr(build_site, "build_wheel", lambda dest: pytest.fail("built a wheel"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        build_site.main(["--output", "site"])
    assert exit_.value.code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "npm is needed" in error and "apt-get install npm" in error
    assert list(tmp_path.iterdir()) == []  # no site, no half-built folder


def test_a_build_step_that_fails_or_cannot_start_is_a_tool_error_naming_it(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "playground"))
    import build_site

    with pytest.raises(build_site.ToolError, match=r"^a step failed with exit status 3 \("):
        build_site.run([sys.executable, "-c", "raise SystemExit(3)"], "a step")
    with pytest.raises(build_site.ToolError, match=r"^a step: /nonexistent/tool could not run"):
        build_site.run(["/nonexistent/tool"], "a step")
    build_site.run([sys.executable, "-c", "pass"], "a step")  # success: nothing raised


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
    with pytest.raises(ValueError, match=r"learning rate must be in \(0, 10\], got nan"):
        Session(lr=float("nan"))
    with pytest.raises(TypeError, match="learning rate must be a real number, got str"):
        Session(lr="0.05")  # type: ignore[arg-type]  # text comes through from_form
    with pytest.raises(ValueError, match="activation must be one of"):
        Session(activation="<b>")


def _answer(request: dict) -> dict:
    """``handle``'s answer, parsed as strictly as a browser parses it."""
    text = handle(json.dumps(request))
    assert "<" not in text and ">" not in text

    def no_constant(name: str) -> None:
        raise AssertionError(f"{name} in the JSON sent to the page")

    return json.loads(text, parse_constant=no_constant)


FORM = {"dataset": "moons", "hidden": "4", "activation": "tanh", "lr": "0.05", "optimizer": "adam"}


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("lr", "abc", "learning rate must be a number like 0.05, got 'abc'"),
        ("lr", "", "learning rate is empty: enter a number like 0.05"),
        ("lr", "  ", "learning rate is empty: enter a number like 0.05"),
        ("lr", "-1", "learning rate must be in (0, 10], got -1.0"),
        ("lr", "0", "learning rate must be in (0, 10], got 0.0"),
        ("lr", "1e999", "learning rate must be in (0, 10], got inf"),
        ("lr", "nan", "learning rate must be in (0, 10], got nan"),
        ("lr", "<img src=x>", "learning rate must be a number like 0.05, got '<img src=x>'"),
        ("hidden", "abc", "hidden layers: 1 to 4 sizes from 1 to 64, like 16,16; got 'abc'"),
        ("hidden", "", "hidden layers: 1 to 4 sizes from 1 to 64, like 16,16; got ''"),
        ("hidden", "-3", "hidden layers: 1 to 4 sizes from 1 to 64, like 16,16; got '-3'"),
        ("dataset", "mnist", "dataset must be one of 'moons', 'circles', 'xor', 'spirals'"),
        ("optimizer", "lbfgs", "optimizer must be one of 'adam', 'sgd', 'rmsprop'"),
    ],
)
def test_a_bad_form_field_is_one_line_naming_it_and_the_session_stays(field, typed, message):
    assert "value" in _answer({"call": "new", "args": FORM})
    before = playground.current
    answer = _answer({"call": "new", "args": {**FORM, field: typed}})
    assert answer["error"].startswith(message) and "\n" not in answer["error"]
    assert "Traceback" not in answer["error"] and "detail" not in answer
    assert playground.current is before  # the page keeps its network
    assert _answer({"call": "train", "args": {"epochs": 1}})["value"]["epochs"] == 1


@pytest.mark.parametrize("typed", ["abc", "", "-1", "200", "1e999", "nan", "3.5"])
def test_a_bad_example_number_is_one_line_naming_it(typed):
    _answer({"call": "new", "args": FORM})
    answer = _answer({"call": "step", "args": {"example": typed, "level": "op"}})
    assert answer["error"].startswith("example must be a whole number from 0 to 199, got ")
    step = _answer({"call": "step", "args": {"example": " 7 ", "level": "op"}})["value"]
    assert step["example"] == [*playground.current.X[7], playground.current.y[7]]


def test_a_diverged_run_sends_valid_json_and_says_what_to_do():
    form = {**FORM, "dataset": "spirals", "hidden": "16,16", "activation": "leaky_relu"}
    status = _answer({"call": "new", "args": {**form, "lr": "10", "optimizer": "sgd"}})["value"]
    assert not status["diverged"] and status["message"] is None
    status = _answer({"call": "train", "args": {"epochs": 5}})["value"]
    assert status["diverged"] and status["epochs"] == 2  # training stops at the first NaN
    assert status["losses"][-1] is None and status["losses"][0] is not None
    assert status["message"] == (
        "training diverged: loss is nan at epoch 2; lower the learning rate (now 10)"
        " and press new network"
    )
    assert _answer({"call": "train", "args": {"epochs": 1}})["value"]["epochs"] == 2
    boundary = _answer({"call": "boundary", "args": {"resolution": 5}})["value"]
    assert None in boundary["grid"][0]  # NaN scores: null, which the page draws grey
    step = _answer({"call": "step", "args": {"example": "0", "level": "neuron"}})["value"]
    assert None in step["gradients"].values()
    assert "value" in _answer({"call": "new", "args": FORM})  # and a new network trains again


def test_an_unexpected_failure_is_one_line_with_the_traceback_for_the_console(monkeypatch):
    _answer({"call": "new", "args": FORM})
    assert _answer({"call": "train", "args": {"epochs": "ten"}})["error"] == (
        "epochs must be an int, got str 'ten'"
    )

    def broken(**args):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setitem(playground.CALLS, "train", broken)
    answer = _answer({"call": "train", "args": {}})
    assert answer["error"] == "microgradx failed: ZeroDivisionError: float division by zero"
    assert "Traceback" in answer["detail"]
    assert _answer({"call": "nope"})["error"].startswith("call must be one of 'new',")


def test_one_request_is_bounded_and_refused_by_name_beyond():
    _answer({"call": "new", "args": FORM})
    assert _answer({"call": "train", "args": {"epochs": 1000000}})["error"] == (
        "epochs must be an int <= 100, got 1000000"
    )
    # a large network the page accepts: many epochs or a fine boundary in one request are refused
    _answer({"call": "new", "args": {**FORM, "hidden": "32,32"}})
    error = _answer({"call": "train", "args": {"epochs": 20}})["error"]
    assert error.startswith("20 epochs would take 14,220,000 weight visits; one request may take")
    assert error.endswith("(with this network: at most 16)")
    error = _answer({"call": "boundary", "args": {"resolution": 200}})["error"]
    assert error.startswith("resolution 200 would take") and "at most 100)" in error
    assert playground.current.losses == []  # refused before any work
    # the default network may take the page's requests many times over
    _answer({"call": "new", "args": FORM})
    assert _answer({"call": "train", "args": {"epochs": 3}})["value"]["epochs"] == 3


def test_a_network_whose_epoch_would_hold_the_page_is_refused_in_one_line():
    _answer({"call": "new", "args": FORM})
    before = playground.current
    error = _answer({"call": "new", "args": {**FORM, "hidden": "64,64,64"}})["error"]
    assert error == (
        "hidden layers 64,64,64: 8,577 weights x 200 examples would take about 4.4 s an epoch in"
        " the browser; at most 2 s (3,898 weights), like 16,16 or 32,32"
    )
    assert playground.current is before  # refused before anything was built
    # the estimate is weights x examples: the largest accepted, and the first refused
    assert playground.weights_of([56, 56]) == 3417 and "value" in _answer(
        {"call": "new", "args": {**FORM, "hidden": "56,56"}}
    )
    assert "error" in _answer({"call": "new", "args": {**FORM, "hidden": "64,64"}})  # 4,417


def test_a_request_nested_too_deeply_is_a_request_error():
    answer = json.loads(handle("[" * 100_000 + "]" * 100_000))
    assert answer == {"error": "the request is nested too deeply"}
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000
    answer = json.loads(handle('{"call": "train", "args": ' + deep + "}"))
    assert answer == {"error": "the request is nested too deeply"}


def test_run_snippet_prints_what_the_code_prints():
    assert run_snippet("print(Value(2.0) * 3)") == "Value(data=6.0, grad=0.0, op='*')\n"


def test_a_failing_snippet_shows_its_output_and_its_own_traceback():
    out = run_snippet("print('before')\nx = 1\nValue(1.0, label=x)")
    assert out.startswith("before\nTraceback (most recent call last):\n")
    assert 'File "<playground>", line 3' in out
    assert "playground.py" not in out  # not the frames of run_snippet itself
    assert out.rstrip().endswith("TypeError: Value label must be a str or None, got int")


@pytest.mark.parametrize(
    ("code", "last"),
    [
        ("import sys\nsys.exit(3)", "SystemExit: 3"),
        ("raise SystemExit", "SystemExit"),
        ("raise GeneratorExit('g')", "GeneratorExit: g"),
    ],
)
def test_a_snippet_that_exits_is_answered_like_any_failing_snippet(code, last):
    """sys.exit() in a snippet ends the snippet, not the page's Python: handle still answers
    with what it printed and its traceback (it escaped handle as SystemExit, a PythonError the
    page could only show as "the page failed", losing the output)."""
    answer = json.loads(handle(json.dumps({"call": "run", "args": {"code": "print(1)\n" + code}})))
    out = answer["value"]
    assert out.startswith("1\nTraceback (most recent call last):\n")
    assert out.rstrip().endswith(last)
    with pytest.raises(KeyboardInterrupt):  # stopping a snippet still stops it
        run_snippet("raise KeyboardInterrupt")


# ---- in Chromium, from a local server only ------------------------------------------------------


def test_playground_trains_moons_and_steps_through_backprop_offline(server, tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.route("**/*", local_route(server, outside))
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
        assert first == lecture_text(state["equation"])  # a^L as aᴸ, as the page prints it
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


def _status(page) -> str:
    return page.text_content("#status")


def test_playground_refuses_a_network_too_slow_for_the_page_and_a_run_can_be_stopped(server):
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"{server}/index.html")
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
        assert page.is_disabled("#stop")  # nothing to stop
        page.fill("#hidden", "64,64,64")
        page.click("#reset")
        assert _status(page) == (
            "hidden layers 64,64,64: 8,577 weights x 200 examples would take about 4.4 s an epoch"
            " in the browser; at most 2 s (3,898 weights), like 16,16 or 32,32"
        )
        assert page.get_attribute("body", "data-error") == "1"
        page.fill("#hidden", "16,16")
        page.click("#reset")
        assert _status(page) == "A new network: press train."
        # a long run, not awaited: the page takes the click on stop between two epochs
        page.evaluate("() => { window.playground.run = window.playground.train(100); }")
        page.wait_for_function("Number(document.body.dataset.epochs) >= 2", timeout=60_000)
        assert not page.is_disabled("#stop") and page.is_disabled("#train")
        page.click("#stop")
        page.wait_for_function("window.playground.training === false", timeout=60_000)
        epochs = int(page.text_content("#epochs"))
        assert 2 <= epochs < 100
        assert _status(page) == f"Stopped after {epochs} epochs: press train to go on."
        assert page.is_disabled("#stop") and not page.is_disabled("#train")
        page.evaluate("window.playground.train(1)")  # and it goes on from there
        assert int(page.text_content("#epochs")) == epochs + 1
        browser.close()


# Fields of the form typed wrong: the page shows one line naming the field and stays usable.
BAD_FIELDS = [
    ("#lr", "abc", "learning rate must be a number like 0.05, got 'abc'"),
    ("#lr", "", "learning rate is empty: enter a number like 0.05"),
    ("#lr", "-1", "learning rate must be in (0, 10], got -1.0"),
    ("#lr", "1e999", "learning rate must be in (0, 10], got inf"),
    ("#lr", "nan", "learning rate must be in (0, 10], got nan"),
    ("#lr", "<img src=x onerror=window.__pwned=1>", "learning rate must be a number like 0.05"),
    ("#hidden", "abc", "hidden layers: 1 to 4 sizes from 1 to 64, like 16,16; got 'abc'"),
    ("#hidden", "", "hidden layers: 1 to 4 sizes from 1 to 64, like 16,16; got ''"),
]
BAD_EXAMPLES = ["-1", "200", "1e999", "3.5", ""]
_SNIPPET = """import json
from microgradx import playground
labels = json.loads(%s)
for parameter, label in zip(playground.current.model.parameters(), labels):
    parameter.label = label
for label in labels:
    print(label)
"""


def test_playground_refuses_bad_input_survives_divergence_and_shows_hostile_labels_as_text(
    server,
):
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        watch = Watch(page, server)
        page.goto(f"{server}/index.html")
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
        for field, typed, message in BAD_FIELDS:
            good = page.input_value(field)
            page.fill(field, typed)
            page.click("#reset")
            assert _status(page).startswith(message) and "\n" not in _status(page)
            assert "Traceback" not in _status(page)
            assert page.get_attribute("body", "data-error") == "1"
            page.fill(field, good)
        page.click("#reset")
        assert _status(page) == "A new network: press train."
        for typed in BAD_EXAMPLES:
            page.fill("#example", typed)
            page.click("#step")
            assert _status(page).startswith("example must be a whole number from 0 to 199, got")
        # A learning rate that sends the loss to NaN: said on the page, which stays usable.
        page.select_option("#dataset", "spirals")
        page.fill("#hidden", "16,16")
        page.select_option("#activation", "leaky_relu")
        page.select_option("#optimizer", "sgd")
        page.fill("#lr", "10")
        page.click("#reset")
        page.evaluate("window.playground.train(10)")
        assert _status(page) == (
            "training diverged: loss is nan at epoch 2; lower the learning rate (now 10)"
            " and press new network"
        )
        assert page.text_content("#epochs") == "2" and not page.is_disabled("#train")
        page.fill("#lr", "0.05")
        page.click("#reset")
        page.evaluate("window.playground.train(2)")
        assert page.text_content("#epochs") == "2" and page.get_attribute("#status", "class") == ""
        # Hostile labels on the network's parameters (set by a snippet), then its step-through.
        page.select_option("#dataset", "moons")
        page.fill("#hidden", "4,4")
        page.select_option("#activation", "tanh")
        page.click("#reset")
        labels = [label for label in [ROOT_LABEL, *HOSTILE] if "\ud800" not in label]
        assert len(labels) >= 37  # one for each parameter of 2-4-4-1
        page.fill("#code", _SNIPPET % repr(json.dumps(labels)))
        page.click("#run")
        page.wait_for_function("document.getElementById('output').textContent.length > 0")
        assert page.text_content("#output") == "".join(f"{label}\n" for label in labels)
        page.select_option("#level", "op")
        page.fill("#example", "3")
        page.click("#step")
        page.wait_for_selector("#stepper .mgx-step[data-ready='1']")
        root = "#stepper .mgx-step"
        assert names_in_picture(page, root) >= {SHOWN[label] for label in labels[:37]}
        data = json.loads(page.locator(f"{root} script.mgx-data").text_content())
        equations = [step["e"] for step in data["steps"]]
        assert any(SHOWN[ROOT_LABEL] in e for e in equations)
        steps_through(page, root, equations, clicks=20)
        titles = page.locator("#network svg title").evaluate_all("ts => ts.map(t => t.textContent)")
        assert any(t.startswith(SHOWN[ROOT_LABEL] + " = ") for t in titles)
        watch.check(page)
        browser.close()


# ---- in Node, without a browser -----------------------------------------------------------------

# README examples that need packages Pyodide's core does not have: hypothesis. (draw_graph needs
# nothing: without a Graphviz program it draws with microgradx's own layout, as in a browser.)
NEEDS_MORE_THAN_PYODIDE = ("from hypothesis import",)

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
    assert len(blocks) - len(runnable) <= 1 and len(runnable) >= 4
    assert any("draw_graph(" in b for b in runnable)  # drawn without Graphviz, in Pyodide
    (blocks_file := tmp_path / "blocks.json").write_text(json.dumps(runnable))
    (wheel,) = SITE.glob("microgradx-*.whl")
    script = tmp_path / "run.mjs"
    script.write_text(
        _NODE_SCRIPT
        % {
            # the site's copy of the core: CI runs the tests from a copy without node_modules
            "pyodide": (SITE / "pyodide" / "pyodide.mjs").as_uri(),
            "wheel": json.dumps(str(wheel)),
            "blocks": json.dumps(str(blocks_file)),
        }
    )
    result = subprocess.run(
        ["node", str(script)], capture_output=True, text=True, timeout=300, check=True
    )
    outcomes = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcomes == ["ok"] * len(runnable), outcomes


@pytest.mark.parametrize(
    ("request_text", "message"),
    [
        ("[]", 'request must be a JSON object {"call": name, "args": {...}}, got an array'),
        ("1", "request must be a JSON object .* got a number"),
        ('"new"', "request must be a JSON object .* got a string"),
        ("null", "request must be a JSON object .* got null"),
        ("true", "request must be a JSON object .* got true or false"),
        ("{}", "request lacks call: one of new, train, boundary, step, run"),
        ('{"call": "new", "x": 1}', r"request has unknown field\(s\) \['x'\]: only call and args"),
        ('{"call": 3}', "call must be one of 'new'"),
        ('{"call": "train", "args": []}', "args must be an object, got an array"),
        ('{"call": "train", "args": 0}', "args must be an object, got a number"),
        ('{"call": "train", "args": {"x": 1}}', r"args of train has unknown field\(s\) \['x'\]"),
        ('{"call": "new", "args": {}}', "args of new lacks dataset, hidden, activation, lr"),
        ('{"call": "step", "args": {"level": "op"}}', "args of step lacks example"),
        ("{", "request is not JSON: Expecting"),
    ],
)
def test_a_request_that_is_not_a_call_is_one_line_saying_what_is_wrong(request_text, message):
    answer = json.loads(handle(request_text))
    assert set(answer) == {"error"}, answer  # a bad request, not a failure with a traceback
    assert re.match(message, answer["error"]), answer["error"]


def test_a_request_that_is_not_text_is_refused_by_name():
    assert json.loads(handle(5))["error"] == "request must be a str, got int 5"  # type: ignore[arg-type]
