"""Neural networks built from Values: a neuron is a dot product, a bias and a nonlinearity.

    neuron(x) = activation(w . x + b) = activation(w_1 x_1 + ... + w_n x_n + b)

A ``Layer`` is a list of neurons that see the same inputs, an ``MLP`` a list of layers, each feeding
the next. Everything here is plain Python over ``Value``, so every weight's gradient comes from the
same ``backward()`` as a single neuron's.

Modules find their parameters by looking at their own attributes (a Value, a list of Values, a
Module, a list of Modules), which gives stable dotted names such as ``layers.0.neurons.3.w.1``;
those names are also the parameters' labels, so a drawn graph says which weight is which.

While a network computes, it records which nodes each neuron made, for which layer and which
input example (see "structure" below): the step-through and the drawings read that record to show
a neuron or a layer at a time, and to name nodes in the lectures' notation (``a2_1``, ``z2_1``,
``w2_1_3``), without reading any label.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import random
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from microgradx.checks import (
    choice,
    count,
    describe,
    flag,
    in_range,
    instance,
    instances,
    is_int,
    is_real,
    number,
    sequence,
)
from microgradx.checks import seed as checks_seed
from microgradx.engine import Value, maximum, zero_grad

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
    """The modules directly inside ``module`` (its attributes, and inside its lists), in order,
    each once (as torch's ``children()``: ``Sequential(s, s)`` has the one child ``s``)."""
    found: list[Module] = []
    seen: set[int] = set()
    stack: list[Any] = list(reversed([v for _, v in module._named_members()]))
    while stack:
        item = stack.pop()
        if isinstance(item, Module):
            if id(item) not in seen:
                seen.add(id(item))
                found.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
    return found


def _one_example(call: Callable[..., Any]) -> Callable[..., Any]:
    """``call`` (a module's ``__call__``) as one input example: every layer call made inside it
    shares its example number (see "structure" below), unless it runs inside another module's
    call, whose number it shares in turn."""
    if getattr(call, "_one_example", False):
        return call

    @functools.wraps(call)
    def one_example(self: Module, *args: Any, **kwargs: Any) -> Any:
        _, owner = _begin_example()
        try:
            return call(self, *args, **kwargs)
        finally:
            _end_example(owner)

    one_example._one_example = True  # type: ignore[attr-defined]
    return one_example


class Module:
    """Base class: parameters by name, gradients to zero, train/eval mode, a readable repr.

    A subclass's ``__call__`` (a user's model too) is one input example for the drawings: the
    layer calls it makes share one example number, so ``self.out(self.hidden(x))`` is one
    example, as a ``Sequential`` is."""

    training: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        call = vars(cls).get("__call__")
        if callable(call):
            cls.__call__ = _one_example(call)  # type: ignore[method-assign]

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
        """Every trainable Value, in the order of ``named_parameters``, each once: a new list on
        every call (yours to change; torch returns an iterator over the same Values).

        Training loops call this every step, so the list is kept between calls (no names are
        built: those are ``named_parameters``'). It is found again after any change of the
        module tree: an attribute set or deleted on this module or on any module inside it (a
        layer replaced, a new Value assigned), and any list in the tree changed in place (a
        module appended, a weight replaced by index). A change made behind ``__dict__`` is not
        seen."""
        with _kept_lock:  # threads: a change's invalidation never falls between find and keep
            kept = _kept.get(id(self))
            if (
                kept is not None
                and kept.parameters is not None
                and kept.module() is self
                and kept.holds()
            ):
                return kept.parameters.copy()
            found, lists, modules = self._parameter_tree()
            kept = _kept_for(self)
            kept.keep(found, lists)
            for module in modules:  # each tells this module when one of its attributes changes
                _kept_for(module).watchers[id(self)] = kept.module
            return found.copy()

    def _parameter_tree(self) -> tuple[list[Value], list[list[Any]], list[Module]]:
        """``parameters()`` found afresh (``named_parameters``' walk without the names), with
        every list and every module the walk went through."""
        found: list[Value] = []
        seen: set[int] = set()
        lists: list[list[Any]] = []
        modules: list[Module] = []
        stack: list[Any] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, Value):
                if id(item) not in seen:
                    seen.add(id(item))
                    found.append(item)
            elif isinstance(item, Module):
                modules.append(item)
                stack.extend(reversed([v for _, v in item._named_members()]))
            elif isinstance(item, (list, tuple)):
                if isinstance(item, list):
                    lists.append(item)
                if all(type(v) is Value for v in item):  # a weight vector: no stack needed
                    for v in item:
                        if id(v) not in seen:
                            seen.add(id(v))
                            found.append(v)
                else:
                    stack.extend(reversed(item))
        return found, lists, modules

    # Any attribute but the train/eval flag may change what parameters() finds (a subclass may
    # list a member of any name in _named_members): the lists kept through this module go, once
    # the attribute has changed (before, another thread's parameters() could find and keep the
    # old tree between the two, and nothing would drop it).
    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name != "training":
            _structure_changed(self)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        if name != "training":
            _structure_changed(self)

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
        ``model.apply(lambda m: m.eval())``. As torch's, a module's children are each visited
        once (``Sequential(s, s, h)``: ``s``, ``h``, then the Sequential), and a module held by
        two different parents once under each."""
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

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient before the next ``backward()``: to ``None``
        (torch's default; ``backward()`` starts a None gradient at 0), or to 0.0 with
        ``set_to_none=False``."""
        zero_grad(self.parameters(), set_to_none=set_to_none)

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
        every neuron its dotted name (``layers.0.neurons.3``) and its place in the lectures'
        notation: fully connected layers are numbered l = 1, 2, ... in order (the inputs are
        layer 0) and the neurons of each j = 1, 2, ..."""
        for name, p in self.named_parameters():
            p.label = name
        names = _module_names(self)
        layer = 0
        for module in self.modules():
            if isinstance(module, Linear):
                layer += 1
                module._name = names.get(id(module))
                for j, neuron in enumerate(module.neurons, 1):
                    neuron._place = (layer, j)
            if isinstance(module, Neuron):
                module._name = names.get(id(module))

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this module (used by ``save``/``load``)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        count = len(self.parameters())
        noun = "parameter" if count == 1 else "parameters"
        return f"{type(self).__name__}({self.extra_repr()}) with {count} {noun}"


# ---- parameters(), kept between calls -----------------------------------------------------------
#
# Kept outside the modules (nothing added to their attributes, which the compiled replay compares
# with what it recorded), by id, each entry with a weak reference to its module that removes the
# entry when the module goes. A module tells the modules whose lists include its parameters
# (itself and the modules it is inside of) when an attribute of its changes, through weak
# references: a child never keeps its parent alive, and no reference cycle appears. Lists
# changed in place (no attribute is set) are seen by comparing them with copies, in C.


class _Kept:
    """What is kept for one module: its ``parameters()`` with the lists of its tree as they were
    when found (``parameters`` is None until asked, and after a change), and the modules whose
    kept lists go through this one (``watchers``: id -> the weak reference in their ``_Kept``).

    The lists are kept in two groups, compared differently. The weight vectors (lists of Values
    only, nearly every item) are compared with ``==``, in C, which is identity for a Value (it has
    no ``__eq__``). Every other list (of modules, of lists, of a user's objects) is compared by
    identity item by item: ``==`` would call an item's ``__eq__``, which for a NumPy array returns
    an array whose truth value NumPy refuses, and which a user's module may define to call a
    fresh module equal to the one it replaced (whose parameters then would not be found)."""

    __slots__ = (
        "lengths",
        "lists",
        "module",
        "other_lists",
        "others",
        "parameters",
        "watchers",
        "weight_lists",
        "weights",
    )

    def __init__(self, module: Module) -> None:
        self.module = weakref.ref(module, functools.partial(_forget, id(module)))
        self.parameters: list[Value] | None = None
        self.lists: list[list[Any]] = []
        self.lengths: list[int] = []
        self.weight_lists: list[list[Any]] = []
        self.weights: list[Any] = []
        self.other_lists: list[list[Any]] = []
        self.others: list[Any] = []
        self.watchers: dict[int, weakref.ref[Module]] = {}

    def keep(self, parameters: list[Value], lists: list[list[Any]]) -> None:
        self.parameters = parameters
        self.lists = lists
        self.lengths = list(map(len, lists))
        self.weight_lists = [x for x in lists if all(type(v) is Value for v in x)]
        self.other_lists = [x for x in lists if not all(type(v) is Value for v in x)]
        self.weights = list(itertools.chain.from_iterable(self.weight_lists))
        self.others = list(itertools.chain.from_iterable(self.other_lists))

    def holds(self) -> bool:
        """True if every list of the tree still holds what it held (the same objects)."""
        if list(map(len, self.lists)) != self.lengths:
            return False
        try:  # a weight replaced by something whose __eq__ raises (a NumPy array) has changed
            same = list(itertools.chain.from_iterable(self.weight_lists)) == self.weights
        except Exception:
            return False
        return same and all(
            map(operator.is_, itertools.chain.from_iterable(self.other_lists), self.others)
        )


_kept: dict[int, _Kept] = {}  # id(module) -> what is kept for it, while it is alive
# parameters() and the dropping of kept lists take turns: without it, one thread's change could
# empty a kept list another thread was about to return (an AttributeError on None), or drop the
# watchers just before another thread kept a tree found before the change.
_kept_lock = threading.RLock()  # (a user's module may set an attribute in its _named_members)


def _forget(key: int, ref: weakref.ref[Module]) -> None:
    """The module is gone: so is its entry (a function of the key alone, so no entry refers to
    itself through its weak reference's callback)."""
    kept = _kept.get(key)
    if kept is not None and kept.module is ref:
        del _kept[key]


def _kept_for(module: Module) -> _Kept:
    kept = _kept.get(id(module))
    if kept is None or kept.module() is not module:
        kept = _kept[id(module)] = _Kept(module)
    return kept


def _structure_changed(module: Module) -> None:
    """An attribute of ``module`` changed: every kept list that went through it is dropped."""
    with _kept_lock:  # (the lookup too: parameters() may be about to keep a tree through it)
        kept = _kept.get(id(module))
        if kept is None or not kept.watchers or kept.module() is not module:
            return
        for key, ref in kept.watchers.items():
            watcher = _kept.get(key)
            if watcher is not None and watcher.module is ref:
                watcher.parameters = None
                watcher.lists = watcher.weight_lists = watcher.other_lists = []
                watcher.weights = watcher.others = []  # nothing of the old tree held
        kept.watchers.clear()


def _module_names(root: Module) -> dict[int, str]:
    """id(module) -> its dotted name inside ``root`` (``layers.0.neurons.3``; ``root`` itself is
    left out), the first name found for a module held twice (as ``named_parameters``)."""
    names: dict[int, str] = {}
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        prefix, item = stack.pop()
        if isinstance(item, Module):
            if prefix and id(item) not in names:
                names[id(item)] = prefix
            members = [(f"{prefix}.{n}" if prefix else n, v) for n, v in item._named_members()]
            stack.extend(reversed(members))
        elif isinstance(item, (list, tuple)) and not all(type(v) is Value for v in item):
            stack.extend(reversed([(f"{prefix}.{i}", v) for i, v in enumerate(item)]))
    return names


# ---- structure: what each neuron computed, recorded while it computes ----------------------------
#
# A neuron's output node is the key of a weak table whose entry is the forward call of its layer
# that made it (the layer, its inputs, which input example), one record shared by the layer's
# neurons. The nodes hold nothing new (no slot, no pointer back), so a graph stays free of
# reference cycles; an entry goes away with its node. Everything else (which of the layer's
# neurons, its ops, its z, its products w_k * x_k) is found from that entry by walking down from
# the output to the call's inputs, when a drawing asks: recording costs one table entry per
# neuron and call (about 130 bytes against a neuron's 2n + 2 nodes of about 110 bytes each).


class Call:
    """One forward call of a layer (or of a lone neuron) on one input example.

    ``module``: the Linear/Layer or Neuron called; ``inputs``: the Values it read, in order (a
    list the call made for itself);
    ``example``: a number counting top-level forward calls (a model called on examples 1 and 2
    of a mini-batch gives the calls of the first one number n, of the second n + 1; every layer
    call inside one model call shares its number); ``number``: counts every call, in the order
    they were made (a layer called twice in one example, ``Sequential(s, s, h)``, has two)."""

    __slots__ = ("example", "inputs", "module", "number")

    def __init__(self, module: Module, inputs: Sequence[Value], example: int) -> None:
        self.module = module
        self.inputs = inputs
        self.example = example
        self.number = next(_calls)


class NeuronCall:
    """What made one neuron's output: the ``neuron`` (its weights, bias and place) and the
    ``call`` of its layer it was part of (``made_by`` and ``Structure`` make these)."""

    __slots__ = ("call", "neuron")

    def __init__(self, neuron: Neuron, call: Call) -> None:
        self.neuron = neuron
        self.call = call


_made_by: weakref.WeakKeyDictionary[Value, Call] = weakref.WeakKeyDictionary()
_examples = itertools.count()
_calls = itertools.count()
_state = threading.local()  # the example number of the forward call running in this thread


def _begin_example() -> tuple[int, bool]:
    """The running forward call's example number, or a new one (and True: the caller ends it)."""
    current: int | None = getattr(_state, "example", None)
    if current is not None:
        return current, False
    _state.example = number = next(_examples)
    return number, True


def _end_example(owner: bool) -> None:
    if owner:
        _state.example = None


def made_by(node: Value) -> NeuronCall | None:
    """The neuron call whose output ``node`` is (None for any other node). TypeError naming
    ``node`` if it is not a Value."""
    call = _made_by.get(instance(node, "node", Value, "Value"))
    if call is None:
        return None
    module = call.module
    neurons = module.neurons if isinstance(module, Linear) else [module]
    if len(neurons) == 1 and isinstance(neurons[0], Neuron):
        return NeuronCall(neurons[0], call)
    # Which of the layer's neurons: the one whose bias the output was computed from (the walk
    # stays inside the neuron: it stops at the call's inputs).
    bias = {id(n.b): n for n in neurons if isinstance(n, Neuron)}
    stop = {id(x) for x in call.inputs}
    stack = [node]
    while stack:
        item = stack.pop()
        if item.op is None:
            found = bias.get(id(item))
            if found is not None:
                return NeuronCall(found, call)
            continue
        stack.extend(c for c in reversed(item.children) if id(c) not in stop)
    return None


class Structure:
    """Which nodes of a graph were computed by which neuron, read from what ``nn`` recorded.

    ``order``: the graph's nodes (``engine.topological_order``). ``owner`` maps every op a
    neuron computed (its output, its z, its products w_k * x_k and partial sums) to that neuron's
    call, and each of its parameters too when no other neuron call in the graph uses it (a weight
    read by two examples belongs to neither's box). ``outputs`` are the neurons' outputs, in
    ``order``; ``parameters`` every network parameter the graph reads. ``examples`` numbers the
    input examples 1, 2, ... in the order their calls were made; ``repeats`` numbers 1, 2, ...
    the calls of a module called more than once in one example (``Sequential(s, s, h)`` calls
    ``s`` twice), by ``id`` of the call, so that each call's nodes get names of their own.
    TypeError naming ``order`` if it is not a list of Values.
    """

    def __init__(self, order: Sequence[Value]) -> None:
        order = instances(order, "order", Value, "Value")
        self.outputs: dict[Value, NeuronCall] = {}
        for node in order:
            made = made_by(node) if node.op is not None else None
            if made is not None:
                self.outputs[node] = made
        self.owner: dict[Value, NeuronCall] = {}
        self.parameters: set[Value] = set()
        users: dict[Value, set[NeuronCall]] = {}
        for out, made in self.outputs.items():
            stop = {id(x) for x in made.call.inputs}
            own = {id(w) for w in made.neuron.w}
            own.add(id(made.neuron.b))
            stack, seen = [out], {out}
            while stack:  # down from the output to the call's inputs (no recursion)
                node = stack.pop()
                if node.op is None:
                    if id(node) in own:
                        users.setdefault(node, set()).add(made)
                    continue
                self.owner[node] = made
                for child in node.children:
                    if child in seen or id(child) in stop or child in self.outputs:
                        continue
                    seen.add(child)
                    stack.append(child)
        for parameter, calls in users.items():
            self.parameters.add(parameter)
            if len(calls) == 1:
                (self.owner[parameter],) = calls
        numbers = sorted({made.call.example for made in self.outputs.values()})
        self.examples = {n: k for k, n in enumerate(numbers, 1)} if len(numbers) > 1 else {}
        made_in: dict[tuple[int, int], dict[int, Call]] = {}  # (example, module) -> its calls
        for made in self.outputs.values():
            call = made.call
            made_in.setdefault((call.example, id(call.module)), {})[id(call)] = call
        self.repeats: dict[int, int] = {}
        for same in made_in.values():
            if len(same) > 1:
                ordered = sorted(same.values(), key=lambda c: c.number)
                self.repeats.update((id(c), k) for k, c in enumerate(ordered, 1))

    def tag(self, made: NeuronCall) -> str:
        """The neuron's indices: ``2_1`` (layer 2, neuron 1), ``""`` for a neuron outside any
        layer. Its weights and bias are named with it alone (``w2_1_3``, ``b2_1``): every
        example reads the same ones."""
        place = made.neuron._place
        return "" if place is None else f"{place[0]}_{place[1]}"

    def example(self, made: NeuronCall) -> str:
        """``[3]`` for a neuron call on example 3 of several, ``""`` when the graph has one:
        what it computed is named with it (``a2_1[3]``, ``z2_1[3]``, ``δ2_1[3]``); and ``#2``
        before it for the second call of a layer called more than once in the example
        (``a1_1#1`` and ``a1_1#2`` for ``Sequential(s, s, h)``): each call's nodes are its own."""
        example = self.examples.get(made.call.example)
        call = self.repeats.get(id(made.call))
        return ("" if call is None else f"#{call}") + ("" if example is None else f"[{example}]")

    def module_name(self, made: NeuronCall) -> str:
        """The neuron's dotted name (``layers.1.neurons.0``), with ``[k]`` on example k of
        several (and ``#c`` on call c of a layer called several times, as ``example``)."""
        return (made.neuron._name or "neuron") + self.example(made)

    def layer_name(self, made: NeuronCall) -> str:
        """The dotted name of the neuron's layer (``layers.1``), ``[k]`` on example k of several
        (and ``#c`` on call c of a layer called several times, as ``example``)."""
        module = made.call.module
        name = getattr(module, "_name", None) or ("layer" if module is not made.neuron else "")
        return name + self.example(made)

    def names(self) -> dict[Value, str]:
        """A name in the lectures' notation for every op a neuron computed: ``a2_1`` its output
        a^2_1, ``z2_1`` the z its activation reads, ``wx2_1_3`` the product w^2_13 x_3 and
        ``s2_1_3`` the sum b + w_1 x_1 + ... + w_3 x_3 (for a linear neuron a = z), and for
        an input that is not some neuron's output ``x3`` (input 3 of the network) or ``x2_3``
        (input 3 of layer 2)."""
        found: dict[Value, str] = {}
        weights: dict[int, dict[int, int]] = {}  # id(neuron) -> id(w_k) -> k
        for made in self.outputs.values():
            place = made.neuron._place
            suffix = self.example(made)
            layer = "" if place is None or place[0] == 1 else f"{place[0]}_"
            for i, x in enumerate(made.call.inputs, 1):
                if x not in self.outputs:
                    found.setdefault(x, f"x{layer}{i}{suffix}")
        for out, made in self.outputs.items():
            tag = self.tag(made) + self.example(made)
            found[out] = f"a{tag}"
            z = out._left if out.op is not None and out._right is None else None
            if z is not None and self.owner.get(z) is made:  # an activation's input
                found.setdefault(z, f"z{tag}")
        for node, made in self.owner.items():
            if node in found or node.op is None:
                continue
            neuron = made.neuron
            index = weights.get(id(neuron))
            if index is None:
                index = weights[id(neuron)] = {id(w): k for k, w in enumerate(neuron.w, 1)}
            tag, example = self.tag(made), self.example(made)
            k = next((index[id(c)] for c in node.children if id(c) in index), None)
            if k is not None:
                found[node] = f"wx{tag}_{k}{example}"
                continue
            right = node._right
            k = None
            if isinstance(right, Value) and right.op is not None:
                k = next((index[id(c)] for c in right.children if id(c) in index), None)
            found[node] = f"s{tag}_{k}{example}" if k is not None else f"s{tag}{example}"
        return found


def _values(x: Any, name: str) -> list[Value]:
    """``x`` (a list, tuple or 1-D NumPy array of numbers or Values) as a list of Values.

    Numbers become constant leaves here, once, so every neuron of a layer reads the same nodes.
    Every ``numbers.Real`` is a number (NumPy scalars, Fraction); anything else is a TypeError
    naming the item (``x[1]``).
    """
    items = sequence(x, name)
    return [
        item if isinstance(item, Value) else Value(number(item, f"{name}[{i}]"))
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
        # Set by label_parameters of the module that holds it: the dotted name, and the place
        # (layer l, neuron j) in the lectures' notation; None for a neuron on its own.
        self._name: str | None = None
        self._place: tuple[int, int] | None = None
        self.label_parameters()

    @property
    def nin(self) -> int:
        return len(self.w)

    def __call__(self, x: Any) -> Value:
        xs = _check_inputs(x, len(self.w), type(self).__name__)
        example, owner = _begin_example()
        try:
            return self._forward(xs, Call(self, xs, example))
        finally:
            _end_example(owner)

    def _forward(self, xs: Sequence[Value], call: Call) -> Value:
        z = self.b
        for w, xi in zip(self.w, xs):
            z = z + w * xi  # w . x + b, one multiply-add at a time
        out = self._activation.activate(z)
        if out.op is not None:  # a graph is being recorded (not under no_grad)
            _made_by[out] = call  # what made it (the drawings group by it)
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
        self._name: str | None = None  # its dotted name in the module that holds it
        self.label_parameters()

    @property
    def nin(self) -> int:
        return self.neurons[0].nin

    @property
    def nout(self) -> int:
        return len(self.neurons)

    def __call__(self, x: Any) -> list[Value]:
        xs = _check_inputs(x, self.nin, type(self).__name__)
        example, owner = _begin_example()
        try:
            call = Call(self, xs, example)  # one record shared by the layer's neurons
            return [n._forward(xs, call) for n in self.neurons]
        finally:
            _end_example(owner)

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
        outputs = [piece(xs) for piece in self.pieces]  # one example (Module's __call__)
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
        for layer in self.layers:  # one example (Module's __call__ makes any module's call one)
            x = layer(x)
        return x

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Any:
        """The layer at index ``i`` (negative counts from the end); IndexError past the end, as
        for a list (iteration stops there). A slice gives a list of layers."""
        if isinstance(i, slice):
            return self.layers[i]
        if not is_int(i):
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
            raise TypeError(
                f"sizes must be a list of layer sizes, e.g. [16, 1], got {describe(sizes)}"
            )
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
    Tanh, ReLU, LeakyReLU, Sigmoid, Softplus, Identity and Dropout layers.

    Every layer is checked before anything is built: ``TypeError`` naming the layer for a kind
    not listed (or a Linear without a bias), ``ValueError`` for a network of more than
    ``MAX_WEIGHTS`` weights and biases in all (a torch model of 100 million float32 weights is
    400 MB; as Values it would be 12 GB), and for a setting microgradx refuses (a Dropout of
    ``p = 1``), naming the layer. Nothing is drawn from the default generator (``manual_seed``'s):
    the weights are torch's."""
    torch = _torch()
    tnn = torch.nn
    if not isinstance(sequential, tnn.Sequential):
        raise TypeError(f"sequential must be a torch.nn.Sequential, got {describe(sequential)}")
    kinds = {tnn.Tanh: Tanh, tnn.ReLU: ReLU, tnn.Sigmoid: Sigmoid, tnn.Identity: Identity}
    torch_layers = list(sequential)
    weights = 0
    for i, layer in enumerate(torch_layers):
        if isinstance(layer, tnn.Linear):
            if layer.bias is None:
                raise TypeError(f"layer {i}: Linear without a bias is not supported")
            weights += (layer.in_features + 1) * layer.out_features
        elif not (
            isinstance(layer, (tnn.LeakyReLU, tnn.Dropout))
            or type(layer) in kinds
            or (isinstance(layer, tnn.Softplus) and layer.beta == 1)
        ):
            raise TypeError(f"layer {i}: {type(layer).__name__} is not supported by from_torch")
    _check_size(weights, "sequential's Linear layers")
    unused = random.Random(0)  # Linear draws starting weights, which torch's then replace
    layers: list[Module] = []
    for i, layer in enumerate(torch_layers):
        try:
            layers.append(_from_torch_layer(torch, layer, kinds, unused))
        except (TypeError, ValueError) as error:
            raise type(error)(f"layer {i} ({type(layer).__name__}): {error}") from None
    return Sequential(*layers)


def _from_torch_layer(
    torch: Any, layer: Any, kinds: Mapping[Any, type[Module]], rng: Any
) -> Module:
    """One checked layer of ``from_torch`` as a microgradx module."""
    tnn = torch.nn
    if isinstance(layer, tnn.Linear):
        weight = layer.weight.detach().to(torch.float64).tolist()
        bias = layer.bias.detach().to(torch.float64).tolist()
        linear = Linear(layer.in_features, layer.out_features, rng=rng)
        for neuron, row, b in zip(linear.neurons, weight, bias):
            for w, value in zip(neuron.w, row):
                w.data = value
            neuron.b.data = b
        return linear
    if isinstance(layer, tnn.LeakyReLU):
        return LeakyReLU(layer.negative_slope)
    if isinstance(layer, tnn.Dropout):
        return Dropout(layer.p)
    if isinstance(layer, tnn.Softplus):
        return Softplus()
    return kinds[type(layer)]()
