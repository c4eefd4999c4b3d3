"""Checks for chapter 07 exercises (overriding ``train_step`` / ``test_step``).

Each check builds one small model from the student's ``keras.Model`` subclass on FIXED inputs
(fixed seeds, weights and data), runs ``fit()`` or ``evaluate()``, and compares the plain
numbers with values stored in this module (computed once from the reference answers). A
mismatch raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the
likely mistake: ``sample_weight`` dropped, ``training=True`` at evaluation, clipping each tensor
instead of the global norm, trackers never reset, a Keras 2 idiom (``compiled_loss``,
``optimizer.minimize``) that no longer exists, ... The module computes no expected value: the
hidden tests of the notebook judge other inputs against their own reference.
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

# Stored results of the reference answers on the visible inputs below (float32 runs, rounded).
# Entries other than the first of each exercise are what a typical mistake gives on the same
# inputs, so the checks can name it.
_STORED: dict = {
    "7.1": {
        "loss": 4.8534126,
        "mae": 1.4226987,
        "plain_loss": 2.424423,
        "plain_mae": 1.2895879,
        "prediction_mean": -0.5866131,
    },
    "7.2": {
        "after": [
            -2.0032151,
            -0.0369183,
            1.1392112,
            -3.3611913,
            -2.8256316,
            -1.9031019,
            2.0254452,
            2.2028208,
            0.6814757,
            0.8904114,
            -1.2066051,
            -2.3592458,
            0.9573264,
            1.4867326,
            -0.1985732,
            -3.9193482,
            0.5084714,
            0.2779041,
            -1.5280486,
            1.5934337,
            2.8675606,
            1.6628803,
            0.2532602,
        ],
        "loss": 13.1090879,
        "unclipped": [
            -1.9753044,
            0.1228623,
            0.8779379,
            -3.2558277,
            -3.0797918,
            -1.8035035,
            2.1868095,
            2.0186095,
            1.0058059,
            0.8383127,
            -1.168465,
            -2.4326441,
            0.989838,
            1.3229322,
            -0.3771138,
            -3.6195877,
            0.4323751,
            0.5329367,
            -1.5367229,
            1.7375301,
            2.7096667,
            1.4673728,
            0.2567222,
        ],
        "per_tensor": [
            -2.0019674,
            -0.029775,
            1.1275303,
            -3.3564806,
            -2.8369942,
            -1.8986491,
            2.0326593,
            2.1945853,
            0.6959755,
            0.8880822,
            -1.2048999,
            -2.3625271,
            0.9666215,
            1.4399018,
            -0.2496183,
            -3.8902922,
            0.5010952,
            0.3026247,
            -1.5288894,
            1.6074013,
            2.8522558,
            1.5869728,
            0.2546043,
        ],
        "unweighted": [
            -2.0063081,
            -0.0439999,
            1.1221668,
            -3.3657134,
            -2.8121302,
            -1.8950529,
            2.0146403,
            2.2114649,
            0.6932131,
            0.8943475,
            -1.208133,
            -2.367559,
            0.9581073,
            1.4968776,
            -0.205203,
            -3.9262807,
            0.517413,
            0.2726148,
            -1.5241097,
            1.5813465,
            2.8740919,
            1.6621904,
            0.2503494,
        ],
    },
    "7.3": {
        "epochs": [[0.8678319, 0.7284788, 0.139353], [0.7744493, 0.6565211, 0.1179282]],
        "epoch1_last_batch": [0.6810358, 0.4363724, 0.2446633],
        "epoch2_cumulative": [0.8211406, 0.6924999, 0.1286406],
        "evaluate": [4.5559673, 3.0186312, 1.537336],
    },
    "7.4": {
        "after": [
            0.22708,
            0.227302,
            0.7476097,
            -0.1989958,
            -0.848011,
            -0.2961228,
            0.0173075,
            0.1605689,
            -0.2360419,
            0.7920871,
            1.5550723,
            0.9955991,
            -0.3124703,
            0.0803906,
            0.3638759,
            0.2392942,
            -1.0389274,
            -1.4428021,
            0.1128838,
            1.4870239,
            0.2638586,
            0.8828539,
            0.2163497,
            0.1479045,
            -0.966134,
            -0.443387,
            0.4780159,
            0.5924364,
            0.4545589,
            0.5635807,
            0.0717559,
            0.6855041,
            1.1060356,
            1.0494606,
            -0.3768666,
            0.1593941,
            -1.0586077,
        ],
        "loss": 6.1582794,
        "mae": 1.6332561,
        "swapped": [
            -0.147914,
            0.560737,
            0.9330765,
            0.3001803,
            -0.6248644,
            0.171714,
            -0.4115041,
            -0.1118349,
            -0.9484218,
            0.4230471,
            1.7879231,
            0.8941155,
            -0.2896678,
            0.1770983,
            0.5809323,
            0.2133464,
            -0.8789513,
            -1.4476521,
            0.1869534,
            1.7117058,
            0.0367582,
            1.1566833,
            0.4207208,
            0.8367825,
            -0.7500836,
            -1.0769421,
            0.3996504,
            0.4217446,
            0.4371194,
            0.5262559,
            0.029319,
            0.450229,
            1.0636145,
            1.7990326,
            -0.1640088,
            -0.7701647,
            -1.3945227,
        ],
        "unweighted": [
            0.2369303,
            0.2197563,
            0.7421086,
            -0.2096358,
            -0.8482547,
            -0.3120216,
            0.0288027,
            0.1675753,
            -0.2171713,
            0.7944136,
            1.5475624,
            0.9980178,
            -0.3101996,
            0.0786122,
            0.3613347,
            0.2457871,
            -1.0461557,
            -1.4444196,
            0.1084685,
            1.4862305,
            0.2736383,
            0.876763,
            0.2118452,
            0.1361984,
            -0.9666599,
            -0.6471962,
            0.4473662,
            0.6149864,
            0.4444815,
            0.5111216,
            0.0096516,
            0.5837716,
            1.0943387,
            1.2544812,
            -0.2596467,
            -0.1837244,
            -1.1515813,
        ],
    },
}


def _close(a, b, tol: float = 1e-4) -> bool:
    return all_close(a, b, atol=tol)


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


def _flat(weights) -> np.ndarray:
    return np.concatenate([np.asarray(w, dtype="float64").ravel() for w in weights])


def _fill(model, seed: int, scale: float = 1.0) -> None:
    """The visible weights: normal noise times ``scale`` from ``default_rng(seed)``, in
    ``model.weights`` order (the recipe of ``course_utils.inspect.fill_weights``)."""
    from course_utils.inspect import fill_weights

    fill_weights(model, seed, scale=scale)


# ---------------------------------------------------------------- exercise 7.1


def _case_71(model_class):
    """Visible inputs of 7.1: Input(3) -> Dropout(0.5) -> Dense(2), MSE, 12 samples, batch 4."""
    import keras

    inputs = keras.Input(shape=(3,))
    model = model_class(inputs, keras.layers.Dense(2)(keras.layers.Dropout(0.5)(inputs)))
    if not isinstance(model, keras.Model):
        fail("WeightedEvalModel 应继承 keras.Model")
    _fill(model, 71)
    model.compile(
        optimizer="sgd",
        loss="mse",
        weighted_metrics=[keras.metrics.MeanAbsoluteError(name="mae")],
    )
    rng = np.random.default_rng(72)
    x = rng.normal(size=(12, 3)).astype("float32")
    y = rng.normal(size=(12, 2)).astype("float32")
    w = rng.uniform(0.0, 3.0, size=12).astype("float32")
    return model, x, y, w


def check_weighted_test_step(model_class) -> None:
    """Exercise 7.1: ``test_step`` with ``training=False``, compiled loss and sample weights."""
    want = _STORED["7.1"]
    model, x, y, w = _case_71(model_class)

    def evaluate(weights):
        return model.evaluate(
            x, y, sample_weight=weights, batch_size=4, verbose=0, return_dict=True
        )

    got = _logs(_run(lambda: evaluate(w), "test_step"), ["loss", "mae"], "evaluate 的结果")
    again = _logs(evaluate(w), ["loss", "mae"], "第二次 evaluate 的结果")
    if not (_close(got["loss"], again["loss"], 1e-6) and _close(got["mae"], again["mae"], 1e-6)):
        fail(
            "同一份数据评估两次结果不同：前向计算应写 self(x, training=False)，Dropout 在评估时要关闭"
        )
    if not _close(got["loss"], want["loss"]):
        if _close(got["loss"], want["prediction_mean"]):
            fail(
                "loss 变成了预测值的平均：Keras 2 的 self.compiled_metrics.update_state(...) 在 Keras 3 "
                "里只是个过渡用的替身，会把名为 loss 的 Mean 指标当成普通指标更新。"
                "遍历 self.metrics：名为 loss 的更新 loss，其余的更新 (y, y_pred, sample_weight)"
            )
        if _close(got["loss"], want["plain_loss"]):
            fail(
                "loss 没有按样本权重加权：用 keras.utils.unpack_x_y_sample_weight(data) 拆出 "
                "sample_weight，并传给 self.compute_loss(..., sample_weight=sample_weight)"
            )
        fail(
            f"loss 应为 {want['loss']:.5f}，实际是 {float(got['loss']):.5f}：用 self.compute_loss 计算"
            "编译时指定的损失（不要自己写死某个损失函数），并用 training=False"
        )
    if not _close(got["mae"], want["mae"]):
        if _close(got["mae"], want["plain_mae"]):
            fail(
                "mae 没有按样本权重加权：更新其余指标时写 m.update_state(y, y_pred, sample_weight=sample_weight)"
            )
        fail(
            f"mae 应为 {want['mae']:.5f}，实际是 {float(got['mae']):.5f}：检查 update_state 的参数 (y, y_pred)"
        )
    plain = _logs(
        _run(lambda: evaluate(None), "test_step"),
        ["loss", "mae"],
        "不带 sample_weight 的 evaluate 结果",
    )
    if not (_close(plain["loss"], want["plain_loss"]) and _close(plain["mae"], want["plain_mae"])):
        fail(
            "不带样本权重 (data 只有 (x, y)) 时结果不对：unpack_x_y_sample_weight 会给出 sample_weight=None"
        )
    passed()


# ---------------------------------------------------------------- exercise 7.2


def _case_72(model_class):
    """Visible inputs of 7.2: Input(4) -> Dense(3, tanh) -> Dense(2), weights 2 x N(0, 1),
    MSE, SGD(0.1), clip_norm=1.0, one batch of 6 weighted samples."""
    import keras

    inputs = keras.Input(shape=(4,))
    hidden = keras.layers.Dense(3, activation="tanh")(inputs)
    model = model_class(inputs, keras.layers.Dense(2)(hidden), clip_norm=1.0)
    if not isinstance(model, keras.Model):
        fail("ClipNormModel 应继承 keras.Model")
    _fill(model, 72, scale=2.0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    rng = np.random.default_rng(73)
    x = rng.normal(size=(6, 4)).astype("float32")
    y = (2.0 * rng.normal(size=(6, 2))).astype("float32")
    w = rng.uniform(0.2, 3.0, size=6).astype("float32")
    return model, x, y, w


def check_clipnorm_train_step(model_class) -> None:
    """Exercise 7.2: one ``fit()`` step with the compiled loss, sample weights, global-norm clipping."""
    want = _STORED["7.2"]
    model, x, y, w = _case_72(model_class)
    before = _flat(model.trainable_variables)
    history = _run(
        lambda: model.fit(x, y, sample_weight=w, batch_size=6, epochs=1, shuffle=False, verbose=0),
        "train_step",
    )
    after = _flat(model.trainable_variables)
    if np.allclose(after, before):
        fail(
            "一步训练后权重没有变化：是否忘了 self.optimizer.apply(grads, self.trainable_variables)？"
        )
    if _close(after, want["after"]):
        logs = _logs(getattr(history, "history", None), ["loss"], "history.history")
        if not _close(logs["loss"][0], want["loss"]):
            fail("history 里的 loss 不对：用这一步 compute_loss 得到的损失更新名为 loss 的指标")
        passed()
        return
    if _close(after, want["unclipped"]):
        fail(
            "梯度没有被裁剪：用 tf.clip_by_global_norm(grads, self.clip_norm) 把全局范数限制在 self.clip_norm"
        )
    if _close(after, want["per_tensor"]):
        fail(
            "对每个张量分别裁剪了范数 (tf.clip_by_norm)：题目要求按全部梯度的全局范数裁剪 (tf.clip_by_global_norm)"
        )
    if _close(after, want["unweighted"]):
        fail("损失没有使用样本权重：sample_weight 要从 data 中拆出来并传给 self.compute_loss")
    fail(
        "更新后的权重与预期不同：检查损失（用 self.compute_loss）、梯度裁剪的阈值 self.clip_norm 和优化器调用"
    )
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- exercise 7.3


def _case_73(model_class):
    """Visible inputs of 7.3: Input(3) -> Dense(1), beta=0.5, SGD(0.05), 8 samples, batch 4."""
    import keras

    inputs = keras.Input(shape=(3,))
    model = model_class(inputs, keras.layers.Dense(1)(inputs), beta=0.5)
    if not isinstance(model, keras.Model):
        fail("PenalizedRegressor 应继承 keras.Model")
    _fill(model, 73)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05))
    rng = np.random.default_rng(74)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    x_val = rng.normal(size=(8, 3)).astype("float32")
    y_val = rng.normal(size=(8, 1)).astype("float32")
    return model, x, y, x_val, y_val


def check_penalty_trackers(model_class) -> None:
    """Exercise 7.3: loss / mse / penalty trackers, reset every epoch, listed in ``metrics``."""

    want = _STORED["7.3"]
    model, x, y, x_val, y_val = _case_73(model_class)
    keys = ["loss", "mse", "penalty"]
    history = _run(
        lambda: model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0),
        "train_step",
    )
    logs = _logs(getattr(history, "history", None), keys, "history.history")
    extra = sorted(set(history.history) - set(keys))
    if extra:
        fail(f"history 里多了 {extra}：metrics 属性只列出自己的三个追踪器，train_step 也只返回它们")
    epochs = np.asarray(want["epochs"])  # (epoch, key)
    got = np.stack([logs[k] for k in keys], axis=1)
    if got.shape != epochs.shape:
        fail(f"history 每个键应有 2 个值（每轮一个），实际形状 {got.shape}")
    if not _close(got[0], epochs[0]):
        if _close(got[0], want["epoch1_last_batch"]):
            fail("每轮报告的是最后一个批次的值：返回追踪器的 result()，不要返回这一批的张量")
        if _close(got[0][1], epochs[0][1]) and not _close(got[0][2], epochs[0][2]):
            fail("penalty 不对：penalty = beta * mean(y_pred ** 2)，用构造参数 beta，不要写死")
        fail(
            f"第 1 轮的 (loss, mse, penalty) 应为 {np.round(epochs[0], 5).tolist()}，"
            f"实际是 {np.round(got[0], 5).tolist()}：检查公式、beta 和梯度（对 loss 求导）"
        )
    if not _close(got[1], epochs[1]):
        if _close(got[1], want["epoch2_cumulative"]):
            fail(
                "第 2 轮的数值包含了第 1 轮的数据：追踪器没有在每轮开始时重置。"
                "把它们列在 metrics 属性里，fit() 才会每轮调用 reset_state()"
            )
        fail(
            f"第 2 轮的 (loss, mse, penalty) 应为 {np.round(epochs[1], 5).tolist()}，"
            f"实际是 {np.round(got[1], 5).tolist()}"
        )
    names = [getattr(m, "name", None) for m in model.metrics]
    if names != keys or [type(m).__name__ for m in model.metrics] != ["Mean"] * 3:
        fail(
            f"model.metrics 应正好是三个 Mean 追踪器 {keys}（按这个顺序），实际是 {names}：重写 metrics 属性"
        )
    val = _logs(
        _run(
            lambda: model.evaluate(x_val, y_val, batch_size=4, verbose=0, return_dict=True),
            "test_step",
        ),
        keys,
        "evaluate 的结果",
    )
    if not _close([val[k] for k in keys], want["evaluate"]):
        fail(
            "evaluate() 的结果不对：test_step 用 training=False 计算同样的三个量，只更新追踪器，不更新权重"
        )
    passed()


# ---------------------------------------------------------------- exercise 7.4


def _case_74(model_class):
    """Visible inputs of 7.4: base Dense(4 -> 5, tanh) with SGD(0.01), head Dense(5 -> 2) with
    SGD(0.2), MSE, two weighted batches of 5."""
    import keras

    base = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(5, activation="tanh")])
    head = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(2)])
    _fill(base, 74)
    _fill(head, 75)
    base_opt = keras.optimizers.SGD(learning_rate=0.01)
    model = model_class(base, head, base_opt)
    if not isinstance(model, keras.Model):
        fail("TwoSpeedModel 应继承 keras.Model")
    head_opt = keras.optimizers.SGD(learning_rate=0.2)
    model.compile(
        optimizer=head_opt,
        loss="mse",
        weighted_metrics=[keras.metrics.MeanAbsoluteError(name="mae")],
    )
    rng = np.random.default_rng(76)
    x = rng.normal(size=(10, 4)).astype("float32")
    y = rng.normal(size=(10, 2)).astype("float32")
    w = rng.uniform(0.2, 3.0, size=10).astype("float32")
    return model, base, head, base_opt, head_opt, x, y, w


def check_two_speed_step(model_class) -> None:
    """Exercise 7.4: base layers updated by ``base_optimizer``, head by the compiled optimizer."""
    want = _STORED["7.4"]
    model, base, head, base_opt, head_opt, x, y, w = _case_74(model_class)
    history = _run(
        lambda: model.fit(x, y, sample_weight=w, batch_size=5, epochs=1, shuffle=False, verbose=0),
        "train_step",
    )
    base_steps = int(np.asarray(base_opt.iterations))
    head_steps = int(np.asarray(head_opt.iterations))
    if base_steps == 0:
        fail(
            "base_optimizer 一次也没有被调用：底座 (base) 的梯度要交给 self.base_optimizer.apply(...)"
        )
    if head_steps == 0:
        fail("编译时的优化器一次也没有被调用：头部 (head) 的梯度要交给 self.optimizer.apply(...)")
    if base_steps != 2 or head_steps != 2:
        fail(f"2 个批次后两个优化器各应更新 2 次，实际 base {base_steps} 次、head {head_steps} 次")
    got = _flat([*base.weights, *head.weights])
    if not _close(got, want["after"]):
        if _close(got, want["swapped"]):
            fail(
                "学习率用反了：底座应由 base_optimizer（小学习率）更新，头部由 self.optimizer 更新"
            )
        if _close(got, want["unweighted"]):
            fail("损失没有使用样本权重：拆出 sample_weight 并传给 self.compute_loss")
        fail(
            "更新后的权重与预期不同：在同一个 GradientTape 里算一次损失，分别对底座和头部的 "
            "trainable_variables 求梯度，每个优化器只更新自己那一部分"
        )
    logs = _logs(getattr(history, "history", None), ["loss", "mae"], "history.history")
    if not _close(logs["loss"][0], want["loss"]):
        fail(
            f"history 的 loss 应为 {want['loss']:.5f}，实际是 {float(logs['loss'][0]):.5f}：用 compute_loss 的结果更新 loss 指标"
        )
    if not _close(logs["mae"][0], want["mae"]):
        fail(
            "history 的 mae 不对：其余指标用 m.update_state(y, y_pred, sample_weight=sample_weight) 更新"
        )
    passed()
