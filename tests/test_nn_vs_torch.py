"""The neural-network layer against PyTorch float64: models, gradients, optimizers, losses."""

from __future__ import annotations

import math

import pytest

from microgradx import Value, losses, manual_seed
from microgradx.nn import (
    MLP,
    LeakyReLU,
    Linear,
    Sequential,
    Sigmoid,
    Softplus,
    Tanh,
    from_torch,
    to_torch,
)
from microgradx.optim import SGD, Adam, RMSprop, clip_grad_norm_

X = [[0.3, -1.2], [1.5, 0.4], [-0.7, 0.9]]
TARGETS = [1.0, 0.0, 1.0]


def _relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300) if b != 0 else abs(a)


@pytest.mark.parametrize(
    "make",
    [
        lambda: MLP(2, [16, 16, 1], "tanh", seed=0),
        lambda: MLP(2, [8, 3], "relu", "sigmoid", init="he", seed=1),
        lambda: Sequential(Linear(2, 4), LeakyReLU(0.1), Linear(4, 4), Softplus(), Linear(4, 1)),
        lambda: Sequential(Linear(2, 3), Sigmoid(), Linear(3, 2), Tanh()),
    ],
)
def test_outputs_and_every_parameter_gradient_agree_with_torch(torch, make):
    model = make()
    reference = to_torch(model)
    loss = None
    for x in X:
        out = model(x)
        out = out if isinstance(out, list) else [out]
        term = sum((o * o for o in out), Value(0.0))
        loss = term if loss is None else loss + term
        theirs = reference(torch.tensor(x, dtype=torch.float64))
        for mine, t in zip(out, theirs.tolist()):
            assert _relative(mine.data, t) <= 1e-9
    loss.backward()
    torch_loss = sum((reference(torch.tensor(x, dtype=torch.float64)) ** 2).sum() for x in X)
    torch_loss.backward()
    mine = [p.grad for p in model.parameters()]
    theirs = []
    for layer in reference:
        if isinstance(layer, torch.nn.Linear):
            for j in range(layer.out_features):
                theirs.extend(layer.weight.grad[j].tolist())
                theirs.append(layer.bias.grad[j].item())
    assert len(mine) == len(theirs)
    worst = max(_relative(a, b) for a, b in zip(mine, theirs) if abs(b) > 1e-12)
    assert worst <= 1e-9


def test_from_torch_round_trip(torch):
    torch.manual_seed(0)
    reference = torch.nn.Sequential(
        torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1), torch.nn.Sigmoid()
    ).double()
    model = from_torch(reference)
    for x in X:
        assert model(x)[0].data == pytest.approx(
            reference(torch.tensor(x, dtype=torch.float64)).item(), rel=1e-12
        )
    with pytest.raises(TypeError, match="Conv1d is not supported"):
        from_torch(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 1)))


def test_from_torch_draws_nothing_from_the_default_generator_and_refuses_before_building(
    torch, monkeypatch
):
    """from_torch built each Linear from manual_seed's generator before copying torch's weights
    over them, so an MLP made after it got other weights; and a torch network too large for
    Values (each layer under the per-layer limit) was built layer by layer until memory ran
    out. Its settings are checked naming the layer."""
    import microgradx.nn

    reference = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    manual_seed(5)
    expected = [p.data for p in MLP(2, [1]).parameters()]
    manual_seed(5)
    from_torch(reference)
    assert [p.data for p in MLP(2, [1]).parameters()] == expected

    def no_building(*args, **kwargs):
        raise AssertionError("a layer was built before the whole network was checked")

    monkeypatch.setattr(microgradx.nn, "_from_torch_layer", no_building)
    wide = torch.nn.Linear(1, 1)
    wide.in_features, wide.out_features = 999, 1000  # counted, never allocated by torch
    with pytest.raises(ValueError, match="sequential's Linear layers asks for 2,000,000 weights"):
        from_torch(torch.nn.Sequential(wide, torch.nn.ReLU(), wide))
    with pytest.raises(TypeError, match=r"layer 2: Conv1d is not supported"):
        from_torch(
            torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Conv1d(1, 1, 1))
        )
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"layer 1 \(Dropout\): p \(the dropout probability\)"):
        from_torch(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(1.0)))


OPTIMIZERS = {
    "sgd-momentum": (
        lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    ),
    "sgd-nesterov": (
        lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True),
        lambda t, p: t.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    ),
    "sgd-dampening": (
        lambda p: SGD(p, 0.1, 0.9, 0.3, 0.01),  # torch's positional order
        lambda t, p: t.optim.SGD(p, 0.1, 0.9, 0.3, 0.01),
    ),
    "rmsprop-centered": (
        lambda p: RMSprop(p, 0.01, 0.9, weight_decay=0.01, momentum=0.5, centered=True),
        lambda t, p: t.optim.RMSprop(p, 0.01, 0.9, weight_decay=0.01, momentum=0.5, centered=True),
    ),
    "rmsprop": (
        lambda p: RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5),
        lambda t, p: t.optim.RMSprop(p, lr=0.01, alpha=0.9, momentum=0.5),
    ),
    "adam": (
        lambda p: Adam(p, lr=0.05, betas=(0.8, 0.99), weight_decay=0.001),
        lambda t, p: t.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), weight_decay=0.001),
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_agree_with_torch_optim_for_5_steps(torch, name):
    ours, theirs = OPTIMIZERS[name]
    model = MLP(2, [4, 1], seed=3)
    reference = to_torch(model)
    opt, torch_opt = ours(model.parameters()), theirs(torch, reference.parameters())
    for _ in range(5):
        opt.zero_grad()
        torch_opt.zero_grad()
        losses.mse([model(x) for x in X], TARGETS).backward()
        out = torch.cat([reference(torch.tensor(x, dtype=torch.float64)) for x in X])
        torch.nn.functional.mse_loss(out, torch.tensor(TARGETS, dtype=torch.float64)).backward()
        opt.step()
        torch_opt.step()
    after = to_torch(model)
    for mine, ref in zip(after.parameters(), reference.parameters()):
        assert torch.allclose(mine, ref, rtol=1e-9, atol=1e-12), name


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_skip_a_parameter_without_a_gradient_as_torch(torch, name):
    # zero_grad() clears to None (torch's default); a parameter the step's loss does not read
    # keeps None and is skipped: its value, state and step count stay (Adam's bias correction
    # then counts its own steps). Parameter b is read on steps 2 and 4 only.
    ours, theirs = OPTIMIZERS[name]
    a, b = Value(0.7), Value(-1.3)
    ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.7, -1.3))
    opt, torch_opt = ours([a, b]), theirs(torch, [ta, tb])
    for step in range(5):
        opt.zero_grad()
        torch_opt.zero_grad()
        assert a.grad is None and b.grad is None
        ((a * a + b * a) if step % 2 else a * a * 3.0).backward()
        ((ta * ta + tb * ta) if step % 2 else ta * ta * 3.0).backward()
        assert (b.grad is None) == (tb.grad is None)
        opt.step()
        torch_opt.step()
        assert a.data == pytest.approx(ta.item(), rel=1e-12), (name, step)
        assert b.data == pytest.approx(tb.item(), rel=1e-12), (name, step)
    opt.zero_grad(set_to_none=False)
    assert (a.grad, b.grad) == (0.0, 0.0)


def test_clip_grad_norm_skips_a_parameter_without_a_gradient_as_torch(torch):
    values = [Value(0.0) for _ in range(3)]
    tensors = [torch.zeros((), dtype=torch.float64, requires_grad=True) for _ in range(3)]
    for v, t, g in zip(values, tensors, [3.0, None, 4.0]):
        v.grad = g
        t.grad = None if g is None else torch.tensor(g, dtype=torch.float64)
    assert clip_grad_norm_(values, 1.0) == torch.nn.utils.clip_grad_norm_(tensors, 1.0).item()
    assert values[1].grad is None and tensors[1].grad is None
    assert values[2].grad == pytest.approx(tensors[2].grad.item(), rel=1e-12)
    model = MLP(1, [1], seed=0)  # Module.zero_grad: torch's set_to_none, default True
    model.zero_grad()
    assert [p.grad for p in model.parameters()] == [None, None]
    model.zero_grad(set_to_none=False)
    assert [p.grad for p in model.parameters()] == [0.0, 0.0]


def test_clip_grad_norm_agrees_with_torch(torch):
    values = [Value(0.0) for _ in range(3)]
    for v, g in zip(values, [3.0, -4.0, 12.0]):
        v.grad = g
    tensors = [torch.zeros((), dtype=torch.float64, requires_grad=True) for _ in range(3)]
    for t, g in zip(tensors, [3.0, -4.0, 12.0]):
        t.grad = torch.tensor(g, dtype=torch.float64)
    assert clip_grad_norm_(values, 2.0) == pytest.approx(
        torch.nn.utils.clip_grad_norm_(tensors, 2.0).item()
    )
    assert [v.grad for v in values] == pytest.approx([t.grad.item() for t in tensors], rel=1e-12)


LOGITS = [[1.5, -0.3, 0.2], [1000.0, 0.0, -1000.0], [-2.0, 4.0, 0.5]]
CLASSES = [0, 1, 2]


def _compare(torch, ours_fn, torch_fn, rows):
    values = [[Value(v) for v in row] for row in rows]
    tensor = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    mine = ours_fn(values)
    theirs = torch_fn(tensor)
    assert _relative(mine.data, theirs.item()) <= 1e-9
    mine.backward()
    theirs.backward()
    for row, grads in zip(values, tensor.grad.tolist()):
        for v, g in zip(row, grads):
            assert abs(v.grad - g) <= 1e-9 * max(1.0, abs(g))


def test_cross_entropy_agrees_with_torch(torch):
    _compare(
        torch,
        lambda v: losses.cross_entropy(v, CLASSES),
        lambda t: torch.nn.functional.cross_entropy(t, torch.tensor(CLASSES)),
        LOGITS,
    )


def test_log_softmax_and_logsumexp_agree_with_torch(torch):
    _compare(
        torch,
        lambda v: sum((losses.log_softmax(row)[0] for row in v), Value(0.0)),
        lambda t: torch.log_softmax(t, dim=1)[:, 0].sum(),
        LOGITS,
    )
    _compare(
        torch,
        lambda v: sum((losses.logsumexp(row) for row in v), Value(0.0)),
        lambda t: torch.logsumexp(t, dim=1).sum(),
        LOGITS,
    )


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_binary_losses_agree_with_torch(torch, reduction):
    f = torch.nn.functional
    scores = [[2.5, -1.0, 0.0, 30.0, -800.0]]
    targets = [1.0, 0.0, 1.0, 0.0, 1.0]
    t_targets = torch.tensor(targets, dtype=torch.float64)
    _compare(
        torch,
        lambda v: losses.bce_with_logits(v[0], targets, reduction=reduction),
        lambda t: f.binary_cross_entropy_with_logits(t[0], t_targets, reduction=reduction),
        scores,
    )
    _compare(
        torch,
        lambda v: losses.mse(v[0], targets, reduction=reduction),
        lambda t: f.mse_loss(t[0], t_targets, reduction=reduction),
        scores,
    )
    probabilities = [[0.9, 0.2, 0.5, 1e-5, 0.999]]
    _compare(
        torch,
        lambda v: losses.binary_cross_entropy(v[0], targets, reduction=reduction),
        lambda t: f.binary_cross_entropy(t[0], t_targets, reduction=reduction),
        probabilities,
    )
    signs = [1.0 if t else -1.0 for t in targets]
    _compare(
        torch,
        lambda v: losses.hinge(v[0], signs, reduction=reduction),
        lambda t: (
            f.relu(1 - torch.tensor(signs, dtype=torch.float64) * t[0]).sum()
            if reduction == "sum"
            else f.relu(1 - torch.tensor(signs, dtype=torch.float64) * t[0]).mean()
        ),
        scores,
    )
    assert math.isfinite(losses.bce_with_logits(Value(-800.0), 1).data)
