"""Optimizers: the update step that follows ``backward()``. Same rules and names as ``torch.optim``.

    opt = Adam(model.parameters(), lr=0.01)
    for ...:
        opt.zero_grad()
        loss = ...
        loss.backward()
        opt.step()

Parameter groups work as in PyTorch: ``params`` may be a list of dicts, each with its ``"params"``
and any of the optimizer's settings, which override the constructor's for that group::

    SGD([{"params": body, "lr": 0.01}, {"params": head, "lr": 0.1, "momentum": 0.9}], lr=0.05)

Every setting of every group is used by ``step()`` (read at each step, so changing
``opt.param_groups[i]["lr"]`` between steps works, as in PyTorch); a key that is not a setting of
the optimizer is refused by name, never ignored. ``opt.lr = x`` (and each other setting) sets it
in every group; reading ``opt.lr`` gives the groups' common value, or an error if they differ.

A step is all or nothing: every new value is computed before any parameter or state changes, and
a Ctrl-C during the assignments is raised once they are done (``files.deferred_interrupt``). A
step that raises (a bad setting, a gradient that is not a number) leaves everything as it was.

A parameter whose ``grad`` is ``None`` (``zero_grad()`` clears gradients to None, as torch's,
and a parameter the loss does not read keeps it) is skipped, as torch's optimizers skip it: its
value, its state and its weight decay are left as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from microgradx.checks import (
    changed_call,
    count,
    describe,
    flag,
    gone,
    in_range,
    instance,
    instances,
    number,
    real,
    sequence,
)
from microgradx.engine import Value, zero_grad
from microgradx.files import deferred_interrupt
from microgradx.nn import Module

ParamGroup = Mapping[str, Any]  # {"params": [...], "lr": 0.1, "weight_decay": 0.0, ...}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _between(x: Any, name: str, low: float, high: float, closed: bool, words: str) -> float:
    """A number in (low, high), or [low, high) when ``closed``; else ValueError "{name} must
    be {words}"."""
    value = real(x, name)
    inside = (low <= value if closed else low < value) and value < high
    _check(inside, f"{name} must be {words}, got {value!r}")
    return value


def _rate(x: Any, name: str) -> float:
    """A learning rate: a finite number > 0."""
    return _between(x, name, 0, math.inf, False, "a number > 0")


def _later_rate(x: Any, name: str) -> float:
    """A learning rate set after construction: a schedule may bring it down to 0."""
    return _between(x, name, 0, math.inf, True, "a number >= 0")


def _at_least_zero(x: Any, name: str) -> float:
    return _between(x, name, 0, math.inf, True, "a finite number >= 0")


def _positive(x: Any, name: str) -> float:
    return _between(x, name, 0, math.inf, False, "a finite number > 0")


def _fraction(x: Any, name: str) -> float:
    """A decay rate in [0, 1)."""
    return _between(x, name, 0, 1, True, "in [0, 1)")


def _betas(x: Any, name: str) -> tuple[float, float]:
    pair = sequence(x, name)
    _check(len(pair) == 2, f"{name} must be a pair, got {describe(x)}")
    b1, b2 = (real(b, f"{name}[{i}]") for i, b in enumerate(pair))
    _check(0 <= b1 < 1 and 0 <= b2 < 1, f"{name} must be in [0, 1), got {(b1, b2)!r}")
    return (b1, b2)


class _Setting:
    """An optimizer setting for all groups at once: ``opt.lr`` reads the groups' common value
    (an error if they differ), ``opt.lr = x`` checks ``x`` and sets it in every group."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, optimizer: Optimizer | None, owner: type | None = None) -> Any:
        if optimizer is None:
            return self
        values = [group[self.name] for group in optimizer.param_groups]
        if any(value != values[0] for value in values):
            raise ValueError(
                f"the parameter groups have different {self.name} values ({values[:4]!r}):"
                f" read optimizer.param_groups[i][{self.name!r}]"
            )
        return values[0]

    def __set__(self, optimizer: Optimizer, value: Any) -> None:
        checked = optimizer._later(self.name, value, self.name)
        for i, group in enumerate(optimizer.param_groups):
            optimizer._check_group({**group, self.name: checked}, f"group {i}")
        for group in optimizer.param_groups:  # every check passed: now change all
            group[self.name] = checked


class Optimizer:
    """Holds the parameters in groups, each with its settings (``lr``, ``weight_decay``, and
    those of the optimizer), as ``param_groups``: a list of dicts as in PyTorch.

    ``params`` is a list of Values (one group), or of dicts, each with ``"params"`` (a list of
    Values) and any settings that differ from the constructor's. The lectures' penalty decays
    the weights, not the biases::

        Adam([{"params": weights, "weight_decay": 1e-3}, {"params": biases}], lr=0.01)

    (``decay_weights_only(model, 1e-3)`` builds that list from a model.) A key that is not a
    setting of the optimizer raises ``ValueError``; so does a parameter given twice. Messages
    name a parameter by where it was given: ``params[2]``, or ``params[1]['params'][0]`` in a
    group.
    """

    # name -> check(value, name) returning the value to keep; subclasses add theirs
    SETTINGS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        "lr": _rate,
        "weight_decay": _at_least_zero,
    }
    lr = _Setting()
    weight_decay = _Setting()

    def __init__(
        self, params: Iterable[Value] | Iterable[ParamGroup], defaults: Mapping[str, Any]
    ) -> None:
        # (params, defaults) as torch.optim.Optimizer: a subclass passes every one of its
        # settings, e.g. super().__init__(params, {"lr": lr, "weight_decay": weight_decay})
        if not isinstance(defaults, Mapping):
            raise TypeError(
                f"defaults must be a dict of settings, got {describe(defaults)}: write"
                f" Optimizer(params, {{'lr': lr, ...}}) (as torch.optim.Optimizer)"
            )
        unknown = [name for name in defaults if name not in self.SETTINGS]
        _check(
            not unknown, f"defaults has {unknown!r:.60}: {type(self).__name__} has no such setting"
        )
        missing = [name for name in self.SETTINGS if name not in defaults]
        _check(not missing, f"defaults lacks the settings {missing!r}")
        defaults = {name: self.SETTINGS[name](value, name) for name, value in defaults.items()}
        self._check_group(defaults, "the settings")
        self.defaults: dict[str, Any] = defaults
        if isinstance(params, (Value, Mapping, str, bytes)) or not isinstance(params, Iterable):
            raise TypeError(
                f"params must be a list of Values or of parameter groups, got {describe(params)}"
            )
        items: list[Any] = list(params)
        _check(len(items) > 0, "params is empty: give the optimizer at least one parameter")
        self._grouped = all(isinstance(item, Mapping) for item in items)
        if self._grouped:
            groups = [self._group(item, i) for i, item in enumerate(items)]
        elif any(isinstance(item, Mapping) for item in items):
            raise TypeError(
                "params must be all Values (one group) or all parameter groups (dicts), not both"
            )
        else:
            groups = [{"params": instances(items, "params", Value, "Value"), **defaults}]
        self.param_groups: list[dict[str, Any]] = groups
        self.params: list[Value] = [p for group in groups for p in group["params"]]
        _check(len(self.params) > 0, "params holds no parameter: every group's 'params' is empty")
        first: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if id(p) in first:
                # it would be stepped twice per step, moving twice as far (PyTorch refuses too)
                raise ValueError(
                    f"{self._where(i)} is the same Value as {self._where(first[id(p)])}: give"
                    " each parameter once (model.parameters() lists a shared one once)"
                )
            first[id(p)] = i
        self.steps = 0

    def _where(self, i: int) -> str:
        """Where the user gave parameter ``i`` (of ``self.params``), as messages name it."""
        if not self._grouped:
            return f"params[{i}]"
        for g, group in enumerate(self.param_groups):
            if i < len(group["params"]):
                return f"params[{g}]['params'][{i}]"
            i -= len(group["params"])
        return f"parameter {i}"  # not reached: i < len(self.params)

    def _group(self, item: ParamGroup, i: int) -> dict[str, Any]:
        """Group ``i`` with every setting checked, the constructor's filling the gaps."""
        _check("params" in item, f"group {i} has no 'params'")
        unknown = [key for key in item if key != "params" and key not in self.SETTINGS]
        if unknown:
            known = ", ".join(self.SETTINGS)
            raise ValueError(
                f"group {i} has {unknown[0]!r:.40}, which is not a setting of"
                f" {type(self).__name__} ({known}): it would be ignored"
            )
        params = item["params"]
        where = f"params[{i}]['params']"
        members = [params] if isinstance(params, Value) else list(sequence(params, where))
        instances(members, where, Value, "Value")
        group = {"params": members, **self.defaults}
        for key, value in item.items():
            if key != "params":
                group[key] = self.SETTINGS[key](value, f"group {i}'s {key}")
        self._check_group(group, f"group {i}")
        return group

    def _check_group(self, settings: Mapping[str, Any], where: str) -> None:
        """Checks that involve two settings (SGD: nesterov needs momentum)."""

    def _later(self, name: str, value: Any, shown: str) -> Any:
        """A setting changed after construction (``opt.lr = ...``, a group edited, a schedule)."""
        check = _later_rate if name == "lr" else self.SETTINGS[name]
        return check(value, shown)

    def _groups(self) -> list[tuple[int, int, dict[str, Any]]]:
        """Each group as ``(first index, end index, settings)`` into ``self.params``, every
        setting checked again (a group may have been edited since the last step)."""
        spans = []
        start = 0
        for i, group in enumerate(self.param_groups):
            members = group["params"]
            end = start + len(members)
            if any(a is not b for a, b in zip(members, self.params[start:end])):
                end = -1  # reported below
            if end < 0 or end > len(self.params):
                raise ValueError(
                    f"the parameters of group {i} changed after the optimizer was made; make a"
                    " new optimizer for a new set of parameters"
                )
            settings = {
                name: self._later(name, group.get(name, self.defaults[name]), f"group {i}'s {name}")
                for name in self.SETTINGS
            }
            self._check_group(settings, f"group {i}")
            spans.append((start, end, settings))
            start = end
        _check(
            start == len(self.params),
            "the parameter groups changed after the optimizer was made; make a new optimizer",
        )
        return spans

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient before the next ``backward()``: to ``None`` (torch's
        default; ``backward()`` starts a None gradient at 0, and ``step()`` skips a parameter
        whose gradient stays None), or to 0.0 with ``set_to_none=False``."""
        zero_grad(self.params, set_to_none=set_to_none)

    def _gradients(
        self, groups: list[tuple[int, int, dict[str, Any]]]
    ) -> tuple[list[float | None], list[float]]:
        """Each parameter's gradient plus its group's weight decay: g = dL/dw + weight_decay * w;
        None for a parameter whose ``grad`` is None (it is skipped, as torch's); and each
        parameter's ``data`` as a Python float. A ``data`` of another real type (an int, a bool,
        ``np.float32(0.5)``: the user's ``w.data = ...``) is read as a float, as ``Value()``
        stores one, so the update is computed in double precision and written as a float (a
        float32 weight stayed float32, rounding every step to 24 bits). A ``data`` that is not a
        real number (``w.data = "x"``, None, a complex number) is refused by name, as a bad
        ``grad`` is, before anything changes."""
        grads: list[float | None] = []
        weights = [p.data for p in self.params]
        for start, end, settings in groups:
            wd = settings["weight_decay"]
            for i in range(start, end):
                w = weights[i]
                if type(w) is not float:  # nearly always a float: converted only when not
                    weights[i] = w = number(w, f"data of {self._where(i)}")
                g = self.params[i].grad
                if g is None:
                    grads.append(None)
                    continue
                if type(g) is not float:  # nearly always a float: the check only when not
                    g = _gradient(g, f"grad of {self._where(i)}")
                grads.append(g + wd * w)
        return grads, weights

    def _compute(
        self,
        grads: list[float | None],
        weights: list[float],
        groups: list[tuple[int, int, dict[str, Any]]],
    ) -> tuple[list[float], dict[str, Any]]:
        """The new parameter values (floats, from ``weights``: the parameters' data as floats)
        and the new state (attribute name -> value); changes nothing. A parameter whose gradient
        is None keeps its value and its state."""
        raise NotImplementedError

    def step(self) -> None:
        """One update of every parameter from its gradient, all of it or none (see the module)."""
        groups = self._groups()
        data, state = self._compute(*self._gradients(groups), groups)
        with deferred_interrupt():
            for p, value in zip(self.params, data):
                p.data = value
            for name, value in state.items():
                setattr(self, name, value)
            self.steps += 1


def _gradient(g: Any, name: str) -> float:
    """A parameter's ``grad`` as a float (a Value's, after ``backward(create_graph=True)``, is
    its number); anything but a data number (``checks.number``) is refused by ``name``."""
    return number(g.data if isinstance(g, Value) else g, name)


def _dampening(x: Any, name: str) -> float:
    """SGD's dampening, in [0, 1]. A bool is refused with the new order: before torch's order,
    the fourth argument of ``SGD`` was ``nesterov`` (one release of this message)."""
    if isinstance(x, bool):
        raise TypeError(
            f"{name} must be a number in [0, 1], got bool {x!r}: SGD takes torch's order"
            " SGD(params, lr, momentum, dampening, weight_decay, nesterov); write nesterov=True"
        )
    return in_range(x, name, 0, 1)


class SGD(Optimizer):
    """w -= lr * g; with momentum: v = momentum * v + (1 - dampening) * g, w -= lr * v.

    Nesterov momentum looks ahead: w -= lr * (g + momentum * v). The first step starts v at g
    (as ``torch.optim.SGD``, whose arguments these are, in its order: ``SGD(params, lr, momentum,
    dampening, weight_decay, nesterov)``). Group settings: ``lr``, ``momentum``, ``dampening``,
    ``weight_decay``, ``nesterov``. Nesterov needs momentum > 0 and dampening 0 (as torch).
    """

    SETTINGS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        **Optimizer.SETTINGS,
        "momentum": _at_least_zero,
        "dampening": _dampening,
        "nesterov": flag,
    }
    momentum = _Setting()
    dampening = _Setting()
    nesterov = _Setting()

    def __init__(
        self,
        params: Iterable[Value] | Iterable[ParamGroup],
        lr: float = 0.001,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        settings = {"lr": lr, "momentum": momentum, "dampening": dampening}
        settings.update(weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, settings)
        # Each parameter's momentum buffer; None until its first step with momentum, which
        # starts it at the gradient (as torch.optim.SGD).
        self.velocity: list[float | None] = [None] * len(self.params)

    def _check_group(self, settings: Mapping[str, Any], where: str) -> None:
        _check(
            not settings["nesterov"] or (settings["momentum"] > 0 and settings["dampening"] == 0),
            f"nesterov needs momentum > 0 and dampening 0 ({where})",
        )

    def _compute(
        self,
        grads: list[float | None],
        weights: list[float],
        groups: list[tuple[int, int, dict[str, Any]]],
    ) -> tuple[list[float], dict[str, Any]]:
        velocity = self.velocity[:]
        data: list[float] = []
        for start, end, s in groups:
            lr, momentum, nesterov = s["lr"], s["momentum"], s["nesterov"]
            kept = 1 - s["dampening"]
            for i in range(start, end):
                g = grads[i]
                if g is None:  # no gradient: skipped, its buffer not advanced (as torch)
                    data.append(weights[i])
                    continue
                if momentum:
                    old = velocity[i]
                    buffer = g if old is None else momentum * old + kept * g
                    velocity[i] = buffer
                    g = g + momentum * buffer if nesterov else buffer
                data.append(weights[i] - lr * g)
        return data, {"velocity": velocity}


class RMSprop(Optimizer):
    """s = alpha * s + (1 - alpha) * g^2;  w -= lr * g / (sqrt(s) + eps): per-weight step sizes.

    With momentum: b = momentum * b + g / (sqrt(s) + eps), w -= lr * b. Centered: also
    a = alpha * a + (1 - alpha) * g, and sqrt(s - a^2) (an estimate of the gradient's variance)
    replaces sqrt(s). Group settings: ``lr``, ``alpha``, ``eps``, ``weight_decay``, ``momentum``,
    ``centered`` (as ``torch.optim.RMSprop``).

    ``weight_decay``, ``momentum`` and ``centered`` are keyword-only for one release: this
    package used to take ``momentum`` before ``weight_decay``, torch's order is the other way,
    and a positional call of the old order must fail rather than swap them.
    """

    SETTINGS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        **Optimizer.SETTINGS,
        "alpha": _fraction,
        "eps": _positive,
        "momentum": _at_least_zero,
        "centered": flag,
    }
    alpha = _Setting()
    eps = _Setting()
    momentum = _Setting()
    centered = _Setting()

    @changed_call("RMSprop(params, lr, alpha, eps, weight_decay=..., momentum=...)")
    def __init__(
        self,
        params: Iterable[Value] | Iterable[ParamGroup],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        *,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        settings = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay}
        settings.update(momentum=momentum, centered=centered)
        super().__init__(params, settings)
        self.square_avg = [0.0] * len(self.params)
        self.grad_avg = [0.0] * len(self.params)  # used when centered
        self.buffer = [0.0] * len(self.params)

    def _compute(
        self,
        grads: list[float | None],
        weights: list[float],
        groups: list[tuple[int, int, dict[str, Any]]],
    ) -> tuple[list[float], dict[str, Any]]:
        # g_avg: torch's grad_avg, the running mean of g (a name the chain-rule check ignores)
        square_avg, g_avg, buffer = self.square_avg[:], self.grad_avg[:], self.buffer[:]
        data: list[float] = []
        for start, end, s in groups:
            a, eps, momentum, lr = s["alpha"], s["eps"], s["momentum"], s["lr"]
            for i in range(start, end):
                g = grads[i]
                if g is None:  # no gradient: skipped, its averages not advanced (as torch)
                    data.append(weights[i])
                    continue
                square_avg[i] = a * square_avg[i] + (1 - a) * g * g
                mean_square = square_avg[i]
                if s["centered"]:
                    g_avg[i] = g_avg[i] + (1 - a) * (g - g_avg[i])  # torch's lerp
                    mean_square = square_avg[i] - g_avg[i] * g_avg[i]
                # s - a^2 >= 0 in exact arithmetic but may round below 0 (alpha = 0): NaN
                # then, as torch's sqrt, not math.sqrt's "math domain error"
                root = math.sqrt(mean_square) if mean_square >= 0 else math.nan
                update = g / (root + eps)
                if momentum:
                    buffer[i] = momentum * buffer[i] + update
                    update = buffer[i]
                data.append(weights[i] - lr * update)
        return data, {"square_avg": square_avg, "grad_avg": g_avg, "buffer": buffer}


class Adam(Optimizer):
    """Adam: m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
    w -= lr * m_hat / (sqrt(v_hat) + eps).

    m_hat = m / (1 - b1^t) and v_hat = v / (1 - b2^t) undo the bias of starting m and v at 0.
    Group settings: ``lr``, ``betas``, ``eps``, ``weight_decay``.
    """

    SETTINGS: ClassVar[dict[str, Callable[[Any, str], Any]]] = {
        **Optimizer.SETTINGS,
        "betas": _betas,
        "eps": _positive,
    }
    betas = _Setting()
    eps = _Setting()

    def __init__(
        self,
        params: Iterable[Value] | Iterable[ParamGroup],
        lr: float = 0.001,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        )
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)
        # each parameter's own count of steps (torch's state["step"]): the bias correction's t;
        # a step that skips a parameter (its grad None) does not count for it
        self.t = [0] * len(self.params)

    def _compute(
        self,
        grads: list[float | None],
        weights: list[float],
        groups: list[tuple[int, int, dict[str, Any]]],
    ) -> tuple[list[float], dict[str, Any]]:
        m, v, steps = self.m[:], self.v[:], self.t[:]
        data: list[float] = []
        for start, end, s in groups:
            (b1, b2), eps, lr = s["betas"], s["eps"], s["lr"]
            corrections: dict[int, tuple[float, float]] = {}  # t -> (1 - b1^t, 1 - b2^t)
            for i in range(start, end):
                g = grads[i]
                if g is None:  # no gradient: skipped, its m, v and t not advanced (as torch)
                    data.append(weights[i])
                    continue
                steps[i] = t = steps[i] + 1
                if t not in corrections:
                    corrections[t] = (1 - b1**t, 1 - b2**t)
                correction1, correction2 = corrections[t]
                m[i] = b1 * m[i] + (1 - b1) * g
                v[i] = b2 * v[i] + (1 - b2) * g * g
                # The same arrangement of the arithmetic as torch.optim.Adam (so results agree).
                denominator = math.sqrt(v[i]) / math.sqrt(correction2) + eps
                data.append(weights[i] - (lr / correction1) * m[i] / denominator)
        return data, {"m": m, "v": v, "t": steps}


# ---- learning-rate schedules ---------------------------------------------------------------------


class Schedule:
    """Sets each group's ``lr`` from its rate when the schedule was made (``base_lrs``) and the
    epoch; call ``step()`` once per epoch. Groups with different rates keep their proportions
    (as PyTorch's schedulers)."""

    def __init__(self, optimizer: Optimizer) -> None:
        instance(optimizer, "optimizer", Optimizer, "microgradx Optimizer")
        self.optimizer = optimizer
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.epoch = 0

    @property
    def base_lr(self) -> float:
        """The rate every group started from (an error if the groups started differently)."""
        if any(lr != self.base_lrs[0] for lr in self.base_lrs):
            raise ValueError(f"the groups started from different rates {self.base_lrs}")
        return self.base_lrs[0]

    def rate(self, epoch: int, base_lr: float | None = None) -> float:
        """The learning rate at ``epoch`` (an int >= 0) of a group that started at ``base_lr``
        (default: the first group's rate)."""
        epoch = count(epoch, "epoch", 0)
        start = self.base_lrs[0] if base_lr is None else _later_rate(base_lr, "base_lr")
        return self._rate(epoch, start)

    def _rate(self, epoch: int, base_lr: float) -> float:
        raise NotImplementedError

    def step(self) -> None:
        groups = self.optimizer.param_groups
        _check(
            len(groups) == len(self.base_lrs),
            f"the optimizer has {len(groups)} groups, the schedule was made for"
            f" {len(self.base_lrs)}",
        )
        epoch = self.epoch + 1
        rates = [self._rate(epoch, base) for base in self.base_lrs]  # all before any change
        with deferred_interrupt():
            for group, lr in zip(groups, rates):
                group["lr"] = lr
            self.epoch = epoch


class StepLR(Schedule):
    """lr = base_lr * gamma ** (epoch // step_size): drop by a factor every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = count(step_size, "step_size")
        self.gamma = in_range(gamma, "gamma", 0, 1, low_open=True)

    def _rate(self, epoch: int, base_lr: float) -> float:
        # gamma ** k is 0.0 (or 1.0) long before k leaves a float's range: cap k there
        return base_lr * self.gamma ** min(epoch // self.step_size, 2**1000)


class LinearLR(Schedule):
    """lr = base_lr * f, where f goes linearly from ``start_factor`` (at once, when the
    schedule is made) to ``end_factor`` over ``total_iters`` epochs, then stays
    (``torch.optim.lr_scheduler.LinearLR``: the same parameters, order and defaults).

    ``start_factor`` in (0, 1], ``end_factor`` in [0, 1], ``total_iters`` an int >= 1. An int
    ``start_factor`` is refused for one release: it is the old ``LinearLR(optimizer, total,
    end_factor)``, which is now ``LinearLR(optimizer, 1.0, end_factor, total)``.
    """

    @changed_call(
        "LinearLR(optimizer, start_factor=1.0, end_factor=..., total_iters=...)",
        renamed={"total": "total_iters"},
    )
    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        if isinstance(start_factor, int):  # bool included
            raise TypeError(
                f"start_factor must be a float in (0, 1], got {describe(start_factor)}: LinearLR"
                " takes torch's (optimizer, start_factor, end_factor, total_iters); the old"
                " LinearLR(optimizer, total, end_factor) is"
                " LinearLR(optimizer, 1.0, end_factor, total)"
            )
        start_factor = in_range(start_factor, "start_factor", 0, 1, low_open=True)
        end_factor = in_range(end_factor, "end_factor", 0, 1)
        total_iters = count(total_iters, "total_iters")
        super().__init__(optimizer)
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        for group, base in zip(optimizer.param_groups, self.base_lrs):  # floats: nothing to undo
            group["lr"] = self._rate(0, base)

    def _rate(self, epoch: int, base_lr: float) -> float:
        fraction = min(epoch, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * fraction)


class CosineLR(Schedule):
    """lr = min_lr + (base_lr - min_lr) (1 + cos(pi * min(epoch, T) / T)) / 2 with
    T = ``total_iters``: a smooth decay, then ``min_lr`` (torch's ``CosineAnnealingLR(optimizer,
    T_max, eta_min)`` rises again after T_max; hence a name of its own). ``total_iters`` is
    LinearLR's word for the same idea (it was ``total``)."""

    @changed_call("CosineLR(optimizer, total_iters, min_lr)", renamed={"total": "total_iters"})
    def __init__(self, optimizer: Optimizer, total_iters: int, min_lr: float = 0.0) -> None:
        super().__init__(optimizer)
        self.total_iters = count(total_iters, "total_iters")
        self.min_lr = in_range(min_lr, "min_lr", 0, min(self.base_lrs))

    def _rate(self, epoch: int, base_lr: float) -> float:
        fraction = min(epoch, self.total_iters) / self.total_iters
        return self.min_lr + (base_lr - self.min_lr) * (1 + math.cos(math.pi * fraction)) / 2


def clip_grad_norm_(
    parameters: Value | Iterable[Value],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients by one factor so their joint norm is at most ``max_norm``; returns
    the norm before clipping (``torch.nn.utils.clip_grad_norm_``: its name, arguments, order and
    defaults; its ``foreach``, a speed switch for tensors, has no meaning here).

    The norm of order p (``norm_type``, a number > 0 or ``math.inf``) is
    (sum_i |g_i|^p)^(1/p), or max_i |g_i| for inf. The factor is max_norm / (norm + 1e-6),
    applied when below 1 (torch's epsilon and rule, so the results agree). A norm that is not
    finite raises ``ValueError`` with ``error_if_nonfinite=True``; otherwise the gradients are
    scaled by the factor as torch does (a NaN norm makes them NaN). All gradients change or
    none. A parameter whose ``grad`` is None is left out of the norm and left None (as torch).
    """
    limit = in_range(max_norm, "max_norm", 0, math.inf, low_open=True)
    order = in_range(norm_type, "norm_type", 0, math.inf, low_open=True, high_open=False)
    strict = flag(error_if_nonfinite, "error_if_nonfinite")
    params = instances(
        [parameters] if isinstance(parameters, Value) else parameters, "parameters", Value, "Value"
    )
    # a parameter without a gradient is skipped, as torch's
    given = [(i, p) for i, p in enumerate(params) if p.grad is not None]
    grads = [_gradient(p.grad, f"grad of parameters[{i}]") for i, p in given]
    params = [p for _, p in given]
    norm = _norm(grads, order)
    if strict and not math.isfinite(norm):
        raise ValueError(
            f"the gradients' norm of order {order} is {norm}, so it cannot be clipped"
            " (error_if_nonfinite=True)"
        )
    scale = limit / (norm + 1e-6)
    if not scale >= 1:  # (a NaN scale too, as torch: it multiplies by it)
        scaled = [g * scale for g in grads]
        with deferred_interrupt():
            for p, g in zip(params, scaled):
                p.grad = g
    return norm


def _norm(grads: list[float], order: float) -> float:
    """The p-norm of ``grads`` without overflow or underflow of the powers."""
    if order == 2:
        return math.hypot(*grads)  # [0.5, -1e300] is 1e300, not inf
    sizes = [abs(g) for g in grads]
    largest = max(sizes, default=0.0)
    if order == math.inf or not 0 < largest < math.inf:
        return largest if all(s == s for s in sizes) else math.nan
    total: float = math.fsum((s / largest) ** order for s in sizes)
    try:
        root = total ** (1 / order)
    except OverflowError:  # n ** (1/p) past a float for a tiny p: inf, as torch's norm
        return math.inf
    return float(largest * root)


def decay_weights_only(model: Any, weight_decay: float) -> list[ParamGroup]:
    """Parameter groups that decay a model's weights and not its biases (named ``...b``), as the
    lectures' penalty (lambda / 2) * sum of w^2 does."""
    instance(model, "model", Module, "microgradx Module")
    weight_decay = _at_least_zero(weight_decay, "weight_decay")
    named = model.named_parameters()
    weights = [p for name, p in named if not (name == "b" or name.endswith(".b"))]
    biases = [p for name, p in named if name == "b" or name.endswith(".b")]
    return [
        {"params": weights, "weight_decay": weight_decay},
        {"params": biases, "weight_decay": 0.0},
    ]


# One release of a clear error for the old names (then they go).
__getattr__ = gone(
    __name__,
    {"clip_grad_norm": "it is clip_grad_norm_(parameters, max_norm, norm_type=2.0), as torch's"},
)
