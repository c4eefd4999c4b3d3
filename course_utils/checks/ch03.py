"""Checks for chapter 03 exercises (subclassing layers and models).

Each check builds fresh instances of the student's class for ONE fixed visible case, sets
their weights to fixed values (by shape and name: the helpers here only assign, they compute
nothing), and compares the outputs with expected values stored below (computed once from the
instructor's solution) or with properties (shapes, weight counts, noise statistics). It
raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the likely
mistake: weights created in ``__init__`` instead of ``build``, a ``training`` flag ignored,
sub-layers that are not tracked, a ``get_config`` that forgets a constructor argument,
``__init__`` without ``**kwargs``, ... No function here computes an exercise's answer: the
hidden tests of the notebook hold their own references.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import CheckFailed, all_close, fail, passed, to_numpy

__all__ = [
    "check_prelu_layer",
    "check_noise_layer",
    "check_residual_block",
    "check_branch_model",
]


def _close(a, b, tol: float = 1e-4) -> bool:
    return all_close(a, b, atol=tol)


def _array(value, name: str) -> np.ndarray:
    return to_numpy(value, name).astype("float64")


def _make(cls, name: str, *args, **kwargs):
    """Instantiate the student's class, turning any error into a readable failure."""
    import keras

    if not isinstance(cls, type):
        fail(f"{name} 应是一个类 (class)，实际是 {type(cls).__name__}")
    try:
        obj = cls(*args, **kwargs)
    except NotImplementedError:
        fail(f"{name} 还没有实现（抛出了 NotImplementedError）")
    except Exception as exc:
        fail(f"无法创建 {name}({args}, {kwargs})：{type(exc).__name__}: {exc}")
    base = keras.Model if name.endswith("Net") else keras.layers.Layer
    if not isinstance(obj, base):
        fail(f"{name} 应继承 keras.{'Model' if base is keras.Model else 'layers.Layer'}")
    return obj


def _call(obj, x, name: str, **kwargs):
    try:
        return obj(x, **kwargs)
    except CheckFailed:
        raise
    except NotImplementedError:
        fail(f"{name} 还没有实现（抛出了 NotImplementedError）")
    except Exception as exc:
        fail(f"调用 {name} 时出错：{type(exc).__name__}: {str(exc)[:300]}")


def _round_trip(obj, name: str, keys: dict):
    """``get_config`` holds ``keys`` and ``from_config`` re-creates the object."""
    try:
        config = obj.get_config()
    except NotImplementedError:
        fail(f"{name}.get_config() 没有实现：Keras 需要它来保存和重建这个对象")
    if not isinstance(config, dict):
        fail(f"{name}.get_config() 应返回字典，实际是 {type(config).__name__}")
    for key, value in keys.items():
        if key not in config:
            fail(
                f"{name}.get_config() 里没有 {key!r}：把 __init__ 的每个参数都放进配置，"
                "并合并 super().get_config()"
            )
        got = config[key]
        if isinstance(got, bool) or not isinstance(got, int | float):
            fail(f"{name}.get_config()[{key!r}] 应是数字，实际是 {type(got).__name__}")
        if float(got) != float(value):
            fail(f"{name}.get_config()[{key!r}] 应是 {value}，实际是 {got}：是否写成了常数？")
    if "name" not in config:
        fail(f"{name}.get_config() 里没有 'name'：要先取 super().get_config() 再加入自己的参数")
    try:
        return type(obj).from_config(config)
    except TypeError as exc:
        fail(
            f"from_config 失败 ({exc})：__init__ 要接收 **kwargs 并传给 super().__init__(**kwargs)，"
            "否则 name、dtype 等基础参数无处可去"
        )
    except Exception as exc:
        fail(f"from_config 失败：{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------- exercise 3.1

#: The visible case: LearnablePReLU(alpha_init=0.25) on 4 features, slope then set to _ALPHA.
_PRELU_X = np.array([[-2.0, 1.5, -0.5, 3.0], [0.5, -1.0, 2.0, -4.0]], dtype="float32")
_PRELU_ALPHA = np.array([-0.5, 0.25, 1.0, 1.5], dtype="float32")
_PRELU_EXPECTED = np.array([[1.0, 1.5, -0.5, 3.0], [0.5, -0.25, 2.0, -6.0]])
#: What the slope applied to the positive part (the usual mix-up) gives instead.
_PRELU_SWAPPED = np.array([[-2.0, 0.375, -0.5, 4.5], [-0.25, -1.0, 2.0, -4.0]])


def check_prelu_layer(layer_cls) -> None:
    """Exercise 3.1: a PReLU with one trainable slope per feature, created in ``build``
    (visible case: ``alpha_init=0.25``, 4 features)."""
    import tensorflow as tf

    name = "LearnablePReLU"
    layer = _make(layer_cls, name, alpha_init=0.25)
    if layer.weights:
        fail(
            f"{name} 在第一次调用之前就有 {len(layer.weights)} 个权重：权重要在 build(input_shape) "
            "里用 self.add_weight 创建，那时才知道输入的特征数"
        )
    x = _PRELU_X
    _call(layer, x, name)
    if len(layer.weights) != 1:
        fail(f"{name} 应正好有 1 个权重 (alpha)，实际有 {len(layer.weights)} 个")
    alpha = layer.weights[0]
    if tuple(alpha.shape) != (4,):
        fail(
            "alpha 的形状应为 (4,)（每个特征一个斜率，取自 input_shape[-1]），"
            f"实际是 {tuple(alpha.shape)}"
        )
    if not layer.trainable_weights:
        fail("alpha 不可训练：add_weight(..., trainable=True)")
    a0 = np.asarray(alpha, dtype="float64")
    if not _close(a0, np.full(4, 0.25), 1e-6):
        fail(
            f"alpha 的初始值应全为 alpha_init=0.25，实际是 {np.round(a0, 4).tolist()}："
            "用 initializer=keras.initializers.Constant(alpha_init)"
        )
    alpha.assign(_PRELU_ALPHA)
    out = _array(_call(layer, x, name), f"{name} 的输出")
    if out.shape != x.shape:
        fail(f"输出形状应为 {x.shape}，实际是 {out.shape}")
    if not _close(out, _PRELU_EXPECTED, 1e-5):
        if _close(out, _PRELU_SWAPPED, 1e-5):
            fail("斜率 alpha 用在了正数部分：PReLU 对 x > 0 原样输出，对 x <= 0 输出 alpha * x")
        fail("输出不对：应为 x (x > 0) 或 alpha * x (x <= 0)，alpha 按最后一维逐特征作用")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    grad = tape.gradient(loss, layer.trainable_weights)
    if grad[0] is None:
        fail("对 alpha 的梯度是 None：call 里要直接用 self.alpha 参与计算，不要转成 NumPy")
    clone = _round_trip(layer, name, {"alpha_init": 0.25})
    _call(clone, x, name)
    clone.set_weights(layer.get_weights())
    if not _close(_array(clone(x), "重建层的输出"), out, 1e-6):
        fail("from_config 重建并 set_weights 之后输出不同：检查 get_config 与 __init__ 的参数")
    passed()


# ---------------------------------------------------------------- exercise 3.2


def check_noise_layer(layer_cls) -> None:
    """Exercise 3.2: Gaussian noise only when ``training`` is true, fresh in every compiled
    step (visible case: ``stddev=0.5``; judged by the noise's statistics)."""
    import keras
    import tensorflow as tf

    name = "TrainingNoise"
    stddev = 0.5
    layer = _make(layer_cls, name, stddev=stddev)
    x = np.linspace(-2.0, 2.0, 40 * 500, dtype="float32").reshape(40, 500)
    for kwargs, label in (({"training": False}, "training=False"), ({}, "不传 training")):
        out = _array(_call(layer, x, name, **kwargs), f"{name} 的输出")
        if out.shape != x.shape:
            fail(f"输出形状应为 {x.shape}，实际是 {out.shape}")
        if not np.array_equal(out, x.astype("float64")):
            fail(f"{label} 时输出应与输入完全相同：推理时不加噪声（用 if training: 判断）")
    if layer.weights:
        fail(f"{name} 不应有权重，实际有 {len(layer.weights)} 个")
    noisy = _array(_call(layer, x, name, training=True), f"{name} 的输出")
    noise = noisy - x
    if np.allclose(noise, 0.0):
        fail("training=True 时输出与输入相同：训练时要加上高斯噪声")
    std, mean = float(noise.std()), float(noise.mean())
    if abs(std - stddev) > 0.05 * stddev:
        if abs(std - stddev**2) < 0.05 * stddev**2:
            fail(f"噪声的标准差是 {std:.3f} ≈ stddev²：stddev 是标准差，不是方差")
        fail(f"噪声的标准差应约为 {stddev}，实际是 {std:.3f}：是否把 stddev 写成了常数？")
    if abs(mean) > 0.05 * stddev:
        fail(f"噪声的均值应约为 0，实际是 {mean:.3f}")
    again = _array(layer(x, training=True), f"{name} 的输出")
    if np.allclose(again, noisy):
        fail("两次 training=True 调用得到相同的噪声：每次调用都应抽取新的随机数")

    compiled = tf.function(lambda t: layer(t, training=True))
    first = _array(compiled(tf.constant(x)), "编译后的输出")
    second = _array(compiled(tf.constant(x)), "编译后的输出")
    if np.allclose(first, second):
        fail(
            "在 tf.function（fit 就是这样运行的）里两次调用得到同样的噪声：NumPy 的随机数在追踪时"
            "只生成一次。请用 keras.random.normal(..., seed=self.seed_generator)"
        )
    model = keras.Sequential([keras.Input(shape=(500,)), layer])
    if not np.array_equal(_array(model.predict(x, verbose=0), "predict 的输出"), x):
        fail("model.predict 的输出被加了噪声：推理时 training 为 False，应原样输出")
    clone = _round_trip(layer, name, {"stddev": stddev})
    if not np.array_equal(_array(clone(x, training=False), "重建层的输出"), x):
        fail("from_config 重建的层在推理时改变了输入")
    passed()


# ---------------------------------------------------------------- exercise 3.3


def _assign(weights, by_shape: dict, by_name: dict | None = None) -> None:
    """Give each weight the fixed value of its name (1-D weights) or of its shape."""
    for weight in weights:
        name = weight.name.split("/")[-1]
        shape = tuple(int(d) for d in weight.shape)
        if by_name and len(shape) == 1 and name in by_name:
            weight.assign(by_name[name])
        elif shape in by_shape:
            weight.assign(by_shape[shape])


#: The visible case: ResidualBlock(filters=8) on 3 input channels, weights from _RESIDUAL_SEED
#: (both BN layers share their values, so the order of the weights does not matter).
_RESIDUAL_SEED = 3303
_RESIDUAL_X = np.random.default_rng(33).normal(size=(2, 4, 4, 3)).astype("float32")
#: The expected outputs, summarised: per-channel means and, per pixel, the sum over channels.
_RESIDUAL_EXPECTED = {
    False: (
        [0.0933, 0.35161, 0.32288, 0.3416, 0.94686, 0.00328, 1.0116, 1.83036],
        [
            [[3.74641, 8.78266, 9.8193, 7.03623], [8.69413, 7.19482, 5.87425, 7.12077],
             [7.22379, 9.92912, 7.86996, 2.7961], [4.0824, 3.79708, 2.86449, 0.76181]],
            [[3.09507, 6.24251, 3.61489, 4.8376], [3.76428, 7.8776, 4.63785, 2.47555],
             [4.16525, 2.369, 3.00473, 0.96416], [4.02344, 0.83953, 3.71061, 3.63189]],
        ],
    ),
    True: (
        [0.29977, 0.82845, 0.88937, 0.48919, 0.71554, 0.67056, 0.23299, 0.65346],
        [
            [[5.99052, 7.17221, 5.83632, 6.94526], [6.90303, 4.50256, 5.06898, 7.09577],
             [4.57349, 6.70002, 3.32851, 4.10079], [6.26616, 6.56753, 2.2563, 4.03639]],
            [[3.72308, 4.69893, 6.19289, 6.0743], [4.6866, 3.54151, 4.26038, 4.03056],
             [2.15304, 2.54541, 2.57441, 2.261], [5.36401, 2.68042, 2.36679, 8.44142]],
        ],
    ),
}  # fmt: skip


def _residual_values(cin: int, filters: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    kernel_mid = rng.normal(scale=0.3, size=(3, 3, filters, filters))
    kernel_in = kernel_mid if cin == filters else rng.normal(scale=0.3, size=(3, 3, cin, filters))
    values = {
        "kernel_in": kernel_in,
        "kernel_mid": kernel_mid,
        "projection": rng.normal(scale=0.5, size=(1, 1, cin, filters)),
        "gamma": rng.uniform(0.5, 1.5, size=filters),
        "beta": rng.normal(scale=0.3, size=filters),
        "moving_mean": rng.normal(scale=0.3, size=filters),
        "moving_variance": rng.uniform(0.5, 2.0, size=filters),
    }
    return {k: v.astype("float32") for k, v in values.items()}


def _fill_residual(block, values: dict) -> None:
    kernels = {values[k].shape: values[k] for k in ("kernel_in", "kernel_mid", "projection")}
    _assign(block.weights, kernels, values)


def _residual_structure(block_cls, filters: int, in_channels: int, name: str):
    """Build the block on a small input and judge its weights; returns (block, x, output)."""
    block = _make(block_cls, name, filters=filters)
    if block.weights:
        fail(f"{name} 在第一次调用前就有权重：投影捷径取决于输入通道数，要在 build 里创建")
    x = _RESIDUAL_X if in_channels == 3 else np.ones((2, 4, 4, in_channels), dtype="float32")
    try:
        out = _array(block(x, training=False), f"{name} 的输出")
    except Exception as exc:
        if in_channels != filters:
            fail(
                f"输入 {in_channels} 个通道、filters={filters} 时出错 ({type(exc).__name__})："
                "通道数不同时捷径要先经过 1×1 卷积 (投影) 才能相加"
            )
        fail(f"调用 {name} 时出错：{type(exc).__name__}: {str(exc)[:300]}")
    if out.shape != (2, 4, 4, filters):
        fail(f"输出形状应为 (2, 4, 4, {filters})，实际是 {out.shape}：卷积要用 padding='same'")
    if not block.weights:
        fail(
            "调用之后仍没有任何权重：子层要赋值给 self 的属性（如 self.conv1 = ...），"
            "Keras 才会追踪它们的权重"
        )
    kernels3 = [w for w in block.trainable_weights if tuple(w.shape)[:2] == (3, 3)]
    kernels1 = [w for w in block.trainable_weights if tuple(w.shape)[:2] == (1, 1)]
    others = [w for w in block.trainable_weights if len(w.shape) == 1]
    need_proj = in_channels != filters
    if len(kernels3) != 2:
        fail(f"应有 2 个 3×3 卷积核，实际找到 {len(kernels3)} 个：主路径是两个 3×3 卷积")
    if len(kernels1) != int(need_proj):
        if need_proj:
            fail("通道数不同时缺少 1×1 投影卷积")
        fail(
            f"输入通道 ({in_channels}) 与 filters 相同，捷径应直接用输入 (恒等)，不要再加 1×1 卷积："
            "在 build 里根据 input_shape[-1] 决定是否创建投影"
        )
    if len(block.non_trainable_weights) != 4 or len(others) != 4:
        fail(
            f"应正好有 2 个 BatchNormalization 层、卷积不带偏置 (use_bias=False)：实际可训练向量 "
            f"{len(others)} 个、不可训练权重 {len(block.non_trainable_weights)} 个"
        )
    if kernels1 and tuple(kernels1[0].shape) != (1, 1, in_channels, filters):
        fail(
            f"投影卷积核的形状应为 (1, 1, {in_channels}, {filters})，实际是 {tuple(kernels1[0].shape)}"
        )
    return block, x


def _matches_summary(out: np.ndarray, expected) -> bool:
    means, pixel_sums = expected
    return out.shape == (2, 4, 4, 8) and (
        _close(out.mean(axis=(0, 1, 2)), means, 1e-4) and _close(out.sum(axis=3), pixel_sums, 1e-3)
    )


def check_residual_block(block_cls) -> None:
    """Exercise 3.3: conv-BN-ReLU-conv-BN + shortcut (projected when channels differ), ReLU.

    Visible cases: ``filters=8`` on 3 channels (outputs compared with stored values, weights
    fixed by the check) and ``filters=5`` on 5 channels (structure only).
    """
    import keras
    import tensorflow as tf

    name = "ResidualBlock"
    block, x = _residual_structure(block_cls, 8, 3, name)
    _residual_structure(block_cls, 5, 5, name)
    values = _residual_values(3, 8, _RESIDUAL_SEED)
    _fill_residual(block, values)
    out = _array(block(x, training=False), f"{name} 的输出")
    if not _matches_summary(out, _RESIDUAL_EXPECTED[False]):
        fail(
            "training=False 的输出与预期结果不同（权重已由检查设定）：顺序应为 conv→BN→ReLU→conv→BN，"
            "加上捷径之后再 ReLU"
        )
    _fill_residual(block, values)
    out_train = _array(block(x, training=True), f"{name} 的输出")
    if not _matches_summary(out_train, _RESIDUAL_EXPECTED[True]):
        if _close(out_train, out, 1e-5):
            fail(
                "training=True 与 training=False 的输出相同：BatchNormalization 没有收到 training，"
                "是否在子层调用里写死了 training=False？"
            )
        fail("training=True 的输出不对：BN 层要收到同一个 training 参数")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(block(x, training=True) ** 2)
    grads = tape.gradient(loss, block.trainable_weights)
    if any(g is None for g in grads):
        fail("有可训练权重没有梯度：所有子层都要参与 call 的计算")
    clone = _round_trip(block, name, {"filters": 8})
    inputs = keras.Input(shape=(4, 4, 3))
    try:
        features = clone(inputs)
        model = keras.Model(
            inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
        )
    except Exception as exc:
        fail(f"{name} 不能用在 Functional 模型里：{type(exc).__name__}: {str(exc)[:200]}")
    _fill_residual(clone, values)
    if not _matches_summary(
        _array(clone(x, training=False), "重建层的输出"), _RESIDUAL_EXPECTED[False]
    ):
        fail("from_config 重建并设定同样的权重之后输出不同：检查 get_config")
    if model.predict(x, verbose=0).shape != (2, 2):
        fail("放进 Functional 模型后输出形状不对")
    passed()


# ---------------------------------------------------------------- exercise 3.4

#: The visible case: TwoBranchNet(num_classes=3, width=6, dropout=0.5) on 1-channel 7x7 images,
#: weights fixed by shape from _BRANCH_SEED (both branch biases share their values).
_BRANCH_SEED = 3404
_BRANCH_X = np.random.default_rng(34).normal(size=(5, 7, 7, 1)).astype("float32")
_BRANCH_PARAMS = 255  # trainable parameters of that model
_BRANCH_EXPECTED = np.array(
    [
        [0.0941, 0.21914, 0.53232],
        [0.21613, 0.26555, 0.5285],
        [0.17414, 0.2514, 0.57338],
        [0.12367, 0.11602, 0.5007],
        [0.1576, 0.29693, 0.54976],
    ]
)
#: What the branches concatenated in the wrong order ([5x5, 3x3]) give instead.
_BRANCH_SWAPPED = np.array(
    [
        [0.10897, 0.00338, 0.41507],
        [0.2665, 0.10378, 0.46694],
        [0.22052, 0.01035, 0.485],
        [0.17731, -0.06096, 0.42686],
        [0.38978, 0.02696, 0.38888],
    ]
)


def _branch_values(channels: int, width: int, classes: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    values = {
        "kernel3": rng.normal(scale=0.4, size=(3, 3, channels, width)),
        "kernel5": rng.normal(scale=0.25, size=(5, 5, channels, width)),
        "bias": rng.normal(scale=0.2, size=width),
        "dense": rng.normal(scale=0.5, size=(2 * width, classes)),
        "dense_bias": rng.normal(scale=0.2, size=classes),
    }
    return {k: v.astype("float32") for k, v in values.items()}


def _fill_branch(model, values: dict) -> None:
    _assign(model.trainable_weights, {v.shape: v for v in values.values()})


def check_branch_model(model_cls) -> None:
    """Exercise 3.4: a two-branch subclassed model with the right maths, flags, config and fit
    (visible case: ``num_classes=3, width=6, dropout=0.5`` on 1-channel images)."""
    import keras

    name = "TwoBranchNet"
    num_classes, width, dropout = 3, 6, 0.5
    model = _make(model_cls, name, num_classes=num_classes, width=width, dropout=dropout)
    x = _BRANCH_X
    out = _array(_call(model, x, name, training=False), f"{name} 的输出")
    if out.shape != (5, num_classes):
        fail(f"输出形状应为 (5, {num_classes})，实际是 {out.shape}：最后一层是 Dense(num_classes)")
    n_params = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    if n_params != _BRANCH_PARAMS:
        fail(
            f"可训练参数应有 {_BRANCH_PARAMS} 个，实际有 {n_params} 个：两个分支是 3×3 和 5×5 的 "
            "Conv2D(width, padding='same', activation='relu')，拼接后全局平均池化，再接 Dense"
        )
    values = _branch_values(1, width, num_classes, _BRANCH_SEED)
    _fill_branch(model, values)
    out = _array(_call(model, x, name, training=False), f"{name} 的输出")
    if not _close(out, _BRANCH_EXPECTED, 1e-4):
        if _close(out, _BRANCH_SWAPPED, 1e-4):
            fail("拼接顺序不对：应为 [3×3 分支, 5×5 分支]")
        if _close(out.sum(axis=1), np.ones(len(out)), 1e-4) and out.min() >= 0:
            fail("输出每行和为 1，像是加了 softmax：模型应输出 logits（不加 softmax）")
        fail(
            "training=False 的输出与预期结果不同（权重已由检查设定）：检查 ReLU、padding='same'、"
            "拼接顺序 [3×3 分支, 5×5 分支]、GlobalAveragePooling2D，以及输出是 logits（不加 softmax）"
        )
    drop_out = _array(model(x, training=True), f"{name} 的输出")
    if _close(drop_out, out, 1e-6):
        fail("training=True 时输出与推理时相同：Dropout(dropout) 要放在池化之后、Dense 之前")
    clone = _round_trip(
        model, name, {"num_classes": num_classes, "width": width, "dropout": dropout}
    )
    _call(clone, x, name, training=False)
    try:
        _fill_branch(clone, values)
    except Exception as exc:
        fail(f"from_config 重建的模型权重形状不同：{exc}")
    if not _close(_array(clone(x, training=False), "重建模型的输出"), out, 1e-5):
        fail("from_config 重建并设定同样的权重之后输出不同：检查 get_config 是否包含 width")

    # compile/fit on a tiny task: horizontal vs vertical stripes (GAP keeps the texture).
    keras.utils.set_random_seed(34)
    fit_model = _make(model_cls, name, num_classes=2, width=4, dropout=0.0)
    n = 32
    labels = np.arange(n) % 2
    grid = np.indices((7, 7))
    images = np.stack([np.sin(grid[label] * 2.5 + i) for i, label in enumerate(labels)])
    images = images[..., None].astype("float32")
    fit_model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    try:
        history = fit_model.fit(images, labels, epochs=15, batch_size=16, verbose=0)
    except Exception as exc:
        fail(f"compile/fit 失败：{type(exc).__name__}: {str(exc)[:300]}")
    losses = [float(v) for v in history.history["loss"]]
    if not losses[-1] < 0.7 * losses[0]:
        fail(f"fit 之后损失没有下降 ({losses[0]:.3f} → {losses[-1]:.3f})：输出应是 logits")
    passed()
