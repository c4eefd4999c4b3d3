"""Chapter 02 checks: each named mistake gets its message, a correct answer passes."""

import keras
import numpy as np
import pytest
from keras import layers

from course_utils.checks import (
    CheckFailed,
    check_data_in_model_order,
    check_difficulty_head,
    check_layer_output_shapes,
    check_ticket_losses,
    check_ticket_model,
    toy_data_for,
    toy_functional_model,
)
from course_utils.data import make_ticket_data

V, T, D = 30, 6, 4


def ticket_model(
    names=("title", "text_body", "tags"),
    widths=(V, V, T),
    order=("priority", "department"),
    head_names=("priority", "department"),
    priority_act="sigmoid",
    department_act="softmax",
    num_departments=D,
    features_name="features",
):
    """A small ticket model whose every detail a test can get wrong on purpose."""
    ins = [keras.Input(shape=(w,), name=n) for n, w in zip(names, widths, strict=True)]
    x = layers.Concatenate()(ins)
    x = layers.Dense(8, activation="relu", name=features_name)(x)
    heads = {
        "priority": layers.Dense(1, activation=priority_act, name=head_names[0])(x),
        "department": layers.Dense(num_departments, activation=department_act, name=head_names[1])(
            x
        ),
    }
    return keras.Model(ins, [heads[k] for k in order])


def expect_failure(phrase, fn, *args, **kwargs):
    with pytest.raises(CheckFailed) as info:
        fn(*args, **kwargs)
    assert phrase in str(info.value), str(info.value)


# --- 2.1 build_ticket_model -------------------------------------------------------------------


def test_correct_ticket_model_passes():
    """Does a correct ticket model pass, with and without hidden_units?"""
    assert check_ticket_model(
        model=ticket_model(), vocabulary_size=V, num_tags=T, num_departments=D
    )
    assert check_ticket_model(
        model=ticket_model(), vocabulary_size=V, num_tags=T, num_departments=D, hidden_units=8
    )


def test_missing_return_is_named():
    """Is a function that forgot to return told so?"""
    expect_failure("忘了 return", check_ticket_model, None, V, T, D)


def test_wrong_input_names_are_named():
    """Are misspelled input names reported as wrong names?"""
    m = ticket_model(names=("titel", "text_body", "tags"))
    expect_failure("输入的名字", check_ticket_model, m, V, T, D)


def test_wrong_input_order_is_named():
    """Are inputs passed in the wrong order reported as an order problem?"""
    m = ticket_model(names=("text_body", "title", "tags"))
    expect_failure("输入的顺序不对", check_ticket_model, m, V, T, D)


def test_swapped_widths_are_named():
    """Does mixing up vocabulary_size and num_tags name both?"""
    m = ticket_model(widths=(T, T, V))
    expect_failure("vocabulary_size 和 num_tags", check_ticket_model, m, V, T, D)


def test_outputs_in_wrong_order_are_named():
    """Are outputs given as [department, priority] reported as an order problem?"""
    m = ticket_model(order=("department", "priority"))
    expect_failure("输出的顺序不对", check_ticket_model, m, V, T, D)


def test_unnamed_outputs_are_named():
    """Are output layers without the right names reported?"""
    m = ticket_model(head_names=("dense_a", "dense_b"))
    expect_failure("输出的名字", check_ticket_model, m, V, T, D)


def test_wrong_number_of_departments_is_named():
    """Is a department head with the wrong width reported?"""
    m = ticket_model(num_departments=3)
    expect_failure("部门数", check_ticket_model, m, V, T, D)


def test_missing_features_layer_is_named():
    """Is a model without a layer named 'features' told to name it?"""
    m = ticket_model(features_name="hidden")
    expect_failure("name='features'", check_ticket_model, m, V, T, D)


def test_priority_without_sigmoid_is_named():
    """Is a linear priority head reported as missing sigmoid?"""
    m = ticket_model(priority_act=None)
    expect_failure("sigmoid", check_ticket_model, m, V, T, D)


def test_priority_with_softmax_is_named():
    """Is softmax on the single priority unit (always 1) reported?"""
    m = ticket_model(priority_act="softmax")
    expect_failure("恒等于 1", check_ticket_model, m, V, T, D)


def test_department_without_softmax_is_named():
    """Is a department head with sigmoid reported as missing softmax?"""
    m = ticket_model(department_act="sigmoid")
    expect_failure("softmax", check_ticket_model, m, V, T, D)


def test_non_model_is_named():
    """Is returning a KerasTensor instead of a Model reported?"""
    expect_failure("keras.Model", check_ticket_model, keras.Input(shape=(3,)), V, T, D)


# --- 2.2 ticket_losses ------------------------------------------------------------------------


def test_correct_losses_pass():
    """Do string and object forms of the right losses pass?"""
    assert check_ticket_losses(
        {"priority": "mean_squared_error", "department": "categorical_crossentropy"}
    )
    assert check_ticket_losses(
        {
            "priority": keras.losses.BinaryCrossentropy(),
            "department": keras.losses.CategoricalCrossentropy(),
        }
    )


def test_loss_keys_must_be_output_names():
    """Are dict keys that do not match the output names reported?"""
    expect_failure(
        "输出层的名字",
        check_ticket_losses,
        {"prio": "mse", "department": "categorical_crossentropy"},
    )


def test_loss_list_is_rejected():
    """Is a list instead of a dict reported?"""
    expect_failure("dict", check_ticket_losses, ["mse", "categorical_crossentropy"])


def test_sparse_for_one_hot_is_named():
    """Is sparse_categorical_crossentropy on one-hot targets reported?"""
    expect_failure(
        "sparse_categorical_crossentropy",
        check_ticket_losses,
        {"priority": "mse", "department": "sparse_categorical_crossentropy"},
    )


def test_mse_for_department_is_named():
    """Is a regression loss on the department head reported?"""
    expect_failure(
        "categorical_crossentropy", check_ticket_losses, {"priority": "mse", "department": "mse"}
    )


def test_categorical_for_priority_is_named():
    """Is categorical_crossentropy on the single priority unit reported as always zero?"""
    expect_failure(
        "恒为 0",
        check_ticket_losses,
        {"priority": "categorical_crossentropy", "department": "categorical_crossentropy"},
    )


# --- 2.3 data in model order ------------------------------------------------------------------


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


# --- 2.4 layer output shapes ------------------------------------------------------------------


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


# --- 2.5 difficulty head ----------------------------------------------------------------------


@pytest.fixture()
def base():
    return toy_functional_model(
        {"title": 10, "text_body": 10, "tags": 4}, {"priority": 1, "department": 3}
    )


def head(model, num_levels=3, name="difficulty", activation="softmax"):
    features = model.get_layer("features").output
    extra = layers.Dense(num_levels, activation=activation, name=name)(features)
    return keras.Model(model.inputs, [*model.outputs, extra])


def test_shared_difficulty_head_passes(base):
    """Does a head on the shared features layer pass?"""
    assert check_difficulty_head(head(base), base, num_levels=3)


def test_rebuilt_model_is_named(base):
    """Is a model rebuilt with fresh layers (not sharing weights) reported?"""
    fresh = toy_functional_model(
        {"title": 10, "text_body": 10, "tags": 4}, {"priority": 1, "department": 3}, seed=7
    )
    expect_failure("没有复用原模型的层", check_difficulty_head, head(fresh), base)


def test_missing_difficulty_name_is_named(base):
    """Is a new output without the name 'difficulty' reported?"""
    expect_failure("name='difficulty'", check_difficulty_head, head(base, name="extra"), base)


def test_wrong_number_of_levels_is_named(base):
    """Is a difficulty head with the wrong width reported?"""
    expect_failure("num_levels", check_difficulty_head, head(base, num_levels=2), base, 3)


def test_difficulty_without_softmax_is_named(base):
    """Is a linear difficulty head reported as missing softmax?"""
    expect_failure("softmax", check_difficulty_head, head(base, activation=None), base)


def test_dropped_outputs_are_named(base):
    """Is a new model that keeps only the difficulty output reported?"""
    extra = layers.Dense(3, activation="softmax", name="difficulty")(
        base.get_layer("features").output
    )
    only = keras.Model(base.inputs, extra)
    expect_failure("应依次是", check_difficulty_head, only, base)


def test_returning_the_base_model_is_named(base):
    """Is returning the original model reported?"""
    expect_failure("新的 keras.Model", check_difficulty_head, base, base)


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
