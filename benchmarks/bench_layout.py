"""microgradx's own layout (``layout="python"``, no Graphviz) on growing op-level graphs.

    python benchmarks/bench_layout.py

Draws op-level graphs of about 200, 800 and 3,200 nodes with every edge labelled (its local
gradient: ``show_local_grads=True``), the labels placed so that none touches a box or another
label. Placing them compared each spot with every area placed before it: quadratic, 7 s of the
8 s a 2,660-node graph took (2026-11-30). Now each spot meets only the areas in the grid cells
it covers (``viz.layout.Occupied``). Prints, per size, the time (best of 3), the time per node
relative to the smallest graph (about 1x when linear; the quadratic placement gave about 4x
per quadrupling), and the areas compared per spot asked about (a count, flat when linear);
"layouts": how many times the columns were laid out (wider when labels found no room).
No target: times are reported, not asserted (tests/test_own_layout.py counts the comparisons).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test's graph, so the benchmark measures what it checks

from common import best_of  # noqa: E402

from microgradx.viz import draw_graph  # noqa: E402
from microgradx.viz import layout as layout_module  # noqa: E402
from tests.test_own_layout import _op_graph  # noqa: E402

SIZES = (200, 800, 3200)  # nodes, about: an op-level graph of n ops has 2 n + 8


def measure(nodes: int) -> dict[str, float]:
    view = draw_graph(
        _op_graph((nodes - 8) // 2), show_local_grads=True, layout="python", max_nodes=10**6
    )
    grids: list[layout_module.Occupied] = []
    asked = [0]

    class Counted(layout_module.Occupied):
        def __init__(self) -> None:
            super().__init__()
            grids.append(self)

        def free(self, area: layout_module.Area) -> bool:
            asked[0] += 1
            return super().free(area)

    original = layout_module.Occupied
    layout_module.Occupied = Counted  # type: ignore[misc]
    try:
        labels = view.svg().count('class="edge-label"')
    finally:
        layout_module.Occupied = original  # type: ignore[misc]
    seconds = best_of(3, view.svg)
    compared = sum(grid.compared for grid in grids)
    return {
        "nodes": view.nodes,
        "labels": labels,
        "seconds": seconds,
        "per_spot": compared / asked[0],
        "layouts": len(grids),  # crowded labels: laid out again with wider columns
    }


def main() -> int:
    print(
        f"{platform.processor() or platform.machine()}, Python {platform.python_version()},"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    rows = [measure(n) for n in SIZES]
    first = rows[0]["seconds"] / rows[0]["nodes"]
    print("| nodes | labels | layouts | own layout's SVG | per node vs first | areas per spot |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        ratio = (r["seconds"] / r["nodes"]) / first
        print(
            f"| {r['nodes']:.0f} | {r['labels']:.0f} | {r['layouts']:.0f} | {r['seconds']:.3f} s |"
            f" {ratio:.2f}x |"
            f" {r['per_spot']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
