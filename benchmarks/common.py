"""What the benchmark scripts share: timing, and the engine benchmarks' random graph. (Starting
Chromium and serving a built site are tests/browser.py's, which the browser benchmarks import, so
that a benchmark measures the browser the tests check.)"""

from __future__ import annotations

import gc
import math
import random
import statistics
import time
from collections.abc import Callable


def interleaved(repeats: int, works: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """CPU seconds of each work, ``repeats`` times: the works take turns, each round in another
    order, so that a change in the machine's load (2 cores, shared) falls on all of them alike.
    Each run starts from the same collector state; what it returns is freed after the clock."""
    times: dict[str, list[float]] = {name: [] for name in works}
    names = list(works)
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            start = time.process_time()
            result = works[name]()
            elapsed = time.process_time() - start
            del result
            times[name].append(elapsed)
    return times


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float], scale: float = 1.0, digits: int = 2) -> str:
    """``median (min-max)`` of ``xs`` times ``scale``."""
    low, mid, high = (f"{x * scale:.{digits}f}" for x in (min(xs), median(xs), max(xs)))
    return f"{mid} ({low}-{high})"


def ratios(slow: list[float], fast: list[float]) -> str:
    """The median ratio slow/fast, and its range over the rounds (round by round)."""
    each = [a / b for a, b in zip(slow, fast)]
    return f"{median(slow) / median(fast):.1f}x ({min(each):.1f}-{max(each):.1f})"


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


# ---- the random graph of the engine benchmarks ---------------------------------------------------

DAG_OPS = ("add", "mul", "square", "relu", "tanh")
DAG_INPUTS = 16
DAG_BLOCK = 1024  # ops per block (see dag_recipe)


def _dag_ops_allowed(a: float, b: float, ops: tuple[str, ...] = DAG_OPS) -> list[str]:
    """The ops that keep the graph well behaved when applied to ``a`` (and ``b``): a non-zero
    local derivative at every operand (relu only where a > 0, tanh only where it is not flat)
    and a result between 0.05 and 4 in size. tanh is always allowed (every value is at most 4)."""
    allowed = ["tanh"] if "tanh" in ops else []
    if a > 0.05:
        allowed.append("relu")
    if 0.25 <= abs(a) <= 2:
        allowed.append("square")
    if 0.05 <= abs(a * b) <= 4:
        allowed.append("mul")
    if 0.05 <= abs(a + b) <= 4:
        allowed.append("add")
    return [op for op in allowed if op in ops]


def _dag_value(op: str, a: float, b: float) -> float:
    if op == "add":
        return a + b
    if op == "mul":
        return a * b
    if op == "square":
        return a * a
    return a if op == "relu" else math.tanh(a)


def dag_recipe(
    n_ops: int, seed: int = 0, ops: tuple[str, ...] = DAG_OPS
) -> tuple[list[float], list[tuple[str, int, int]]]:
    """Inputs and steps (op, i, j) of a random DAG of ``n_ops`` ops over 5 ops (add, mul,
    square, relu, tanh) in which every node gets a non-zero gradient.

    The graph is a sum of blocks of DAG_BLOCK ops, each reading the 16 inputs. In a block, each
    step reads as its first operand the oldest node no step has read yet and as its second one
    of the block's 64 newest nodes, so every node is read; the block's last steps add up its
    nodes still unread, and the output adds up the blocks. Ops are drawn from those that keep
    every local derivative non-zero and every value between 0.05 and 4 in size (the values are
    simulated in floats while the recipe is drawn): no node's gradient is 0. A block bounds the
    graph's depth, and so how far gradients grow or shrink through it (a product of local
    derivatives): one deep graph of 1e5 ops reached gradients of 1e245 or 1e-305.

    (A graph drawn uniformly from the ops, operands from the 64 newest nodes, was about 89%
    zeros, and backward touched 1-8 nodes: most of the work measured was skipped.)

    ``ops``: a subset of DAG_OPS to draw from (micrograd 0.1.0 has no tanh)."""
    rng = random.Random(seed)
    inputs = [rng.choice((-1.0, 1.0)) * rng.uniform(0.5, 1.5) for _ in range(DAG_INPUTS)]
    values = list(inputs)
    steps: list[tuple[str, int, int]] = []

    def add(op: str, i: int, j: int) -> int:
        steps.append((op, i, j))
        values.append(_dag_value(op, values[i], values[j]))
        return len(values) - 1

    total = None
    while len(steps) < n_ops:
        left = n_ops - len(steps) - (total is not None)  # (the add of this block into the total)
        block = list(range(DAG_INPUTS))  # the nodes the block may read, newest last
        unread = list(range(DAG_INPUTS))  # a queue of the nodes no step has read, oldest first
        read: set[int] = set()
        head = 0
        for _ in range(max(min(DAG_BLOCK, left) - (DAG_INPUTS - 1), 1)):
            i = unread[head]
            head += 1
            allowed: list[str] = []
            while not allowed:  # (without tanh, some pairs allow no op: another j)
                j = block[-1 - rng.randrange(min(len(block), 64))]
                allowed = _dag_ops_allowed(values[i], values[j], ops)
            op = rng.choice(allowed)
            k = add(op, i, j)
            read.add(i)
            if op in ("add", "mul"):
                read.add(j)
            block.append(k)
            unread.append(k)
        rest = [k for k in unread[head:] if k not in read]
        out = rest[0]
        for k in rest[1:]:
            out = add("add", out, k)
        total = out if total is None else add("add", total, out)
    return inputs, steps
