"""The ``microgradx`` command: ``microgradx demo`` and ``microgradx ops``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from microgradx.engine import Value, topological_order
from microgradx.gradcheck import gradcheck
from microgradx.ops import markdown_table


def _describe(node: Value, names: dict[Value, str]) -> str:
    """How a node was computed, in terms of its children's names: ``x1 * w1``, ``tanh(n)``."""
    if node.op is None:
        return "input" if node.label else "constant"
    args = [names[c] for c in node.children]
    if node.op.arity == 2 and len(node.op.symbol) <= 2:
        return f"{args[0]} {node.op.symbol} {args[1]}"
    return f"{node.op.label}({', '.join(args)})"


def neuron() -> tuple[Value, list[Value]]:
    """The lecture's neuron: o = tanh(n), n = s + b, s = x1*w1 + x2*w2; b makes n = 0.8814."""
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    s = x1w1 + x2w2
    s.label = "s"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o, [x1, w1, x2, w2, b]


def demo(file: TextIO | None = None) -> None:
    """A terminal walk-through: one neuron, its forward values, its gradients, and a gradcheck."""
    out = sys.stdout if file is None else file
    o, inputs = neuron()
    o.backward()
    order = topological_order(o)
    names = {node: node.label or f"v{i}" for i, node in enumerate(order)}

    print("microgradx demo: one neuron, o = tanh(x1*w1 + x2*w2 + b)\n", file=out)
    print("Forward pass, inputs first (topological order):", file=out)
    for node in order:
        print(f"  {names[node]:<14} = {_describe(node, names):<20} = {node.data: .6f}", file=out)

    print("\nBackward pass, output first. Each node passes its gradient to its inputs:", file=out)
    print(
        "  dL/dchild += dL/dnode * dnode/dchild   (upstream gradient * local derivative)", file=out
    )
    print("  do/do = 1", file=out)
    for node in reversed(order):
        if node.op is None:
            continue
        local_grads = node.op.local_grads(*[c.data for c in node.children], node.data)
        for child, local in zip(node.children, local_grads):
            upstream = float(node.grad)
            parent, name = names[node], names[child]
            print(
                f"  do/d({name}) += do/d({parent}) * d({parent})/d({name})"
                f" = {upstream:.4f} * {float(local):.4f} = {upstream * float(local):.4f}",
                file=out,
            )
    print("\nGradients of the inputs:", file=out)
    for leaf in inputs:
        print(f"  do/d{leaf.label:<3} = {float(leaf.grad): .6f}", file=out)

    def f(x1: Value, w1: Value, x2: Value, w2: Value, b: Value) -> Value:
        return (x1 * w1 + x2 * w2 + b).tanh()

    print("\nThe same gradients checked against central differences:", file=out)
    print(gradcheck(f, inputs), file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="microgradx", description="A scalar autodiff engine for learning backpropagation."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="walk through the forward and backward pass of one neuron")
    commands.add_parser("ops", help="print the op table as Markdown (docs/ops.md)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo()
    elif args.command == "ops":
        sys.stdout.write(markdown_table())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
