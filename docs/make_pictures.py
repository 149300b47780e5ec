"""Make the README's teaching pictures (the notebooks draw the same ones):

.venv/bin/python docs/make_pictures.py
"""

from __future__ import annotations

import math
from pathlib import Path

from microgradx import Value
from microgradx.data import make_spirals, make_xor
from microgradx.nn import MLP
from microgradx.optim import Adam
from microgradx.train import fit
from microgradx.viz import plots

IMAGES = Path(__file__).resolve().parent / "images"


def activations() -> None:
    zs = [-4 + 8 * i / 80 for i in range(81)]
    rules = {"sigmoid": Value.sigmoid, "tanh": Value.tanh, "relu": Value.relu}
    series, panels = {}, [[], []]
    for name, rule in rules.items():
        values, slopes = [], []
        for z0 in zs:
            v = Value(z0)
            out = rule(v)
            out.backward()
            values.append(out.data)
            slopes.append(float(v.grad))
        series[name], series[name + "'"] = (zs, values), (zs, slopes)
        panels[0].append(name)
        panels[1].append(name + "'")
    figure = plots.curves(series, panels=panels, xlabel="z",
                          title="activations (left) and their derivatives (right)")  # fmt: skip
    figure.savefig(IMAGES / "activations.png", dpi=100)


def xor_hidden_space() -> None:
    X, y = make_xor()

    def sig(z: float) -> float:
        return 1 / (1 + math.exp(-z))

    hidden = [[sig(20 * a + 20 * b - 10), sig(-20 * a - 20 * b + 30)] for a, b in X]
    figure = plots.scatter(hidden, y, line=(-30.0, 20.0, 20.0), xlabel="h1 (OR)",
                           ylabel="h2 (NAND)", names=[f"x={a:g},{b:g}" for a, b in X],
                           title="XOR in the hidden units' space")  # fmt: skip
    figure.savefig(IMAGES / "xor_hidden_space.png", dpi=100)


def spiral_snapshots() -> None:
    X, y = make_spirals(200, noise=0.02, seed=0)
    model = MLP(2, [16, 16, 1], activation="relu", seed=0)
    kept = {"start": [p.data for p in model.parameters()]}

    def keep(epoch: int, history: object) -> None:
        if epoch + 1 in (5, 15, 40):
            kept[f"epoch {epoch + 1}"] = [p.data for p in model.parameters()]

    fit(model, X, y, loss="bce_with_logits", optimizer=Adam(model.parameters(), lr=0.05),
        epochs=40, batch_size=20, on_epoch=keep, progress=False)  # fmt: skip
    figure = plots.decision_boundaries(model, X, y, kept, title="spirals, as training proceeds")
    figure.savefig(IMAGES / "spiral_snapshots.png", dpi=100)


if __name__ == "__main__":
    activations()
    xor_hidden_space()
    spiral_snapshots()
