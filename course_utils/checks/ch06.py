"""Checks for chapter 06 exercises (training loops from scratch).

Each check runs the student's function on FIXED inputs it builds itself (seeded models, batches
and optimizers), compares what comes back with values stored here (computed once, offline),
and raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the likely
mistake: per-batch results averaged, ``training`` left at the wrong value, the global ``model``
trained instead of the one passed in, ``model.losses`` dropped, ``model.trainable_weights``
updated instead of the chosen layers, retracing on Python floats, gradients summed instead of
averaged, ... The stored values cover only these fixed inputs; nothing here trains a model or
computes an exercise's result for other inputs (the grader's hidden tests use other inputs).
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import all_close, fail, passed, to_numpy

__all__ = [
    "check_selective_accuracy",
    "check_subset_step",
    "check_lr_train_step",
    "check_accumulated_fit",
    "check_fixed_fit",
]


def _close(a, b, tol: float = 1e-4) -> bool:
    return all_close(a, b, atol=tol)


def _python_float(value, name: str) -> float:
    """Fail unless ``value`` is a real Python float (not a tensor, not an array, not a bool)."""
    if value is None:
        fail(f"{name} 是 None：函数是否忘了 return？")
    if isinstance(value, bool) or not isinstance(value, float):
        fail(
            f"{name} 应是 Python float，实际是 {type(value).__name__}："
            "用 float(...) 把张量转换成 Python 数"
        )
    return float(value)


def _scalar(value, name: str) -> float:
    """Convert a scalar tensor / number to float, or fail with a clear message."""
    array = to_numpy(value, name)
    if array.size != 1:
        fail(f"{name} 应是一个标量，实际形状是 {array.shape}")
    return float(array.reshape(()))


def _recorder_layer():
    """An identity layer that counts graph (tracing) and eager calls and keeps the last flag."""
    import keras
    import tensorflow as tf

    class _CallRecorder(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.reset()

        def reset(self):
            self.traces, self.eager_calls = 0, 0
            self.last_flag = self.graph_flag = "never called"

        def call(self, x, training=None):
            if tf.executing_eagerly():
                self.eager_calls += 1
            else:
                self.traces += 1
                self.graph_flag = training
            self.last_flag = training
            return x

    return _CallRecorder()


# ---------------------------------------------------------------- exercise 6.1

#: The fixed case of check_selective_accuracy: 14 samples in batches of 4 (the last smaller),
#: and the confidence threshold.
SELECTIVE_SAMPLES, SELECTIVE_BATCH, SELECTIVE_THRESHOLD = 14, 4, 0.6


def _selective_case():
    """The fixed inputs of check_selective_accuracy: Dense(6, relu) - call recorder -
    Dropout(0.5) - Dense(3) (logits) with seeded weights, and seeded (x, y)."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(61)
    recorder = _recorder_layer()
    model = keras.Sequential(
        [
            keras.Input(shape=(5,)),
            keras.layers.Dense(6, activation="relu"),
            recorder,
            keras.layers.Dropout(0.5),
            keras.layers.Dense(3),
        ]
    )
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    recorder.reset()
    x = rng.normal(size=(SELECTIVE_SAMPLES, 5)).astype("float32")
    y = rng.integers(0, 3, size=SELECTIVE_SAMPLES).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(SELECTIVE_BATCH)
    return model, recorder, dataset


#: (coverage, accuracy) of the fixed case: right; with each batch's coverage and accuracy
#: averaged over the batches (batch_mean); with the threshold compared to the logits instead
#: of the softmax probabilities (logits); the plain accuracy over every sample (all_samples);
#: and with the state of an earlier call on the first batch left in (stale). Computed once,
#: offline.
SELECTIVE_STORED = {
    "right": (0.6428571, 0.3333333),
    "batch_mean": (0.625, 0.25),
    "logits": (0.7142857, 0.2),
    "all_samples": 0.2142857,
    "stale": (0.6666667, 0.4166667),
}


def check_selective_accuracy(accuracy_fn) -> None:
    """Exercise 6.1: inference mode, softmax confidence against the threshold, coverage and
    accuracy over the whole dataset (not per-batch means), two Python floats, no state kept
    from an earlier call."""
    model, recorder, dataset = _selective_case()
    want = SELECTIVE_STORED
    accuracy_fn(model, dataset.take(1), SELECTIVE_THRESHOLD)  # an earlier call on one batch
    result = accuracy_fn(model, dataset, SELECTIVE_THRESHOLD)
    if recorder.last_flag is True or recorder.graph_flag is True:
        fail("前向计算收到 training=True：评估时 Dropout 不能起作用，应写 model(x, training=False)")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail(f"应返回两个数 (coverage, accuracy)，实际是 {type(result).__name__}")
    got = (_python_float(result[0], "coverage"), _python_float(result[1], "accuracy"))
    if _close(got, want["right"], 1e-5):
        passed()
        return
    if _close(got, want["stale"], 1e-5):
        fail(
            "结果里混入了上一次调用的数据：指标对象要在函数里新建（或开始前 reset_state()），"
            "不能带着上一次调用的状态"
        )
    if _close(got, want["batch_mean"], 1e-5):
        fail(
            "结果等于“各批的覆盖率和准确率再求平均”：各批留下的样本数不同，这不等于整份数据上的"
            "比例。用指标对象逐批 update_state，最后只读一次 result()"
        )
    if _close(got, want["logits"], 1e-5):
        fail("阈值比较的是 logits：模型输出 logits，先用 softmax 换成概率，再取每个样本的最大概率")
    if _close(got[1], want["all_samples"], 1e-5):
        fail(
            "accuracy 等于全部样本上的准确率：只统计置信度 ≥ threshold 的样本，"
            "例如把 update_state 的 sample_weight 设为这批样本是否留下 (0/1)"
        )
    fail(
        f"(coverage, accuracy) 应为 {np.round(want['right'], 4).tolist()}，"
        f"实际是 {np.round(got, 4).tolist()}：coverage 是置信度 ≥ threshold 的样本占全部样本的"
        "比例，accuracy 是这些样本里预测正确的比例"
    )


# ---------------------------------------------------------------- exercise 6.2


def _subset_case():
    """The fixed inputs of check_subset_step: Dense-BatchNorm-Dense with seeded weights, the
    first and last Dense chosen, sparse cross-entropy on logits, SGD(0.1), a batch of 8."""
    import keras

    rng = np.random.default_rng(62)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(6),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(3),
        ]
    )
    model.layers[0].set_weights(
        [rng.normal(size=(4, 6)).astype("float32"), rng.normal(size=6).astype("float32") * 0.1]
    )
    model.layers[2].set_weights(
        [rng.normal(size=(6, 3)).astype("float32"), rng.normal(size=3).astype("float32") * 0.1]
    )
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.integers(0, 3, size=8)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=0.1)
    return model, [model.layers[0], model.layers[2]], loss_fn, optimizer, x, y


#: The fixed case's loss in training mode (right), in inference mode, after the update, and
#: the chosen layers' weights after one right step (kernel 0, bias 0, kernel 2, bias 2).
SUBSET_STORED = {
    "loss": 1.23007,
    "loss_inference": 4.923184,
    "loss_after": 1.116534,
    "weights": [
        [
            [-1.022599, -1.473116, -0.4641334, -0.4105229, -0.9278925, -0.2984969],
            [-0.2467061, -2.056288, -1.190481, -0.2626273, -1.050498, -0.3800287],
            [1.348074, -1.050727, -0.0726629, 0.4467412, -0.3969081, -0.08062635],
            [0.4850322, -0.8020914, 3.087952, 0.3359733, 0.7159346, 0.4511515],
        ],
        [-0.15389, 0.05761027, -0.04686834, 0.09395628, 0.05129675, 0.04800172],
        [
            [-0.7567735, -0.5798721, -0.3035959],
            [0.2263473, 0.2363157, 1.254062],
            [-0.2849958, 0.4048845, 1.491718],
            [-0.2340036, 2.132007, -0.09914152],
            [0.5332007, -0.4683987, 0.7534732],
            [0.8813034, 0.4760766, -1.739481],
        ],
        [0.004232142, -0.08005236, -0.02448855],
    ],
}


def check_subset_step(step_fn) -> None:
    """Exercise 6.2: ``training=True``, only the chosen layers move (plain SGD), pre-update loss."""
    model, layers_to_train, loss_fn, optimizer, x, y = _subset_case()
    want = SUBSET_STORED
    chosen = [w for layer in layers_to_train for w in layer.trainable_weights]
    chosen_ids = {id(w) for w in chosen}
    others = [w for w in model.trainable_weights if id(w) not in chosen_ids]
    before_chosen = [np.asarray(w) for w in chosen]
    before_others = [np.asarray(w) for w in others]

    result = step_fn(model, layers_to_train, loss_fn, optimizer, x, y)
    loss = _python_float(result, "train_subset_step 的返回值")
    for w, before in zip(others, before_others):
        if not np.allclose(np.asarray(w), before):
            fail(
                f"不该训练的权重 {w.path} 也被更新了：只对 layers_to_train 各层的 "
                "trainable_weights 求梯度和更新，不要用 model.trainable_weights"
            )
    if not _close(loss, want["loss"], 1e-5):
        if _close(loss, want["loss_inference"], 1e-5):
            fail("返回的损失是推理模式下的值：前向计算应写 model(x, training=True)")
        if _close(loss, want["loss_after"], 1e-5):
            fail("返回的是更新之后的损失：应返回在梯度带里算出的、更新前的那个损失")
        fail(
            f"返回的损失应为 {want['loss']:.5f}，实际是 {loss:.5f}：检查损失函数的参数顺序 (y, y_pred)"
        )
    if all(np.allclose(np.asarray(w), b) for w, b in zip(chosen, before_chosen)):
        fail("指定层的权重没有变化：是否忘了 optimizer.apply(grads, variables)？")
    for w, expected in zip(chosen, want["weights"]):
        if not _close(np.asarray(w), expected, 1e-4):
            fail(
                f"{w.path} 的更新量不对：梯度要对“损失”求、和变量一一对应 "
                "(apply(grads, variables) 或 apply_gradients(zip(grads, variables)))，"
                "并且只更新一次"
            )
    passed()


# ---------------------------------------------------------------- exercise 6.3

#: The fixed case of check_fixed_fit: 10 images in batches of 4, 3 epochs, SGD(FIX_LR), and a
#: Dense(10) whose kernel has an L2 penalty FIX_L2 (so ``net.losses`` is not empty).
FIX_SAMPLES, FIX_BATCH, FIX_EPOCHS, FIX_LR, FIX_L2 = 10, 4, 3, 0.02, 0.01


def _fix_case():
    """The fixed inputs of check_fixed_fit: Flatten - call recorder - Dense(10, L2 kernel
    penalty) on 28x28 inputs (the shape of the chapter's ``model``, so a function that still
    trains the global ``model`` runs and leaves ``net`` untouched), seeded weights and data."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(63)
    recorder = _recorder_layer()
    dense = keras.layers.Dense(10, kernel_regularizer=keras.regularizers.L2(FIX_L2))
    net = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), recorder, dense])
    dense.set_weights(
        [rng.normal(scale=0.05, size=(784, 10)).astype("float32"), np.zeros(10, "float32")]
    )
    recorder.reset()
    x = rng.uniform(size=(FIX_SAMPLES, 28, 28)).astype("float32")
    y = rng.integers(0, 10, size=FIX_SAMPLES).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(FIX_BATCH)
    return net, recorder, dense, dataset


def _summary(dense) -> list[float]:
    """What the check compares of the trained Dense: kernel sum, kernel and bias L2 norms."""
    kernel, bias = np.asarray(dense.kernel, "float64"), np.asarray(dense.bias, "float64")
    return [float(kernel.sum()), float(np.sqrt((kernel**2).sum())), float(np.sqrt((bias**2).sum()))]


#: The fixed case after a right fit: epoch losses and the Dense summary (``_summary``); the
#: epoch losses of a loop that never resets its Mean (no_reset); of a loop that drops
#: ``net.losses`` (no_losses, with its summary; a loop that adds them after the tape closed
#: ends with the same weights, since the gradient misses them, but reports other losses).
FIX_STORED = {
    "history": [2.665387, 2.057716, 1.617802],
    "summary": [-6.158908, 4.425294, 0.01927785],
    "history_no_reset": [2.665387, 2.361552, 2.113635],
    "history_no_losses": [2.470606, 1.862453, 1.421357],
    "summary_no_losses": [-6.181125, 4.441114, 0.01927519],
}


def check_fixed_fit(fit_fn) -> None:
    """Exercise 6.3: trains the model it is given, in training mode, with ``net.losses`` in
    the loss inside the tape, and reports each epoch's own mean batch loss."""
    import keras

    net, recorder, dense, dataset = _fix_case()
    want = FIX_STORED
    before = _summary(dense)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = keras.optimizers.SGD(learning_rate=FIX_LR)
    try:
        history = fit_fn(net, loss_fn, optimizer, dataset, FIX_EPOCHS)
    except NameError as exc:
        fail(f"运行时出现 NameError ({exc})：函数里是否还在用全局的 model，而不是参数 net？")
    if np.allclose(_summary(dense), before):
        fail(
            "传入的 net 的权重一点没变：函数里是否还在对全局的 model 求梯度、更新？"
            "前向计算、tape.gradient 和 optimizer.apply 都要用参数 net"
        )
    if recorder.last_flag is not True:
        fail(
            f"前向计算收到的 training={recorder.last_flag!r}：不写 training=True 时 Dropout 等层"
            "按推理模式运行，应写 net(x, training=True)"
        )
    if not isinstance(history, (list, tuple)) or len(history) != FIX_EPOCHS:
        fail(f"应返回每轮一个损失的列表（{FIX_EPOCHS} 轮 → {FIX_EPOCHS} 个数）")
    losses = [_scalar(v, "每轮的损失") for v in history]
    summary = _summary(dense)
    if _close(summary, want["summary_no_losses"]):
        if _close(losses, want["history_no_losses"]):
            fail(
                "net.losses 被丢掉了：这个模型的 Dense 有 L2 正则项，它在 net.losses 里，"
                "fit() 会自动加上，手写循环要写 loss = loss_fn(y, logits) + sum(net.losses)"
            )
        fail(
            "损失里加上了 net.losses，但权重的更新里没有它：要在 with tf.GradientTape() 块里面"
            "加 sum(net.losses)，梯度带才会记录它"
        )
    if not _close(summary, want["summary"]):
        fail(
            "训练后的权重与预期不同：检查梯度是否对 net.trainable_weights 求、"
            "optimizer.apply(grads, net.trainable_weights) 每批调用一次"
        )
    if not _close(losses, want["history"]):
        if _close(losses, want["history_no_reset"]):
            fail("第 2 轮起报告的损失混入了前几轮：每轮开始时调用 loss_tracker.reset_state()")
        fail(
            f"每轮的损失应为 {np.round(want['history'], 5).tolist()}，"
            f"实际是 {np.round(losses, 5).tolist()}"
        )
    passed()


# ---------------------------------------------------------------- exercise 6.4

#: Batch sizes and learning rates of the fixed steps (Python floats, as the task says).
LR_STEPS = [(8, 0.1), (8, 0.05), (5, 0.2), (3, 0.01), (6, 0.3)]
LR_DEFAULT = 0.5  # the optimizer's own learning rate, which each step must override


def _lr_case():
    """The fixed inputs of check_lr_train_step: a call recorder before one Dense(3) with seeded
    weights, sparse cross-entropy on logits, and the batches of ``LR_STEPS``."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(606)
    recorder = _recorder_layer()
    model = keras.Sequential([keras.Input(shape=(4,)), recorder, keras.layers.Dense(3)])
    model.layers[-1].set_weights(
        [rng.normal(size=(4, 3)).astype("float32"), np.zeros(3, dtype="float32")]
    )
    recorder.reset()
    batches = []
    for n, lr in LR_STEPS:
        x = tf.constant(rng.normal(size=(n, 4)).astype("float32"))
        y = tf.constant(rng.integers(0, 3, size=n).astype("int32"))
        batches.append((x, y, lr))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return model, recorder, loss_fn, keras.optimizers.SGD(learning_rate=LR_DEFAULT), batches


#: The fixed steps' pre-update losses, the Dense weights after the first step (with the given
#: lr, and with the optimizer's own lr: first_ignored_lr), and after the last step.
LR_STORED = {
    "losses": [2.227077, 0.6972411, 1.930705, 0.4236996, 1.430719],
    "first": [
        [
            [0.3083388, 1.568259, 0.3608253],
            [1.006791, 0.7065812, 0.7395433],
            [-1.380675, 1.192322, 0.6042801],
            [-1.343846, -0.6789899, -0.3903983],
        ],
        [-0.01703599, 0.02536752, -0.008331535],
    ],
    "first_ignored_lr": [
        [
            [0.5029709, 1.355925, 0.3785271],
            [1.147996, 0.58842, 0.7165002],
            [-1.234733, 1.094929, 0.5557309],
            [-1.367615, -0.625294, -0.4203257],
        ],
        [-0.08517993, 0.1268376, -0.04165768],
    ],
    "last": [
        [
            [0.3277951, 1.400711, 0.508916],
            [1.000083, 0.7128257, 0.740007],
            [-1.307916, 1.156623, 0.5672206],
            [-1.341868, -0.6592414, -0.4121244],
        ],
        [-0.1183324, 0.1079402, 0.01039223],
    ],
}


def check_lr_train_step(make_step_fn) -> None:
    """Exercise 6.4: a compiled step that uses the given ``lr`` and traces at most twice."""
    model, recorder, loss_fn, optimizer, batches = _lr_case()
    want = LR_STORED
    step = make_step_fn(model, loss_fn, optimizer)
    if step is None or not callable(step):
        fail("make_lr_train_step 应返回一个函数 step(x, y, lr)：是否忘了 return？")
    dense = model.layers[-1]
    for i, (x, y, lr) in enumerate(batches):
        eager_before = recorder.eager_calls
        got = _scalar(step(x, y, lr), "step 的返回值")
        if recorder.eager_calls > eager_before:
            fail("模型在即时执行 (eager) 模式下运行：训练步需要用 @tf.function 编译")
        if recorder.graph_flag is not True:
            fail(f"前向计算收到的 training={recorder.graph_flag!r}：应写 model(x, training=True)")
        after = [np.asarray(dense.kernel), np.asarray(dense.bias)]
        ignored = i == 0 and all(_close(a, e) for a, e in zip(after, want["first_ignored_lr"]))
        if ignored:
            fail(
                "权重按优化器原来的学习率更新，没有用传入的 lr："
                "在图里 optimizer.learning_rate.assign(lr)"
            )
        if not _close(got, want["losses"][i], 1e-5):
            fail(f"第 {i + 1} 步返回的损失不对：应返回在梯度带里算出的、更新前的损失")
        if i == 0 and not all(_close(a, e) for a, e in zip(after, want["first"])):
            fail("第 1 步之后的权重不对：检查 tape.gradient 和 optimizer.apply 的参数")
    if not all(_close(a, e) for a, e in zip([dense.kernel, dense.bias], want["last"])):
        fail(f"第 {len(batches)} 步之后的权重不对：检查 tape.gradient 和 optimizer.apply 的参数")
    if recorder.traces > 2:
        fail(
            f"计算图被追踪了 {recorder.traces} 次（最多 2 次）：作为 Python float 传入的 lr 每个新值"
            "都会触发重新追踪，批大小变化也会；把 lr 转成张量 (tf.constant) 并使用 "
            "reduce_retracing=True 或 input_signature"
        )
    passed()


# ---------------------------------------------------------------- exercise 6.5

#: The fixed cases of check_accumulated_fit: (samples, batch size, accum_steps, epochs).
ACCUMULATE_CASES = [(10, 4, 2, 2), (9, 2, 3, 1)]
ACCUMULATE_LR = 0.1


def _accumulate_case(n_samples: int):
    """A call recorder before one Dense(2) with seeded weights, and seeded (x, y) for MSE."""
    import keras

    rng = np.random.default_rng(64 + n_samples)
    recorder = _recorder_layer()
    model = keras.Sequential([keras.Input(shape=(3,)), recorder, keras.layers.Dense(2)])
    w0 = rng.normal(size=(3, 2)).astype("float32")
    b0 = rng.normal(size=2).astype("float32")
    model.layers[-1].set_weights([w0, b0])
    recorder.reset()
    x = rng.normal(size=(n_samples, 3)).astype("float32")
    y = rng.normal(size=(n_samples, 2)).astype("float32")
    return model, recorder, x, y


#: Per fixed case (same order as ACCUMULATE_CASES): the right epoch losses, kernel, bias and
#: number of optimizer updates; the updates of a loop that applies every batch ("each") or
#: drops the epoch's leftover ("no_flush"); the kernel and bias with summed instead of averaged
#: gradients ("sum"); and the plain mean of batch losses ("unweighted").
ACCUMULATE_STORED = [
    {
        "losses": [1.942713, 1.763142],
        "kernel": [[0.1601865, 0.2464939], [0.779637, -0.1506013], [-0.7332188, -0.105566]],
        "bias": [0.3699561, 0.218822],
        "applies": 4,
        "applies_each": 6,
        "applies_no_flush": 2,
        "kernel_sum": [[0.06175216, 0.2435448], [0.7828883, -0.1064341], [-0.7660628, 0.08800453]],
        "bias_sum": [0.3625927, 0.1972088],
        "losses_unweighted": [1.94671, 1.741171],
    },
    {
        "losses": [6.409558],
        "kernel": [[-0.8153811, 0.7100542], [-0.3080569, 0.1257111], [0.2754924, -1.37072]],
        "bias": [0.2588541, -0.6978631],
        "applies": 2,
        "applies_each": 5,
        "applies_no_flush": 1,
        "kernel_sum": [[-0.455741, 0.5148977], [-0.2005342, -0.2907157], [0.1413534, -0.5312853]],
        "bias_sum": [0.02816525, -0.3798231],
        "losses_unweighted": [6.042151],
    },
]


def check_accumulated_fit(fit_fn) -> None:
    """Exercise 6.5: averaged accumulated gradients, a flush at epoch end, sample-weighted loss."""
    import keras
    import tensorflow as tf

    for (n_samples, batch_size, accum_steps, epochs), want in zip(
        ACCUMULATE_CASES, ACCUMULATE_STORED
    ):
        model, recorder, x, y = _accumulate_case(n_samples)
        optimizer = keras.optimizers.SGD(learning_rate=ACCUMULATE_LR)
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        history = fit_fn(
            model, keras.losses.MeanSquaredError(), optimizer, dataset, epochs, accum_steps
        )
        if not isinstance(history, dict) or "loss" not in history:
            fail('fit_accumulated 应返回字典 {"loss": [...]}')
        losses = [_scalar(v, "history['loss'] 的元素") for v in history["loss"]]
        if len(losses) != epochs:
            fail(f'history["loss"] 应有 {epochs} 个值（每轮一个），实际有 {len(losses)} 个')
        applies, applies_ok = int(np.asarray(optimizer.iterations)), want["applies"]
        if applies != applies_ok:
            if applies == 0:
                fail(
                    "优化器一次也没有被调用：请用 optimizer.apply(平均梯度, model.trainable_weights)"
                )
            if applies == want["applies_each"]:
                fail(
                    f"优化器被调用了 {applies} 次（每个批次一次），应为 {applies_ok} 次："
                    f"每累积 {accum_steps} 个批次才更新一次"
                )
            if applies == want["applies_no_flush"]:
                fail(
                    f"优化器被调用了 {applies} 次，应为 {applies_ok} 次：一轮结束时剩下的"
                    "不足 accum_steps 个批次的梯度也要更新一次"
                )
            fail(f"优化器被调用了 {applies} 次，应为 {applies_ok} 次")
        if recorder.last_flag is not True:
            fail(f"前向计算收到的 training={recorder.last_flag!r}：应写 model(x, training=True)")
        w, b = np.asarray(model.layers[-1].kernel), np.asarray(model.layers[-1].bias)
        if not (_close(w, want["kernel"]) and _close(b, want["bias"])):
            if _close(w, want["kernel_sum"]) and _close(b, want["bias_sum"]):
                fail("累积的梯度被直接相加后更新：应除以实际累积的批次数，用平均梯度更新")
            fail("训练后的权重与预期不同：检查累积、平均和清空累积梯度的时机（累积不跨轮）")
        if not _close(losses, want["losses"]):
            if _close(losses, want["losses_unweighted"]):
                fail(
                    "每轮的 loss 是各批损失的简单平均：最后一批较小，应按样本数加权，"
                    "例如 Mean().update_state(loss, sample_weight=批大小)"
                )
            fail(
                f'history["loss"] 应为 {np.round(want["losses"], 5).tolist()}，'
                f"实际是 {np.round(losses, 5).tolist()}"
            )
    passed()
