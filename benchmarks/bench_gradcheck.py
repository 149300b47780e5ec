"""Where learners wait, measured: gradcheck of a digits network's weights, and the CLI's digits
training with its defaults.

    python benchmarks/bench_gradcheck.py            # both (a few minutes on 2 cores)
    python benchmarks/bench_gradcheck.py --quick    # without the interpreted gradcheck (~1 min)

* gradcheck of every weight of a 64-32-10 tanh MLP (2,410 weights; cross-entropy over one
  digits image), with the finite differences on the compiled replay (the default from 16 inputs
  on) and on the interpreted engine (gradcheck.COMPILE_INPUTS raised past the inputs): the two
  reports must be identical, row for row.
* ``microgradx train --dataset digits`` with its defaults: the held-out accuracy, and the time.

CPU time (time.process_time) and wall time; the machine's load average is printed with them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import platform
import random
import time
from typing import Any

from microgradx import gradcheck
from microgradx.cli import main as cli
from microgradx.data import load_digits
from microgradx.losses import cross_entropy


def digits_loss(hidden: int = 32, batch: int = 1) -> tuple[Any, list[float]]:
    """The cross-entropy of a 64-hidden-10 tanh MLP over ``batch`` digits images as a function
    of its weights (one input each), and the weights."""
    X, y = load_digits()
    rng = random.Random(0)
    rows, targets = X[:batch], y[:batch]
    shapes = [(64, hidden), (hidden, 10)]
    bound = [1 / a**0.5 for a, _ in shapes]
    weights = [
        rng.uniform(-bound[k], bound[k])
        for k, (a, b) in enumerate(shapes)
        for _ in range(b * (a + 1))
    ]

    def loss(*ws: Any) -> Any:
        logits = []
        for row in rows:
            h: list[Any] = list(row)
            k = 0
            for layer, (nin, nout) in enumerate(shapes):
                out = []
                for _ in range(nout):
                    z = ws[k + nin]
                    for w, x in zip(ws[k : k + nin], h):
                        z = z + w * x
                    k += nin + 1
                    out.append(z.tanh() if layer == 0 else z)
                h = out
            logits.append(h)
        return cross_entropy(logits, targets)

    return loss, weights


def timed(work: Any) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    return result, time.process_time() - cpu, time.perf_counter() - wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="no interpreted gradcheck")
    args = parser.parse_args()
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, {platform.machine()},"
        f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start\n"
    )
    module = importlib.import_module("microgradx.gradcheck")
    loss, weights = digits_loss()
    report, cpu, wall = timed(lambda: gradcheck(loss, weights, raise_exception=False))
    print(f"gradcheck 64-32-10, {len(weights)} weights, compiled replay: {report.verdict},"
          f" {cpu:.1f} s CPU ({wall:.1f} s wall)")  # fmt: skip
    ok = report.passed and cpu <= 5
    if not args.quick:
        default = module.COMPILE_INPUTS
        module.COMPILE_INPUTS = len(weights) + 1
        try:
            slow, cpu_i, wall_i = timed(lambda: gradcheck(loss, weights, raise_exception=False))
        finally:
            module.COMPILE_INPUTS = default
        same = repr(slow) == repr(report)
        print(f"gradcheck 64-32-10, interpreted: {slow.verdict}, {cpu_i:.1f} s CPU"
              f" ({wall_i:.1f} s wall); the same report: {same}; {cpu_i / cpu:.0f}x")  # fmt: skip
        ok = ok and same

    before = os.getloadavg()[0]
    cpu, wall = time.process_time(), time.perf_counter()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cli(["train", "--dataset", "digits", "--quiet"])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    line = out.getvalue().strip().splitlines()[-1]
    accuracy = float(line.split("test accuracy ")[1].split("%")[0])
    print(f"microgradx train --dataset digits (defaults): {line}; {cpu:.1f} s CPU ({wall:.1f} s"
          f" wall, load {before:.1f})")  # fmt: skip
    ok = ok and accuracy >= 96 and cpu <= 15
    print(f"\n- [{'x' if ok else ' '}] gradcheck <= 5 s, same report; digits >= 96% in <= 15 s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
