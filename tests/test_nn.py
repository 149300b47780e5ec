"""Modules: parameters and their names, modes, errors, and that gradients reach every weight."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from microgradx import Value, gradcheck, manual_seed, nn
from microgradx.nn import (
    MLP,
    Dropout,
    Layer,
    LeakyReLU,
    Linear,
    Maxout,
    Neuron,
    ReLU,
    Sequential,
    Tanh,
    get_activation,
)
from microgradx.optim import SGD


def test_neuron_is_dot_product_plus_bias_through_a_nonlinearity():
    n = Neuron(3, "tanh")
    for w, value in zip(n.w, [0.5, -1.0, 2.0]):
        w.data = value
    n.b.data = 0.25
    out = n([1.0, 2.0, 3.0])
    assert out.data == pytest.approx(math.tanh(0.5 - 2.0 + 6.0 + 0.25))


def test_mlp_parameter_count_names_and_labels():
    model = MLP(2, [16, 16, 1])
    assert len(model.parameters()) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1) == 337
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert "layers.1.neurons.3.w.15" in names
    assert names[-1] == "layers.2.neurons.0.b"
    assert len(set(names)) == len(names)
    assert all(p.label == name for name, p in model.named_parameters())
    assert repr(model) == (
        "MLP(2, [16, 16, 1], activation='tanh', output_activation='linear') with 337 parameters"
    )


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = MLP(2, [4, 1], seed=3), MLP(2, [4, 1], seed=3), MLP(2, [4, 1], seed=4)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert [p.data for p in a.parameters()] != [p.data for p in c.parameters()]


@pytest.mark.parametrize(
    ("init", "bound"), [("xavier", math.sqrt(6 / 20)), ("he", math.sqrt(6 / 4)), ("uniform", 1.0)]
)
def test_initialisations_stay_in_their_bounds(init, bound):
    layer = Layer(4, 16, init=init)
    weights = [w.data for n in layer.neurons for w in n.w]
    assert all(abs(w) <= bound for w in weights)
    assert max(abs(w) for w in weights) > 0.5 * bound  # actually spread over the range
    assert all(n.b.data == 0.0 for n in layer.neurons)


def test_one_output_mlp_returns_a_value_several_return_a_list():
    assert isinstance(MLP(2, [3, 1])([1.0, 2.0]), Value)
    out = MLP(2, [3, 2])([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 2


def test_gradients_of_an_mlp_match_central_differences():
    model = MLP(2, [3, 1], "tanh", seed=1)
    params = model.parameters()

    def loss(*weights):
        # The network's function, rebuilt with the given Values as its weights.
        x = [0.5, -1.5]
        hidden = [
            (sum((w * xi for w, xi in zip(ws[:2], x)), ws[2])).tanh()
            for ws in (weights[0:3], weights[3:6], weights[6:9])
        ]
        out = weights[12]
        for w, h in zip(weights[9:12], hidden):
            out = out + w * h
        return (out - 1.0) ** 2

    values = [p.data for p in params]
    gradcheck(loss, values)
    # And the module's own backward gives the same gradients as the functional rebuild.
    model.zero_grad()
    ((model([0.5, -1.5]) - 1.0) ** 2).backward()
    rebuilt = [Value(v) for v in values]
    loss(*rebuilt).backward()
    assert [p.grad for p in params] == pytest.approx([v.grad for v in rebuilt], rel=1e-12)


def test_stacked_linear_layers_collapse_to_one_linear_map():
    deep = Sequential(Linear(2, 3), Linear(3, 1))
    xs = [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [2.0, -1.0]]
    outs = [deep(x)[0].data for x in xs]
    bias = outs[2]
    w = [outs[0] - bias, outs[1] - bias]
    # f(2, -1) = 2 w1 - w2 + b exactly: without a nonlinearity, depth adds nothing.
    assert outs[3] == pytest.approx(2 * w[0] - w[1] + bias, rel=1e-12)


def test_sequential_of_modules_and_activation_modules():
    model = Sequential(Linear(2, 4), ReLU(), Linear(4, 2), Tanh(), Linear(2, 1))
    assert len(model.parameters()) == 12 + 10 + 3
    assert model.named_parameters()[0][0] == "layers.0.neurons.0.w.0"
    assert len(model([0.1, 0.2])) == 1


def test_activations_by_name_or_module():
    assert isinstance(get_activation("relu"), ReLU)
    leaky = LeakyReLU(0.2)
    assert get_activation(leaky) is leaky
    assert get_activation(None).name == "linear"
    with pytest.raises(ValueError, match=r"activation must be one of .*'tanh'.*, got 'swish'"):
        get_activation("swish")
    with pytest.raises(TypeError, match=r"output_activation must be one of .* got int 3"):
        get_activation(3, "output_activation")
    assert LeakyReLU(0.2)(Value(-1.0)).data == pytest.approx(-0.2)


def test_dropout_is_active_only_in_training_and_is_seeded():
    x = [Value(1.0) for _ in range(1000)]
    drop = Dropout(0.3, seed=5)
    out = drop(x)
    kept = [v.data for v in out if v.data != 0]
    assert 0.6 < len(kept) / 1000 < 0.8
    assert all(k == pytest.approx(1 / 0.7) for k in kept)  # inverted dropout keeps the mean
    again = Dropout(0.3, seed=5)(x)
    assert [v.data for v in again] == [v.data for v in out]
    drop.eval()
    assert drop(x) is x
    model = Sequential(Linear(2, 2), Dropout(0.5))
    model.eval()
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_maxout_takes_the_largest_piece_and_routes_the_gradient_to_it():
    layer = Maxout(1, 1, pieces=3)
    for k, (w, b) in enumerate([(1.0, 0.0), (-1.0, 0.0), (0.0, 0.5)]):
        layer.pieces[k].neurons[0].w[0].data = w
        layer.pieces[k].neurons[0].b.data = b
    for x, expected in [(2.0, 2.0), (-3.0, 3.0), (0.1, 0.5)]:
        assert layer([x])[0].data == expected
    layer.zero_grad()
    layer([2.0])[0].backward()
    grads = [layer.pieces[k].neurons[0].w[0].grad for k in range(3)]
    assert grads == [2.0, 0.0, 0.0]


def test_zero_grad():
    model = MLP(2, [2, 1])
    model([1.0, 1.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())  # torch's set_to_none=True


@pytest.mark.parametrize(
    ("x", "error", "message"),
    [
        ([1.0, 2.0, 3.0], ValueError, r"MLP input x must hold 2 numbers \(one per input\), got 3"),
        ([1.0], ValueError, "MLP input x must hold 2 numbers .*, got 1"),
        ("ab", TypeError, "MLP input x must be a list, got str 'ab'"),
        (3.0, TypeError, "MLP input x must be a list of 2 numbers or Values, got float 3.0"),
        ({"a": 1, "b": 2}, TypeError, "MLP input x must be a list, got dict"),
        ([1.0, "2"], TypeError, r"MLP input x\[1\] must be a real number, got str '2'"),
        ([1.0, 10**400], ValueError, r"MLP input x\[1\] is too large for a float"),
        (np.array([[1.0, 2.0], [3.0, 4.0]]), TypeError, r"x\[0\] must be a real number, got nd"),
    ],
)
def test_wrong_inputs_get_clear_errors(x, error, message):
    with pytest.raises(error, match=message):
        MLP(2, [3, 1])(x)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: MLP(0, [1]), "nin must be an int >= 1, got 0"),
        (lambda: MLP(2, []), "sizes must not be empty"),
        (lambda: MLP(2, [3, 0]), r"sizes\[1\] must be an int >= 1, got 0"),
        (lambda: MLP(2, [3], init="zeros"), "init must be one of 'xavier', 'he', 'uniform'"),
        (lambda: MLP(2, [3], activation="swish"), "activation must be one of"),
        (lambda: MLP(2, [3], output_activation="swish"), "output_activation must be one of"),
        (lambda: Dropout(1.0), r"p \(the dropout probability\) must be in \[0, 1\)"),
        (lambda: Maxout(2, 2, pieces=0), "pieces must be an int >= 1, got 0"),
        (lambda: LeakyReLU(-1), r"negative_slope must be in \[0, inf\)"),
        (lambda: LeakyReLU(math.nan), r"negative_slope must be in \[0, inf\)"),
    ],
)
def test_bad_constructor_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match=r"Sequential layers\[1\] must be a Module, got int 3"):
        Sequential(Linear(1, 1), 3)


# ---- shared parameters, default initialisation, number types ------------------------------------


def test_a_shared_layer_is_listed_once_and_stepped_once():
    lin = Linear(2, 2)
    model = Sequential(lin, lin)
    names = [name for name, _ in model.named_parameters()]
    assert len(model.parameters()) == len(lin.parameters()) == 6
    assert names[0] == "layers.0.neurons.0.w.0"  # the first name wins
    assert all(name.startswith("layers.0.") for name in names)
    before = [p.data for p in lin.parameters()]
    out = model([1.0, -2.0])
    (out[0] + out[1]).backward()
    grads = [p.grad for p in lin.parameters()]
    SGD(model.parameters(), lr=0.1).step()
    assert [p.data for p in lin.parameters()] == [b - 0.1 * g for b, g in zip(before, grads)]


def test_layers_of_the_same_shape_start_different_and_manual_seed_repeats_them():
    first, second = Linear(3, 2), Linear(3, 2)
    assert [p.data for p in first.parameters()] != [p.data for p in second.parameters()]
    manual_seed(7)
    again = [Linear(3, 2), Linear(3, 2)]
    manual_seed(7)
    twice = [Linear(3, 2), Linear(3, 2)]
    assert [[p.data for p in m.parameters()] for m in again] == [
        [p.data for p in m.parameters()] for m in twice
    ]
    # seed= on a model is its own generator: the same weights whatever was drawn before
    a = MLP(2, [4, 1], seed=3)
    Linear(5, 5)
    b = MLP(2, [4, 1], seed=3)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert [p.data for p in MLP(2, [4, 1]).parameters()] != [p.data for p in a.parameters()]


def test_two_dropout_layers_without_a_seed_drop_different_units():
    x = [Value(1.0) for _ in range(64)]
    first, second = Dropout(0.5), Dropout(0.5)
    assert [v.data for v in first(x)] != [v.data for v in second(x)]


def test_a_network_takes_any_real_numbers_as_inputs():
    from fractions import Fraction

    model = MLP(2, [3, 1], seed=0)
    expected = model([0.5, 0.25]).data
    assert model([Fraction(1, 2), Fraction(1, 4)]).data == expected
    try:
        import numpy as np
    except ImportError:  # numpy comes with torch in CI; Fraction above is the same path
        return
    assert model([np.float32(0.5), np.float64(0.25)]).data == expected
    assert model(np.array([0.5, 0.25])).data == expected


@pytest.mark.parametrize("size", [True, 2.0, "3"])
def test_a_layer_size_must_be_an_int_not_a_bool_or_a_float(size):
    with pytest.raises(TypeError, match="must be an int"):
        MLP(2, [size, 1])


# ---- arguments: refused by name, before anything is built ---------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Linear(10**6, 10**6), r"nin \* nout asks for 1,000,000,000,000 weights"),
        (lambda: Linear(10**400, 1), r"nin \* nout asks for about 10\^400 weights"),
        (lambda: MLP(2, [10**6, 10**6]), "nin and sizes asks for"),
        (lambda: Maxout(10**3, 10**3, pieces=2), r"pieces \* nin \* nout asks for 2,000,000"),
        (lambda: Neuron(10**7), "nin asks for 10,000,000 weights"),
    ],
)
def test_a_model_too_large_to_hold_is_refused_before_anything_is_allocated(make, message):
    state = nn._generator.getstate()
    with pytest.raises(ValueError, match=message):
        make()  # a size check, not a MemoryError minutes later
    assert nn._generator.getstate() == state


def test_the_largest_layer_allowed_is_built():
    assert nn.MAX_WEIGHTS == 10**6
    assert Linear(10**3, 10**3, rng=random.Random(0)).nin == 10**3


@pytest.mark.parametrize(
    "make",
    [
        lambda: Layer(2, 3, activation="swish"),
        lambda: MLP(2, [3, 1], output_activation=3),
        lambda: MLP(2, [3, 1], init="zeros"),
        lambda: Linear(2, 3, init=None),
        lambda: Linear(2, 3, rng="seed"),
        lambda: Neuron(2, nout=0),
        lambda: Maxout(2, 3, rng=0),
    ],
)
def test_a_refused_constructor_draws_nothing_from_the_default_generator(make):
    state = nn._generator.getstate()
    with pytest.raises((TypeError, ValueError)):
        make()
    assert nn._generator.getstate() == state


def test_rng_must_be_a_random_generator():
    with pytest.raises(TypeError, match=r"rng must be a random\.Random or None, got str 'seed'"):
        Linear(2, 3, rng="seed")
    assert Linear(2, 3, rng=random.Random(1)).config() == Linear(2, 3).config()


def test_train_mode_must_be_a_bool_and_a_refused_call_changes_no_mode():
    model = Sequential(Linear(2, 2), Dropout(0.5))
    with pytest.raises(TypeError, match="mode must be True or False, got str 'eval'"):
        model.train("eval")
    assert all(m.training for m in model.modules())
    assert not any(m.training for m in model.train(np.bool_(False)).modules())


@pytest.mark.parametrize(
    ("module", "x", "error", "message"),
    [
        (Tanh(), "ab", TypeError, "x must be a list, got str 'ab'"),
        (Tanh(), 3.0, TypeError, "x must be a list, got float 3.0"),
        (Tanh(), [1.0, None], TypeError, r"x\[1\] must be a real number, got NoneType"),
        (Dropout(0.5, seed=0), 3.0, TypeError, "x must be a list, got float 3.0"),
        (Dropout(0.5, seed=0), ["a"], TypeError, r"x\[0\] must be a real number, got str"),
    ],
)
def test_activations_and_dropout_name_a_bad_input(module, x, error, message):
    with pytest.raises(error, match=message):
        module(x)


def test_dropout_checks_its_input_in_eval_mode_too():
    layer = Dropout(0.5, seed=0).eval()
    with pytest.raises(TypeError, match="x must be a list"):
        layer(3.0)
    x = [Value(1.0), 2.0]
    assert layer(x) is x  # the identity in eval mode


def test_to_torch_names_its_argument():
    with pytest.raises(TypeError, match="model must be a microgradx Module, got str"):
        nn.to_torch("model")


# ---- parameters() is kept between calls, and found again after any change of the tree ----------


def _fresh(model: nn.Module) -> list[int]:
    """The parameters as named_parameters finds them now (it keeps nothing)."""
    return [id(p) for _, p in model.named_parameters()]


def _ids(values: list[Value]) -> list[int]:
    return [id(v) for v in values]


def _kept_then(model: nn.Module, change) -> None:
    before = model.parameters()
    assert _ids(before) == _fresh(model)
    change()
    after = model.parameters()
    assert _ids(after) == _fresh(model)
    assert _ids(after) != _ids(before)


def test_parameters_are_found_again_when_a_layer_is_replaced_in_its_list():
    model = MLP(2, [3, 1], seed=0)
    layer = Layer(2, 3, "tanh", rng=random.Random(1))
    _kept_then(model, lambda: model.layers.__setitem__(0, layer))


def test_parameters_are_found_again_when_a_module_is_appended_to_a_list():
    model = Sequential(Layer(2, 3, "tanh", rng=random.Random(0)))
    _kept_then(model, lambda: model.layers.append(Layer(3, 1, None, rng=random.Random(1))))


def test_parameters_are_found_again_when_an_attribute_is_set_or_deleted():
    class Two(nn.Module):
        def __init__(self) -> None:
            self.first = Neuron(2, rng=random.Random(0))
            self.extra = Value(1.0)

    model = Two()
    _kept_then(model, lambda: setattr(model, "first", Neuron(2, rng=random.Random(1))))
    _kept_then(model, lambda: setattr(model, "extra", Value(2.0)))
    _kept_then(model, lambda: delattr(model, "extra"))
    _kept_then(model, lambda: setattr(model, "more", [Value(3.0), Value(4.0)]))


def test_a_module_that_calls_a_fresh_module_equal_still_has_its_parameters_found_again():
    """A user's module may define ``__eq__`` (architecture equality): a fresh block put in place
    of an "equal" one must still be seen (the kept lists were compared with ``==``, so the
    optimizer went on with the replaced block's weights)."""

    class Block(nn.Module):
        def __init__(self, seed: int) -> None:
            self.neuron = Neuron(2, rng=random.Random(seed))

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Block)

        __hash__ = object.__hash__

    model = Sequential(Block(0), Block(1))
    _kept_then(model, lambda: model.layers.__setitem__(0, Block(2)))


def test_numpy_arrays_kept_in_a_modules_list_never_break_parameters():
    """A list of the tree holding NumPy arrays (a user's statistics): replacing one made every
    later parameters() (and repr) raise NumPy's "truth value of an array is ambiguous"."""

    class WithStats(nn.Module):
        def __init__(self) -> None:
            self.neuron = Neuron(2, rng=random.Random(0))
            self.stats = [np.zeros(3), 1.0]

    model = WithStats()
    weights = _fresh(model)
    assert _ids(model.parameters()) == weights
    model.stats[0] = np.ones(3)
    assert _ids(model.parameters()) == weights == _fresh(model)
    assert "with 3 parameters" in repr(model)
    model.neuron.w[0] = np.ones(2)  # not a weight any more: found again, not a NumPy error
    assert _ids(model.parameters()) == _fresh(model) != weights


def test_a_childs_change_is_seen_by_every_module_above_it_and_by_a_second_parent():
    shared = Neuron(2, rng=random.Random(0))
    outer = Sequential(Sequential(shared))
    other = Sequential(shared, Neuron(2, rng=random.Random(1)))
    for change in (
        lambda: setattr(shared, "b", Value(5.0)),  # a new Value parameter, two levels down
        lambda: shared.w.__setitem__(0, Value(6.0)),  # a weight replaced by index
        lambda: shared.w.append(Value(7.0)),
    ):
        before = [outer.parameters(), other.parameters()]
        change()
        for model, old in zip((outer, other), before):
            assert _ids(model.parameters()) == _fresh(model) != _ids(old)


def test_a_change_made_while_another_thread_finds_the_parameters_is_never_lost(monkeypatch):
    """Thread A finds a model's parameters (the tree walked, not yet kept) while thread B sets
    a new Value on a module inside it. The change dropped the kept lists before the attribute
    was set and without waiting for A, so A then kept the tree found before the change, and
    parameters() went on returning the old Value (an optimizer would never train the new one;
    a concurrent call could also raise AttributeError on a list emptied under it). Threads are
    ordered by events: B acts while A is between finding and keeping, or waits for A's lock."""
    import threading

    from microgradx import nn as nn_module

    class Signalling:
        """The lock parameters() takes, which says when B has to wait for it."""

        def __init__(self) -> None:
            self.lock = threading.RLock()

        def __enter__(self) -> None:
            if not self.lock.acquire(blocking=False):
                b_progress.set()  # B waits for A: let A go on
                self.lock.acquire()

        def __exit__(self, *exc: object) -> None:
            self.lock.release()

    shared = Neuron(2, rng=random.Random(0))
    model = Sequential(shared, Neuron(2, rng=random.Random(1)))
    model.parameters()
    shared.b = Value(1.0)  # the kept lists dropped: the next call walks the tree
    a_found, b_progress = threading.Event(), threading.Event()
    find = nn.Module._parameter_tree

    def found_then_pause(self):
        tree = find(self)
        if threading.current_thread().name == "A":
            a_found.set()
            b_progress.wait()
        return tree

    monkeypatch.setattr(nn_module, "_kept_lock", Signalling(), raising=False)
    monkeypatch.setattr(nn.Module, "_parameter_tree", found_then_pause)
    new_bias = Value(9.0)

    def change() -> None:
        a_found.wait()
        shared.b = new_bias
        b_progress.set()

    a = threading.Thread(target=model.parameters, name="A")
    b = threading.Thread(target=change, name="B")
    a.start()
    b.start()
    a.join()
    b.join()
    assert any(p is new_bias for p in model.parameters())
    assert _ids(model.parameters()) == _fresh(model)


def test_parameters_is_a_new_list_each_call_and_lists_a_shared_parameter_once():
    weight = Value(0.5)

    class Tied(nn.Module):
        def __init__(self) -> None:
            self.a = weight
            self.pair = [weight, Value(1.0)]
            self.layer = Neuron(2, rng=random.Random(0))
            self.same_layer = self.layer

    model = Tied()
    params = model.parameters()
    assert _ids(params) == _fresh(model)
    assert len(params) == 2 + 3 and params.count(weight) == 1
    params.clear()  # the caller's to change
    assert _ids(model.parameters()) == _fresh(model)
    assert model.parameters() is not model.parameters()


def test_kept_parameters_hold_no_module_alive_and_make_no_reference_cycle():
    import gc
    import weakref

    was = gc.isenabled()
    gc.disable()
    try:
        model = MLP(2, [3, 1], seed=0)
        inner = weakref.ref(model.layers[0])
        model.parameters()
        model.layers[0].parameters()
        outer = weakref.ref(model)
        del model
        assert outer() is None and inner() is None  # freed by reference counting alone
    finally:
        if was:
            gc.enable()
