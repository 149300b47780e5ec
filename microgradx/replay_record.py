"""Recording a function for ``compile``: run it once on Values whose numbers are recorded
numbers, make its tape, and check the recording by a second run (on other numbers where every
guard comes out the same, or on the same numbers)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from microgradx import checks
from microgradx.engine import Value
from microgradx.modes import recording
from microgradx.nn import Module
from microgradx.replay_model import ModelState
from microgradx.replay_numbers import Recording, unwrap
from microgradx.replay_tape import CompileError, Tape, same_graph, same_run, tape_of_recording

Function = Callable[..., tuple[Value, Sequence[Value]]]  # Values in -> (output, watched values)


def input_number(x: Any, name: str, why: str = "the data must be finite numbers") -> float:
    """One input of a compiled function as a float, the one rule for every back-end and every
    place an input is given (a call's inputs, ``check``): a data number (``checks.number``: a
    real number, a bool as 0 or 1, a 0-d NumPy array of a real or bool dtype) that is finite.
    TypeError for anything else, ValueError (``{name} is nan: {why}``) for NaN or an infinity:
    a guard on NaN comes out False whichever way the data goes, so a check there could say
    nothing. (``example_inputs`` are data numbers too, and may be NaN or infinite: the
    recording's guards record again at a call's finite inputs.)
    The NumPy back-end's batch of plain numbers is converted by NumPy, which takes the same
    numbers (``Compiled._table``)."""
    number = checks.number(x, name)
    if not math.isfinite(number):
        raise ValueError(f"{name} is {number}: {why}")
    return number


def record_once(function: Function, numbers: Sequence[float], keep: Sequence[Value]) -> Tape:
    """Run ``function`` once on Values of ``numbers`` with recording numbers in the inputs and in
    ``keep`` (Values that outlive the call: weights), and return its tape."""
    run = Recording()
    inputs = [Value(x) for x in numbers]
    failure: Exception | None = None
    try:
        for x in inputs:
            run.wrap(x)
        for leaf in dict.fromkeys(keep):
            run.wrap(leaf, keep=True)
        with recording(run):
            try:
                result = function(*inputs)
            except Exception as error:  # judged below, once the recording is over
                failure = error
        if failure is not None:
            raise failure
        run.live = False
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(
                "function must return a pair (output, values to watch), got"
                f" {checks.describe(result)}"
            )
        root, watch = result
        tape = tape_of_recording(run, root, inputs, list(watch))
        for node in tape.computed:
            unwrap(node)
        return tape
    except Exception as error:
        if error is not failure or isinstance(error, CompileError):
            raise
    finally:
        run.finish()
    _blame_the_recording(function, numbers, failure)
    raise failure


def _blame_the_recording(function: Function, numbers: Sequence[float], failure: Exception) -> None:
    """Raise ``CompileError`` if ``function``, which raised ``failure`` while recorded, runs on
    plain Values of the same ``numbers``: the recording made it fail, not the function. If it
    fails there too with the same error, the caller re-raises ``failure`` unchanged; with another
    error, that one is fn's own, raised as it is (not the recording's, which names the recorded
    number's type)."""
    try:
        function(*[Value(x) for x in numbers])
    except Exception as own:
        if type(own) is type(failure) and str(own) == str(failure):
            return
        raise own from None
    raise CompileError(
        f"fn fails only while compile records it ({type(failure).__name__}: {failure}): while"
        " recording, a number read from the graph (x.data) is a recorded number, a float that"
        " notes each read, and fn handed it to something that does not take it (it works"
        " interpreted on the same inputs). Convert it with float(x.data) first, or call fn"
        " without compile"
    ) from failure


def _kept_leaves(tape: Tape, already: Sequence[Value]) -> list[Value]:
    known = set(already)
    return [leaf for leaf in tape.leaves if leaf not in known]


def record_function(
    function: Function,
    numbers: Sequence[float],
    model: Module | None,
    check: Any,
    state: ModelState | None = None,
) -> tuple[Tape, ModelState | None]:
    """Record ``function`` on ``numbers`` as ``compile`` does, and check the recording: on other
    numbers where every guard comes out the same (``check``) the graph must be the same (which
    also refuses a dropout mask: two runs draw two masks); without such numbers, a second run on
    the same numbers must be the same. ``state``: the model's state now, if taken already."""
    if state is None and model is not None:
        state = ModelState(model)
    keep = list(state.values) if state is not None else []
    first = record_once(function, numbers, keep)
    # Leaves the model does not hold (a weight the function captured, or a constant it made)
    # were plain floats in that run; later runs record them too and say which live on.
    extra = _kept_leaves(first, keep)
    probes = [] if check is False else probes_for(numbers, check)
    if _probe(function, first, probes, keep, extra) == "same":
        return first, state
    second = record_once(function, numbers, keep + extra)
    in_second = set(second.leaves)  # (once: a set per leaf made this quadratic in the graph)
    captured = [leaf for leaf in extra if leaf in in_second]
    if captured:  # the first run read those weights as plain numbers: it may miss guards
        keep = keep + captured
        first, second = second, record_once(function, numbers, keep)
    same_run(first, second)
    if captured and probes:
        _probe(function, first, probes, keep, [])
    return first, state


def _probe(
    function: Function,
    first: Tape,
    probes: list[list[float]],
    keep: list[Value],
    extra: list[Value],
) -> str:
    """Record on each of ``probes`` until every guard comes out as in ``first``; then the graph
    must be the same, or this raises. Returns ``"same"``, ``"captured"`` (a leaf in ``extra``
    lives on: the runs are not comparable yet) or ``"inconclusive"``."""
    made = set(extra)
    for probe in probes:
        try:
            other = record_once(function, probe, keep + extra)
        except Exception:  # fn does not run on these numbers: no conclusion from them
            continue
        if made and not made.isdisjoint(other.leaves):
            return "captured"
        if other.signature()[2] != first.signature()[2]:
            continue  # a guard comes out differently there: no conclusion either
        try:
            same_graph(first, other, probes=True)
        except CompileError:
            # one more run on the probe's numbers tells a random draw or a counter (two runs in
            # a row differ: refused as such) from a read of the numbers that no guard saw
            same_run(other, record_once(function, probe, keep + extra))
            raise
        return "same"
    return "inconclusive"


def probes_for(numbers: Sequence[float], check: Any) -> list[list[float]]:
    """The numbers to record on for the check: those given, then the example moved far (to
    catch a choice on the data) and moved a little (to stay on the same side of every guard)."""
    probes = []
    if check is not True:
        if (
            isinstance(check, (str, bytes))
            or not hasattr(check, "__len__")
            or len(check) != len(numbers)
        ):
            raise ValueError(f"check must be True, False or {len(numbers)} numbers")
        # each a finite number (input_number's rule): on NaN the check could say nothing
        why = "the check runs on finite numbers only (a compiled call takes no others)"
        probes.append([input_number(x, f"check[{i}]", why) for i, x in enumerate(check)])
    probes.append([-1.37 * x + 0.71 for x in numbers])
    probes.append([x * (1 + 2.0**-20) + 2.0**-30 for x in numbers])
    return probes
