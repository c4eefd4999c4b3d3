"""Checks for chapter 07 exercises (overriding ``train_step`` / ``test_step``).

Each check builds its own small model from the student's ``keras.Model`` subclass, runs
``fit()`` or ``evaluate()`` on tiny deterministic data, computes the expected numbers
independently (its own ``GradientTape``, fresh optimizers or NumPy), compares plain data and
raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the likely
mistake: ``sample_weight`` dropped, ``training=True`` at evaluation, clipping each tensor instead
of the global norm, trackers never reset, a Keras 2 idiom (``compiled_loss``,
``optimizer.minimize``) that no longer exists, ...
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import all_close, fail, passed

__all__ = [
    "check_weighted_test_step",
    "check_clipnorm_train_step",
    "check_penalty_trackers",
    "check_two_speed_step",
]


def _close(a, b, tol: float = 1e-4) -> bool:
    return all_close(a, b, atol=tol)


def _loss_object(loss: str):
    """A fresh Keras loss object for ``"mse"``, ``"mae"`` or ``"huber"``."""
    import keras

    table = {
        "mse": keras.losses.MeanSquaredError,
        "mae": keras.losses.MeanAbsoluteError,
        "huber": keras.losses.Huber,
    }
    return table[loss]()


def _keras2_hint(exc: Exception) -> None:
    """Turn the AttributeError of a Keras 2 idiom into a message naming it, else re-raise."""
    text = str(exc)
    for name, advice in [
        ("compiled_loss", "改用 self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)"),
        ("compiled_metrics", "遍历 self.metrics 调用 update_state，或用 self.compute_metrics(...)"),
        ("minimize", "在 GradientTape 里算损失，再 self.optimizer.apply(grads, variables)"),
        ("reset_states", "方法名是单数的 reset_state()"),
    ]:
        if name in text:
            fail(f"用了 Keras 2 的写法 {name}，Keras 3 里已经没有了：{advice}")
    raise exc


def _run(fn, what: str):
    """Run ``fn()``; name a missing override or a Keras 2 idiom instead of a bare traceback."""
    try:
        return fn()
    except NotImplementedError:
        fail(f"{what} 还没有实现（仍然是 raise NotImplementedError()）")
    except AttributeError as exc:
        _keras2_hint(exc)
    except ValueError as exc:
        if "No loss to compute" in str(exc):
            fail(f"{what} 走到了默认实现里的 compute_loss：是否忘了重写它（注意方法名拼写）？")
        if "values to unpack" in str(exc):
            fail(
                "拆包 data 失败：带 sample_weight 时 data 是 (x, y, sample_weight) 三元组，"
                "用 x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)"
            )
        raise
    raise AssertionError("unreachable")


def _logs(logs, keys, what: str) -> dict:
    """Plain floats for ``keys`` from a logs / history dict, or fail naming what is missing."""
    if not isinstance(logs, dict):
        fail(f"{what} 应是字典，实际是 {type(logs).__name__}：train_step/test_step 要返回字典")
    missing = [k for k in keys if k not in logs]
    if missing:
        fail(
            f"{what} 缺少 {missing}（实际键 {sorted(logs)}）："
            "返回 {m.name: m.result() for m in self.metrics}，并按名字更新每个指标"
        )
    return {k: np.asarray(logs[k], dtype="float64") for k in keys}


def _set_random_weights(model, rng, scale: float = 1.0) -> None:
    model.set_weights(
        [scale * rng.normal(size=w.shape).astype("float32") for w in model.get_weights()]
    )


# ---------------------------------------------------------------- exercise 7.1


def check_weighted_test_step(
    model_class, loss: str = "mse", seed: int = 71, batch_size: int = 4
) -> bool:
    """Exercise 7.1: ``test_step`` with ``training=False``, compiled loss and sample weights."""
    import keras

    rng = np.random.default_rng(seed)
    n = 3 * batch_size
    inputs = keras.Input(shape=(3,))
    hidden = keras.layers.Dropout(0.5, seed=seed)(inputs)
    model = model_class(inputs, keras.layers.Dense(2)(hidden))
    if not isinstance(model, keras.Model):
        fail("WeightedEvalModel 应继承 keras.Model")
    _set_random_weights(model, rng)
    loss_ref = _loss_object(loss)
    model.compile(
        optimizer="sgd",
        loss=_loss_object(loss),
        weighted_metrics=[keras.metrics.MeanAbsoluteError(name="mae")],
    )
    x = rng.normal(size=(n, 3)).astype("float32")
    y = rng.normal(size=(n, 2)).astype("float32")
    w = rng.uniform(0.0, 3.0, size=n).astype("float32")
    pred = np.asarray(model(x, training=False))
    want_loss = float(loss_ref(y, pred, sample_weight=w))
    plain_loss = float(loss_ref(y, pred))
    mae = keras.metrics.MeanAbsoluteError()
    mae.update_state(y, pred, sample_weight=w)
    want_mae = float(mae.result())
    plain_mae = float(np.mean(np.abs(y - pred)))

    logs = _run(
        lambda: model.evaluate(
            x, y, sample_weight=w, batch_size=batch_size, verbose=0, return_dict=True
        ),
        "test_step",
    )
    got = _logs(logs, ["loss", "mae"], "evaluate 的结果")
    again = _logs(
        model.evaluate(x, y, sample_weight=w, batch_size=batch_size, verbose=0, return_dict=True),
        ["loss", "mae"],
        "第二次 evaluate 的结果",
    )
    if not (_close(got["loss"], again["loss"], 1e-6) and _close(got["mae"], again["mae"], 1e-6)):
        fail(
            "同一份数据评估两次结果不同：前向计算应写 self(x, training=False)，Dropout 在评估时要关闭"
        )
    if not _close(got["loss"], want_loss):
        pred_mean = keras.metrics.Mean()
        pred_mean.update_state(pred, sample_weight=w)
        if _close(got["loss"], float(pred_mean.result())):
            fail(
                "loss 变成了预测值的平均：Keras 2 的 self.compiled_metrics.update_state(...) 在 Keras 3 "
                "里只是个过渡用的替身，会把名为 loss 的 Mean 指标当成普通指标更新。"
                "遍历 self.metrics：名为 loss 的更新 loss，其余的更新 (y, y_pred, sample_weight)"
            )
        if _close(got["loss"], plain_loss):
            fail(
                "loss 没有按样本权重加权：用 keras.utils.unpack_x_y_sample_weight(data) 拆出 "
                "sample_weight，并传给 self.compute_loss(..., sample_weight=sample_weight)"
            )
        fail(
            f"loss 应为 {want_loss:.5f}，实际是 {float(got['loss']):.5f}：用 self.compute_loss 计算"
            "编译时指定的损失（不要自己写死某个损失函数），并用 training=False"
        )
    if not _close(got["mae"], want_mae):
        if _close(got["mae"], plain_mae):
            fail(
                "mae 没有按样本权重加权：更新其余指标时写 m.update_state(y, y_pred, sample_weight=sample_weight)"
            )
        fail(
            f"mae 应为 {want_mae:.5f}，实际是 {float(got['mae']):.5f}：检查 update_state 的参数 (y, y_pred)"
        )
    plain = _logs(
        _run(
            lambda: model.evaluate(x, y, batch_size=batch_size, verbose=0, return_dict=True),
            "test_step",
        ),
        ["loss", "mae"],
        "不带 sample_weight 的 evaluate 结果",
    )
    if not (_close(plain["loss"], plain_loss) and _close(plain["mae"], plain_mae)):
        fail(
            "不带样本权重 (data 只有 (x, y)) 时结果不对：unpack_x_y_sample_weight 会给出 sample_weight=None"
        )
    return passed()


# ---------------------------------------------------------------- exercise 7.2


def _global_clip(grads, clip_norm: float):
    norm = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in grads)))
    return [g * clip_norm / max(norm, clip_norm) for g in grads], norm


def check_clipnorm_train_step(
    model_class,
    clip_norm: float = 1.0,
    lr: float = 0.1,
    loss: str = "mse",
    seed: int = 72,
    scale: float = 2.0,
) -> bool:
    """Exercise 7.2: one ``fit()`` step with the compiled loss, sample weights, global-norm clipping."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    inputs = keras.Input(shape=(4,))
    hidden = keras.layers.Dense(3, activation="tanh")(inputs)
    model = model_class(inputs, keras.layers.Dense(2)(hidden), clip_norm=clip_norm)
    if not isinstance(model, keras.Model):
        fail("ClipNormModel 应继承 keras.Model")
    _set_random_weights(model, rng, scale)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=_loss_object(loss))
    n = 6
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (scale * rng.normal(size=(n, 2))).astype("float32")
    w = rng.uniform(0.2, 3.0, size=n).astype("float32")
    loss_ref = _loss_object(loss)
    variables = model.trainable_variables
    before = [np.asarray(v) for v in variables]

    def grads_for(weights):
        with tf.GradientTape() as tape:
            value = loss_ref(y, model(x, training=True), sample_weight=weights)
        return [np.asarray(g) for g in tape.gradient(value, variables)], float(value)

    grads, loss_before = grads_for(w)
    plain_grads, _ = grads_for(None)
    clipped, _ = _global_clip(grads, clip_norm)
    expected = [b - lr * g for b, g in zip(before, clipped)]

    history = _run(
        lambda: model.fit(x, y, sample_weight=w, batch_size=n, epochs=1, shuffle=False, verbose=0),
        "train_step",
    )
    after = [np.asarray(v) for v in variables]
    if all(np.allclose(a, b) for a, b in zip(after, before)):
        fail(
            "一步训练后权重没有变化：是否忘了 self.optimizer.apply(grads, self.trainable_variables)？"
        )
    if all(_close(a, e) for a, e in zip(after, expected)):
        logs = _logs(getattr(history, "history", None), ["loss"], "history.history")
        if not _close(logs["loss"][0], loss_before):
            fail("history 里的 loss 不对：用这一步 compute_loss 得到的损失更新名为 loss 的指标")
        return passed()

    def moved(grad_list):
        return [b - lr * g for b, g in zip(before, grad_list)]

    if all(_close(a, e) for a, e in zip(after, moved(grads))):
        fail(
            f"梯度没有被裁剪：用 tf.clip_by_global_norm(grads, self.clip_norm) 把全局范数限制在 {clip_norm}"
        )
    per_tensor = [g * clip_norm / max(float(np.linalg.norm(g)), clip_norm) for g in grads]
    if all(_close(a, e) for a, e in zip(after, moved(per_tensor))):
        fail(
            "对每个张量分别裁剪了范数 (tf.clip_by_norm)：题目要求按全部梯度的全局范数裁剪 (tf.clip_by_global_norm)"
        )
    if all(_close(a, e) for a, e in zip(after, moved(_global_clip(plain_grads, clip_norm)[0]))):
        fail("损失没有使用样本权重：sample_weight 要从 data 中拆出来并传给 self.compute_loss")
    fail(
        "更新后的权重与预期不同：检查损失（用 self.compute_loss）、梯度裁剪的阈值 self.clip_norm 和优化器调用"
    )
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- exercise 7.3


def _simulate_penalty(kernel, bias, x, y, beta, lr, batch_size, epochs):
    """NumPy reference for exercise 7.3: per-batch (loss, mse, penalty) with plain SGD."""
    kernel, bias = kernel.astype("float64"), bias.astype("float64")
    per_epoch = []
    for _ in range(epochs):
        rows = []
        for s in range(0, len(x), batch_size):
            xb, yb = (
                x[s : s + batch_size].astype("float64"),
                y[s : s + batch_size].astype("float64"),
            )
            pred = xb @ kernel + bias
            err = pred - yb
            mse, pen = float(np.mean(err**2)), beta * float(np.mean(pred**2))
            rows.append((mse + pen, mse, pen))
            d = (2 * err + beta * 2 * pred) / err.size
            kernel, bias = kernel - lr * xb.T @ d, bias - lr * d.sum(axis=0)
        per_epoch.append(np.array(rows))
    return kernel, bias, per_epoch


def check_penalty_trackers(
    model_class,
    beta: float = 0.5,
    lr: float = 0.05,
    seed: int = 73,
    n: int = 8,
    batch_size: int = 4,
) -> bool:
    """Exercise 7.3: loss / mse / penalty trackers, reset every epoch, listed in ``metrics``."""
    import keras

    rng = np.random.default_rng(seed)
    inputs = keras.Input(shape=(3,))
    model = model_class(inputs, keras.layers.Dense(1)(inputs), beta=beta)
    if not isinstance(model, keras.Model):
        fail("PenalizedRegressor 应继承 keras.Model")
    kernel = rng.normal(size=(3, 1)).astype("float32")
    bias = np.array([0.5], dtype="float32")
    model.set_weights([kernel, bias])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr))
    x = rng.normal(size=(n, 3)).astype("float32")
    y = rng.normal(size=(n, 1)).astype("float32")
    keys = ["loss", "mse", "penalty"]
    history = _run(
        lambda: model.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0),
        "train_step",
    )
    logs = _logs(getattr(history, "history", None), keys, "history.history")
    extra = sorted(set(history.history) - set(keys))
    if extra:
        fail(f"history 里多了 {extra}：metrics 属性只列出自己的三个追踪器，train_step 也只返回它们")
    k_end, b_end, per_epoch = _simulate_penalty(kernel, bias, x, y, beta, lr, batch_size, 2)
    want = np.stack([rows.mean(axis=0) for rows in per_epoch])  # (epoch, key)
    got = np.stack([logs[k] for k in keys], axis=1)
    if got.shape != want.shape:
        fail(f"history 每个键应有 2 个值（每轮一个），实际形状 {got.shape}")
    if not _close(got[0], want[0]):
        if _close(got[0], per_epoch[0][-1]):
            fail("每轮报告的是最后一个批次的值：返回追踪器的 result()，不要返回这一批的张量")
        if _close(got[0][1], want[0][1]) and not _close(got[0][2], want[0][2]):
            fail("penalty 不对：penalty = beta * mean(y_pred ** 2)，用构造参数 beta，不要写死")
        fail(
            f"第 1 轮的 (loss, mse, penalty) 应为 {np.round(want[0], 5).tolist()}，"
            f"实际是 {np.round(got[0], 5).tolist()}：检查公式、beta 和梯度（对 loss 求导）"
        )
    if not _close(got[1], want[1]):
        cumulative = np.concatenate(per_epoch).mean(axis=0)
        if _close(got[1], cumulative):
            fail(
                "第 2 轮的数值包含了第 1 轮的数据：追踪器没有在每轮开始时重置。"
                "把它们列在 metrics 属性里，fit() 才会每轮调用 reset_state()"
            )
        fail(
            f"第 2 轮的 (loss, mse, penalty) 应为 {np.round(want[1], 5).tolist()}，实际是 {np.round(got[1], 5).tolist()}"
        )
    names = [getattr(m, "name", None) for m in model.metrics]
    if names != keys or not all(isinstance(m, keras.metrics.Mean) for m in model.metrics):
        fail(
            f"model.metrics 应正好是三个 Mean 追踪器 {keys}（按这个顺序），实际是 {names}：重写 metrics 属性"
        )
    x_val = rng.normal(size=(2 * batch_size, 3)).astype("float32")
    y_val = rng.normal(size=(2 * batch_size, 1)).astype("float32")
    val = _logs(
        _run(
            lambda: model.evaluate(
                x_val, y_val, batch_size=batch_size, verbose=0, return_dict=True
            ),
            "test_step",
        ),
        keys,
        "evaluate 的结果",
    )
    pred = x_val.astype("float64") @ k_end + b_end
    mse, pen = float(np.mean((pred - y_val) ** 2)), beta * float(np.mean(pred**2))
    if not _close([val[k] for k in keys], [mse + pen, mse, pen]):
        fail(
            "evaluate() 的结果不对：test_step 用 training=False 计算同样的三个量，只更新追踪器，不更新权重"
        )
    return passed()


# ---------------------------------------------------------------- exercise 7.4


def check_two_speed_step(
    model_class,
    base_lr: float = 0.01,
    head_lr: float = 0.2,
    momentum: float = 0.0,
    loss: str = "mse",
    seed: int = 74,
    steps: int = 2,
) -> bool:
    """Exercise 7.4: base layers updated by ``base_optimizer``, head by the compiled optimizer."""
    import keras
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def parts():
        base = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(5, activation="tanh")])
        head = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(2)])
        return base, head

    base, head = parts()
    _set_random_weights(base, rng)
    _set_random_weights(head, rng)
    ref_base, ref_head = parts()
    ref_base.set_weights(base.get_weights())
    ref_head.set_weights(head.get_weights())
    base_opt = keras.optimizers.SGD(learning_rate=base_lr)
    model = model_class(base, head, base_opt)
    if not isinstance(model, keras.Model):
        fail("TwoSpeedModel 应继承 keras.Model")
    head_opt = keras.optimizers.SGD(learning_rate=head_lr, momentum=momentum)
    model.compile(
        optimizer=head_opt,
        loss=_loss_object(loss),
        weighted_metrics=[keras.metrics.MeanAbsoluteError(name="mae")],
    )
    batch = 5
    x = rng.normal(size=(steps * batch, 4)).astype("float32")
    y = rng.normal(size=(steps * batch, 2)).astype("float32")
    w = rng.uniform(0.2, 3.0, size=steps * batch).astype("float32")

    def reference(weighted: bool, base_rate: float, head_rate: float):
        b, h = parts()
        b.set_weights(ref_base.get_weights())
        h.set_weights(ref_head.get_weights())
        ob = keras.optimizers.SGD(learning_rate=base_rate)
        oh = keras.optimizers.SGD(learning_rate=head_rate, momentum=momentum)
        loss_ref, losses, maes = _loss_object(loss), [], []
        for s in range(0, steps * batch, batch):
            xb, yb, wb = x[s : s + batch], y[s : s + batch], w[s : s + batch]
            with tf.GradientTape() as tape:
                pred = h(b(xb, training=True), training=True)
                value = loss_ref(yb, pred, sample_weight=wb if weighted else None)
            gb, gh = tape.gradient(value, [b.trainable_variables, h.trainable_variables])
            ob.apply(gb, b.trainable_variables)
            oh.apply(gh, h.trainable_variables)
            losses.append(float(value))
            maes.append((np.abs(yb - np.asarray(pred)).mean(axis=1), wb))
        mae = sum(float(np.dot(m, wt)) for m, wt in maes) / float(np.sum(w))
        return (
            [np.asarray(v) for v in b.weights],
            [np.asarray(v) for v in h.weights],
            float(np.mean(losses)),
            mae,
        )

    history = _run(
        lambda: model.fit(
            x, y, sample_weight=w, batch_size=batch, epochs=1, shuffle=False, verbose=0
        ),
        "train_step",
    )
    base_steps, head_steps = (
        int(np.asarray(base_opt.iterations)),
        int(np.asarray(head_opt.iterations)),
    )
    if base_steps == 0:
        fail(
            "base_optimizer 一次也没有被调用：底座 (base) 的梯度要交给 self.base_optimizer.apply(...)"
        )
    if head_steps == 0:
        fail("编译时的优化器一次也没有被调用：头部 (head) 的梯度要交给 self.optimizer.apply(...)")
    if base_steps != steps or head_steps != steps:
        fail(
            f"{steps} 个批次后两个优化器各应更新 {steps} 次，实际 base {base_steps} 次、head {head_steps} 次"
        )
    got_b = [np.asarray(v) for v in base.weights]
    got_h = [np.asarray(v) for v in head.weights]
    want_b, want_h, want_loss, want_mae = reference(True, base_lr, head_lr)
    if not all(_close(g, e) for g, e in zip(got_b + got_h, want_b + want_h)):
        swapped = reference(True, head_lr, base_lr)
        if all(_close(g, e) for g, e in zip(got_b + got_h, swapped[0] + swapped[1])):
            fail(
                "学习率用反了：底座应由 base_optimizer（小学习率）更新，头部由 self.optimizer 更新"
            )
        plain = reference(False, base_lr, head_lr)
        if all(_close(g, e) for g, e in zip(got_b + got_h, plain[0] + plain[1])):
            fail("损失没有使用样本权重：拆出 sample_weight 并传给 self.compute_loss")
        fail(
            "更新后的权重与预期不同：在同一个 GradientTape 里算一次损失，分别对底座和头部的 "
            "trainable_variables 求梯度，每个优化器只更新自己那一部分"
        )
    logs = _logs(getattr(history, "history", None), ["loss", "mae"], "history.history")
    if not _close(logs["loss"][0], want_loss):
        fail(
            f"history 的 loss 应为 {want_loss:.5f}，实际是 {float(logs['loss'][0]):.5f}：用 compute_loss 的结果更新 loss 指标"
        )
    if not _close(logs["mae"][0], want_mae):
        fail(
            "history 的 mae 不对：其余指标用 m.update_state(y, y_pred, sample_weight=sample_weight) 更新"
        )
    return passed()
