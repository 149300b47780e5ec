"""microgradx: a scalar autodiff engine for learning, inspecting and testing backpropagation."""

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
