"""The browser playground: its size, how fast it is ready, and a moons epoch against CPython.

    make site && python benchmarks/bench_site.py

Serves ``site/`` from a local server, opens it in headless Debian Chromium (playwright) and
reports: the size of ``site/``; the time from navigation until Pyodide is loaded and microgradx
imported (the page measures it); the median time of one training epoch of the default moons
network (2-16-16-1 tanh, Adam, 200 points, batches of 20) over 20 epochs in the browser, and of
the same epochs run by the same code in this CPython. Targets (issue 13): site <= 20 MB, ready
<= 10 s, browser epoch within 4x of CPython's. Exits with status 1 when one is missed.
"""

from __future__ import annotations

import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/browser.py: the server and the launch the tests use too

from microgradx.playground import Session  # noqa: E402
from tests.browser import launch, serve  # noqa: E402

SITE = ROOT / "site"


def main() -> int:
    if not (SITE / "manifest.json").exists():
        print("build the site first: make site")
        return 1
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file()) / 1e6
    from playwright.sync_api import sync_playwright

    with serve(SITE) as base, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.goto(f"{base}/index.html")
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=120_000)
        ready = page.evaluate("window.playground.readySeconds")
        page.evaluate("window.playground.train(20)")
        browser_epochs = page.evaluate("window.playground.status.epoch_seconds")
        browser.close()
    session = Session()
    session.train(20)
    browser_epoch = statistics.median(browser_epochs)
    cpython_epoch = statistics.median(session.epoch_seconds)
    ratio = browser_epoch / cpython_epoch
    checks = [size <= 20, ready <= 10, ratio <= 4]
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print("| what | measured | target |")
    print("| --- | --- | --- |")
    print(f"| site/ | {size:.1f} MB | <= 20 MB |")
    print(f"| ready (Pyodide loaded, microgradx imported) | {ready:.1f} s | <= 10 s |")
    print(
        f"| moons epoch, median of 20 | browser {browser_epoch * 1000:.0f} ms, CPython"
        f" {cpython_epoch * 1000:.0f} ms: {ratio:.1f}x | <= 4x |"
    )
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
