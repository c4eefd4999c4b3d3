"""Checks for chapter 06 exercises (training loops from scratch).

Each check runs the student's function on inputs it is given (or builds itself), computes the
expected result independently (its own ``GradientTape`` or NumPy), compares plain data, and
raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the likely
mistake: a metric never reset, ``training`` left at the wrong value, ``model.trainable_weights``
updated instead of the chosen layers, retracing on Python floats, gradients summed instead of
averaged, ...
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import all_close, fail, passed, to_numpy

__all__ = [
    "check_evaluate_loop",
    "check_subset_step",
    "check_lr_train_step",
    "check_accumulated_fit",
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


def check_evaluate_loop(evaluate_fn, model, dataset, metric) -> bool:
    """Exercise 6.1: reset first, ``training=False``, one metric over the whole dataset, a float."""
    import keras

    def fresh():
        return type(metric).from_config(metric.get_config())

    def over(pairs):
        m = fresh()
        for y, y_pred in pairs:
            m.update_state(y, y_pred)
        return float(m.result())

    preds = [(y, model(x, training=False)) for x, y in dataset]
    if len(preds) < 2:
        fail("检查需要至少两个批次的数据集")
    expected = over(preds)
    no_reset = over(preds[:1] + preds)
    batch_mean = float(np.mean([over([p]) for p in preds]))
    if not isinstance(metric, keras.metrics.Metric):
        fail("metric 参数应是 Keras 指标对象")
    evaluate_fn(model, dataset.take(1), metric)  # leaves state behind in the metric
    first = _python_float(evaluate_fn(model, dataset, metric), "evaluate_loop 的返回值")
    if not _close(first, expected, 1e-5):
        if _close(first, no_reset, 1e-5) and not _close(no_reset, expected, 1e-5):
            fail("结果里混入了上一次调用留下的数据：是否忘了在开始时调用 metric.reset_state()？")
        if _close(first, batch_mean, 1e-5) and not _close(batch_mean, expected, 1e-5):
            fail(
                "结果等于“每批结果的平均”：最后一批较小时这不等于整份数据的指标。"
                "对每批调用 update_state，最后只调用一次 result()，不要再按批平均"
            )
        fail(
            f"结果应为 {expected:.4f}，实际是 {first:.4f}：是否忘了 model(x, training=False)"
            "（Dropout 仍在随机丢弃）？或者没有用传入的 metric？"
        )
    second = _python_float(evaluate_fn(model, dataset, metric), "第二次调用的返回值")
    if not _close(second, first, 1e-6):
        fail("连续调用两次结果不同：检查 metric.reset_state() 和 training=False")
    return passed()


# ---------------------------------------------------------------- exercise 6.2


def check_subset_step(step_fn, model, layers_to_train, loss_fn, optimizer, x, y) -> bool:
    """Exercise 6.2: ``training=True``, only the chosen layers move (plain SGD), pre-update loss."""
    import tensorflow as tf

    lr = float(np.asarray(optimizer.learning_rate))
    chosen = [w for layer in layers_to_train for w in layer.trainable_weights]
    chosen_ids = {id(w) for w in chosen}
    others = [w for w in model.trainable_weights if id(w) not in chosen_ids]
    snapshot = model.get_weights()
    loss_infer = float(loss_fn(y, model(x, training=False)))
    with tf.GradientTape() as tape:
        loss_train = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss_train, chosen)
    loss_train = float(loss_train)
    model.set_weights(snapshot)  # undo the moving statistics our own forward pass changed
    before_chosen = [np.asarray(w) for w in chosen]
    before_others = [np.asarray(w) for w in others]
    expected_chosen = [b - lr * np.asarray(g) for b, g in zip(before_chosen, grads)]

    result = step_fn(model, layers_to_train, loss_fn, optimizer, x, y)
    loss = _python_float(result, "train_subset_step 的返回值")
    for w, before in zip(others, before_others):
        if not np.allclose(np.asarray(w), before):
            fail(
                f"不该训练的权重 {w.path} 也被更新了：只对 layers_to_train 各层的 "
                "trainable_weights 求梯度和更新，不要用 model.trainable_weights"
            )
    if not _close(loss, loss_train, 1e-5):
        if _close(loss, loss_infer, 1e-5):
            fail("返回的损失是推理模式下的值：前向计算应写 model(x, training=True)")
        loss_after = float(loss_fn(y, model(x, training=True)))
        if _close(loss, loss_after, 1e-5):
            fail("返回的是更新之后的损失：应返回在磁带里算出的、更新前的那个损失")
        fail(
            f"返回的损失应为 {loss_train:.5f}，实际是 {loss:.5f}：检查损失函数的参数顺序 (y, y_pred)"
        )
    if all(np.allclose(np.asarray(w), b) for w, b in zip(chosen, before_chosen)):
        fail("指定层的权重没有变化：是否忘了 optimizer.apply(grads, variables)？")
    for w, expected in zip(chosen, expected_chosen):
        if not _close(np.asarray(w), expected, 1e-4):
            fail(
                f"{w.path} 的更新量不对：梯度要对“损失”求、和变量一一对应 "
                "(apply(grads, variables) 或 apply_gradients(zip(grads, variables)))，"
                "并且只更新一次"
            )
    return passed()


# ---------------------------------------------------------------- exercise 6.3


def check_lr_train_step(make_step_fn, batch_sizes=(8, 8, 5, 3, 6)) -> bool:
    """Exercise 6.3: a compiled step that uses the given ``lr`` and traces at most twice."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(606)
    recorder = _recorder_layer()
    model = keras.Sequential([keras.Input(shape=(4,)), recorder, keras.layers.Dense(3)])
    model.layers[-1].set_weights(
        [rng.normal(size=(4, 3)).astype("float32"), np.zeros(3, dtype="float32")]
    )
    recorder.reset()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    default_lr = 0.5
    step = make_step_fn(model, loss_fn, keras.optimizers.SGD(learning_rate=default_lr))
    if step is None or not callable(step):
        fail("make_lr_train_step 应返回一个函数 step(x, y, lr)：是否忘了 return？")
    lrs = [0.1, 0.05, 0.2, 0.01, 0.3, 0.15, 0.07]
    for i, n in enumerate(batch_sizes):
        lr = lrs[i % len(lrs)]
        x = tf.constant(rng.normal(size=(n, 4)).astype("float32"))
        y = tf.constant(rng.integers(0, 3, size=n).astype("int32"))
        with tf.GradientTape() as tape:
            expected_loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(expected_loss, model.trainable_weights)
        before = [np.asarray(w) for w in model.trainable_weights]
        eager_before = recorder.eager_calls
        got = _scalar(step(x, y, lr), "step 的返回值")
        if recorder.eager_calls > eager_before:
            fail("模型在即时执行 (eager) 模式下运行：训练步需要用 @tf.function 编译")
        if recorder.graph_flag is not True:
            fail(f"前向计算收到的 training={recorder.graph_flag!r}：应写 model(x, training=True)")
        if not _close(got, float(expected_loss), 1e-5):
            fail(f"第 {i + 1} 步返回的损失不对：应返回在磁带里算出的、更新前的损失")
        after = [np.asarray(w) for w in model.trainable_weights]
        wanted = [b - lr * np.asarray(g) for b, g in zip(before, grads)]
        if all(_close(a, e) for a, e in zip(after, wanted)):
            continue
        ignored = [b - default_lr * np.asarray(g) for b, g in zip(before, grads)]
        if all(_close(a, e) for a, e in zip(after, ignored)):
            fail(
                "权重按优化器原来的学习率更新，没有用传入的 lr：在图里 optimizer.learning_rate.assign(lr)"
            )
        fail(f"第 {i + 1} 步之后的权重不对：检查 tape.gradient 和 optimizer.apply 的参数")
    if recorder.traces > 2:
        fail(
            f"计算图被追踪了 {recorder.traces} 次（最多 2 次）：作为 Python float 传入的 lr 每个新值"
            "都会触发重新追踪，批大小变化也会；把 lr 转成张量 (tf.constant) 并使用 "
            "reduce_retracing=True 或 input_signature"
        )
    return passed()


# ---------------------------------------------------------------- exercise 6.4


def _simulate_accumulation(w, b, x, y, batch_size, accum_steps, epochs, lr, mode="correct"):
    """NumPy reference for exercise 6.4 (linear model, MSE, plain SGD) and its usual mistakes.

    ``mode``: ``"correct"``, ``"each"`` (update every batch), ``"no_flush"`` (leftover batches
    at the end of an epoch dropped), ``"sum"`` (summed instead of averaged gradients),
    ``"unweighted"`` (epoch loss = plain mean of batch losses).
    Returns ``(w, b, epoch_losses, number_of_updates)``.
    """
    w, b = np.array(w, dtype="float64"), np.array(b, dtype="float64")
    n, losses, applies = len(x), [], 0
    k = 1 if mode == "each" else accum_steps
    starts = list(range(0, n, batch_size))
    for _ in range(epochs):
        batch_losses, sizes, acc = [], [], []
        for i, s in enumerate(starts):
            xb, yb = x[s : s + batch_size], y[s : s + batch_size]
            err = xb @ w + b - yb
            d = 2 * err / err.size
            acc.append((xb.T @ d, d.sum(axis=0)))
            batch_losses.append(float(np.mean(err**2)))
            sizes.append(len(xb))
            last = i == len(starts) - 1
            if len(acc) == k or (last and mode != "no_flush"):
                div = 1 if mode == "sum" else len(acc)
                w = w - lr * sum(g for g, _ in acc) / div
                b = b - lr * sum(g for _, g in acc) / div
                applies += 1
            if len(acc) == k or last:
                acc = []
        if mode == "unweighted":
            losses.append(float(np.mean(batch_losses)))
        else:
            losses.append(float(np.dot(batch_losses, sizes) / sum(sizes)))
    return w, b, losses, applies


def check_accumulated_fit(
    fit_fn, n_samples: int = 10, batch_size: int = 4, accum_steps: int = 2, epochs: int = 2
) -> bool:
    """Exercise 6.4: averaged accumulated gradients, a flush at epoch end, sample-weighted loss."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(64 + n_samples)
    recorder = _recorder_layer()
    model = keras.Sequential([keras.Input(shape=(3,)), recorder, keras.layers.Dense(2)])
    w0 = rng.normal(size=(3, 2)).astype("float32")
    b0 = rng.normal(size=2).astype("float32")
    model.layers[-1].set_weights([w0, b0])
    recorder.reset()
    x = rng.normal(size=(n_samples, 3)).astype("float32")
    y = rng.normal(size=(n_samples, 2)).astype("float32")
    lr = 0.1
    optimizer = keras.optimizers.SGD(learning_rate=lr)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    history = fit_fn(
        model, keras.losses.MeanSquaredError(), optimizer, dataset, epochs, accum_steps
    )

    def sim(mode):
        return _simulate_accumulation(w0, b0, x, y, batch_size, accum_steps, epochs, lr, mode)

    w_ok, b_ok, losses_ok, applies_ok = sim("correct")
    if not isinstance(history, dict) or "loss" not in history:
        fail('fit_accumulated 应返回字典 {"loss": [...]}')
    losses = [_scalar(v, "history['loss'] 的元素") for v in history["loss"]]
    if len(losses) != epochs:
        fail(f'history["loss"] 应有 {epochs} 个值（每轮一个），实际有 {len(losses)} 个')
    applies = int(np.asarray(optimizer.iterations))
    if applies != applies_ok:
        if applies == 0:
            fail("优化器一次也没有被调用：请用 optimizer.apply(平均梯度, model.trainable_weights)")
        if applies == sim("each")[3]:
            fail(
                f"优化器被调用了 {applies} 次（每个批次一次），应为 {applies_ok} 次："
                f"每累积 {accum_steps} 个批次才更新一次"
            )
        if applies == sim("no_flush")[3]:
            fail(
                f"优化器被调用了 {applies} 次，应为 {applies_ok} 次：一轮结束时剩下的"
                "不足 accum_steps 个批次的梯度也要更新一次"
            )
        fail(f"优化器被调用了 {applies} 次，应为 {applies_ok} 次")
    if recorder.last_flag is not True:
        fail(f"前向计算收到的 training={recorder.last_flag!r}：应写 model(x, training=True)")
    w, b = np.asarray(model.layers[-1].kernel), np.asarray(model.layers[-1].bias)
    if not (_close(w, w_ok) and _close(b, b_ok)):
        w_sum, b_sum = sim("sum")[:2]
        if _close(w, w_sum) and _close(b, b_sum):
            fail("累积的梯度被直接相加后更新：应除以实际累积的批次数，用平均梯度更新")
        fail("训练后的权重与预期不同：检查累积、平均和清空累积梯度的时机（累积不跨轮）")
    if not _close(losses, losses_ok):
        if _close(losses, sim("unweighted")[2]):
            fail(
                "每轮的 loss 是各批损失的简单平均：最后一批较小，应按样本数加权，"
                "例如 Mean().update_state(loss, sample_weight=批大小)"
            )
        fail(
            f'history["loss"] 应为 {np.round(losses_ok, 5).tolist()}，实际是 {np.round(losses, 5).tolist()}'
        )
    return passed()
