"""Checks for chapter 00 exercises (tensors, activations and automatic differentiation).

Each check calls the student's function on fixed inputs, compares the result with expected
values stored here for exactly those inputs and, when the answer is wrong, names the most likely
mistake in a short Chinese sentence. Nothing here computes an exercise's answer for other
inputs: the grade comes from the hidden tests, whose reference side lives in the instructor
notebook only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks._core import _ensure_close, _ensure_shape, fail, passed, to_numpy

__all__ = [
    "check_hessian_vector_product",
    "check_minibatch_epoch",
    "check_momentum_step",
    "check_numeric_grad",
    "check_softmax",
]

#: TensorFlow op types behind every built-in softmax: tf.nn.softmax (= tf.math.softmax),
#: keras.activations.softmax, keras.ops.softmax, keras.layers.Softmax and the log_softmax
#: variants all end in one of these kernels.
_BUILTIN_SOFTMAX_OPS = frozenset({"Softmax", "LogSoftmax"})


def _close(a: Any, b: Any, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and np.allclose(a, b, rtol, atol)


def _graph_op_types(graph_def) -> set[str]:
    """Op types of a GraphDef, including the bodies of nested functions."""
    types = {node.op for node in graph_def.node}
    for function in graph_def.library.function:
        types.update(node.op for node in function.node_def)
    return types


def _softmax_ops_called_eagerly(fn: Callable, x: np.ndarray, mask=None) -> set[str]:
    """Run ``fn`` eagerly with the softmax kernels' Python wrappers patched to record calls."""
    import tensorflow as tf
    from tensorflow.python.ops import gen_nn_ops

    called: set[str] = set()
    saved = {name: getattr(gen_nn_ops, name) for name in ("softmax", "log_softmax")}

    def recorder(name, original):
        def wrapper(*args, **kwargs):
            called.add("Softmax" if name == "softmax" else "LogSoftmax")
            return original(*args, **kwargs)

        return wrapper

    try:
        for name, original in saved.items():
            setattr(gen_nn_ops, name, recorder(name, original))
        fn(tf.constant(x)) if mask is None else fn(tf.constant(x), tf.constant(mask))
    except Exception:  # errors are reported by the value checks that follow
        pass
    finally:
        for name, original in saved.items():
            setattr(gen_nn_ops, name, original)
    return called


def _builtin_softmax_ops(fn: Callable, x: np.ndarray, mask=None) -> set[str]:
    """Which built-in softmax kernels ``fn`` runs on ``x`` (and ``mask``, when given): traced as
    a graph when it can be, eagerly (with the kernels' wrappers patched) when it cannot (e.g. it
    calls ``.numpy()``)."""
    import tensorflow as tf

    def call(t):
        return fn(t) if mask is None else fn(t, tf.constant(mask))

    try:
        traced = tf.function(call, autograph=False).get_concrete_function(
            tf.TensorSpec(x.shape, tf.float32)
        )
        used = _graph_op_types(traced.graph.as_graph_def())
    except Exception:
        used = _softmax_ops_called_eagerly(fn, x, mask)
    return used & _BUILTIN_SOFTMAX_OPS


def _call_softmax(fn: Callable, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    try:
        out = fn(tf.constant(x))
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        fail(
            "形状不匹配：reduce_max / reduce_sum 要加 keepdims=True，结果才能按行广播。"
            f"原始错误：{type(exc).__name__}: {str(exc).splitlines()[0]}"
        )
    return to_numpy(out, "softmax 的输出").astype("float64")


# Visible cases and their stored expected values (computed once in float64 and rounded; the
# module holds no function that computes an exercise's answer for other inputs).
_SOFTMAX_CASES = (
    (
        np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype="float32"),
        [[0.090030573, 0.244728471, 0.665240956], [0.333333333, 0.333333333, 0.333333333]],
    ),
    (
        np.array(
            [[2.0, -1.0, 0.5, 0.0], [0.3, 0.2, -2.0, 1.5], [5.0, 4.0, 3.0, 2.0]], dtype="float32"
        ),
        [
            [0.710099923, 0.035353793, 0.15844471, 0.096101574],
            [0.187785911, 0.169915717, 0.018827198, 0.623471174],
            [0.64391426, 0.236882818, 0.087144319, 0.032058603],
        ],
    ),
)
#: softmax([0, 1, 2]): the value of every row of the huge-logit cases below.
_SOFTMAX_012 = [0.090030573, 0.244728471, 0.665240956]


def check_softmax(fn: Callable) -> None:
    """Check a numerically stable, masked softmax over the last axis (chapter 00, ex. 0.1).

    Args:
        fn: the student's ``stable_softmax(logits, mask=None)``; it receives a float32
            ``tf.Tensor`` of shape ``(batch, classes)`` and, in the masked case, a boolean
            ``tf.Tensor`` of the same shape. It is run on fixed small and huge logits without a
            mask, then on :data:`_MASKED_LOGITS` with :data:`_MASK` (a hidden logit of 1000 and a
            row with every position hidden).
    """
    first = _SOFTMAX_CASES[0][0]
    if _builtin_softmax_ops(fn, first):
        fail(
            "调用了内置的 softmax (tf.nn.softmax、tf.math.softmax、keras.activations.softmax、"
            "keras.ops.softmax、keras.layers.Softmax 或 log_softmax)：练习要求自己写出公式，"
            "用 tf.reduce_max、tf.exp 和 tf.reduce_sum。"
        )
    for x, want in _SOFTMAX_CASES:
        out = _call_softmax(fn, x)
        _ensure_shape(out, x.shape, "softmax 的输出")
        if not np.all(np.isfinite(out)):
            fail("输出里有 NaN 或 Inf：是否忘了先减去每一行的最大值？")
        if np.any(out < -1e-7):
            fail("概率不能为负：是否漏掉了 exp？")
        if _close(out.sum(axis=0), np.ones(x.shape[-1])) and not _close(
            out.sum(axis=-1), np.ones(x.shape[0])
        ):
            fail("每一列的和为 1，而不是每一行：softmax 沿错了轴，应沿最后一个轴 (axis=-1)。")
        if not _close(out.sum(axis=-1), np.ones(x.shape[:-1]), atol=1e-5):
            fail("每一行的概率之和应为 1：检查求和的 axis，以及是否用了 keepdims=True。")
        _ensure_close(
            out,
            np.array(want),
            "softmax 的输出",
            rtol=1e-4,
            atol=1e-6,
            hint="和 tf.nn.softmax 的结果不一致。",
        )
    big = np.array([[1000.0, 1001.0, 1002.0]], dtype="float32")
    out = _call_softmax(fn, big)
    if not np.all(np.isfinite(out)):
        fail("logits 很大 (如 1000) 时出现 NaN：exp 溢出了。先减去最大值再取 exp。")
    _ensure_close(out, np.array([_SOFTMAX_012]), "大 logits 的 softmax", rtol=1e-4, atol=1e-6)
    mixed = np.array([[-1000.0, -999.0, -998.0], [1000.0, 1001.0, 1002.0]], dtype="float32")
    out = _call_softmax(fn, mixed)
    if not np.all(np.isfinite(out)):
        fail(
            "两行数值相差很大时出现 NaN：要减去每一行自己的最大值 "
            "(reduce_max(..., axis=-1, keepdims=True))，而不是整个张量的最大值。"
        )
    _ensure_close(
        out,
        np.array([_SOFTMAX_012, _SOFTMAX_012]),
        "逐行减最大值后的 softmax",
        rtol=1e-4,
        atol=1e-6,
        hint="要减去每一行自己的最大值。",
    )
    _check_masked_softmax(fn)
    passed("stable_softmax 正确：数值稳定，被屏蔽的位置为 0，整行被屏蔽时输出全 0")


#: Visible masked case of exercise 0.1: row 0 hides a huge logit (1000), row 1 keeps two of
#: four, row 2 hides everything.
_MASKED_LOGITS = np.array(
    [[1.0, 2.0, 3.0, 1000.0], [5.0, -1.0, 0.5, 2.0], [0.0, 3.0, -2.0, 1.0]], dtype="float32"
)
_MASK = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]], dtype=bool)
_MASKED_PROBS = [
    [0.090030573, 0.244728471, 0.665240956, 0.0],
    [0.989013057, 0.0, 0.010986943, 0.0],
    [0.0, 0.0, 0.0, 0.0],
]
#: What "softmax over the whole row, then zero the hidden positions" gives (not renormalised).
_MASKED_NOT_RENORMALISED = [
    [0.0, 0.0, 0.0, 0.0],
    [0.940402184, 0.0, 0.010446925, 0.0],
    [0.0, 0.0, 0.0, 0.0],
]


def _check_masked_softmax(fn: Callable) -> None:
    import tensorflow as tf

    if _builtin_softmax_ops(fn, _MASKED_LOGITS, _MASK):
        fail(
            "传入 mask 时调用了内置的 softmax：练习要求自己写出公式，"
            "用 tf.where、tf.reduce_max、tf.exp 和 tf.reduce_sum。"
        )
    try:
        out = fn(tf.constant(_MASKED_LOGITS), tf.constant(_MASK))
    except TypeError as exc:
        fail(
            "stable_softmax 要接受第二个参数 mask (默认 None)：def stable_softmax(logits, "
            f"mask=None)。原始错误：TypeError: {exc}"
        )
    except (tf.errors.InvalidArgumentError, ValueError) as exc:
        fail(
            "传入 mask 时出错：mask 是和 logits 同形状的布尔张量，可以直接交给 "
            f"tf.where(mask, ...)。原始错误：{type(exc).__name__}: {str(exc).splitlines()[0]}"
        )
    out = to_numpy(out, "带 mask 的 softmax 的输出").astype("float64")
    _ensure_shape(out, _MASKED_LOGITS.shape, "带 mask 的 softmax 的输出")
    want = np.array(_MASKED_PROBS)
    kept = out[:2]
    if np.all(np.isfinite(kept)):
        if _close(kept, np.array(_MASKED_NOT_RENORMALISED)[:2], rtol=1e-4, atol=1e-6):
            fail(
                "先对整行算 softmax、再把被屏蔽的位置置 0，剩下的概率之和就不再是 1："
                "要先屏蔽，再用未被屏蔽位置的 exp 之和做分母。"
            )
        if np.any(np.abs(kept[~_MASK[:2]]) > 1e-6):
            fail(
                "被屏蔽 (mask 为 False) 的位置概率应为 0：在 exp 之后用 tf.where 把它们置为 0，"
                "分母也只加未被屏蔽的位置。"
            )
    first = out[0]
    if not np.all(np.isfinite(first)) or abs(float(first[_MASK[0]].sum()) - 1.0) > 0.5:
        fail(
            "第一行被屏蔽的位置上 logit 是 1000，结果却出现 NaN 或全为 0：减去的最大值把被屏蔽的"
            "位置也算进去了，未被屏蔽的 exp 全部下溢成 0。最大值只能在未被屏蔽的位置上取"
            "（例如先用 tf.where 把被屏蔽的位置换成一个很小的数，再求 reduce_max）。"
        )
    if not np.all(np.isfinite(kept)):
        fail("前两行出现 NaN 或 Inf：检查被屏蔽位置的处理，以及每一行自己的最大值。")
    if not _close(kept.sum(axis=-1), np.ones(2), atol=1e-5):
        fail("每一行未被屏蔽的位置之和应为 1：分母只能是未被屏蔽位置的 exp 之和。")
    last = out[2]
    if not np.all(np.isfinite(last)):
        fail(
            "整行都被屏蔽时出现了 NaN：这一行的分母 (exp 之和) 是 0，或者最大值是 -inf。"
            "这一行应输出全 0：例如分母为 0 时换成 1 (tf.where)。"
        )
    if np.any(np.abs(last) > 1e-6):
        fail(
            "整行都被屏蔽时应输出全 0，而不是均匀分布或别的值：被屏蔽的位置不论在哪一行，"
            "exp 之后都要置为 0。"
        )
    _ensure_close(
        out,
        want,
        "带 mask 的 softmax 的输出",
        rtol=1e-4,
        atol=1e-6,
        hint="只在 mask 为 True 的位置上做 softmax，其余位置为 0。",
    )


def _cubic_plus_cross(v):
    """The visible function of exercise 0.2: sum(v**3) + v0*v1 (gradient 3v² + [v1, v0, 0])."""
    return float(np.sum(v**3) + v[0] * v[1])


_NUMERIC_POINT = (1.0, 2.0, -1.5)
#: For each visible eps: the central difference it must give, and what named mistakes give
#: (forward, backward difference, all components moved at once, a tiny fixed step).
_NUMERIC_CASES = (
    {
        "eps": 1e-3,
        "central": [5.000001, 13.000001, 6.750001],
        "forward": [5.003001, 13.006001, 6.745501],
        "backward": [4.997001, 12.994001, 6.754501],
        "together": 24.750003,
        "tiny_step": [5.0, 13.0, 6.75],
    },
    {
        "eps": 0.5,
        "central": [5.25, 13.25, 7.0],
        "forward": [6.75, 16.25, 4.75],
        "backward": [3.75, 10.25, 9.25],
        "together": 25.5,
        "tiny_step": [5.0, 13.0, 6.75],
    },
)


def check_numeric_grad(fn: Callable) -> None:
    """Check a central-difference gradient ``numeric_grad(f, x, eps)`` (chapter 00, exercise 0.2).

    Args:
        fn: the student's function. It is run on ``sum(x**3) + x0*x1`` at ``[1, 2, -1.5]`` with
            ``eps = 1e-3`` and with a large ``eps = 0.5``, where the central difference is far
            from the exact gradient (so an ``eps`` the function ignores is caught).
    """
    for case in _NUMERIC_CASES:
        _numeric_grad_case(fn, case)
    passed("numeric_grad 是中心差分，并且用的是传入的 eps")


def _numeric_grad_case(fn: Callable, case: dict) -> None:
    eps = case["eps"]
    x = np.array(_NUMERIC_POINT, dtype="float64")
    out = to_numpy(fn(_cubic_plus_cross, x, eps), "numeric_grad 的结果").astype("float64")
    if not np.allclose(x, _NUMERIC_POINT, rtol=0, atol=1e-9):
        fail("numeric_grad 改动了传入的 x：先复制一份 (x.copy()) 再逐个扰动分量。")
    _ensure_shape(out, x.shape, "numeric_grad 的结果")
    if not np.all(np.isfinite(out)):
        fail("结果中有 NaN 或 Inf。")
    central = np.array(case["central"])
    if _close(out, case["forward"], rtol=0, atol=1e-7) or _close(
        out, case["backward"], rtol=0, atol=1e-7
    ):
        fail(
            "这是单侧 (前向/后向) 差分：请用中心差分 (f(x+eps) - f(x-eps)) / (2*eps)，"
            "误差从 O(eps) 降到 O(eps²)。"
        )
    if _close(out, 2 * central, rtol=1e-6, atol=1e-9):
        fail("结果正好是正确值的 2 倍：中心差分要除以 2*eps，而不是 eps。")
    if _close(out, central / 2, rtol=1e-6, atol=1e-9):
        fail("结果正好是正确值的一半：分母应是 2*eps。")
    if _close(out, np.full(x.shape, case["together"]), rtol=1e-6, atol=1e-9):
        fail("每个分量都一样：一次只能扰动一个分量 (x[i])，其余分量保持不变。")
    tiny = np.array(case["tiny_step"])
    if not _close(central, tiny, rtol=1e-4, atol=1e-4) and _close(out, tiny, 1e-4, 1e-4):
        fail(
            f"用 eps={eps} 时结果却像是用很小的步长算出的：参数 eps 被忽略了。"
            "扰动的步长必须是传入的 eps。"
        )
    _ensure_close(
        out,
        central,
        "numeric_grad 的结果",
        rtol=1e-6,
        atol=1e-6,
        hint="应是中心差分 (f(x+eps·e_i) - f(x-eps·e_i)) / (2*eps)，eps 用传入的参数。",
    )


def _tape_only_function():
    """A function of a vector whose tape Hessian differs from the derivative of its values.

    Its values are ``sum(t**2)`` and it declares (``tf.custom_gradient``) that its gradient is
    ``h(t)``, where ``h`` has the values ``sin(t)`` but declares its own derivative ``exp(t)``.
    Nested GradientTapes therefore give the Hessian ``diag(exp(t))``; a finite difference of
    the tape's first gradient gives ``diag(cos(t))``, one of the values gives ``2 I``. An answer
    that matches ``exp(t) * v`` must have used two tapes.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def sine_with_exp_derivative(t):
        return tf.sin(t), lambda upstream: upstream * tf.exp(t)

    @tf.custom_gradient
    def squares_with_declared_gradient(t):
        return tf.reduce_sum(t**2), lambda upstream: upstream * sine_with_exp_derivative(t)

    return squares_with_declared_gradient


#: Visible quadratic of exercise 0.3: f(x) = x·Ax/2 + b·x with a symmetric A, so H = A.
_HVP_A = ((2.0, 1.0, 0.0), (1.0, 3.0, -1.0), (0.0, -1.0, 4.0))
_HVP_B = (1.0, -2.0, 0.5)
_HVP_X, _HVP_V = (0.5, -1.0, 2.0), (1.0, -2.0, 0.5)
_HVP_WANT = (0.0, -5.5, 4.0)  # A v
_HVP_ROW_SUMS = (3.0, 3.0, 3.0)  # A 1: the tape's gradient of the whole first gradient
_HVP_GRAD = (1.0, -6.5, 9.5)  # A x + b: the first gradient
#: The tape-only function at x2 with v2: what two tapes give, and what named mistakes give.
_HVP_X2, _HVP_V2 = (0.3, -0.5, 1.2), (1.0, 2.0, -1.0)
_HVP2_WANT = (1.3498588237, 1.2130613194, -3.3201170811)  # exp(x) * v
_HVP2_FINITE = (0.9553364856, 1.7551651238, -0.36235771)  # cos(x) * v: differences of the tape
_HVP2_VALUES = (2.0, 4.0, -2.0)  # 2 v: differences of the values
_HVP2_ROW_SUMS = (1.3498588237, 0.6065306597, 3.3201170811)  # exp(x)


def _quadratic(t):
    import tensorflow as tf

    a = tf.constant(_HVP_A, dtype=t.dtype)
    b = tf.constant(_HVP_B, dtype=t.dtype)
    return 0.5 * tf.reduce_sum(t * tf.linalg.matvec(a, t)) + tf.reduce_sum(b * t)


def _call_hvp(fn: Callable, f: Callable, x, v) -> np.ndarray:
    try:
        out = fn(f, np.array(x, dtype="float32"), np.array(v, dtype="float32"))
    except (TypeError, ValueError, AttributeError) as exc:
        fail(
            "调用出错，很可能是某个梯度为 None：x 是常量，两层 tape 都要先 watch(x)；内层"
            "gradient 和与 v 的点乘都要写在外层 with 块之内。"
            f"原始错误：{type(exc).__name__}: {exc}"
        )
    if out is None:
        fail(
            "结果是 None：外层 tape 没有记录到一阶梯度与 v 的点乘。内层 tape.gradient(...) 和"
            "点乘都要写在外层 with 块之内，并且外层也要 watch(x)。"
        )
    value = to_numpy(out, "hessian_vector_product 的结果").astype("float64")
    if value.shape != (len(x),):
        fail(f"应返回形状为 ({len(x)},) 的向量 H v，实际形状是 {value.shape}。")
    return value


def check_hessian_vector_product(fn: Callable) -> None:
    """Check ``hessian_vector_product(f, x, v)`` built from nested GradientTapes (chapter 00,
    exercise 0.3).

    Args:
        fn: the student's function; it receives ``f`` (a function of a 1-D float32 tensor that
            returns a scalar) and 1-D float32 arrays ``x`` and ``v``. It is run on a quadratic
            with a known Hessian, then on :func:`_tape_only_function`, which only two tapes
            differentiate correctly.
    """
    out = _call_hvp(fn, _quadratic, _HVP_X, _HVP_V)
    if _close(out, _HVP_GRAD):
        fail("这是一阶梯度 ∇f(x)：还要再求一次导 (外层 tape 对 ∇f(x)·v 求 gradient)。")
    if _close(out, _HVP_ROW_SUMS):
        fail(
            "结果是 H 每一行的和 (H·1)，没有用到 v：对向量目标求 gradient 时，tape 求的是"
            "各分量之和的梯度。先在外层 with 块里把一阶梯度和 v 点乘成一个标量，再对 x 求导。"
        )
    _ensure_close(
        out,
        np.array(_HVP_WANT),
        "二次函数上的 H v",
        rtol=1e-4,
        atol=1e-4,
        hint="对 f(x) = x·Ax/2 + b·x，H = A，应得到 A v。",
    )
    out = _call_hvp(fn, _tape_only_function(), _HVP_X2, _HVP_V2)
    if _close(out, _HVP2_FINITE, rtol=1e-2, atol=1e-2) or _close(out, _HVP2_VALUES, 1e-2, 1e-2):
        fail(
            "结果与对梯度或函数值做有限差分 (finite difference) 的结果一致，却不是两层 "
            "GradientTape 求出的导数：这个函数用 tf.custom_gradient 声明了自己的求导规则，"
            "只有 tape 才会用它。练习要求用两层 tape，不要用数值差分。"
        )
    if _close(out, _HVP2_ROW_SUMS):
        fail("结果是 H·1，没有用到 v：先把一阶梯度和 v 点乘成标量，再对 x 求导。")
    _ensure_close(
        out,
        np.array(_HVP2_WANT),
        "改写了求导规则的函数上的 H v",
        rtol=1e-4,
        atol=1e-4,
        hint="用两层 tape：外层对 (内层梯度 · v) 求 gradient。",
    )
    passed("hessian_vector_product 正确：两层 GradientTape 求出了 H v，没有构造 H")


def _mse_loss():
    """The MSE loss the visible cases pass as ``loss_fn`` (Keras' own)."""
    import keras

    return keras.losses.MeanSquaredError()


def _mse_with_tanh_gradient():
    """A loss ``loss_fn(y_true, y_pred)`` whose values are the MSE but whose declared gradient
    (``tf.custom_gradient``) is ``tanh(y_pred - y_true) / n``: only ``tape.gradient`` finds it;
    an MSE gradient derived by hand (or a finite difference of the values) does not."""
    import tensorflow as tf

    @tf.custom_gradient
    def mse_with_tanh_gradient(y_true, y_pred):
        err = y_pred - y_true
        n = tf.cast(tf.size(err), err.dtype)

        def grad(upstream):
            g = upstream * tf.tanh(err) / n
            return -g, g

        return tf.reduce_mean(tf.square(err)), grad

    return mse_with_tanh_gradient


#: Visible case of exercise 0.4: y = 3x - 1 at five points, w0 = 0.5, b0 = -0.2, velocities
#: (0.3, -0.1), lr = 0.1, beta = 0.9. The MSE gradient at (w0, b0) is (-13.4, -3.4).
_MOM_X = (-1.0, 0.0, 1.0, 2.0, 3.0)
_MOM_W0, _MOM_B0, _MOM_U0 = 0.5, -0.2, (0.3, -0.1)
_MOM_LR, _MOM_BETA = 0.1, 0.9
_MOM_LOSS0 = 15.39  # MSE before the step (the tanh-gradient loss has the same value)
_MOM_LOSS_AFTER = 1.6098  # MSE after a correct step
_MOM_WANT = {"w": 2.11, "b": 0.05, "u": (1.61, 0.25)}
#: The same step on the MSE whose gradient is tanh(err) / n (see _mse_with_tanh_gradient).
_MOM_TANH = {"w": 0.9086356734554082, "b": -0.26452726647175984}
#: (w, b) after named mistakes: plain gradient descent (no velocity), the parameters moved by
#: the old velocity, the gradient added instead of subtracted.
_MOM_PLAIN = (1.84, 0.14)
_MOM_OLD_VELOCITY = (0.8, -0.3)
_MOM_WRONG_SIGN = (-0.57, -0.63)


def _run_momentum(fn: Callable, loss_fn: Callable):
    import tensorflow as tf

    x = tf.constant(np.array(_MOM_X, dtype="float32"))
    y = 3.0 * x - 1.0
    w = tf.Variable(_MOM_W0, dtype="float32", name="w")
    b = tf.Variable(_MOM_B0, dtype="float32", name="b")
    velocities = [tf.Variable(u, dtype="float32", name=f"u_{n}") for u, n in zip(_MOM_U0, "wb")]
    try:
        loss = fn([w, b], velocities, lambda: loss_fn(y, w * x + b), _MOM_LR, _MOM_BETA)
    except (TypeError, ValueError) as exc:
        fail(
            "调用出错，很可能是梯度为 None：loss_fn() 必须在 with tf.GradientTape() 块里面调用，"
            f"再对 params 求 gradient。原始错误：{type(exc).__name__}: {exc}"
        )
    return loss, (float(w.numpy()), float(b.numpy())), [float(u.numpy()) for u in velocities]


def check_momentum_step(fn: Callable) -> None:
    """Check one momentum step ``fn(params, velocities, loss_fn, lr, beta)`` (chapter 00,
    exercise 0.4).

    ``fn`` gets lists of scalar ``tf.Variable`` s (``[w, b]`` and their velocities, which start
    at (0.3, -0.1)) and a loss closure ``loss_fn()`` of y = 3x - 1 at five points; it must
    update each velocity to ``beta * u - lr * g`` and each parameter by its new velocity, in
    place, and return the loss computed before the update. It is run with Keras' MSE, then with
    an MSE whose gradient ``tf.custom_gradient`` replaces (a gradient by hand gives other
    numbers).
    """
    loss, params, velocities = _run_momentum(fn, _mse_loss())
    want = (_MOM_WANT["w"], _MOM_WANT["b"])
    if _close(params, (_MOM_W0, _MOM_B0)):
        fail("w 和 b 都没有变：要用 assign / assign_add 原地更新变量；w = w + ... 只改了局部名字。")
    if _close(params, _MOM_PLAIN):
        fail(
            "这是普通的梯度下降：速度没有参与更新。先把速度原地更新成 beta * u - lr * g，"
            "再把新的速度加到参数上。"
        )
    if _close(params, _MOM_OLD_VELOCITY):
        fail("参数加上的是更新之前的速度：先更新速度，再把**新的**速度加到参数上。")
    if _close(params, _MOM_WRONG_SIGN):
        fail("更新方向反了：速度应是 beta * u **减去** lr * g，否则损失会越来越大。")
    if _close(params, (want[1], want[0])):
        fail("w 和 b 的更新对调了：参数、速度和梯度要一一对应 (zip 的顺序)。")
    _ensure_close(
        np.array(params),
        np.array(want),
        "更新后的 (w, b)",
        rtol=1e-4,
        atol=1e-5,
        hint="u ← beta·u − lr·g，θ ← θ + u (用新的 u)，g 是 loss_fn() 对 θ 的梯度。",
    )
    if _close(velocities, _MOM_U0):
        fail(
            "参数对了，速度 (velocities) 却没有变：要把新的速度原地写回 (u.assign(...))，"
            "下一步才能接着用。不要用 Keras 的优化器，它的速度存在它自己的变量里。"
        )
    _ensure_close(
        np.array(velocities),
        np.array(_MOM_WANT["u"]),
        "更新后的速度",
        rtol=1e-4,
        atol=1e-5,
        hint="每个速度应为 beta * u - lr * g。",
    )
    if loss is None:
        fail("没有返回损失：函数最后要 return loss (更新前的损失)。")
    value = to_numpy(loss, "返回的损失").astype("float64")
    if value.size != 1:
        fail(f"损失应是一个标量，实际形状是 {value.shape}。")
    value = float(value.reshape(()))
    if _close(value, _MOM_LOSS_AFTER):
        fail("返回的是更新之后的损失：请返回在 tape 里算出的、更新前的损失。")
    _ensure_close(
        value, _MOM_LOSS0, "返回的损失", rtol=1e-4, atol=1e-5, hint="应为更新前的 loss_fn()。"
    )

    _, params, _ = _run_momentum(fn, _mse_with_tanh_gradient())
    if _close(params, want):
        fail(
            "换成一个用 tf.custom_gradient 改写了求导规则的损失后，结果仍和 MSE 的梯度公式一样："
            "梯度要由 tape.gradient 对 loss_fn() 求出，不要手推梯度公式。"
        )
    _ensure_close(
        np.array(params),
        np.array([_MOM_TANH["w"], _MOM_TANH["b"]]),
        "改写了求导规则的损失上更新后的 (w, b)",
        rtol=1e-4,
        atol=1e-5,
        hint="在 tape 里调用 loss_fn()，用 tape.gradient 求梯度。",
    )
    passed("momentum_step 正确：梯度来自 tape，速度和参数都原地更新了")


#: Visible case of exercise 0.5: 10 points of y = 3x - 1 + noise, batch size 4, w0 = b0 = 0,
#: lr = 0.1; what the epoch gives, and what named mistakes give.
_EPOCH_X = np.linspace(-2.0, 2.0, 10)
_EPOCH_NOISE = (0.2, -0.1, 0.0, 0.3, -0.2, 0.1, 0.0, -0.3, 0.2, -0.1)
_EPOCH_BATCH, _EPOCH_LR = 4, 0.1
_EPOCH_LOSSES = (26.390557254420415, 0.8616354965386657, 5.978629000877037)
_EPOCH_WB = (2.455838151545968, -0.3791395192304053)
_EPOCH_FULL_BATCH_LOSSES = (15.31966734371584, 7.159562756544244, 3.3863134455530663)
_EPOCH_LATE_LOSSES = (4.577564486649568, 0.6171796745746307, 0.15808799573077162)
#: The same epoch on the MSE whose gradient is tanh(err) / n (see _mse_with_tanh_gradient).
_EPOCH_TANH_LOSSES = (26.390557254420415, 2.0019207669753536, 17.472922406203725)
_EPOCH_TANH_WB = (0.3546736085579236, 0.015847500955206748)


def _run_epoch(fn: Callable, loss_fn: Callable, batch_size: int = _EPOCH_BATCH):
    import tensorflow as tf

    x = _EPOCH_X.astype("float32")
    y = (3.0 * _EPOCH_X - 1.0 + np.array(_EPOCH_NOISE)).astype("float32")
    w = tf.Variable(0.0, dtype="float32", name="w")
    b = tf.Variable(0.0, dtype="float32", name="b")
    try:
        losses = fn(w, b, tf.constant(x), tf.constant(y), _EPOCH_LR, batch_size, loss_fn)
    except (TypeError, ValueError) as exc:
        fail(
            "调用出错，很可能是梯度为 None：每个小批量的预测和损失都要在 with tf.GradientTape() "
            f"块里计算。原始错误：{type(exc).__name__}: {exc}"
        )
    if losses is None:
        fail("没有返回损失列表：函数最后要 return losses (每一步更新前的小批量损失)。")
    values = np.array([float(to_numpy(v, "损失").reshape(-1)[0]) for v in losses], "float64")
    return values, float(w.numpy()), float(b.numpy())


def check_minibatch_epoch(fn: Callable) -> None:
    """Check one epoch of mini-batch gradient descent ``fn(w, b, x, y, lr, batch_size, loss_fn)``
    (chapter 00, exercise 0.5).

    ``fn`` gets scalar ``tf.Variable`` s ``w``, ``b``, 1-D float32 tensors ``x``, ``y`` and a
    loss ``loss_fn(y_true, y_pred)``; it must walk through the data in order, batch by batch
    (the last batch may be smaller), take one tape-gradient step on each batch's loss, update
    ``w`` and ``b`` in place and return the list of the batches' losses, each computed before
    its step. It is run on 10 samples with batch size 4, with Keras' MSE and with an MSE whose
    gradient ``tf.custom_gradient`` replaces.
    """
    n, steps = _EPOCH_X.size, len(_EPOCH_LOSSES)
    values, new_w, new_b = _run_epoch(fn, _mse_loss())
    if _close(new_w, 0.0) and _close(new_b, 0.0):
        fail("w 和 b 都没有变：每一步都要用 assign_sub 原地更新变量。")
    if values.size == steps - 1:
        fail(
            f"{n} 个样本、batch_size={_EPOCH_BATCH} 应有 {steps} 步，你只走了 {values.size} 步："
            "最后一个不满的小批量 (partial batch) 被丢掉了。步数是 ceil(n / batch_size)。"
        )
    if values.size != steps:
        fail(
            f"{n} 个样本、batch_size={_EPOCH_BATCH} 时一个 epoch 应有 {steps} 步 "
            f"(ceil(n / batch_size))，返回的损失列表却有 {values.size} 个。"
        )
    if _close(values, _EPOCH_FULL_BATCH_LOSSES):
        fail("每一步都用了全部样本：第 k 步只用第 k 个小批量 x[k*batch_size:(k+1)*batch_size]。")
    if _close(values, _EPOCH_LATE_LOSSES):
        fail("损失是更新之后才算的：每个小批量的损失要在 tape 里、更新之前算出。")
    _ensure_close(
        np.array([new_w, new_b]),
        np.array(_EPOCH_WB),
        "一个 epoch 后的 (w, b)",
        rtol=1e-4,
        atol=1e-5,
        hint="按顺序逐批更新：每批的损失是 loss_fn(yb, w*xb + b)，w、b 各减去 lr × 自己的梯度。",
    )
    _ensure_close(
        values,
        np.array(_EPOCH_LOSSES),
        "每一步的损失",
        rtol=1e-4,
        atol=1e-5,
        hint="第 k 个元素应是第 k 个小批量在更新前的损失。",
    )

    values, new_w, new_b = _run_epoch(fn, _mse_with_tanh_gradient())
    if _close(np.array([new_w, new_b]), np.array(_EPOCH_WB)):
        fail(
            "换成一个用 tf.custom_gradient 改写了求导规则的损失后，结果仍和 MSE 的梯度公式一样："
            "每个小批量的梯度都要由 tape.gradient 对 loss_fn(yb, y_pred) 求出，不要手推梯度公式，"
            "也不要忽略传入的 loss_fn。"
        )
    _ensure_close(
        np.array([new_w, new_b, *values]),
        np.array([*_EPOCH_TANH_WB, *_EPOCH_TANH_LOSSES]),
        "改写了求导规则的损失上的 (w, b) 和每一步的损失",
        rtol=1e-4,
        atol=1e-5,
        hint="每个小批量都在 tape 里计算 loss_fn(yb, w*xb + b)，用 tape.gradient 求梯度。",
    )
    passed(f"sgd_epoch 正确：{n} 个样本、batch_size={_EPOCH_BATCH}，共 {steps} 步")
