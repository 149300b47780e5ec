"""Worst error, in ULPs, of every op's value and local derivatives: microgradx and PyTorch float64,
against mpmath at 300 bits, on one fixed seeded sample of the whole double range and its edges.

    python benchmarks/bench_accuracy.py            # the Markdown table (a few minutes)
    python benchmarks/bench_accuracy.py --quick    # a smaller sample
    python benchmarks/bench_accuracy.py --worst    # also the inputs of each worst case

microgradx's numbers are the op table's own rules (``op.forward``, ``op.local_grads``: what
``backward()`` multiplies by the upstream gradient); PyTorch's are its float64 functions (the same
spellings as tests/test_vs_torch.py) and their autograd gradients, at the same inputs, in the same
run. The distance is tests/reference.py's: NaN must be NaN, an infinite exact value must be met
exactly, and an overflowing finite one counts inf as 2**1024. Needs mpmath and torch.
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from microgradx.ops import Op, all_members  # noqa: E402
from tests.reference import EDGES, reference, ulps  # noqa: E402


def full_range(rng: random.Random) -> float:
    """A float of any size: a random mantissa at a random binary exponent, either sign."""
    x = math.ldexp(rng.uniform(1.0, 2.0), rng.randint(-1074, 1023))
    return -x if rng.random() < 0.5 else x


def moderate(rng: random.Random) -> float:
    scale = rng.choice([1.0, 5.0, 50.0, 800.0])
    return rng.uniform(-scale, scale)


def any_float(rng: random.Random) -> float:
    pick = rng.random()
    if pick < 0.1:
        return rng.choice(EDGES)
    return full_range(rng) if pick < 0.55 else moderate(rng)


def _power_pair(rng: random.Random, base: float | None = None) -> tuple[float, float]:
    """(a, b) with a^b anywhere from underflow to overflow, not just 0 and inf."""
    a = base if base is not None else abs(any_float(rng)) * (-1 if rng.random() < 0.2 else 1)
    if rng.random() < 0.3:
        b = float(rng.randint(-40, 40))  # integer powers, also of negative bases
    elif a != 0 and math.isfinite(a) and abs(a) != 1:
        b = rng.uniform(-1100, 1100) / math.log2(abs(a))
    else:
        b = any_float(rng)
    return a, b


def _logits(rng: random.Random, n: int) -> list[float]:
    kind = rng.randrange(7)
    if kind == 0:
        return [rng.gauss(0, 3) for _ in range(n)]
    if kind == 1:
        return [rng.gauss(0, 300) for _ in range(n)]
    if kind == 2:  # huge and tied: [1e16, 1e16], 1e8 apart by a little
        big = rng.choice([1e8, 1e16, -1e16, 1e300])
        return [big + rng.choice([0.0, 0.0, 1.0, -3.0, 40.0]) * abs(big) * 1e-16 for _ in range(n)]
    if kind == 3:  # logsumexp near 0: all near -log(n)
        return [-math.log(n) + rng.gauss(0, 1e-3) for _ in range(n)]
    if kind == 4:
        return [full_range(rng) for _ in range(n)]
    if kind == 5:  # one dominant class
        zs = [rng.gauss(0, 1) for _ in range(n)]
        zs[rng.randrange(n)] += rng.choice([30.0, 700.0, 1e5])
        return zs
    return [rng.choice(EDGES[:-3]) for _ in range(n)]


def _softmax(zs: list[float]) -> list[float]:
    m = max(zs)
    es = [math.exp(z - m) if z - m > -745 else 0.0 for z in zs]
    total = sum(es)
    return [e / total for e in es]


def _targets(rng: random.Random, zs: list[float]) -> list[float]:
    n = len(zs)
    kind = rng.randrange(3)
    if kind == 0:
        t = [0.0] * n
        t[rng.randrange(n)] = 1.0
        return t
    if kind == 1:
        raw = [rng.expovariate(1.0) for _ in range(n)]
        return [r / sum(raw) for r in raw]
    return _softmax(zs)  # at the optimum: the gradient cancels to almost 0


def _probability(rng: random.Random) -> float:
    p = 10 ** rng.uniform(-60, -0.31)
    return p if rng.random() < 0.5 else 1.0 - p


def samples(op: Op, rng: random.Random, count: int) -> list[list[float]]:
    """``count`` seeded inputs for ``op``: the edges and the whole range, shaped for the op."""
    name = op.name
    out: list[list[float]] = []
    for _ in range(count):
        if name in ("logsumexp", "log_softmax", "softmax", "cross_entropy"):
            out.append(_logits(rng, rng.randint(max(2, int(op.param or 0) + 1), 10)))
        elif name == "soft_cross_entropy":
            zs = _logits(rng, int(op.param or 2))
            out.append([*zs, *_targets(rng, zs)])
        elif name == "bce_with_logits":
            z = any_float(rng)
            t = rng.choice([0.0, 1.0, rng.random(), 1 / (1 + math.exp(-max(min(z, 700), -700)))])
            out.append([z, t])
        elif name == "binary_cross_entropy":
            p = _probability(rng) if rng.random() < 0.9 else rng.choice(EDGES)
            t = rng.choice([0.0, 1.0, rng.random(), p])
            out.append([p, t])
        elif name == "pow":
            out.append(list(_power_pair(rng)))
        elif name == "pow_scalar":
            a, _ = _power_pair(rng)
            out.append([a if rng.random() < 0.5 else any_float(rng)])
        elif name == "rpow_scalar":
            _, b = _power_pair(rng, op.param)
            out.append([b])
        else:
            out.append([any_float(rng) for _ in range(op.arity or 1)])
    return out


def ours(op: Op, inputs: list[float]) -> tuple[float, list[float]]:
    value = op.forward(*inputs)
    return value, [float(g) for g in op.local_grads(*inputs, value)]


def theirs(torch: Any, op: Op, inputs: list[float]) -> tuple[float, list[float]] | None:
    """PyTorch's value and autograd gradients, or None where it refuses the input."""
    from tests.test_vs_torch import torch_apply

    if op.name == "binary_cross_entropy" and not all(0 <= x <= 1 for x in inputs):
        return None  # torch raises outside [0, 1] (tests/test_vs_torch.py uses its formula)
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    out = torch_apply(torch, op, tensors)
    out.backward()
    grads = [0.0 if t.grad is None else t.grad.item() for t in tensors]
    return out.item(), grads


class Worst:
    """The largest ULP distance seen, and where."""

    def __init__(self) -> None:
        self.ulps = 0.0
        self.at: list[float] | None = None

    def add(self, distance: float, inputs: list[float]) -> None:
        if distance > self.ulps or (distance != distance and self.at is None):
            self.ulps, self.at = distance, inputs

    def __str__(self) -> str:
        if self.ulps == math.inf:
            return "wrong"  # NaN for a number, a number for NaN, or inf for a finite value
        if self.ulps >= 1e4:
            return f"{self.ulps:.1e}"
        return f"{self.ulps:.2f}" if self.ulps < 10 else f"{self.ulps:.0f}"


def measure(op: Op, inputs: list[list[float]], torch: Any) -> tuple[Worst, Worst, Worst, Worst]:
    value_ours, value_torch, grad_ours, grad_torch = Worst(), Worst(), Worst(), Worst()
    for x in inputs:
        exact_value, exact_grads = reference(op, x)
        value, grads = ours(op, x)
        value_ours.add(ulps(value, exact_value), x)
        for g, e in zip(grads, exact_grads):
            grad_ours.add(ulps(g, e), x)
        result = None if torch is None else theirs(torch, op, x)
        if result is not None:
            value_torch.add(ulps(result[0], exact_value), x)
            for g, e in zip(result[1], exact_grads):
                grad_torch.add(ulps(g, e), x)
    return value_ours, value_torch, grad_ours, grad_torch


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller sample")
    parser.add_argument("--worst", action="store_true", help="print each worst case's inputs")
    parser.add_argument("--only", default="", help="only ops whose label contains this")
    args = parser.parse_args()
    count = 150 if args.quick else 1500
    try:
        import torch

        torch.set_num_threads(1)
        version = torch.__version__
    except ImportError:
        torch, version = None, "not installed"
    print(
        f"# Accuracy: worst ULPs over {count} seeded inputs per op plus the edges"
        f" ({platform.python_implementation()} {platform.python_version()},"
        f" torch {version}, {platform.machine()})\n"
    )
    print(
        "| op | value: microgradx | value: torch | derivatives: microgradx | derivatives: torch |"
    )
    print("| --- | --- | --- | --- | --- |")
    failed = []
    details = []
    for op in all_members():
        if args.only not in op.label:
            continue
        rng = random.Random(f"{op.name}:{op.param}")
        inputs = samples(op, rng, count)
        if op.arity in (1, 2) and op.name not in ("bce_with_logits", "binary_cross_entropy"):
            inputs += [[e] * (op.arity or 1) for e in EDGES]
        v_ours, v_torch, g_ours, g_torch = measure(op, inputs, torch)
        if torch is None:
            v_torch = g_torch = None  # type: ignore[assignment]
        print(f"| `{op.label}` | {v_ours} | {v_torch or 'n/a'} | {g_ours} | {g_torch or 'n/a'} |")
        for what, worst in (("value", v_ours), ("derivative", g_ours)):
            details.append(f"{op.label} {what}: {worst} at {worst.at}")
            if not worst.ulps <= 4:
                failed.append(f"{op.label} {what}: {worst} ULP at {worst.at}")
    if args.worst:
        print("\n" + "\n".join(details))
    if failed:
        print("\nabove 4 ULP:\n" + "\n".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
