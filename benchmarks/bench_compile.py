"""Compiled replay against the interpreted engine (and a micrograd-style engine), in one run.

    python benchmarks/bench_compile.py

1. The lectures' digit classifier, ``MLP(64, [32, 10])`` (tanh hidden layer, softmax cross-entropy),
   one training epoch over the 1,347 training images (75% of ``load_digits()``, seed 0), full batch,
   Adam: ``fit()`` interpreted, ``fit(compile=True)`` with the Python back-end and with the NumPy
   back-end (compile time reported apart, and compared with one interpreted epoch). Then the
   held-out accuracy after training with each back-end to the settings of notebook 09.
2. The moons network, ``MLP(2, [16, 16, 1])`` (tanh), 100 two-moons points, full batch, hinge loss
   (micrograd's own demo loss), one forward + backward + SGD step per epoch, written as the same
   user loop for: a micrograd-style engine (defined below as micrograd writes it: a closure per
   node, children in a set, a recursive topological sort; no copy of micrograd is used), the
   interpreted microgradx engine, and the compiled graph (Python back-end).

3. compile()'s memory: its peak per graph node (tracemalloc) and its time per node, both
   back-ends, networks 64-16-10, 64-32-10 and 64-64-10, and random graphs of +, -, * and tanh
   with no sums of products (about 2,000, 7,000 and 19,000 nodes: every node a line of the
   Python back-end's code) (``python benchmarks/bench_compile.py memory`` runs this part only).

Targets (issue 11): Python back-end >= 5x the interpreted engine on the digits epoch, NumPy
back-end >= 100x; compiled moons >= 30x the micrograd-style engine; compile time below one
interpreted epoch; (issue 22) compile() <= 1.5 KB a node. Best of 3 (1 for the slow interpreted
digits epoch), cyclic GC on. Exits with status 1 if a target is missed.
"""

from __future__ import annotations

import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import best_of

from microgradx import Value, losses
from microgradx.data import load_digits, make_moons, train_test_split
from microgradx.nn import MLP
from microgradx.optim import SGD, Adam
from microgradx.replay import compile_graph
from microgradx.train import evaluate, fit

# ---- a micrograd-style engine: the reference point the issue names ------------------------------


class MicroValue:
    """A scalar as micrograd writes it: a closure per node, children in a set."""

    def __init__(self, data: float, _children: tuple[Any, ...] = ()) -> None:
        self.data = data
        self.grad = 0.0
        self._backward: Callable[[], None] = lambda: None
        self._prev = set(_children)

    def __add__(self, other: Any) -> MicroValue:
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        out = MicroValue(self.data + other.data, (self, other))

        def _backward() -> None:
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other: Any) -> MicroValue:
        other = other if isinstance(other, MicroValue) else MicroValue(other)
        out = MicroValue(self.data * other.data, (self, other))

        def _backward() -> None:
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def tanh(self) -> MicroValue:
        t = (math.exp(2 * self.data) - 1) / (math.exp(2 * self.data) + 1)
        out = MicroValue(t, (self,))

        def _backward() -> None:
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> MicroValue:
        out = MicroValue(0 if self.data < 0 else self.data, (self,))

        def _backward() -> None:
            self.grad += (out.data > 0) * out.grad

        out._backward = _backward
        return out

    def __neg__(self) -> MicroValue:
        return self * -1

    def __radd__(self, other: Any) -> MicroValue:
        return self + other

    def __rmul__(self, other: Any) -> MicroValue:
        return self * other

    def __sub__(self, other: Any) -> MicroValue:
        return self + (-other)

    def __rsub__(self, other: Any) -> MicroValue:
        return other + (-self)

    def backward(self) -> None:
        topo: list[MicroValue] = []
        visited: set[MicroValue] = set()

        def build_topo(v: MicroValue) -> None:
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1.0
        for v in reversed(topo):
            v._backward()


def micro_mlp(model: MLP) -> list[list[tuple[list[MicroValue], MicroValue]]]:
    """The same weights as ``model``, as micrograd neurons (weights, bias) per layer."""
    return [
        [([MicroValue(w.data) for w in n.w], MicroValue(n.b.data)) for n in layer.neurons]
        for layer in model.layers
    ]


def micro_forward(layers: Any, x: list[float]) -> MicroValue:
    values: list[Any] = x
    for k, layer in enumerate(layers):
        outs = []
        for ws, b in layer:
            act = sum((wi * xi for wi, xi in zip(ws, values)), b)
            outs.append(act.tanh() if k < len(layers) - 1 else act)
        values = outs
    return values[0]  # type: ignore[no-any-return]


# ---- 1. digits ----------------------------------------------------------------------------------


def digits() -> tuple[list[str], bool]:
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    n = len(X_train)

    def epoch(compile: bool, backend: str = "python") -> tuple[float, MLP]:
        model = MLP(64, [32, 10], seed=0)
        start = time.perf_counter()
        fit(model, X_train, y_train, loss="cross_entropy", epochs=1, batch_size=n,
            optimizer=Adam(model.parameters(), lr=0.01), progress=False, compile=compile,
            backend=backend)  # fmt: skip
        return time.perf_counter() - start, model

    interpreted = best_of(1, lambda: epoch(False))
    # fit(compile=True) compiles first: time an epoch of 2 minus an epoch of 1 to separate them
    rows = {}
    for backend in ("python", "numpy"):
        one = min(epoch(True, backend)[0] for _ in range(3))
        model = MLP(64, [32, 10], seed=0)
        start = time.perf_counter()
        fit(model, X_train, y_train, loss="cross_entropy", epochs=3, batch_size=n,
            optimizer=Adam(model.parameters(), lr=0.01), progress=False, compile=True,
            backend=backend)  # fmt: skip
        three = time.perf_counter() - start
        per_epoch = (three - one) / 2
        rows[backend] = (per_epoch, one - per_epoch)
    ok = True
    lines = [
        f"| digits 64-32-10, epoch of {n} (full batch) | interpreted | {interpreted:.2f} s | 1x | |"
    ]
    for backend, target in (("python", 5.0), ("numpy", 100.0)):
        per_epoch, compile_time = rows[backend]
        ratio = interpreted / per_epoch
        hit = ratio >= target and compile_time < interpreted
        ok &= hit
        lines.append(
            f"| | {backend} back-end | {per_epoch * 1000:.0f} ms (compile {compile_time:.2f} s)"
            f" | {ratio:.1f}x | >= {target:g}x{'' if hit else ' MISSED'} |"
        )
    for backend in ("python", "numpy"):  # accuracy with notebook 09's settings
        model = MLP(64, [32, 10], seed=0)
        fit(model, X_train, y_train, loss="cross_entropy", epochs=30, batch_size=32,
            optimizer=Adam(model.parameters(), lr=0.01), progress=False, compile=True,
            backend=backend)  # fmt: skip
        accuracy = evaluate(model, X_test, y_test, "cross_entropy")[1]
        lines.append(f"| | held-out accuracy after 30 epochs ({backend}) | {accuracy:.3f} | | |")
    return lines, ok


# ---- 3. compile()'s memory ---------------------------------------------------------------------


def _squared_error(model: MLP, n_in: int) -> Callable[..., Value]:
    def fn(*values: Value) -> Value:
        out = model(list(values[:n_in]))
        total = Value(0.0)
        for o, t in zip(out, values[n_in:]):
            d = o - t
            total = total + d * d
        return total

    return fn


def random_graph(n_ops: int) -> Callable[..., Value]:
    """A function of 8 inputs whose graph has no sum of products: ``n_ops`` steps of +, -, * or
    tanh of values drawn near each other, so each node is a line of the Python back-end's code;
    about 62-65% of the nodes reach the output (3,300 steps: 2,058 nodes; 11,000: 6,905; 29,000:
    18,890). The tests' graph (tests/test_replay_memory.py's ``_dag``), so the benchmark measures
    what they check."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.test_replay_memory import _dag

    return _dag(n_ops)  # type: ignore[no-any-return]


def memory() -> tuple[list[str], bool]:
    """compile()'s peak memory per graph node (tracemalloc) and its time (CPU), for both
    back-ends on 64-h-10 networks of three widths and on random graphs of three sizes with no
    sums of products: the peak per node must stay <= 1.5 KB and the time per node about
    constant (linear in the graph). The time is of a compile() without tracemalloc, the peak of
    another one with it."""
    import gc
    import tracemalloc

    from microgradx.replay import compile as compile_fn

    graphs: list[tuple[str, Callable[..., Any], list[float], Any]] = []
    for hidden in (16, 32, 64):
        model = MLP(64, [hidden, 10], seed=0)
        graphs.append((f"64-{hidden}-10", _squared_error(model, 64), [0.5] * 64 + [0.0] * 10,
                       model))  # fmt: skip
    for n_ops in (3_300, 11_000, 29_000):
        graphs.append((f"random +-*tanh, {n_ops:,} steps", random_graph(n_ops), [0.5] * 8, None))
    lines, ok = [], True
    for backend in ("python", "numpy"):
        small = MLP(4, [3, 2], seed=0)
        compile_fn(_squared_error(small, 4), [0.5] * 6, backend=backend, model=small)  # imports
        compile_fn(random_graph(200), [0.5] * 8, backend=backend, check=False)
        for name, fn, example, model in graphs:
            check = model is not None  # (the random graph: its recording checked on itself)
            gc.collect()
            start = time.process_time()
            program = compile_fn(fn, example, backend=backend, model=model, check=check)
            seconds = time.process_time() - start
            del program
            gc.collect()
            tracemalloc.start()
            try:
                program = compile_fn(fn, example, backend=backend, model=model, check=check)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            per_node = peak / program.nodes
            hit = per_node <= 1536
            ok &= hit
            lines.append(
                f"| {name} ({program.nodes:,} nodes) | {backend} | {per_node / 1024:.2f} KB"
                f" | {seconds * 1e6 / program.nodes:.0f} us a node ({seconds:.2f} s)"
                f" | <= 1.5 KB{'' if hit else ' MISSED'} |"
            )
            del program
    return lines, ok


# ---- 2. moons -----------------------------------------------------------------------------------


def moons() -> tuple[list[str], bool]:
    X, y01 = make_moons(100, noise=0.1, seed=0)
    y = [2 * t - 1 for t in y01]  # hinge labels -1, +1
    lr = 0.05

    def micro_epoch() -> None:
        layers = micro_mlp(MLP(2, [16, 16, 1], seed=0))
        params = [p for layer in layers for ws, b in layer for p in (*ws, b)]
        scores = [micro_forward(layers, x) for x in X]
        loss = sum(((1 + -t * s).relu() for s, t in zip(scores, y)), MicroValue(0.0)) * (1 / 100)
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.data -= lr * p.grad

    model = MLP(2, [16, 16, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=lr)

    def interpreted_epoch() -> None:
        scores = [model(x) for x in X]
        loss = losses.hinge(scores, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    xs, target = [Value(0.0), Value(0.0)], Value(1.0)
    program = compile_graph(losses.hinge(model(xs), target), [*xs, target], model=model)
    rows = [[*x, t] for x, t in zip(X, y)]

    def compiled_epoch() -> None:
        optimizer.zero_grad()
        program.batch(rows, gradient=1 / 100)
        optimizer.step()

    micro = best_of(3, micro_epoch)
    interpreted = best_of(3, interpreted_epoch)
    compiled = best_of(3, compiled_epoch)
    ratio = micro / compiled
    ok = ratio >= 30
    lines = [
        f"| moons 2-16-16-1, epoch of 100 (full batch) | micrograd-style | {micro * 1000:.1f} ms"
        " | 1x | |",
        f"| | interpreted | {interpreted * 1000:.1f} ms | {micro / interpreted:.1f}x | |",
        f"| | compiled, python back-end | {compiled * 1000:.1f} ms | {ratio:.1f}x"
        f" ({interpreted / compiled:.1f}x interpreted) | >= 30x{'' if ok else ' MISSED'} |",
    ]
    return lines, ok


def main(argv: list[str]) -> int:
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    ok = True
    if argv != ["memory"]:
        print("| workload | engine | one epoch | speed-up | target |")
        print("| --- | --- | --- | --- | --- |")
        for part in (moons, digits):
            lines, hit = part()
            ok &= hit
            for line in lines:
                print(line, flush=True)
    print("\n| graph | back-end | compile() peak a node | compile time | target |")
    print("| --- | --- | --- | --- | --- |")
    lines, hit = memory()
    ok &= hit
    for line in lines:
        print(line, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
