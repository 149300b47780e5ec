"""``fit()``: the training loop, with mini-batches, validation, early stopping and a progress bar.

One epoch visits every training example once, in batches of ``batch_size`` (``None``: the whole
set, i.e. batch gradient descent; ``1``: stochastic gradient descent). For each batch::

    optimizer.zero_grad(); loss = mean of the batch's losses; loss.backward(); optimizer.step()

While a batch is processed the cyclic garbage collector is paused: Value graphs hold no reference
cycles, so reference counting frees each batch's graph (before the collector resumes), and the
collector would only spend time looking for cycles that are not there.

``no_full_collection()`` (``microgradx.collector``, also importable from here) does the same for
a loop a user writes (forward, ``zero_grad``, ``backward``, ``step``), where the library cannot
free the graph at the end of a step: it pauses only the collector's full collections, for the
block it wraps.
"""

from __future__ import annotations

import gc
import math
import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from microgradx import checks, losses
from microgradx.checks import (
    choice,
    count,
    describe,
    flag,
    function,
    is_int,
    is_real,
    number,
    real,
    sequence,
)
from microgradx.collector import no_full_collection as no_full_collection  # its home before
from microgradx.data import one_hot
from microgradx.engine import Value
from microgradx.files import deferred_interrupt
from microgradx.modes import no_grad
from microgradx.nn import Module
from microgradx.optim import Adam, Optimizer
from microgradx.replay import BACKENDS, Compiled, CompileError, check_data, compile_function

LossFn = Callable[[Any, Any], Value]


def score(out: Any) -> float:
    """A model's single output as a float (a 1-unit layer gives a one-element list)."""
    item = out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out
    if isinstance(item, Value):
        return item.data
    if not is_real(item):
        raise TypeError(
            f"out must be one Value or number (a 1-output model's), got {describe(out)}"
        )
    return number(item, "out")


# name -> (loss function, how to turn one model output into a predicted label, or None: regression)
LOSSES: dict[str, tuple[LossFn, Callable[[Any], Any] | None]] = {
    "mse": (losses.mse, None),
    "bce_with_logits": (losses.bce_with_logits, lambda out: int(score(out) > 0)),
    "binary_cross_entropy": (losses.binary_cross_entropy, lambda out: int(score(out) > 0.5)),
    "hinge": (losses.hinge, lambda out: 1 if score(out) > 0 else -1),
    "cross_entropy": (
        losses.cross_entropy,
        lambda out: max(range(len(out)), key=lambda i: float(out[i])),
    ),
}


@dataclass
class History:
    """Per-epoch training record. ``val_*`` lists stay empty without validation data; accuracy
    lists stay empty for regression losses."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None  # with early stopping: the epoch whose weights were kept
    stopped_early: bool = False
    compiled: bool = False  # trained by replaying a compiled graph (fit(compile=True))

    @property
    def epochs(self) -> int:
        return len(self.loss)


@contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _progress_bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn(
            "fit(progress=True) shows a progress bar when tqdm is installed:"
            " pip install 'microgradx[progress]'",
            stacklevel=3,
        )
        return None
    return tqdm(total=total, desc="training", unit="epoch", leave=True)


def evaluate(
    model: Module, X: Sequence[Any], y: Sequence[Any], loss: str | LossFn = "mse"
) -> tuple[float, float | None]:
    """Mean loss and accuracy (``None`` for regression) of ``model`` on ``X, y``; no graph kept.

    The arguments are checked as ``fit`` checks them (TypeError/ValueError naming the argument).
    """
    _check_model(model)
    loss_fn, predict = _resolve_loss(loss)
    X, y = _check_data(model, X, y, loss, "X", "y")
    with no_grad():
        outputs = [model(x) for x in X]
        value = loss_fn(outputs, list(y)).data
    if predict is None:
        return value, None
    correct = sum(1 for out, target in zip(outputs, y) if predict(out) == target)
    return value, correct / len(y)


def _resolve_loss(loss: str | LossFn) -> tuple[LossFn, Callable[[Any], Any] | None]:
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise ValueError(
                f"unknown loss {loss!r}: use one of {', '.join(LOSSES)}, or a function"
            )
        return LOSSES[loss]
    if callable(loss):
        return _returning_a_value(loss), None
    raise TypeError(f"loss must be a name or a function, got {describe(loss)}")


def _returning_a_value(loss: LossFn) -> LossFn:
    """``loss``, refusing by name a result that is not a Value (``.backward()`` needs one)."""

    def checked(outputs: Any, targets: Any) -> Value:
        result = loss(outputs, targets)
        if not isinstance(result, Value):
            raise TypeError(
                f"loss must return a Value (the batch's mean loss), got {describe(result)}"
            )
        return result

    return checked


# ---- checking fit's and evaluate's data ----------------------------------------------------------


def _check_model(model: Any) -> None:
    if not isinstance(model, Module):
        raise TypeError(f"model must be a microgradx Module, got {describe(model)}")


def _check_rows(X: Any, name: str, width: int | None = None) -> int:
    """``X`` must be a non-empty list of examples, each a list of ``width`` finite numbers (or
    Values): a list, a tuple or a 2-D NumPy array. Returns the width."""
    rows = sequence(X, name)
    if len(rows) == 0:
        raise ValueError(f"{name} is empty")
    for i, row in enumerate(rows):
        if isinstance(row, Value) or is_real(row):
            raise TypeError(
                f"{name}[{i}] must be a list of numbers (one example), got {describe(row)}"
            )
        items = sequence(row, f"{name}[{i}]")
        if width is None:
            width = len(items)
        elif len(items) != width:
            raise ValueError(f"{name}[{i}] has {len(items)} numbers but {name}[0] has {width}")
        for j, v in enumerate(items):
            if not isinstance(v, Value) and not math.isfinite(number(v, f"{name}[{i}][{j}]")):
                raise ValueError(f"{name}[{i}][{j}] is {describe(v)}: fit needs finite numbers")
    assert width is not None
    return width


def _outputs(model: Module, x: Any, name: str) -> int:
    """How many outputs ``model`` gives for the example ``x`` (one pass in eval mode without a
    graph: no dropout draw, nothing changed). An example the model refuses is named."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with no_grad():
            out = model(list(x))
    except (TypeError, ValueError) as error:  # the same kind, naming the example
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(f"{name} does not fit the model: {error}") from error
    finally:
        for module, training in modes:
            module.training = training
    return len(out) if isinstance(out, (list, tuple)) else 1


def _check_targets(y: Any, loss: Any, outputs: int, name: str) -> list[Any]:
    """The targets ``y`` for a named loss, as plain numbers (NumPy's become Python's): a class
    index in range or a list of class probabilities for ``cross_entropy``, a number in [0, 1]
    for the binary cross-entropies, -1 or +1 for ``hinge``, a finite number for ``mse``. A loss
    function of yours gets ``y`` as it is."""
    items = sequence(y, name)
    if not isinstance(loss, str):
        return list(items)
    if loss == "cross_entropy":
        if outputs < 2:
            raise ValueError(
                f"loss='cross_entropy' needs a model with one output per class (2 or more);"
                f" this model has {outputs} output: for two classes use a 1-output model with"
                " loss='bce_with_logits'"
            )
        targets: list[Any] = []
        for i, t in enumerate(items):
            if is_int(t):
                if not 0 <= int(t) < outputs:
                    raise ValueError(
                        f"{name}[{i}] is class {t}, out of range for {outputs} classes"
                    )
                targets.append(int(t))
            elif isinstance(t, (str, bytes, dict)) or not hasattr(t, "__len__"):
                raise TypeError(
                    f"{name}[{i}] must be a class index or a list of {outputs} class"
                    f" probabilities, got {describe(t)}"
                )
            else:
                row = sequence(t, f"{name}[{i}]")
                if len(row) != outputs:
                    raise ValueError(
                        f"{name}[{i}] has {len(row)} probabilities for {outputs} classes"
                    )
                targets.append([real(v, f"{name}[{i}][{k}]") for k, v in enumerate(row)])
        return targets
    if outputs != 1:
        raise ValueError(
            f"loss={loss!r} needs a model with one output; this model has {outputs}"
            " (for classes, use loss='cross_entropy')"
        )
    targets = []
    for i, t in enumerate(items):
        if isinstance(t, bool) or not is_real(t):
            raise TypeError(f"{name}[{i}] must be a number, got {describe(t)}")
        value = real(t, f"{name}[{i}]")
        if not math.isfinite(value):
            raise ValueError(f"{name}[{i}] is {describe(t)}: fit needs finite numbers")
        if loss == "hinge" and value not in (-1.0, 1.0):
            raise ValueError(f"{name}[{i}] must be -1 or +1 for loss='hinge', got {value!r}")
        if loss in ("bce_with_logits", "binary_cross_entropy") and not 0 <= value <= 1:
            raise ValueError(f"{name}[{i}] must be in [0, 1] for loss={loss!r}, got {value!r}")
        targets.append(value)
    return targets


def _check_data(
    model: Module, X: Any, y: Any, loss: Any, x_name: str, y_name: str, width: int | None = None
) -> tuple[Sequence[Any], list[Any]]:
    """``X`` and ``y`` checked (see ``_check_rows`` and ``_check_targets``); ``y`` as plain
    numbers."""
    _check_rows(X, x_name, width)
    targets = sequence(y, y_name)
    if len(X) != len(targets):
        raise ValueError(f"{x_name} has {len(X)} examples but {y_name} has {len(targets)}")
    return X, _check_targets(targets, loss, _outputs(model, X[0], f"{x_name}[0]"), y_name)


def _refuse_summed(
    loss_fn: LossFn, model: Module, X: Sequence[Any], y: Sequence[Any], size: int
) -> None:
    """fit() averages: it reports mean losses and its learning rates assume a batch mean. A loss
    that sums over the batch (reduction="sum") is recognised on the first two examples (in eval
    mode, recording no graph, so no dropout draw is spent) and refused with what to do. A loss
    that does not return a Value is refused here too, before the first step."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with no_grad():
            loss_fn([model(X[0])], [y[0]])  # a result that is not a Value: TypeError, by name
    finally:
        for module, training in modes:
            module.training = training
    if size < 2 or len(X) < 2:
        return
    model.eval()
    try:
        with no_grad():
            outputs = [model(X[0]), model(X[1])]
            pair = loss_fn(outputs, [y[0], y[1]]).data
            each = [loss_fn([outputs[k]], [y[k]]).data for k in (0, 1)]
    finally:
        for module, training in modes:
            module.training = training
    total = each[0] + each[1]
    if (
        total != 0
        and math.isclose(pair, total, rel_tol=1e-9)
        and not math.isclose(pair, total / 2, rel_tol=1e-9)
    ):
        raise ValueError(
            "fit() needs a loss averaged over the batch (reduction='mean'); this one sums"
            " (reduction='sum'), so its steps would grow with the batch size. Use"
            " reduction='mean' (and a larger lr if you want the summed step)."
        )


class _Replay:
    """fit()'s compiled path: one example's loss, recorded once with the example's inputs *and
    target* as the graph's inputs, replayed for every example.

    The interpreted batch loss is mean_i L_i: each example's loss receives the gradient 1/B, so
    replaying each example's graph with that seed gives the same gradients (added in another
    order). A class index for ``cross_entropy`` goes in as its one-hot vector (the same loss).
    ``reason`` is set (and nothing compiled) when the model or loss does not allow it.
    """

    def __init__(
        self,
        model: Module,
        loss: str | LossFn,
        loss_fn: LossFn,
        X: Sequence[Any],
        y: Sequence[Any],
        backend: str,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be 'python' or 'numpy', got {backend!r}")
        self.model, self.loss_fn, self.X, self.y = model, loss_fn, X, y
        self.backend = backend
        self.program: Compiled | None = None
        self.evaluator: Compiled | None = None  # the held-out examples' (see evaluate)
        self.reason = ""
        self.classes = 0
        if not isinstance(loss, str):
            self.reason = "it needs a named loss (a function of yours may treat targets as data)"
            return
        if loss == "cross_entropy":
            self.classes = _count_outputs(model, X[0])
        first = [*X[0], *self._target(y[0])]
        probe = [*X[1], *self._target(y[1])] if len(X) > 1 else True
        modes = [(module, module.training) for module in model.modules()]
        model.train()  # recorded as fit trains it; the model guard sees any other mode later
        try:
            self.program = compile_function(
                self._function, first, backend=backend, model=model, check=probe
            )
        except CompileError as error:
            self.reason = str(error)
        finally:
            for module, training in modes:
                module.training = training

    def _target(self, target: Any) -> list[float]:
        if not self.classes:
            return [float(target)]
        # a class index, or already a list of class probabilities (checked by fit)
        return one_hot(target, self.classes) if isinstance(target, int) else list(target)

    def _function(self, *values: Value) -> tuple[Value, list[Value]]:
        """One example's loss from its inputs and target (all inputs of the graph), and the
        model's outputs to watch."""
        n = len(self.X[0])
        inputs, targets = list(values[:n]), list(values[n:])
        out = self.model(inputs)
        wanted: Any = targets if self.classes else targets[0]
        loss = self.loss_fn([out], [wanted])  # the mean over a batch of one: L * 1.0
        return loss, list(out) if isinstance(out, (list, tuple)) else [out]

    def step(self, batch: Sequence[int]) -> tuple[float, list[Any]]:
        """Forward and backward of the batch (gradients 1/B each); the summed loss and each
        example's model output, in the batch's order."""
        assert self.program is not None
        rows = [[*self.X[i], *self._target(self.y[i])] for i in batch]
        # only the weights' gradients are used: the inputs' are not computed (the NumPy
        # back-end skips a layer's contributions to the data)
        replayed = self.program.run_batch(rows, gradient=1.0 / len(batch), input_grads=False)
        losses_ = [float(v) for v in replayed.output]
        return float(sum(losses_)), self._outputs(replayed.watched, len(batch))

    def evaluate(
        self, X: Sequence[Any], y: Sequence[Any], predict: Callable[[Any], Any] | None
    ) -> tuple[float, float | None] | None:
        """``evaluate(model, X, y, loss)`` by a replay (forward only): the mean loss, summed in
        the examples' order and divided once as the interpreted mean is, and the accuracy
        (``None`` for regression); ``None`` where the model in its present (eval) mode cannot be
        compiled: evaluate it interpreted.

        The held-out examples have a recording of their own, made in the mode the model has now
        (eval), so that neither recording is made again as the model goes from train to eval
        mode and back every epoch."""
        rows = [[*X[i], *self._target(y[i])] for i in range(len(X))]
        if self.evaluator is None:
            probe = rows[1] if len(rows) > 1 else True
            try:
                self.evaluator = compile_function(
                    self._function, rows[0], backend=self.backend, model=self.model, check=probe
                )
            except CompileError:
                return None
        replayed = self.evaluator.run_batch(rows, gradient=None)
        value = sum(float(v) for v in replayed.output) / len(rows)
        if predict is None:
            return value, None
        outputs = self._outputs(replayed.watched, len(rows))
        correct = sum(1 for out, target in zip(outputs, y) if predict(out) == target)
        return value, correct / len(rows)

    @staticmethod
    def _outputs(watched: Sequence[Any], count: int) -> list[Any]:
        """Each example's model output (a float, or a list of them) from the watched columns."""
        columns = [[float(v) for v in column] for column in watched]
        if len(columns) == 1:
            return columns[0]
        return [[column[row] for column in columns] for row in range(count)]


def _count_outputs(model: Module, x: Sequence[Any]) -> int:
    with no_grad():
        out = model(list(x))
    return len(out) if isinstance(out, (list, tuple)) else 1


def fit(
    model: Module,
    X: Sequence[Any],
    y: Sequence[Any],
    *,
    loss: str | LossFn = "mse",
    optimizer: Optimizer | None = None,
    epochs: int = 100,
    batch_size: int | None = None,
    validation: tuple[Sequence[Any], Sequence[Any]] | None = None,
    early_stopping: int | None = None,
    seed: int = 0,
    progress: bool = True,
    on_epoch: Callable[[int, History], None] | None = None,
    compile: bool = False,
    backend: str = "python",
) -> History:
    """Train ``model`` on ``X, y`` and return the ``History``.

    ``loss`` is a name (``mse``, ``bce_with_logits``, ``binary_cross_entropy``, ``hinge``,
    ``cross_entropy``) or a function ``(outputs, targets) -> Value``. ``optimizer`` defaults to
    ``Adam(model.parameters(), lr=0.01)``. ``early_stopping=patience`` stops once the validation
    loss has not improved for that many epochs and restores the best weights. The batches are
    shuffled with ``random.Random(seed)``: the same seed gives the same result, bit for bit.

    ``compile=True`` records the graph of one example's loss once and replays
    it as a program for every example (``microgradx.replay``): the same numbers up to the order in
    which a batch's gradients are added, many times faster. ``backend="numpy"`` replays a whole
    batch at once. It needs a named loss and a model whose graph does not change between calls
    (no dropout in training mode); otherwise fit warns, says why, and trains without it
    (``History.compiled`` tells which happened).

    Every argument is checked before anything changes, with a TypeError (wrong kind) or ValueError
    (wrong value) naming it: ``X`` is a non-empty list (or 2-D NumPy array) of examples, each
    the same number of finite numbers, and ``X[0]`` must fit the model; ``y`` has one target per
    example, as the loss needs it (a class index in range, or a list of class probabilities,
    for ``cross_entropy``, which needs a model of 2 or more outputs; a number in [0, 1] for the
    binary cross-entropies; -1 or +1 for ``hinge``; a finite number for ``mse``; the other named
    losses need a 1-output model); a loss function must return a Value; ``validation`` is a
    pair ``(X_val, y_val)`` checked the same way; the counts are ints >= 1 (``seed`` >= 0).

    On every exit (the end, an exception, Ctrl-C) each module is put back in the train/eval mode
    it had and the cyclic collector is running again if it was; an optimizer step interrupted by
    Ctrl-C is completed first (see ``microgradx.optim``).
    """
    run = _checked(
        model, X, y, loss, optimizer, epochs, batch_size, validation, early_stopping, seed,
        progress, on_epoch, compile, backend,
    )  # fmt: skip
    # Every exit (the end, an exception, Ctrl-C) puts back the mode each module had (as PyTorch
    # users expect); the collector, paused per batch, is restored by _collector_paused.
    modes = [(module, module.training) for module in model.modules()]
    bar = None
    try:
        if not isinstance(loss, str):  # the named losses average; only a function may sum
            _refuse_summed(run.loss_fn, model, run.X, run.y, run.size)
        replay = (
            _Replay(model, loss, run.loss_fn, run.X, run.y, run.backend) if run.compile else None
        )
        if replay is not None and replay.reason:
            warnings.warn(
                f"fit(compile=True) trains without compiling: {replay.reason}", stacklevel=2
            )
            replay = None
        optimizer = optimizer if optimizer is not None else Adam(model.parameters(), lr=0.01)
        history = History()
        history.compiled = replay is not None
        watch = _Validation(model, run.validation, loss, run.patience, replay, run.predict)
        bar = _progress_bar(run.epochs, run.progress)  # (here: its warning names fit's caller)
        for epoch in range(run.epochs):
            # every weight a number (on_epoch may have set one): named here, not met deep in
            # the engine or a compiled program (one check over the weights' types an epoch)
            check_data(model.parameters(), model)
            _epoch(model, run.X, run.y, run.loss_fn, run.predict, optimizer, replay, run.size,
                   run.rng, history)  # fmt: skip
            watch.after_epoch(epoch, history)
            _report(bar, history)
            if on_epoch is not None:
                on_epoch(epoch, history)
            if history.stopped_early:
                break
        watch.restore_best(history)
    finally:
        if bar is not None:
            bar.close()
        for module, training in modes:
            module.training = training
    return history


# ---- fit's checks, validation and reporting ------------------------------------------------------


@dataclass
class _Run:
    """fit's arguments, checked, in the forms the loop uses."""

    X: Sequence[Any]
    y: list[Any]
    loss_fn: LossFn
    predict: Callable[[Any], Any] | None
    validation: tuple[Sequence[Any], list[Any]] | None
    epochs: int
    size: int  # examples per batch
    patience: int | None  # early stopping
    rng: random.Random
    progress: bool
    compile: bool
    backend: str


def _checked(
    model: Any,
    X: Any,
    y: Any,
    loss: Any,
    optimizer: Any,
    epochs: Any,
    batch_size: Any,
    validation: Any,
    early_stopping: Any,
    seed: Any,
    progress: Any,
    on_epoch: Any,
    compile: Any,
    backend: Any,
) -> _Run:
    """Every argument of ``fit`` checked before anything changes (TypeError: wrong kind;
    ValueError: wrong value; each message names the argument): a refused call leaves the model
    as it was. The order of the checks is the order of the messages a user sees first."""
    _check_model(model)
    check_data(model.parameters(), model)  # a weight that is not a number, named
    epochs = count(epochs, "epochs")
    batch_size = None if batch_size is None else count(batch_size, "batch_size")
    seed = checks.seed(seed)
    progress, compile = flag(progress, "progress"), flag(compile, "compile")
    backend = choice(backend, "backend", BACKENDS)
    if optimizer is not None and not isinstance(optimizer, Optimizer):
        raise TypeError(
            f"optimizer must be a microgradx Optimizer or None, got {describe(optimizer)}"
        )
    if on_epoch is not None:
        function(on_epoch, "on_epoch")
    if early_stopping is not None:
        if validation is None:
            raise ValueError("early_stopping needs validation data to watch")
        early_stopping = count(early_stopping, "early_stopping (the patience)")
    loss_fn, predict = _resolve_loss(loss)
    X, y = _check_data(model, X, y, loss, "X", "y")
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError(f"validation must be a pair (X_val, y_val), got {describe(validation)}")
        validation = _check_data(
            model, validation[0], validation[1], loss, "validation[0]", "validation[1]", len(X[0])
        )
    return _Run(
        X, y, loss_fn, predict, validation, epochs, batch_size or len(X), early_stopping,
        random.Random(seed), progress, compile, backend,
    )  # fmt: skip


class _Validation:
    """After each epoch: the validation loss and accuracy into the History and, with early
    stopping, the best weights so far (restored at the end) and when to stop."""

    def __init__(
        self,
        model: Module,
        validation: tuple[Sequence[Any], list[Any]] | None,
        loss: str | LossFn,
        patience: int | None,
        replay: _Replay | None = None,
        predict: Callable[[Any], Any] | None = None,
    ) -> None:
        self.model, self.validation, self.loss, self.patience = model, validation, loss, patience
        # the held-out examples go through the training's replay too: rebuilding their graphs
        # every epoch cost more than the epoch's training (10.8 s against 2.3 s, two digits epochs)
        self.replay, self.predict = replay, predict
        self.params = model.parameters()
        self.best_loss, self.best_weights, self.waited = math.inf, [p.data for p in self.params], 0

    def after_epoch(self, epoch: int, history: History) -> None:
        if self.validation is None:
            return
        self.model.eval()
        X, y = self.validation
        replayed = self.replay.evaluate(X, y, self.predict) if self.replay is not None else None
        if replayed is None:
            self.replay = None  # not compiled: interpreted from now on
            replayed = evaluate(self.model, X, y, self.loss)
        val_loss, val_acc = replayed
        history.val_loss.append(val_loss)
        if val_acc is not None:
            history.val_accuracy.append(val_acc)
        if self.patience is None:
            return
        if val_loss < self.best_loss:
            self.best_loss, self.waited = val_loss, 0
            self.best_weights = [p.data for p in self.params]
            history.best_epoch = epoch
        else:
            self.waited += 1
            if self.waited >= self.patience:
                history.stopped_early = True

    def restore_best(self, history: History) -> None:
        """With early stopping: the weights of the best epoch back."""
        if self.patience is not None and history.best_epoch is not None:
            with deferred_interrupt():  # all the best weights back, or (before it) none
                for p, w in zip(self.params, self.best_weights):
                    p.data = w


def _report(bar: Any, history: History) -> None:
    """The epoch's numbers on the progress bar (if there is one), and one step of it."""
    if bar is None:
        return
    shown = {"loss": f"{history.loss[-1]:.4f}"}
    if history.accuracy:
        shown["acc"] = f"{history.accuracy[-1]:.3f}"
    if history.val_loss:
        shown["val_loss"] = f"{history.val_loss[-1]:.4f}"
    bar.set_postfix(shown, refresh=False)
    bar.update(1)


def _epoch(
    model: Module,
    X: Sequence[Any],
    y: Sequence[Any],
    loss_fn: LossFn,
    predict: Callable[[Any], Any] | None,
    optimizer: Optimizer,
    replay: _Replay | None,
    size: int,
    rng: random.Random,
    history: History,
) -> None:
    """One pass over the training set in shuffled batches; appends the epoch's loss (and
    accuracy) to ``history``."""
    model.train()
    order = list(range(len(X)))
    if size < len(X):
        rng.shuffle(order)
    total, correct = 0.0, 0
    for start in range(0, len(order), size):
        batch = order[start : start + size]
        if replay is not None:
            # the compiled pass adds into every parameter's grad: start them at 0.0 (every
            # parameter of the model is in the recorded graph, so none stays None to be skipped)
            optimizer.zero_grad(set_to_none=False)
            batch_total, outputs = replay.step(batch)  # the recorded graph, replayed
            optimizer.step()
            total += batch_total
            if predict is not None:
                correct += sum(1 for out, i in zip(outputs, batch) if predict(out) == y[i])
        else:
            with _collector_paused():
                optimizer.zero_grad()
                outputs = [model(X[i]) for i in batch]
                batch_loss = loss_fn(outputs, [y[i] for i in batch])
                batch_loss.backward()
                optimizer.step()
                total += batch_loss.data * len(batch)
                if predict is not None:
                    correct += sum(1 for out, i in zip(outputs, batch) if predict(out) == y[i])
                # Free the batch's graph while the collector is still paused. Every node made
                # while it was paused counts as a young object until freed; re-enabled with the
                # graph alive, the collector's next young collection would traverse all of it
                # (27% of a full-batch digits epoch) and promote it, which then also brings
                # full collections. Freed here by reference counting (no cycles), it is gone.
                del outputs, batch_loss
    history.loss.append(total / len(X))
    if predict is not None:
        history.accuracy.append(correct / len(X))
