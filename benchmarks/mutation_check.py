"""Break the core behaviours on purpose, one at a time, and check that the tests notice.

    python benchmarks/mutation_check.py            # every mutation
    python benchmarks/mutation_check.py atomic     # those whose name contains "atomic"

Each mutation is a small edit to a copy of the package (a wrong derivative, a plain write instead
of an atomic one, a step-through whose script does nothing, ...). The tests that guard that
behaviour run against the copy; a mutation is *caught* when they fail. Prints one line per
mutation and exits with status 1 if any survives. Run from the repository root with the test
dependencies installed (``make test`` installs them); the browser mutations need Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # a file of the package
    old: str  # text that must occur exactly once
    new: str
    tests: tuple[str, ...]  # the tests that should catch it


_NUMPY_READS = (
    "tests/test_replay.py::test_numpy_and_math_on_a_recorded_number_are_guarded_and_replayed_right"
)
_VECTORS = "tests/test_vectors.py::"
_LEVELS = (
    "tests/test_replay.py::test_numpy_backend_adds_a_nodes_contributions_in_the_walks_order",
    "tests/test_replay.py::test_numpy_backend_is_bit_for_bit_on_arithmetic_mlps",
)

MUTATIONS = [
    Mutation(
        "microgradx.autograd is not an attribute after import microgradx",
        "microgradx/__init__.py",
        "    if name in _SUBMODULES:\n",
        "    if False:\n",
        (
            "tests/test_architecture.py::"
            "test_every_public_module_is_an_attribute_of_the_package_after_import_microgradx",
        ),
    ),
    Mutation(
        "a finished recording keeps its numbers (a reference cycle holding the graph)",
        "microgradx/replay_numbers.py",
        "        self.restore, self.nodes, self.entries = [], [], []\n",
        "",
        (
            "tests/test_replay.py::"
            "test_dropping_a_compiled_model_function_frees_its_graph_without_the_cyclic_collector",
        ),
    ),
    Mutation(
        "a generated function stays in its own globals (a reference cycle)",
        "microgradx/replay_python.py",
        '        return source, names.table.pop("run"), names.table.pop("forward")\n',
        '        return source, names.table["run"], names.table.pop("forward")\n',
        (
            "tests/test_replay.py::"
            "test_dropping_a_compiled_model_function_frees_its_graph_without_the_cyclic_collector",
        ),
    ),
    Mutation(
        "a compiled call that raises leaves the leaves' gradients half-added",
        "microgradx/replay.py",
        "    def undo(self) -> None:\n",
        "    def undo(self) -> None:\n        return\n",
        (
            "tests/test_replay.py::test_a_compiled_pass_that_raises_leaves_every_leaf_grad_as_it_was",
            "tests/test_replay.py::"
            "test_a_batch_that_raises_on_a_later_row_leaves_every_leaf_grad_as_it_was",
        ),
    ),
    Mutation(
        "a compiled run takes a leaf's grad as it is (None, junk) instead of as backward()",
        "microgradx/replay.py",
        "        if not _FLOAT.issuperset(map(type, grads)):",
        "        if False:",
        ("tests/test_replay.py::test_a_compiled_run_starts_a_leaf_grad_as_backward_does",),
    ),
    Mutation(
        "autograd.grad: a used input whose gradient is exactly 0 is reported unused",
        "microgradx/autograd.py",
        "            if materialize_grads or x in used:\n",
        "            if materialize_grads:\n",
        (
            "tests/test_nested_derivatives.py::"
            "test_a_used_input_whose_gradient_is_exactly_zero_is_used",
        ),
    ),
    Mutation(
        "autograd.grad takes any create_graph as a truth value",
        "microgradx/autograd.py",
        '    create_graph = flag(create_graph, "create_graph")\n',
        "    create_graph = bool(create_graph)\n",
        ("tests/test_nested_derivatives.py::test_autograd_grad_flags_must_be_true_or_false",),
    ),
    Mutation(
        "autograd.grad accepts allow_unused=False with materialize_grads=True",
        "microgradx/autograd.py",
        "    if materialize_grads and not allow_unused:\n",
        "    if False:\n",
        (
            "tests/test_nested_derivatives.py::"
            "test_allow_unused_false_with_materialize_grads_is_refused_as_torch",
        ),
    ),
    Mutation(
        "a renamed name raises AttributeError (import's generic message names nothing)",
        "microgradx/checks.py",
        '            raise ImportError(f"{module}.{name} is gone: {names[name]}")\n',
        '            raise AttributeError(f"{module}.{name} is gone: {names[name]}")\n',
        (
            "tests/test_engine.py::"
            "test_a_renamed_name_fails_on_import_with_one_line_naming_the_new_one",
        ),
    ),
    Mutation(
        "a copy of a table op with rules of its own keeps the table's NumPy forms",
        "microgradx/ops.py",
        "        if forms is not None and _TABLE_FORMS.get(id(forms), rules) != rules:\n",
        "        if False:\n",
        (
            "tests/test_replay.py::"
            "test_a_copy_of_a_table_op_with_rules_of_its_own_runs_them_in_the_numpy_backend",
        ),
    ),
    Mutation(
        "atomic write becomes a plain write",
        "microgradx/files.py",
        "    shown = Path(path)\n",
        "    shown = Path(path)\n    shown.write_bytes(data)\n    return shown\n",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "temp file not removed when a write fails",
        "microgradx/files.py",
        "        temporary.unlink(missing_ok=True)\n",
        "        pass\n",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "a write replaces a FIFO or a device with a regular file",
        "microgradx/files.py",
        "    if not stat.S_ISREG(mode):\n"
        '        raise _refuse(path, mode, "refusing to replace it")\n',
        "",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a write through a symbolic link replaces the link",
        "microgradx/files.py",
        "        os.replace(temporary, target)\n",
        "        os.replace(temporary, shown)\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "the temporary name is not shortened for a long file name",
        "microgradx/files.py",
        "    while len(os.fsencode(name)) > room and name:\n",
        "    while False:\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a write loses the file's permissions",
        "microgradx/files.py",
        "        os.fchmod(descriptor, stat.S_IMODE(old.st_mode))\n",
        "        pass\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "readers open a file before checking that it is a regular one",
        "microgradx/files.py",
        "    if not stat.S_ISREG(mode):\n"
        '        raise _refuse(path, mode, "only regular files are read")\n'
        "    flags",
        "    flags",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "readers trust the check made before opening",
        "microgradx/files.py",
        "        mode = os.fstat(descriptor).st_mode\n",
        "        mode = stat.S_IFREG\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a model file's weights are built before its declared size is checked",
        "microgradx/io.py",
        "    if declared != len(weights):\n",
        "    if False:\n",
        # only the test that stops the building: others would allocate 10**300 weights
        (
            "tests/test_hostile_files.py::"
            "test_a_126_byte_file_declaring_30_million_weights_is_refused_before_building",
        ),
    ),
    Mutation(
        "a weight of 10**400 reaches float()",
        "microgradx/io.py",
        "        if type(value) is int and not _fits_a_float(value):\n",
        "        if False:\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a model file's nesting depth is not checked",
        "microgradx/io.py",
        "        if depth > MAX_DEPTH:\n",
        "        if False:\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "loading a model draws from the default generator",
        "microgradx/io.py",
        "        generator.setstate(state)\n",
        "        pass\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a nan cell of the Titanic table is read as a number",
        "microgradx/data.py",
        "    if not math.isfinite(value):\n        hint",
        "    if False:\n        hint",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a truncated gzip ends in a raw EOFError",
        "microgradx/data.py",
        "    except (EOFError, gzip.BadGzipFile, zlib.error) as error:",
        "    except (gzip.BadGzipFile, zlib.error) as error:",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a Titanic row with missing cells is read",
        "microgradx/data.py",
        "        if len(record) != len(header):\n",
        "        if False:\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "an optimizer step is assigned where Ctrl-C can cut it in half",
        "microgradx/optim.py",
        "        with deferred_interrupt():\n            for p, value in zip(self.params, data):",
        "        if True:\n            for p, value in zip(self.params, data):",
        ("tests/test_losses_optim.py",),
    ),
    Mutation(
        "a group's lr is ignored",
        "microgradx/optim.py",
        '            lr, momentum, nesterov = s["lr"], s["momentum"], s["nesterov"]\n',
        '            lr, momentum, nesterov = self.defaults["lr"], s["momentum"], s["nesterov"]\n',
        ("tests/test_losses_optim.py",),
    ),
    Mutation(
        "a schedule gives every group the first group's rate",
        "microgradx/optim.py",
        "        rates = [self._rate(epoch, base) for base in self.base_lrs]",
        "        rates = [self._rate(epoch, self.base_lrs[0]) for base in self.base_lrs]",
        ("tests/test_losses_optim.py",),
    ),
    Mutation(
        "fit() restores the modes only when it ends normally",
        "microgradx/train.py",
        "            bar.close()\n        for module, training in modes:\n"
        "            module.training = training\n",
        "            bar.close()\n    for module, training in modes:\n"
        "        module.training = training\n",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "fit() trains on nan inputs",
        "microgradx/train.py",
        'raise ValueError(f"{name}[{i}][{j}] is {describe(v)}: fit needs finite numbers")',
        "pass",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "Dual.sqrt wired to the log rule",
        "microgradx/dual.py",
        '    if _op.arity == 2 and _op.method.startswith("__"):  # __add__ -> __radd__',
        "    if _op.name == 'sqrt':\n        setattr(Dual, 'sqrt', _method(ops.LOG))\n"
        '    if _op.arity == 2 and _op.method.startswith("__"):  # __add__ -> __radd__',
        ("tests/test_ops_table.py",),
    ),
    Mutation(
        "fast path for * swaps its inputs' rules",
        "microgradx/walk.py",
        "            a.grad += upstream * b.data\n            b.grad += upstream * a.data\n",
        "            a.grad += upstream * a.data\n            b.grad += upstream * b.data\n",
        ("tests/test_engine.py", "tests/test_walk.py"),
    ),
    Mutation(
        "wrong derivative of tanh in the op table",
        "microgradx/ops.py",
        "            return (1.0 - out * out,)\n",
        "            return (1.0 - out,)\n",
        ("tests/test_ops_table.py",),
    ),
    Mutation(
        "sigmoid's derivative as s (1 - s) again: 0 where sigmoid rounds to 1",
        "microgradx/ops.py",
        "        return (e / (u * u),)\n",
        "        return (out * (1.0 - out),)\n",
        (
            "tests/test_accuracy.py::test_sigmoid_at_40_has_its_tiny_gradient_and_at_minus_40_its"
            "_exact_value",
        ),
    ),
    Mutation(
        "softmax's exp(z_i - z_m) without the rounding error of z_i - z_m",
        "microgradx/ops.py",
        "        el.append(y * low)",
        "        el.append(0.0)",
        (
            "tests/test_accuracy.py::test_every_op_and_local_derivative_is_within_4_ulp_over_the_whole_range",
        ),
    ),
    Mutation(
        "the power rule's b a^(b-1) with b - 1 rounded (1e-20 - 1 = -1)",
        "microgradx/ops.py",
        "    if e_low == 0:\n",
        "    if True:\n",
        ("tests/test_accuracy.py::test_one_example_of_each_kind_fixed",),
    ),
    Mutation(
        "the general walk passes a zero upstream on (create_graph, anomaly, step-through, compile)",
        "microgradx/walk.py",
        "        if zero == ZERO:\n",
        "        if False:\n",
        ("tests/test_walk.py",),
    ),
    Mutation(
        "the step-through records a step without the walk's contributions",
        "microgradx/viz/record.py",
        "        super().accumulate(node, i, child, local, contribution)\n",
        "",
        ("tests/test_trace.py",),
    ),
    Mutation(
        "the NumPy back-end's x ** p by NumPy's power at -0.0 (its sqrt gives -0.0)",
        "microgradx/ops.py",
        'return _np_forward_rows(np, "pow_scalar", p, out, _np_unusual(np, x, out), x)',
        "return out",
        ("tests/test_accuracy.py::test_the_issue_example_agrees_in_both_back_ends_at_minus_zero",),
    ),
    Mutation(
        "a zero upstream gradient multiplies an infinite local derivative",
        "microgradx/walk.py",
        "        if upstream == 0.0:\n"
        "            continue  # the zero-upstream rule: contributes exactly 0\n",
        "",
        ("tests/test_engine.py", "tests/test_losses_optim.py"),
    ),
    Mutation(
        "create_graph gradients keep the Value formula's numbers (softmax rounds three more times)",
        "microgradx/walk.py",
        "    if RECORDING[0]:  # compile() records the Value formula as it is: it replays it\n",
        "    if True:\n",
        ("tests/test_nested_derivatives.py",),
    ),
    Mutation(
        "d(a^b)/da is a constant 0 wherever b = 0 (its derivative in b, 1/a, is lost)",
        "microgradx/ops.py",
        "0.0 if b_ == 0 and a_ == 0 else b * power(a, b - 1)",
        "0.0 if b_ == 0 else b * power(a, b - 1)",
        ("tests/test_nested_derivatives.py",),
    ),
    Mutation(
        "the NumPy back-end's products multiply a zero upstream by an infinite input",
        "microgradx/replay_numpy.py",
        "                    contribution = np.where(upstream != 0.0, contribution, -0.0)\n",
        "                    pass\n",
        (
            "tests/test_replay.py::test_a_zero_upstream_contributes_zero_through_an_infinite_product",
        ),
    ),
    Mutation(
        "x ** p asks int(p) whether p is whole (OverflowError at p = inf)",
        "microgradx/ops.py",
        "    if float(p).is_integer() and p >= 1:  # (inf and nan are not integers)\n",
        "    if p == int(p) and p >= 1:\n",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "soft targets: a subnormal probability times many targets stays in floats",
        "microgradx/ops.py",
        "            elif ((p[i] < TINY and rest != 0) or (qi < TINY and ts[i] != 0))"
        " and zs[i] > -inf:\n",
        "            elif False:\n",
        (
            "tests/test_accuracy.py::test_a_subnormal_probability_times_many_targets_keeps_its_digits",
        ),
    ),
    Mutation(
        "soft targets near the optimum: the sum of the exps rounded (1 + 2e-304 is 1)",
        "microgradx/ops.py",
        "            total = _EXACT.add(total, e)\n",
        "            total = c.add(total, e)\n",
        (
            "tests/test_accuracy.py::test_soft_targets_near_the_optimum_keep_terms_far_below_the_total",
        ),
    ),
    Mutation(
        "soft targets at infinite logits by the naive T p - t",
        "microgradx/ops.py",
        "        if not _all_finite(ts):  # an infinite or NaN target: IEEE arithmetic"
        " on the limits\n",
        "        if not (_all_finite(ts) and _all_finite(zs)):\n",
        ("tests/test_accuracy.py::test_soft_targets_at_infinite_logits_keep_their_tiny_gradients",),
    ),
    Mutation(
        "the losses' Value form of 1 - p always as others / S (its derivative cancels)",
        "microgradx/ops.py",
        "    if float(p) > 0.5:\n",
        "    if True:\n",
        (
            "tests/test_accuracy.py::test_two_reported_loss_hessians_keep_their_tails",
            "tests/test_accuracy.py::test_second_derivatives_of_the_losses_match_mpmath",
        ),
    ),
    Mutation(
        "backward() that raises leaves half-added gradients",
        "microgradx/engine.py",
        "            except BaseException:\n"
        "                for node in order:\n"
        "                    node.grad = _FRESH  # what each node not in changed held\n"
        "                for node, grad in changed:\n"
        "                    node.grad = grad\n"
        "                raise\n",
        "            except BaseException:\n                raise\n",
        ("tests/test_engine.py::test_a_backward_pass_that_raises_leaves_every_grad_as_it_was",),
    ),
    Mutation(
        "trace_backward's recorded pass is not undone when it raises",
        "microgradx/viz/record.py",
        "        except BaseException:\n"
        "            for node, grad in zip(order, before):\n"
        "                node.grad = grad\n"
        "            raise\n",
        "        except BaseException:\n            raise\n",
        (
            "tests/test_trace.py::test_trace_backward_treats_leaf_grads_as_backward_does_and_undoes_a_failed_pass",
        ),
    ),
    Mutation(
        "a user's op rule runs unchecked (too few derivatives drop a gradient)",
        "microgradx/ops.py",
        "        if not _is_checked(self.local_grads) and not _is_table_rule(self.local_grads):\n",
        "        if False:\n",
        ("tests/test_engine.py",),
    ),
    Mutation(
        "gradcheck takes a kink function that is not affine",
        "microgradx/gradcheck.py",
        "            _check_affine(op, [c.data for c in node.children])\n",
        "",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "gradcheck counts a growing slope as a pole, left out of a pass",
        "microgradx/gradcheck.py",
        "            return numeric, h, UNRESOLVED, detail\n        return numeric, h, FAIL,",
        "            return numeric, h, NOT_COMPARED, detail\n        return numeric, h, FAIL,",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "save writes a model that load refuses",
        "microgradx/io.py",
        '        _count_weights(document["architecture"], "model")\n',
        "        pass\n",
        (
            "tests/test_hostile_files.py::test_save_refuses_what_load_would_refuse_and_writes_nothing",
        ),
    ),
    Mutation(
        "a shared parameter is listed twice by named_parameters()",
        "microgradx/nn.py",
        "                if id(item) not in seen:\n                    seen.add(id(item))\n"
        "                    found.append((prefix, item))",
        "                if True:\n                    seen.add(id(item))\n"
        "                    found.append((prefix, item))",
        ("tests/test_nn.py",),
    ),
    Mutation(
        "a shared parameter is listed twice by parameters()",
        "microgradx/nn.py",
        "                if id(item) not in seen:\n                    seen.add(id(item))\n"
        "                    found.append(item)",
        "                if True:\n                    seen.add(id(item))\n"
        "                    found.append(item)",
        (
            "tests/test_nn.py::"
            "test_parameters_is_a_new_list_each_call_and_lists_a_shared_parameter_once",
        ),
    ),
    Mutation(
        "default initialisation restarts at seed 0 for every layer",
        "microgradx/nn.py",
        "    if rng is None:\n        return _generator\n",
        "    if rng is None:\n        return random.Random(0)\n",
        ("tests/test_nn.py",),
    ),
    Mutation(
        "gradcheck passes having compared nothing",
        "microgradx/gradcheck.py",
        '        if self.checked == 0:\n            return "compared nothing"\n',
        "",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "gradcheck counts a row it could not compare (NaN against NaN) as checked",
        "microgradx/gradcheck.py",
        "        return sum(row.compared for row in self.rows)",
        "        return sum(row.status != KINK for row in self.rows)",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "a failing gradcheck report is truthy",
        "microgradx/gradcheck.py",
        "    def __bool__(self) -> bool:\n        return self.passed\n",
        "    def __bool__(self) -> bool:\n        return True\n",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "gradcheck lets a NaN gradient pass where f has a finite slope",
        "microgradx/gradcheck.py",
        '        return numeric, h, FAIL, f"the gradient is',
        '        return numeric, h, NOT_COMPARED, f"the gradient is',
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "expressions() adds no input inside the domain of an op that cannot apply",
        "microgradx/strategies.py",
        "            made = None if choices or len(self.inputs) >= max_inputs"
        " else self.fresh(op)\n",
        "            made = None\n",
        (
            "tests/test_arguments.py::test_an_op_that_cannot_apply_to_the_drawn_inputs_gets_an_input_inside_its_domain",
        ),
    ),
    Mutation(
        "fit() takes a loss function's result without checking it is a Value",
        "microgradx/train.py",
        "        return _returning_a_value(loss), None\n",
        "        return loss, None\n",
        ("tests/test_arguments.py::test_fit_refuses_by_name_and_leaves_the_model_as_it_was",),
    ),
    Mutation(
        "fit() asks a NumPy array for its truth value",
        "microgradx/train.py",
        "    if len(rows) == 0:\n",
        "    if not rows:\n",
        ("tests/test_arguments.py::test_fit_takes_numpy_arrays_as_it_takes_lists",),
    ),
    Mutation(
        "a Layer with an unknown activation draws its weights before refusing it",
        "microgradx/nn.py",
        "        act = get_activation(activation)  # checked before any weight is drawn\n"
        "        super().__init__(nin, nout, init=init, rng=rng)\n",
        "        super().__init__(nin, nout, init=init, rng=rng)\n"
        "        act = get_activation(activation)\n",
        ("tests/test_nn.py",),
    ),
    Mutation(
        "NumPy 2's bool is not a bool to checks.flag",
        "microgradx/checks.py",
        '    return kind.__module__ == "numpy" and kind.__name__ in ("bool_", "bool")\n',
        '    return kind.__module__ == "numpy" and kind.__name__ == "bool_"\n',
        ("tests/test_nn.py",),
    ),
    Mutation(
        "fit() leaves the model in eval mode",
        "microgradx/train.py",
        "            module.training = training\n    return history",
        "            module.training = False\n    return history",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "an int is taken as a path (os reads it as an open file descriptor: load(0) reads stdin)",
        "microgradx/checks.py",
        "    if not isinstance(x, (str, os.PathLike)):\n",
        "    if isinstance(x, int):\n        return x  # type: ignore[return-value]\n"
        "    if not isinstance(x, (str, os.PathLike)):\n",
        (
            "tests/test_arguments.py::test_hostile_arguments_are_refused_by_name_or_work"
            "[io.load:path]",
        ),
    ),
    Mutation(
        "a data generator's n has no cap (a billion points allocated)",
        "microgradx/data.py",
        '    return checks.count(n, "n", minimum, MAX_SAMPLES)\n',
        '    return checks.count(n, "n", minimum)\n',
        (
            "tests/test_arguments.py::test_huge_sizes_are_refused_by_name_before_allocating"
            "[data.make_moons:n]",
        ),
    ),
    Mutation(
        "batch() asks a NumPy array of rows for its truth value",
        "microgradx/replay.py",
        "        if len(table) == 0:\n",
        "        if not table:\n",
        (
            "tests/test_arguments.py::test_hostile_arguments_are_refused_by_name_or_work"
            "[replay.Compiled.batch:rows]",
        ),
    ),
    Mutation(
        "Standardizer.transform drops the numbers of a row wider than the fitted ones",
        "microgradx/data.py",
        "        table = checks.rows(X, name, width=len(self.means), allow_empty=True)\n",
        "        table = checks.rows(X, name, allow_empty=True)\n",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "an optimizer step takes any gradient float() takes (a str '0.5')",
        "microgradx/optim.py",
        "    return number(g.data if isinstance(g, Value) else g, name)\n",
        "    return float(g.data if isinstance(g, Value) else g)\n",
        (
            "tests/test_arguments.py::test_hostile_arguments_are_refused_by_name_or_work"
            "[optim.Optimizer.step (after a bad grad):grad]",
        ),
    ),
    Mutation(
        "neuron-level delta forgets the activation's derivative",
        "microgradx/viz/levels.py",
        "        delta = first.contributions[0].contribution\n",
        "        delta = first.upstream\n",
        ("tests/test_trace.py",),
    ),
    Mutation(
        "the op that made a highlighted input is highlighted too",
        "microgradx/viz/scene.py",
        '        marked.update(dict.fromkeys(owned.get(step.node, ()), "current"))\n',
        '        marked.update(dict.fromkeys(owned.get(step.node, ()), "current"))\n'
        "        for box in step.children:\n"
        '            marked.update(dict.fromkeys(owned.get(box, ()), "current"))\n',
        ("tests/test_trace.py", "tests/test_scene.py"),
    ),
    Mutation(
        "the scene keeps a box pending one step after it is reached",
        "microgradx/viz/scene.py",
        "reached_at.get(element, never) > i:",
        "reached_at.get(element, never) > i + 1:",
        ("tests/test_scene.py",),
    ),
    Mutation(
        "the scene never rewrites a grad line",
        "microgradx/viz/scene.py",
        "            texts.update(steps[i].updates)\n",
        "            pass\n",
        ("tests/test_scene.py", "tests/test_trace.py"),
    ),
    Mutation(
        "the page carries only each box's first grad line",
        "microgradx/viz/page.py",
        "                if not written or written[-1] != text:\n",
        "                if not written:\n",
        ("tests/test_scene.py",),
    ),
    Mutation(
        "the step-through's script shows the previous step's look",
        "microgradx/viz/page.py",
        "flat[k] <= i; k += 2)",
        "flat[k] < i; k += 2)",
        ("tests/test_scene.py",),
    ),
    Mutation(
        "the step-through's script never clears a mark",
        "microgradx/viz/page.py",
        "element.classList.toggle(name, name === mark);",
        "if (name === mark) element.classList.add(name);",
        ("tests/test_scene.py",),
    ),
    Mutation(
        "the text frames mark no box",
        "microgradx/viz/text.py",
        '        signs.append(_SIGNS.get(mark, " "))',
        '        signs.append(" ")',
        ("tests/test_scene.py",),
    ),
    Mutation(
        "a renamed keyword (collapse=, engine=) is silently ignored",
        "microgradx/viz/style.py",
        '            raise TypeError(f"{function}() takes {renamed[old]}= now, not {old}=")',
        "            continue",
        ("tests/test_scene.py",),
    ),
    Mutation(
        "compiled replay multiplies a gradient by the wrong input",
        "microgradx/walk.py",
        "            local = (number(children[1]), number(children[0]))\n",
        "            local = (number(children[0]), number(children[1]))\n",
        ("tests/test_replay.py",),
    ),
    Mutation(
        "compiled replay skips its guards (a branch on .data replayed wrongly)",
        "microgradx/replay_python.py",
        '        self.lines.append(_Line(f"if {test}: return None", uses))\n',
        "        pass\n",
        ("tests/test_replay.py", "tests/test_differential.py"),
    ),
    Mutation(
        "a comparison of a recorded number is not made a guard",
        "microgradx/replay_numbers.py",
        '            recording.guards.append(("cmp", symbol, self._entry, theirs, result))\n',
        "            pass\n",
        ("tests/test_replay.py", "tests/test_differential.py"),
    ),
    Mutation(
        "a number read from the graph is frozen into it (detach, Value(x.data))",
        "microgradx/replay_numbers.py",
        "        return self if self._recording.active() else self._value\n",
        "        return self._value\n",
        ("tests/test_replay.py", "tests/test_differential.py"),
    ),
    Mutation(
        "another thread's reads of a recorded weight are recorded as the function's",
        "microgradx/replay_numbers.py",
        "        return self.live and self.thread == threading.get_ident()\n",
        "        return self.live\n",
        ("tests/test_replay.py",),
    ),
    Mutation(
        "the model guard always holds",
        "microgradx/replay_model.py",
        "    def holds(self) -> bool:\n",
        "    def holds(self) -> bool:\n        return True\n",
        ("tests/test_replay.py",),
    ),
    Mutation(
        "the model guard compares a setting with == (a slope of -0.0 passes for 0.0)",
        "microgradx/replay_model.py",
        "                if item == 0 and holder is not None:\n",
        "                if False:\n",
        ("tests/test_replay.py",),
    ),
    Mutation(
        "two recordings on the same numbers are not compared (a dropout mask frozen)",
        "microgradx/replay_record.py",
        "    same_run(first, second)\n",
        "",
        ("tests/test_replay.py",),
    ),
    Mutation(
        "constants of two recordings compared with == (-0.0 is 0.0, NaN is not NaN)",
        "microgradx/replay_tape.py",
        "        if a is not b and bits(a.data) != bits(b.data):\n",
        "        if a is not b and a.data != b.data:\n",
        ("tests/test_replay.py",),
    ),
    Mutation(
        "generated code names an op after the user's text",
        "microgradx/replay_python.py",
        '            stem = op.name if OPS.get(op.name) is not None else "op"',
        "            stem = op.name",
        ("tests/test_replay.py",),
    ),
    Mutation(
        "the step-through's script does nothing (as a dead widget would)",
        "microgradx/viz/page.py",
        '  if (!root || root.dataset.ready) return;\n  root.dataset.ready = "1";',
        "  return;",
        ("tests/test_trace.py", "tests/test_jupyter.py"),
    ),
    Mutation(
        "the step-through writes its equation as HTML, not as text",
        "microgradx/viz/page.py",
        "      equation.textContent = step.e;",
        "      equation.innerHTML = step.e;",
        ("tests/test_hostile_labels.py",),
    ),
    Mutation(
        "labels in the step-through's picture are not escaped",
        "microgradx/viz/layout.py",
        """y="{y:.0f}">{escape(text)}</text>')""",
        """y="{y:.0f}">{text}</text>')""",
        ("tests/test_hostile_labels.py",),
    ),
    Mutation(
        "JSON embedded in a page keeps its < > &",
        "microgradx/viz/markup.py",
        "        text = text.replace(char, code)",
        "        pass",
        ("tests/test_hostile_labels.py",),
    ),
    Mutation(
        "page assembled by chained str.replace again (a label's {data} is filled in too)",
        "microgradx/viz/page.py",
        '    return "\\n".join(parts)\n',
        '    return "\\n".join(parts).replace("{data}", json.dumps(data))\n'
        "\n\nimport json  # noqa: E402\n",
        ("tests/test_hostile_labels.py",),
    ),
    Mutation(
        "control characters and lone surrogates reach the drawings unchanged",
        "microgradx/viz/markup.py",
        "    shown = text if text.isprintable() else _write_out(text, newlines)",
        "    shown = text",
        ("tests/test_hostile_labels.py",),
    ),
    Mutation(
        "a backslash in a DOT label is left for Graphviz to read as \\N or \\G",
        "microgradx/viz/markup.py",
        '    return escape(text, limit).replace("\\\\", "\\\\\\\\")',
        "    return escape(text, limit)",
        ("tests/test_hostile_labels.py",),
    ),
    Mutation(
        "NaN goes to the playground page as JSON's missing NaN",
        "microgradx/viz/markup.py",
        "        return data if math.isfinite(data) else None",
        "        return data",
        ("tests/test_playground.py",),
    ),
    Mutation(
        "a learning rate typed as text fails with float()'s own message",
        "microgradx/playground.py",
        "        return float(typed)\n    except ValueError:",
        "        return float(typed)\n    except OverflowError:",
        ("tests/test_playground.py",),
    ),
    Mutation(
        "the model file's depth check ignores escapes inside strings",
        "microgradx/io.py",
        "                escaped_at = place + 1\n",
        "                pass\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "the model file's depth check counts brackets inside strings",
        "microgradx/io.py",
        "        elif char == '\"':\n            in_string = True\n",
        "",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a model file is read whole whatever its size",
        "microgradx/io.py",
        "        raw = read_regular(path, MAX_BYTES)\n",
        "        raw = read_regular(path)\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a data file is read to its end however large it unpacks",
        "microgradx/data.py",
        "        if size > MAX_TEXT_BYTES or len(lines) == MAX_LINES:\n",
        "        if False:\n",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "a seed is taken as random.Random takes it (a NaN seed gives other data each run)",
        "microgradx/data.py",
        "    rng = random.Random(checks.seed(seed))\n    X, y = [], []\n    for i in range(n):\n"
        "        t = math.pi * rng.random()\n",
        "    rng = random.Random(seed)\n    X, y = [], []\n    for i in range(n):\n"
        "        t = math.pi * rng.random()\n",
        ("tests/test_arguments.py",),
    ),
    Mutation(
        "checks.seed lets None through where no default is documented",
        "microgradx/checks.py",
        "    if x is None and optional:\n",
        "    if x is None:\n",
        ("tests/test_arguments.py",),
    ),
    Mutation(
        "standardize squares the differences (1e200 overflows)",
        "microgradx/data.py",
        "    length = math.hypot(*differences)\n",
        "    length = math.sqrt(sum(d * d for d in differences))\n",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "standardize sums a column beyond the float range",
        "microgradx/data.py",
        "        mean = math.fsum(column) / n\n    except OverflowError:",
        "        mean = sum(column) / n\n    except OverflowError:",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "make_spirals multiplies the turns by 2 pi unreduced (1e308 turns: a domain error)",
        "microgradx/data.py",
        "        t = 2 * math.pi * (math.fmod(turns * r, 1.0) + label / classes)\n",
        "        t = 2 * math.pi * (turns * r + label / classes)\n",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "the playground takes any JSON as a request (a list fails with AttributeError)",
        "microgradx/playground.py",
        "    if not isinstance(call, dict):\n        raise TypeError(\n",
        "    if False:\n        raise TypeError(\n",
        ("tests/test_playground.py",),
    ),
    Mutation(
        "clip_grad_norm_ squares the gradients (0.5 and -1e300 give norm inf)",
        "microgradx/optim.py",
        "        return math.hypot(*grads)",
        "        return math.sqrt(sum(g * g for g in grads))",
        ("tests/test_losses_optim.py",),
    ),
    Mutation(
        "SGD takes its old order (nesterov fourth) instead of torch's",
        "microgradx/optim.py",
        "        dampening: float = 0.0,\n        weight_decay: float = 0.0,\n"
        "        nesterov: bool = False,\n    ) -> None:",
        "        nesterov: bool = False,\n        weight_decay: float = 0.0,\n"
        "        dampening: float = 0.0,\n    ) -> None:",
        ("tests/test_torch_signatures.py",),
    ),
    Mutation(
        "SGD ignores dampening",
        "microgradx/optim.py",
        "momentum * old + kept * g",
        "momentum * old + g",
        ("tests/test_torch_signatures.py",),
    ),
    Mutation(
        "RMSprop takes momentum and weight_decay positionally, in its old order",
        "microgradx/optim.py",
        "        eps: float = 1e-8,\n        *,\n        weight_decay: float = 0.0,\n"
        "        momentum: float = 0.0,",
        "        eps: float = 1e-8,\n        momentum: float = 0.0,\n"
        "        weight_decay: float = 0.0,\n        *,",
        ("tests/test_torch_signatures.py",),
    ),
    Mutation(
        "centered RMSprop is not centered",
        "microgradx/optim.py",
        "                    mean_square = square_avg[i] - g_avg[i] * g_avg[i]\n",
        "                    pass\n",
        ("tests/test_nn_vs_torch.py",),
    ),
    Mutation(
        "LinearLR takes the old LinearLR(optimizer, total, end_factor) silently",
        "microgradx/optim.py",
        "        if isinstance(start_factor, int):  # bool included\n",
        "        if False:\n",
        ("tests/test_torch_signatures.py",),
    ),
    Mutation(
        "LinearLR's default start_factor is not torch's 1/3",
        "microgradx/optim.py",
        "        start_factor: float = 1.0 / 3,",
        "        start_factor: float = 0.3,",
        ("tests/test_torch_signatures.py",),
    ),
    Mutation(
        "hvp needs v even for one input (torch's v=None)",
        "microgradx/functional.py",
        "    v: Sequence[Any] | None = None,",
        "    v: Sequence[Any] | None = (),",
        ("tests/test_torch_signatures.py",),
    ),
    Mutation(
        "Module.apply calls fn on a module before its children (torch: after)",
        "microgradx/nn.py",
        "            if children_done:",
        "            if not children_done:",
        ("tests/test_torch_signatures.py",),
    ),
    Mutation(
        "Module.apply calls fn twice on a child listed twice (torch's children() lists it once)",
        "microgradx/nn.py",
        "        if isinstance(item, Module):\n            if id(item) not in seen:",
        "        if isinstance(item, Module):\n            if True:",
        ("tests/test_torch_signatures.py::test_module_apply_visits_a_shared_module_as_torch_does",),
    ),
    Mutation(
        "an optimizer steps a parameter whose grad is None as if it were 0 (torch skips it)",
        "microgradx/optim.py",
        "                if g is None:\n                    grads.append(None)\n",
        "                if g is None:\n                    grads.append(wd * p.data)\n",
        (
            "tests/test_nn_vs_torch.py::test_optimizers_skip_a_parameter_without_a_gradient_as_torch",
        ),
    ),
    Mutation(
        "Adam counts a step that skipped a parameter in its bias correction",
        "microgradx/optim.py",
        "                steps[i] = t = steps[i] + 1\n",
        "                steps[i] = t = self.steps + 1\n",
        (
            "tests/test_nn_vs_torch.py::test_optimizers_skip_a_parameter_without_a_gradient_as_torch",
        ),
    ),
    Mutation(
        "clip_grad_norm_ refuses a parameter whose grad is None (torch skips it)",
        "microgradx/optim.py",
        "if p.grad is not None]",
        "]",
        (
            "tests/test_nn_vs_torch.py::"
            "test_clip_grad_norm_skips_a_parameter_without_a_gradient_as_torch",
        ),
    ),
    Mutation(
        "a user's module call is not one example (its layer calls get a number each)",
        "microgradx/nn.py",
        "        if callable(call):\n            cls.__call__ = _one_example(call)",
        "        if False:\n            cls.__call__ = _one_example(call)",
        (
            "tests/test_trace.py::"
            "test_a_user_modules_call_is_one_example_and_each_call_of_it_one_more",
        ),
    ),
    Mutation(
        "both calls of a layer applied twice get the same names (a1_1 reads a1_1)",
        "microgradx/nn.py",
        "            if len(same) > 1:\n",
        "            if False:\n",
        ("tests/test_trace.py::test_each_call_of_a_layer_applied_twice_has_names_of_its_own",),
    ),
    Mutation(
        "a drawing cannot show a gradient cleared to None (zero_grad's default)",
        "microgradx/engine.py",
        "    return 0.0 if grad is None else float(grad)\n",
        "    return float(grad)  # type: ignore[arg-type]\n",
        ("tests/test_viz.py::test_drawings_read_a_gradient_cleared_to_none_as_0",),
    ),
    Mutation(
        "Module.modules lists a shared module twice",
        "microgradx/nn.py",
        "            if id(module) not in seen:",
        "            if True:",
        ("tests/test_torch_signatures.py",),
    ),
    Mutation(
        "cli train does not pass --backend to fit",
        "microgradx/cli.py",
        "            backend=args.backend,\n",
        "",
        ("tests/test_cli.py",),
    ),
    Mutation(
        "a layer's |grad| squares the gradients (1e200 raises OverflowError)",
        "microgradx/viz/steps.py",
        "short(math.hypot(*(grads[n] for n in outputs)))",
        "short(math.sqrt(sum(grads[n] ** 2 for n in outputs)))",
        ("tests/test_trace.py",),
    ),
    Mutation(
        "the demo's PNG is written by savefig(path), not the atomic writer",
        "microgradx/cli.py",
        'written.append(write_atomically(folder / "decision_boundary.png", png.getvalue()))',
        'figure.savefig(folder / "decision_boundary.png", dpi=110)',
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "the demo checks where its files go only when it writes them",
        "microgradx/cli.py",
        "    for name in OUTPUTS:",
        "    for name in ():",
        ("tests/test_hostile_files.py",),
    ),
    Mutation(
        "gradcheck calls an input within 1e-6 eps of a kink 'on a kink'",
        "microgradx/gradcheck.py",
        "        if limit == 0:\n",
        "        if h < wanted * 1e-6:\n",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "gradcheck compares a step that cannot resolve f's rounding",
        "microgradx/gradcheck.py",
        "            if rounding > atol + rtol * abs(numeric):\n",
        "            if False:\n",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "a NumPy ufunc reads a recorded number without a guard (the replay goes stale)",
        "microgradx/replay_numbers.py",
        "        plain = [x._exact() if type(x) is RecordedFloat else x for x in inputs]\n",
        "        plain = [x._value if type(x) is RecordedFloat else x for x in inputs]\n",
        (_NUMPY_READS,),
    ),
    Mutation(
        "an array made from a recorded number reads it without a guard",
        "microgradx/replay_numbers.py",
        "        return numpy.array(self._exact(), dtype=dtype)\n",
        "        return numpy.array(self._value, dtype=dtype)\n",
        (_NUMPY_READS,),
    ),
    Mutation(
        "gradcheck: an unresolved row is left out of a pass",
        "microgradx/gradcheck.py",
        '        if UNRESOLVED in statuses:\n            return "incomplete"\n',
        "",
        ("tests/test_gradcheck.py::test_a_wrong_gradient_that_cannot_be_resolved_is_not_a_pass",),
    ),
    Mutation(
        "gradcheck: the step does not shrink toward an undeclared domain edge",
        "microgradx/gradcheck.py",
        "        edge = self.outside(i, x + reach) or self.outside(i, x - reach)\n",
        '        edge = ""\n',
        ("tests/test_gradcheck.py::test_the_step_shrinks_toward_a_domain_edge_on_either_side",),
    ),
    Mutation(
        "gradcheck: an affine kink is read as linear",
        "microgradx/gradcheck.py",
        "    return abs(moved - offset) / scale\n",
        "    return abs(kink_value(op, direction))\n",
        (
            "tests/test_gradcheck.py::test_a_kink_at_a_constant_is_declared_by_an_affine_kink_function",
            "tests/test_gradcheck.py::test_a_kink_at_a_large_constant_is_not_lost_to_rounding",
        ),
    ),
    Mutation(
        "gradcheck: a kink that returns junk is used as it is",
        "microgradx/gradcheck.py",
        "    if not is_real(value):\n",
        "    if False:\n",
        ("tests/test_gradcheck.py::test_a_kink_or_domain_that_returns_junk_is_refused_by_name",),
    ),
    Mutation(
        "a model file's modules are not counted before parsing",
        "microgradx/io.py",
        "    _check_counts(text)\n",
        "",
        (
            "tests/test_hostile_files.py::test_a_model_file_declaring_too_many_modules_is_refused_before_building",
        ),
    ),
    Mutation(
        "a model file's declared weights are not capped",
        "microgradx/io.py",
        "        if total > MAX_MODEL_WEIGHTS:\n",
        "        if False:\n",
        (
            "tests/test_hostile_files.py::test_a_model_file_declaring_too_many_weights_is_refused_before_building",
        ),
    ),
    Mutation(
        "a playground request may train any number of epochs",
        "microgradx/playground.py",
        '        epochs = count(epochs, "epochs", 0, MAX_EPOCHS)\n',
        '        epochs = count(epochs, "epochs", 0)\n',
        ("tests/test_playground.py::test_one_request_is_bounded_and_refused_by_name_beyond",),
    ),
    Mutation(
        "a playground request nested too deeply is a failure of microgradx",
        "microgradx/playground.py",
        "    except RecursionError:  # the parser recurses once per level of [ and {\n",
        "    except ZeroDivisionError:\n",
        ("tests/test_playground.py::test_a_request_nested_too_deeply_is_a_request_error",),
    ),
    Mutation(
        "a function that fails only while recorded gives its raw error",
        "microgradx/replay_record.py",
        "    _blame_the_recording(function, numbers, failure)\n",
        "",
        (
            "tests/test_replay.py::test_a_function_that_fails_only_while_recorded_is_a_compile_error_saying_why",
        ),
    ),
    Mutation(
        "the NumPy back-end refuses an op of one's own (no row-by-row form)",
        "microgradx/replay_numpy.py",
        "    def each_forward(*inputs: Any) -> Any:\n",
        '    raise NotImplementedError("no NumPy form")\n\n'
        "    def each_forward(*inputs: Any) -> Any:\n",
        ("tests/test_user_op.py::test_a_users_op_reaches_every_path",),
    ),
    Mutation(
        "microgradx.apply does not hand a Dual to forward mode",
        "microgradx/engine.py",
        "    if other is not None:  # a Dual (forward mode) applies the op itself\n"
        "        return other.__microgradx_apply__(op, *inputs)  # type: ignore[no-any-return]\n",
        "",
        ("tests/test_user_op.py::test_a_users_op_reaches_every_path",),
    ),
    Mutation(
        "gelu' near its zero by the fast formula only",
        "microgradx/ops.py",
        "    if -1.02 < x < -0.55 or x < -37.0:\n",
        "    if -0.9 < x < -0.65 or x < -37.0:\n",
        ("tests/test_accuracy.py::test_every_derivative_is_right_next_to_its_zeros",),
    ),
    Mutation(
        "silu' near its zero by the fast formula only",
        "microgradx/ops.py",
        "    if -1.33 < x < -1.22 or -760.0 <= x < -700.0:\n",
        "    if -1.29 < x < -1.27 or -760.0 <= x < -700.0:\n",
        ("tests/test_accuracy.py::test_every_derivative_is_right_next_to_its_zeros",),
    ),
    Mutation(
        "the README's op list is not what the table generates",
        "microgradx/ops.py",
        '        + "; Value methods "\n',
        '        + "; methods "\n',
        ("tests/test_ops_table.py::test_readme_op_list_is_current",),
    ),
    Mutation(
        "recorded structure: a neuron's output is not recorded",
        "microgradx/nn.py",
        "            _made_by[out] = call  # what made it (the drawings group by it)\n",
        "            pass\n",
        ("tests/test_trace.py::test_a_labelled_output_keeps_its_neuron",),
    ),
    Mutation(
        "recorded structure: a neuron's walk does not stop at its call's inputs",
        "microgradx/nn.py",
        "                    if child in seen or id(child) in stop or child in self.outputs:\n",
        "                    if child in seen or child in self.outputs:\n",
        ("tests/test_trace.py::test_ops_between_layers_and_on_the_inputs_are_steps_of_their_own",),
    ),
    Mutation(
        "recorded structure: each layer call inside one model call is an example of its own",
        "microgradx/nn.py",
        "    if current is not None:\n        return current, False\n",
        "",
        ("tests/test_trace.py::test_a_mini_batch_loss_steps_example_by_example_neuron_by_neuron",),
    ),
    Mutation(
        "recorded structure: a weight read by two examples goes in one example's box",
        "microgradx/nn.py",
        "            if len(calls) == 1:\n",
        "            if calls:\n",
        (
            "tests/test_trace.py::test_a_weight_read_by_two_examples_is_drawn_on_its_own_not_in_one_examples_box",
        ),
    ),
    Mutation(
        "recorded structure: draw_network parses layer names from labels again",
        "microgradx/viz/network.py",
        '    return layer._name or "layer"\n',
        '    name = layer.neurons[0]._name or ""\n'
        '    return name.rsplit(".neurons.", 1)[0] if ".neurons." in name else "layer"\n',
        ("tests/test_architecture.py::test_no_module_but_nn_reads_a_network_from_labels",),
    ),
    Mutation(
        "the NumPy back-end hands special rows to the float rule though the forms choose their own",
        "microgradx/replay_numpy.py",
        "    if op.numpy is not None and op.numpy_own_rows:\n",
        "    if op.numpy is not None and op.numpy_own_rows and False:\n",
        ("tests/test_replay.py::test_numpy_forms_that_choose_their_rows_get_none_added",),
    ),
    Mutation(
        "sqrt's exact reference reads no sign of zero (IEEE sqrt(-0) = -0 unchecked)",
        "microgradx/ops.py",
        "        return math.copysign(0.0, x), [_ex_signed_inf(m, math.copysign(1.0, x))]\n",
        "        return 0.0, [_ex_signed_inf(m, math.copysign(1.0, x))]\n",
        ("tests/test_accuracy.py",),
    ),
    Mutation(
        "a user's NumPy forms are not checked against the float rule when compiling",
        "microgradx/replay_numpy.py",
        "    check_forms(tape)\n    program = LevelProgram(tape)\n",
        "    program = LevelProgram(tape)\n",
        (
            "tests/test_replay.py::"
            "test_a_users_numpy_form_that_disagrees_with_its_rule_is_a_compile_error",
        ),
    ),
    Mutation(
        "a user's NumPy form of the wrong shape is broadcast",
        "microgradx/replay_numpy.py",
        "            and np.shape(result) == shape\n",
        "",
        ("tests/test_replay.py::test_what_a_users_numpy_form_returns_is_checked",),
    ),
    Mutation(
        "a user rule's np.float32 is kept (not made a Python float)",
        "microgradx/ops.py",
        '    if isinstance(x, float) and not hasattr(x, "dtype"):\n',
        "    if True:\n",
        ("tests/test_user_op.py::test_a_users_rule_gives_python_floats_never_numpy_scalars",),
    ),
    Mutation(
        "a user op's forward result is not checked",
        "microgradx/ops.py",
        '            object.__setattr__(self, "forward", _checked_forward('
        "self.name, self.forward))\n",
        "            pass\n",
        (
            "tests/test_user_op.py::"
            "test_a_users_forward_returning_no_real_number_is_refused_naming_the_op",
        ),
    ),
    Mutation(
        "gelu's rule on Values takes Phi(x) as gelu(x) / x for large x (gelu'' cancels)",
        "microgradx/ops.py",
        "        cdf = 1.0 + (-x).gelu() / x\n",
        "        cdf = out / x\n",
        (
            "tests/test_nested_derivatives.py::"
            "test_gelu_second_and_third_derivatives_are_accurate_in_the_tails",
        ),
    ),
    Mutation(
        "elu's derivative rounds e^x to a subnormal before the product with alpha (floats)",
        "microgradx/ops.py",
        "        return (precise(_elu_slope_exact, alpha, x),)\n",
        "        return (alpha * exp(x),)\n",
        ("tests/test_accuracy.py::test_elu_and_its_derivatives_are_accurate_for_any_alpha",),
    ),
    Mutation(
        "elu's derivative rounds e^x to a subnormal before the product with alpha (Values)",
        "microgradx/ops.py",
        "    return (math.copysign(1.0, alpha) * exp(x + math.log(abs(alpha))),)\n",
        "    return (alpha * exp(x),)\n",
        ("tests/test_accuracy.py::test_elu_and_its_derivatives_are_accurate_for_any_alpha",),
    ),
    Mutation(
        "gradcheck's kink rate scales a tiny direction past the float range",
        "microgradx/gradcheck.py",
        "    exponent = math.frexp(ratio)[1] - 1\n",
        "    exponent = math.frexp(ratio)[1]\n",
        (
            "tests/test_gradcheck.py::"
            "test_a_tiny_direction_beside_a_kink_constant_gives_a_report_not_an_overflow",
        ),
    ),
    Mutation(
        "an Op's text fields are not checked at construction",
        "microgradx/ops.py",
        '        for field_name in ("symbol", "math", "derivative", "note"):\n',
        "        for field_name in ():\n",
        ("tests/test_user_op.py::test_an_op_field_of_the_wrong_type_is_refused_at_construction",),
    ),
    Mutation(
        "markdown_table writes a user's HTML raw",
        "microgradx/ops.py",
        '    return _md_cell(text.replace("&", "&amp;").replace("<", "&lt;"))\n',
        "    return _md_cell(text)\n",
        ("tests/test_ops_table.py::test_markdown_table_shows_a_users_text_as_text",),
    ),
    Mutation(
        "markdown_table's code spans ignore backticks in a user's name",
        "microgradx/ops.py",
        '    fence = "`" * (longest + 1)\n',
        '    fence = "`"\n',
        ("tests/test_ops_table.py::test_markdown_table_shows_a_users_text_as_text",),
    ),
    Mutation(
        "an op's label reaches the traces and drawings raw",
        "microgradx/viz/style.py",
        "    return visible(op.label, LABEL_CHARS)\n",
        "    return op.label\n",
        ("tests/test_hostile_labels.py::test_a_hostile_op_name_reaches_no_terminal_text_raw",),
    ),
    Mutation(
        "an op's name reaches gradcheck's report raw",
        "microgradx/gradcheck.py",
        '    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)\n',
        "    return name\n",
        ("tests/test_hostile_labels.py::test_a_hostile_op_name_reaches_no_terminal_text_raw",),
    ),
    # golden vectors (microgradx/vectors.py)
    Mutation(
        "golden vectors: every case is kept, however ill conditioned",
        "microgradx/vectors.py",
        "    values, grads = _run(case)\n    tolerance",
        "    return True\n    values, grads = _run(case)\n    tolerance",
        (_VECTORS + "test_a_case_whose_result_cancels_is_refused_as_ill_conditioned",),
    ),
    Mutation(
        "golden vectors: a plain number's gradient is written (a runner reads .grad of a float)",
        "microgradx/vectors.py",
        '"grads": [None if i in case.constants else g for',
        '"grads": [g for',
        (_VECTORS + "test_microgradx_passes_its_own_vectors_through_the_python_runner",),
    ),
    Mutation(
        "golden vectors: ops with a kink are tested on one side of it only",
        "microgradx/vectors.py",
        "side = 1 if k % 2 == 0 else -1",
        "side = 1",
        (_VECTORS + "test_ops_with_a_kink_are_tested_on_both_sides_of_it",),
    ),
    Mutation(
        "golden vectors: the exact-arithmetic tolerance for cases with exp, tanh, ...",
        "microgradx/vectors.py",
        "return EXACT_RTOL if set(case_ops) <= EXACT_OPS else RTOL",
        "return EXACT_RTOL",
        (_VECTORS + "test_the_tolerance_is_tight_for_exact_arithmetic_and_loose_for_the_rest",),
    ),
    Mutation(
        "golden vectors: a plain number as the operand of a method (tanh(2.0))",
        "microgradx/vectors.py",
        "        if any(plain) and (op.name not in OPERATORS or all(plain)):",
        "        if False:",
        (_VECTORS + "test_microgradx_passes_its_own_vectors_through_the_python_runner",),
    ),
    Mutation(
        "golden vectors: depth chains shorter than Python's recursion limit",
        "microgradx/vectors.py",
        "DEFAULT_DEPTH = 1200",
        "DEFAULT_DEPTH = 900",
        (_VECTORS + "test_micrograd_passes_the_ops_it_has_and_fails_only_the_depth_cases",),
    ),
    Mutation(
        "golden vectors: a plain number only on the right of an operator (no 2 - x)",
        "microgradx/vectors.py",
        "for constant in (0, 1):",
        "for constant in (1,):",
        (_VECTORS + "test_depth_reuse_mixed_and_mlp_cases_are_what_they_say",),
    ),
    Mutation(
        "fit() resumes the cycle collector while the batch's graph is alive",
        "microgradx/train.py",
        "                del outputs, batch_loss\n",
        "            del outputs, batch_loss\n",
        (
            "tests/test_data_train_io.py::"
            "test_fit_never_runs_the_cycle_collector_while_a_batchs_graph_is_alive",
        ),
    ),
    Mutation(
        "topological_order walks into the first input first (another order than before)",
        "microgradx/engine.py",
        "                        if left._seen is not seen:\n"
        "                            pending.append(left)\n"
        "                            marks.append(len(opened))\n"
        "                        node = right\n",
        "                        pending.append(right)\n"
        "                        marks.append(len(opened))\n"
        "                        node = left\n",
        ("tests/test_walk.py::test_topological_order_keeps_its_guarantees_on_random_dags",),
    ),
    Mutation(
        "topological_order places a node with two users twice",
        "microgradx/engine.py",
        "            if node._seen is seen:  # set aside by two users, or placed since\n",
        "            if False:\n",
        ("tests/test_walk.py::test_topological_order_keeps_its_guarantees_on_random_dags",),
    ),
    Mutation(
        "parameters() keeps its list when an attribute is set",
        "microgradx/nn.py",
        "        object.__setattr__(self, name, value)\n"
        '        if name != "training":\n'
        "            _structure_changed(self)\n",
        "        object.__setattr__(self, name, value)\n",
        ("tests/test_nn.py::test_parameters_are_found_again_when_an_attribute_is_set_or_deleted",),
    ),
    Mutation(
        "parameters() keeps its list when a list of the tree changes in place",
        "microgradx/nn.py",
        "            and kept.holds()\n",
        "\n",
        ("tests/test_nn.py::test_parameters_are_found_again_when_a_layer_is_replaced_in_its_list",),
    ),
    Mutation(
        "a module's change is not told to the modules it is inside of",
        "microgradx/nn.py",
        "        for module in modules:  # each tells",
        "        for module in [self]:  # each tells",
        (
            "tests/test_nn.py::"
            "test_a_childs_change_is_seen_by_every_module_above_it_and_by_a_second_parent",
        ),
    ),
    Mutation(
        "an exercise's named mistake is no longer found (only the general hint)",
        "microgradx/exercises/core.py",
        "            if _all_close(given, outputs, self.tolerance):\n",
        "            if False:\n",
        ("tests/test_course.py::test_each_named_mistake_gets_its_own_hint",),
    ),
    Mutation(
        "an exercise says right for a wrong answer (a tolerance far too loose)",
        "microgradx/exercises/core.py",
        "abs_tol=tolerance * 1e-3)",
        "abs_tol=0.1)",
        (
            "tests/test_course.py::"
            "test_numbers_lists_and_functions_are_compared_and_a_value_is_named",
        ),
    ),
    Mutation(
        "an exercise takes a list of the wrong length for right (zip cuts it)",
        "microgradx/exercises/core.py",
        "        return len(a) == len(b) and all(",
        "        return all(",
        (
            "tests/test_course.py::"
            "test_numbers_lists_and_functions_are_compared_and_a_value_is_named",
        ),
    ),
    Mutation(
        "an exercise's placeholder is checked as an answer",
        "microgradx/exercises/core.py",
        "        if answer is ...:\n",
        "        if answer is None:\n",
        ("tests/test_course.py::test_the_reference_is_right_and_the_placeholder_not_answered",),
    ),
    Mutation(
        "a function answer is called on its first input only",
        "microgradx/exercises/core.py",
        "        return [answer(*case) for case in self.cases()]\n",
        "        return [answer(*case) for case in self.cases()[:1]]\n",
        ("tests/test_course.py::test_a_function_answer_is_called_on_every_case",),
    ),
    Mutation(
        "an exercise result's HTML shows its message raw",
        "microgradx/exercises/core.py",
        '            f"{html.escape(self.message)}</div>"\n',
        '            f"{self.message}</div>"\n',
        ("tests/test_course.py::test_the_html_of_a_result_is_escaped",),
    ),
    Mutation(
        "grading a notebook leaves the learner cells as they are (the solutions not filled in)",
        "microgradx/exercises/grading.py",
        "            cell.source = fills[exercise]\n",
        "            pass\n",
        (
            "tests/test_course.py::"
            "test_a_notebook_with_the_solutions_filled_in_passes_every_check[00_build_a_value]",
        ),
    ),
    Mutation(
        "an exercise's check raises on an answer that refuses to be compared",
        "microgradx/exercises/core.py",
        "        return _close(a, b, tolerance)\n    except (Exception, SystemExit):",
        "        return _close(a, b, tolerance)\n    except ZeroDivisionError:",
        (
            "tests/test_course.py::"
            "test_numbers_lists_and_functions_are_compared_and_a_value_is_named",
        ),
    ),
    # issue 22: gradcheck's finite differences on the compiled replay
    Mutation(
        "gradcheck's compiled probes ignore the domains of the ops",
        "microgradx/gradcheck.py",
        "                return result.output, False\n",
        "                return result.output, True\n",
        (
            "tests/test_gradcheck.py::test_the_compiled_check_sees_a_probe_leave_a_domain_where_f_stays_finite",
        ),
    ),
    Mutation(
        "gradcheck keeps its replay where the graph changed under a probe",
        "microgradx/gradcheck.py",
        "        if result is None or compiled.recordings != 1:\n",
        "        if result is None:\n",
        (
            "tests/test_gradcheck.py::test_the_compiled_check_falls_back_where_the_graph_depends_on_the_numbers",
        ),
    ),
    Mutation(
        "gradcheck's compiled f is off in the last digits",
        "microgradx/gradcheck.py",
        "        return result.output, True\n",
        "        return result.output * (1 + 1e-12), True\n",
        (
            "tests/test_gradcheck.py::test_the_compiled_differences_give_the_same_report_on_random_graphs",
        ),
    ),
    Mutation(
        "gradcheck lets compile's refusal escape",
        "microgradx/gradcheck.py",
        "        except Exception:  # anything compile cannot replay runs interpreted,"
        " as it always did\n",
        "        except ZeroDivisionError:\n",
        ("tests/test_gradcheck.py::test_a_function_compile_refuses_is_checked_interpreted",),
    ),
    Mutation(
        "gradcheck's kink sweep stops at the leaf's first users",
        "microgradx/gradcheck.py",
        "        for position in users.get(node, ()):\n",
        "        for position in users.get(node, ())[:0]:\n",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "the benchmark graph applies relu to negative numbers (zero gradients)",
        "benchmarks/common.py",
        "    if a > 0.05:\n",
        "    if True:\n",
        ("tests/test_bench_graph.py",),
    ),
    Mutation(
        "the benchmark graph leaves nodes unread (no gradient reaches them)",
        "benchmarks/common.py",
        "            unread.append(k)\n",
        "            pass\n",
        ("tests/test_bench_graph.py",),
    ),
    Mutation(
        "fit's validation rebuilds the held-out graphs every epoch (no replay)",
        "microgradx/train.py",
        "        replayed = self.replay.evaluate(X, y, self.predict)"
        " if self.replay is not None else None\n",
        "        replayed = None\n",
        (
            "tests/test_cli.py::test_validation_runs_on_the_compiled_replay_and_matches_the_interpreted_numbers",
        ),
    ),
    Mutation(
        "fit's validation replays the training recording (recorded again every epoch)",
        "microgradx/train.py",
        "        if self.evaluator is None:\n",
        "        if self.evaluator is None and self.program is not None:\n"
        "            self.evaluator = self.program\n"
        "        if self.evaluator is None:\n",
        (
            "tests/test_cli.py::test_validation_runs_on_the_compiled_replay_and_matches_the_interpreted_numbers",
        ),
    ),
    Mutation(
        "the playground builds a network whose epoch would hold the page for seconds",
        "microgradx/playground.py",
        "        check_epoch_cost(sizes, len(X))  # before the network is built\n",
        "        pass\n",
        (
            "tests/test_playground.py"
            "::test_a_network_whose_epoch_would_hold_the_page_is_refused_in_one_line",
        ),
    ),
    Mutation(
        "the engine checker accepts any input gradient",
        "microgradx/enginecheck/checks.py",
        "            if isinstance(got, str) or not close(got, want.grad[i]):\n",
        "            if False:\n",
        (
            "tests/test_enginecheck.py::test_a_wrong_local_derivative_is_caught_and_named_with_its_formula",
        ),
    ),
    Mutation(
        "the engine checker does not name the op whose local rule disagrees",
        "microgradx/enginecheck/checks.py",
        "        for j, step in enumerate(expr.steps):\n",
        "        for j, step in enumerate(expr.steps[:0]):\n",
        (
            "tests/test_enginecheck.py::test_a_wrong_local_derivative_is_caught_and_named_with_its_formula",
        ),
    ),
    Mutation(
        "the engine checker does not expect two losses' gradients to add up",
        "microgradx/enginecheck/semantics.py",
        "    want = [x + y for x, y in zip(g1, g2)]\n",
        "    want = list(g2)\n",
        (
            "tests/test_enginecheck.py::test_gradients_reset_inside_backward_are_caught_across_two_losses",
        ),
    ),
    Mutation(
        "the engine checker calls accumulating on a second backward() a behaviour",
        "microgradx/enginecheck/semantics.py",
        "    doubled = [2 * g for g in g1]\n",
        "    doubled = list(g1)\n",
        ("tests/test_enginecheck.py::test_a_correct_engine_passes_with_nothing_failing",),
    ),
    Mutation(
        "the engine checker reads a reflected constant's gradient from the constant",
        "microgradx/enginecheck/semantics.py",
        '        grad = grads[0 if form.endswith("_f") else 1]\n',
        "        grad = grads[0]\n",
        ("tests/test_enginecheck.py::test_a_correct_engine_passes_with_nothing_failing",),
    ),
    Mutation(
        "the engine checker's RecursionError depth is one past where it starts",
        "microgradx/enginecheck/limits.py",
        "    return high\n",
        "    return high + 1\n",
        (
            "tests/test_enginecheck.py::test_a_recursive_topological_sort_is_reported_with_the_depth_where_it_starts",
        ),
    ),
    Mutation(
        "the engine checker reports the engine's sys.exit as a bare SystemExit",
        "microgradx/enginecheck/child.py",
        "    if isinstance(error, SystemExit):\n",
        "    if False:\n",
        (
            "tests/test_enginecheck.py::test_sys_exit_and_os_exit_in_the_engine_are_crashes_and_the_check_goes_on",
        ),
    ),
    Mutation(
        "the engine's prints reach the checker's protocol pipe",
        "microgradx/enginecheck/child.py",
        "    for fd in (0, 1, 2):\n        os.dup2(null, fd)\n",
        "",
        (
            "tests/test_enginecheck.py::test_an_engine_that_prints_megabytes_is_checked_like_any_other",
        ),
    ),
    Mutation(
        "the engine checker takes the first of two Value-like classes",
        "microgradx/enginecheck/target.py",
        "        if len(good) == 1:\n",
        "        if len(good) >= 1:\n",
        ("tests/test_enginecheck.py::test_a_target_that_cannot_be_checked_raises_one_line",),
    ),
    Mutation(
        "the engine checker ships a notebook cell's statements, not only its definitions",
        "microgradx/enginecheck/target.py",
        "            if _definition(node):\n                parts.append(ast.unparse(node))",
        "            if True:\n                parts.append(ast.unparse(node))",
        ("tests/test_enginecheck.py::test_check_engine_ships_the_source_of_notebook_cells",),
    ),
    # issue 21: the engine checker in-process, where Pyodide starts no child process
    Mutation(
        "the engine checker starts a child process under Pyodide (the automatic choice broken)",
        "microgradx/enginecheck/inprocess.py",
        "        return PROCESS if processes_available() else IN_PROCESS\n",
        "        return PROCESS\n",
        (
            "tests/test_enginecheck_inprocess.py::test_under_pyodide_check_engine_runs_in_process_and_starts_no_process",
            "tests/test_enginecheck_inprocess.py::test_the_isolation_is_chosen_by_the_platform",
        ),
    ),
    Mutation(
        "the engine checker thinks Pyodide can start processes",
        "microgradx/enginecheck/inprocess.py",
        '    return sys.platform not in NO_PROCESSES and hasattr(os, "killpg")\n',
        '    return hasattr(os, "killpg")\n',
        ("tests/test_enginecheck_inprocess.py::test_the_isolation_is_chosen_by_the_platform",),
    ),
    Mutation(
        "the in-process engine checker leaves the recursion limit as the caller's",
        "microgradx/enginecheck/inprocess.py",
        "            sys.setrecursionlimit(recursion_limit(FRAMES))\n",
        "",
        (
            "tests/test_enginecheck_inprocess.py::test_a_recursive_engine_fails_at_the_childs_depth_however_deep_the_caller_is",
        ),
    ),
    Mutation(
        "the in-process engine checker lets the engine's prints reach the notebook",
        "microgradx/enginecheck/inprocess.py",
        "            sys.stdout, sys.stderr, sys.stdin = out, err, io.StringIO()\n",
        "",
        (
            "tests/test_enginecheck_inprocess.py::test_the_engines_output_is_captured_and_the_kernels_streams_restored",
        ),
    ),
    Mutation(
        "the in-process engine checker reports the learner's interrupt as a crash",
        "microgradx/enginecheck/inprocess.py",
        "        self.engine = _Engine(passes=(KeyboardInterrupt,))\n",
        "        self.engine = _Engine()\n",
        (
            "tests/test_enginecheck_inprocess.py::test_an_interrupt_ends_the_check_and_is_not_an_answer",
        ),
    ),
    Mutation(
        "the in-process engine checker takes an answer past its time limit",
        "microgradx/enginecheck/inprocess.py",
        "        if timeout is not None and seconds > timeout:\n",
        "        if False:\n",
        (
            "tests/test_enginecheck_inprocess.py::test_a_request_that_returns_after_its_time_limit_is_the_childs_timeout",
        ),
    ),
    Mutation(
        "an in-process check's report does not say what it lost",
        "microgradx/enginecheck/report.py",
        '    if report.note:\n        lines += ["", report.note]\n',
        "",
        (
            "tests/test_enginecheck_inprocess.py::test_the_report_says_what_running_in_process_loses",
        ),
    ),
    Mutation(
        "the engine checker's child has no memory limit",
        "microgradx/enginecheck/child.py",
        "    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))\n",
        "",
        ("tests/test_enginecheck.py::test_an_engine_past_the_memory_limit_is_a_crash",),
    ),
    Mutation(
        "the check's terminal table writes an engine's message raw",
        "microgradx/enginecheck/report.py",
        "line for line in visible(text, newlines=True).splitlines())",
        "line for line in text.splitlines())",
        (
            "tests/test_enginecheck_report.py::"
            "test_a_hostile_message_is_inert_in_the_terminal_html_xml_and_json",
        ),
    ),
    Mutation(
        "the check's JUnit XML holds an engine's control characters raw (not well formed)",
        "microgradx/enginecheck/report.py",
        '    return visible(text or "", newlines=True)\n',
        '    return text or ""\n',
        (
            "tests/test_enginecheck_report.py::"
            "test_a_hostile_message_is_inert_in_the_terminal_html_xml_and_json",
        ),
    ),
    Mutation(
        "the check's HTML writes an engine's message as markup",
        "microgradx/enginecheck/report.py",
        '    return escape(text or "", limit, newlines=True)\n',
        '    return text or ""\n',
        (
            "tests/test_enginecheck_report.py::"
            "test_a_hostile_message_is_inert_in_the_terminal_html_xml_and_json",
        ),
    ),
    Mutation(
        "the check's JSON writes non-ASCII (a bidi override, a C1 control) raw",
        "microgradx/enginecheck/report.py",
        "ensure_ascii=True, allow_nan=False)",
        "ensure_ascii=False, allow_nan=False)",
        (
            "tests/test_enginecheck_report.py::"
            "test_a_hostile_message_is_inert_in_the_terminal_html_xml_and_json",
        ),
    ),
    Mutation(
        "the check's JSON writes an infinity as Infinity (not JSON)",
        "microgradx/enginecheck/report.py",
        "        return value if math.isfinite(value) else str(value)\n",
        "        return value\n",
        ("tests/test_enginecheck_report.py::test_json_is_version_1_of_the_documented_schema",),
    ),
    Mutation(
        "the check's terminal report has no teaching block for a failing finding",
        "microgradx/enginecheck/report.py",
        "    for finding in report.failures:\n        lines += [",
        "    for finding in ():\n        lines += [",
        (
            "tests/test_enginecheck_report.py::"
            "test_text_teaches_each_failing_finding_notes_behaviours_and_ends_with_counts",
        ),
    ),
    Mutation(
        "the check's terminal table is coloured without being asked",
        "microgradx/enginecheck/report.py",
        '    return f"\\x1b[{code}m{text}\\x1b[0m" if color else text\n',
        '    return f"\\x1b[{code}m{text}\\x1b[0m"\n',
        ("tests/test_enginecheck_report.py::test_text_has_colour_codes_only_when_asked",),
    ),
    Mutation(
        "the check's JUnit XML passes an unsupported op instead of skipping it",
        "microgradx/enginecheck/report.py",
        "        elif finding.kind in _SKIPPED:\n",
        "        elif False:\n",
        (
            "tests/test_enginecheck_report.py::"
            "test_junit_is_one_suite_with_one_test_case_per_finding",
        ),
    ),
    Mutation(
        "the check's drawing does not highlight the node whose rule disagrees",
        "microgradx/enginecheck/report.py",
        "    return draw_graph(root, highlight=marked, caption=caption)\n",
        "    return draw_graph(root, caption=caption)\n",
        (
            "tests/test_enginecheck_report.py::"
            "test_html_draws_the_smallest_failing_expression_with_the_wrong_node_in_red",
        ),
    ),
    Mutation(
        "the check's HTML raises instead of showing the formula without a renderer",
        "microgradx/enginecheck/report.py",
        "    except (ImportError, RendererNotFound):",
        "    except ImportError:",
        (
            "tests/test_enginecheck_report.py::"
            "test_html_shows_the_formula_when_no_renderer_is_installed",
        ),
    ),
    Mutation(
        "microgradx check exits 0 when something is wrong",
        "microgradx/enginecheck/command.py",
        "    return report.exit_code\n",
        "    return 0\n",
        (
            "tests/test_enginecheck_report.py::"
            "test_check_exits_0_when_everything_holds_and_1_when_something_is_wrong",
        ),
    ),
    Mutation(
        "microgradx check exits 1, not 2, for a target that cannot be checked",
        "microgradx/enginecheck/command.py",
        "        return _fail(err, str(error))\n",
        "        print(error, file=err)\n        return 1\n",
        (
            "tests/test_enginecheck_report.py::"
            "test_check_exits_2_with_one_line_when_the_target_cannot_be_checked",
        ),
    ),
    Mutation(
        "microgradx check --junit checks where it writes only after the check",
        "microgradx/enginecheck/command.py",
        "    if junit is not None:  # a folder",
        "    if False:  # a folder",
        (
            "tests/test_enginecheck_report.py::"
            "test_check_junit_refuses_a_folder_a_fifo_and_a_missing_folder_before_checking",
        ),
    ),
    Mutation(
        "microgradx check --budget takes 0 and nan",
        "microgradx/enginecheck/command.py",
        "    if not (math.isfinite(value) and value > 0):\n",
        "    if False:\n",
        (
            "tests/test_enginecheck_report.py::"
            "test_check_refuses_bad_arguments_with_status_2_before_checking",
        ),
    ),
    Mutation(
        "pytest --engine: a failing finding passes",
        "microgradx/enginecheck/pytest_plugin.py",
        "        if finding.failed:\n",
        "        if False:\n",
        (
            "tests/test_enginecheck_report.py::"
            "test_pytest_engine_makes_each_finding_a_test_named_by_its_check",
        ),
    ),
    Mutation(
        "pytest --engine: an unsupported op passes instead of being skipped",
        "microgradx/enginecheck/pytest_plugin.py",
        "        if finding.kind in (UNSUPPORTED, NOT_CHECKED):\n",
        "        if False:\n",
        (
            "tests/test_enginecheck_report.py::"
            "test_pytest_engine_makes_each_finding_a_test_named_by_its_check",
        ),
    ),
    Mutation(
        "pytest without --engine runs the checker anyway",
        "microgradx/enginecheck/pytest_plugin.py",
        "    if target:\n        items.extend",
        "    if True:\n        items.extend",
        (
            "tests/test_enginecheck_report.py::"
            "test_pytest_without_an_engine_the_plugin_does_nothing",
        ),
    ),
    Mutation(
        "pytest --engine ignores engine = in the configuration",
        "microgradx/enginecheck/pytest_plugin.py",
        '    return str(given if given else config.getini("engine")).strip()\n',
        '    return str(given or "").strip()\n',
        (
            "tests/test_enginecheck_report.py::"
            "test_pytest_engine_in_the_configuration_file_is_the_one_line_a_course_adds",
        ),
    ),
    Mutation(
        "pytest --engine: a target that cannot be checked stops the run",
        "microgradx/enginecheck/pytest_plugin.py",
        "    except TargetError as error:\n        problem",
        "    except ZeroDivisionError as error:\n        problem",
        (
            "tests/test_enginecheck_report.py::"
            "test_pytest_an_engine_that_cannot_be_checked_is_one_failing_test",
        ),
    ),
    # issue 20: the step-through's counter, the lectures' notation, drawings that fit, make lab
    Mutation(
        "the step-through counts its steps from 0 (a 3-step pass ends on step 2 of 2)",
        "microgradx/viz/scene.py",
        '    return f"step {i + 1} of {n}"\n',
        '    return f"step {i} of {n - 1}"\n',
        (
            "tests/test_trace.py::"
            "test_steps_are_shown_counted_from_1_to_n_in_text_frames_graphviz_frames_and_the_table",
        ),
    ),
    Mutation(
        "the page's counter is worked out in the script again, from 0",
        "microgradx/viz/page.py",
        '    position.textContent = step ? step.c : "";',
        '    position.textContent = "step " + current + " of " + (steps.length - 1);',
        ("tests/test_trace.py::test_page_steps_with_buttons_slider_and_arrow_keys_in_chromium",),
    ),
    Mutation(
        "the loss's ops are neuron-level steps of their own again (the first is not a neuron's)",
        "microgradx/viz/steps.py",
        "            self.loss_nodes = self._loss_part()\n",
        "",
        (
            "tests/test_trace.py::"
            "test_the_neuron_step_through_speaks_the_lectures_notation_on_a_2_3_1_network",
        ),
    ),
    Mutation(
        "a hidden neuron's delta is not named as the backpropagated error (BP2)",
        "microgradx/viz/steps.py",
        '                    unit = replace(unit, role="hidden", backpropagated=tuple(got))\n',
        "                    pass\n",
        (
            "tests/test_trace.py::"
            "test_the_neuron_step_through_speaks_the_lectures_notation_on_a_2_3_1_network",
            "tests/test_trace.py::test_the_layer_step_through_names_the_deltas_as_the_lectures_do",
        ),
    ),
    Mutation(
        "a shared weight's box is named by its module path (layers.0.neurons.2.w.1)",
        "microgradx/viz/steps.py",
        "        name = recorded.lecture_name(node) if recorded.level != "
        '"op" else recorded.names[node]\n',
        "        name = recorded.names[node]\n",
        (
            "tests/test_trace.py::"
            "test_the_neuron_step_through_speaks_the_lectures_notation_on_a_2_3_1_network",
        ),
    ),
    Mutation(
        "the page writes a2_1 where the lectures write a²₁",
        "microgradx/viz/page.py",
        "    return visible(lecture_text(text), newlines=True)\n",
        "    return visible(text, newlines=True)\n",
        (
            "tests/test_trace.py::"
            "test_the_page_writes_the_lectures_names_with_raised_and_lowered_indices",
        ),
    ),
    Mutation(
        "a Graphviz drawing in a notebook keeps its natural width (wider than the output)",
        "microgradx/viz/graph.py",
        '            return {"text/html": html, "image/svg+xml": svg}\n',
        '            return {"image/svg+xml": svg}\n',
        (
            "tests/test_jupyter.py::"
            "test_every_drawing_fits_the_output_width_in_an_nbconvert_export_at_1400_px",
        ),
    ),
    Mutation(
        "a network picture in a notebook keeps its natural width",
        "microgradx/viz/network.py",
        '        return {"text/html": html, "image/svg+xml": self._svg}\n',
        '        return {"image/svg+xml": self._svg}\n',
        (
            "tests/test_jupyter.py::"
            "test_every_drawing_fits_the_output_width_in_an_nbconvert_export_at_1400_px",
        ),
    ),
    Mutation(
        "the step-through page starts at full size, wider than the output",
        "microgradx/viz/trace.py",
        '    def page_data(self, *, layout: str = "auto", fit: bool = True, **renamed: Any)',
        '    def page_data(self, *, layout: str = "auto", fit: bool = False, **renamed: Any)',
        (
            "tests/test_jupyter.py::"
            "test_every_drawing_fits_the_output_width_in_an_nbconvert_export_at_1400_px",
        ),
    ),
    Mutation(
        "Graphviz drawings in Helvetica (graphviz-pure's boxes too narrow for a browser's text)",
        "microgradx/viz/graph.py",
        'FONT = "Courier"',
        'FONT = "Helvetica"',
        (
            "tests/test_viz.py::"
            "test_no_text_runs_into_another_and_each_fits_its_box_with_either_renderer",
        ),
    ),
    Mutation(
        "make lab as root starts Jupyter without --allow-root",
        "Makefile",
        "LAB_FLAGS = $(if $(filter 0,$(LAB_UID)),--allow-root)\n",
        "LAB_FLAGS =\n",
        ("tests/test_jupyter.py::test_make_lab_passes_allow_root_when_run_as_root_and_only_then",),
    ),
    Mutation(
        "the level-by-level NumPy back-end scatters a group's repeated node at once (+= drops one)",
        "microgradx/replay_numpy.py",
        "                kept.add(child)\n",
        "                pass\n",
        _LEVELS,
    ),
    Mutation(
        "the level-by-level NumPy back-end adds a gradient's terms level by level, not as the walk",
        "microgradx/replay_numpy.py",
        "            if len(set(events)) < len(events) or (len(events) > 2"
        " and not in_walk_order):\n",
        "            if len(set(events)) < len(events):\n",
        _LEVELS,
    ),
    Mutation(
        "the level-by-level NumPy back-end takes every node's contributions as in the walk's order",
        "microgradx/replay_numpy.py",
        "            for rank in range(max(len(arrived[c]) // 2 for c in children)):\n"
        "                has = [k for k, c in enumerate(children) if len(arrived[c]) > 2 * rank]\n"
        "                for k in has:\n"
        "                    slot_row[(children[k], rank)] = c_rows + k\n",
        "            for rank in range(max(len(arrived[c]) // 2 for c in children)):\n"
        "                has = [k for k, c in enumerate(children) if len(arrived[c]) > 2 * rank]\n"
        "                for k in has:\n"
        "                    slot_row[(children[k], len(arrived[children[k]]) // 2 - 1 - rank)]"
        " = (\n"
        "                        c_rows + k\n"
        "                    )\n",
        _LEVELS,
    ),
    Mutation(
        "the NumPy back-end's guards over a batch ignore a comparison's outcome",
        "microgradx/replay_numpy.py",
        "            ok &= (result if outcome else ~result).all(axis=1)\n",
        "            ok &= result.all(axis=1)\n",
        ("tests/test_replay.py::test_guards_on_inputs_are_checked_over_the_whole_batch",),
    ),
    Mutation(
        "the NumPy back-end's table of rows is not checked for finite numbers",
        "microgradx/replay.py",
        "        if not finite.all():\n",
        "        if False:\n",
        ("tests/test_replay.py::test_numpy_backend_checks_a_table_of_rows_with_the_same_errors",),
    ),
    Mutation(
        "a variable of the compiled Python program that outlives its piece is a local of it",
        "microgradx/replay_python.py",
        '            kind = "c" if end >= stop else "x"\n',
        '            kind = "x"\n',
        ("tests/test_replay.py::test_the_python_backend_compiled_in_pieces_is_bit_for_bit",),
    ),
    Mutation(
        "the Python back-end compiles the whole graph at once (9 KB a node)",
        "microgradx/replay_python.py",
        "            if i >= CHUNK:  # more than one piece: compiled in pieces, by a second pass\n",
        "            if False:\n",
        (
            "tests/test_replay_memory.py::"
            "test_a_graph_without_sums_of_products_compiles_in_pieces_of_bounded_memory",
            "tests/test_replay.py::test_the_python_backend_compiled_in_pieces_is_bit_for_bit",
        ),
    ),
    Mutation(
        "the Python back-end writes every node of a neuron's sum as a line (9.5 KB a node)",
        "microgradx/replay_python.py",
        "    forward = _Forward(tape, names, chains=True, lines=sink, found=found)\n",
        "    forward = _Forward(tape, names, chains=False, lines=sink, found=found)\n",
        (
            "tests/test_replay_memory.py::"
            "test_compiling_the_digits_network_takes_at_most_1_5_kb_a_node",
        ),
    ),
    Mutation(
        "a sum of products whose values are made inside it runs as a loop at its root",
        "microgradx/replay_python.py",
        "        if distinct and ops_before[position[root] + 1] - ops_before[first] == 2 * n:\n",
        "        if distinct:\n",
        (
            "tests/test_replay_memory.py::"
            "test_a_chain_with_a_value_made_inside_it_keeps_the_walks_order",
        ),
    ),
    Mutation(
        "a sum of products over the same value twice runs as a loop (one contribution lost)",
        "microgradx/replay_python.py",
        "        distinct = len({*weights, *xs, z}) == 2 * n + 1\n",
        "        distinct = True\n",
        ("tests/test_replay_memory.py::test_sums_of_products_replay_bit_for_bit_on_random_graphs",),
    ),
    Mutation(
        "a sum of products passes a zero upstream on (0 * inf is NaN)",
        "microgradx/replay_python.py",
        '        self.lines.append(_Line(f"if {g[0]} != 0.0:", g[1]))\n',
        '        self.lines.append(_Line("if True:", g[1]))\n',
        (
            "tests/test_replay_memory.py::"
            "test_a_zero_upstream_passes_nothing_through_a_chain_even_to_an_infinite_weight",
        ),
    ),
    Mutation(
        "a node that reads a value's gradient while it is in a chains' list reads it stale",
        "microgradx/replay_python.py",
        "                node in pending[2] or not pending[2].isdisjoint(node.children)\n",
        "                False\n",
        (
            "tests/test_replay_memory.py::"
            "test_sums_of_products_replay_bit_for_bit_on_random_graphs",
            "tests/test_replay_memory.py::"
            "test_digits_training_steps_compiled_are_backwards_numbers_bit_for_bit",
        ),
    ),
    Mutation(
        "a node inside a sum that only a guard's value reads is not computed",
        "microgradx/replay_python.py",
        "    for node in tape.values:  # (with a recording, also the values only guards read)\n",
        "    for node in order:  # (with a recording, also the values only guards read)\n",
        (
            "tests/test_replay_memory.py::"
            "test_a_value_inside_a_sum_that_only_a_guard_reads_is_still_computed",
        ),
    ),
    Mutation(
        "a compiled + passes a zero upstream to a leaf (its -0.0 gradient becomes +0.0)",
        "microgradx/replay_python.py",
        "        if node.op is ADD and not any(c in self.leaf_index for c in node.children):\n",
        "        if node.op is ADD:\n",
        (
            "tests/test_replay_memory.py::"
            "test_a_leafs_gradient_of_minus_zero_stays_when_an_add_passes_it_a_zero_upstream",
        ),
    ),
    Mutation(
        "a compiled call made while another runs shares its pieces' cells",
        "microgradx/replay_python.py",
        "            return _chain(self._functions(), inputs, P, seed)\n",
        "            return _chain(self.functions, inputs, P, seed)\n",
        ("tests/test_replay_memory.py::test_a_call_made_while_another_runs_gets_cells_of_its_own",),
    ),
    Mutation(
        "the CLI compiles a network that cannot fit in memory",
        "microgradx/cli.py",
        "    if available is not None and needed > available:\n",
        "    if False:\n",
        ("tests/test_replay.py::test_compile_memory_estimate_and_the_cli_refusal",),
    ),
    Mutation(
        "the engine checker calls a finite wrong number at the edge a behaviour (tanh'(-1000) = 2)",
        "microgradx/enginecheck/limits.py",
        "    kind = WRONG_VALUE if wrong_value else"
        " WRONG_GRADIENT if wrong_gradient else BEHAVIOUR",
        "    kind = BEHAVIOUR",
        (
            "tests/test_enginecheck.py::test_a_wrong_local_derivative_is_caught_and_named_with_its_formula",
        ),
    ),
    Mutation(
        "the grade command fails a notebook whose answers are not all right (the JSON grades)",
        "microgradx/exercises/command.py",
        "            status = 0 if not graded.errors else 1\n",
        '            status = int(graded.to_dict()["passed"] < len(graded.results))\n',
        (
            "tests/test_course.py::"
            "test_the_documented_grade_command_exports_a_filled_and_a_shipped_notebook",
        ),
    ),
    Mutation(
        "grading reads a notebook's exercises from its file name only (a renamed file grades 0/0)",
        "microgradx/exercises/grading.py",
        "    found = [EXERCISES[i] for i in dict.fromkeys(marked) if i in EXERCISES]",
        "    found = []",
        (
            "tests/test_course.py::"
            "test_a_renamed_notebook_is_graded_by_its_marked_cells_in_their_order",
        ),
    ),
    Mutation(
        "the vectors runner runs a case whose op the class raises on (no skip)",
        "docs/runners/run_vectors.py",
        "        if lacks(case, Value):",
        "        if False:",
        (
            "tests/test_vectors.py::"
            "test_with_every_op_micrograd_skips_what_it_lacks_and_fails_only_the_depth_cases",
        ),
    ),
    Mutation(
        "the check's summary says 2 crashs",
        "microgradx/enginecheck/report.py",
        '    return f"{count} {noun}" + ("es" if noun.endswith(("sh", "s")) else "s")  # 2 crashes',
        '    return f"{count} {noun}s"',
        (
            "tests/test_enginecheck_report.py::test_text_is_a_table_of_every_check_its_verdict_and_smallest_failing_input",
        ),
    ),
    Mutation(
        "a method bound to a notebook class in a later cell is not shipped to the child",
        "microgradx/enginecheck/target.py",
        '                lines.append(f"{c.__name__}.{name} = {qualname}")',
        "                pass",
        ("tests/test_enginecheck.py::test_check_engine_ships_the_source_of_notebook_cells",),
    ),
    Mutation(
        "a module a notebook class reads from another cell is not imported in the child",
        "microgradx/enginecheck/target.py",
        '                imports[name] = f"import {value.__name__}{alias}"',
        "                pass",
        ("tests/test_enginecheck.py::test_check_engine_ships_the_source_of_notebook_cells",),
    ),
    Mutation(
        "a notebook subclass is shipped without its base class's cells",
        "microgradx/enginecheck/target.py",
        "        if c is cls or (c.__module__ == cls.__module__ and class_reference(c) is None)",
        "        if c is cls",
        ("tests/test_enginecheck.py::test_check_engine_ships_the_source_of_notebook_cells",),
    ),
    Mutation(
        "a script's subclass with no functions of its own cannot be checked",
        "microgradx/enginecheck/target.py",
        "        and bool(files or stated)",
        "        and bool(files)",
        (
            "tests/test_enginecheck.py::"
            "test_check_engine_in_a_script_takes_a_subclass_with_no_functions_of_its_own",
        ),
    ),
    Mutation(
        "the sandbox kills the engine's process group only while the child itself runs",
        "microgradx/enginecheck/sandbox.py",
        "        try:\n            os.killpg(process.pid, signal.SIGKILL)\n"
        "        except (ProcessLookupError, PermissionError):\n"
        "            if process.poll() is None:\n                process.kill()",
        "        if process.poll() is None:\n            os.killpg(process.pid, signal.SIGKILL)",
        (
            "tests/test_enginecheck.py::test_an_engine_that_forks_and_exits_leaves_no_process_behind",
        ),
    ),
    Mutation(
        "an answer of the wrong shape from the engine's process is a traceback of the checker",
        "microgradx/enginecheck/api.py",
        "    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:",
        "    except ArithmeticError as error:",
        (
            "tests/test_enginecheck.py::"
            "test_an_engine_writing_into_the_checkers_channel_is_reported_not_a_traceback",
        ),
    ),
    Mutation(
        "a method the class has but that raises is called unsupported",
        "microgradx/enginecheck/target.py",
        "        if name in METHODS:"
        "  # _tries has a method form only where the class has the method\n"
        "            supported.append(name)\n            continue\n",
        "",
        (
            "tests/test_enginecheck.py::"
            "test_a_method_that_always_raises_is_a_crash_naming_the_error_not_unsupported",
        ),
    ),
    Mutation(
        "an op whose Value holds NaN is called unsupported",
        "microgradx/enginecheck/target.py",
        "        gave[name] = out is not NotImplemented and isinstance(out, cls)\n",
        "        gave[name] = out is not NotImplemented and isinstance(out, cls)"
        " and out.data == out.data\n",
        (
            "tests/test_enginecheck.py::"
            "test_an_engine_whose_results_are_nan_fails_and_is_not_called_unsupported",
        ),
    ),
    Mutation(
        "topological_order places a node whose inputs are not all placed yet (the shortcut)",
        "microgradx/engine.py",
        "else inner._seen is seen and (outer is None or outer._seen is seen)",
        "else inner._seen is seen or (outer is None or outer._seen is seen)",
        ("tests/test_walk.py::test_topological_order_keeps_its_guarantees_on_random_dags",),
    ),
    Mutation(
        "backward() keeps the nodes still holding their first 0.0, and not the others",
        "microgradx/engine.py",
        "                        if right.grad is not _FRESH and keep:",
        "                        if right.grad is _FRESH and keep:",
        ("tests/test_walk.py::test_backward_is_the_reference_walk_bit_for_bit_on_random_dags",),
    ),
    Mutation(
        "backward() does not reset the intermediate grads of a graph walked before",
        "microgradx/engine.py",
        "                        node.grad = _FRESH  # a fresh pass for intermediate nodes\n",
        "                        pass\n",
        ("tests/test_walk.py::test_backward_is_the_reference_walk_bit_for_bit_on_random_dags",),
    ),
    Mutation(
        "a first backward() that raises leaves the grads it wrote (only the kept ones restored)",
        "microgradx/engine.py",
        "                for node in order:\n"
        "                    node.grad = _FRESH  # what each node not in changed held\n",
        "",
        ("tests/test_walk.py::test_a_first_pass_that_raises_leaves_every_grad_as_it_was",),
    ),
    Mutation(
        "no_full_collection() leaves full collections paused after the block",
        "microgradx/collector.py",
        "                gc.set_threshold(*_full_pause[1])\n",
        "                pass\n",
        ("tests/test_collector.py::test_no_full_collection_puts_back_the_callers_settings",),
    ),
    Mutation(
        "no_full_collection(): each block restores the settings it found (another's pause)",
        "microgradx/collector.py",
        "                if _full_pause[0] == 0:\n"
        "                    gc.set_threshold(*_full_pause[1])",
        "                if True:\n                    gc.set_threshold(*_full_pause[1])",
        ("tests/test_collector.py::test_two_threads_blocks_do_not_restore_each_others_pause",),
    ),
    Mutation(
        "no_full_collection() pauses nothing",
        "microgradx/collector.py",
        "            gc.set_threshold(young, middle, _NEVER)",
        "            gc.set_threshold(young, middle, _)",
        (
            "tests/test_collector.py::"
            "test_the_readme_loop_in_no_full_collection_pays_no_full_collection_over_its_graphs",
        ),
    ),
    # issue 20: the course notebooks 00-04 assert what their text says
    Mutation(
        "a step-through frame is counted from 0 (notebook 01's frame(0) says step 1 of 3)",
        "microgradx/viz/scene.py",
        '    return f"step {i + 1} of {n}"\n',
        '    return f"step {i} of {n}"\n',
        (
            "tests/test_course.py::"
            "test_a_notebook_as_shipped_runs_and_every_check_says_not_answered[01_backprop_by_hand]",
        ),
    ),
    Mutation(
        "no_grad() records a graph (notebook 02's memory section)",
        "microgradx/engine.py",
        "    if mode.grad_enabled:\n        return Value(data, None, op, left, right)",
        "    if True:\n        return Value(data, None, op, left, right)",
        (
            "tests/test_course.py::"
            "test_a_notebook_as_shipped_runs_and_every_check_says_not_answered[02_seeing_the_graph]",
        ),
    ),
    Mutation(
        "draw_graph without a Graphviz program raises instead of drawing with its own layout",
        "microgradx/viz/graph.py",
        "                except RendererNotFound:\n                    return None\n",
        "                except RendererNotFound:\n                    raise\n",
        ("tests/test_own_layout.py",),
    ),
    Mutation(
        "a missing Graphviz program named by MICROGRADX_DOT is silently replaced",
        "microgradx/viz/graph.py",
        '            if self.layout == "auto" and not os.environ.get("MICROGRADX_DOT"):\n',
        '            if self.layout == "auto":\n',
        ("tests/test_own_layout.py",),
    ),
    Mutation(
        "the own layout puts edge labels on top of each other",
        "microgradx/viz/layout.py",
        "        taken.add(chosen[2])\n",
        "        pass\n",
        ("tests/test_own_layout.py",),
    ),
    Mutation(
        "the own layout leaves the legend out",
        "microgradx/viz/graph.py",
        "                extra.append(cell)\n",
        "                pass\n",
        ("tests/test_own_layout.py",),
    ),
    Mutation(
        "draw_graph names a neuron's or a layer's box by its module (layers.0.neurons.0)",
        "microgradx/viz/graph.py",
        "            cells = [lecture_text(name), kind,",
        "            cells = [module, kind,",
        ("tests/test_viz.py::test_mlp_collapsed_by_layer_and_by_neuron",),
    ),
    Mutation(
        "draw_graph writes a2_1, not the lectures' a²₁",
        "microgradx/viz/graph.py",
        "            cells = [lecture_text(self.names[node])]\n",
        "            cells = [self.names[node]]\n",
        ("tests/test_own_layout.py",),
    ),
    Mutation(
        "draw_graph by neuron names a shared parameter by its label (layers.1.neurons.0.w.2)",
        "microgradx/viz/graph.py",
        "                    self.names[node] = name\n",
        "                    pass\n",
        (
            "tests/test_own_layout.py::"
            "test_collapsed_drawings_name_inputs_and_shared_parameters_as_the_lectures_do",
        ),
    ),
    Mutation(
        "the own layout draws the two uses in a + a as one line",
        "microgradx/viz/layout.py",
        "        dy = (k - (pairs[edge.tail, edge.head] - 1) / 2) * 6.0\n",
        "        dy = 0.0\n",
        ("tests/test_own_layout.py::test_each_use_of_a_value_is_its_own_edge_in_the_own_layout",),
    ),
    Mutation(
        "the own layout keeps its columns narrow when edge labels found no free spot",
        "microgradx/viz/graph.py",
        "        for _ in range(4):  # edge labels with no free spot",
        "        for _ in range(1):  # edge labels with no free spot",
        ("tests/test_own_layout.py",),
    ),
    Mutation(
        "the NumPy back-end sums a chain's terms first (np.sum), then adds the start",
        "microgradx/replay_numpy.py",
        "            for term in terms:  # left to right: the scalar engine's order"
        " (not np.sum's)\n"
        "                np.add(out, term, out=out)\n",
        "            np.add(out, np.sum(terms, axis=0), out=out)\n",
        ("tests/test_replay.py::test_a_chain_adds_its_terms_left_to_right",),
    ),
    Mutation(
        "the NumPy back-end adds a chain's terms right to left",
        "microgradx/replay_numpy.py",
        "            for term in terms:  # left to right: the scalar engine's order"
        " (not np.sum's)\n",
        "            for term in terms[::-1]:\n",
        ("tests/test_replay.py::test_a_chain_adds_its_terms_left_to_right",),
    ),
    Mutation(
        "the NumPy back-end adds a layer's contributions to its inputs in reverse walk order",
        "microgradx/replay_numpy.py",
        "        for rank, (targets, members, local) in enumerate(grid):\n",
        "        for rank, (targets, members, local) in enumerate(grid[::-1]):\n",
        (
            "tests/test_replay.py::test_digits_network_trains_bit_for_bit_a_few_steps",
            "tests/test_replay.py::test_chains_are_bit_for_bit_on_random_graphs",
        ),
    ),
    Mutation(
        "the NumPy back-end fuses a chain node that has a second use",
        "microgradx/replay_numpy.py",
        "        return uses.get(node, 0) == 1 and node not in kept\n",
        "        return uses.get(node, 0) >= 1 and node not in kept\n",
        ("tests/test_replay.py::test_a_chain_node_with_a_second_use_is_not_fused",),
    ),
    Mutation(
        "the NumPy back-end sums weights' contributions by a matrix product through an infinity",
        "microgradx/replay_numpy.py",
        "            if np.isfinite(other).all():"
        "  # (else the zero-upstream rule: the general way)\n",
        "            if True:\n",
        (
            "tests/test_replay.py::"
            "test_a_zero_upstream_contributes_zero_through_a_chains_infinite_product",
        ),
    ),
    Mutation(
        "the NumPy back-end's chain products multiply a zero upstream by an infinite factor",
        "microgradx/replay_numpy.py",
        "                        contribution = np.where(upstream == 0.0, -0.0, contribution)\n",
        "                        pass\n",
        (
            "tests/test_replay.py::"
            "test_a_zero_upstream_contributes_zero_through_a_chains_infinite_product",
        ),
    ),
    Mutation(
        "the NumPy back-end splits a chain's last, shorter block of steps by its own length",
        "microgradx/replay_numpy.py",
        "            parts = split[block]\n",
        "            parts = _parts(np, group, j1 - j0)[block]\n",
        ("tests/test_replay.py::test_chains_in_blocks_of_steps_are_bit_for_bit",),
    ),
    Mutation(
        "backward(gradient) ignores its seed (notebook 06's backward(v) = vᵀJ)",
        "microgradx/engine.py",
        "walk.start((), self, starts, gradient)",
        "walk.start((), self, starts, 1.0)",
        (
            "tests/test_course.py::"
            "test_a_notebook_as_shipped_runs_and_every_check_says_not_answered[06_forward_vs_reverse]",
        ),
    ),
    Mutation(
        "a plot in a browser without matplotlib raises instead of saying so in one line",
        "microgradx/viz/plots.py",
        "        if IN_BROWSER:\n            return _load_in_browser()\n",
        "",
        ("tests/test_lite.py::test_in_a_browser_without_matplotlib_a_plot_is_one_line",),
    ),
    Mutation(
        "universal_approximation in a browser without matplotlib loses the trained model",
        "microgradx/viz/plots.py",
        "    if isinstance(plt, PlotUnavailable):\n        return plt, model\n",
        "",
        ("tests/test_lite.py::test_in_a_browser_without_matplotlib_a_plot_is_one_line",),
    ),
    Mutation(
        "the NumPy back-end's zero leaf sums start from +0.0 (a leaf's -0.0 becomes +0.0)",
        "microgradx/replay_numpy.py",
        "    zero = sums == 0.0\n    if not zero.any():\n",
        "    zero = sums == 0.0\n    if True:\n",
        (
            "tests/test_replay.py::"
            "test_numpy_leaf_gradients_keep_minus_zero_where_backward_adds_nothing",
        ),
    ),
    Mutation(
        "the NumPy back-end's matrix product of a layer's weight gradients keeps its +0.0",
        "microgradx/replay_numpy.py",
        "                    sums.reshape(-1),  # (a view)\n",
        "                    sums.reshape(-1).copy(),\n",
        (
            "tests/test_replay.py::"
            "test_numpy_leaf_gradients_keep_minus_zero_where_backward_adds_nothing",
        ),
    ),
    Mutation(
        "the NumPy back-end's node-by-node program passes a zero upstream through + to a leaf",
        "microgradx/replay_numpy.py",
        "        if child in self.leaf_set and node.op in walk.PASS_THROUGH:\n",
        "        if False:\n",
        (
            "tests/test_replay.py::"
            "test_numpy_leaf_gradients_keep_minus_zero_where_backward_adds_nothing",
        ),
    ),
    Mutation(
        "the NumPy back-end's node-by-node program counts a zero upstream's product as +0.0",
        "microgradx/replay_numpy.py",
        "{upstream} * {local}, -0.0)",
        "{upstream} * {local}, 0.0)",
        (
            "tests/test_replay.py::"
            "test_numpy_leaf_gradients_keep_minus_zero_where_backward_adds_nothing",
        ),
    ),
    Mutation(
        "fit(compile=True) computes the inputs' gradients it never uses",
        "microgradx/train.py",
        "gradient=1.0 / len(batch), input_grads=False)",
        "gradient=1.0 / len(batch))",
        (
            "tests/test_replay.py::"
            "test_fit_compiled_asks_for_no_inputs_gradients_and_trains_the_same_weights",
        ),
    ),
    Mutation(
        "build_lite/build_site replace an output folder that no previous build made (no marker)",
        "playground/build_site.py",
        "    if not marked:\n",
        "    if False:\n",
        (
            "tests/test_lite.py::test_lite_refuses_an_output_a_build_did_not_make_and_deletes_nothing",
            "tests/test_playground.py::"
            "test_site_refuses_an_output_a_build_did_not_make_and_deletes_nothing",
        ),
    ),
    Mutation(
        "a build replaces the current folder or the repository (a marker planted in it)",
        "playground/build_site.py",
        "    protected = {Path.cwd().resolve(), ROOT.resolve()}\n",
        "    protected: set[Path] = set()\n",
        (
            "tests/test_lite.py::test_lite_refuses_an_output_a_build_did_not_make_and_deletes_nothing",
        ),
    ),
    Mutation(
        "a failed build leaves its half-built folder next to the output",
        "playground/build_site.py",
        "        shutil.rmtree(work)  # made by mkdtemp",
        "        work.exists()  # made by mkdtemp",
        (
            "tests/test_lite.py::test_a_failing_lite_build_leaves_the_previous_site_as_it_was",
            "tests/test_playground.py::"
            "test_site_replaces_only_its_own_previous_build_and_a_failure_keeps_it",
        ),
    ),
    Mutation(
        "--pyodide-packages-url lets braces other than {version} through into the lock",
        "playground/build_lite.py",
        "NOT_IN_URL = set(' \"<>\\\\^`{|}')",
        "NOT_IN_URL = set(' \"<>\\\\^`|')",
        ("tests/test_lite.py::test_a_bad_packages_url_is_one_line_naming_the_flag",),
    ),
    Mutation(
        "--pyodide-packages-url accepts a query string (the file names land in it)",
        "playground/build_lite.py",
        '    if parts.query or parts.fragment or "?" in bare or "#" in bare:',
        '    if parts.fragment or "#" in bare:',
        ("tests/test_lite.py::test_a_bad_packages_url_is_one_line_naming_the_flag",),
    ),
    Mutation(
        "--pyodide-packages-url accepts any scheme with a host (ftp:, file://host/)",
        "playground/build_lite.py",
        'if parts.scheme not in ("http", "https")',
        'if parts.scheme not in ("http", "https", "ftp", "file")',
        ("tests/test_lite.py::test_a_bad_packages_url_is_one_line_naming_the_flag",),
    ),
    Mutation(
        "enginecheck: an op the engine has that raises is called unsupported",
        "microgradx/enginecheck/target.py",
        "refused = isinstance(failure, Exception) and _SPECIAL[name] in working",
        "refused = True",
        ("tests/test_enginecheck_present_ops.py",),
    ),
    Mutation(
        "enginecheck: an interrupt while probing the ops is swallowed in-process",
        "microgradx/enginecheck/target.py",
        "            if isinstance(error, passes):\n                raise\n"
        "            raised[name]",
        "            raised[name]",
        ("tests/test_enginecheck_present_ops.py",),
    ),
    Mutation(
        "enginecheck: what an in-process request changes in the process is kept",
        "microgradx/enginecheck/inprocess.py",
        "            kept.restore()\n",
        "",
        ("tests/test_enginecheck_present_ops.py",),
    ),
    Mutation(
        "exercises: sys.exit in an answer ends the kernel",
        "microgradx/exercises/core.py",
        "except (Exception, SystemExit) as error:  # the learner's function",
        "except Exception as error:  # the learner's function",
        (
            "tests/test_course.py::"
            "test_sys_exit_in_an_answer_is_reported_and_an_interrupt_still_stops_the_check",
        ),
    ),
    Mutation(
        "the NumPy back-end's node-by-node program passes +0.0 to a leaf where nothing reaches it",
        "microgradx/replay_numpy.py",
        'contribution = f"np.where({upstream} != 0.0, {contribution}, -0.0)"',
        'contribution = f"np.where({upstream} != 0.0, {contribution}, 0.0)"',
        (
            "tests/test_replay.py::"
            "test_numpy_leaf_gradients_keep_minus_zero_where_backward_adds_nothing",
        ),
    ),
    Mutation(
        "the NumPy node-by-node program adds a leaf's contributions as one sum, then to its grad",
        "microgradx/replay_numpy.py",
        "        leaf.grad = float(numpy.add.accumulate(numpy.concatenate(([grad], terms)))[-1])\n",
        "        leaf.grad = grad + float(numpy.add.accumulate(terms)[-1])\n",
        ("tests/test_replay_order.py",),
    ),
    Mutation(
        "the NumPy level program adds a Value grad's contributions in another order",
        "microgradx/replay_numpy.py",
        "            for targets, where in self.leaf_sums:\n                for m, total",
        "            for targets, where in self.leaf_sums[::-1]:\n                for m, total",
        ("tests/test_replay_order.py::test_a_value_grad_gets_each_contribution_in_turn",),
    ),
    Mutation(
        "the NumPy level program adds a weight's contributions to its grad in another order",
        "microgradx/replay_numpy.py",
        "        for targets, where in self.leaf_sums:\n            totals",
        "        for targets, where in self.leaf_sums[::-1]:\n            totals",
        ("tests/test_replay_order.py",),
    ),
    Mutation(
        "a compiled call reads a weight that is not a number (no check of the leaves' data)",
        "microgradx/replay.py",
        "        _check_data(programs, self._model)\n",
        "",
        (
            "tests/test_bad_weights.py::"
            "test_a_compiled_call_names_a_weight_that_is_not_a_number_and_changes_nothing",
        ),
    ),
    Mutation(
        "an optimizer steps a weight that is not a number",
        "microgradx/optim.py",
        '                    weights[i] = w = number(w, f"data of {self._where(i)}")\n',
        "                    pass\n",
        ("tests/test_bad_weights.py::test_an_optimizer_step_names_a_weight_that_is_not_a_number",),
    ),
    Mutation(
        "save writes a weight that is not a number",
        "microgradx/io.py",
        '            name: checks.number(p.data, f"data of parameter {name!r}")\n',
        "            name: p.data\n",
        (
            "tests/test_bad_weights.py::"
            "test_save_names_a_weight_that_is_not_a_number_and_writes_nothing",
        ),
    ),
    Mutation(
        "fit does not look at the weights again after on_epoch",
        "microgradx/train.py",
        "            check_data(model.parameters(), model)\n",
        "",
        ("tests/test_bad_weights.py::test_fit_names_a_weight_set_to_junk_between_epochs",),
    ),
    Mutation(
        "no_full_collection() restores nothing when its block ends by an exception (GeneratorExit)",
        "microgradx/collector.py",
        "        yield\n    finally:\n        if opened:\n",
        "        yield\n    except BaseException:\n        opened = False\n        raise\n"
        "    finally:\n        if opened:\n",
        ("tests/test_collector_generators.py",),
    ),
    Mutation(
        "viz sizes: a bool is taken as a zoom (True draws at zoom 1)",
        "microgradx/viz/markup.py",
        '        raise TypeError(f"{name} must be a number, not a bool, got {describe(x)}")\n',
        "        pass\n",
        ("tests/test_viz_arguments.py",),
    ),
    Mutation(
        "viz sizes: a zoom down to 0 is taken (1e-320 draws a 0 px picture)",
        "microgradx/viz/markup.py",
        "MIN_ZOOM = 0.05 ",
        "MIN_ZOOM = 0.0 ",
        ("tests/test_viz_arguments.py",),
    ),
    Mutation(
        "viz sizes: picture_html draws a picture under 1 px wide",
        "microgradx/viz/markup.py",
        "        if round(natural * zoom) < 1:\n",
        "        if False:\n",
        (
            "tests/test_viz_arguments.py::"
            "test_a_picture_drawn_under_one_pixel_wide_is_refused_naming_zoom",
        ),
    ),
    Mutation(
        "viz sizes: a GraphView made directly (or by replace) keeps an unchecked zoom",
        "microgradx/viz/graph.py",
        '        object.__setattr__(self, "zoom", zoom_factor(self.zoom))\n',
        "",
        ("tests/test_viz_arguments.py",),
    ),
    Mutation(
        "viz sizes: the own layout takes any column_gap (NaN, a bool, 1e308)",
        "microgradx/viz/layout.py",
        '    column_gap = measure(column_gap, "column_gap", 0.0, MAX_COLUMN_GAP)\n',
        "",
        ("tests/test_viz_arguments.py",),
    ),
    Mutation(
        "viz sizes: a scene's state takes a bool or a float as a step",
        "microgradx/viz/scene.py",
        '        i = checks.index(i, "i", len(self.steps))\n        marks:',
        "        marks:",
        ("tests/test_viz_arguments.py",),
    ),
    Mutation(
        "viz sizes: the plots take True as a threshold or a line's coefficient",
        "microgradx/viz/plots.py",
        '    threshold = measure(threshold, "threshold")',
        '    threshold = checks.finite(threshold, "threshold")',
        ("tests/test_viz_arguments.py",),
    ),
    Mutation(
        "viz sizes: image_grid draws empty places past its images",
        "microgradx/viz/plots.py",
        "    columns = min(columns, len(images))",
        "    columns = columns",
        (
            "tests/test_viz_arguments.py::"
            "test_an_image_grid_of_fewer_images_than_columns_is_one_row_of_just_them",
        ),
    ),
    Mutation(
        "own layout: each label spot is compared with every area placed (quadratic)",
        "microgradx/viz/layout.py",
        "                for a in self.cells.get((i, j), ()):\n",
        "                for a in [a for c in self.cells.values() for a in c]:\n",
        (
            "tests/test_own_layout.py::"
            "test_placing_edge_labels_compares_each_spot_with_the_areas_near_it_not_every_one",
        ),
    ),
    Mutation(
        "own layout: an area is filed under one column of cells too few (a label on a box)",
        "microgradx/viz/layout.py",
        "        columns = range(math.floor(area[0] / cell), math.floor(area[2] / cell) + 1)\n",
        "        columns = range(math.floor(area[0] / cell), math.floor(area[2] / cell))\n",
        (
            "tests/test_own_layout.py::"
            "test_the_grid_of_placed_areas_answers_as_comparing_with_every_area_would",
        ),
    ),
    Mutation(
        "browser helpers: the step-through's right arrow key does nothing",
        "microgradx/viz/page.py",
        '    else if (event.key === "ArrowRight") show(current + 1);',
        '    else if (event.key === "ArrowRight") show(current);',
        ("tests/test_jupyter.py::test_step_through_works_in_an_nbconvert_html_export",),
    ),
    Mutation(
        "cli: --no-compile trains without checking that a batch's graph fits in memory",
        "microgradx/cli.py",
        "    _check_memory([len(X_train[0]), *args.hidden, classes], args, len(X_train))\n",
        "    if args.compile:\n"
        "        _check_memory([len(X_train[0]), *args.hidden, classes], args, len(X_train))\n",
        ("tests/test_cli.py::test_no_compile_refuses_a_batch_graph_beyond_memory_before_any_work",),
    ),
    Mutation(
        "playground: sys.exit() in a snippet escapes handle",
        "microgradx/playground.py",
        "        except BaseException as error:  # the user's code failed",
        "        except Exception as error:  # the user's code failed",
        (
            "tests/test_playground.py::test_a_snippet_that_exits_is_answered_like_any_failing_snippet",
        ),
    ),
    Mutation(
        "nn: parameters() compares a module list's items with == (a user's __eq__ hides one)",
        "microgradx/nn.py",
        "map(operator.is_, itertools.chain.from_iterable(self.other_lists), self.others)",
        "map(operator.eq, itertools.chain.from_iterable(self.other_lists), self.others)",
        (
            "tests/test_nn.py::"
            "test_a_module_that_calls_a_fresh_module_equal_still_has_its_parameters_found_again",
        ),
    ),
    Mutation(
        "nn: parameters() lets a weight list's NumPy array raise from ==",
        "microgradx/nn.py",
        "        except Exception:\n            return False\n        return same",
        "        except ZeroDivisionError:\n            return False\n        return same",
        ("tests/test_nn.py::test_numpy_arrays_kept_in_a_modules_list_never_break_parameters",),
    ),
    Mutation(
        "functional: count_paths keeps every node's exact count",
        "microgradx/functional.py",
        "            if not users[child]:\n                del paths[child]\n",
        "",
        (
            "tests/test_forward_functional.py::test_paths_of_a_deep_chain_take_memory_of_the_counts_still_needed",
        ),
    ),
    Mutation(
        "functional: chain_rule_paths counts exactly before comparing with its limit",
        "microgradx/functional.py",
        "min(sum(paths[c] for c in node.children), most)",
        "sum(paths[c] for c in node.children)",
        (
            "tests/test_forward_functional.py::test_paths_of_a_deep_chain_take_memory_of_the_counts_still_needed",
        ),
    ),
    Mutation(
        "exercises: a cell past grade_notebook's timeout loses every check",
        "microgradx/exercises/grading.py",
        "        interrupt_on_timeout=True,",
        "        interrupt_on_timeout=False,",
        (
            "tests/test_course.py::test_a_cell_past_the_timeout_is_interrupted_listed_and_the_run_goes_on",
        ),
    ),
    Mutation(
        "exercises: a kernel that dies makes grade_notebook raise",
        "microgradx/exercises/grading.py",
        "    except DeadKernelError:",
        "    except ZeroDivisionError:",
        ("tests/test_course.py::test_a_kernel_that_dies_is_listed_and_the_grade_still_comes_back",),
    ),
    Mutation(
        "exercises: a malformed notebook raises whatever nbformat ran into",
        "microgradx/exercises/grading.py",
        "    except Exception as error:  # nbformat reports",
        "    except ValueError as error:  # nbformat reports",
        ("tests/test_course.py::test_a_file_that_is_not_a_notebook_is_one_value_error_naming_it",),
    ),
    Mutation(
        "enginecheck: a FIFO or a folder named as the target is 'no such file'",
        "microgradx/enginecheck/target.py",
        "            if os.path.lexists(where):  # a folder, a FIFO, a device: say what it is",
        "            if False:  # a folder, a FIFO, a device: say what it is",
        ("tests/test_enginecheck.py::test_a_target_path_that_is_no_file_says_what_it_is",),
    ),
    Mutation(
        "nn: from_torch draws its Linears' starting weights from manual_seed's generator",
        "microgradx/nn.py",
        "        linear = Linear(layer.in_features, layer.out_features, rng=rng)",
        "        linear = Linear(layer.in_features, layer.out_features)",
        (
            "tests/test_nn_vs_torch.py::test_from_torch_draws_nothing_from_the_default_generator_and_refuses_before_building",
        ),
    ),
    Mutation(
        "nn: from_torch builds layer by layer before checking the whole network's size",
        "microgradx/nn.py",
        '    _check_size(weights, "sequential\'s Linear layers")',
        '    _check_size(0, "sequential\'s Linear layers")',
        (
            "tests/test_nn_vs_torch.py::test_from_torch_draws_nothing_from_the_default_generator_and_refuses_before_building",
        ),
    ),
    Mutation(
        "exercises: notebook 03's reference draws from manual_seed's generator",
        "microgradx/exercises/notebook03.py",
        "    neuron = Neuron(2, activation=None, rng=random.Random(0))",
        "    neuron = Neuron(2, activation=None)",
        (
            "tests/test_course.py::test_checking_an_exercise_draws_nothing_from_manual_seeds_generator",
        ),
    ),
    Mutation(
        "functional: hessian takes bytes as a list of ints",
        "microgradx/functional.py",
        "    inputs = sequence(inputs, name)  # a list, a tuple, a NumPy array; not a str or bytes",
        "    inputs = list(inputs)",
        (
            "tests/test_forward_functional.py::test_hessian_hvp_and_grad_take_what_every_list_argument_takes",
        ),
    ),
    Mutation(
        "losses: cross_entropy prints a class index of any size in its message",
        "microgradx/losses.py",
        "shown = t if abs(t).bit_length() <= 64 else describe(t)",
        "shown = t",
        (
            "tests/test_forward_functional.py::test_an_int_of_more_digits_than_str_converts_is_named_not_printed",
        ),
    ),
    Mutation(
        "dual: jvp calls func with a wrong number of primals",
        "microgradx/dual.py",
        '    takes(f, len(xs), "func", "primals")  # named',
        '    (f, len(xs), "func", "primals")  # named',
        (
            "tests/test_forward_functional.py::test_jvp_and_derivative_take_numpy_arrays_and_name_their_arguments",
        ),
    ),
    Mutation(
        "nn: parameters() finds and keeps without the lock a structure change takes",
        "microgradx/nn.py",
        "        with _kept_lock:  # threads:",
        "        if True:  # threads:",
        (
            "tests/test_nn.py::test_a_change_made_while_another_thread_finds_the_parameters_is_never_lost",
        ),
    ),
    Mutation(
        "the Python back-end makes every line of a large graph before compiling a piece",
        "microgradx/replay_python.py",
        "    _write(tape, names, writer, found)\n    return writer.program()\n",
        "    lists = _Lists()\n    _write(tape, names, lists, found)\n"
        "    for line in lists.forward:\n        writer.append(line)\n"
        "    writer.forward_done(lists.only)\n"
        "    for line in lists.backward:\n        writer.append(line)\n"
        "    writer.done(lists.result)\n    return writer.program()\n",
        (
            "tests/test_compile_memory.py::"
            "test_the_python_back_end_compiles_a_large_graph_in_pieces_as_its_lines_are_made",
            "tests/test_compile_memory.py::"
            "test_compiling_a_random_graph_without_sums_takes_at_most_1_5_kb_a_node",
        ),
    ),
    Mutation(
        "the Python back-end compiles pieces of 400 lines (1.7 KB a node on 2,000 nodes)",
        "microgradx/replay_python.py",
        "CHUNK = 200\n",
        "CHUNK = 400\n",
        (
            "tests/test_compile_memory.py::"
            "test_compiling_a_random_graph_without_sums_takes_at_most_1_5_kb_a_node",
        ),
    ),
    Mutation(
        "the compiled Python program negates a recorded number keeping a NaN's sign (0.0 - x)",
        "microgradx/replay_python.py",
        '                text = f"-{x}" if kind == "neg" else f"abs({x})"\n',
        '                text = f"0.0 - {x}" if kind == "neg" else f"abs({x})"\n',
        (
            "tests/test_compile_memory.py::"
            "test_nan_results_of_a_compiled_run_have_the_interpreted_engines_sign",
        ),
    ),
    Mutation(
        "recording builds a set of the second run's leaves for every leaf it made (quadratic)",
        "microgradx/replay_record.py",
        "    captured = [leaf for leaf in extra if leaf in in_second]\n",
        "    captured = [leaf for leaf in extra if leaf in set(second.leaves)]\n",
        (
            "tests/test_compile_memory.py::"
            "test_recording_a_function_that_makes_many_constants_is_linear_in_them",
        ),
    ),
    Mutation(
        "a centered RMSprop takes math.sqrt of a variance estimate rounded below 0",
        "microgradx/optim.py",
        "                root = math.sqrt(mean_square) if mean_square >= 0 else math.nan\n",
        "                root = math.sqrt(mean_square)\n",
        (
            "tests/test_hostile_train_io.py::"
            "test_centered_rmsprop_whose_variance_rounds_below_zero_steps_to_nan_as_torch",
        ),
    ),
    Mutation(
        "clip_grad_norm_ lets the OverflowError of a tiny order's root escape",
        "microgradx/optim.py",
        "    except OverflowError:  # n ** (1/p) past a float for a tiny p: inf, as torch's norm\n",
        "    except ZeroDivisionError:\n",
        (
            "tests/test_hostile_train_io.py::"
            "test_clip_grad_norm_of_a_tiny_order_is_inf_not_overflow_error",
        ),
    ),
    Mutation(
        "a write replaces a file without any write permission bit (os.replace does not care)",
        "microgradx/files.py",
        "    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)",
        "    if not False",
        (
            "tests/test_hostile_train_io.py::"
            "test_save_refuses_a_read_only_file_and_a_link_to_one_leaving_both_alone",
        ),
    ),
    Mutation(
        "activation_histograms hands a diverged model's NaN outputs to numpy's hist",
        "microgradx/viz/plots.py",
        "        finite = [v for v in values if math.isfinite(v)]\n",
        "        finite = values\n",
        (
            "tests/test_hostile_train_io.py::"
            "test_activation_histograms_of_a_diverged_model_counts_its_non_finite_outputs",
        ),
    ),
    Mutation(
        "gradient_histograms counts an inf gradient as 0",
        "microgradx/viz/plots.py",
        "        zeros = sum(1 for g in grads if g == 0)\n",
        "        zeros = len(grads) - len(nonzero)\n",
        (
            "tests/test_hostile_train_io.py::"
            "test_gradient_histograms_does_not_count_an_inf_gradient_as_zero",
        ),
    ),
    Mutation(
        "decision_boundary's padded range is not kept inside what matplotlib can place ticks on",
        "microgradx/viz/plots.py",
        "_LARGEST = 1e306\n",
        "_LARGEST = 1.7976931348623157e308\n",
        (
            "tests/test_hostile_train_io.py::"
            "test_decision_boundary_of_points_near_the_end_of_the_floats",
        ),
    ),
    Mutation(
        "the NumPy node-by-node program reads a weight as a Python float (w / w at 0 raises)",
        "microgradx/replay_numpy.py",
        'return f"np.float64(P[{self.leaf_index[node]}].data)"',
        'return f"P[{self.leaf_index[node]}].data"',
        (
            "tests/test_replay_order.py::"
            "test_a_node_of_weights_alone_gives_ieee_results_as_backward_does",
        ),
    ),
    # issue 22 (third session): compile() pays no full collection over the graph it records
    Mutation(
        "compile() lets full collections visit the graph it records",
        "microgradx/replay.py",
        "    with no_full_collection():\n        tape, state = record_function(",
        "    if True:\n        tape, state = record_function(",
        (
            "tests/test_collector.py::test_compiling_pays_no_full_collection_over_the_graph_it_records",
        ),
    ),
    Mutation(
        "a compiled call that records again lets full collections visit the new graph",
        "microgradx/replay.py",
        "            with no_full_collection():  # as in compile_function\n",
        "            if True:\n",
        (
            "tests/test_collector.py::test_compiling_pays_no_full_collection_over_the_graph_it_records",
        ),
    ),
    Mutation(
        "the browser tests' and benchmarks' server serves the folder's parent",
        "tests/browser.py",
        "partial(_Quiet, directory=str(folder))",
        "partial(_Quiet, directory=str(folder.parent))",
        ("tests/test_browser_helpers.py::test_serve_serves_the_folder_and_nothing_beside_it",),
    ),
    Mutation(
        "the browser tests' server goes on serving after its block",
        "tests/browser.py",
        "        httpd.shutdown()\n        httpd.server_close()\n        thread.join()\n",
        "        httpd.server_close()\n",
        ("tests/test_browser_helpers.py",),
    ),
    Mutation(
        "a browser test's page may reach a port that only starts like its server's",
        "tests/browser.py",
        'if url.startswith(base + "/"):',
        "if url.startswith(base):",
        ("tests/test_browser_helpers.py",),
    ),
    Mutation(
        "the JupyterLite route does not hand over window.jupyterapp",
        "tests/browser.py",
        'config["jupyter-config-data"]["exposeAppInBrowser"] = True',
        "pass",
        ("tests/test_browser_helpers.py",),
    ),
    Mutation(
        "a setting takes a bool as a number (make_moons(noise=True) is noise 1.0)",
        "microgradx/checks.py",
        "    if is_real(x) and not isinstance(x, bool):\n",
        "    if is_real(x):\n",
        (
            "tests/test_arguments.py::"
            "test_a_bool_is_refused_as_a_setting_and_taken_as_data[data.make_moons:noise]",
            "tests/test_arguments.py::"
            "test_a_bool_is_refused_as_a_setting_and_taken_as_data[optim.StepLR:gamma]",
            "tests/test_arguments.py::test_the_bool_rule_in_checks",
        ),
    ),
    Mutation(
        "an operand is checked as a setting (Value(2.0) * True is refused)",
        "microgradx/engine.py",
        'x = x.keep() if isinstance(x, RecordedNumber) else number(x, "operand")',
        'x = x.keep() if isinstance(x, RecordedNumber) else real(x, "operand")',
        (
            "tests/test_arguments.py::"
            "test_a_bool_is_refused_as_a_setting_and_taken_as_data[microgradx.Value.__mul__:other]",
        ),
    ),
    Mutation(
        "a 0-d NumPy array is no number (the Python back-end refuses it, the NumPy one takes it)",
        "microgradx/checks.py",
        '        if kind.__name__ == "ndarray" and x.ndim == 0 and x.dtype.kind in "fiub":\n'
        "            return number(x.item(), name)\n",
        "",
        (
            "tests/test_replay.py::"
            "test_both_backends_take_the_same_numbers_as_inputs[0-d float array]",
        ),
    ),
    Mutation(
        "compile takes a NaN in check (a check that can say nothing)",
        "microgradx/replay_record.py",
        'probes.append([input_number(x, f"check[{i}]", why) for i, x in enumerate(check)])',
        'probes.append([checks.number(x, f"check[{i}]") for i, x in enumerate(check)])',
        (
            "tests/test_replay.py::"
            "test_a_check_on_numbers_that_are_not_finite_is_refused_by_position",
        ),
    ),
    Mutation(
        "an optimizer's step keeps a float32 weight's type (rounded to float32 every step)",
        "microgradx/optim.py",
        'weights[i] = w = number(w, f"data of {self._where(i)}")',
        'number(w, f"data of {self._where(i)}")',
        (
            "tests/test_losses_optim.py::"
            "test_a_step_writes_python_floats_whatever_type_the_data_had",
        ),
    ),
    Mutation(
        "GraphView takes a bool as its count of nodes",
        "microgradx/viz/graph.py",
        '        object.__setattr__(self, "nodes", checks.count(self.nodes, "nodes", minimum=0))\n',
        "",
        (
            "tests/test_arguments.py::"
            "test_a_bool_is_refused_as_a_setting_and_taken_as_data[viz.GraphView:nodes]",
        ),
    ),
    Mutation(
        "a 0-d NumPy array passes as a list (len() of it raises a TypeError naming nothing)",
        "microgradx/checks.py",
        'if isinstance(x, (str, bytes, dict)) or not hasattr(x, "__len__") or _zero_d(x):',
        'if isinstance(x, (str, bytes, dict)) or not hasattr(x, "__len__"):',
        ("tests/test_arguments.py::test_the_bool_rule_in_checks",),
    ),
    Mutation(
        "a compiled call takes a weight that is a 0-d array (its outputs become NumPy numbers)",
        "microgradx/replay.py",
        "        if not checks.is_real(leaf.data):  # the program reads data as it is",
        "        if False:  # the program reads data as it is",
        ("tests/test_bad_weights.py::test_a_compiled_call_refuses_a_weight_that_is_a_0d_array",),
    ),
    Mutation(
        "the engine checker reads an engine's text as a number (float('1.5') parses it)",
        "microgradx/enginecheck/target.py",
        "        if isinstance(x, TEXT):\n            return None\n",
        "",
        (
            "tests/test_hostile_inputs.py::test_an_engine_with_gradients_as_text_does_not_pass",
            "tests/test_hostile_inputs.py::test_an_engine_with_numbers_as_text_is_not_value_like",
        ),
    ),
    Mutation(
        "grad takes only int and float as a constant function's output (NumPy's float32 refused)",
        "microgradx/functional.py",
        "    if is_real(result) and not isinstance(result, bool):\n",
        "    if isinstance(result, (int, float)) and not isinstance(result, bool):\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_a_function_returning_any_real_number_is_a_constant_with_gradient_zero",
        ),
    ),
    Mutation(
        "jvp returns a constant function's output as it is (an int beyond a float, a NumPy scalar)",
        "microgradx/dual.py",
        '        return real(out, f"{name}\'s result"), 0.0\n',
        "        return out, 0.0\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_a_function_returning_an_int_beyond_a_float_gets_a_valueerror_naming_it",
        ),
    ),
    Mutation(
        "grad takes any has_aux by its truth ('yes' is True)",
        "microgradx/functional.py",
        '    has_aux = flag(has_aux, "has_aux")\n\n    def gradient_of',
        "    def gradient_of",
        ("tests/test_hostile_inputs.py::test_has_aux_must_be_true_or_false",),
    ),
    Mutation(
        "grad of a function of an empty list asks autograd.grad for the gradient of no inputs",
        "microgradx/functional.py",
        " if leaves else ()\n",
        "\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_an_empty_list_argument_has_an_empty_gradient_whatever_the_function_returns",
        ),
    ),
    Mutation(
        "hessian and hvp refuse a constant function that grad accepts",
        "microgradx/functional.py",
        '    return leaves, _output(out, "func must return one Value"), nested or graphs\n',
        "    return leaves, out, nested or graphs\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_hessian_and_hvp_of_a_constant_function_are_zero_as_grad_is",
        ),
    ),
    Mutation(
        "the engine checker prints an engine's exception with str(), which may raise",
        "microgradx/enginecheck/target.py",
        "    except BaseException as failure:\n"
        '        return f"(its str() raised {type(failure).__name__})"\n',
        "",
        (
            "tests/test_hostile_inputs.py::"
            "test_exceptions_that_cannot_be_printed_are_crashes_named_not_a_crash_of_the_checker",
            "tests/test_hostile_inputs.py::"
            "test_an_import_raising_an_unprintable_exception_is_a_target_error",
        ),
    ),
    Mutation(
        "the engine checker prints sys.exit's code with repr(), which may raise",
        "microgradx/enginecheck/child.py",
        "    except BaseException as failure:\n"
        '        return f"an object whose repr() raised {type(failure).__name__}"\n',
        "",
        (
            "tests/test_hostile_inputs.py::"
            "test_exceptions_that_cannot_be_printed_are_crashes_named_not_a_crash_of_the_checker",
        ),
    ),
    Mutation(
        "the step-through sums every node's contributions again after each step (quadratic)",
        "microgradx/viz/steps.py",
        "                    if got and got[-1][0] > op_step.index:\n",
        "                    if got:\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_the_gradients_shown_after_each_step_cost_one_addition_per_contribution",
        ),
    ),
    Mutation(
        "the step-through adds a contribution that arrives out of backward()'s order last",
        "microgradx/viz/steps.py",
        "                        insort(got, arrived, key=lambda item: item[0])",
        "                        got.append(arrived)",
        (
            "tests/test_hostile_inputs.py::"
            "test_gradients_shown_at_neuron_level_still_add_in_backwards_order",
        ),
    ),
    Mutation(
        "trace[i] takes a bool as a list does (trace[True] is step 1), unlike equation(i)",
        "microgradx/viz/trace.py",
        '        return steps[checks.index(i, "i", len(steps))]\n',
        "        return steps[i]\n",
        ("tests/test_hostile_inputs.py::test_a_trace_is_indexed_as_equation_and_frame_are",),
    ),
    Mutation(
        "an in-process check leaves the tracer an engine set with sys.settrace",
        "microgradx/enginecheck/inprocess.py",
        "            sys.settrace(self.tracers[0])\n",
        "",
        (
            "tests/test_hostile_inputs.py::"
            "test_tracers_and_the_digit_limit_an_engine_sets_are_put_back_after_an_in_process_check",
        ),
    ),
    Mutation(
        "an in-process check leaves the tracer an engine set for new threads",
        "microgradx/enginecheck/inprocess.py",
        "            threading.settrace(self.tracers[2][0])\n",
        "",
        (
            "tests/test_hostile_inputs.py::"
            "test_tracers_and_the_digit_limit_an_engine_sets_are_put_back_after_an_in_process_check",
        ),
    ),
    Mutation(
        "grad differentiates the list f was given as f left it (f popped an entry: one gradient)",
        "microgradx/functional.py",
        "    leaves = [leaf for k in chosen for leaf in own[k]]\n",
        "    leaves = [leaf for k in chosen for leaf in _flat(call_args[k])]\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_a_function_that_changes_the_list_it_is_given_gets_one_gradient_per_input",
        ),
    ),
    Mutation(
        "an in-process check leaves running the alarm an engine set (SIGALRM ends the kernel)",
        "microgradx/enginecheck/inprocess.py",
        "                signal.setitimer(timer, 0.0)\n",
        "                pass\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_an_alarm_an_engine_sets_is_cancelled_after_an_in_process_check",
        ),
    ),
    Mutation(
        "jvp returns a result holding a Dual of a call that has returned (a leaked input)",
        "microgradx/dual.py",
        "            if item.tag not in live:\n",
        "            if False:\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_a_dual_kept_from_a_finished_jvp_is_refused_not_returned_as_a_result",
        ),
    ),
    Mutation(
        "jvp takes as a primal a Dual of a call that has returned (the error names no argument)",
        "microgradx/dual.py",
        "        _refuse_leaked(x, None, name)\n",
        "",
        (
            "tests/test_hostile_inputs.py::"
            "test_a_dual_kept_from_a_finished_jvp_is_refused_not_returned_as_a_result",
        ),
    ),
    Mutation(
        "the engine checker lets Hypothesis read the process's modules for constants (and write"
        " .hypothesis/ where it runs)",
        "microgradx/enginecheck/checks.py",
        "            with source_constants_off():\n                prop()",
        "            if True:\n                prop()",
        (
            "tests/test_enginecheck.py::"
            "test_a_check_writes_nothing_where_it_runs_and_puts_hypothesis_back",
        ),
    ),
    Mutation(
        "a Ctrl-C while no_full_collection opens is delivered before its try (the pause stays)",
        "microgradx/collector.py",
        "            opened = True\n        yield\n    finally:\n        if opened:\n",
        "            opened = True\n    finally:\n        pass\n    try:\n        yield\n"
        "    finally:\n        if opened:\n",
        (
            "tests/test_collector.py::"
            "test_ctrl_c_while_the_block_opens_still_puts_the_settings_back",
        ),
    ),
    Mutation(
        "NumPy's timedelta64 counts as a number (NumPy registers it as a numbers.Integral)",
        "microgradx/checks.py",
        '    return kind.__name__ == "timedelta64" and kind.__module__ == "numpy"\n',
        "    return False\n",
        (
            "tests/test_arguments.py::"
            "test_a_duration_or_an_unconvertible_real_is_no_number_and_a_huge_longdouble_is_named",
        ),
    ),
    Mutation(
        "a finite longdouble beyond a float becomes inf instead of being refused as too large",
        "microgradx/checks.py",
        "    if math.isinf(value) and x != value:",
        "    if False:",
        (
            "tests/test_arguments.py::"
            "test_a_duration_or_an_unconvertible_real_is_no_number_and_a_huge_longdouble_is_named",
        ),
    ),
    Mutation(
        "a numbers.Real whose float() fails raises its own error, naming nothing",
        "microgradx/checks.py",
        "    except (TypeError, ValueError) as error:\n        raise TypeError(",
        "    except ZeroDivisionError as error:\n        raise TypeError(",
        (
            "tests/test_arguments.py::"
            "test_a_duration_or_an_unconvertible_real_is_no_number_and_a_huge_longdouble_is_named",
        ),
    ),
    Mutation(
        "the engine checker reads NumPy text in an array (np.array('1.5')) as a number",
        "microgradx/enginecheck/target.py",
        '        if not isinstance(kind, str) or kind in "biuf":\n',
        "        if True:\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_numpy_text_dates_and_durations_are_not_an_engines_number",
        ),
    ),
    Mutation(
        "the engine checker calls a str subclass's methods outside the guard of its message",
        "microgradx/enginecheck/target.py",
        '        text = " ".join(str(error).split())\n'
        "        return str.__getitem__(text, slice(0, most))",
        "        text = str(error)\n        return text\n    finally:\n        pass\n"
        '    return " ".join(text.split())[:most]\n    try:\n        pass',
        (
            "tests/test_hostile_inputs.py::"
            "test_an_exception_whose_str_is_a_str_subclass_with_raising_methods_is_named",
        ),
    ),
    Mutation(
        "in-process checks leave the collector's debug flags the engine set (DEBUG_SAVEALL)",
        "microgradx/enginecheck/inprocess.py",
        "        gc.set_debug(self.gc[2])\n",
        "",
        (
            "tests/test_hostile_inputs.py::"
            "test_the_collectors_debug_flags_callbacks_and_the_hooks_an_engine_sets_are_put_back",
        ),
    ),
    Mutation(
        "in-process checks leave sys.unraisablehook, breakpointhook, threading.excepthook as set",
        "microgradx/enginecheck/inprocess.py",
        "        if _hooks() != self.hooks:\n",
        "        if False:\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_the_collectors_debug_flags_callbacks_and_the_hooks_an_engine_sets_are_put_back",
        ),
    ),
    Mutation(
        "in-process checks leave a gc.callbacks entry the engine added (run at every collection)",
        "microgradx/enginecheck/inprocess.py",
        "        if gc.callbacks != self.gc[3]:\n",
        "        if False:\n",
        (
            "tests/test_hostile_inputs.py::"
            "test_the_collectors_debug_flags_callbacks_and_the_hooks_an_engine_sets_are_put_back",
        ),
    ),
    Mutation(
        "hvp reads its vector v as a setting (v=[True], v=[np.array(1.0)] refused; jvp takes them)",
        "microgradx/functional.py",
        '    vector = [x if isinstance(x, Value) else number(x, f"v[{i}]")',
        '    vector = [x if isinstance(x, Value) else real(x, f"v[{i}]")',
        ("tests/test_hostile_inputs.py::test_hvps_vector_is_data_as_jvps_tangents_are",),
    ),
    Mutation(
        "a NumPy bool as a setting is refused without saying it is a bool",
        "microgradx/checks.py",
        '    also = ", not a bool" if isinstance(x, bool) or _numpy_bool(x) else ""',
        '    also = ", not a bool" if isinstance(x, bool) else ""',
        ("tests/test_arguments.py::test_the_bool_rule_in_checks",),
    ),
    Mutation(
        "the NumPy back-end converts a longdouble batch whole (beyond a float: 'is inf')",
        "microgradx/replay.py",
        "        if array.dtype.itemsize > 8:",
        "        if False:",
        ("tests/test_replay.py::test_both_backends_refuse_a_batch_with_the_same_words",),
    ),
    Mutation(
        "overlapping source_constants_off blocks: each close puts back what it saved",
        "microgradx/enginecheck/checks.py",
        "                if _constants_off[0] == 0:\n"
        "                    providers._get_local_constants",
        "                if True:\n                    providers._get_local_constants",
        (
            "tests/test_enginecheck.py::"
            "test_overlapping_source_constants_off_blocks_put_hypothesis_back_in_any_order",
        ),
    ),
    Mutation(
        "grad's argnums takes NumPy's timedelta64 as an int (a numbers.Integral by registration)",
        "microgradx/functional.py",
        "        if not is_int(given):  # NumPy's too",
        "        if isinstance(given, bool):  # NumPy's too",
        ("tests/test_hostile_inputs.py::test_argnums_is_an_int_and_not_a_numpy_duration",),
    ),
    Mutation(
        "in-process checks cancel only the real-time timer an engine starts (not virtual/prof)",
        "microgradx/enginecheck/inprocess.py",
        '_TIMERS = ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF")',
        '_TIMERS = ("ITIMER_REAL",)',
        (
            "tests/test_hostile_inputs.py::"
            "test_a_virtual_or_profiling_timer_an_engine_starts_is_cancelled_after_an_in_process_check",
        ),
    ),
    Mutation(
        "in-process checks leave the SIGVTALRM/SIGPROF handlers an engine sets",
        "microgradx/enginecheck/inprocess.py",
        '_SIGNALS = ("SIGINT", "SIGTERM", "SIGALRM", "SIGVTALRM", "SIGPROF")',
        '_SIGNALS = ("SIGINT", "SIGTERM", "SIGALRM")',
        (
            "tests/test_hostile_inputs.py::"
            "test_a_virtual_or_profiling_timer_an_engine_starts_is_cancelled_after_an_in_process_check",
        ),
    ),
    Mutation(
        "only NumPy's own 0-d arrays are no list (a masked one's, a torch tensor's len() raises)",
        "microgradx/checks.py",
        '    return getattr(x, "ndim", None) == 0\n',
        '    return type(x).__module__ == "numpy" and getattr(x, "ndim", None) == 0\n',
        ("tests/test_arguments.py::test_the_bool_rule_in_checks",),
    ),
    Mutation(
        "topological_order places a run of waiting nodes in the order they were opened",
        "microgradx/engine.py",
        "                run.reverse()\n",
        "",
        ("tests/test_walk.py::test_topological_order_keeps_its_guarantees_on_random_dags",),
    ),
    Mutation(
        "topological_order expands a set-aside input before the nodes opened after it are placed",
        "microgradx/engine.py",
        "            if len(opened) > mark:  # the nodes opened since",
        "            if False:  # the nodes opened since",
        ("tests/test_walk.py::test_topological_order_keeps_its_guarantees_on_random_dags",),
    ),
    Mutation(
        "backward() misses the grad of a node it walks into (not placed by the shortcut)",
        "microgradx/engine.py",
        "                if node.grad is not _FRESH and keep:\n"
        "                    kept.append((node, node.grad))\n",
        "",
        ("tests/test_walk.py::test_backward_is_the_reference_walk_bit_for_bit_on_random_dags",),
    ),
    Mutation(
        "topological_order places an op of three or more inputs before the inputs it set aside",
        "microgradx/engine.py",
        "                        marks += [len(opened)] * len(waiting)\n",
        "                        marks += [0] * len(waiting)\n",
        ("tests/test_walk.py::test_topological_order_keeps_its_guarantees_on_random_dags",),
    ),
    Mutation(
        "a site build without npm runs it anyway (a traceback instead of one line naming npm)",
        "playground/build_site.py",
        "        if npm is None:\n",
        "        if False:\n",
        (
            "tests/test_playground.py::"
            "test_a_site_build_without_npm_is_one_line_naming_it_and_makes_nothing",
        ),
    ),
    Mutation(
        "a build step's failure exit status is ignored",
        "playground/build_site.py",
        "    if result.returncode != 0:\n        raise ToolError(",
        "    if False:\n        raise ToolError(",
        (
            "tests/test_playground.py::"
            "test_a_build_step_that_fails_or_cannot_start_is_a_tool_error_naming_it",
        ),
    ),
    Mutation(
        "a tool failing in a lite build is a traceback, not one line",
        "playground/build_lite.py",
        "    except ToolError as error:\n        parser.exit(1,",
        "    except OSError as error:\n        parser.exit(1,",
        (
            "tests/test_lite.py::"
            "test_a_tool_failing_in_a_lite_build_is_one_line_and_keeps_the_previous_site",
        ),
    ),
    Mutation(
        "the CLI asks fit for a progress bar without tqdm (fit's warning, a source line of ours)",
        "microgradx/cli.py",
        "'microgradx[progress]' for one)\", file=out)\n        return False\n",
        "'microgradx[progress]' for one)\", file=out)\n        return True\n",
        (
            "tests/test_cli.py::"
            "test_demo_without_tqdm_and_matplotlib_says_so_in_plain_lines_and_still_draws_the_graph",
        ),
    ),
    Mutation(
        "the demo without matplotlib says it wrote nothing (the graph was written)",
        "microgradx/cli.py",
        '        print(f"\\nNo decision boundary picture: {error}", file=out)\n',
        '        print(f"\\nNo decision boundary picture: {error}", file=out)\n        return\n',
        (
            "tests/test_cli.py::"
            "test_demo_without_tqdm_and_matplotlib_says_so_in_plain_lines_and_still_draws_the_graph",
        ),
    ),
    Mutation(
        "microgradx vectors --out FILE prints nothing",
        "microgradx/cli.py",
        '                print(f"Wrote {cases} cases to {args.out}")\n',
        "                pass\n",
        ("tests/test_cli.py::test_vectors_says_how_many_cases_it_wrote_where",),
    ),
    Mutation(
        "the step-through's recorded pass runs while another thread's backward() runs",
        "microgradx/viz/record.py",
        "    with PASS_LOCK:\n        order = topological_order(root)\n",
        "    if True:\n        order = topological_order(root)\n",
        ("tests/test_trace.py::test_the_recorded_pass_takes_turns_with_backward_in_other_threads",),
    ),
    Mutation(
        "topological_order keeps a (node, grad) for each node it walks into, for nothing",
        "microgradx/engine.py",
        "                if node.grad is not _FRESH and keep:\n",
        "                if node.grad is not _FRESH:\n",
        (
            "tests/test_walk.py::"
            "test_topological_order_of_a_graph_walked_by_backward_keeps_nothing_a_node",
        ),
    ),
    Mutation(
        "topological_order keeps a (node, grad) for each node its shortcut places, for nothing",
        "microgradx/engine.py",
        "                        if right.grad is not _FRESH and keep:\n",
        "                        if right.grad is not _FRESH:\n",
        (
            "tests/test_walk.py::"
            "test_topological_order_of_a_graph_walked_by_backward_keeps_nothing_a_node",
        ),
    ),
    Mutation(
        "make lab without its settings: JupyterLab asks the learner about its news feed",
        "Makefile",
        " --LabApp.app_settings_dir=$(CURDIR)/playground/lab-settings\n",
        "\n",
        (
            "tests/test_jupyter.py::"
            "test_step_through_works_in_jupyterlab_after_save_kernel_shutdown_and_reopen",
        ),
    ),
]


def _pytest(workspace: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(workspace), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            *tests,
        ],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
    )


def _fresh_copy(workspace: Path) -> None:
    package = workspace / "microgradx"
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(ROOT / "microgradx", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "Makefile", workspace / "Makefile")  # a mutation of the lab recipe
    runners = workspace / "docs" / "runners"  # a mutation of the golden vectors' runner
    shutil.rmtree(runners, ignore_errors=True)
    shutil.copytree(ROOT / "docs" / "runners", runners)


def run(mutation: Mutation, workspace: Path) -> tuple[bool, float, str]:
    """Apply ``mutation`` to a fresh copy of the package; True if its tests fail (and the first
    failing test, to show that it failed for this reason)."""
    _fresh_copy(workspace)
    target = workspace / mutation.path
    text = target.read_text(encoding="utf-8")
    if text.count(mutation.old) != 1:
        raise SystemExit(f"{mutation.name}: the text to change is not in {mutation.path} once")
    mutated = text.replace(mutation.old, mutation.new)
    if target.suffix == ".py":
        # A mutation that does not compile fails every test without testing anything: it
        # would be counted as caught (one was, with an empty [first failing test]).
        try:
            compile(mutated, str(target), "exec")
        except SyntaxError as error:
            message = f"{mutation.name}: the mutated file does not compile: {error}"
            raise SystemExit(message) from None
    target.write_text(mutated, encoding="utf-8")
    start = time.perf_counter()
    try:
        result = _pytest(workspace, mutation.tests)
    finally:  # the next mutation starts from this file unmutated (not all are in _fresh_copy)
        target.write_text(text, encoding="utf-8")
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    first = failed[0].split(" - ")[0].removeprefix("FAILED ") if failed else ""
    return result.returncode != 0, time.perf_counter() - start, first


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(a in m.name for a in argv)]
    survived = 0
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "main"  # the repository without .git and .venv
        skip = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".*cache")
        shutil.copytree(ROOT, workspace, ignore=skip)
        # Unmutated, every chosen test file must pass, or "caught" would mean nothing.
        _fresh_copy(workspace)
        for tests in sorted({m.tests for m in chosen}):
            baseline = _pytest(workspace, tests)
            if baseline.returncode != 0:
                print(baseline.stdout[-3000:])
                raise SystemExit(f"the unmutated code fails {' '.join(tests)}: fix that first")
        for mutation in chosen:
            caught, seconds, first = run(mutation, workspace)
            survived += not caught
            verdict = "caught" if caught else "SURVIVED"
            print(f"{verdict:<9} {seconds:5.1f} s  {mutation.name}  [{first}]", flush=True)
    print(f"{len(chosen) - survived} of {len(chosen)} mutations caught")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
