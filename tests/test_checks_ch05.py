"""Chapter 05 checks: each named mistake gets its message, and a correct answer passes."""

import math

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest

from course_utils import checks, tblogs
from course_utils.checks import CheckFailed

# ---------------------------------------------------------------- 5.1 make_callbacks


def make_callbacks_factory(
    es_monitor="val_accuracy",
    patience=3,
    min_delta=0.005,
    restore=True,
    path=None,
    best_only=True,
    factor=0.5,
    min_lr=1e-4,
    with_rlrop=True,
):
    def make_callbacks(checkpoint_path):
        callbacks = [
            keras.callbacks.EarlyStopping(
                monitor=es_monitor,
                mode="max",
                patience=patience,
                min_delta=min_delta,
                restore_best_weights=restore,
            ),
            keras.callbacks.ModelCheckpoint(
                path or checkpoint_path,
                monitor="val_accuracy",
                mode="max",
                save_best_only=best_only,
            ),
        ]
        if with_rlrop:
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(
                    monitor="val_accuracy", mode="max", patience=2, factor=factor, min_lr=min_lr
                )
            )
        return callbacks

    return make_callbacks


def test_callbacks_requirement_accepts_a_correct_answer():
    """Does the configuration the requirement asks for pass, at both starting learning rates?"""
    forgery.passes(
        checks.check_callbacks_for_requirement, make_callbacks_fn=make_callbacks_factory()
    )


def test_callbacks_requirement_accepts_auto_mode():
    """Does mode='auto' (Keras infers 'max' for val_accuracy) pass too?"""

    def make_callbacks(checkpoint_path):
        return [
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy", patience=3, min_delta=0.005, restore_best_weights=True
            ),
            keras.callbacks.ModelCheckpoint(
                checkpoint_path, monitor="val_accuracy", save_best_only=True
            ),
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_accuracy", patience=2, factor=0.5, min_lr=1e-4
            ),
        ]

    forgery.passes(checks.check_callbacks_for_requirement, make_callbacks_fn=make_callbacks)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(min_delta=0.0), "跑满了"),
        (dict(patience=2), "就停止了"),
        (dict(restore=False), "restore_best_weights"),
        (dict(path="elsewhere_ch05_test.keras"), "传入的 checkpoint_path"),
        (dict(best_only=False), "save_best_only"),
        (dict(factor=0.1), "factor=0.5"),
        (dict(with_rlrop=False), "恰好有一个"),
    ],
)
def test_callbacks_requirement_names_each_mistake(kwargs, message, tmp_path, monkeypatch):
    """Are a missing min_delta, a short patience, no restore, the wrong path, saving every
    epoch, the wrong factor and a missing callback each named?"""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckFailed, match=message):
        checks.check_callbacks_for_requirement(make_callbacks_fn=make_callbacks_factory(**kwargs))


def test_callbacks_requirement_names_a_missing_min_lr():
    """Is a learning rate that falls below min_lr named (the visible case starting at 1.5e-4)?"""
    with pytest.raises(CheckFailed, match="min_lr=1e-4"):
        checks.check_callbacks_for_requirement(make_callbacks_fn=make_callbacks_factory(min_lr=0.0))


def test_callbacks_requirement_rejects_a_missing_return():
    """Is a function that forgets to return its list named?"""
    with pytest.raises(CheckFailed, match="return"):
        checks.check_callbacks_for_requirement(make_callbacks_fn=lambda path: None)


# ---------------------------------------------------------------- 5.2 best_epoch


def make_best(pick="first", run_mode="given", cast=True, missing="raise", use_mode=True):
    def best_epoch(logdir, tag="epoch_loss", run="validation", mode="min"):
        scalars = tblogs.read_scalars(logdir)
        chosen = run if run_mode == "given" else run_mode
        key = f"{chosen}/{tag}"
        if key not in scalars:
            if missing == "raise":
                raise KeyError(key)
            return 0, math.nan
        steps, values = scalars[key]
        better = values if (mode == "min" or not use_mode) else -values
        if pick == "first":
            i = int(np.argmin(better))
        else:  # the last of equal values
            i = int(np.flatnonzero(better == better.min())[-1])
        step = i if pick == "index" else steps[i]
        if pick == "index":
            i = int(np.argmin(better))
            step = i
        return (int(step), float(values[i])) if cast else (step, values[i])

    return best_epoch


def test_best_epoch_accepts_a_correct_answer():
    """Does reading the run/tag, min or max, earliest tie, as (int, float) pass?"""
    forgery.passes(checks.check_best_epoch_from_logs, best_epoch_fn=make_best())


@pytest.mark.parametrize(
    "fn, message",
    [
        (make_best(run_mode="train"), "训练集"),
        (make_best(pick="last"), "最早的 step"),
        (make_best(pick="index"), "数组下标"),
        (make_best(use_mode=False), "mode='max'"),
        (make_best(cast=False), "Python int"),
        (make_best(missing="nan"), "KeyError"),
    ],
)
def test_best_epoch_names_each_mistake(fn, message):
    """Are the train run, the last tie, an index for a step, an ignored mode, NumPy types and
    no KeyError each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_best_epoch_from_logs(best_epoch_fn=fn)


def test_best_epoch_names_an_ignored_run():
    """Is an answer that always reads 'validation' named when run='train' is asked for?"""
    good = make_best()

    def best_epoch(logdir, tag="epoch_loss", run="validation", mode="min"):
        return good(logdir, tag=tag, run="validation", mode=mode)

    with pytest.raises(CheckFailed, match="传入的 run"):
        checks.check_best_epoch_from_logs(best_epoch_fn=best_epoch)


def test_best_epoch_names_a_wrong_return_shape():
    """Is returning only the step (or None) named?"""
    with pytest.raises(CheckFailed, match="二元组"):
        checks.check_best_epoch_from_logs(best_epoch_fn=lambda logdir, **kw: 3)


# ---------------------------------------------------------------- 5.3 StopAtTarget


def make_stop(
    consecutive=True,
    use_patience=True,
    direction="name",
    nan=True,
    reset=True,
    strict_key=True,
    record=True,
    really_stop=True,
):
    class StopAtTarget(keras.callbacks.Callback):
        def __init__(self, monitor="val_accuracy", target=0.9, patience=1):
            super().__init__()
            self.monitor, self.target = monitor, target
            self.patience = patience if use_patience else 1
            self.count, self.stopped_epoch = 0, None

        def on_train_begin(self, logs=None):
            if reset:
                self.count, self.stopped_epoch = 0, None

        def on_epoch_end(self, epoch, logs=None):
            value = logs[self.monitor] if strict_key else logs.get(self.monitor)
            value = float(value)
            lower = "loss" in self.monitor if direction == "name" else direction == "min"
            if nan and not math.isfinite(value):
                self.count = self.patience
            elif (value <= self.target) if lower else (value >= self.target):
                self.count += 1
            elif consecutive:
                self.count = 0
            if self.count >= self.patience:
                if record:
                    self.stopped_epoch = epoch
                if really_stop or len(self.model.weights) == 1:
                    self.model.stop_training = True

    return StopAtTarget


def test_stop_at_target_accepts_a_correct_answer():
    """Does a callback with named direction, consecutive patience, NaN stop and reset pass?"""
    forgery.passes(checks.check_stop_at_target, stop_cls=make_stop())


@pytest.mark.parametrize(
    "cls, message",
    [
        (make_stop(use_patience=False), "第一次达到目标"),
        (make_stop(consecutive=False), "连续"),
        (make_stop(direction="min"), "越大越好"),
        (make_stop(direction="max"), "越小越好"),
        (make_stop(nan=False), "NaN"),
        (make_stop(reset=False), "沿用了上一次"),
        (make_stop(strict_key=False), "KeyError"),
        (make_stop(record=False), "stopped_epoch"),
        (make_stop(really_stop=False), "真实的 fit"),
    ],
)
def test_stop_at_target_names_each_mistake(cls, message):
    """Are ignoring patience, non-consecutive counting, either wrong direction, NaN, no reset,
    logs.get, no stopped_epoch and a stop that a real fit() ignores each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_stop_at_target(stop_cls=cls)


def test_stop_at_target_names_a_callback_that_never_stops():
    """Is a callback that never sets self.model.stop_training named?"""

    class NeverStops(keras.callbacks.Callback):
        def __init__(self, monitor="val_accuracy", target=0.9, patience=1):
            super().__init__()

    with pytest.raises(CheckFailed, match="stop_training"):
        checks.check_stop_at_target(stop_cls=NeverStops)


def test_stop_at_target_names_a_plain_class():
    """Is a class that does not inherit keras.callbacks.Callback named?"""

    class Plain:
        def __init__(self, monitor="val_accuracy", target=0.9, patience=1):
            pass

    with pytest.raises(CheckFailed, match="继承"):
        checks.check_stop_at_target(stop_cls=Plain)


# ---------------------------------------------------------------- 5.4 LinearWarmup


def make_warmup(counter="global", base="optimizer", formula="plus_one", after="leave", attr=True):
    class LinearWarmup(keras.callbacks.Callback):
        def __init__(self, warmup_steps):
            super().__init__()
            self.warmup_steps = warmup_steps

        def on_train_begin(self, logs=None):
            self.base_lr = (
                float(np.asarray(self.model.optimizer.learning_rate))
                if base == "optimizer"
                else 0.01
            )
            self.step = 0

        def on_train_batch_begin(self, batch, logs=None):
            s = self.step if counter == "global" else batch
            self.step += 1
            if s >= self.warmup_steps and after == "leave":
                return
            ratio = min(1.0, ((s + 1) if formula == "plus_one" else s) / self.warmup_steps)
            if attr:
                self.model.optimizer.learning_rate = self.base_lr * ratio
            else:
                self.model.optimizer.lr = self.base_lr * ratio

    return LinearWarmup


def test_lr_warmup_accepts_a_correct_answer():
    """Does a warm-up over global steps from the optimizer's lr, then hands-off, pass?"""
    forgery.passes(checks.check_lr_warmup, warmup_cls=make_warmup())


@pytest.mark.parametrize(
    "cls, message",
    [
        (make_warmup(counter="batch"), "从头预热"),
        (make_warmup(base="hard-coded"), "不要写死"),
        (make_warmup(formula="s"), "是 0"),
        (make_warmup(after="reset"), "不要再修改学习率"),
        (make_warmup(attr=False), "optimizer.lr"),
    ],
)
def test_lr_warmup_names_each_mistake(cls, message):
    """Are the batch index for a global step, a hard-coded lr, a zero first step, overriding
    other callbacks after warm-up and setting optimizer.lr each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_lr_warmup(warmup_cls=cls)


def test_lr_warmup_names_a_wrong_shape_and_a_plain_class():
    """Are a non-linear ramp and a class that is not a Callback named?"""

    class Squared(make_warmup()):
        def on_train_batch_begin(self, batch, logs=None):
            if self.step < self.warmup_steps:
                ratio = ((self.step + 1) / self.warmup_steps) ** 2
                self.model.optimizer.learning_rate = self.base_lr * ratio
            self.step += 1

    with pytest.raises(CheckFailed, match="前几个批次"):
        checks.check_lr_warmup(warmup_cls=Squared)

    class Plain:
        def __init__(self, warmup_steps):
            pass

    with pytest.raises(CheckFailed, match="继承"):
        checks.check_lr_warmup(warmup_cls=Plain)


# ---------------------------------------------------------------- forgeries

HARDCODED = {
    # Right for the visible start lr 3e-4 (one halving), but no min_lr: the hidden 1.5e-4 start
    # falls to 7.5e-5.
    "ch05_make_callbacks_test": """
def make_callbacks(checkpoint_path):
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=3, min_delta=0.005, restore_best_weights=True
        ),
        keras.callbacks.ModelCheckpoint(
            checkpoint_path, monitor="val_accuracy", mode="max", save_best_only=True
        ),
        keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", patience=2, factor=0.5),
    ]
""",
    # Honours run only for the two runs the visible check uses.
    "ch05_best_epoch_test": """
from course_utils import tblogs


def best_epoch(logdir, tag="epoch_loss", run="validation", mode="min"):
    scalars = tblogs.read_scalars(logdir)
    key = f"{run}/{tag}" if run in ("validation", "train") else f"validation/{tag}"
    steps, values = scalars[key]
    i = int(np.argmin(values)) if mode == "min" else int(np.argmax(values))
    return int(steps[i]), float(values[i])
""",
    # Direction from "accuracy" in the name: right for val_accuracy and loss, wrong for val_auc.
    "ch05_stop_at_target_test": """
import math


class StopAtTarget(keras.callbacks.Callback):
    def __init__(self, monitor="val_accuracy", target=0.9, patience=1):
        super().__init__()
        self.monitor, self.target, self.patience = monitor, target, patience

    def on_train_begin(self, logs=None):
        self.count, self.stopped_epoch = 0, None

    def on_epoch_end(self, epoch, logs=None):
        value = float(logs[self.monitor])
        higher = self.monitor.endswith("accuracy")
        if not math.isfinite(value):
            self.count = self.patience
        elif (value >= self.target) if higher else (value <= self.target):
            self.count += 1
        else:
            self.count = 0
        if self.count >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
""",
    # Counts global steps only for the visible warmup_steps=7; otherwise the batch index.
    "ch05_linear_warmup_test": """
class LinearWarmup(keras.callbacks.Callback):
    def __init__(self, warmup_steps):
        super().__init__()
        self.warmup_steps = warmup_steps

    def on_train_begin(self, logs=None):
        self.base_lr = float(np.asarray(self.model.optimizer.learning_rate))
        self.step = 0

    def on_train_batch_begin(self, batch, logs=None):
        s = self.step if self.warmup_steps == 7 else batch
        if s < self.warmup_steps:
            self.model.optimizer.learning_rate = self.base_lr * (s + 1) / self.warmup_steps
        self.step += 1
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("05_callbacks_tensorboard", HARDCODED, tmp_path)
