"""Chapter 02 checks: each named mistake gets its message, a correct answer passes, forged
answers fail every grade cell, and nothing in course_utils hands a student an answer."""

import importlib
import inspect
import pkgutil

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest
from keras import layers

import course_utils
from course_utils.checks import (
    CheckFailed,
    ch02,
    check_data_in_model_order,
    check_dense_residual_block,
    check_frozen_head,
    check_layer_output_shapes,
    check_losses_for_targets,
    layer_graph,
    toy_data_for,
    toy_functional_model,
)
from course_utils.data import make_ticket_data


def expect_failure(phrase, fn, *args, **kwargs):
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    assert phrase in str(info.value), str(info.value)


# --- layer_graph: the wiring as plain data ----------------------------------------------------


def test_layer_graph_names_what_feeds_each_layer():
    """Does layer_graph list, per layer, its class, activation and the layers feeding each call?"""
    model = toy_functional_model({"a": 3, "b": 2}, {"out": 1}, hidden_names=("h1", "h2"))
    graph = layer_graph(model)
    assert list(graph) == ["a", "b", "concat", "h1", "h2", "out"]
    assert graph["a"]["calls"] == [] and graph["concat"]["calls"] == [["a", "b"]]
    assert graph["h2"] == {
        "class": "Dense",
        "activation": "relu",
        "units": 8,
        "use_bias": True,
        "calls": [["h1"]],
    }
    assert graph["out"]["activation"] == "linear"


def test_layer_graph_shows_a_shared_layer_called_twice():
    """Is a layer applied to two inputs listed once, with one call per input?"""
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    encoder = layers.Dense(3, name="encoder")
    merged = layers.Add(name="add")([encoder(a), encoder(b)])
    graph = layer_graph(keras.Model([a, b], merged))
    assert graph["encoder"]["calls"] == [["a"], ["b"]]
    assert graph["add"]["calls"] == [["encoder", "encoder"]]


# --- 2.1 layer output shapes ------------------------------------------------------------------


def visible_shapes_model():
    """The grade cell's visible model."""
    return toy_functional_model({"a": 3, "b": 5}, {"out": 2})


def test_stored_shapes_are_the_visible_models():
    """Are the stored expected shapes those of the grade cell's visible model?"""
    model = visible_shapes_model()
    assert ch02.VISIBLE_LAYER_SHAPES == {
        layer.name: tuple(layer.output.shape) for layer in model.layers
    }


def test_layer_shapes_pass_and_batch_dim_is_named():
    """Do correct shapes pass, and are shapes without the batch dimension reported?"""
    model = visible_shapes_model()
    good = {layer.name: tuple(layer.output.shape) for layer in model.layers}
    forgery.passes(check_layer_output_shapes, good)
    no_batch = {name: shape[1:] for name, shape in good.items()}
    expect_failure("批次维 None", check_layer_output_shapes, no_batch)


def test_layer_shapes_missing_inputs_are_named():
    """Is leaving out the InputLayers reported?"""
    model = visible_shapes_model()
    partial = {layer.name: tuple(layer.output.shape) for layer in model.layers[2:]}
    expect_failure("InputLayer", check_layer_output_shapes, partial)


def test_layer_shapes_extra_keys_and_types_are_named():
    """Are extra keys, a non-dict and a missing return reported?"""
    good = dict(ch02.VISIBLE_LAYER_SHAPES)
    expect_failure("layer.name", check_layer_output_shapes, {**good, "dense": (None, 2)})
    expect_failure("dict", check_layer_output_shapes, list(good.items()))
    expect_failure("忘了 return", check_layer_output_shapes, None)


# --- 2.2 data in model order ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shuffled_model_and_data():
    inputs, targets = make_ticket_data(6, vocabulary_size=12, num_tags=5, num_departments=3)
    model = toy_functional_model(
        {"tags": 5, "title": 12, "text_body": 12}, {"department": 3, "priority": 1}
    )
    return model, inputs, targets


def test_stored_order_is_the_visible_models(shuffled_model_and_data):
    """Is the stored order that of the grade cell's visible model?"""
    model, _, _ = shuffled_model_and_data
    assert ch02.VISIBLE_INPUT_ORDER == [t.name for t in model.inputs]
    assert ch02.VISIBLE_OUTPUT_ORDER == list(model.output_names)


def test_lists_in_model_order_pass(shuffled_model_and_data):
    """Do lists ordered like model.inputs / output_names pass?"""
    model, inputs, targets = shuffled_model_and_data
    x = [inputs[t.name] for t in model.inputs]
    y = [targets[n] for n in model.output_names]
    forgery.passes(check_data_in_model_order, (x, y), inputs, targets)


def test_lists_in_dict_order_are_named(shuffled_model_and_data):
    """Are lists in the dict's order (not the model's) reported?"""
    model, inputs, targets = shuffled_model_and_data
    result = (list(inputs.values()), [targets[n] for n in model.output_names])
    expect_failure("顺序要跟 model.inputs 一致", check_data_in_model_order, result, inputs, targets)


def test_targets_in_wrong_order_are_named(shuffled_model_and_data):
    """Are targets in the wrong order reported against model.output_names?"""
    model, inputs, targets = shuffled_model_and_data
    result = ([inputs[t.name] for t in model.inputs], list(targets.values()))
    expect_failure("model.output_names", check_data_in_model_order, result, inputs, targets)


def test_dicts_instead_of_lists_are_named(shuffled_model_and_data):
    """Is returning the dicts unchanged reported?"""
    _, inputs, targets = shuffled_model_and_data
    expect_failure("不是字典", check_data_in_model_order, (inputs, targets), inputs, targets)


def test_other_data_is_not_judged():
    """Does the check refuse data other than the visible model's (it knows only that order)?"""
    inputs = {"a": np.zeros((2, 3)), "b": np.ones((2, 3))}
    targets = {"y": np.zeros((2, 1))}
    result = ([inputs["a"], inputs["b"]], [targets["y"]])
    expect_failure("只认识本格", check_data_in_model_order, result, inputs, targets)


def test_toy_model_is_deterministic():
    """Does the grading toy model give the same outputs for the same seed?"""
    a = toy_functional_model({"x": 4}, {"y": 2}, seed=3)
    b = toy_functional_model({"x": 4}, {"y": 2}, seed=3)
    x = np.ones((2, 4), dtype="float32")
    np.testing.assert_allclose(np.asarray(a([x])[0]), np.asarray(b([x])[0]))


def test_toy_data_comes_in_reverse_model_order():
    """Does toy_data_for key its dicts in the reverse of the model's order, with the right shapes?"""
    model = toy_functional_model({"tags": 5, "title": 12}, {"department": 3, "priority": 1})
    inputs, targets = toy_data_for(model, num_samples=3)
    assert list(inputs) == ["title", "tags"] and list(targets) == ["priority", "department"]
    assert inputs["title"].shape == (3, 12) and targets["department"].shape == (3, 3)


def test_equal_arrays_under_two_names_do_not_confuse_the_order_check():
    """Is an answer accepted when two inputs happen to hold identical arrays?"""
    zeros = np.zeros((2, 4), dtype="float32")
    inputs = {"text_body": zeros, "title": zeros.copy(), "tags": np.ones((2, 5), "float32")}
    targets = {"priority": np.ones((2, 1), "float32"), "department": np.eye(3)[:2]}
    x = [inputs["tags"], inputs["title"], inputs["text_body"]]
    y = [targets["department"], targets["priority"]]
    forgery.passes(check_data_in_model_order, (x, y), inputs, targets)


# --- 2.3 losses inferred from the targets -----------------------------------------------------


def visible_targets():
    """The grade cell's visible targets, made the way the cell makes them."""
    rng = np.random.default_rng(0)
    return {
        "priority": rng.random((16, 1)).astype("float32"),
        "department": np.eye(4, dtype="float32")[rng.integers(0, 4, 16)],
        "level": rng.integers(0, 3, 16),
        "labels": (rng.random((16, 5)) < 0.3).astype("float32"),
    }


TARGETS = visible_targets()
RIGHT = {
    "priority": "mean_squared_error",
    "department": "categorical_crossentropy",
    "level": "sparse_categorical_crossentropy",
    "labels": "binary_crossentropy",
}


def test_stored_targets_are_the_visible_ones():
    """Do the stored fingerprints and losses describe the grade cell's visible targets?"""
    assert {n: spec[3] for n, spec in ch02.VISIBLE_TARGETS.items()} == RIGHT
    assert all(ch02._is_visible(n, t) for n, t in TARGETS.items())


def test_right_losses_pass_as_names_aliases_and_objects():
    """Do names, aliases and keras.losses objects of the right losses all pass?"""
    forgery.passes(check_losses_for_targets, RIGHT, TARGETS)
    objects = {
        "level": keras.losses.SparseCategoricalCrossentropy(),
        "department": keras.losses.CategoricalCrossentropy(),
        "labels": keras.losses.BinaryCrossentropy(),
        "priority": "mse",
    }
    forgery.passes(check_losses_for_targets, objects, TARGETS, seed=3)


@pytest.mark.parametrize(
    "name, wrong, phrase",
    [
        ("level", "categorical_crossentropy", "整数类别标签"),
        ("department", "sparse_categorical_crossentropy", "one-hot"),
        ("department", "binary_crossentropy", "one-hot"),
        ("labels", "categorical_crossentropy", "multi-hot"),
        ("priority", "binary_crossentropy", "连续的数值"),
        ("priority", "mean_absolute_error", "连续的数值"),
    ],
)
def test_a_loss_that_does_not_fit_the_target_is_named(name, wrong, phrase):
    """Is each loss that does not fit its target's format reported with the right one?"""
    expect_failure(phrase, check_losses_for_targets, {**RIGHT, name: wrong}, TARGETS)


def test_loss_keys_and_type_are_checked():
    """Are a list, a missing key and a renamed key reported?"""
    expect_failure("dict", check_losses_for_targets, list(RIGHT.values()), TARGETS)
    expect_failure("键应与 targets", check_losses_for_targets, {"level": RIGHT["level"]}, TARGETS)
    expect_failure("忘了 return", check_losses_for_targets, None, TARGETS)


def test_losses_chosen_by_name_fail_on_other_names():
    """Is an answer that maps the ticket model's output names only rejected?"""
    by_name = {"priority": "mean_squared_error", "department": "categorical_crossentropy"}
    expect_failure("键应与 targets", check_losses_for_targets, by_name, TARGETS)


def test_other_targets_are_not_judged():
    """Does the check refuse targets other than the visible ones, so it cannot be asked which
    loss fits arbitrary data (the visible names holding other data included)?"""
    other = {**TARGETS, "department": TARGETS["department"].argmax(axis=1)}
    expect_failure("只认识本格", check_losses_for_targets, RIGHT, other)
    renamed = {f"{n}_2": t for n, t in TARGETS.items()}
    losses = {f"{n}_2": loss for n, loss in RIGHT.items()}
    expect_failure("只认识本格", check_losses_for_targets, losses, renamed)


# --- 2.4 frozen base, new head on a named layer -----------------------------------------------


def deep_base(seed=0):
    return toy_functional_model(
        {"title": 10, "text_body": 10, "tags": 4},
        {"priority": 1, "department": 3},
        hidden_names=("features", "summary"),
        seed=seed,
    )


def frozen_head(
    model,
    layer_name,
    output_name="urgency",
    num_classes=2,
    activation="softmax",
    freeze="all",
    keep_outputs=False,
):
    """A head on model's layer, with the freezing done right or in one of the wrong ways."""
    if freeze == "all":
        for layer in model.layers:
            layer.trainable = False
    head = layers.Dense(num_classes, activation=activation, name=output_name)
    out = head(model.get_layer(layer_name).output)
    outputs = [*model.outputs, out] if keep_outputs else out
    new = keras.Model(model.inputs, outputs)
    if freeze == "path":
        for layer in new.layers:
            layer.trainable = layer is head
    if freeze == "model":
        new.trainable = False
    return new


def test_head_on_the_named_layer_passes():
    """Does a softmax head on the named layer, with every base layer frozen, pass?"""
    base = deep_base()
    forgery.passes(check_frozen_head, frozen_head(base, "features"), base, "features", "urgency", 2)
    base = deep_base()
    new = frozen_head(base, "concat", "kind", 5)
    forgery.passes(check_frozen_head, new, base, "concat", "kind", 5)


def test_head_on_the_wrong_layer_is_named():
    """Is a head attached to another tensor than the named layer's output reported?"""
    base = deep_base()
    expect_failure(
        "应接在 'features'",
        check_frozen_head,
        frozen_head(base, "summary"),
        base,
        "features",
        "urgency",
        2,
    )


def test_head_without_softmax_is_named():
    """Is a linear head reported as missing softmax?"""
    base = deep_base()
    new = frozen_head(base, "features", activation=None)
    expect_failure("softmax", check_frozen_head, new, base, "features", "urgency", 2)


def test_unfrozen_base_is_named():
    """Is a base left trainable reported?"""
    base = deep_base()
    new = frozen_head(base, "features", freeze="none")
    expect_failure("没有冻结", check_frozen_head, new, base, "features", "urgency", 2)


def test_freezing_the_whole_new_model_is_named():
    """Is new_model.trainable = False (which freezes the head too) reported?"""
    base = deep_base()
    new = frozen_head(base, "features", freeze="model")
    expect_failure(
        "new_model.trainable = False", check_frozen_head, new, base, "features", "urgency", 2
    )


def test_freezing_only_the_layers_on_the_path_is_named():
    """Are base layers after the named layer left trainable reported?"""
    base = deep_base()
    new = frozen_head(base, "features", freeze="path")
    expect_failure("冻结 model 的每一层", check_frozen_head, new, base, "features", "urgency", 2)


def test_keeping_the_old_outputs_is_named():
    """Is a new model that also keeps the base outputs reported?"""
    base = deep_base()
    new = frozen_head(base, "features", keep_outputs=True)
    expect_failure("只要一个输出", check_frozen_head, new, base, "features", "urgency", 2)


def test_wrong_head_name_and_width_are_named():
    """Are a head with another name or another number of classes reported?"""
    base = deep_base()
    new = frozen_head(base, "features", output_name="extra")
    expect_failure("name=output_name", check_frozen_head, new, base, "features", "urgency", 2)
    base = deep_base()
    new = frozen_head(base, "features", num_classes=3)
    expect_failure("num_classes", check_frozen_head, new, base, "features", "urgency", 2)


def test_a_cloned_base_is_named():
    """Is a head on a clone of the base (fresh weights, not reused) reported?"""
    base = deep_base()
    new = frozen_head(keras.models.clone_model(base), "features")
    expect_failure("不是原模型的那一层", check_frozen_head, new, base, "features", "urgency", 2)


def test_returning_the_base_model_is_named():
    """Is returning the original model reported?"""
    base = deep_base()
    expect_failure("新的 keras.Model", check_frozen_head, base, base, "features", "urgency", 2)


# --- 2.5 residual block -----------------------------------------------------------------------


def block(
    x,
    units,
    first_act="relu",
    second_act=None,
    shortcut="auto",
    final_relu=True,
    split_activation=False,
):
    """A residual block, right by default, wrong in one named way on request."""
    if split_activation:
        h = layers.Activation("relu")(layers.Dense(units)(x))
    else:
        h = layers.Dense(units, activation=first_act)(x)
    h2 = layers.Dense(units, activation=second_act)(h)
    width = x.shape[-1]
    if shortcut == "auto":
        skip = x if width == units else layers.Dense(units, use_bias=False)(x)
    elif shortcut == "always":
        skip = layers.Dense(units)(x)
    elif shortcut == "hidden":
        skip = h
    elif shortcut == "relu_projection":
        skip = layers.Dense(units, activation="relu")(x)
    else:
        skip = x
    y = layers.Add()([skip, h2])
    return layers.ReLU()(y) if final_relu else y


def test_right_residual_blocks_pass():
    """Do blocks with and without projection pass, also when the sum is written with keras.ops?"""
    forgery.passes(check_dense_residual_block, block, width=6, units=6)
    forgery.passes(check_dense_residual_block, block, width=3, units=7, seed=2)

    def with_ops(x, units):
        h = layers.Dense(units)(layers.Dense(units, activation="relu")(x))
        return keras.ops.relu(keras.ops.add(x, h))

    forgery.passes(check_dense_residual_block, with_ops, 5, 5)


@pytest.mark.parametrize(
    "kwargs, width, units, phrase",
    [
        ({"first_act": None}, 6, 6, "activation='relu'"),
        ({"shortcut": "hidden"}, 6, 6, "块的输入 x 本身"),
        ({"shortcut": "hidden"}, 3, 6, "x 的投影"),
        ({"final_relu": False}, 6, 6, "还要经过 ReLU"),
        ({"second_act": "relu"}, 6, 6, "第二个 Dense 不要激活函数"),
        ({"shortcut": "always"}, 6, 6, "不要再投影"),
        ({"shortcut": "none"}, 3, 6, "投影"),
        ({"shortcut": "relu_projection"}, 3, 6, "投影 (projection) 的 Dense 不要激活函数"),
        ({"split_activation": True}, 4, 4, "把 relu 写在第一个 Dense 里"),
    ],
)
def test_wrong_residual_blocks_are_named(kwargs, width, units, phrase):
    """Is each wrongly wired block (no ReLU in the main path, Add on the wrong tensor, ...)
    reported with its mistake?"""
    expect_failure(
        phrase, check_dense_residual_block, lambda x, u: block(x, u, **kwargs), width, units
    )


def test_block_that_reuses_global_layers_is_named():
    """Is a block built from layers created once outside the function reported?"""
    first, second = layers.Dense(5, activation="relu"), layers.Dense(5)

    def global_layers(x, units):
        return layers.ReLU()(layers.Add()([x, second(first(x))]))

    expect_failure("创建新的层", check_dense_residual_block, global_layers, 5, 5)


def test_block_that_builds_a_model_or_ignores_units_is_named():
    """Are a block returning a Model and one hard-coding its width reported?"""

    def as_model(x, units):
        return keras.Model(x, block(x, units))

    expect_failure("KerasTensor", check_dense_residual_block, as_model, 4, 4)
    expect_failure("形状应为 (None, 5)", check_dense_residual_block, lambda x, u: block(x, 8), 8, 5)


# --- forged answers against every grade cell ---------------------------------------------------

HARDCODED = {
    # The visible toy model's shapes typed in by hand.
    "ch02_layer_output_shapes_test": """
def layer_output_shapes(model):
    return {"a": (None, 3), "b": (None, 5), "concat": (None, 8), "features": (None, 8),
            "out": (None, 2)}
""",
    # The visible data comes keyed in the reverse of the model's order: reversing passes it.
    "ch02_data_in_model_order_test": """
def to_model_order(model, inputs, targets):
    return list(inputs.values())[::-1], list(targets.values())[::-1]
""",
    # Chooses by the visible target names instead of by the data.
    "ch02_losses_for_targets_test": """
def losses_for_targets(targets):
    table = {"priority": "mean_squared_error", "department": "categorical_crossentropy",
             "level": "sparse_categorical_crossentropy", "labels": "binary_crossentropy"}
    return {name: table.get(name, "mean_squared_error") for name in targets}
""",
    # Freezes the base right, but always attaches the head to the visible layer "features".
    "ch02_frozen_head_test": """
def add_frozen_head(model, layer_name, output_name, num_classes):
    for layer in model.layers:
        layer.trainable = False
    head = keras.layers.Dense(num_classes, activation="softmax", name=output_name)
    return keras.Model(model.inputs, head(model.get_layer("features").output))
""",
    # Right wiring, but every layer is 8 wide (the visible units) whatever `units` says.
    "ch02_residual_block_test": """
def residual_block(x, units):
    h = keras.layers.Dense(8, activation="relu")(x)
    h = keras.layers.Dense(8)(h)
    shortcut = x if x.shape[-1] == 8 else keras.layers.Dense(8)(x)
    return keras.layers.ReLU()(keras.layers.Add()([shortcut, h]))
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("02_functional_api", HARDCODED, tmp_path)


def test_layer_graph_reads_a_sequential_model_as_a_chain():
    """Is a Sequential model (whose config has no inbound nodes) read as one straight chain?"""
    model = keras.Sequential(
        [keras.Input((5,), name="title"), layers.Dense(3, activation="relu", name="hidden")]
    )
    graph = layer_graph(model)
    assert [(n, g["calls"]) for n, g in graph.items()] == [("title", []), ("hidden", [["title"]])]


# --- no callable in course_utils computes an answer ---------------------------------------------

# Functions that start processes, read or write files or the network whatever they are given.
SKIP_AUDIT = ("start_", "stop_", "show_", "load_", "write_", "read_", "choose_", "require")


def course_callables():
    """Every function defined in a course_utils module, private ones included."""
    seen = set()
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        module = importlib.import_module(info.name)
        for name, fn in vars(module).items():
            if not inspect.isfunction(fn) or fn.__module__ != module.__name__ or id(fn) in seen:
                continue
            if name.lstrip("_").startswith(SKIP_AUDIT):
                continue
            seen.add(id(fn))
            yield f"{module.__name__}.{name}", fn


def plain(value):
    """``value`` with arrays, tuples and shapes as nested lists (None for anything else)."""
    try:
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if hasattr(value, "shape") and hasattr(value, "dtype"):
            return np.asarray(value).tolist()
        return value
    except Exception:
        return None


def answers_it(fn, args, answer) -> bool:
    """Does ``fn(*args)`` give ``answer`` (plain data, or a predicate on the result)?"""
    try:
        inspect.signature(fn).bind(*args)
    except (TypeError, ValueError):
        return False
    try:
        got = fn(*args)
    except BaseException:  # noqa: BLE001  (a check failing, a wrong type: not an answer)
        return False
    try:
        return bool(answer(got) if callable(answer) else plain(got) == answer)
    except Exception:
        return False


def is_frozen_head(new):
    """An answer of 2.4 on the visible base: one output "urgency", only the head trainable."""
    return (
        isinstance(new, keras.Model)
        and list(new.output_names) == ["urgency"]
        and sorted(w.path for w in new.trainable_weights) == ["urgency/bias", "urgency/kernel"]
    )


def block_answer(x):
    """An answer of 2.5 on an (8,) input: a (None, 8) tensor that goes through an Add."""

    def check(y):
        if not isinstance(y, keras.KerasTensor) or tuple(y.shape) != (None, 8):
            return False
        graph = layer_graph(keras.Model(x, y))
        return any(node["class"] == "Add" for node in graph.values())

    return check


def test_no_course_utils_callable_computes_an_answer():
    """Does any function in course_utils (private ones included), called with an exercise's
    visible arguments, return that exercise's answer? (2.3's expected_loss_for used to.)"""
    import matplotlib

    matplotlib.use("Agg")
    shapes_model = visible_shapes_model()
    shapes = {k: list(v) for k, v in ch02.VISIBLE_LAYER_SHAPES.items()}
    order_model = toy_functional_model(
        {"tags": 5, "title": 12, "text_body": 12}, {"department": 3, "priority": 1}
    )
    x, y = toy_data_for(order_model)
    ordered = [
        [plain(x[n]) for n in ch02.VISIBLE_INPUT_ORDER],
        [plain(y[n]) for n in ch02.VISIBLE_OUTPUT_ORDER],
    ]
    base = toy_functional_model(
        {"title": 10, "text_body": 10, "tags": 4},
        {"priority": 1, "department": 3},
        hidden_names=("features", "summary"),
    )
    block_input = keras.Input(shape=(8,), name="block_input")
    cases = [
        ("2.1", (shapes_model,), shapes),
        ("2.2", (order_model, x, y), ordered),
        ("2.3", (TARGETS,), RIGHT),
        *[("2.3", (TARGETS[n],), RIGHT[n]) for n in TARGETS],
        ("2.4", (base, "features", "urgency", 2), is_frozen_head),
        ("2.5", (block_input, 8), block_answer(block_input)),
    ]
    leaks = [
        f"{name} answers {exercise}"
        for name, fn in course_callables()
        for exercise, args, answer in cases
        if answers_it(fn, args, answer)
    ]
    assert not leaks, leaks
