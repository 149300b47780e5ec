"""``check_target`` and ``check_engine``: check an autodiff engine someone else wrote.

Both run the engine in a child process (``microgradx.enginecheck.sandbox``), or, where no child
process can be started (Pyodide in JupyterLite, WASI) or when asked with
``isolation="in-process"``, in this process (``microgradx.enginecheck.inprocess``: the same checks
and report, without the time and memory limits, which the report says). They return an
``EngineReport`` (``microgradx.enginecheck.findings``); the checks are
``microgradx.enginecheck.checks``'s. Needs hypothesis (the ``test`` extra) for the op checks.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import microgradx.enginecheck.limits as limits
import microgradx.enginecheck.semantics as semantics
import microgradx.enginecheck.training as training
from microgradx.checks import count, describe, in_range, text
from microgradx.checks import seed as check_seed
from microgradx.enginecheck.checks import Checker, _expr, _spell, _Stop
from microgradx.enginecheck.findings import (
    CRASH,
    IN_PROCESS,
    UNSUPPORTED,
    EngineReport,
    TargetError,
)
from microgradx.enginecheck.inprocess import InProcess, choose
from microgradx.enginecheck.report import view
from microgradx.enginecheck.sandbox import Sandbox
from microgradx.enginecheck.target import (
    EXPECTED,
    METHODS,
    TargetSpec,
    cell_source,
    class_reference,
    parse_target,
)
from microgradx.ops import OPS


def _limit(budget: float) -> float:
    """Seconds one request may take: a sixth of the budget, between 0.5 and 10 s (a chain of
    1e5 additions takes about 1 s in micrograd; a hang costs at most this)."""
    return min(10.0, max(0.5, budget / 6))


def _spelling(name: object, argument: str) -> str | None:
    if name is None:
        return None
    spelled = text(name, argument)
    if not spelled.isidentifier():
        raise ValueError(f"{argument} must be an attribute name such as 'grad', got {spelled!r}")
    return spelled


def _settings(
    data_attr: object,
    grad_attr: object,
    backward: object,
    budget: object,
    seed: object,
    examples: object,
) -> tuple[dict[str, str | None], float, int, int]:
    spellings = {
        "data_attr": _spelling(data_attr, "data_attr"),
        "grad_attr": _spelling(grad_attr, "grad_attr"),
        "backward": _spelling(backward, "backward"),
    }
    seconds = in_range(budget, "budget", 0.0, 24 * 3600.0, low_open=True)
    return spellings, seconds, check_seed(seed), count(examples, "examples")


def _unsupported(checker: Checker) -> None:
    """An ``unsupported`` finding for each form of issue 19's list the engine lacks (the forms
    with a float are reported by ``constants on either side``)."""
    for form in EXPECTED:
        if form not in checker.supported and not form.startswith("f_") and not form.endswith("_f"):
            checker.add(
                f"op {form}",
                "ops",
                UNSUPPORTED,
                f"{_spell(form, ['a', 'b'], 2.0)} raises or returns no {checker.class_name}",
            )


_SHARED = _expr([0.5, -1.5], [("mul", (0, 1)), ("add", (2, 0)), ("mul", (2, 1)), ("mul", (3, 4))])
_REUSE = {
    "reuse a + a": _expr([1.5], [("add", (0, 0))]),
    "reuse a * a": _expr([1.5], [("mul", (0, 0))]),
    "reuse shared subexpression": _SHARED,  # c = a * b feeds (c + a) and (c * b)
}


def check_all(checker: Checker) -> None:
    """Every check, in this order: each supported op, the unsupported forms, reuse, semantics,
    depth, numerics, training. Those the budget leaves out are ``not checked``."""
    if not checker.supported:  # nothing below could run: that is not "everything holds"
        checker.add(
            "ops found",
            "engine",
            CRASH,
            f"no op works on {checker.class_name}: each operator raised or gave no"
            f" {checker.class_name}, and it has none of the methods {', '.join(METHODS)}",
        )
    names = checker.ops_to_check()
    for k, name in enumerate(names):
        # half of what is left, shared by the ops left: the other checks keep time too
        share = max(checker.left(), 0.0) / (2 * (len(names) - k))
        _guarded(checker, f"op {name}", "ops", partial(checker.check_op, name, share=share))
    _unsupported(checker)
    plan: list[tuple[str, str, Callable[[], None]]] = [
        (name, "reuse", partial(semantics.check_reuse, checker, name, expr))
        for name, expr in _REUSE.items()
    ]
    plan += [
        ("backward() twice", "semantics", partial(semantics.check_twice, checker)),
        (
            "gradients accumulating across two losses",
            "semantics",
            partial(semantics.check_two_losses, checker),
        ),
        ("resetting gradients between steps", "semantics", partial(semantics.check_reset, checker)),
        ("constants on either side", "semantics", partial(semantics.check_constants, checker)),
    ]
    plan += [
        (f"depth {n}", "depth", partial(limits.check_depth, checker, n)) for n in limits.DEPTHS
    ]
    plan += [
        (f"numerics {name}", "numerics", partial(limits.check_numeric, checker, *probe))
        for name, probe in limits._NUMERICS.items()
    ]
    plan.append(("training step on moons", "training", partial(training.check_training, checker)))
    for check, category, run in plan:
        if checker.left() <= 0:
            checker.not_checked(check, category)
            continue
        _guarded(checker, check, category, run)


def _guarded(checker: Checker, check: str, category: str, run: Callable[[], None]) -> None:
    """``run()``; a budget spent inside it makes the check ``not checked``, and an answer of the
    wrong shape from the engine's process (an engine that writes to the checker's channel)
    makes it a crash, never a traceback of the checker."""
    before = len(checker.findings)
    try:
        run()
    except _Stop:
        del checker.findings[before:]
        checker.not_checked(check, category)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        del checker.findings[before:]
        checker.add(
            check,
            category,
            CRASH,
            "the engine's process answered the checker with something that is not an answer"
            f" ({type(error).__name__}: {str(error)[:200]}): did the engine write to file"
            " descriptors it does not own, or replace json?",
        )


def _check(
    what: str,
    load: dict[str, Any],
    budget: float,
    seed: int,
    examples: int,
    isolation: str,
) -> EngineReport:
    start = time.monotonic()
    limit = _limit(budget)
    runner = InProcess if isolation == IN_PROCESS else Sandbox
    with runner(load, load_timeout=max(limit, 5.0)) as sandbox:
        loaded = sandbox.start()
        checker = Checker(
            sandbox,
            loaded["class_name"],
            {k: loaded[k] for k in ("data_attr", "grad_attr", "backward")},
            list(loaded["supported"]),
            deadline=start + budget,
            limit=limit,
            seed=seed,
            examples=examples,
        )
        check_all(checker)
    return view(
        EngineReport(
            target=what,
            class_name=loaded["class_name"],
            supported=tuple(name for name in loaded["supported"] if name in OPS),
            findings=tuple(checker.findings),
            seconds=time.monotonic() - start,
            budget=budget,
            complete=checker.complete,
            isolation=isolation,
        )
    )  # displayable: Jupyter shows the table and draws each failing expression


def check_target(
    target: str,
    *,
    data_attr: str | None = None,
    grad_attr: str | None = None,
    backward: str | None = None,
    budget: float = 30.0,
    seed: int = 0,
    examples: int = 25,
    isolation: str = "auto",
) -> EngineReport:
    """Check the engine named by ``target``: ``path/to/file.py``, ``package.module``, either
    with ``:ClassName`` (else the one Value-like class of the module: constructible from one
    float, with a number attribute, a gradient attribute and ``backward()``).

    ``data_attr``, ``grad_attr`` and ``backward`` give the engine's spellings (default: ``data``
    then ``val``, ``value``, ``v``, ``x``; ``grad`` then ``g``, ``gradient``, ``dx``;
    ``backward`` then ``backprop``, ``back``). ``budget`` bounds the whole check in seconds
    (checks it leaves out are ``"not checked"`` and ``report.complete`` is False); one request to
    the engine may take ``min(10, max(0.5, budget / 6))`` seconds. ``seed`` seeds hypothesis;
    ``examples`` is how many random expressions each op gets (before shrinking).

    The engine is imported and run only in a child process (``python -m
    microgradx.enginecheck.child``), with a memory limit; see ``microgradx.enginecheck.checks``
    for the checks, their tolerance (``|got - expected| <= 1e-9 + 1e-7 |expected|``) and verdicts.
    ``isolation``: ``"auto"`` (that child process where one can be started, else in this
    process: under Pyodide, as in JupyterLite), ``"process"`` or ``"in-process"`` (the same checks
    and findings, without the time and memory limits: ``report.isolation`` and ``report.note``
    say so; see ``microgradx.enginecheck.inprocess``).

    Raises ``TargetError`` (one line) for a target that cannot be checked: a path that does not
    exist, a module that raises on import (the exception named), no Value-like class, two of
    them (listed), a constructor that needs more than a number; ``TypeError``/``ValueError`` for
    bad arguments. Needs hypothesis: ``pip install 'microgradx[test]'``.
    """
    if not isinstance(target, str):
        raise TypeError(f"target must be a str such as 'nanograd.py:Value', got {describe(target)}")
    spellings, seconds, seed, examples = _settings(
        data_attr, grad_attr, backward, budget, seed, examples
    )
    isolated = choose(isolation)
    spec = parse_target(target)
    load = {
        "cmd": "load",
        "spec": _spec_fields(spec),
        "source": None,
        "class_name": spec.class_name,
        "path": list(sys.path),
        **spellings,
    }
    return _check(spec.text, load, seconds, seed, examples, isolated)


def _spec_fields(spec: TargetSpec) -> dict[str, str | None]:
    return {
        "text": spec.text,
        "path": spec.path,
        "module": spec.module,
        "class_name": spec.class_name,
    }


def check_engine(
    value_class: type,
    *,
    data_attr: str | None = None,
    grad_attr: str | None = None,
    backward: str | None = None,
    budget: float = 30.0,
    seed: int = 0,
    examples: int = 25,
    isolation: str = "auto",
) -> EngineReport:
    """Check the engine whose Value class is ``value_class`` (``check_engine(Value)``): the same
    checks and keywords as ``check_target``.

    The class still runs in a child process: it is imported there by its module and qualified
    name (or its module's file); a class defined in ``__main__`` without a file (a notebook cell)
    is rebuilt there from the source of the cells that define it (their imports, functions,
    classes and simple assignments, kept by IPython in ``linecache``). In-process (``isolation``,
    as ``check_target``'s; automatic in JupyterLite) the class object itself is checked.

    Raises ``TargetError`` when no way to load the class in another process is found (a class
    defined inside a function, or with no source), or for the reasons ``check_target`` gives;
    ``TypeError`` when ``value_class`` is not a class.
    """
    if not isinstance(value_class, type):
        raise TypeError(f"value_class must be a class such as Value, got {describe(value_class)}")
    spellings, seconds, seed, examples = _settings(
        data_attr, grad_attr, backward, budget, seed, examples
    )
    name = value_class.__qualname__
    what = f"{value_class.__module__}:{name}"
    isolated = choose(isolation)
    if isolated == IN_PROCESS:
        own: dict[str, Any] = {"cmd": "load", "class": value_class, "class_name": name}
        return _check(what, own | spellings, seconds, seed, examples, isolated)
    reference = class_reference(value_class)
    source = None
    spec: dict[str, str | None] | None = None
    if reference is not None:
        where, qualname = reference
        spec = _spec_fields(parse_target(f"{where}:{qualname}"))
    else:
        if "<locals>" in name:
            raise TargetError(
                f"{name} is defined inside a function: the checker runs the engine in another"
                " process and cannot import it there; define the class at the top of a module"
                " or a notebook cell"
            )
        source = cell_source(value_class)
        if source is None:
            raise TargetError(
                f"no source found for {name} (module {value_class.__module__}): the checker runs"
                " the engine in another process; save the class in a .py file and pass"
                " 'file.py:ClassName' to check_target"
            )
    load = {
        "cmd": "load",
        "spec": spec,
        "source": source,
        "class_name": name,
        "path": list(sys.path),
        **spellings,
    }
    return _check(what, load, seconds, seed, examples, isolated)
