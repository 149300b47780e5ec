"""Plots for learning and diagnosing networks (matplotlib: ``pip install 'microgradx[plot]'``).

Each function returns a matplotlib ``Figure`` and never calls ``plt.show()``: in Jupyter the figure
displays itself; in a script, ``fig.savefig("name.png")``. In a browser (Pyodide: JupyterLite, the
playground), matplotlib is loaded from the site's Pyodide packages on the first plot; where it
cannot be (offline), each function returns a ``PlotUnavailable`` instead of the figure, whose
display is one line saying what is missing, so a notebook goes on. On CPython without matplotlib
they raise ImportError naming the extra.

Every argument is checked before anything is drawn or computed (``microgradx.checks``), and a bad
one raises TypeError/ValueError naming it. Data are rows of numbers (lists of lists or 2-D NumPy
arrays). Sizes that set how much is drawn are capped: ``resolution`` at ``MAX_RESOLUTION`` points
per side, ``bins`` at ``MAX_BINS``, ``columns`` at ``MAX_COLUMNS``, ``classes`` at
``MAX_CLASSES``, ``points`` at ``MAX_POINTS``, so a mistyped billion is refused by name instead
of allocating gigabytes.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from microgradx import checks
from microgradx.engine import Value, grad_number
from microgradx.modes import no_grad
from microgradx.nn import MAX_WEIGHTS, MLP, Layer, Module
from microgradx.train import History, score
from microgradx.viz.markup import measure

MAX_RESOLUTION = 1000  # grid points per side: resolution ** 2 model evaluations
MAX_BINS = 10_000  # histogram bins
MAX_COLUMNS = 100  # images per row of image_grid (each a subplot)
MAX_CLASSES = 1000  # a confusion matrix has classes ** 2 cells
MAX_POINTS = 100_000  # points universal_approximation fits


IN_BROWSER = sys.platform == "emscripten"  # Pyodide: JupyterLite, the playground


class PlotUnavailable:
    """What a plot function returns in a browser (Pyodide) where matplotlib cannot be loaded:
    its display, like its ``str``, is one line saying what is missing, so the notebook goes on
    (everything else the function computes, such as ``universal_approximation``'s model, is still
    returned)."""

    matrix: list[list[int]]  # confusion_matrix's counts, as on its figure

    def __init__(self, reason: str) -> None:
        """``reason``: what is missing, one line (a str; TypeError otherwise)."""
        self.reason = checks.text(reason, "reason")

    def __repr__(self) -> str:
        return f"plot not drawn: {self.reason}"

    __str__ = __repr__


_browser_reason: str | None = None  # why matplotlib did not load in this browser: asked once


def _load_in_browser() -> Any:
    """matplotlib.pyplot in Pyodide, loaded from the site's package index (Pyodide's lock names
    it and numpy; JupyterLite loads only what a cell imports itself, and this module imports it
    lazily). Loading is asynchronous, so the call waits for it with run_sync (WebAssembly stack
    switching); a PlotUnavailable saying why when that cannot be done or the packages cannot be
    fetched (a site used offline)."""
    global _browser_reason
    if _browser_reason is None:
        try:
            import pyodide_js  # type: ignore[import-not-found]
            from pyodide.ffi import can_run_sync, run_sync  # type: ignore[import-not-found]
        except ImportError:
            _browser_reason = "this browser's Python cannot load packages (no pyodide_js)"
        else:
            if not can_run_sync():
                _browser_reason = (
                    "matplotlib is not loaded, and this browser cannot load it while a cell runs;"
                    " run `import matplotlib` in a cell of its own first"
                )
            else:
                try:
                    run_sync(pyodide_js.loadPackage("matplotlib"))
                    import matplotlib.pyplot as plt
                except Exception:  # a failed fetch surfaces as a JsException or ImportError
                    _browser_reason = (
                        "matplotlib and numpy could not be loaded (Pyodide's packages are"
                        " fetched from the site's package address: is this computer offline?)"
                    )
                else:
                    return plt
    return PlotUnavailable(_browser_reason)


def _pyplot() -> Any:
    """matplotlib.pyplot; in a browser without it, a PlotUnavailable (which every plot function
    returns in place of its figure) instead of the ImportError naming the extra."""
    try:
        import matplotlib.pyplot as plt  # without a display, matplotlib picks Agg by itself
    except ImportError:
        if IN_BROWSER:
            return _load_in_browser()
        raise ImportError("plots need the plot extra: pip install 'microgradx[plot]'") from None
    return plt


# ---- checking the arguments ----------------------------------------------------------------------


def _model(model: Any) -> Module:
    return checks.instance(model, "model", Module, "microgradx Module")


def _title(title: Any, name: str = "title") -> str | None:
    return None if title is None else checks.text(title, name)


def _labels(y: Any, name: str, n: int, rows: str) -> Sequence[Any]:
    """Class labels, one per row of ``rows`` (``n`` of them): ints (NumPy's too)."""
    labels = checks.sequence(y, name)
    if len(labels) != n:
        raise ValueError(f"{rows} has {n} rows but {name} has {len(labels)} labels")
    for i, label in enumerate(labels):
        if not checks.is_int(label):
            raise TypeError(f"{name}[{i}] must be an int (a class), got {checks.describe(label)}")
    return labels


def _points(X: Any, y: Any) -> tuple[list[list[float]], Sequence[Any]]:
    """2-input examples (finite) and their class labels."""
    table = checks.rows(X, "X", width=2, require_finite=True)
    return table, _labels(y, "y", len(table), "X")


def _examples(
    model: Module, X: Any, allow_empty: bool = False
) -> tuple[list[Layer], list[list[float]]]:
    """The model's layers and ``X`` as rows of the first layer's width."""
    layers = _layers(_model(model))
    return layers, checks.rows(X, "X", width=layers[0].nin, allow_empty=allow_empty)


def _resolution(resolution: Any) -> int:
    return checks.count(resolution, "resolution", 2, MAX_RESOLUTION)


def _bins(bins: Any) -> int:
    return checks.count(bins, "bins", 1, MAX_BINS)


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
    probability). ``resolution`` points per side (2 to ``MAX_RESOLUTION``) are evaluated without
    recording a graph. ``X``: rows of 2 finite numbers; ``y``: an int class per row.
    """
    _model(model)
    X, y = _points(X, y)
    resolution = _resolution(resolution)
    threshold = measure(threshold, "threshold")  # a finite number, not a bool
    title = _title(title)
    plt = _pyplot()
    if isinstance(plt, PlotUnavailable):
        return plt
    x0, x1 = _padded([p[0] for p in X])
    y0, y1 = _padded([p[1] for p in X])
    grid_x, grid_y = _grid(x0, x1, resolution), _grid(y0, y1, resolution)
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


# matplotlib's tick placement overflows (a raw "arange: cannot compute length") on an axis
# much wider than 1e307: the padded range is kept inside this
_LARGEST = 1e306


def _padded(values: list[float]) -> tuple[float, float]:
    """The range of ``values`` (finite) widened by a tenth of it on each side (by a tenth of
    the number, or 0.1, if they are all one number), kept inside +-``_LARGEST``."""
    low, high = (min(max(v, -_LARGEST), _LARGEST) for v in (min(values), max(values)))
    # a tenth of the width, halved first: the width of [-1e308, 1e308] is past a float
    pad = 0.2 * (high / 2 - low / 2) or max(0.1 * abs(low), 0.1)
    return max(low - pad, -_LARGEST), min(high + pad, _LARGEST)


def _grid(low: float, high: float, n: int) -> list[float]:
    """``n`` evenly spaced points from ``low`` to ``high``, as weighted means (high - low may
    overflow; a weighted mean of two floats never leaves their range but by rounding)."""
    return [
        min(max(low * (1 - i / (n - 1)) + high * (i / (n - 1)), -_LARGEST), _LARGEST)
        for i in range(n)
    ]


def training_curves(history: History, title: str = "training") -> Any:
    """Loss (and accuracy, when recorded) per epoch, for training and validation."""
    checks.instance(history, "history", History, "History (what fit() returns)")
    title = checks.text(title, "title")
    if not history.loss:
        raise ValueError("history is empty: train for at least one epoch")
    plt = _pyplot()
    if isinstance(plt, PlotUnavailable):
        return plt
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
    """For each Layer of a sequential model: each example's outputs of that layer. ``X``: rows
    of numbers as wide as the first layer's input (none: an empty list per layer)."""
    layers, table = _examples(model, X, allow_empty=True)
    return _activations(layers, table)


def _activations(layers: list[Layer], X: list[list[float]]) -> list[list[list[float]]]:
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
    layers, table = _examples(model, X)
    return _dead(_activations(layers, table))


def _dead(activations: list[list[list[float]]]) -> list[int]:
    counts = []
    for outputs in activations:
        units = len(outputs[0])
        counts.append(sum(1 for j in range(units) if all(row[j] <= 0 for row in outputs)))
    return counts


def activation_histograms(model: Module, X: Sequence[Sequence[float]], bins: int = 30) -> Any:
    """A histogram of each hidden layer's outputs on ``X``, titled with its dead-unit count.
    ``bins``: 1 to ``MAX_BINS``."""
    layers, table = _examples(model, X)
    bins = _bins(bins)
    plt = _pyplot()
    if isinstance(plt, PlotUnavailable):
        return plt
    activations = _activations(layers, table)
    dead = _dead(activations)
    fig, axes = plt.subplots(
        1, len(layers), figsize=(3.2 * len(layers), 3), squeeze=False, sharex=True
    )
    for k, (ax, outputs, layer) in enumerate(zip(axes[0], activations, layers)):
        values = [v for row in outputs for v in row]
        # a diverged model's NaN/inf outputs have no place on the axis (numpy's hist raises
        # on them): they are counted in the title instead
        finite = [v for v in values if math.isfinite(v)]
        if finite:
            ax.hist(finite, bins=bins, color="#4c72b0")
        units = len(outputs[0])
        title = f"layer {k} ({layer.activation_name})\n{dead[k]} of {units} units dead"
        if len(finite) < len(values):
            title += f", {len(values) - len(finite)} outputs not finite"
        ax.set_title(title)
        ax.set_xlabel("activation")
    axes[0][0].set_ylabel("count")
    fig.tight_layout()
    return _finished(fig)


def gradient_histograms(model: Module, bins: int = 30) -> Any:
    """A histogram of each layer's weight gradients (after a ``backward()``), on a log scale of
    |grad|: vanishing gradients pile up at the left, exploding ones run off to the right.
    ``bins``: 1 to ``MAX_BINS``."""
    layers = _layers(_model(model))
    bins = _bins(bins)
    plt = _pyplot()
    if isinstance(plt, PlotUnavailable):
        return plt
    fig, axes = plt.subplots(
        1, len(layers), figsize=(3.2 * len(layers), 3), squeeze=False, sharex=True
    )
    for k, (ax, layer) in enumerate(zip(axes[0], layers)):
        grads = [abs(grad_number(p)) for p in layer.parameters()]
        nonzero = [math.log10(g) for g in grads if g > 0 and math.isfinite(g)]
        if nonzero:
            ax.hist(nonzero, bins=bins, color="#dd8452")
        zeros = sum(1 for g in grads if g == 0)
        title = f"layer {k}: {zeros} of {len(grads)} grads are 0"
        if len(grads) - zeros - len(nonzero):  # NaN or inf: not 0, and not on the axis
            title += f", {len(grads) - zeros - len(nonzero)} not finite"
        ax.set_title(title)
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
    Returns the figure (a ``PlotUnavailable`` in a browser without matplotlib) and the trained
    model. ``target`` must give a finite number at every
    point; ``interval``: a pair ``(lo, hi)`` of finite numbers, ``lo < hi``; ``points``: 2 to
    ``MAX_POINTS``.
    """
    from microgradx.optim import Adam
    from microgradx.train import fit

    target = checks.function(target, "target")
    checks.reals_of_length(interval, "interval", 2)  # a pair of numbers; then each, as given:
    lo, hi = (measure(v, f"interval[{i}]") for i, v in enumerate(interval))  # finite, no bool
    if not lo < hi:
        raise ValueError(f"interval must be (lo, hi) with lo < hi, got {(lo, hi)!r}")
    # the model has 3 * hidden + 1 weights
    hidden = checks.count(hidden, "hidden", 1, (MAX_WEIGHTS - 1) // 3)
    points = checks.count(points, "points", 2, MAX_POINTS)
    epochs = checks.count(epochs, "epochs", 1)
    lr = checks.in_range(measure(lr, "lr"), "lr", 0, math.inf, low_open=True)
    seed = checks.seed(seed)
    xs = [lo + (hi - lo) * i / (points - 1) for i in range(points)]
    named = [(target(x), f"target({x:g})") for x in xs]  # the target's values are data
    X, y = [[x] for x in xs], [checks.finite(checks.number(v, n), n) for v, n in named]
    plt = _pyplot()  # before training: without the plot extra, the ImportError comes at once
    model = MLP(1, [hidden, 1], activation="relu", init="he", seed=seed)
    fit(model, X, y, loss="mse", optimizer=Adam(model.parameters(), lr=lr), epochs=epochs,
        progress=False)  # fmt: skip
    if isinstance(plt, PlotUnavailable):
        return plt, model
    hidden_layer, output_layer = _layers(model)
    out_neuron = output_layer.neurons[0]
    dense = [lo + (hi - lo) * i / 199 for i in range(200)]
    fig, ax = plt.subplots(figsize=(6, 4))
    shown = [checks.number(target(x), f"target({x:g})") for x in dense]
    ax.plot(dense, shown, color="#333333", linewidth=2, label="target")
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
    a diverging colour scale centred on 0, for weights of either sign). ``images``: at least
    one, each of finite numbers; ``titles``: a str per image (fewer leave the rest untitled);
    ``columns``: 1 to ``MAX_COLUMNS`` images per row (fewer images: one row of just them, not
    empty places); ``cmap``: a matplotlib colormap or its name."""
    side = checks.count(side, "side")
    table = checks.rows(images, "images", require_finite=True)
    if len(table[0]) != side * side:
        raise ValueError(f"images[0] has {len(table[0])} numbers, not side * side = {side}x{side}")
    titles = checks.texts(titles, "titles")
    columns = checks.count(columns, "columns", 1, MAX_COLUMNS)
    symmetric = checks.flag(symmetric, "symmetric")
    title = _title(title)
    plt = _pyplot()
    if isinstance(plt, PlotUnavailable):
        return plt
    if not isinstance(cmap, str):
        from matplotlib.colors import Colormap

        checks.instance(cmap, "cmap", Colormap, "colormap name (a str) or a matplotlib Colormap")
    images = table
    columns = min(columns, len(images))  # more would draw empty axes, the figure as wide
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
    the cells. ``figure.matrix`` holds the counts (also on the ``PlotUnavailable`` returned in a
    browser without matplotlib). ``predicted`` and ``actual``: as many classes
    each, ints in ``0..classes - 1``; ``classes``: 1 to ``MAX_CLASSES``."""
    classes = checks.count(classes, "classes", 1, MAX_CLASSES)
    predicted = [
        checks.count(p, f"predicted[{i}]", 0, classes - 1)
        for i, p in enumerate(checks.sequence(predicted, "predicted"))
    ]
    actual = [
        checks.count(a, f"actual[{i}]", 0, classes - 1)
        for i, a in enumerate(checks.sequence(actual, "actual"))
    ]
    if len(predicted) != len(actual):
        raise ValueError(
            f"predicted has {len(predicted)} classes but actual has {len(actual)}: one each per"
            " example"
        )
    title = _title(title)
    counts = [[0] * classes for _ in range(classes)]
    for p, a in zip(predicted, actual):
        counts[a][p] += 1
    plt = _pyplot()
    if isinstance(plt, PlotUnavailable):  # the counts are computed all the same: carry them
        missing = PlotUnavailable(plt.reason)
        missing.matrix = counts
        return missing
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
    beside its derivative. Each series is a pair of equally long lists (a ``range`` will do) of
    numbers; ``panels`` (``None`` or empty: one panel of every series) must name only series."""
    if len(checks.mapping(series, "series")) == 0:
        raise ValueError("series is empty: give at least one curve")
    for label, pair in series.items():
        if not isinstance(label, str):
            raise TypeError(f"series keys must be str labels, got {checks.describe(label)}")
        where = f"series[{label!r:.40}]"
        if len(checks.sequence(pair, where)) != 2:
            raise ValueError(f"{where} must be a pair (xs, ys), got {checks.describe(pair)}")
        across = checks.reals(pair[0], f"{where}[0]", allow_empty=True, data=True)
        up = checks.reals(pair[1], f"{where}[1]", allow_empty=True, data=True)
        if len(across) != len(up):
            raise ValueError(f"{where} has {len(across)} xs but {len(up)} ys")
    title, xlabel, ylabel = (
        checks.text(title, "title"),
        checks.text(xlabel, "xlabel"),
        checks.text(ylabel, "ylabel"),
    )
    log_y = checks.flag(log_y, "log_y")
    groups = [list(series)]
    if panels is not None and len(checks.sequence(panels, "panels")) > 0:
        groups = []
        for g, panel in enumerate(panels):
            names = checks.sequence(panel, f"panels[{g}]")
            if len(names) == 0:
                raise ValueError(f"panels[{g}] is empty: a panel needs at least one series")
            for k, label in enumerate(names):
                if label not in series:
                    raise ValueError(
                        f"panels[{g}][{k}] is {checks.describe(label)}, which is not a series"
                    )
            groups.append(list(names))
    plt = _pyplot()
    if isinstance(plt, PlotUnavailable):
        return plt
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
    perceptron's boundary); ``names`` writes a name beside each point. ``points``: rows of 2
    finite numbers; ``labels``: an int class per point; ``line``: 3 finite numbers, ``a`` or
    ``b`` not 0; ``names``: strs (fewer leave the rest unnamed)."""
    points = checks.rows(points, "points", width=2, require_finite=True)
    labels = _labels(labels, "labels", len(points), "points")
    title, xlabel, ylabel = (
        checks.text(title, "title"),
        checks.text(xlabel, "xlabel"),
        checks.text(ylabel, "ylabel"),
    )
    if line is not None:
        checks.reals_of_length(line, "line", 3)  # three numbers; then each, as given:
        line_ = [measure(v, f"line[{i}]") for i, v in enumerate(line)]  # finite, no bool
        if line_[1] == 0 and line_[2] == 0:
            raise ValueError(f"line (c, a, b) needs a or b other than 0, got {tuple(line_)!r}")
        line = (line_[0], line_[1], line_[2])
    names = checks.texts(names, "names")
    plt = _pyplot()
    if isinstance(plt, PlotUnavailable):
        return plt
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
    weights are put back afterwards. ``X``: rows of 2 finite numbers; ``y``: an int class per
    row; ``snapshots``: at least one, each named by a str."""
    params = _model(model).parameters()
    X, y = _points(X, y)
    if len(checks.mapping(snapshots, "snapshots")) == 0:
        raise ValueError("snapshots is empty: give at least one set of weights")
    checked: dict[str, list[float]] = {}
    for name, weights in snapshots.items():
        if not isinstance(name, str):
            raise TypeError(f"snapshots keys must be str names, got {checks.describe(name)}")
        where = f"snapshots[{name!r:.40}]"
        checked[name] = checks.reals(weights, where, allow_empty=True, data=True)
        if len(checked[name]) != len(params):
            raise ValueError(f"{where} has {len(checked[name])} weights, not {len(params)}")
    resolution = _resolution(resolution)
    title = checks.text(title, "title")
    kept = [p.data for p in params]
    plt = _pyplot()
    if isinstance(plt, PlotUnavailable):
        return plt
    fig, axes = plt.subplots(1, len(snapshots), figsize=(3.2 * len(snapshots), 3.2), squeeze=False)
    xs, ys = [p[0] for p in X], [p[1] for p in X]
    x0, x1 = min(xs) - 0.3, max(xs) + 0.3
    y0, y1 = min(ys) - 0.3, max(ys) + 0.3
    grid_x = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    grid_y = [y0 + (y1 - y0) * i / (resolution - 1) for i in range(resolution)]
    try:
        for ax, (name, weights) in zip(axes[0], checked.items()):
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
