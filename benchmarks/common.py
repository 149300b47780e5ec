"""What the benchmark scripts share: timing, and how to start Debian's Chromium headless."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable

CHROMIUM = "/usr/bin/chromium"
# The brief's flags: no sandbox as root, no background traffic on a machine with no network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def best_of(repeats: int, work: Callable[[], object]) -> float:
    """The shortest of ``repeats`` runs of ``work``, in seconds, each from the same collector
    state; what ``work`` returns is freed after the clock stops."""
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = work()
        elapsed = time.perf_counter() - start
        del result
        best = min(best, elapsed)
    return best
