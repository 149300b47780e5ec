"""One training step on moons, checked on another engine (``check_training``).

A 2-4-1 MLP (the engine's ``tanh``, else ``relu``; a linear output) with the weights of
``microgradx.nn.MLP(2, [4, 1], activation, seed=seed)``, built from the engine's ``+`` and ``*``
(sums of products, as micrograd's ``Neuron``), on 8 points of ``microgradx.data.make_moons(8,
seed=seed)`` with targets -1 and +1, mean squared error, one SGD step (``data -= 0.1 * grad``,
done in the child through the engine's attributes). The loss and every updated weight must
match microgradx's own step (its MLP, its loss, ``microgradx.optim.SGD``) within the tolerance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from microgradx.data import make_moons
from microgradx.engine import Value
from microgradx.enginecheck.checks import (
    Checker,
    _expr,
    _fmt,
    _Stop,
    close,
)
from microgradx.enginecheck.findings import (
    OK,
    UNSUPPORTED,
    WRONG_GRADIENT,
    WRONG_VALUE,
)
from microgradx.nn import MLP
from microgradx.optim import SGD

if TYPE_CHECKING:
    from microgradx.strategies import Expression


def check_training(self: Checker) -> None:
    check = "training step on moons"
    activation = next((a for a in ("tanh", "relu") if a in self.supported), None)
    if activation is None or not {"add", "mul"} <= set(self.supported):
        self.add(check, "training", UNSUPPORTED, "needs a + b, a * b and tanh or relu")
        return
    expr, weights, loss_node = _mlp_step(activation, self.seed)
    lr = 0.1
    steps = self.program(expr)
    assert steps is not None
    answer = self.run(
        expr.inputs,
        steps,
        [
            ["read", [loss_node]],
            ["backward", loss_node],
            ["sgd", lr, weights],
            ["read", weights],
        ],
    )
    if answer.get("error") == "budget":
        raise _Stop
    example = f"# a 2-4-1 MLP with {activation}, mean squared error on 8 moons points, SGD lr {lr}"
    if not answer.get("ok"):
        self.add_verdict(check, "training", self.crashed(answer), example=example)
        return
    _compare(self, answer["reads"], _reference_step(activation, self.seed, lr), example)


def _compare(
    self: Checker, reads: list[Any], reference: tuple[float, list[float]], example: str
) -> None:
    """The engine's loss and updated weights (``reads``) against microgradx's (``reference``)."""
    check = "training step on moons"
    got_loss = reads[0]["data"][0]
    if not (isinstance(got_loss, float) and close(got_loss, reference[0])):
        self.add(
            check,
            "training",
            WRONG_VALUE,
            f"loss: expected {reference[0]:.6g}, got {_fmt(got_loss)}",
            example=example,
            details={"expected": reference[0], "got": got_loss},
        )
        return
    for i, (g, w) in enumerate(zip(reads[1]["data"], reference[1])):
        if not (isinstance(g, float) and close(g, w)):
            self.add(
                check,
                "training",
                WRONG_GRADIENT,
                f"weight {i} after one SGD step: expected {w:.8g}, got {_fmt(g)}",
                example=example,
                details={"expected": w, "got": g, "weight": i},
            )
            return
    self.add(
        check,
        "training",
        OK,
        f"loss {got_loss:.6g} and all {len(reference[1])} updated weights match microgradx's step",
    )


def _mlp_data(
    activation: str, seed: int
) -> tuple[list[list[float]], list[float], list[list[float]], list[float]]:
    """8 moons points (labels as -1, +1), and the weights and biases of
    ``MLP(2, [4, 1], activation, seed=seed)`` (one row per neuron)."""
    X, y = make_moons(8, seed=seed)
    neurons = _neurons(MLP(2, [4, 1], activation, seed=seed))
    w = [[v.data for v in n.w] for n in neurons]
    b = [n.b.data for n in neurons]
    return [list(x) for x in X], [2.0 * t - 1.0 for t in y], w, b


def _mlp_step(activation: str, seed: int) -> tuple[Expression, list[int], int]:
    """The training step's graph: inputs are the 17 parameters, then the data and constants."""
    X, y, w, b = _mlp_data(activation, seed)
    inputs: list[float] = []
    weights: list[int] = []
    for row, bias in zip(w, b):
        for x in row:
            weights.append(len(inputs))
            inputs.append(x)
        weights.append(len(inputs))
        inputs.append(bias)
    # the parameters' indices: neuron k has w at index rows[k] ... and its bias after
    starts: list[int] = []
    i = 0
    for row in w:
        starts.append(i)
        i += len(row) + 1
    data_at = len(inputs)
    for point in X:
        inputs.extend(point)
    target_at = len(inputs)
    inputs.extend(-t for t in y)  # -y, so the error is out + (-y)
    scale_at = len(inputs)
    inputs.append(1.0 / len(X))
    steps: list[tuple[str, tuple[int, ...]]] = []

    def push(name: str, *args: int) -> int:
        steps.append((name, args))
        return len(inputs) + len(steps) - 1

    total = None
    for s, _ in enumerate(X):
        xs = [data_at + 2 * s, data_at + 2 * s + 1]
        hidden = []
        for k in range(4):
            z = starts[k] + 2  # the bias
            for j in range(2):
                z = push("add", z, push("mul", starts[k] + j, xs[j]))
            hidden.append(push(activation, z))
        out = starts[4] + 4
        for j in range(4):
            out = push("add", out, push("mul", starts[4] + j, hidden[j]))
        error = push("add", out, target_at + s)
        square = push("mul", error, error)
        total = square if total is None else push("add", total, square)
    assert total is not None
    loss = push("mul", total, scale_at)
    return _expr(inputs, steps), weights, loss


def _reference_step(activation: str, seed: int, lr: float) -> tuple[float, list[float]]:
    """microgradx's step: its MLP (same weights), mean squared error, ``optim.SGD``."""
    X, labels = make_moons(8, seed=seed)
    mlp = MLP(2, [4, 1], activation, seed=seed)
    outs = [cast(Value, mlp(x)) for x in X]  # one output: a Value
    total = Value(0.0)
    for out, t in zip(outs, labels):
        total = total + (out - (2.0 * t - 1.0)) ** 2
    loss = total * (1.0 / len(X))
    optimizer = SGD(mlp.parameters(), lr=lr)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    params = [v.data for n in _neurons(mlp) for v in (*n.w, n.b)]
    return loss.data, params


def _neurons(mlp: MLP) -> list[Any]:
    """The MLP's neurons, layer by layer (each has ``w``, a list of Values, and ``b``)."""
    return [n for layer in mlp.layers for n in cast(Any, layer).neurons]
