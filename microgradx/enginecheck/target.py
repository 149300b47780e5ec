"""Finding the engine to check: a TARGET (``nanograd.py``, ``pkg.engine``, either with
``:ClassName``), its Value-like class, the spellings of its attributes, and the ops it supports.

``parse_target`` runs in the checker (it only looks at the text and the file system); everything
that imports or calls the engine (``load_module``, ``find_class``, ``supported_forms``) runs in
the sandbox's child process (``microgradx.enginecheck.child``), so an engine that raises, hangs
or exits while it is imported is contained like one that does so in ``backward()``.

A class is Value-like when ``cls(1.5)`` works and the instance has a number attribute equal to
1.5 (``data``, else ``val``, ``value``, ``v``, ``x``), a number gradient attribute (``grad``,
else ``g``, ``gradient``, ``dx``) and a ``backward`` method (else ``backprop``, ``back``); each
spelling can be given instead (``data_attr``, ``grad_attr``, ``backward``).

Forms: an op of the op table (``microgradx.ops.OPS``) as the engine spells it. ``add``, ``sub``,
``mul``, ``div`` are Value∘Value; ``add_f`` is ``Value + 2.0`` and ``f_add`` is ``2.0 + Value``
(likewise for the others); ``pow`` is ``Value ** Value``, ``pow_scalar`` ``Value ** 2.0``,
``rpow_scalar`` ``2.0 ** Value``; ``neg`` is ``-Value``, ``abs`` is ``abs(Value)``, and a
method of the op table (``tanh``, ``exp``, ``log``, ``relu``, ``sigmoid``, ...) is
``Value.tanh()``. Standard library only.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import operator
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from microgradx.enginecheck.findings import TargetError
from microgradx.files import open_regular

DATA_ATTRS = ("data", "val", "value", "v", "x")
GRAD_ATTRS = ("grad", "g", "gradient", "dx")
BACKWARDS = ("backward", "backprop", "back")

# name -> (how the engine spells it, with a and b Values and c a float; a point inside its domain)
BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
_DUNDER_NAMES = {"add": "add", "sub": "sub", "mul": "mul", "div": "truediv", "pow": "pow"}
_ARITHMETIC = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
}
# methods of the op table tried on the engine: its one-input ops without a parameter
METHODS = (
    "tanh",
    "exp",
    "log",
    "relu",
    "sigmoid",
    "sqrt",
    "sin",
    "cos",
    "softplus",
    "log1p",
    "silu",
    "gelu",
)
# forms reported as unsupported when missing (issue 19's list); others are only used when present
EXPECTED = (
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "pow_scalar",
    "rpow_scalar",
    "neg",
    "add_f",
    "f_add",
    "sub_f",
    "f_sub",
    "mul_f",
    "f_mul",
    "div_f",
    "f_div",
    "tanh",
    "exp",
    "log",
    "relu",
    "sigmoid",
)


@dataclass(frozen=True)
class TargetSpec:
    """A parsed TARGET: ``path`` (a .py file) or ``module`` (a dotted name), and ``class_name``."""

    text: str
    path: str | None
    module: str | None
    class_name: str | None


def parse_target(target: str) -> TargetSpec:
    """``path/to/file.py``, ``package.module``, either with ``:ClassName``.

    Raises ``TargetError`` (one line) for an empty target or a path that does not exist."""
    text = target.strip()
    where, _, class_name = text.rpartition(":") if ":" in text else (text, "", "")
    # a Windows drive ("C:\\x.py") is not a class name
    if ":" in text and (os.sep in class_name or class_name.endswith(".py")):
        where, class_name = text, ""
    if not where:
        raise TargetError(f"target {target!r} names no file or module")
    if class_name and not class_name.replace(".", "_").isidentifier():
        raise TargetError(f"target {target!r}: {class_name!r} is not a class name")
    if where.endswith(".py") or os.sep in where or "/" in where:
        if not os.path.isfile(where):
            if os.path.lexists(where):  # a folder, a FIFO, a device: say what it is
                try:
                    open_regular(where).close()
                except FileNotFoundError:  # a symbolic link to nothing
                    pass
                except OSError as error:
                    raise TargetError(str(error)) from None
            raise TargetError(f"{where}: no such file")
        return TargetSpec(text, os.path.abspath(where), None, class_name or None)
    if not all(part.isidentifier() for part in where.split(".")):
        raise TargetError(f"{where}: no such file, and not a module name")
    return TargetSpec(text, None, where, class_name or None)


def load_module(spec: TargetSpec) -> ModuleType:
    """Import the target's module (in the child). Raises ``TargetError`` naming the exception
    the module raised."""
    try:
        if spec.path is not None:
            folder = os.path.dirname(spec.path)
            sys.path.insert(0, folder)  # so the engine's own sibling imports work
            name = "_engine_" + os.path.splitext(os.path.basename(spec.path))[0]
            loader = importlib.util.spec_from_file_location(name, spec.path)
            if loader is None or loader.loader is None:
                raise TargetError(f"{spec.path}: not a Python file")
            module = importlib.util.module_from_spec(loader)
            sys.modules[name] = module
            loader.loader.exec_module(module)
            return module
        assert spec.module is not None
        return importlib.import_module(spec.module)
    except TargetError:
        raise
    except ModuleNotFoundError as error:
        if spec.module is not None and error.name and spec.module.startswith(error.name):
            raise TargetError(f"{spec.module}: no such module (and no such file)") from None
        raise TargetError(_raised(spec, error)) from None
    except BaseException as error:  # SystemExit too: importing must not end the check
        raise TargetError(_raised(spec, error)) from None


def said(error: BaseException, most: int) -> str:
    """The engine's exception's message on one line, at most ``most`` characters. Its
    ``__str__`` is the engine's code: one that raises (anything but KeyboardInterrupt, which
    stays the learner's) is named instead, so a report is still made. What it returns may be a
    ``str`` subclass, whose methods are the engine's code too: they are called inside the same
    guard, and the result is a plain ``str``."""
    try:
        text = " ".join(str(error).split())
        return str.__getitem__(text, slice(0, most))  # a plain str, not the engine's subclass
    except KeyboardInterrupt:
        raise
    except BaseException as failure:
        return f"(its str() raised {type(failure).__name__})"


def _raised(spec: TargetSpec, error: BaseException) -> str:
    where = spec.path or spec.module
    message = said(error, 200)
    return f"importing {where} raised {type(error).__name__}" + (f": {message}" if message else "")


@dataclass(frozen=True)
class Spelling:
    """How the engine spells the number, the gradient and ``backward``."""

    data_attr: str
    grad_attr: str
    backward: str


# float() parses these (float("1.5") is 1.5), so an engine keeping its numbers as text would pass
TEXT = (str, bytes, bytearray, memoryview)


def number_of(x: object) -> float | None:
    """The engine's number ``x`` as a float: a number (an int, a float, a NumPy scalar, anything
    with ``__float__`` or ``__index__``), or None for anything else, text included (``"1.5"``:
    a string is not a number, whatever ``float()`` makes of it) and an int beyond a float.
    NumPy's text in an array (``np.array("1.5")``, whose ``float()`` parses it too), its dates
    and durations are not numbers either; a 0-d array of objects is the object it holds."""
    while True:
        if isinstance(x, TEXT):
            return None
        kind = getattr(getattr(x, "dtype", None), "kind", None)  # NumPy's; torch's has none
        if not isinstance(kind, str) or kind in "biuf":
            break
        if kind != "O" or getattr(x, "ndim", None) != 0:  # text, dates, durations, ...
            return None
        x = x.item()  # type: ignore[attr-defined]
    try:
        return float(x)  # type: ignore[arg-type]
    except Exception:
        return None


def _number(x: object) -> bool:
    return number_of(x) is not None


def _spelling(
    cls: type, data_attr: str | None, grad_attr: str | None, backward: str | None
) -> Spelling | str:
    """The spelling of a Value-like ``cls``, or why it is not one (a reason, starting with
    ``"constructor"`` when ``cls(1.5)`` fails)."""
    try:
        instance = cls(1.5)
    except BaseException as error:
        return f"constructor: {type(error).__name__}: {said(error, 160)}"
    data = [a for a in ((data_attr,) if data_attr else DATA_ATTRS) if _is_attr(instance, a, 1.5)]
    grads = [a for a in ((grad_attr,) if grad_attr else GRAD_ATTRS) if _is_attr(instance, a)]
    names = (backward,) if backward else BACKWARDS
    method = [b for b in names if callable(getattr(cls, b, None))]
    if not data:
        return f"no number attribute equal to 1.5 after {cls.__name__}(1.5)"
    if not grads:
        return "no number gradient attribute"
    if not method:
        return "no backward method"
    return Spelling(data[0], grads[0], method[0])


def _is_attr(instance: object, name: str, equal: float | None = None) -> bool:
    try:
        value = getattr(instance, name)
    except Exception:
        return False
    if callable(value) or not _number(value):
        return False
    return equal is None or number_of(value) == equal


def find_class(
    module: ModuleType,
    class_name: str | None,
    data_attr: str | None = None,
    grad_attr: str | None = None,
    backward: str | None = None,
) -> tuple[type, Spelling]:
    """The Value-like class of ``module`` (``class_name``: that one) and its spelling.

    Without a name, classes defined in the module are tried first, then those it imports.
    Raises ``TargetError`` (one line) for no such class, no Value-like class, two of them (named),
    or a constructor that needs more than a number."""
    where = getattr(module, "__file__", None) or module.__name__
    if class_name is not None:
        cls: Any = module
        for part in class_name.split("."):
            cls = getattr(cls, part, None)
        if not isinstance(cls, type):
            raise TargetError(f"{where} has no class {class_name}")
        return cls, class_spelling(cls, class_name, data_attr, grad_attr, backward)
    classes = [c for c in vars(module).values() if isinstance(c, type)]
    own = [c for c in classes if c.__module__ == module.__name__]
    for group in (own, [c for c in classes if c not in own]):
        tried = [(c, _spelling(c, data_attr, grad_attr, backward)) for c in group]
        good = [(c, s) for c, s in tried if isinstance(s, Spelling)]
        if len(good) == 1:
            return good[0]
        if len(good) > 1:
            names = ", ".join(c.__name__ for c, _ in good)
            raise TargetError(
                f"{where} has {len(good)} Value-like classes ({names}): name one, e.g. "
                f"{_target_text(where)}:{good[0][0].__name__}"
            )
        # a class with a backward method whose constructor wants more than one number
        near = [
            (c, s)
            for c, s in tried
            if isinstance(s, str) and s.startswith("constructor") and _has_backward(c, backward)
        ]
        if len(near) == 1:
            raise TargetError(_not_value_like(near[0][0].__name__, str(near[0][1])))
    raise TargetError(
        f"{where} has no Value-like class (constructible from one float, with a number"
        " attribute, a gradient attribute and backward()); name it with :ClassName and the"
        " spellings with data_attr/grad_attr/backward"
    )


def class_spelling(
    cls: type,
    name: str,
    data_attr: str | None = None,
    grad_attr: str | None = None,
    backward: str | None = None,
) -> Spelling:
    """The spelling of the Value-like class ``cls`` (``name`` in messages). Raises
    ``TargetError`` (one line) when it is not Value-like or its constructor needs more than a
    number."""
    found = _spelling(cls, data_attr, grad_attr, backward)
    if isinstance(found, str):
        raise TargetError(_not_value_like(name, found))
    return found


def _has_backward(cls: type, backward: str | None) -> bool:
    return any(callable(getattr(cls, b, None)) for b in ((backward,) if backward else BACKWARDS))


def _target_text(where: str) -> str:
    return os.path.relpath(where) if os.path.isabs(where) else where


def _not_value_like(name: str, reason: str) -> str:
    if reason.startswith("constructor"):
        detail = reason.removeprefix("constructor: ")
        return f"{name}(1.5) fails ({detail}): the checker needs a constructor from one number"
    return f"{name} is not Value-like: {reason}"


def _float_of(value: object, spelling: Spelling) -> float | None:
    try:
        return number_of(getattr(value, spelling.data_attr))
    except Exception:
        return None


# each operator form, and a point inside its domain to try it at (a float ``c`` is 2.0)
_POINTS: dict[str, tuple[float, ...]] = {
    **dict.fromkeys(("add", "sub", "mul", "div"), (0.5, 1.25)),
    "pow": (1.5, 1.25),
    **dict.fromkeys(("pow_scalar", "rpow_scalar", "neg"), (1.5,)),
    "abs": (-1.5,),
    **{f"{n}_f": (1.5,) for n in ("add", "sub", "mul", "div")},
    **{f"f_{n}": (1.5,) for n in ("add", "sub", "mul", "div")},
}


def _tries(cls: type) -> dict[str, tuple[Callable[..., Any], Sequence[float]]]:
    """Each form as a function of Values, with a point inside its domain; the methods only
    where ``cls`` has them."""
    methods = {name: (0.75,) for name in METHODS if callable(getattr(cls, name, None))}
    return {
        form: (lambda *args, form=form: apply_form(form, args), point)
        for form, point in {**_POINTS, **methods}.items()
    }


def apply_form(form: str, args: Sequence[Any], param: float | None = None) -> Any:
    """Apply ``form`` (see the module's docstring) to the engine's Values ``args``; ``param`` is
    the float of ``add_f``/``f_add``/..., the exponent of ``pow_scalar`` or the base of
    ``rpow_scalar``."""
    c = 2.0 if param is None else param
    if form in BINARY:
        return _ARITHMETIC[form](*args)
    if form.endswith("_f") or form.startswith("f_"):
        (a,) = args
        name = form.removesuffix("_f").removeprefix("f_")
        if name not in _ARITHMETIC or name == "pow":
            raise ValueError(f"unknown form {form!r}")
        arithmetic = _ARITHMETIC[name]
        return arithmetic(a, c) if form.endswith("_f") else arithmetic(c, a)
    (a,) = args
    if form == "pow_scalar":
        return a**c
    if form == "rpow_scalar":
        return c**a
    if form == "neg":
        return -a
    if form == "abs":
        return abs(a)
    return getattr(a, form)()


# the special method Python's operator dispatch calls for each operator form: ``a`` and ``b`` are
# of one class, so ``a + b`` never tries ``b.__radd__``; ``2.0 + a`` reaches ``a.__radd__``
_SPECIAL = {
    **{name: f"__{dunder}__" for name, dunder in _DUNDER_NAMES.items()},
    **{f"{name}_f": f"__{dunder}__" for name, dunder in _DUNDER_NAMES.items() if name != "pow"},
    **{f"f_{name}": f"__r{dunder}__" for name, dunder in _DUNDER_NAMES.items() if name != "pow"},
    "pow_scalar": "__pow__",
    "rpow_scalar": "__rpow__",
    "neg": "__neg__",
    "abs": "__abs__",
}


def supported_forms(
    cls: type, spelling: Spelling, passes: tuple[type[BaseException], ...] = ()
) -> list[str]:
    """The forms ``cls`` supports, each tried once at a point inside its domain.

    A form is unsupported only when the engine does not have it: the special method Python's
    dispatch calls (``__add__`` for ``a + b`` and ``a + 2.0``, ``__radd__`` for ``2.0 + a``, ...)
    is missing or returns ``NotImplemented``, or raises ``NotImplementedError``, or refuses this
    operand's type while it works for the other one (micrograd's ``__pow__`` asserts a number
    exponent: ``a ** b`` is unsupported, ``a ** 2.0`` supported). A special method that raises
    for every operand (a ``TypeError`` in ``__add__``, ``SystemExit`` too) is supported: the op's
    check reports the crash. A method of the op table (``tanh``) is supported whenever the class
    has it, whatever it does (``math.tanhh`` in ``tanh`` is a learner's bug to report, not a
    missing op). An operator form that returns no instance of ``cls`` is unsupported. What they
    compute is checked later: a NaN or a string is a wrong value there, not a reason to skip the
    op. ``passes``: the exceptions that end the check instead (in-process, the learner's
    ``KeyboardInterrupt``)."""
    gave: dict[str, bool] = {}  # operator form -> it gave an instance of cls
    raised: dict[str, BaseException] = {}
    supported = []
    for name, (_, point) in _tries(cls).items():
        if name in METHODS:  # _tries has a method form only where the class has the method
            supported.append(name)
            continue
        special = getattr(cls, _SPECIAL[name], None)
        if special is None:  # absent: Python's dispatch raises TypeError
            continue
        try:
            args = [cls(x) for x in point]
            out = _call_special(name, special, args)
        except BaseException as error:
            if isinstance(error, passes):
                raise
            raised[name] = error
            continue
        gave[name] = out is not NotImplemented and isinstance(out, cls)
        if gave[name]:
            supported.append(name)
    working = {_SPECIAL[name] for name, ok in gave.items() if ok}
    for name, failure in raised.items():
        refused = isinstance(failure, Exception) and _SPECIAL[name] in working
        if not (isinstance(failure, NotImplementedError) or refused):
            supported.append(name)
    return [name for name in _tries(cls) if name in supported]


def _call_special(name: str, special: Callable[..., Any], args: list[Any]) -> Any:
    """``special`` (the class's special method for the operator form ``name``) called as
    Python's dispatch calls it, on the Values ``args`` (a float ``c`` is 2.0)."""
    if name.endswith("_f") or name.startswith("f_") or name in ("pow_scalar", "rpow_scalar"):
        return special(args[0], 2.0)
    return special(*args)


def class_reference(cls: type) -> tuple[str, str] | None:
    """(module name or file, qualified name) to import ``cls`` again in another process, or
    None when its module has no file (``__main__`` of a notebook)."""
    module = sys.modules.get(cls.__module__)
    qualname = cls.__qualname__
    if module is None or "<locals>" in qualname:
        return None
    path = getattr(module, "__file__", None)
    if cls.__module__ != "__main__" and _importable(cls.__module__, path):
        return cls.__module__, qualname
    files = _code_files(cls)
    try:  # a class with no functions of its own (class Value(Base): pass): its statement's file
        inspect.getsourcelines(cls)  # OSError when the file holds no such class statement
        stated = inspect.getsourcefile(cls)
    except (OSError, TypeError):
        stated = None
    defined_there = (
        path is not None
        and bool(files or stated)
        and all(os.path.abspath(f) == os.path.abspath(path) for f in [*files, stated or path])
    )
    if path and path.endswith(".py") and os.path.isfile(path) and defined_there:
        return os.path.abspath(path), qualname
    return None


def _code_files(cls: type) -> list[str]:
    """The files (``co_filename``) of ``cls``'s functions, in the order first seen."""
    files: list[str] = []
    for member in list(vars(cls).values()):
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if isinstance(member, property):
            member = member.fget
        code = getattr(member, "__code__", None)
        if code is not None and code.co_filename not in files:
            files.append(code.co_filename)
    return files


def _importable(name: str, path: str | None) -> bool:
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    return found is not None and (path is None or found.origin == path)


def _notebook_classes(cls: type) -> list[type]:
    """``cls`` and the classes it inherits from that another process cannot import either (a
    notebook's ``class Buggy(V)`` needs ``V``'s cell too), bases first."""
    return [
        c
        for c in reversed(cls.__mro__)
        if c is cls or (c.__module__ == cls.__module__ and class_reference(c) is None)
    ]


def _bindings(classes: list[type]) -> list[str]:
    """``V.backward = backward`` for each function defined outside a class body and set on the
    class later (in any cell): the live class says what was bound, wherever the line was."""
    lines = []
    for c in classes:
        for name, member in vars(c).items():
            qualname = getattr(member, "__qualname__", "")
            if getattr(member, "__code__", None) is not None and qualname.isidentifier():
                lines.append(f"{c.__name__}.{name} = {qualname}")
    return lines


def _codes(functions: list[Any]) -> list[Any]:
    """Every code object of ``functions``, nested functions included."""
    stack = [getattr(f, "__code__", None) for f in functions]
    codes = []
    while stack:
        code = stack.pop()
        if code is not None and hasattr(code, "co_names"):
            codes.append(code)
            stack.extend(const for const in code.co_consts if hasattr(const, "co_names"))
    return codes


def _globals_used(classes: list[type]) -> tuple[dict[str, str], list[str]]:
    """What the classes' methods read from the notebook's namespace, followed through the
    helper functions they call: an import line for each module or importable object by the
    name it is read under, and the files (cells) of the helper functions."""
    functions = [getattr(m, "__func__", m) for c in classes for m in vars(c).values()]
    functions = [f for f in functions if hasattr(f, "__globals__")]
    if not functions:
        return {}, []
    namespace: dict[str, Any] = functions[0].__globals__  # the notebook's, whatever __main__ is
    imports: dict[str, str] = {}
    files: list[str] = []
    seen: set[str] = set()
    while functions:
        names = {n for code in _codes(functions) for n in code.co_names} - seen
        seen |= names
        functions = []
        for name in sorted(names):
            value: Any = namespace.get(name)
            if isinstance(value, ModuleType):
                alias = "" if value.__name__ == name else f" as {name}"
                imports[name] = f"import {value.__name__}{alias}"
            elif value is not None and getattr(value, "__module__", "__main__") != "__main__":
                if getattr(value, "__qualname__", "").isidentifier():
                    imports[name] = f"from {value.__module__} import {value.__qualname__} as {name}"
            elif getattr(value, "__code__", None) is not None:  # a helper from another cell
                files.append(value.__code__.co_filename)
                functions.append(value)
    return imports, files


def _names_bound(node: Any) -> list[str]:
    """The names a top-level definition binds (``def f``, ``import a.b as c``, ``x = 1``)."""
    import ast

    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [alias.asname or alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
        return [node.name]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def _kept_source(files: list[str], cls: type) -> tuple[list[str], set[str]]:
    """The definitions of each file's cell, and the names they define."""
    import ast
    import linecache

    parts: list[str] = []
    defined: set[str] = set()
    for name in files:
        lines = linecache.getlines(name)
        if not lines:
            try:
                lines = inspect.getsourcelines(cls)[0] if not parts else []
            except (OSError, TypeError):
                lines = []
        try:
            tree = ast.parse("".join(lines))
        except SyntaxError:
            continue
        for node in tree.body:
            if _definition(node):
                parts.append(ast.unparse(node))
                defined.update(_names_bound(node))
    return parts, defined


def cell_source(cls: type) -> str | None:
    """The source of the notebook cells (or ``exec``'d strings kept in ``linecache``) that define
    ``cls``, the classes it inherits from, their methods and the helper functions those call:
    first an import for each module or importable object they read from the notebook (``math``,
    imported in another cell), then each cell's imports, functions, classes and simple
    assignments, then each function bound to a class outside its body (``V.backward =
    backward``); None when no source can be found."""
    classes = _notebook_classes(cls)
    imports, helpers = _globals_used(classes)
    files = list(dict.fromkeys([name for c in classes for name in _code_files(c)] + helpers))
    parts, defined = _kept_source(files, cls)
    if not any(f"class {cls.__name__}" in part for part in parts):
        return None
    lines = [line for name, line in imports.items() if name not in defined]
    return "\n\n".join(lines + parts + _bindings(classes)) + "\n"


def _definition(node: object) -> bool:
    import ast

    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return isinstance(node.value, (ast.Constant, ast.Name, ast.Attribute, ast.Lambda))
    return False
