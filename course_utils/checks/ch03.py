"""Checks for chapter 03 exercises (subclassing layers and models).

Each check builds fresh instances of the student's class for ONE fixed visible case, sets
their weights to fixed values (by shape and name: the helpers here only assign, they compute
nothing), and compares the outputs with expected values stored below (computed once from the
instructor's solution) or with properties (shapes, weight counts, noise statistics). It
raises :class:`~course_utils.checks.CheckFailed` with a Chinese message naming the likely
mistake: weights created in ``__init__`` instead of ``build``, a ``training`` flag ignored or
hard-coded, a moving statistic updated the wrong way round,
sub-layers that are not tracked, a ``get_config`` that forgets a constructor argument,
``__init__`` without ``**kwargs``, ... No function here computes an exercise's answer: the
hidden tests of the notebook hold their own references.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import CheckFailed, all_close, fail, passed, to_numpy

__all__ = [
    "check_bilinear_layer",
    "check_running_center",
    "check_residual_block",
    "check_dense_block",
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

#: The visible case: Bilinear(units=2) on a (2, 3) and b (2, 4); the check then sets the kernel
#: to _BILINEAR_KERNEL (fixed numbers from a seeded generator) and the bias to _BILINEAR_BIAS.
_BILINEAR_A = np.array([[1.0, -2.0, 0.5], [0.0, 1.5, -1.0]], dtype="float32")
_BILINEAR_B = np.array([[2.0, 0.0, -1.0, 1.0], [-0.5, 1.0, 1.0, 3.0]], dtype="float32")
_BILINEAR_KERNEL = np.round(np.random.default_rng(3101).normal(size=(3, 4, 2)), 2).astype("float32")
_BILINEAR_BIAS = np.array([0.5, -1.0], dtype="float32")
_BILINEAR_EXPECTED = np.array([[5.155, 4.98], [-7.16, 1.0775]])


def check_bilinear_layer(layer_cls) -> None:
    """Exercise 3.1: a bilinear layer on two inputs, its kernel shaped in ``build`` from the list
    of both input shapes (visible case: ``units=2``, 3 and 4 features)."""
    import keras
    import tensorflow as tf

    name = "Bilinear"
    a, b = _BILINEAR_A, _BILINEAR_B
    layer = _make(layer_cls, name, units=2)
    if layer.weights:
        fail(
            f"{name} 在第一次调用之前就有 {len(layer.weights)} 个权重：权重要在 build(input_shape) "
            "里创建，那时才知道两个输入各有几个特征"
        )
    out = _call(layer, [a, b], name)
    if len(layer.weights) != 2:
        fail(f"{name} 应正好有 2 个权重（核 kernel 和偏置 bias），实际有 {len(layer.weights)} 个")
    shapes = sorted((tuple(int(d) for d in w.shape) for w in layer.weights), key=len)
    if shapes[0] != (2,):
        fail(f"偏置的形状应为 (units,) = (2,)，实际是 {shapes[0]}")
    if shapes[1] != (3, 4, 2):
        if shapes[1] == (4, 3, 2):
            fail(
                "核的形状是 (4, 3, 2)：顺序应为 (a 的特征数, b 的特征数, units) = (3, 4, 2)，"
                "build 收到的 input_shape 是 [a 的形状, b 的形状]"
            )
        fail(
            f"核的形状应为 (3, 4, 2)，实际是 {shapes[1]}：build 收到的 input_shape 是两个形状的列表 "
            "[a 的形状, b 的形状]，核是 (a 的特征数, b 的特征数, units)"
        )
    if len(layer.trainable_weights) != 2:
        fail("核和偏置都应可训练")
    if tuple(np.shape(out)) != (2, 2):
        fail(f"输出形状应为 (批大小, units) = (2, 2)，实际是 {tuple(np.shape(out))}")
    for weight in layer.weights:
        weight.assign(_BILINEAR_BIAS if len(weight.shape) == 1 else _BILINEAR_KERNEL)
    out = _array(_call(layer, [a, b], name), f"{name} 的输出")
    if not _close(out, _BILINEAR_EXPECTED, 1e-4):
        if _close(out + _BILINEAR_BIAS, _BILINEAR_EXPECTED, 1e-4):
            fail("输出少了偏置：最后要加上 self.bias")
        fail(
            "输出不对（核与偏置已由检查设定）：out[n, k] = Σ_i Σ_j a[n, i] · W[i, j, k] · b[n, j]"
            ' + bias[k]，例如 keras.ops.einsum("bi,ijk,bj->bk", a, W, b)'
        )
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer([a, b]))
    if any(g is None for g in tape.gradient(loss, layer.trainable_weights)):
        fail("有权重的梯度是 None：call 里要直接用 self 的权重参与计算，不要转成 NumPy")
    in_a, in_b = keras.Input(shape=(3,)), keras.Input(shape=(4,))
    try:
        model = keras.Model([in_a, in_b], _make(layer_cls, name, units=5)([in_a, in_b]))
    except CheckFailed:
        raise
    except Exception as exc:
        fail(f"{name} 不能用在两个输入的 Functional 模型里：{type(exc).__name__}: {str(exc)[:200]}")
    if tuple(model.output.shape) != (None, 5):
        fail(f"Functional 模型的输出形状应为 (None, 5)，实际是 {tuple(model.output.shape)}")
    clone = _round_trip(layer, name, {"units": 2})
    _call(clone, [a, b], name)
    clone.set_weights(layer.get_weights())
    if not _close(_array(clone([a, b]), "重建层的输出"), out, 1e-6):
        fail("from_config 重建并复制权重之后输出不同：检查 get_config 与 __init__ 的参数")
    passed()


# ---------------------------------------------------------------- exercise 3.2

#: The visible case: RunningCenter(momentum=0.8); one training batch, one inference batch.
_CENTER_X1 = np.array(
    [[1.0, 2.0, -1.0], [3.0, 0.0, 1.0], [-2.0, 4.0, 0.0], [2.0, 2.0, 4.0]], dtype="float32"
)
_CENTER_X2 = np.array([[0.5, 1.0, 2.0], [1.0, -1.0, 0.0]], dtype="float32")
_CENTER_TRAIN = np.array([[0.0, 0.0, -2.0], [2.0, -2.0, 0.0], [-3.0, 2.0, -1.0], [1.0, 0.0, 3.0]])
_CENTER_MOVING = np.array([0.2, 0.4, 0.2])  # after that one training batch
_CENTER_SWAPPED = np.array([0.8, 1.6, 0.8])  # the same with momentum and 1 - momentum swapped
_CENTER_INFERENCE = np.array([[0.3, 0.6, 1.8], [0.8, -1.4, -0.2]])
_CENTER_MOVING_GRAPH = np.array([0.488, 0.976, 0.488])  # after two more batches in tf.function
#: Images (2, 2, 2, 3): the per-channel mean over batch, height and width.
_CENTER_X4 = (np.arange(24, dtype="float32").reshape(2, 2, 2, 3) ** 1.5 / 10).astype("float32")
_CENTER_MEAN4 = np.array([3.98948, 4.45029, 4.94175])


def _moving(layer, name: str) -> np.ndarray:
    return _array(layer.non_trainable_weights[0], f"{name} 的滑动均值")


def check_running_center(layer_cls) -> None:
    """Exercise 3.2: subtract the batch mean and update a moving mean when training, subtract
    the moving mean at inference (visible case: ``momentum=0.8``, 3 features, then images)."""
    import tensorflow as tf

    name = "RunningCenter"
    layer = _make(layer_cls, name, momentum=0.8)
    if layer.weights:
        fail(f"{name} 在第一次调用之前就有权重：滑动均值的长度取决于输入，要在 build 里创建")
    out = _array(_call(layer, _CENTER_X1, name, training=True), f"{name} 的输出")
    if layer.trainable_weights:
        fail(
            f"{name} 有 {len(layer.trainable_weights)} 个可训练权重：滑动均值不是靠梯度学的，"
            "add_weight(..., trainable=False)"
        )
    if len(layer.non_trainable_weights) != 1 or tuple(layer.non_trainable_weights[0].shape) != (3,):
        fail("应正好有 1 个不可训练权重 moving_mean，形状 (特征数,) = (3,)")
    if out.shape != _CENTER_X1.shape:
        fail(f"输出形状应为 {_CENTER_X1.shape}，实际是 {out.shape}")
    moving = _moving(layer, name)
    if not _close(out, _CENTER_TRAIN, 1e-5):
        if _close(out, _CENTER_X1 - _CENTER_MOVING, 1e-5) or _close(out, _CENTER_X1, 1e-5):
            fail("training=True 时减去的是滑动均值：训练时要减去本批次的均值 (每个特征一个)")
        fail(
            "training=True 的输出不对：每个特征减去本批次在该特征上的均值 (对除最后一维外的轴求均值)"
        )
    if not _close(moving, _CENTER_MOVING, 1e-5):
        if _close(moving, _CENTER_SWAPPED, 1e-5):
            fail(
                "滑动均值更新反了：新值 = momentum × 旧值 + (1 − momentum) × 批次均值 "
                "(momentum=0.8 时第一批之后是 0.2 × 批次均值)"
            )
        if _close(moving, np.zeros(3), 1e-7):
            fail("训练之后滑动均值仍是 0：用 self.moving_mean.assign(...) 更新它")
        fail(
            f"一批训练之后滑动均值应为 {_CENTER_MOVING.tolist()}，实际是 {np.round(moving, 4).tolist()}"
        )
    for kwargs, label in (({"training": False}, "training=False"), ({}, "不传 training")):
        got = _array(_call(layer, _CENTER_X2, name, **kwargs), f"{name} 的输出")
        if not _close(got, _CENTER_INFERENCE, 1e-5):
            if _close(got, _CENTER_X2 - _CENTER_X2.mean(axis=0), 1e-5):
                fail(f"{label} 时减去的是批次均值：推理时要减去滑动均值 moving_mean")
            fail(f"{label} 时输出应为 x − moving_mean")
        if not _close(_moving(layer, name), _CENTER_MOVING, 1e-6):
            fail(f"{label} 时滑动均值被改变了：只有训练时才更新")
    step = tf.function(lambda t: layer(t, training=True))
    try:
        step(tf.constant(_CENTER_X1))
        step(tf.constant(_CENTER_X1))
        in_graph = _moving(layer, name)
    except Exception as exc:
        in_graph = None
        reason = f"{type(exc).__name__}: {str(exc)[:120]}"
    if in_graph is None or not _close(in_graph, _CENTER_MOVING_GRAPH, 1e-5):
        if in_graph is None:
            fail(
                f"在 tf.function（fit 就是这样运行的）里调用出错 ({reason})：计算要用 keras.ops，"
                "不要用 NumPy；滑动均值用 self.moving_mean.assign(...) 更新"
            )
        fail(
            "在 tf.function（fit 就是这样运行的）里训练两步之后滑动均值不对：要用 keras.ops 计算、"
            "用 self.moving_mean.assign(...) 更新，不要用 NumPy 或重新给属性赋值"
        )
    images = _make(layer_cls, name, momentum=0.8)
    try:
        out4 = _array(images(_CENTER_X4, training=True), f"{name} 的输出")
    except CheckFailed:
        raise
    except Exception as exc:
        fail(
            f"输入是图像 (批次, 高, 宽, 通道) 时出错 ({type(exc).__name__})：每个通道对批次、高、宽"
            "三个轴一起求均值，即除最后一维外的所有轴"
        )
    if out4.shape != _CENTER_X4.shape or not _close(out4, _CENTER_X4 - _CENTER_MEAN4, 1e-4):
        fail(
            "输入是图像 (批次, 高, 宽, 通道) 时不对：每个通道对批次、高、宽三个轴一起求均值，"
            "即除最后一维外的所有轴"
        )
    _round_trip(layer, name, {"momentum": 0.8})
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
            "Keras 才会跟踪它们的权重"
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
        fail("training=True 的输出不对：两个批归一化层 (BN) 都要收到同一个 training 参数")
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

#: The visible case: DenseBlock(units=3) on 6 samples of 4 features; the check sets every
#: weight (kernel and bias by shape, the batch normalisation's by name) to these values.
_BLOCK_X = np.random.default_rng(3404).normal(size=(6, 4)).astype("float32")
_BLOCK_RNG = np.random.default_rng(3405)
_BLOCK_VALUES = {
    "kernel": _BLOCK_RNG.normal(scale=0.6, size=(4, 3)).astype("float32"),
    "bias": np.array([0.1, -0.2, 0.3], dtype="float32"),
    "gamma": np.array([1.0, 0.5, 2.0], dtype="float32"),
    "beta": np.array([0.2, 0.0, -0.1], dtype="float32"),
    "moving_mean": np.array([0.3, -0.2, 0.1], dtype="float32"),
    "moving_variance": np.array([1.5, 0.8, 2.0], dtype="float32"),
}
_BLOCK_INFERENCE = np.array(
    [[0.09719, 0.0, 0.0], [0.03151, 0.0, 0.77754], [0.15603, 0.0, 0.0],
     [0.0, 0.0, 0.38169], [0.11231, 0.34437, 2.39871], [0.0, 0.0, 2.58659]]
)  # fmt: skip
_BLOCK_TRAINING = np.array(
    [[0.74841, 0.0, 0.0], [0.32742, 0.05649, 0.07038], [1.12563, 0.0, 0.0],
     [0.00436, 0.10766, 0.0], [0.84533, 0.93229, 2.21962], [0.0, 0.0, 2.46869]]
)  # fmt: skip
_BLOCK_MOVING_MEAN = np.array([0.29769, -0.20407, 0.1053])  # after that one training call


def _fill_block(block, values: dict) -> None:
    for weight in block.weights:
        name = weight.name.split("/")[-1]
        if name in values and tuple(weight.shape) == values[name].shape:
            weight.assign(values[name])


def check_dense_block(block_cls) -> None:
    """Exercise 3.4 (find and fix): Dense -> batch normalisation -> ReLU -> Dropout with every
    weight tracked, ``training`` reaching both, and a config that rebuilds it (visible case:
    ``units=3`` on 4 features; ``rate=0.0`` for the numbers, ``rate=0.5`` for the Dropout)."""
    name = "DenseBlock"
    x = _BLOCK_X
    block = _make(block_cls, name, units=3, rate=0.0)
    first = _array(_call(block, x, name, training=False), f"{name} 的输出")
    if first.shape != (6, 3):
        fail(f"输出形状应为 (6, 3)，实际是 {first.shape}")
    kernels = [w for w in block.trainable_weights if tuple(w.shape) == (4, 3)]
    if not kernels:
        fail(
            "可训练权重里没有 Dense 的核 (4, 3)：Dense 在 call 里临时创建，不会被跟踪，"
            "优化器永远不会更新它。在 __init__ 里创建并赋给 self"
        )
    again = _array(block(x, training=False), f"{name} 的输出")
    if not _close(first, again, 1e-6):
        fail("同一个输入推理两次，输出不同：每次调用都新建了一个随机初始化的层")
    if len(block.trainable_weights) != 4 or len(block.non_trainable_weights) != 2:
        fail(
            f"应有 4 个可训练权重 (核、偏置、gamma、beta) 和 2 个不可训练权重 (滑动均值和方差)，"
            f"实际是 {len(block.trainable_weights)} 个和 {len(block.non_trainable_weights)} 个"
        )
    _fill_block(block, _BLOCK_VALUES)
    inference = _array(block(x, training=False), f"{name} 的输出")
    if not _close(inference, _BLOCK_INFERENCE, 1e-4):
        fail("推理时的输出不对（权重已由检查设定）：顺序是 Dense → 批归一化 → ReLU → Dropout")
    trained = _array(block(x, training=True), f"{name} 的输出")
    if _close(trained, inference, 1e-5):
        fail(
            "training=True 与推理时的输出相同：批归一化没有收到 training（是不是写死了 "
            "training=False？），训练时它应当用本批次的均值和方差"
        )
    if not _close(trained, _BLOCK_TRAINING, 1e-4):
        fail("training=True 的输出不对：批归一化和 Dropout 都要收到 call 的 training 参数")
    moving = _array([w for w in block.non_trainable_weights if "mean" in w.name][0], "滑动均值")
    if not _close(moving, _BLOCK_MOVING_MEAN, 1e-4):
        fail("训练模式调用一次之后，批归一化的滑动均值没有按预期更新：training 没有传到批归一化")
    noisy = _make(block_cls, name, units=3, rate=0.5)
    big = np.tile(x, (50, 1))
    _call(noisy, big, name, training=False)
    _fill_block(
        noisy,
        {**_BLOCK_VALUES, "gamma": np.full(3, 0.1, "float32"), "beta": np.full(3, 5.0, "float32")},
    )
    dropped = float((_array(noisy(big, training=True), f"{name} 的输出") == 0).mean())
    if not 0.35 < dropped < 0.65:
        fail(
            f"rate=0.5 时训练模式只有 {dropped:.0%} 的输出被置零：Dropout 要收到 training，"
            "并且用 rate 构造"
        )
    if (_array(noisy(big, training=False), f"{name} 的输出") == 0).any():
        fail("推理时有输出被置零：Dropout 只在训练时起作用")
    _round_trip(noisy, name, {"units": 3, "rate": 0.5})
    passed()


# ---------------------------------------------------------------- exercise 3.5

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
    """Exercise 3.5: a two-branch subclassed model with the right maths, flags, config and fit
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
