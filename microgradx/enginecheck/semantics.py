"""Reuse and the semantics users rely on, checked on another engine (see
``microgradx.enginecheck.checks`` for the tolerance and how values are compared).

- ``reuse``: ``a + a``, ``a * a``, and ``c = a * b`` feeding two paths (``check_reuse``): a value
  used twice must get both contributions (an engine that keeps children in a set counts it once).
- ``backward() twice`` (``check_twice``): accumulating, as PyTorch does with
  ``retain_graph=True`` (the leaves' gradients double), is ``ok``. Gradients that grow by more
  (micrograd's: the inner nodes keep their gradients from the first pass and pass them on again)
  or stay as they were (``backward()`` resets them) are ``behaviour``, with the numbers: a
  training loop that zeroes the gradients and builds a new graph every step, as micrograd's demo
  does, is unaffected, so neither fails the report; the reset is caught as a failure by:
- ``gradients accumulating across two losses`` (``check_two_losses``): after
  ``loss1.backward(); loss2.backward()`` over shared leaves (no inner node shared) the leaves
  hold the sum of both losses' gradients, else a wrong gradient;
- ``resetting gradients between steps`` (``check_reset``): setting the gradient attribute of the
  leaves to 0 by hand, as micrograd users do, then ``loss2.backward()``: loss2's gradients alone;
- ``constants on either side`` (``check_constants``): ``a + 2.0``, ``2.0 + a``, ``a - 2.0``, ...
  each supported form's value and gradient; the forms missing are listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from microgradx.enginecheck.checks import (
    SHOWN,
    Checker,
    _expr,
    _fmt,
    _fmt_list,
    _Stop,
    close,
    expected,
    reference,
)
from microgradx.enginecheck.findings import (
    BEHAVIOUR,
    CRASH,
    OK,
    UNSUPPORTED,
    WRONG_GRADIENT,
    WRONG_VALUE,
)
from microgradx.enginecheck.target import EXPECTED
from microgradx.ops import OPS

if TYPE_CHECKING:
    from microgradx.strategies import Expression


def check_reuse(self: Checker, check: str, expr: Expression) -> None:
    self.check_expression(check, "reuse", expr)


# two losses over the leaves a = 0.5, b = -1.5 with no node in common:
# loss1 = (a * b + a) * b (nodes 2, 3, 4), loss2 = (a + b) * a (nodes 5, 6)
_LOSSES = (
    [0.5, -1.5],
    [("mul", (0, 1)), ("add", (2, 0)), ("mul", (3, 1)), ("add", (0, 1)), ("mul", (5, 0))],
)


def _losses(self: Checker) -> tuple[list[list[Any]], tuple[list[float], list[float]]] | None:
    inputs, steps = _LOSSES
    if not {"add", "mul"} <= set(self.supported):
        return None
    loss1 = expected(_expr(inputs, steps[:3]))
    e2 = _expr(inputs, [("add", (0, 1)), ("mul", (2, 0))])
    loss2 = expected(e2)
    program = [[form, list(args), None] for form, args in steps]
    return program, (loss1.grad[:2], loss2.grad[:2])


def _semantics(
    self: Checker, check: str, actions: list[Any]
) -> tuple[list[Any], list[float], list[float]] | None:
    losses = _losses(
        self,
    )
    if losses is None:
        self.add(check, "semantics", UNSUPPORTED, "needs a + b and a * b")
        return None
    program, (g1, g2) = losses
    answer = self.run(_LOSSES[0], program, actions)
    if not answer.get("ok"):
        if answer.get("error") == "budget":
            raise _Stop
        verdict = self.crashed(answer)
        self.add(
            check,
            "semantics",
            CRASH,
            verdict["message"],
            example=_losses_source(self, actions),
            details=verdict["details"],
        )
        return None
    return answer["reads"], g1, g2


def _losses_source(self: Checker, actions: list[Any]) -> str:
    cls, grad, backward = self.class_name, self.spelling["grad_attr"], self.spelling["backward"]
    lines = [
        f"a = {cls}(0.5); b = {cls}(-1.5)",
        "loss1 = (a * b + a) * b",
        "loss2 = (a + b) * a",
    ]
    for action in actions:
        if action[0] == "backward":
            lines.append(f"{'loss1' if action[1] == 4 else 'loss2'}.{backward}()")
        elif action[0] == "zero":
            lines.append(f"a.{grad} = 0.0; b.{grad} = 0.0")
        elif action[0] == "read":
            lines.append(f"print(a.{grad}, b.{grad})")
    return "\n".join(lines)


def check_twice(self: Checker) -> None:
    check = "backward() twice"
    actions = [["backward", 4], ["read", [0, 1]], ["backward", 4], ["read", [0, 1]]]
    result = _semantics(self, check, actions)
    if result is None:
        return
    reads, g1, _ = result
    first, second = reads[0]["grad"], reads[1]["grad"]
    example = _losses_source(self, actions)
    if not all(isinstance(g, float) and close(g, w) for g, w in zip(first, g1)):
        self.add(
            check,
            "semantics",
            WRONG_GRADIENT,
            f"after loss1.backward(): a, b gradients {first}, expected {g1}",
            example=example,
            details={"expected": g1, "got": first},
        )
        return
    doubled = [2 * g for g in g1]
    details = {"first": first, "second": second, "accumulated": doubled}
    if all(isinstance(g, float) and close(g, w) for g, w in zip(second, doubled)):
        self.add(
            check,
            "semantics",
            OK,
            "a second backward() adds the same gradients again (accumulates, as PyTorch does"
            " with retain_graph=True)",
            details=details,
        )
    elif all(isinstance(g, float) and close(g, w) for g, w in zip(second, g1)):
        self.add(
            check,
            "semantics",
            BEHAVIOUR,
            f"a second backward() leaves the gradients as they were ({_fmt_list(second)});"
            f" PyTorch accumulates ({_fmt_list(doubled)}): backward() resets them, so the"
            " gradients of two losses do not add up",
            example=example,
            details=details,
        )
    else:
        self.add(
            check,
            "semantics",
            BEHAVIOUR,
            f"after a second backward() the gradients are {_fmt_list(second)} where accumulating"
            f" (PyTorch, retain_graph=True) gives {_fmt_list(doubled)}: the inner nodes kept"
            " their gradients from the first pass and passed them on again (micrograd does"
            " this too). Harmless when every step zeroes the gradients and builds a new graph;"
            " wrong for a graph reused across backward() calls",
            example=example,
            details=details,
        )


def check_two_losses(self: Checker) -> None:
    check = "gradients accumulating across two losses"
    actions = [["backward", 4], ["backward", 6], ["read", [0, 1]]]
    result = _semantics(self, check, actions)
    if result is None:
        return
    reads, g1, g2 = result
    got = reads[0]["grad"]
    want = [x + y for x, y in zip(g1, g2)]
    details = {"expected": want, "got": got, "loss1": g1, "loss2": g2}
    if all(isinstance(g, float) and close(g, w) for g, w in zip(got, want)):
        self.add(
            check,
            "semantics",
            OK,
            "loss1.backward(); loss2.backward() sums both losses' gradients",
            details=details,
        )
        return
    why = (
        " (loss2's alone: backward() resets the gradients it reaches before adding)"
        if all(isinstance(g, float) and close(g, w) for g, w in zip(got, g2))
        else ""
    )
    self.add(
        check,
        "semantics",
        WRONG_GRADIENT,
        f"after loss1.backward(); loss2.backward(): a.{self.spelling['grad_attr']},"
        f" b.{self.spelling['grad_attr']} = {_fmt_list(got)}, expected the sum"
        f" {_fmt_list(want)}{why}",
        example=_losses_source(self, actions),
        details=details,
    )


def check_reset(self: Checker) -> None:
    check = "resetting gradients between steps"
    actions = [["backward", 4], ["zero", [0, 1]], ["backward", 6], ["read", [0, 1]]]
    result = _semantics(self, check, actions)
    if result is None:
        return
    reads, _, g2 = result
    got = reads[0]["grad"]
    details = {"expected": g2, "got": got}
    if all(isinstance(g, float) and close(g, w) for g, w in zip(got, g2)):
        self.add(
            check,
            "semantics",
            OK,
            "after zeroing the gradient attribute, the next loss's gradients alone",
            details=details,
        )
    else:
        self.add(
            check,
            "semantics",
            WRONG_GRADIENT,
            f"after loss1.backward(), zeroing a and b's gradients, loss2.backward():"
            f" {_fmt_list(got)}, expected loss2's {_fmt_list(g2)}",
            example=_losses_source(self, actions),
            details=details,
        )


def check_constants(self: Checker) -> None:
    check = "constants on either side"
    forms = [f for f in EXPECTED if f.endswith("_f") or f.startswith("f_")]
    have = [f for f in forms if f in self.supported]
    missing = [SHOWN[f] for f in forms if f not in self.supported]
    a = 1.5
    for form in have:
        name = form.removesuffix("_f").removeprefix("f_")
        op = OPS[name]
        args = (a, 2.0) if form.endswith("_f") else (2.0, a)
        out, grads = reference(op, args)
        grad = grads[0 if form.endswith("_f") else 1]
        answer = self.run([a], [[form, [0], 2.0]], [["backward", 1], ["read", [0, 1]]])
        example = (
            f"a = {self.class_name}({a!r}); y = {SHOWN[form]}; y.{self.spelling['backward']}()"
            f"; print(y.{self.spelling['data_attr']}, a.{self.spelling['grad_attr']})"
        )
        if not answer.get("ok"):
            if answer.get("error") == "budget":
                raise _Stop
            verdict = self.crashed(answer)
            self.add(
                check,
                "semantics",
                CRASH,
                f"{SHOWN[form]}: {verdict['message']}",
                example=example,
                details=verdict["details"],
            )
            return
        got_grad, got_out = answer["reads"][0]["grad"][0], answer["reads"][0]["data"][1]
        if isinstance(got_out, str) or not close(got_out, out):
            self.add(
                check,
                "semantics",
                WRONG_VALUE,
                f"{SHOWN[form]} at a = {a}: expected {out:.6g}, got {_fmt(got_out)}",
                example=example,
                details={"expected": out, "got": got_out, "form": form},
            )
            return
        if isinstance(got_grad, str) or not close(got_grad, grad):
            self.add(
                check,
                "semantics",
                WRONG_GRADIENT,
                f"y = {SHOWN[form]} at a = {a}: expected dy/da = {grad:.6g}, got {_fmt(got_grad)}",
                example=example,
                details={"expected": grad, "got": got_grad, "form": form},
            )
            return
    if not have:
        self.add(check, "semantics", UNSUPPORTED, "no form mixes a float with a Value")
        return
    message = f"{', '.join(SHOWN[f] for f in have)}: values and gradients agree"
    if missing:
        message += f"; unsupported: {', '.join(missing)}"
    self.add(check, "semantics", OK, message, details={"unsupported": missing})
