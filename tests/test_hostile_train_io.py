"""Hostile inputs to optim, train, io, replay and viz: each test is a finding that once raised a
raw Python error from deep inside (or broke a rule), kept as its regression test."""

from __future__ import annotations

import math
import warnings

import pytest

from microgradx import io, nn
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


def test_save_refuses_a_read_only_file_and_a_link_to_one_leaving_both_alone(tmp_path):
    # os.replace swaps a file whatever its mode (and root writes anything): a read-only model
    # file was silently replaced
    model = nn.MLP(2, [1])
    kept = tmp_path / "kept.json"
    kept.write_text("keep me", encoding="utf-8")
    kept.chmod(0o444)
    link = tmp_path / "link.json"
    link.symlink_to(kept)
    for path in (kept, link, str(kept)):
        with pytest.raises(PermissionError, match="read-only"):
            io.save(model, path)
    assert kept.read_text(encoding="utf-8") == "keep me"
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json", "link.json"]
    kept.chmod(0o644)  # writable again: replaced, its mode kept
    io.save(model, link)
    assert io.load(kept).parameters()[0].data == model.parameters()[0].data
    assert link.is_symlink()


def _plots():
    from microgradx.viz import plots

    return plots


def test_activation_histograms_of_a_diverged_model_counts_its_non_finite_outputs():
    # numpy's hist raised "autodetected range of [nan, nan] is not finite" from deep inside
    plots = _plots()
    nn.manual_seed(0)
    model = nn.MLP(2, [3, 1])
    model.parameters()[0].data = math.nan
    fig = plots.activation_histograms(model, [[0.5, 1.0], [1.0, -1.0]])
    assert "outputs not finite" in fig.axes[0].get_title()


def test_gradient_histograms_does_not_count_an_inf_gradient_as_zero():
    plots = _plots()
    model = nn.MLP(2, [1])
    for p, g in zip(model.parameters(), [0.0, math.inf, 1e-3]):
        p.grad = g
    title = plots.gradient_histograms(model).axes[0].get_title()
    assert title == "layer 0: 1 of 3 grads are 0, 1 not finite"


@pytest.mark.parametrize(
    "X", [[[1e308, -1e308]], [[1.7e308, -1.7e308], [-1.7e308, 1.7e308]], [[1e300, 0.0]]]
)
def test_decision_boundary_of_points_near_the_end_of_the_floats(X):
    # the padded range's width overflowed to inf, then matplotlib raised "arange: cannot
    # compute length" from its tick placement
    plots = _plots()
    nn.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # matplotlib's own autoscale of them
        fig = plots.decision_boundary(nn.MLP(2, [3, 1]), X, [0] * len(X), resolution=3)
    low, high = fig.axes[0].get_xlim()
    assert math.isfinite(low) and math.isfinite(high) and low < high
