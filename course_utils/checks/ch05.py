"""Checks for chapter 05 exercises (callbacks and TensorBoard).

Each check drives the student's callbacks the way ``fit()`` does (``set_model``,
``on_train_begin``, ``on_epoch_end`` with one ``logs`` dict shared by every callback, ...) on a
scripted sequence of predictions or metric values, writes scripted TensorBoard logs, or runs a
tiny real ``fit()``, on FIXED inputs, compares what happens with values stored here (computed
once, offline; nothing here computes an exercise's result for other inputs, which the grader's
hidden tests use), and raises :class:`~course_utils.checks.CheckFailed` with a Chinese message
naming the likely mistake: an array index taken for a logged step, ``mode`` left to ``"auto"``,
a metric written to ``logs`` after ``EarlyStopping`` has read them, the loss tested where the
message speaks of accuracy, the batch index taken for a global step, ...
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np

from course_utils.checks._core import fail, passed

__all__ = [
    "check_replay_early_stopping",
    "check_recall_callbacks",
    "check_stop_when_accurate",
    "check_stop_at_target",
    "check_lr_warmup",
]


def _drive(callbacks, logs_per_epoch, model, before_epoch=None):
    """Call the epoch hooks like fit() does: one logs dict per epoch, shared by every callback
    in list order; stop when ``model.stop_training``. Returns the number of epochs run."""
    model.stop_training = False
    for cb in callbacks:
        cb.set_model(model)
    for cb in callbacks:
        cb.on_train_begin({})
    run = 0
    for epoch, logs in enumerate(logs_per_epoch):
        if before_epoch is not None:
            before_epoch(epoch)
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {})
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        run = epoch + 1
        if model.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end({})
    return run


# ---------------------------------------------------------------- exercise 5.1

#: The fixed logs of check_replay_early_stopping (steps start at REPLAY_FIRST_STEP).
REPLAY_LOG = {
    "validation": {
        "epoch_loss": [0.9, 0.7, 0.65, 0.66, 0.64, 0.8, 0.9, 0.95],
        "epoch_auc": [0.6, 0.7, 0.7, 0.69, 0.71, 0.72, 0.5, 0.4],
    },
    "train": {"epoch_loss": [1.0, 0.8, 0.6, 0.5, 0.45, 0.4, 0.35, 0.3]},
}
REPLAY_FIRST_STEP = 3
#: (keyword arguments, stored (stop step or None, best step)) for those logs.
REPLAY_CASES = [
    ({}, (9, 7)),
    ({"min_delta": 0.02}, (7, 5)),
    ({"tag": "epoch_auc", "mode": "max"}, (6, 4)),
    ({"patience": 3}, (10, 7)),
    ({"run": "train"}, (None, 10)),
]


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


def _call_replay(replay_fn, logdir, kwargs):
    result = replay_fn(logdir, **kwargs)
    if not isinstance(result, tuple) or len(result) != 2:
        fail(
            "replay_early_stopping 应返回 (停止的 step 或 None, 最好的 step) 二元组，"
            f"实际是 {type(result).__name__}：是否忘了 return？"
        )
    stop, best = result
    for name, value in (("停止的 step", stop), ("最好的 step", best)):
        if value is not None and type(value) is not int:
            fail(f"{name} 应是 Python int，实际是 {type(value).__name__}：用 int(...) 转换")
    if type(best) is not int:
        fail("最好的 step 不能是 None：第一轮的数值就是起始的最好值")
    return stop, best


def _replay_mistake(kwargs, got, want) -> str:
    first = REPLAY_FIRST_STEP
    shifted = tuple(None if v is None else v - first for v in want)
    if got == shifted:
        return f"返回的是数组下标 {got}，不是日志里记录的 step {want}：用 read_scalars 给出的 steps"
    if kwargs.get("run") == "train":
        if got[0] is not None:
            return (
                f"训练集的损失一直在降，EarlyStopping 不会停，应返回 (None, {want[1]})，"
                f"实际是 {got}：没有停就返回 None，不要返回最后一步"
            )
        return f"run='train' 应返回 {want}，实际是 {got}：要使用传入的 run 参数"
    if kwargs.get("mode") == "max":
        if got == (5, 3):
            return "mode='max' 时仍然按越小越好判断：mode 决定方向"
        if got == (10, 8):
            return (
                "和最好值相等的一轮被当成了改进：改进必须严格超过 best + min_delta，"
                "相等只算一轮等待（所以并列时最好的是最早的一步）"
            )
    if kwargs.get("min_delta"):
        if got == (9, 7):
            return "min_delta 没有起作用：比最好值好出不超过 min_delta 的一轮不算改进，等待计数照样加 1"
    if not kwargs and got == (10, 7):
        return "停得晚了一轮：等待计数达到 patience 的那一轮就停止（与 EarlyStopping 一致）"
    if not kwargs and got[0] is not None and got[0] < want[0]:
        return "停得太早：改进的一轮要把等待计数清零；只有没有改进的轮次才计数"
    return f"参数 {kwargs or '默认'} 下应返回 {want}，实际是 {got}"


def check_replay_early_stopping(replay_fn) -> None:
    """Exercise 5.1: EarlyStopping's rule replayed on logged scalars (steps, min_delta, mode,
    ties, no stop, a missing run/tag)."""
    with tempfile.TemporaryDirectory() as logdir:
        write_scalar_logs(logdir, REPLAY_LOG, first_step=REPLAY_FIRST_STEP)
        for kwargs, want in REPLAY_CASES:
            got = _call_replay(replay_fn, logdir, kwargs)
            if got != want:
                fail(_replay_mistake(kwargs, got, want))
        try:
            replay_fn(logdir, tag="epoch_accuracy")
        except KeyError:
            pass
        except Exception as exc:  # noqa: BLE001 - any other error is the mistake we name
            fail(f"日志里没有这个标签时应抛出 KeyError，实际抛出了 {type(exc).__name__}")
        else:
            fail(
                "日志里没有 run/tag（例如 tag='epoch_accuracy'）时应抛出 KeyError，而不是返回一个值"
            )
    passed()


# ---------------------------------------------------------------- exercise 5.2

#: The fixed validation labels of check_recall_callbacks (class sizes 6, 7, 7) and, per epoch,
#: how many samples of each class the scripted model predicts correctly.
RECALL_SIZES = (6, 7, 7)
RECALL_CORRECT = [(3, 5, 5), (4, 6, 6), (5, 5, 5), (6, 6, 3), (5, 5, 4)]
#: What the task gives on them (stored): the worst-class recall logged each epoch, the epochs
#: run, the epoch whose weights are restored and the epoch in the checkpoint (0-based).
RECALL_STORED = {
    "logged": [3 / 6, 4 / 6, 5 / 7, 3 / 7],
    "run": 4,
    "restored": 1,
    "saved": 2,
}
#: Marker added to every weight at epoch e (e * MARKER): argmax unchanged, epoch readable.
MARKER = 1e-3


def recall_case(sizes, correct_per_epoch):
    """The labels and the scripted predictions of a recall case: the first ``r`` samples of
    class ``c`` are predicted right, the rest as class ``c + 1`` (mod the number of classes)."""
    y = np.concatenate([np.full(s, c) for c, s in enumerate(sizes)]).astype("int64")
    preds = []
    for correct in correct_per_epoch:
        p = y.copy()
        for c, r in enumerate(correct):
            idx = np.flatnonzero(y == c)[r:]
            p[idx] = (c + 1) % len(sizes)
        preds.append(p)
    return y, preds


def _recall_run(make_fn, y, preds, folder):
    """Drive ``make_fn(x_val, y_val, path)``'s callbacks: the model maps one-hot row i to the
    scripted class of sample i at each epoch. Returns (callbacks, logged, run, restored, saved)."""
    import keras

    n, k = len(y), int(y.max()) + 1
    path = os.path.join(folder, "best.keras")
    if os.path.exists(path):
        os.remove(path)
    callbacks = make_fn(np.eye(n, dtype="float32"), y.copy(), path)
    if not isinstance(callbacks, list | tuple):
        fail(
            f"make_recall_callbacks 应返回回调的列表，实际是 {type(callbacks).__name__}：是否忘了 return？"
        )
    callbacks = list(callbacks)
    model = keras.Sequential([keras.Input(shape=(n,)), keras.layers.Dense(k, use_bias=False)])

    def script(epoch):
        kernel = np.full((n, k), MARKER * epoch, "float32")
        kernel[np.arange(n), preds[epoch]] += 1.0
        model.layers[0].kernel.assign(kernel)

    logs = [{"loss": 1.0 - 0.05 * e, "val_loss": 1.0 - 0.07 * e} for e in range(len(preds))]
    run = _drive(callbacks, logs, model, before_epoch=script)
    logged = [lg.get("val_worst_recall") for lg in logs[:run]]
    restored = float(np.asarray(model.layers[0].kernel).min()) / MARKER
    saved = None
    if os.path.exists(path):
        saved = float(np.asarray(keras.models.load_model(path, compile=False).weights[0]).min())
        saved /= MARKER
    return callbacks, logged, run, int(round(restored)), None if saved is None else round(saved)


def _check_recall_list(callbacks) -> None:
    import keras

    kinds = [type(cb) for cb in callbacks]
    es = [i for i, cb in enumerate(callbacks) if isinstance(cb, keras.callbacks.EarlyStopping)]
    mc = [i for i, cb in enumerate(callbacks) if isinstance(cb, keras.callbacks.ModelCheckpoint)]
    if len(es) != 1 or len(mc) != 1:
        fail(
            f"列表里应恰好有一个 EarlyStopping 和一个 ModelCheckpoint，实际是 "
            f"{[k.__name__ for k in kinds]}"
        )
    own = [i for i in range(len(callbacks)) if i not in es + mc]
    if not own:
        fail("列表里没有计算 val_worst_recall 的回调：自己写一个回调，在每轮结束时把它写进 logs")
    if max(own) > min(es + mc):
        fail(
            "写 val_worst_recall 的回调排在 EarlyStopping / ModelCheckpoint 后面：同一轮的 logs "
            "按列表顺序传给各个回调，它们读的时候这个键还不存在。把你的回调放在列表最前面"
        )


def check_recall_callbacks(make_recall_callbacks_fn) -> None:
    """Exercise 5.2: a callback writes the worst-class recall into logs, EarlyStopping (max,
    patience 2, min_delta 0.05, best weights back) and ModelCheckpoint (best only) watch it."""
    y, preds = recall_case(RECALL_SIZES, RECALL_CORRECT)
    want = RECALL_STORED
    with tempfile.TemporaryDirectory() as folder:
        try:
            callbacks, logged, run, restored, saved = _recall_run(
                make_recall_callbacks_fn, y, preds, folder
            )
        except ValueError as exc:
            if "automatically determine" in str(exc) or "mode" in str(exc):
                fail(
                    "Keras 判断不出 val_worst_recall 越大越好还是越小越好（mode='auto' 只认得"
                    "编译进模型的内置指标）：EarlyStopping 和 ModelCheckpoint 都要写明 mode='max'"
                )
            raise
    _check_recall_list(callbacks)
    if any(v is None for v in logged):
        fail("logs 里没有 'val_worst_recall'：在 on_epoch_end 里写 logs['val_worst_recall'] = ...")
    try:
        logged = [float(v) for v in logged]
    except (TypeError, ValueError):
        fail(f"logs['val_worst_recall'] 应是一个数，实际是 {type(logged[0]).__name__}")
    head = min(len(logged), len(want["logged"]))
    if not np.allclose(logged[:head], want["logged"][:head], atol=1e-6):
        first = logged[0]
        if math.isclose(first, 13 / 20, abs_tol=1e-6):
            fail("第 1 轮写进 logs 的是总体准确率 0.65：应对每个类别分别算召回率，再取最小值")
        if math.isclose(first, (3 / 6 + 5 / 7 + 5 / 7) / 3, abs_tol=1e-6):
            fail("第 1 轮写进 logs 的是各类召回率的平均值：应取最小值（最差的类别）")
        fail(
            f"前几轮的 val_worst_recall 应为 {np.round(want['logged'], 4).tolist()}，"
            f"实际是 {np.round(logged, 4).tolist()}：召回率 = 真实类别为 c 的样本中被预测为 c 的比例"
        )
    if run != want["run"]:
        if run > want["run"]:
            fail(
                f"训练了 {run} 轮，应在第 {want['run']} 轮后停止：min_delta 应为 0.05"
                "（比最好值好出不到 0.05 的一轮不算改进），并检查 patience=2"
            )
        fail(
            f"训练在第 {run} 轮后就停止了，应在第 {want['run']} 轮后：patience 应为 2，"
            "并写明 mode='max'（召回率越大越好）"
        )
    if restored != want["restored"]:
        fail(
            f"训练结束时模型的权重来自第 {restored + 1} 轮，应恢复到最好的第 {want['restored'] + 1} 轮："
            "EarlyStopping 需要 restore_best_weights=True"
        )
    if saved is None:
        fail(
            "checkpoint_path 处没有保存的模型：ModelCheckpoint 的 filepath 应使用传入的 checkpoint_path"
        )
    if saved != want["saved"]:
        fail(
            f"checkpoint_path 里保存的是第 {saved + 1} 轮的模型，应是 val_worst_recall 最高的第 "
            f"{want['saved'] + 1} 轮：ModelCheckpoint 需要 monitor='val_worst_recall'、mode='max'、"
            "save_best_only=True"
        )
    passed()


# ---------------------------------------------------------------- exercise 5.3

#: The fixed scripted epochs of check_stop_when_accurate: (target, logs per epoch, stored
#: (stop epoch or None, stopped_epoch, reported)).
ACCURATE_CASES = [
    (
        0.6,
        [
            {"loss": 1.2, "accuracy": 0.55},
            {"loss": 0.9, "accuracy": 0.66},
            {"loss": 0.5, "accuracy": 0.8},
            {"loss": 0.35, "accuracy": 0.9},
        ],
        (1, 1, 0.66),
    ),
    (
        0.9,
        [
            {"loss": 0.08, "accuracy": 0.85},
            {"loss": 0.07, "accuracy": 0.9},
            {"loss": 0.06, "accuracy": 0.95},
        ],
        (1, 1, 0.9),
    ),
]


def _plain_model():
    """An uncompiled 1-input model: enough for callbacks that only set ``stop_training``."""
    import keras

    return keras.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(2, use_bias=False)])


def _accurate_run(stop_cls, target, logs):
    cb = stop_cls(target=target)
    model = _plain_model()
    run = _drive([cb], [dict(lg) for lg in logs], model)
    stop = run - 1 if model.stop_training else None
    return cb, stop


def check_stop_when_accurate(stop_cls) -> None:
    """Exercise 5.3: the fixed callback tests accuracy (>= target), reports the accuracy it
    saw, and raises KeyError when logs have no accuracy."""
    import keras

    if not isinstance(stop_cls(target=0.6), keras.callbacks.Callback):
        fail("StopWhenAccurate 应继承 keras.callbacks.Callback")
    for target, logs, (want_stop, want_epoch, want_reported) in ACCURATE_CASES:
        cb, stop = _accurate_run(stop_cls, target, logs)
        if stop != want_stop:
            losses = [lg["loss"] for lg in logs]
            if stop is not None and losses[stop] < 1 - target:
                fail(
                    f"target={target} 时停在了第 {stop} 轮（从 0 数），那一轮是损失低于 "
                    f"{1 - target:.2f}，准确率只有 {logs[stop]['accuracy']}：还在按 loss 判断，"
                    "要判断的是 logs['accuracy'] >= target"
                )
            if stop is not None and stop > want_stop and logs[want_stop]["accuracy"] == target:
                fail(f"准确率正好等于 target={target} 时没有停止：达到目标是 >=，不是 >")
            if stop is None:
                fail(f"target={target} 时准确率第 {want_stop} 轮就达到了，却没有停止训练")
            fail(f"target={target} 时应在第 {want_stop} 轮（从 0 数）停止，实际在第 {stop} 轮")
        if getattr(cb, "stopped_epoch", None) != want_epoch:
            fail(
                f"停止后 self.stopped_epoch 应为 {want_epoch}（从 0 数），实际是 "
                f"{getattr(cb, 'stopped_epoch', '没有这个属性')!r}"
            )
        reported = getattr(cb, "reported", None)
        if not isinstance(reported, float) or not math.isclose(reported, want_reported):
            if isinstance(reported, float) and math.isclose(reported, target):
                fail(
                    f"self.reported 是目标 {target}，不是这一轮实际的准确率 {want_reported}："
                    "报告看到的值，而不是想要的值"
                )
            fail(
                f"self.reported 应是停止那一轮的准确率 {want_reported}（Python float），"
                f"实际是 {reported!r}"
            )
    cb = stop_cls(target=0.6)
    cb.set_model(_plain_model())
    cb.on_train_begin({})
    try:
        cb.on_epoch_end(0, {"loss": 0.3, "val_accuracy": 0.9})
    except KeyError:
        pass
    except Exception as exc:  # noqa: BLE001
        fail(
            f"logs 里没有 'accuracy' 时应抛出 KeyError，实际抛出了 {type(exc).__name__}："
            "用 logs['accuracy']，不要用 logs.get(...)"
        )
    else:
        fail(
            "logs 里没有 'accuracy'（模型编译时没有 metrics=['accuracy']）时应抛出 KeyError，"
            "而不是照常运行"
        )
    passed()


# ---------------------------------------------------------------- exercise 5.4


def _stop_run(callback, values, monitor):
    """Drive ``callback`` on ``values`` of ``monitor``; return the 0-based stop epoch or None."""
    model = _plain_model()
    logs = [{"loss": 0.5, monitor: v} for v in values]
    run = _drive([callback], logs, model)
    return run - 1 if model.stop_training else None


def check_stop_at_target(stop_cls) -> None:
    """Exercise 5.4: direction from the name, consecutive patience, NaN stops, reusable."""
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
                "验证准确率连续 2 轮 >= 0.8 后没有停止：在 on_epoch_end 里设置 "
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


# ---------------------------------------------------------------- exercise 5.5


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
    """Exercise 5.5: linear warm-up over global steps from the optimizer's own lr, then hands off."""
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
