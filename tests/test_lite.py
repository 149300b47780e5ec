"""The course in a browser (``make lite``): the JupyterLite site in ``lite/`` runs the notebooks in
Pyodide, in headless Chromium, with every request outside the local server aborted.

One page load of JupyterLab for the module (it takes 10-30 s to start); each notebook opens in it
with a kernel of its own, as a learner's would. The site is built by ``make lite`` (CI's .ci/run
builds it after ``make site``); without it these tests skip, or fail where
MICROGRADX_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from .browser import RUN_NOTEBOOK, launch, lite_route, require_browser, serve, step_through

ROOT = Path(__file__).resolve().parent.parent
LITE = ROOT / "lite"
NOTEBOOKS = ROOT / "notebooks"
LOCK = LITE / "pyodide" / "pyodide-lock.json"
STEPPED = "01_backprop_by_hand"  # runs, steps through, and has an exercise answered
EXERCISE = "01.tanh_neuron_dw"
PLOTTING = "06_forward_vs_reverse"  # its one plot cell shows the one-line message offline
# Every notebook that does not plot, run to its end (01 in its own test).
WITHOUT_PLOTS = [
    "00_build_a_value",
    "02_seeing_the_graph",
    "04_delta_rule_and_modules",
]
# Notebooks that plot and are run to their end offline besides PLOTTING (each plot one line).
PLOTTING_TOO = ["09_digits"]
PENDING: dict[str, str] = {}  # a notebook that cannot run in the browser yet: the reason
NOT_DRAWN = "plot not drawn: matplotlib and numpy could not be loaded"


def _lite_or_skip() -> dict[str, Any]:
    if not LOCK.exists():
        reason = "the JupyterLite tests need lite/ (make lite)"
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + "; MICROGRADX_REQUIRE_BROWSER=1 and .ci/run builds it")
        pytest.skip(reason)
    lock: dict[str, Any] = json.loads(LOCK.read_text())
    return lock


def _plots(name: str) -> bool:
    cells = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text())["cells"]
    # `plots.x(...)` or `from microgradx.viz.plots import x`: either way the notebook plots
    return any(
        re.search(r"\bplots\b", "".join(c["source"])) for c in cells if c["cell_type"] == "code"
    )


# ---- the build, without a browser -----------------------------------------------------------


def test_the_lock_ships_the_kernel_and_microgradx_with_their_own_hashes():
    """Pyodide checks each wheel against the lock's sha256: the build rewrote it with the hashes
    of the files it shipped; every other package loads from Pyodide's own distribution."""
    lock = _lite_or_skip()
    packages = lock["packages"]
    shipped = {k: p for k, p in packages.items() if "://" not in p["file_name"]}
    assert {"microgradx", "comm", "micropip", "ipython", "jedi", "hypothesis"} <= set(shipped)
    assert packages["microgradx"]["depends"] == ["hypothesis"]  # check_engine needs it
    for name, package in shipped.items():
        wheel = LITE / "pyodide" / package["file_name"]
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == package["sha256"], name
    version = json.loads((LITE / "pyodide" / "package.json").read_text())["version"]
    assert packages["matplotlib"]["file_name"].startswith(
        f"https://cdn.jsdelivr.net/pyodide/v{version}/full/matplotlib-"
    )
    # no source maps: half the site's size, and nothing a learner needs
    assert not list(LITE.rglob("*.map"))
    assert sorted(p.name for p in (LITE / "files").glob("*.ipynb")) == sorted(
        p.name for p in NOTEBOOKS.glob("*.ipynb")
    )


def test_the_lists_are_every_notebook_without_plots():
    names = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert sorted([STEPPED, *WITHOUT_PLOTS, *PENDING]) == [n for n in names if not _plots(n)]
    assert _plots(PLOTTING)


# ---- the build script's output and flags (npm, pip and jupyter stubbed: no network, fast) ------


@pytest.fixture
def lite_build(monkeypatch, tmp_path):
    """playground/build_lite.py with the slow parts stubbed: a fake Pyodide core, a ``jupyter
    lite build`` that writes one page (or fails, with ``fail.set()``), a lock rewrite that only
    records the packages' address. Returns the module, the commands run, the addresses given
    to the lock, the jupyter-lite.json configs the build wrote, and the event ``fail``."""
    monkeypatch.syspath_prepend(str(ROOT / "playground"))
    import build_lite
    import build_site

    core = tmp_path / "core"
    core.mkdir()
    for name in build_site.PYODIDE_FILES:
        (core / name).write_text("{}")
    (core / "package.json").write_text('{"version": "0.29.9"}')
    monkeypatch.setattr(build_lite, "pyodide_core", lambda: core)
    monkeypatch.setattr(build_site, "pyodide_core", lambda: core)
    calls: list[list[str]] = []
    urls: list[str] = []
    configs: list[Any] = []
    fail = threading.Event()

    def run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
        calls.append(cmd)
        configs.append(
            json.loads(Path(cmd[cmd.index("--lite-dir") + 1], "jupyter-lite.json").read_text())
        )
        if fail.is_set():
            raise RuntimeError("jupyter lite build failed (test stub)")
        out = Path(cmd[cmd.index("--output-dir") + 1])
        out.mkdir()
        (out / "index.html").write_text("new")

    def rewrite_lock(pyodide_dir: Path, url: str) -> list[str]:
        urls.append(url)
        return []

    monkeypatch.setattr(build_lite, "run", run)
    monkeypatch.setattr(build_lite, "rewrite_lock", rewrite_lock)
    monkeypatch.chdir(tmp_path)
    return SimpleNamespace(module=build_lite, calls=calls, urls=urls, configs=configs, fail=fail)


def _victim(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    victim = folder / "precious.txt"
    victim.write_text("keep me")
    return victim


def _refuse_cases(tmp_path: Path) -> dict[str, tuple[str, Path]]:
    """Each output a build must refuse: (the --output text, a file that must survive)."""
    mine = tmp_path / "mine"
    victim = _victim(mine)
    (tmp_path / "link").symlink_to(mine)
    (tmp_path / "file.txt").write_text("keep me")
    return {
        "a symbolic link to a folder": (str(tmp_path / "link"), victim),
        "the current folder": (".", victim),
        "the current folder, spelled through a subfolder": ("mine/..", victim),
        "a folder without the marker": (str(mine), victim),
        "a regular file": (str(tmp_path / "file.txt"), tmp_path / "file.txt"),
        "the repository": (str(ROOT), ROOT / "pyproject.toml"),
        "a folder containing the repository": (str(ROOT.parent), ROOT / "pyproject.toml"),
    }


REFUSED = [
    "a symbolic link to a folder",
    "the current folder",
    "the current folder, spelled through a subfolder",
    "a folder without the marker",
    "a regular file",
    "the repository",
    "a folder containing the repository",
]


@pytest.mark.parametrize("case", REFUSED)
def test_lite_refuses_an_output_a_build_did_not_make_and_deletes_nothing(
    lite_build, tmp_path, capsys, case
):
    build_lite = lite_build.module
    output, victim = _refuse_cases(tmp_path)[case]
    if case == "the current folder":
        (tmp_path / "mine" / ".microgradx-build").write_text("even with the marker\n")
        os.chdir(tmp_path / "mine")
    with pytest.raises(SystemExit) as exit_:
        build_lite.main(["--output", output])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --output: " in error and "refusing" in error, error
    assert victim.exists() and lite_build.calls == []  # nothing deleted, nothing built
    assert (tmp_path / "link").is_symlink()
    assert not list(tmp_path.glob(".*.building"))


def test_lite_replaces_a_previous_build_whole_and_marks_the_new_one(lite_build, tmp_path):
    build_lite = lite_build.module
    build_lite.main(["--output", "site"])  # nothing there: a new folder
    site = tmp_path / "site"
    assert (site / "index.html").read_text() == "new" and (site / ".microgradx-build").is_file()
    (site / "old.txt").write_text("from the previous build")
    build_lite.main(["--output", "site"])
    assert (site / "index.html").read_text() == "new" and not (site / "old.txt").exists()
    assert (site / "pyodide" / "pyodide.mjs").exists() and len(lite_build.calls) == 2
    assert lite_build.configs[0]["jupyter-config-data"]["appName"] == "microgradx course"
    assert lite_build.urls == ["https://cdn.jsdelivr.net/pyodide/v0.29.9/full/"] * 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core", "site"]  # no leftovers


def test_a_failing_lite_build_leaves_the_previous_site_as_it_was(lite_build, tmp_path):
    build_lite = lite_build.module
    build_lite.main(["--output", "site"])
    (tmp_path / "site" / "old.txt").write_text("still served")
    lite_build.fail.set()
    with pytest.raises(RuntimeError, match="test stub"):
        build_lite.main(["--output", "site"])
    assert (tmp_path / "site" / "old.txt").read_text() == "still served"
    assert (tmp_path / "site" / "index.html").read_text() == "new"
    with pytest.raises(RuntimeError, match="test stub"):
        build_lite.main(["--output", "other"])  # no old site: none left half built either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core", "site"]


def test_a_tool_failing_in_a_lite_build_is_one_line_and_keeps_the_previous_site(
    lite_build, tmp_path, capsys, monkeypatch
):
    build_lite = lite_build.module
    build_lite.main(["--output", "site"])
    (tmp_path / "site" / "old.txt").write_text("still served")

    def failing(cmd: list[str], what: str, cwd: Path | None = None) -> None:
        raise build_lite.ToolError(f"{what} failed with exit status 1 (its output is above)")

    monkeypatch.setattr(build_lite, "run", failing)
    with pytest.raises(SystemExit) as exit_:
        build_lite.main(["--output", "site"])
    assert exit_.value.code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "jupyter lite build" in error and "exit status 1" in error
    assert "Traceback" not in error
    assert (tmp_path / "site" / "old.txt").read_text() == "still served"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core", "site"]


@pytest.mark.parametrize(
    "url",
    [
        "{0}",
        "{version.__class__.__mro__}",
        "https://x.example/{",
        "https://x.example/{other}/",
        'javascript:alert("1")',
        "javascript:alert(1)//",
        "../relative/",
        "/absolute/path/",
        "file:///srv/pyodide/",
        "ftp://x.example/pyodide/",
        "https:///no-host/",
        "https://x.example/a b/",
        "https://x.example/p?x=1",
        "https://x.example/p#top",
        "https://user:secret@x.example/p/",
        "https://x.example:99999/p/",
        "https://x.example/\n",
    ],
)
def test_a_bad_packages_url_is_one_line_naming_the_flag(lite_build, capsys, url):
    build_lite = lite_build.module
    with pytest.raises(SystemExit) as exit_:
        build_lite.main(["--output", "site", "--pyodide-packages-url", url])
    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "argument --pyodide-packages-url: " in error, error
    assert lite_build.calls == [] and lite_build.urls == []


@pytest.mark.parametrize(
    ("url", "written"),
    [
        ("https://school.example/pyodide/{version}/", "https://school.example/pyodide/0.29.9/"),
        ("http://10.0.0.2:8000/py-{version}", "http://10.0.0.2:8000/py-0.29.9/"),
        ("https://x.example/{version}/{version}/", "https://x.example/0.29.9/0.29.9/"),
        ("https://x.example/fixed/", "https://x.example/fixed/"),
    ],
)
def test_a_packages_url_gets_the_version_put_literally_in_its_placeholder(
    lite_build, tmp_path, url, written
):
    build_lite = lite_build.module
    build_lite.main(["--output", "site", "--pyodide-packages-url", url])
    assert lite_build.urls == [written]


# ---- plots where matplotlib cannot load (CPython standing in for Pyodide) --------------------


@pytest.fixture
def no_matplotlib(monkeypatch):
    """matplotlib cannot be imported (None in sys.modules), and no answer about it is kept."""
    import sys

    from microgradx.viz import plots

    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(plots, "_browser_reason", None)
    return plots


def _every_kind_of_plot(plots: Any) -> dict[str, Any]:
    from microgradx.nn import MLP
    from microgradx.train import History

    model = MLP(2, [3, 1], seed=0)
    X, y = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], [0, 1, 1]
    return {
        "curves": lambda: plots.curves({"a": ([1, 2], [3, 4])}),
        "decision_boundary": lambda: plots.decision_boundary(model, X, y, resolution=4),
        "training_curves": lambda: plots.training_curves(History(loss=[1.0, 0.5])),
        "gradient_histograms": lambda: plots.gradient_histograms(model),
    }


def test_in_a_browser_without_matplotlib_a_plot_is_one_line(no_matplotlib, monkeypatch):
    plots = no_matplotlib
    monkeypatch.setattr(plots, "IN_BROWSER", True)  # no pyodide_js here: it cannot load it
    for name, draw in _every_kind_of_plot(plots).items():
        shown = draw()
        assert isinstance(shown, plots.PlotUnavailable), name
        assert repr(shown).startswith("plot not drawn: ") and "\n" not in repr(shown), name
    # what the function computes besides the figure still comes back: the trained model
    figure, model = plots.universal_approximation(hidden=2, points=5, epochs=3)
    from microgradx.nn import MLP

    untrained = MLP(1, [2, 1], activation="relu", init="he", seed=0)
    assert isinstance(figure, plots.PlotUnavailable)
    assert [p.data for p in model.parameters()] != [p.data for p in untrained.parameters()]
    # and a confusion matrix's counts, which notebook 09 reads from what it returns
    shown = plots.confusion_matrix([0, 1, 1], [0, 1, 0], 2)
    assert isinstance(shown, plots.PlotUnavailable) and shown.matrix == [[1, 1], [0, 1]]


def test_in_cpython_without_matplotlib_the_error_names_the_extra(no_matplotlib):
    for draw in _every_kind_of_plot(no_matplotlib).values():
        with pytest.raises(ImportError, match=r"pip install 'microgradx\[plot\]'"):
            draw()


# ---- in Chromium ----------------------------------------------------------------------------


CLOSE = """async (id) => {
  const app = window.jupyterapp;
  for (const widget of app.shell.widgets('main')) {
    if (widget.id === id) { await widget.sessionContext.shutdown(); widget.dispose(); }
  }
}"""


def _text(output: dict[str, Any]) -> str:
    if output["output_type"] == "stream":
        text = output["text"]
    elif output["output_type"] == "error":
        text = "\n".join(output["traceback"])
    else:
        text = output.get("data", {}).get("text/plain", "")
    return text if isinstance(text, str) else "".join(text)


def _errors(run: dict[str, Any]) -> list[str]:
    """Each cell that raised or did not run (id: what it showed)."""
    problems = []
    for cell in run["cells"]:
        for output in cell["outputs"]:
            if output["output_type"] == "error" or (
                output["output_type"] == "stream" and output["name"] == "stderr"
            ):
                problems.append(f"{cell['id']}: {_text(output)[-600:]}")
        if cell["count"] is None:
            problems.append(f"{cell['id']}: not run")
    return problems


class Lab:
    """JupyterLab of the built site in one page, and every request it tried outside the server."""

    def __init__(self, page: Any, base: str, outside: list[str]) -> None:
        self.page, self.base, self.outside = page, base, outside

    def run(self, name: str, answers: dict[str, str] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self.page.evaluate(RUN_NOTEBOOK, [f"{name}.ipynb", answers or {}])
        return result

    def close(self, run: dict[str, Any]) -> None:
        self.page.evaluate(CLOSE, run["widget"])


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    _lite_or_skip()
    require_browser()
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with serve(LITE) as base, sync_playwright() as p:
        browser = launch(p)
        # The site's service worker stays: the kernel's files (/drive) go through it. The
        # requests it makes for the page and the kernel pass the route too (Chromium).
        context = browser.new_context()
        context.route("**/*", lite_route(base, outside))
        page = context.new_page()
        page.set_default_timeout(60_000)  # waits on elements; a notebook run has no limit
        page.goto(f"{base}/lab/index.html")
        page.wait_for_function("() => window.jupyterapp !== undefined")
        yield Lab(page, base, outside)
        browser.close()


def test_notebook_01_runs_steps_through_and_checks_an_exercise(lab):
    solutions = json.loads((NOTEBOOKS / "solutions" / f"{STEPPED}.json").read_text())
    del lab.outside[:]
    run = lab.run(STEPPED, {EXERCISE: solutions[EXERCISE]})
    assert _errors(run) == [] and run["ok"], _errors(run)
    shown = "\n".join(_text(o) for c in run["cells"] for o in c["outputs"])
    assert f"{EXERCISE}: right" in shown
    steppers = lab.page.locator(f"#{run['widget']} .mgx-step[data-ready='1']")
    assert steppers.count() >= 1
    step_through(lab.page, steppers.last)
    # the equation a learner reads: the chain rule's product, with the numbers of that step
    assert "=" in steppers.last.locator(".mgx-equation").inner_text()
    lab.close(run)
    assert lab.outside == []


@pytest.mark.parametrize("name", WITHOUT_PLOTS)
def test_a_notebook_without_plots_runs_to_its_end(lab, name):
    del lab.outside[:]
    run = lab.run(name)
    lab.close(run)
    assert _errors(run) == [] and run["ok"], _errors(run)
    assert lab.outside == []


@pytest.mark.parametrize("name", PLOTTING_TOO)
def test_a_plotting_notebook_runs_to_its_end_offline(lab, name):
    lock = _lite_or_skip()
    assert _plots(name)
    del lab.outside[:]
    run = lab.run(name)
    lab.close(run)
    assert _errors(run) == [] and run["ok"], _errors(run)
    lines = [_text(o) for c in run["cells"] for o in c["outputs"]]
    assert any(line.startswith(NOT_DRAWN) for line in lines)
    cdn = lock["packages"]["matplotlib"]["file_name"].rsplit("/", 1)[0] + "/"
    assert all(url.startswith(cdn) for url in lab.outside), lab.outside


def test_a_plot_offline_says_what_is_missing_in_one_line_and_the_notebook_goes_on(lab):
    lock = _lite_or_skip()
    del lab.outside[:]
    run = lab.run(PLOTTING)
    lab.close(run)
    assert _errors(run) == [] and run["ok"], _errors(run)
    plotted = [c for c in run["cells"] if "plots." in c["source"]]
    assert plotted
    for cell in plotted:
        (output,) = cell["outputs"]
        line = _text(output)
        assert line.startswith(NOT_DRAWN) and "\n" not in line, line
    # it tried Pyodide's distribution (where a deployed site gets matplotlib), and nothing else
    cdn = lock["packages"]["matplotlib"]["file_name"].rsplit("/", 1)[0] + "/"
    assert lab.outside, "the kernel never asked for matplotlib"
    assert all(url.startswith(cdn) for url in lab.outside), lab.outside
