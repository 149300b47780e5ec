"""The engine benchmark's random graph (benchmarks/common.py): every node gets a non-zero
gradient and every value stays in range, so backward does the work the benchmark times."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from microgradx import Value

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "common.py"
_SPEC = importlib.util.spec_from_file_location("bench_common", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
common = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(common)

APPLY = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "square": lambda a, b: a**2,
    "relu": lambda a, b: a.relu(),
    "tanh": lambda a, b: a.tanh(),
}


def _graph(n, seed, ops):
    inputs, steps = common.dag_recipe(n, seed=seed, ops=ops)
    values = [Value(x) for x in inputs]
    for op, i, j in steps:
        assert op in ops
        values.append(APPLY[op](values[i], values[j]))
    values[-1].backward()
    return inputs, steps, values


@pytest.mark.parametrize("ops", [common.DAG_OPS, ("add", "mul", "square", "relu")])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_node_of_the_benchmark_graph_gets_a_nonzero_gradient(ops, seed):
    n = 3 * common.DAG_BLOCK + 100  # a few blocks and a part of one
    inputs, steps, values = _graph(n, seed, ops)
    assert n <= len(steps) <= n + common.DAG_INPUTS
    grads = [v.grad for v in values]
    assert all(g != 0 and math.isfinite(g) for g in grads)
    assert all(1e-12 < abs(g) < 1e12 for g in grads)  # no gradient near under- or overflow
    # each op's value is about 0.05 to 4 in size, but the sums into the output (adds) grow
    sums = {len(inputs) + k for k, (op, _, _) in enumerate(steps) if op == "add"}
    for k, v in enumerate(values):
        assert math.isfinite(v.data)
        if k not in sums:
            assert 0.049 <= abs(v.data) <= 4
    used = {op for op, _, _ in steps}
    assert used == set(ops)  # every op of the recipe is drawn


def test_the_benchmark_graph_is_seeded():
    assert common.dag_recipe(2000, seed=3) == common.dag_recipe(2000, seed=3)
    assert common.dag_recipe(2000, seed=3) != common.dag_recipe(2000, seed=4)
