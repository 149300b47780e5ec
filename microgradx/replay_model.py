"""The model guard: what a model looked like when ``compile`` recorded it, and a cheap test, at
every call, that it still does."""

from __future__ import annotations

import math
import operator
import struct
from typing import Any

from microgradx.engine import Value
from microgradx.nn import Module
from microgradx.replay_numbers import bits


class ModelState:
    """What a model looked like when it was recorded, and a cheap test that it still does.

    The walk covers every module reachable through any attribute (private ones too: a neuron's
    ``_activation``), every list, tuple and dict on the way, and every Value: training flags,
    parameters by identity, settings by value (floats bit for bit). ``holds()`` runs at every
    call: for each module its flag and its attribute dict (identity first, so a weight list is one
    pointer comparison), then each list's and dict's content (element identity, in C). A
    difference there is looked at precisely before it counts (``model.train()`` writes a flag
    that only the class had, which changes the dict but not the model).
    """

    def __init__(self, model: Module) -> None:
        self.model = model
        self.modules: list[tuple[Module, Any, dict[str, Any]]] = []
        self.containers: list[tuple[Any, Any]] = []
        self.zeros: list[tuple[Any, Any, float]] = []  # a float 0 is not -0.0: checked apart
        self.values: list[Value] = []  # every Value the model holds (recorded as inputs do)
        self.facts = self._walk(model)
        self._index()

    def _walk(self, model: Module) -> list[tuple[str, str, Any]]:
        """The model as a list of (dotted path, kind, what) in a fixed order, for comparing two
        states precisely and for saying what changed."""
        facts: list[tuple[str, str, Any]] = []
        seen: set[int] = set()
        stack: list[tuple[str, Any, Any, Any]] = [("model", model, None, None)]
        while stack:
            path, item, holder, key = stack.pop()
            if isinstance(item, Value):
                facts.append((path, "value", item))
                if id(item) not in seen:
                    seen.add(id(item))
                    self.values.append(item)
            elif isinstance(item, Module):
                facts.append((path, "module", item))
                if id(item) in seen:
                    continue
                seen.add(id(item))
                attributes = vars(item)
                self.modules.append((item, item.training, dict(attributes)))
                facts.append((f"{path}.training", "flag", item.training))
                members = [(k, v) for k, v in attributes.items() if k != "training"]
                facts.append((path, "attributes", tuple(k for k, _ in members)))
                stack.extend((f"{path}.{k}", v, item, k) for k, v in reversed(members))
            elif isinstance(item, (list, tuple, dict)):
                facts.append((path, type(item).__name__, len(item)))
                if id(item) in seen:
                    continue
                seen.add(id(item))
                if not isinstance(item, tuple):
                    self.containers.append((item, item.copy()))
                pairs = list(item.items()) if isinstance(item, dict) else list(enumerate(item))
                facts.append((path, "keys", tuple(k for k, _ in pairs)))
                stack.extend((f"{path}.{k}", v, item, k) for k, v in reversed(pairs))
            elif type(item) is float:
                facts.append((path, "number", bits(item)))
                if item == 0 and holder is not None:
                    self.zeros.append((holder, key, math.copysign(1.0, item)))
            else:
                facts.append((path, "object", item))
        return facts

    def _index(self) -> None:
        """The snapshot as flat lists, so ``holds`` compares them in C (map, list ==)."""
        self._modules = [module for module, _, _ in self.modules]
        self._flags = [training for _, training, _ in self.modules]
        self._attributes = [attributes for _, _, attributes in self.modules]
        self._live = [container for container, _ in self.containers]
        self._copies = [copy for _, copy in self.containers]

    def holds(self) -> bool:
        """True if the model is as recorded (cheap: about 10 us for the digits 64-32-10 MLP)."""
        try:
            same = (
                list(map(_training, self._modules)) == self._flags
                and list(map(vars, self._modules)) == self._attributes  # identity first: fast
                and self._live == self._copies  # each list or dict against its copy
            )
        except Exception:  # an attribute whose == raises (a NumPy array): look closely
            same = False
        if not same:
            return self._recheck()
        for holder, key, sign in self.zeros:
            number = vars(holder)[key] if isinstance(holder, Module) else holder[key]
            if type(number) is not float or math.copysign(1.0, number) != sign:
                return self._recheck()
        return True

    def _recheck(self) -> bool:
        now = ModelState(self.model)
        if self.change(now) is not None:
            return False
        self.modules, self.containers, self.zeros = now.modules, now.containers, now.zeros
        self._index()
        return True

    def change(self, now: ModelState | None = None) -> str | None:
        """What differs between this state and the model now (``None``: nothing)."""
        now = now or ModelState(self.model)
        for before, after in zip(self.facts, now.facts):
            if before[:2] != after[:2]:
                return f"{before[0]} changed (the model's structure is not the one recorded)"
            path, kind, old = before
            new = after[2]
            if kind in ("value", "module", "object"):
                if old is not new and (kind != "object" or not _same_object(old, new)):
                    what = {"value": "another Value", "module": "another module"}.get(kind)
                    if what is not None:
                        return f"{path} was replaced by {what}"
                    return f"{path} changed from {_show(old)} to {_show(new)}"
            elif kind == "flag":
                if old != new:
                    return f"{path} changed from {old!r} to {new!r}"
            elif kind == "number":
                if old != new:
                    return f"{path} changed from {_unbits(old)!r} to {_unbits(new)!r}"
            elif kind in ("list", "dict", "tuple"):
                if old != new:
                    return f"{path} changed length from {old} to {new}"
            elif old != new:
                return f"{path} changed (its attributes or keys are not the ones recorded)"
        if len(self.facts) != len(now.facts):
            return "the model's structure changed"
        return None


_training = operator.attrgetter("training")


def _same_object(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # an object whose == fails is compared by identity only
        return False


def _show(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _unbits(key: Any) -> float:
    return math.nan if key == ("nan",) else float(struct.unpack("<d", key)[0])
