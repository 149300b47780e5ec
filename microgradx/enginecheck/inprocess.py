"""The engine run in the checker's own process: where no child process can be started.

Under Pyodide (JupyterLite; ``sys.platform == "emscripten"``) and WASI there is no ``fork``, no
``subprocess`` and no ``resource``: the kernel is already a Web Worker. ``InProcess`` answers the
same requests as the child (``microgradx.enginecheck.child``, whose ``_Engine`` it runs), with the
same answers, so the checks and the report are the same; what the child's containment adds is lost,
and said in the report (``microgradx.enginecheck.findings.IN_PROCESS_NOTE``):

- **no time limit**: a request is timed only once it returns (one past its time limit is then the
  child's timeout answer, so a slow engine gets the same finding); a hang cannot be stopped, it
  holds the kernel until the learner interrupts it (``KeyboardInterrupt`` ends the check, it is
  not an answer). The budget still bounds the check between requests.
- **no memory limit**: the engine shares the kernel's memory (a ``MemoryError`` is an answer).
- **no separation**: ``os._exit`` ends the kernel; what the engine writes to file descriptors
  directly reaches the notebook. ``print`` and ``sys.stdout``/``sys.stderr`` are captured as in the
  child (the first ``KEEP`` characters per request), and ``sys.stdin`` reads nothing.

Bounded as in the child: the Python frames the engine's requests may nest (``FRAMES``: during each
request the recursion limit leaves the engine the child's depth, so a recursive engine raises
``RecursionError`` at the child's depth rather than exhausting the WebAssembly stack), the chains
of the depth check (at most ``microgradx.enginecheck.limits.DEPTHS[-1]`` additions) and the
random expressions (``examples`` per op, at most 6 steps each). The answers hold only floats,
strings, lists and dicts, as the child's JSON does. Standard library only.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import random
import sys
import threading
import time
import warnings
from typing import Any

from microgradx.checks import choice
from microgradx.enginecheck.child import FRAMES, _Bounded, _Engine, _error, recursion_limit
from microgradx.enginecheck.findings import IN_PROCESS, ISOLATIONS, PROCESS, TargetError

# platforms without processes: Pyodide (the browser's WebAssembly) and WASI
NO_PROCESSES = frozenset({"emscripten", "wasi"})


def processes_available() -> bool:
    """Whether the child process can run here: not under Pyodide or WASI (``sys.platform``
    ``"emscripten"``, ``"wasi"``: no fork, no subprocess), and on a POSIX system (the sandbox
    waits on pipes with ``select`` and kills the child's process group)."""
    return sys.platform not in NO_PROCESSES and hasattr(os, "killpg")


def choose(isolation: object) -> str:
    """``"process"`` or ``"in-process"`` for the ``isolation`` argument of ``check_engine`` and
    ``check_target``: ``"auto"`` is ``"process"`` where ``processes_available()``, else
    ``"in-process"``. Raises ``ValueError``/``TypeError`` for anything else."""
    chosen = choice(isolation, "isolation", ("auto", *ISOLATIONS))
    if chosen == "auto":
        return PROCESS if processes_available() else IN_PROCESS
    return chosen


_SIGNALS = ("SIGINT", "SIGTERM", "SIGALRM", "SIGVTALRM", "SIGPROF")
# setitimer's timers and the signal each sends: each signal's default action ends the process
_TIMERS = ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF")


class _Globals:
    """The process-wide state an engine's request may change, saved when made and put back by
    ``restore``: the working directory, the SIGINT/SIGTERM/SIGALRM/SIGVTALRM/SIGPROF handlers
    (on the main thread, where Python lets them be set), an interval timer the engine started
    where none ran (``signal.alarm``, ``setitimer``'s real, virtual or profiling timer:
    cancelled, or its signal's default action would end the kernel later), the garbage
    collector (enabled, thresholds, debug flags: ``DEBUG_SAVEALL`` would keep every later
    collection's garbage, and ``gc.callbacks``), the umask, the hooks (``sys.displayhook``,
    ``excepthook``, ``unraisablehook``, ``breakpointhook``, ``threading.excepthook``), the
    switch interval, ``random``'s state, the warnings filters, ``os.environ``, the trace and
    profile functions (``sys.settrace``/``setprofile``, this thread's and ``threading``'s for
    new threads: a tracer left behind slows or breaks every later line of the notebook) and the
    int-to-str digit limit. Not restored: ``sys.path`` (the engine's own imports may need what
    loading it added), ``sys.modules``, threads and open files the engine started."""

    def __init__(self) -> None:
        try:
            self.cwd: str | None = os.getcwd()
        except OSError:  # the directory was removed: nothing to return to
            self.cwd = None
        self.handlers: dict[int, Any] = {}
        self.alarm = _timers_set()
        if threading.current_thread() is threading.main_thread():
            import signal  # lazily: WASI has no signal module

            for name in _SIGNALS:
                number = getattr(signal, name, None)
                try:
                    if number is not None:
                        self.handlers[number] = signal.getsignal(number)
                except (ValueError, OSError):
                    pass
        self.gc = gc.isenabled(), gc.get_threshold(), gc.get_debug(), list(gc.callbacks)
        self.umask = _umask()
        self.hooks = _hooks()
        self.switch = sys.getswitchinterval()
        self.random = random.getstate()
        self.filters = list(warnings.filters)
        self.environ = dict(os.environ)
        self.tracers = sys.gettrace(), sys.getprofile(), _threading_hooks()
        self.digits = _int_digits()

    def restore(self) -> None:
        """Put everything saved back (each piece on its own: one failing leaves the rest)."""
        if self.cwd is not None and _getcwd() != self.cwd:
            with contextlib.suppress(OSError):
                os.chdir(self.cwd)
        started = _timers_set() - self.alarm
        if started:
            # the engine's signal.alarm / setitimer: SIGALRM's (SIGVTALRM's, SIGPROF's) default
            # action ends the kernel
            import signal

            for timer in started:
                signal.setitimer(timer, 0.0)
        if self.handlers:
            import signal

            for number, handler in self.handlers.items():
                try:
                    if handler is not None and signal.getsignal(number) is not handler:
                        signal.signal(number, handler)
                except (ValueError, OSError, TypeError):
                    pass
        (gc.enable if self.gc[0] else gc.disable)()
        gc.set_threshold(*self.gc[1])
        gc.set_debug(self.gc[2])
        if gc.callbacks != self.gc[3]:
            gc.callbacks[:] = self.gc[3]
        if self.umask is not None:
            os.umask(self.umask)
        if _hooks() != self.hooks:
            (
                sys.displayhook,
                sys.excepthook,
                sys.unraisablehook,
                sys.breakpointhook,
                threading.excepthook,
            ) = self.hooks
        sys.setswitchinterval(self.switch)
        random.setstate(self.random)
        if list(warnings.filters) != self.filters:
            filters: list[Any] = warnings.filters  # type: ignore[assignment]
            filters[:] = self.filters
            mutated = getattr(warnings, "_filters_mutated", None)  # the C module's cache
            if callable(mutated):
                mutated()
        if (sys.gettrace(), sys.getprofile()) != self.tracers[:2]:
            sys.settrace(self.tracers[0])
            sys.setprofile(self.tracers[1])
        if _threading_hooks() != self.tracers[2]:
            threading.settrace(self.tracers[2][0])
            threading.setprofile(self.tracers[2][1])
        if self.digits is not None and _int_digits() != self.digits:
            sys.set_int_max_str_digits(self.digits)
        if os.environ != self.environ:
            for name in [name for name in os.environ if name not in self.environ]:
                del os.environ[name]
            os.environ.update(self.environ)


def _timers_set() -> set[int]:
    """The interval timers running (``signal.alarm`` and ``setitimer``'s real-time timer, its
    virtual and profiling ones); none where the platform has them not."""
    running: set[int] = set()
    try:
        import signal
    except ImportError:
        return running
    for name in _TIMERS:
        try:
            timer = getattr(signal, name)
            if signal.getitimer(timer)[0] > 0.0:
                running.add(timer)
        except (AttributeError, OSError):
            pass
    return running


def _hooks() -> tuple[Any, ...]:
    """The process's hooks an engine may replace (see ``_Globals``)."""
    return (
        sys.displayhook,
        sys.excepthook,
        sys.unraisablehook,
        sys.breakpointhook,
        threading.excepthook,
    )


def _threading_hooks() -> tuple[Any, Any]:
    """The trace and profile functions ``threading`` gives new threads."""
    return threading.gettrace(), threading.getprofile()


def _int_digits() -> int | None:
    """``sys.get_int_max_str_digits()`` (Python 3.11 and later; None before)."""
    get = getattr(sys, "get_int_max_str_digits", None)
    return None if get is None else int(get())


def _getcwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:
        return None


def _umask() -> int | None:
    """The process's umask (reading it means setting it: set back at once), or None where the
    platform has none."""
    try:
        mask = os.umask(0o022)
    except (AttributeError, OSError):
        return None
    os.umask(mask)
    return mask


class InProcess:
    """``Sandbox``'s interface (``start``, ``call``, ``close``), the engine in this process.

    ``load`` is the ``"load"`` request, with the class object itself under ``"class"`` (for
    ``check_engine``) or a ``"spec"`` of a file or module to import here (``check_target``)."""

    def __init__(self, load: dict[str, Any], load_timeout: float) -> None:
        self.load_request = load
        self.load_timeout = load_timeout
        self.engine = _Engine(passes=(KeyboardInterrupt,))
        self.loaded: dict[str, Any] = {}
        self.restarts = 0  # never: there is no child to restart

    def start(self) -> dict[str, Any]:
        """Load the engine; its answer. Raises ``TargetError`` as ``Sandbox.start`` does."""
        answer = self._answer(self.load_request, None)
        if not answer.get("ok"):
            if "target_error" in answer:
                raise TargetError(answer["target_error"])
            raise TargetError(f"loading the engine failed: {answer.get('message', answer)}")
        self.loaded = answer
        return answer

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Run ``request``; its answer, or the child's timeout answer when it returned after
        ``timeout`` seconds (it could not be stopped sooner)."""
        return self._answer(request, timeout)

    def _answer(self, request: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        out, err = _Bounded(), _Bounded()
        saved = sys.stdout, sys.stderr, sys.stdin, sys.getrecursionlimit()
        kept = _Globals()
        start = time.monotonic()
        try:
            sys.stdout, sys.stderr, sys.stdin = out, err, io.StringIO()
            # the child's allowance for the engine, however deep the checker is here
            sys.setrecursionlimit(recursion_limit(FRAMES))
            cmd = request["cmd"]
            if cmd == "load":
                answer = self.engine.load(request)
            elif cmd == "run":
                answer = self.engine.run(request)
            else:
                answer = self.engine.chain(request)
        except KeyboardInterrupt:
            raise
        except BaseException as error:  # as the child: MemoryError while answering, say
            answer = _error(error, "the checker")
        finally:
            sys.stdout, sys.stderr, sys.stdin = saved[:3]
            sys.setrecursionlimit(saved[3])
            kept.restore()
        seconds = time.monotonic() - start
        printed = out.take() + err.take()
        if printed:
            answer["output"] = printed
        if timeout is not None and seconds > timeout:
            return {"ok": False, "error": "timeout", "message": f"no answer in {timeout:g} s"}
        return answer

    def close(self) -> None:
        """Nothing to stop: the engine's objects go with the checker's references."""

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
