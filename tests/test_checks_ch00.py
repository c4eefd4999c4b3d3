"""Chapter 00 checks: does each typical mistake get its targeted message, and a right answer pass?"""

import importlib
import importlib.util
import json
from pathlib import Path

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import nbexec
import nbformat
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


def good_softmax(logits, mask=None):
    if mask is None:
        mask = tf.ones_like(logits, dtype=tf.bool)
    kept = tf.where(mask, logits, -np.inf)
    row_max = tf.reduce_max(kept, axis=-1, keepdims=True)
    row_max = tf.where(tf.math.is_finite(row_max), row_max, 0.0)
    e = tf.where(mask, tf.exp(kept - row_max), 0.0)
    total = tf.reduce_sum(e, axis=-1, keepdims=True)
    return e / tf.where(total > 0, total, 1.0)


def test_softmax_correct_passes():
    """Does a stable masked softmax over the last axis pass?"""
    forgery.passes(checks.check_softmax, fn=good_softmax)


def test_softmax_with_a_large_negative_fill_passes():
    """Does the common engineering answer (masked logits set to -1e9, the sum kept above 0)
    pass too?"""

    def fill(logits, mask=None):
        if mask is not None:
            logits = tf.where(mask, logits, -1e9)
        e = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True))
        if mask is not None:
            e = e * tf.cast(mask, e.dtype)
        return e / tf.maximum(tf.reduce_sum(e, axis=-1, keepdims=True), 1e-30)

    forgery.passes(checks.check_softmax, fn=fill)


def unmasked(logits, mask=None):
    """A stable softmax that ignores the mask."""
    return good_softmax(logits)


def global_max_masked(logits, mask):
    """Subtracts the row maximum over every position, hidden ones included."""
    e = tf.exp(logits - tf.reduce_max(logits, axis=-1, keepdims=True)) * tf.cast(mask, tf.float32)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def masked_after_softmax(logits, mask):
    """Softmax over the whole row, then the hidden positions zeroed: not renormalised."""
    return good_softmax(logits) * tf.cast(mask, tf.float32)


def no_empty_row_guard(logits, mask):
    """Right until a row has nothing kept: -inf max, then 0/0."""
    kept = tf.where(mask, logits, -np.inf)
    e = tf.exp(kept - tf.reduce_max(kept, axis=-1, keepdims=True))
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def uniform_empty_row(logits, mask):
    """Masked logits set to -1e9 but never zeroed: an all-hidden row becomes uniform."""
    z = tf.where(mask, logits, -1e9)
    e = tf.exp(z - tf.reduce_max(z, axis=-1, keepdims=True))
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


@pytest.mark.parametrize(
    "fn, phrase",
    [
        (lambda logits, mask=None: unmasked(logits, mask), "概率应为 0"),
        (
            lambda logits, mask=None: (
                good_softmax(logits) if mask is None else global_max_masked(logits, mask)
            ),
            "未被屏蔽的位置上取",
        ),
        (
            lambda logits, mask=None: (
                good_softmax(logits) if mask is None else masked_after_softmax(logits, mask)
            ),
            "先屏蔽",
        ),
        (
            lambda logits, mask=None: (
                good_softmax(logits) if mask is None else no_empty_row_guard(logits, mask)
            ),
            "整行都被屏蔽时出现了 NaN",
        ),
        (
            lambda logits, mask=None: (
                good_softmax(logits) if mask is None else uniform_empty_row(logits, mask)
            ),
            "全 0",
        ),
        (lambda logits: good_softmax(logits), "mask=None"),
    ],
    ids=[
        "mask-ignored",
        "global-max",
        "not-renormalised",
        "empty-row-nan",
        "empty-row-uniform",
        "no-mask-argument",
    ],
)
def test_softmax_masked_mistakes(fn, phrase):
    """Does each named mistake with the mask get its message?"""
    expect_failure(checks.check_softmax, fn, phrase)


def test_softmax_builtin_only_with_a_mask_is_rejected():
    """Is a built-in softmax used only when a mask is given still caught?"""

    def sneaky(logits, mask=None):
        if mask is None:
            return good_softmax(logits)
        return tf.where(mask, tf.nn.softmax(tf.where(mask, logits, -1e30)), 0.0)

    expect_failure(checks.check_softmax, sneaky, "内置的 softmax")


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


def test_softmax_eager_only_answer_passes():
    """Does a correct softmax that cannot be traced (it goes through NumPy) still pass?"""

    def via_numpy(logits, mask=None):
        z = logits.numpy().astype("float64")
        keep = np.ones(z.shape, dtype=bool) if mask is None else mask.numpy()
        out = np.zeros_like(z)
        for i in range(z.shape[0]):
            if keep[i].any():
                e = np.exp(z[i, keep[i]] - z[i, keep[i]].max())
                out[i, keep[i]] = e / e.sum()
        return tf.constant(out)

    forgery.passes(checks.check_softmax, fn=via_numpy)
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
    """Does a central difference pass on the visible cases?"""
    forgery.passes(checks.check_numeric_grad, fn=good_numeric_grad)


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


# --- exercise 0.3: hessian_vector_product -----------------------------------------------------


def good_hvp(f, x, v):
    x = tf.constant(x, tf.float32)
    v = tf.constant(v, tf.float32)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        grad = inner.gradient(y, x)
        dot = tf.reduce_sum(grad * v)
    return outer.gradient(dot, x)


def test_hvp_correct_passes():
    """Do two nested tapes (gradient, dot with v, gradient again) pass?"""
    forgery.passes(checks.check_hessian_vector_product, fn=good_hvp)


def test_hvp_float64_and_jacobian_pass_the_visible_check():
    """Does a float64 version pass, and one through tape.jacobian too (the visible check judges
    numbers; the grader's constraint judges the jacobian)?"""

    def float64(f, x, v):
        x = tf.constant(x, tf.float64)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = f(x)
            dot = tf.reduce_sum(inner.gradient(y, x) * tf.constant(v, tf.float64))
        return outer.gradient(dot, x).numpy()

    def via_jacobian(f, x, v):
        x = tf.constant(x)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = f(x)
            grad = inner.gradient(y, x)
        return tf.linalg.matvec(outer.jacobian(grad, x), tf.constant(v))

    forgery.passes(checks.check_hessian_vector_product, fn=float64)
    forgery.passes(checks.check_hessian_vector_product, fn=via_jacobian)


def test_hvp_returns_first_gradient():
    """Is returning the first gradient reported?"""

    def first_only(f, x, v):
        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        return tape.gradient(y, x)

    expect_failure(checks.check_hessian_vector_product, first_only, "一阶梯度")


def test_hvp_differentiates_the_vector_gradient():
    """Is differentiating the gradient vector itself (H·1, v unused) reported?"""

    def row_sums(f, x, v):
        x = tf.constant(x)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = f(x)
            grad = inner.gradient(y, x)
        return outer.gradient(grad, x)

    expect_failure(checks.check_hessian_vector_product, row_sums, "H·1")


def test_hvp_dot_outside_the_outer_tape():
    """Is a dot product taken after the outer tape stopped (the result is None) reported?"""

    def outside(f, x, v):
        x = tf.constant(x)
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = f(x)
            grad = inner.gradient(y, x)
        dot = tf.reduce_sum(grad * v)
        return outer.gradient(dot, x)

    expect_failure(checks.check_hessian_vector_product, outside, "外层 with 块之内")


def test_hvp_unwatched_constant():
    """Does forgetting watch on the constant x get the watch message?"""

    def unwatched(f, x, v):
        x = tf.constant(x)
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                y = f(x)
            dot = tf.reduce_sum(inner.gradient(y, x) * v)
        return outer.gradient(dot, x)

    expect_failure(checks.check_hessian_vector_product, unwatched, "watch")


def finite_difference_hvp(f, x, v):
    """A central difference of the tape's gradient along v: close for ordinary functions."""

    def grad(point):
        point = tf.constant(point, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(point)
            y = f(point)
        return tape.gradient(y, point).numpy().astype("float64")

    return (grad(x + 1e-3 * v) - grad(x - 1e-3 * v)) / 2e-3


def test_hvp_finite_difference_rejected():
    """Is a finite difference of the gradient caught on the function only a tape differentiates?"""
    expect_failure(checks.check_hessian_vector_product, finite_difference_hvp, "有限差分")


# --- exercise 0.4: momentum_step --------------------------------------------------------------


def good_momentum(params, velocities, loss_fn, lr, beta):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, params)
    for p, u, g in zip(params, velocities, grads):
        u.assign(beta * u - lr * g)
        p.assign_add(u)
    return loss


def momentum_variant(
    plain=False, old_velocity=False, wrong_sign=False, keep_velocity=False, late=False
):
    """good_momentum with one named mistake switched on."""

    def fn(params, velocities, loss_fn, lr, beta):
        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, params)
        for p, u, g in zip(params, velocities, grads):
            new_u = beta * u + lr * g if wrong_sign else beta * u - lr * g
            if plain:
                p.assign_sub(lr * g)
                continue
            p.assign_add(u if old_velocity else new_u)
            if not keep_velocity:
                u.assign(new_u)
        return loss_fn() if late else loss

    return fn


def test_momentum_correct_passes():
    """Does a momentum step (velocity first, then the parameter) pass?"""
    forgery.passes(checks.check_momentum_step, fn=good_momentum)


@pytest.mark.parametrize(
    "fn, phrase",
    [
        (momentum_variant(plain=True), "普通的梯度下降"),
        (momentum_variant(old_velocity=True), "更新之前的速度"),
        (momentum_variant(wrong_sign=True), "反了"),
        (momentum_variant(keep_velocity=True), "速度 (velocities) 却没有变"),
        (momentum_variant(late=True), "更新之后"),
        (lambda params, velocities, loss_fn, lr, beta: loss_fn(), "都没有变"),
        (
            lambda params, velocities, loss_fn, lr, beta: (
                good_momentum(params, velocities, loss_fn, lr, beta) and None
            ),
            "return loss",
        ),
    ],
    ids=["plain", "old-velocity", "wrong-sign", "velocity-kept", "late-loss", "no-update", "none"],
)
def test_momentum_named_mistakes(fn, phrase):
    """Does each named momentum mistake get its message?"""
    expect_failure(checks.check_momentum_step, fn, phrase)


def test_momentum_hand_derived_gradient_rejected():
    """Is an MSE gradient written out by hand caught by the custom-gradient loss?"""

    def by_hand(params, velocities, loss_fn, lr, beta):
        loss = loss_fn()
        w, b = params
        x = tf.constant([-1.0, 0.0, 1.0, 2.0, 3.0])
        err = w * x + b - (3.0 * x - 1.0)
        grads = [tf.reduce_mean(2.0 * err * x), tf.reduce_mean(2.0 * err)]
        for p, u, g in zip(params, velocities, grads):
            u.assign(beta * u - lr * g)
            p.assign_add(u)
        return loss

    expect_failure(checks.check_momentum_step, by_hand, "tf.custom_gradient")


def test_momentum_keras_optimizer_reported():
    """Is keras.optimizers.SGD(momentum=...) reported: its velocity is not the one passed in?"""

    def keras_sgd(params, velocities, loss_fn, lr, beta):
        opt = keras.optimizers.SGD(learning_rate=lr, momentum=beta)
        with tf.GradientTape() as tape:
            loss = loss_fn()
        opt.apply_gradients(zip(tape.gradient(loss, params), params))
        return loss

    with pytest.raises(CheckFailed):
        checks.check_momentum_step(fn=keras_sgd)


def test_momentum_loss_outside_tape():
    """Does calling loss_fn outside the tape (every gradient None) get the tape message?"""

    def outside(params, velocities, loss_fn, lr, beta):
        loss = loss_fn()
        with tf.GradientTape() as tape:
            pass
        return good_momentum(params, velocities, lambda: loss, lr, beta) if tape else loss

    expect_failure(checks.check_momentum_step, outside, "GradientTape")


# --- exercise 0.5: sgd_epoch ----------------------------------------------------------------


def good_epoch(w, b, x, y, lr, batch_size, loss_fn):
    losses = []
    for start in range(0, int(x.shape[0]), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, w * xb + b)
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(lr * grad_w)
        b.assign_sub(lr * grad_b)
        losses.append(float(loss))
    return losses


def epoch_variant(drop_last=False, full_batch=False, late=False, fixed_batch=None, by_hand=False):
    """good_epoch with one named mistake switched on."""

    def fn(w, b, x, y, lr, batch_size, loss_fn):
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
                loss = loss_fn(yb, w * xb + b)
            grad_w, grad_b = tape.gradient(loss, [w, b])
            if by_hand:
                err = w * xb + b - yb
                grad_w, grad_b = tf.reduce_mean(2 * err * xb), tf.reduce_mean(2 * err)
            w.assign_sub(lr * grad_w)
            b.assign_sub(lr * grad_b)
            if late:
                loss = loss_fn(yb, w * xb + b)
            losses.append(loss)
        return losses

    return fn


def test_epoch_correct_passes():
    """Does an in-order mini-batch epoch pass on the visible cases?"""
    forgery.passes(checks.check_minibatch_epoch, fn=good_epoch)


@pytest.mark.parametrize(
    "fn, phrase",
    [
        (epoch_variant(drop_last=True), "最后一个不满的小批量"),
        (epoch_variant(full_batch=True), "全部样本"),
        (epoch_variant(late=True), "更新之后"),
        (epoch_variant(by_hand=True), "tf.custom_gradient"),
        (lambda w, b, x, y, lr, batch_size, loss_fn: [0.0, 0.0, 0.0], "没有变"),
        (lambda w, b, x, y, lr, bs, loss_fn: good_epoch(w, b, x, y, lr, bs, loss_fn)[:1], "步"),
        (
            lambda w, b, x, y, lr, bs, loss_fn: good_epoch(w, b, x, y, lr, bs, loss_fn) and None,
            "return",
        ),
    ],
    ids=[
        "drop-last",
        "full-batch",
        "late-loss",
        "by-hand",
        "no-update",
        "one-loss",
        "no-return",
    ],
)
def test_epoch_named_mistakes(fn, phrase):
    """Does each named mini-batch mistake get its message?"""
    expect_failure(checks.check_minibatch_epoch, fn, phrase)


def test_public_names_exported():
    """Are all chapter 00 checks re-exported from course_utils.checks?"""
    from course_utils.checks import ch00

    for name in ch00.__all__:
        assert getattr(checks, name) is getattr(ch00, name)


# --- hidden blocks ----------------------------------------------------------------------------

NOTEBOOK = nbexec.NOTEBOOKS / "00_tensors_autodiff.ipynb"
ATTACKS = Path(__file__).parent / "autograder" / "attacks" / "constraints" / "ch00.py"


@pytest.fixture(scope="module")
def chapter():
    """The instructor notebook's answers, grade cells, hidden blocks and Setup sources."""
    from autograder import hidden_tests

    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    return {
        "cells": cells,
        "blocks": hidden_tests.split_notebook(nb),
        "setup": hidden_tests.setup_sources(nb),
    }


def setup_namespace():
    import course_utils
    from course_utils import plots

    return {
        "np": np,
        "tf": tf,
        "keras": keras,
        "course_utils": course_utils,
        "checks": checks,
        "plots": plots,
        "size": "small",
    }


def run_hidden(chapter, grade_id, answer):
    """Run ``answer`` and the grade cell's hidden block in one namespace, the way stock
    nbgrader does (expects compare at once); raise what the block raises."""
    from autograder.hidden_tests import hidden_source
    from course_utils import grading

    grading._take()
    namespace = setup_namespace()
    exec(compile(answer, "<answer>", "exec"), namespace)
    exec(compile(hidden_source(chapter["cells"][grade_id]), "<hidden>", "exec"), namespace)


def run_split(chapter, grade_id, answer):
    """Judge ``answer`` the way ``python -m autograder grade`` does: the student side of the
    hidden block statement by statement after the answer (a statement that raises records an
    error for its probes), the reference side alone in a namespace with only the Setup names,
    then compare. Returns ``{key: (ok, why)}``."""
    from course_utils import grading

    block = chapter["blocks"][grade_id]
    grading._take()
    namespace = setup_namespace()
    exec(compile(answer, "<answer>", "exec"), namespace)
    namespace = dict(namespace)
    for keys, source in zip(block.student_keys, block.student, strict=True):
        try:
            exec(compile(source, "<hidden tests>", "exec"), namespace)
        except Exception as exc:
            grading._failed(keys, exc)
    got = json.loads(grading._take())
    expected: dict = {}
    grading._record(expected)
    try:
        reference = setup_namespace()
        for source in block.reference:
            exec(compile(source, "<reference>", "exec"), reference)
    finally:
        grading._record(None)
    assert sorted(expected) == sorted(block.probes)
    verdicts = {}
    for key, spec in expected.items():
        if key in got["errors"]:
            verdicts[key] = (False, got["errors"][key])
        elif key not in got["probed"]:
            verdicts[key] = (False, "nothing probed")
        else:
            verdicts[key] = grading.compare(got["probed"][key], spec["value"], spec)
    return verdicts


def split_passes(chapter, grade_id, answer) -> bool:
    return all(ok for ok, _ in run_split(chapter, grade_id, answer).values())


def solution(chapter, answer_id):
    lines = chapter["cells"][answer_id].splitlines()
    return "\n".join(
        line
        for line in lines
        if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line
    )


# Right loop, but always the visible batch size 4: the visible check cannot tell, the hidden
# cases (other batch sizes) can. Used by HIDDEN_ONLY and HARDCODED below.
FIXED_BATCH_SGD_EPOCH = """
def sgd_epoch(w, b, x, y, lr, batch_size, loss_fn):
    losses = []
    for start in range(0, int(x.shape[0]), 4):
        xb, yb = x[start : start + 4], y[start : start + 4]
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, w * xb + b)
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(lr * grad_w)
        b.assign_sub(lr * grad_b)
        losses.append(float(loss))
    return losses
"""

SOLUTIONS = [
    "ch00_stable_softmax",
    "ch00_numeric_grad",
    "ch00_hessian_vector_product",
    "ch00_momentum_step",
    "ch00_sgd_epoch",
]


@pytest.mark.parametrize("answer_id", SOLUTIONS)
def test_hidden_block_passes_the_solution(chapter, answer_id):
    """Does each hidden block pass the instructor's solution, both in one namespace (stock
    nbgrader) and split into its student and reference sides (the grader)?"""
    run_hidden(chapter, f"{answer_id}_test", solution(chapter, answer_id))
    verdicts = run_split(chapter, f"{answer_id}_test", solution(chapter, answer_id))
    assert all(ok for ok, _ in verdicts.values()), verdicts


#: Wrong answers that the visible check does not catch; the hidden block must.
HIDDEN_ONLY = {
    "ch00_numeric_grad_test": [
        # ignores eps only when it is not one of the visible values
        """
def numeric_grad(f, x, eps=1e-3):
    eps = eps if eps in (1e-3, 0.5) else 1e-5
    x = np.asarray(x, dtype="float64")
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(x.size)])
""",
        # changes x in place and puts it back only approximately
        """
def numeric_grad(f, x, eps=1e-3):
    grad = np.zeros_like(x)
    for i in range(x.size):
        x[i] += eps
        up = f(x)
        x[i] -= 2 * eps
        grad[i] = (up - f(x)) / (2 * eps)
        x[i] += eps * 1.001
    return grad
""",
    ],
    "ch00_stable_softmax_test": [
        # hides the masked logits with -1e3 instead of a very small number: right on the
        # visible case, wrong where kept logits are far below -1e3 or above
        """
def stable_softmax(logits, mask=None):
    if mask is None:
        mask = tf.ones_like(logits, dtype=tf.bool)
    z = tf.where(mask, logits, -1e3)
    e = tf.exp(z - tf.reduce_max(z, axis=-1, keepdims=True)) * tf.cast(mask, tf.float32)
    total = tf.reduce_sum(e, axis=-1, keepdims=True)
    return e / tf.where(total > 0, total, 1.0)
""",
    ],
    "ch00_hessian_vector_product_test": [
        # a central difference of the tape's gradient (close on ordinary functions)
        """
def hessian_vector_product(f, x, v):
    def grad(point):
        point = tf.constant(point, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(point)
            y = f(point)
        return tape.gradient(y, point).numpy().astype("float64")

    return (grad(x + 1e-3 * v) - grad(x - 1e-3 * v)) / 2e-3
""",
        # assumes a symmetric Hessian is its own transpose and a diagonal one on 3 components
        """
def hessian_vector_product(f, x, v):
    x = tf.constant(x, tf.float32)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        grad = inner.gradient(y, x)
        dot = tf.reduce_sum(grad * v)
    out = outer.gradient(dot, x)
    return out if x.shape[0] == 3 else out * 0.0
""",
    ],
    "ch00_momentum_step_test": [
        # a central difference of loss_fn for every parameter element (no tape: wrong on the
        # custom-gradient loss, right on the others)
        """
def momentum_step(params, velocities, loss_fn, lr, beta):
    loss = float(loss_fn())
    grads = []
    for p in params:
        base = np.array(p.numpy())
        g = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            for sign in (1.0, -1.0):
                moved = base.copy()
                moved[idx] += sign * 1e-2
                p.assign(moved)
                g[idx] += sign * float(loss_fn()) / 2e-2
        p.assign(base)
        grads.append(g)
    for p, u, g in zip(params, velocities, grads):
        u.assign(beta * u - lr * g)
        p.assign_add(u)
    return loss
""",
        # right for two scalar parameters only (the visible case)
        """
def momentum_step(params, velocities, loss_fn, lr, beta):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    grads = tape.gradient(loss, params)
    for p, u, g in zip(params[:2], velocities[:2], grads[:2]):
        u.assign(beta * u - lr * tf.reduce_mean(g))
        p.assign_add(u)
    return loss
""",
    ],
    "ch00_sgd_epoch_test": [
        FIXED_BATCH_SGD_EPOCH,  # always the visible batch size 4
        # a dummy tape.gradient and the MSE gradient by hand on each batch
        """
def sgd_epoch(w, b, x, y, lr, batch_size, loss_fn):
    losses = []
    for start in range(0, int(x.shape[0]), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        with tf.GradientTape() as tape:
            loss = loss_fn(yb, w * xb + b)
        tape.gradient(loss, w)
        err = w * xb + b - yb
        w.assign_sub(lr * tf.reduce_mean(2.0 * err * xb))
        b.assign_sub(lr * tf.reduce_mean(2.0 * err))
        losses.append(float(loss))
    return losses
""",
    ],
}


@pytest.mark.parametrize(
    "grade_id, answer",
    [(g, a) for g, answers in HIDDEN_ONLY.items() for a in answers],
    ids=[f"{g}-{i}" for g, answers in HIDDEN_ONLY.items() for i in range(len(answers))],
)
def test_hidden_block_catches_what_the_visible_check_misses(chapter, grade_id, answer):
    """Does the hidden block fail answers that would pass (or dodge) the visible check, in
    stock mode and in the grader's split?"""
    with pytest.raises(AssertionError, match="hidden test"):
        run_hidden(chapter, grade_id, answer)
    assert not split_passes(chapter, grade_id, answer)


def load_attacks():
    spec = importlib.util.spec_from_file_location("ch00_constraint_attacks", ATTACKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def judge(chapter, answer_id, answer):
    from autograder import constraints

    rules = chapter["blocks"][f"{answer_id}_test"].constraints
    others = [solution(chapter, a) for a in SOLUTIONS if a != answer_id]
    return constraints.judge(rules, answer, others, chapter["setup"])


def test_every_constraint_has_an_attack(chapter):
    """Does every constrained exercise have constraint attacks, and the real answers pass?"""
    attacks = load_attacks()
    for answer_id in SOLUTIONS:
        if chapter["blocks"][f"{answer_id}_test"].constraints:
            assert attacks.ANSWERS.get(answer_id), answer_id
        verdict = judge(chapter, answer_id, solution(chapter, answer_id))
        assert verdict.ok, (answer_id, verdict.reason)


@pytest.mark.parametrize(
    "answer_id, index",
    [(a, i) for a, answers in load_attacks().ANSWERS.items() for i in range(len(answers))],
)
def test_constraint_attacks_fail(chapter, answer_id, index):
    """Does each attack give the right numbers (on the hidden block's probes) where it says so,
    and fail the exercise: by its source (the constraint), or by the probes?"""
    what, answer = load_attacks().ANSWERS[answer_id][index]
    verdict = judge(chapter, answer_id, answer)
    probes_ok = split_passes(chapter, f"{answer_id}_test", answer)
    if "by behaviour" in what:
        assert verdict.ok and not probes_ok, what
    else:
        assert probes_ok and not verdict.ok, (what, verdict.reason)


@pytest.mark.parametrize("answer_id", list(load_attacks().DELEGATIONS))
def test_delegations_to_course_utils_fail(chapter, answer_id):
    """Does every answer that delegates to a former course_utils reference fail now?"""
    answer = load_attacks().DELEGATIONS[answer_id]
    with pytest.raises(ImportError):
        run_hidden(chapter, f"{answer_id}_test", answer)


# --- no callable in course_utils computes an answer -------------------------------------------


def course_utils_callables():
    """Every function and class defined in a course_utils module, private ones included."""
    import inspect
    import pkgutil

    import course_utils

    found = {}
    names = [course_utils.__name__] + [
        m.name for m in pkgutil.walk_packages(course_utils.__path__, "course_utils.")
    ]
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception:  # a module no student can import gives them nothing either
            continue
        for attr, obj in vars(module).items():
            if callable(obj) and getattr(obj, "__module__", None) == name:
                found[f"{name}.{attr}"] = obj
            if inspect.isclass(obj) and getattr(obj, "__module__", None) == name:
                for meth, fn in vars(obj).items():
                    if inspect.isfunction(fn):
                        found[f"{name}.{attr}.{meth}"] = fn
    return found


def _mse(y_true, y_pred):
    return tf.reduce_mean(tf.square(y_pred - y_true))


def answer_probes():
    """For each exercise: (a call with the exercise's arguments on its visible case, a test of
    the result that is true only for the right answer)."""
    logits = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype="float32")
    want_softmax = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)

    def close(a, b, tol=1e-4):
        try:
            a = np.asarray(a, dtype="float64")
        except Exception:
            return False
        return a.shape == np.shape(b) and np.allclose(a, b, atol=tol)

    def cubic(v):
        return float(np.sum(v**3) + v[0] * v[1])

    def quadratic(t):
        a = tf.constant([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]])
        return 0.5 * tf.reduce_sum(t * tf.linalg.matvec(a, t))

    def momentum_call(fn):
        w, b = tf.Variable(0.5), tf.Variable(-0.2)
        u = [tf.Variable(0.3), tf.Variable(-0.1)]
        x = tf.constant([-1.0, 0.0, 1.0, 2.0, 3.0])
        fn([w, b], u, lambda: _mse(3.0 * x - 1.0, w * x + b), 0.1, 0.9)
        return [float(w.numpy()), float(b.numpy())]

    def epoch_call(fn):
        w, b = tf.Variable(0.0), tf.Variable(0.0)
        x = tf.constant(np.linspace(-2.0, 2.0, 10), tf.float32)
        fn(w, b, x, 3.0 * x - 1.0, 0.1, 4, _mse)
        return [float(w.numpy()), float(b.numpy())]

    return {
        "softmax (tensor)": (lambda fn: fn(tf.constant(logits)), lambda r: close(r, want_softmax)),
        "softmax (masked)": (
            lambda fn: fn(
                tf.constant(logits), tf.constant([[True, True, False], [True, False, True]])
            ),
            lambda r: close(r, [[0.268941, 0.731059, 0.0], [0.5, 0.0, 0.5]]),
        ),
        "softmax (array)": (lambda fn: fn(logits), lambda r: close(r, want_softmax)),
        "numeric_grad": (
            lambda fn: fn(cubic, np.array([1.0, 2.0, -1.5]), 0.5),
            lambda r: close(r, [5.25, 13.25, 7.0]),
        ),
        "hessian_vector_product": (
            lambda fn: fn(
                quadratic,
                np.array([0.5, -1.0, 2.0], "float32"),
                np.array([1.0, -2.0, 0.5], "float32"),
            ),
            lambda r: close(r, [0.0, -5.5, 4.0]),
        ),
        "momentum_step": (momentum_call, lambda r: close(r, [2.11, 0.05])),
        "sgd_epoch": (epoch_call, lambda r: not close(r, [0.0, 0.0]) and abs(r[0]) > 0.5),
    }


def test_no_course_utils_callable_computes_an_answer(monkeypatch, tmp_path):
    """Called with an exercise's arguments, does any callable in course_utils (any module,
    private ones included) return that exercise's answer? Network access is cut off and the
    working directory is a temporary one, since every callable is tried blindly."""
    import signal
    import socket

    def no_network(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.chdir(tmp_path)

    def alarm(signum, frame):
        raise TimeoutError

    leaks = []
    old = signal.signal(signal.SIGALRM, alarm)
    try:
        for name, obj in course_utils_callables().items():
            if name.startswith(("course_utils.grading.", "course_utils.config.reset_session")):
                continue  # the grading plumbing and the session reset hold no answer
            for exercise, (call, right) in answer_probes().items():
                signal.alarm(5)
                try:
                    result = call(obj)
                    if right(result):
                        leaks.append(f"{name} computes {exercise}")
                except BaseException as exc:  # noqa: BLE001 - anything may happen; only answers count
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                finally:
                    signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, old)
    assert not leaks, leaks


# --- forgeries --------------------------------------------------------------------------------

HARDCODED = {
    # The wrong answer: the built-in the task forbids (stock mode: the visible check
    # rejects it; the grader: the hidden block's constraint).
    "ch00_stable_softmax_test": """
def stable_softmax(logits, mask=None):
    if mask is None:
        return tf.nn.softmax(logits)
    return tf.where(mask, tf.nn.softmax(tf.where(mask, logits, -1e30)), 0.0)
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
    # A finite difference of the tape's gradient: wrong on the functions only a tape
    # differentiates (their declared rules).
    "ch00_hessian_vector_product_test": """
def hessian_vector_product(f, x, v):
    def grad(point):
        point = tf.constant(point, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(point)
            y = f(point)
        return tape.gradient(y, point).numpy().astype("float64")

    return (grad(x + 1e-3 * v) - grad(x - 1e-3 * v)) / 2e-3
""",
    # Plain gradient descent: the velocities are ignored.
    "ch00_momentum_step_test": """
def momentum_step(params, velocities, loss_fn, lr, beta):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    for p, g in zip(params, tape.gradient(loss, params)):
        p.assign_sub(lr * g)
    return loss
""",
    # Right loop, but always the visible batch size 4.
    "ch00_sgd_epoch_test": FIXED_BATCH_SGD_EPOCH,
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("00_tensors_autodiff", HARDCODED, tmp_path)
