"""Hostile inputs to optim, train, io, replay and viz: each test is a finding that once raised a
raw Python error from deep inside (or broke a rule), kept as its regression test."""

from __future__ import annotations

import math

from microgradx.engine import Value
from microgradx.optim import RMSprop, clip_grad_norm_


def test_centered_rmsprop_whose_variance_rounds_below_zero_steps_to_nan_as_torch():
    # alpha = 0: s = g^2 and a = g, so s - a^2 is 0 in exact arithmetic; the lerp rounds a to
    # -0.7000000000000002 and s - a^2 to -2.2e-16, whose math.sqrt raised "math domain error"
    p = Value(1.0)
    opt = RMSprop([p], lr=0.1, alpha=0.0, centered=True)
    p.grad = 3.0
    opt.step()
    p.grad = -0.7
    opt.step()  # torch: sqrt of a negative is NaN, and so is the step
    assert math.isnan(p.data)
    assert opt.steps == 2


def test_clip_grad_norm_of_a_tiny_order_is_inf_not_overflow_error():
    # (sum |g|^p)^(1/p) = 2 ** 10000 for p = 1e-4: past a float, so inf (torch's vector_norm)
    params = [Value(1.0), Value(1.0)]
    for p in params:
        p.grad = 1.0
    assert clip_grad_norm_(params, 1.0, norm_type=1e-4) == math.inf
    assert [p.grad for p in params] == [0.0, 0.0]  # scaled by 1 / inf, as torch
