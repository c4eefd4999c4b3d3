"""Checks for chapter 08 exercises (saving, pretrained models, evaluating a classifier).

Each check runs the student's code on fixed inputs it builds itself, compares plain data with
expected values stored here (computed once, offline) or with properties of the result, and
raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the likely
mistake: precision and recall swapped, a class missing from the counts, a custom layer that is
not registered or forgets a constructor argument in ``get_config``, a BatchNormalization layer
unfrozen for fine-tuning, calibration bins averaged without weights, a temperature lost on
saving, ... This module computes no exercise's answer for other inputs: the hidden tests in
the instructor notebook do that.
"""

from __future__ import annotations

import tempfile
import types
from pathlib import Path

import numpy as np

from course_utils.checks._core import all_close, fail, passed, to_numpy

__all__ = [
    "check_precision_recall",
    "check_rbf_roundtrip",
    "check_fine_tune_checkpoint",
    "check_calibration_error",
    "check_temperature_roundtrip",
]

#: Top-level modules an exercise that says "NumPy only" may not use.
NOT_NUMPY = ("sklearn", "tensorflow", "keras", "scipy", "torch", "pandas", "course_utils")


def _close(a, b, tol: float = 1e-6) -> bool:
    return all_close(a, b, atol=tol)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def foreign_module(fn, modules: tuple[str, ...] = NOT_NUMPY) -> str | None:
    """The first of ``modules`` that ``fn`` imports or reads a global from, else ``None``.

    A quick hint for the student; the grader judges the constraint on the source itself.
    """
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    names = _code_names(code)
    for name in sorted(names):
        if name.split(".")[0] in modules:
            return name.split(".")[0]
    for name in sorted(names):
        value = getattr(fn, "__globals__", {}).get(name)
        if isinstance(value, types.ModuleType):
            module = value.__name__
        else:
            module = getattr(value, "__module__", None)
        if isinstance(module, str) and module.split(".")[0] in modules:
            return module.split(".")[0]
    return None


def _numpy_only(fn, exercise: str) -> None:
    module = foreign_module(fn)
    if module is not None:
        fail(
            f"{exercise} 要求只用 NumPy：代码里用到了 {module}。不要调用 sklearn.metrics、"
            "tf.math.confusion_matrix 之类的现成函数，也不要调用 course_utils 里的函数"
        )


# ---------------------------------------------------------------- exercise 8.1

#: The fixed visible cases: (y_true, y_pred, num_classes, precision, recall), computed once.
PR_CASES = (
    ([0, 1, 2, 2, 1, 0, 3], [0, 2, 2, 1, 1, 0, 1], 4, [1.0, 1 / 3, 0.5, 0.0], [1.0, 0.5, 0.5, 0.0]),
    ([0, 1, 1], [1, 1, 0], 5, [0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0, 0.0]),
)


def check_precision_recall(fn) -> None:
    """Exercise 8.1: ``(precision, recall)`` arrays of length ``num_classes``, NumPy only, on
    the fixed cases of :data:`PR_CASES` (the second has classes that never occur)."""
    _numpy_only(fn, "练习 8.1")
    for y_true, y_pred, num_classes, want_p, want_r in PR_CASES:
        result = fn(np.array(y_true), np.array(y_pred), num_classes)
        if not isinstance(result, tuple) or len(result) != 2:
            fail("应返回一个二元组 (precision, recall)")
        p = to_numpy(result[0], "precision").astype("float64")
        r = to_numpy(result[1], "recall").astype("float64")
        if p.shape != (num_classes,) or r.shape != (num_classes,):
            fail(
                f"precision 和 recall 的形状应为 ({num_classes},)，实际是 {p.shape} 和 {r.shape}："
                "按 num_classes 建表，不要用 np.unique 或标签里出现过的最大值"
            )
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(r))):
            fail("结果里有 NaN：某个类别从未被预测（或从未出现）时分母为 0，这时应记为 0.0")
        if _close(p, want_r) and _close(r, want_p) and not _close(p, want_p):
            fail(
                "precision 和 recall 互换了：precision = TP / 预测为该类的数目（混淆矩阵的列和），"
                "recall = TP / 真实为该类的数目（行和）"
            )
        case = f"（y_true={y_true}, y_pred={y_pred}, num_classes={num_classes}）"
        if not _close(p, want_p):
            fail(
                f"precision 不对{case}：应为 {np.round(want_p, 3).tolist()}，"
                f"实际是 {np.round(p, 3).tolist()}"
            )
        if not _close(r, want_r):
            fail(
                f"recall 不对{case}：应为 {np.round(want_r, 3).tolist()}，"
                f"实际是 {np.round(r, 3).tolist()}"
            )
    passed()


# ---------------------------------------------------------------- exercise 8.2

#: The fixed visible cases: (num_centers, gamma, centers, x, expected features), the
#: features computed once in float64 and rounded to 6 decimals.
RBF_CASES = (
    (
        4,
        0.5,
        [[-1.65, -0.25, 0.67], [0.72, -0.81, 0.51], [0.4, 0.11, 0.22], [-1.34, -0.14, -0.22]],
        [[1.6, 0.09, -2.45], [1.19, 1.69, -0.04], [1.73, 0.91, 0.11], [-1.62, -1.05, 0.02],
         [0.23, 0.03, -0.96]],
        [[3.7e-05, 0.005668, 0.013778, 0.001076], [0.002098, 0.03382, 0.203101, 0.007513],
         [0.001442, 0.12628, 0.298048, 0.004902], [0.587605, 0.055763, 0.065024, 0.617516],
         [0.043506, 0.211549, 0.489755, 0.218559]],
    ),
    (
        2,
        3.0,
        [[-0.46, -0.11, -0.71, 0.31, -0.36], [-0.05, 0.19, 0.04, -0.26, 0.34]],
        [[-0.04, -0.16, -0.26, -0.42, 0.31], [-0.26, -0.02, -0.47, -0.09, 0.53],
         [-0.41, 0.03, -0.24, 0.3, 0.55], [0.47, -0.46, 0.2, -0.58, -0.41],
         [0.08, 0.1, -0.04, 0.03, 0.15]],
        [[0.016746, 0.488068], [0.041861, 0.289413], [0.040212, 0.16967], [0.000398, 0.015761],
         [0.034414, 0.634575]],
    ),
)  # fmt: skip


def check_rbf_roundtrip(layer_cls) -> None:
    """Exercise 8.2: the layer computes RBF features and survives ``.keras`` without
    custom_objects, on the fixed cases of :data:`RBF_CASES`."""
    for num_centers, gamma, centers, x, want in RBF_CASES:
        _check_rbf_case(layer_cls, num_centers, gamma, centers, x, want)
    passed()


def _check_rbf_case(layer_cls, num_centers, gamma, centers, x, want) -> None:
    import keras

    centers = np.array(centers, dtype="float32")
    x = np.array(x, dtype="float32")
    features = centers.shape[1]
    if getattr(layer_cls, "get_config", None) is keras.layers.Layer.get_config:
        fail("RBFFeatures 没有重写 get_config()：题目要求返回包含 num_centers 和 gamma 的配置")
    layer = layer_cls(num_centers=num_centers, gamma=gamma, name="rbf")
    config = layer.get_config()
    if not isinstance(config, dict) or "name" not in config:
        fail("get_config() 应从 super().get_config() 出发再加上自己的参数（否则 name、dtype 会丢）")
    for key, value in (("num_centers", num_centers), ("gamma", gamma)):
        if key not in config or float(config[key]) != float(value):
            fail(f"get_config() 里没有正确的 {key!r}：应为 {value}，实际是 {config.get(key)!r}")
    registered = keras.saving.get_registered_name(layer_cls)
    if registered == layer_cls.__name__ or ">" not in registered:
        fail(
            "类没有注册：在类定义前加 @keras.saving.register_keras_serializable(package=...)，"
            "否则 load_model 找不到它"
        )
    try:
        model = keras.Sequential([keras.Input(shape=(features,)), layer, keras.layers.Dense(2)])
    except Exception as exc:
        fail(
            f"搭建含 RBFFeatures 的模型时出错（{type(exc).__name__}: {str(exc)[:80]}）："
            "检查 build() 是否用 add_weight 创建 centers，以及 call() 里的形状计算"
        )
    weights = list(layer.weights)
    if len(weights) != 1 or tuple(weights[0].shape) != (num_centers, features):
        fail(
            f"RBFFeatures 应在 build() 里用 add_weight 创建一个形状为 ({num_centers}, {features}) "
            f"的权重 centers，实际权重形状是 {[tuple(w.shape) for w in layer.weights]}"
        )
    weights[0].assign(centers)
    got = to_numpy(layer(x), "RBFFeatures 的输出").astype("float64")
    if got.shape != (len(x), num_centers) or not _close(got, np.array(want), 1e-4):
        fail(
            "RBFFeatures 的输出应为 exp(-gamma * 每个样本到每个中心的平方距离)，形状 (批大小, num_centers)"
        )
    before = np.asarray(model(x))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rbf_model.keras"
        model.save(path)
        try:
            loaded = keras.models.load_model(path)
        except Exception as exc:  # the deserialisation error says little on its own
            fail(
                f"load_model 失败（{type(exc).__name__}）：检查注册装饰器，以及 get_config 返回的键"
                "是否都是 __init__ 能接受的参数"
            )
    new_layer = loaded.get_layer("rbf")
    if type(new_layer) is not layer_cls:
        fail(f"读回的层是 {type(new_layer).__name__}，不是 RBFFeatures")
    if float(new_layer.gamma) != float(gamma) or int(new_layer.num_centers) != num_centers:
        fail(
            "读回的层的 gamma / num_centers 不对：__init__ 里要把参数存成 self.gamma 和 self.num_centers"
        )
    after = np.asarray(loaded(x))
    if not _close(after, before, 1e-5):
        fail("读回的模型预测不同：中心 centers 必须是 add_weight 创建的权重，才会被保存")


# ---------------------------------------------------------------- exercise 8.3


def make_small_base(input_shape=(8, 8, 1), channels: int = 6, seed: int = 83):
    """A tiny convolutional 'pretrained' base: two Conv-BatchNorm-ReLU blocks (exercise 8.3)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for filters in (4, channels):
        x = keras.layers.Conv2D(filters, 3, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    return keras.Model(inputs, x, name="small_base")


def save_transfer_checkpoint(make_base, num_classes: int, path, seed: int | None = None):
    """Exercise 8.3's checkpoint: ``make_base()`` frozen under GlobalAveragePooling2D and a
    softmax ``Dense(num_classes)`` named ``"head"``, compiled (Adam) and saved to ``path``.
    With ``seed``, every weight (BatchNormalization statistics included) is set by
    ``fill_weights(model, seed, scale=0.5)`` first. Returns the model that was saved."""
    import keras

    from course_utils.inspect import fill_weights

    base = make_base()
    inputs = keras.Input(shape=base.input_shape[1:])
    x = keras.layers.GlobalAveragePooling2D()(base(inputs, training=False))
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name="transfer")
    base.trainable = False
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    if seed is not None:
        fill_weights(model, seed, scale=0.5)
    # Build the optimizer's slots now, as a trained checkpoint has them: loading an unbuilt one
    # into the compiled model warns "Skipping variable loading for optimizer" on stderr.
    model.optimizer.build(model.trainable_variables)
    model.save(path)
    return model


def _check_compiled(model, learning_rate: float, num_classes: int, x, y, stage: str):
    """Adam with ``learning_rate``, sparse categorical cross-entropy and an accuracy metric."""
    import keras

    if getattr(model, "optimizer", None) is None:
        fail(f"{stage}返回的模型还没有 compile")
    if not isinstance(model.optimizer, keras.optimizers.Adam):
        fail(f"{stage}优化器应为 Adam，实际是 {type(model.optimizer).__name__}")
    lr = float(np.asarray(model.optimizer.learning_rate))
    if not _close(lr, learning_rate, 1e-12):
        fail(
            f"{stage}学习率应为 {learning_rate}，实际是 {lr}：用 Adam(learning_rate=...)"
            "（旧写法 lr= 在 Keras 3 中已不可用）；改了 trainable 之后要用新的学习率重新 compile"
        )
    probs = np.asarray(model(x, training=False), dtype="float64")
    n = len(x)
    if probs.shape != (n, num_classes) or not _close(probs.sum(axis=1), np.ones(n), 1e-4):
        fail(f"输出应为形状 (批大小, {num_classes}) 的概率（每行和为 1）")
    model.run_eagerly = True  # tiny model: skipping tf.function tracing is much faster
    try:
        result = model.evaluate(x, y, verbose=0, return_dict=True)
    except Exception as exc:
        fail(
            f"{stage}用整数标签评估时出错（{type(exc).__name__}）：标签是整数类别，"
            "应使用 sparse_categorical_crossentropy"
        )
    want_loss = -np.mean(np.log(probs[np.arange(n), y]))
    if not _close(float(result["loss"]), want_loss, 1e-3):
        fail(f"{stage}损失不对：标签是整数类别，应使用 sparse_categorical_crossentropy")
    if not any("acc" in str(k) for k in result):
        fail(f'{stage}compile 时要加上 metrics=["accuracy"]')


#: ``make_small_base()``'s layers with weights (Conv2D, BatchNormalization, Conv2D,
#: BatchNormalization): which of them are trainable after fine-tuning with each visible n_top.
VISIBLE_TUNE_FLAGS = {1: [False, False, True, False], 2: [True, False, True, False]}


def check_fine_tune_checkpoint(fn, learning_rate: float = 1e-4, num_classes: int = 5) -> None:
    """Exercise 8.3, on ``make_small_base()`` saved by :func:`save_transfer_checkpoint`, with
    n_top 1 and 2 (:data:`VISIBLE_TUNE_FLAGS`)."""
    import keras

    rng = np.random.default_rng(830)
    x = rng.normal(size=(8, 8, 8, 1)).astype("float32")
    y = rng.integers(0, num_classes, size=8)
    for n_top, want in VISIBLE_TUNE_FLAGS.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "transfer.keras"
            saved = save_transfer_checkpoint(make_small_base, num_classes, path)
            model = fn(path, "small_base", n_top, learning_rate)
        if not isinstance(model, keras.Model):
            fail("resume_for_fine_tuning 应返回重新编译后的模型：是否忘了 return？")
        try:
            base = model.get_layer("small_base")
        except ValueError:
            fail("返回的模型里没有名为 'small_base' 的 base：要返回 load_model 读回的整个模型")
        if not _close(np.asarray(model(x, training=False)), np.asarray(saved(x)), 1e-5):
            fail("返回的模型预测与检查点不同：用 keras.models.load_model(path) 读回它的权重")
        layers = [layer for layer in base.layers if layer.weights]
        for layer, flag in zip(layers, want, strict=True):
            is_bn = isinstance(layer, keras.layers.BatchNormalization)
            if is_bn and layer.trainable:
                fail(
                    f"{layer.name} 被解冻了：BatchNormalization 层要保持 trainable=False，"
                    "否则微调会改写它的滑动统计量"
                )
            if bool(layer.trainable) != flag:
                counted = [lay.name for lay, f in zip(layers, want, strict=True) if f]
                fail(
                    f"n_top={n_top} 时 {layer.name} 的 trainable 应为 {flag}："
                    f"只解冻最后 {n_top} 个带权重、且不是 BatchNormalization 的层 {counted}"
                    "（不带权重的 ReLU 等层不算数）"
                )
        if not model.get_layer("head").trainable:
            fail("分类头 'head' 被冻结了：微调时它也要继续训练")
        _check_compiled(model, learning_rate, num_classes, x, y, "微调时")
        frozen = [np.asarray(w) for w in base.non_trainable_weights]
        before = [np.asarray(w) for w in base.trainable_weights]
        model.fit(x * 3 + 1, y, epochs=1, batch_size=8, verbose=0)
        if any(
            not np.allclose(np.asarray(w), s)
            for w, s in zip(base.non_trainable_weights, frozen, strict=True)
        ):
            fail("微调时 base 中冻结的权重或 BatchNormalization 的统计量变了：检查各层的 trainable")
        if all(
            np.allclose(np.asarray(w), b)
            for w, b in zip(base.trainable_weights, before, strict=True)
        ):
            fail("微调一步后解冻的层没有变化：改了 trainable 之后要重新 compile")
    passed()


# ---------------------------------------------------------------- exercise 8.4


def calibration_data():
    """The fixed visible inputs of exercise 8.4: 200 rows of 4-class probabilities (float32)
    and integer labels; the first 20 rows have confidence exactly 0.5, on a bin boundary."""
    rng = np.random.default_rng(84)
    logits = rng.normal(size=(200, 4)) * 2.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probs[:20] = [0.5, 0.5, 0.0, 0.0]
    labels = np.where(rng.random(200) < 0.6, probs.argmax(axis=1), rng.integers(0, 4, size=200))
    labels[:20] = 2  # the boundary rows are wrong: their bin's gap changes sign
    return probs.astype("float32"), labels


#: ECE of :func:`calibration_data` per ``n_bins``, and what the named mistakes give instead
#: (computed once, offline): unweighted bins, the largest gap (MCE), the true class's
#: probability as the confidence, left-closed bins ``[i/n, (i+1)/n)``.
ECE_STORED = {
    10: {
        "good": 0.16057447,
        "unweighted": 0.2443068,
        "mce": 0.71633866,
        "true_class": 0.23147974,
        "left_closed": 0.1527941,
    },
    7: {"good": 0.15829272, "unweighted": 0.27654065, "mce": 0.71633866, "true_class": 0.23147974},
}


def check_calibration_error(fn) -> None:
    """Exercise 8.4: weighted ECE over ``n_bins`` equal-width confidence bins, a Python float,
    on the fixed inputs of :func:`calibration_data` with ``n_bins`` 10 and 7."""
    _numpy_only(fn, "练习 8.4")
    for n_bins, stored in ECE_STORED.items():
        probs, labels = calibration_data()
        p_copy, l_copy = probs.copy(), labels.copy()
        got = fn(probs, labels, n_bins)
        if got is None:
            fail("expected_calibration_error 的返回值是 None：是否忘了 return？")
        if isinstance(got, bool) or type(got) is not float:
            fail(f"应返回 Python float，实际是 {type(got).__name__}：用 float(...) 转换")
        if not (np.array_equal(probs, p_copy) and np.array_equal(labels, l_copy)):
            fail("函数修改了传入的 probs 或 labels（例如原地排序）：先复制再处理")
        if _close(got, stored["good"], 1e-6):
            continue
        if n_bins != 10 and _close(got, ECE_STORED[10]["good"], 1e-6):
            fail(f"没有使用参数 n_bins={n_bins}：区间数写死成了 10")
        if _close(got, stored["unweighted"], 1e-6):
            fail("各区间的差距被简单平均了：应按区间里的样本比例 |B|/n 加权，并跳过空区间")
        if _close(got, stored["mce"], 1e-6):
            fail("返回的是最大差距 (MCE)：ECE 是按样本比例加权的平均差距")
        if _close(got, stored["true_class"], 1e-6):
            fail("置信度应是最大的预测概率 probs.max(axis=1)，不是真实类别的概率")
        if "left_closed" in stored and _close(got, stored["left_closed"], 1e-6):
            fail(
                "落在区间边界上的置信度分错了区间：题目的区间是左开右闭 (i/n_bins, (i+1)/n_bins]，"
                "例如 n_bins=10 时 0.5 属于第 4 个区间 (0.4, 0.5]（np.floor 得到的是左闭右开）"
            )
        fail(
            f"n_bins={n_bins} 时 ECE 应为 {stored['good']:.5f}，实际是 {got:.5f}："
            "置信度 = 最大概率，正确 = argmax 等于标签，区间为 (i/n_bins, (i+1)/n_bins]"
        )
    passed()


# ---------------------------------------------------------------- exercise 8.5

#: The fixed visible logits of exercise 8.5, and softmax(logits / T) for T = 1.0 (the
#: default), 2.5 (set before saving) and 1.5 (set on the layer read back), computed once.
TEMPERATURE_LOGITS = [[2.0, -1.0, 0.5, 3.0], [0.0, 0.2, -2.0, 1.0], [4.0, 4.0, -1.0, 0.0]]
TEMPERATURE_STORED = {
    1.0: [[0.250551, 0.012474, 0.055906, 0.681069], [0.197044, 0.24067, 0.026667, 0.53562],
          [0.493814, 0.493814, 0.003327, 0.009045]],
    2.5: [[0.299237, 0.090129, 0.164225, 0.446409], [0.248482, 0.269177, 0.11165, 0.370691],
          [0.427857, 0.427857, 0.057904, 0.086383]],
    1.5: [[0.289775, 0.039217, 0.106602, 0.564405], [0.229676, 0.262435, 0.060542, 0.447348],
          [0.475024, 0.475024, 0.016946, 0.033006]],
}  # fmt: skip


def check_temperature_roundtrip(layer_cls) -> None:
    """Exercise 8.5: softmax(logits / T), T set by ``set_temperature`` and kept through a
    ``.keras`` round trip without custom_objects, no trainable weight; on the fixed logits of
    :data:`TEMPERATURE_LOGITS` (expected values in :data:`TEMPERATURE_STORED`)."""
    import keras

    z = np.array(TEMPERATURE_LOGITS, dtype="float32")
    stored = {t: np.array(v) for t, v in TEMPERATURE_STORED.items()}
    layer = layer_cls(name="temperature")
    net = keras.Sequential([keras.Input(shape=(4,)), layer])
    got = to_numpy(net(z), "TemperatureScale 的输出").astype("float64")
    if not _close(got, stored[1.0], 1e-5):
        fail("还没调用 set_temperature 时，温度应为 1.0，输出就是 softmax(logits)")
    layer.set_temperature(2.5)
    got = to_numpy(net(z), "TemperatureScale 的输出").astype("float64")
    if not _close(got, stored[2.5], 1e-5):
        fail("set_temperature(2.5) 之后，输出应为 softmax(logits / 2.5)")
    if layer.trainable_weights:
        fail(
            "温度不参与训练，这个层不能有可训练的权重：如果把温度存成权重，"
            "要写 add_weight(..., trainable=False)"
        )
    registered = keras.saving.get_registered_name(layer_cls)
    if registered == layer_cls.__name__ or ">" not in registered:
        fail('类没有注册：保留 @keras.saving.register_keras_serializable(package="ch08")')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "temperature.keras"
        net.save(path)
        try:
            loaded = keras.models.load_model(path)
        except Exception as exc:  # the deserialisation error says little on its own
            fail(
                f"load_model 失败（{type(exc).__name__}）：get_config 返回的每个键都要是 "
                "__init__ 能接受的参数"
            )
    back = loaded.get_layer("temperature")
    got = to_numpy(loaded(z), "读回的模型的输出").astype("float64")
    if _close(got, stored[1.0], 1e-5):
        fail(
            "读回后温度变回了 1.0：.keras 文件只存 get_config() 返回的构造参数和层的权重 (weights)，"
            "普通的 Python 属性不会被保存。让温度进入其中之一"
        )
    if not _close(got, stored[2.5], 1e-5):
        fail("读回的模型输出与保存前不同：温度应仍为 2.5")
    back.set_temperature(1.5)
    got = to_numpy(loaded(z), "读回的模型的输出").astype("float64")
    if not _close(got, stored[1.5], 1e-5):
        fail("读回的层调用 set_temperature(1.5) 之后，输出应为 softmax(logits / 1.5)")
    passed()


# ---------------------------------------------------------------- probes for the hidden tests
# The hidden tests in the instructor notebook call these in the student's kernel: each runs the
# student's code on the test's inputs and weights and reports what it measured as plain data.
# None of them computes an answer; the expected values live in the hidden tests.


def _rbf_probe(layer_cls, num_centers, gamma, centers, x, kernel, bias) -> dict:
    """Build ``layer_cls`` under a Dense head, set the test's weights, save to ``.keras`` and
    load it back without custom_objects; report what the layer and the loaded model give."""
    import keras

    layer = layer_cls(num_centers=num_centers, gamma=gamma, name="rbf_probe")
    head = keras.layers.Dense(int(np.shape(kernel)[1]), name="head_probe")
    net = keras.Sequential([keras.Input(shape=(int(np.shape(x)[1]),)), layer, head])
    out = {"weight_shapes": [[int(d) for d in w.shape] for w in layer.weights]}
    layer.weights[0].assign(np.asarray(centers, dtype="float32"))
    head.set_weights([np.asarray(kernel, "float32"), np.asarray(bias, "float32")])
    config = layer.get_config()
    out["config"] = [float(config["num_centers"]), float(config["gamma"])]
    out["registered_name"] = keras.saving.get_registered_name(layer_cls)
    out["features"] = np.asarray(layer(x), dtype="float64")
    with tempfile.TemporaryDirectory() as tmp:
        net.save(Path(tmp) / "probe.keras")
        loaded = keras.models.load_model(Path(tmp) / "probe.keras")
    back = loaded.get_layer("rbf_probe")
    out["loaded_class"] = keras.saving.get_registered_name(type(back))
    out["loaded_args"] = [float(back.num_centers), float(back.gamma)]
    out["loaded_centers"] = np.asarray(back.weights[0], dtype="float64")
    out["loaded_output"] = np.asarray(loaded(x), dtype="float64")
    return out


def _resume_probe(fn, make_base, num_classes, n_top, lr, x, y, seed) -> dict:
    """Save exercise 8.3's checkpoint (:func:`save_transfer_checkpoint`, weights set by
    ``seed``), run the student's ``fn`` on its path and report the returned model: its
    optimizer, which of the base's layers with weights are trainable, its outputs and
    evaluation on ``x, y``, and how far one fit step moves the head and each of those layers,
    in units of the learning rate (Adam's first step moves the weight with the largest gradient
    by about the learning rate), rounded to 2 decimals."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "transfer.keras"
        base_name = save_transfer_checkpoint(make_base, num_classes, path, seed).layers[1].name
        model = fn(str(path), base_name, n_top, lr)
    base = model.get_layer(base_name)
    layers = [layer for layer in base.layers if layer.weights]
    out = {
        "optimizer": type(model.optimizer).__name__,
        "lr_ratio": float(np.asarray(model.optimizer.learning_rate)) / lr,
        "trainable": [bool(layer.trainable) for layer in layers],
        "probs": np.asarray(model(x, training=False), dtype="float64"),
    }
    model.run_eagerly = True  # tiny model: skipping tf.function tracing is much faster
    scores = model.evaluate(x, y, verbose=0, return_dict=True)
    out["evaluate"] = [float(scores["loss"]), float(scores["accuracy"])]
    head = model.get_layer("head")
    saved = [[np.array(v) for v in layer.weights] for layer in [head, *layers]]
    model.fit(x * 2 + 1, y, epochs=1, batch_size=len(x), shuffle=False, verbose=0)
    out["steps"] = [
        round(max(float(np.abs(np.asarray(v) - b).max()) for v, b in zip(lay.weights, was)) / lr, 2)
        for lay, was in zip([head, *layers], saved)
    ]
    return out


def _temperature_probe(layer_cls, temperature, new_temperature, kernel, bias, x) -> dict:
    """Put ``layer_cls`` after a Dense layer with the test's ``kernel`` and ``bias``, set the
    temperature, save to ``.keras`` and load back without custom_objects; report the outputs
    before setting it, after, after loading, and after setting ``new_temperature`` on the
    loaded layer, and the number of trainable weights of the layer."""
    import keras

    layer = layer_cls(name="temperature_probe")
    dense = keras.layers.Dense(int(np.shape(kernel)[1]), name="logits_probe")
    net = keras.Sequential([keras.Input(shape=(int(np.shape(x)[1]),)), dense, layer])
    dense.set_weights([np.asarray(kernel, "float32"), np.asarray(bias, "float32")])
    out = {"default": np.asarray(net(x), dtype="float64")}
    layer.set_temperature(temperature)
    out["set"] = np.asarray(net(x), dtype="float64")
    out["trainable_weights"] = len(layer.trainable_weights)
    with tempfile.TemporaryDirectory() as tmp:
        net.save(Path(tmp) / "probe.keras")
        loaded = keras.models.load_model(Path(tmp) / "probe.keras")
    out["loaded"] = np.asarray(loaded(x), dtype="float64")
    loaded.get_layer("temperature_probe").set_temperature(new_temperature)
    out["loaded_reset"] = np.asarray(loaded(x), dtype="float64")
    return out
