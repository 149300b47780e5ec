"""The course in JupyterLite: the site's size, the time to a ready kernel and to run notebook 01 in
headless Chromium, and the same notebook in CPython (a Jupyter kernel, nbclient) in the same run.

    make lite && python benchmarks/bench_lite.py

Serves ``lite/`` from a local server (every other request aborted), opens JupyterLab in headless
Debian Chromium (playwright), opens notebook 01 and reports: the size of ``lite/``; the time from
opening the notebook until its kernel answers (Pyodide, IPython and the kernel's packages loaded);
the time to run all its cells (microgradx is loaded by the first); then the same two times for
CPython's ipykernel. Targets (issue 21): site <= 50 MB. Exits with status 1 when it is missed.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/browser.py: the server and route test_lite.py uses too

from tests.browser import RUN_NOTEBOOK, launch, lite_route, serve  # noqa: E402

LITE = ROOT / "lite"
NOTEBOOK = "01_backprop_by_hand.ipynb"


def in_browser() -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with serve(LITE) as base, sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context()
        context.route("**/*", lite_route(base))  # offline, and window.jupyterapp to drive it
        page = context.new_page()
        page.set_default_timeout(600_000)
        started = time.perf_counter()
        page.goto(f"{base}/lab/index.html")
        page.wait_for_function("() => window.jupyterapp !== undefined")
        page.evaluate("() => window.jupyterapp.restored")
        lab = time.perf_counter() - started
        result = page.evaluate(RUN_NOTEBOOK, [NOTEBOOK, {}])  # as test_lite.py runs it
        browser.close()
    if not result["ok"]:
        raise SystemExit("notebook 01 raised in JupyterLite: run tests/test_lite.py")
    return {"lab": lab, "ready": result["ready_s"], "run": result["run_s"]}


def in_cpython() -> dict[str, float]:
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        # the kernel imports this checkout's microgradx, as the browser's does
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": folder}})  # fmt: skip
        started = time.perf_counter()
        with client.setup_kernel():
            ready = time.perf_counter() - started
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            run = time.perf_counter() - started - ready
    return {"ready": ready, "run": run}


def main() -> int:
    if not (LITE / "pyodide" / "pyodide-lock.json").exists():
        print("build the site first: make lite")
        return 1
    files = [p for p in LITE.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files) / 1e6
    maps = sum(p.suffix == ".map" for p in files)
    browser = in_browser()
    cpython = in_cpython()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()},"
          f" load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| what | JupyterLite (Chromium) | CPython (ipykernel) | target |")
    print("| --- | --- | --- | --- |")
    print(f"| lite/ | {size:.1f} MB, {len(files)} files, {maps} source maps | | <= 50 MB |")
    print(f"| JupyterLab loaded | {browser['lab']:.1f} s | | |")
    print(f"| notebook 01: kernel ready | {browser['ready']:.1f} s | {cpython['ready']:.1f} s | |")
    ratio = browser["run"] / cpython["run"]
    print(
        f"| notebook 01: all cells run | {browser['run']:.1f} s | {cpython['run']:.1f} s"
        f" ({ratio:.1f}x) | |"
    )
    return 0 if size <= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
