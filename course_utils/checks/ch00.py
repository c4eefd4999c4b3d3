"""Checks for chapter 00 exercises (tensors, activations and automatic differentiation).

Each check calls the student's function on fixed inputs, compares plain NumPy data and, when
the answer is wrong, names the most likely mistake in a short Chinese sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_utils.checks._core import check_close, check_shape, fail, passed, to_numpy

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


def _reference_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype("float64")
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


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


def check_softmax(fn: Callable, logits: Any = None) -> bool:
    """Check a numerically stable softmax over the last axis (chapter 00, exercise 0.1).

    Args:
        fn: the student's ``stable_softmax(logits)``; it receives a float32 ``tf.Tensor`` of
            shape ``(batch, classes)``.
        logits: extra input to test (default: built-in cases, including huge logits).
    """
    if logits is not None:
        cases = [np.asarray(logits, dtype="float32")]
    else:
        cases = [
            np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype="float32"),
            np.array(
                [[2.0, -1.0, 0.5, 0.0], [0.3, 0.2, -2.0, 1.5], [5.0, 4.0, 3.0, 2.0]],
                dtype="float32",
            ),
        ]
    if _builtin_softmax_ops(fn, cases[0]):
        fail(
            "调用了内置的 softmax (tf.nn.softmax、tf.math.softmax、keras.activations.softmax、"
            "keras.ops.softmax、keras.layers.Softmax 或 log_softmax)：练习要求自己写出公式，"
            "用 tf.reduce_max、tf.exp 和 tf.reduce_sum。"
        )
    for x in cases:
        out = _call_softmax(fn, x)
        check_shape(out, x.shape, "softmax 的输出")
        if not np.all(np.isfinite(out)):
            fail("输出里有 NaN 或 Inf：是否忘了先减去每一行的最大值？")
        if np.any(out < -1e-7):
            fail("概率不能为负：是否漏掉了 exp？")
        if (
            x.shape[0] > 1
            and _close(out.sum(axis=0), np.ones(x.shape[-1]))
            and not _close(out.sum(axis=-1), np.ones(x.shape[0]))
        ):
            fail("每一列的和为 1，而不是每一行：softmax 沿错了轴，应沿最后一个轴 (axis=-1)。")
        if not _close(out.sum(axis=-1), np.ones(x.shape[:-1]), atol=1e-5):
            fail("每一行的概率之和应为 1：检查求和的 axis，以及是否用了 keepdims=True。")
        check_close(
            out,
            _reference_softmax(x),
            "softmax 的输出",
            rtol=1e-4,
            atol=1e-6,
            hint="和 tf.nn.softmax 的结果不一致。",
        )
    if logits is None:
        big = np.array([[1000.0, 1001.0, 1002.0]], dtype="float32")
        out = _call_softmax(fn, big)
        if not np.all(np.isfinite(out)):
            fail("logits 很大 (如 1000) 时出现 NaN：exp 溢出了。先减去最大值再取 exp。")
        check_close(out, _reference_softmax(big), "大 logits 的 softmax", rtol=1e-4, atol=1e-6)
        mixed = np.array([[-1000.0, -999.0, -998.0], [1000.0, 1001.0, 1002.0]], dtype="float32")
        out = _call_softmax(fn, mixed)
        if not np.all(np.isfinite(out)):
            fail(
                "两行数值相差很大时出现 NaN：要减去每一行自己的最大值 "
                "(reduce_max(..., axis=-1, keepdims=True))，而不是整个张量的最大值。"
            )
        check_close(
            out,
            _reference_softmax(mixed),
            "逐行减最大值后的 softmax",
            rtol=1e-4,
            atol=1e-6,
            hint="要减去每一行自己的最大值。",
        )
    return passed("stable_softmax 正确且数值稳定")


def _default_numeric_case():
    def f(v):
        return float(np.sum(v**3) + v[0] * v[1])

    x = np.array([1.0, 2.0, -1.5])
    grad = 3 * x**2 + np.array([x[1], x[0], 0.0])
    return f, x, grad


def _central(f: Callable, x: np.ndarray, eps: float) -> np.ndarray:
    basis = np.eye(x.size)
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in basis])


def check_numeric_grad(
    fn: Callable,
    f: Callable | None = None,
    x: Any = None,
    grad: Any = None,
    eps: float = 1e-3,
) -> bool:
    """Check a central-difference gradient ``numeric_grad(f, x, eps)`` (chapter 00, exercise 0.2).

    Args:
        fn: the student's function.
        f, x, grad: a scalar function of a 1-D float64 array, the point and its exact gradient
            (default: ``sum(x**3) + x0*x1`` at ``[1, 2, -1.5]``, then the same function with a
            large ``eps = 0.5``, where the central difference is far from the exact gradient).
            With ``grad=None`` the answer is compared with the central difference at ``eps``
            itself, so an ``eps`` the function ignores is caught.
        eps: step passed to ``fn``.
    """
    if f is None:
        f, x, grad = _default_numeric_case()
        _numeric_grad_case(fn, f, x, grad, eps)
        _numeric_grad_case(fn, f, x, None, 0.5)
    else:
        _numeric_grad_case(fn, f, x, grad, eps)
    return passed("numeric_grad 是中心差分，并且用的是传入的 eps")


def _numeric_grad_case(fn: Callable, f: Callable, x: Any, grad: Any, eps: float) -> None:
    x = np.array(x, dtype="float64")
    x_before = x.copy()
    out = to_numpy(fn(f, x, eps), "numeric_grad 的结果").astype("float64")
    if not np.allclose(x, x_before, rtol=0, atol=1e-9):
        fail("numeric_grad 改动了传入的 x：先复制一份 (x.copy()) 再逐个扰动分量。")
    check_shape(out, x.shape, "numeric_grad 的结果")
    if not np.all(np.isfinite(out)):
        fail("结果中有 NaN 或 Inf。")

    basis = np.eye(x.size)
    fx = f(x)
    forward = np.array([(f(x + eps * e) - fx) / eps for e in basis])
    backward = np.array([(fx - f(x - eps * e)) / eps for e in basis])
    central = _central(f, x, eps)
    together = np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps))
    want = central if grad is None else np.asarray(grad, dtype="float64")

    if not _close(central, forward, rtol=0, atol=1e-5) and (
        _close(out, forward, rtol=0, atol=1e-7) or _close(out, backward, rtol=0, atol=1e-7)
    ):
        fail(
            "这是单侧 (前向/后向) 差分：请用中心差分 (f(x+eps) - f(x-eps)) / (2*eps)，"
            "误差从 O(eps) 降到 O(eps²)。"
        )
    if _close(out, 2 * central, rtol=1e-6, atol=1e-9):
        fail("结果正好是正确值的 2 倍：中心差分要除以 2*eps，而不是 eps。")
    if _close(out, central / 2, rtol=1e-6, atol=1e-9):
        fail("结果正好是正确值的一半：分母应是 2*eps。")
    if (
        x.size > 1
        and _close(out, together, rtol=1e-6, atol=1e-9)
        and not _close(together, central, rtol=1e-4, atol=1e-6)
    ):
        fail("每个分量都一样：一次只能扰动一个分量 (x[i])，其余分量保持不变。")
    if grad is None:
        fine = _central(f, x, 1e-6)
        if not _close(central, fine, rtol=1e-4, atol=1e-4) and _close(out, fine, 1e-4, 1e-4):
            fail(
                f"用 eps={eps} 时结果却像是用很小的步长算出的：参数 eps 被忽略了。"
                "扰动的步长必须是传入的 eps。"
            )
    check_close(
        out,
        want,
        "numeric_grad 的结果",
        rtol=1e-4,
        atol=1e-4,
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


def check_second_derivative(
    fn: Callable,
    f: Callable | None = None,
    x: float = 1.5,
    expected: float | None = None,
    first: float | None = None,
    numeric: float | None = None,
) -> bool:
    """Check ``second_derivative(f, x)`` built from nested GradientTapes (chapter 00, ex. 0.3).

    Args:
        fn: the student's function; it receives ``f`` (a function of a scalar tensor) and a
            Python float.
        f, x, expected, first: the function, the point, f''(x) and f'(x)
            (default: ``x**3`` at 1.5, so f'' = 9 and f' = 6.75; then
            :func:`_tape_only_function` at 0.7, which only the tape differentiates correctly).
        numeric: what a finite difference of f's values gives, when it differs from the
            tape's f'' (a ``tf.custom_gradient`` function); matching it means no tape was used.
    """
    if f is None:

        def f(t):
            return t**3

        _second_derivative_case(fn, f, x, 6.0 * x, 3.0 * x**2, None)
        _second_derivative_case(fn, _tape_only_function(), 0.7, np.cos(0.7), np.sin(0.7), 2.0)
    else:
        _second_derivative_case(fn, f, x, expected, first, numeric)
    return passed("second_derivative 正确：用两层 GradientTape 求出了 f''(x)")


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
    check_close(
        value,
        expected,
        "second_derivative 的结果",
        rtol=1e-4,
        atol=1e-4,
        hint="应是 f''(x)：外层 tape.gradient(dy_dx, x)。",
    )


def _counting_tape_gradients(call: Callable) -> tuple[Any, int]:
    """Run ``call()`` and count how often any ``tf.GradientTape.gradient`` runs meanwhile.

    The method is patched on the class, so every tape counts however the student imported it.
    """
    from tensorflow.python.eager import backprop

    original = backprop.GradientTape.gradient
    calls = []

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    backprop.GradientTape.gradient = counting
    try:
        result = call()
    finally:
        backprop.GradientTape.gradient = original
    return result, len(calls)


def check_gradient_descent_step(
    fn: Callable,
    x: Any = None,
    y: Any = None,
    w0: float = 0.5,
    b0: float = -0.2,
    lr: float = 0.1,
) -> bool:
    """Check one hand-written gradient-descent step on MSE (chapter 00, exercise 0.4).

    ``fn(w, b, x, y, lr)`` gets scalar ``tf.Variable`` s ``w``, ``b`` and 1-D float32 tensors,
    must update ``w`` and ``b`` in place for ``loss = mean((w*x + b - y)**2)`` and return the
    loss computed before the update.
    """
    import tensorflow as tf

    if x is None:
        x = np.array([-1.0, 0.0, 1.0, 2.0, 3.0])
        y = 3.0 * x - 1.0
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y, dtype="float32")
    xd, yd = x.astype("float64"), y.astype("float64")
    err = w0 * xd + b0 - yd
    loss0 = float(np.mean(err**2))
    gw, gb = float(np.mean(2 * err * xd)), float(np.mean(2 * err))
    want_w, want_b = w0 - lr * gw, b0 - lr * gb

    w = tf.Variable(w0, dtype="float32", name="w")
    b = tf.Variable(b0, dtype="float32", name="b")
    try:
        loss, tape_calls = _counting_tape_gradients(
            lambda: fn(w, b, tf.constant(x), tf.constant(y), lr)
        )
    except (TypeError, ValueError) as exc:
        fail(
            "调用出错，很可能是梯度为 None：预测和损失必须在 with tf.GradientTape() 块里面"
            f"计算，并对 [w, b] 求 gradient。原始错误：{type(exc).__name__}: {exc}"
        )
    new_w, new_b = float(w.numpy()), float(b.numpy())

    def at(wv, bv):
        return _close(new_w, wv) and _close(new_b, bv)

    if at(w0, b0):
        fail("w 和 b 都没有变：要用 w.assign_sub(...) 原地更新变量；w = w - ... 只改了局部名字。")
    if at(w0 + lr * gw, b0 + lr * gb):
        fail("更新方向反了 (学习率符号错了)：应减去 lr * 梯度，否则损失会越来越大。")
    if at(w0 - lr * gb, b0 - lr * gw):
        fail("w 和 b 的更新对调了：梯度和变量没有一一对应 (检查 zip(grads, vars) 的顺序)。")
    n = x.size
    if n > 1 and at(w0 - lr * n * gw, b0 - lr * n * gb):
        fail("步长大了 N 倍：损失应是均值 tf.reduce_mean，而不是 tf.reduce_sum。")
    if _close(new_w, want_w) and not _close(new_b, want_b):
        fail("w 对了，b 不对：b 也要用它自己的梯度更新。")
    if _close(new_b, want_b) and not _close(new_w, want_w):
        fail("b 对了，w 不对：w 也要用它自己的梯度更新。")
    check_close(
        new_w,
        want_w,
        "更新后的 w",
        rtol=1e-4,
        atol=1e-5,
        hint="应为 w - lr * dL/dw，L = mean((w*x + b - y)**2)。",
    )
    check_close(new_b, want_b, "更新后的 b", rtol=1e-4, atol=1e-5, hint="应为 b - lr * dL/db。")

    if loss is None:
        fail("没有返回损失：函数最后要 return loss (更新前的 MSE)。")
    value = to_numpy(loss, "返回的损失").astype("float64")
    if value.size != 1:
        fail(f"损失应是一个标量，实际形状是 {value.shape}。")
    value = float(value.reshape(()))
    loss_after = float(np.mean((want_w * xd + want_b - yd) ** 2))
    if not _close(loss0, loss_after) and _close(value, loss_after):
        fail("返回的是更新之后的损失：请返回在 tape 里算出的、更新前的损失。")
    check_close(
        value,
        loss0,
        "返回的损失",
        rtol=1e-4,
        atol=1e-5,
        hint="应为更新前的 MSE：mean((w*x + b - y)**2)。",
    )
    if tape_calls == 0:
        fail(
            "数值对了，但没有调用 tape.gradient：练习要求在 tf.GradientTape 里算损失、"
            "用 tape 求梯度，而不是手推梯度公式。"
        )
    return passed("gradient_descent_step 正确：一步更新后损失下降")


def _reference_epoch(x, y, w, b, lr, batch_size, full_batch=False, late=False):
    """Losses and final (w, b) of one epoch of mini-batch SGD on MSE, in float64.

    ``full_batch``: every step uses all the data (a named mistake); ``late``: each recorded
    loss is the batch's MSE after its step (another one).
    """
    losses = []
    for start in range(0, x.size, batch_size):
        xb, yb = (
            (x, y) if full_batch else (x[start : start + batch_size], y[start : start + batch_size])
        )
        err = w * xb + b - yb
        w, b = w - lr * float(np.mean(2 * err * xb)), b - lr * float(np.mean(2 * err))
        losses.append(float(np.mean((w * xb + b - yb) ** 2 if late else err**2)))
    return np.array(losses), w, b


def check_minibatch_epoch(
    fn: Callable,
    x: Any = None,
    y: Any = None,
    batch_size: int = 4,
    w0: float = 0.0,
    b0: float = 0.0,
    lr: float = 0.1,
) -> bool:
    """Check one epoch of mini-batch gradient descent ``fn(w, b, x, y, lr, batch_size)``
    (chapter 00, exercise 0.5).

    ``fn`` gets scalar ``tf.Variable`` s ``w``, ``b`` and 1-D float32 tensors ``x``, ``y``; it
    must walk through the data in order, batch by batch (the last batch may be smaller), take
    one step on each batch's MSE, update ``w`` and ``b`` in place and return the list of the
    batches' losses, each computed before its step (default data: 10 samples, batch size 4).
    """
    import tensorflow as tf

    if x is None:
        x = np.linspace(-2.0, 2.0, 10)
        y = 3.0 * x - 1.0 + np.array([0.2, -0.1, 0.0, 0.3, -0.2, 0.1, 0.0, -0.3, 0.2, -0.1])
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y, dtype="float32")
    xd, yd = x.astype("float64"), y.astype("float64")
    want_losses, want_w, want_b = _reference_epoch(xd, yd, w0, b0, lr, batch_size)
    steps = len(want_losses)

    w = tf.Variable(w0, dtype="float32", name="w")
    b = tf.Variable(b0, dtype="float32", name="b")
    try:
        losses, tape_calls = _counting_tape_gradients(
            lambda: fn(w, b, tf.constant(x), tf.constant(y), lr, batch_size)
        )
    except (TypeError, ValueError) as exc:
        fail(
            "调用出错，很可能是梯度为 None：每个小批量的预测和损失都要在 with tf.GradientTape() "
            f"块里计算。原始错误：{type(exc).__name__}: {exc}"
        )
    if losses is None:
        fail("没有返回损失列表：函数最后要 return losses (每一步更新前的小批量损失)。")
    values = np.array([float(to_numpy(v, "损失").reshape(-1)[0]) for v in losses], "float64")
    new_w, new_b = float(w.numpy()), float(b.numpy())

    if _close(new_w, w0) and _close(new_b, b0):
        fail("w 和 b 都没有变：每一步都要用 assign_sub 原地更新变量。")
    if values.size == steps - 1 and x.size % batch_size:
        fail(
            f"{x.size} 个样本、batch_size={batch_size} 应有 {steps} 步，你只走了 {values.size} 步："
            "最后一个不满的小批量 (partial batch) 被丢掉了。步数是 ceil(n / batch_size)。"
        )
    if values.size != steps:
        fail(
            f"{x.size} 个样本、batch_size={batch_size} 时一个 epoch 应有 {steps} 步 "
            f"(ceil(n / batch_size))，返回的损失列表却有 {values.size} 个。"
        )
    full_losses, _, _ = _reference_epoch(xd, yd, w0, b0, lr, batch_size, full_batch=True)
    if steps > 1 and _close(values, full_losses) and not _close(full_losses, want_losses):
        fail("每一步都用了全部样本：第 k 步只用第 k 个小批量 x[k*batch_size:(k+1)*batch_size]。")
    late_losses, _, _ = _reference_epoch(xd, yd, w0, b0, lr, batch_size, late=True)
    if _close(values, late_losses) and not _close(values, want_losses):
        fail("损失是更新之后才算的：每个小批量的损失要在 tape 里、更新之前算出。")
    check_close(
        np.array([new_w, new_b]),
        np.array([want_w, want_b]),
        "一个 epoch 后的 (w, b)",
        rtol=1e-4,
        atol=1e-5,
        hint="按顺序逐批更新：每批的损失是该批的 MSE (reduce_mean)，w、b 各减去 lr × 自己的梯度。",
    )
    check_close(
        values,
        want_losses,
        "每一步的损失",
        rtol=1e-4,
        atol=1e-5,
        hint="第 k 个元素应是第 k 个小批量在更新前的 MSE。",
    )
    if tape_calls < steps:
        fail(
            f"数值对了，但 {steps} 步只调用了 {tape_calls} 次 tape.gradient：每个小批量都要在 "
            "tf.GradientTape 里算损失、用 tape 求梯度，而不是手推梯度公式。"
        )
    return passed(f"sgd_epoch 正确：{x.size} 个样本、batch_size={batch_size}，共 {steps} 步")
