"""Chapter 02 checks: each named mistake gets its message, a correct answer passes, and forged
answers fail every grade cell."""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest
from keras import layers

from course_utils.checks import (
    CheckFailed,
    check_data_in_model_order,
    check_dense_residual_block,
    check_frozen_head,
    check_layer_output_shapes,
    check_losses_for_targets,
    expected_loss_for,
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


def test_layer_shapes_pass_and_batch_dim_is_named():
    """Do correct shapes pass, and are shapes without the batch dimension reported?"""
    model = toy_functional_model({"a": 3, "b": 2}, {"out": 1})
    good = {layer.name: tuple(layer.output.shape) for layer in model.layers}
    assert check_layer_output_shapes(good, model)
    no_batch = {name: shape[1:] for name, shape in good.items()}
    expect_failure("批次维 None", check_layer_output_shapes, no_batch, model)


def test_layer_shapes_missing_inputs_are_named():
    """Is leaving out the InputLayers reported?"""
    model = toy_functional_model({"a": 3, "b": 2}, {"out": 1})
    partial = {layer.name: tuple(layer.output.shape) for layer in model.layers[2:]}
    expect_failure("InputLayer", check_layer_output_shapes, partial, model)


# --- 2.2 data in model order ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shuffled_model_and_data():
    inputs, targets = make_ticket_data(6, vocabulary_size=12, num_tags=5, num_departments=3)
    model = toy_functional_model(
        {"tags": 5, "title": 12, "text_body": 12}, {"department": 3, "priority": 1}
    )
    return model, inputs, targets


def test_lists_in_model_order_pass(shuffled_model_and_data):
    """Do lists ordered like model.inputs / output_names pass?"""
    model, inputs, targets = shuffled_model_and_data
    x = [inputs[t.name] for t in model.inputs]
    y = [targets[n] for n in model.output_names]
    assert check_data_in_model_order((x, y), model, inputs, targets)


def test_lists_in_dict_order_are_named(shuffled_model_and_data):
    """Are lists in the dict's order (not the model's) reported?"""
    model, inputs, targets = shuffled_model_and_data
    result = (list(inputs.values()), [targets[n] for n in model.output_names])
    expect_failure(
        "顺序要跟 model.inputs 一致", check_data_in_model_order, result, model, inputs, targets
    )


def test_targets_in_wrong_order_are_named(shuffled_model_and_data):
    """Are targets in the wrong order reported against model.output_names?"""
    model, inputs, targets = shuffled_model_and_data
    result = ([inputs[t.name] for t in model.inputs], list(targets.values()))
    expect_failure("model.output_names", check_data_in_model_order, result, model, inputs, targets)


def test_dicts_instead_of_lists_are_named(shuffled_model_and_data):
    """Is returning the dicts unchanged reported?"""
    model, inputs, targets = shuffled_model_and_data
    expect_failure("不是字典", check_data_in_model_order, (inputs, targets), model, inputs, targets)


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
    model = toy_functional_model({"title": 4, "text_body": 4}, {"priority": 1})
    zeros = np.zeros((2, 4), dtype="float32")
    inputs = {"text_body": zeros, "title": zeros.copy()}
    targets = {"priority": np.ones((2, 1), dtype="float32")}
    x = [inputs["title"], inputs["text_body"]]
    assert check_data_in_model_order((x, [targets["priority"]]), model, inputs, targets)


# --- 2.3 losses inferred from the targets -----------------------------------------------------

RNG = np.random.default_rng(0)
TARGETS = {
    "label": RNG.integers(0, 5, 12),
    "one_hot": np.eye(3, dtype="float32")[RNG.integers(0, 3, 12)],
    "tags": (RNG.random((12, 4)) < 0.4).astype("float32"),
    "score": RNG.random((12, 1)).astype("float32"),
}
RIGHT = {
    "label": "sparse_categorical_crossentropy",
    "one_hot": "categorical_crossentropy",
    "tags": "binary_crossentropy",
    "score": "mean_squared_error",
}


def test_expected_loss_follows_the_rules():
    """Do the reference rules give the loss the task names for each kind of target?"""
    assert {n: expected_loss_for(t) for n, t in TARGETS.items()} == RIGHT
    assert expected_loss_for(np.array([[0], [3]], dtype="int32")) == RIGHT["label"]
    assert expected_loss_for(np.array([[1.0], [0.0]], dtype="float32")) == RIGHT["tags"]
    assert expected_loss_for(np.array([[1.0, 0.0], [1.0, 0.0]])) == RIGHT["one_hot"]
    assert expected_loss_for(np.array([[2.5, -1.0]])) == RIGHT["score"]


def test_right_losses_pass_as_names_aliases_and_objects():
    """Do names, aliases and keras.losses objects of the right losses all pass?"""
    assert check_losses_for_targets(RIGHT, TARGETS)
    objects = {
        "label": keras.losses.SparseCategoricalCrossentropy(),
        "one_hot": keras.losses.CategoricalCrossentropy(),
        "tags": keras.losses.BinaryCrossentropy(),
        "score": "mse",
    }
    assert check_losses_for_targets(objects, TARGETS, seed=3)


@pytest.mark.parametrize(
    "name, wrong, phrase",
    [
        ("label", "categorical_crossentropy", "整数类别标签"),
        ("one_hot", "sparse_categorical_crossentropy", "one-hot"),
        ("one_hot", "binary_crossentropy", "one-hot"),
        ("tags", "categorical_crossentropy", "multi-hot"),
        ("score", "binary_crossentropy", "连续的数值"),
        ("score", "mean_absolute_error", "连续的数值"),
    ],
)
def test_a_loss_that_does_not_fit_the_target_is_named(name, wrong, phrase):
    """Is each loss that does not fit its target's format reported with the right one?"""
    expect_failure(phrase, check_losses_for_targets, {**RIGHT, name: wrong}, TARGETS)


def test_loss_keys_and_type_are_checked():
    """Are a list, a missing key and a renamed key reported?"""
    expect_failure("dict", check_losses_for_targets, list(RIGHT.values()), TARGETS)
    expect_failure("键应与 targets", check_losses_for_targets, {"label": RIGHT["label"]}, TARGETS)
    expect_failure("忘了 return", check_losses_for_targets, None, TARGETS)


def test_losses_chosen_by_name_fail_on_other_names():
    """Is an answer that maps the ticket model's output names (not the data) rejected?"""
    by_name = {"priority": "mean_squared_error", "department": "categorical_crossentropy"}
    expect_failure("键应与 targets", check_losses_for_targets, by_name, TARGETS)


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
    assert check_frozen_head(frozen_head(base, "features"), base, "features", "urgency", 2)
    base = deep_base()
    new = frozen_head(base, "concat", "kind", 5)
    assert check_frozen_head(new, base, "concat", "kind", 5)


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
    assert check_dense_residual_block(block, width=6, units=6)
    assert check_dense_residual_block(block, width=3, units=7, seed=2)

    def with_ops(x, units):
        h = layers.Dense(units)(layers.Dense(units, activation="relu")(x))
        return keras.ops.relu(keras.ops.add(x, h))

    assert check_dense_residual_block(with_ops, 5, 5)


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
