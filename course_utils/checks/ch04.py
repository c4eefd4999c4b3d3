"""Checks for chapter 04 exercises (built-in training: custom losses, metrics and schedules).

Each check builds its own inputs, computes the expected numbers with NumPy, compares plain
data and raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the
likely mistake: a scalar where one loss per sample is due, a missing ``clip``, a hyper-parameter
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


def focal_reference(y_true, y_pred, gamma: float = 2.0, eps: float = 1e-7) -> np.ndarray:
    """Binary focal loss per sample (mean over the last axis), computed in float32 like Keras."""
    y = np.asarray(y_true, dtype="float32")
    p = np.clip(np.asarray(y_pred, dtype="float32"), np.float32(eps), np.float32(1 - eps))
    one = np.float32(1.0)
    terms = -(y * (one - p) ** gamma * np.log(p) + (one - y) * p**gamma * np.log(one - p))
    return terms.mean(axis=-1)


def check_focal_loss(loss_fn, y_true, y_pred) -> bool:
    """Exercise 4.1: one value per sample, clipped, modulated by ``(1 - p_t) ** 2``, graph-safe."""
    import tensorflow as tf

    y_true = np.asarray(y_true, dtype="float32")
    y_pred = np.asarray(y_pred, dtype="float32")
    n = y_true.shape[0]
    expected = focal_reference(y_true, y_pred)
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
        if _close(got, focal_reference(y_true, y_pred, gamma=0.0)):
            fail("结果等于普通的二元交叉熵：忘了调制因子 (1 - p)**2 和 p**2")
        if _close(got, expected * y_true.shape[-1]):
            fail("对最后一个轴求了和：应取平均 (ops.mean(..., axis=-1))")
        fail("数值与公式不符：检查两项各自的调制因子 y·(1-p)²·log(p) 与 (1-y)·p²·log(1-p)")
    graph = to_numpy(
        _in_graph(loss_fn, tf.constant(y_true), tf.constant(y_pred), what="binary_focal_loss "),
        "图模式下的返回值",
    )
    if not _close(graph, expected):
        fail("在 tf.function 里的结果与即时执行不同：不要用 NumPy 或 Python 数值参与计算")
    return passed()


# ---------------------------------------------------------------- exercise 4.2


def pinball_reference(y_true, y_pred, tau: float) -> np.ndarray:
    """Pinball (quantile) loss per sample, ``e = y_true - y_pred``, mean over the last axis."""
    e = np.asarray(y_true, dtype="float64") - np.asarray(y_pred, dtype="float64")
    return np.maximum(tau * e, (tau - 1) * e).mean(axis=-1)


def check_pinball_loss(loss_cls, tau, y_true, y_pred, sample_weight) -> bool:
    """Exercise 4.2: a ``Loss`` subclass honouring ``tau``, ``reduction`` and ``get_config``."""
    import keras

    y_true = np.asarray(y_true, dtype="float32")
    y_pred = np.asarray(y_pred, dtype="float32")
    sample_weight = np.asarray(sample_weight, dtype="float32")
    n = len(y_true)
    per_sample = pinball_reference(y_true, y_pred, tau)
    loss = loss_cls(tau=tau)
    if not isinstance(loss, keras.losses.Loss):
        fail("PinballLoss 应继承 keras.losses.Loss，并在 __init__ 里调用 super().__init__(...)")
    value = _scalar(loss(y_true, y_pred), "loss(y_true, y_pred)")
    if not _close(value, per_sample.mean()):
        if _close(value, pinball_reference(y_true, y_pred, 0.5).mean()):
            fail(f"结果与 tau=0.5 时相同：call 里没有用 self.tau（这里 tau={tau}）")
        if _close(value, pinball_reference(y_true, y_pred, 1 - tau).mean()):
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
    return passed()


# ---------------------------------------------------------------- exercise 4.3


def f1_reference(y_true, y_pred, threshold: float = 0.5, sample_weight=None) -> float:
    """Streaming binary F1 over everything given: ``2tp / (2tp + fp + fn)``, 0 when undefined."""
    y = np.asarray(y_true, dtype="float64").reshape(-1) > 0.5
    p = np.asarray(y_pred, dtype="float64").reshape(-1) > threshold
    w = (
        np.ones_like(y, dtype="float64")
        if sample_weight is None
        else np.asarray(sample_weight, dtype="float64").reshape(-1)
    )
    tp, fp, fn = (w * (p & y)).sum(), (w * (p & ~y)).sum(), (w * (~p & y)).sum()
    denominator = 2 * tp + fp + fn
    return float(2 * tp / denominator) if denominator > 0 else 0.0


def _f1_over(batches, threshold, weighted=True) -> float:
    ys = np.concatenate([np.reshape(b[0], -1) for b in batches])
    ps = np.concatenate([np.reshape(b[1], -1) for b in batches])
    ws = (
        np.concatenate(
            [np.ones(np.size(b[0])) if b[2] is None else np.reshape(b[2], -1) for b in batches]
        )
        if weighted
        else None
    )
    return f1_reference(ys, ps, threshold, ws)


def check_streaming_f1(metric_cls, batches, threshold) -> bool:
    """Exercise 4.3: counts accumulate over uneven batches, weighted, thresholded, resettable.

    ``batches``: a list of ``(y_true, y_pred, sample_weight_or_None)`` with uneven sizes.
    """
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
    expected = _f1_over(batches, threshold)
    if not _close(got, expected):
        per_batch = float(np.mean([_f1_over([b], threshold) for b in batches]))
        if _close(got, per_batch):
            fail(
                "结果等于“每批 F1 的平均”：F1 是比值，各批的比值取平均不等于整体的比值。"
                "在状态里累加 tp、fp、fn 三个计数，只在 result() 里计算一次 F1"
            )
        if _close(got, _f1_over(batches[-1:], threshold)):
            fail("结果只反映最后一批：update_state 里要 assign_add 累加计数，而不是 assign 覆盖")
        if _close(got, _f1_over(batches, threshold, weighted=False)):
            fail("忽略了 sample_weight：每个样本的计数要乘以它的权重再累加")
        if _close(got, _f1_over(batches, 0.5)) and threshold != 0.5:
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
    if not _close(_scalar(metric.result(), "result()"), _f1_over(batches[:1], threshold)):
        fail("reset_state() 之后再累计，结果仍混入了以前的数据：三个计数都要清零")
    config = metric.get_config()
    if not isinstance(config, dict) or not _close(float(config.get("threshold", -1)), threshold):
        fail("get_config() 里应有 threshold：返回 {**super().get_config(), 'threshold': ...}")
    return passed()


# ---------------------------------------------------------------- exercise 4.4


def warmup_reference(step, peak_lr, warmup_steps, decay_rate, decay_steps) -> float:
    """Linear warm-up to ``peak_lr`` over ``warmup_steps`` steps, then smooth exponential decay."""
    step = float(step)
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    return peak_lr * decay_rate ** ((step - warmup_steps) / decay_steps)


def check_warmup_schedule(schedule_cls, peak_lr, warmup_steps, decay_rate, decay_steps) -> bool:
    """Exercise 4.4: the formula at every step, tensor steps in a graph, config, optimizer use."""
    import keras
    import tensorflow as tf

    hyper = dict(
        peak_lr=peak_lr, warmup_steps=warmup_steps, decay_rate=decay_rate, decay_steps=decay_steps
    )
    schedule = schedule_cls(**hyper)
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        fail("WarmupExponentialDecay 应继承 keras.optimizers.schedules.LearningRateSchedule")
    steps = list(range(0, warmup_steps + 3 * decay_steps + 2))
    expected = [warmup_reference(s, **hyper) for s in steps]
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
        zero_start = [
            peak_lr * s / warmup_steps if s < warmup_steps else e for s, e in zip(steps, expected)
        ]
        no_offset = [
            e if s < warmup_steps else peak_lr * decay_rate ** (s / decay_steps)
            for s, e in zip(steps, expected)
        ]
        stairs = [
            e if s < warmup_steps else peak_lr * decay_rate ** ((s - warmup_steps) // decay_steps)
            for s, e in zip(steps, expected)
        ]
        if _close(got, zero_start, rtol=1e-4, atol=1e-7):
            fail(
                "warm-up 从 0 开始：第 0 步的学习率是 0，那一步白走了。"
                "第 step 步应为 peak_lr * (step + 1) / warmup_steps"
            )
        if _close(got, no_offset, rtol=1e-4, atol=1e-7):
            fail("衰减没有从 warm-up 结束时开始算：指数应为 (step - warmup_steps) / decay_steps")
        if _close(got, stairs, rtol=1e-4, atol=1e-7):
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
    return passed()
