"""Checked exercises for the course notebooks: a right answer, a named mistake, or not yet answered.

Each exercise has an id (``"01.tanh_neuron_dw"``: the notebook's number and a name), a statement, a
placeholder the learner replaces (``answer = ...``: ``Ellipsis`` means *not answered yet*) and a
check. ``check(id, answer)`` prints one line and returns a :class:`Result`:

- ``not answered``: the answer is still ``...``;
- ``right``: the answer equals the exercise's reference, computed here with the engine (a
  ``Value`` graph and ``backward()``, an optimizer's ``step()``, ``losses``, ``Dual``), within the
  exercise's tolerance: relative ``1e-6`` unless the exercise sets another, and absolute
  ``1e-3`` times that near 0 (``math.isclose``);
- ``wrong``: with a *specific* hint when the answer equals one of the exercise's named mistakes
  (a wrong sign, a missing factor f'(z), a and z swapped, a transposed W, off by the learning
  rate, ...). Each mistake is evaluated the same way as the reference (with the engine where
  the reference uses it) and compared; an answer that matches none gets a general hint (the
  expected shape, never the answer);
- ``error``: a function answer raised on one of the exercise's inputs (the exception is named).

Answers are numbers, lists (vectors), lists of lists (matrices), tuples of those, or functions
(e.g. the learner's ``linear_backward(W, x, g)``), which are called on several inputs and each
output compared. A ``Value`` given where a number is asked for is named as such.

Every check of a process is kept (the last per id), so a teacher can run a learner's filled
notebook and collect them all: :func:`grade_notebook` (or ``python -m microgradx.exercises grade
notebook.ipynb --out checks.json``) runs it with nbclient and returns or writes the JSON of every
exercise of that notebook; :func:`catalogue` lists the exercises, their statements and hints.
See docs/exercises.md.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from microgradx.checks import describe, path, real, text
from microgradx.data import load_titanic
from microgradx.dual import Dual
from microgradx.engine import Value, grad_number
from microgradx.files import write_atomically
from microgradx.functional import chain_rule_paths
from microgradx.losses import bce_with_logits, binary_cross_entropy, cross_entropy, softmax
from microgradx.nn import MLP, Neuron
from microgradx.optim import SGD

Status = Literal["not answered", "right", "wrong", "error"]
_MARKER = "MICROGRADX-EXERCISES-JSON:"


@dataclass(frozen=True)
class Result:
    """The outcome of one check: ``status``, the line printed, and the mistake found (or None)."""

    exercise: str
    status: Status
    message: str
    mistake: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "right"

    def __str__(self) -> str:
        return f"{self.exercise}: {self.message}"

    def _repr_html_(self) -> str:
        colour = {"right": "#1a7f37", "not answered": "#57606a"}.get(self.status, "#cf222e")
        return (
            f'<div class="mgx-check" style="color:{colour}"><b>{html.escape(self.exercise)}</b>: '
            f"{html.escape(self.message)}</div>"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "status": self.status,
            "passed": self.passed,
            "mistake": self.mistake,
            "message": self.message,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class Mistake:
    """A named mistake: its hint, and the answer it produces (a value, or a function)."""

    name: str
    hint: str
    answer: Any


@dataclass(frozen=True)
class Exercise:
    """One exercise. ``reference()`` and ``mistakes()`` are computed on first use (with the
    engine); ``cases()`` are the inputs a function answer is called on (``[()]`` for a value)."""

    id: str
    statement: str
    reference: Callable[[], Any]
    mistakes: Callable[[], list[Mistake]]
    function: bool = False
    cases: Callable[[], list[tuple[Any, ...]]] = lambda: [()]
    tolerance: float = 1e-6
    shape: str = "a number"
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def notebook(self) -> str:
        return self.id.split(".", 1)[0]

    def outputs(self, answer: Any) -> list[Any]:
        """The answer's outputs on every case (the answer itself for a value exercise)."""
        if not self.function:
            return [answer]
        return [answer(*case) for case in self.cases()]

    def _expected(self) -> list[Any]:
        if "reference" not in self._cache:
            self._cache["reference"] = self.outputs(self.reference())
            self._cache["mistakes"] = [(m, self.outputs(m.answer)) for m in self.mistakes()]
        return list(self._cache["reference"])

    def named_mistakes(self) -> list[tuple[Mistake, list[Any]]]:
        self._expected()
        return list(self._cache["mistakes"])

    def check(self, answer: Any) -> Result:
        """Classify ``answer``; never raises on what the learner gives."""
        if answer is ...:
            return Result(
                self.id, "not answered", "not answered yet (replace the ... with your answer)"
            )
        if self.function and not callable(answer):
            return Result(self.id, "wrong", f"give a function, got {describe(answer)}")
        if isinstance(answer, Value):
            return Result(
                self.id, "wrong", "give the number (.data or .grad), not the Value itself"
            )
        expected = self._expected()
        try:
            given = self.outputs(answer)
        except Exception as error:  # the learner's function: report, never crash the notebook
            return Result(self.id, "error", f"your function raised {type(error).__name__}: {error}")
        if self.function and any(output is ... for output in given):  # body still `return ...`
            return Result(self.id, "not answered", "not answered yet (your function returns ...)")
        if _all_close(given, expected, self.tolerance):
            return Result(self.id, "right", "right")
        for mistake, outputs in self.named_mistakes():
            if _all_close(given, outputs, self.tolerance):
                return Result(self.id, "wrong", f"not right: {mistake.hint}", mistake.name)
        return Result(
            self.id,
            "wrong",
            f"not right, and not a mistake this check knows: expected {self.shape}; "
            "retrace the chain rule one factor at a time",
        )


def _all_close(a: Any, b: Any, tolerance: float) -> bool:
    """Numbers within ``tolerance`` (relative, and absolute near 0); sequences elementwise.
    False, never an exception, for anything else the learner gives (``b`` is ours)."""
    try:
        return _close(a, b, tolerance)
    except Exception:  # (RecursionError too) an object that refuses to be compared is not equal
        return False


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if hasattr(a, "tolist") and not isinstance(a, (list, tuple)):
        a = a.tolist()  # a NumPy array or scalar
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a == b)
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            return False
        return math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance * 1e-3)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(p, q, tolerance) for p, q in zip(a, b))
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return False


# --- the plain arithmetic a learner writes; the mistakes reuse it so their shapes are the learner's


def _matvec(W: Sequence[Sequence[float]], v: Sequence[float]) -> list[float]:
    return [sum(w * x for w, x in zip(row, v)) for row in W]


def _transpose(W: Sequence[Sequence[float]]) -> list[list[float]]:
    return [list(col) for col in zip(*W)]


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# --- the exercises, by notebook ------------------------------------------------------------

EXERCISES: dict[str, Exercise] = {}


def _add(exercise: Exercise) -> None:
    EXERCISES[exercise.id] = exercise


def _m(name: str, hint: str, answer: Any) -> Mistake:
    return Mistake(name, hint, answer)


# 00: L = a b + c with a = 2, b = -3, c = 10


def _abc() -> tuple[Any, ...]:
    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    (a * b + c).backward()
    return a, b, c


_add(
    Exercise(
        "00.dL_db",
        "L = a·b + c with a = 2, b = -3, c = 10: what is ∂L/∂b?",
        lambda: _abc()[1].grad,
        lambda: [
            _m(
                "gave ∂L/∂a",
                "that is ∂L/∂a (= b); for b the other factor of the product",
                _abc()[0].grad,
            ),
            _m(
                "wrong sign",
                "right size, wrong sign: ∂(a·b)/∂b = a, and a is positive",
                -_abc()[1].grad,
            ),
            _m("gave ∂L/∂c", "that is ∂L/∂c: c is added, but b is multiplied by a", _abc()[2].grad),
        ],
    )
)


def _neuron00() -> tuple[Any, ...]:
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6 + math.atanh(1 / math.sqrt(2)))
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    return x1, x2, w1, w2, b, o


_add(
    Exercise(
        "00.do_dw2",
        "o = tanh(x1 w1 + x2 w2 + b) with x = (2, 0), w = (-3, 1): what is ∂o/∂w2?",
        lambda: _neuron00()[3].grad,
        lambda: [
            _m(
                "missing factor x2",
                "that is 1 - o² (alone, or times w2): multiply the local derivative by ∂n/∂w2 = x2",
                1 - _neuron00()[5].data ** 2,
            ),
            _m(
                "gave ∂o/∂w1",
                "that is ∂o/∂w1 = (1 - o²)·x1; w2 is multiplied by x2",
                _neuron00()[2].grad,
            ),
        ],
    )
)


def _reused00() -> Value:
    a = Value(3.0)
    (a * a + a).backward()
    return a


_add(
    Exercise(
        "00.df_da",
        "f = a·a + a at a = 3 (gradients added with +=): what is ∂f/∂a?",
        lambda: _reused00().grad,
        lambda: [
            _m(
                "one use of a in a·a",
                "a·a uses a twice and each use sends back a: 2a, not a",
                _reused00().data + 1,
            ),
            _m("forgot the + a", "the last + a sends back 1 more", 2 * _reused00().data),
            _m("set, not added", "that is what = in place of += gives: the last write wins", 1.0),
        ],
    )
)


# each case: a function of floats, the same function of Values (for the engine), x, h
_SLOPE_CASES: list[tuple[Callable[[Any], Any], Callable[[Value], Value], float, float]] = [
    (lambda x: x * x * x, lambda v: v * v * v, 2.0, 1e-4),
    (math.tanh, lambda v: v.tanh(), 0.3, 1e-4),
    (lambda x: math.exp(-x) + x, lambda v: (-v).exp() + v, -1.0, 1e-4),
]


def _engine_slope(f: Callable[[Any], Any], x: float, h: float) -> float:
    """The reference: the engine's gradient of the case's function written for Values."""
    (value_f,) = [vf for ff, vf, _, _ in _SLOPE_CASES if ff is f]
    leaf = Value(x)
    value_f(leaf).backward()
    return grad_number(leaf)


_add(
    Exercise(
        "00.numerical_slope",
        "Write numerical_slope(f, x, h): the central difference (f(x + h) - f(x - h)) / 2h.",
        lambda: _engine_slope,
        lambda: [
            _m(
                "one-sided difference",
                "(f(x + h) - f(x)) / h is one-sided: its error is of order h; use x + h and x - h",
                lambda f, x, h: (f(x + h) - f(x)) / h,
            ),
            _m(
                "divided by h",
                "twice the slope: the two points are 2h apart, divide by 2h",
                lambda f, x, h: (f(x + h) - f(x - h)) / h,
            ),
            _m(
                "wrong sign",
                "right size, wrong sign: f(x + h) comes first",
                lambda f, x, h: (f(x - h) - f(x + h)) / (2 * h),
            ),
        ],
        function=True,
        cases=lambda: [(f, x, h) for f, _, x, h in _SLOPE_CASES],
        tolerance=1e-6,
        shape="a function of (f, x, h) returning a number",
    )
)


# 01: the lecture's neuron y = tanh(w x + b), w = 2, b = 6, x = -2.79


def _neuron01() -> tuple[Any, ...]:
    x, w, b = Value(-2.79), Value(2.0), Value(6.0)
    z = w * x + b
    y = z.tanh()
    y.backward()
    return x, w, b, z, y


def _n01(i: int) -> float:
    return float(_neuron01()[i].data)


_add(
    Exercise(
        "01.tanh_neuron_dw",
        "y = tanh(w·x + b), w = 2, b = 6, x = -2.79: dy/dw = (1 - y²)·x, by hand.",
        lambda: _neuron01()[1].grad,
        lambda: [
            _m("wrong sign", "right size, wrong sign: check the sign of x", -_neuron01()[1].grad),
            _m(
                "missing factor f'(z)",
                "that is dz/dw = x alone: multiply by tanh'(z) = 1 - y²",
                _n01(0),
            ),
            _m(
                "a and z swapped",
                "1 - z² is not tanh'(z): tanh'(z) = 1 - tanh(z)² = 1 - y² (the output, not z)",
                (1 - _n01(3) ** 2) * _n01(0),
            ),
            _m(
                "missing factor x",
                "that is dy/dz = 1 - y²: multiply by dz/dw = x",
                1 - _n01(4) ** 2,
            ),
            _m(
                "w in place of x",
                "that is dy/dx = (1 - y²)·w: for w the factor is x",
                _neuron01()[0].grad,
            ),
        ],
    )
)


def _logistic() -> tuple[Any, ...]:
    x, w, b = Value(1.5), Value(0.8), Value(-0.5)
    z = w * x + b
    p = z.sigmoid()
    L = -p.log()
    L.backward()
    return x, w, b, p, L


_add(
    Exercise(
        "01.logistic_dw",
        "z = w x + b, p = σ(z), L = -log p with x = 1.5, w = 0.8, b = -0.5: dL/dw as the product "
        "of the local derivatives.",
        lambda: _logistic()[1].grad,
        lambda: [
            _m("wrong sign", "right size, wrong sign: dL/dp = -1/p", -_logistic()[1].grad),
            _m(
                "missing factor f'(z)",
                "missing dp/dz = p(1 - p): the sigmoid's local derivative",
                -1 / _logistic()[3].data * _logistic()[0].data,
            ),
            _m(
                "missing factor x",
                "that is dL/dz = p - 1: multiply by dz/dw = x",
                _logistic()[3].data - 1,
            ),
            _m(
                "gave dL/dx",
                "that is dL/dx (factor w): for w the last factor is x",
                _logistic()[0].grad,
            ),
        ],
    )
)


def _order01() -> tuple[Any, ...]:
    a = Value(3.0)
    b = a * 2.0
    c = b * a
    L = c + b
    L.backward()
    return a, L


def _distinct(products: list[float]) -> list[float]:
    """Path products, each value once (two paths that bring the same amount are one mistake)."""
    out: list[float] = []
    for p in products:
        if not any(math.isclose(p, q, rel_tol=1e-9) for q in out):
            out.append(p)
    return out


def _order_paths() -> list[float]:
    a, L = _order01()
    return _distinct([p.product for p in chain_rule_paths(L, a)])


_add(
    Exercise(
        "01.reused_dL_da",
        "b = 2a, c = b·a, L = c + b at a = 3: dL/da, summing what every path brings back.",
        lambda: _order01()[0].grad,
        lambda: [
            _m(
                f"missed a path ({i + 1})",
                f"one path is missing (it brings {p:g}): a reaches L through c directly, through "
                "b into c, and through b straight to L",
                sum(_order_paths()) - p,
            )
            for i, p in enumerate(_order_paths())
        ],
    )
)


# 02: the graphs of notebook 02


def _path_factors() -> list[float]:
    """The local derivatives on the edges from L back to w, as the graph draws them."""
    _, w, _, _, L = _logistic()
    (path,) = chain_rule_paths(L, w)
    return list(reversed(path.factors))


_add(
    Exercise(
        "02.path_factors",
        "The logistic-regression graph (L = -log σ(w x + b), x = 1.5, w = 0.8, b = -0.5): the "
        "local derivatives on the edges from L back to w, in that order (one per edge).",
        _path_factors,
        lambda: [
            _m(
                "reversed",
                "the right factors in the opposite order: start at L",
                _path_factors()[::-1],
            ),
            _m(
                "three factors",
                "the graph has an edge for each op: negation, log, sigmoid, + and *; give all five",
                [-1 / _logistic()[3].data, _logistic()[3].data * (1 - _logistic()[3].data), 1.5],
            ),
            _m(
                "σ(z) for σ'(z)",
                "the sigmoid edge carries σ'(z) = p(1 - p), not p",
                [f if i != 2 else _logistic()[3].data for i, f in enumerate(_path_factors())],
            ),
        ],
        shape="a list of five numbers",
    )
)

_add(
    Exercise(
        "02.tanh_neuron_dx",
        "y = tanh(w·x + b), w = 2, b = 6, x = -2.79: dy/dx, read off the graph.",
        lambda: _neuron01()[0].grad,
        lambda: [
            _m(
                "gave dy/dw",
                "that is dy/dw = (1 - y²)·x: for x the factor is w",
                _neuron01()[1].grad,
            ),
            _m("missing factor f'(z)", "that is dz/dx = w alone: multiply by 1 - y²", 2.0),
            _m("wrong sign", "right size, wrong sign", -_neuron01()[0].grad),
        ],
    )
)


# 03: a perceptron, one layer's activation, the activations' slopes

_POINTS03 = [[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0], [0.5, 1.5], [0.0, 0.0]]


def _perceptron(w1: float, w2: float, b: float) -> list[int]:
    neuron = Neuron(2, activation=None)
    neuron.w[0].data, neuron.w[1].data, neuron.b.data = w1, w2, b
    return [int(neuron(p).data > 0) for p in _POINTS03]


_add(
    Exercise(
        "03.perceptron_classes",
        "The perceptron 1 + 3x₁ - 2x₂ > 0 → class 1: the classes of (0, 1), (1, 0), (-1, -1), "
        "(0.5, 1.5), (0, 0), as a list.",
        lambda: _perceptron(3.0, -2.0, 1.0),
        lambda: [
            _m(
                "flipped",
                "every class flipped: class 1 is where 1 + 3x₁ - 2x₂ is > 0",
                [1 - c for c in _perceptron(3.0, -2.0, 1.0)],
            ),
            _m(
                "x₁ and x₂ swapped",
                "x₁ and x₂ swapped: 3 multiplies x₁",
                _perceptron(-2.0, 3.0, 1.0),
            ),
            _m("no bias", "the bias 1 is missing", _perceptron(3.0, -2.0, 0.0)),
        ],
        shape="a list of five 0s and 1s",
    )
)

W03 = [[0.5, -1.0], [2.0, 0.3]]
B03 = [0.1, -0.2]
X03 = [1.0, 2.0]


def _layer03(W: list[list[float]], b: list[float], act: bool = True) -> list[float]:
    layer: Any = MLP(2, [2], activation="sigmoid", output_activation="sigmoid" if act else None)
    for neuron, row, bias in zip(layer.layers[0].neurons, W, b):
        for w, v in zip(neuron.w, row):
            w.data = v
        neuron.b.data = bias
    out = layer(X03)
    return [v.data for v in out] if isinstance(out, list) else [out.data]


_add(
    Exercise(
        "03.hidden_a2_1",
        "W = [[0.5, -1], [2, 0.3]], b = [0.1, -0.2], x = [1, 2], f = σ: a^(2)_1 = "
        "f(Σ_k W_1k x_k + b_1), the first hidden unit's activation.",
        lambda: _layer03(W03, B03)[0],
        lambda: [
            _m(
                "transposed W",
                "that uses W's first column: a^(2)_1 uses row 1, W_1k",
                _layer03(_transpose(W03), B03)[0],
            ),
            _m("no activation", "that is z^(2)_1: apply f = σ", _layer03(W03, B03, act=False)[0]),
            _m("no bias", "the bias b_1 is missing", _layer03(W03, [0.0, 0.0])[0]),
            _m(
                "the second unit",
                "that is a^(2)_2: the first unit uses row 1",
                _layer03(W03, B03)[1],
            ),
        ],
    )
)


def _slopes_at_zero() -> list[float]:
    out = []
    for name in ("sigmoid", "tanh", "relu"):
        v = Value(0.0)
        getattr(v, name)().backward()
        out.append(grad_number(v))
    return out


_add(
    Exercise(
        "03.slopes_at_zero",
        "The local derivatives at z = 0 of sigmoid, tanh and relu (microgradx's relu'(0)), as a "
        "list.",
        _slopes_at_zero,
        lambda: [
            _m(
                "values, not slopes",
                "those are the functions' values at 0; give their derivatives",
                [_sigmoid(0.0), 0.0, 0.0],
            ),
            _m("relu'(0) = 1", "microgradx (as PyTorch) takes relu'(0) = 0", [0.25, 1.0, 1.0]),
            _m("σ'(0) = 0.5", "σ'(z) = σ(z)(1 - σ(z)): at 0 that is 1/2 · 1/2", [0.5, 1.0, 0.0]),
        ],
        shape="a list of three numbers",
    )
)


# 04: the 2-3-1 sigmoid network of notebook 04 (seed 4), its deltas; modules


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


_add(
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


_add(
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


_add(
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


_add(
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


_add(
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


# 05: training


def _bce_grad(z0: float, t: int) -> float:
    z = Value(z0)
    bce_with_logits(z, t).backward()
    return grad_number(z)


_add(
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


_add(
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


_add(
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

_add(
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


# 06: forward vs reverse


def _paths06() -> tuple[float, list[float]]:
    x = Value(0.5)
    u = x * x
    v = (u + x).tanh()
    y = v * x
    y.backward()
    return grad_number(x), _distinct([p.product for p in chain_rule_paths(y, x)])


_add(
    Exercise(
        "06.path_sum",
        "u = x², v = tanh(u + x), y = v·x at x = 0.5: dy/dx as the sum over every path.",
        lambda: _paths06()[0],
        lambda: [
            _m(
                f"missed a path ({i + 1})",
                f"a path is missing (it brings {p:.6g}): x reaches y through u (twice: x·x), "
                "through u + x, and directly",
                _paths06()[0] - p,
            )
            for i, p in enumerate(_paths06()[1])
        ],
    )
)

_add(
    Exercise(
        "06.passes_for_gradient",
        "A loss of n = 1000 inputs and one output: [forward-mode passes, reverse-mode backward "
        "passes] for the whole gradient.",
        lambda: [1000, 1],
        lambda: [
            _m(
                "swapped",
                "forward mode needs one pass per input; reverse one per output",
                [1, 1000],
            ),
        ],
        shape="a list of two counts",
    )
)


def _dual06() -> float:
    x = Dual(0.7, 1.0)
    return float((x * x).sin().tangent)  # type: ignore[operator]


_add(
    Exercise(
        "06.dual_tangent",
        "Forward mode: push x = 0.7 with tangent 1 through sin(x²): the tangent that comes out.",
        _dual06,
        lambda: [
            _m("missing inner factor", "the chain rule: cos(x²) times (x²)' = 2x", math.cos(0.49)),
            _m("sin for cos", "sin' is cos", 2 * 0.7 * math.sin(0.49)),
            _m("wrong sign", "sin' = +cos", -_dual06()),
        ],
    )
)


# 07: diagnostics


def _sigmoid_stack(layers: int) -> float:
    z = Value(0.0)
    out = z
    for _ in range(layers):
        out = out.sigmoid()
    out.backward()
    return grad_number(z)


def _best_slope(layers: int) -> float:
    # each sigmoid's slope is at most σ'(0) = 1/4; a chain of them at most (1/4)^layers
    v = Value(0.0)
    v.sigmoid().backward()
    return float(grad_number(v) ** layers)


_add(
    Exercise(
        "07.sigmoid_stack_bound",
        "The largest factor five sigmoid layers can multiply a gradient by (σ' at its largest, "
        "weights of 1).",
        lambda: _best_slope(5),
        lambda: [
            _m("σ for σ'", "σ(0) = 0.5 is the value; its slope σ'(0) = 0.25", 0.5**5),
            _m(
                "one layer", "one layer's factor: five layers multiply five of them", _best_slope(1)
            ),
            _m("added", "the factors multiply (chain rule), they do not add", 5 * _best_slope(1)),
        ],
    )
)


def _dead07(leak: float = 0.0) -> float:
    w, x = Value(-0.5), Value(1.5)
    z = w * x + Value(0.05)
    a = z.relu() if leak == 0 else z.leaky_relu(leak)
    (2.0 * a).backward()
    return grad_number(w)


_add(
    Exercise(
        "07.dead_relu_grad",
        "A ReLU unit a = relu(w x + b), w = -0.5, x = 1.5, b = 0.05, upstream ∂L/∂a = 2: ∂L/∂w.",
        _dead07,
        lambda: [
            _m(
                "gradient through a dead unit",
                "z = -0.7 < 0: relu'(z) = 0, so nothing passes back",
                2.0 * 1.5,
            ),
            _m(
                "leaky",
                "that is a leaky ReLU (slope 0.01 below 0); this one is a plain ReLU",
                _dead07(0.01),
            ),
        ],
    )
)

_add(
    Exercise(
        "07.bump_units",
        "The staircase of 12 sigmoid bumps σ(k(x - a)) - σ(k(x - b)): how many sigmoid units?",
        lambda: 24,
        lambda: [_m("one per bump", "each bump is the difference of two sigmoids", 12)],
        shape="a count",
    )
)


# 08: Titanic


def _bce08(p: float, t: int) -> float:
    return float(binary_cross_entropy(Value(p), t).data)


_add(
    Exercise(
        "08.bce_predicted_02",
        "The lectures' example: predicted 0.2, actual 1.0. Its binary cross-entropy loss.",
        lambda: _bce08(0.2, 1),
        lambda: [
            _m("dropped minus", "log 0.2 is negative: the loss is -log p", -_bce08(0.2, 1)),
            _m("1 - p", "for t = 1 the loss is -log p, not -log(1 - p)", _bce08(0.2, 0)),
            _m("squared error", "that is (1 - 0.2)², the squared error", 0.64),
            _m("log10", "natural log, not base 10", -math.log10(0.2)),
        ],
    )
)


def _all_passengers_died() -> float:
    y_train, y_test = _titanic_split()
    return 1 - (sum(y_train) + sum(y_test)) / (len(y_train) + len(y_test))


def _titanic_split() -> tuple[list[int], list[int]]:
    _, _, y_train, y_test = load_titanic(features=("fare", "age"), seed=0)
    return y_train, y_test


_add(
    Exercise(
        "08.baseline",
        "load_titanic(features=('fare', 'age'), seed=0): the accuracy on y_test of always "
        "predicting the training split's majority class.",
        lambda: (lambda y: sum(t == 0 for t in y) / len(y))(_titanic_split()[1]),
        lambda: [
            _m(
                "survivors",
                "that is the fraction who survived; the majority class is 'died'",
                (lambda y: sum(y) / len(y))(_titanic_split()[1]),
            ),
            _m(
                "all passengers",
                "that is over all 891 passengers: use the test split",
                _all_passengers_died(),
            ),
        ],
    )
)


# 09: digits

Z09 = [1.0, 2.0, 0.5, -1.0]
T09 = 1


_add(
    Exercise(
        "09.softmax_grad",
        "Logits z = [1, 2, 0.5, -1], true class 1: ∂L/∂z = p - t for the negative log-likelihood.",
        lambda: _ce_grad(Z09, T09),
        lambda: [
            _m("wrong sign", "t - p in place of p - t", [-v for v in _ce_grad(Z09, T09)]),
            _m("missing - t", "that is p: subtract the one-hot t", [v.data for v in softmax(Z09)]),
            _m(
                "off by one class",
                "the one-hot 1 is at index 1 (classes count from 0)",
                _ce_grad(Z09, 2),
            ),
        ],
        shape="a list of four numbers",
    )
)


def _nll09(t: int) -> float:
    return float(cross_entropy(Z09, t).data)


_add(
    Exercise(
        "09.nll",
        "Same logits, true class 3: the loss L = -log p_3.",
        lambda: _nll09(3),
        lambda: [
            _m(
                "predicted class",
                "that is -log p of the largest logit: use the true class 3",
                _nll09(1),
            ),
            _m("dropped minus", "log p < 0: the loss is -log p", -_nll09(3)),
            _m("missing logsumexp", "-z_3 alone: L = log Σ e^z - z_3", -Z09[3]),
        ],
    )
)


def _count09(bias: bool = True) -> int:
    net = MLP(64, [32, 10], seed=0)
    return sum(1 for name, _ in net.named_parameters() if bias or not name.endswith(".b"))


_add(
    Exercise(
        "09.parameter_count",
        "How many parameters (weights and biases) has a 64-32-10 network?",
        _count09,
        lambda: [
            _m(
                "no biases",
                "the weights alone: each of the 42 neurons has a bias too",
                _count09(False),
            ),
            _m(
                "one matrix",
                "64·32·10 multiplies the layers: count each layer's matrix",
                64 * 32 * 10,
            ),
        ],
        shape="a count",
    )
)


# --- checking, collecting, grading -------------------------------------------------------

_SESSION: dict[str, Result] = {}


def check(exercise: str, answer: Any) -> Result:
    """Check ``answer`` for ``exercise`` (an id of ``EXERCISES``), print the result, keep it.

    Returns the :class:`Result` (in a notebook, end the line with ``;`` so that it is not shown a
    second time). Whatever ``answer`` is, nothing is raised for it; ``TypeError`` for an id that
    is not a str and ``ValueError`` for an unknown id (a typo in the notebook, not the answer).
    """
    exercise = text(exercise, "exercise")
    if exercise not in EXERCISES:
        raise ValueError(f"exercise must be one of the ids in EXERCISES, got {exercise!r}")
    result = EXERCISES[exercise].check(answer)
    _SESSION[exercise] = result
    print(result)
    return result


def session() -> list[Result]:
    """The last result of each exercise checked in this process, in order of first check."""
    return list(_SESSION.values())


def session_json() -> str:
    return json.dumps([r.to_dict() for r in session()], ensure_ascii=False)


def catalogue(notebook: str | None = None) -> list[dict[str, Any]]:
    """Every exercise (of one notebook: ``"04"``): id, notebook, statement, mistakes and hints.

    Raises ValueError for a notebook number no exercise has (``"4"`` for ``"04"``), naming them."""
    numbers = sorted({e.notebook for e in EXERCISES.values()})
    if notebook is not None and notebook not in numbers:
        raise ValueError(f"notebook must be one of {', '.join(numbers)}, got {notebook!r}")
    return [
        {
            "exercise": e.id,
            "notebook": e.notebook,
            "statement": e.statement,
            "answer": e.shape,
            "mistakes": [{"name": m.name, "hint": m.hint} for m, _ in e.named_mistakes()],
        }
        for e in EXERCISES.values()
        if notebook is None or e.notebook == notebook
    ]


@dataclass(frozen=True)
class Graded:
    """A notebook run: the result of every exercise of that notebook, and the cells that raised."""

    notebook: str
    results: list[Result]
    errors: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "passed": sum(r.passed for r in self.results),
            "total": len(self.results),
            "results": [r.to_dict() for r in self.results],
            "errors": self.errors,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


def _exercises_in(cells: list[Any], where: Path) -> list[Exercise]:
    """The exercises of a notebook, in its order: the cells marked ``"exercise": id`` (a learner
    may rename the file), else those of the notebook its name starts with (``04_...``)."""
    marked = [c.get("metadata", {}).get("exercise") for c in cells]
    found = [EXERCISES[i] for i in dict.fromkeys(marked) if i in EXERCISES]
    if not found:
        number = where.name.split("_", 1)[0]
        found = [e for e in EXERCISES.values() if e.notebook == number]
    if not found:
        raise ValueError(
            f"notebook {where.name} holds no exercise: no cell is marked as one (its metadata"
            " 'exercise') and its name does not start with a course notebook's number (04_...)"
        )
    return found


def grade_notebook(
    notebook: str | Path,
    *,
    fill: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> Graded:
    """Run ``notebook`` (a learner's filled copy) top to bottom and collect every check.

    ``fill`` maps exercise ids to source that replaces the cell whose metadata says
    ``"exercise": id`` (the tests put the solutions in this way). A cell that raises does not
    stop the run (its error is listed); an exercise of the notebook never checked counts as
    ``not answered``. Needs nbclient and ipykernel (``pip install 'microgradx[test]'``).
    """
    where = path(notebook, "notebook")
    timeout = real(timeout, "timeout")
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as error:  # pragma: no cover - the test extra has both
        raise ImportError(
            "grade_notebook needs nbclient and nbformat: pip install 'microgradx[test]'"
        ) from error
    nb = nbformat.read(str(where), as_version=4)  # type: ignore[no-untyped-call]
    if fill:
        for cell in nb.cells:
            exercise = cell.get("metadata", {}).get("exercise")
            if exercise in fill:
                cell.source = fill[exercise]
    nb.cells.append(
        nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
            "from microgradx import exercises as _mgx_exercises\n"
            f"print({_MARKER!r} + _mgx_exercises.session_json())"
        )
    )
    client = NotebookClient(
        nb,
        timeout=int(timeout),
        allow_errors=True,
        resources={"metadata": {"path": str(where.resolve().parent)}},
    )
    client.execute()
    errors, checked = [], []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream":
                for line in output.get("text", "").splitlines():
                    if line.startswith(_MARKER):
                        checked = json.loads(line[len(_MARKER) :])
    seen = {r["exercise"]: r for r in checked}
    results = []
    for e in _exercises_in(nb.cells, where):
        r = seen.get(e.id)
        if r is None:
            results.append(
                Result(e.id, "not answered", "never checked (the check cell did not run)")
            )
        else:
            results.append(Result(r["exercise"], r["status"], r["message"], r["mistake"]))
    return Graded(where.name, results, errors)


def main(argv: list[str] | None = None) -> int:
    """``python -m microgradx.exercises grade NOTEBOOK [--out FILE]``, or ``catalogue``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m microgradx.exercises")
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="run a filled notebook and print (or write) its checks")
    grade.add_argument("notebook")
    grade.add_argument("--out")
    listing = sub.add_parser("catalogue", help="the exercises, their statements and hints")
    listing.add_argument("--notebook")
    listing.add_argument("--out")
    args = parser.parse_args(argv)
    try:
        if args.command == "grade":
            graded = grade_notebook(args.notebook)
            data = graded.to_json()
            status = 0 if not graded.errors else 1
        else:
            data = json.dumps(catalogue(args.notebook), ensure_ascii=False, indent=1)
            status = 0
    except (OSError, ValueError) as error:  # one line, as for any command-line mistake
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")
    if args.out:
        write_atomically(args.out, (data + "\n").encode())
    else:
        print(data)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
