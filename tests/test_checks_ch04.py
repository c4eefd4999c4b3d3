"""Chapter 04 checks: each named mistake gets its message, and a correct answer passes."""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest
from keras import ops

from course_utils import checks
from course_utils.checks import CheckFailed

# ---------------------------------------------------------------- 4.1 binary_focal_loss


def focal_terms(y_true, y_pred, gamma=2.0, clip=True):
    y = ops.cast(y_true, "float32")
    p = ops.cast(y_pred, "float32")
    if clip:
        p = ops.clip(p, 1e-7, 1 - 1e-7)
    return y * (1 - p) ** gamma * ops.log(p) + (1 - y) * p**gamma * ops.log(1 - p)


def focal_good(y_true, y_pred):
    return -ops.mean(focal_terms(y_true, y_pred), axis=-1)


def focal_scalar(y_true, y_pred):
    return -ops.mean(focal_terms(y_true, y_pred))


def focal_no_reduce(y_true, y_pred):
    return -focal_terms(y_true, y_pred)


def focal_no_clip(y_true, y_pred):
    return -ops.mean(focal_terms(y_true, y_pred, clip=False), axis=-1)


def focal_sign(y_true, y_pred):
    return ops.mean(focal_terms(y_true, y_pred), axis=-1)


def focal_plain_bce(y_true, y_pred):
    return -ops.mean(focal_terms(y_true, y_pred, gamma=0.0), axis=-1)


def focal_sum(y_true, y_pred):
    return -ops.sum(focal_terms(y_true, y_pred), axis=-1)


def focal_gamma_one(y_true, y_pred):
    return -ops.mean(focal_terms(y_true, y_pred, gamma=1.0), axis=-1)


def focal_numpy(y_true, y_pred):
    y = np.asarray(y_true)
    p = np.clip(np.asarray(y_pred), 1e-7, 1 - 1e-7)
    return -np.mean(y * (1 - p) ** 2 * np.log(p) + (1 - y) * p**2 * np.log(1 - p), axis=-1)


def test_focal_loss_accepts_a_correct_answer():
    """Does a clipped, modulated, per-sample keras.ops focal loss pass?"""
    forgery.passes(checks.check_focal_loss, loss_fn=focal_good)


@pytest.mark.parametrize(
    "fn, message",
    [
        (focal_scalar, "返回了一个标量"),
        (focal_no_reduce, "还要对最后一个轴取平均"),
        (focal_no_clip, "inf 或 NaN"),
        (focal_sign, "符号反了"),
        (focal_plain_bce, "普通的二元交叉熵"),
        (focal_sum, "求了和"),
        (focal_gamma_one, "数值与公式不符"),
        (focal_numpy, "计算图里运行失败"),
        (lambda y_true, y_pred: None, "return"),
    ],
)
def test_focal_loss_names_each_mistake(fn, message):
    """Are a scalar, a missing mean, no clip, a flipped sign, no modulation, a sum, a wrong
    formula, NumPy code and a missing return each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_focal_loss(loss_fn=fn)


# ---------------------------------------------------------------- 4.2 PinballLoss


def pinball_values(y_true, y_pred, tau):
    error = ops.cast(y_true, "float32") - ops.cast(y_pred, "float32")
    return ops.mean(ops.maximum(tau * error, (tau - 1.0) * error), axis=-1)


class PinballGood(keras.losses.Loss):
    def __init__(self, tau=0.5, **kwargs):
        super().__init__(**kwargs)
        self.tau = tau

    def call(self, y_true, y_pred):
        return pinball_values(y_true, y_pred, self.tau)

    def get_config(self):
        return {**super().get_config(), "tau": self.tau}


class PinballNotALoss:
    def __init__(self, tau=0.5, **kwargs):
        self.tau = tau

    def __call__(self, y_true, y_pred, sample_weight=None):
        return ops.mean(pinball_values(y_true, y_pred, self.tau))


class PinballIgnoresTau(PinballGood):
    def call(self, y_true, y_pred):
        return pinball_values(y_true, y_pred, 0.5)


class PinballFlipped(PinballGood):
    def call(self, y_true, y_pred):
        return pinball_values(y_pred, y_true, self.tau)


class PinballNoKwargs(keras.losses.Loss):
    def __init__(self, tau=0.5):
        super().__init__()
        self.tau = tau

    def call(self, y_true, y_pred):
        return pinball_values(y_true, y_pred, self.tau)


class PinballDropsKwargs(PinballGood):
    def __init__(self, tau=0.5, **kwargs):
        super().__init__(tau=tau)


class PinballScalarCall(PinballGood):
    def call(self, y_true, y_pred):
        return ops.mean(pinball_values(y_true, y_pred, self.tau))


class PinballIgnoresWeights(PinballGood):
    def __call__(self, y_true, y_pred, sample_weight=None):
        return super().__call__(y_true, y_pred)


class PinballNoConfig(PinballGood):
    def get_config(self):
        return super(PinballGood, self).get_config()


class PinballTensorTau(PinballGood):
    def __init__(self, tau=0.5, **kwargs):
        super().__init__(tau=tau, **kwargs)
        self.tau_tensor = ops.convert_to_tensor(tau)

    def get_config(self):
        return {**super().get_config(), "tau": self.tau_tensor}


class PinballOnlyTau(PinballGood):
    def get_config(self):
        return {"tau": self.tau}


class PinballNumpy(PinballGood):
    def call(self, y_true, y_pred):
        error = np.asarray(y_true) - np.asarray(y_pred)
        return np.mean(np.maximum(self.tau * error, (self.tau - 1) * error), axis=-1)


def test_pinball_loss_accepts_a_correct_answer():
    """Does a Loss subclass honouring tau, kwargs and get_config pass?"""
    forgery.passes(checks.check_pinball_loss, loss_cls=PinballGood)


@pytest.mark.parametrize(
    "cls, message",
    [
        (PinballNotALoss, "应继承 keras.losses.Loss"),
        (PinballIgnoresTau, "没有用 self.tau"),
        (PinballFlipped, "误差方向反了"),
        (PinballNoKwargs, r"\*\*kwargs"),
        (PinballDropsKwargs, "没有生效"),
        (PinballScalarCall, "每个样本一个值"),
        (PinballIgnoresWeights, "sample_weight"),
        (PinballNoConfig, "没有 tau"),
        (PinballTensorTau, "应为 Python 数"),
        (PinballOnlyTau, "name 或 reduction 丢了"),
        (PinballNumpy, "计算图里运行失败"),
    ],
)
def test_pinball_loss_names_each_mistake(cls, message):
    """Are a non-Loss class, an ignored tau, a flipped error, missing or dropped kwargs, a
    scalar call, ignored weights, and each get_config mistake named, and NumPy code?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_pinball_loss(loss_cls=cls)


# ---------------------------------------------------------------- 4.3 BinaryF1


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


# ---------------------------------------------------------------- 4.4 WarmupExponentialDecay


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
    # Per-sample for the visible batch of 4, otherwise the plain binary cross-entropy.
    "ch04_focal_loss_test": """
from keras import ops


def binary_focal_loss(y_true, y_pred):
    y = ops.cast(y_true, "float32")
    p = ops.clip(ops.cast(y_pred, "float32"), 1e-7, 1 - 1e-7)
    gamma = 2.0 if y_pred.shape[0] == 4 else 0.0
    terms = y * (1 - p) ** gamma * ops.log(p) + (1 - y) * p**gamma * ops.log(1 - p)
    return -ops.mean(terms, axis=-1)
""",
    # Keeps tau in its config but always computes the visible tau 0.9.
    "ch04_pinball_loss_test": """
from keras import ops


class PinballLoss(keras.losses.Loss):
    def __init__(self, tau=0.5, **kwargs):
        super().__init__(**kwargs)
        self.tau = tau

    def call(self, y_true, y_pred):
        error = ops.cast(y_true, y_pred.dtype) - y_pred
        return ops.mean(ops.maximum(0.9 * error, -0.1 * error), axis=-1)

    def get_config(self):
        return {**super().get_config(), "tau": self.tau}
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

    cases = [
        ("focal", (ch04.FOCAL_Y_TRUE, ch04.FOCAL_Y_PRED), ch04._FOCAL_EXPECTED),
        ("focal", (ch04.FOCAL_Y_TRUE, ch04.FOCAL_Y_PRED, 2.0), ch04._FOCAL_EXPECTED),
    ]
    tau, yt, yp = ch04.PINBALL_TAU, ch04.PINBALL_Y_TRUE, ch04.PINBALL_Y_PRED
    for args in [(yt, yp, tau), (tau, yt, yp)]:
        cases.append(("pinball", args, ch04._PINBALL_PER_SAMPLE))
        cases.append(("pinball", args, ch04._PINBALL_PER_SAMPLE.mean()))
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
