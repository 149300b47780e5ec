"""The command line: ``python -m microgradx.exercises grade NOTEBOOK [--out FILE]`` and
``python -m microgradx.exercises catalogue [--notebook NN] [--out FILE]``.
"""

from __future__ import annotations

import json

from microgradx.exercises.grading import grade_notebook
from microgradx.exercises.session import catalogue
from microgradx.files import write_atomically


def main(argv: list[str] | None = None) -> int:
    """``python -m microgradx.exercises grade NOTEBOOK [--out FILE]``, or ``catalogue``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m microgradx.exercises")
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="run a filled notebook and print (or write) its checks")
    grade.add_argument("notebook")
    grade.add_argument("--out")
    listing = sub.add_parser("catalogue", help="the exercises, their statements and hints")
    listing.add_argument("--notebook")
    listing.add_argument("--out")
    args = parser.parse_args(argv)
    try:
        if args.command == "grade":
            graded = grade_notebook(args.notebook)
            data = graded.to_json()
            status = 0 if not graded.errors else 1
        else:
            data = json.dumps(catalogue(args.notebook), ensure_ascii=False, indent=1)
            status = 0
    except (OSError, ValueError) as error:  # one line, as for any command-line mistake
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")
    if args.out:
        write_atomically(args.out, (data + "\n").encode())
    else:
        print(data)
    return status
