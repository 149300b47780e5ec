"""Engine speed and memory against PyTorch scalar autograd, measured in one run.

    python benchmarks/bench_engine.py            # all workloads (about a minute on 2 cores)
    python benchmarks/bench_engine.py --quick    # smaller repeat counts

Workloads, the same recipe for every engine:
  * a seeded random DAG of 1e4 and 1e5 ops (+, *, **2, relu, tanh; common.dag_recipe) in which
    every node gets a non-zero gradient (checked at every run), values between 0.05 and 4 in size;
  * the same kind of DAG without tanh, against micrograd 0.1.0 too (it has no tanh);
  * a chain of 1e5 and 1e6 ops (microgradx only), in a process of its own that imports nothing
    but microgradx, with the collector as CPython sets it and inside ``no_full_collection()``,
    taking turns: the engine's own time may grow at most 12x for 10x the ops (``chain_growth``);
  * forward + backward of a 2-16-16-1 tanh MLP over 100 two-moons points (mean squared error).

Timings are as a user gets them: the cyclic garbage collector on. PyTorch uses 0-dim float64
tensors with requires_grad and one thread. The engines of a comparison take turns in one run
(common.interleaved), CPU time; each figure is the median with the range over the rounds, and the
ratio's range is round by round. Memory is tracemalloc's count of bytes allocated while the graph
is recorded, per node (PyTorch's graph lives in C++, which tracemalloc cannot see). Exits with
status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import os
import platform
import random
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

from common import dag_recipe, interleaved, median, ratios, spread

from microgradx import Value
from microgradx.data import make_moons


def run_dag(
    inputs: list[float],
    steps: list[tuple[str, int, int]],
    leaf: Callable[[float], Any],
    apply: dict[str, Callable[..., Any]],
) -> list[Any]:
    values = [leaf(x) for x in inputs]
    for op, i, j in steps:
        values.append(apply[op](values[i], values[j]))
    values[-1].backward()
    return values


def every_gradient_nonzero(values: list[Any]) -> None:
    """The benchmark's graph is what it claims: backward reaches every node with a non-zero,
    finite gradient (a graph where it does not measures work that backward skips)."""
    grads = [float(v.grad) for v in values]
    assert all(g != 0 and math.isfinite(g) for g in grads), (
        f"{sum(g == 0 for g in grads)} of {len(grads)} nodes have a zero gradient"
    )


def microgradx_ops() -> dict[str, Callable[..., Any]]:
    return {
        "add": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "square": lambda a, b: a**2,
        "relu": lambda a, b: a.relu(),
        "tanh": lambda a, b: a.tanh(),
    }


def micrograd_ops() -> dict[str, Callable[..., Any]]:
    """micrograd 0.1.0's Value has +, *, ** and relu (no tanh)."""
    return {
        "add": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "square": lambda a, b: a**2,
        "relu": lambda a, b: a.relu(),
    }


def torch_ops(torch: Any) -> dict[str, Callable[..., Any]]:
    return {
        "add": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "square": lambda a, b: a**2,
        "relu": lambda a, b: torch.relu(a),
        "tanh": lambda a, b: torch.tanh(a),
    }


def graph_bytes_per_node(n_ops: int) -> float:
    inputs, steps = dag_recipe(n_ops)
    ops = microgradx_ops()
    gc.collect()
    tracemalloc.start()
    try:
        values = [Value(x) for x in inputs]
        start = tracemalloc.get_traced_memory()[0]
        for op, i, j in steps:
            values.append(ops[op](values[i], values[j]))
        graph = tracemalloc.get_traced_memory()[0] - start
        # The list that holds the nodes belongs to the benchmark, not to the graph.
        graph -= sys.getsizeof(values) - sys.getsizeof([None] * len(inputs))
    finally:
        tracemalloc.stop()
    return graph / len(steps)


def moons(n: int = 100) -> tuple[list[list[float]], list[float]]:
    """microgradx's seeded two moons, with labels -1 and +1 for a squared-error fit."""
    X, y = make_moons(n, noise=0.1, seed=0)
    return X, [2.0 * label - 1.0 for label in y]


def mlp_step(
    weights: list[list[list[Any]]],
    xs: list[list[float]],
    ys: list[float],
    tanh: Callable[[Any], Any],
) -> Any:
    """One full-batch forward + backward of a tanh MLP; weights[l][j] = [w..., b] of unit j."""
    total = 0.0
    for x, y in zip(xs, ys):
        activations: list[Any] = list(x)
        for depth, layer in enumerate(weights):
            last = depth == len(weights) - 1
            outs = []
            for unit in layer:
                z = unit[-1]
                for w, a in zip(unit, activations):
                    z = z + w * a
                outs.append(z if last else tanh(z))
            activations = outs
        total = total + (activations[0] - y) ** 2
    loss = total * (1.0 / len(xs))
    loss.backward()
    return loss


def mlp_weights(make: Callable[[float], Any], sizes: tuple[int, ...] = (2, 16, 16, 1)) -> Any:
    rng = random.Random(1)
    return [
        [[make(rng.uniform(-1, 1)) for _ in range(n_in + 1)] for _ in range(n_out)]
        for n_in, n_out in itertools.pairwise(sizes)
    ]


def chain(n_ops: int) -> Value:
    """A chain of n_ops ops, like an unrolled recurrent net: y = tanh(y * w + b), w and b shared."""
    w, b = Value(0.9), Value(0.25)
    y = Value(0.5)
    for _ in range(n_ops // 3):
        y = (y * w + b).tanh()
    y.backward()
    return y


def chain_rounds(rounds: int) -> dict[str, list[float]]:
    """CPU seconds of the 1e5 and 1e6 chains, ``rounds`` times, taking turns: with the cyclic
    collector as CPython sets it (``default``) and inside ``no_full_collection()``
    (``paused``). Run in a process that has loaded only microgradx (``--chain-child``)."""
    from microgradx.collector import no_full_collection

    def paused(n_ops: int) -> Value:
        with no_full_collection():
            return chain(n_ops)

    return interleaved(
        rounds,
        {
            "default 1e5": partial(chain, 100_000),
            "default 1e6": partial(chain, 1_000_000),
            "paused 1e5": partial(paused, 100_000),
            "paused 1e6": partial(paused, 1_000_000),
        },
    )


def chain_growth(rounds: int) -> dict[str, list[float]]:
    """``chain_rounds`` in a child process of this Python, so that the objects this process
    holds (PyTorch's modules, the DAGs' results) are not in the collector's passes: with them
    alive, CPython's rule for starting a full collection (the survivors of young collections
    exceed a quarter of the objects it keeps) made the 1e5 chain pay passes over PyTorch's
    objects and the 1e6 chain fewer, which measured the harness, not the engine."""
    child = subprocess.run(
        [sys.executable, __file__, "--chain-child", str(rounds)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(child.stdout)  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--chain-child", type=int, metavar="ROUNDS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.chain_child:
        print(json.dumps(chain_rounds(args.chain_child)))
        return 0
    repeats = 2 if args.quick else 5

    try:
        import torch
    except ImportError:
        print("PyTorch is needed for the ratios: pip install torch==2.13.0", file=sys.stderr)
        return 2
    torch.set_num_threads(1)

    def tensor(x: float) -> Any:
        return torch.tensor(x, dtype=torch.float64, requires_grad=True)

    print(
        f"# microgradx engine benchmark ({platform.python_implementation()} "
        f"{platform.python_version()}, torch {torch.__version__}, {platform.machine()},"
        f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start)\n"
    )
    rows = []
    results: dict[str, float] = {}
    ours_ops, their_ops = microgradx_ops(), torch_ops(torch)
    try:
        from micrograd.engine import Value as micrograd_value
    except ImportError:
        micrograd_value = None  # the rows against micrograd are left out
        print("micrograd 0.1.0 is not installed: pip install micrograd==0.1.0 for its rows\n")
    for n in (10_000, 100_000):
        inputs, steps = dag_recipe(n)
        every_gradient_nonzero(run_dag(inputs, steps, Value, ours_ops))
        times = interleaved(
            repeats,
            {
                "microgradx": partial(run_dag, inputs, steps, Value, ours_ops),
                "torch": partial(run_dag, inputs, steps, tensor, their_ops),
            },
        )
        ours, theirs = times["microgradx"], times["torch"]
        results[f"dag{n}"] = median(theirs) / median(ours)
        scale = 1e6 / len(steps)
        rows.append(
            (f"random DAG, {n:.0e} ops", spread(ours, scale), spread(theirs, scale), "-",
             ratios(theirs, ours), "-", "us/node")
        )  # fmt: skip
    if micrograd_value is not None:
        plain = ("add", "mul", "square", "relu")
        for n in (10_000, 100_000):
            inputs, steps = dag_recipe(n, ops=plain)
            every_gradient_nonzero(run_dag(inputs, steps, micrograd_value, micrograd_ops()))
            times = interleaved(
                repeats,
                {
                    "microgradx": partial(run_dag, inputs, steps, Value, ours_ops),
                    "torch": partial(run_dag, inputs, steps, tensor, their_ops),
                    "micrograd": partial(run_dag, inputs, steps, micrograd_value, micrograd_ops()),
                },
            )
            ours, theirs, karpathy = times["microgradx"], times["torch"], times["micrograd"]
            scale = 1e6 / len(steps)
            rows.append(
                (f"random DAG without tanh, {n:.0e} ops", spread(ours, scale),
                 spread(theirs, scale), spread(karpathy, scale), ratios(theirs, ours),
                 ratios(karpathy, ours), "us/node")
            )  # fmt: skip

    xs, ys = moons()
    ours_w = mlp_weights(Value)
    their_w = mlp_weights(tensor)
    times = interleaved(
        repeats,
        {
            "microgradx": lambda: mlp_step(ours_w, xs, ys, lambda z: z.tanh()),
            "torch": lambda: mlp_step(their_w, xs, ys, torch.tanh),
        },
    )
    ours, theirs = times["microgradx"], times["torch"]
    results["moons"] = median(theirs) / median(ours)
    rows.append(
        ("MLP 2-16-16-1, 100 moons points", spread(ours, 1e3), spread(theirs, 1e3), "-",
         ratios(theirs, ours), "-", "ms/step")
    )  # fmt: skip

    print(
        "| workload (forward + backward) | microgradx | PyTorch scalar | micrograd 0.1.0"
        " | PyTorch / microgradx | micrograd / microgradx |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name, ours_t, theirs_t, karpathy_t, ratio, ratio_m, unit in rows:
        print(f"| {name} ({unit}) | {ours_t} | {theirs_t} | {karpathy_t} | {ratio} | {ratio_m} |")

    chains, chain_text = chain_growth(repeats), {}
    for way in ("default", "paused"):
        small, big = chains[f"{way} 1e5"], chains[f"{way} 1e6"]
        results[f"chain_{way}"] = median(big) / median(small)
        chain_text[way] = f"{spread(small, 1, 3)} s -> {spread(big, 1, 3)} s: {ratios(big, small)}"
    per_node = graph_bytes_per_node(100_000)
    results["bytes"] = per_node
    print(
        "\n| chain of 1e5 -> 1e6 ops (a process of its own; CPU s) | time, growth for 10x the ops |"
    )
    print("| --- | --- |")
    print(f"| the collector as CPython sets it | {chain_text['default']} |")
    print(f"| inside `no_full_collection()` | {chain_text['paused']} |")
    print()
    print(f"memory: {per_node:.0f} bytes per recorded node (random DAG of 1e5 ops, tracemalloc)\n")

    targets = [
        ("DAG 1e4 at least 5x faster than PyTorch", results["dag10000"] >= 5),
        ("DAG 1e5 at least 4x faster than PyTorch", results["dag100000"] >= 4),
        ("moons MLP step at least 4x faster than PyTorch", results["moons"] >= 4),
        ("at most 200 bytes per recorded node", results["bytes"] <= 200),
        (
            "1e6 chain time at most 12x the 1e5 chain (the engine: full collections paused)",
            results["chain_paused"] <= 12,
        ),
    ]
    for name, met in targets:
        print(f"- [{'x' if met else ' '}] {name}")
    return 0 if all(met for _, met in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
