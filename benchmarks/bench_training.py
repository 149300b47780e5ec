"""One training epoch of the moons MLP, microgradx against PyTorch scalar autograd, in one run.

    python benchmarks/bench_training.py

The network is ``MLP(2, [16, 16, 1])`` (tanh) on 100 two-moons points, full batch, binary
cross-entropy on the logit, plain SGD: one forward + backward + update per epoch. PyTorch gets the
same network with the same weights as 0-dim float64 tensors (one thread), written as the same
user loop. microgradx is timed twice: in that plain user loop (target: at least 4x faster), and
through ``fit()`` (target: at least 8x), which pauses the cycle collector during a step because
Value graphs hold no cycles. Cyclic GC is on everywhere else; each figure is the best of 5.
Exits with status 1 if a target is missed.
"""

from __future__ import annotations

import platform
import sys
from typing import Any

from common import best_of

from microgradx import losses
from microgradx.data import make_moons
from microgradx.nn import MLP
from microgradx.optim import SGD
from microgradx.train import fit


def main() -> int:
    try:
        import torch
    except ImportError:
        print("PyTorch is needed for the ratios: pip install torch==2.13.0", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    X, y = make_moons(100, noise=0.1, seed=0)
    model = MLP(2, [16, 16, 1], "tanh", seed=0)
    optimizer = SGD(model.parameters(), lr=0.1)

    def user_loop() -> None:
        optimizer.zero_grad()
        loss = losses.bce_with_logits([model(x) for x in X], y)
        loss.backward()
        optimizer.step()

    def through_fit() -> None:
        fit(model, X, y, loss="bce_with_logits", optimizer=optimizer, epochs=1, progress=False)

    # The same network as PyTorch scalars: weights[l][j] = [w_1, ..., w_n, b] of unit j.
    weights: list[list[list[Any]]] = [
        [
            [torch.tensor(w.data, dtype=torch.float64, requires_grad=True) for w in n.w]
            + [torch.tensor(n.b.data, dtype=torch.float64, requires_grad=True)]
            for n in layer.neurons
        ]
        for layer in model.layers
    ]
    params = [t for layer in weights for unit in layer for t in unit]
    torch_optimizer = torch.optim.SGD(params, lr=0.1)

    def torch_loop() -> None:
        torch_optimizer.zero_grad()
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
        torch_optimizer.step()

    repeats = 5
    ours_loop = best_of(repeats, user_loop)
    ours_fit = best_of(repeats, through_fit)
    theirs = best_of(repeats, torch_loop)
    print(
        f"# one epoch, MLP 2-16-16-1 on 100 moons points ({platform.python_implementation()} "
        f"{platform.python_version()}, torch {torch.__version__}, {platform.machine()})\n"
    )
    print("| | time per epoch | speed-up over PyTorch scalar |")
    print("| --- | --- | --- |")
    print(f"| PyTorch scalar tensors, user loop | {theirs * 1e3:.1f} ms | 1.0x |")
    print(f"| microgradx, user loop | {ours_loop * 1e3:.1f} ms | {theirs / ours_loop:.1f}x |")
    print(f"| microgradx, fit() | {ours_fit * 1e3:.1f} ms | {theirs / ours_fit:.1f}x |\n")
    targets = [
        ("user loop at least 4x faster than PyTorch", theirs / ours_loop >= 4),
        ("fit() at least 8x faster than PyTorch", theirs / ours_fit >= 8),
    ]
    for name, met in targets:
        print(f"- [{'x' if met else ' '}] {name}")
    return 0 if all(met for _, met in targets) else 1


if __name__ == "__main__":
    raise SystemExit(main())
