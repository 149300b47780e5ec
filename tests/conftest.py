"""Shared test settings: deterministic hypothesis, and PyTorch required in CI."""

from __future__ import annotations

import os
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

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


@pytest.fixture
def torch() -> ModuleType:
    return require_torch()
