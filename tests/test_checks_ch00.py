"""Chapter 00 checks: does each typical mistake get its targeted message, and a right answer pass?"""

import numpy as np
import pytest
import tensorflow as tf

from course_utils import checks
from course_utils.checks import CheckFailed


def expect_failure(check, fn, phrase, **kwargs):
    with pytest.raises(CheckFailed) as info:
        check(fn=fn, **kwargs)
    assert phrase in str(info.value), str(info.value)


# --- exercise 0.1: stable_softmax -------------------------------------------------------------


def good_softmax(logits):
    z = logits - tf.reduce_max(logits, axis=-1, keepdims=True)
    e = tf.exp(z)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def test_softmax_correct_passes():
    """Does a stable softmax over the last axis pass, also on extra logits?"""
    assert checks.check_softmax(fn=good_softmax)
    assert checks.check_softmax(fn=good_softmax, logits=np.full((2, 5), 300.0))


def test_softmax_wrong_axis():
    """Is a softmax over axis 0 reported as normalising the wrong axis?"""

    def wrong(logits):
        return tf.nn.softmax(logits, axis=0)

    expect_failure(checks.check_softmax, wrong, "沿错了轴")


def test_softmax_without_max_overflows():
    """Is a softmax that skips the max subtraction caught on huge logits?"""

    def naive(logits):
        e = tf.exp(logits)
        return e / tf.reduce_sum(e, axis=-1, keepdims=True)

    expect_failure(checks.check_softmax, naive, "减去最大值")


def test_softmax_global_max():
    """Is subtracting the max of the whole tensor instead of each row reported?"""

    def global_max(logits):
        e = tf.exp(logits - tf.reduce_max(logits))
        return e / tf.reduce_sum(e, axis=-1, keepdims=True)

    expect_failure(checks.check_softmax, global_max, "每一行自己的最大值")


def test_softmax_missing_keepdims():
    """Is a row sum without keepdims reported as a broadcasting problem?"""

    def no_keepdims(logits):
        e = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
        return e / tf.reduce_sum(e, axis=-1)

    expect_failure(checks.check_softmax, no_keepdims, "keepdims=True")


def test_softmax_returning_none():
    """Does a softmax that forgets to return get the 'forgot return' message?"""
    expect_failure(checks.check_softmax, lambda logits: None, "return")


# --- exercise 0.2: numeric_grad ---------------------------------------------------------------


def good_numeric_grad(f, x, eps=1e-3):
    grad = np.zeros_like(x, dtype="float64")
    for i in range(x.size):
        step = np.zeros_like(x, dtype="float64")
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def test_numeric_grad_correct_passes():
    """Does a central difference pass on the default and on another function?"""
    assert checks.check_numeric_grad(fn=good_numeric_grad)
    x = np.array([0.3, -0.7])
    assert checks.check_numeric_grad(
        fn=good_numeric_grad,
        f=lambda v: float(np.sin(v[0]) * np.exp(v[1])),
        x=x,
        grad=[np.cos(x[0]) * np.exp(x[1]), np.sin(x[0]) * np.exp(x[1])],
        eps=1e-4,
    )


def test_numeric_grad_forward_difference():
    """Is a forward difference reported as one-sided instead of central?"""

    def forward(f, x, eps=1e-3):
        grad = np.zeros_like(x)
        for i in range(x.size):
            step = np.zeros_like(x)
            step[i] = eps
            grad[i] = (f(x + step) - f(x)) / eps
        return grad

    expect_failure(checks.check_numeric_grad, forward, "中心差分")


def test_numeric_grad_divides_by_eps():
    """Is dividing a central difference by eps instead of 2*eps reported as twice too big?"""

    def double(f, x, eps=1e-3):
        return 2 * good_numeric_grad(f, x, eps)

    expect_failure(checks.check_numeric_grad, double, "2 倍")


def test_numeric_grad_perturbs_all_components():
    """Is moving every component at once reported?"""

    def together(f, x, eps=1e-3):
        return np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps))

    expect_failure(checks.check_numeric_grad, together, "一次只能扰动一个分量")


def test_numeric_grad_mutates_input():
    """Is an implementation that leaves the caller's x changed reported?"""

    def mutating(f, x, eps=1e-3):
        grad = np.zeros_like(x)
        for i in range(x.size):
            x[i] += eps
            up = f(x)
            x[i] -= 2 * eps
            grad[i] = (up - f(x)) / (2 * eps)
        return grad

    expect_failure(checks.check_numeric_grad, mutating, "x.copy()")


# --- exercise 0.3: second_derivative ----------------------------------------------------------


def good_second_derivative(f, x):
    x = tf.constant(x, dtype=tf.float32)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        dy_dx = inner.gradient(y, x)
    return float(outer.gradient(dy_dx, x))


def test_second_derivative_correct_passes():
    """Do nested tapes pass on x**3 and on sin?"""
    assert checks.check_second_derivative(fn=good_second_derivative)
    assert checks.check_second_derivative(
        fn=good_second_derivative, f=tf.sin, x=0.5, expected=-np.sin(0.5), first=np.cos(0.5)
    )


def test_second_derivative_returns_first():
    """Is returning f'(x) instead of f''(x) reported as the first derivative?"""

    def first_only(f, x):
        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        return tape.gradient(y, x)

    expect_failure(checks.check_second_derivative, first_only, "一阶导数")


def test_second_derivative_inner_gradient_outside_outer_tape():
    """Is an inner gradient taken outside the outer tape (so the result is None) reported?"""

    def outside(f, x):
        x = tf.constant(x)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = f(x)
        dy_dx = inner.gradient(y, x)
        return outer.gradient(dy_dx, x)

    expect_failure(checks.check_second_derivative, outside, "外层 with 块之内")


def test_second_derivative_unwatched_constant():
    """Is a constant that no tape watches (inner gradient None) reported with a watch hint?"""

    def unwatched(f, x):
        x = tf.constant(x)
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                y = f(x)
            dy_dx = inner.gradient(y, x)
        return outer.gradient(dy_dx, x)

    expect_failure(checks.check_second_derivative, unwatched, "watch")


# --- exercise 0.4: gradient_descent_step ------------------------------------------------------


def good_step(w, b, x, y, lr):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(w * x + b - y))
    grad_w, grad_b = tape.gradient(loss, [w, b])
    w.assign_sub(lr * grad_w)
    b.assign_sub(lr * grad_b)
    return loss


def test_step_correct_passes():
    """Does a correct step pass on the default data and on noisy data with another lr?"""
    assert checks.check_gradient_descent_step(fn=good_step)
    rng = np.random.default_rng(0)
    x = rng.normal(size=20)
    assert checks.check_gradient_descent_step(
        fn=good_step, x=x, y=-2 * x + 0.5 + 0.1 * rng.normal(size=20), w0=1.0, b0=1.0, lr=0.05
    )


def test_step_with_keras_optimizer_passes():
    """Does a step through keras SGD with zip(grads, vars) pass too?"""
    import keras

    def sgd_step(w, b, x, y, lr):
        opt = keras.optimizers.SGD(learning_rate=lr)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((w * x + b - y) ** 2)
        grads = tape.gradient(loss, [w, b])
        opt.apply_gradients(zip(grads, [w, b], strict=True))
        return loss

    assert checks.check_gradient_descent_step(fn=sgd_step)


def test_step_wrong_sign():
    """Is adding lr * gradient reported as a sign error that makes the loss grow?"""

    def ascent(w, b, x, y, lr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(w * x + b - y))
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_add(lr * grad_w)
        b.assign_add(lr * grad_b)
        return loss

    expect_failure(checks.check_gradient_descent_step, ascent, "符号")


def test_step_swapped_pairs():
    """Is applying w's gradient to b (reversed pairing) reported?"""

    def swapped(w, b, x, y, lr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(w * x + b - y))
        grads = tape.gradient(loss, [w, b])
        for var, grad in zip([w, b], reversed(grads), strict=True):
            var.assign_sub(lr * grad)
        return loss

    expect_failure(checks.check_gradient_descent_step, swapped, "对调")


def test_step_rebinds_instead_of_assign():
    """Is `w = w - lr * g` (variables left unchanged) reported?"""

    def rebinding(w, b, x, y, lr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(w * x + b - y))
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w = w - lr * grad_w  # noqa: F841 - the mistake under test
        b = b - lr * grad_b  # noqa: F841
        return loss

    expect_failure(checks.check_gradient_descent_step, rebinding, "assign_sub")


def test_step_sum_instead_of_mean():
    """Is a summed loss (steps N times too large) reported?"""

    def summed(w, b, x, y, lr):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(w * x + b - y))
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(lr * grad_w)
        b.assign_sub(lr * grad_b)
        return loss

    expect_failure(checks.check_gradient_descent_step, summed, "reduce_mean")


def test_step_loss_outside_tape():
    """Is a loss computed outside the tape (gradients None) reported?"""

    def outside(w, b, x, y, lr):
        with tf.GradientTape() as tape:
            pass
        loss = tf.reduce_mean(tf.square(w * x + b - y))
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(lr * grad_w)
        b.assign_sub(lr * grad_b)
        return loss

    expect_failure(checks.check_gradient_descent_step, outside, "GradientTape")


def test_step_returns_loss_after_update():
    """Is returning the loss after the update (instead of before) reported?"""

    def late_loss(w, b, x, y, lr):
        good_step(w, b, x, y, lr)
        return tf.reduce_mean(tf.square(w * x + b - y))

    expect_failure(checks.check_gradient_descent_step, late_loss, "更新之后")


def test_step_no_return():
    """Is a step that forgets to return the loss reported?"""

    def silent(w, b, x, y, lr):
        good_step(w, b, x, y, lr)

    expect_failure(checks.check_gradient_descent_step, silent, "return loss")


def test_public_names_exported():
    """Are all chapter 00 checks re-exported from course_utils.checks?"""
    from course_utils.checks import ch00

    for name in ch00.__all__:
        assert getattr(checks, name) is getattr(ch00, name)
