"""Derivatives as functions: ``grad``, ``value_and_grad``, ``hessian``, ``hvp``; and the chain
rule spelled out as a sum over paths (``chain_rule_paths``).

``grad`` follows ``torch.func.grad`` (and JAX), ``value_and_grad`` JAX's: ``grad(f)`` is a new
function with f's arguments that returns df/d(argument ``argnums``). An argument is a number, a
Value, or a list of them (then f receives a list of Values and the gradient is a list).
``hessian`` and ``hvp`` follow ``torch.autograd.functional`` (its arguments, order, defaults and
results): ``func`` takes one Value per input.

They compose to any order and nest: ``grad(grad(f))`` is the second derivative, exactly, and a
``grad`` called inside a function that another ``grad`` is differentiating differentiates only its
own arguments, while the outer call differentiates through it. None of them reads or writes any
Value's ``.grad`` (they use ``microgradx.autograd.grad``, which returns gradients instead of storing
them), so an inner call never touches an outer call's leaves.

Called at the top level they return floats. Called inside another of these functions (nested),
they return Values, which the enclosing call differentiates.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from microgradx.autograd import grad as gradients
from microgradx.checks import (
    count,
    describe,
    flag,
    is_int,
    is_real,
    number,
    real,
    sequence,
    takes,
)
from microgradx.engine import Value, topological_order

Function = Callable[..., Any]


class _Depth(threading.local):
    value = 0  # how many of this module's calls are running f in this thread


_depth = _Depth()


def _leaf(x: Any, name: str) -> Value:
    """This call's own input for ``x``: a new node the walk can tell apart from everything else.

    A number becomes a new leaf. A Value (an enclosing call's input, or a user's) becomes
    ``x * 1.0``: a new node that still depends on ``x``, so an enclosing call can differentiate
    through this one (``* 1.0`` is exact for every float, -0.0, inf and NaN included).
    """
    if isinstance(x, Value):
        return x * 1.0
    return Value(number(x, name))


def _arguments(x: Any, name: str) -> Any:
    """A number or Value -> one leaf; a list or tuple of them -> a list of leaves."""
    if isinstance(x, (list, tuple)):
        return [_leaf(v, f"{name}[{i}]") for i, v in enumerate(x)]
    return _leaf(x, name)


def _flat(x: Any) -> list[Value]:
    return list(x) if isinstance(x, list) else [x]


def _argnums(argnums: Any, count: int) -> tuple[int, ...]:
    numbers = argnums if isinstance(argnums, tuple) else (argnums,)
    places = []
    for given in numbers:
        if not is_int(given):  # NumPy's too
            raise TypeError(f"argnums must be an int or a tuple of ints, got {describe(argnums)}")
        k = int(given)
        if not -count <= k < count:
            raise ValueError(f"argnums {k} is out of range for a function of {count} arguments")
        places.append(k % count)
    return tuple(places)


def _check_call(f: Function, args: tuple[Any, ...]) -> None:
    """A clear message for the old calling convention ``grad(f)([x, y])`` with f(x, y)."""
    if len(args) != 1 or not isinstance(args[0], (list, tuple)):
        return
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):
        return  # a builtin or an object without a signature: let the call speak for itself
    try:
        signature.bind(*args)
        return
    except TypeError:
        pass
    try:
        signature.bind(*args[0])
    except TypeError:
        return
    n = len(args[0])
    raise TypeError(
        f"grad(f) passes its arguments to f as they are, like torch.func.grad: f takes {n}"
        f" arguments but was given one list. Call grad(f, argnums=tuple(range({n})))(*xs),"
        " or write f to take one list"
    )


def _result(x: Any, nested: bool) -> Any:
    """Floats at the top level; Values (to be differentiated again) when nested."""
    if nested:
        return x
    if isinstance(x, list):
        return [_result(v, nested) for v in x]
    return x.data if isinstance(x, Value) else float(x)


def _differentiate(
    func: Function, args: tuple[Any, ...], argnums: Any, has_aux: bool
) -> tuple[Any, Any, Any]:
    """(value, gradient, aux) of ``func`` at ``args`` with respect to ``args[argnums]``."""
    if not callable(func):
        raise TypeError(f"func must be callable, got {describe(func)}")
    if not args:
        raise TypeError("the differentiated function needs at least one argument")
    _check_call(func, args)
    chosen = _argnums(argnums, len(args))
    nested = _depth.value > 0
    call_args = list(args)
    for k in chosen:
        call_args[k] = _arguments(args[k], f"argument {k}")
    # this call's own copy of each argument's leaves: f may change the list it is given (pop,
    # append, replace an entry), and the gradient is still one entry per input, in its place
    own = {k: _flat(call_args[k]) for k in chosen}
    _depth.value += 1
    try:
        result = func(*call_args)
    finally:
        _depth.value -= 1
    aux = None
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError("with has_aux=True, func must return a pair (output, aux)")
        result, aux = result
    result = _output(result, "func must return one Value (a scalar)")
    leaves = [leaf for k in chosen for leaf in own[k]]
    # none: every chosen argument is an empty list, whose gradient is an empty list
    found = gradients(result, leaves, create_graph=nested, materialize_grads=True) if leaves else ()
    per_argument = []
    position = 0
    for k in chosen:
        size = len(own[k])
        part = list(found[position : position + size])
        position += size
        per_argument.append(part if isinstance(call_args[k], list) else part[0])
    gradient = per_argument[0] if not isinstance(argnums, tuple) else tuple(per_argument)
    return _result(result, nested), _map(gradient, nested), aux


def _output(result: Any, wanted: str) -> Value:
    """What the differentiated function returned, as a Value: a Value as it is; any real number
    (an int, a float, a NumPy scalar, a Fraction) is a constant function's output, a new leaf that
    no input reaches (gradient 0). TypeError (``wanted``, then what it got) for anything else, a
    bool included; ValueError for an int beyond a float."""
    if isinstance(result, Value):
        return result
    if is_real(result) and not isinstance(result, bool):
        return Value(real(result, "func's output"))
    raise TypeError(f"{wanted}, got {describe(result)}")


def _map(gradient: Any, nested: bool) -> Any:
    if isinstance(gradient, tuple):
        return tuple(_result(g, nested) for g in gradient)
    return _result(gradient, nested)


def grad(func: Function, argnums: int | tuple[int, ...] = 0, has_aux: bool = False) -> Function:
    """``grad(f)(*args)`` is df/d(args[argnums]) (as ``torch.func.grad``, same arguments).

    ``argnums`` an int gives one gradient (a number, or a list for a list argument); a tuple
    gives a tuple of them. With ``has_aux=True``, f returns ``(output, aux)`` and the result is
    ``(gradient, aux)``. ``f`` must return one Value (a scalar) or a real number (an int, a
    float, a NumPy scalar: gradient 0); TypeError for anything else (a bool, a str, a list),
    ValueError for an int beyond a float; ``has_aux`` must be True or False (TypeError).

    >>> grad(lambda x: x * x * x)(2.0)
    12.0
    >>> grad(grad(lambda x: x * x * x))(2.0)
    12.0
    """

    has_aux = flag(has_aux, "has_aux")

    def gradient_of(*args: Any) -> Any:
        _, gradient, aux = _differentiate(func, args, argnums, has_aux)
        return (gradient, aux) if has_aux else gradient

    return gradient_of


def value_and_grad(
    func: Function, argnums: int | tuple[int, ...] = 0, has_aux: bool = False
) -> Function:
    """``value_and_grad(f)(*args)`` is ``(f(*args), grad(f)(*args))`` from one reverse pass (as
    ``jax.value_and_grad``; torch's ``torch.func.grad_and_value`` gives the pair the other way
    round, which is why the name is JAX's); with ``has_aux``, ``((value, aux), gradient)``."""

    has_aux = flag(has_aux, "has_aux")

    def value_and_gradient(*args: Any) -> Any:
        value, gradient, aux = _differentiate(func, args, argnums, has_aux)
        return ((value, aux), gradient) if has_aux else (value, gradient)

    return value_and_gradient


def _inputs(
    func: Function, inputs: Sequence[Any], name: str, create_graph: Any
) -> tuple[list[Value], Value, bool]:
    """The leaves for ``inputs``, ``func``'s output on them, and whether to return Values (this
    call is nested, or ``create_graph`` asks for a result that can be differentiated again)."""
    if not callable(func):
        raise TypeError(f"func must be callable, got {describe(func)}")
    if isinstance(inputs, Value):
        raise TypeError(f"{name} must be a list of numbers, got {describe(inputs)}")
    inputs = sequence(inputs, name)  # a list, a tuple, a NumPy array; not a str or bytes
    if len(inputs) == 0:
        raise ValueError(f"{name} must not be empty")
    graphs = flag(create_graph, "create_graph")
    leaves = [_leaf(x, f"{name}[{i}]") for i, x in enumerate(inputs)]
    takes(func, len(leaves), "func", name)
    nested = _depth.value > 0
    _depth.value += 1
    try:
        out = func(*leaves)
    finally:
        _depth.value -= 1
    return leaves, _output(out, "func must return one Value"), nested or graphs


def hessian(func: Function, inputs: Sequence[Any], create_graph: bool = False) -> list[list[Any]]:
    """The matrix of second derivatives H_ij = d^2 f / dx_i dx_j at ``inputs`` (as
    ``torch.autograd.functional.hessian(func, inputs, create_graph=False)``, with ``func``
    taking one Value per input). Floats; Values (graphs to differentiate again) with
    ``create_graph=True`` or when nested in another of this module's calls.

    Reverse over reverse: the first derivatives are computed as graphs, then each is
    differentiated once more (one pass per row, so meant for small inputs). ``func`` returns
    one Value, or a real number (a constant: H = 0, as ``grad`` gives 0); TypeError for
    anything else, ValueError for an int beyond a float.
    """
    leaves, out, nested = _inputs(func, inputs, "inputs", create_graph)
    firsts = gradients(out, leaves, create_graph=True, materialize_grads=True)
    rows = []
    for first in firsts:
        row = gradients(first, leaves, create_graph=nested, materialize_grads=True)
        rows.append([_result(h, nested) for h in row])
    return rows


def hvp(
    func: Function,
    inputs: Sequence[Any],
    v: Sequence[Any] | None = None,
    create_graph: bool = False,
) -> tuple[Any, list[Any]]:
    """``(func(*inputs), H v)``: the Hessian-vector product without forming H, as
    ``torch.autograd.functional.hvp(func, inputs, v=None, create_graph=False)`` (its
    arguments, order, defaults and result: the output first, then the product, one entry per
    input). ``v`` may be left out only for one input (then v = [1.0], as torch). Floats; Values
    with ``create_graph=True`` or when nested. Computed as d/dx (grad f . v). ``func``'s
    result as ``hessian``'s (a real number is a constant: H v = 0).
    """
    if v is None:
        given = inputs if isinstance(inputs, Value) else sequence(inputs, "inputs")
        if isinstance(given, Value) or len(given) != 1:
            raise ValueError("v can be left out only for one input; give v, one entry per input")
        v = [1.0]
    if isinstance(v, Value):
        raise TypeError(f"v must be a list of numbers, got {describe(v)}")
    v = sequence(v, "v")
    # data, as jvp's tangents and the inputs are (checks.number: a bool is 0 or 1)
    vector = [x if isinstance(x, Value) else number(x, f"v[{i}]") for i, x in enumerate(v)]
    leaves, out, nested = _inputs(func, inputs, "inputs", create_graph)
    if len(vector) != len(leaves):
        raise ValueError(f"v has {len(vector)} entries but inputs has {len(leaves)}")
    firsts = gradients(out, leaves, create_graph=True, materialize_grads=True)
    total: Any = 0.0
    for first, vi in zip(firsts, vector):
        total = total + first * vi
    if not isinstance(total, Value):
        return _result(out, nested), [_result(Value(0.0), nested) for _ in leaves]
    products = gradients(total, leaves, create_graph=nested, materialize_grads=True)
    return _result(out, nested), [_result(p, nested) for p in products]


# ---- the chain rule as a sum over paths ---------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """One path from the input up to the output, with the local derivative of each edge."""

    nodes: tuple[Value, ...]  # input first, output last
    factors: tuple[float, ...]  # d(nodes[k+1]) / d(nodes[k]) along this edge

    @property
    def product(self) -> float:
        return math.prod(self.factors)

    def __str__(self) -> str:
        names = " -> ".join(n.label or (n.op.label if n.op else "?") for n in self.nodes)
        factors = " * ".join(f"{f:.4g}" for f in self.factors)
        return f"{names}: {factors} = {self.product:.6g}"


def _check_values(output: Any, input: Any) -> None:
    if not isinstance(output, Value):
        raise TypeError(f"output must be a Value, got {describe(output)}")
    if not isinstance(input, Value):
        raise TypeError(f"input must be a Value, got {describe(input)}")


def _paths_from(order: list[Value], input: Value, most: int) -> dict[Value, int]:
    """For each node, how many paths lead from ``input`` to it, counted up to ``most`` (dynamic
    programming in topological order). A count stops at ``most``: exact counts of a deep graph
    are astronomical, and a dict of them would hold a number of about k bits for each of the
    k steps of a chain ``y = y * y`` (60 GB at a million steps)."""
    paths: dict[Value, int] = {}
    for node in order:
        paths[node] = 1 if node is input else min(sum(paths[c] for c in node.children), most)
    return paths


def count_paths(output: Value, input: Value) -> int:
    """How many distinct paths lead from ``input`` to ``output`` (``a + a`` counts two).

    Exact, however large (a chain of k steps ``y = y * y`` has 2^k): each node's count is
    dropped once every node that uses it has been counted, so the memory is that of the
    counts still needed, not of every count."""
    _check_values(output, input)
    order = topological_order(output)
    users: dict[Value, int] = {}  # the edges into each node not yet counted
    for node in order:
        for child in node.children:
            users[child] = users.get(child, 0) + 1
    paths: dict[Value, int] = {}
    for node in order:
        if node is input:
            paths[node] = 1
            continue
        total = 0
        for child in node.children:
            total += paths[child]
            users[child] -= 1
            if not users[child]:
                del paths[child]
        paths[node] = total
    return paths[output]


def chain_rule_paths(output: Value, input: Value, limit: int = 10_000) -> list[Path]:
    """Every path from ``input`` to ``output``, each with the product of its local derivatives.

    Their sum is d(output)/d(input): the chain rule for graphs. The number of paths can grow
    exponentially with depth (a chain of k ``y = y * y`` steps has 2^k), which is exactly the work
    backpropagation avoids by summing at each node once; above ``limit`` paths this refuses
    (``ValueError``; ``count_paths`` says how many there are), after work proportional to the
    graph's size. The work is proportional to the total length of the paths listed (a
    depth-first walk that extends and shortens one current path, instead of copying it at every
    step). Raises ``TypeError`` unless ``output`` and ``input`` are Values and ``limit`` an int.
    """
    _check_values(output, input)
    limit = count(limit, "limit")
    order = topological_order(output)
    paths = _paths_from(order, input, limit + 1)
    if paths[output] > limit:
        raise ValueError(
            f"more than limit={limit} paths lead from the input to the output (count_paths"
            " counts them): enumerating them grows exponentially with depth, which is the work"
            " backpropagation avoids by adding up each node's gradient once. Use backward()"
            " instead."
        )
    local = {node: node.local_grads() for node in order if node.op is not None and paths[node]}
    found: list[Path] = []
    # The current path, output first, as parallel lists; next_child[k] is which input of
    # nodes[k] to try next. Only inputs with a path to ``input`` are followed.
    nodes: list[Value] = [output]
    factors: list[float] = []
    next_child = [0]
    while nodes:
        node = nodes[-1]
        if node is input:
            found.append(Path(tuple(reversed(nodes)), tuple(reversed(factors))))
            next_child.pop()
            nodes.pop()
            if factors:
                factors.pop()
            continue
        children = node.children
        k = next_child[-1]
        while k < len(children) and not paths[children[k]]:
            k += 1
        if k == len(children):  # every input tried: step back
            next_child.pop()
            nodes.pop()
            if factors:
                factors.pop()
            continue
        next_child[-1] = k + 1
        nodes.append(children[k])
        factors.append(local[node][k])
        next_child.append(0)
    return found
