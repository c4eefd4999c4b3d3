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
    "check_gradient_descent_step",
    "check_minibatch_epoch",
    "check_numeric_grad",
    "check_second_derivative",
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


def _softmax_ops_called_eagerly(fn: Callable, x: np.ndarray) -> set[str]:
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
        fn(tf.constant(x))
    except Exception:  # errors are reported by the value checks that follow
        pass
    finally:
        for name, original in saved.items():
            setattr(gen_nn_ops, name, original)
    return called


def _builtin_softmax_ops(fn: Callable, x: np.ndarray) -> set[str]:
    """Which built-in softmax kernels ``fn`` runs on ``x``: traced as a graph when it can be,
    eagerly (with the kernels' wrappers patched) when it cannot (e.g. it calls ``.numpy()``)."""
    import tensorflow as tf

    try:
        traced = tf.function(fn, autograph=False).get_concrete_function(
            tf.TensorSpec(x.shape, tf.float32)
        )
        used = _graph_op_types(traced.graph.as_graph_def())
    except Exception:
        used = _softmax_ops_called_eagerly(fn, x)
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
    """Check a numerically stable softmax over the last axis (chapter 00, exercise 0.1).

    Args:
        fn: the student's ``stable_softmax(logits)``; it receives a float32 ``tf.Tensor`` of
            shape ``(batch, classes)``. It is run on fixed small and huge logits.
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
    passed("stable_softmax 正确且数值稳定")


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
    """A function whose tape gradient differs from the derivative of its values.

    Its values are ``t**2`` (so any finite difference of them gives f'' = 2), but it declares
    with ``tf.custom_gradient`` that its derivative is ``sin(t)``, so nested GradientTapes give
    f''(x) = cos(x). An answer that matches cos(x) must have used the tape.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def squared_with_sine_gradient(t):
        def grad(upstream):
            return upstream * tf.sin(t)

        return t**2, grad

    return squared_with_sine_gradient


def _cube(t):
    return t**3


def check_second_derivative(fn: Callable) -> None:
    """Check ``second_derivative(f, x)`` built from nested GradientTapes (chapter 00, ex. 0.3).

    Args:
        fn: the student's function; it receives ``f`` (a function of a scalar tensor) and a
            Python float. It is run on ``x**3`` at 1.5 (f'' = 9, f' = 6.75), then on
            :func:`_tape_only_function` at 0.7, which only the tape differentiates correctly
            (f'' = cos 0.7; a finite difference of its values gives 2).
    """
    _second_derivative_case(fn, _cube, 1.5, expected=9.0, first=6.75, numeric=None)
    _second_derivative_case(
        fn,
        _tape_only_function(),
        0.7,
        expected=0.7648421872844885,  # cos(0.7)
        first=0.644217687237691,  # sin(0.7)
        numeric=2.0,
    )
    passed("second_derivative 正确：用两层 GradientTape 求出了 f''(x)")


def _second_derivative_case(
    fn: Callable,
    f: Callable,
    x: float,
    expected: float,
    first: float | None,
    numeric: float | None,
) -> None:
    try:
        out = fn(f, x)
    except (TypeError, ValueError, AttributeError) as exc:
        fail(
            "调用出错，很可能是内层梯度为 None：常量要先 tape.watch(x)，两层 tape 都要 watch；"
            f"内层 gradient 要写在外层 with 块之内。原始错误：{type(exc).__name__}: {exc}"
        )
    if out is None:
        fail(
            "结果是 None：外层 tape 没有记录到一阶导数的计算。内层 tape.gradient(...) 要写在"
            "外层 with 块之内，并且外层也要 watch(x)。"
        )
    value = to_numpy(out, "second_derivative 的结果").astype("float64")
    if value.size != 1:
        fail(f"应返回一个标量，实际形状是 {value.shape}。")
    value = float(value.reshape(()))
    if first is not None and abs(first - expected) > 1e-3 and abs(value - first) < 1e-3:
        fail("这是一阶导数 f'(x)：要对一阶导数再求一次导 (外层 tape 对内层结果求 gradient)。")
    if numeric is not None and abs(numeric - expected) > 1e-2 and abs(value - numeric) < 1e-2:
        fail(
            "结果与对函数值做有限差分 (finite difference) 的结果一致，却不是 GradientTape 求出的"
            "导数：练习要求用两层 GradientTape 自动微分，不要用数值差分。"
        )
    _ensure_close(
        value,
        expected,
        "second_derivative 的结果",
        rtol=1e-4,
        atol=1e-4,
        hint="应是 f''(x)：外层 tape.gradient(dy_dx, x)。",
    )


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


#: Visible case of exercise 0.4: y = 3x - 1 at five points, w0 = 0.5, b0 = -0.2, lr = 0.1.
_STEP_X = (-1.0, 0.0, 1.0, 2.0, 3.0)
_STEP_W0, _STEP_B0, _STEP_LR = 0.5, -0.2, 0.1
_STEP_LOSS0 = 15.39  # MSE before the step (the tanh-gradient loss has the same value)
_STEP_GRAD = (-13.4, -3.4)  # MSE gradient (dL/dw, dL/db) at (w0, b0)
_STEP_LOSS_AFTER = 2.6916  # MSE after a correct step
_STEP_TANH = (0.6386356734554082, -0.17452726647175984)  # (w, b) after a step on the tanh loss


def _run_step(fn: Callable, loss_fn: Callable) -> tuple[Any, float, float]:
    import tensorflow as tf

    x = np.array(_STEP_X, dtype="float32")
    w = tf.Variable(_STEP_W0, dtype="float32", name="w")
    b = tf.Variable(_STEP_B0, dtype="float32", name="b")
    try:
        loss = fn(w, b, tf.constant(x), tf.constant(3.0 * x - 1.0), _STEP_LR, loss_fn)
    except (TypeError, ValueError) as exc:
        fail(
            "调用出错，很可能是梯度为 None：预测和 loss_fn(y, y_pred) 必须在 with "
            "tf.GradientTape() 块里面计算，并对 [w, b] 求 gradient。"
            f"原始错误：{type(exc).__name__}: {exc}"
        )
    return loss, float(w.numpy()), float(b.numpy())


def check_gradient_descent_step(fn: Callable) -> None:
    """Check one gradient-descent step ``fn(w, b, x, y, lr, loss_fn)`` (chapter 00, ex. 0.4).

    ``fn`` gets scalar ``tf.Variable`` s ``w``, ``b``, 1-D float32 tensors and a loss
    ``loss_fn(y_true, y_pred)``; it must update ``w`` and ``b`` in place with the tape's
    gradient of ``loss_fn(y, w*x + b)`` and return the loss computed before the update. It is
    run on y = 3x - 1 with Keras' MSE, then with an MSE whose gradient ``tf.custom_gradient``
    replaces (so a gradient derived by hand gives other numbers).
    """
    w0, b0, lr = _STEP_W0, _STEP_B0, _STEP_LR
    gw, gb = _STEP_GRAD
    want_w, want_b = w0 - lr * gw, b0 - lr * gb
    loss, new_w, new_b = _run_step(fn, _mse_loss())

    def at(wv, bv):
        return _close(new_w, wv) and _close(new_b, bv)

    if at(w0, b0):
        fail("w 和 b 都没有变：要用 w.assign_sub(...) 原地更新变量；w = w - ... 只改了局部名字。")
    if at(w0 + lr * gw, b0 + lr * gb):
        fail("更新方向反了 (学习率符号错了)：应减去 lr * 梯度，否则损失会越来越大。")
    if at(w0 - lr * gb, b0 - lr * gw):
        fail("w 和 b 的更新对调了：梯度和变量没有一一对应 (检查 zip(grads, vars) 的顺序)。")
    if _close(new_w, want_w) and not _close(new_b, want_b):
        fail("w 对了，b 不对：b 也要用它自己的梯度更新。")
    if _close(new_b, want_b) and not _close(new_w, want_w):
        fail("b 对了，w 不对：w 也要用它自己的梯度更新。")
    _ensure_close(
        new_w,
        want_w,
        "更新后的 w",
        rtol=1e-4,
        atol=1e-5,
        hint="应为 w - lr * dL/dw，L = loss_fn(y, w*x + b)。",
    )
    _ensure_close(new_b, want_b, "更新后的 b", rtol=1e-4, atol=1e-5, hint="应为 b - lr * dL/db。")

    if loss is None:
        fail("没有返回损失：函数最后要 return loss (更新前的损失)。")
    value = to_numpy(loss, "返回的损失").astype("float64")
    if value.size != 1:
        fail(f"损失应是一个标量，实际形状是 {value.shape}。")
    value = float(value.reshape(()))
    if _close(value, _STEP_LOSS_AFTER):
        fail("返回的是更新之后的损失：请返回在 tape 里算出的、更新前的损失。")
    _ensure_close(
        value,
        _STEP_LOSS0,
        "返回的损失",
        rtol=1e-4,
        atol=1e-5,
        hint="应为更新前的损失：loss_fn(y, w*x + b)。",
    )

    _, new_w, new_b = _run_step(fn, _mse_with_tanh_gradient())
    if at(want_w, want_b):
        fail(
            "换成一个用 tf.custom_gradient 改写了求导规则的损失后，结果仍和 MSE 的梯度公式一样："
            "梯度要由 tape.gradient 对 loss_fn(y, y_pred) 求出，不要手推梯度公式，也不要忽略"
            "传入的 loss_fn。"
        )
    _ensure_close(
        np.array([new_w, new_b]),
        np.array(_STEP_TANH),
        "改写了求导规则的损失上更新后的 (w, b)",
        rtol=1e-4,
        atol=1e-5,
        hint="在 tape 里计算 loss_fn(y, w*x + b)，用 tape.gradient 求梯度。",
    )
    passed("gradient_descent_step 正确：梯度来自 tape，一步更新后损失下降")


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
