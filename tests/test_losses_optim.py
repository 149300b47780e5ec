"""Losses (values, gradients, stability) and optimizers (update rules, schedules, validation)."""

from __future__ import annotations

import contextlib
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradx import Value, gradcheck, losses
from microgradx.optim import SGD, Adam, CosineLR, LinearLR, RMSprop, StepLR, clip_grad_norm_


def test_mse_value_and_gradient():
    p = [Value(1.0), Value(3.0)]
    loss = losses.mse(p, [0.0, 1.0])
    assert loss.data == (1 + 4) / 2
    loss.backward()
    assert [v.grad for v in p] == [1.0, 2.0]  # 2 (p - t) / n
    assert losses.mse(p, [0.0, 1.0], reduction="sum").data == 5.0


def test_cross_entropy_is_finite_for_extreme_logits():
    logits = [Value(1000.0), Value(0.0), Value(-1000.0)]
    loss = losses.cross_entropy(logits, 1)
    assert loss.data == pytest.approx(1000.0)
    loss.backward()
    assert [v.grad for v in logits] == pytest.approx([1.0, -1.0, 0.0])  # softmax - one_hot


def test_log_softmax_and_softmax_are_finite_and_consistent():
    z = [Value(1000.0), Value(0.0), Value(-1000.0)]
    assert [v.data for v in losses.log_softmax(z)] == pytest.approx([0.0, -1000.0, -2000.0])
    assert [v.data for v in losses.softmax(z)] == pytest.approx([1.0, 0.0, 0.0])
    assert losses.logsumexp([Value(math.log(2)), Value(math.log(3))]).data == pytest.approx(
        math.log(5)
    )


def test_bce_with_logits_is_stable_for_any_logit():
    for z, t, expected in [(1000.0, 0, 1000.0), (-1000.0, 1, 1000.0), (1000.0, 1, 0.0)]:
        logit = Value(z)
        loss = losses.bce_with_logits(logit, t)
        assert loss.data == pytest.approx(expected)
        loss.backward()
        assert logit.grad == pytest.approx(Value(z).sigmoid().data - t)  # sigmoid(z) - t


def test_binary_cross_entropy_clamps_its_logs():
    assert losses.binary_cross_entropy(Value(0.0), 1).data == 100.0
    assert losses.binary_cross_entropy(Value(0.8), 1).data == pytest.approx(-math.log(0.8))


def test_hinge_and_l2_penalty():
    s = Value(0.3)
    loss = losses.hinge(s, 1)
    assert loss.data == pytest.approx(0.7)
    loss.backward()
    assert s.grad == -1.0
    assert losses.hinge(Value(2.0), 1).data == 0.0
    w = [Value(1.0), Value(-2.0)]
    penalty = losses.l2_penalty(w, 0.1)
    assert penalty.data == pytest.approx(0.05 * 5)
    penalty.backward()
    assert [v.grad for v in w] == pytest.approx([0.1, -0.2])  # weight_decay * w


@pytest.mark.parametrize(
    "loss",
    [
        lambda a, b, c: losses.mse([a, b], [0.3, -1.0]),
        lambda a, b, c: losses.bce_with_logits([a, b], [1, 0]),
        lambda a, b, c: losses.binary_cross_entropy([a.sigmoid(), b.sigmoid()], [1, 0]),
        lambda a, b, c: losses.cross_entropy([a, b, c], 2),
        lambda a, b, c: losses.hinge([a, b], [1, -1], reduction="sum"),
        lambda a, b, c: losses.logsumexp([a, b, c]),
        lambda a, b, c: losses.softmax([a, b, c])[1],
    ],
)
def test_every_loss_gradient_matches_central_differences(loss):
    gradcheck(loss, [0.3, -0.8, 1.7])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: losses.mse([Value(1)], [1, 2]), ValueError, "1 predictions but 2 targets"),
        (lambda: losses.mse([Value(1)], [1], reduction="max"), ValueError, "reduction"),
        (lambda: losses.cross_entropy([Value(1), Value(2)], 2), ValueError, "out of range"),
        (lambda: losses.cross_entropy([Value(1)], 0.5), TypeError, "must be a class index"),
        (lambda: losses.hinge(Value(1), 0), ValueError, "-1 or \\+1"),
        (lambda: losses.mse([Value(1)], ["a"]), TypeError, "must be a number"),
    ],
)
def test_loss_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---- optimizers ---------------------------------------------------------------------------------


def _quadratic_steps(optimizer_factory, steps=200):
    """Minimise (w - 3)^2 from w = 0; returns the final w."""
    w = Value(0.0)
    opt = optimizer_factory([w])
    for _ in range(steps):
        opt.zero_grad()
        ((w - 3.0) ** 2).backward()
        opt.step()
    return w.data


@pytest.mark.parametrize(
    "factory",
    [
        lambda p: SGD(p, lr=0.1),
        lambda p: SGD(p, lr=0.05, momentum=0.9),
        lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        lambda p: RMSprop(p, lr=0.05),
        lambda p: Adam(p, lr=0.1),
    ],
)
def test_every_optimizer_finds_the_minimum_of_a_quadratic(factory):
    assert _quadratic_steps(factory) == pytest.approx(3.0, abs=2e-2)


def test_sgd_step_by_hand():
    w = Value(2.0)
    opt = SGD([w], lr=0.1, momentum=0.5, weight_decay=0.01)
    w.grad = 1.0
    opt.step()  # g = 1 + 0.01 * 2 = 1.02; v = g; w = 2 - 0.102
    assert w.data == pytest.approx(1.898)
    w.grad = 1.0
    opt.step()  # g = 1 + 0.01 * 1.898; v = 0.5 * 1.02 + g
    assert w.data == pytest.approx(1.898 - 0.1 * (0.51 + 1.01898))


def test_adam_first_step_moves_by_lr():
    w = Value(1.0)
    opt = Adam([w], lr=0.01)
    w.grad = 123.0  # Adam's first step is lr * sign(g), whatever the scale
    opt.step()
    assert w.data == pytest.approx(0.99)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: SGD(p, lr=0), "lr must be a number > 0"),
        (lambda p: SGD(p, lr=-1), "lr must be a number > 0"),
        (lambda p: SGD(p, lr=0.1, momentum=-0.1), "momentum"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), "nesterov needs momentum"),
        (lambda p: Adam(p, betas=(0.9, 1.0)), "betas must be in"),
        (lambda p: Adam(p, betas=(-0.1, 0.9)), "betas must be in"),
        (lambda p: Adam(p, eps=0), "eps must be a finite number > 0"),
        (lambda p: RMSprop(p, alpha=1.0), "alpha"),
        (lambda p: Adam(p, weight_decay=-1), "weight_decay"),
        (lambda p: SGD([], lr=0.1), "params is empty"),
    ],
)
def test_invalid_hyperparameters_raise_at_construction(make, message):
    with pytest.raises(ValueError, match=message):
        make([Value(1.0)])


def test_optimizer_rejects_non_value_parameters():
    with pytest.raises(TypeError, match=r"params\[1\] must be a Value, got float"):
        SGD([Value(1.0), 2.0], lr=0.1)
    with pytest.raises(TypeError, match=r"params must be a list of Values .*, got str"):
        SGD("ab", lr=0.1)  # not a list of two one-letter parameters
    with pytest.raises(TypeError, match=r"params\[1\]\['params'\]\[0\] must be a Value"):
        SGD([{"params": [Value(1.0)]}, {"params": [2.0]}], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[0\] must be a Value, got float64"):
        SGD(np.array([1.0, 2.0]), lr=0.1)


def test_schedules():
    opt = SGD([Value(1.0)], lr=1.0)
    step = StepLR(opt, step_size=2, gamma=0.5)
    rates = []
    for _ in range(5):
        step.step()
        rates.append(opt.lr)
    assert rates == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt = SGD([Value(1.0)], lr=1.0)
    linear = LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=4)
    for _ in range(4):
        linear.step()
    assert opt.lr == 0.0
    opt = SGD([Value(1.0)], lr=1.0)
    cosine = CosineLR(opt, total_iters=2)
    cosine.step()
    assert opt.lr == pytest.approx(0.5)
    cosine.step()
    assert opt.lr == pytest.approx(0.0)


def test_clip_grad_norm():
    a, b = Value(0.0), Value(0.0)
    a.grad, b.grad = 3.0, 4.0
    assert clip_grad_norm_([a, b], 1.0) == 5.0
    assert math.hypot(a.grad, b.grad) == pytest.approx(1.0, rel=1e-5)
    a.grad, b.grad = 0.3, 0.4
    clip_grad_norm_([a, b], 1.0)
    assert (a.grad, b.grad) == (0.3, 0.4)


@pytest.mark.parametrize(
    "grads",
    [
        [0.5, -1e300],  # the report: the squares overflowed, norm inf and grads [0.0, -0.0]
        [3e-200, 4e-200],  # the squares underflowed: norm 0, nothing clipped
        [1e308, 1e308, -1e308],  # the norm itself is beyond the range
        [5e-324, 0.0, -5e-324],
    ],
)
def test_clip_grad_norm_has_no_overflow_or_underflow_in_its_squares(grads):
    import mpmath

    params = [Value(0.0) for _ in grads]
    for p, g in zip(params, grads):
        p.grad = g
    with mpmath.workprec(300):
        exact = mpmath.sqrt(mpmath.fsum(mpmath.mpf(g) ** 2 for g in grads))
        expected = float(exact) if exact < mpmath.mpf(2) ** 1024 else math.inf
        norm = clip_grad_norm_(params, 1.0)
        assert norm == expected  # hypot is correctly rounded on these
        scale = 1.0 / (norm + 1e-6)
        if scale < 1:
            assert [p.grad for p in params] == [g * scale for g in grads]
        else:
            assert [p.grad for p in params] == grads
    if grads == [0.5, -1e300]:
        assert norm == 1e300 and [p.grad for p in params] == [5e-301, -1.0]


# ---- saturation: finite gradients for every finite input ----------------------------------------


@pytest.mark.parametrize(
    ("z", "t", "expected"),
    [
        # sigmoid(40) rounds to 1.0, but sigmoid'(40) = 4.2e-18 (not p (1 - p) = 0, PyTorch's):
        # dL/dz = (-1 / p) sigmoid'(40) = sigmoid(40) - 1 exactly, as it should be
        (40.0, 1, -4.248354255291589e-18),
        (40.0, 0, 0.0),  # log(1 - p) = log(0) is clamped at -100: a constant, gradient 0
        (1000.0, 1, 0.0),  # -e^-1000 underflows to 0
        (-40.0, 0, 4.248354255291589e-18),  # p - t, with p = sigmoid(-40) still above 0
        (-40.0, 1, -1.0),
    ],
)
def test_bce_on_a_saturated_sigmoid_has_the_exact_finite_gradient(z, t, expected):
    logit = Value(z)
    loss = losses.binary_cross_entropy(logit.sigmoid(), t)
    loss.backward()
    assert math.isfinite(loss.data) and math.isfinite(logit.grad)
    assert logit.grad == pytest.approx(expected, rel=1e-12, abs=1e-300)


SATURATING = st.one_of(st.sampled_from([40.0, -40.0, 1000.0, -1000.0]), st.floats(-50, 50))


def _all_finite(values):
    return all(math.isfinite(float(v.grad)) for v in values)


@given(st.lists(SATURATING, min_size=3, max_size=3), st.integers(0, 2))
def test_every_loss_has_finite_gradients_for_finite_inputs(zs, target):
    binary = target % 2
    cases = {
        "mse": lambda v: losses.mse(v[0], zs[1]),
        "binary_cross_entropy": lambda v: losses.binary_cross_entropy(v[0].sigmoid(), binary),
        "bce_with_logits": lambda v: losses.bce_with_logits(v[0], binary),
        "hinge": lambda v: losses.hinge(v[0], 2 * binary - 1),
        "cross_entropy": lambda v: losses.cross_entropy(v, target),
        "logsumexp": lambda v: losses.logsumexp(v),
        "softmax": lambda v: losses.softmax(v)[target],
        "log_softmax": lambda v: losses.log_softmax(v)[target],
        "l2_penalty": lambda v: losses.l2_penalty(v, 1e-3),
    }
    for name, make in cases.items():
        values = [Value(z) for z in zs]
        loss = make(values)
        if name != "mse":  # (1000 - -1000)^2 is finite too; every loss value must be
            assert math.isfinite(loss.data), name
        loss.backward()
        assert _all_finite(values), (name, zs, target, [v.grad for v in values])


def test_optimizers_refuse_a_parameter_given_twice():
    w = Value(1.0)
    for make in (SGD, Adam, RMSprop):
        with pytest.raises(ValueError, match=r"params\[1\] is the same Value as params\[0\]"):
            make([w, w], lr=0.1)


@pytest.mark.parametrize("lr", [math.inf, math.nan, -1.0, 0.0])
def test_learning_rates_that_are_not_positive_finite_numbers_are_refused(lr):
    with pytest.raises(ValueError, match="lr must be a number > 0"):
        SGD([Value(1.0)], lr=lr)


@pytest.mark.parametrize("lr", [True, "0.1", None, [0.1]])
def test_learning_rates_that_are_not_numbers_are_refused_as_such(lr):
    with pytest.raises(TypeError, match="lr must be a real number"):
        SGD([Value(1.0)], lr=lr)


@pytest.mark.torch
# Not -40: there p = 4e-18 and PyTorch divides by max(p (1 - p), 1e-12), which changes its answer
# by orders of magnitude; ours is the exact p - t. Not 40 either: there PyTorch's sigmoid' is
# s (1 - s) = 0, ours the exact 4.2e-18 (see the test above).
@pytest.mark.parametrize("z", [1000.0, -1000.0, 3.0, -3.0])
@pytest.mark.parametrize("t", [0.0, 1.0])
def test_bce_at_saturation_agrees_with_pytorch(torch, z, t):
    logit = Value(z)
    losses.binary_cross_entropy(logit.sigmoid(), t).backward()
    theirs = torch.tensor(z, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(torch.sigmoid(theirs), torch.tensor(t)).backward()
    assert logit.grad == pytest.approx(theirs.grad.item(), rel=1e-9, abs=1e-300)


# ---- weight decay on the weights only -----------------------------------------------------------


def test_parameter_groups_decay_the_weights_and_not_the_biases():
    from microgradx.nn import MLP
    from microgradx.optim import decay_weights_only

    model = MLP(2, [3, 1], seed=0)
    groups = decay_weights_only(model, 0.1)
    assert [len(g["params"]) for g in groups] == [2 * 3 + 3, 3 + 1]
    assert all(p.label.endswith(".b") for p in groups[1]["params"])
    before = {p: p.data for p in model.parameters()}
    SGD(groups, lr=0.5).step()  # no gradient: only the decay moves anything
    for p in groups[0]["params"]:
        assert p.data == before[p] - 0.5 * (0.0 + 0.1 * before[p])
    for p in groups[1]["params"]:
        assert p.data == before[p]


def test_decay_groups_step_like_the_lectures_penalty_on_the_weights():
    from microgradx.nn import MLP
    from microgradx.optim import decay_weights_only

    x, t = [0.5, -1.0], 1
    a, b = MLP(2, [4, 1], seed=3), MLP(2, [4, 1], seed=3)
    losses.bce_with_logits(a(x), t).backward()
    SGD(decay_weights_only(a, 0.01), lr=0.1).step()
    weights = [p for name, p in b.named_parameters() if not name.endswith(".b")]
    (losses.bce_with_logits(b(x), t) + losses.l2_penalty(weights, 0.01)).backward()
    SGD(b.parameters(), lr=0.1).step()
    assert [p.data for p in a.parameters()] == pytest.approx(
        [p.data for p in b.parameters()], rel=1e-12, abs=1e-15
    )


def test_bad_groups_are_refused():
    with pytest.raises(ValueError, match="group 0's weight_decay must be a finite number >= 0"):
        SGD([{"params": [Value(1.0)], "weight_decay": -1}], lr=0.1)
    with pytest.raises(ValueError, match="params holds no parameter"):
        SGD([{"params": []}], lr=0.1)


# ---- parameter groups: every setting of every group is used, or refused -------------------------

# Each optimizer with two groups whose every setting differs from the defaults and each other.
GROUPED = {
    "sgd": (
        lambda groups: SGD(groups, lr=0.05),
        lambda t, groups: t.optim.SGD(groups, lr=0.05),
        [{"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
         {"lr": 0.02, "momentum": 0.5}],
    ),
    "rmsprop": (
        lambda groups: RMSprop(groups, lr=0.01),
        lambda t, groups: t.optim.RMSprop(groups, lr=0.01),
        [{"lr": 0.02, "alpha": 0.9, "eps": 1e-6, "momentum": 0.5},
         {"lr": 0.005, "alpha": 0.8, "weight_decay": 0.1}],
    ),
    "adam": (
        lambda groups: Adam(groups, lr=0.01),
        lambda t, groups: t.optim.Adam(groups, lr=0.01),
        [{"lr": 0.05, "betas": (0.8, 0.99), "eps": 1e-6},
         {"lr": 0.002, "betas": (0.5, 0.9), "weight_decay": 0.01}],
    ),
}  # fmt: skip


def _two_groups(model, settings):
    named = model.named_parameters()
    first = [p for name, p in named if name.startswith("layers.0.")]
    second = [p for name, p in named if not name.startswith("layers.0.")]
    return [{"params": first, **settings[0]}, {"params": second, **settings[1]}]


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(GROUPED))
def test_every_setting_of_every_group_agrees_with_torch_optim(torch, name):
    from microgradx.nn import MLP, to_torch

    ours, theirs, settings = GROUPED[name]
    X, targets = [[0.5, -1.0], [1.5, 0.3], [-0.7, 0.2]], [0.3, -0.5, 1.0]
    model = MLP(2, [4, 1], seed=3)
    reference = to_torch(model)
    opt = ours(_two_groups(model, settings))
    torch_layers = list(reference.parameters())
    torch_opt = theirs(torch, [
        {"params": torch_layers[:2], **settings[0]}, {"params": torch_layers[2:], **settings[1]}
    ])  # fmt: skip
    for step in range(6):
        if step == 3:  # a manual schedule: each group's lr edited between steps
            for group, torch_group in zip(opt.param_groups, torch_opt.param_groups):
                group["lr"] *= 0.5
                torch_group["lr"] *= 0.5
        opt.zero_grad()
        torch_opt.zero_grad()
        losses.mse([model(x) for x in X], targets).backward()
        out = torch.cat([reference(torch.tensor(x, dtype=torch.float64)) for x in X])
        torch.nn.functional.mse_loss(out, torch.tensor(targets, dtype=torch.float64)).backward()
        opt.step()
        torch_opt.step()
    for mine, ref in zip(to_torch(model).parameters(), reference.parameters()):
        assert torch.allclose(mine, ref, rtol=1e-9, atol=1e-12), name


def test_a_groups_lr_is_used_by_hand():
    # The report: a per-group lr was silently ignored (every group stepped with the default).
    a, b = Value(1.0), Value(1.0)
    opt = SGD([{"params": [a], "lr": 0.5}, {"params": [b]}], lr=0.1)
    a.grad = b.grad = 1.0
    opt.step()
    assert (a.data, b.data) == (0.5, 0.9)
    for make, setting in (
        (lambda g: SGD(g, lr=0.1), {"momentum": 0.9}),
        (lambda g: RMSprop(g, lr=0.1), {"alpha": 0.5}),
        (lambda g: RMSprop(g, lr=0.1), {"eps": 1.0}),
        (lambda g: Adam(g, lr=0.1), {"betas": (0.5, 0.5)}),
        (lambda g: Adam(g, lr=0.1), {"eps": 10.0}),
        (lambda g: Adam(g, lr=0.1), {"weight_decay": 1.0}),
    ):
        a, b = Value(1.0), Value(1.0)
        opt = make([{"params": [a], **setting}, {"params": [b]}])
        for _ in range(3):
            a.grad = b.grad = 1.0
            opt.step()
        assert a.data != b.data, setting  # the group's own setting made a difference


@pytest.mark.parametrize(
    ("group", "error", "message"),
    [
        ({"lrr": 0.1}, ValueError, "group 0 has 'lrr', which is not a setting of SGD"),
        ({"betas": (0.9, 0.9)}, ValueError, "'betas', which is not a setting of SGD"),
        ({"lr": -1}, ValueError, "group 0's lr must be a number > 0"),
        ({"lr": "0.1"}, TypeError, "group 0's lr must be a real number"),
        ({"momentum": math.nan}, ValueError, "group 0's momentum must be a finite number >= 0"),
        ({"nesterov": 1}, TypeError, "group 0's nesterov must be True or False"),
        (
            {"nesterov": True},
            ValueError,
            r"nesterov needs momentum > 0 and dampening 0 \(group 0\)",
        ),
        ({"weight_decay": math.inf}, ValueError, "group 0's weight_decay must be a finite"),
    ],
)
def test_a_group_setting_that_is_unknown_or_bad_is_refused_by_name(group, error, message):
    with pytest.raises(error, match=message):
        SGD([{"params": [Value(1.0)], **group}], lr=0.1)


def test_groups_are_checked_whole():
    with pytest.raises(ValueError, match="group 1 has no 'params'"):
        SGD([{"params": [Value(1.0)]}, {"lr": 0.1}], lr=0.1)
    with pytest.raises(TypeError, match=r"all Values \(one group\) or all parameter groups"):
        SGD([Value(1.0), {"params": [Value(2.0)]}], lr=0.1)
    with pytest.raises(TypeError, match=r"params\[0\]\['params'\] must be a list"):
        SGD([{"params": {Value(1.0)}}], lr=0.1)  # a set has no order
    same = r"params\[1\]\['params'\]\[0\] is the same Value as params\[0\]\['params'\]\[0\]"
    with pytest.raises(ValueError, match=same):
        w = Value(1.0)
        Adam([{"params": [w]}, {"params": [w], "lr": 0.1}])


def test_reading_and_setting_a_setting_for_every_group():
    a, b = Value(1.0), Value(1.0)
    opt = Adam([{"params": [a], "lr": 0.1}, {"params": [b]}], lr=0.01)
    with pytest.raises(ValueError, match=r"different lr values \(\[0.1, 0.01\]\)"):
        _ = opt.lr
    assert opt.eps == 1e-8 and opt.betas == (0.9, 0.999)
    opt.lr = 0.05
    assert [g["lr"] for g in opt.param_groups] == [0.05, 0.05] and opt.lr == 0.05
    with pytest.raises(ValueError, match="betas must be in"):
        opt.betas = (0.9, 1.5)
    assert opt.betas == (0.9, 0.999)  # refused: unchanged in every group
    sgd = SGD([{"params": [a], "momentum": 0.9, "nesterov": True}, {"params": [b]}], lr=0.1)
    with pytest.raises(
        ValueError, match=r"nesterov needs momentum > 0 and dampening 0 \(group 0\)"
    ):
        sgd.momentum = 0.0
    assert [g["momentum"] for g in sgd.param_groups] == [0.9, 0.0]


def test_a_group_edited_badly_between_steps_is_refused_and_nothing_moves():
    a, b = Value(1.0), Value(2.0)
    opt = SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    opt.param_groups[1]["lr"] = -0.1
    a.grad = b.grad = 1.0
    with pytest.raises(ValueError, match="group 1's lr must be a number >= 0"):
        opt.step()
    assert (a.data, b.data, opt.steps) == (1.0, 2.0, 0)
    opt.param_groups[1]["lr"] = 0.1
    opt.param_groups[1]["params"].append(Value(3.0))
    with pytest.raises(ValueError, match="parameters of group 1 changed"):
        opt.step()
    assert (a.data, b.data, opt.steps) == (1.0, 2.0, 0)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["step", "linear", "cosine"])
def test_schedules_set_every_groups_rate_as_torch_does(torch, name):
    ours = {
        "step": lambda o: StepLR(o, step_size=2, gamma=0.5),
        "linear": lambda o: LinearLR(o, 0.5, 0.25, 4),
        "cosine": lambda o: CosineLR(o, total_iters=5, min_lr=0.001),
    }[name]
    theirs = {
        "step": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5),
        "linear": lambda o: torch.optim.lr_scheduler.LinearLR(
            o, start_factor=0.5, end_factor=0.25, total_iters=4
        ),
        "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=5, eta_min=0.001),
    }[name]
    opt = SGD([{"params": [Value(1.0)], "lr": 0.1}, {"params": [Value(1.0)]}], lr=0.02)
    tensors = [torch.zeros(1, requires_grad=True) for _ in range(2)]
    torch_opt = torch.optim.SGD(
        [{"params": [tensors[0]], "lr": 0.1}, {"params": [tensors[1]]}], lr=0.02
    )
    schedule, torch_schedule = ours(opt), theirs(torch_opt)
    # (after its total, torch's cosine rises again with its period; ours stays at min_lr)
    for _ in range(5 if name == "cosine" else 7):
        torch_opt.step()  # (torch wants a step before its scheduler's)
        schedule.step()
        torch_schedule.step()
        mine = [g["lr"] for g in opt.param_groups]
        assert mine == pytest.approx([g["lr"] for g in torch_opt.param_groups], rel=1e-12)


def test_schedules_with_groups_by_hand_and_their_checks():
    opt = SGD([{"params": [Value(1.0)], "lr": 1.0}, {"params": [Value(1.0)]}], lr=0.1)
    schedule = StepLR(opt, step_size=1, gamma=0.5)
    schedule.step()
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.05]
    assert schedule.base_lrs == [1.0, 0.1]
    with pytest.raises(ValueError, match="min_lr must be in"):
        CosineLR(opt, total_iters=3, min_lr=0.2)  # above the second group's rate
    with pytest.raises(TypeError, match="step_size must be an int"):
        StepLR(opt, step_size=1.5)
    with pytest.raises(ValueError, match="gamma must be in"):
        StepLR(opt, step_size=1, gamma=0.0)


# ---- a step is all or nothing -------------------------------------------------------------------


class _Broken(float):
    """A gradient (a number, so it passes the checks) that cannot become a float: the step fails
    while computing."""

    def __float__(self):
        raise KeyboardInterrupt


def _optimizers():
    return [
        lambda p: SGD(p, lr=0.1, momentum=0.9),
        lambda p: RMSprop(p, lr=0.1, momentum=0.5),
        lambda p: Adam(p, lr=0.1),
    ]


@pytest.mark.parametrize("make", _optimizers())
def test_a_step_that_fails_while_computing_changes_nothing(make):
    params = [Value(float(i)) for i in range(5)]
    opt = make(params)
    for p in params:
        p.grad = 1.0
    opt.step()
    state = {k: (list(v) if isinstance(v, list) else v) for k, v in vars(opt).items()}
    before = [p.data for p in params]
    params[-1].grad = _Broken()  # the last gradient: every other one is computed by then
    with pytest.raises(KeyboardInterrupt):
        opt.step()
    assert [p.data for p in params] == before
    assert {k: (list(v) if isinstance(v, list) else v) for k, v in vars(opt).items()} == state


@pytest.mark.parametrize("make", _optimizers())
def test_ctrl_c_in_the_middle_of_a_step_lets_the_whole_step_finish_first(make):
    from tests.conftest import Tripwire, ctrl_c_raises_keyboard_interrupt

    def run(interrupt):
        params = [Value(1.0), Value(2.0), Tripwire(3.0), Value(4.0), Value(5.0)]
        opt = make(params)
        for step in range(2):
            for i, p in enumerate(params):
                p.grad = 0.5 * i - 1.0
            params[2].armed = interrupt and step == 1  # Ctrl-C at the 3rd of 5 assignments
            with ctrl_c_raises_keyboard_interrupt(), contextlib.suppress(KeyboardInterrupt):
                opt.step()
                assert not (interrupt and step == 1), "the Ctrl-C was lost"
        state = {k: v for k, v in vars(opt).items() if k not in ("params", "param_groups")}
        return [p.data for p in params], state

    assert run(interrupt=True) == run(interrupt=False)


def test_clip_grad_norm_is_all_or_nothing_and_checks_its_arguments():
    a, b = Value(0.0), Value(0.0)
    a.grad, b.grad = 3.0, _Broken()
    with pytest.raises(KeyboardInterrupt):
        clip_grad_norm_([a, b], 1.0)
    assert a.grad == 3.0
    with pytest.raises(ValueError, match="max_norm must be in"):
        clip_grad_norm_([a], math.nan)
    with pytest.raises(TypeError, match=r"parameters\[1\] must be a Value"):
        clip_grad_norm_([a, 2.0], 1.0)
    b.grad = "0.5"
    with pytest.raises(TypeError, match=r"grad of parameters\[1\] must be a real number, got str"):
        clip_grad_norm_([a, b], 1.0)
    assert a.grad == 3.0


def test_a_step_names_the_parameter_whose_gradient_is_not_a_number():
    w, v = Value(1.0), Value(2.0)
    opt = SGD([{"params": [w]}, {"params": [v]}], lr=0.1)
    w.grad, v.grad = 1.0, "0.5"
    where = r"grad of params\[1\]\['params'\]\[0\]"
    with pytest.raises(TypeError, match=where + " must be a real number, got str"):
        opt.step()
    v.grad = 10**400
    with pytest.raises(ValueError, match=where + " is too large for a float"):
        opt.step()
    assert (w.data, v.data, opt.steps) == (1.0, 2.0, 0)
    v.grad = Value(0.5)  # a gradient with a graph (backward(create_graph=True)): its number
    opt.step()
    assert (w.data, v.data) == (0.9, 1.95)


def test_schedules_and_decay_weights_only_name_their_arguments():
    from microgradx.nn import MLP
    from microgradx.optim import decay_weights_only

    opt = SGD([Value(1.0)], lr=1.0)
    with pytest.raises(TypeError, match="optimizer must be a microgradx Optimizer, got str"):
        StepLR("sgd", 2)
    step = StepLR(opt, 2, gamma=0.5)
    with pytest.raises(TypeError, match="epoch must be an int, got str"):
        step.rate("3")
    with pytest.raises(ValueError, match="epoch must be an int >= 0"):
        step.rate(-1)
    assert step.rate(np.int64(4)) == 0.25
    # gamma ** k is 0 long before k leaves a float's range (it was an OverflowError)
    assert step.rate(10**400) == 0.0 and StepLR(opt, 2, gamma=1.0).rate(10**400) == 1.0
    with pytest.raises(TypeError, match="model must be a microgradx Module, got list"):
        decay_weights_only([Value(1.0)], 1e-3)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        decay_weights_only(MLP(2, [1]), -1.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: losses.binary_cross_entropy([0.52], [65220.3]), r"targets\[0\] must be a prob"),
        (lambda: losses.bce_with_logits([0.5], [Value(-0.1)]), r"targets\[0\] must be a prob"),
        (lambda: losses.cross_entropy([[1.0, 2.0]], [[-0.5, 1.5]]), r"targets\[0\]\[0\] must"),
        (lambda: losses.cross_entropy([1.0, 2.0], [0, 2]), r"logits is one sample, so targets"),
    ],
)
def test_targets_outside_0_1_are_refused_not_given_a_loss(call, message):
    # the loss has no meaning there (and the op table's accuracy is promised only inside)
    with pytest.raises(ValueError, match=message):
        call()


def test_a_numpy_class_index_is_a_class():
    a = losses.cross_entropy([1.0, 2.0], np.array(1))  # a 0-d array: len() of it used to fail
    b = losses.cross_entropy([1.0, 2.0], 1)
    assert a.data == b.data


@pytest.mark.parametrize(
    "loss",
    [
        lambda a, b: losses.cross_entropy([a, b], 0),
        lambda a, b: losses.cross_entropy([[a, b], [b, a]], [[0.3, 0.7], [1.0, 0.0]]),
        lambda a, b: losses.mse([a, b], [0.5, -1.0]),
        lambda a, b: losses.bce_with_logits([a, b], [0.5, 1.0]),
        lambda a, b: losses.binary_cross_entropy([a.sigmoid(), b.sigmoid()], [0.2, 1.0]),
        lambda a, b: losses.hinge([a, b], [1, -1], reduction="sum"),
        lambda a, b: losses.logsumexp([a, b, 0.5]),
        lambda a, b: losses.log_softmax([a, b])[1] + losses.softmax([a, b])[0],
    ],
)
def test_every_loss_runs_in_forward_mode_and_agrees_with_reverse_mode(loss):
    from microgradx.dual import jvp

    xs = [0.3, -0.7]
    leaves = [Value(x) for x in xs]
    out = loss(*leaves)
    out.backward()
    for k in range(2):
        tangent = [1.0 if j == k else 0.0 for j in range(2)]
        value, slope = jvp(loss, xs, tangent)
        assert value == out.data
        assert slope == pytest.approx(leaves[k].grad, rel=1e-14, abs=1e-300)


def test_l2_penalty_runs_in_forward_mode_and_bce_refuses_a_probability_outside_0_1():
    from microgradx.dual import jvp

    assert jvp(lambda a, b: losses.l2_penalty([a, b], 0.1), [1.0, 2.0], [1.0, 0.0]) == (0.25, 0.1)
    with pytest.raises(
        ValueError, match=r"probabilities\[0\] must be in \[0, 1\].*bce_with_logits"
    ):
        losses.binary_cross_entropy([2.0], [1.0])  # was nan
    assert math.isnan(losses.binary_cross_entropy([math.nan], [1.0]).data)  # a diverged model


def test_a_value_meeting_a_dual_says_so():
    from microgradx.dual import jvp

    with pytest.raises(TypeError, match="a Value and a forward-mode Dual meet here"):
        jvp(lambda a: a + Value(1.0), [1.0], [1.0])


_OPTIMIZERS = {
    "SGD": lambda ps: SGD(ps, lr=0.1),
    "SGD momentum nesterov decay": lambda ps: SGD(
        ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01
    ),
    "Adam": lambda ps: Adam(ps, lr=0.1, weight_decay=0.01),
    "RMSprop centered momentum": lambda ps: RMSprop(ps, lr=0.1, momentum=0.5, centered=True),
}


@pytest.mark.parametrize(
    "kind",
    [np.float32, np.float64, np.int64, int, Fraction, bool, np.array],
    ids=lambda k: k.__name__,
)
@pytest.mark.parametrize("name", list(_OPTIMIZERS))
def test_a_step_writes_python_floats_whatever_type_the_data_had(name, kind):
    # The example: w.data = np.float32(0.5) stayed a float32 through SGD.step(), each
    # step rounded to 24 bits, and results differed from a float weight's.
    given = kind(1)
    odd, plain = Value(0.0), Value(0.0)
    odd.data, plain.data = given, float(given)
    skipped = Value(0.0)
    skipped.data, skipped.grad = kind(1), None  # no gradient: its value kept, as a float
    opt, reference = _OPTIMIZERS[name]([odd, skipped]), _OPTIMIZERS[name]([plain])
    for g in (0.3, -0.7, 0.11):
        odd.grad, plain.grad = np.float32(g), float(np.float32(g))  # the same number
        opt.step()
        reference.step()
        assert type(odd.data) is float and odd.data == plain.data
        assert type(skipped.data) is float and skipped.data == 1.0
    assert type(opt.steps) is int


def test_clip_grad_norm_writes_python_float_gradients():
    w, v = Value(1.0), Value(2.0)
    w.grad, v.grad = np.float32(3.0), np.float32(4.0)
    assert clip_grad_norm_([w, v], max_norm=1.0) == 5.0
    assert type(w.grad) is float and type(v.grad) is float
    assert w.grad == pytest.approx(0.6) and v.grad == pytest.approx(0.8)


def test_fit_on_a_model_with_a_float32_weight_leaves_floats():
    from microgradx import nn, train

    model = nn.MLP(2, [3, 1], seed=0)
    first = model.parameters()[0]
    first.data = np.float32(first.data)
    X, y = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0]
    train.fit(model, X, y, loss="bce_with_logits", epochs=2, progress=False)
    assert all(type(p.data) is float for p in model.parameters())
