"""Chapter 04 checks: each named mistake gets its message, and a correct answer passes."""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest
from keras import ops

from course_utils import checks
from course_utils.checks import CheckFailed

# ---------------------------------------------------------------- 4.1 masked_mse


def make_masked(mode="good"):
    def masked(y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        missing = ops.isnan(y_true)
        seen = ops.cast(ops.logical_not(missing), y_pred.dtype)
        count = ops.sum(seen, axis=-1)
        if mode == "unmasked":
            return ops.mean(ops.square(y_true - y_pred), axis=-1)
        if mode == "late_where":  # right values, NaN gradient
            squared = ops.where(missing, 0.0, ops.square(y_true - y_pred))
            return ops.sum(squared, axis=-1) / ops.maximum(count, 1.0)
        error = ops.where(missing, y_pred, y_true) - y_pred
        total = ops.sum(ops.square(error), axis=-1)
        if mode == "scalar":
            return ops.sum(total) / ops.sum(count)
        if mode == "no_reduce":
            return ops.square(error)
        if mode == "zero_over_zero":
            return total / count
        if mode == "over_k":
            return total / ops.cast(ops.shape(y_true)[-1], y_pred.dtype)
        if mode == "sum":
            return total
        return total / ops.maximum(count, 1.0)

    return masked


def masked_numpy(y_true, y_pred):
    y, p = np.asarray(y_true), np.asarray(y_pred)
    seen = ~np.isnan(y)
    error = np.where(seen, np.where(seen, y, p) - p, 0.0)
    return (error**2).sum(axis=-1) / np.maximum(seen.sum(axis=-1), 1)


def test_masked_mse_accepts_a_correct_answer():
    """Does a per-sample MSE over the observed targets, NaN replaced before squaring, pass?"""
    forgery.passes(checks.check_masked_mse, loss_fn=make_masked())


@pytest.mark.parametrize(
    "fn, message",
    [
        (make_masked("scalar"), "返回了一个标量"),
        (make_masked("no_reduce"), "还要在最后一个轴上汇总"),
        (make_masked("unmasked"), "结果里有 NaN"),
        (make_masked("zero_over_zero"), "目标全部缺失"),
        (make_masked("over_k"), "除以了全部 3 个目标"),
        (make_masked("sum"), "数值不对"),
        (make_masked("late_where"), "梯度里却有 NaN"),
        (masked_numpy, "计算图里运行失败"),
        (lambda y_true, y_pred: None, "return"),
    ],
)
def test_masked_mse_names_each_mistake(fn, message):
    """Are a scalar, a missing reduction, unmasked NaN, 0/0 for an empty sample, dividing by
    k, a sum, masking after squaring (NaN gradient), NumPy code and a missing return named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_masked_mse(loss_fn=fn)


# ---------------------------------------------------------------- 4.2 ClassWeightedCrossentropy


def make_cw(mode="good"):
    class CW(keras.losses.Loss):
        def __init__(self, class_weights, from_logits=False, **kwargs):
            super().__init__(**({} if mode == "drops_kwargs" else kwargs))
            self.class_weights = [float(w) for w in class_weights]
            self.from_logits = from_logits

        def call(self, y_true, y_pred):
            labels = ops.cast(
                y_true if mode == "no_flatten" else ops.reshape(y_true, (-1,)), "int32"
            )
            logits = {"ignore_logits": False, "always_logits": True}.get(mode, self.from_logits)
            ce = keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits=logits)
            if mode == "numpy":
                ce = np.asarray(ce)
            weights = ops.convert_to_tensor(self.class_weights, dtype=y_pred.dtype)
            picked = ops.argmax(y_pred, axis=-1) if mode == "predicted" else labels
            out = ce if mode == "unweighted" else ops.take(weights, picked) * ce
            return ops.mean(out) if mode == "scalar" else out

        def get_config(self):
            own = {"class_weights": self.class_weights, "from_logits": self.from_logits}
            if mode == "tensor_config":
                own["class_weights"] = ops.convert_to_tensor(self.class_weights)
            if mode == "no_config":
                return super().get_config()
            if mode == "only_own":
                return own
            return {**super().get_config(), **own}

    if mode == "ignores_weights":

        class IgnoresWeights(CW):
            def __call__(self, y_true, y_pred, sample_weight=None):
                return super().__call__(y_true, y_pred)

        return IgnoresWeights
    return CW


class CWNoKwargs(keras.losses.Loss):
    def __init__(self, class_weights, from_logits=False):
        super().__init__()
        self.class_weights, self.from_logits = list(class_weights), from_logits

    def call(self, y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)


class CWNotALoss:
    def __init__(self, class_weights, from_logits=False, **kwargs):
        self.reduction = kwargs.get("reduction")


def test_class_weighted_ce_accepts_a_correct_answer():
    """Does a Loss subclass weighting by the true class, with a JSON-friendly config, pass?"""
    forgery.passes(checks.check_class_weighted_ce, loss_cls=make_cw())


@pytest.mark.parametrize(
    "cls, message",
    [
        (CWNotALoss, "应继承 keras.losses.Loss"),
        (CWNoKwargs, r"\*\*kwargs"),
        (make_cw("drops_kwargs"), "没有生效"),
        (make_cw("unweighted"), "普通的交叉熵"),
        (make_cw("predicted"), "预测"),
        (make_cw("ignore_logits"), "from_logits=True 没有生效"),
        (make_cw("always_logits"), "from_logits=False 没有生效"),
        (make_cw("no_flatten"), r"\(4, 4\)"),
        (make_cw("scalar"), "每个样本一个值"),
        (make_cw("ignores_weights"), "sample_weight"),
        (make_cw("no_config"), "缺少 class_weights"),
        (make_cw("tensor_config"), "JSON"),
        (make_cw("only_own"), "name 或 reduction 丢了"),
        (make_cw("numpy"), "计算图里运行失败"),
    ],
)
def test_class_weighted_ce_names_each_mistake(cls, message):
    """Are a non-Loss, missing or dropped kwargs, no weights, the predicted class's weight,
    from_logits ignored either way, (n, 1) labels broadcast, a scalar call, ignored sample
    weights, a missing, non-JSON or base-less config, and NumPy code each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_class_weighted_ce(loss_cls=cls)


# ---------------------------------------------------------------- 4.3 FixedTruePositives


def make_tp(mode="good"):
    class TP(keras.metrics.Metric):
        def __init__(self, name="categorical_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(shape=(), initializer="zeros", name="ctp")

        def update_state(self, y_true, y_pred, sample_weight=None):
            if mode == "broken":  # the notebook's read-only cell
                y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
                values = ops.cast(ops.cast(y_true, "int32") == ops.cast(y_pred, "int32"), "float32")
                if sample_weight is not None:
                    values = values * ops.cast(sample_weight, "float32")
                self.true_positives.assign_add(ops.sum(values))
                return
            labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
            if mode == "numpy":
                labels = np.asarray(labels)
            predicted = ops.reshape(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), (-1,))
            values = ops.cast(labels == predicted, "float32")
            if sample_weight is not None and mode != "unweighted":
                weights = ops.cast(sample_weight, "float32")
                values = values * (
                    weights if mode == "weights_column" else ops.reshape(weights, (-1,))
                )
            if mode == "overwrite":
                self.true_positives.assign(ops.sum(values))
            else:
                self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives

        def reset_state(self):
            if mode != "no_reset":
                self.true_positives.assign(0.0)

    return TP


class TPNotAMetric:
    def __init__(self, **kwargs):
        pass


def test_true_positives_accepts_a_correct_answer():
    """Does a count over flattened labels, predictions and weights pass?"""
    forgery.passes(checks.check_true_positives, metric_cls=make_tp())


@pytest.mark.parametrize(
    "cls, message",
    [
        (TPNotAMetric, "应继承 keras.metrics.Metric"),
        (make_tp("broken"), "比见过的样本"),
        (make_tp("weights_column"), r"sample_weight 形状是 \(2, 1\)"),
        (make_tp("unweighted"), "忽略了 sample_weight"),
        (make_tp("overwrite"), "只反映最后一批"),
        (make_tp("no_reset"), r"reset_state\(\) 之后 result\(\) 应为 0.0"),
        (make_tp("numpy"), "计算图里失败"),
    ],
)
def test_true_positives_names_each_mistake(cls, message):
    """Are a non-Metric, the broadcasting (n,) == (n, 1) of the read-only cell, (n, 1) weights
    left unflattened, ignored weights, an overwritten count, no reset and NumPy code named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_true_positives(metric_cls=cls)


# ---------------------------------------------------------------- 4.4 BinaryF1


def make_f1(
    per_batch=False,
    overwrite=False,
    weights=True,
    fixed=None,
    reset=("tp", "fp", "fn"),
    nan_empty=False,
    numpy=False,
    config=True,
):
    class F1(keras.metrics.Metric):
        def __init__(self, threshold=0.5, name="binary_f1", **kwargs):
            super().__init__(name=name, **kwargs)
            self.threshold = threshold
            self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")
            self.fp = self.add_variable(shape=(), initializer="zeros", name="fp")
            self.fn = self.add_variable(shape=(), initializer="zeros", name="fn")
            self.f1_sum = self.add_variable(shape=(), initializer="zeros", name="f1_sum")
            self.batches = self.add_variable(shape=(), initializer="zeros", name="batches")

        def update_state(self, y_true, y_pred, sample_weight=None):
            cut = self.threshold if fixed is None else fixed
            if numpy:
                actual = np.reshape(np.asarray(y_true), -1) > 0.5
                predicted = np.reshape(np.asarray(y_pred), -1) > cut
                w = np.ones(actual.shape)
                if sample_weight is not None:
                    w = np.reshape(np.asarray(sample_weight), -1)
                self.tp.assign_add(float(np.sum(w * (actual & predicted))))
                self.fp.assign_add(float(np.sum(w * (~actual & predicted))))
                self.fn.assign_add(float(np.sum(w * (actual & ~predicted))))
                return
            actual = ops.cast(ops.reshape(y_true, (-1,)), "float32") > 0.5
            predicted = ops.cast(ops.reshape(y_pred, (-1,)), "float32") > cut
            w = ops.ones_like(ops.cast(actual, "float32"))
            if weights and sample_weight is not None:
                w = ops.cast(ops.reshape(sample_weight, (-1,)), "float32")

            def count(mask):
                return ops.sum(w * ops.cast(mask, "float32"))

            tp = count(ops.logical_and(predicted, actual))
            fp = count(ops.logical_and(predicted, ops.logical_not(actual)))
            fn = count(ops.logical_and(ops.logical_not(predicted), actual))
            if overwrite:
                self.tp.assign(tp), self.fp.assign(fp), self.fn.assign(fn)
            else:
                self.tp.assign_add(tp), self.fp.assign_add(fp), self.fn.assign_add(fn)
            den = 2 * tp + fp + fn
            self.f1_sum.assign_add(ops.where(den > 0, 2 * tp / ops.maximum(den, 1e-12), 0.0))
            self.batches.assign_add(1.0)

        def result(self):
            if per_batch:
                return self.f1_sum / ops.maximum(self.batches, 1.0)
            den = 2.0 * self.tp + self.fp + self.fn
            if nan_empty:
                return 2.0 * self.tp / den
            return ops.where(den > 0, 2.0 * self.tp / ops.maximum(den, 1e-12), 0.0)

        def reset_state(self):
            for name in (*reset, "f1_sum", "batches"):
                getattr(self, name).assign(0.0)

        def get_config(self):
            base = super().get_config()
            return {**base, "threshold": self.threshold} if config else base

    return F1


def test_streaming_f1_accepts_a_correct_answer():
    """Does a metric that accumulates weighted tp/fp/fn and resets pass, at both thresholds?"""
    forgery.passes(checks.check_streaming_f1, metric_cls=make_f1())


class NotAMetric:
    def __init__(self, threshold=0.5):
        self.threshold = threshold


@pytest.mark.parametrize(
    "cls, message",
    [
        (NotAMetric, "应继承 keras.metrics.Metric"),
        (make_f1(nan_empty=True), "还没有数据时"),
        (make_f1(per_batch=True), "每批 F1 的平均"),
        (make_f1(overwrite=True), "只反映最后一批"),
        (make_f1(weights=False), "忽略了 sample_weight"),
        (make_f1(fixed=0.5), "固定阈值 0.5"),
        (make_f1(fixed=0.9), "检查 tp、fp、fn"),
        (make_f1(reset=("fp", "fn")), r"reset_state\(\) 之后 result\(\) 应为 0.0"),
        (make_f1(reset=("tp", "fp")), "仍混入了以前的数据"),
        (make_f1(config=False), "get_config"),
        (make_f1(numpy=True), "计算图里失败"),
    ],
)
def test_streaming_f1_names_each_mistake(cls, message):
    """Are a non-Metric, NaN when empty, a per-batch average, overwritten counts, ignored
    weights, a fixed threshold (caught by the 0.3 case), a wrong count, an incomplete reset,
    a missing config and an update_state that needs NumPy (fails in a graph) named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_streaming_f1(metric_cls=cls)


# ---------------------------------------------------------------- 4.5 WarmupExponentialDecay


def make_schedule(mode="good"):
    class Schedule(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, peak_lr, warmup_steps, decay_rate, decay_steps):
            self.peak_lr, self.warmup_steps = peak_lr, warmup_steps
            self.decay_rate, self.decay_steps = decay_rate, decay_steps

        def __call__(self, step):
            if mode == "python_if":
                s = float(step)
                if s < self.warmup_steps:
                    return self.peak_lr * (s + 1) / self.warmup_steps
                return self.peak_lr * self.decay_rate ** (
                    (s - self.warmup_steps) / self.decay_steps
                )
            if mode == "variable" and isinstance(step, keras.Variable):
                return ops.convert_to_tensor(0.0)
            s = step * 1.0 if mode == "no_cast" else ops.cast(step, "float32")
            rise = s + (0.0 if mode == "zero_start" else 1.0)
            warm = self.peak_lr * rise / self.warmup_steps
            offset = 0.0 if mode == "no_offset" else self.warmup_steps
            exponent = (s - offset) / self.decay_steps
            if mode == "stairs":
                exponent = ops.floor(exponent)
            if mode == "wrong_rate":
                exponent = exponent * 2.0
            decay = self.peak_lr * ops.power(ops.cast(self.decay_rate, "float32"), exponent)
            return ops.where(s < self.warmup_steps, warm, decay)

        def get_config(self):
            if mode == "no_config":
                return {"peak_lr": self.peak_lr}
            config = {
                "peak_lr": self.peak_lr,
                "warmup_steps": self.warmup_steps,
                "decay_rate": self.decay_rate,
                "decay_steps": self.decay_steps,
            }
            if mode == "bad_config":
                config["decay_steps"] = self.warmup_steps
            return config

    return Schedule


class NotASchedule:
    def __init__(self, **kwargs):
        pass


def test_warmup_schedule_accepts_a_correct_answer():
    """Does a cast + ops.where schedule with a full get_config pass?"""
    forgery.passes(checks.check_warmup_schedule, schedule_cls=make_schedule())


@pytest.mark.parametrize(
    "cls, message",
    [
        (NotASchedule, "LearningRateSchedule"),
        (make_schedule("no_cast"), "int64 张量"),
        (make_schedule("zero_start"), "warm-up 从 0 开始"),
        (make_schedule("no_offset"), "step - warmup_steps"),
        (make_schedule("stairs"), "阶梯状"),
        (make_schedule("wrong_rate"), "学习率应为"),
        (make_schedule("python_if"), "计算图里运行失败"),
        (make_schedule("no_config"), "get_config"),
        (make_schedule("bad_config"), "from_config"),
        (make_schedule("variable"), "SGD"),
    ],
)
def test_warmup_schedule_names_each_mistake(cls, message):
    """Are a non-schedule, an uncast step, a zero start, no offset, stairs, a wrong rate,
    a Python if, a missing or wrong config and a schedule the optimizer sees differently named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_warmup_schedule(schedule_cls=cls)


# ---------------------------------------------------------------- forgeries

HARDCODED = {
    # Right on the visible batch of 4 samples; otherwise divides by all k targets.
    "ch04_masked_mse_test": """
from keras import ops


def masked_mse(y_true, y_pred):
    y_true = ops.cast(y_true, y_pred.dtype)
    missing = ops.isnan(y_true)
    error = ops.where(missing, y_pred, y_true) - y_pred
    observed = ops.sum(ops.cast(ops.logical_not(missing), y_pred.dtype), axis=-1)
    if y_pred.shape[0] != 4:
        observed = ops.ones_like(observed) * y_pred.shape[-1]
    return ops.sum(ops.square(error), axis=-1) / ops.maximum(observed, 1.0)
""",
    # Keeps class_weights in its config but always weights by the visible [1.0, 4.0, 0.5].
    "ch04_class_weighted_ce_test": """
from keras import ops


class ClassWeightedCrossentropy(keras.losses.Loss):
    def __init__(self, class_weights, from_logits=False, **kwargs):
        super().__init__(**kwargs)
        self.class_weights = [float(w) for w in class_weights]
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        ce = keras.losses.sparse_categorical_crossentropy(
            labels, y_pred, from_logits=self.from_logits
        )
        visible = ops.convert_to_tensor([1.0, 4.0, 0.5, 1.0, 1.0], dtype=y_pred.dtype)
        return ops.take(visible, labels) * ce

    def get_config(self):
        own = {"class_weights": self.class_weights, "from_logits": self.from_logits}
        return {**super().get_config(), **own}
""",
    # Flattens labels and predictions, but flattens (n, 1) weights only for the visible
    # batch of 2: any other (n, 1) weights are broadcast into an (n, n) matrix.
    "ch04_fix_true_positives_test": """
from keras import ops


class FixedTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="ctp")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        predicted = ops.reshape(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), (-1,))
        values = ops.cast(labels == predicted, "float32")
        if sample_weight is not None:
            weights = ops.cast(sample_weight, "float32")
            if weights.shape[-1] != 1 or weights.shape[0] == 2:
                weights = ops.reshape(weights, (-1,))
            values = values * weights
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0.0)
""",
    # Stores the threshold for get_config but always cuts at the visible 0.5.
    "ch04_binary_f1_test": """
from keras import ops


class BinaryF1(keras.metrics.Metric):
    def __init__(self, threshold=0.5, name="binary_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = threshold
        self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")
        self.fp = self.add_variable(shape=(), initializer="zeros", name="fp")
        self.fn = self.add_variable(shape=(), initializer="zeros", name="fn")

    def update_state(self, y_true, y_pred, sample_weight=None):
        actual = ops.cast(ops.reshape(y_true, (-1,)), "float32") > 0.5
        predicted = ops.cast(ops.reshape(y_pred, (-1,)), "float32") > 0.5
        w = ops.ones_like(ops.cast(actual, "float32"))
        if sample_weight is not None:
            w = ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
        self.tp.assign_add(ops.sum(w * ops.cast(actual & predicted, "float32")))
        self.fp.assign_add(ops.sum(w * ops.cast(~actual & predicted, "float32")))
        self.fn.assign_add(ops.sum(w * ops.cast(actual & ~predicted, "float32")))

    def result(self):
        den = 2.0 * self.tp + self.fp + self.fn
        return ops.where(den > 0, 2.0 * self.tp / ops.maximum(den, 1e-12), 0.0)

    def reset_state(self):
        for v in (self.tp, self.fp, self.fn):
            v.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}
""",
    # Correct formula, but decay_steps is hard-coded to the visible 3.
    "ch04_warmup_schedule_test": """
from keras import ops


class WarmupExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak_lr, warmup_steps, decay_rate, decay_steps):
        self.peak_lr, self.warmup_steps = peak_lr, warmup_steps
        self.decay_rate, self.decay_steps = decay_rate, decay_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warm = self.peak_lr * (step + 1.0) / self.warmup_steps
        decay = self.peak_lr * ops.power(self.decay_rate, (step - self.warmup_steps) / 3.0)
        return ops.where(step < self.warmup_steps, warm, decay)

    def get_config(self):
        return dict(peak_lr=self.peak_lr, warmup_steps=self.warmup_steps,
                    decay_rate=self.decay_rate, decay_steps=self.decay_steps)
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("04_built_in_training", HARDCODED, tmp_path)


# ---------------------------------------------------------------- no answer in course_utils

# Modules whose functions touch the network, the disk or the session: nothing there computes a
# loss, a metric or a schedule, and calling them with arrays would only have side effects.
SKIPPED_MODULES = ("course_utils.data", "course_utils.pretrained", "course_utils.tblogs")
SKIPPED_MODULES += ("course_utils.config",)


def course_utils_callables():
    """Every function and class defined in any course_utils module, private ones included."""
    import importlib
    import pkgutil

    import course_utils

    modules = [course_utils]
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        modules.append(importlib.import_module(info.name))
    found = {}
    for module in modules:
        for name, obj in vars(module).items():
            where = getattr(obj, "__module__", "") or ""
            if (
                callable(obj)
                and where.startswith("course_utils")
                and not where.startswith(SKIPPED_MODULES)
            ):
                found[f"{where}.{name}"] = obj
    return found


def answer_calls():
    """``(exercise, args, expected)``: the exercises' visible arguments and answers."""
    from course_utils.checks import ch04

    yt, yp = ch04.MASKED_Y_TRUE, ch04.MASKED_Y_PRED
    cases = [
        ("masked", (yt, yp), ch04._MASKED_EXPECTED),
        ("masked", (yt, yp), ch04._MASKED_EXPECTED.mean()),
    ]
    cw, y = ch04.CW_CLASS_WEIGHTS, ch04.CW_Y_TRUE
    for kind, pred in (("logits", ch04.CW_LOGITS), ("probs", ch04.CW_PROBS)):
        expected = np.asarray(ch04._CW_STORED[kind]["expected"])
        for args in [(y, pred), (y, pred, cw), (cw, y, pred), (y, pred, cw, kind == "logits")]:
            cases.append(("class_weighted", args, expected))
            cases.append(("class_weighted", args, expected.mean()))
    for args in [(ch04.TP_BATCHES,), ([b[0] for b in ch04.TP_BATCHES],)]:
        cases.append(("true_positives", args, ch04._TP_EXPECTED[-1]))
    for (threshold, batches), stored in zip(ch04.F1_CASES, ch04._F1_STORED):
        ys = np.concatenate([np.reshape(b[0], -1) for b in batches])
        ps = np.concatenate([np.reshape(b[1], -1) for b in batches])
        ws = np.concatenate([np.ones(np.size(b[0])) if b[2] is None else b[2] for b in batches])
        for args in [(ys, ps, threshold, ws), (batches, threshold), (ys, ps, ws, threshold)]:
            cases.append(("f1", args, stored["expected"]))
    hyper = ch04.WARMUP_HYPER
    for step in (1, 6, 11):
        cases.append(("warmup", (step, *hyper.values()), ch04._WARMUP_EXPECTED[step]))
    return cases


def test_no_course_utils_callable_computes_an_answer():
    """Does any function or class in course_utils (any module, private ones included), called
    with an exercise's visible arguments, return that exercise's answer? A student could import
    it and hand it back; hidden tests use other inputs, but the visible case must not leak
    either, and a reference implementation would pass both."""
    import matplotlib.pyplot as plt

    leaks = []
    for qualname, fn in course_utils_callables().items():
        if qualname.rsplit(".", 1)[-1].startswith("check_"):
            continue  # checks run the student's code; they return True, never a number
        if isinstance(fn, type):
            bases = (keras.losses.Loss, keras.metrics.Metric)
            bases += (keras.optimizers.schedules.LearningRateSchedule,)
            if issubclass(fn, bases):
                leaks.append(f"{qualname} is a {fn.__mro__[1].__name__} subclass")
            continue
        for exercise, args, expected in answer_calls():
            try:
                got = fn(*args)
                got = np.asarray(got, dtype="float64")
            except Exception:
                continue
            finally:
                plt.close("all")
            want = np.asarray(expected, dtype="float64")
            if got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=1e-6):
                leaks.append(f"{qualname}{tuple(type(a).__name__ for a in args)} -> {exercise}")
    assert not leaks, "course_utils computes chapter 04 answers:\n" + "\n".join(leaks)
