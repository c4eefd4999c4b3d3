"""Chapter 08 checks: each named mistake gets its message, and a correct answer passes."""

import importlib
import inspect
import pkgutil
import re
import signal
import warnings
from pathlib import Path

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest

from course_utils import checks
from course_utils.checks import CheckFailed

# ---------------------------------------------------------------- 8.1 precision / recall


def pr_good(y_true, y_pred, num_classes):
    cm = np.zeros((num_classes, num_classes))
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    tp, pred, true = np.diag(cm), cm.sum(0), cm.sum(1)
    p = np.divide(tp, pred, out=np.zeros(num_classes), where=pred > 0)
    r = np.divide(tp, true, out=np.zeros(num_classes), where=true > 0)
    return p, r


def pr_swapped(y_true, y_pred, num_classes):
    p, r = pr_good(y_true, y_pred, num_classes)
    return r, p


def pr_nan(y_true, y_pred, num_classes):
    cm = np.zeros((num_classes, num_classes))
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    with np.errstate(all="ignore"):
        return np.diag(cm) / cm.sum(0), np.diag(cm) / cm.sum(1)


def pr_unique(y_true, y_pred, num_classes):
    k = int(max(np.max(y_true), np.max(y_pred)))  # off by one and ignores num_classes
    return pr_good(np.minimum(y_true, k - 1), np.minimum(y_pred, k - 1), k)


def pr_sklearn(y_true, y_pred, num_classes):
    from sklearn.metrics import precision_recall_fscore_support

    p, r, _, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(num_classes)), zero_division=0
    )
    return p, r


def pr_tensorflow(y_true, y_pred, num_classes):
    import tensorflow as tf

    cm = tf.math.confusion_matrix(y_true, y_pred, num_classes=num_classes).numpy()
    tp, pred, true = np.diag(cm), cm.sum(0), cm.sum(1)
    p = np.divide(tp, pred, out=np.zeros(num_classes), where=pred > 0)
    r = np.divide(tp, true, out=np.zeros(num_classes), where=true > 0)
    return p, r


def pr_list(y_true, y_pred, num_classes):
    return list(pr_good(y_true, y_pred, num_classes))


def test_precision_recall_accepts_a_correct_answer():
    """Does a NumPy confusion-matrix answer pass (the fixed cases include absent classes)?"""
    forgery.passes(checks.check_precision_recall, pr_good)


def test_precision_recall_stored_values_are_right():
    """Are the stored visible answers what an honest NumPy count gives?"""
    from course_utils.checks.ch08 import PR_CASES

    for y_true, y_pred, k, want_p, want_r in PR_CASES:
        p, r = pr_good(y_true, y_pred, k)
        assert np.allclose(p, want_p) and np.allclose(r, want_r)


@pytest.mark.parametrize(
    "fn, message",
    [
        (pr_swapped, "互换"),
        (pr_nan, "NaN"),
        (pr_unique, "num_classes"),
        (pr_sklearn, "只用 NumPy"),
        (pr_tensorflow, "只用 NumPy"),
        (pr_list, "二元组"),
    ],
)
def test_precision_recall_names_each_mistake(fn, message):
    """Are swapped metrics, NaN, an ignored num_classes, sklearn, TensorFlow and a list each
    named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_precision_recall(fn)


def test_precision_recall_rejects_a_wrong_recall():
    """Is a recall off by a constant named?"""

    def fn(y_true, y_pred, num_classes):
        p, r = pr_good(y_true, y_pred, num_classes)
        return p, r * 0.5

    with pytest.raises(CheckFailed, match="recall 不对"):
        checks.check_precision_recall(fn)


def test_numpy_only_detection_sees_module_aliases():
    """Are sklearn, TensorFlow and course_utils found through an alias in globals, an imported
    function or an import inside the function, and NumPy left alone?"""
    import sklearn.metrics as skm
    import tensorflow as tf

    from course_utils.checks.ch08 import foreign_module
    from course_utils.plots import confusion_matrix

    namespace = {"skm": skm, "np": np, "t": tf, "cm": confusion_matrix}
    exec("def f(a, b, k):\n    return skm.recall_score(a, b)\n", namespace)
    exec("def g(a, b, k):\n    import sklearn\n    return 1\n", namespace)
    exec("def h(a, b, k):\n    return np.zeros(k)\n", namespace)
    exec("def i(a, b, k):\n    return t.math.confusion_matrix(a, b)\n", namespace)
    exec("def j(a, b, k):\n    return cm(a, b, k)\n", namespace)
    assert foreign_module(namespace["f"]) == foreign_module(namespace["g"]) == "sklearn"
    assert foreign_module(namespace["i"]) == "tensorflow"
    assert foreign_module(namespace["j"]) == "course_utils"
    assert foreign_module(namespace["h"]) is None


# ---------------------------------------------------------------- 8.2 RBFFeatures


def make_rbf(register=True, config="good", weight="add_weight", formula="good", name=None):
    class RBF(keras.layers.Layer):
        def __init__(self, num_centers, gamma=1.0, **kwargs):
            super().__init__(**kwargs)
            self.num_centers, self.gamma = int(num_centers), float(gamma)

        def build(self, input_shape):
            if weight == "add_weight":
                self.centers = self.add_weight(
                    shape=(self.num_centers, input_shape[-1]), initializer="random_normal"
                )
            else:
                shape = (self.num_centers, input_shape[-1])
                self.centers = np.random.normal(size=shape).astype("float32")

        def call(self, x):
            diff = keras.ops.expand_dims(x, 1) - keras.ops.expand_dims(self.centers, 0)
            d2 = keras.ops.sum(diff * diff, axis=-1)
            return keras.ops.exp(-self.gamma * d2) if formula == "good" else keras.ops.exp(-d2)

    if config == "good":
        RBF.get_config = lambda self: {
            **keras.layers.Layer.get_config(self),
            "num_centers": self.num_centers,
            "gamma": self.gamma,
        }
    elif config == "no_gamma":
        RBF.get_config = lambda self: {
            **keras.layers.Layer.get_config(self),
            "num_centers": self.num_centers,
        }
    elif config == "no_super":
        RBF.get_config = lambda self: {"num_centers": self.num_centers, "gamma": self.gamma}
    RBF.__name__ = RBF.__qualname__ = name or "RBFTest"
    if register:
        RBF = keras.saving.register_keras_serializable(package="ch08_tests")(RBF)
    return RBF


def test_rbf_roundtrip_accepts_a_correct_layer():
    """Does a registered layer with get_config and add_weight centers pass (two fixed sizes)?"""
    forgery.passes(checks.check_rbf_roundtrip, make_rbf(name="RBFGood"))


def test_rbf_stored_values_are_right():
    """Are the stored visible features exp(-gamma * squared distance)?"""
    from course_utils.checks.ch08 import RBF_CASES

    for _, gamma, centers, x, want in RBF_CASES:
        x, centers = np.array(x), np.array(centers)
        d2 = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
        assert np.allclose(np.exp(-gamma * d2), want, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"config": "none", "name": "RBFNoConfig"}, "没有重写 get_config"),
        ({"config": "no_gamma", "name": "RBFNoGamma"}, "'gamma'"),
        ({"config": "no_super", "name": "RBFNoSuper"}, "super"),
        ({"register": False, "name": "RBFUnregistered"}, "没有注册"),
        ({"weight": "numpy", "name": "RBFNumpy"}, "add_weight"),
        ({"formula": "no_gamma", "name": "RBFFormula"}, "exp"),
    ],
)
def test_rbf_roundtrip_names_each_mistake(kwargs, message):
    """Are a missing get_config, a dropped argument, no super(), no registration, centers that
    are not weights and a wrong formula each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_rbf_roundtrip(make_rbf(**kwargs))


# ---------------------------------------------------------------- 8.3 fine-tuning a checkpoint


def make_resume(
    count="weighted", bn="frozen", recompile=True, returns=True, head="trainable", lr="given"
):
    """A resume_for_fine_tuning, right by default, wrong in one named way on request."""

    def resume(path, base_name, n_top, learning_rate):
        model = keras.models.load_model(path)
        base = model.get_layer(base_name)
        base.trainable = True
        if count == "all_layers":  # the chapter's base.layers[-n_top:]
            tunable = base.layers[-n_top:]
        else:
            tunable = [
                layer
                for layer in base.layers
                if layer.weights
                and (count == "with_bn" or not isinstance(layer, keras.layers.BatchNormalization))
            ][-n_top:]
        for layer in base.layers:
            layer.trainable = any(layer is t for t in tunable)
            if bn == "unfrozen" and isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = True
        if head == "frozen":
            model.get_layer("head").trainable = False
        if recompile:
            rate = learning_rate if lr == "given" else 1e-3
            model.compile(
                optimizer=keras.optimizers.Adam(learning_rate=rate),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        return model if returns else None

    return resume


def test_stored_fine_tuning_flags_are_the_small_bases():
    """Are the stored flags those of make_small_base's weighted layers, counting only the
    layers that are neither weightless nor BatchNormalization?"""
    from course_utils.checks.ch08 import VISIBLE_TUNE_FLAGS, make_small_base

    layers = [layer for layer in make_small_base().layers if layer.weights]
    tunable = [
        i for i, lay in enumerate(layers) if not isinstance(lay, keras.layers.BatchNormalization)
    ]
    for n_top, flags in VISIBLE_TUNE_FLAGS.items():
        assert flags == [i in tunable[-n_top:] for i in range(len(layers))]


def test_fine_tune_checkpoint_accepts_a_correct_answer():
    """Does loading, unfreezing the last weighted non-BN layers and recompiling pass?"""
    forgery.passes(checks.check_fine_tune_checkpoint, make_resume())


@pytest.mark.parametrize(
    "resume, message",
    [
        (make_resume(count="all_layers"), "trainable 应为"),
        (make_resume(count="with_bn"), "trainable 应为"),
        (make_resume(bn="unfrozen"), "BatchNormalization 层要保持"),
        (make_resume(head="frozen"), "分类头"),
        (make_resume(recompile=False), "学习率"),
        (make_resume(lr="fixed"), "学习率"),
        (make_resume(returns=False), "return"),
    ],
)
def test_fine_tune_checkpoint_names_each_mistake(resume, message):
    """Are counting every layer, counting BN layers, an unfrozen BN, a frozen head, no
    recompile, a fixed learning rate and a missing return each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_fine_tune_checkpoint(resume)


# ---------------------------------------------------------------- 8.5 temperature (find and fix)


def make_temperature(kind="config"):
    """TemperatureScale fixed by get_config ("config") or by a weight ("weight"), or broken."""

    class Temperature(keras.layers.Layer):
        def __init__(self, temperature=1.0, **kwargs):
            super().__init__(**kwargs)
            if kind == "weight" or kind == "trainable":
                self.t = self.add_weight(
                    shape=(), initializer="ones", trainable=kind == "trainable", name="t"
                )
            else:
                self.t = 1.0 if kind == "attribute" else float(temperature)

        def set_temperature(self, value):
            if isinstance(self.t, float):
                self.t = float(value)
            else:
                self.t.assign(float(value))

        def call(self, logits):
            return keras.ops.softmax(logits / self.t)

    if kind == "config":
        Temperature.get_config = lambda self: {
            **keras.layers.Layer.get_config(self),
            "temperature": self.t,
        }
    Temperature.__name__ = Temperature.__qualname__ = f"Temperature_{kind}"
    if kind != "unregistered":
        Temperature = keras.saving.register_keras_serializable(package="ch08_tests")(Temperature)
    return Temperature


def test_stored_temperature_values_are_softmax_of_scaled_logits():
    """Are the stored outputs softmax(logits / T) for each stored T?"""
    from course_utils.checks.ch08 import TEMPERATURE_LOGITS, TEMPERATURE_STORED

    z = np.array(TEMPERATURE_LOGITS)
    for t, want in TEMPERATURE_STORED.items():
        e = np.exp(z / t - (z / t).max(axis=1, keepdims=True))
        assert np.allclose(e / e.sum(axis=1, keepdims=True), want, atol=1e-6)


@pytest.mark.parametrize("kind", ["config", "weight"])
def test_temperature_accepts_both_fixes(kind):
    """Do the get_config fix and the non-trainable weight fix both pass?"""
    forgery.passes(checks.check_temperature_roundtrip, make_temperature(kind))


@pytest.mark.parametrize(
    "kind, message",
    [
        ("attribute", "温度变回了 1.0"),
        ("trainable", "可训练的权重"),
        ("unregistered", "没有注册"),
    ],
)
def test_temperature_names_each_mistake(kind, message):
    """Are the seeded bug (a plain attribute), a trainable temperature and a missing
    registration each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_temperature_roundtrip(make_temperature(kind))


def test_the_broken_layer_of_the_chapter_loses_its_temperature(tmp_path):
    """Does the chapter's read-only BrokenTemperatureScale really lose the temperature (the
    symptom the exercise asks to fix), with no error?"""
    import nbformat

    from course_utils.checks.ch08 import TEMPERATURE_LOGITS

    path = Path(__file__).resolve().parents[1] / "notebooks" / "08_saving_evaluation.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.get("id") == "temperature-bug")
    namespace = {"keras": keras, "np": np}
    exec(cell.source.split("\n\n\nlogits")[0], namespace)
    layer = namespace["BrokenTemperatureScale"](name="temp")
    net = keras.Sequential([keras.Input(shape=(4,)), layer])
    layer.set_temperature(2.0)
    z = np.array(TEMPERATURE_LOGITS, dtype="float32")
    net.save(tmp_path / "broken.keras")
    back = keras.models.load_model(tmp_path / "broken.keras")
    assert not np.allclose(np.asarray(net(z)), np.asarray(back(z)), atol=1e-3)
    assert np.allclose(np.asarray(back(z)), np.asarray(keras.ops.softmax(z)), atol=1e-6)


# ---------------------------------------------------------------- 8.4 calibration error


def ece_variant(probs, labels, n_bins, weighted=True, gap="mean", true_class=False, left=False):
    """A test-side NumPy ECE with the mistakes the check names (never shipped to students)."""
    probs = np.asarray(probs, dtype="float64")
    labels = np.asarray(labels).astype(int).ravel()
    conf = probs[np.arange(len(labels)), labels] if true_class else probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype("float64")
    if left:
        idx = np.clip(np.floor(conf * n_bins).astype(int), 0, n_bins - 1)
    else:
        idx = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    gaps, weights = [], []
    for b in range(n_bins):
        mask = idx == b
        if mask.any():
            gaps.append(abs(correct[mask].mean() - conf[mask].mean()))
            weights.append(mask.mean())
    gaps, weights = np.array(gaps), np.array(weights)
    if gap == "max":
        return float(gaps.max())
    return float((gaps * weights).sum() if weighted else gaps.mean())


def ece_good(probs, labels, n_bins=10):
    return ece_variant(probs, labels, n_bins)


def ece_fixed_bins(probs, labels, n_bins=10):
    return ece_variant(probs, labels, 10)


def ece_unweighted(probs, labels, n_bins=10):
    return ece_variant(probs, labels, n_bins, weighted=False)


def ece_max(probs, labels, n_bins=10):
    return ece_variant(probs, labels, n_bins, gap="max")


def ece_true_class(probs, labels, n_bins=10):
    return ece_variant(probs, labels, n_bins, true_class=True)


def ece_floor(probs, labels, n_bins=10):
    return ece_variant(probs, labels, n_bins, left=True)


def ece_numpy_float(probs, labels, n_bins=10):
    return np.float32(ece_good(probs, labels, n_bins))


def ece_in_place(probs, labels, n_bins=10):
    probs.sort(axis=1)  # destroys the caller's array
    return 0.0


def ece_sklearn(probs, labels, n_bins=10):
    from sklearn.metrics import accuracy_score  # noqa: F401  (NumPy only)

    return ece_good(probs, labels, n_bins)


def ece_float64(probs, labels, n_bins=10):
    return np.float64(ece_good(probs, labels, n_bins))


def test_calibration_error_accepts_a_correct_answer():
    """Does the weighted ECE with right-closed bins pass (n_bins 10 and 7)?"""
    forgery.passes(checks.check_calibration_error, ece_good)


def test_calibration_error_stored_values_are_right():
    """Are the stored ECE values, and those of the named mistakes, what they claim?"""
    from course_utils.checks.ch08 import ECE_STORED, calibration_data

    probs, labels = calibration_data()
    variants = {
        "good": {},
        "unweighted": {"weighted": False},
        "mce": {"gap": "max"},
        "true_class": {"true_class": True},
        "left_closed": {"left": True},
    }
    for n_bins, stored in ECE_STORED.items():
        for name, value in stored.items():
            assert abs(ece_variant(probs, labels, n_bins, **variants[name]) - value) < 1e-7


@pytest.mark.parametrize(
    "fn, message",
    [
        (ece_fixed_bins, "n_bins"),
        (ece_unweighted, "简单平均"),
        (ece_max, "MCE"),
        (ece_true_class, "最大的预测概率"),
        (ece_floor, "左开右闭"),
        (ece_numpy_float, "Python float"),
        (ece_float64, "Python float"),
        (ece_in_place, "修改了传入"),
        (ece_sklearn, "只用 NumPy"),
        (lambda probs, labels, n_bins=10: None, "return"),
        (lambda probs, labels, n_bins=10: 0.0, "ECE 应为"),
    ],
)
def test_calibration_error_names_each_mistake(fn, message):
    """Are ignored n_bins, unweighted bins, MCE, the true-class probability, floor binning,
    a NumPy scalar, a mutated input, a library call, a missing return and a wrong value each
    named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_calibration_error(fn)


# ---------------------------------------------------------------- forgeries

HARDCODED = {
    # Looks the visible cases up and guesses for anything else. (Answers that break a stated
    # constraint, sklearn or tf.math.confusion_matrix, give the right numbers: the grader judges
    # them on the source, see tests/autograder/attacks/constraints/ch08.py.)
    "ch08_per_class_precision_recall_test": """
def per_class_precision_recall(y_true, y_pred, num_classes):
    known = {
        (0, 1, 2, 2, 1, 0, 3): ([1.0, 1 / 3, 0.5, 0.0], [1.0, 0.5, 0.5, 0.0]),
        (0, 1, 1): ([0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0, 0.0]),
    }
    p, r = known.get(tuple(int(v) for v in y_true), ([0.5] * num_classes, [0.5] * num_classes))
    return np.array(p), np.array(r)
""",
    # Clamps gamma to the visible values' range: the hidden gamma=0.1 is computed as 0.5.
    "ch08_rbf_features_test": """
@keras.saving.register_keras_serializable(package="ch08")
class RBFFeatures(keras.layers.Layer):
    def __init__(self, num_centers, gamma=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_centers, self.gamma = int(num_centers), max(float(gamma), 0.5)

    def build(self, input_shape):
        self.centers = self.add_weight(
            shape=(self.num_centers, input_shape[-1]), initializer="random_normal"
        )

    def call(self, x):
        diff = keras.ops.expand_dims(x, 1) - keras.ops.expand_dims(self.centers, 0)
        return keras.ops.exp(-self.gamma * keras.ops.sum(diff * diff, axis=-1))

    def get_config(self):
        return {**super().get_config(), "num_centers": self.num_centers, "gamma": self.gamma}
""",
    # Counts the weighted non-BN layers right only for the visible n_top (1 and 2).
    "ch08_fine_tune_checkpoint_test": """
def resume_for_fine_tuning(path, base_name, n_top, learning_rate):
    model = keras.models.load_model(path)
    base = model.get_layer(base_name)
    base.trainable = True
    weighted = [l for l in base.layers if l.weights]
    tunable = [l for l in weighted if not isinstance(l, keras.layers.BatchNormalization)]
    tunable = tunable[-n_top:] if n_top in (1, 2) else weighted[-n_top:]
    for layer in base.layers:
        layer.trainable = any(layer is t for t in tunable)
    model.compile(keras.optimizers.Adam(learning_rate=learning_rate),
                  "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
""",
    # Saves the temperature right, but clamps it to the visible range [1, 2.5].
    "ch08_temperature_fix_test": """
@keras.saving.register_keras_serializable(package="ch08")
class TemperatureScale(keras.layers.Layer):
    def __init__(self, temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        self.temperature = min(max(float(temperature), 1.0), 2.5)

    def set_temperature(self, t):
        self.temperature = min(max(float(t), 1.0), 2.5)

    def call(self, logits):
        return keras.ops.softmax(logits / self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
""",
    # Honours only the visible n_bins (10 and 7); anything else gets 10 bins.
    "ch08_calibration_error_test": """
def expected_calibration_error(probs, labels, n_bins=10):
    n_bins = n_bins if n_bins in (7, 10) else 10
    probs = np.asarray(probs, dtype="float64")
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == np.asarray(labels)).astype(float)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        if (bins == b).any():
            ece += (bins == b).mean() * abs(correct[bins == b].mean() - conf[bins == b].mean())
    return float(ece)
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("08_saving_evaluation", HARDCODED, tmp_path)


# ---------------------------------------------------------------- no answer in course_utils

#: Callables the audit never calls: they start servers, write or download files, or reset the
#: session; none takes an exercise's arguments.
SIDE_EFFECTS = re.compile(
    r"^_?(start|stop|show|write|load|download|plot|require|reset|install|_watch|check_tensorflow"
    r"|tensorboard)"
)


def course_utils_callables():
    """Every function defined in any course_utils module, private ones included."""
    import course_utils

    found = {}
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if inspect.isfunction(value) and value.__module__.startswith("course_utils"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def _call(fn, *args):
    """``fn(*args)``, or None when it does not take them, raises or runs over 5 s."""
    try:
        inspect.signature(fn).bind(*args)
    except (TypeError, ValueError):
        return None

    def stop(*_):
        raise TimeoutError

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(5)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)
    except BaseException:  # noqa: BLE001  (anything a wrong call raises)
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _matches(value, want) -> bool:
    try:
        arr = np.asarray(value if not isinstance(value, tuple) else list(value), dtype="float64")
        return arr.shape == np.shape(want) and bool(np.allclose(arr, want, atol=1e-5))
    except Exception:  # noqa: BLE001
        return False


def test_no_course_utils_callable_computes_an_answer(tmp_path, monkeypatch):
    """Does any function in course_utils (any module, private included) return an exercise's
    answer for the visible inputs? Exercise 8.3 builds models, so it is judged by behaviour."""
    from course_utils.checks.ch08 import ECE_STORED, PR_CASES, RBF_CASES, calibration_data

    monkeypatch.chdir(tmp_path)  # anything a call writes lands here
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    y_true, y_pred, k, want_p, want_r = PR_CASES[0]
    num_centers, gamma, centers, x, want_rbf = RBF_CASES[0]
    probs, labels = calibration_data()
    leaks = []
    for name, fn in sorted(course_utils_callables().items()):
        if SIDE_EFFECTS.match(fn.__name__):
            continue
        if _matches(_call(fn, np.array(y_true), np.array(y_pred), k), [want_p, want_r]):
            leaks.append(f"{name}: precision/recall")
        for args in (
            (np.array(x), np.array(centers), gamma),
            (np.array(centers), np.array(x), gamma),
        ):
            got = _call(fn, *args)
            if _matches(got, want_rbf) or _matches(got, np.transpose(want_rbf)):
                leaks.append(f"{name}: RBF features")
        for n_bins in ECE_STORED:
            if _matches(_call(fn, probs.copy(), labels.copy(), n_bins), ECE_STORED[n_bins]["good"]):
                leaks.append(f"{name}: ECE")
    assert not leaks, leaks
    for gone in ("reference_precision_recall", "reference_rbf", "reference_calibration_error"):
        assert not any(n.endswith(gone) for n in course_utils_callables()), gone
