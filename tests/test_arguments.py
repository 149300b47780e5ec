"""Hostile arguments for every public function and class: clear errors, never raw ones.

Every public callable of the package (``microgradx.__all__`` and the public names of nn, losses,
optim, data, train, io, gradcheck, functional, forward, replay, testing, viz and viz.plots) has a
case here: a call that works, built fresh each time. Each of its arguments in turn is replaced by
each value of ``HOSTILE`` (wrong types, NumPy arrays and scalars, Fraction, Decimal, NaN, +-inf,
-0.0, 10**400, a billion, 0, -1, [], a function returning the wrong type). The call must either
work or raise ``TypeError``/``ValueError`` (or the library's own subclass of them) whose message
names the argument; never a raw ``AttributeError``, ``IndexError``, ``KeyError``,
``ZeroDivisionError``, ``OverflowError``, ``RecursionError`` or NumPy's "truth value is
ambiguous"; and a refused call leaves every object it was given as it was.

``test_every_public_callable_has_a_case`` fails when a public function is added without a case.
"""

from __future__ import annotations

import math
import numbers
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import microgradx
from microgradx import (
    OPS,
    Value,
    autograd,
    data,
    dual,
    functional,
    gradcheck,
    io,
    losses,
    nn,
    optim,
    replay,
    testing,
    train,
    viz,
)
from microgradx.ops import all_members
from microgradx.viz import plots
from tests.conftest import require_torch

MODULES = {
    "microgradx": microgradx,
    "nn": nn,
    "losses": losses,
    "optim": optim,
    "data": data,
    "train": train,
    "io": io,
    "gradcheck": gradcheck,
    "functional": functional,
    "dual": dual,
    "replay": replay,
    "testing": testing,
    "viz": viz,
    "viz.plots": plots,
}


def _wrong_type(*args: Any, **kwargs: Any) -> str:
    return "not what was asked for"


HOSTILE: dict[str, Any] = {
    "str": "abc",
    "None": None,
    "list": [1.0],
    "dict": {"a": 1},
    "True": True,
    "complex": 1 + 2j,
    "ndarray": np.array([1.0, 2.0]),
    "np.float64": np.float64(0.5),
    "np.int64": np.int64(3),
    "Fraction": Fraction(1, 2),
    "Decimal": Decimal("0.5"),
    "np.timedelta64": np.timedelta64(5, "s"),  # a numbers.Integral by NumPy's registration
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "-0.0": -0.0,
    "10**400": 10**400,
    "billion": 10**9,
    "0": 0,
    "-1": -1,
    "[]": [],
    "bad function": _wrong_type,
}

# Raised for a reason other than a bad argument, these are still failures: they name nothing.
ACCEPTED = (TypeError, ValueError)


class World:
    """Fresh objects for one call: a small graph, a model, data, an optimizer, a directory."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.x = Value(0.5, label="x")
        self.w = Value(-1.5, label="w")
        self.y = (self.x * self.w).tanh()
        self.y.label = "y"
        self.model = nn.MLP(2, [3, 1], seed=0)
        self.X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
        self.Y = [0, 1, 1, 0]
        self.opt = optim.SGD(self.model.parameters(), lr=0.1, momentum=0.5)
        self.adam = optim.Adam(self.model.parameters(), lr=0.01)
        self.model_file = directory / "model.json"
        if not self.model_file.exists():
            io.save(nn.MLP(2, [3, 1], seed=0), self.model_file)

    def values(self) -> list[Value]:
        return [self.x, self.w, self.y, *self.model.parameters()]

    def state(self) -> Any:
        """Everything a refused call must leave as it was."""
        numbers = [(v.data, float(v.grad), v.label) for v in self.values()]
        modes = [m.training for m in self.model.modules()]
        settings = [
            {k: v for k, v in vars(o).items() if isinstance(v, (int, float, str, tuple))}
            for o in (self.opt, self.adam)
        ]
        # the default generator: a refused constructor must not draw from it
        return numbers, modes, settings, nn._generator.getstate()


@dataclass
class Case:
    """A call that works: ``make(world)`` returns the function and its arguments by name."""

    name: str
    make: Callable[[World], tuple[Callable[..., Any], dict[str, Any]]]
    # hostile values a parameter legitimately takes (a huge count that would just run long)
    skip: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # other errors an argument may legitimately cause (a path that does not exist)
    allowed: dict[str, tuple[type[BaseException], ...]] = field(default_factory=dict)
    # what the message may call an argument besides its name
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the parameters of a case that needs PyTorch (required in CI, as in tests/conftest.py)
    torch: tuple[str, ...] = ()
    # its arguments that are data numbers (checks.number: a Value's data, an operand, an input),
    # where a bool is 0 or 1 as in Python's arithmetic; every other real-number argument is a
    # setting, which refuses a bool (test_a_bool_is_refused_as_a_setting_and_taken_as_data)
    data: tuple[str, ...] = ()


CASES: list[Case] = []


def case(name: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(make: Callable[..., Any]) -> Callable[..., Any]:
        CASES.append(Case(name, make, **options))
        return make

    return register


def _enter(manager: Any) -> None:
    with manager:
        pass


def _call_kwargs(function: Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:
    """``function`` called with positional-only or *args arguments, by name."""
    return lambda **named: function(*[named[k] for k in kwargs])


# ---- the engine and the package's top level -----------------------------------------------------


@case(
    "microgradx.Value",
    aliases={"data": ("Value data",), "label": ("Value label",)},
    data=("data",),
)
def _(w: World) -> Any:
    return Value, {"data": 1.5, "label": "a"}


@case("microgradx.Value.__add__", aliases={"other": ("operand",)}, data=("other",))
def _(w: World) -> Any:
    return lambda other: w.x + other, {"other": 2.0}


@case("microgradx.Value.__radd__", aliases={"other": ("operand",)}, data=("other",))
def _(w: World) -> Any:
    return lambda other: other + w.x, {"other": 2.0}


@case("microgradx.Value.__mul__", aliases={"other": ("operand",)}, data=("other",))
def _(w: World) -> Any:
    return lambda other: w.x * other, {"other": 2.0}


@case("microgradx.Value.__sub__", aliases={"other": ("operand",)}, data=("other",))
def _(w: World) -> Any:
    return lambda other: w.x - other, {"other": 2.0}


@case("microgradx.Value.__truediv__", aliases={"other": ("operand",)}, data=("other",))
def _(w: World) -> Any:
    return lambda other: w.x / other, {"other": 2.0}


@case("microgradx.Value.__rtruediv__", aliases={"other": ("operand",)}, data=("other",))
def _(w: World) -> Any:
    return lambda other: other / w.x, {"other": 2.0}


@case("microgradx.Value.__pow__", data=("exponent",))
def _(w: World) -> Any:
    return lambda exponent: w.x**exponent, {"exponent": 2.0}


@case("microgradx.Value.__rpow__", data=("base",))
def _(w: World) -> Any:
    return lambda base: base**w.x, {"base": 2.0}


@case("microgradx.Value.leaky_relu")
def _(w: World) -> Any:
    return w.x.leaky_relu, {"negative_slope": 0.2}


@case("microgradx.Value.backward")
def _(w: World) -> Any:
    return w.y.backward, {"gradient": 1.0, "create_graph": False}


@case("microgradx.Value.grad (set before backward)", data=("grad",))
def _(w: World) -> Any:
    def set_then_backward(grad: Any) -> None:
        before = w.x.grad
        w.x.grad = grad
        try:
            w.y.backward()
        except BaseException:
            w.x.grad = before  # the bad value was the caller's own write: undo it for the check
            raise

    return set_then_backward, {"grad": 0.0}


@case("microgradx.apply", aliases={"inputs": ("operand", "input")}, data=("inputs",))
def _(w: World) -> Any:
    return _call_kwargs(microgradx.apply, op=None, inputs=None), {
        "op": OPS["tanh"],
        "inputs": 0.5,
    }


@case("microgradx.maximum", aliases={"a": ("operand",), "b": ("operand",)}, data=("a", "b"))
def _(w: World) -> Any:
    return microgradx.maximum, {"a": w.x, "b": 1.0}


@case("microgradx.minimum", aliases={"a": ("operand",), "b": ("operand",)}, data=("a", "b"))
def _(w: World) -> Any:
    return microgradx.minimum, {"a": w.x, "b": 1.0}


@case("microgradx.topological_order")
def _(w: World) -> Any:
    return microgradx.topological_order, {"root": w.y}


@case("microgradx.zero_grad")
def _(w: World) -> Any:
    return microgradx.zero_grad, {"values": [w.x, w.w]}


@case("microgradx.manual_seed")
def _(w: World) -> Any:
    return microgradx.manual_seed, {"seed": 3}


@case("microgradx.no_grad")
def _(w: World) -> Any:
    return lambda: _enter(microgradx.no_grad()), {}


@case("microgradx.enable_grad")
def _(w: World) -> Any:
    return lambda: _enter(microgradx.enable_grad()), {}


@case("microgradx.is_grad_enabled")
def _(w: World) -> Any:
    return microgradx.is_grad_enabled, {}


@case("microgradx.detect_anomaly")
def _(w: World) -> Any:
    return lambda: _enter(microgradx.detect_anomaly()), {}


@case("microgradx.Op.member", aliases={"param": ("p", "negative_slope", "c")})
def _(w: World) -> Any:
    return OPS["pow_scalar"].member, {"param": 3.0}


@case("microgradx.Op")
def _(w: World) -> Any:
    return microgradx.Op, {
        "name": "twice",
        "symbol": "2x",
        "arity": 1,
        "forward": lambda x: 2 * x,
        "local_grads": lambda x, out: (2.0,),
        "math": "2x",
        "derivative": "2",
    }


@case("microgradx.AnomalyError", data=("result",))  # the result of the op
def _(w: World) -> Any:
    return microgradx.AnomalyError, {
        "op": "log",
        "inputs": [-1.0],
        "direction": "forward",
        "result": math.nan,
    }


# ---- gradcheck -----------------------------------------------------------------------------------


@case(
    "microgradx.gradcheck",
    # a step as large as eps=0.5 gives a wrong difference: the check fails, as it should
    allowed={"eps": (microgradx.GradcheckError,)},
)
def _(w: World) -> Any:
    return microgradx.gradcheck, {
        "func": lambda a, b: (a * b).tanh(),
        "inputs": [0.5, -1.3],
        "eps": 1e-6,
        "atol": 1e-5,
        "rtol": 1e-3,
        "raise_exception": True,
    }


@case("microgradx.GradcheckError")
def _(w: World) -> Any:
    report = microgradx.gradcheck(lambda a: a * a, [1.0])
    return microgradx.GradcheckError, {"report": report}


# ---- nn ------------------------------------------------------------------------------------------


@case("nn.Neuron", skip={"nout": ("billion",)})
def _(w: World) -> Any:
    return nn.Neuron, {"nin": 2, "activation": "tanh", "init": "xavier", "nout": 1, "rng": None}


@case("nn.Neuron.__call__")
def _(w: World) -> Any:
    return nn.Neuron(2), {"x": [0.5, -1.0]}


@case("nn.Linear")
def _(w: World) -> Any:
    return nn.Linear, {"nin": 2, "nout": 3, "init": "he", "rng": None}


@case("nn.Linear.__call__")
def _(w: World) -> Any:
    return nn.Linear(2, 3), {"x": [0.5, -1.0]}


@case("nn.Layer")
def _(w: World) -> Any:
    return nn.Layer, {"nin": 2, "nout": 3, "activation": "relu", "init": "he", "rng": None}


@case("nn.Maxout")
def _(w: World) -> Any:
    return nn.Maxout, {"nin": 2, "nout": 3, "pieces": 2, "init": "xavier", "rng": None}


@case("nn.Maxout.__call__")
def _(w: World) -> Any:
    return nn.Maxout(2, 3), {"x": [0.5, -1.0]}


@case("nn.MLP")
def _(w: World) -> Any:
    return nn.MLP, {
        "nin": 2,
        "sizes": [3, 1],
        "activation": "tanh",
        "output_activation": None,
        "init": "xavier",
        "seed": 1,
    }


@case("nn.MLP.__call__")
def _(w: World) -> Any:
    return w.model, {"x": [0.5, -1.0]}


@case("nn.Sequential", aliases={"first": ("layers[0]",), "second": ("layers[1]",)})
def _(w: World) -> Any:
    return _call_kwargs(nn.Sequential, first=None, second=None), {
        "first": nn.Linear(2, 3),
        "second": nn.Tanh(),
    }


@case("nn.Sequential.__call__")
def _(w: World) -> Any:
    return nn.Sequential(nn.Linear(2, 3), nn.Tanh()), {"x": [0.5, -1.0]}


@case("nn.Sequential.__getitem__", allowed={"i": (IndexError,)})
def _(w: World) -> Any:
    return w.model.__getitem__, {"i": 0}


@case("nn.Dropout")
def _(w: World) -> Any:
    return nn.Dropout, {"p": 0.5, "seed": 1}


@case("nn.Dropout.__call__")
def _(w: World) -> Any:
    return nn.Dropout(0.5, seed=0), {"x": [w.x, w.w]}


@case("nn.LeakyReLU")
def _(w: World) -> Any:
    return nn.LeakyReLU, {"negative_slope": 0.2}


@case("nn.Activation.__call__")
def _(w: World) -> Any:
    return nn.Tanh(), {"x": [w.x, 0.5]}


@case("nn.Identity")
def _(w: World) -> Any:
    return nn.Identity, {}


@case("nn.Tanh")
def _(w: World) -> Any:
    return nn.Tanh, {}


@case("nn.ReLU")
def _(w: World) -> Any:
    return nn.ReLU, {}


@case("nn.Sigmoid")
def _(w: World) -> Any:
    return nn.Sigmoid, {}


@case("nn.Softplus")
def _(w: World) -> Any:
    return nn.Softplus, {}


@case("nn.Activation")
def _(w: World) -> Any:
    return nn.Activation, {}


@case("nn.Module")
def _(w: World) -> Any:
    return nn.Module, {}


@case("nn.Module.train")
def _(w: World) -> Any:
    return w.model.train, {"mode": False}


@case("nn.get_activation", aliases={"spec": ("activation",)})
def _(w: World) -> Any:
    return nn.get_activation, {"spec": "relu"}


@case("nn.manual_seed")
def _(w: World) -> Any:
    return nn.manual_seed, {"seed": 5}


@case("nn.to_torch", torch=("model",))
def _(w: World) -> Any:
    return nn.to_torch, {"model": w.model}


@case("nn.from_torch", torch=("sequential",))
def _(w: World) -> Any:
    torch = require_torch()
    return nn.from_torch, {"sequential": torch.nn.Sequential(torch.nn.Linear(2, 3))}


# ---- losses --------------------------------------------------------------------------------------


for _name, _targets in [
    ("mse", [0.5, -1.0]),
    ("bce_with_logits", [1.0, 0.0]),
    ("binary_cross_entropy", [1.0, 0.0]),
    ("hinge", [1.0, -1.0]),
]:

    def _make(w: World, name: str = _name, targets: list[float] = _targets) -> Any:
        predictions = [w.x.sigmoid(), w.w.sigmoid()]
        first = {"mse": "predictions", "binary_cross_entropy": "probabilities"}.get(name)
        first = first or {"bce_with_logits": "logits", "hinge": "scores"}[name]
        return getattr(losses, name), {first: predictions, "targets": targets, "reduction": "mean"}

    CASES.append(Case(f"losses.{_name}", _make))


@case("losses.cross_entropy")
def _(w: World) -> Any:
    return losses.cross_entropy, {
        "logits": [[w.x, w.w, 0.3], [0.1, 0.2, 0.3]],
        "targets": [0, 2],
        "reduction": "sum",
    }


@case("losses.logsumexp")
def _(w: World) -> Any:
    return losses.logsumexp, {"values": [w.x, 2.0, -1.0]}


@case("losses.softmax")
def _(w: World) -> Any:
    return losses.softmax, {"logits": [w.x, 2.0, -1.0]}


@case("losses.log_softmax")
def _(w: World) -> Any:
    return losses.log_softmax, {"logits": [w.x, 2.0, -1.0]}


@case("losses.l2_penalty")
def _(w: World) -> Any:
    return losses.l2_penalty, {"parameters": w.model.parameters(), "weight_decay": 1e-3}


# ---- optim ---------------------------------------------------------------------------------------


@case("optim.SGD")
def _(w: World) -> Any:
    return optim.SGD, {
        "params": w.model.parameters(),
        "lr": 0.1,
        "momentum": 0.9,
        "dampening": 0.0,
        "weight_decay": 1e-4,
        "nesterov": True,
    }


@case("optim.Adam")
def _(w: World) -> Any:
    return optim.Adam, {
        "params": w.model.parameters(),
        "lr": 0.01,
        "betas": (0.9, 0.99),
        "eps": 1e-8,
        "weight_decay": 0.0,
    }


@case("optim.RMSprop")
def _(w: World) -> Any:
    return optim.RMSprop, {
        "params": w.model.parameters(),
        "lr": 0.01,
        "alpha": 0.9,
        "eps": 1e-8,
        "weight_decay": 0.0,
        "momentum": 0.5,
        "centered": True,
    }


@case("optim.Optimizer")
def _(w: World) -> Any:
    return optim.Optimizer, {
        "params": w.model.parameters(),
        "defaults": {"lr": 0.1, "weight_decay": 0.0},
    }


@case("optim.Optimizer.lr (set)")
def _(w: World) -> Any:
    def set_lr(lr: Any) -> None:
        w.opt.lr = lr
        w.opt.step()

    return set_lr, {"lr": 0.2}


@case("optim.Optimizer.step (after a bad grad)", aliases={"grad": ("gradient",)}, data=("grad",))
def _(w: World) -> Any:
    def step_with(grad: Any) -> None:
        first = w.model.parameters()[0]
        before = first.grad
        first.grad = grad
        try:
            w.opt.step()
        except BaseException:
            first.grad = before  # the bad value was the caller's own write: undo it for the check
            raise

    return step_with, {"grad": 0.5}


@case("optim.StepLR")
def _(w: World) -> Any:
    return optim.StepLR, {"optimizer": w.opt, "step_size": 2, "gamma": 0.5}


@case("optim.LinearLR")
def _(w: World) -> Any:
    return optim.LinearLR, {
        "optimizer": w.opt,
        "start_factor": 0.5,
        "end_factor": 0.1,
        "total_iters": 5,
    }


@case("optim.CosineLR")
def _(w: World) -> Any:
    return optim.CosineLR, {"optimizer": w.opt, "total_iters": 5, "min_lr": 0.0}


@case("optim.Schedule")
def _(w: World) -> Any:
    return optim.Schedule, {"optimizer": w.opt}


@case("optim.Schedule.rate")
def _(w: World) -> Any:
    return optim.StepLR(w.opt, 2).rate, {"epoch": 3}


@case("optim.clip_grad_norm_")
def _(w: World) -> Any:
    return optim.clip_grad_norm_, {"parameters": w.model.parameters(), "max_norm": 1.0}


@case("optim.decay_weights_only")
def _(w: World) -> Any:
    return optim.decay_weights_only, {"model": w.model, "weight_decay": 1e-3}


# ---- data ----------------------------------------------------------------------------------------

for _maker, _extra in [
    ("make_moons", {"noise": 0.1}),
    ("make_circles", {"noise": 0.05, "factor": 0.5}),
    ("make_xor", {"noise": 0.0}),
    ("make_spirals", {"classes": 3, "noise": 0.05, "turns": 1.0}),
    ("make_blobs", {"centers": 3, "std": 0.5}),
    ("make_sine", {"noise": 0.1}),
]:

    def _make_data(w: World, maker: str = _maker, extra: dict[str, Any] = _extra) -> Any:
        return getattr(data, maker), {"n": 8, **extra, "seed": 1}

    CASES.append(Case(f"data.{_maker}", _make_data))


@case("data.one_hot")
def _(w: World) -> Any:
    return data.one_hot, {"label": 2, "num_classes": 4}


@case("data.train_test_split")
def _(w: World) -> Any:
    return data.train_test_split, {"X": w.X, "y": w.Y, "test_size": 0.25, "seed": 0}


# ``other`` stands for the first of ``*others``: messages name it ``others[0]``.
@case("data.standardize", aliases={"other": ("others[0]",)})
def _(w: World) -> Any:
    return _call_kwargs(data.standardize, X_train=None, other=None), {
        "X_train": w.X,
        "other": w.X[:2],
    }


@case("data.Standardizer")
def _(w: World) -> Any:
    return data.Standardizer, {}


@case("data.Standardizer.fit")
def _(w: World) -> Any:
    return data.Standardizer().fit, {"X": w.X}


@case("data.Standardizer.transform")
def _(w: World) -> Any:
    return data.Standardizer().fit(w.X).transform, {"X": w.X[:2]}


@case("data.load_digits", allowed={"path": (OSError,)})
def _(w: World) -> Any:
    return data.load_digits, {"path": None}


@case("data.load_titanic", allowed={"path": (OSError,)})
def _(w: World) -> Any:
    return data.load_titanic, {
        "path": None,
        "features": ("fare", "age"),
        "test_size": 0.2,
        "seed": 0,
    }


# ---- train ---------------------------------------------------------------------------------------


@case(
    "train.fit",
    skip={"epochs": ("billion", "10**400"), "early_stopping": ("billion",)},
)
def _(w: World) -> Any:
    return train.fit, {
        "model": w.model,
        "X": w.X,
        "y": w.Y,
        "loss": "bce_with_logits",
        "optimizer": w.opt,
        "epochs": 2,
        "batch_size": 2,
        "validation": (w.X, w.Y),
        "early_stopping": 3,
        "seed": 0,
        "progress": False,
        "on_epoch": None,
        "compile": False,
        "backend": "python",
    }


@case("train.fit (compiled)", skip={"epochs": ("billion", "10**400")})
def _(w: World) -> Any:
    return train.fit, {
        "model": w.model,
        "X": w.X,
        "y": w.Y,
        "loss": "mse",
        "epochs": 1,
        "progress": False,
        "compile": True,
        "backend": "numpy",
    }


@case("train.no_full_collection")
def _(w: World) -> Any:
    return lambda: _enter(train.no_full_collection()), {}


@case("train.evaluate")
def _(w: World) -> Any:
    return train.evaluate, {"model": w.model, "X": w.X, "y": w.Y, "loss": "bce_with_logits"}


@case("train.score")
def _(w: World) -> Any:
    return train.score, {"out": [w.x]}


@case("train.History")
def _(w: World) -> Any:
    return train.History, {}


# ---- io ------------------------------------------------------------------------------------------


@case("io.save", allowed={"path": (OSError,)})
def _(w: World) -> Any:
    return io.save, {"model": w.model, "path": w.dir / "saved.json"}


@case("io.load", allowed={"path": (OSError,)})
def _(w: World) -> Any:
    return io.load, {"path": w.model_file}


@case("io.load_weights", allowed={"path": (OSError,)})
def _(w: World) -> Any:
    return io.load_weights, {"model": w.model, "path": w.model_file}


@case("io.to_dict")
def _(w: World) -> Any:
    return io.to_dict, {"model": w.model}


# ---- functional and forward ----------------------------------------------------------------------


def _f(a: Any, b: Any) -> Any:
    return (a * b).tanh() + a * a


def _f_of_list(xs: Any) -> Any:
    """A function of one argument, a number or a list (grad's cases probe the argument)."""
    items = xs if isinstance(xs, list) else [xs]
    total = items[0] * items[0] if items else 0.0
    for x in items[1:]:
        total = total + (x * total).tanh()
    return total


@case("autograd.grad")
def _(w: World) -> Any:
    return autograd.grad, {
        "outputs": w.y,
        "inputs": [w.x, w.w],
        "grad_outputs": 1.0,
        "retain_graph": None,
        "create_graph": False,
        "allow_unused": None,
        "materialize_grads": False,
    }


@case("functional.grad", aliases={"f": ("func",), "xs": ("argument 0",)})
def _(w: World) -> Any:
    return lambda f, xs: functional.grad(f)(xs), {"f": _f_of_list, "xs": [0.5, -1.0]}


@case("functional.value_and_grad", aliases={"f": ("func",), "xs": ("argument 0",)})
def _(w: World) -> Any:
    return lambda f, xs: functional.value_and_grad(f)(xs), {"f": _f_of_list, "xs": [0.5, -1.0]}


@case("functional.hessian")
def _(w: World) -> Any:
    return functional.hessian, {"func": _f, "inputs": [0.5, -1.0]}


@case("functional.hvp")
def _(w: World) -> Any:
    return functional.hvp, {"func": _f, "inputs": [0.5, -1.0], "v": [1.0, 0.0]}


@case("functional.count_paths")
def _(w: World) -> Any:
    return functional.count_paths, {"output": w.y, "input": w.x}


@case("functional.chain_rule_paths", skip={"limit": ("billion",)})
def _(w: World) -> Any:
    return functional.chain_rule_paths, {"output": w.y, "input": w.x, "limit": 10}


@case("functional.Path")
def _(w: World) -> Any:
    return functional.Path, {"nodes": (w.x, w.y), "factors": (1.0,)}


@case(
    "dual.Dual",
    aliases={"primal": ("Dual primal",), "tangent": ("Dual tangent",)},
    data=("primal", "tangent"),
)
def _(w: World) -> Any:
    return dual.Dual, {"primal": 0.5, "tangent": 1.0}


@case("dual.Dual.__mul__", aliases={"other": ("operand",)}, data=("other",))
def _(w: World) -> Any:
    return lambda other: dual.Dual(0.5, 1.0) * other, {"other": 2.0}


@case("dual.Dual.leaky_relu", aliases={"param": ("negative_slope",)})
def _(w: World) -> Any:
    return dual.Dual(0.5, 1.0).leaky_relu, {"param": 0.2}


@case("dual.jvp")
def _(w: World) -> Any:
    return dual.jvp, {"func": _f, "primals": [0.5, -1.0], "tangents": [1.0, 0.0]}


@case("dual.derivative", data=("x",))
def _(w: World) -> Any:
    return dual.derivative, {"f": lambda a: a.tanh() * a, "x": 0.5}


@case("dual.count_ops")
def _(w: World) -> Any:
    return lambda: _enter(dual.count_ops()), {}


# ---- replay --------------------------------------------------------------------------------------


def _g(a: Any, b: Any) -> Any:
    return (a * b).tanh() + a


@case("replay.compile")
def _(w: World) -> Any:
    return replay.compile, {
        "fn": _g,
        "example_inputs": [0.5, -1.0],
        "backend": "python",
        "model": None,
        "check": True,
    }


def _g_watching(a: Any, b: Any) -> Any:
    out = _g(a, b)
    return out, [out]


@case("replay.compile_function")
def _(w: World) -> Any:
    return replay.compile_function, {
        "function": _g_watching,
        "example_inputs": [0.5, -1.0],
        "backend": "python",
        "model": None,
        "check": True,
    }


@case("replay.compile_graph")
def _(w: World) -> Any:
    return replay.compile_graph, {
        "root": w.y,
        "inputs": [w.x, w.w],
        "watch": (),
        "backend": "python",
        "model": None,
    }


@case("replay.tape_of")
def _(w: World) -> Any:
    return replay.tape_of, {"root": w.y, "inputs": [w.x, w.w], "watch": ()}


@case("replay.Compiled")
def _(w: World) -> Any:
    tape = replay.tape_of(w.y, [w.x, w.w])
    return replay.Compiled, {"tape": tape, "backend": "numpy", "model": None}


@case("replay.Compiled.__call__", aliases={"a": ("input",), "b": ("input",)}, data=("a", "b"))
def _(w: World) -> Any:
    program = replay.compile(_g, [0.5, -1.0])
    return lambda a, b, gradient: program(a, b, gradient=gradient), {
        "a": 0.5,
        "b": 2.0,
        "gradient": 1.0,
    }


@case("replay.Compiled.forward", aliases={"a": ("input",), "b": ("input",)}, data=("a", "b"))
def _(w: World) -> Any:
    program = replay.compile(_g, [0.5, -1.0])
    return lambda a, b: program.forward(a, b), {"a": 0.5, "b": 2.0}


@case("replay.Compiled.batch", aliases={"rows": ("row",)})
def _(w: World) -> Any:
    program = replay.compile(_g, [0.5, -1.0], backend="numpy")
    return program.batch, {"rows": [[0.5, 2.0], [1.0, 1.0]], "gradient": 1.0}


@case(
    "replay.Compiled.run",
    aliases={"a": ("input",), "b": ("input",)},
    skip={"gradient": ("None",)},  # None: forward only
    data=("a", "b"),
)
def _(w: World) -> Any:
    program = replay.compile(_g, [0.5, -1.0])
    return lambda a, b, gradient: program.run(a, b, gradient=gradient), {
        "a": 0.5,
        "b": 2.0,
        "gradient": 1.0,
    }


@case("replay.Compiled.run_batch", aliases={"rows": ("row",)}, skip={"gradient": ("None",)})
def _(w: World) -> Any:
    program = replay.compile(_g, [0.5, -1.0], backend="numpy")
    return program.run_batch, {"rows": [[0.5, 2.0], [1.0, 1.0]], "gradient": 1.0}


@case("replay.Compiled.run (a leaf's grad set before)", data=("grad",))
def _(w: World) -> Any:
    program = replay.compile(lambda a: a * w.w, [0.5])

    def set_then_run(grad: Any) -> None:
        before = w.w.grad
        w.w.grad = grad
        try:
            program.run(0.5)
        except BaseException:
            w.w.grad = before  # the bad value was the caller's own write: undo it for the check
            raise

    return set_then_run, {"grad": 0.0}


@case("replay.python_source")
def _(w: World) -> Any:
    return replay.python_source, {"tape": replay.tape_of(w.y, [w.x, w.w])}


@case("replay.compile_memory")
def _(w: World) -> Any:
    return replay.compile_memory, {"nodes": 1000, "backend": "numpy", "batch": 32}


@case("replay.same_graph")
def _(w: World) -> Any:
    tape = replay.tape_of(w.y, [w.x, w.w])
    return replay.same_graph, {"first": tape, "second": tape}


@case("replay.Tape.signature")
def _(w: World) -> Any:
    return replay.tape_of(w.y, [w.x, w.w]).signature, {}


# ---- testing -------------------------------------------------------------------------------------


@case("testing.expressions")
def _(w: World) -> Any:
    return testing.expressions, {
        "ops": ["tanh", OPS["mul"]],
        "min_inputs": 1,
        "max_inputs": 2,
        "max_steps": 3,
        "input_range": 2.0,
        "min_kink_distance": 0.01,
        "max_magnitude": 50.0,
    }


@case("testing.op_inputs")
def _(w: World) -> Any:
    return testing.op_inputs, {
        "op": OPS["log"],
        "input_range": 2.0,
        "min_kink_distance": 0.01,
        "max_magnitude": 50.0,
    }


@case("testing.well_conditioned")
def _(w: World) -> Any:
    return testing.well_conditioned, {
        "op": OPS["div"],
        "args": [1.0, 2.0],
        "min_kink_distance": 0.01,
        "max_magnitude": 50.0,
    }


@case("testing.Expression.evaluate")
def _(w: World) -> Any:
    expr = testing.Expression((0.5,), (testing.Step(OPS["tanh"], (0,)),))
    return expr.evaluate, {"xs": [0.5], "apply_op": lambda op, args: op.forward(*args)}


@case("testing.Expression.__call__", aliases={"x": ("xs[0]",)})
def _(w: World) -> Any:
    expr = testing.Expression((0.5,), (testing.Step(OPS["tanh"], (0,)),))
    return lambda x: expr(x), {"x": w.x}


# ---- viz -----------------------------------------------------------------------------------------


@case("viz.draw_graph", skip={"max_nodes": ("billion",)})
def _(w: World) -> Any:
    return viz.draw_graph, {
        "root": w.y,
        "rankdir": "TB",
        "show_data": True,
        "show_grad": True,
        "show_local_grads": True,
        "highlight": [w.x],
        "color_by": "grad",
        "level": "op",
        "parameters": [w.w],
        "max_nodes": 100,
        "grads": None,
        "dimmed": (),
        "current": None,
    }


@case("viz.GraphView.save", allowed={"path": (OSError,)})
def _(w: World) -> Any:
    return viz.draw_graph(w.y).save, {"path": w.dir / "graph.dot", "renderer": None}


@case("viz.GraphView.svg", allowed={"renderer": (OSError, viz.RendererNotFound)})
def _(w: World) -> Any:
    return viz.draw_graph(w.y).svg, {"renderer": None}


@case("viz.GraphView")
def _(w: World) -> Any:
    return viz.GraphView, {"source": "digraph { a -> b }", "nodes": 2}


@case("viz.render", allowed={"renderer": (OSError, viz.RendererNotFound)})
def _(w: World) -> Any:
    return viz.render, {"source": "digraph { a -> b }", "fmt": "svg", "renderer": None}


@case("viz.find_renderer")
def _(w: World) -> Any:
    return viz.find_renderer, {}


@case("viz.draw_network")
def _(w: World) -> Any:
    return viz.draw_network, {
        "model": w.model,
        "x": [0.5, -1.0],
        "color_by": "sign",
        "input_names": ["a", "b"],
    }


@case("viz.draw")
def _(w: World) -> Any:
    return viz.draw, {"obj": w.y}


@case("viz.NetworkPicture")
def _(w: World) -> Any:
    return viz.NetworkPicture, {"svg": "<svg></svg>", "neurons": 1, "edges": 0}


@case("viz.NetworkPicture.save", allowed={"path": (OSError,)})
def _(w: World) -> Any:
    return viz.draw_network(w.model).save, {"path": w.dir / "net.svg"}


@case("nn.made_by")
def _(w: World) -> Any:
    return nn.made_by, {"node": w.y}


@case("nn.Structure")
def _(w: World) -> Any:
    return nn.Structure, {"order": [w.y]}


@case("viz.trace_backward")
def _(w: World) -> Any:
    return viz.trace_backward, {"root": w.y, "level": "op"}


@case("viz.BackwardTrace")
def _(w: World) -> Any:
    return viz.BackwardTrace, {"root": w.y, "level": "op"}


@case("viz.BackwardTrace.equation")
def _(w: World) -> Any:
    return viz.trace_backward(w.y).equation, {"i": 1}


@case("viz.BackwardTrace.grads_after")
def _(w: World) -> Any:
    return viz.trace_backward(w.y).grads_after, {"i": 1}


@case("viz.BackwardTrace.frame")
def _(w: World) -> Any:
    return viz.trace_backward(w.y).frame, {"i": 1}


@case("viz.BackwardTrace.frame_text")
def _(w: World) -> Any:
    return viz.trace_backward(w.y).frame_text, {"i": 1}


@case("viz.BackwardTrace.page_data")
def _(w: World) -> Any:
    return viz.trace_backward(w.y).page_data, {"layout": "auto"}


@case("viz.BackwardTrace.html_page")
def _(w: World) -> Any:
    return viz.trace_backward(w.y).html_page, {"layout": "auto"}


@case("viz.BackwardTrace.widget")
def _(w: World) -> Any:
    return viz.trace_backward(w.y).widget, {"layout": "auto"}


@case("viz.BackwardTrace.to_html", allowed={"path": (OSError,)})
def _(w: World) -> Any:
    return viz.trace_backward(w.y).to_html, {"path": w.dir / "trace.html", "layout": "auto"}


@case("viz.trace_forward")
def _(w: World) -> Any:
    return viz.trace_forward, {"root": w.y}


@case("viz.ForwardTrace")
def _(w: World) -> Any:
    return viz.ForwardTrace, {"root": w.y}


@case("viz.ForwardTrace.equation")
def _(w: World) -> Any:
    return viz.trace_forward(w.y).equation, {"i": 1}


# ---- viz.plots -----------------------------------------------------------------------------------


@case("viz.plots.decision_boundary")
def _(w: World) -> Any:
    return plots.decision_boundary, {
        "model": w.model,
        "X": w.X,
        "y": w.Y,
        "resolution": 5,
        "threshold": 0.0,
        "title": "t",
    }


@case("viz.plots.decision_boundaries")
def _(w: World) -> Any:
    weights = [p.data for p in w.model.parameters()]
    return plots.decision_boundaries, {
        "model": w.model,
        "X": w.X,
        "y": w.Y,
        "snapshots": {"start": weights},
        "resolution": 5,
        "title": "t",
    }


@case("viz.plots.PlotUnavailable")
def _(w: World) -> Any:
    return plots.PlotUnavailable, {"reason": "matplotlib could not be loaded"}


@case("viz.plots.training_curves")
def _(w: World) -> Any:
    history = train.History(loss=[0.7, 0.5], accuracy=[0.5, 0.75], val_loss=[0.8, 0.6])
    return plots.training_curves, {"history": history, "title": "t"}


@case("viz.plots.activation_histograms")
def _(w: World) -> Any:
    return plots.activation_histograms, {"model": w.model, "X": w.X, "bins": 5}


@case("viz.plots.gradient_histograms")
def _(w: World) -> Any:
    return plots.gradient_histograms, {"model": w.model, "bins": 5}


@case("viz.plots.dead_units")
def _(w: World) -> Any:
    return plots.dead_units, {"model": w.model, "X": w.X}


@case("viz.plots.layer_activations")
def _(w: World) -> Any:
    return plots.layer_activations, {"model": w.model, "X": w.X}


@case("viz.plots.confusion_matrix")
def _(w: World) -> Any:
    return plots.confusion_matrix, {
        "predicted": [0, 1, 1],
        "actual": [0, 1, 0],
        "classes": 2,
        "title": "t",
    }


@case("viz.plots.curves")
def _(w: World) -> Any:
    return plots.curves, {
        "series": {"a": ([0.0, 1.0], [1.0, 2.0])},
        "title": "t",
        "xlabel": "x",
        "ylabel": "y",
        "log_y": False,
        "panels": None,
    }


@case("viz.plots.image_grid")
def _(w: World) -> Any:
    return plots.image_grid, {
        "images": [[0.0, 1.0, 2.0, 3.0]],
        "titles": ["a"],
        "side": 2,
        "columns": 2,
        "cmap": "gray_r",
        "symmetric": False,
        "title": "t",
    }


@case("viz.plots.scatter")
def _(w: World) -> Any:
    return plots.scatter, {
        "points": w.X,
        "labels": w.Y,
        "title": "t",
        "xlabel": "x",
        "ylabel": "y",
        "line": (1.0, 1.0, -1.0),
        "names": ["zero", "one"],
    }


@case(
    "viz.plots.universal_approximation",
    skip={"epochs": ("billion", "10**400")},
)
def _(w: World) -> Any:
    return plots.universal_approximation, {
        "target": math.sin,
        "interval": (-1.0, 1.0),
        "hidden": 3,
        "points": 5,
        "epochs": 2,
        "lr": 0.02,
        "seed": 0,
    }


# Records: dataclasses the library builds and a user reads; their fields are not checked.
RECORDS = {
    "microgradx.GradcheckReport",
    "microgradx.Compiled",  # built by compile(); its methods have cases under replay.Compiled
    "microgradx.CompileError",  # under replay.CompileError
    "microgradx.ModelFileError",  # under io.ModelFileError
    "microgradx.compile",  # under replay.compile
    "microgradx.load",  # under io.load
    "microgradx.load_weights",  # under io.load_weights
    "microgradx.save",  # under io.save
    "gradcheck.GradcheckRow",
    "gradcheck.GradcheckReport",
    "gradcheck.GradcheckError",  # under microgradx.GradcheckError
    "gradcheck.gradcheck",  # under microgradx.gradcheck
    "train.History",
    "testing.Expression",
    "testing.Step",
    "testing.EngineReport",  # what check_target/check_engine return
    "testing.Finding",
    "testing.TargetError",  # raised by check_target/check_engine, built with a message
    # each call runs a whole check in a child process (seconds): their arguments are checked in
    # tests/test_enginecheck.py::test_arguments_are_checked instead of with every hostile value
    "testing.check_target",
    "testing.check_engine",
    "replay.Tape",
    "replay.Replayed",  # what Compiled.run returns
    "nn.Activation",
    # exceptions: raised by the library, built with a message
    "io.ModelFileError",
    "replay.CompileError",
    "viz.RendererNotFound",
    "viz.RenderError",
    "data.DataFileError",
    "replay.RecordedFloat",  # the number .data holds while compile records; a user reads it
    "nn.Call",  # what a network recorded while it computed; read through nn.made_by
    "nn.NeuronCall",  # built by nn.made_by and nn.Structure
}


# ---- the probe -----------------------------------------------------------------------------------


def _public_callables() -> set[str]:
    names = set()
    for prefix, module in MODULES.items():
        exported = getattr(module, "__all__", None)
        if exported is None:
            exported = [
                n
                for n, obj in vars(module).items()
                if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__
            ]
        for n in exported:
            if callable(getattr(module, n)) and not isinstance(getattr(module, n), type(Any)):
                names.add(f"{prefix}.{n}")
    return names


def test_every_public_callable_has_a_case():
    covered = {c.name.split(" ")[0] for c in CASES} | RECORDS
    covered |= {c.name.rsplit(".", 1)[0] for c in CASES}  # a class, through its methods
    missing = sorted(
        n for n in _public_callables() if n not in covered and n.split(".")[-1] not in ("T",)
    )
    assert not missing, f"add a case to tests/test_arguments.py for {missing}"


def _names_argument(message: str, name: str, aliases: tuple[str, ...]) -> bool:
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in (name, *aliases))


def probe(case: Case, parameter: str, directory: Path) -> list[str]:
    """Every hostile value in ``parameter``'s place: what went wrong, one line each."""
    problems = []
    for label, value in HOSTILE.items():
        if label in case.skip.get(parameter, ()):
            continue
        world = World(directory)
        function, arguments = case.make(world)
        arguments[parameter] = value
        before = world.state()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                function(**arguments)
        except ACCEPTED as error:
            message = str(error)
            if "truth value of an array" in message:
                problems.append(f"{parameter}={label}: NumPy's ambiguous truth value: {message}")
            elif not _names_argument(message, parameter, case.aliases.get(parameter, ())):
                kind = type(error).__name__
                problems.append(f"{parameter}={label}: {kind} does not name it: {message[:150]}")
            elif world.state() != before:
                problems.append(f"{parameter}={label}: refused, but changed the objects it got")
        except case.allowed.get(parameter, ()):
            pass
        except Exception as error:
            kind = type(error).__name__
            problems.append(f"{parameter}={label}: raw {kind}: {str(error)[:150]}")
        finally:
            _close_figures()
    return problems


def _close_figures() -> None:
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _parameters() -> list[tuple[Case, str]]:
    pairs = []
    with tempfile.TemporaryDirectory() as directory:
        for c in CASES:
            names = c.torch or list(c.make(World(Path(directory)))[1])
            pairs.extend((c, p) for p in names)
    return pairs


# Raw errors in modules owned elsewhere, listed for their owners as
# ``(case name, parameter): "owner"``; each mark is removed once the owner's fix is merged (strict:
# the test fails when it starts passing). None are left.
KNOWN: dict[tuple[str, str], str] = {}


def _marks(c: Case, parameter: str) -> list[Any]:
    owner = KNOWN.get((c.name, parameter))
    return [pytest.mark.xfail(strict=True, reason=f"owner: {owner}")] if owner else []


@pytest.mark.parametrize(
    ("case", "parameter"),
    [pytest.param(c, p, id=f"{c.name}:{p}", marks=_marks(c, p)) for c, p in _parameters()],
)
def test_hostile_arguments_are_refused_by_name_or_work(case, parameter, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a hostile path such as "abc" is written here, not in the repo
    if case.torch:
        require_torch()
    if case.name.startswith("viz.plots"):
        # Laying out a figure's text takes 3/4 of each plot's time and reads no argument.
        from matplotlib.figure import Figure

        monkeypatch.setattr(Figure, "tight_layout", lambda self, *args, **kwargs: None)
    problems = probe(case, parameter, tmp_path)
    assert not problems, f"{case.name}:\n" + "\n".join(problems)


def test_every_case_works_with_its_own_arguments(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for c in CASES:
        if c.torch:
            try:
                require_torch()  # fails instead when MICROGRADX_REQUIRE_TORCH=1 (CI)
            except pytest.skip.Exception:
                continue  # without torch here, the other cases still run
        function, arguments = c.make(World(tmp_path))
        function(**arguments)
        _close_figures()


# ---- bools: refused as settings, taken as 0 or 1 as data (the rule in microgradx/checks.py) ------


def _real_arguments() -> list[tuple[Case, str]]:
    """Every (case, argument) of the table whose working value is one real number (a float, an
    int, a NumPy number; not a bool, a list or a Value)."""
    pairs = []
    with tempfile.TemporaryDirectory() as directory:
        for c in CASES:
            if c.torch:
                continue  # their arguments are built only with torch
            arguments = c.make(World(Path(directory)))[1]
            pairs.extend(
                (c, name)
                for name, value in arguments.items()
                if isinstance(value, numbers.Real) and not isinstance(value, bool)
            )
    return pairs


def _number_of(result: Any) -> Any:
    return result.data if isinstance(result, Value) else result


@pytest.mark.parametrize(
    ("case", "parameter"),
    [pytest.param(c, p, id=f"{c.name}:{p}") for c, p in _real_arguments()],
)
def test_a_bool_is_refused_as_a_setting_and_taken_as_data(case, parameter, tmp_path, monkeypatch):
    # The examples: make_moons(noise=True) was noise 1.0, a schedule's gamma=True was 1.0.
    monkeypatch.chdir(tmp_path)
    world = World(tmp_path)
    function, arguments = case.make(world)
    if parameter in case.data:  # Value(2.0) * True is 2.0, as in Python and PyTorch
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            given = _number_of(function(**{**arguments, parameter: True}))
            one = _number_of(function(**{**case.make(World(tmp_path))[1], parameter: 1}))
        if isinstance(one, float):
            assert given == one or (math.isnan(given) and math.isnan(one))
        _close_figures()
        return
    before = world.state()
    with pytest.raises(TypeError) as info:
        function(**{**arguments, parameter: True})
    _close_figures()
    assert _names_argument(str(info.value), parameter, case.aliases.get(parameter, ()))
    assert world.state() == before


def test_the_bool_rule_in_checks():
    from microgradx import checks

    for setting in (checks.real, checks.finite, checks.in_range):
        with pytest.raises(TypeError, match=r"^lr must be a real number, not a bool, got bool"):
            setting(True, "lr")
        with pytest.raises(TypeError, match=r"^lr must be a real number, got ndarray"):
            setting(np.array(0.5), "lr")
    with pytest.raises(TypeError, match=r"^sizes\[1\] must be a real number, not a bool"):
        checks.reals([1.0, False], "sizes")
    with pytest.raises(TypeError, match=r"^lr must be a real number, not a bool, got bool np"):
        checks.real(np.True_, "lr")  # NumPy's bool is a bool too
    assert checks.reals([1.0, False, np.True_], "x", data=True) == [1.0, 0.0, 1.0]
    assert checks.rows([[True, np.array(2)], [np.float32(0.5), 0]], "X") == [[1.0, 2.0], [0.5, 0.0]]
    for x, expected in [(True, 1.0), (np.False_, 0.0), (np.array(0.25), 0.25), (np.array(3), 3.0)]:
        assert checks.number(x, "x") == expected and type(checks.number(x, "x")) is float
    for x in (np.array([0.5]), np.array("0.5"), np.array(1j), Decimal("0.5"), "0.5", None):
        with pytest.raises(TypeError, match=r"^x must be a real number"):
            checks.number(x, "x")
    assert Value(True).data == 1.0 and (Value(2.0) * True).data == 2.0
    # a 0-d array is a number, not a list: refused by name where a list is asked for (len() of
    # it raised a TypeError that named nothing)
    with pytest.raises(TypeError, match=r"^X\[0\] must be a list, got ndarray"):
        checks.rows([np.array(1.0)], "X")
    # every 0-d array, not only NumPy's own type: a masked one, a 0-d torch tensor (len() of
    # each raised "len() of unsized object" / "iteration over a 0-d tensor", naming nothing)
    torch = require_torch()
    with pytest.raises(TypeError, match=r"^params must be a list of Values, got ndarray"):
        checks.instances(np.array(Value(1.0), dtype=object), "params", Value, "Value")
    for zero_d in (np.ma.masked_array(1.0), torch.tensor(1.0)):
        with pytest.raises(TypeError, match=r"^x must be a list, got "):
            checks.reals(zero_d, "x")
        with pytest.raises(TypeError, match=r"^X\[0\] must be a list, got "):
            checks.rows([zero_d], "X")
    assert (Value(2.0) ** np.array(3.0)).data == 8.0 and (True - Value(0.5)).data == 0.5


class _RegisteredReal:
    """A class registered as a numbers.Real whose float() fails."""

    def __float__(self) -> float:
        raise ValueError("cannot convert signaling NaN to float")


numbers.Real.register(_RegisteredReal)


def test_a_duration_or_an_unconvertible_real_is_no_number_and_a_huge_longdouble_is_named():
    """NumPy registers timedelta64 as a numbers.Integral (it subclasses np.signedinteger):
    before, lr=np.timedelta64(5) was 5.0 (nanoseconds counted), a count and a seed 5, a class
    label 5, and in seconds float() raised a TypeError naming nothing. A finite longdouble
    beyond a float became inf, where an int as large is refused by name."""
    from microgradx import checks, data

    for x in (np.timedelta64(5), np.timedelta64(5, "s"), np.timedelta64("NaT")):
        for read in (checks.real, checks.number, checks.finite):
            with pytest.raises(TypeError, match=r"^lr must be a real number"):
                read(x, "lr")
        with pytest.raises(TypeError, match=r"^epochs must be an int"):
            checks.count(x, "epochs")
        with pytest.raises(TypeError, match=r"^seed must be an int"):
            checks.seed(x)
        with pytest.raises(TypeError, match=r"^i must be an int"):
            checks.index(x, "i", 10)
        assert not checks.is_real(x) and not checks.is_int(x)
        with pytest.raises(TypeError, match=r"^label must be an int"):
            data.one_hot(x, num_classes=10)
        with pytest.raises(TypeError, match=r"^Value data must be a real number"):
            Value(x)
    with pytest.raises(TypeError, match=r"^Sequential index i must be an int"):
        nn.Sequential(nn.Linear(1, 1))[np.timedelta64(0)]
    with pytest.raises(TypeError, match=r"^x must be a real number"):
        checks.number(np.array(5, dtype="m8[ns]"), "x")  # as the 0-d array of its dtype was
    with pytest.raises(TypeError, match=r"^x must be a real number, got _RegisteredReal"):
        checks.number(_RegisteredReal(), "x")
    huge = np.longdouble(10) ** 400
    for read, x in [(checks.real, huge), (checks.number, -huge), (checks.number, np.array(huge))]:
        with pytest.raises(ValueError, match=r"^x is too large for a float"):
            read(x, "x")
    for read in (checks.real, checks.number):
        assert read(np.longdouble("inf"), "x") == math.inf  # an infinity is one
        assert read(np.longdouble(0.5), "x") == 0.5 and read(Fraction(1, 4), "x") == 0.25
    assert Value(np.longdouble("-inf")).data == -math.inf


# ---- testing.expressions: its arguments, and steps drawn from the ops asked for ----------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ops": "tanh"}, TypeError, r"ops must be a list of Ops or op names \(e\.g\. \['tanh'"),
        ({"ops": OPS["tanh"]}, TypeError, "ops must be a list of Ops or op names"),
        ({"ops": []}, ValueError, "ops must not be empty"),
        ({"ops": ["tanh", "swish"]}, ValueError, r"ops\[1\] is 'swish'.*names are add, sub"),
        ({"ops": [3]}, TypeError, r"ops\[0\] must be an Op or an op name, got int 3"),
        ({"max_steps": 0}, ValueError, "max_steps must be an int >= 1, got 0"),
        ({"max_steps": 2.0}, TypeError, "max_steps must be an int"),
        ({"min_inputs": 0}, ValueError, "min_inputs must be an int >= 1"),
        ({"min_inputs": 3, "max_inputs": 2}, ValueError, r"min_inputs \(3\) must be <="),
        ({"input_range": math.inf}, ValueError, r"input_range must be in \(0, inf\)"),
        ({"input_range": 0.0}, ValueError, "input_range must be in"),
        ({"input_range": math.nan}, ValueError, "input_range must be in"),
        ({"min_kink_distance": -1e-3}, ValueError, r"min_kink_distance must be in \[0, inf\)"),
        ({"max_magnitude": 0}, ValueError, r"max_magnitude must be in \(0, inf\)"),
        ({"max_magnitude": "100"}, TypeError, "max_magnitude must be a real number"),
    ],
)
def test_expressions_refuses_bad_arguments_when_called(kwargs, error, match):
    with pytest.raises(error, match=match):
        testing.expressions(**kwargs)  # at the call, not at the first draw inside a test


def test_op_inputs_and_well_conditioned_take_names_and_refuse_families_and_bad_args():
    assert testing.well_conditioned("log", [2.0], min_kink_distance=0.01, max_magnitude=10)
    assert not testing.well_conditioned(
        OPS["log"], [-2.0], min_kink_distance=0.01, max_magnitude=10
    )
    with pytest.raises(TypeError, match=r"op is the family 'pow_scalar': .*member\(2\.0\)"):
        testing.op_inputs(OPS["pow_scalar"])
    with pytest.raises(ValueError, match="op is 'lg', which is not an op"):
        testing.op_inputs("lg")
    with pytest.raises(ValueError, match=r"args must hold 2 number\(s\) for div, got 1"):
        testing.well_conditioned(OPS["div"], [1.0], min_kink_distance=0.01, max_magnitude=10)
    with pytest.raises(TypeError, match=r"args\[0\] must be a real number"):
        testing.well_conditioned("exp", ["1"], min_kink_distance=0.01, max_magnitude=10)


def _asked(ops: list[Any]) -> set[Any]:
    named = [OPS[op] if isinstance(op, str) else op for op in ops]
    return {m for op in named for m in (op.members() if op.param is None else (op,))}


def _share(ops: list[Any], examples: int = 100, **kwargs: Any) -> float:
    """The share of steps that use one of ``ops``, over ``examples`` drawn expressions."""
    from hypothesis import given, settings

    asked, used, steps = _asked(ops), [0], [0]

    @settings(max_examples=examples)
    @given(testing.expressions(ops=ops, **kwargs))
    def draw(expr: testing.Expression) -> None:
        used[0] += sum(step.op in asked for step in expr.steps)
        steps[0] += len(expr.steps)

    draw()
    return used[0] / steps[0]


SINGLE_OPS = [*all_members(), *(op for op in OPS.values() if op.param_name is not None)]


@pytest.mark.parametrize("op", SINGLE_OPS, ids=lambda op: f"{op.name}:{op.label}")
def test_expressions_over_one_op_use_it_in_at_least_90_percent_of_steps(op):
    # Before the strategy drew the op first, ops=[log] gave about 50% log and the rest neg.
    assert _share([op]) >= 0.9


def test_op_names_resolve_and_every_step_stays_well_conditioned():
    from hypothesis import given, settings

    @settings(max_examples=60)
    @given(testing.expressions(ops=["log", "sqrt"], min_inputs=1, max_inputs=2))
    def check(expr: testing.Expression) -> None:
        assert 1 <= len(expr.inputs) <= 2
        assert all(abs(x) <= 3.0 for x in expr.inputs)
        values = list(expr.inputs)
        for step in expr.steps:
            args = [values[i] for i in step.args]
            assert all(i < len(values) for i in step.args)  # only earlier values
            assert testing.well_conditioned(
                step.op, args, min_kink_distance=1e-2, max_magnitude=100.0
            )
            values.append(step.op.forward(*args))

    check()


def test_an_op_that_cannot_apply_to_the_drawn_inputs_gets_an_input_inside_its_domain():
    from hypothesis import find

    # A first input <= 0: log cannot take it; a second input is drawn inside log's domain.
    expr = find(
        testing.expressions(ops=["log"], min_inputs=1, max_inputs=2),
        lambda e: e.inputs[0] <= 0 and len(e.inputs) == 2,
    )
    assert expr.inputs[1] > 0 and all(step.op is OPS["log"] for step in expr.steps)


def test_with_no_room_for_an_input_a_step_outside_the_ops_makes_one_apply():
    from hypothesis import find

    expr = find(
        testing.expressions(ops=["log"], min_inputs=1, max_inputs=1),
        lambda e: e.inputs[0] < -0.5,
    )
    assert expr.steps[0].op is OPS["neg"]  # neg(x0) > 0: log applies from the next step
    assert all(step.op is OPS["log"] for step in expr.steps[1:])


# Sizes that drive an allocation, each with its documented cap: just past it, a billion and 10**400
# are refused by name before anything is built (they used to allocate gigabytes or run for
# minutes). Past the cap first: with the cap gone, that call returns and the test fails at once.
CAPS: list[tuple[str, str, int]] = [
    *((f"data.{maker}", "n", data.MAX_SAMPLES) for maker in ("make_moons", "make_circles")),
    *((f"data.{maker}", "n", data.MAX_SAMPLES) for maker in ("make_xor", "make_sine")),
    ("data.make_spirals", "n", data.MAX_SAMPLES),
    ("data.make_spirals", "classes", data.MAX_CLASSES),
    ("data.make_blobs", "n", data.MAX_SAMPLES),
    ("data.make_blobs", "centers", data.MAX_CLASSES),
    ("data.one_hot", "num_classes", data.MAX_CLASSES),
    ("viz.plots.activation_histograms", "bins", plots.MAX_BINS),
    ("viz.plots.gradient_histograms", "bins", plots.MAX_BINS),
    ("viz.plots.image_grid", "columns", plots.MAX_COLUMNS),
    ("viz.plots.confusion_matrix", "classes", plots.MAX_CLASSES),
    ("viz.plots.decision_boundary", "resolution", plots.MAX_RESOLUTION),
    ("viz.plots.decision_boundaries", "resolution", plots.MAX_RESOLUTION),
    ("viz.plots.universal_approximation", "points", plots.MAX_POINTS),
    ("viz.plots.universal_approximation", "hidden", (nn.MAX_WEIGHTS - 1) // 3),
]


@pytest.mark.parametrize(("name", "parameter", "cap"), CAPS, ids=[f"{n}:{p}" for n, p, _ in CAPS])
def test_huge_sizes_are_refused_by_name_before_allocating(name, parameter, cap, tmp_path):
    (case,) = [c for c in CASES if c.name == name]
    for size in (cap + 1, 10**9, 10**400):
        world = World(tmp_path)
        function, arguments = case.make(world)
        before = world.state()
        with pytest.raises(ValueError, match=rf"^{parameter} must be an int <= {cap}, got"):
            function(**{**arguments, parameter: size})
        assert world.state() == before


# ---- fit and evaluate: the examples and their siblings -----------------------------------


def _xor() -> tuple[list[list[float]], list[int]]:
    return [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0]


def _snapshot(model: nn.Module) -> Any:
    return [(p.data, float(p.grad)) for p in model.parameters()], [
        m.training for m in model.modules()
    ]


def test_fit_takes_numpy_arrays_as_it_takes_lists():
    X, y = _xor()
    kwargs = {"loss": "bce_with_logits", "epochs": 3, "batch_size": 2, "progress": False}
    with_lists = train.fit(nn.MLP(2, [3, 1], seed=0), X, y, **kwargs)
    with_arrays = train.fit(nn.MLP(2, [3, 1], seed=0), np.array(X), np.array(y), **kwargs)
    assert with_arrays.loss == with_lists.loss and with_arrays.accuracy == with_lists.accuracy
    model = nn.MLP(2, [3, 1], seed=0)
    assert train.evaluate(model, np.array(X), np.array(y), "bce_with_logits")[1] is not None


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"loss": lambda o, t: 1.0}, TypeError, r"loss must return a Value .*, got float 1\.0"),
        ({"loss": "cross_entropy"}, ValueError, "loss='cross_entropy' needs a model with one"),
        ({"y": [0, 1, 2, 0]}, ValueError, r"y\[2\] must be in \[0, 1\] for loss='bce_with_logits'"),
        ({"y": [0, 1, "1", 0]}, TypeError, r"y\[2\] must be a number, got str"),
        ({"y": [0, 1, 1]}, ValueError, "X has 4 examples but y has 3"),
        ({"X": [[0.0, 0.0], [0.0, 1.0, 2.0]] * 2}, ValueError, r"X\[1\] has 3 numbers but X\[0\]"),
        (
            {"X": [[0.0, math.nan]] * 4},
            ValueError,
            r"X\[0\]\[1\] is float nan: fit needs finite numbers",
        ),
        (
            {"X": [[0.0, 1.0, 2.0]] * 4},
            ValueError,
            r"X\[0\] does not fit the model: Linear input x must hold 2",
        ),
        ({"X": [0.0, 1.0, 1.0, 0.0]}, TypeError, r"X\[0\] must be a list of numbers"),
        ({"X": np.zeros((0, 2)), "y": []}, ValueError, "X is empty"),
        ({"validation": ([[0.0, 1.0]],)}, TypeError, r"validation must be a pair \(X_val, y_val\)"),
        ({"validation": ([[0.0, 1.0, 2.0]], [1])}, ValueError, r"validation\[0\]\[0\] has 3"),
        ({"validation": ([[0.0, 1.0]], [3])}, ValueError, r"validation\[1\]\[0\] must be in"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be a microgradx Optimizer or None"),
        ({"on_epoch": 3}, TypeError, "on_epoch must be a function, got int 3"),
        ({"progress": "yes"}, TypeError, "progress must be True or False"),
        ({"backend": "jax"}, ValueError, "backend must be one of 'python', 'numpy'"),
        ({"seed": -1}, ValueError, "seed must be an int >= 0"),
        ({"batch_size": 2.0}, TypeError, "batch_size must be an int"),
    ],
)
def test_fit_refuses_by_name_and_leaves_the_model_as_it_was(kwargs, error, message):
    X, y = _xor()
    model = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5, seed=1), nn.Tanh(), nn.Linear(3, 1))
    for p in model.parameters():
        p.grad = 0.25  # a gradient of the user's, which a refused fit must not zero
    opt = optim.SGD(model.parameters(), lr=0.1)
    before, generator = _snapshot(model), nn._generator.getstate()
    arguments = {"X": X, "y": y, "loss": "bce_with_logits", "optimizer": opt, **kwargs}
    with pytest.raises(error, match=message):
        train.fit(model, epochs=2, **{"progress": False, **arguments})
    assert _snapshot(model) == before and nn._generator.getstate() == generator
    assert opt.lr == 0.1 and opt.steps == 0


@pytest.mark.parametrize(
    ("model", "loss", "y", "error", "message"),
    [
        (nn.MLP(2, [3, 3]), "mse", [0.0, 1.0, 1.0, 0.0], ValueError, "needs a model with one"),
        (nn.MLP(2, [3, 3]), "cross_entropy", [0, 1, 3, 0], ValueError, r"y\[2\] is class 3"),
        (nn.MLP(2, [3, 1]), "hinge", [0, 1, 1, 0], ValueError, r"y\[0\] must be -1 or \+1"),
        (nn.MLP(2, [3, 3]), "cross_entropy", [[1.0, 0.0]] * 4, ValueError, r"y\[0\] has 2 prob"),
        (nn.MLP(2, [3, 3]), "cross_entropy", [True] * 4, TypeError, r"y\[0\] must be a class"),
        (nn.MLP(2, [3, 1]), lambda o, t: 1.0, [0, 1, 1, 0], TypeError, "loss must return a Val"),
        (nn.MLP(2, [3, 1]), 3, [0, 1, 1, 0], TypeError, "loss must be a name or a function"),
    ],
)
def test_evaluate_checks_as_fit_does(model, loss, y, error, message):
    X, _ = _xor()
    with pytest.raises(error, match=message):
        train.evaluate(model, X, y, loss)


def test_cross_entropy_targets_may_be_numpy_ints_or_one_hot_rows_also_when_compiled():
    X, y = _xor()
    kwargs = {"loss": "cross_entropy", "epochs": 2, "progress": False}
    by_index = train.fit(nn.MLP(2, [3, 2], seed=0), X, y, **kwargs)
    by_numpy = train.fit(nn.MLP(2, [3, 2], seed=0), X, np.array(y), **kwargs)
    one_hot = [[1.0, 0.0] if t == 0 else [0.0, 1.0] for t in y]
    compiled = train.fit(nn.MLP(2, [3, 2], seed=0), X, one_hot, compile=True, **kwargs)
    assert by_numpy.loss == by_index.loss
    assert compiled.compiled and compiled.loss == pytest.approx(by_index.loss, rel=1e-12)


def test_score_names_its_argument():
    assert train.score([Value(0.5)]) == 0.5 and train.score(2) == 2.0
    with pytest.raises(TypeError, match=r"out must be one Value or number .*, got list"):
        train.score([Value(0.5), Value(1.0)])


def test_value_of_an_int_too_large_for_a_float_is_refused_by_name():
    # the first example: checks.real refuses it for every op, by the argument's name
    with pytest.raises(ValueError, match="Value data is too large for a float"):
        Value(10**400)
    with pytest.raises(ValueError, match="operand is too large for a float"):
        Value(1.0) * 10**400
    with pytest.raises(ValueError, match="exponent is too large for a float"):
        Value(1.0) ** 10**400


def _seeded() -> list[tuple[str, Callable[[Any], Any], bool]]:
    """Every function that takes a seed: (name, call with that seed, None allowed)."""
    X, y = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]], [1, 1, 0, 0]
    made: list[tuple[str, Callable[[Any], Any], bool]] = [
        (f"data.{name}", lambda s, name=name: getattr(data, name)(4, seed=s), False)
        for name in ("make_moons", "make_circles", "make_xor", "make_spirals", "make_blobs")
    ]
    made += [
        ("data.make_sine", lambda s: data.make_sine(4, noise=0.1, seed=s), False),
        ("data.train_test_split", lambda s: data.train_test_split(X, y, seed=s), False),
        ("data.load_titanic", lambda s: data.load_titanic(seed=s), False),
        ("nn.manual_seed", nn.manual_seed, False),
        ("nn.MLP", lambda s: nn.MLP(2, [2, 1], seed=s), True),
        ("nn.Dropout", lambda s: nn.Dropout(0.5, seed=s), True),
        (
            "train.fit",
            lambda s: train.fit(nn.MLP(2, [1], seed=0), X, y, epochs=1, seed=s, progress=False),
            False,
        ),
    ]
    return made


@pytest.mark.parametrize(
    ("seed", "error"),
    [
        (math.nan, TypeError),
        (None, TypeError),  # where None means nothing (an optional seed takes it: below)
        (1.0, TypeError),
        (1.5, TypeError),
        ([1], TypeError),
        ("1", TypeError),
        (True, TypeError),
        (Fraction(1), TypeError),
        (-1, ValueError),
    ],
)
@pytest.mark.parametrize("name", [name for name, _, _ in _seeded()])
def test_every_seed_is_an_int_at_least_0_checked_by_name(name, seed, error):
    call, optional = {n: (c, o) for n, c, o in _seeded()}[name]
    if seed is None and optional:
        call(None)
        return
    generator = nn._generator.getstate()
    with pytest.raises(error, match=r"^seed must be an int >= 0") as info:
        call(seed)
    assert ("or None" in str(info.value)) == (optional and error is TypeError)
    assert nn._generator.getstate() == generator  # refused before anything was drawn
    call(np.int64(3))  # NumPy's ints are ints


def test_the_reported_nan_seed_is_refused_and_an_int_seed_repeats():
    with pytest.raises(TypeError, match="seed must be an int >= 0, got float nan"):
        data.make_moons(4, seed=float("nan"))
    assert data.make_moons(4, seed=7) == data.make_moons(4, seed=np.int64(7))
