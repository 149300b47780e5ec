"""The step-through page of a real network: its size, and how fast a step is applied in Chromium.

    python benchmarks/bench_page.py

The loss of one two-moons example through ``MLP(2, [16, 16, 1])`` (tanh, seed 0), traced at the
neuron and at the op level. For each page: its size, the time to build it in Python, and, in
headless Debian Chromium driven by playwright, the time to apply each step (a click on "next" up
to the next animation frame, measured inside the page with ``performance.now()``): median and
worst over every step. Targets (from issue 9): neuron level <= 300 KB and <= 50 ms per step; op
level <= 1 MB. Exits with status 1 when a target is missed.
"""

from __future__ import annotations

import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/browser.py: the Chromium launch the tests use too

from microgradx import losses  # noqa: E402
from microgradx.nn import MLP  # noqa: E402
from microgradx.viz import trace_backward  # noqa: E402
from tests.browser import launch  # noqa: E402

# One step, timed in the page: the click's work plus the frame the browser then draws.
TIME_ONE_STEP = """() => new Promise((resolve) => {
  const start = performance.now();
  document.querySelector('.mgx-next').click();
  requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - start), 0));
})"""


def measure(level: str, folder: Path) -> dict[str, float]:
    model = MLP(2, [16, 16, 1], seed=0)
    loss = losses.bce_with_logits(model([0.5, -1.0]), 1)
    start = time.perf_counter()
    trace = trace_backward(loss, level=level)
    path = trace.to_html(folder / f"{level}.html")
    build = time.perf_counter() - start
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(path.as_uri())
        times = [page.evaluate(TIME_ONE_STEP) for _ in range(len(trace) - 1)]
        assert page.locator(".mgx-step").get_attribute("data-step") == str(len(trace) - 1)
        browser.close()
    return {
        "steps": len(trace),
        "kb": path.stat().st_size / 1000,
        "build": build,
        "median": statistics.median(times),
        "worst": max(times),
    }


def main() -> int:
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        results = {level: measure(level, Path(folder)) for level in ("neuron", "layer", "op")}
    targets = {"neuron": (300, 50.0), "layer": (300, 50.0), "op": (1000, None)}
    missed = False
    print("| level | steps | page | built in | step applied: median | worst | target |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for level, r in results.items():
        kb, ms = targets[level]
        ok = r["kb"] <= kb and (ms is None or r["worst"] <= ms)
        missed |= not ok
        target = f"<= {kb} KB" + (f", <= {ms:.0f} ms" if ms else "")
        print(
            f"| {level} | {r['steps']:.0f} | {r['kb']:.0f} KB | {r['build']:.2f} s |"
            f" {r['median']:.1f} ms | {r['worst']:.1f} ms | {target}{'' if ok else ' MISSED'} |"
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
