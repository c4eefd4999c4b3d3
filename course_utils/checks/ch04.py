"""Checks for chapter 04 exercises (built-in training: custom losses, metrics and schedules).

Each check runs the student's code on its own FIXED inputs (the visible cases shown in the
notebook) and compares with expected values stored here, computed once and rounded: this
module holds no function that computes an exercise's answer for other inputs. Each failure
raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the likely
mistake: a scalar where one loss per sample is due, NaN targets not masked (or masked after
squaring, so the gradient is NaN), a class weight taken from the predicted class, a
hyper-parameter lost by ``get_config``, ``(n,)`` against ``(n, 1)`` broadcast into an
``(n, n)`` matrix, a per-batch average instead of a streaming metric, ``sample_weight``
ignored, a Python ``if`` on a tensor step, ...
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import CheckFailed, fail, passed, to_numpy

__all__ = [
    "check_class_weighted_ce",
    "check_masked_mse",
    "check_streaming_f1",
    "check_true_positives",
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

#: The visible case of exercise 4.1: NaN marks a missing target; the second sample has none.
MASKED_Y_TRUE = np.array(
    [[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [0.5, -1.0, np.nan], [2.0, 0.0, 1.0]],
    dtype="float32",
)
MASKED_Y_PRED = np.array(
    [[0.5, 9.0, 2.0], [1.0, 2.0, 3.0], [0.0, 1.0, 5.0], [2.0, 1.0, -1.0]], dtype="float32"
)
# Stored results for this case only: the loss per sample, what dividing by all k targets
# gives, and the gradient of the summed loss with respect to y_pred (0 where y_true is NaN).
_MASKED_EXPECTED = np.array([0.625, 0.0, 2.125, 1.66666667])
_MASKED_OVER_K = np.array([0.416666667, 0.0, 1.41666667, 1.66666667])
_MASKED_GRAD = np.array(
    [[-0.5, 0.0, -1.0], [0.0, 0.0, 0.0], [-0.5, 2.0, 0.0], [0.0, 0.666666667, -1.33333333]]
)


def check_masked_mse(loss_fn) -> None:
    """Exercise 4.1 on the visible case: one value per sample, NaN targets left out of both the
    sum and the count, 0 for a sample with no target, finite gradients, and the same in a graph."""
    import tensorflow as tf

    y_true, y_pred = MASKED_Y_TRUE, MASKED_Y_PRED
    n, k = y_true.shape
    expected = _MASKED_EXPECTED
    got = to_numpy(loss_fn(tf.constant(y_true), tf.constant(y_pred)), "masked_mse 的返回值")
    if got.shape != (n,):
        if got.size == 1:
            fail(
                f"返回了一个标量：应返回每个样本一个值，形状 ({n},)。只在最后一个轴上汇总，"
                "批次上的平均留给 Keras（这样 sample_weight 才能逐样本起作用）"
            )
        if got.shape == y_true.shape:
            fail(f"返回的形状是 {got.shape}：还要在最后一个轴上汇总，得到形状 ({n},)")
        fail(f"返回的形状应为 ({n},)，实际是 {got.shape}")
    finite = np.isfinite(got)
    if not finite.all():
        if finite[[0, 2, 3]].all() and _close(got[[0, 2, 3]], expected[[0, 2, 3]]):
            fail(
                "第 2 个样本的目标全部缺失，结果却是 NaN (0/0)：这样的样本损失应为 0。"
                "分母用 ops.maximum(个数, 1)，或用 ops.where 把这种样本换成 0"
            )
        fail(
            "结果里有 NaN：缺失的目标 (NaN) 参与了运算，任何数和 NaN 相加相乘都还是 NaN。"
            "用 ops.isnan(y_true) 找出缺失的位置，只对其余位置求平方误差"
        )
    if not _close(got, expected):
        if _close(got, _MASKED_OVER_K):
            fail(
                f"除以了全部 {k} 个目标：平均只对**有值**的目标取，分母是每个样本里"
                "不是 NaN 的目标个数"
            )
        fail(
            "数值不对：每个样本 = 有值位置上 (y_true - y_pred)² 之和 ÷ 有值的个数；"
            "全部缺失的样本为 0"
        )
    graph = to_numpy(
        _in_graph(loss_fn, tf.constant(y_true), tf.constant(y_pred), what="masked_mse "),
        "图模式下的返回值",
    )
    if not _close(graph, expected):
        fail("在 tf.function 里的结果与即时执行不同：不要用 NumPy 或 Python 数值参与计算")
    pred = tf.Variable(y_pred)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(loss_fn(tf.constant(y_true), pred))
    grad = to_numpy(tape.gradient(total, pred), "梯度")
    if not np.all(np.isfinite(grad)):
        fail(
            "损失的数值对了，梯度里却有 NaN，fit 的第一步就会把权重变成 NaN。"
            "ops.where 没选中的那一支也会参与求梯度，而 0 × NaN = NaN：不要先算含 NaN 的平方"
            "再屏蔽，先用 ops.where(缺失, y_pred, y_true) 把缺失的目标换掉，再求差和平方"
        )
    if not _close(grad, _MASKED_GRAD):
        fail("梯度与公式不符：缺失位置的梯度应为 0，其余位置为 2·(y_pred - y_true) / 有值的个数")
    passed()


# ---------------------------------------------------------------- exercise 4.2

#: The visible case of exercise 4.2: three classes, integer labels, logits and probabilities.
CW_CLASS_WEIGHTS = [1.0, 4.0, 0.5]
CW_Y_TRUE = np.array([0, 1, 2, 1])
CW_LOGITS = np.array(
    [[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-1.0, 0.0, 3.0], [1.5, -0.5, 0.0]], dtype="float32"
)
CW_PROBS = np.array(
    [[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.05, 0.05, 0.9], [0.6, 0.1, 0.3]], dtype="float32"
)
CW_SAMPLE_WEIGHT = np.array([1.0, 0.5, 2.0, 0.0], dtype="float32")
# Stored results for this case only, per input kind: the loss per sample, and what the usual
# mistakes give (no class weights, the weight of the predicted class, from_logits flipped).
_CW_STORED = {
    "logits": dict(
        expected=[0.241311327, 4.40777159, 0.0329419561, 9.22542286],
        unweighted=[0.241311327, 1.1019429, 0.0658839121, 2.30635571],
        predicted=[0.241311327, 0.550971448, 0.0329419561, 2.30635571],
        flipped=[0.405465186, 4.39444923, 1.19209275e-07, 64.4723816],
    ),
    "probs": dict(
        expected=[0.356674969, 4.81589127, 0.0526802801, 9.2103405],
        unweighted=[0.356674969, 1.20397282, 0.10536056, 2.30258512],
        predicted=[0.356674969, 0.601986408, 0.0526802801, 2.30258512],
        flipped=[0.767949581, 4.5322752, 0.308896512, 5.41314602],
    ),
}
#: The default reduction (mean over the batch) of the logits case weighted by CW_SAMPLE_WEIGHT.
_CW_WEIGHTED_MEAN = 0.627770258


def _cw_per_sample(loss_cls, y_true, kind: str, **kwargs):
    import tensorflow as tf

    pred = CW_LOGITS if kind == "logits" else CW_PROBS
    loss = loss_cls(CW_CLASS_WEIGHTS, from_logits=kind == "logits", reduction="none", **kwargs)
    return to_numpy(loss(tf.constant(y_true), tf.constant(pred)), "reduction='none' 的结果")


def check_class_weighted_ce(loss_cls) -> None:
    """Exercise 4.2 on the visible case: per-sample weights by the TRUE class, ``from_logits``
    honoured, labels of shape ``(n,)`` or ``(n, 1)``, ``reduction`` / ``sample_weight`` left to
    the base class, and a JSON-friendly ``get_config``."""
    import json

    import keras
    import tensorflow as tf

    n = len(CW_Y_TRUE)
    try:
        loss = loss_cls(CW_CLASS_WEIGHTS, from_logits=True, reduction="none")
    except TypeError:
        fail(
            "ClassWeightedCrossentropy(class_weights, from_logits=..., reduction='none') 报 "
            "TypeError：__init__ 要接收 **kwargs（name、reduction）并传给 super().__init__(**kwargs)"
        )
    if not isinstance(loss, keras.losses.Loss):
        fail("应继承 keras.losses.Loss，并在 __init__ 里调用 super().__init__(**kwargs)")
    if getattr(loss, "reduction", None) != "none":
        fail("reduction='none' 没有生效：__init__ 要把 **kwargs 传给 super().__init__(**kwargs)")
    for kind in ("logits", "probs"):
        stored = _CW_STORED[kind]
        got = _cw_per_sample(loss_cls, CW_Y_TRUE, kind)
        if got.shape != (n,):
            fail(
                f"reduction='none' 时应得到每个样本一个值，形状 ({n},)，实际是 {got.shape}："
                "call 返回逐样本损失，批次上的汇总交给基类"
            )
        if not _close(got, stored["expected"]):
            if _close(got, stored["unweighted"]):
                fail("结果就是普通的交叉熵：每个样本还要乘以它**真实类别**的权重")
            if _close(got, stored["predicted"]):
                fail("乘的是**预测**类别 (argmax) 的权重：应按 y_true 取权重")
            if _close(got, stored["flipped"]):
                what = "logits 当成了概率" if kind == "logits" else "概率当成了 logits"
                fail(
                    f"from_logits={kind == 'logits'} 没有生效，把{what}：计算交叉熵时要用 self.from_logits"
                )
            fail(f"{kind} 输入的逐样本损失不对：应为 class_weights[y_true] × 交叉熵")
    column = _cw_per_sample(loss_cls, CW_Y_TRUE.reshape(-1, 1), "logits")
    if column.shape == (n, n):
        fail(
            f"y_true 的形状是 ({n}, 1) 时结果变成了 ({n}, {n})：按标签取出的权重形状是 "
            f"({n}, 1)，和形状 ({n},) 的交叉熵相乘时被广播成矩阵。先 ops.reshape(y_true, (-1,))"
        )
    if column.shape != (n,) or not _close(column, _CW_STORED["logits"]["expected"]):
        fail(f"y_true 的形状是 ({n}, 1) 时结果不对：先把标签展平成 ({n},) 再取权重")
    mean_loss = loss_cls(CW_CLASS_WEIGHTS, from_logits=True)
    weighted = _scalar(mean_loss(CW_Y_TRUE, CW_LOGITS, sample_weight=CW_SAMPLE_WEIGHT), "加权损失")
    if not _close(weighted, _CW_WEIGHTED_MEAN):
        fail(
            "传入 sample_weight 后结果不对：call 只返回逐样本损失，样本权重和汇总交给基类的 __call__"
        )
    config = loss.get_config()
    if not isinstance(config, dict) or "class_weights" not in config or "from_logits" not in config:
        fail(
            "get_config() 里缺少 class_weights 或 from_logits：返回 "
            "{**super().get_config(), 'class_weights': ..., 'from_logits': ...}"
        )
    try:
        json.dumps(config)
    except TypeError:
        fail(
            f"get_config() 里有不能写进 JSON 的值（{type(config['class_weights']).__name__}）："
            "保存模型时会失败。class_weights 存成 Python 列表，例如 [float(w) for w in ...]"
        )
    if not _close(config["class_weights"], CW_CLASS_WEIGHTS) or config["from_logits"] is not True:
        fail("get_config() 里的 class_weights 或 from_logits 与构造时传入的不同")
    named = loss_cls(CW_CLASS_WEIGHTS, from_logits=True, name="cw", reduction="sum")
    clone = loss_cls.from_config(named.get_config())
    if getattr(clone, "name", None) != "cw" or getattr(clone, "reduction", None) != "sum":
        fail("from_config(get_config()) 后 name 或 reduction 丢了：在 super().get_config() 上添加")
    total = _scalar(clone(CW_Y_TRUE, CW_LOGITS), "克隆的损失")
    if not _close(total, sum(_CW_STORED["logits"]["expected"])):
        fail("from_config(get_config()) 重建的损失算出的值不同：检查 get_config 的值")
    graph = _in_graph(loss, tf.constant(CW_Y_TRUE), tf.constant(CW_LOGITS), what="损失 ")
    if not _close(to_numpy(graph, "图模式下的损失"), _CW_STORED["logits"]["expected"]):
        fail("在 tf.function 里的结果不对：只用 keras.ops 计算")
    passed()


# ---------------------------------------------------------------- exercise 4.3


def _one_hot_probs(classes) -> np.ndarray:
    probs = np.full((len(classes), 3), 0.1, dtype="float32")
    probs[np.arange(len(classes)), classes] = 0.8
    return probs


#: The visible case of exercise 4.3: batches ``(y_true, y_pred, sample_weight or None)``
#: with labels of shape (n,) or (n, 1) and weights of shape (n,) or (n, 1).
TP_BATCHES = [
    (np.array([0, 2, 1, 1]), _one_hot_probs([0, 1, 1, 2]), None),
    (np.array([[2], [0], [1]]), _one_hot_probs([2, 0, 0]), np.array([2.0, 0.5, 1.0])),
    (np.array([1, 2]), _one_hot_probs([1, 2]), np.array([[3.0], [0.0]])),
]
# Stored results for this case only: result() after each batch, what the broken metric
# gives, the total weight seen so far (no count can exceed it), and the usual other mistakes
# (weights ignored, each batch overwriting the count).
_TP_EXPECTED = [2.0, 4.5, 7.5]
_TP_BROKEN = [6.0, 13.0, 16.0]
_TP_TOTAL_WEIGHT = [4.0, 7.5, 10.5]
_TP_UNWEIGHTED = [2.0, 4.0, 6.0]
_TP_OVERWRITTEN = [2.0, 2.5, 3.0]
_TP_WEIGHT_COLUMN = [2.0, 4.5, 10.5]  # labels flattened, the (n, 1) weights of batch 3 not


def _tp_update(update, batch) -> None:
    import tensorflow as tf

    y, p, w = batch
    args = [tf.constant(y, "float32"), tf.constant(p, "float32")]
    if w is None:
        update(*args)
    else:
        update(*args, sample_weight=tf.constant(w, "float32"))


def check_true_positives(metric_cls) -> None:
    """Exercise 4.3 on the visible case: the weighted count of correct argmax predictions
    over batches whose labels and weights come as (n,) or (n, 1), resettable, in a graph."""
    import keras
    import tensorflow as tf

    metric = metric_cls()
    if not isinstance(metric, keras.metrics.Metric):
        fail("FixedTruePositives 应继承 keras.metrics.Metric")
    if not _close(_scalar(metric.result(), "新建指标的 result()"), 0.0):
        fail("还没有数据时 result() 应为 0.0")
    got = []
    for batch in TP_BATCHES:
        _tp_update(metric.update_state, batch)
        got.append(_scalar(metric.result(), "result()"))
    if not _close(got, _TP_EXPECTED):
        if _close(got, _TP_BROKEN) or any(g > t + 1e-6 for g, t in zip(got, _TP_TOTAL_WEIGHT)):
            fail(
                f"计数 {got} 比见过的样本（权重之和 {_TP_TOTAL_WEIGHT}）还多：形状 (n,) 的标签和"
                "形状 (n, 1) 的预测类别比较时被广播成 (n, n) 的矩阵，sample_weight 也一样。"
                "把 y_true、预测类别和 sample_weight 都 ops.reshape(..., (-1,)) 展平再比较"
            )
        if _close(got, _TP_WEIGHT_COLUMN):
            fail(
                "前两批对了，第三批的 sample_weight 形状是 (2, 1)：它和形状 (2,) 的比较结果相乘"
                "时被广播成 (2, 2)。把 sample_weight 也 ops.reshape(..., (-1,)) 展平"
            )
        if _close(got, _TP_UNWEIGHTED):
            fail("忽略了 sample_weight：每个预测正确的样本要按它的权重计数")
        if _close(got, _TP_OVERWRITTEN):
            fail("计数只反映最后一批：update_state 里要 assign_add 累加，而不是 assign 覆盖")
        fail(f"各批之后的 result() 应为 {_TP_EXPECTED}，实际是 {got}")
    metric.reset_state()
    if not _close(_scalar(metric.result(), "reset_state() 之后的 result()"), 0.0):
        fail("reset_state() 之后 result() 应为 0.0")
    try:
        _tp_update(tf.function(metric.update_state, autograph=False), TP_BATCHES[1])
    except Exception as exc:
        fail(
            f"update_state 在 tf.function 编译的计算图里失败 ({type(exc).__name__})："
            "fit()/evaluate() 会在图里调用它。只用 keras.ops，不要用 NumPy 或 Python if 判断张量"
        )
    if not _close(_scalar(metric.result(), "result()"), _TP_EXPECTED[1] - _TP_EXPECTED[0]):
        fail("在计算图里累计第二批后结果不对：检查 sample_weight 形状为 (n,) 时的处理")
    passed()


# ---------------------------------------------------------------- exercise 4.4

#: The visible cases of exercise 4.4: ``(threshold, batches)``, each batch
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
    """Exercise 4.4 on the visible cases (thresholds 0.5 and 0.3): counts accumulate over
    uneven batches, weighted, thresholded, resettable, and update_state runs in a graph."""
    for (threshold, batches), stored in zip(F1_CASES, _F1_STORED):
        _f1_case(metric_cls, threshold, batches, stored)
    passed()


# ---------------------------------------------------------------- exercise 4.5

#: The visible case of exercise 4.5; the check evaluates steps 0 .. 14.
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
    """Exercise 4.5 on the visible case (peak 0.1, 4 warm-up steps, rate 0.5 every 3 steps):
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
