"""Headless Debian Chromium through playwright, for the tests that drive a real page, and what
those tests and the browser benchmarks (``benchmarks/bench_page.py``, ``bench_site.py``,
``bench_lite.py``) share: the Chromium launch, the local server of a built site, the route that
keeps a JupyterLite page offline and hands over its app, and stepping through a step-through
page. One copy of each, here: a benchmark measures the browser and the server the tests check."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# The brief's flags: no sandbox as root, and no background traffic on a machine with no network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def require_browser() -> None:
    """Skip without Chromium and playwright; fail instead when MICROGRADX_REQUIRE_BROWSER=1."""
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


def launch(playwright: Any) -> Any:
    """Debian's Chromium (``CHROMIUM``), headless with ``FLAGS``, from a started playwright
    (``sync_playwright()``); the caller closes it. Never a browser playwright downloads."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


# ---- a built site, served locally ----------------------------------------------------------


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass  # a test's or a benchmark's output, not a line per file served


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` read-only (GET and HEAD) on 127.0.0.1 (a free port) while the block runs;
    yields its base URL (``http://127.0.0.1:PORT``, no slash at the end). The server stops and
    closes its socket afterwards, however the block ends."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def local_route(base: str, outside: list[str] | None = None) -> Callable[[Any], None]:
    """A playwright route handler that passes only the requests to the server at ``base``
    (``http://127.0.0.1:PORT``, as ``serve`` yields it) and aborts every other one, appending its
    URL to ``outside``: a page that reaches for the network fails here instead of waiting."""

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(base + "/"):
            route.continue_()
        else:
            if outside is not None:
                outside.append(url)
            route.abort()

    return route


def lite_route(base: str, outside: list[str] | None = None) -> Callable[[Any], None]:
    """A playwright route handler for a JupyterLite site served at ``base``: every request
    outside the server is aborted (``local_route``), and the site's ``jupyter-lite.json`` is
    answered with ``exposeAppInBrowser`` on, which gives the page ``window.jupyterapp`` to drive
    (as JupyterLab's own tests do); the rest is served as built."""
    local = local_route(base, outside)

    def route(route: Any) -> None:
        if route.request.url.split("?")[0] == f"{base}/jupyter-lite.json":
            response = route.fetch()
            config = response.json()
            config["jupyter-config-data"]["exposeAppInBrowser"] = True
            route.fulfill(response=response, body=json.dumps(config))
        else:
            local(route)

    return route


# Opens a notebook in a running JupyterLab (its window.jupyterapp: lite_route), puts the given
# sources into the cells with those exercise ids, waits for its kernel, runs every cell, and
# returns what each code cell shows, and the seconds until its kernel answered (ready_s) and
# until every cell had run (run_s): test_lite.py's checks and bench_lite.py's times.
RUN_NOTEBOOK = """async ([path, answers]) => {
  const app = window.jupyterapp;
  await app.restored;
  const started = performance.now();
  const widget = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await widget.context.ready;
  await widget.sessionContext.ready;
  for (const cell of widget.content.model.cells) {
    const exercise = cell.sharedModel.getMetadata('exercise');
    if (exercise in answers) cell.sharedModel.setSource(answers[exercise]);
  }
  // an empty request is answered once the kernel has started (Pyodide and its packages loaded)
  await widget.sessionContext.session.kernel.requestExecute({code: '', silent: true}).done;
  const ready = performance.now();
  app.shell.activateById(widget.id);
  const ok = await app.commands.execute('notebook:run-all-cells');
  const ran = performance.now();
  const cells = [];
  for (const cell of widget.content.model.cells) {
    if (cell.type === 'code') {
      cells.push({id: cell.id, source: cell.sharedModel.getSource(), count: cell.executionCount,
                  outputs: cell.outputs.toJSON()});
    }
  }
  return {ok, cells, widget: widget.id, ready_s: (ready - started) / 1000,
          run_s: (ran - ready) / 1000};
}"""


# ---- a step-through page ---------------------------------------------------------------------


def step_through(page: Any, root: Any, *, keys: bool = True) -> None:
    """Step the step-through ``root`` (a playwright Locator) forward to its last step and back
    with its buttons (and, with ``keys``, the arrow keys once it has the focus), checking at
    each step, against the page's own data (which the kernel or Python wrote once), the step
    number, the current box (named by the root and drawn marked) and the equation shown."""
    root.scroll_into_view_if_needed()
    steps = json.loads(root.locator("script.mgx-data").text_content())["steps"]
    assert len(steps) > 1

    def check(i: int) -> None:
        assert root.get_attribute("data-step") == str(i)
        assert root.get_attribute("data-current") == steps[i]["n"]
        current = root.locator("g.node.current").evaluate_all("gs => gs.map(g => g.dataset.id)")
        assert steps[i]["n"] in current
        assert root.locator(".mgx-equation").inner_text() == steps[i]["e"]

    assert root.get_attribute("data-ready") == "1", "the step-through's script did not run"
    check(0)
    for i in range(1, len(steps)):
        root.locator(".mgx-next").click()
        check(i)
    for i in reversed(range(len(steps) - 1)):
        root.locator(".mgx-previous").click()
        check(i)
    if not keys:
        return
    root.locator(".mgx-equation").click()  # give the step-through the keyboard focus
    for i in range(1, len(steps)):
        page.keyboard.press("ArrowRight")
        check(i)
    for i in reversed(range(len(steps) - 1)):
        page.keyboard.press("ArrowLeft")
        check(i)
