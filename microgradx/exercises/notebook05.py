"""The exercises of notebook 05_training.ipynb: training.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

from microgradx.engine import Value, grad_number
from microgradx.exercises.arithmetic import _sigmoid
from microgradx.exercises.core import Exercise, _m
from microgradx.losses import bce_with_logits
from microgradx.optim import SGD

EXERCISES: list[Exercise] = []


def _bce_grad(z0: float, t: int) -> float:
    z = Value(z0)
    bce_with_logits(z, t).backward()
    return grad_number(z)


EXERCISES.append(
    Exercise(
        "05.bce_logit_grad",
        "dL/dz of binary cross-entropy on a logit, z = -3, t = 1.",
        lambda: _bce_grad(-3.0, 1),
        lambda: [
            _m("wrong sign", "t - σ(z) in place of σ(z) - t", -_bce_grad(-3.0, 1)),
            _m("missing - t", "that is σ(z) alone: subtract t", _sigmoid(-3.0)),
            _m(
                "extra factor f'(z)",
                "on a logit the σ'(z) cancels against 1/(p(1 - p)): dL/dz = σ(z) - t",
                _bce_grad(-3.0, 1) * _sigmoid(-3.0) * (1 - _sigmoid(-3.0)),
            ),
        ],
    )
)


def _momentum(lr: float, momentum: float, dampening: float = 0.0, steps: int = 2) -> float:
    w = Value(2.0)
    opt = SGD([w], lr=lr, momentum=momentum, dampening=dampening)
    for _ in range(steps):
        opt.zero_grad()
        (w * w).backward()
        opt.step()
    return w.data


EXERCISES.append(
    Exercise(
        "05.momentum_two_steps",
        "L = w², w = 2, SGD with lr = 0.1, momentum = 0.9 (v = 0.9 v + g, w -= lr v; the first "
        "step starts v at g): w after two steps.",
        lambda: _momentum(0.1, 0.9),
        lambda: [
            _m(
                "no momentum",
                "that is plain SGD: the second step adds 0.9 × the first velocity",
                _momentum(0.1, 0.0),
            ),
            _m(
                "off by the learning rate",
                "the step is lr·v, not v",
                (lambda w1: w1 - (0.9 * 4.0 + 2 * w1))(_momentum(0.1, 0.9, steps=1)),
            ),
            _m(
                "uphill",
                "w += lr·v climbs the loss: subtract the step",
                (lambda w1: w1 + 0.1 * (0.9 * 4.0 + 2 * w1))(_momentum(0.1, 0.9, steps=1)),
            ),
            _m(
                "dampened",
                "v = 0.9 v + g here (PyTorch's SGD), not 0.9 v + 0.1 g",
                _momentum(0.1, 0.9, dampening=0.9),
            ),
        ],
    )
)


def _decay_grad(lam: float) -> float:
    w = Value(0.8)
    (0.3 * w + lam / 2 * w * w).backward()
    return grad_number(w)


EXERCISES.append(
    Exercise(
        "05.weight_decay_grad",
        "A weight w = 0.8 whose loss gradient is 0.3; with the penalty (λ/2) w², λ = 0.01: the "
        "gradient of loss + penalty.",
        lambda: _decay_grad(0.01),
        lambda: [
            _m("2λw", "d/dw (λ/2) w² = λ w: the ½ cancels the 2", 0.3 + 2 * 0.01 * 0.8),
            _m("λ/2 w", "d/dw (λ/2) w² = λ w, not (λ/2) w", _decay_grad(0.005)),
            _m("no penalty", "that is the loss gradient alone: add λ w", 0.3),
            _m("wrong sign", "the penalty pulls w towards 0: + λ w", 0.3 - 0.01 * 0.8),
        ],
    )
)

EXERCISES.append(
    Exercise(
        "05.dropout_scale",
        "Dropout with p = 0.3 (each unit zeroed with probability 0.3): the factor the survivors "
        "are multiplied by while training.",
        lambda: 1 / (1 - 0.3),
        lambda: [
            _m(
                "1/p",
                "p is the probability of dropping: divide by the keep probability 1 - p",
                1 / 0.3,
            ),
            _m(
                "1 - p",
                "multiplying by 1 - p shrinks; the survivors are scaled up by 1/(1 - p)",
                0.7,
            ),
        ],
    )
)
