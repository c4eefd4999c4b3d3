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
    branching_model,
    ch02,
    check_concat_head,
    check_dense_residual_block,
    check_losses_for_targets,
    check_upstream_layers,
    check_weighted_total_loss,
    layer_graph,
    toy_data_for,
    toy_functional_model,
)
from course_utils.inspect import fill_weights


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


# --- 2.1 every layer upstream of a layer ------------------------------------------------------


def upstream(model, name):
    """A right answer of 2.1 (test side only)."""
    producer = {id(layer.output): layer for layer in model.layers}
    found, todo = set(), [model.get_layer(name)]
    while todo:
        received = todo.pop().input
        for tensor in received if isinstance(received, (list, tuple)) else [received]:
            source = producer[id(tensor)]
            if source.name not in found:
                found.add(source.name)
                todo.append(source)
    return found


def visible_upstream(find=upstream):
    model = branching_model()
    return {name: find(model, name) for name in ch02.VISIBLE_UPSTREAM}


def test_stored_upstream_layers_are_the_visible_models():
    """Are the stored answers (and direct parents) those of the grade cell's visible model?"""
    assert visible_upstream() == ch02.VISIBLE_UPSTREAM
    graph = layer_graph(branching_model())
    for name, parents in ch02.VISIBLE_PARENTS.items():
        assert {s for call in graph[name]["calls"] for s in call} == parents


def test_upstream_layers_pass_as_sets_or_lists():
    """Do right answers pass, as sets and as sorted lists?"""
    forgery.passes(check_upstream_layers, visible_upstream())
    forgery.passes(check_upstream_layers, {k: sorted(v) for k, v in visible_upstream().items()})


def test_upstream_mistakes_are_named():
    """Are direct parents only, a missing input layer, the layer itself, the sub-model's
    unused inputs, layer objects, a missing return and other data each named?"""
    good = visible_upstream()
    parents = {**good, "route": {"all"}}
    expect_failure("只找到了直接接在它前面的层", check_upstream_layers, parents)
    no_inputs = {k: {n for n in v if n not in ch02.VISIBLE_INPUTS} for k, v in good.items()}
    expect_failure("输入层 (InputLayer) 也算", check_upstream_layers, no_inputs)
    expect_failure("自己", check_upstream_layers, {**good, "topic": good["topic"] | {"topic"}})

    def submodel(model, name):
        import keras

        sub = keras.Model(model.inputs, model.get_layer(name).output)
        return {layer.name for layer in sub.layers if layer.name != name}

    expect_failure("没用到的输入层", check_upstream_layers, visible_upstream(submodel))
    model = branching_model()
    objects = {k: {model.get_layer(n) for n in v} for k, v in good.items()}
    expect_failure("层的名字", check_upstream_layers, objects)
    expect_failure("忘了 return", check_upstream_layers, {**good, "urgency": None})
    expect_failure("只认识本格", check_upstream_layers, {"urgency": good["urgency"]})


# --- 2.2 the weighted total loss -------------------------------------------------------------


def visible_loss_case():
    """The grade cell's visible case, made the way the cell makes it."""
    model = toy_functional_model({"title": 6, "tags": 3}, {"priority": 1, "department": 3})
    fill_weights(model, seed=22)
    x, y = toy_data_for(model, num_samples=6, seed=22)
    losses = {
        "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        "priority": "mean_squared_error",
    }
    return model, x, y, losses, {"department": 0.5}


def total_loss(model, x, y, losses, weights, default=1.0, reduce=np.mean):
    """A right answer of 2.2 (test side only), or a named mistake."""
    predictions = model(x)
    if len(model.output_names) == 1:
        predictions = [predictions]
    total = 0.0
    for name, prediction in zip(model.output_names, predictions, strict=True):
        fn = keras.losses.get(losses[name]) if isinstance(losses[name], str) else losses[name]
        value = np.asarray(fn(y[name], prediction), dtype="float64")
        value = (
            reduce(value) if value.ndim else value * (len(prediction) if reduce is np.sum else 1)
        )
        total += weights.get(name, default) * float(value)
    return float(total)


def test_stored_total_loss_is_what_evaluate_reports():
    """Is the stored total the visible case's weighted loss, as compile + evaluate report it?"""
    model, x, y, losses, weights = visible_loss_case()
    assert abs(total_loss(model, x, y, losses, weights) - ch02.VISIBLE_TOTAL_LOSS["good"]) < 1e-5
    model.compile(loss=losses, loss_weights={"priority": 1.0, **weights})
    reported = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)["loss"]
    assert abs(reported - ch02.VISIBLE_TOTAL_LOSS["good"]) < 1e-5


def test_total_loss_mistakes_are_named():
    """Do the right total pass, and are ignored weights, weights defaulting to 0, a sum over
    the batch, a NumPy scalar and a wrong number each named?"""
    case = visible_loss_case()
    forgery.passes(check_weighted_total_loss, total_loss(*case))
    expect_failure("乘以 loss_weights", check_weighted_total_loss, total_loss(*case[:4], {}))
    expect_failure("不是 0", check_weighted_total_loss, total_loss(*case, default=0.0))
    expect_failure("批次的平均值", check_weighted_total_loss, total_loss(*case, reduce=np.sum))
    expect_failure("Python float", check_weighted_total_loss, np.float32(total_loss(*case)))
    expect_failure("总损失应为", check_weighted_total_loss, 1.0)
    expect_failure("忘了 return", check_weighted_total_loss, None)


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


# --- 2.4 a frozen base, a new head on concatenated layers ------------------------------------


def deep_base(seed=0):
    return toy_functional_model(
        {"title": 10, "text_body": 10, "tags": 4},
        {"priority": 1, "department": 3},
        hidden_names=("features", "summary"),
        seed=seed,
    )


def concat_head(
    model,
    layer_names,
    output_name="urgency",
    num_classes=2,
    activation="softmax",
    freeze="all",
    keep_outputs=False,
):
    """A head on model's concatenated layers, right or wrong in one named way."""
    if freeze == "all":
        for layer in model.layers:
            layer.trainable = False
    parts = [model.get_layer(n).output for n in layer_names]
    joined = layers.Concatenate()(parts) if len(parts) > 1 else parts[0]
    head = layers.Dense(num_classes, activation=activation, name=output_name)
    out = head(joined)
    outputs = [*model.outputs, out] if keep_outputs else out
    new = keras.Model(model.inputs, outputs)
    if freeze == "path":
        for layer in new.layers:
            layer.trainable = layer is head
    if freeze == "model":
        new.trainable = False
    return new


VISIBLE = ["features", "concat"]


def test_head_on_the_concatenated_layers_passes():
    """Does a softmax head on the named layers, concatenated in order, with every base layer
    frozen, pass (also with three layers, an input among them)?"""
    base = deep_base()
    forgery.passes(check_concat_head, concat_head(base, VISIBLE), base, VISIBLE, "urgency", 2)
    base = deep_base()
    names = ["summary", "tags", "features"]
    new = concat_head(base, names, "kind", 5)
    forgery.passes(check_concat_head, new, base, names, "kind", 5)


@pytest.mark.parametrize(
    "kwargs, names, phrase",
    [
        ({}, ["concat", "features"], "拼接的顺序"),
        ({}, ["features"], "拼接 (concatenate)"),
        ({}, ["summary", "concat"], "用 model.get_layer(名字).output"),
        ({"activation": None}, VISIBLE, "softmax"),
        ({"freeze": "none"}, VISIBLE, "没有冻结"),
        ({"freeze": "model"}, VISIBLE, "new_model.trainable = False"),
        ({"freeze": "path"}, VISIBLE, "冻结 model 的每一层"),
        ({"keep_outputs": True}, VISIBLE, "只要一个输出"),
        ({"output_name": "extra"}, VISIBLE, "name=output_name"),
        ({"num_classes": 3}, VISIBLE, "num_classes"),
    ],
)
def test_concat_head_mistakes_are_named(kwargs, names, phrase):
    """Are the wrong order, one layer only, the wrong layers, no softmax, the freezing mistakes,
    the old outputs kept, the head's name and width each named?"""
    base = deep_base()
    new = concat_head(base, names, **kwargs)
    expect_failure(phrase, check_concat_head, new, base, VISIBLE, "urgency", 2)


def test_a_cloned_base_and_the_base_itself_are_named():
    """Are a head on a clone of the base and the original model returned each named?"""
    base = deep_base()
    new = concat_head(keras.models.clone_model(base), VISIBLE)
    expect_failure("不是原模型的那一层", check_concat_head, new, base, VISIBLE, "urgency", 2)
    expect_failure("新的 keras.Model", check_concat_head, base, base, VISIBLE, "urgency", 2)


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
    # The visible model's answers typed in by hand (only direct parents anywhere else).
    "ch02_upstream_layers_test": """
def upstream_layers(model, layer_name):
    known = {"urgency": {"title", "title_code"}, "tags": set(),
             "topic": {"title", "tags", "title_code", "tag_code", "both"},
             "route": {"title", "tags", "text_body", "title_code", "tag_code", "both", "all"}}
    if layer_name in known:
        return known[layer_name]
    received = model.get_layer(layer_name).input
    received = received if isinstance(received, list) else [received]
    return {layer.name for layer in model.layers if any(layer.output is t for t in received)}
""",
    # Pairs predictions and targets right, but every weight is the visible 0.5 of department.
    "ch02_weighted_total_loss_test": """
def weighted_total_loss(model, inputs, targets, losses, loss_weights):
    predictions = model(inputs)
    predictions = predictions if isinstance(predictions, list) else [predictions]
    total = 0.0
    for name, prediction in zip(model.output_names, predictions):
        fn = keras.losses.get(losses[name]) if isinstance(losses[name], str) else losses[name]
        weight = 0.5 if name == "department" else 1.0
        total += weight * float(np.mean(np.asarray(fn(targets[name], prediction))))
    return float(total)
""",
    # Chooses by the visible target names instead of by the data.
    "ch02_losses_for_targets_test": """
def losses_for_targets(targets):
    table = {"priority": "mean_squared_error", "department": "categorical_crossentropy",
             "level": "sparse_categorical_crossentropy", "labels": "binary_crossentropy"}
    return {name: table.get(name, "mean_squared_error") for name in targets}
""",
    # Freezes the base right, but always joins the visible layers "features" and "concat".
    "ch02_concat_head_test": """
def add_concat_head(model, layer_names, output_name, num_classes):
    for layer in model.layers:
        layer.trainable = False
    parts = [model.get_layer(n).output for n in ("features", "concat")]
    head = keras.layers.Dense(num_classes, activation="softmax", name=output_name)
    return keras.Model(model.inputs, head(keras.layers.Concatenate()(parts)))
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
        for name, fn in list(vars(module).items()):
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


def is_concat_head(new):
    """An answer of 2.4 on the visible base: one output "urgency", only the head trainable."""
    return (
        isinstance(new, keras.Model)
        and list(new.output_names) == ["urgency"]
        and sorted(w.path for w in new.trainable_weights) == ["urgency/bias", "urgency/kernel"]
    )


def is_total(value):
    """An answer of 2.2 on the visible case."""
    return (
        isinstance(value, (float, np.floating))
        and abs(value - ch02.VISIBLE_TOTAL_LOSS["good"]) < 1e-4
    )


def is_upstream(name):
    def check(value):
        return isinstance(value, (set, list, tuple)) and set(value) == ch02.VISIBLE_UPSTREAM[name]

    return check


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
    upstream_model = branching_model()
    loss_case = visible_loss_case()
    base = toy_functional_model(
        {"title": 10, "text_body": 10, "tags": 4},
        {"priority": 1, "department": 3},
        hidden_names=("features", "summary"),
    )
    block_input = keras.Input(shape=(8,), name="block_input")
    cases = [
        *[("2.1", (upstream_model, n), is_upstream(n)) for n in ("urgency", "topic", "route")],
        ("2.2", loss_case, is_total),
        ("2.3", (TARGETS,), RIGHT),
        *[("2.3", (TARGETS[n],), RIGHT[n]) for n in TARGETS],
        ("2.4", (base, ["features", "concat"], "urgency", 2), is_concat_head),
        ("2.5", (block_input, 8), block_answer(block_input)),
    ]
    leaks = [
        f"{name} answers {exercise}"
        for name, fn in course_callables()
        for exercise, args, answer in cases
        if answers_it(fn, args, answer)
    ]
    assert not leaks, leaks
