"""Costs that must grow linearly: loading weights, building a wide MLP, drawing a graph.

    python benchmarks/bench_costs.py

Each of these was once quadratic (issue 10): ``io`` rebuilt a set of names per weight (17k weights
took 11.6 s to load), ``label_parameters`` rescanned every module per bias (``MLP(2, [128, 128,
1])`` took 2.35 s to build), and ``draw_graph`` searched a sorted list per edge. Targets: loading
<= 0.2 s per 100k weights; building that MLP <= 0.5 s; drawing (the DOT text, no renderer) grows
at most 2.5x when the graph doubles. Best of 3; exits with status 1 when a target is missed.
"""

from __future__ import annotations

import platform
import sys
import tempfile
from pathlib import Path

from common import best_of

from microgradx import load_weights, losses, save
from microgradx.nn import MLP
from microgradx.viz.graph import draw_graph


def main() -> int:
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    rows, missed = [], False

    build = best_of(3, lambda: MLP(2, [128, 128, 1], seed=0))
    rows.append(("build MLP(2, [128, 128, 1]) (16.9k parameters)", f"{build:.3f} s", "<= 0.5 s"))
    missed |= build > 0.5

    model = MLP(16, [300, 300, 1], seed=0)  # 95.7k weights
    count = len(model.parameters())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.json"
        save(model, path)
        loading = best_of(3, lambda: load_weights(model, path))
    per_100k = loading * 100_000 / count
    rows.append((f"load_weights, {count} weights", f"{loading:.3f} s", "<= 0.2 s per 100k"))
    missed |= per_100k > 0.2

    def loss_of(width: int) -> object:
        net = MLP(2, [width, width, 1], seed=0)
        return losses.bce_with_logits(net([0.5, -1.0]), 1)

    small, large = loss_of(12), loss_of(17)  # about 1,000 and 2,000 drawn nodes
    n_small = draw_graph(small, max_nodes=10**6).nodes
    n_large = draw_graph(large, max_nodes=10**6).nodes
    t_small = best_of(3, lambda: draw_graph(small, max_nodes=10**6))
    t_large = best_of(3, lambda: draw_graph(large, max_nodes=10**6))
    growth = (t_large / t_small) / (n_large / n_small)
    rows.append(
        (
            f"draw_graph DOT, {n_small} -> {n_large} nodes",
            f"{t_small:.3f} -> {t_large:.3f} s ({growth:.2f}x per node)",
            "<= 1.25x per node",
        )
    )
    missed |= growth > 1.25

    print("| what | time | target |")
    print("| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
