"""microgradx: a scalar autodiff engine for learning, inspecting and testing backpropagation.

``import microgradx`` loads the engine and what is named below; the other modules load on first
use, as attributes (``microgradx.autograd.grad``, ``microgradx.viz.trace_backward``), so the
package still imports only the standard library.
"""

import importlib
from types import ModuleType

from microgradx.engine import Value, apply, maximum, minimum, topological_order, zero_grad
from microgradx.gradcheck import GradcheckError, GradcheckReport, gradcheck
from microgradx.io import ModelFileError, load, load_weights, save
from microgradx.modes import AnomalyError, detect_anomaly, enable_grad, is_grad_enabled, no_grad
from microgradx.nn import manual_seed
from microgradx.ops import OPS, Op
from microgradx.replay import Compiled, CompileError, compile

__version__ = "0.1.0"

__all__ = [
    "OPS",
    "AnomalyError",
    "CompileError",
    "Compiled",
    "GradcheckError",
    "GradcheckReport",
    "ModelFileError",
    "Op",
    "Value",
    "apply",
    "compile",
    "detect_anomaly",
    "enable_grad",
    "gradcheck",
    "is_grad_enabled",
    "load",
    "load_weights",
    "manual_seed",
    "maximum",
    "minimum",
    "no_grad",
    "save",
    "topological_order",
    "zero_grad",
]

# Loaded on first use as ``microgradx.<name>`` (PEP 562); ``strategies`` and ``testing`` need
# hypothesis.
_SUBMODULES = frozenset(
    {
        "autograd",
        "checks",
        "cli",
        "data",
        "dual",
        "engine",
        "enginecheck",
        "exercises",
        "files",
        "functional",
        "gradcheck",
        "io",
        "losses",
        "modes",
        "nn",
        "ops",
        "optim",
        "playground",
        "replay",
        "strategies",
        "testing",
        "train",
        "vectors",
        "viz",
        "walk",
    }
)


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"microgradx.{name}")
    raise AttributeError(f"module 'microgradx' has no attribute {name!r}")
