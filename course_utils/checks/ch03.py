"""Checks for chapter 03 exercises (subclassing layers and models).

Each check builds fresh instances of the student's class with the arguments it is given,
computes the expected result itself (NumPy or plain TensorFlow ops on the layer's own
weights), compares plain data and raises :class:`~course_utils.checks.CheckFailed` with a
Chinese message naming the likely mistake: weights created in ``__init__`` instead of
``build``, a ``training`` flag ignored, sub-layers that are not tracked, a ``get_config``
that forgets a constructor argument, ``__init__`` without ``**kwargs``, ...
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


def check_prelu_layer(layer_cls, alpha_init: float = 0.25, input_dim: int = 4) -> bool:
    """Exercise 3.1: a PReLU with one trainable slope per feature, created in ``build``."""
    import tensorflow as tf

    name = "LearnablePReLU"
    layer = _make(layer_cls, name, alpha_init=alpha_init)
    if layer.weights:
        fail(
            f"{name} 在第一次调用之前就有 {len(layer.weights)} 个权重：权重要在 build(input_shape) "
            "里用 self.add_weight 创建，那时才知道输入的特征数"
        )
    rng = np.random.default_rng(31 + input_dim)
    x = rng.normal(size=(6, input_dim)).astype("float32")
    out = _array(_call(layer, x, name), f"{name} 的输出")
    if len(layer.weights) != 1:
        fail(f"{name} 应正好有 1 个权重 (alpha)，实际有 {len(layer.weights)} 个")
    alpha = layer.weights[0]
    if tuple(alpha.shape) != (input_dim,):
        fail(
            f"alpha 的形状应为 ({input_dim},)（每个特征一个斜率，取自 input_shape[-1]），"
            f"实际是 {tuple(alpha.shape)}"
        )
    if not layer.trainable_weights:
        fail("alpha 不可训练：add_weight(..., trainable=True)")
    a0 = np.asarray(alpha, dtype="float64")
    if not _close(a0, np.full(input_dim, alpha_init), 1e-6):
        fail(
            f"alpha 的初始值应全为 alpha_init={alpha_init}，实际是 {np.round(a0, 4).tolist()}："
            "用 initializer=keras.initializers.Constant(alpha_init)"
        )
    new_alpha = np.linspace(-0.5, 1.5, input_dim).astype("float32")
    alpha.assign(new_alpha)
    out = _array(_call(layer, x, name), f"{name} 的输出")
    expected = np.where(x > 0, x, new_alpha * x)
    if not _close(out, expected, 1e-5):
        if _close(out, np.where(x > 0, new_alpha * x, x), 1e-5):
            fail("斜率 alpha 用在了正数部分：PReLU 对 x > 0 原样输出，对 x <= 0 输出 alpha * x")
        fail("输出不对：应为 x (x > 0) 或 alpha * x (x <= 0)，alpha 按最后一维逐特征作用")
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))
    grad = tape.gradient(loss, layer.trainable_weights)
    if grad[0] is None:
        fail("对 alpha 的梯度是 None：call 里要直接用 self.alpha 参与计算，不要转成 NumPy")
    clone = _round_trip(layer, name, {"alpha_init": alpha_init})
    _call(clone, x, name)
    clone.set_weights(layer.get_weights())
    if not _close(_array(clone(x), "重建层的输出"), out, 1e-6):
        fail("from_config 重建并 set_weights 之后输出不同：检查 get_config 与 __init__ 的参数")
    return passed()


# ---------------------------------------------------------------- exercise 3.2


def check_noise_layer(layer_cls, stddev: float = 0.5) -> bool:
    """Exercise 3.2: Gaussian noise only when ``training`` is true, fresh in every compiled step."""
    import keras
    import tensorflow as tf

    name = "TrainingNoise"
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
    return passed()


# ---------------------------------------------------------------- exercise 3.3


def _conv(x, kernel):
    import tensorflow as tf

    return tf.nn.conv2d(x, np.asarray(kernel, "float32"), strides=1, padding="SAME").numpy()


def _bn(h, training: bool, eps: float = 1e-3):
    if training:
        mean, var = h.mean(axis=(0, 1, 2)), h.var(axis=(0, 1, 2))
        return (h - mean) / np.sqrt(var + eps)
    return h / np.sqrt(1.0 + eps)


def _residual_reference(x, k1, k2, proj, training: bool):
    h = np.maximum(_bn(_conv(x, k1), training), 0.0)
    h = _bn(_conv(h, k2), training)
    shortcut = x if proj is None else _conv(x, proj)
    return np.maximum(h + shortcut, 0.0)


def check_residual_block(block_cls, filters: int = 8, in_channels: int = 3) -> bool:
    """Exercise 3.3: conv-BN-ReLU-conv-BN + shortcut (projected when channels differ), ReLU."""
    import keras
    import tensorflow as tf

    name = "ResidualBlock"
    block = _make(block_cls, name, filters=filters)
    if block.weights:
        fail(f"{name} 在第一次调用前就有权重：投影捷径取决于输入通道数，要在 build 里创建")
    rng = np.random.default_rng(33 + filters + in_channels)
    x = rng.normal(size=(4, 5, 5, in_channels)).astype("float32")
    try:
        out = _array(block(x, training=False), f"{name} 的输出")
    except Exception as exc:
        if in_channels != filters:
            fail(
                f"输入 {in_channels} 个通道、filters={filters} 时出错 ({type(exc).__name__})："
                "通道数不同时捷径要先经过 1×1 卷积 (投影) 才能相加"
            )
        fail(f"调用 {name} 时出错：{type(exc).__name__}: {str(exc)[:300]}")
    if out.shape != (4, 5, 5, filters):
        fail(f"输出形状应为 (4, 5, 5, {filters})，实际是 {out.shape}：卷积要用 padding='same'")
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
    n_bias = len(others) - 4
    if len(block.non_trainable_weights) != 4 or n_bias != 0:
        fail(
            f"应正好有 2 个 BatchNormalization 层、卷积不带偏置 (use_bias=False)：实际可训练向量 "
            f"{len(others)} 个、不可训练权重 {len(block.non_trainable_weights)} 个"
        )
    proj = np.asarray(kernels1[0]) if kernels1 else None
    if proj is not None and tuple(proj.shape) != (1, 1, in_channels, filters):
        fail(f"投影卷积核的形状应为 (1, 1, {in_channels}, {filters})，实际是 {proj.shape}")

    def reference(training):
        first, second = (np.asarray(k) for k in kernels3)
        orders = [(first, second), (second, first)]
        return [
            _residual_reference(x, a, b, proj, training)
            for a, b in orders
            if a.shape[2] == in_channels and b.shape[2] == filters
        ]

    if not any(_close(out, r, 1e-4) for r in reference(False)):
        fail(
            "training=False 的输出与参考实现不同：顺序应为 conv→BN→ReLU→conv→BN，"
            "加上捷径之后再 ReLU"
        )
    out_train = _array(block(x, training=True), f"{name} 的输出")
    if not any(_close(out_train, r, 1e-3) for r in reference(True)):
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
    clone = _round_trip(block, name, {"filters": filters})
    inputs = keras.Input(shape=(5, 5, in_channels))
    try:
        features = clone(inputs)
        model = keras.Model(
            inputs, keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(features))
        )
    except Exception as exc:
        fail(f"{name} 不能用在 Functional 模型里：{type(exc).__name__}: {str(exc)[:200]}")
    clone.set_weights(block.get_weights())
    now = _array(block(x, training=False), f"{name} 的输出")  # BN statistics moved meanwhile
    if not _close(_array(clone(x, training=False), "重建层的输出"), now, 1e-5):
        fail("from_config 重建并 set_weights 之后输出不同：检查 get_config")
    if model.predict(x, verbose=0).shape != (4, 2):
        fail("放进 Functional 模型后输出形状不对")
    return passed()


# ---------------------------------------------------------------- exercise 3.4


def _branch_reference(x, weights):
    """Reference output from the model's (kernel, bias) pairs, in ``trainable_weights`` order."""
    pairs = {}
    for kernel, bias in zip(weights[:-1], weights[1:]):
        if kernel.ndim > 1 and bias.ndim == 1 and bias.shape[0] == kernel.shape[-1]:
            key = kernel.shape[0] if kernel.ndim == 4 else "dense"
            pairs[key] = (kernel, bias)
    if set(pairs) != {3, 5, "dense"}:
        return None
    h3 = np.maximum(_conv(x, pairs[3][0]) + pairs[3][1], 0.0)
    h5 = np.maximum(_conv(x, pairs[5][0]) + pairs[5][1], 0.0)
    pooled = np.concatenate([h3, h5], axis=-1).mean(axis=(1, 2))
    return pooled @ pairs["dense"][0] + pairs["dense"][1]


def check_branch_model(
    model_cls,
    num_classes: int = 3,
    width: int = 6,
    dropout: float = 0.5,
    channels: int = 1,
    fit: bool = True,
) -> bool:
    """Exercise 3.4: a two-branch subclassed model with the right maths, flags, config and fit.

    ``fit=False`` skips the (slower) compile/fit part.
    """
    import keras

    name = "TwoBranchNet"
    model = _make(model_cls, name, num_classes=num_classes, width=width, dropout=dropout)
    rng = np.random.default_rng(34 + width)
    x = rng.normal(size=(5, 7, 7, channels)).astype("float32")
    out = _array(_call(model, x, name, training=False), f"{name} 的输出")
    if out.shape != (5, num_classes):
        fail(f"输出形状应为 (5, {num_classes})，实际是 {out.shape}：最后一层是 Dense(num_classes)")
    expected_params = (
        (9 + 25) * channels * width + 2 * width + 2 * width * num_classes + num_classes
    )
    n_params = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    if n_params != expected_params:
        fail(
            f"可训练参数应有 {expected_params} 个，实际有 {n_params} 个：两个分支是 3×3 和 5×5 的 "
            "Conv2D(width, padding='same', activation='relu')，拼接后全局平均池化，再接 Dense"
        )
    weights = [np.asarray(w, "float64") for w in model.trainable_weights]
    ref = _branch_reference(x, weights)
    if ref is None or not _close(out, ref, 1e-4):
        fail(
            "training=False 的输出与参考实现不同：检查 ReLU、padding='same'、拼接顺序 "
            "[3×3 分支, 5×5 分支]、GlobalAveragePooling2D，以及输出是 logits（不加 softmax）"
        )
    if dropout > 0:
        drop_out = _array(model(x, training=True), f"{name} 的输出")
        if _close(drop_out, out, 1e-6):
            fail("training=True 时输出与推理时相同：Dropout(dropout) 要放在池化之后、Dense 之前")
    clone = _round_trip(
        model, name, {"num_classes": num_classes, "width": width, "dropout": dropout}
    )
    _call(clone, x, name, training=False)
    try:
        clone.set_weights(model.get_weights())
    except Exception as exc:
        fail(f"from_config 重建的模型权重形状不同：{exc}")
    if not _close(_array(clone(x, training=False), "重建模型的输出"), out, 1e-5):
        fail("from_config 重建并 set_weights 之后输出不同")
    if not fit:
        return passed()

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
    return passed()
