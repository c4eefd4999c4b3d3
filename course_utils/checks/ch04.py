"""Checks for chapter 04 exercises (built-in training: custom losses, metrics and schedules).

Each check runs the student's code on its own FIXED inputs (the visible cases shown in the
notebook) and compares with expected values stored here, computed once and rounded: this
module holds no function that computes an exercise's answer for other inputs. Each failure
raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the likely
mistake: a scalar where one loss per sample is due, a missing ``clip``, a hyper-parameter
ignored or lost by ``get_config``, a per-batch average instead of a streaming metric,
``sample_weight`` ignored, a Python ``if`` on a tensor step, ...
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import CheckFailed, fail, passed, to_numpy

__all__ = [
    "check_focal_loss",
    "check_pinball_loss",
    "check_streaming_f1",
    "check_warmup_schedule",
]


def _close(a, b, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    a, b = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    return (
        a.shape == b.shape
        and bool(np.all(np.isfinite(a)))
        and np.allclose(a, b, rtol=rtol, atol=atol)
    )


def _scalar(value, name: str) -> float:
    array = to_numpy(value, name)
    if array.size != 1:
        fail(f"{name} 应是一个标量，实际形状是 {array.shape}")
    return float(array.reshape(()))


def _in_graph(fn, *args, what: str):
    """Run ``fn(*args)`` inside ``tf.function(autograph=False)``: no NumPy, no Python ``if``."""
    import tensorflow as tf

    try:
        return tf.function(fn, autograph=False)(*args)
    except Exception as exc:  # the message names the usual cause
        fail(
            f"{what}在 tf.function 编译的计算图里运行失败 ({type(exc).__name__})："
            "fit()/evaluate() 会在图里调用它。只用 keras.ops 运算；不要用 NumPy、float()、"
            "或对张量写 Python 的 if（用 ops.where）"
        )


# ---------------------------------------------------------------- exercise 4.1

#: The visible case of exercise 4.1 (the last axis has 3 labels; 1.0 and 0.0 need the clip).
FOCAL_Y_TRUE = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 1]], dtype="float32")
FOCAL_Y_PRED = np.array(
    [[0.9, 0.2, 0.6], [0.1, 0.7, 1.0], [0.3, 0.8, 0.0], [0.5, 0.95, 0.4]], dtype="float32"
)
# Stored results for this case only: the focal loss per sample, and the plain binary
# cross-entropy per sample (what a loss without the modulating factors gives).
_FOCAL_EXPECTED = np.array([0.0305704754, 0.197000086, 0.199624121, 0.167759895])
_FOCAL_PLAIN_BCE = np.array([0.279776543, 0.436444491, 0.475705504, 0.553577065])


def check_focal_loss(loss_fn) -> None:
    """Exercise 4.1 on the visible case: one value per sample, clipped, modulated by
    ``(1 - p_t) ** 2``, and the same inside a ``tf.function`` graph."""
    import tensorflow as tf

    y_true, y_pred = FOCAL_Y_TRUE, FOCAL_Y_PRED
    n, k = y_true.shape
    expected = _FOCAL_EXPECTED
    got = to_numpy(loss_fn(tf.constant(y_true), tf.constant(y_pred)), "binary_focal_loss 的返回值")
    if got.shape != (n,):
        if got.size == 1 and _close(float(got.reshape(())), float(expected.mean())):
            fail(
                f"返回了一个标量：应返回每个样本一个值，形状 ({n},)。只对最后一个轴取平均 "
                "(axis=-1)，批次上的平均留给 Keras（这样 sample_weight 才能逐样本起作用）"
            )
        if got.shape == y_true.shape:
            fail(f"返回的形状是 {got.shape}：还要对最后一个轴取平均 (axis=-1)，得到形状 ({n},)")
        fail(f"返回的形状应为 ({n},)，实际是 {got.shape}")
    if not np.all(np.isfinite(got)):
        fail(
            "结果里有 inf 或 NaN：y_pred 恰好为 0 或 1 时 log 会爆掉。"
            "取 log 之前先 p = ops.clip(y_pred, 1e-7, 1 - 1e-7)"
        )
    if not _close(got, expected):
        if _close(got, -expected):
            fail("符号反了：交叉熵前面有一个负号，损失应 >= 0")
        if _close(got, _FOCAL_PLAIN_BCE):
            fail("结果等于普通的二元交叉熵：忘了调制因子 (1 - p)**2 和 p**2")
        if _close(got, expected * k):
            fail("对最后一个轴求了和：应取平均 (ops.mean(..., axis=-1))")
        fail("数值与公式不符：检查两项各自的调制因子 y·(1-p)²·log(p) 与 (1-y)·p²·log(1-p)")
    graph = to_numpy(
        _in_graph(loss_fn, tf.constant(y_true), tf.constant(y_pred), what="binary_focal_loss "),
        "图模式下的返回值",
    )
    if not _close(graph, expected):
        fail("在 tf.function 里的结果与即时执行不同：不要用 NumPy 或 Python 数值参与计算")
    passed()


# ---------------------------------------------------------------- exercise 4.2

#: The visible case of exercise 4.2.
PINBALL_TAU = 0.9
PINBALL_Y_TRUE = np.array([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]], dtype="float32")
PINBALL_Y_PRED = np.array([[0.5, 2.5], [0.2, -2.0], [1.0, 0.5]], dtype="float32")
PINBALL_SAMPLE_WEIGHT = np.array([1.0, 2.0, 0.5], dtype="float32")
# Stored results for this case only: the loss per sample at tau = 0.9, and the mean loss
# at tau = 0.5 (tau ignored) and at tau = 0.1 (the error's direction flipped).
_PINBALL_PER_SAMPLE = np.array([0.25, 0.46, 0.9])
_PINBALL_MEAN_TAU_HALF = 0.35
_PINBALL_MEAN_FLIPPED = 0.163333334


def check_pinball_loss(loss_cls) -> None:
    """Exercise 4.2 on the visible case (tau = 0.9): a ``Loss`` subclass honouring ``tau``,
    ``reduction``, ``sample_weight`` and ``get_config``."""
    import keras

    tau = PINBALL_TAU
    y_true, y_pred, sample_weight = PINBALL_Y_TRUE, PINBALL_Y_PRED, PINBALL_SAMPLE_WEIGHT
    n = len(y_true)
    per_sample = _PINBALL_PER_SAMPLE
    loss = loss_cls(tau=tau)
    if not isinstance(loss, keras.losses.Loss):
        fail("PinballLoss 应继承 keras.losses.Loss，并在 __init__ 里调用 super().__init__(...)")
    value = _scalar(loss(y_true, y_pred), "loss(y_true, y_pred)")
    if not _close(value, per_sample.mean()):
        if _close(value, _PINBALL_MEAN_TAU_HALF):
            fail(f"结果与 tau=0.5 时相同：call 里没有用 self.tau（这里 tau={tau}）")
        if _close(value, _PINBALL_MEAN_FLIPPED):
            fail("结果等于 1 - tau 时的损失：误差方向反了，应为 e = y_true - y_pred")
        fail(f"损失应为 {per_sample.mean():.5f}，实际是 {value:.5f}：检查 max(tau·e, (tau-1)·e)")
    try:
        per = to_numpy(
            loss_cls(tau=tau, reduction="none")(y_true, y_pred), "reduction='none' 的结果"
        )
    except TypeError:
        fail(
            "PinballLoss(tau=..., reduction='none') 报 TypeError：__init__ 要接收 **kwargs"
            "（name、reduction）并传给 super().__init__(**kwargs)"
        )
    if per.shape != (n,) and per.size == 1:
        if getattr(loss_cls(tau=tau, reduction="none"), "reduction", None) != "none":
            fail(
                "reduction='none' 没有生效：__init__ 要把 **kwargs（name、reduction）"
                "传给 super().__init__(**kwargs)"
            )
    if per.shape != (n,):
        fail(
            f"reduction='none' 时应得到每个样本一个值，形状 ({n},)，实际是 {per.shape}："
            "call 只对最后一个轴取平均，批次上的汇总交给基类"
        )
    if not _close(per, per_sample):
        fail(
            "reduction='none' 的逐样本结果不对：call 应返回 max(tau·e, (tau-1)·e) 对最后一轴的平均"
        )
    weighted = _scalar(loss(y_true, y_pred, sample_weight=sample_weight), "加权损失")
    if not _close(weighted, float(np.sum(per_sample * sample_weight)) / n):
        fail("传入 sample_weight 后结果不对：call 应返回逐样本的损失，加权交给基类的 __call__")
    config = loss.get_config()
    if not isinstance(config, dict) or "tau" not in config:
        fail("get_config() 里没有 tau：返回 {**super().get_config(), 'tau': self.tau}")
    if not isinstance(config["tau"], (int, float)) or not _close(float(config["tau"]), tau):
        fail(f"get_config()['tau'] 应为 Python 数 {tau}，实际是 {config['tau']!r}")
    named = loss_cls(tau=tau, name="my_pinball", reduction="sum")
    clone = loss_cls.from_config(named.get_config())
    if getattr(clone, "name", None) != "my_pinball" or getattr(clone, "reduction", None) != "sum":
        fail(
            "from_config(get_config()) 后 name 或 reduction 丢了：get_config 应在 "
            "super().get_config() 的基础上加入 tau"
        )
    graph = _in_graph(loss, y_true, y_pred, what="PinballLoss ")
    if not _close(_scalar(graph, "图模式下的损失"), per_sample.mean()):
        fail("在 tf.function 里的结果不对：只用 keras.ops 计算")
    passed()


# ---------------------------------------------------------------- exercise 4.3

#: The visible cases of exercise 4.3: ``(threshold, batches)``, each batch
#: ``(y_true, y_pred, sample_weight or None)``, of uneven sizes.
F1_CASES = [
    (
        0.5,
        [
            (
                np.array([1, 0, 1, 1, 0]),
                np.array([0.9, 0.6, 0.4, 0.8, 0.1]),
                np.array([1.0, 2.0, 1.0, 1.0, 1.0]),
            ),
            (np.array([[1]]), np.array([[0.2]]), None),
            (
                np.array([0, 0, 1, 1, 0, 1, 0, 1]),
                np.array([0.7, 0.2, 0.95, 0.55, 0.3, 0.45, 0.8, 0.6]),
                np.array([1.0, 1.0, 0.5, 1.0, 1.0, 2.0, 1.0, 1.0]),
            ),
        ],
    ),
    (
        0.3,  # a fixed 0.5 threshold gives another F1 here
        [
            (
                np.array([1, 0, 1, 0]),
                np.array([0.35, 0.45, 0.9, 0.1]),
                np.array([1.0, 1.0, 2.0, 1.0]),
            ),
            (np.array([1, 1, 0]), np.array([0.4, 0.2, 0.38]), np.array([1.0, 2.0, 1.0])),
        ],
    ),
]
# Stored results for these two cases only, in the same order: the streaming F1 over all
# batches, then what the usual mistakes give (mean of per-batch F1, the last batch alone,
# sample_weight ignored, a fixed threshold 0.5) and the F1 of the first batch alone (what
# a reset metric reports after that batch).
_F1_STORED = [
    dict(
        expected=0.529411765,
        per_batch=0.375661376,
        last=0.555555556,
        unweighted=0.625,
        fixed_half=0.529411765,
        first=0.571428571,
    ),
    dict(
        expected=0.666666667,
        per_batch=0.628571429,
        last=0.4,
        unweighted=0.666666667,
        fixed_half=0.5,
        first=0.857142857,
    ),
]


def _f1_case(metric_cls, threshold, batches, stored) -> None:
    import keras
    import tensorflow as tf

    metric = metric_cls(threshold=threshold)
    if not isinstance(metric, keras.metrics.Metric):
        fail("BinaryF1 应继承 keras.metrics.Metric，并在 __init__ 里调用 super().__init__(...)")
    if not _close(_scalar(metric.result(), "新建指标的 result()"), 0.0):
        fail("还没有数据时 result() 应为 0.0（分母为 0 时返回 0，不要返回 NaN）")
    for y, p, w in batches:
        args = [tf.constant(y, "float32"), tf.constant(p, "float32")]
        if w is None:
            metric.update_state(*args)
        else:
            metric.update_state(*args, sample_weight=tf.constant(w, "float32"))
    got = _scalar(metric.result(), "result()")
    expected = stored["expected"]
    if not _close(got, expected):
        if _close(got, stored["per_batch"]):
            fail(
                "结果等于“每批 F1 的平均”：F1 是比值，各批的比值取平均不等于整体的比值。"
                "在状态里累加 tp、fp、fn 三个计数，只在 result() 里计算一次 F1"
            )
        if _close(got, stored["last"]):
            fail("结果只反映最后一批：update_state 里要 assign_add 累加计数，而不是 assign 覆盖")
        if _close(got, stored["unweighted"]):
            fail("忽略了 sample_weight：每个样本的计数要乘以它的权重再累加")
        if _close(got, stored["fixed_half"]) and threshold != 0.5:
            fail(f"用了固定阈值 0.5：应使用构造参数 threshold（这里是 {threshold}）")
        fail(f"F1 应为 {expected:.4f}，实际是 {got:.4f}：检查 tp、fp、fn 的定义")
    metric.reset_state()
    if not _close(_scalar(metric.result(), "reset_state() 之后的 result()"), 0.0):
        fail("reset_state() 之后 result() 应为 0.0：把三个计数都 assign(0.0)")
    y, p, w = batches[0]
    step = tf.function(metric.update_state, autograph=False)
    args = [tf.constant(y, "float32"), tf.constant(p, "float32")]
    try:
        step(*args) if w is None else step(*args, tf.constant(w, "float32"))
    except Exception as exc:
        fail(
            f"update_state 在 tf.function 编译的计算图里失败 ({type(exc).__name__})："
            "evaluate() 会在图里调用它。只用 keras.ops，不要用 NumPy、float() 或 Python if"
        )
    if not _close(_scalar(metric.result(), "result()"), stored["first"]):
        fail("reset_state() 之后再累计，结果仍混入了以前的数据：三个计数都要清零")
    config = metric.get_config()
    if not isinstance(config, dict) or not _close(float(config.get("threshold", -1)), threshold):
        fail("get_config() 里应有 threshold：返回 {**super().get_config(), 'threshold': ...}")


def check_streaming_f1(metric_cls) -> None:
    """Exercise 4.3 on the visible cases (thresholds 0.5 and 0.3): counts accumulate over
    uneven batches, weighted, thresholded, resettable, and update_state runs in a graph."""
    for (threshold, batches), stored in zip(F1_CASES, _F1_STORED):
        _f1_case(metric_cls, threshold, batches, stored)
    passed()


# ---------------------------------------------------------------- exercise 4.4

#: The visible case of exercise 4.4; the check evaluates steps 0 .. 14.
WARMUP_HYPER = dict(peak_lr=0.1, warmup_steps=4, decay_rate=0.5, decay_steps=3)
# Stored learning rates at steps 0 .. 14 for this case only, and what the usual mistakes
# give: a warm-up starting at 0, a decay not offset by warmup_steps, a staircase decay.
_WARMUP_EXPECTED = [
    0.025, 0.05, 0.075, 0.1, 0.1, 0.0793700526, 0.0629960525, 0.05, 0.0396850263,
    0.0314980262, 0.025, 0.0198425131, 0.0157490131, 0.0125, 0.00992125657,
]  # fmt: skip
_WARMUP_ZERO_START = [0.0, 0.025, 0.05, 0.075] + _WARMUP_EXPECTED[4:]
_WARMUP_NO_OFFSET = _WARMUP_EXPECTED[:4] + [
    0.0396850263, 0.0314980262, 0.025, 0.0198425131, 0.0157490131, 0.0125, 0.00992125657,
    0.00787450656, 0.00625, 0.00496062829, 0.00393725328,
]  # fmt: skip
_WARMUP_STAIRS = _WARMUP_EXPECTED[:4] + [
    0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125,
]  # fmt: skip


def check_warmup_schedule(schedule_cls) -> None:
    """Exercise 4.4 on the visible case (peak 0.1, 4 warm-up steps, rate 0.5 every 3 steps):
    the formula at every step, tensor steps in a graph, config, and use by SGD."""
    import keras
    import tensorflow as tf

    hyper = dict(WARMUP_HYPER)
    warmup_steps = hyper["warmup_steps"]
    schedule = schedule_cls(**hyper)
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        fail("WarmupExponentialDecay 应继承 keras.optimizers.schedules.LearningRateSchedule")
    expected = _WARMUP_EXPECTED
    steps = list(range(len(expected)))
    try:
        got = [_scalar(schedule(tf.constant(s, dtype="int64")), f"schedule({s})") for s in steps]
    except CheckFailed:
        raise
    except Exception as exc:
        fail(
            f"schedule(step) 在 step 是 int64 张量时出错 ({type(exc).__name__})："
            "优化器传入的是整数张量 iterations，先 ops.cast(step, 'float32')"
        )
    if not _close(got, expected, rtol=1e-4, atol=1e-7):
        if _close(got, _WARMUP_ZERO_START, rtol=1e-4, atol=1e-7):
            fail(
                "warm-up 从 0 开始：第 0 步的学习率是 0，那一步白走了。"
                "第 step 步应为 peak_lr * (step + 1) / warmup_steps"
            )
        if _close(got, _WARMUP_NO_OFFSET, rtol=1e-4, atol=1e-7):
            fail("衰减没有从 warm-up 结束时开始算：指数应为 (step - warmup_steps) / decay_steps")
        if _close(got, _WARMUP_STAIRS, rtol=1e-4, atol=1e-7):
            fail("衰减是阶梯状的（整除）：这里要平滑衰减，指数用普通除法")
        bad = next(s for s, g, e in zip(steps, got, expected) if not _close(g, e, 1e-4, 1e-7))
        fail(
            f"第 {bad} 步的学习率应为 {expected[bad]:.6g}，实际是 {got[bad]:.6g}："
            "检查 warm-up 与衰减两段的公式和分界 (step < warmup_steps)"
        )
    graph = _in_graph(
        schedule, tf.constant(warmup_steps + 1, dtype="int64"), what="schedule(step) "
    )
    if not _close(_scalar(graph, "图模式下的学习率"), expected[warmup_steps + 1], 1e-4, 1e-7):
        fail("在 tf.function 里算出的学习率不对：用 ops.where 选择两段公式")
    config = schedule.get_config()
    missing = [k for k in hyper if not isinstance(config, dict) or k not in config]
    if missing:
        fail(f"get_config() 缺少 {missing}：四个构造参数都要放进去，from_config 才能重建")
    clone = schedule_cls.from_config(config)
    if not _close([_scalar(clone(s), "克隆的学习率") for s in steps], expected, 1e-4, 1e-7):
        fail("from_config(get_config()) 重建的调度与原来不同：检查 get_config 的值")
    weight = keras.Variable(0.0)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    n_updates = warmup_steps + 2
    for _ in range(n_updates):
        optimizer.apply([tf.constant(1.0)], [weight])
    if not _close(float(np.asarray(weight)), -sum(expected[:n_updates]), 1e-4, 1e-6):
        fail("交给 SGD 使用时，每一步的学习率与公式不符")
    passed()
