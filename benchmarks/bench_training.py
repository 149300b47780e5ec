"""Training steps as learners run them: fit() against the plain loop and PyTorch scalar autograd,
the walk's share of a step, and parameters() against micrograd's, measured in one run.

    python benchmarks/bench_training.py            # moons, digits full batch (about 5 minutes)
    python benchmarks/bench_training.py --quick    # fewer rounds, digits on 300 images

Workloads:
  * moons: ``MLP(2, [16, 16, 1])`` (tanh) on 100 two-moons points, full batch, binary
    cross-entropy on the logit, plain SGD; one epoch is one forward + backward + update.
  * digits: ``MLP(64, [32, 10])`` (tanh) on the 1,797 8x8 digits, full batch, cross-entropy.

Each step is run four ways, interleaved round by round in this one process: the plain loop a
user writes (``zero_grad``; ``loss = ...``; ``loss.backward()``; ``step()``, with ``loss`` kept
until the next step builds its graph, as in a real loop), the same loop inside
``no_full_collection()`` (the README's), ``fit(epochs=1)``, and (moons) the same network as
PyTorch 0-dim float64 tensors with one thread, written as the same loop. The cyclic garbage
collector is on, as users have it. Times are CPU time (``time.process_time``): the median of
the rounds, with the spread (min-max). The walk's share is the time ``backward()`` spends in
the walk, and on anything but the chain rule's arithmetic (the walk and its bookkeeping), over
the time of the same interpreted step, measured inside that step (see ``walk_share``; collector
paused, so it is the engine's own share). ``parameters()`` is timed against micrograd 0.1.0's
``MLP.parameters`` on the same sizes (skipped without micrograd). Exits with status 1 if a
target is missed (status 2 without PyTorch).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from microgradx import losses
from microgradx.data import load_digits, make_moons
from microgradx.nn import MLP
from microgradx.optim import SGD
from microgradx.train import fit


def interleaved(rounds: int, works: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """CPU seconds of each work, ``rounds`` times, the works taking turns within each round."""
    times: dict[str, list[float]] = {name: [] for name in works}
    for _ in range(rounds):
        for name, work in works.items():
            start = time.process_time()
            work()
            times[name].append(time.process_time() - start)
    return times


def shown(seconds: list[float], unit: float = 1e3, suffix: str = "ms") -> str:
    return (
        f"{statistics.median(seconds) * unit:.1f} {suffix} "
        f"({min(seconds) * unit:.1f}-{max(seconds) * unit:.1f})"
    )


class PlainLoop:
    """The loop learners write, one step per call; the last loss lives on until the next step
    has built its graph (``loss = ...`` replaces it only then)."""

    def __init__(self, model: MLP, X: Any, y: Any, loss: Callable[..., Any]) -> None:
        self.model, self.X, self.y, self.loss_fn = model, X, y, loss
        self.optimizer = SGD(model.parameters(), lr=0.1)
        self.loss: Any = None

    def __call__(self) -> None:
        self.optimizer.zero_grad()
        loss = self.loss_fn([self.model(x) for x in self.X], self.y)
        loss.backward()
        self.optimizer.step()
        self.loss = loss


class ReadmeLoop(PlainLoop):
    """The plain loop inside ``no_full_collection()``, as the README writes it (the block here is
    entered each step, so that the other works of a round run outside it)."""

    def __call__(self) -> None:
        from microgradx.train import no_full_collection

        with no_full_collection():
            super().__call__()


def readme_loop_exists() -> bool:
    """Whether this version of microgradx has ``no_full_collection`` (the "before" runs did not:
    their README loop is the plain loop)."""
    from microgradx import train

    return hasattr(train, "no_full_collection")


class FitEpoch:
    """One epoch of ``fit()`` (full batch, plain SGD), one per call."""

    def __init__(self, model: MLP, X: Any, y: Any, loss: str) -> None:
        self.model, self.X, self.y, self.loss = model, X, y, loss
        self.optimizer = SGD(model.parameters(), lr=0.1)

    def __call__(self) -> None:
        fit(self.model, self.X, self.y, loss=self.loss, optimizer=self.optimizer, epochs=1,
            progress=False)  # fmt: skip


def torch_step(torch: Any, model: MLP, X: Any, y: Any) -> Callable[[], None]:
    """The moons network as PyTorch scalars: weights[l][j] = [w_1, ..., w_n, b] of unit j."""
    weights: list[list[list[Any]]] = [
        [
            [torch.tensor(w.data, dtype=torch.float64, requires_grad=True) for w in n.w]
            + [torch.tensor(n.b.data, dtype=torch.float64, requires_grad=True)]
            for n in layer.neurons
        ]
        for layer in model.layers
    ]
    params = [t for layer in weights for unit in layer for t in unit]
    optimizer = torch.optim.SGD(params, lr=0.1)

    def step() -> None:
        optimizer.zero_grad()
        total = torch.tensor(0.0, dtype=torch.float64)
        for x, target in zip(X, y):
            activations: list[Any] = list(x)
            for depth, layer in enumerate(weights):
                outs = []
                for unit in layer:
                    z = unit[-1]
                    for w, a in zip(unit, activations):
                        z = z + w * a
                    outs.append(z if depth == len(weights) - 1 else torch.tanh(z))
                activations = outs
            z = activations[0]
            total = total + torch.nn.functional.softplus(z, threshold=1e9) - target * z
        (total / len(X)).backward()
        optimizer.step()

    return step


def walk_share(
    model: MLP, X: Any, y: Any, loss_fn: Callable[..., Any], rounds: int
) -> tuple[list[float], list[float]]:
    """Within each interpreted step (collector paused, so it is the engine's own share), each over
    the time of that whole step (zero_grad, forward, backward, step): the time ``backward()``
    spends in the walk (``topological_order``; since issue 22's second session
    ``engine._ordered``, the same walk noting which grads the pass changes), and the time it
    spends on anything but the chain rule's arithmetic (``backward`` minus ``walk.walk_floats``:
    the walk and all its bookkeeping, the same definition before and after). Timed by wrapping
    the functions (two clock reads a call), not by a profiler, which would slow the forward's
    many small calls more than the walk."""
    from microgradx import engine, walk

    walk_name = "_ordered" if hasattr(engine, "_ordered") else "topological_order"
    originals = [
        (engine, walk_name, getattr(engine, walk_name)),
        (walk, "walk_floats", walk.walk_floats),
        (engine.Value, "backward", engine.Value.backward),
    ]
    spent: dict[str, float] = {}

    def timed(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return f(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - start

        return run

    optimizer = SGD(model.parameters(), lr=0.1)
    walks, besides = [], []
    for owner, name, f in originals:
        setattr(owner, name, timed(name, f))
    try:
        for _ in range(rounds):
            gc.collect()
            gc.disable()
            try:
                spent.clear()
                start = time.process_time()
                optimizer.zero_grad()
                loss = loss_fn([model(x) for x in X], y)
                loss.backward()
                optimizer.step()
                step = time.process_time() - start
                walks.append(spent[walk_name] / step)
                besides.append((spent["backward"] - spent["walk_floats"]) / step)
                del loss
            finally:
                gc.enable()
    finally:
        for owner, name, f in originals:
            setattr(owner, name, f)
    return walks, besides


def parameters_ratio(nin: int, sizes: list[int], rounds: int) -> tuple[list[float], list[float]]:
    """Seconds per parameters() call: micrograd's and ours (same sizes), interleaved."""
    from micrograd.nn import MLP as MicrogradMLP

    ours, theirs = MLP(nin, sizes, seed=0), MicrogradMLP(nin, sizes)
    calls = max(10, 200_000 // len(ours.parameters()))

    def repeat(f: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(calls):
                f()

        return run

    times = interleaved(
        rounds, {"micrograd": repeat(theirs.parameters), "ours": repeat(ours.parameters)}
    )
    return [t / calls for t in times["micrograd"]], [t / calls for t in times["ours"]]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 300 digits")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("PyTorch is needed for the ratios: pip install torch==2.13.0", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    rounds = 3 if args.quick else 5
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, torch "
        f"{torch.__version__}, {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (at the start)\n"
    )
    targets: list[tuple[str, bool]] = []

    X, y = make_moons(100, noise=0.1, seed=0)
    plain, by_fit = MLP(2, [16, 16, 1], "tanh", seed=0), MLP(2, [16, 16, 1], "tanh", seed=0)
    works: dict[str, Callable[[], object]] = {
        "plain": PlainLoop(plain, X, y, losses.bce_with_logits),
        "fit": FitEpoch(by_fit, X, y, "bce_with_logits"),
        "torch": torch_step(torch, MLP(2, [16, 16, 1], "tanh", seed=0), X, y),
    }
    if readme_loop_exists():
        works["readme"] = ReadmeLoop(
            MLP(2, [16, 16, 1], "tanh", seed=0), X, y, losses.bce_with_logits
        )
    moons = interleaved(rounds * 2, works)
    m = {k: statistics.median(v) for k, v in moons.items()}
    print("## One full-batch epoch, moons (MLP 2-16-16-1, 100 points)\n")
    print("| | CPU time, median (min-max) | vs PyTorch scalar | vs plain loop |")
    print("| --- | --- | --- | --- |")
    print(f"| PyTorch scalar tensors, plain loop | {shown(moons['torch'])} | 1.0x | |")
    print(f"| microgradx, plain loop | {shown(moons['plain'])} | "
          f"{m['torch'] / m['plain']:.1f}x | 1.0x |")  # fmt: skip
    if "readme" in moons:
        print(f"| microgradx, the README's loop (`no_full_collection()`) | "
              f"{shown(moons['readme'])} | {m['torch'] / m['readme']:.1f}x | "
              f"{m['plain'] / m['readme']:.2f}x |")  # fmt: skip
    print(f"| microgradx, fit() | {shown(moons['fit'])} | {m['torch'] / m['fit']:.1f}x | "
          f"{m['plain'] / m['fit']:.2f}x |\n")  # fmt: skip
    targets.append(
        ("moons: fit() at least 1.2x faster than the plain loop", m["plain"] / m["fit"] >= 1.2)
    )
    targets.append(
        ("moons: fit() at least 10x faster than PyTorch scalar", m["torch"] / m["fit"] >= 10)
    )

    DX, Dy = load_digits()
    if args.quick:
        DX, Dy = DX[:300], Dy[:300]
    plain, by_fit = MLP(64, [32, 10], "tanh", seed=0), MLP(64, [32, 10], "tanh", seed=0)
    works = {
        "plain": PlainLoop(plain, DX, Dy, losses.cross_entropy),
        "fit": FitEpoch(by_fit, DX, Dy, "cross_entropy"),
    }
    if readme_loop_exists():
        works["readme"] = ReadmeLoop(
            MLP(64, [32, 10], "tanh", seed=0), DX, Dy, losses.cross_entropy
        )
    digits = interleaved(3, works)  # a full-batch digits step takes seconds
    d = {k: statistics.median(v) for k, v in digits.items()}
    print(f"## One full-batch epoch, digits (MLP 64-32-10, {len(DX)} images)\n")
    print("| | CPU time, median (min-max) | vs plain loop |")
    print("| --- | --- | --- |")
    print(f"| microgradx, plain loop | {shown(digits['plain'], 1, 's')} | 1.0x |")
    if "readme" in digits:
        print(f"| microgradx, the README's loop (`no_full_collection()`) | "
              f"{shown(digits['readme'], 1, 's')} | {d['plain'] / d['readme']:.2f}x |")  # fmt: skip
    print(
        f"| microgradx, fit() | {shown(digits['fit'], 1, 's')} | {d['plain'] / d['fit']:.2f}x |\n"
    )
    targets.append(
        ("digits: fit() at least 1.2x faster than the plain loop", d["plain"] / d["fit"] >= 1.2)
    )
    if "readme" in digits:
        targets.append(
            (
                "digits: the README's loop at least 1.2x faster than the plain loop",
                d["plain"] / d["readme"] >= 1.2,
            )
        )
    del plain, by_fit, digits, works

    print("## The walk as a share of an interpreted step (timed inside each step)\n")
    print("| step | the walk (`topological_order`) | `backward()` but its arithmetic |")
    print("| --- | --- | --- |")
    for name, (model, WX, Wy, loss_fn) in {
        "moons, 100 points": (MLP(2, [16, 16, 1], "tanh", seed=0), X, y, losses.bce_with_logits),
        "digits, batch of 32": (
            MLP(64, [32, 10], "tanh", seed=0),
            DX[:32],
            Dy[:32],
            losses.cross_entropy,
        ),
        "digits, 200 images": (
            MLP(64, [32, 10], "tanh", seed=0),
            DX[:200],
            Dy[:200],
            losses.cross_entropy,
        ),
    }.items():
        walks, besides = walk_share(model, WX, Wy, loss_fn, rounds * 3)
        print(f"| {name} | {shown(walks, 100, '%')} | {shown(besides, 100, '%')} |")
        share = statistics.median(besides)
        targets.append((f"the walk and its bookkeeping at most 15% of a step ({name})",
                        share <= 0.15))  # fmt: skip
    print()

    try:
        import micrograd  # noqa: F401
    except ImportError:
        print("(parameters() against micrograd skipped: pip install micrograd==0.1.0)\n")
    else:
        print("## parameters(), per call\n")
        print("| network | micrograd 0.1.0 | microgradx | ratio |")
        print("| --- | --- | --- | --- |")
        for nin, sizes in ((2, [16, 16, 1]), (64, [32, 10])):
            theirs, ours = parameters_ratio(nin, sizes, rounds)
            ratio = statistics.median(ours) / statistics.median(theirs)
            print(f"| MLP {nin}-{'-'.join(map(str, sizes))} | {shown(theirs, 1e6, 'us')} | "
                  f"{shown(ours, 1e6, 'us')} | {ratio:.2f}x |")  # fmt: skip
            targets.append((f"parameters() within 2x of micrograd's ({nin}-{sizes})", ratio <= 2))
        print()

    print(f"(load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())})\n")
    for name, met in targets:
        print(f"- [{'x' if met else ' '}] {name}")
    return 0 if all(met for _, met in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
