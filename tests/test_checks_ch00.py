"""Chapter 00 checks: does each typical mistake get its targeted message, and a right answer pass?"""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
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
        e = tf.exp(logits - tf.reduce_max(logits, axis=0, keepdims=True))
        return e / tf.reduce_sum(e, axis=0, keepdims=True)

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


BUILTIN_SOFTMAXES = {
    "tf.nn.softmax": lambda logits: tf.nn.softmax(logits),
    "tf.math.softmax": lambda logits: tf.math.softmax(logits, axis=-1),
    "keras.activations.softmax": lambda logits: keras.activations.softmax(logits),
    "keras.ops.softmax": lambda logits: keras.ops.softmax(logits),
    "keras.layers.Softmax": lambda logits: keras.layers.Softmax()(logits),
    "exp(log_softmax)": lambda logits: tf.exp(tf.nn.log_softmax(logits)),
    "keras.ops.log_softmax": lambda logits: keras.ops.exp(keras.ops.log_softmax(logits)),
    # Cannot be traced (it calls .numpy()), so the check has to catch it eagerly.
    "tf.nn.softmax via numpy": lambda logits: tf.constant(tf.nn.softmax(logits).numpy()),
}


@pytest.mark.parametrize("name", list(BUILTIN_SOFTMAXES))
def test_softmax_builtin_is_rejected(name):
    """Is every built-in softmax (the exercise forbids tf.nn.softmax and its aliases) rejected?"""
    expect_failure(checks.check_softmax, BUILTIN_SOFTMAXES[name], "内置的 softmax")


def test_softmax_builtin_rejected_on_extra_logits():
    """Does the hidden-test call (extra logits) reject `return tf.nn.softmax(logits)` too?"""
    logits = np.random.default_rng(0).normal(scale=40.0, size=(6, 5))
    expect_failure(checks.check_softmax, tf.nn.softmax, "内置的 softmax", logits=logits)


def test_softmax_eager_only_answer_passes():
    """Does a correct softmax that cannot be traced (it goes through NumPy) still pass?"""

    def via_numpy(logits):
        z = logits.numpy()
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return tf.constant(e / e.sum(axis=-1, keepdims=True))

    assert checks.check_softmax(fn=via_numpy)
    assert tf.nn.softmax([[1.0, 2.0]]).shape == (1, 2)  # the patched kernel was restored


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


def test_numeric_grad_ignoring_eps():
    """Is a central difference that ignores the eps argument (a fixed tiny step) caught?"""

    def fixed_step(f, x, eps=1e-3):
        return good_numeric_grad(f, x, 1e-5)

    expect_failure(checks.check_numeric_grad, fixed_step, "eps 被忽略")


def test_numeric_grad_ignoring_eps_caught_on_hidden_case():
    """Does a large eps with grad=None (compare with the central difference itself) catch it?"""

    def fixed_step(f, x, eps=1e-3):
        return good_numeric_grad(f, x, 1e-5)

    def f(v):
        return float(np.sum(np.exp(v)))

    x = np.array([0.5, -1.0])
    assert checks.check_numeric_grad(fn=good_numeric_grad, f=f, x=x, eps=0.4)
    expect_failure(checks.check_numeric_grad, fixed_step, "eps 被忽略", f=f, x=x, eps=0.4)


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


def finite_difference_second_derivative(f, x):
    """The issue's wrong answer: a float64 finite difference, no tape at all."""
    h = 1e-3
    t = tf.constant(x, tf.float64)
    return float((f(t + h) - 2 * f(t) + f(t - h)) / h**2)


def test_second_derivative_finite_difference_rejected():
    """Is a float64 finite difference without any tape caught by the custom-gradient case?"""
    expect_failure(checks.check_second_derivative, finite_difference_second_derivative, "有限差分")


def test_second_derivative_custom_gradient_case_in_hidden_form():
    """Does a hidden-test style custom-gradient function pass nested tapes and fail the
    finite difference?"""

    @tf.custom_gradient
    def cube_with_exp_gradient(t):
        return t**3, lambda upstream: upstream * tf.exp(t)

    case = dict(f=cube_with_exp_gradient, x=0.4, expected=np.exp(0.4), numeric=2.4)
    assert checks.check_second_derivative(fn=good_second_derivative, **case)
    expect_failure(
        checks.check_second_derivative, finite_difference_second_derivative, "有限差分", **case
    )


def test_second_derivative_float64_tapes_pass():
    """Do nested tapes on a float64 constant (not what the task says, but still tape) pass?"""

    def float64_tapes(f, x):
        t = tf.constant(x, tf.float64)
        with tf.GradientTape() as outer:
            outer.watch(t)
            with tf.GradientTape() as inner:
                inner.watch(t)
                y = f(t)
            dy = inner.gradient(y, t)
        return outer.gradient(dy, t).numpy()

    assert checks.check_second_derivative(fn=float64_tapes)


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


def test_step_hand_derived_gradient_rejected():
    """Is a step with hand-derived gradients (right numbers, no tape) rejected?"""

    def by_hand(w, b, x, y, lr):
        err = w * x + b - y
        loss = tf.reduce_mean(err**2)
        w.assign_sub(lr * tf.reduce_mean(2 * err * x))
        b.assign_sub(lr * tf.reduce_mean(2 * err))
        return loss

    expect_failure(checks.check_gradient_descent_step, by_hand, "tape.gradient")
    assert tf.GradientTape.gradient.__name__ == "gradient"  # the counting patch was undone


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


# --- exercise 0.5: sgd_epoch ----------------------------------------------------------------


def good_epoch(w, b, x, y, lr, batch_size):
    losses = []
    for start in range(0, int(x.shape[0]), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(w * xb + b - yb))
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(lr * grad_w)
        b.assign_sub(lr * grad_b)
        losses.append(float(loss))
    return losses


def epoch_variant(drop_last=False, full_batch=False, late=False, fixed_batch=None, reduce=None):
    """good_epoch with one named mistake switched on."""
    reduce = reduce or tf.reduce_mean

    def fn(w, b, x, y, lr, batch_size):
        batch_size = fixed_batch or batch_size
        n = int(x.shape[0])
        stop = n - n % batch_size if drop_last else n
        losses = []
        for start in range(0, stop, batch_size):
            xb, yb = (
                (x, y)
                if full_batch
                else (x[start : start + batch_size], y[start : start + batch_size])
            )
            with tf.GradientTape() as tape:
                loss = reduce(tf.square(w * xb + b - yb))
            grad_w, grad_b = tape.gradient(loss, [w, b])
            w.assign_sub(lr * grad_w)
            b.assign_sub(lr * grad_b)
            if late:
                loss = tf.reduce_mean(tf.square(w * xb + b - yb))
            losses.append(loss)
        return losses

    return fn


def test_epoch_correct_passes():
    """Does an in-order mini-batch epoch pass on the default and on other batch sizes?"""
    assert checks.check_minibatch_epoch(fn=good_epoch)
    rng = np.random.default_rng(3)
    x = rng.normal(size=23)
    y = -2 * x + 0.5 + 0.1 * rng.normal(size=23)
    for batch_size in (1, 5, 23, 64):
        assert checks.check_minibatch_epoch(
            fn=good_epoch, x=x, y=y, batch_size=batch_size, w0=1.0, b0=1.0, lr=0.05
        )


@pytest.mark.parametrize(
    "fn, phrase",
    [
        (epoch_variant(drop_last=True), "最后一个不满的小批量"),
        (epoch_variant(full_batch=True), "全部样本"),
        (epoch_variant(late=True), "更新之后"),
        (epoch_variant(reduce=tf.reduce_sum), "reduce_mean"),
        (lambda w, b, x, y, lr, batch_size: [0.0, 0.0, 0.0], "没有变"),
        (lambda w, b, x, y, lr, batch_size: good_epoch(w, b, x, y, lr, batch_size)[:1], "步"),
        (
            lambda w, b, x, y, lr, batch_size: good_epoch(w, b, x, y, lr, batch_size) and None,
            "return",
        ),
    ],
    ids=["drop-last", "full-batch", "late-loss", "sum", "no-update", "one-loss", "no-return"],
)
def test_epoch_named_mistakes(fn, phrase):
    """Does each named mini-batch mistake get its message?"""
    expect_failure(checks.check_minibatch_epoch, fn, phrase)


def test_epoch_hand_derived_gradient_rejected():
    """Is an epoch with hand-derived gradients (right numbers, no tape) rejected?"""

    def by_hand(w, b, x, y, lr, batch_size):
        losses = []
        for start in range(0, int(x.shape[0]), batch_size):
            xb, yb = x[start : start + batch_size], y[start : start + batch_size]
            err = w * xb + b - yb
            losses.append(float(tf.reduce_mean(err**2)))
            w.assign_sub(lr * tf.reduce_mean(2 * err * xb))
            b.assign_sub(lr * tf.reduce_mean(2 * err))
        return losses

    expect_failure(checks.check_minibatch_epoch, by_hand, "tape.gradient")


def test_epoch_ignoring_batch_size_fails_on_another_size():
    """Is an answer that always uses the visible batch size 4 caught with another size?"""
    fn = epoch_variant(fixed_batch=4)
    assert checks.check_minibatch_epoch(fn=fn)
    x = np.linspace(-1.0, 1.0, 23)
    expect_failure(checks.check_minibatch_epoch, fn, "23 个样本", x=x, y=2 * x, batch_size=5)


def test_public_names_exported():
    """Are all chapter 00 checks re-exported from course_utils.checks?"""
    from course_utils.checks import ch00

    for name in ch00.__all__:
        assert getattr(checks, name) is getattr(ch00, name)


# --- forgeries --------------------------------------------------------------------------------

HARDCODED = {
    # The wrong answer: the built-in the task forbids.
    "ch00_stable_softmax_test": """
def stable_softmax(logits):
    return tf.nn.softmax(logits)
""",
    # The wrong answer: a correct central difference that ignores eps.
    "ch00_numeric_grad_test": """
def numeric_grad(f, x, eps=1e-3):
    x = np.asarray(x, dtype="float64")
    grad = np.zeros_like(x)
    for i in range(x.size):
        step = np.zeros_like(x)
        step[i] = 1e-5
        grad[i] = (f(x + step) - f(x - step)) / 2e-5
    return grad
""",
    # The wrong answer: a float64 finite difference, no tape.
    "ch00_second_derivative_test": """
def second_derivative(f, x):
    h = 1e-3
    t = tf.constant(x, tf.float64)
    return float((f(t + h) - 2 * f(t) + f(t - h)) / h**2)
""",
    # Hard-codes the visible case's result (w=0.5, b=-0.2, lr=0.1 on y = 3x - 1).
    "ch00_gradient_descent_step_test": """
def gradient_descent_step(w, b, x, y, lr):
    w.assign(1.84)
    b.assign(0.14)
    return tf.constant(15.39)
""",
    # Right loop, but always the visible batch size 4.
    "ch00_sgd_epoch_test": """
def sgd_epoch(w, b, x, y, lr, batch_size):
    losses = []
    for start in range(0, int(x.shape[0]), 4):
        xb, yb = x[start : start + 4], y[start : start + 4]
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(w * xb + b - yb))
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(lr * grad_w)
        b.assign_sub(lr * grad_b)
        losses.append(float(loss))
    return losses
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("00_tensors_autodiff", HARDCODED, tmp_path)
