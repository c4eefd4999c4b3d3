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


def good_softmax(logits):
    z = logits - tf.reduce_max(logits, axis=-1, keepdims=True)
    e = tf.exp(z)
    return e / tf.reduce_sum(e, axis=-1, keepdims=True)


def test_softmax_correct_passes():
    """Does a stable softmax over the last axis pass?"""
    forgery.passes(checks.check_softmax, fn=good_softmax)


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

    def via_numpy(logits):
        z = logits.numpy()
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return tf.constant(e / e.sum(axis=-1, keepdims=True))

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
    """Do nested tapes pass on x**3 and on the custom-gradient function?"""
    forgery.passes(checks.check_second_derivative, fn=good_second_derivative)


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

    forgery.passes(checks.check_second_derivative, fn=float64_tapes)


# --- exercise 0.4: gradient_descent_step ------------------------------------------------------


def good_step(w, b, x, y, lr, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, w * x + b)
    grad_w, grad_b = tape.gradient(loss, [w, b])
    w.assign_sub(lr * grad_w)
    b.assign_sub(lr * grad_b)
    return loss


def test_step_correct_passes():
    """Does a correct step pass on the visible cases (Keras MSE and a custom-gradient MSE)?"""
    forgery.passes(checks.check_gradient_descent_step, fn=good_step)


def test_step_with_keras_optimizer_passes():
    """Does a step through keras SGD with zip(grads, vars) pass too?"""

    def sgd_step(w, b, x, y, lr, loss_fn):
        opt = keras.optimizers.SGD(learning_rate=lr)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, w * x + b)
        grads = tape.gradient(loss, [w, b])
        opt.apply_gradients(zip(grads, [w, b], strict=True))
        return loss

    forgery.passes(checks.check_gradient_descent_step, fn=sgd_step)


def test_step_hand_derived_gradient_rejected():
    """Is a step with a dummy tape.gradient and a hand-derived MSE gradient (the issue's
    answer: right numbers on an MSE) rejected by the custom-gradient loss?"""

    def by_hand(w, b, x, y, lr, loss_fn):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, w * x + b)
        tape.gradient(loss, w)
        err = w * x + b - y
        w.assign_sub(lr * tf.reduce_mean(2 * err * x))
        b.assign_sub(lr * tf.reduce_mean(2 * err))
        return loss

    expect_failure(checks.check_gradient_descent_step, by_hand, "tf.custom_gradient")


def test_step_ignoring_loss_fn_rejected():
    """Is a taped step on its own MSE (loss_fn ignored) rejected?"""

    def own_mse(w, b, x, y, lr, loss_fn):
        return good_step(w, b, x, y, lr, lambda yt, yp: tf.reduce_mean(tf.square(yp - yt)))

    expect_failure(checks.check_gradient_descent_step, own_mse, "loss_fn")


def test_step_wrong_sign():
    """Is adding lr * gradient reported as a sign error that makes the loss grow?"""

    def ascent(w, b, x, y, lr, loss_fn):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, w * x + b)
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_add(lr * grad_w)
        b.assign_add(lr * grad_b)
        return loss

    expect_failure(checks.check_gradient_descent_step, ascent, "符号")


def test_step_swapped_pairs():
    """Is applying w's gradient to b (reversed pairing) reported?"""

    def swapped(w, b, x, y, lr, loss_fn):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, w * x + b)
        grads = tape.gradient(loss, [w, b])
        for var, grad in zip([w, b], reversed(grads), strict=True):
            var.assign_sub(lr * grad)
        return loss

    expect_failure(checks.check_gradient_descent_step, swapped, "对调")


def test_step_rebinds_instead_of_assign():
    """Is `w = w - lr * g` (variables left unchanged) reported?"""

    def rebinding(w, b, x, y, lr, loss_fn):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, w * x + b)
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w = w - lr * grad_w  # noqa: F841 - the mistake under test
        b = b - lr * grad_b  # noqa: F841
        return loss

    expect_failure(checks.check_gradient_descent_step, rebinding, "assign_sub")


def test_step_loss_outside_tape():
    """Is a loss computed outside the tape (gradients None) reported?"""

    def outside(w, b, x, y, lr, loss_fn):
        with tf.GradientTape() as tape:
            pass
        loss = loss_fn(y, w * x + b)
        grad_w, grad_b = tape.gradient(loss, [w, b])
        w.assign_sub(lr * grad_w)
        b.assign_sub(lr * grad_b)
        return loss

    expect_failure(checks.check_gradient_descent_step, outside, "GradientTape")


def test_step_returns_loss_after_update():
    """Is returning the loss after the update (instead of before) reported?"""

    def late_loss(w, b, x, y, lr, loss_fn):
        good_step(w, b, x, y, lr, loss_fn)
        return loss_fn(y, w * x + b)

    expect_failure(checks.check_gradient_descent_step, late_loss, "更新之后")


def test_step_no_return():
    """Is a step that forgets to return the loss reported?"""

    def silent(w, b, x, y, lr, loss_fn):
        good_step(w, b, x, y, lr, loss_fn)

    expect_failure(checks.check_gradient_descent_step, silent, "return loss")


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


def test_epoch_through_gradient_descent_step_passes():
    """Does an epoch that calls the 0.4 step on each batch pass (the task suggests it)?"""

    def via_step(w, b, x, y, lr, batch_size, loss_fn):
        return [
            float(good_step(w, b, x[s : s + batch_size], y[s : s + batch_size], lr, loss_fn))
            for s in range(0, int(x.shape[0]), batch_size)
        ]

    forgery.passes(checks.check_minibatch_epoch, fn=via_step)


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
    "ch00_second_derivative",
    "ch00_gradient_descent_step",
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
    "ch00_second_derivative_test": [
        # a float64 finite difference (the answer)
        """
def second_derivative(f, x):
    h = 1e-3
    t = tf.constant(x, tf.float64)
    return float((f(t + h) - 2 * f(t) + f(t - h)) / h**2)
""",
    ],
    "ch00_gradient_descent_step_test": [
        # a dummy tape.gradient and the MSE gradient by hand (the answer)
        """
def gradient_descent_step(w, b, x, y, lr, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, w * x + b)
    tape.gradient(loss, w)
    err = w * x + b - y
    w.assign_sub(lr * tf.reduce_mean(2.0 * err * x))
    b.assign_sub(lr * tf.reduce_mean(2.0 * err))
    return loss
""",
        # hard-codes both visible cases
        """
def gradient_descent_step(w, b, x, y, lr, loss_fn):
    loss = loss_fn(y, w * x + b)
    tanh = getattr(loss_fn, "__name__", "") == "mse_with_tanh_gradient"
    w.assign(0.6386357 if tanh else 1.84)
    b.assign(-0.1745273 if tanh else 0.14)
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

    def step_call(fn):
        w, b = tf.Variable(0.5), tf.Variable(-0.2)
        x = tf.constant([-1.0, 0.0, 1.0, 2.0, 3.0])
        fn(w, b, x, 3.0 * x - 1.0, 0.1, _mse)
        return [float(w.numpy()), float(b.numpy())]

    def epoch_call(fn):
        w, b = tf.Variable(0.0), tf.Variable(0.0)
        x = tf.constant(np.linspace(-2.0, 2.0, 10), tf.float32)
        fn(w, b, x, 3.0 * x - 1.0, 0.1, 4, _mse)
        return [float(w.numpy()), float(b.numpy())]

    step_want = [1.84, 0.14]
    return {
        "softmax (tensor)": (lambda fn: fn(tf.constant(logits)), lambda r: close(r, want_softmax)),
        "softmax (array)": (lambda fn: fn(logits), lambda r: close(r, want_softmax)),
        "numeric_grad": (
            lambda fn: fn(cubic, np.array([1.0, 2.0, -1.5]), 0.5),
            lambda r: close(r, [5.25, 13.25, 7.0]),
        ),
        "second_derivative": (lambda fn: fn(lambda t: t**3, 1.5), lambda r: close(r, 9.0)),
        "gradient_descent_step": (step_call, lambda r: close(r, step_want)),
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
    # The wrong answer: a dummy tape.gradient, then the MSE gradient by hand.
    "ch00_gradient_descent_step_test": """
def gradient_descent_step(w, b, x, y, lr, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, w * x + b)
    tape.gradient(loss, w)
    err = w * x + b - y
    w.assign_sub(lr * tf.reduce_mean(2.0 * err * x))
    b.assign_sub(lr * tf.reduce_mean(2.0 * err))
    return loss
""",
    # Right loop, but always the visible batch size 4.
    "ch00_sgd_epoch_test": FIXED_BATCH_SGD_EPOCH,
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("00_tensors_autodiff", HARDCODED, tmp_path)
