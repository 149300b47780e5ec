"""Shared test settings: deterministic hypothesis, PyTorch required in CI, Ctrl-C on cue."""

from __future__ import annotations

import contextlib
import os
import signal
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

from microgradx.engine import Value

# Deterministic: the same examples on every run and machine; no example database on disk.
settings.register_profile(
    "microgradx",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("microgradx")


def _no_local_constants() -> None:
    """Hypothesis (6.1xx) also draws numbers it finds in the source of the modules imported so
    far, and which modules those are depends on the order pytest-xdist gives each worker: the
    same test then draws other examples in another run, and an edit to any module changes them.
    Determinism needs that off; the strategies here draw their edge values themselves."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # a Hypothesis without that module has no such feature
        return
    empty = getattr(providers, "_local_constants", None)  # empty until first collected
    if hasattr(providers, "_get_local_constants") and empty is not None:
        providers._get_local_constants = lambda: empty  # as Hypothesis itself does under Pyodide


_no_local_constants()


@pytest.fixture(autouse=True)
def _default_generator_reset():
    """Every test starts from the same default initialisation (as a fresh process does)."""
    import microgradx

    microgradx.manual_seed(0)


def require_torch() -> ModuleType:
    """torch, or a skip; a failure instead when MICROGRADX_REQUIRE_TORCH=1 (CI sets it)."""
    try:
        import torch
    except ImportError:
        if os.environ.get("MICROGRADX_REQUIRE_TORCH") == "1":
            pytest.fail("MICROGRADX_REQUIRE_TORCH=1 but torch is not installed")
        pytest.skip("torch is not installed (pip install torch==2.13.0); CI installs it")
    torch.set_default_dtype(torch.float64)
    return torch


def require_numpy() -> ModuleType:
    """numpy, or a skip; a failure instead in CI (MICROGRADX_REQUIRE_TORCH=1), which installs it
    with torch."""
    try:
        import numpy
    except ImportError:
        if os.environ.get("MICROGRADX_REQUIRE_TORCH") == "1":
            pytest.fail("numpy is not installed, but CI installs it with torch")
        pytest.skip("the NumPy back-end needs numpy (pip install 'microgradx[fast]')")
    return numpy


@pytest.fixture
def torch() -> ModuleType:
    return require_torch()


# ---- Ctrl-C at a chosen point -------------------------------------------------------------------


class Tripwire(Value):
    """A parameter that sends this process SIGINT (Ctrl-C) when its ``data`` is assigned while
    ``armed``: an interruption at an exact point inside a state change (an optimizer step, a
    weight copy). Deterministic: the signal is raised by the assignment itself, no timer."""

    __slots__ = ("armed",)

    def __init__(self, data: float) -> None:
        self.armed = False
        super().__init__(data)

    @property  # type: ignore[override]
    def data(self) -> float:
        return _VALUE_DATA.__get__(self, Value)

    @data.setter
    def data(self, value: float) -> None:
        _VALUE_DATA.__set__(self, value)
        if self.armed:
            self.armed = False
            signal.raise_signal(signal.SIGINT)


_VALUE_DATA = Value.__dict__["data"]  # the slot behind Value.data


@contextlib.contextmanager
def ctrl_c_raises_keyboard_interrupt():
    """Python's own SIGINT handler for the block, whatever the test runner installed."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
