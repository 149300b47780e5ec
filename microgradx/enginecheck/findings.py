"""What checking another engine found: one ``Finding`` per check, gathered in an ``EngineReport``.

A finding says which check it is (``"op tanh"``, ``"reuse a * a"``, ``"backward() twice"``,
``"depth 10000"``, ``"numerics exp(1000)"``, ``"training step on moons"``), its category, its
kind (the verdict), a message that teaches (which op, which input, expected and got) and the
smallest failing input hypothesis shrank to, as source a learner can paste.

Kinds:

- ``"ok"``: the check holds.
- ``"wrong value"``, ``"wrong gradient"``, ``"crash"`` (an exception, a hang past the time limit,
  a blown memory limit, the process exiting): something is wrong; the report fails (exit 1).
- ``"unsupported"``: the engine has no such op or form (``2 ** Value``): reported, not wrong.
- ``"behaviour"``: the engine's result next to IEEE-754's where they differ (``1/0`` raising
  ``ZeroDivisionError`` where IEEE-754 gives ``inf``): reported, not wrong.
- ``"not checked"``: the budget ran out before this check ran.

Standard library only: the report's renderers live in ``microgradx.enginecheck.report``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from microgradx.strategies import Expression

OK = "ok"
WRONG_VALUE = "wrong value"
WRONG_GRADIENT = "wrong gradient"
CRASH = "crash"
UNSUPPORTED = "unsupported"
BEHAVIOUR = "behaviour"
NOT_CHECKED = "not checked"

KINDS = (OK, WRONG_VALUE, WRONG_GRADIENT, CRASH, UNSUPPORTED, BEHAVIOUR, NOT_CHECKED)
FAILING = frozenset({WRONG_VALUE, WRONG_GRADIENT, CRASH})

CATEGORIES = ("engine", "ops", "reuse", "semantics", "depth", "numerics", "training")

# Where the engine ran: a child process with a time and a memory limit (``PROCESS``), or the
# checker's own process where no child can be started (``IN_PROCESS``: Pyodide, WASI).
PROCESS = "process"
IN_PROCESS = "in-process"
ISOLATIONS = (PROCESS, IN_PROCESS)
# What running in-process loses, as the report says it (microgradx.enginecheck.inprocess)
IN_PROCESS_NOTE = (
    "ran in-process: no time or memory limit (a request is timed only after it returns, so a"
    " hang holds the kernel until you interrupt it; the engine shares the kernel's memory, and"
    " os._exit ends the kernel); bounded as in a child process: recursion, chain lengths and"
    " the number of random expressions; restored after each request: the working directory,"
    " signal handlers and the timers the engine started, gc, umask, hooks, tracers, random state,"
    " warnings filters and environment (not sys.path, sys.modules, threads or open files)"
)


class TargetError(ValueError):
    """The target cannot be checked: a missing path, a module that raises on import, no
    Value-like class (or two, named), a constructor that needs more than a number. The message is
    one line, for stderr; the CLI exits with status 2."""


@dataclass(frozen=True)
class Finding:
    """One check's verdict.

    ``check`` names the check (unique within a report); ``category`` is one of ``CATEGORIES``;
    ``kind`` one of ``KINDS``. ``message`` teaches, e.g.
    ``"v2 = tanh(v1): expected d v2/d v1 = 0.419974, got 0.58"``. ``example`` is the smallest
    failing input as source over the engine's class (``"a = Value(0.5); y = a.tanh()"``), or
    None when the check passed or has no input. ``expression`` is that input as a
    ``microgradx.strategies.Expression`` when it is one (so a report can draw it), and ``node``
    the index of the value whose local rule disagrees (inputs first, then steps), for
    highlighting. ``details`` holds JSON-ready numbers and strings (``expected``, ``got``,
    ``depth``, ``ieee``, ...).
    """

    check: str
    category: str
    kind: str
    message: str = ""
    example: str | None = None
    expression: Expression | None = None
    node: int | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.category not in CATEGORIES:
            raise ValueError(
                f"category must be one of {', '.join(CATEGORIES)}, got {self.category!r}"
            )

    @property
    def failed(self) -> bool:
        """Whether this finding makes the report fail (a wrong value or gradient, a crash)."""
        return self.kind in FAILING


@dataclass(frozen=True)
class EngineReport:
    """Everything one check of an engine found.

    ``target`` is what was asked for (``"nanograd.py:Value"``), ``class_name`` the class checked,
    ``supported`` the op names it was found to support (in the op table's names: ``add``,
    ``tanh``, ``pow_scalar``, ...), ``findings`` in the order the checks ran, ``seconds`` the
    wall time taken, ``budget`` the seconds allowed, ``complete`` False when the budget ran out
    before every check ran (those are ``"not checked"`` findings). ``isolation`` says where the
    engine ran: ``"process"`` (a child process, with time and memory limits) or ``"in-process"``
    (where no child process can be started, as under Pyodide; ``note`` says what that loses).
    """

    target: str
    class_name: str
    supported: tuple[str, ...]
    findings: tuple[Finding, ...]
    seconds: float
    budget: float
    complete: bool = True
    isolation: str = PROCESS

    def __post_init__(self) -> None:
        if self.isolation not in ISOLATIONS:
            raise ValueError(
                f"isolation must be one of {', '.join(ISOLATIONS)}, got {self.isolation!r}"
            )

    @property
    def note(self) -> str | None:
        """What the engine's containment lacked, in one line (None in a child process)."""
        return IN_PROCESS_NOTE if self.isolation == IN_PROCESS else None

    @property
    def failures(self) -> tuple[Finding, ...]:
        """The findings that make the report fail."""
        return tuple(finding for finding in self.findings if finding.failed)

    @property
    def ok(self) -> bool:
        """True when everything checked holds (unsupported forms and behaviours do not fail)."""
        return not self.failures

    @property
    def exit_code(self) -> int:
        """0 when everything checked holds, 1 when something is wrong (2, for a target that
        cannot be checked, comes from ``TargetError``)."""
        return 0 if self.ok else 1
