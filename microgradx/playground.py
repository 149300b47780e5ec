"""The Python half of the browser playground (``make site``): every number the page shows.

The page runs microgradx itself in the browser (Pyodide: CPython compiled to WebAssembly) and
makes every call through ``handle``: a JSON request in, a JSON answer out (strict JSON, NaN and
infinities as null with the reason in a field of its own, ``<`` escaped), or a one-line error
that the page shows and stays usable after. The form's fields arrive as the text typed and are
checked here. The page's JavaScript only draws, writing text with ``textContent``. Nothing here is
browser-specific: the tests call the same functions in CPython and compare.
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
import time
import traceback
from collections.abc import Callable
from typing import Any

from microgradx import checks, data, losses, nn, optim
from microgradx.checks import choice, count, in_range, text
from microgradx.engine import Value, grad_number
from microgradx.modes import no_grad
from microgradx.train import score
from microgradx.viz.markup import browser_json, visible
from microgradx.viz.network import draw_network
from microgradx.viz.page import fragment
from microgradx.viz.trace import LEVELS, trace_backward

DATASETS = {
    "moons": lambda seed: data.make_moons(200, noise=0.1, seed=seed),
    "circles": lambda seed: data.make_circles(200, noise=0.05, seed=seed),
    "xor": lambda seed: data.make_xor(200, noise=0.1, seed=seed),
    "spirals": lambda seed: data.make_spirals(200, noise=0.02, seed=seed),
}
OPTIMIZERS = {"adam": optim.Adam, "sgd": optim.SGD, "rmsprop": optim.RMSprop}
HIDDEN_HELP = "hidden layers: 1 to 4 sizes from 1 to 64, like 16,16"
# One request's work is bounded: the network has at most 4 hidden layers of 64 (12,737 weights),
# the data 200 examples, and a request may do at most MAX_WORK weight visits and MAX_EPOCHS
# epochs. Training visits each weight 3 times per example (forward, backward, update), a boundary
# once per grid point. The page sends one epoch per request (7.6 million visits for the largest
# network) and asks for a boundary of resolution 30 (11.5 million).
MAX_EPOCHS = 100
MAX_WORK = 12_000_000
# What an epoch costs in the browser, by the graph it builds: about one node per weight per
# example (nodes = weights x examples), each about 2.6 us in Pyodide in Chromium on the project's
# machine (2 cores): a moons epoch of 2-16-16-1 took 134 ms (benchmarks/bench_site.py), and in one
# page 2-64-64-64-1 (8,577 weights) took 32.6 times as long as 2-16-16-1 (337 weights), 4.4 s;
# 2-32-32-1 3.35 times. (On a loaded machine all of them are slower alike: 44 s at a load of 20.)
# An epoch is one request and holds the page while it runs, so a network whose epoch would take
# more than MAX_EPOCH_SECONDS is refused when it is made.
SECONDS_PER_NODE = 4.4 / (8_577 * 200)
MAX_EPOCH_SECONDS = 2.0


def hidden_sizes(hidden: str) -> list[int]:
    """``"16,16"`` as ``[16, 16]``; a ValueError saying what is allowed for anything else."""
    text(hidden, "hidden layers")
    try:
        sizes = [int(part) for part in hidden.replace(" ", "").split(",") if part]
    except ValueError:
        sizes = []
    if not sizes or any(not 1 <= s <= 64 for s in sizes) or len(sizes) > 4:
        raise ValueError(f"{HIDDEN_HELP}; got {visible(hidden, 40)!r}")
    return sizes


def weights_of(sizes: list[int], nin: int = 2, nout: int = 1) -> int:
    """The number of weights and biases of an MLP nin-sizes-nout."""
    return sum((a + 1) * b for a, b in itertools.pairwise([nin, *sizes, nout]))


def check_epoch_cost(sizes: list[int], examples: int) -> None:
    """Refuse, in one line with the numbers, a network whose training epoch would hold the page
    for more than MAX_EPOCH_SECONDS (estimated from nodes = weights x examples)."""
    weights = weights_of(sizes)
    seconds = weights * examples * SECONDS_PER_NODE
    if seconds > MAX_EPOCH_SECONDS:
        most = int(MAX_EPOCH_SECONDS / (examples * SECONDS_PER_NODE))
        shown = ",".join(map(str, sizes))
        raise ValueError(
            f"hidden layers {shown}: {weights:,} weights x {examples} examples would take about"
            f" {seconds:.1f} s an epoch in the browser; at most {MAX_EPOCH_SECONDS:g} s"
            f" ({most:,} weights), like 16,16 or 32,32"
        )


def number_field(field: str, name: str, example: str) -> float:
    """The number typed in a form field (``"0.05"``, ``"1e-3"``); a one-line ValueError naming
    the field for anything else (empty, ``abc``). NaN and infinities are returned as floats, for
    the caller's range check to refuse by name."""
    typed = text(field, name).strip()
    if not typed:
        raise ValueError(f"{name} is empty: enter a number like {example}")
    try:
        return float(typed)
    except ValueError:
        raise ValueError(
            f"{name} must be a number like {example}, got {visible(field, 40)!r}"
        ) from None


def whole_number_field(field: str, name: str, low: int, high: int) -> int:
    """The whole number typed in a form field, from ``low`` to ``high``; a one-line ValueError
    naming the field otherwise."""
    typed = text(field, name).strip()
    try:
        value = int(typed)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ValueError(
            f"{name} must be a whole number from {low} to {high}, got {visible(field, 40)!r}"
        )
    return value


class Session:
    """One dataset, one network, its optimizer and its history of losses.

    Raises ValueError (naming the setting) for an unknown dataset, optimizer or activation,
    hidden sizes outside 1 to 4 sizes of 1 to 64 or whose epoch would take more than
    MAX_EPOCH_SECONDS in the browser (``check_epoch_cost``), or a learning rate outside (0, 10].
    """

    def __init__(
        self,
        dataset: str = "moons",
        hidden: str = "16,16",
        activation: str = "tanh",
        lr: float = 0.05,
        optimizer: str = "adam",
        seed: int = 0,
    ) -> None:
        dataset = choice(dataset, "dataset", DATASETS)
        optimizer = choice(optimizer, "optimizer", OPTIMIZERS)
        activation = choice(activation, "activation", sorted(nn.ACTIVATIONS))
        sizes = hidden_sizes(hidden)
        lr = in_range(lr, "learning rate", 0, 10, low_open=True)
        seed = checks.seed(seed)
        X, y = DATASETS[dataset](seed)
        check_epoch_cost(sizes, len(X))  # before the network is built
        (self.X,) = data.standardize(X)
        self.y = y
        self.lr = lr
        self.model = nn.MLP(2, [*sizes, 1], activation, seed=seed)
        self.optimizer = OPTIMIZERS[optimizer](self.model.parameters(), lr=lr)
        self.losses: list[float] = []
        self.accuracies: list[float] = []
        self.epoch_seconds: list[float] = []

    @classmethod
    def from_form(
        cls, dataset: str, hidden: str, activation: str, lr: str, optimizer: str
    ) -> Session:
        """A session from the page's form, every field as typed (``lr`` is text)."""
        return cls(
            dataset, hidden, activation, number_field(lr, "learning rate", "0.05"), optimizer
        )

    @property
    def diverged(self) -> bool:
        """True once an epoch's loss was NaN or infinite (training stops there)."""
        return bool(self.losses) and not math.isfinite(self.losses[-1])

    def _bounded(self, visits: int, what: str, most: int) -> None:
        """Refuse a request of more than MAX_WORK weight visits, saying how much this network
        allows."""
        if visits > MAX_WORK:
            raise ValueError(
                f"{what} would take {visits:,} weight visits; one request may take at most"
                f" {MAX_WORK:,} (with this network: at most {most})"
            )

    def train(self, epochs: int = 1, batch_size: int = 20) -> dict[str, Any]:
        """``epochs`` passes of mini-batch training (in order, no shuffling: deterministic).
        Stops after an epoch whose loss is not finite (see ``status()["message"]``).

        Raises ValueError for ``epochs`` not in 0 to ``MAX_EPOCHS`` (100), or more than
        ``MAX_WORK`` (12 million) weight visits (3 x weights x examples x epochs) in one call."""
        epochs = count(epochs, "epochs", 0, MAX_EPOCHS)
        batch_size = count(batch_size, "batch_size")
        per_epoch = 3 * len(self.model.parameters()) * len(self.X)
        self._bounded(epochs * per_epoch, f"{epochs} epochs", MAX_WORK // per_epoch)
        for _ in range(epochs):
            if self.diverged:
                break
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
        """Epochs so far, the loss of each, accuracy, seconds per epoch; ``diverged`` and a
        ``message`` saying what to do once the loss is not finite (NaN and infinities are sent
        to the page as null, which JSON has instead)."""
        message = None
        if self.diverged:
            message = (
                f"training diverged: loss is {self.losses[-1]} at epoch {len(self.losses)};"
                f" lower the learning rate (now {self.lr:g}) and press new network"
            )
        return {
            "epochs": len(self.losses),
            "losses": self.losses,
            "accuracy": self.accuracy(),
            "epoch_seconds": self.epoch_seconds,
            "diverged": self.diverged,
            "message": message,
        }

    def accuracy(self) -> float:
        with no_grad():
            right = sum(int(score(self.model(x)) > 0) == t for x, t in zip(self.X, self.y))
        return right / len(self.X)

    def boundary(self, resolution: int = 40) -> dict[str, Any]:
        """The model's score on a ``resolution`` x ``resolution`` grid over the data, and the
        data itself: the page colours the grid (the decision boundary is where score = 0).

        Raises ValueError for ``resolution`` not in 1 to 200, or a grid of more than ``MAX_WORK``
        (12 million) weight visits (weights x resolution^2)."""
        resolution = count(resolution, "resolution", 1, 200)
        weights = len(self.model.parameters())
        most = math.isqrt(MAX_WORK // weights)
        self._bounded(resolution**2 * weights, f"resolution {resolution}", most)
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
        index = count(index, "example", 0, len(self.X) - 1)
        self.model.zero_grad()
        return losses.bce_with_logits(self.model(self.X[index]), self.y[index])

    def step_through(self, index: int, level: str = "neuron") -> dict[str, Any]:
        """The step-through page of example ``index``'s backward pass (neuron level by default;
        op level for a small network), with the network drawn with weights as edges."""
        level = choice(level, "level", LEVELS)
        trace = trace_backward(self.example_loss(index), level=level)
        gradients = {name: grad_number(p) for name, p in self.model.named_parameters()}
        picture = draw_network(self.model, self.X[index], color_by="grad").svg()
        return {
            "html": fragment(trace.page_data()),
            "steps": len(trace),
            "equation": visible(trace.equation(0), newlines=True),  # as the page shows it
            "gradients": gradients,
            "network": picture,
            "weights": [p.data for p in self.model.parameters()],
            "example": [*self.X[index], self.y[index]],
        }


def run_snippet(code: str) -> str:
    """Run a few lines of Python with microgradx imported, and return what they printed; if
    they raise, what they printed and then the traceback of the snippet's own lines. Whatever
    the snippet raises is shown this way, ``SystemExit`` (``sys.exit()``, ``exit()``) included:
    it ends the snippet, not the page's Python, and ``handle`` still answers. Only
    ``KeyboardInterrupt`` (stopping a snippet that runs too long) propagates."""
    import contextlib
    import io

    import microgradx

    code = text(code, "code")
    out = io.StringIO()
    namespace: dict[str, Any] = {"microgradx": microgradx, "Value": microgradx.Value}
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(code, "<playground>", "exec"), namespace)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # the user's code failed: show it as Python would
            tb = error.__traceback__
            while tb is not None and tb.tb_frame.f_code.co_filename != "<playground>":
                tb = tb.tb_next  # from the snippet's first line on (not this function's exec)
            out.write("".join(traceback.format_exception(type(error), error, tb)))
    return out.getvalue()


# ---- the page's one entry point -----------------------------------------------------------------

current: Session | None = None  # the page's session (a snippet can reach it as playground.current)


def _new(dataset: str, hidden: str, activation: str, lr: str, optimizer: str) -> dict[str, Any]:
    global current
    current = Session.from_form(dataset, hidden, activation, lr, optimizer)
    return current.status()


def _session() -> Session:
    if current is None:
        raise ValueError("no network yet: press new network")
    return current


def _train(epochs: int = 1) -> dict[str, Any]:
    return _session().train(epochs)


def _boundary(resolution: int = 30) -> dict[str, Any]:
    return _session().boundary(resolution)


def _step(example: str, level: str) -> dict[str, Any]:
    session = _session()
    index = whole_number_field(example, "example", 0, len(session.X) - 1)
    return session.step_through(index, level)


CALLS: dict[str, Callable[..., Any]] = {
    "new": _new,
    "train": _train,
    "boundary": _boundary,
    "step": _step,
    "run": run_snippet,
}


_JSON_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "true or false"}


def _json_kind(x: Any) -> str:
    """What a parsed JSON value is, in JSON's words: an array, a number, null."""
    if x is None:
        return "null"
    return _JSON_KINDS.get(type(x), "a number")


def _request(request: Any) -> tuple[str, dict[str, Any]]:
    """The call's name and its arguments, every part checked: the request must be a JSON object
    with ``call`` (one of ``CALLS``) and optionally ``args`` (an object, or null for none) whose
    fields are the call's parameters, all that it requires and no others."""
    request = text(request, "request")
    try:
        call = json.loads(request)
    except json.JSONDecodeError as error:
        raise ValueError(f"request is not JSON: {error}") from None
    except RecursionError:  # the parser recurses once per level of [ and {
        raise ValueError("the request is nested too deeply") from None
    if not isinstance(call, dict):
        raise TypeError(
            'request must be a JSON object {"call": name, "args": {...}},'
            f" got {_json_kind(call)}"
        )
    unknown = sorted(set(call) - {"call", "args"})
    if unknown:
        raise ValueError(f"request has unknown field(s) {unknown}: only call and args")
    if "call" not in call:
        raise ValueError(f"request lacks call: one of {', '.join(CALLS)}")
    name = choice(call["call"], "call", CALLS)
    args = call.get("args")
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise TypeError(f"args must be an object, got {_json_kind(args)}")
    signature = inspect.signature(CALLS[name]).parameters.values()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    parameters = {p.name: p for p in signature if p.kind in named}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature)
    unknown = [] if takes_any else sorted(set(args) - set(parameters))
    if unknown:
        raise ValueError(
            f"args of {name} has unknown field(s) {unknown}: it takes {', '.join(parameters)}"
        )
    missing = [p for p, v in parameters.items() if v.default is v.empty and p not in args]
    if missing:
        raise ValueError(f"args of {name} lacks {', '.join(missing)}")
    return name, args


def handle(request: str) -> str:
    """Answer one call from the page: ``{"call": name, "args": {...}}`` in JSON, one of
    ``CALLS``; the form's fields come as the text typed. The answer is JSON the browser can parse
    (strict, NaN and infinities as null, ``<`` escaped): ``{"value": ...}``, or ``{"error": one
    line}`` for a bad setting or anything else that failed (the page shows it and stays usable;
    ``"detail"`` has the traceback of an unexpected failure, for the console)."""
    try:
        name, args = _request(request)
        return browser_json({"value": CALLS[name](**args)})
    except (TypeError, ValueError) as error:  # a bad setting: the message names it
        line = (str(error).strip() or type(error).__name__).split("\n")[0]
        return browser_json({"error": visible(line, 300)})
    except Exception as error:  # a bug: one line on the page, the whole traceback for the console
        line = visible(f"{type(error).__name__}: {error}".split("\n")[0], 300)
        detail = visible(traceback.format_exc(), newlines=True)
        return browser_json({"error": f"microgradx failed: {line}", "detail": detail})
