"""Checks for chapter 05 exercises (callbacks and TensorBoard).

Each check drives the student's callbacks the way ``fit()`` does (``set_model``,
``on_train_begin``, ``on_epoch_end`` with a ``logs`` dict, ...) on a scripted sequence of
metric values, or runs a tiny real ``fit()``, on FIXED inputs, compares what happens with
values stored here (computed once, offline; nothing here computes an exercise's result for
other inputs, which the grader's hidden tests use), and raises :class:`~course_utils.checks.CheckFailed`
with a Chinese message naming the likely mistake: the wrong monitor or direction,
``patience`` counted over non-consecutive epochs, ``restore_best_weights`` forgotten, the
batch index taken for a global step, a learning rate hard-coded instead of read from the
optimizer, ...
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np

from course_utils.checks._core import fail, passed

__all__ = [
    "check_callbacks_for_requirement",
    "check_best_epoch_from_logs",
    "check_stop_at_target",
    "check_lr_warmup",
]


def _marker_model(learning_rate: float = 0.01):
    """A compiled 1-input model whose kernel we set to the epoch number (a "marker")."""
    import keras

    model = keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(2, use_bias=False)])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    # Build the compiled metrics, as a real fit() would have before the first epoch ends.
    model.evaluate(np.ones((2, 1), "float32"), np.zeros(2, "int32"), verbose=0)
    return model


def _set_marker(model, value: float) -> None:
    model.layers[0].kernel.assign(np.full((1, 2), value, dtype="float32"))


def _marker(model) -> float:
    return float(np.asarray(model.layers[0].kernel)[0, 0])


def _lr(model) -> float:
    return float(np.asarray(model.optimizer.learning_rate))


def _drive(callbacks, logs_per_epoch, model):
    """Call the epoch hooks like fit() does; stop when ``model.stop_training``. Epochs run."""
    model.stop_training = False
    for cb in callbacks:
        cb.set_model(model)
    for cb in callbacks:
        cb.on_train_begin({})
    run = 0
    for epoch, logs in enumerate(logs_per_epoch):
        _set_marker(model, epoch)
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {})
        for cb in callbacks:
            cb.on_epoch_end(epoch, dict(logs))
        run = epoch + 1
        if model.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end({})
    return run


# ---------------------------------------------------------------- exercise 5.1


#: The fixed scripted epochs of check_callbacks_for_requirement and what the requirement gives
#: on them (stored): epochs run, the epoch whose weights are restored, the epoch saved in the
#: checkpoint (0-based) and the final learning rate.
REQUIREMENT_VAL_ACC = (0.50, 0.60, 0.603, 0.59, 0.65, 0.652, 0.64, 0.63, 0.66, 0.67)
REQUIREMENT_VAL_LOSS = (0.90, 0.80, 0.70, 0.60, 0.50, 0.45, 0.40, 0.35, 0.30, 0.25)
#: (starting learning rate, stored outcome): from 1.5e-4 the halving stops at min_lr.
REQUIREMENT_CASES = [
    (3e-4, {"run": 8, "restored": 4, "saved": 5, "lr": 1.5e-4}),
    (1.5e-4, {"run": 8, "restored": 4, "saved": 5, "lr": 1e-4}),
]


def _run_callbacks_requirement(make_callbacks_fn, val_acc, val_loss, start_lr, folder):
    """Drive the callbacks from ``make_callbacks_fn`` on scripted logs.

    Returns ``(epochs_run, restored_epoch, saved_epoch or None, final_lr)`` as plain numbers.
    """
    import keras

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "best.keras")
    if os.path.exists(path):
        os.remove(path)  # a file left by an earlier run must not count as saved
    callbacks = make_callbacks_fn(path)
    if not isinstance(callbacks, list | tuple):
        fail(
            f"make_callbacks 应返回回调的列表，实际是 {type(callbacks).__name__}：是否忘了 return？"
        )
    callbacks = list(callbacks)
    kinds = [type(cb) for cb in callbacks]
    for kind in (
        keras.callbacks.EarlyStopping,
        keras.callbacks.ModelCheckpoint,
        keras.callbacks.ReduceLROnPlateau,
    ):
        if kinds.count(kind) != 1:
            fail(
                f"列表里应恰好有一个 {kind.__name__}，实际有 {kinds.count(kind)} 个"
                "（需要 EarlyStopping、ModelCheckpoint、ReduceLROnPlateau 各一个）"
            )
    model = _marker_model(start_lr)
    logs = [
        {"loss": 1.0 - 0.05 * i, "accuracy": 0.5 + 0.02 * i, "val_loss": vl, "val_accuracy": va}
        for i, (va, vl) in enumerate(zip(val_acc, val_loss))
    ]
    run = _drive(callbacks, logs, model)
    saved = None
    if os.path.exists(path):
        saved = _marker(keras.models.load_model(path, compile=False))
    return run, _marker(model), saved, _lr(model)


def check_callbacks_for_requirement(make_callbacks_fn) -> None:
    """Exercise 5.1: early stop on val_accuracy (patience 3, min_delta 0.005, best weights
    restored), best-only .keras checkpoint, LR halved after 2 flat epochs (>= 1e-4)."""
    for start_lr, want in REQUIREMENT_CASES:
        _check_requirement_case(make_callbacks_fn, start_lr, want)
    passed()


def _check_requirement_case(make_callbacks_fn, start_lr, want) -> None:
    want_run, want_restored, want_saved, want_lr = (
        want["run"],
        want["restored"],
        want["saved"],
        want["lr"],
    )
    val_acc = list(REQUIREMENT_VAL_ACC)
    with tempfile.TemporaryDirectory() as folder:
        run, restored, saved, lr = _run_callbacks_requirement(
            make_callbacks_fn, val_acc, list(REQUIREMENT_VAL_LOSS), start_lr, folder
        )
    if run != want_run:
        if run == len(val_acc):
            fail(
                f"训练没有提前停止（跑满了 {run} 轮），应在第 {want_run} 轮后停止：EarlyStopping "
                "是否监控 val_accuracy、mode 是否为 'max'、min_delta 是否为 0.005？"
            )
        if run < want_run:
            fail(
                f"训练在第 {run} 轮后就停止了，应在第 {want_run} 轮后：patience 应为 3，"
                "并检查 monitor='val_accuracy' 和 mode='max'（精度越大越好）"
            )
        fail(f"训练在第 {run} 轮后停止，应在第 {want_run} 轮后：检查 patience=3 和 min_delta=0.005")
    if int(round(restored)) != want_restored:
        fail(
            f"训练结束时模型的权重来自第 {int(round(restored)) + 1} 轮，应恢复到验证精度最好的第 "
            f"{want_restored + 1} 轮：EarlyStopping 需要 restore_best_weights=True"
        )
    if saved is None:
        fail(
            "checkpoint_path 处没有保存的模型：ModelCheckpoint 的 filepath 应使用传入的 checkpoint_path"
        )
    if int(round(saved)) != want_saved:
        fail(
            f"checkpoint_path 里保存的是第 {int(round(saved)) + 1} 轮的模型，应是验证精度最高的第 "
            f"{want_saved + 1} 轮：ModelCheckpoint 需要 monitor='val_accuracy'、mode='max'、"
            "save_best_only=True"
        )
    if not math.isclose(lr, want_lr, rel_tol=1e-4):
        fail(
            f"训练结束时学习率是 {lr:.3g}，应为 {want_lr:.3g}：ReduceLROnPlateau 应监控 "
            "val_accuracy（mode='max'）、patience=2、factor=0.5、min_lr=1e-4"
        )


# ---------------------------------------------------------------- exercise 5.2

_LOG_52 = {
    "validation": {
        "epoch_loss": [0.9, 0.7, 0.65, 0.8, 0.65, 0.7],
        "epoch_accuracy": [0.5, 0.6, 0.7, 0.65, 0.72, 0.71],
    },
    "train": {
        "epoch_loss": [1.0, 0.8, 0.6, 0.5, 0.4, 0.3],
        "epoch_accuracy": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
    },
}


def write_scalar_logs(logdir, runs, first_step=0) -> None:
    """Write ``{run: {tag: [values]}}`` as TensorBoard scalars, steps from ``first_step``."""
    import tensorflow as tf

    for run, tags in runs.items():
        writer = tf.summary.create_file_writer(os.path.join(str(logdir), run))
        with writer.as_default():
            for tag, values in tags.items():
                for i, value in enumerate(values):
                    tf.summary.scalar(tag, value, step=first_step + i)
        writer.close()


def _call_best(best_epoch_fn, logdir, **kwargs):
    result = best_epoch_fn(logdir, **kwargs)
    if not isinstance(result, tuple) or len(result) != 2:
        fail(
            f"best_epoch 应返回 (step, value) 二元组，实际是 {type(result).__name__}：是否忘了 return？"
        )
    step, value = result
    if type(step) is not int:
        fail(f"step 应是 Python int，实际是 {type(step).__name__}：用 int(...) 转换")
    if type(value) is not float:
        fail(f"value 应是 Python float，实际是 {type(value).__name__}：用 float(...) 转换")
    return step, value


def check_best_epoch_from_logs(best_epoch_fn) -> None:
    """Exercise 5.2: the right run and tag, min or max, the earliest tie, the logged step."""
    first_step = 3
    with tempfile.TemporaryDirectory() as logdir:
        write_scalar_logs(logdir, _LOG_52, first_step=first_step)
        val_loss = np.float32(_LOG_52["validation"]["epoch_loss"]).astype("float64")
        step, value = _call_best(best_epoch_fn, logdir)
        want = first_step + 2
        if step != want or not math.isclose(value, float(val_loss[2]), rel_tol=1e-6):
            if step == first_step + 5:
                fail("返回的是训练集 (train) 的最好轮次：默认应读 run='validation'（验证集）")
            if step == first_step + 4:
                fail("最小值出现了两次，返回的是后一次：并列时应返回最早的 step")
            if step == 2:
                fail(
                    f"返回的是数组下标 2，不是日志里记录的 step {want}：用 read_scalars 给出的 steps"
                )
            fail(f"默认参数下应返回 ({want}, 0.65)，实际是 ({step}, {value:.4g})")
        step, value = _call_best(best_epoch_fn, logdir, tag="epoch_accuracy", mode="max")
        if step != first_step + 4 or not math.isclose(value, 0.72, rel_tol=1e-6):
            if step == first_step:
                fail("mode='max' 时仍然取了最小值：精度类指标越大越好")
            fail(
                f"tag='epoch_accuracy', mode='max' 应返回 ({first_step + 4}, 0.72)，实际是 ({step}, {value:.4g})"
            )
        step, value = _call_best(best_epoch_fn, logdir, run="train")
        if step != first_step + 5:
            fail("run='train' 时没有读训练集的日志：要使用传入的 run 参数")
        try:
            best_epoch_fn(logdir, tag="epoch_auc")
        except KeyError:
            pass
        except Exception as exc:  # noqa: BLE001 - any other error is the mistake we name
            fail(f"日志里没有这个标签时应抛出 KeyError，实际抛出了 {type(exc).__name__}")
        else:
            fail("日志里没有 run/tag（例如 tag='epoch_auc'）时应抛出 KeyError，而不是返回一个值")
    passed()


# ---------------------------------------------------------------- exercise 5.3


def _plain_model():
    """An uncompiled 1-input model: enough for callbacks that only set ``stop_training``."""
    import keras

    return keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(2, use_bias=False)])


def _stop_run(callback, values, monitor):
    """Drive ``callback`` on ``values`` of ``monitor``; return the 0-based stop epoch or None."""
    model = _plain_model()
    logs = [{"loss": 0.5, monitor: v} for v in values]
    run = _drive([callback], logs, model)
    return run - 1 if model.stop_training else None


def check_stop_at_target(stop_cls) -> None:
    """Exercise 5.3: direction from the name, consecutive patience, NaN stops, reusable."""
    import keras

    cb = stop_cls(monitor="val_accuracy", target=0.8, patience=2)
    if not isinstance(cb, keras.callbacks.Callback):
        fail("StopAtTarget 应继承 keras.callbacks.Callback")
    stop = _stop_run(cb, [0.5, 0.82, 0.7, 0.81, 0.85, 0.9], "val_accuracy")
    if stop != 4:
        if stop is None:
            probe = stop_cls(monitor="val_accuracy", target=0.8, patience=2)
            if _stop_run(probe, [0.1, 0.1, 0.1], "val_accuracy") == 1:
                fail(
                    "val_accuracy 越大越好：达到目标是 value >= target（名字里没有 'loss'），"
                    "现在低于目标时反而停止了"
                )
            fail(
                "验证精度连续 2 轮 >= 0.8 后没有停止：在 on_epoch_end 里设置 "
                "self.model.stop_training = True"
            )
        if stop == 1:
            fail("第一次达到目标就停止了：要连续 patience 轮达到目标才停止")
        if stop == 3:
            fail("没有达到目标的一轮没有把计数清零：patience 要求的是“连续”几轮")
        if stop == 0:
            fail("val_accuracy 越大越好：达到目标是 value >= target（名字里没有 'loss'）")
        fail(f"应在 epoch 4 停止，实际在 epoch {stop}")
    if getattr(cb, "stopped_epoch", "missing") != 4:
        fail(
            f"停止后 self.stopped_epoch 应为 4（从 0 数），实际是 {getattr(cb, 'stopped_epoch', '没有这个属性')!r}"
        )
    again = _stop_run(cb, [0.81, 0.5, 0.5], "val_accuracy")
    if again is not None or cb.stopped_epoch is not None:
        fail(
            "同一个回调第二次 fit 时沿用了上一次的计数或 stopped_epoch：在 on_train_begin 里"
            "把计数清零、stopped_epoch 设为 None"
        )
    cb = stop_cls(monitor="loss", target=0.3, patience=1)
    stop = _stop_run(cb, [0.9, 0.5, 0.29, 0.2], "loss")
    if stop != 2:
        fail(
            f"监控 loss、target=0.3 时应在 epoch 2 停止，实际是 {stop}：名字里含 'loss' 的指标"
            "越小越好，达到目标是 value <= target"
        )
    cb = stop_cls(monitor="val_accuracy", target=0.99, patience=3)
    if _stop_run(cb, [0.5, float("nan"), 0.6, 0.6], "val_accuracy") != 1:
        fail("指标变成 NaN 时应立刻停止（不等 patience）：用 math.isfinite 判断")
    cb = stop_cls(monitor="val_accuracy", target=0.8)
    cb.set_model(_plain_model())
    cb.on_train_begin({})
    try:
        cb.on_epoch_end(0, {"loss": 0.4, "accuracy": 0.9})
    except KeyError:
        pass
    except Exception as exc:  # noqa: BLE001
        fail(f"logs 里没有 monitor 时应抛出 KeyError，实际抛出了 {type(exc).__name__}")
    else:
        fail("logs 里没有 val_accuracy 时应抛出 KeyError（说明可用的键），而不是悄悄继续训练")
    history = _tiny_fit(stop_cls(monitor="loss", target=1e9, patience=2), epochs=6)
    if len(history.history["loss"]) != 2:
        fail(
            f"在真实的 fit() 中训练了 {len(history.history['loss'])} 轮，应在 2 轮后停止："
            "设置的是 self.model.stop_training 吗？"
        )
    passed()


def _tiny_fit(*callbacks, epochs=3, n=20, batch_size=4, learning_rate=0.05, seed=0):
    """A linear model fitted on random data with plain SGD; returns the History."""
    import keras

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    y = rng.normal(size=(n, 1)).astype("float32")
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    return model.fit(
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
    )


# ---------------------------------------------------------------- exercise 5.4


def _lr_recorder():
    """A callback that records ``optimizer.learning_rate`` at every train batch begin."""
    import keras

    class _LRRecorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.lrs = []

        def on_train_batch_begin(self, batch, logs=None):
            self.lrs.append(float(np.asarray(self.model.optimizer.learning_rate)))

    return _LRRecorder()


#: The fixed fit of check_lr_warmup (20 samples, batch 4, 3 epochs, SGD at 0.05, 7 warm-up
#: steps) and the learning rate each of its 15 batches must see (stored).
WARMUP_CASE = {"warmup_steps": 7, "base_lr": 0.05, "n": 20, "batch_size": 4, "epochs": 3}
WARMUP_STORED = [0.05 * k / 7 for k in range(1, 7)] + [0.05] * 9


def check_lr_warmup(warmup_cls) -> None:
    """Exercise 5.4: linear warm-up over global steps from the optimizer's own lr, then hands off."""
    import keras

    warmup_steps, base_lr = WARMUP_CASE["warmup_steps"], WARMUP_CASE["base_lr"]
    n, batch_size, epochs = WARMUP_CASE["n"], WARMUP_CASE["batch_size"], WARMUP_CASE["epochs"]
    cb = warmup_cls(warmup_steps=warmup_steps)
    if not isinstance(cb, keras.callbacks.Callback):
        fail("LinearWarmup 应继承 keras.callbacks.Callback")
    rec = _lr_recorder()
    _tiny_fit(cb, rec, epochs=epochs, n=n, batch_size=batch_size, learning_rate=base_lr)
    steps_per_epoch = -(-n // batch_size)
    want = WARMUP_STORED
    got = rec.lrs
    if len(got) != len(want):
        fail(f"记录到 {len(got)} 个批次，应为 {len(want)} 个")
    if np.allclose(got, want, rtol=1e-5):
        pass
    elif np.allclose(got, base_lr, rtol=1e-5):
        fail(
            "学习率始终没有变化：在 on_train_batch_begin 里设置 self.model.optimizer.learning_rate"
            "（Keras 3 没有 optimizer.lr）"
        )
    elif np.isclose(got[0], 0.0, atol=1e-12):
        fail("第 1 个批次的学习率是 0：第 s 步（从 0 数）应为 base_lr * (s + 1) / warmup_steps")
    elif np.allclose(got[steps_per_epoch : 2 * steps_per_epoch], want[:steps_per_epoch], rtol=1e-5):
        fail(
            "第 2 轮又从头预热了：on_train_batch_begin 的 batch 参数每轮从 0 重新开始，"
            "要自己数全局步数（跨轮累加）"
        )
    elif np.allclose(np.asarray(got) / got[-1], np.asarray(want) / base_lr, rtol=1e-5):
        fail(
            f"预热的目标学习率是 {got[-1]:.3g}，不是优化器的 {base_lr:.3g}：在 on_train_begin 里从 "
            "self.model.optimizer.learning_rate 读出初始学习率，不要写死"
        )
    else:
        fail(
            f"前几个批次的学习率应为 {np.round(want[: warmup_steps + 1], 5).tolist()}，"
            f"实际是 {np.round(got[: warmup_steps + 1], 5).tolist()}"
        )

    class _HalveAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                lr = float(np.asarray(self.model.optimizer.learning_rate))
                self.model.optimizer.learning_rate = lr * 0.5

    rec = _lr_recorder()
    _tiny_fit(
        warmup_cls(warmup_steps=2),
        _HalveAfterFirstEpoch(),
        rec,
        epochs=2,
        n=n,
        batch_size=batch_size,
        learning_rate=base_lr,
    )
    if not np.allclose(rec.lrs[steps_per_epoch:], base_lr * 0.5, rtol=1e-5):
        fail(
            "预热结束后学习率又被改回了初始值，别的回调（如 ReduceLROnPlateau）的调整被覆盖："
            "预热结束后不要再修改学习率"
        )
    passed()
