"""The ``microgradx`` command: ``microgradx demo``, ``ops``, ``train`` and ``check``."""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import warnings
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import Any, NoReturn, TextIO

from microgradx import data, io, nn, optim, train, vectors
from microgradx.engine import Value, grad_number, topological_order
from microgradx.enginecheck.command import add_parser as add_check_parser
from microgradx.enginecheck.command import run as check
from microgradx.files import NotARegularFileError, open_regular, write_atomically, write_target
from microgradx.gradcheck import gradcheck
from microgradx.ops import markdown_table
from microgradx.replay import BACKENDS, compile_memory
from microgradx.viz.trace import trace_backward


def _progress(wanted: bool, out: TextIO) -> bool:
    """Whether to ask ``fit`` for a progress bar: ``wanted`` and tqdm here. Without tqdm, one
    plain line says how to get one (``fit``'s own warning would show a source line of ours)."""
    if not wanted:
        return False
    try:
        import tqdm  # noqa: F401  (fit imports it next)
    except ImportError:
        print("(no progress bar: pip install 'microgradx[progress]' for one)", file=out)
        return False
    return True


def _describe(node: Value, names: dict[Value, str]) -> str:
    """How a node was computed, in terms of its children's names: ``x1 * w1``, ``tanh(n)``."""
    if node.op is None:
        return "input" if node.label else "constant"
    args = [names[c] for c in node.children]
    if node.op.arity == 2 and len(node.op.symbol) <= 2:
        return f"{args[0]} {node.op.symbol} {args[1]}"
    return f"{node.op.label}({', '.join(args)})"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


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


OUTPUTS = ("neuron_backprop.html", "neuron_graph.svg", "decision_boundary.png")  # demo's files


def demo(
    file: TextIO | None = None, progress: bool = True, folder: str = "microgradx-demo"
) -> None:
    """A terminal walk-through: one neuron, its forward values, its gradients, and a gradcheck."""
    out = sys.stdout if file is None else file
    if Path(folder).exists() and not Path(folder).is_dir():
        raise CommandError(f"{folder} exists and is not a folder: give another with --out DIR")
    for name in OUTPUTS:  # a FIFO or a device where a file goes is refused before the work
        write_target(Path(folder) / name)
    o, inputs = neuron()
    order = topological_order(o)
    names = {node: node.label or f"v{i}" for i, node in enumerate(order)}

    print("microgradx demo: one neuron, o = tanh(x1*w1 + x2*w2 + b)\n", file=out)
    print("Forward pass, inputs first (topological order):", file=out)
    for node in order:
        print(f"  {names[node]:<14} = {_describe(node, names):<20} = {node.data: .6f}", file=out)

    print("\nBackward pass, output first. Each node passes its gradient to its inputs:", file=out)
    print(
        "  dL/dchild += dL/dnode * ∂node/∂child   (upstream gradient * local derivative; L is o)",
        file=out,
    )
    trace = trace_backward(o)  # runs o.backward(), recording each step; the page shows the same
    print(f"  do/do = 1\n{_indent(str(trace).split(chr(10), 1)[1])}", file=out)
    print("\nGradients of the inputs:", file=out)
    for leaf in inputs:
        print(f"  do/d{leaf.label:<3} = {grad_number(leaf): .6f}", file=out)

    def f(x1: Value, w1: Value, x2: Value, w2: Value, b: Value) -> Value:
        return (x1 * w1 + x2 * w2 + b).tanh()

    print("\nThe same gradients checked against central differences:", file=out)
    print(gradcheck(f, inputs), file=out)

    print("\nNow a network of such neurons: an MLP 2-16-16-1 learns two moons.", file=out)
    X, y = data.make_moons(100, noise=0.1, seed=0)
    model = nn.MLP(2, [16, 16, 1], "tanh", seed=0)
    history = train.fit(
        model,
        X,
        y,
        loss="bce_with_logits",
        optimizer=optim.Adam(model.parameters(), lr=0.05),
        epochs=30,
        batch_size=20,
        progress=_progress(progress, out),
    )
    print(f"{model}: training accuracy {history.accuracy[-1]:.0%} after 30 epochs", file=out)
    Path(folder).mkdir(parents=True, exist_ok=True)
    page = trace.to_html(Path(folder) / "neuron_backprop.html")
    print(f"\nStep through the neuron's backward pass in a browser: {page}", file=out)
    pictures(o, model, X, y, Path(folder), out)


def pictures(
    neuron_output: Value, model: nn.Module, X: Any, y: Any, folder: Path, out: TextIO
) -> None:
    """Write the neuron's graph (always: without Graphviz microgradx lays it out itself) and the
    decision boundary (with the plot extra, matplotlib; without it one line says so)."""
    from microgradx.viz import draw_graph

    folder.mkdir(parents=True, exist_ok=True)
    written = [draw_graph(neuron_output, show_local_grads=True).save(folder / "neuron_graph.svg")]
    try:
        from microgradx.viz.plots import decision_boundary

        figure = decision_boundary(model, X, y, title="MLP 2-16-16-1 on two moons")
    except ImportError as error:
        print(f"\nNo decision boundary picture: {error}", file=out)
    else:
        # Rendered in memory, then written like every other file (atomically, to a regular
        # file only): savefig(path) would follow a link to /dev/null or block on a FIFO.
        png = BytesIO()
        figure.savefig(png, format="png", dpi=110)
        written.append(write_atomically(folder / "decision_boundary.png", png.getvalue()))
    print(f"\nWrote {' and '.join(str(path) for path in written)}", file=out)


DATASETS = ("moons", "circles", "xor", "spirals", "titanic", "digits")


def _dataset(name: str, path: str | None, seed: int) -> tuple[Any, Any, Any, Any]:
    """Train and test splits of a named dataset (features standardized on the training split)."""
    if name == "titanic":  # the table shipped with microgradx, unless a path is given
        X_train, X_test, y_train, y_test = data.load_titanic(path, seed=seed)
    elif name == "digits":  # pixels are already in [0, 1]: no standardizing
        X, y = data.load_digits(path)
        return data.train_test_split(X, y, test_size=0.25, seed=seed)
    else:
        makers = {
            "moons": lambda: data.make_moons(200, noise=0.1, seed=seed),
            "circles": lambda: data.make_circles(200, noise=0.05, seed=seed),
            "xor": lambda: data.make_xor(200, noise=0.1, seed=seed),
            "spirals": lambda: data.make_spirals(200, noise=0.02, seed=seed),
        }
        X, y = makers[name]()
        X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=0.25, seed=seed)
    X_train, X_test = data.standardize(X_train, X_test)
    return X_train, X_test, y_train, y_test


FILE_DATASETS = ("titanic", "digits")  # the datasets --data can replace


class CommandError(Exception):
    """A mistake in what the user asked for: one line on stderr, exit status 2."""


def _check_train_arguments(args: argparse.Namespace) -> None:
    """Everything checked before any work starts, with the paths the user typed."""
    if args.data is not None:
        if args.dataset not in FILE_DATASETS:
            raise CommandError(
                f"--data is for the datasets read from files ({', '.join(FILE_DATASETS)}),"
                f" not {args.dataset}"
            )
        try:
            open_regular(args.data).close()  # a FIFO is refused, not waited on
        except FileNotFoundError:
            raise CommandError(f"--data {args.data}: no such file") from None
        except NotARegularFileError as error:
            if Path(args.data).is_dir():
                raise CommandError(f"--data {args.data}: is a folder, not a file") from None
            raise CommandError(f"--data {error}") from None
        except OSError as error:
            raise CommandError(f"--data {args.data}: cannot read it: {error.strerror}") from None
    if args.save is not None:
        save_path = Path(args.save)
        if save_path.is_dir():
            raise CommandError(f"--save {args.save}: is a folder; give a file name inside it")
        try:
            target = write_target(save_path)  # a symbolic link: the file it points to
        except NotARegularFileError as error:
            raise CommandError(f"--save {error}") from None
        folder = target.parent
        if not folder.is_dir():
            shown = folder if save_path.is_symlink() else save_path.parent  # as the user wrote it
            raise CommandError(f"--save {args.save}: the folder {shown} does not exist")
        if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
            raise CommandError(f"--save {args.save}: cannot write there")


def _mlp_nodes(sizes: Sequence[int]) -> int:
    """The nodes of one example's loss graph for ``MLP(sizes[0], sizes[1:])``: per layer of
    ``a`` inputs and ``b`` neurons, a*b weights, a*b products, a*b sums, b biases and b
    activations; then the inputs, the targets and the loss (a few nodes per class)."""
    layers = itertools.pairwise(sizes)
    return sum(3 * a * b + 2 * b for a, b in layers) + sizes[0] + 5 * sizes[-1] + 8


def _available_memory() -> int | None:
    """Bytes the system can give now: ``MemAvailable`` of /proc/meminfo, else the free pages
    (``os.sysconf``); None where neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


# The interpreted engine's peak memory per node of a batch's graph (the Value, its float and its
# share of the lists that hold it), measured with tracemalloc on MLPs 2-16-16-1, 64-32-10 and
# 2-64-64-1 after backward(): 102-117 bytes. (tests/test_cli.py keeps the measurement under it.)
GRAPH_BYTES_PER_NODE = 128


def _check_memory(sizes: list[int], args: argparse.Namespace, examples: int) -> None:
    """Refuse, before any work, a network whose graph would not fit in memory: compiled, the
    recording of one example's graph (``compile_memory``); interpreted (``--no-compile``), the
    graph of one batch, which ``fit`` builds whole before its backward pass."""
    batch = min(args.batch_size, examples)
    nodes = _mlp_nodes(sizes)
    if args.compile:
        needed = compile_memory(nodes, args.backend, batch)
        what = f"compiling this network needs about {needed / 1e9:.1f} GB ({nodes:,} graph nodes)"
    else:
        needed = nodes * batch * GRAPH_BYTES_PER_NODE
        what = (
            f"a batch's graph of this network needs about {needed / 1e9:.1f} GB"
            f" ({nodes:,} graph nodes an example, {_plural(batch, 'example')} a batch)"
        )
    available = _available_memory()
    if available is not None and needed > available:
        raise CommandError(
            f"--hidden {','.join(map(str, args.hidden))}: {what}, and {available / 1e9:.1f}"
            " GB is available; use smaller hidden layers"
            + ("" if args.compile else " or a smaller --batch-size")
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


# The training settings a dataset gets when the command line does not give them. Digits (64
# inputs, 10 classes, 1347 training images) needs a wider layer, a smaller step and fewer passes
# than the 2-D toy sets: 64-32-10 with Adam at lr 0.01, batches of 20, reaches 96.9% on the
# held-out quarter after 10 epochs (97.3% after 30, which takes three times as long).
TRAIN_DEFAULTS: dict[str, Any] = {"hidden": [16, 16], "lr": 0.05, "epochs": 30, "batch_size": 20}
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {"digits": {"hidden": [32], "lr": 0.01, "epochs": 10}}


def _fill_defaults(args: argparse.Namespace) -> None:
    """The settings the user left out, from the dataset's defaults, then the general ones."""
    for name, value in {**TRAIN_DEFAULTS, **DATASET_DEFAULTS.get(args.dataset, {})}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def train_command(args: argparse.Namespace, out: TextIO) -> int:
    _fill_defaults(args)
    _check_train_arguments(args)
    X_train, X_test, y_train, y_test = _dataset(args.dataset, args.data, args.seed)
    classes = 10 if args.dataset == "digits" else 1
    loss = "cross_entropy" if classes > 1 else "bce_with_logits"
    _check_memory([len(X_train[0]), *args.hidden, classes], args, len(X_train))
    model = nn.MLP(len(X_train[0]), [*args.hidden, classes], args.activation, seed=args.seed)
    optimizers = {"adam": optim.Adam, "sgd": optim.SGD, "rmsprop": optim.RMSprop}
    optimizer = optimizers[args.optimizer](model.parameters(), lr=args.lr)
    print(
        f"{model} on {args.dataset}: {len(X_train)} training, {len(X_test)} test examples", file=out
    )

    def stop_if_diverged(epoch: int, history: train.History) -> None:
        if not math.isfinite(history.loss[-1]):
            raise CommandError(
                f"the training loss became {history.loss[-1]} in epoch {epoch + 1}: the steps are"
                f" too large; try a smaller learning rate, e.g. --lr {args.lr / 10:g}"
            )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a model that cannot compile just runs
        history = train.fit(
            model,
            X_train,
            y_train,
            loss=loss,
            optimizer=optimizer,
            epochs=args.epochs,
            batch_size=args.batch_size,
            validation=(X_test, y_test),
            seed=args.seed,
            progress=_progress(not args.quiet, sys.stdout),
            compile=args.compile,
            backend=args.backend,
            on_epoch=stop_if_diverged,
        )
    print(
        f"final train accuracy {history.accuracy[-1]:.1%}, test accuracy"
        f" {history.val_accuracy[-1]:.1%} after {_plural(history.epochs, 'epoch')}",
        file=out,
    )
    if args.save:
        io.save(model, args.save)
        print(f"saved the model to {args.save}", file=out)
    return 0


class _DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """--help with each option's default, except where there is none (--data says what then)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def _hidden_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer sizes like 16,16, got {text!r}") from None
    if not sizes or any(not 1 <= s <= 4096 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be 1 to 4096, got {text!r}")
    return sizes


def _number(kind: type, low: float, high: float) -> Any:
    """A parser for an int or float in [low, high] (exclusive low for floats), finite."""
    noun = "an int" if kind is int else "a number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {noun}, got {text!r}") from None
        if not math.isfinite(value) or not (
            low < value <= high if kind is float else low <= value <= high
        ):
            bounds = f"> {low:g} and <= {high:g}" if kind is float else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text!r}")
        return value

    return parse


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line on stderr (the usage only with --help), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _vectors_parser(commands: Any) -> None:
    """``microgradx vectors``: its options (the work is ``microgradx.vectors.write``)."""
    v = commands.add_parser(
        "vectors",
        help="write golden test cases for an engine in any language (docs/vectors.md)",
        formatter_class=_DefaultsHelp,
    )
    v.add_argument("--out", metavar="PATH", default="-", help="JSON Lines file; - for stdout")
    v.add_argument("--seed", type=_number(int, 0, 2**63), default=0, help="for the drawn cases")
    v.add_argument("--ops", metavar="NAMES", help="only these ops, e.g. add,mul,tanh (default all)")
    v.add_argument(
        "--depth", type=_number(int, 1, 100_000), default=vectors.DEFAULT_DEPTH, help="chain steps"
    )


def _parser() -> _Parser:
    """The command line: ``demo``, ``ops``, ``train`` and ``check`` with their options."""
    import microgradx  # the package itself, for its version (every module is below cli)

    defaults = _DefaultsHelp
    parser = _Parser(
        prog="microgradx", description="A scalar autodiff engine for learning backpropagation."
    )
    parser.add_argument(
        "--version", action="version", version=f"microgradx {microgradx.__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    d = commands.add_parser(
        "demo",
        help="one neuron step by step, then an MLP trained on two moons",
        formatter_class=defaults,
    )
    d.add_argument("--out", metavar="DIR", default="microgradx-demo", help="where the pictures go")
    commands.add_parser("ops", help="print the op table as Markdown (docs/ops.md)")
    t = commands.add_parser(
        "train", help="train an MLP classifier on a dataset", formatter_class=defaults
    )
    t.add_argument("--dataset", choices=DATASETS, default="moons", help="what to learn")
    t.add_argument(
        "--data",
        metavar="PATH",
        help="another Titanic CSV or digits file (default: the one shipped with microgradx)",
    )
    t.add_argument(
        "--hidden", type=_hidden_sizes, help="hidden layer sizes (default: 16,16; digits: 32)"
    )
    t.add_argument("--activation", choices=sorted(nn.ACTIVATIONS), default="tanh", help="hidden")
    t.add_argument("--optimizer", choices=("adam", "sgd", "rmsprop"), default="adam", help="rule")
    t.add_argument(
        "--lr", type=_number(float, 0.0, 10.0), help="learning rate (default: 0.05; digits: 0.01)"
    )
    t.add_argument(
        "--epochs", type=_number(int, 1, 100_000), help="passes (default: 30; digits: 10)"
    )
    t.add_argument(
        "--batch-size", type=_number(int, 1, 10**9), help="examples per step (default: 20)"
    )
    t.add_argument("--seed", type=_number(int, 0, 2**63), default=0, help="for weights, split")
    t.add_argument("--save", metavar="PATH", help="write the trained model as JSON")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="replay one recorded graph per example instead of rebuilding it (same numbers,"
        " much faster); --no-compile to build each example's graph",
    )
    t.add_argument(
        "--backend",
        choices=BACKENDS,
        default="python",
        help="what replays the compiled graph (fit's backend=): numpy runs a batch at once",
    )
    _vectors_parser(commands)
    add_check_parser(commands, defaults)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            demo(folder=args.out)
        elif args.command == "ops":
            sys.stdout.write(markdown_table())
        elif args.command == "train":
            return train_command(args, sys.stdout)
        elif args.command == "vectors":
            cases = vectors.write(args.out, seed=args.seed, ops=args.ops, depth=args.depth)
            if args.out != "-":  # (standard output holds the cases themselves)
                print(f"Wrote {cases} cases to {args.out}")
        elif args.command == "check":
            return check(args)
    except (CommandError, OSError, ValueError, ImportError) as error:  # (numpy for --backend)
        parser.exit(2, f"microgradx {args.command}: error: {error}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
