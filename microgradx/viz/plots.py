"""Plots for learning and diagnosing networks (matplotlib: ``pip install 'microgradx[plot]'``).

Each function returns a matplotlib ``Figure`` and never calls ``plt.show()``: in Jupyter the figure
displays itself; in a script, ``fig.savefig("name.png")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from microgradx.engine import Value
from microgradx.modes import no_grad
from microgradx.nn import MLP, Layer, Module
from microgradx.train import History, score


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # without a display, matplotlib picks Agg by itself
    except ImportError:
        raise ImportError("plots need the plot extra: pip install 'microgradx[plot]'") from None
    return plt


def _finished(fig: Any) -> Any:
    """Detach the figure from pyplot before returning it: in Jupyter, the inline backend would
    otherwise draw it at the end of the cell *and* again as the cell's value (twice)."""
    _pyplot().close(fig)
    return fig


def decision_boundary(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    *,
    resolution: int = 60,
    threshold: float = 0.0,
    title: str | None = None,
) -> Any:
    """The regions a 2-input classifier assigns to each class, with the data on top.

    The model's single output is compared with ``threshold`` (0 for a logit, 0.5 for a
    probability). ``resolution`` points per side are evaluated without recording a graph.
    """
    if not X or len(X[0]) != 2:
        raise ValueError("decision_boundary needs 2-D inputs")
    plt = _pyplot()
    xs, ys = [p[0] for p in X], [p[1] for p in X]
    pad_x, pad_y = 0.1 * (max(xs) - min(xs) or 1), 0.1 * (max(ys) - min(ys) or 1)
    x0, x1, y0, y1 = min(xs) - pad_x, max(xs) + pad_x, min(ys) - pad_y, max(ys) + pad_y
    grid_x = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    grid_y = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
    with no_grad():
        scores = [[score(model([gx, gy])) for gx in grid_x] for gy in grid_y]
    fig, ax = plt.subplots(figsize=(5, 4.5))
    regions = [[s > threshold for s in row] for row in scores]
    ax.contourf(grid_x, grid_y, regions, levels=[-0.5, 0.5, 1.5], colors=["#f4c7c3", "#c6dbef"],
                alpha=0.8)  # fmt: skip
    ax.contour(grid_x, grid_y, scores, levels=[threshold], colors="#333333", linewidths=1)
    classes = sorted(set(y))
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    for k, label in enumerate(classes):
        points = [p for p, t in zip(X, y) if t == label]
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=14, edgecolors="white",
                   linewidths=0.5, color=colors[k % len(colors)],
                   label=f"class {label}")  # fmt: skip
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(title or "decision boundary")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return _finished(fig)


def training_curves(history: History, title: str = "training") -> Any:
    """Loss (and accuracy, when recorded) per epoch, for training and validation."""
    if not history.loss:
        raise ValueError("the history is empty: train for at least one epoch")
    plt = _pyplot()
    panels = 2 if history.accuracy else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.5), squeeze=False)
    epochs = list(range(1, history.epochs + 1))
    ax = axes[0][0]
    ax.plot(epochs, history.loss, label="train")
    if history.val_loss:
        ax.plot(epochs, history.val_loss, label="validation")
    if history.best_epoch is not None:
        ax.axvline(history.best_epoch + 1, color="#999999", linestyle="--", label="best epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(f"{title}: loss")
    ax.legend()
    if panels == 2:
        ax = axes[0][1]
        ax.plot(epochs, history.accuracy, label="train")
        if history.val_accuracy:
            ax.plot(epochs, history.val_accuracy, label="validation")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{title}: accuracy")
        ax.legend()
    fig.tight_layout()
    return _finished(fig)


def _layers(model: Module) -> list[Layer]:
    layers = [m for m in model.modules() if isinstance(m, Layer)]
    if not layers:
        raise ValueError("the model has no Layer modules to look inside")
    return layers


def layer_activations(model: Module, X: Sequence[Sequence[float]]) -> list[list[list[float]]]:
    """For each Layer of a sequential model: each example's outputs of that layer."""
    layers = _layers(model)
    recorded: list[list[list[float]]] = [[] for _ in layers]
    with no_grad():
        for x in X:
            activation: list[Any] = list(x)
            for k, layer in enumerate(layers):
                activation = layer(activation)
                recorded[k].append([a.data for a in activation])
    return recorded


def dead_units(model: Module, X: Sequence[Sequence[float]]) -> list[int]:
    """Per layer, how many units never produce a positive output on ``X`` (dead ReLUs: such a
    unit passes no gradient back for any of these examples, so it cannot recover)."""
    counts = []
    for outputs in layer_activations(model, X):
        units = len(outputs[0])
        counts.append(sum(1 for j in range(units) if all(row[j] <= 0 for row in outputs)))
    return counts


def activation_histograms(model: Module, X: Sequence[Sequence[float]], bins: int = 30) -> Any:
    """A histogram of each hidden layer's outputs on ``X``, titled with its dead-unit count."""
    plt = _pyplot()
    activations = layer_activations(model, X)
    dead = dead_units(model, X)
    layers = _layers(model)
    fig, axes = plt.subplots(
        1, len(layers), figsize=(3.2 * len(layers), 3), squeeze=False, sharex=True
    )
    for k, (ax, outputs, layer) in enumerate(zip(axes[0], activations, layers)):
        values = [v for row in outputs for v in row]
        ax.hist(values, bins=bins, color="#4c72b0")
        units = len(outputs[0])
        ax.set_title(f"layer {k} ({layer.activation_name})\n{dead[k]} of {units} units dead")
        ax.set_xlabel("activation")
    axes[0][0].set_ylabel("count")
    fig.tight_layout()
    return _finished(fig)


def gradient_histograms(model: Module, bins: int = 30) -> Any:
    """A histogram of each layer's weight gradients (after a ``backward()``), on a log scale of
    |grad|: vanishing gradients pile up at the left, exploding ones run off to the right."""
    plt = _pyplot()
    layers = _layers(model)
    fig, axes = plt.subplots(
        1, len(layers), figsize=(3.2 * len(layers), 3), squeeze=False, sharex=True
    )
    for k, (ax, layer) in enumerate(zip(axes[0], layers)):
        grads = [abs(float(p.grad)) for p in layer.parameters()]
        nonzero = [math.log10(g) for g in grads if g > 0 and math.isfinite(g)]
        if nonzero:
            ax.hist(nonzero, bins=bins, color="#dd8452")
        ax.set_title(f"layer {k}: {len(grads) - len(nonzero)} of {len(grads)} grads are 0")
        ax.set_xlabel("log10 |grad|")
    axes[0][0].set_ylabel("count")
    fig.tight_layout()
    return _finished(fig)


def universal_approximation(
    target: Callable[[float], float] = math.sin,
    *,
    interval: tuple[float, float] = (-math.pi, math.pi),
    hidden: int = 8,
    points: int = 40,
    epochs: int = 300,
    lr: float = 0.02,
    seed: int = 0,
) -> tuple[Any, MLP]:
    """Fit ``target`` on ``interval`` with a 1-``hidden``-1 ReLU MLP and draw how it does it.

    The network's output is a sum of its hidden units' contributions ``w_j * relu(a_j x + b_j)``
    plus a bias: each is a hinge, so the fit is piecewise linear, and with enough hinges it gets
    as close as you like to any continuous function (the universal approximation theorem).
    Returns the figure and the trained model.
    """
    from microgradx.optim import Adam
    from microgradx.train import fit

    plt = _pyplot()
    lo, hi = interval
    xs = [lo + (hi - lo) * i / (points - 1) for i in range(points)]
    X, y = [[x] for x in xs], [target(x) for x in xs]
    model = MLP(1, [hidden, 1], activation="relu", init="he", seed=seed)
    fit(model, X, y, loss="mse", optimizer=Adam(model.parameters(), lr=lr), epochs=epochs,
        progress=False)  # fmt: skip
    hidden_layer, output_layer = _layers(model)
    out_neuron = output_layer.neurons[0]
    dense = [lo + (hi - lo) * i / 199 for i in range(200)]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(dense, [target(x) for x in dense], color="#333333", linewidth=2, label="target")
    with no_grad():
        prediction = [score(model([x])) for x in dense]
        for j, neuron in enumerate(hidden_layer.neurons):
            w = out_neuron.w[j].data
            contribution = [w * neuron([Value(x)]).data for x in dense]
            ax.plot(dense, contribution, linewidth=0.8, alpha=0.6, linestyle="--",
                    label="hidden unit contributions" if j == 0 else None)  # fmt: skip
    ax.plot(dense, prediction, color="#d62728", linewidth=2, label=f"ReLU MLP 1-{hidden}-1")
    ax.scatter(xs, y, s=10, color="#333333", zorder=3)
    ax.set_title("a sum of ReLU hinges approximates the target")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _finished(fig), model


# ---- images and classes -------------------------------------------------------------------------


def image_grid(
    images: Sequence[Sequence[float]],
    titles: Sequence[str] = (),
    *,
    side: int = 8,
    columns: int = 10,
    cmap: str = "gray_r",
    symmetric: bool = False,
    title: str | None = None,
) -> Any:
    """Small square images (each a flat list of ``side * side`` numbers, row by row) in a grid,
    each with an optional title: digits, or a layer's weights drawn as images (``symmetric``:
    a diverging colour scale centred on 0, for weights of either sign)."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    for k, image in enumerate(images):
        if len(image) != side * side:
            raise ValueError(f"image {k} has {len(image)} numbers, not {side}x{side}")
    plt = _pyplot()
    rows = math.ceil(len(images) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 1.05), squeeze=False)
    limit = max(abs(v) for image in images for v in image) or 1.0
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= len(images):
            continue
        grid = [list(images[k][r * side : (r + 1) * side]) for r in range(side)]
        if symmetric:
            ax.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit)
        else:
            ax.imshow(grid, cmap=cmap)
        if k < len(titles):
            ax.set_title(titles[k], fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finished(fig)


def confusion_matrix(
    predicted: Sequence[int], actual: Sequence[int], classes: int, *, title: str | None = None
) -> Any:
    """How often each true class (rows) was predicted as each class (columns), counts written in
    the cells. ``figure.matrix`` holds the counts."""
    if len(predicted) != len(actual):
        raise ValueError(f"{len(predicted)} predictions but {len(actual)} labels")
    counts = [[0] * classes for _ in range(classes)]
    for p, a in zip(predicted, actual):
        counts[a][p] += 1
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(counts, cmap="Blues")
    for a in range(classes):
        for p in range(classes):
            if counts[a][p]:
                dark = counts[a][p] > max(max(row) for row in counts) / 2
                ax.text(p, a, str(counts[a][p]), ha="center", va="center", fontsize=8,
                        color="white" if dark else "black")  # fmt: skip
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(classes))
    ax.set_yticks(range(classes))
    ax.set_title(title or "confusion matrix")
    fig.matrix = counts
    fig.tight_layout()
    return _finished(fig)


def curves(
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    log_y: bool = False,
    panels: Sequence[Sequence[str]] | None = None,
) -> Any:
    """Named curves ``{label: (xs, ys)}`` on one set of axes, or split into ``panels`` (lists of
    labels, one panel each, sharing the x axis): learning-rate runs, optimizers, an activation
    beside its derivative."""
    if not series:
        raise ValueError("curves needs at least one series")
    groups = [list(p) for p in panels] if panels else [list(series)]
    for group in groups:
        for label in group:
            if label not in series:
                raise ValueError(f"panel names {label!r}, which is not a series")
    plt = _pyplot()
    fig, axes = plt.subplots(
        1, len(groups), figsize=(4.6 * len(groups), 3.4), squeeze=False, sharex=True
    )
    for ax, group in zip(axes[0], groups):
        for label in group:
            xs, ys = series[label]
            ax.plot(list(xs), list(ys), label=label)
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finished(fig)


def scatter(
    points: Sequence[Sequence[float]],
    labels: Sequence[int],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    line: tuple[float, float, float] | None = None,
    names: Sequence[str] = (),
) -> Any:
    """Points coloured by class; ``line=(c, a, b)`` draws the line c + a x + b y = 0 (a
    perceptron's boundary); ``names`` writes a name beside each point."""
    if len(points) != len(labels):
        raise ValueError(f"{len(points)} points but {len(labels)} labels")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.4, 4))
    colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    ax.scatter(xs, ys, c=[colours[k % 4] for k in labels], s=40, edgecolors="white", zorder=3)
    at: dict[tuple[float, float], list[str]] = {}  # points that coincide share one label
    for (x, y), name in zip(points, names):
        at.setdefault((round(x, 6), round(y, 6)), []).append(name)
    for (x, y), together in at.items():
        ax.annotate(" and ".join(together), (x, y), textcoords="offset points", xytext=(6, 4),
                    fontsize=8)  # fmt: skip
    if line is not None:
        c, a, b = line
        lo, hi = min(xs) - 0.5, max(xs) + 0.5
        if b != 0:
            ax.plot([lo, hi], [-(c + a * lo) / b, -(c + a * hi) / b], "k-", lw=1.2)
        else:
            ax.axvline(-c / a, color="k", lw=1.2)
        ax.set_xlim(lo, hi)
        ax.set_ylim(min(ys) - 0.5, max(ys) + 0.5)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _finished(fig)


def decision_boundaries(
    model: Module,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    snapshots: dict[str, Sequence[float]],
    *,
    resolution: int = 40,
    title: str = "",
) -> Any:
    """One decision-boundary panel per snapshot of the model's weights (``{"epoch 5": weights}``,
    weights in ``model.parameters()`` order): the boundary as training proceeds. The model's own
    weights are put back afterwards."""
    params = model.parameters()
    for name, weights in snapshots.items():
        if len(weights) != len(params):
            raise ValueError(f"snapshot {name!r} has {len(weights)} weights, not {len(params)}")
    kept = [p.data for p in params]
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(snapshots), figsize=(3.2 * len(snapshots), 3.2), squeeze=False)
    xs, ys = [p[0] for p in X], [p[1] for p in X]
    x0, x1 = min(xs) - 0.3, max(xs) + 0.3
    y0, y1 = min(ys) - 0.3, max(ys) + 0.3
    grid_x = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    grid_y = [y0 + (y1 - y0) * i / (resolution - 1) for i in range(resolution)]
    try:
        for ax, (name, weights) in zip(axes[0], snapshots.items()):
            for p, w in zip(params, weights):
                p.data = w
            with no_grad():
                scores = [[score(model([gx, gy])) for gx in grid_x] for gy in grid_y]
            ax.contourf(grid_x, grid_y, [[s > 0 for s in row] for row in scores], levels=1,
                        colors=["#fde0c5", "#c6dbef"])  # fmt: skip
            ax.scatter(xs, ys, c=["#1f77b4" if t == 1 else "#e6550d" for t in y], s=10)
            ax.set_title(name, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    finally:
        for p, w in zip(params, kept):
            p.data = w
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finished(fig)
