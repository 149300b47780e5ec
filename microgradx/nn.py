"""Neural networks built from Values: a neuron is a dot product, a bias and a nonlinearity.

    neuron(x) = activation(w . x + b) = activation(w_1 x_1 + ... + w_n x_n + b)

A ``Layer`` is a list of neurons that see the same inputs, an ``MLP`` a list of layers, each feeding
the next. Everything here is plain Python over ``Value``, so every weight's gradient comes from the
same ``backward()`` as a single neuron's.

Modules find their parameters by looking at their own attributes (a Value, a list of Values, a
Module, a list of Modules), which gives stable dotted names such as ``layers.0.neurons.3.w.1``;
those names are also the parameters' labels, so a drawn graph says which weight is which.
"""

from __future__ import annotations

import itertools
import math
import numbers
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from microgradx.checks import choice, count, describe, flag, in_range, is_real, real, sequence
from microgradx.checks import seed as checks_seed
from microgradx.engine import Operand, Value, maximum, zero_grad

Output = Value | list[Value]

# Default initialisation draws from this one generator (PyTorch's convention), so two layers of
# the same shape start different, and a fresh process still starts the same every time.
# manual_seed(n) resets it; seed= on a model (or rng= on a layer) uses a generator of its own.
_generator = random.Random(0)


def manual_seed(seed: int) -> None:
    """Reset the generator that default initialisation draws from (as ``torch.manual_seed``)."""
    _generator.seed(checks_seed(seed))


# ---- modules -------------------------------------------------------------------------------------


def _children(module: Module) -> list[Module]:
    """The modules directly inside ``module`` (its attributes, and inside its lists), in order."""
    found: list[Module] = []
    stack: list[Any] = list(reversed([v for _, v in module._named_members()]))
    while stack:
        item = stack.pop()
        if isinstance(item, Module):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
    return found


class Module:
    """Base class: parameters by name, gradients to zero, train/eval mode, a readable repr."""

    training: bool = True

    def __call__(self, x: Any) -> Any:
        raise NotImplementedError

    def _named_members(self) -> Iterator[tuple[str, Any]]:
        for name, value in vars(self).items():
            if name.startswith("_") or name == "training":
                continue
            yield name, value

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``(dotted name, parameter)`` pairs in a stable order, e.g. ``layers.0.neurons.3.w.1``.
        A parameter shared by two modules appears once, with the first name found (as PyTorch)."""
        found: list[tuple[str, Value]] = []
        seen: set[int] = set()  # a shared parameter is listed once, under its first name
        # An explicit stack (module trees are shallow, but nothing here recurses).
        stack: list[tuple[str, Any]] = [("", self)]
        while stack:
            prefix, item = stack.pop()
            if isinstance(item, Value):
                if id(item) not in seen:
                    seen.add(id(item))
                    found.append((prefix, item))
            elif isinstance(item, Module):
                members = [(f"{prefix}.{n}" if prefix else n, v) for n, v in item._named_members()]
                stack.extend(reversed(members))
            elif isinstance(item, (list, tuple)):
                if all(type(v) is Value for v in item):  # a weight vector: no stack needed
                    for i, v in enumerate(item):
                        if id(v) not in seen:
                            seen.add(id(v))
                            found.append((f"{prefix}.{i}", v))
                else:
                    stack.extend(reversed([(f"{prefix}.{i}", v) for i, v in enumerate(item)]))
        return found

    def parameters(self) -> list[Value]:
        """Every trainable Value, in the order of ``named_parameters``."""
        return [p for _, p in self.named_parameters()]

    def modules(self) -> list[Module]:
        """This module and every module inside it, in order (depth first, as they were built);
        a module that appears twice is listed once (as PyTorch's ``modules()``)."""
        found: list[Module] = []
        seen: set[int] = set()
        stack: list[Module] = [self]
        while stack:
            module = stack.pop()
            if id(module) not in seen:
                seen.add(id(module))
                found.append(module)
                stack.extend(reversed(_children(module)))
        return found

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn(module)`` on every module inside this one, then on this one (children
        first, depth first, as ``torch.nn.Module.apply``); returns this module. For example
        ``model.apply(lambda m: m.eval())``."""
        if not callable(fn):
            raise TypeError(
                f"fn must be a function of a module, got {describe(fn)}: Module.apply(fn) calls it"
                " on every module, as torch's (an activation of a Value is activation.activate(z))"
            )
        order: list[Module] = []
        stack: list[tuple[Module, bool]] = [(self, False)]
        while stack:
            module, children_done = stack.pop()
            if children_done:
                order.append(module)
                continue
            stack.append((module, True))
            stack.extend((child, False) for child in reversed(_children(module)))
        for module in order:
            fn(module)
        return self

    def zero_grad(self) -> None:
        """Every parameter's gradient to 0, before the next ``backward()``."""
        zero_grad(self.parameters())

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active). Returns the module, as in PyTorch."""
        mode = flag(mode, "mode")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off)."""
        return self.train(False)

    def label_parameters(self) -> None:
        """Give every parameter its dotted name as its label (graphs show which weight is which),
        and every neuron the name of its output (``layers.0.neurons.3``: graphs group by it)."""
        neuron_of_bias = {id(m.b): m for m in self.modules() if isinstance(m, Neuron)}
        for name, p in self.named_parameters():
            p.label = name
            neuron = neuron_of_bias.get(id(p))
            if neuron is not None:
                neuron._name = name[:-2] or None  # "layers.0.neurons.3.b" -> "layers.0.neurons.3"

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this module (used by ``save``/``load``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        count = len(self.parameters())
        noun = "parameter" if count == 1 else "parameters"
        return f"{type(self).__name__}({self.extra_repr()}) with {count} {noun}"


def _values(x: Any, name: str) -> list[Value]:
    """``x`` (a list, tuple or 1-D NumPy array of numbers or Values) as a list of Values.

    Numbers become constant leaves here, once, so every neuron of a layer reads the same nodes.
    Every ``numbers.Real`` is a number (NumPy scalars, Fraction); anything else is a TypeError
    naming the item (``x[1]``).
    """
    items = sequence(x, name)
    return [
        item if isinstance(item, Value) else Value(real(item, f"{name}[{i}]"))
        for i, item in enumerate(items)
    ]


def _check_inputs(x: Any, nin: int, owner: str) -> list[Value]:
    """The inputs ``x`` of a module with ``nin`` inputs as a list of Values, or a clear error
    naming ``x`` (TypeError: not a list of numbers or Values; ValueError: not ``nin`` of them)."""
    name = f"{owner} input x"
    if isinstance(x, Value) or is_real(x):
        raise TypeError(f"{name} must be a list of {nin} numbers or Values, got {describe(x)}")
    items = sequence(x, name)
    if len(items) != nin:
        raise ValueError(f"{name} must hold {nin} numbers (one per input), got {len(items)}")
    return _values(items, name)


# Every weight is a Value, a Python object of about 120 bytes, and every pass visits each one: a
# layer of a million weights takes seconds per example already. A constructor asked for more is
# refused before anything is allocated (Linear(10**6, 10**6) would need 120 TB).
MAX_WEIGHTS = 1_000_000


def _check_size(weights: int, what: str) -> None:
    if weights > MAX_WEIGHTS:
        digits = math.floor(weights.bit_length() * math.log10(2))
        amount = f"{weights:,}" if weights < 10**15 else f"about 10^{digits}"
        raise ValueError(
            f"{what} asks for {amount} weights; microgradx builds at most {MAX_WEIGHTS:,} in one"
            " call (each weight is a Python object of about 120 bytes, and every pass visits it)"
        )


def _random(rng: Any) -> random.Random:
    """``rng``, or the default generator for ``None``."""
    if rng is None:
        return _generator
    if not isinstance(rng, random.Random):
        raise TypeError(f"rng must be a random.Random or None, got {describe(rng)}")
    return rng


# ---- activations -------------------------------------------------------------------------------


class Activation(Module):
    """An elementwise nonlinearity: a list of Values (or one Value) in, the same shape out.

    A new activation defines ``activate(z)``, the function of one Value. (It was ``apply(z)``,
    which is now torch's ``Module.apply(fn)``; a subclass that still defines ``apply`` is
    refused when it is defined, rather than silently becoming the identity.)
    """

    name = "identity"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "apply" in vars(cls):
            raise TypeError(
                f"{cls.__name__} defines apply(z): an activation's function of a Value is now"
                " activate(z) (apply(fn) is torch's Module.apply)"
            )

    def activate(self, z: Value) -> Value:
        return z

    def __call__(self, x: Any) -> Any:
        if isinstance(x, Value):
            return self.activate(x)
        return [self.activate(v) for v in _values(x, "x")]

    def config(self) -> dict[str, Any]:
        return {"type": type(self).__name__}


class Identity(Activation):
    name = "linear"


class Tanh(Activation):
    name = "tanh"

    def activate(self, z: Value) -> Value:
        return z.tanh()


class ReLU(Activation):
    name = "relu"

    def activate(self, z: Value) -> Value:
        return z.relu()


class Sigmoid(Activation):
    name = "sigmoid"

    def activate(self, z: Value) -> Value:
        return z.sigmoid()


class Softplus(Activation):
    name = "softplus"

    def activate(self, z: Value) -> Value:
        return z.softplus()


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.01) -> None:
        slope = in_range(negative_slope, "negative_slope", 0.0, math.inf, high_open=True)
        self.negative_slope = slope  # a setting, not a parameter (it is not a Value)

    def activate(self, z: Value) -> Value:
        return z.leaky_relu(self.negative_slope)

    def config(self) -> dict[str, Any]:
        return {"type": "LeakyReLU", "negative_slope": self.negative_slope}

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope:g}"


ACTIVATIONS: dict[str, Callable[[], Activation]] = {
    "linear": Identity,
    "tanh": Tanh,
    "relu": ReLU,
    "sigmoid": Sigmoid,
    "softplus": Softplus,
    "leaky_relu": LeakyReLU,
}


def get_activation(spec: str | Activation | None, name: str = "activation") -> Activation:
    """An activation module from a name (``"tanh"``, ``"relu"``, ...), a module, or None
    (the identity). Anything else is refused naming the argument ``name``: a ValueError for an
    unknown name, a TypeError for something that is neither a name nor an Activation."""
    if spec is None:
        return Identity()
    if isinstance(spec, Activation):
        return spec
    names = ", ".join(repr(n) for n in sorted(ACTIVATIONS))
    if not isinstance(spec, str):
        raise TypeError(
            f"{name} must be one of {names}, an Activation module or None, got {describe(spec)}"
        )
    if spec not in ACTIVATIONS:
        raise ValueError(f"{name} must be one of {names}, or an Activation module, got {spec!r}")
    return ACTIVATIONS[spec]()


# ---- layers ------------------------------------------------------------------------------------

INITS = ("xavier", "he", "uniform")


def _init_bound(init: str, nin: int, nout: int) -> float:
    """Half-width of the uniform distribution the weights are drawn from."""
    if init == "xavier":  # Glorot & Bengio: keeps the variance of tanh layers steady
        return math.sqrt(6.0 / (nin + nout))
    if init == "he":  # He et al.: for ReLU layers, which zero half their inputs
        return math.sqrt(6.0 / nin)
    if init == "uniform":  # micrograd's choice
        return 1.0
    raise AssertionError(init)  # unreachable: callers check init with _check_init


def _check_init(init: Any) -> str:
    return choice(init, "init", INITS)


class Neuron(Module):
    """``activation(w . x + b)``: one output from ``nin`` inputs."""

    def __init__(
        self,
        nin: int,
        activation: str | Activation | None = "tanh",
        *,
        init: str = "xavier",
        nout: int = 1,
        rng: random.Random | None = None,
    ) -> None:
        # nout only sets the width of xavier's distribution: at most a layer's width
        nin, nout = count(nin, "nin"), count(nout, "nout", maximum=MAX_WEIGHTS)
        _check_size(nin, "nin")
        init, rng = _check_init(init), _random(rng)
        act = get_activation(activation)
        bound = _init_bound(init, nin, nout)
        self.w = [Value(rng.uniform(-bound, bound)) for _ in range(nin)]
        self.b = Value(0.0)
        self._activation = act
        self._name: str | None = None  # set by label_parameters of the module that holds it
        self.label_parameters()

    @property
    def nin(self) -> int:
        return len(self.w)

    def __call__(self, x: Any) -> Value:
        return self._forward(_check_inputs(x, len(self.w), type(self).__name__))

    def _forward(self, xs: Sequence[Operand]) -> Value:
        z = self.b
        for w, xi in zip(self.w, xs):
            z = z + w * xi  # w . x + b, one multiply-add at a time
        out = self._activation.activate(z)
        out.label = self._name  # the neuron's output carries its name (graphs group by it)
        return out

    def extra_repr(self) -> str:
        return f"{self.nin}, activation={self._activation.name!r}"


class Linear(Module):
    """``nout`` affine units ``w_j . x + b_j`` (no activation): ``torch.nn.Linear``'s job.

    ``nin * nout`` may be at most ``MAX_WEIGHTS`` (a million); ``rng`` is a ``random.Random``
    or None. Called with ``x``, a list of ``nin`` numbers or Values (TypeError/ValueError naming
    ``x`` otherwise)."""

    def __init__(
        self, nin: int, nout: int, *, init: str = "xavier", rng: random.Random | None = None
    ) -> None:
        nin, nout = count(nin, "nin"), count(nout, "nout")
        _check_size(nin * nout, "nin * nout")
        init, rng = _check_init(init), _random(rng)
        self.neurons = [Neuron(nin, None, init=init, nout=nout, rng=rng) for _ in range(nout)]
        self.label_parameters()

    @property
    def nin(self) -> int:
        return self.neurons[0].nin

    @property
    def nout(self) -> int:
        return len(self.neurons)

    def __call__(self, x: Any) -> list[Value]:
        xs = _check_inputs(x, self.nin, type(self).__name__)
        return [n._forward(xs) for n in self.neurons]

    def config(self) -> dict[str, Any]:
        return {"type": "Linear", "nin": self.nin, "nout": self.nout}

    def extra_repr(self) -> str:
        return f"{self.nin}, {self.nout}"


class Layer(Linear):
    """``nout`` neurons with an activation, all seeing the same inputs."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str | Activation | None = "tanh",
        *,
        init: str = "xavier",
        rng: random.Random | None = None,
    ) -> None:
        act = get_activation(activation)  # checked before any weight is drawn
        super().__init__(nin, nout, init=init, rng=rng)
        for n in self.neurons:
            n._activation = act

    @property
    def activation_name(self) -> str:
        return self.neurons[0]._activation.name

    def config(self) -> dict[str, Any]:
        return {
            "type": "Layer",
            "nin": self.nin,
            "nout": self.nout,
            "activation": self.neurons[0]._activation.config(),
        }

    def extra_repr(self) -> str:
        return f"{self.nin}, {self.nout}, activation={self.activation_name!r}"


class Dropout(Module):
    """Zeroes each input with probability ``p`` in training mode, scaling survivors by 1/(1-p).

    The scaling ("inverted dropout") keeps each unit's expected value, so evaluation mode is the
    identity. Seeded: the same seed drops the same units; without one, each Dropout gets its own
    stream from the generator that ``manual_seed`` resets (two layers do not drop alike).
    """

    def __init__(self, p: float = 0.5, *, seed: int | None = None) -> None:
        probability = in_range(p, "p (the dropout probability)", 0.0, 1.0, high_open=True)
        self.p = probability
        self.seed = seed
        own = checks_seed(seed, optional=True)
        if own is None:
            own = _generator.getrandbits(64)
        self._rng = random.Random(own)

    def __call__(self, x: Any) -> Any:
        values = [x] if isinstance(x, Value) else _values(x, "x")
        if not self.training or self.p == 0:
            return x
        keep = 1.0 / (1.0 - self.p)
        out = [v * keep if self._rng.random() >= self.p else v * 0.0 for v in values]
        return out[0] if isinstance(x, Value) else out

    def config(self) -> dict[str, Any]:
        return {"type": "Dropout", "p": self.p, "seed": self.seed}

    def extra_repr(self) -> str:
        return f"p={self.p:g}"


class Maxout(Module):
    """``max_k (w_jk . x + b_jk)`` for each output j: a learned piecewise-linear activation."""

    def __init__(
        self,
        nin: int,
        nout: int,
        pieces: int = 2,
        *,
        init: str = "xavier",
        rng: random.Random | None = None,
    ) -> None:
        pieces, nin, nout = count(pieces, "pieces"), count(nin, "nin"), count(nout, "nout")
        _check_size(pieces * nin * nout, "pieces * nin * nout")
        init, rng = _check_init(init), _random(rng)
        self.pieces = [Linear(nin, nout, init=init, rng=rng) for _ in range(pieces)]
        self.label_parameters()

    def __call__(self, x: Any) -> list[Value]:
        xs = _check_inputs(x, self.pieces[0].nin, "Maxout")
        outputs = [piece(xs) for piece in self.pieces]
        result = []
        for j in range(len(outputs[0])):
            best = outputs[0][j]
            for k in range(1, len(outputs)):
                best = maximum(best, outputs[k][j])
            result.append(best)
        return result

    def config(self) -> dict[str, Any]:
        first = self.pieces[0]
        return {"type": "Maxout", "nin": first.nin, "nout": first.nout, "pieces": len(self.pieces)}

    def extra_repr(self) -> str:
        first = self.pieces[0]
        return f"{first.nin}, {first.nout}, pieces={len(self.pieces)}"


class Sequential(Module):
    """Modules applied in order, each to the output of the one before."""

    def __init__(self, *layers: Module) -> None:
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential layers[{i}] must be a Module, got {describe(layer)}")
        self.layers = list(layers)
        self.label_parameters()

    def __call__(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Any:
        """The layer at index ``i`` (negative counts from the end); IndexError past the end, as
        for a list (iteration stops there). A slice gives a list of layers."""
        if isinstance(i, slice):
            return self.layers[i]
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"Sequential index i must be an int or a slice, got {describe(i)}")
        if not -len(self.layers) <= i < len(self.layers):
            raise IndexError(
                f"Sequential index {describe(i)} is out of range for {len(self.layers)} layers"
            )
        return self.layers[int(i)]

    def config(self) -> dict[str, Any]:
        return {"type": "Sequential", "layers": [layer.config() for layer in self.layers]}

    def extra_repr(self) -> str:
        return ", ".join(type(layer).__name__ for layer in self.layers)


class MLP(Sequential):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` is 2 inputs, two hidden layers, 1 output.

    Hidden layers use ``activation``; the last layer uses ``output_activation`` (``None``: linear,
    so the output is a logit or a regression value). A 1-output MLP returns a Value, otherwise a
    list of Values. Weights are drawn with ``init`` from ``random.Random(seed)``, or without a
    seed from the generator that ``manual_seed`` resets; biases start at 0.

    Raises TypeError/ValueError naming the argument, before any weight is drawn: sizes that are
    not ints >= 1, an unknown activation or init, or more than ``MAX_WEIGHTS`` (a million)
    weights in all.
    """

    def __init__(
        self,
        nin: int,
        sizes: Sequence[int],
        activation: str | Activation | None = "tanh",
        output_activation: str | Activation | None = None,
        *,
        init: str = "xavier",
        seed: int | None = None,
    ) -> None:
        # Everything is checked before the first weight is drawn: a refused call leaves the
        # default generator where it was.
        nin = count(nin, "nin")
        if is_real(sizes):
            raise TypeError(f"sizes must be a list of layer sizes, e.g. [16, 1], got {sizes!r}")
        sizes = [count(s, f"sizes[{i}]") for i, s in enumerate(sequence(sizes, "sizes"))]
        if not sizes:
            raise ValueError("sizes must not be empty: give at least the output layer's size")
        dims = [nin, *sizes]
        _check_size(sum(a * b for a, b in itertools.pairwise(dims)), "nin and sizes")
        init = _check_init(init)
        hidden = get_activation(activation)
        output = get_activation(output_activation, "output_activation")
        given = checks_seed(seed, optional=True)
        rng = random.Random(given) if given is not None else _generator
        layers = [
            Layer(
                dims[i],
                dims[i + 1],
                activation if i < len(sizes) - 1 else output_activation,
                init=init,
                rng=rng,
            )
            for i in range(len(sizes))
        ]
        super().__init__(*layers)
        self.nin = nin
        self.sizes = sizes
        self.init = init
        self.seed = seed
        self._hidden = hidden
        self._output = output

    def _named_members(self) -> Iterator[tuple[str, Any]]:
        yield "layers", self.layers

    def __call__(self, x: Any) -> Output:
        out: list[Value] = super().__call__(_check_inputs(x, self.nin, "MLP"))
        return out[0] if len(out) == 1 else out

    def config(self) -> dict[str, Any]:
        return {
            "type": "MLP",
            "nin": self.nin,
            "sizes": list(self.sizes),
            "activation": self._hidden.config(),
            "output_activation": self._output.config(),
            "init": self.init,
            "seed": self.seed,
        }

    def extra_repr(self) -> str:
        hidden, out = self._hidden.name, self._output.name
        return f"{self.nin}, {self.sizes}, activation={hidden!r}, output_activation={out!r}"


# ---- to and from PyTorch -------------------------------------------------------------------------


def _torch() -> Any:
    try:
        import torch  # type: ignore[import-not-found,unused-ignore]  # lint runs without torch
    except ImportError:
        raise ImportError(
            "to_torch/from_torch need PyTorch: pip install 'microgradx[torch]' (torch==2.13.0)"
        ) from None
    return torch


def _flatten(model: Module) -> list[Module]:
    """The model as a flat list of Linear, activation and Dropout modules."""
    flat: list[Module] = []
    stack: list[Module] = [model]
    while stack:
        module = stack.pop()
        if isinstance(module, Sequential):
            stack.extend(reversed(module.layers))
        elif isinstance(module, Layer):
            flat.append(module)  # its weights, as a Linear (a Layer is a Linear + activation)
            if not isinstance(module.neurons[0]._activation, Identity):
                flat.append(module.neurons[0]._activation)
        elif isinstance(module, (Linear, Activation, Dropout)):
            flat.append(module)
        else:
            raise TypeError(
                f"model holds a {type(module).__name__}, which to_torch does not support"
            )
    return flat


def to_torch(model: Module) -> Any:
    """An equivalent ``torch.nn.Sequential`` in float64 with copies of the weights."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be a microgradx Module, got {describe(model)}")
    torch = _torch()
    tnn = torch.nn
    layers = []
    for module in _flatten(model):
        if isinstance(module, Linear):
            linear = tnn.Linear(module.nin, module.nout, dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(
                    torch.tensor(
                        [[w.data for w in n.w] for n in module.neurons], dtype=torch.float64
                    )
                )
                linear.bias.copy_(
                    torch.tensor([n.b.data for n in module.neurons], dtype=torch.float64)
                )
            layers.append(linear)
        elif isinstance(module, Dropout):
            layers.append(tnn.Dropout(module.p))
        elif isinstance(module, LeakyReLU):
            layers.append(tnn.LeakyReLU(module.negative_slope))
        else:
            simple: dict[type, Any] = {
                Identity: tnn.Identity,
                Tanh: tnn.Tanh,
                ReLU: tnn.ReLU,
                Sigmoid: tnn.Sigmoid,
            }
            if type(module) is Softplus:
                # torch's Softplus switches to x above a threshold; a huge one keeps it exact.
                layers.append(tnn.Softplus(threshold=1e9))
            else:
                layers.append(simple[type(module)]())
    return tnn.Sequential(*layers)


def from_torch(sequential: Any) -> Sequential:
    """A microgradx ``Sequential`` with the weights of a ``torch.nn.Sequential`` of Linear,
    Tanh, ReLU, LeakyReLU, Sigmoid, Softplus, Identity and Dropout layers."""
    torch = _torch()
    tnn = torch.nn
    if not isinstance(sequential, tnn.Sequential):
        raise TypeError(f"sequential must be a torch.nn.Sequential, got {describe(sequential)}")
    layers: list[Module] = []
    for i, layer in enumerate(sequential):
        if isinstance(layer, tnn.Linear):
            if layer.bias is None:
                raise TypeError(f"layer {i}: Linear without a bias is not supported")
            weight = layer.weight.detach().to(torch.float64).tolist()
            bias = layer.bias.detach().to(torch.float64).tolist()
            linear = Linear(layer.in_features, layer.out_features)
            for neuron, row, b in zip(linear.neurons, weight, bias):
                for w, value in zip(neuron.w, row):
                    w.data = value
                neuron.b.data = b
            layers.append(linear)
        elif isinstance(layer, tnn.LeakyReLU):
            layers.append(LeakyReLU(layer.negative_slope))
        elif isinstance(layer, tnn.Dropout):
            layers.append(Dropout(layer.p))
        elif isinstance(layer, tnn.Softplus) and layer.beta == 1:
            layers.append(Softplus())
        else:
            kinds = {tnn.Tanh: Tanh, tnn.ReLU: ReLU, tnn.Sigmoid: Sigmoid, tnn.Identity: Identity}
            if type(layer) not in kinds:
                raise TypeError(f"layer {i}: {type(layer).__name__} is not supported by from_torch")
            layers.append(kinds[type(layer)]())
    return Sequential(*layers)
