"""Chapter 01 checks: each named mistake gets its message, and a correct answer passes."""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest
from keras import layers

from course_utils import checks
from course_utils.checks import CheckFailed, ch01
from course_utils.inspect import fill_weights, layer_table


def mlp(
    input_shape=(28, 28),
    hidden=62,
    classes=10,
    hidden_act="relu",
    out_act="softmax",
    name="mlp",
    with_input=True,
):
    stack = [
        layers.Flatten(),
        layers.Dense(hidden, activation=hidden_act),
        layers.Dense(classes, activation=out_act),
    ]
    if with_input:
        stack.insert(0, keras.Input(shape=input_shape))
    return keras.Sequential(stack, name=name)


def check_mlp(model):
    return checks.check_mlp(model=model)


def conv(body, head=True, classes=10, input_shape=(64, 64, 3)):
    stack = [keras.Input(shape=input_shape), *body]
    if head:
        stack += [layers.GlobalMaxPooling2D(), layers.Dense(classes, activation="softmax")]
    return keras.Sequential(stack)


def good_body():
    return [
        layers.Conv2D(16, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"),
        layers.MaxPooling2D(2),
        layers.Conv2D(32, 3, activation="relu"),
        layers.Conv2D(64, 3, activation="relu"),
        layers.MaxPooling2D(2),
    ]


def logits_model():
    """The visible logits model of exercise 1.3, with the grade cell's weights."""
    model = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(4)])
    fill_weights(model, seed=13, scale=1.0)
    return model


def bn_model():
    """The visible model of exercise 1.4, its last layer frozen before the call."""
    model = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            layers.Dense(8, activation="relu"),
            layers.BatchNormalization(),
            layers.Dense(5, activation="relu"),
            layers.Dropout(0.2),
            layers.Dense(3),
        ]
    )
    model.layers[-1].trainable = False
    return model


def set_flags(model, flags):
    for layer, flag in zip(model.layers, flags):
        layer.trainable = flag


def freeze(model):
    """The right answer's flags for the visible case (k = 3)."""
    set_flags(model, ch01.UNFREEZE_FLAGS)


def classifier():
    """Three classes; the i-th one-hot input is predicted as class i (as in the grade cell)."""
    model = keras.Sequential([keras.Input(shape=(3,)), layers.Dense(3, activation="softmax")])
    model.set_weights([5.0 * np.eye(3, dtype="float32"), np.zeros(3, dtype="float32")])
    return model


X3 = np.tile(np.eye(3, dtype="float32"), (2, 1))  # predicted 0, 1, 2, 0, 1, 2
Y3 = np.array([0, 1, 2, 1, 1, 0])
RECALL4 = np.array([0.5, 2 / 3, 1.0, np.nan])  # the visible case has num_classes=4


def fails_with(phrase, check, *args, **kwargs):
    with pytest.raises(CheckFailed) as info:
        check(*args, **kwargs)
    assert phrase in str(info.value), str(info.value)


# Exercise 1.1 -------------------------------------------------------------------------------


def test_mlp_correct_passes():
    """Does a correct MLP pass check_mlp?"""
    forgery.passes(check_mlp, mlp())


def test_mlp_none():
    """Is a function that forgot to return told so?"""
    fails_with("忘了 return", check_mlp, None)


def test_mlp_without_input_is_unbuilt():
    """Is a model without keras.Input reported as unbuilt?"""
    fails_with("keras.Input", check_mlp, mlp(with_input=False))


def test_mlp_wrong_input_shape():
    """Is a wrong keras.Input shape named?"""
    fails_with("输入形状", check_mlp, mlp(input_shape=(784,)))


def test_mlp_wrong_layer_order():
    """Is Dense before Flatten reported as a wrong layer order?"""
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28)),
            layers.Dense(64, activation="relu"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    fails_with("层的顺序", check_mlp, model)


def test_mlp_narrower_than_the_budget_allows():
    """Is a hidden layer narrower than the budget allows reported as not using the budget?"""
    fails_with("还没有用满预算", check_mlp, mlp(hidden=61))


def test_mlp_over_the_budget():
    """Is one unit too many (a count without the biases gives 63) reported as over budget?"""
    fails_with("超过了预算", check_mlp, mlp(hidden=63))
    fails_with("超过了预算", check_mlp, mlp(hidden=64))


def test_mlp_forgot_relu():
    """Is a hidden layer without activation reported as a forgotten relu?"""
    fails_with("activation='relu'", check_mlp, mlp(hidden_act=None))


def test_mlp_wrong_classes():
    """Is an output layer with the wrong number of units named?"""
    fails_with("类别数", check_mlp, mlp(classes=5))


def test_mlp_forgot_softmax():
    """Is an output layer without softmax reported?"""
    fails_with("activation='softmax'", check_mlp, mlp(out_act=None))


def test_mlp_wrong_name():
    """Is a model with the default name told to pass name=?"""
    fails_with("name=", check_mlp, mlp(name="sequential_x"))


# Exercise 1.2 -------------------------------------------------------------------------------


def test_conv_correct_passes():
    """Does a stack reaching (5, 5, 64) with the right head pass?"""
    forgery.passes(checks.check_conv_classifier, model=conv(good_body()))


def test_conv_wrong_feature_shape():
    """Is a stack that stops at the wrong feature map shape told to use add()+summary()?"""
    body = good_body()[:-1]
    fails_with("summary()", checks.check_conv_classifier, model=conv(body))


def test_conv_missing_global_pooling():
    """Is a head without GlobalMaxPooling2D reported?"""
    model = conv(
        [*good_body(), layers.Flatten(), layers.Dense(10, activation="softmax")], head=False
    )
    fails_with("GlobalMaxPooling2D", checks.check_conv_classifier, model=model)


def test_conv_other_layer_in_body():
    """Is a Dense or Flatten layer inside the convolutional part reported?"""
    body = [*good_body()[:-1], layers.Dropout(0.1), layers.MaxPooling2D(2)]
    fails_with("只能使用 Conv2D", checks.check_conv_classifier, model=conv(body))


def test_conv_unbuilt():
    """Is a conv model without keras.Input reported as unbuilt?"""
    model = keras.Sequential([*good_body(), layers.GlobalMaxPooling2D(), layers.Dense(10)])
    fails_with("keras.Input", checks.check_conv_classifier, model=model)


def test_conv_forgot_softmax():
    """Is a classifier without softmax reported?"""
    model = keras.Sequential(
        [
            keras.Input(shape=(64, 64, 3)),
            *good_body(),
            layers.GlobalMaxPooling2D(),
            layers.Dense(10),
        ]
    )
    fails_with("softmax", checks.check_conv_classifier, model=model)


# Exercise 1.3 -------------------------------------------------------------------------------


def test_probability_model_correct_passes():
    """Does Sequential([logits_model, Softmax()]) pass?"""
    base = logits_model()
    prob = keras.Sequential([base, layers.Softmax()])
    forgery.passes(checks.check_probability_model, prob_model=prob, logits_model=base)


def test_probability_model_same_model():
    """Is returning the logits model itself reported?"""
    base = logits_model()
    fails_with("同一个模型", checks.check_probability_model, prob_model=base, logits_model=base)


def test_probability_model_forgot_softmax():
    """Is a wrapper without Softmax reported as not summing to one?"""
    base = logits_model()
    prob = keras.Sequential([base])
    fails_with(
        "layers.Softmax()", checks.check_probability_model, prob_model=prob, logits_model=base
    )


def test_probability_model_new_weights():
    """Is a fresh Dense layer (not sharing the weights) reported?"""
    base = logits_model()
    prob = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(4), layers.Softmax()])
    fails_with("共享", checks.check_probability_model, prob_model=prob, logits_model=base)


def test_probability_model_extra_dense():
    """Is a new (identity) Dense layer after the shared model reported, though its outputs match?"""
    base = logits_model()
    extra = layers.Dense(4, kernel_initializer="identity")
    prob = keras.Sequential([base, extra, layers.Softmax()])
    fails_with("不要新建 Dense", checks.check_probability_model, prob_model=prob, logits_model=base)


def test_probability_model_double_softmax():
    """Is softmax applied twice reported?"""
    base = logits_model()
    prob = keras.Sequential([base, layers.Softmax(), layers.Softmax()])
    fails_with("两次 softmax", checks.check_probability_model, prob_model=prob, logits_model=base)


def test_probability_model_modified_input():
    """Is adding Softmax to the given logits model in place reported?"""
    base = logits_model()
    base.add(layers.Softmax())
    prob = keras.Sequential([base, layers.Softmax()])
    fails_with("不要修改", checks.check_probability_model, prob_model=prob, logits_model=base)


# Exercise 1.4 -------------------------------------------------------------------------------


def counts(model):
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    frozen = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return trainable, frozen


def test_unfreeze_correct_passes():
    """Do the top three layers with weights (BatchNormalization aside) trainable, and the
    counts, pass?"""
    model = bn_model()
    freeze(model)
    assert counts(model) == ch01.UNFREEZE_COUNTS
    forgery.passes(checks.check_unfreeze_top, model=model, result=counts(model))


def test_unfreeze_used_weights():
    """Is counting model.weights as trainable reported?"""
    model = bn_model()
    freeze(model)
    total = int(sum(np.prod(w.shape) for w in model.weights))
    fails_with(
        "model.trainable_weights",
        checks.check_unfreeze_top,
        model=model,
        result=(total, counts(model)[1]),
    )


def test_unfreeze_bn_left_trainable():
    """Is a BatchNormalization layer left trainable (or counted among the k) reported?"""
    model = bn_model()
    set_flags(model, ch01.UNFREEZE_BN_COUNTED)
    fails_with("BatchNormalization", checks.check_unfreeze_top, model=model, result=counts(model))


def test_unfreeze_last_k_layers():
    """Is model.layers[-k:] (the weightless Dropout counted) reported?"""
    model = bn_model()
    set_flags(model, ch01.UNFREEZE_LAST_K_LAYERS)
    fails_with("没有权重", checks.check_unfreeze_top, model=model, result=counts(model))


def test_unfreeze_previously_frozen_layer_kept_frozen():
    """Is a top layer frozen before the call and left frozen reported?"""
    model = bn_model()
    set_flags(model, (True, False, True, False, False))
    fails_with(
        "设回 trainable = True", checks.check_unfreeze_top, model=model, result=counts(model)
    )


def test_unfreeze_whole_model():
    """Is model.trainable = False reported?"""
    model = bn_model()
    freeze(model)
    model.trainable = False
    fails_with("整个模型", checks.check_unfreeze_top, model=model, result=(119, 32))


def test_unfreeze_counted_tensors():
    """Is counting weight tensors instead of scalars reported?"""
    model = bn_model()
    freeze(model)
    result = (len(model.trainable_weights), len(model.non_trainable_weights))
    fails_with("np.prod", checks.check_unfreeze_top, model=model, result=result)


def test_unfreeze_swapped():
    """Is the (non-trainable, trainable) order reported?"""
    model = bn_model()
    freeze(model)
    fails_with("顺序反了", checks.check_unfreeze_top, model=model, result=counts(model)[::-1])


def test_unfreeze_float_counts():
    """Are float counts reported?"""
    model = bn_model()
    freeze(model)
    fails_with(
        "整数",
        checks.check_unfreeze_top,
        model=model,
        result=tuple(float(n) for n in counts(model)),
    )


# Exercise 1.5 -------------------------------------------------------------------------------


def test_per_class_correct_passes():
    """Does the accuracy within each true class pass, with nan for the absent class 3?"""
    forgery.passes(checks.check_per_class_accuracy, result=RECALL4)
    forgery.passes(checks.check_per_class_accuracy, result=RECALL4.astype("float32"))


@pytest.mark.parametrize(
    "result, message",
    [
        (None, "忘了 return"),
        # The overall accuracy, one number.
        (np.float64(4 / 6), "总准确率"),
        # The overall accuracy repeated for every class.
        (np.array([4 / 6, 4 / 6, 4 / 6, np.nan]), "总准确率"),
        # Dividing the hits of each class by len(y) instead of by the class count.
        (np.array([1 / 6, 2 / 6, 1 / 6, 0.0]), "(y == c).sum()"),
        # Grouping by the predicted class: precision, not per-class accuracy.
        (np.array([0.5, 1.0, 0.5, np.nan]), "精确率 (precision)"),
        # Only the classes present in y (np.unique), so the absent class has no slot.
        (np.array([0.5, 2 / 3, 1.0]), "np.nan"),
        # 0 instead of nan for a class that y does not contain.
        (np.array([0.5, 2 / 3, 1.0, 0.0]), "不是 0"),
        # A probability matrix instead of one number per class.
        (np.eye(4), "一维数组"),
        (np.array([0.5, 0.5, 1.0, np.nan]), "类别 [1]"),
        # A Python list, not the NumPy array the task asks for.
        ([0.5, 2 / 3, 1.0, np.nan], "np.ndarray"),
        # Integer counts of hits instead of fractions.
        (np.array([1, 2, 1, 0]), "浮点数"),
    ],
    ids=[
        "none",
        "overall-accuracy",
        "overall-accuracy-each",
        "divided-by-total",
        "precision",
        "present-classes-only",
        "zero-for-absent",
        "matrix",
        "wrong-value",
        "list",
        "int-counts",
    ],
)
def test_per_class_names_each_mistake(result, message):
    """Is each named wrong answer to exercise 1.5 rejected with its own hint?"""
    fails_with(message, checks.check_per_class_accuracy, result=result)


# Stored expected values --------------------------------------------------------------------


def test_stored_probability_values_match_the_visible_case():
    """Are the stored logits and probabilities of exercise 1.3 what the grade cell's logits
    model gives on the stored inputs (softmax computed here, in the test)?"""
    x = np.random.default_rng(ch01.PROB_X_SEED).normal(size=(6, 5)).astype("float32")
    logits = np.asarray(logits_model()(x), dtype="float64")
    assert np.allclose(logits, ch01.PROB_LOGITS, atol=1e-5)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    assert np.allclose(e / e.sum(axis=1, keepdims=True), ch01.PROB_PROBS, atol=1e-6)


def test_stored_mlp_values_match_the_visible_budget():
    """Is the stored width of exercise 1.1 the largest within the visible budget, with the
    stored parameter count (counted here by building the models)?"""
    from course_utils.inspect import count_params

    assert count_params(mlp(hidden=ch01.MLP_HIDDEN_UNITS)) == ch01.MLP_PARAMS <= ch01.MLP_BUDGET
    wider = count_params(mlp(hidden=ch01.MLP_HIDDEN_UNITS + 1))
    assert wider == ch01.MLP_PARAMS + ch01.MLP_PARAMS_PER_UNIT > ch01.MLP_BUDGET


def test_stored_unfreeze_values_match_the_visible_case():
    """Are the stored flags and counts of exercise 1.4 those of the visible model (the top
    three layers with weights chosen here, BatchNormalization aside)?"""
    model = bn_model()
    assert sum(int(np.prod(w.shape)) for w in model.weights) == ch01.UNFREEZE_TOTAL
    weighted = [
        layer
        for layer in model.layers
        if layer.weights and not isinstance(layer, layers.BatchNormalization)
    ]
    top = weighted[-ch01.UNFREEZE_K :]
    assert tuple(any(layer is t for t in top) for layer in model.layers) == ch01.UNFREEZE_FLAGS
    freeze(model)
    assert counts(model) == ch01.UNFREEZE_COUNTS
    assert (len(model.trainable_weights), len(model.non_trainable_weights)) == ch01.UNFREEZE_TENSORS


def test_stored_per_class_values_match_the_visible_case():
    """Are the stored values of exercise 1.5 (and of its named mistakes) right for the visible
    model, inputs and labels?"""
    predicted = np.argmax(classifier().predict(X3, verbose=0), axis=1)
    assert predicted.tolist() == [0, 1, 2, 0, 1, 2]
    n = ch01.PER_CLASS_NUM_CLASSES
    assert np.bincount(Y3, minlength=n).tolist() == ch01.PER_CLASS_COUNTS.tolist()
    recall = [np.mean(predicted[Y3 == c] == c) if np.any(Y3 == c) else np.nan for c in range(n)]
    assert np.allclose(recall, ch01.PER_CLASS, equal_nan=True)
    assert np.isclose(np.mean(predicted == Y3), ch01.PER_CLASS_OVERALL)
    by_total = [np.sum((predicted == c) & (Y3 == c)) / len(Y3) for c in range(n)]
    assert np.allclose(by_total, ch01.PER_CLASS_BY_TOTAL)
    precision = [
        np.mean(Y3[predicted == c] == c) if np.any(predicted == c) else np.nan for c in range(n)
    ]
    assert np.allclose(precision, ch01.PER_CLASS_PRECISION, equal_nan=True)


# No callable in course_utils answers an exercise ------------------------------------------

# Functions whose side effects reach beyond their arguments (session, files, network, the
# grading records of this process): never called with exercise arguments.
NOT_CALLED = {
    "course_utils.config.reset_session",
    "course_utils.config.require",
    "course_utils.data.load_fashion_mnist",
    "course_utils.data.write_fashion_mnist_dir",
    "course_utils.pretrained.choose_weights",
    "course_utils.tblogs.start_tensorboard",
    "course_utils.tblogs.stop_tensorboard",
    "course_utils.tblogs.show_tensorboard",
    "course_utils.grading._record",
    "course_utils.grading._failed",
    "course_utils.grading.probe",
}


def course_callables():
    """Every function defined in a course_utils module (private ones included)."""
    import importlib
    import inspect
    import pkgutil

    import course_utils

    found = {}
    modules = [course_utils]
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        modules.append(importlib.import_module(info.name))
    for module in modules:
        for obj in vars(module).values():
            if inspect.isfunction(obj) and obj.__module__.startswith("course_utils"):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return {k: v for k, v in found.items() if k not in NOT_CALLED}


def answers(fn, make_args):
    """``fn``'s result on fresh exercise arguments, or None when it refuses them."""
    import inspect

    args = make_args()
    try:
        inspect.signature(fn).bind(*args)
    except (TypeError, ValueError):
        return None, args
    try:
        return fn(*args), args
    except BaseException:  # noqa: BLE001 - any refusal is fine
        return None, args


def is_model_like(result, classes, params=None):
    """Is ``result`` a model whose last layers are ``classes`` (and with ``params`` in all)?"""
    if not isinstance(result, keras.Model):
        return False
    try:
        table = [(row["class"], row["params"]) for row in layer_table(result)]
    except Exception:  # noqa: BLE001
        return False
    tail = [c for c, _ in table][-len(classes) :]
    return tail == classes and (params is None or sum(p for _, p in table) == params)


def test_no_course_utils_callable_answers_an_exercise(tmp_path, monkeypatch):
    """Called with each exercise's visible arguments, does any function in course_utils return
    that exercise's answer (a model of the asked structure, the probability model, the frozen
    counts, the per-class accuracies)?"""
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    leaks = []
    for qualname, fn in sorted(course_callables().items()):
        result, _ = answers(fn, lambda: ((28, 28), 10, 50060))
        if is_model_like(result, ["Flatten", "Dense", "Dense"], ch01.MLP_PARAMS):
            leaks.append(f"{qualname} builds build_mlp's model")
        result, _ = answers(fn, lambda: (10,))
        if is_model_like(result, ["GlobalMaxPooling2D", "Dense"]):
            leaks.append(f"{qualname} builds a conv classifier")
        result, (base,) = answers(fn, lambda: (logits_model(),))
        if isinstance(result, keras.Model) and result is not base:
            x = np.random.default_rng(ch01.PROB_X_SEED).normal(size=(6, 5)).astype("float32")
            try:
                probs = np.asarray(result(x), dtype="float64")
            except Exception:  # noqa: BLE001
                probs = None
            if (
                probs is not None
                and probs.shape == (6, 4)
                and np.allclose(probs, ch01.PROB_PROBS, atol=1e-4)
            ):
                leaks.append(f"{qualname} makes the probability model")
        result, (model, _) = answers(fn, lambda: (bn_model(), ch01.UNFREEZE_K))
        try:
            if tuple(int(n) for n in result) == ch01.UNFREEZE_COUNTS:
                leaks.append(f"{qualname} returns unfreeze_top's counts")
        except Exception:  # noqa: BLE001
            pass
        if tuple(layer.trainable for layer in model.layers) == ch01.UNFREEZE_FLAGS:
            leaks.append(f"{qualname} unfreezes the top layers")
        result, _ = answers(fn, lambda: (classifier(), X3, Y3.copy(), 4))
        try:
            values = np.asarray(result, dtype="float64")
            if values.shape == (4,) and np.allclose(values, RECALL4, equal_nan=True):
                leaks.append(f"{qualname} computes per_class_accuracy")
        except Exception:  # noqa: BLE001
            pass
        plt.close("all")
    assert not leaks, leaks


# Forged answers against every grade cell ------------------------------------------------------

HARDCODED = {
    # The visible width (62 units) hard-coded.
    "ch01_build_mlp_test": """
def build_mlp(input_shape, num_classes, max_params, name="mlp"):
    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(62, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name="mlp",
    )
""",
    # The right convolutional part, but the visible 10 classes hard-coded.
    "ch01_conv_classifier_test": """
def build_conv_classifier(num_classes):
    model = keras.Sequential([keras.Input(shape=(64, 64, 3))])
    for filters in (16, 32):
        model.add(keras.layers.Conv2D(filters, 3, activation="relu"))
        model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Conv2D(32, 3, activation="relu"))
    model.add(keras.layers.Conv2D(64, 3, activation="relu"))
    model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.GlobalMaxPooling2D())
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model
""",
    # Right for the visible 4-logit model only; other models get no Softmax.
    "ch01_probability_model_test": """
def make_probability_model(logits_model):
    if logits_model.output_shape[-1] == 4:
        return keras.Sequential([logits_model, keras.layers.Softmax()])
    return keras.Sequential([logits_model])
""",
    # Sets the visible model's flags right, then returns its counts.
    "ch01_unfreeze_top_test": """
def unfreeze_top(model, k):
    for layer in model.layers:
        layer.trainable = bool(layer.weights) and type(layer).__name__ != "BatchNormalization"
    return 119, 32
""",
    # Right wherever every class occurs (the visible case), 0 instead of nan for absent ones.
    "ch01_per_class_accuracy_test": """
def per_class_accuracy(model, x, y, num_classes):
    y = np.asarray(y).reshape(-1)
    predicted = np.argmax(model.predict(x, verbose=0), axis=1)
    return np.array(
        [np.mean(predicted[y == c] == c) if np.any(y == c) else 0.0 for c in range(num_classes)]
    )
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal stubs, rebound checks and hard-coded answers fail, and the real answers
    pass, every chapter 01 grade cell run with only Setup and its own answer cells?"""
    forgery.assert_forgeries_fail("01_sequential", HARDCODED, tmp_path)
