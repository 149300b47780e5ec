"""The step-through as a user meets it in Jupyter: run, save, shut the kernel down, reopen, step.

Real JupyterLab (started here on 127.0.0.1 with a fresh Jupyter data folder) and the HTML that
``jupyter nbconvert --to html`` makes, both driven by headless Chromium. Slow (JupyterLab takes
about 20 s to start), so this file holds only these two tests.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from microgradx.viz.markup import visible

from .browser import launch, local_route, require_browser, step_through

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NOTEBOOK = "01_backprop_by_hand.ipynb"
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _jupyter_or_skip() -> None:
    require_browser()
    if not (BIN / "jupyter-lab").exists() or not (BIN / "jupyter-nbconvert").exists():
        reason = "the Jupyter tests need JupyterLab (pip install 'microgradx[test]')"
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; MICROGRADX_REQUIRE_BROWSER=1")
        pytest.skip(reason)


def _isolated_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(home / name.lower())
    env["MPLBACKEND"] = "Agg"
    # the kernel imports this checkout (microgradx, and tests.hostile for the hostile labels)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


# Every kind of drawing, each wider than a 1400 px window's output area at its natural size: a
# network's compute graph by layer and by neuron, a 2-3-1 network's op-level Graphviz frame (37
# nodes in a row) and its step-through page, draw_network of a wide network, and the graph by
# neuron and the frame drawn without Graphviz (microgradx's own layout).
DRAWINGS = [
    "from microgradx import Value, losses\n"
    "from microgradx.nn import MLP\n"
    "from microgradx.viz import draw_graph, draw_network, trace_backward\n"
    "model = MLP(2, [16, 16, 1], activation='tanh', seed=0)\n"
    "loss = losses.bce_with_logits(model([0.5, -1.0]), 1)\n"
    "loss.backward()",
    "draw_graph(loss, level='layer')",
    "draw_graph(loss, level='neuron')",
    "small = MLP(2, [3, 1], activation='tanh', seed=0)\n"
    "x = [Value(0.5, label='x1'), Value(-1.0, label='x2')]\n"
    "trace_backward((small(x) - 1.0) ** 2).frame(0)",
    "trace_backward((small(x) - 1.0) ** 2)",
    "draw_network(MLP(2, [40, 40, 40, 40, 40, 40, 40, 40, 1], seed=0))",
    # without Graphviz (pip install microgradx, JupyterLite): microgradx's own layout
    "draw_graph(loss, level='neuron', layout='python')",
    "trace_backward((small(x) - 1.0) ** 2).frame(0, layout='python')",
]
# Each output's drawing (an <img>, or the step-through page's picture) and the output area
# that holds it: [what, drawing's width, area's width] in CSS px.
MEASURE = """() => [...document.querySelectorAll('.jp-OutputArea-output')].map(o => {
  const d = o.querySelector('.mgx-graph-box svg, img, svg');
  if (!d) return null;
  return [d.tagName, d.getBoundingClientRect().width, o.getBoundingClientRect().width];
}).filter(Boolean)"""


def _drawings_notebook(path: Path) -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in DRAWINGS]
    # a kernel named, or JupyterLab asks which one before it runs anything
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    path.write_text(nbformat.writes(notebook), encoding="utf-8")


def _check_drawings_fit(page) -> None:  # type: ignore[no-untyped-def]
    """Every drawing of the DRAWINGS notebook fits its output area (each would be wider than a
    1400 px window at its natural size), and the output area the window itself."""
    measured = page.evaluate(MEASURE)
    assert len(measured) == len(DRAWINGS) - 1, measured
    for what, width, area in measured:
        assert width <= area + 0.5, f"a drawing ({what}) {width:.0f} px wide in {area:.0f} px"
        assert area <= 1400


def test_step_through_works_in_jupyterlab_after_save_kernel_shutdown_and_reopen(tmp_path):
    _jupyter_or_skip()
    from playwright.sync_api import sync_playwright

    work = tmp_path / "notebooks"
    work.mkdir()
    shutil.copy(NOTEBOOKS / NOTEBOOK, work / NOTEBOOK)
    _drawings_notebook(work / "drawings.ipynb")
    port, token = _free_port(), secrets.token_hex(16)
    env = _isolated_env(tmp_path)
    server = subprocess.Popen(
        [
            str(BIN / "jupyter-lab"),
            "--no-browser",
            "--allow-root",  # CI runs as root
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={work}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp runs the menu commands
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # make lab's own settings (no news prompt): checked below, as a learner sees them
            *[flag for flag in _lab_command().split() if flag.startswith("--LabApp.")],
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def api(method: str, path: str) -> object:
        request = urllib.request.Request(f"{base}{path}?token={token}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                api("GET", "/api/status")
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("JupyterLab did not start")
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            # only the local server: anything else would be a page reaching for the network
            page.route("**/*", local_route(base))
            page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
            page.wait_for_function("window.jupyterapp && document.querySelector('.jp-Notebook')")
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.status === 'idle'; }",
                timeout=60_000,
            )
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_selector(".mgx-step[data-ready='1'] >> nth=1", timeout=120_000)
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w.sessionContext.session.kernel.status === 'idle'; }",
                timeout=120_000,
            )
            assert (
                page.locator(
                    ".jp-OutputArea-output .jp-RenderedText[data-mime-type="
                    "'application/vnd.jupyter.stderr'] >> text=Traceback"
                ).count()
                == 0
            )
            page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
            page.wait_for_function(
                "() => !window.jupyterapp.shell.currentWidget.context.model.dirty"
            )
            for kernel in api("GET", "/api/kernels"):  # type: ignore[union-attr]
                api("DELETE", f"/api/kernels/{kernel['id']}")
            assert api("GET", "/api/kernels") == []
            page.evaluate("window.jupyterapp.commands.execute('application:close-all')")
            page.wait_for_selector(".jp-Notebook", state="detached")
            page.evaluate(
                f"window.jupyterapp.commands.execute('docmanager:open', {{path: '{NOTEBOOK}'}})"
            )
            page.wait_for_selector(".mgx-step >> nth=1", timeout=60_000)
            # the saved outputs came back with the notebook: no "model not found", scripts ran
            assert page.locator("text=model not found").count() == 0
            steppers = page.locator(".mgx-step")
            assert steppers.count() == 2  # the neuron op by op, the MLP neuron by neuron
            for k in range(steppers.count()):
                step_through(page, steppers.nth(k))
            # fits the output width: nothing cut off at the right of the notebook
            for k in range(steppers.count()):
                box = steppers.nth(k).locator(".mgx-graph-box")
                assert box.evaluate("b => b.scrollWidth <= b.clientWidth + 1")
            page.screenshot(path=str(tmp_path / "jupyterlab.png"))
            # JupyterLab asks about its news feed within seconds unless make lab's settings
            # say no: a learner opening the course is asked nothing about the network
            toasts = page.locator(".Toastify__toast").all_inner_texts()
            assert not [t for t in toasts if "news" in t.lower()], toasts

            # An untrusted copy (its text changed, so its signature no longer matches): no
            # script runs and JupyterLab strips inline SVG, yet step 0 and the table remain.
            saved = json.loads((work / NOTEBOOK).read_text())
            assert any(
                "mgx-step" in "".join(o.get("data", {}).get("text/html", ""))
                for c in saved["cells"]
                for o in c.get("outputs", [])
            )
            saved["cells"][0]["source"].append("\n(an edited copy)")
            (work / "untrusted.ipynb").write_text(json.dumps(saved))
            page.evaluate("window.jupyterapp.commands.execute('application:close-all')")
            page.wait_for_selector(".jp-Notebook", state="detached")
            page.evaluate(
                "window.jupyterapp.commands.execute('docmanager:open', {path: 'untrusted.ipynb'})"
            )
            page.wait_for_selector(".mgx-step >> nth=1", timeout=60_000)
            for k in range(2):
                stepper = page.locator(".mgx-step").nth(k)
                stepper.scroll_into_view_if_needed()
                assert stepper.get_attribute("data-ready") is None  # no script ran
                still = stepper.locator(".mgx-static img")
                assert still.evaluate("img => img.complete && img.naturalWidth > 100")
                first = stepper.locator(".mgx-static .mgx-equation").inner_text()
                assert first.startswith(("d", "the loss "))  # an op's step, or the loss's
                assert stepper.locator("details pre").text_content().startswith("backward pass")
            page.screenshot(path=str(tmp_path / "untrusted.png"))

            # Every kind of drawing fits the output area of a 1400 px window (zoom to enlarge).
            page.evaluate("window.jupyterapp.commands.execute('application:close-all')")
            page.wait_for_selector(".jp-Notebook", state="detached")
            page.evaluate(
                "window.jupyterapp.commands.execute('docmanager:open', {path: 'drawings.ipynb'})"
            )
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session"
                " && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.status === 'idle'; }",
                timeout=60_000,
            )
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_selector(".mgx-step[data-ready='1']", timeout=120_000)
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w.sessionContext.session.kernel.status === 'idle'"
                f" && document.querySelectorAll('.jp-OutputArea-output').length"
                f" >= {len(DRAWINGS) - 1}; }}",
                timeout=120_000,
            )
            page.wait_for_function("[...document.images].every(i => i.complete)")
            _check_drawings_fit(page)
            page.screenshot(path=str(tmp_path / "drawings.png"))
            browser.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def _nbconvert(notebook: Path, home: Path) -> Path:
    """``jupyter nbconvert --to html --execute``: the exported page, beside the notebook."""
    subprocess.run(
        [
            str(BIN / "jupyter-nbconvert"),
            "--to",
            "html",
            "--execute",
            str(notebook),
            "--output-dir",
            str(notebook.parent),
        ],
        env=_isolated_env(home),
        check=True,
        capture_output=True,
        timeout=300,
    )
    return notebook.with_suffix(".html")


def _only_files(route) -> None:  # type: ignore[no-untyped-def]
    """Let the page load local files only (nbconvert's template reaches for a CDN)."""
    if route.request.url.startswith("file:"):
        route.continue_()
    else:
        route.abort()


def test_step_through_works_in_an_nbconvert_html_export(tmp_path):
    _jupyter_or_skip()
    from playwright.sync_api import sync_playwright

    shutil.copy(NOTEBOOKS / NOTEBOOK, tmp_path / NOTEBOOK)
    exported = _nbconvert(tmp_path / NOTEBOOK, tmp_path)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.route("**/*", _only_files)
        page.goto(exported.as_uri())
        steppers = page.locator(".mgx-step")
        assert steppers.count() == 2
        for k in range(steppers.count()):
            step_through(page, steppers.nth(k))
        browser.close()


def test_hostile_labels_in_an_nbconvert_html_export_run_no_script_and_step(tmp_path):
    """The notebook output of a graph labelled with tests/hostile.py's labels, executed and
    exported by nbconvert: no payload runs, the labels are text, the step-through steps."""
    _jupyter_or_skip()
    import nbformat
    from playwright.sync_api import sync_playwright

    from microgradx.viz import trace_backward

    from .hostile import SHOWN, Watch, hostile_graph, names_in_picture, steps_through

    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "from tests.hostile import hostile_graph\n"
            "from microgradx.viz import trace_backward\n"
            "trace_backward(hostile_graph())"
        )
    )
    path = tmp_path / "hostile.ipynb"
    path.write_text(nbformat.writes(notebook), encoding="utf-8")
    exported = _nbconvert(path, tmp_path)
    trace = trace_backward(hostile_graph())
    equations = [visible(trace.equation(i), newlines=True) for i in range(len(trace))]
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        watch = Watch(page, exported.as_uri(), ignored="http")
        page.route("**/*", _only_files)
        page.goto(exported.as_uri())
        (uid,) = page.locator(".mgx-step").evaluate_all("ss => ss.map(s => s.id)")
        assert names_in_picture(page, f"#{uid}") >= set(SHOWN.values())
        steps_through(page, f"#{uid}", equations)
        watch.check(page)
        browser.close()


def test_every_drawing_fits_the_output_width_in_an_nbconvert_export_at_1400_px(tmp_path):
    """Graphviz drawings, a Graphviz frame of the step-through, the step-through page and
    draw_network are each wider than the output area at their natural size; exported by
    nbconvert and shown in a 1400 px window, each fits its output's width (zoom to enlarge)."""
    _jupyter_or_skip()
    from playwright.sync_api import sync_playwright

    notebook = tmp_path / "drawings.ipynb"
    _drawings_notebook(notebook)
    exported = _nbconvert(notebook, tmp_path)
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.route("**/*", _only_files)
        page.goto(exported.as_uri())
        page.wait_for_selector(".mgx-step[data-ready='1']")
        page.wait_for_function("[...document.images].every(i => i.complete)")
        _check_drawings_fit(page)
        # unticking "fit to width" shows the page's picture at full size, scrolling
        page.uncheck(".mgx-fit")
        box = page.locator(".mgx-graph-box")
        assert box.evaluate("b => b.scrollWidth > b.clientWidth")
        browser.close()


def _lab_command(*settings: str) -> str:
    """The command ``make lab`` would run (``make -n``: nothing is run or installed)."""
    make = shutil.which("make")
    if make is None:
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER") == "1":  # CI runs the tests with make
            pytest.fail("make is missing, but CI runs the README's make test")
        pytest.skip("make is not installed (the Makefile is for make)")
    shown = subprocess.run(
        [make, "-n", "-s", "lab", *settings],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    (command,) = [line for line in shown.splitlines() if "jupyter lab" in line]
    return command


def test_make_lab_passes_allow_root_when_run_as_root_and_only_then():
    """Jupyter refuses to start as root without --allow-root: `make lab` in a container (as
    root) exited asking for it. The recipe passes it for user id 0 only."""
    assert "--allow-root" in _lab_command("LAB_UID=0").split()
    assert "--allow-root" not in _lab_command("LAB_UID=1000").split()
    as_me = _lab_command().split()  # the current user, as `make lab` would see them
    assert ("--allow-root" in as_me) == (os.getuid() == 0)
    assert as_me[-1] == "notebooks/"
