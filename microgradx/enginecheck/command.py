"""``microgradx check TARGET``: check another autodiff engine from the command line.

Prints the terminal summary (``report.to_text``) or, with ``--json``, the JSON report; with
``--junit PATH`` also writes JUnit XML there (atomically, to a regular file only). Exit status:
0 when everything checked holds, 1 when something is wrong (a wrong value or gradient, a crash),
2 when the target cannot be checked (one line on stderr) or the arguments are wrong.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, TextIO

from microgradx.enginecheck.findings import EngineReport, TargetError
from microgradx.enginecheck.report import to_json, to_junit, to_text
from microgradx.files import NotARegularFileError, write_atomically, write_target
from microgradx.viz.markup import visible

HELP = "check another autodiff engine (a micrograd-style Value class) against microgradx"
DEFAULT_BUDGET = 30.0  # seconds for the whole check


def parse_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text!r}")
    return value


def parse_seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be from 0 to 2**63 - 1, got {text!r}")
    return value


def parse_name(text: str) -> str:
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(f"expected a Python attribute name, got {text!r}")
    return text


def add_parser(commands: Any, formatter_class: type[argparse.HelpFormatter]) -> None:
    """Add ``check`` to the ``microgradx`` command's subparsers ``commands``."""
    c = commands.add_parser("check", help=HELP, description=HELP, formatter_class=formatter_class)
    c.add_argument(
        "target",
        metavar="TARGET",
        help="path/to/file.py or package.module, either with :ClassName (found when left out)",
    )
    c.add_argument("--data-attr", type=parse_name, metavar="NAME", help="the number's attribute")
    c.add_argument("--grad-attr", type=parse_name, metavar="NAME", help="the gradient's attribute")
    c.add_argument("--backward", type=parse_name, metavar="NAME", help="the backward method's name")
    c.add_argument(
        "--budget",
        type=parse_seconds,
        default=DEFAULT_BUDGET,
        metavar="SECONDS",
        help="bound on the whole check",
    )
    c.add_argument("--seed", type=parse_seed, default=0, help="for the examples drawn")
    c.add_argument("--json", action="store_true", help="print the JSON report, not the table")
    c.add_argument("--junit", metavar="PATH", help="also write JUnit XML to PATH")
    c.add_argument("--color", action="store_true", help="colour the verdicts (ANSI codes)")


def _fail(err: TextIO, message: str) -> int:
    """One line on stderr, exit status 2. The message holds the user's text (a path, an import's
    error): control characters and line breaks are written out, so it stays one visible line."""
    print(f"microgradx check: error: {visible(message, 2000)}", file=err)
    return 2


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Check ``args.target`` and report; returns the exit status (0, 1 or 2)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    junit = None if args.junit is None else Path(args.junit)
    if junit is not None:  # a folder, a FIFO, a device or no such folder: refused before the work
        try:
            folder = write_target(junit).parent
        except NotARegularFileError as error:
            return _fail(err, f"--junit {error}")
        if not folder.is_dir():
            return _fail(err, f"--junit {args.junit}: the folder {junit.parent} does not exist")
    # Lazily: the checker (and what it imports) loads only when a check runs.
    from microgradx.enginecheck.api import check_target

    try:
        report: EngineReport = check_target(
            args.target,
            data_attr=args.data_attr,
            grad_attr=args.grad_attr,
            backward=args.backward,
            budget=args.budget,
            seed=args.seed,
        )
    except TargetError as error:
        # One line: the target's text and an import's error are the user's, shown visibly.
        return _fail(err, str(error))
    out.write(to_json(report) + "\n" if args.json else to_text(report, color=args.color))
    if junit is not None:
        try:
            write_atomically(junit, to_junit(report))
        except OSError as error:
            return _fail(err, f"--junit {error}")
    return report.exit_code
