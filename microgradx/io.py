"""Save and load models as JSON: a format version, the architecture, and every weight by name.

JSON stores each float as its shortest round-trip repr, so weights come back bit for bit. Files
are written atomically (a temporary file in the same folder, then a rename), so a crash never
leaves half a model behind. Loading checks everything before it builds or changes anything.
Nothing is ever unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from microgradx import nn
from microgradx.files import write_atomically

FORMAT = "microgradx-model"
VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be loaded: unreadable, corrupted, wrong version, or mismatched."""


def _build(config: Any) -> nn.Module:
    """A fresh module from its ``config()`` dictionary (weights are set afterwards)."""
    if not isinstance(config, dict) or not isinstance(config.get("type"), str):
        raise ModelFileError(f"architecture entry is not a module description: {config!r:.80}")
    kind = config["type"]
    args = {k: v for k, v in config.items() if k != "type"}
    try:
        if kind == "MLP":
            args["activation"] = _build(args["activation"])
            args["output_activation"] = _build(args["output_activation"])
            return nn.MLP(**args)
        if kind == "Sequential":
            return nn.Sequential(*[_build(layer) for layer in args["layers"]])
        if kind == "Layer":
            args["activation"] = _build(args["activation"])
            return nn.Layer(**args)
        if kind == "Linear":
            return nn.Linear(**args)
        if kind == "Maxout":
            return nn.Maxout(**args)
        if kind == "Dropout":
            return nn.Dropout(**args)
        if kind == "LeakyReLU":
            return nn.LeakyReLU(**args)
        activations = {cls.__name__: cls for cls in nn.ACTIVATIONS.values()}
        if kind in activations and not args:
            return activations[kind]()
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"cannot rebuild {kind}: {error}") from None
    raise ModelFileError(f"unknown module type {kind!r}")


def to_dict(model: nn.Module) -> dict[str, Any]:
    """The JSON document for ``model``."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "architecture": model.config(),
        "parameters": {name: p.data for name, p in model.named_parameters()},
    }


def save(model: nn.Module, path: str | Path) -> None:
    """Write ``model`` to ``path`` as JSON, atomically."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"save() needs a Module, got {type(model).__name__}")
    write_atomically(path, json.dumps(to_dict(model), indent=1).encode("utf-8"))


def _read(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {path}") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{path} is not a microgradx model file (not UTF-8 text)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelFileError(
            f"{path} is not valid JSON (truncated or corrupted?): {error}"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a microgradx model file")
    if document.get("version") != VERSION:
        raise ModelFileError(
            f"{path} has format version {document.get('version')!r};"
            f" this microgradx reads version {VERSION}"
        )
    weights = document.get("parameters")
    # JSON numbers parse to exactly int or float (true/false are bool, a separate type)
    if not isinstance(weights, dict) or not all(type(v) in _NUMBER for v in weights.values()):
        raise ModelFileError(f"{path}: 'parameters' must map names to numbers")
    return document


_NUMBER = (float, int)


def _assign(model: nn.Module, weights: dict[str, float], source: str) -> None:
    """Set every parameter, or change nothing if the names do not match exactly."""
    named = model.named_parameters()
    names = [name for name, _ in named]
    missing = [n for n in names if n not in weights]  # weights is a dict: O(1) each
    known = set(names)  # once, not once per weight
    unexpected = [n for n in weights if n not in known]
    if missing or unexpected:
        raise ModelFileError(
            f"{source} does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}"
        )
    for name, p in named:
        p.data = float(weights[name])
        p.grad = 0.0


def load(path: str | Path) -> nn.Module:
    """A new model built from the file's architecture, with its weights."""
    document = _read(path)
    model = _build(document.get("architecture"))
    _assign(model, document["parameters"], str(path))
    model.eval()
    return model


def _shape(config: Any) -> Any:
    """A config without the settings that only chose the initial weights (seed, init)."""
    if isinstance(config, dict):
        return {k: _shape(v) for k, v in config.items() if k not in ("seed", "init")}
    if isinstance(config, list):
        return [_shape(v) for v in config]
    return config


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Copy the file's weights into an existing ``model`` of the same architecture.

    Everything is checked first: on any error ``model`` is left exactly as it was.
    """
    document = _read(path)
    if _shape(document.get("architecture")) != _shape(model.config()):
        raise ModelFileError(f"{path} holds a different architecture than this model")
    _assign(model, document["parameters"], str(path))
