"""The Python half of the browser playground (``make site``): every number the page shows.

The page runs microgradx itself in the browser (Pyodide: CPython compiled to WebAssembly) and
calls these functions; they take and return plain JSON-able values, so the page's JavaScript only
draws. Nothing here is browser-specific: the tests call the same functions in CPython and compare.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from microgradx import data, losses, nn, optim
from microgradx.engine import Value
from microgradx.modes import no_grad
from microgradx.train import score
from microgradx.viz.network import draw_network
from microgradx.viz.page import fragment
from microgradx.viz.trace import trace_backward

DATASETS = {
    "moons": lambda seed: data.make_moons(200, noise=0.1, seed=seed),
    "circles": lambda seed: data.make_circles(200, noise=0.05, seed=seed),
    "xor": lambda seed: data.make_xor(200, noise=0.1, seed=seed),
    "spirals": lambda seed: data.make_spirals(200, noise=0.02, seed=seed),
}
OPTIMIZERS = {"adam": optim.Adam, "sgd": optim.SGD, "rmsprop": optim.RMSprop}


class Session:
    """One dataset, one network, its optimizer and its history of losses."""

    def __init__(
        self,
        dataset: str = "moons",
        hidden: str = "16,16",
        activation: str = "tanh",
        lr: float = 0.05,
        optimizer: str = "adam",
        seed: int = 0,
    ) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
        sizes = [int(part) for part in str(hidden).replace(" ", "").split(",") if part]
        if not sizes or any(not 1 <= s <= 64 for s in sizes) or len(sizes) > 4:
            raise ValueError(
                f"hidden layers: 1 to 4 sizes from 1 to 64, like 16,16; got {hidden!r}"
            )
        lr = float(lr)
        if not 0 < lr <= 10 or not math.isfinite(lr):
            raise ValueError(f"learning rate must be > 0 and <= 10, got {lr!r}")
        X, y = DATASETS[dataset](seed)
        (self.X,) = data.standardize(X)
        self.y = y
        self.model = nn.MLP(2, [*sizes, 1], activation, seed=seed)
        self.optimizer = OPTIMIZERS[optimizer](self.model.parameters(), lr=lr)
        self.losses: list[float] = []
        self.accuracies: list[float] = []
        self.epoch_seconds: list[float] = []

    def train(self, epochs: int = 1, batch_size: int = 20) -> dict[str, Any]:
        """``epochs`` passes of mini-batch training (in order, no shuffling: deterministic)."""
        for _ in range(int(epochs)):
            start = time.perf_counter()
            total, correct = 0.0, 0
            for first in range(0, len(self.X), batch_size):
                rows = range(first, min(first + batch_size, len(self.X)))
                self.optimizer.zero_grad()
                outputs = [self.model(self.X[i]) for i in rows]
                loss = losses.bce_with_logits(outputs, [self.y[i] for i in rows])
                loss.backward()
                self.optimizer.step()
                total += loss.data * len(rows)
                correct += sum(int(score(o) > 0) == self.y[i] for o, i in zip(outputs, rows))
            self.epoch_seconds.append(time.perf_counter() - start)
            self.losses.append(total / len(self.X))
            self.accuracies.append(correct / len(self.X))
        return self.status()

    def status(self) -> dict[str, Any]:
        return {
            "epochs": len(self.losses),
            "losses": self.losses,
            "accuracy": self.accuracy(),
            "epoch_seconds": self.epoch_seconds,
        }

    def accuracy(self) -> float:
        with no_grad():
            right = sum(int(score(self.model(x)) > 0) == t for x, t in zip(self.X, self.y))
        return right / len(self.X)

    def boundary(self, resolution: int = 40) -> dict[str, Any]:
        """The model's score on a ``resolution`` x ``resolution`` grid over the data, and the
        data itself: the page colours the grid (the decision boundary is where score = 0)."""
        xs = [p[0] for p in self.X]
        ys = [p[1] for p in self.X]
        x0, x1 = min(xs) - 0.3, max(xs) + 0.3
        y0, y1 = min(ys) - 0.3, max(ys) + 0.3
        grid = []
        with no_grad():
            for r in range(resolution):
                gy = y1 - (y1 - y0) * (r + 0.5) / resolution
                grid.append(
                    [
                        score(self.model([x0 + (x1 - x0) * (c + 0.5) / resolution, gy]))
                        for c in range(resolution)
                    ]
                )
        return {"bounds": [x0, x1, y0, y1], "grid": grid, "points": self.X, "labels": self.y}

    def example_loss(self, index: int) -> Value:
        """The loss of training example ``index`` alone, as a graph (for the step-through)."""
        if not 0 <= index < len(self.X):
            raise ValueError(f"example must be 0 to {len(self.X) - 1}, got {index}")
        self.model.zero_grad()
        return losses.bce_with_logits(self.model(self.X[index]), self.y[index])

    def step_through(self, index: int, level: str = "neuron") -> dict[str, Any]:
        """The step-through page of example ``index``'s backward pass (neuron level by default;
        op level for a small network), with the network drawn with weights as edges."""
        trace = trace_backward(self.example_loss(index), level=level)
        gradients = {name: float(p.grad) for name, p in self.model.named_parameters()}
        picture = draw_network(self.model, self.X[index], color_by="grad").svg()
        return {
            "html": fragment(trace.page_data()),
            "steps": len(trace),
            "equation": trace.equation(0),
            "gradients": gradients,
            "network": picture,
            "weights": [p.data for p in self.model.parameters()],
            "example": [*self.X[index], self.y[index]],
        }


def run_snippet(code: str) -> str:
    """Run a few lines of Python with microgradx imported, and return what they printed."""
    import contextlib
    import io

    import microgradx

    out = io.StringIO()
    namespace: dict[str, Any] = {"microgradx": microgradx, "Value": microgradx.Value}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<playground>", "exec"), namespace)
    return out.getvalue()


def to_json(value: Any) -> str:
    return json.dumps(value)
