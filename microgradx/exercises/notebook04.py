"""The exercises of notebook 04_delta_rule_and_modules.ipynb: the 2-3-1 sigmoid network of
notebook 04 (seed 4), its deltas; modules.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from microgradx.engine import Value, grad_number
from microgradx.exercises.arithmetic import _matvec, _sigmoid, _transpose
from microgradx.exercises.core import Exercise, _m
from microgradx.losses import cross_entropy, softmax
from microgradx.nn import MLP

EXERCISES: list[Exercise] = []


def _net04() -> tuple[Any, list[float], float]:
    return (
        MLP(2, [3, 1], activation="sigmoid", output_activation="sigmoid", seed=4),
        [0.5, -1.5],
        1.0,
    )


def _forward04() -> dict[str, Any]:
    net, x, y = _net04()
    W1 = [[w.data for w in n.w] for n in net.layers[0].neurons]
    b1 = [n.b.data for n in net.layers[0].neurons]
    W2 = [[w.data for w in n.w] for n in net.layers[1].neurons]
    b2 = [n.b.data for n in net.layers[1].neurons]
    z1 = [s + b for s, b in zip(_matvec(W1, x), b1)]
    a1 = [_sigmoid(z) for z in z1]
    z2 = [s + b for s, b in zip(_matvec(W2, a1), b2)]
    a2 = [_sigmoid(z) for z in z2]
    return {"W1": W1, "W2": W2, "z1": z1, "a1": a1, "z2": z2, "a2": a2, "y": y, "net": net, "x": x}


def _engine_deltas04() -> tuple[list[float], list[float]]:
    """δ = ∂J/∂b for J = ½(a - y)², from backward() (∂J/∂b^l_j = δ^l_j)."""
    net, x, y = _net04()
    (0.5 * (net(x) - y) ** 2).backward()
    return [n.b.grad for n in net.layers[0].neurons], [n.b.grad for n in net.layers[1].neurons]


EXERCISES.append(
    Exercise(
        "04.delta2",
        "The 2-3-1 sigmoid network (seed 4), x = [0.5, -1.5], y = 1, J = ½(a - y)²: the output "
        "layer's δ² = (a² - y) ⊙ f'(z²), as a list.",
        lambda: _engine_deltas04()[1],
        lambda: [
            _m("wrong sign", "y - a in place of a - y", [-d for d in _engine_deltas04()[1]]),
            _m(
                "missing factor f'(z)",
                "that is ∂J/∂a = a - y: multiply by f'(z²) = a(1 - a)",
                [a - _forward04()["y"] for a in _forward04()["a2"]],
            ),
            _m(
                "a and z swapped",
                "f'(z) = σ(z)(1 - σ(z)) = a(1 - a): you used z(1 - z)",
                [
                    (a - _forward04()["y"]) * z * (1 - z)
                    for a, z in zip(_forward04()["a2"], _forward04()["z2"])
                ],
            ),
        ],
        shape="a list of one number",
    )
)


def _delta1_from(W2: list[list[float]], use_f: bool = True, a: str = "a1") -> list[float]:
    f = _forward04()
    delta2 = _engine_deltas04()[1]
    g = _matvec(W2, delta2)
    return [gi * (v * (1 - v) if use_f else 1.0) for gi, v in zip(g, f[a])]


EXERCISES.append(
    Exercise(
        "04.delta1",
        "Same network: the hidden layer's δ¹ = (W²)ᵀ δ² ⊙ f'(z¹) from δ², as a list of three.",
        lambda: _engine_deltas04()[0],
        lambda: [
            _m(
                "transposed W",
                "W² in place of (W²)ᵀ: the hidden layer gets back (W²)ᵀ δ², one number per "
                "hidden unit",
                _delta1_from(_forward04()["W2"]),
            ),
            _m(
                "missing factor f'(z)",
                "that is (W²)ᵀ δ² = ∂J/∂a¹: multiply by f'(z¹) = a¹(1 - a¹)",
                _delta1_from(_transpose(_forward04()["W2"]), use_f=False),
            ),
            _m(
                "a and z swapped",
                "f'(z¹) = a¹(1 - a¹): you used z¹(1 - z¹)",
                _delta1_from(_transpose(_forward04()["W2"]), a="z1"),
            ),
            _m(
                "wrong sign",
                "right size, wrong sign: δ² = (a - y) f'(z²)",
                [-d for d in _engine_deltas04()[0]],
            ),
        ],
        shape="a list of three numbers",
    )
)


def _nudge04() -> Any:
    net, x, y = _net04()
    (0.5 * (net(x) - y) ** 2).backward()
    return net.layers[0].neurons[1].b


def _J04(shift: float) -> float:
    net, x, y = _net04()
    net.layers[0].neurons[1].b.data += shift
    return float((0.5 * (net(x) - y) ** 2).data)


EXERCISES.append(
    Exercise(
        "04.nudge_b1_2",
        "Same network: nudge b¹_2 (the second hidden unit's bias) by ε = 1e-5 both ways; "
        "(J(b + ε) - J(b - ε)) / 2ε, which should equal δ¹_2.",
        lambda: _nudge04().grad,
        lambda: [
            _m("divided by ε", "the two points are 2ε apart: divide by 2ε", 2 * _nudge04().grad),
            _m("wrong sign", "J(b + ε) comes first", -_nudge04().grad),
            _m(
                "nudged b²",
                "that is the output bias's δ²: nudge the hidden unit's b¹_2",
                _engine_deltas04()[1][0],
            ),
        ],
        tolerance=1e-4,
    )
)


def _linear_backward_reference() -> Callable[..., Any]:
    def reference(W: list[list[float]], x: list[float], g: list[float]) -> tuple[Any, ...]:
        # the engine: y = W x + b, L = Σ g_j y_j, so ∂L/∂y = g; read the gradients back
        Wv = [[Value(w) for w in row] for row in W]
        xv = [Value(v) for v in x]
        bv = [Value(0.0) for _ in W]
        y = [sum((w * v for w, v in zip(row, xv)), b) for row, b in zip(Wv, bv)]
        sum((gj * yj for gj, yj in zip(g, y)), Value(0.0)).backward()
        return [v.grad for v in xv], [[w.grad for w in row] for row in Wv], [b.grad for b in bv]

    return reference


EXERCISES.append(
    Exercise(
        "04.linear_backward",
        "Write linear_backward(W, x, g) for y = W x + b: return (∂L/∂x, ∂L/∂W, ∂L/∂b) = "
        "(Wᵀ g, g xᵀ, g) given g = ∂L/∂y.",
        _linear_backward_reference,
        lambda: [
            _m(
                "transposed W",
                "∂L/∂x is Wᵀ g, not W g: x feeds every row of W",
                lambda W, x, g: (_matvec(W, g), [[gj * xi for xi in x] for gj in g], list(g)),
            ),
            _m(
                "transposed dW",
                "∂L/∂W is g xᵀ (one row per output), not x gᵀ",
                lambda W, x, g: (
                    _matvec(_transpose(W), g),
                    [[gj * xi for gj in g] for xi in x],
                    list(g),
                ),
            ),
            _m(
                "wrong sign",
                "right sizes, wrong signs: backward passes +g on",
                lambda W, x, g: (
                    [-v for v in _matvec(_transpose(W), g)],
                    [[-gj * xi for xi in x] for gj in g],
                    [-v for v in g],
                ),
            ),
        ],
        function=True,
        cases=lambda: [
            ([[0.5, -1.0], [2.0, 0.3]], [1.0, 2.0], [0.7, -0.4]),
            ([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]], [0.2, -0.3, 1.1], [1.5, -2.0]),
            ([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]], [2.0, -1.0], [1.0, 0.5, -1.5]),
        ],
        shape="a function of (W, x, g) returning (dx, dW, db)",
    )
)

Z04 = [1.0, 2.0, 0.5]
T04 = 2


def _ce_grad(z: list[float], t: int) -> list[float]:
    zs = [Value(v) for v in z]
    cross_entropy(zs, t).backward()
    return [grad_number(v) for v in zs]


def _onehot(t: int, n: int) -> list[float]:
    return [1.0 if k == t else 0.0 for k in range(n)]


EXERCISES.append(
    Exercise(
        "04.softmax_ce_grad",
        "z = [1, 2, 0.5], true class 2: ∂L/∂z for L = -log softmax(z)_2, as a list.",
        lambda: _ce_grad(Z04, T04),
        lambda: [
            _m("wrong sign", "t - p in place of p - t", [-v for v in _ce_grad(Z04, T04)]),
            _m(
                "missing - t",
                "that is p alone: subtract the one-hot target t",
                [v.data for v in softmax(Z04)],
            ),
            _m("one-hot alone", "that is t: the gradient is p - t", _onehot(T04, 3)),
        ],
        shape="a list of three numbers",
    )
)
