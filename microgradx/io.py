"""Save and load models as JSON: a format version, the architecture, and every weight by name.

JSON stores each float as its shortest round-trip repr, so weights come back bit for bit. Files
are written atomically to regular files only (``microgradx.files``), so a crash never leaves half
a model behind. Nothing is ever unpickled.

Loading reads a file as untrusted input, in three stages, and changes nothing until the last:

1. read: a regular file only (a FIFO or a device is refused, never waited on or read), of at
   most ``MAX_BYTES`` (256 MiB; a file beyond it is refused without being read whole), UTF-8;
2. check: JSON nested at most ``MAX_DEPTH`` deep (checked without recursion before the parser,
   which recurses once per level), no integer of more than ``MAX_DIGITS`` digits (refused
   before ``int()``, which takes quadratic time), no name given twice, the format and version,
   every module description against its schema, and the number of weights the architecture
   declares against the number the file holds, so a 126-byte file cannot declare 30 million
   weights and make the loader allocate them; at most ``MAX_MODULES`` (20,000) modules and
   ``MAX_MODEL_WEIGHTS`` (4 million) weights, counted on the text before it is parsed (a file
   of more JSON objects, lists or values than such a model has is refused unparsed) and again
   on the architecture before anything is built; every weight must be a number a float holds (an
   integer such as ``10**400`` is refused; a float literal beyond the range, such as ``1e400``,
   is infinity, as IEEE-754 rounding makes it and as ``save`` writes a diverged weight);
3. build and assign: the modules are built (the default generator's state is put back, so
   loading draws no random numbers) and every weight is set, all of them or none.

Every problem with a file raises ``ModelFileError`` naming the file and what is wrong; a missing
file raises ``FileNotFoundError``. The arguments are checked first (``microgradx.checks``): a
``model`` that is not a Module, or a ``path`` that is not a str or a ``pathlib.Path`` (an int
would be taken as an open file descriptor: ``load(0)`` would read standard input), raises
``TypeError`` naming it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from microgradx import checks, nn
from microgradx.checks import describe
from microgradx.files import (
    NotARegularFileError,
    TooLargeError,
    deferred_interrupt,
    read_regular,
    write_atomically,
)

FORMAT = "microgradx-model"
VERSION = 1
MAX_DEPTH = 64  # nested lists and objects; a saved model uses about 6
MAX_BYTES = 256 << 20  # a model file; nn builds at most a million weights (about 50 MB saved)
MAX_DIGITS = 1000  # an integer longer than this is no float and no layer size (int() of a
# longer string takes quadratic time; Python refuses 4300 digits)
# A model file may declare at most MAX_MODULES module descriptions (an MLP counts one per entry of
# its sizes) and MAX_MODEL_WEIGHTS weights in all: far beyond any model nn can train (one
# constructor builds at most nn.MAX_WEIGHTS, a million), and small enough that loading takes
# seconds, not minutes and gigabytes (200,000 layers of Tanh took 2 s and 155 MB).
MAX_MODULES = 20_000
MAX_MODEL_WEIGHTS = 4 * nn.MAX_WEIGHTS
_NUMBER = (float, int)


class ModelFileError(ValueError):
    """A model file that cannot be loaded: unreadable, corrupted, wrong version, or mismatched."""


# ---- saving -------------------------------------------------------------------------------------


def to_dict(model: nn.Module) -> dict[str, Any]:
    """The JSON document for ``model``. Each parameter's ``data`` is written as a float; one
    that is not a real number (``w.data = "x"``, None, a complex number) raises ``TypeError``
    naming it (``load`` would refuse the file, or JSON could not hold it)."""
    checks.instance(model, "model", nn.Module, "microgradx Module")
    return {
        "format": FORMAT,
        "version": VERSION,
        "architecture": model.config(),
        "parameters": {
            name: checks.number(p.data, f"data of parameter {name!r}")
            for name, p in model.named_parameters()
        },
    }


def save(model: nn.Module, path: str | Path) -> None:
    """Write ``model`` to ``path`` as JSON, atomically.

    ``path`` must be a new file, a regular file or a symbolic link to one (its target is
    replaced); a folder, a FIFO or a device raises ``files.NotARegularFileError`` (an
    ``OSError``), a read-only file ``PermissionError``, and either is left alone. Non-finite
    weights are written as ``NaN``/``Infinity`` (Python's JSON extension), so a diverged model
    still round-trips. A model beyond what
    ``load`` takes (``MAX_MODULES`` modules, ``MAX_MODEL_WEIGHTS`` weights) raises
    ``ValueError`` and nothing is written; so does a parameter whose ``data`` is not a real
    number (``TypeError``, naming it: see ``to_dict``).
    """
    checks.instance(model, "model", nn.Module, "microgradx Module")
    checks.path(path, "path")
    document = to_dict(model)
    try:  # what load() would refuse is not written: a saved model always loads back
        _count_weights(document["architecture"], "model")
    except ModelFileError as error:
        reason = str(error).removeprefix("model: ").split(";")[0]
        raise ValueError(f"model cannot be saved: {reason}, and load() would refuse it") from None
    write_atomically(path, json.dumps(document, indent=1).encode("utf-8"))


# ---- reading and checking -----------------------------------------------------------------------

# The characters the depth check looks at: brackets, and what starts, ends or escapes a string.
_SPECIAL = re.compile(r'[\[\]{}"\\]')


class _Refused(Exception):
    """Raised inside the JSON parser's hooks; becomes a ModelFileError naming the file."""


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, without recursion, before the parser (which
    recurses once per level) sees the text.

    One pass over the text's special characters, with three pieces of state: inside a string
    or not, after a backslash or not, and the depth. Linear in the text's length whatever it
    holds (a pattern for a whole string rescans an unterminated one from each quote: quadratic).
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # too few brackets to nest that deep (a saved model has a dozen or so)
    depth = 0
    in_string = False
    escaped_at = -1  # the place of the character a backslash escapes
    for match in _SPECIAL.finditer(text):
        char, place = match.group(), match.start()
        if in_string:
            if place == escaped_at:
                continue  # \" or \\ : an escaped character, not an end or an escape
            if char == "\\":
                escaped_at = place + 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused(f"it is nested more than {MAX_DEPTH} levels deep")
        elif char in "]}":
            depth -= 1


def _integer(text: str) -> int:
    """A JSON integer; one of more than MAX_DIGITS digits is refused unread (int() of a long
    string takes quadratic time)."""
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise _Refused(f"it holds an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's dict; a name given twice (JSON would keep the last silently) is refused."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"it gives {key!r:.80} twice")
            seen.add(key)
    return document


def _check_counts(text: str) -> None:
    """Refuse, before parsing, a text with more JSON objects and lists, or more values, than a
    model of MAX_MODULES modules and MAX_MODEL_WEIGHTS weights has: the parser would build them
    all (a Sequential of 3.5 million Tanh layers took 71 s and 2.3 GB). Counting the brackets
    and commas, strings included, is an upper bound: a saved model has one object per module,
    a list per Sequential and MLP, and a comma between each two weights or settings."""
    containers = text.count("{") + text.count("[")
    if containers > 2 * MAX_MODULES + 8:
        raise _Refused(
            f"it holds {containers} JSON objects and lists; a model file describes at most"
            f" {MAX_MODULES:,} modules (MAX_MODULES)"
        )
    values = text.count(",")
    if values > MAX_MODEL_WEIGHTS + 8 * MAX_MODULES:
        raise _Refused(
            f"it holds more than {values} values; a model file holds at most"
            f" {MAX_MODEL_WEIGHTS:,} weights (MAX_MODEL_WEIGHTS) and {MAX_MODULES:,} modules"
        )


def _parse(text: str) -> Any:
    _check_counts(text)
    _check_depth(text)
    # A float beyond the range (1e400) is infinity, as IEEE-754 rounding makes it and as save()
    # writes a diverged weight; an integer must fit a float where a weight is expected (below).
    return json.loads(text, object_pairs_hook=_unique_keys, parse_int=_integer)


def _read(path: str | Path) -> dict[str, Any]:
    """The file's document, checked as far as it can be without a model (see the module doc)."""
    try:
        raw = read_regular(path, MAX_BYTES)
    except TooLargeError as error:  # it names the path and the limit
        raise ModelFileError(f"{error}: not a model file microgradx reads") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"no model file at {path}") from None
    except NotARegularFileError as error:  # its message names the path and what is there
        raise ModelFileError(str(error)) from None
    except OSError as error:
        raise ModelFileError(f"{path}: cannot read it: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # an editor's byte-order mark is fine
    except UnicodeDecodeError as error:
        raise ModelFileError(
            f"{path} is not a microgradx model file (not UTF-8 text: byte {error.start})"
        ) from None
    try:
        document = _parse(text)
    except _Refused as error:
        raise ModelFileError(f"{path} is not a model file microgradx reads: {error}") from None
    except json.JSONDecodeError as error:
        raise ModelFileError(
            f"{path} is not valid JSON (truncated or corrupted?): {error}"
        ) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a microgradx model file")
    version = document.get("version")
    if type(version) is not int or version != VERSION:
        raise ModelFileError(
            f"{path} has format version {version!r:.40}; this microgradx reads version {VERSION}"
        )
    weights = document.get("parameters")
    # JSON numbers parse to exactly int or float (true/false are bool, a separate type)
    if not isinstance(weights, dict) or not all(type(v) in _NUMBER for v in weights.values()):
        raise ModelFileError(f"{path}: 'parameters' must map names to numbers")
    for name, value in weights.items():
        if type(value) is int and not _fits_a_float(value):
            raise ModelFileError(f"{path}: weight {name!r:.80} is too large for a float")
    declared = _count_weights(document.get("architecture"), path)
    if declared != len(weights):
        raise ModelFileError(
            f"{path}: the architecture declares {_amount(declared)} weights but the file holds"
            f" {len(weights)}"
        )
    return document


def _amount(n: int) -> str:
    return str(n) if n.bit_length() < 64 else f"about 10^{int(n.bit_length() * math.log10(2))}"


def _fits_a_float(x: int) -> bool:
    try:
        float(x)
    except OverflowError:
        return False
    return True


def _is_count(x: Any) -> bool:
    return type(x) is int and x >= 1


def _is_real(x: Any) -> bool:
    """A JSON number that is a float or an int a float can hold (NaN is refused by the ranges
    below, which it fails)."""
    return type(x) is float or (type(x) is int and _fits_a_float(x))


_Check = Callable[[Any], bool]
# For each module type: its settings and what each must be. A module's own settings only; the
# nested modules ("activation", "layers", ...) are checked as modules.
_SETTINGS: dict[str, dict[str, _Check]] = {
    "Linear": {"nin": _is_count, "nout": _is_count},
    "Layer": {"nin": _is_count, "nout": _is_count},
    "Maxout": {"nin": _is_count, "nout": _is_count, "pieces": _is_count},
    "Dropout": {
        "p": lambda p: _is_real(p) and 0 <= p < 1,
        "seed": lambda s: s is None or (type(s) is int and s >= 0),
    },
    "LeakyReLU": {"negative_slope": lambda s: _is_real(s) and 0 <= s < math.inf},
    "MLP": {
        "nin": _is_count,
        "sizes": lambda s: type(s) is list and len(s) > 0 and all(_is_count(n) for n in s),
        "init": lambda i: i in nn.INITS,
        "seed": lambda s: s is None or (type(s) is int and s >= 0),
    },
    "Sequential": {},
}
_ACTIVATIONS = {cls.__name__: cls for cls in nn.ACTIVATIONS.values() if cls is not nn.LeakyReLU}
_SETTINGS.update({name: {} for name in _ACTIVATIONS})  # an activation has no settings
_NESTED = {  # the settings that are modules themselves
    "Layer": ("activation",),
    "MLP": ("activation", "output_activation"),
}
_OPTIONAL = {"Dropout": {"seed"}, "MLP": {"seed", "init"}, "LeakyReLU": {"negative_slope"}}


def _too_many_modules(path: str | Path) -> ModelFileError:
    return ModelFileError(
        f"{path}: the architecture declares more than {MAX_MODULES:,} modules (MAX_MODULES);"
        " microgradx loads no model that large"
    )


def _count_weights(architecture: Any, path: str | Path) -> int:
    """The number of weights the architecture declares, after checking every module description
    against its schema; nothing is built. A tree walk with an explicit stack."""
    total = modules = 0
    stack: list[tuple[Any, str, bool]] = [(architecture, "architecture", False)]
    while stack:
        config, where, activation_only = stack.pop()
        modules += 1
        if modules > MAX_MODULES:
            raise _too_many_modules(path)
        if not isinstance(config, dict) or type(config.get("type")) is not str:
            raise ModelFileError(f"{path}: {where} is not a module description")
        kind = config["type"]
        if activation_only and kind not in _ACTIVATIONS and kind != "LeakyReLU":
            raise ModelFileError(f"{path}: {where} must be an activation, not {kind!r:.40}")
        if kind not in _SETTINGS:
            raise ModelFileError(f"{path}: {where} has the unknown module type {kind!r:.40}")
        nested = _NESTED.get(kind, ())
        settings = _SETTINGS[kind]
        allowed = {"type", *settings, *nested, *(("layers",) if kind == "Sequential" else ())}
        unknown = sorted(set(config) - allowed)
        required = allowed - _OPTIONAL.get(kind, set())
        missing = sorted(required - set(config))
        if unknown:
            shown = ", ".join(f"{name!r:.40}" for name in unknown[:5])
            raise ModelFileError(f"{path}: {where} ({kind}) has unknown settings: {shown}")
        if missing:
            raise ModelFileError(f"{path}: {where} ({kind}) lacks {', '.join(missing)}")
        for name, valid in settings.items():
            if name in config and not valid(config[name]):
                raise ModelFileError(
                    f"{path}: {where} ({kind}) has a bad {name}: {describe(config[name])}"
                )
        for name in nested:
            stack.append((config[name], f"{where}.{name}", True))
        if kind == "Sequential":
            layers = config["layers"]
            if type(layers) is not list:
                raise ModelFileError(f"{path}: {where}.layers must be a list")
            if modules + len(stack) + len(layers) > MAX_MODULES:  # refused before it is walked
                raise _too_many_modules(path)
            stack.extend((layer, f"{where}.layers.{i}", False) for i, layer in enumerate(layers))
        elif kind in ("Linear", "Layer"):
            total += (config["nin"] + 1) * config["nout"]
        elif kind == "Maxout":
            total += config["pieces"] * (config["nin"] + 1) * config["nout"]
        elif kind == "MLP":
            modules += len(config["sizes"])  # one Layer per size
            dims = [config["nin"], *config["sizes"]]
            total += sum((dims[i] + 1) * dims[i + 1] for i in range(len(dims) - 1))
        if total > MAX_MODEL_WEIGHTS:
            raise ModelFileError(
                f"{path}: the architecture declares {_amount(total)} weights, more than"
                f" {MAX_MODEL_WEIGHTS:,} (MAX_MODEL_WEIGHTS); microgradx loads no model that large"
            )
    return total


# ---- building and assigning ---------------------------------------------------------------------


def _build(config: dict[str, Any]) -> nn.Module:
    """A fresh module from a checked ``config()`` dictionary (weights are set afterwards)."""
    # Built bottom-up with an explicit stack: children first, then the module that holds them.
    built: dict[int, nn.Module] = {}
    stack: list[tuple[dict[str, Any], bool]] = [(config, False)]
    while stack:
        item, ready = stack.pop()
        kind = item["type"]
        children = [item[name] for name in _NESTED.get(kind, ())]
        if kind == "Sequential":
            children = list(item["layers"])
        if not ready and children:
            stack.append((item, True))
            stack.extend((child, False) for child in children)
            continue
        built[id(item)] = _construct(item, [built[id(child)] for child in children])
    return built[id(config)]


def _construct(config: dict[str, Any], children: list[nn.Module]) -> nn.Module:
    kind = config["type"]
    args = {k: v for k, v in config.items() if k != "type"}
    if kind == "MLP":
        args["activation"], args["output_activation"] = children
        return nn.MLP(**args)
    if kind == "Sequential":
        return nn.Sequential(*children)
    if kind == "Layer":
        activation = children[0]
        assert isinstance(activation, nn.Activation)  # checked by _count_weights
        return nn.Layer(args["nin"], args["nout"], activation)
    if kind == "Linear":
        return nn.Linear(**args)
    if kind == "Maxout":
        return nn.Maxout(**args)
    if kind == "Dropout":
        return nn.Dropout(**args)
    if kind == "LeakyReLU":
        return nn.LeakyReLU(**args)
    return _ACTIVATIONS[kind]()


def _built(architecture: dict[str, Any]) -> nn.Module:
    """The model, built without drawing from the default generator: loading a model must not
    change which weights the next model made without a seed starts from."""
    generator = nn._generator
    state = generator.getstate()
    try:
        return _build(architecture)
    finally:
        generator.setstate(state)


def _assign(model: nn.Module, weights: dict[str, float | int], source: str) -> None:
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
    values = [float(weights[name]) for name in names]  # every conversion before any change
    with deferred_interrupt():  # all weights or none, even if Ctrl-C comes in between
        for (_, p), value in zip(named, values):
            p.data = value
            p.grad = 0.0


def load(path: str | Path) -> nn.Module:
    """A new model built from the file's architecture, with its weights, in evaluation mode.

    Raises ``ModelFileError`` for any file that is not a complete, consistent model file (see
    the module's docstring for what is checked), ``FileNotFoundError`` if there is none.
    """
    checks.path(path, "path")
    document = _read(path)
    model = _built(document["architecture"])
    _assign(model, document["parameters"], str(path))
    model.eval()
    return model


def _shape(config: Any) -> Any:
    """A config without the settings that only chose the initial weights (seed, init)."""
    if isinstance(config, dict):
        return {k: _shape(v) for k, v in config.items() if k not in ("seed", "init")}
    if isinstance(config, list):
        return [_shape(v) for v in config]
    return config  # nesting is at most MAX_DEPTH deep (checked on reading)


def load_weights(model: nn.Module, path: str | Path) -> None:
    """Copy the file's weights into an existing ``model`` of the same architecture.

    The whole file is checked first (as for ``load``): on any error ``model`` is left exactly as
    it was, and a Ctrl-C during the copy lets it finish first.
    """
    checks.instance(model, "model", nn.Module, "microgradx Module")
    checks.path(path, "path")
    document = _read(path)
    if _shape(document["architecture"]) != _shape(model.config()):
        raise ModelFileError(f"{path} holds a different architecture than this model")
    _assign(model, document["parameters"], str(path))
