"""Checking arguments: one set of helpers for every public function of the package.

Each helper returns the argument in the form the code wants (a float, an int, a list) or raises a
``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong value) whose message names
the argument and shows what was given, e.g. ``momentum must be a real number, got str '0.9'``.
They are called before anything changes, so a refused call leaves every object as it was.

What counts as a number: every ``numbers.Real`` (``int``, ``float``, ``fractions.Fraction``,
NumPy's scalars such as ``np.float32(0.5)``), converted to a Python float. An integer too large for
a float (``10**400``) is refused by name rather than rounded to infinity: a number that large in
the data is a mistake, not a value; so is a NumPy ``longdouble`` beyond a float, refused as such
rather than rounded to infinity. ``decimal.Decimal`` is not a ``numbers.Real`` and is refused.
NumPy's ``timedelta64`` is refused although NumPy registers it as a ``numbers.Integral`` (it
subclasses ``np.signedinteger``): a duration is not a number (``float()`` of one in seconds
raises, of one in nanoseconds gives the count of nanoseconds, so ``lr=np.timedelta64(5)`` was
5.0), and a 0-d array of its dtype is refused as well.

Bools, and the two kinds of number (one rule, two helpers):

- A *setting* (``real``, ``finite``, ``in_range``, ``count``, ``seed``, ``index``, ``reals`` and
  ``reals_of_length``): a hyperparameter, a tolerance, a size, a range, an op's parameter
  (``leaky_relu``'s slope), the gradient given to a backward pass (``y.backward(True)`` is
  PyTorch's old ``retain_graph`` in the wrong place), a target (``fit``'s and the losses' labels:
  ``True`` as a class is ambiguous). A ``bool`` is refused with a ``TypeError`` naming the
  argument: ``lr=True`` or ``noise=True`` is a mistake (usually a flag in the wrong place), not
  1.0. A NumPy array, even a 0-d one, is refused too.
- *Data* (``number``, ``rows``, ``reals(..., data=True)``): a number that enters arithmetic as a
  value: a ``Value``'s ``data`` and ``grad`` (what lives in the graph), an operand of an op
  (``Value(2.0) * True``, an exponent, a base), the inputs at which a function is evaluated or
  differentiated (``compile``'s inputs, ``gradcheck``'s, a model's), data rows ``X``, the values
  a picture shows. Here a bool is 0.0 or 1.0 (Python's and NumPy's ``bool``), as
  Python, NumPy and PyTorch promote it in arithmetic, and a 0-d NumPy array of a real or bool
  dtype is the number it holds, as NumPy and PyTorch take a 0-d tensor in arithmetic. Both
  back-ends of ``compile`` take their inputs by this rule (a NumPy batch converted by NumPy
  folds the same 0-d arrays and bools, and nothing else, into its float array).

A count (a layer size, a number of epochs) must be an integer
and not a ``bool``: ``True`` as a layer size is a mistake, not 1; a count that sets the size of
something built (a dataset's ``n``, a histogram's ``bins``) is given a ``maximum``, so a billion
is refused by name instead of allocating gigabytes.

What counts as a list: a list, a tuple, a range or a NumPy array (never asked for its truth
value, which NumPy refuses: emptiness is ``len(x) == 0``); not a str, a dict or a single number.
A path is a ``str`` or a ``pathlib.Path``, never an int (which ``os`` functions would take as an
open file descriptor: ``load(0)`` would read standard input).
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

T = TypeVar("T")


def describe(x: Any) -> str:
    """A short description of ``x`` for an error message: its type and a clipped repr.

    Never fails and never takes long: an int of 5000 digits (whose repr Python refuses) is
    described by its length, and a long repr is cut.
    """
    kind = type(x).__name__
    if isinstance(x, int) and not isinstance(x, bool) and abs(x).bit_length() > 64:
        digits = math.floor(abs(x).bit_length() * math.log10(2)) + 1
        return f"an int of about {digits} digits"
    try:
        text = repr(x)
    except Exception:  # a user's object whose repr fails: its type is enough
        return kind
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{kind} {text}"


def real(x: Any, name: str) -> float:
    """A setting ``x`` as a float. TypeError unless a real number that is not a bool (see the
    module: ``lr=True`` is a mistake, not 1.0); ValueError for a number beyond a float."""
    if type(x) is float:
        return x
    if type(x) is int:  # the next most common: as fast as it was
        try:
            return float(x)
        except OverflowError:
            raise _too_large(x, name) from None
    if is_real(x) and not isinstance(x, bool):
        return _float(x, name)
    also = ", not a bool" if isinstance(x, bool) or _numpy_bool(x) else ""
    raise TypeError(f"{name} must be a real number{also}, got {describe(x)}")


def number(x: Any, name: str) -> float:
    """A data number ``x`` (a Value's data, an operand, an input) as a float: a real number, a
    bool as 0.0 or 1.0 (Python's or NumPy's), or a 0-d NumPy array of a real or bool dtype as
    the number it holds (see the module). TypeError for anything else, ValueError for an int
    beyond a float."""
    if type(x) is float:
        return x
    if type(x) is int:  # the next most common: as fast as it was
        try:
            return float(x)
        except OverflowError:
            raise _too_large(x, name) from None
    if is_real(x):  # Python's bool is one: 0.0 or 1.0
        return _float(x, name)
    kind = type(x)
    # NumPy's types recognised without importing NumPy (the core needs only the standard library)
    if kind.__module__ == "numpy":
        if _numpy_bool(x):
            return float(x)
        if kind.__name__ == "ndarray" and x.ndim == 0 and x.dtype.kind in "fiub":
            return number(x.item(), name)
    raise TypeError(f"{name} must be a real number, got {describe(x)}")


def _float(x: Any, name: str) -> float:
    """A real number (``is_real``) that is not a float as a float: ValueError naming ``name``
    beyond a float (an int, a Fraction: OverflowError; a NumPy longdouble: rounded to an
    infinity it is not), TypeError if its own conversion fails (a class registered as a
    ``numbers.Real`` whose ``__float__`` raises)."""
    try:
        value = float(x)
    except OverflowError:
        raise _too_large(x, name) from None
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be a real number, got {describe(x)} (float() of it failed: {error})"
        ) from None
    if math.isinf(value) and x != value:  # rounded to an infinity (a finite longdouble)
        raise _too_large(x, name)
    return value


def _numpy_bool(x: Any) -> bool:
    """NumPy's bool: numpy.bool_ (numpy.bool from NumPy 2), recognised without importing NumPy."""
    kind = type(x)
    return kind.__module__ == "numpy" and kind.__name__ in ("bool_", "bool")


def _too_large(x: Any, name: str) -> ValueError:
    return ValueError(f"{name} is too large for a float (about 1.8e308 at most), got {describe(x)}")


def _duration(x: Any) -> bool:
    """NumPy's ``timedelta64``, which NumPy registers as a ``numbers.Integral`` (see the
    module), recognised without importing NumPy (a subclass of it makes plain timedelta64s)."""
    kind = type(x)
    return kind.__name__ == "timedelta64" and kind.__module__ == "numpy"


def is_real(x: Any) -> bool:
    """True for a real number (not a Value, a string or a sequence, not NumPy's timedelta64; a
    bool is one, as a data number: see the module)."""
    return isinstance(x, numbers.Real) and not _duration(x)


def is_int(x: Any) -> bool:
    """True for an integer that is not a bool (Python's, NumPy's; not NumPy's timedelta64): a
    count, a class label, an index."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool) and not _duration(x)


def finite(x: Any, name: str) -> float:
    """``x`` as a finite float (no NaN, no infinity)."""
    value = real(x, name)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def in_range(
    x: Any,
    name: str,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``x`` as a float with ``low <= x <= high`` (``<`` where ``*_open``); NaN is refused."""
    value = real(x, name)
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):  # also catches NaN, which compares false with everything
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}{low:g}, {high:g}{right}, got {value!r}")
    return value


def count(x: Any, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """``x`` as an int in ``[minimum, maximum]``, refusing bool and non-integral numbers."""
    if not is_int(x):
        raise TypeError(f"{name} must be an int, got {describe(x)}")
    value = int(x)
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {_shown_int(value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an int <= {maximum}, got {_shown_int(value)}")
    return value


@overload
def seed(x: Any, name: str = ..., *, optional: Literal[False] = ...) -> int: ...


@overload
def seed(x: Any, name: str = ..., *, optional: bool) -> int | None: ...


def seed(x: Any, name: str = "seed", *, optional: bool = False) -> int | None:
    """``x`` as a seed for ``random.Random``: an int >= 0 (NumPy's ints too; never a bool), or
    ``None`` where ``optional`` (where None is documented to mean "no seed of its own").

    ``random.Random`` takes anything hashable, but a float seed, NaN above all (whose hash is its
    address), or a str, does not promise the same numbers on every run and machine: the same
    seed must give the same data, so only ints are taken.
    """
    if x is None and optional:
        return None
    if not is_int(x):
        also = " or None" if optional else ""
        raise TypeError(f"{name} must be an int >= 0{also}, got {describe(x)}")
    return count(x, name, minimum=0)


def _shown_int(value: int) -> str:
    return repr(value) if value.bit_length() <= 64 else describe(value)


def flag(x: Any, name: str) -> bool:
    """``x`` as a bool; only ``True`` and ``False`` (and NumPy's bools) are accepted."""
    if isinstance(x, bool) or _numpy_bool(x):
        return bool(x)
    raise TypeError(f"{name} must be True or False, got {describe(x)}")


def choice(x: Any, name: str, options: Iterable[T]) -> T:
    """``x``, which must be one of ``options`` (names, usually)."""
    allowed = list(options)
    if isinstance(x, str) or x is None:
        for option in allowed:
            if x == option:
                return option
    listed = ", ".join(repr(option) for option in allowed)
    if x is not None and not isinstance(x, str) and all(isinstance(o, str) for o in allowed):
        raise TypeError(f"{name} must be one of {listed}, got {describe(x)}")
    raise ValueError(f"{name} must be one of {listed}, got {describe(x)}")


def function(x: Any, name: str) -> Callable[..., Any]:
    """``x``, which must be callable."""
    if not callable(x):
        raise TypeError(f"{name} must be a function, got {describe(x)}")
    return x  # type: ignore[no-any-return]


def takes(f: Callable[..., Any], n: int, name: str, given: str) -> None:
    """Refuse, by name, calling ``f`` with ``n`` positional arguments when its signature says it
    cannot take them (``given`` says where the ``n`` came from). A callable without a readable
    signature (a builtin) is let through: the call itself will say."""
    import inspect  # only here: most checks never need it

    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*[None] * n)
    except TypeError as error:
        raise TypeError(
            f"{name} cannot take {n} input(s), one per entry of {given}: {error}"
        ) from None


def text(x: Any, name: str) -> str:
    """``x``, which must be a str."""
    if not isinstance(x, str):
        raise TypeError(f"{name} must be a str, got {describe(x)}")
    return x


def sequence(x: Any, name: str) -> Sequence[Any]:
    """``x`` as a sequence that is not a string, a mapping or a single number (a list, a tuple,
    a range, a NumPy array: anything with a length that can be indexed). A 0-d array (NumPy's,
    a masked one, a 0-d torch tensor) has ``__len__`` but no length (``len()`` raises): it is
    refused here, by name, as a number is."""
    if isinstance(x, (str, bytes, dict)) or not hasattr(x, "__len__") or _zero_d(x):
        raise TypeError(f"{name} must be a list, got {describe(x)}")
    if not hasattr(x, "__getitem__"):
        raise TypeError(f"{name} must be a list (something that can be indexed), got {describe(x)}")
    return x  # type: ignore[no-any-return]


def _zero_d(x: Any) -> bool:
    """An array of no dimensions: NumPy's, its masked arrays', torch's 0-d tensors (each has
    ``__len__`` and raises on ``len()``)."""
    return getattr(x, "ndim", None) == 0


def reals(x: Any, name: str, *, allow_empty: bool = False, data: bool = False) -> list[float]:
    """``x`` as a list of floats (a list of numbers, a tuple, a 1-D NumPy array): settings,
    each by ``real``, or with ``data`` data numbers, each by ``number`` (see the module)."""
    items = sequence(x, name)
    if not allow_empty and len(items) == 0:
        raise ValueError(f"{name} must not be empty")
    each = number if data else real
    return [each(v, f"{name}[{i}]") for i, v in enumerate(items)]


def texts(x: Any, name: str) -> list[str]:
    """``x`` as a list of strs (names, titles): a list, a tuple or a NumPy array of strs."""
    return [text(v, f"{name}[{i}]") for i, v in enumerate(sequence(x, name))]


def reals_of_length(x: Any, name: str, length: int) -> list[float]:
    """``x`` as a list of exactly ``length`` floats (a pair, a triple)."""
    items = sequence(x, name)
    if len(items) != length:
        raise ValueError(f"{name} must hold {length} numbers, got {describe(x)}")
    return [real(v, f"{name}[{i}]") for i, v in enumerate(items)]


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def instance(x: Any, name: str, kind: type[T] | tuple[type, ...], noun: str) -> T:
    """``x``, which must be an instance of ``kind``; ``noun`` names it in the message
    (``model must be a microgradx Module, got str 'abc'``)."""
    if not isinstance(x, kind):
        raise TypeError(f"{name} must be {_a(noun)}, got {describe(x)}")
    return x  # type: ignore[return-value]


def instances(x: Any, name: str, kind: type[T] | tuple[type, ...], noun: str) -> list[T]:
    """``x`` as a list of instances of ``kind``: a list, a tuple, a NumPy array of objects or
    any other iterable (a generator), but not a str, a dict or a single ``kind``. Each entry is
    named by its place: ``params[2] must be a Value, got float 1.0``."""
    if isinstance(x, (str, bytes, Mapping, kind)) or not isinstance(x, Iterable) or _zero_d(x):
        raise TypeError(f"{name} must be a list of {noun}s, got {describe(x)}")
    items = list(x)
    for i, item in enumerate(items):
        if not isinstance(item, kind):
            raise TypeError(f"{name}[{i}] must be {_a(noun)}, got {describe(item)}")
    return items


def mapping(x: Any, name: str) -> Mapping[Any, Any]:
    """``x``, which must be a mapping (a dict)."""
    if not isinstance(x, Mapping):
        raise TypeError(f"{name} must be a dict, got {describe(x)}")
    return x


def path(x: Any, name: str) -> Path:
    """``x`` as a ``Path``: a non-empty str or ``os.PathLike`` without NUL characters. An int is
    refused (``os`` functions take it as an open file descriptor), and so are bytes."""
    if not isinstance(x, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or a pathlib.Path, got {describe(x)}")
    given = os.fspath(x)
    if not isinstance(given, str):
        raise TypeError(f"{name} must be a str or a pathlib.Path, got {describe(x)}")
    if given == "":
        raise ValueError(f"{name} is empty: give a file name")
    if "\0" in given:
        raise ValueError(f"{name} contains a NUL character, which no file name can hold")
    return Path(given)


def rows(
    x: Any,
    name: str,
    *,
    width: int | None = None,
    allow_empty: bool = False,
    require_finite: bool = False,
) -> list[list[float]]:
    """``x`` as a list of rows of data numbers (``number``), every row as long as the first (or
    ``width``): a list of lists, or a 2-D NumPy array (``require_finite``: no NaN or infinity).
    Names the first bad place: ``X[3] has 1 numbers but X[0] has 2``, ``X[1][0] must be a real
    number, got str 'a'``."""
    items = sequence(x, name)
    if not allow_empty and len(items) == 0:
        raise ValueError(f"{name} is empty: give at least one row")
    expected = width
    table: list[list[float]] = []
    for i, row in enumerate(items):
        if is_real(row):
            raise TypeError(f"{name}[{i}] must be a list of numbers (a row), got {describe(row)}")
        values = reals(row, f"{name}[{i}]", allow_empty=True, data=True)
        if require_finite:
            for j, v in enumerate(values):
                finite(v, f"{name}[{i}][{j}]")
        if expected is None:
            expected = len(values)
        elif len(values) != expected:
            than = f"{name}[0] has {expected}" if width is None else f"{width} are needed"
            raise ValueError(f"{name}[{i}] has {len(values)} numbers but {than}")
        table.append(values)
    return table


def index(i: Any, name: str, length: int) -> int:
    """``i`` as a place among ``length`` items, counted from 0 (a negative ``i`` from the end,
    as a list takes it), returned as ``0 <= i < length``. TypeError unless an int, ValueError
    for a place outside (also when there are no items)."""
    if not is_int(i):
        raise TypeError(f"{name} must be an int, got {describe(i)}")
    place = int(i)
    if not -length <= place < length:
        shown = _shown_int(place)
        if length == 0:
            raise ValueError(f"{name} cannot be {shown}: there is nothing to pick from")
        raise ValueError(f"{name} must be an int in [{-length}, {length - 1}], got {shown}")
    return place + length if place < 0 else place


F = TypeVar("F", bound=Callable[..., Any])


def changed_call(new_form: str, *, renamed: Mapping[str, str] | None = None) -> Callable[[F], F]:
    """For one release after a signature changed: the old way of calling fails with a one-line
    ``TypeError`` naming ``new_form``, instead of meaning something else (or failing with
    Python's generic message).

    Old calls are recognised by more positional arguments than the new signature takes (the old
    positional order) and by ``renamed`` keywords (old name -> new name). The wrapped function
    keeps its signature (``inspect.signature`` follows ``__wrapped__``), so the signature tests
    against torch see the real one.
    """
    old_names = dict(renamed or {})

    def wrap(f: F) -> F:
        parameters = list(inspect.signature(f).parameters.values())
        method = bool(parameters) and parameters[0].name == "self"
        positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters)
        shown = f.__qualname__.removesuffix(".__init__")

        @functools.wraps(f)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if len(args) > positional:
                raise TypeError(
                    f"{shown} takes {positional - method} positional arguments"
                    f" (got {len(args) - method}); the rest by keyword: {new_form}"
                )
            for old in kwargs:
                if old in old_names:
                    raise TypeError(f"{shown}'s {old}= is now {old_names[old]}=: {new_form}")
            return f(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return wrap


def gone(module: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module's ``__getattr__`` for names that were renamed or removed: for one release,
    ``module.old`` and ``from module import old`` raise ``ImportError`` with one line naming
    the new form (an ``AttributeError`` would be turned into import's generic message)."""

    def __getattr__(name: str) -> Any:
        if name in names:
            raise ImportError(f"{module}.{name} is gone: {names[name]}")
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
