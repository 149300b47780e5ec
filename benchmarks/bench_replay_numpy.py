"""The NumPy back-end of compiled replay against PyTorch tensors and NumPy written by hand.

    python benchmarks/bench_replay_numpy.py [repeats]

Every contender trains the same network from the same weights, one epoch at a time, and the
contenders take turns (interleaved: one epoch each, then again), so a change in the machine's
load hits them alike; each figure is the median CPU time (``time.process_time``) of the
repeats, with the fastest and slowest in brackets. Load is printed first (``uptime``).

1. Digits, ``MLP(64, [32, 10])`` (tanh, softmax cross-entropy, Adam lr 0.01), the 1,348
   training images of ``load_digits()`` (75%, seed 0): one full-batch epoch, and one epoch in
   batches of 32 (notebook 08's). Contenders: the compiled graph with the NumPy back-end
   (``Compiled.run_batch(..., input_grads=False)`` on the batch, as training needs only the
   weights' gradients, then ``Adam.step``; and the same returning the inputs' gradients too,
   ``run_batch``'s default), with the Python back-end (the floor for Python without node
   objects), PyTorch tensors (float64, one thread) and NumPy written by hand (matrix products:
   the physical floor; its sums are BLAS's, not the scalar engine's order). "Replay only": the
   back-end's own work (``run_batch`` alone), since Adam's step in Python costs all the same.
2. Moons, ``MLP(2, [16, 16, 1])`` (tanh, hinge loss, SGD lr 0.05), 100 points, full batch.

Targets (issue 22): digits full batch within 3x of PyTorch (training: ``input_grads=False``);
batch 32 at least 3x faster than the Python back-end (replay only, both computing the inputs'
gradients too: the same work); moons within 3x of PyTorch. The script prints the table and
exits 1 if a target is missed (it needs NumPy and PyTorch).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread, as PyTorch's (before NumPy)
os.environ.setdefault("OMP_NUM_THREADS", "1")
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from microgradx import Value, losses
from microgradx.data import load_digits, make_moons, one_hot, train_test_split
from microgradx.nn import MLP
from microgradx.optim import SGD, Adam
from microgradx.replay import compile_function


def _cpu(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def interleaved(
    contenders: dict[str, Callable[[], object]], repeats: int
) -> dict[str, list[float]]:
    """Each contender's CPU times, one epoch each in turn, ``repeats`` times (after one warm-up
    epoch each, not counted: a first call allocates what the next ones reuse)."""
    for work in contenders.values():
        work()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, work in contenders.items():
            times[name].append(_cpu(work))
    return times


def shown(seconds: list[float]) -> str:
    med = statistics.median(seconds)
    return f"{med * 1000:.1f} ms [{min(seconds) * 1000:.1f}-{max(seconds) * 1000:.1f}]"


# ---- the contenders' networks -------------------------------------------------------------------


def weights(model: MLP) -> list[tuple[Any, Any]]:
    """Each layer's (W, b) as float64 arrays, W of shape (out, in)."""
    return [
        (np.array([[w.data for w in n.w] for n in layer.neurons]),
         np.array([n.b.data for n in layer.neurons]))
        for layer in model.layers
    ]  # fmt: skip


def torch_epoch(model: MLP, X: Any, y: Any, batch: int, loss: str, lr: float) -> Callable[[], None]:
    import torch

    torch.set_num_threads(1)
    layers = []
    for W, b in weights(model):
        lin = torch.nn.Linear(W.shape[1], W.shape[0]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.Tanh()]
    net = torch.nn.Sequential(*layers[:-1])
    Xt = torch.from_numpy(np.asarray(X, dtype=np.float64))
    yt = torch.from_numpy(np.asarray(y))
    if loss == "cross_entropy":
        optimizer: Any = torch.optim.Adam(net.parameters(), lr=lr)
    else:
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)

    def epoch() -> None:
        for start in range(0, len(Xt), batch):
            xb, yb = Xt[start : start + batch], yt[start : start + batch]
            out = net(xb)
            if loss == "cross_entropy":
                value = torch.nn.functional.cross_entropy(out, yb)
            else:
                value = torch.relu(1 - yb * out[:, 0]).mean()
            optimizer.zero_grad()
            value.backward()
            optimizer.step()

    return epoch


def numpy_epoch(model: MLP, X: Any, y: Any, batch: int, lr: float) -> Callable[[], None]:
    """Digits by hand: tanh layer, softmax cross-entropy, Adam (matrix products)."""
    params = [p for W, b in weights(model) for p in (W, b)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = [0]
    Xa = np.asarray(X, dtype=np.float64)
    Y = np.eye(10)[np.asarray(y)]

    def epoch() -> None:
        for start in range(0, len(Xa), batch):
            xb, yb = Xa[start : start + batch], Y[start : start + batch]
            W1, b1, W2, b2 = params
            h = np.tanh(xb @ W1.T + b1)
            z = h @ W2.T + b2
            z = z - z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            dz = (p - yb) / len(xb)
            dh = (dz @ W2) * (1 - h * h)
            grads = [dh.T @ xb, dh.sum(0), dz.T @ h, dz.sum(0)]
            t[0] += 1
            for k, g in enumerate(grads):
                m[k] = 0.9 * m[k] + 0.1 * g
                v[k] = 0.999 * v[k] + 0.001 * g * g
                mh, vh = m[k] / (1 - 0.9 ** t[0]), v[k] / (1 - 0.999 ** t[0])
                params[k] -= lr * mh / (np.sqrt(vh) + 1e-8)

    return epoch


def replay_epoch(
    model: MLP,
    rows: Any,
    batch: int,
    loss: str,
    backend: str,
    optimizer: Any,
    n: int,
    step: bool = True,
    input_grads: bool = True,
) -> Callable[[], None]:
    """The compiled graph of one example's loss, run over each batch (``run_batch``, the
    gradient 1/B per row: the batch's mean loss), then the optimizer's step. ``input_grads``:
    whether ``run_batch`` also returns the inputs' gradients (training needs only the
    weights')."""

    def function(*values: Value) -> tuple[Value, list[Value]]:
        out = model(list(values[:n]))
        if loss == "cross_entropy":
            return losses.cross_entropy([out], [list(values[n:])]), list(out)
        return losses.hinge([out], [values[n]]), [out]

    program = compile_function(function, list(rows[0]), backend=backend, model=model,
                               check=list(rows[1]))  # fmt: skip
    table = rows if backend == "numpy" else rows.tolist()

    def epoch() -> None:
        for start in range(0, len(rows), batch):
            part = table[start : start + batch]
            optimizer.zero_grad()
            program.run_batch(part, gradient=1.0 / len(part), input_grads=input_grads)
            if step:  # (without: the back-end's own work, the optimizer's left out)
                optimizer.step()

    return epoch


def main() -> int:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores,"
          f" Python {platform.python_version()}, NumPy {np.__version__}; {load}")  # fmt: skip
    import torch

    print(f"PyTorch {torch.__version__}, float64, 1 thread; CPU time, median [min-max] of"
          f" {repeats} interleaved epochs")  # fmt: skip
    print("| workload | contender | epoch | vs PyTorch | target |")
    print("| --- | --- | --- | --- | --- |")
    ok = True

    X, y = load_digits()
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, seed=0)
    rows = np.array([[*x, *one_hot(t, 10)] for x, t in zip(X_train, y_train)], dtype=np.float64)
    for batch in (len(X_train), 32):
        contenders: dict[str, Callable[[], object]] = {}
        backends = ("numpy", "python")
        for backend in backends:
            model = MLP(64, [32, 10], seed=0)
            optimizer = Adam(model.parameters(), lr=0.01)
            contenders[f"compiled, {backend} back-end"] = replay_epoch(
                model, rows, batch, "cross_entropy", backend, optimizer, 64, input_grads=False
            )
        model = MLP(64, [32, 10], seed=0)
        optimizer = Adam(model.parameters(), lr=0.01)
        contenders["numpy back-end, inputs' gradients too"] = replay_epoch(
            model, rows, batch, "cross_entropy", "numpy", optimizer, 64
        )
        for backend in backends:
            model = MLP(64, [32, 10], seed=0)
            optimizer = Adam(model.parameters(), lr=0.01)
            contenders[f"{backend} back-end, replay only"] = replay_epoch(
                model, rows, batch, "cross_entropy", backend, optimizer, 64, step=False,
                input_grads=backend == "python",
            )  # fmt: skip
        model = MLP(64, [32, 10], seed=0)
        optimizer = Adam(model.parameters(), lr=0.01)
        contenders["numpy back-end, replay only, inputs' gradients too"] = replay_epoch(
            model, rows, batch, "cross_entropy", "numpy", optimizer, 64, step=False
        )
        model = MLP(64, [32, 10], seed=0)
        contenders["PyTorch tensors"] = torch_epoch(model, X_train, y_train, batch,
                                                    "cross_entropy", 0.01)  # fmt: skip
        contenders["NumPy by hand"] = numpy_epoch(model, X_train, y_train, batch, 0.01)
        times = interleaved(contenders, repeats)
        torch_time = statistics.median(times["PyTorch tensors"])
        numpy_time = statistics.median(times["compiled, numpy back-end"])
        for k, (name, seconds) in enumerate(times.items()):
            ratio = statistics.median(seconds) / torch_time
            target = ""
            if name == "compiled, numpy back-end" and batch > 32:
                hit = ratio <= 3
                ok &= hit
                target = f"<= 3x PyTorch{'' if hit else ' MISSED'}"
            if name == "compiled, python back-end":
                speedup = statistics.median(seconds) / numpy_time
                target = f"numpy back-end {speedup:.1f}x faster, Adam's steps included"
            if name == "python back-end, replay only":
                python_time = statistics.median(seconds)
                fast = python_time / statistics.median(times["numpy back-end, replay only"])
                full = python_time / statistics.median(
                    times["numpy back-end, replay only, inputs' gradients too"]
                )  # the same work as the Python back-end's: the target's figure
                hit = full >= 3 or batch > 32
                ok &= hit
                target = (
                    f"numpy back-end {full:.1f}x faster with the inputs' gradients,"
                    f" {fast:.1f}x without"
                    + (" (>= 3x)" if batch == 32 else "")
                    + ("" if hit else " MISSED")
                )
            workload = f"digits 64-32-10, batch {batch}" if k == 0 else ""
            print(f"| {workload} | {name} | {shown(seconds)} | {ratio:.1f}x | {target} |",
                  flush=True)  # fmt: skip

    Xm, y01 = make_moons(100, noise=0.1, seed=0)
    ym = [2.0 * t - 1 for t in y01]
    moon_rows = np.array([[*x, t] for x, t in zip(Xm, ym)], dtype=np.float64)
    model = MLP(2, [16, 16, 1], seed=0)
    contenders = {
        "compiled, numpy back-end": replay_epoch(
            model,
            moon_rows,
            100,
            "hinge",
            "numpy",
            SGD(model.parameters(), lr=0.05),
            2,
            input_grads=False,
        ),
        "PyTorch tensors": torch_epoch(MLP(2, [16, 16, 1], seed=0), Xm, ym, 100, "hinge", 0.05),
    }
    times = interleaved(contenders, repeats)
    torch_time = statistics.median(times["PyTorch tensors"])
    for k, (name, seconds) in enumerate(times.items()):
        ratio = statistics.median(seconds) / torch_time
        target = ""
        if name == "compiled, numpy back-end":
            hit = ratio <= 3
            ok &= hit
            target = f"<= 3x PyTorch{'' if hit else ' MISSED'}"
        workload = "moons 2-16-16-1, batch 100" if k == 0 else ""
        print(f"| {workload} | {name} | {shown(seconds)} | {ratio:.1f}x | {target} |")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
