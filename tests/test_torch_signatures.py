"""Every public name microgradx shares with PyTorch takes PyTorch's arguments.

For each name a user could carry over from torch (an optimizer, a schedule, ``hvp``, a Module
method, a loss, ``no_grad``...) the signatures are compared with ``inspect.signature``:

- our positional parameters are torch's first positional parameters, in torch's order, under
  torch's names; a required data argument may be named by what it holds here (``logits`` for
  torch's ``input``: ``ALIASES``);
- every other parameter of ours is keyword-only and exists in torch under the same name, or is
  one of ours listed in ``OUR_OWN`` (so a torch habit can never fill it by position);
- a parameter in both has the same default (``DEFAULTS_DIFFER`` lists the exceptions, each
  with its reason).

What torch lacks we may lack: a shorter signature is fine, a different one is not. The names are
found, not listed: every public name of the mapped modules (``MAPPED``) that the matching torch
namespaces also have, every method of our Module, Optimizer, Schedule, Value and Dual classes
that torch's counterpart also has. Not mapped: viz, viz.plots, playground, checks, testing,
replay's internals (their names are ours; ``torch.scatter`` or ``torch.layout`` are other ideas).
torch's builtins have no ``inspect`` signature: their documented one (the first line of the
docstring, ``maximum(input, other, *, out=None)``) is read instead.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import microgradx
from microgradx import autograd, engine, functional, gradcheck, io, losses, modes, nn, ops, optim
from microgradx import data as data_module

EMPTY = inspect.Parameter.empty
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)

# A required data argument named by what it holds here -> torch's name for it.
ALIASES = {
    "x": "input",
    "a": "input",
    "b": "other",
    "probabilities": "input",
    "logits": "input",
    "values": "input",
    "targets": "target",
    "label": "tensor",
    "nin": "in_features",
    "nout": "out_features",
    "model": "obj",  # torch.save(obj, f)
    "path": "f",
    "layers": "args",  # Sequential(*layers), torch's Sequential(*args)
}

# Keyword-only parameters torch does not have: (our qualified name, parameter) -> why.
OUR_OWN = {
    ("nn.Linear", "init"): "the initialisation scheme (torch: nn.init afterwards)",
    ("nn.Linear", "rng"): "the random generator (torch: the global one)",
    ("nn.Dropout", "seed"): "the mask's own generator, for repeatable lessons",
}

# (our qualified name, parameter) -> why its default differs from torch's.
DEFAULTS_DIFFER = {
    ("Value.backward", "gradient"): "torch's None means 1.0 for a scalar; a Value is one",
    ("data.one_hot", "num_classes"): (
        "required for one release: the old default was 10 classes, torch's -1 infers them"
    ),
}

# Mismatches that belong to another part of issue 18: (our name) -> whose. The test checks that
# each still mismatches, so that fixing one makes the test say to remove it from here.
KNOWN = {
    "compile": "replay's record/compile naming: its fn/example_inputs/model= are not torch's",
}

# torch documents these methods without arguments but gives them neither an inspect signature
# nor a docstring line (pytorch.org: ``Tensor.detach()``, ``Tensor.relu()``).
TORCH_DOCUMENTED = {"Tensor.detach": "detach()", "Tensor.relu": "relu()"}


def _dual_module() -> Any:
    """Forward mode's module (``dual``, or ``forward`` before the rename), from this checkout
    (an editable install of another checkout may offer a ``dual`` this one does not have)."""
    here = Path(microgradx.__file__).parent
    name = "dual" if (here / "dual.py").exists() else "forward"
    return importlib.import_module(f"microgradx.{name}")


def _namespaces(torch: Any) -> list[tuple[str, Any, list[tuple[str, Any]]]]:
    """(our prefix, our module, torch namespaces to look in, first match wins)."""
    import torch.autograd.functional
    import torch.func
    import torch.nn.functional
    import torch.nn.utils
    import torch.optim.lr_scheduler

    T = torch
    top = [("torch", T), ("torch.autograd", T.autograd)]
    return [
        ("microgradx", microgradx, top),
        ("engine", engine, [("torch.autograd", T.autograd)]),
        ("autograd", autograd, [("torch.autograd", T.autograd)]),
        ("modes", modes, top),
        ("gradcheck", gradcheck, [("torch.autograd", T.autograd)]),
        ("io", io, [("torch", T)]),
        ("nn", nn, [("torch.nn", T.nn), ("torch", T)]),
        ("losses", losses, [("torch.nn.functional", T.nn.functional), ("torch", T)]),
        ("optim", optim, [
            ("torch.optim", T.optim),
            ("torch.optim.lr_scheduler", T.optim.lr_scheduler),
            ("torch.nn.utils", T.nn.utils),
        ]),
        ("functional", functional, [
            ("torch.autograd.functional", T.autograd.functional),
            ("torch.func", T.func),
        ]),
        ("dual", _dual_module(), [("torch.func", T.func)]),
        ("data", data_module, [("torch.nn.functional", T.nn.functional)]),
        ("ops", ops, [("torch", T)]),
    ]  # fmt: skip


def _public(module: Any) -> Iterator[tuple[str, Any]]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_") and getattr(obj, "__module__", None) == module.__name__
        ]
    for n in names:
        obj = getattr(module, n)
        if callable(obj):
            yield n, obj


def _documented(obj: Any, name: str) -> inspect.Signature | None:
    """The signature a torch builtin documents in its docstring, ``name(a, b=1, *, c=None)``."""
    for line in (obj.__doc__ or "").splitlines():
        found = re.match(rf"\s*{re.escape(name)}\((.*?)\)\s*(->.*)?$", line)
        if found:
            return _parsed(found.group(1))
    return None


def _parsed(arguments: str) -> inspect.Signature:
    tree = ast.parse(f"def f({arguments}): pass").body[0]
    assert isinstance(tree, ast.FunctionDef)
    spec = tree.args
    P = inspect.Parameter

    def default(node: ast.expr | None) -> Any:
        if node is None:
            return EMPTY
        try:
            return ast.literal_eval(node)
        except ValueError:
            return ast.unparse(node)

    plain = spec.posonlyargs + spec.args
    firsts = [None] * (len(plain) - len(spec.defaults)) + list(spec.defaults)
    params = [P(a.arg, P.POSITIONAL_OR_KEYWORD, default=default(d)) for a, d in zip(plain, firsts)]
    if spec.vararg:
        params.append(P(spec.vararg.arg, P.VAR_POSITIONAL))
    for a, d in zip(spec.kwonlyargs, spec.kw_defaults):
        params.append(P(a.arg, P.KEYWORD_ONLY, default=default(d)))
    if spec.kwarg:
        params.append(P(spec.kwarg.arg, P.VAR_KEYWORD))
    return inspect.Signature(params)


def _signature(obj: Any, name: str, where: str) -> inspect.Signature:
    if f"{where}.{name}" in TORCH_DOCUMENTED:
        return _parsed(TORCH_DOCUMENTED[f"{where}.{name}"][len(name) + 1 : -1])
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        documented = _documented(obj, name)
        if documented is None:
            raise AssertionError(
                f"torch's {where}.{name} has no signature: add it to TORCH_DOCUMENTED"
            ) from None
        return documented


def _arguments(signature: inspect.Signature) -> list[inspect.Parameter]:
    return [p for p in signature.parameters.values() if p.name not in ("self", "cls")]


def _same_default(ours: Any, theirs: Any) -> bool:
    if ours is theirs:
        return True
    if EMPTY in (ours, theirs) or bool in (type(ours), type(theirs)):
        return False  # (False == 0, but a flag is not a number)
    return bool(ours == theirs)


def differences(name: str, ours: inspect.Signature, theirs: inspect.Signature) -> list[str]:
    """How ``ours`` departs from ``theirs`` (see the module's rules); empty if it does not."""
    mine, torch_args = _arguments(ours), _arguments(theirs)
    torch_positional = [p for p in torch_args if p.kind in POSITIONAL]
    by_name = {p.name: p for p in torch_args}
    problems = []
    counterpart: dict[str, inspect.Parameter] = {}
    for i, p in enumerate(p for p in mine if p.kind in POSITIONAL):
        if i >= len(torch_positional):
            problems.append(f"{p.name} is positional argument {i}; torch has {i} of them")
            continue
        t = torch_positional[i]
        if t.name == p.name or (p.default is EMPTY and ALIASES.get(p.name) == t.name):
            counterpart[p.name] = t
        else:
            problems.append(f"positional argument {i} is {p.name}, torch's is {t.name}")
    for p in mine:
        if p.kind == p.VAR_POSITIONAL:
            theirs_var = [t for t in torch_args if t.kind == t.VAR_POSITIONAL]
            if not theirs_var:
                problems.append(f"*{p.name}: torch takes no variable positional arguments")
        elif p.kind == p.VAR_KEYWORD:
            problems.append(f"**{p.name}: any keyword would be taken, torch's or not")
        elif p.kind == p.KEYWORD_ONLY:
            if p.name in by_name:
                counterpart[p.name] = by_name[p.name]
            elif (name, p.name) not in OUR_OWN:
                problems.append(f"keyword-only {p.name} is not torch's (list it in OUR_OWN?)")
    for p in mine:
        t = counterpart.get(p.name)
        if t is None or (name, p.name) in DEFAULTS_DIFFER:
            continue
        if not _same_default(p.default, t.default):
            problems.append(f"{p.name}'s default is {p.default!r}, torch's {t.default!r}")
    return problems


Pair = tuple[str, Any, str, Any]  # (our qualified name, ours, torch's qualified name, torch's)


def _pairs(torch: Any) -> list[Pair]:
    pairs: list[Pair] = []
    classes: set[type] = {engine.Value}
    for prefix, module, spaces in _namespaces(torch):
        for name, obj in _public(module):
            if isinstance(obj, type):
                classes.add(obj)
            if prefix == "microgradx" and name == "Value":
                continue  # torch.Value is TorchScript's graph node, another idea
            for where, space in spaces:
                if callable(getattr(space, name, None)):
                    label = name if prefix == "microgradx" else f"{prefix}.{name}"
                    pairs.append((label, obj, f"{where}.{name}", getattr(space, name)))
                    break
    counterparts = [
        (nn.Module, torch.nn.Module, "torch.nn.Module"),
        (optim.Optimizer, torch.optim.Optimizer, "torch.optim.Optimizer"),
        (optim.Schedule, torch.optim.lr_scheduler.LRScheduler, "LRScheduler"),
        (engine.Value, torch.Tensor, "Tensor"),
        (_dual_module().Dual, torch.Tensor, "Tensor"),
    ]
    for cls in sorted(classes, key=lambda c: c.__qualname__):
        for base, theirs, where in counterparts:
            if not issubclass(cls, base):
                continue
            for method, function in vars(cls).items():
                if not method.startswith("_") and callable(function) and hasattr(theirs, method):
                    label = f"{cls.__qualname__}.{method}"
                    pairs.append((label, function, f"{where}.{method}", getattr(theirs, method)))
    return pairs


def _compare(label: str, ours: Any, where: str, theirs: Any) -> list[str]:
    space, name = where.rsplit(".", 1)
    return differences(label, inspect.signature(ours), _signature(theirs, name, space))


def test_every_name_shared_with_torch_takes_torchs_arguments(torch):
    pairs = _pairs(torch)
    found = {label for label, *_ in pairs}
    # The discovery must keep finding the names the issue is about (it cannot shrink silently).
    expected = {
        "optim.SGD", "optim.RMSprop", "optim.Adam", "optim.Optimizer", "optim.StepLR",
        "optim.LinearLR", "optim.clip_grad_norm_", "functional.hvp", "functional.hessian",
        "functional.grad", "dual.jvp", "autograd.grad",
        "Module.apply", "Module.parameters", "Module.named_parameters", "Module.zero_grad",
        "Module.train", "Module.eval", "Module.modules", "Optimizer.step", "Optimizer.zero_grad",
        "Schedule.step", "losses.cross_entropy", "losses.binary_cross_entropy", "losses.softmax",
        "nn.Linear", "nn.Dropout", "nn.Sequential", "manual_seed", "no_grad", "gradcheck",
        "Value.backward", "data.one_hot", "compile",
    }  # fmt: skip
    assert expected <= found, f"no longer compared: {sorted(expected - found)}"
    problems = []
    for label, ours, where, theirs in pairs:
        found_problems = _compare(label, ours, where, theirs)
        if label in KNOWN:
            if not found_problems:
                problems.append(f"{label} now matches {where}: remove it from KNOWN")
            continue
        problems += [f"{label} vs {where}: {p}" for p in found_problems]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("ours", "theirs", "expected"),
    [
        ("(params, lr=0.1)", "(params, lr=0.1, momentum=0)", []),
        ("(params, lr, momentum=0)", "(params, lr=0.1, momentum=0)", ["lr's default"]),
        ("(params, lr=0.1, nesterov=False)", "(params, lr=0.1, momentum=0)", ["is nesterov"]),
        ("(params, lr=0.1, *, nesterov=False)", "(params, lr=0.1, nesterov=False)", []),
        ("(params, lr=0.1, *, jump=1)", "(params, lr=0.1)", ["jump is not torch's"]),
        ("(params, lr=0.1, **settings)", "(params, lr=0.1)", ["**settings"]),
        ("(logits, targets)", "(input, target, weight=None)", []),
        ("(logits, targets, reduction='mean')", "(input, target, weight=None)", ["is reduction"]),
        ("(logits, x=1)", "(input, input2=1)", ["is x, torch's is input2"]),
    ],
)
def test_the_comparison_catches_each_kind_of_difference(ours, theirs, expected):
    found = differences("f", _parsed(ours[1:-1]), _parsed(theirs[1:-1]))
    assert len(found) == len(expected) and all(e in f for e, f in zip(expected, found)), found


# ---- torch's meanings, and the old calls that would now mean something else ---------------------


def _grads(values, grads):
    for v, g in zip(values, grads):
        v.grad = g
    return values


@pytest.mark.parametrize(
    ("call", "message"),
    [
        # the old SGD(params, lr, momentum, nesterov, weight_decay): the 4th is now dampening
        (lambda p: optim.SGD(p, 0.1, 0.9, True), r"dampening .* got bool.*nesterov=True"),
        (lambda p: optim.SGD(p, 0.1, 0.9, False, 1e-4), r"SGD\(params, lr, momentum, dampening"),
        # the old RMSprop(params, lr, alpha, eps, momentum, weight_decay): swapped in torch's
        (lambda p: optim.RMSprop(p, 0.01, 0.99, 1e-8, 0.9), r"weight_decay=\.\.\., momentum="),
        # the old LinearLR(optimizer, total, end_factor)
        (lambda p: optim.LinearLR(optim.SGD(p, 0.1), 10, 0.5), r"LinearLR\(optimizer, 1\.0, end"),
        (lambda p: optim.LinearLR(optim.SGD(p, 0.1), 1), r"start_factor must be a float"),
        (lambda p: optim.LinearLR(optim.SGD(p, 0.1), total=4), r"total= is now total_iters="),
        (lambda p: optim.CosineLR(optim.SGD(p, 0.1), total=4), r"total= is now total_iters="),
        # the old Optimizer(params, lr, weight_decay) base
        (lambda p: optim.Optimizer(p, 0.1), r"Optimizer\(params, \{'lr': lr"),
        # a positional reduction: torch's third argument is weight
        (lambda p: losses.cross_entropy([1.0, 2.0], 0, "sum"), r"reduction=\.\.\."),
        (lambda p: losses.binary_cross_entropy(0.5, 1.0, "sum"), r"reduction=\.\.\."),
        # an activation's function of a Value is activate(z); apply(fn) is torch's
        (lambda p: nn.Tanh().apply(p[0]), r"activation\.activate\(z\)"),
        (lambda p: _dual_module().jvp(f=lambda x: x, primals=[1.0], tangents=[1.0]), "func="),
    ],
)
def test_an_old_call_fails_with_one_line_naming_the_new_form(call, message):
    params = [microgradx.Value(1.0), microgradx.Value(2.0)]
    with pytest.raises(TypeError, match=message) as caught:
        call(params)
    assert "\n" not in str(caught.value)


def test_the_old_names_fail_naming_the_new_ones():
    with pytest.raises(ImportError, match=r"clip_grad_norm_\(parameters, max_norm"):
        from microgradx.optim import clip_grad_norm  # noqa: F401
    with pytest.raises(ImportError, match="clip_grad_norm_"):
        optim.clip_grad_norm  # noqa: B018
    assert not hasattr(optim, "no_such_name")  # other names: the usual AttributeError
    with pytest.raises(TypeError, match=r"defines apply\(z\).*activate\(z\)"):

        class Swish(nn.Activation):  # the old way to write an activation
            def apply(self, z):
                return z * z.sigmoid()


def test_sgd_takes_torchs_positional_order_and_dampening(torch):
    ours = _grads([microgradx.Value(1.0), microgradx.Value(-2.0)], [0.0, 0.0])
    theirs = [torch.tensor(x, requires_grad=True) for x in (1.0, -2.0)]
    opt = optim.SGD(ours, 0.1, 0.9, 0.25, 0.01)  # lr, momentum, dampening, weight_decay
    torch_opt = torch.optim.SGD(theirs, 0.1, 0.9, 0.25, 0.01)
    for k in range(4):
        _grads(ours, [0.5 * k - 1, 3.0 / (k + 1)])
        for t, g in zip(theirs, [0.5 * k - 1, 3.0 / (k + 1)]):
            t.grad = torch.tensor(g)
        opt.step()
        torch_opt.step()
    assert [v.data for v in ours] == pytest.approx([t.item() for t in theirs], rel=1e-13)
    assert optim.SGD(ours).lr == torch.optim.SGD(theirs).defaults["lr"] == 0.001
    with pytest.raises(ValueError, match="nesterov needs momentum > 0 and dampening 0"):
        optim.SGD(ours, 0.1, 0.9, 0.5, nesterov=True)


def test_linear_lr_is_torchs_from_the_start(torch):
    opt = optim.SGD([microgradx.Value(1.0)], lr=0.1)
    torch_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    ours = optim.LinearLR(opt)  # torch's defaults: 1/3 -> 1 over 5 epochs
    theirs = torch.optim.lr_scheduler.LinearLR(torch_opt)
    rates = [(opt.lr, torch_opt.param_groups[0]["lr"])]  # set at once, as torch does
    for _ in range(7):
        torch_opt.step()
        ours.step()
        theirs.step()
        rates.append((opt.lr, torch_opt.param_groups[0]["lr"]))
    assert [a for a, _ in rates] == pytest.approx([b for _, b in rates], rel=1e-12)
    assert rates[0][0] == pytest.approx(0.1 / 3) and rates[-1][0] == pytest.approx(0.1)


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.5, math.inf])
def test_clip_grad_norm_takes_torchs_norm_type(torch, norm_type):
    grads = [3.0, -4.0, 12.0, 1e-3]
    ours = _grads([microgradx.Value(0.0) for _ in grads], grads)
    theirs = [torch.zeros((), requires_grad=True) for _ in grads]
    for t, g in zip(theirs, grads):
        t.grad = torch.tensor(g)
    norm = optim.clip_grad_norm_(ours, 2.0, norm_type)
    assert norm == pytest.approx(torch.nn.utils.clip_grad_norm_(theirs, 2.0, norm_type).item())
    assert [v.grad for v in ours] == pytest.approx([t.grad.item() for t in theirs], rel=1e-12)


def test_clip_grad_norm_refuses_a_nonfinite_norm_when_asked():
    a, b = _grads([microgradx.Value(0.0), microgradx.Value(0.0)], [math.inf, 1.0])
    with pytest.raises(ValueError, match=r"norm of order 2\.0 is inf"):
        optim.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    assert (a.grad, b.grad) == (math.inf, 1.0)
    assert optim.clip_grad_norm_(a, 1.0) == math.inf  # one Value, as torch takes one tensor
    with pytest.raises(ValueError, match="norm_type must be in"):
        optim.clip_grad_norm_([b], 1.0, 0.0)


def test_hvp_and_hessian_take_torchs_v_default_and_create_graph(torch):
    def f(x):
        return x * x * x

    value, product = functional.hvp(f, [2.0])  # v left out for one input: v = [1]
    ours = torch.autograd.functional.hvp(lambda x: x**3, torch.tensor(2.0))
    assert (value, product) == (ours[0].item(), [ours[1].item()]) == (8.0, [12.0])
    with pytest.raises(ValueError, match="v can be left out only for one input"):
        functional.hvp(lambda a, b: a * b, [1.0, 2.0])
    value, product = functional.hvp(f, [2.0], [1.0], create_graph=True)
    assert isinstance(product[0], microgradx.Value)  # a graph: differentiate it again
    product[0].backward()
    (h,) = functional.hessian(f, [2.0], create_graph=True)[0]
    assert isinstance(h, microgradx.Value) and h.data == 12.0


def test_module_apply_and_modules_are_torchs(torch):
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    reference = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    seen, torch_seen = [], []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    reference.apply(lambda m: torch_seen.append(type(m).__name__))
    # children first, then the module (our Linear holds Neurons, torch's a weight matrix)
    assert [n for n in seen if n != "Neuron"] == torch_seen
    assert seen[:4] == ["Neuron", "Neuron", "Neuron", "Linear"]
    shared = nn.Linear(1, 1)
    assert len(nn.Sequential(shared, shared).modules()) == 3  # Sequential, Linear, Neuron: once
    with pytest.raises(TypeError, match="fn must be a function of a module"):
        model.apply(3.0)


def test_module_apply_visits_a_shared_module_as_torch_does(torch):
    # Sequential(s, s, h) visits s once (torch's children() lists a child once); a module held
    # by two different parents is visited under each, as torch's recursive apply does.
    s, h = nn.Linear(2, 2), nn.Linear(2, 1)
    ts, th = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)

    def order(model, names):
        seen = []
        model.apply(lambda m: seen.append(names.get(id(m), type(m).__name__)))
        return [name for name in seen if name != "Neuron"]  # our Linear holds Neurons

    ours, theirs = {id(s): "s", id(h): "h"}, {id(ts): "s", id(th): "h"}
    cases = [
        (nn.Sequential(s, s, h), torch.nn.Sequential(ts, ts, th)),
        (nn.Sequential(h, s, h, s), torch.nn.Sequential(th, ts, th, ts)),
        (
            nn.Sequential(nn.Sequential(s, h), nn.Sequential(s, s), h),
            torch.nn.Sequential(torch.nn.Sequential(ts, th), torch.nn.Sequential(ts, ts), th),
        ),
    ]
    for model, reference in cases:
        assert order(model, ours) == order(reference, theirs)
        # modules() lists a module held by two different parents once, as torch's
        listed = [ours.get(id(m), type(m).__name__) for m in model.modules()]
        torch_listed = [theirs.get(id(m), type(m).__name__) for m in reference.modules()]
        assert [n for n in listed if n != "Neuron"] == torch_listed
    assert order(cases[0][0], ours) == ["s", "h", "Sequential"]
