"""Optimizers: the update step that follows ``backward()``. Same rules and names as ``torch.optim``.

    opt = Adam(model.parameters(), lr=0.01)
    for ...:
        opt.zero_grad()
        loss = ...
        loss.backward()
        opt.step()

Each optimizer keeps its per-parameter state (velocities, averages) in plain float lists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from microgradx.checks import is_real
from microgradx.engine import Value, zero_grad


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


ParamGroup = Mapping[str, Any]  # {"params": [...], "weight_decay": 0.0}


class Optimizer:
    """Holds the parameters and the learning rate ``lr`` (schedules change it between steps).

    ``params`` is a list of Values, or of groups as in PyTorch, each a dict with its own
    ``weight_decay``: the lectures' penalty decays the weights, not the biases::

        Adam([{"params": weights, "weight_decay": 1e-3}, {"params": biases}], lr=0.01)

    (``decay_weights_only(model, 1e-3)`` builds that list from a model.)
    """

    def __init__(
        self, params: Iterable[Value] | Iterable[ParamGroup], lr: float, weight_decay: float = 0.0
    ) -> None:
        _check(
            is_real(weight_decay) and weight_decay >= 0,
            f"weight_decay must be >= 0, got {weight_decay!r}",
        )
        self.params: list[Value] = []
        self.decay: list[float] = []  # each parameter's weight decay
        items: list[Any] = list(params)
        for item in items:
            if isinstance(item, Mapping):
                group = list(item.get("params", ()))
                decay = item.get("weight_decay", weight_decay)
                _check(
                    is_real(decay) and decay >= 0,
                    f"a group's weight_decay must be >= 0, got {decay!r}",
                )
                self.params += group
                self.decay += [float(decay)] * len(group)
            else:
                self.params.append(item)
                self.decay.append(float(weight_decay))
        _check(bool(self.params), "optimizer got an empty parameter list")
        first: dict[int, int] = {}
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"parameter {i} must be a Value, got {type(p).__name__}")
            if id(p) in first:
                # it would be stepped twice per step, moving twice as far (PyTorch refuses too)
                raise ValueError(
                    f"parameter {i} is the same Value as parameter {first[id(p)]}: give each"
                    " parameter once (model.parameters() lists a shared one once)"
                )
            first[id(p)] = i
        _check(
            is_real(lr) and not isinstance(lr, bool) and 0 < lr < math.inf,
            f"lr must be a number > 0, got {lr!r}",
        )
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.steps = 0

    def zero_grad(self) -> None:
        """Every parameter's gradient to 0, before the next ``backward()``."""
        zero_grad(self.params)

    def _gradients(self) -> list[float]:
        """Each parameter's gradient plus its weight decay: g = dL/dw + weight_decay * w."""
        return [float(p.grad) + wd * p.data for p, wd in zip(self.params, self.decay)]

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """w -= lr * g; with momentum: v = momentum * v + g, w -= lr * v.

    Nesterov momentum looks ahead: w -= lr * (g + momentum * v).
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        _check(momentum >= 0, f"momentum must be >= 0, got {momentum!r}")
        _check(not nesterov or momentum > 0, "nesterov needs momentum > 0")
        self.momentum = float(momentum)
        self.nesterov = nesterov
        self.velocity: list[float] | None = None

    def step(self) -> None:
        grads = self._gradients()
        if self.momentum:
            if self.velocity is None:
                self.velocity = grads[:]  # the first step starts from the gradient (as torch)
            else:
                self.velocity = [self.momentum * v + g for v, g in zip(self.velocity, grads)]
            if self.nesterov:
                grads = [g + self.momentum * v for g, v in zip(grads, self.velocity)]
            else:
                grads = self.velocity
        for p, g in zip(self.params, grads):
            p.data -= self.lr * g
        self.steps += 1


class RMSprop(Optimizer):
    """s = alpha * s + (1 - alpha) * g^2;  w -= lr * g / (sqrt(s) + eps): per-weight step sizes."""

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        _check(0 <= alpha < 1, f"alpha must be in [0, 1), got {alpha!r}")
        _check(eps > 0, f"eps must be > 0, got {eps!r}")
        _check(momentum >= 0, f"momentum must be >= 0, got {momentum!r}")
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)
        self.square_avg = [0.0] * len(self.params)
        self.buffer = [0.0] * len(self.params)

    def step(self) -> None:
        a = self.alpha
        for i, (p, g) in enumerate(zip(self.params, self._gradients())):
            self.square_avg[i] = a * self.square_avg[i] + (1 - a) * g * g
            update = g / (math.sqrt(self.square_avg[i]) + self.eps)
            if self.momentum:
                self.buffer[i] = self.momentum * self.buffer[i] + update
                update = self.buffer[i]
            p.data -= self.lr * update
        self.steps += 1


class Adam(Optimizer):
    """Adam: m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
    w -= lr * m_hat / (sqrt(v_hat) + eps).

    m_hat = m / (1 - b1^t) and v_hat = v / (1 - b2^t) undo the bias of starting m and v at 0.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 0.001,
        betas: Sequence[float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay)
        _check(len(betas) == 2, f"betas must be a pair, got {betas!r}")
        b1, b2 = betas
        _check(0 <= b1 < 1 and 0 <= b2 < 1, f"betas must be in [0, 1), got {tuple(betas)!r}")
        _check(eps > 0, f"eps must be > 0, got {eps!r}")
        self.betas = (float(b1), float(b2))
        self.eps = float(eps)
        self.m = [0.0] * len(self.params)
        self.v = [0.0] * len(self.params)

    def step(self) -> None:
        b1, b2 = self.betas
        t = self.steps + 1
        correction1, correction2 = 1 - b1**t, 1 - b2**t
        for i, (p, g) in enumerate(zip(self.params, self._gradients())):
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * g * g
            # The same arrangement of the arithmetic as torch.optim.Adam (so results agree).
            denominator = math.sqrt(self.v[i]) / math.sqrt(correction2) + self.eps
            p.data -= (self.lr / correction1) * self.m[i] / denominator
        self.steps = t


# ---- learning-rate schedules ---------------------------------------------------------------------


class Schedule:
    """Sets ``optimizer.lr`` from the base rate and the epoch; call ``step()`` once per epoch."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"a schedule needs an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def rate(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.epoch += 1
        self.optimizer.lr = self.rate(self.epoch)


class StepLR(Schedule):
    """lr = base_lr * gamma ** (epoch // step_size): drop by a factor every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        _check(isinstance(step_size, int) and step_size >= 1, "step_size must be an int >= 1")
        _check(0 < gamma <= 1, f"gamma must be in (0, 1], got {gamma!r}")
        self.step_size, self.gamma = step_size, gamma

    def rate(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class LinearLR(Schedule):
    """lr falls linearly from base_lr to base_lr * end_factor over ``total`` epochs, then stays."""

    def __init__(self, optimizer: Optimizer, total: int, end_factor: float = 0.0) -> None:
        super().__init__(optimizer)
        _check(isinstance(total, int) and total >= 1, "total must be an int >= 1")
        _check(0 <= end_factor <= 1, f"end_factor must be in [0, 1], got {end_factor!r}")
        self.total, self.end_factor = total, end_factor

    def rate(self, epoch: int) -> float:
        fraction = min(epoch, self.total) / self.total
        return self.base_lr * (1 + (self.end_factor - 1) * fraction)


class CosineLR(Schedule):
    """lr = min_lr + (base_lr - min_lr) (1 + cos(pi * epoch / total)) / 2: a smooth decay."""

    def __init__(self, optimizer: Optimizer, total: int, min_lr: float = 0.0) -> None:
        super().__init__(optimizer)
        _check(isinstance(total, int) and total >= 1, "total must be an int >= 1")
        _check(0 <= min_lr <= self.base_lr, "min_lr must be in [0, lr]")
        self.total, self.min_lr = total, min_lr

    def rate(self, epoch: int) -> float:
        fraction = min(epoch, self.total) / self.total
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * fraction)) / 2


def clip_grad_norm(params: Iterable[Value], max_norm: float) -> float:
    """Scale all gradients down so their joint L2 norm is at most ``max_norm``; returns the norm
    before clipping (as ``torch.nn.utils.clip_grad_norm_``)."""
    _check(max_norm > 0, f"max_norm must be > 0, got {max_norm!r}")
    params = list(params)
    norm = math.sqrt(sum(float(p.grad) ** 2 for p in params))
    scale = max_norm / (norm + 1e-6)  # torch's epsilon and rule, so the results agree
    if scale < 1:
        for p in params:
            p.grad = float(p.grad) * scale
    return norm


def decay_weights_only(model: Any, weight_decay: float) -> list[ParamGroup]:
    """Parameter groups that decay a model's weights and not its biases (named ``...b``), as the
    lectures' penalty (lambda / 2) * sum of w^2 does."""
    named = model.named_parameters()
    weights = [p for name, p in named if not (name == "b" or name.endswith(".b"))]
    biases = [p for name, p in named if name == "b" or name.endswith(".b")]
    return [
        {"params": weights, "weight_decay": weight_decay},
        {"params": biases, "weight_decay": 0.0},
    ]
