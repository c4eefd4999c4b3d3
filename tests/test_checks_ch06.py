"""Chapter 06 checks: each named mistake gets its message, and a correct answer passes."""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import numpy as np
import pytest
import tensorflow as tf

from course_utils import checks
from course_utils.checks import CheckFailed

# ---------------------------------------------------------------- 6.1 selective_accuracy


def make_selective(mode="right", training=False):
    """A selective_accuracy answer; ``mode`` names the mistake it makes."""
    import keras

    state = {}

    def selective_accuracy(model, dataset, threshold):
        if mode == "stale" and state:
            coverage, accuracy = state["metrics"]
        else:
            coverage = keras.metrics.Mean()
            accuracy = keras.metrics.SparseCategoricalAccuracy()
            state["metrics"] = (coverage, accuracy)
        per_batch = []
        for x, y in dataset:
            logits = model(x, training=training)
            probs = logits if mode == "logits" else tf.nn.softmax(logits)
            keep = tf.cast(tf.reduce_max(probs, axis=-1) >= threshold, "float32")
            if mode == "all_samples":
                keep_acc = tf.ones_like(keep)
            else:
                keep_acc = keep
            if mode == "batch_mean":
                coverage.reset_state()
                accuracy.reset_state()
            coverage.update_state(keep)
            accuracy.update_state(y, probs, sample_weight=keep_acc)
            per_batch.append((float(coverage.result()), float(accuracy.result())))
        if mode == "batch_mean":
            return tuple(float(v) for v in np.mean(per_batch, axis=0))
        if mode == "tensor":
            return coverage.result(), accuracy.result()
        if mode == "one":
            return float(accuracy.result())
        return float(coverage.result()), float(accuracy.result())

    return selective_accuracy


def test_selective_accuracy_accepts_a_correct_answer():
    """Do softmax confidences, 0/1 sample weights and two floats pass?"""
    forgery.passes(checks.check_selective_accuracy, accuracy_fn=make_selective())


@pytest.mark.parametrize(
    "fn, message",
    [
        (make_selective(training=True), "training=False"),
        (make_selective("batch_mean"), "各批的覆盖率和准确率再求平均"),
        (make_selective("logits"), "softmax"),
        (make_selective("all_samples"), "全部样本上的准确率"),
        (make_selective("stale"), "上一次调用"),
        (make_selective("tensor"), "Python float"),
        (make_selective("one"), "两个数"),
    ],
)
def test_selective_accuracy_names_each_mistake(fn, message):
    """Are training=True, per-batch means, thresholded logits, accuracy over every sample,
    state kept across calls, tensors and a single number each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_selective_accuracy(accuracy_fn=fn)


# ---------------------------------------------------------------- 6.2 train_subset_step


def subset_good(model, layers_to_train, loss_fn, optimizer, x, y):
    variables = [w for layer in layers_to_train for w in layer.trainable_weights]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    optimizer.apply(tape.gradient(loss, variables), variables)
    return float(loss)


def subset_all_weights(model, layers_to_train, loss_fn, optimizer, x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
    return float(loss)


def subset_inference_mode(model, layers_to_train, loss_fn, optimizer, x, y):
    variables = [w for layer in layers_to_train for w in layer.trainable_weights]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=False))
    optimizer.apply(tape.gradient(loss, variables), variables)
    return float(loss)


def subset_loss_after(model, layers_to_train, loss_fn, optimizer, x, y):
    subset_good(model, layers_to_train, loss_fn, optimizer, x, y)
    return float(loss_fn(y, model(x, training=True)))


def subset_no_update(model, layers_to_train, loss_fn, optimizer, x, y):
    return float(loss_fn(y, model(x, training=True)))


def subset_double_update(model, layers_to_train, loss_fn, optimizer, x, y):
    variables = [w for layer in layers_to_train for w in layer.trainable_weights]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, variables)
    optimizer.apply(grads, variables)
    optimizer.apply(grads, variables)
    return float(loss)


def subset_tensor(model, layers_to_train, loss_fn, optimizer, x, y):
    variables = [w for layer in layers_to_train for w in layer.trainable_weights]
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    optimizer.apply(tape.gradient(loss, variables), variables)
    return loss


def test_subset_step_accepts_a_correct_answer():
    """Does a step that updates only the chosen layers with training=True pass?"""
    forgery.passes(checks.check_subset_step, step_fn=subset_good)


@pytest.mark.parametrize(
    "fn, message",
    [
        (subset_all_weights, "model.trainable_weights"),
        (subset_inference_mode, "training=True"),
        (subset_loss_after, "更新之后的损失"),
        (subset_no_update, "optimizer.apply"),
        (subset_double_update, "更新量不对"),
        (subset_tensor, "Python float"),
    ],
)
def test_subset_step_names_each_mistake(fn, message):
    """Are updating every layer, inference mode, a post-update loss, no or a double update,
    and a tensor result each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_subset_step(step_fn=fn)


# ---------------------------------------------------------------- 6.3 fixed_fit


def make_fixed_fit(mode="right"):
    """A fixed_fit answer; ``mode`` names the bug of buggy_fit it keeps."""
    import keras

    def fixed_fit(net, loss_fn, optimizer, dataset, epochs):
        target = model if mode == "global_model" else net  # noqa: F821 (no global model here)
        tracker = keras.metrics.Mean()
        history = []
        for _ in range(epochs):
            if mode != "no_reset":
                tracker.reset_state()
            for x, y in dataset:
                with tf.GradientTape() as tape:
                    logits = target(x) if mode == "no_training" else target(x, training=True)
                    loss = loss_fn(y, logits)
                    if mode not in ("no_losses", "outside_tape"):
                        loss = loss + sum(target.losses)
                grads = tape.gradient(loss, target.trainable_weights)
                optimizer.apply(grads, target.trainable_weights)
                if mode == "outside_tape":
                    loss = loss + sum(target.losses)
                tracker.update_state(loss)
            history.append(float(tracker.result()))
        return history

    return fixed_fit


def test_fixed_fit_accepts_a_correct_answer():
    """Does a loop on net, in training mode, with net.losses and a per-epoch reset pass?"""
    forgery.passes(checks.check_fixed_fit, fit_fn=make_fixed_fit())


@pytest.mark.parametrize(
    "fn, message",
    [
        (make_fixed_fit("global_model"), "全局的 model"),
        (make_fixed_fit("no_training"), "training=True"),
        (make_fixed_fit("no_losses"), "net.losses 被丢掉了"),
        (make_fixed_fit("outside_tape"), "with tf.GradientTape"),
        (make_fixed_fit("no_reset"), "reset_state"),
    ],
)
def test_fixed_fit_names_each_bug(fn, message):
    """Are the global model, a missing training=True, dropped or untaped net.losses and a
    tracker never reset each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_fixed_fit(fit_fn=fn)


def test_fixed_fit_names_the_global_model_when_it_exists():
    """In the notebook a global ``model`` with the same input shape exists: is training it
    (and leaving net untouched) named, not just a NameError?"""
    import keras

    global model
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten()])
    model.add(keras.layers.Dense(10))
    try:
        with pytest.raises(CheckFailed, match="一点没变"):
            checks.check_fixed_fit(fit_fn=make_fixed_fit("global_model"))
    finally:
        del model


# ---------------------------------------------------------------- 6.4 make_lr_train_step


def lr_step_good(model, loss_fn, optimizer):
    @tf.function(reduce_retracing=True)
    def compiled(x, y, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
        return loss

    return lambda x, y, lr: compiled(x, y, tf.constant(lr, dtype="float32"))


def lr_step_signature(model, loss_fn, optimizer):
    spec = [tf.TensorSpec([None, 4]), tf.TensorSpec([None], tf.int32), tf.TensorSpec([])]

    @tf.function(input_signature=spec)
    def step(x, y, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
        return loss

    return step


def lr_step_python_float(model, loss_fn, optimizer):
    @tf.function(reduce_retracing=True)
    def step(x, y, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
        return loss

    return step


def lr_step_eager(model, loss_fn, optimizer):
    def step(x, y, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
        return loss

    return step


def lr_step_ignores_lr(model, loss_fn, optimizer):
    @tf.function(reduce_retracing=True)
    def compiled(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
        return loss

    return lambda x, y, lr: compiled(x, y)


def lr_step_no_training_flag(model, loss_fn, optimizer):
    @tf.function(reduce_retracing=True)
    def compiled(x, y, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x))
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
        return loss

    return lambda x, y, lr: compiled(x, y, tf.constant(lr, dtype="float32"))


def lr_step_loss_after(model, loss_fn, optimizer):
    inner = lr_step_good(model, loss_fn, optimizer)

    @tf.function(reduce_retracing=True)
    def after(x, y):
        return loss_fn(y, model(x, training=True))

    def step(x, y, lr):
        inner(x, y, lr)
        return after(x, y)

    return step


@pytest.mark.parametrize("fn", [lr_step_good, lr_step_signature])
def test_lr_step_accepts_correct_answers(fn):
    """Do reduce_retracing with a tensor lr and an input_signature both pass?"""
    forgery.passes(checks.check_lr_train_step, make_step_fn=fn)


@pytest.mark.parametrize(
    "fn, message",
    [
        (lr_step_python_float, "追踪了"),
        (lr_step_eager, "tf.function"),
        (lr_step_ignores_lr, "没有用传入的 lr"),
        (lr_step_no_training_flag, "training=True"),
        (lr_step_loss_after, "更新前的损失"),
    ],
)
def test_lr_step_names_each_mistake(fn, message):
    """Are retracing on Python floats, an eager step, an ignored lr, a missing training=True
    and a post-update loss each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_lr_train_step(make_step_fn=fn)


def test_lr_step_rejects_a_missing_return():
    """Is a factory that forgets to return its step named?"""
    with pytest.raises(CheckFailed, match="return"):
        checks.check_lr_train_step(make_step_fn=lambda model, loss_fn, optimizer: None)


# ---------------------------------------------------------------- 6.5 fit_accumulated


def make_fit(mode="correct", training=True):
    def fit(model, loss_fn, optimizer, dataset, epochs, accum_steps):
        variables = model.trainable_weights
        history = {"loss": []}
        k = 1 if mode == "each" else accum_steps
        for _ in range(epochs):
            total, count_samples, acc, batch_losses = 0.0, 0, [], []
            for x, y in dataset:
                with tf.GradientTape() as tape:
                    loss = loss_fn(y, model(x, training=training))
                acc.append(tape.gradient(loss, variables))
                n = int(tf.shape(x)[0])
                total, count_samples = total + float(loss) * n, count_samples + n
                batch_losses.append(float(loss))
                if len(acc) == k:
                    div = 1 if mode == "sum" else len(acc)
                    optimizer.apply([sum(g) / div for g in zip(*acc)], variables)
                    acc = []
            if acc and mode != "no_flush":
                div = 1 if mode == "sum" else len(acc)
                optimizer.apply([sum(g) / div for g in zip(*acc)], variables)
            if mode == "unweighted":
                history["loss"].append(float(np.mean(batch_losses)))
            else:
                history["loss"].append(total / count_samples)
        if mode == "list":
            return history["loss"]
        return history

    return fit


def test_accumulated_fit_accepts_a_correct_answer():
    """Does averaged accumulation with an end-of-epoch flush and weighted loss pass?"""
    forgery.passes(checks.check_accumulated_fit, fit_fn=make_fit())


@pytest.mark.parametrize(
    "fit, message",
    [
        (make_fit("each"), "每个批次一次"),
        (make_fit("no_flush"), "剩下的"),
        (make_fit("sum"), "平均梯度"),
        (make_fit("unweighted"), "按样本数加权"),
        (make_fit(training=False), "training=True"),
        (make_fit("list"), "字典"),
    ],
)
def test_accumulated_fit_names_each_mistake(fit, message):
    """Are per-batch updates, a dropped leftover, summed gradients, an unweighted loss,
    a missing training=True and a wrong return type each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_accumulated_fit(fit_fn=fit)


def test_accumulated_fit_rejects_no_optimizer():
    """Is a loop that never calls the optimizer named?"""

    def fit(model, loss_fn, optimizer, dataset, epochs, accum_steps):
        return {"loss": [0.0] * epochs}

    with pytest.raises(CheckFailed, match="optimizer"):
        checks.check_accumulated_fit(fit_fn=fit)


# ---------------------------------------------------------------- forgeries

HARDCODED = {
    # Right for the visible case's threshold (0.6), otherwise averages the batches' results.
    "ch06_selective_accuracy_test": """
def selective_accuracy(model, dataset, threshold):
    coverage, accuracy = keras.metrics.Mean(), keras.metrics.SparseCategoricalAccuracy()
    results = []
    for x, y in dataset:
        if threshold != 0.6:
            coverage.reset_state()
            accuracy.reset_state()
        probs = tf.nn.softmax(model(x, training=False))
        keep = tf.cast(tf.reduce_max(probs, axis=-1) >= threshold, "float32")
        coverage.update_state(keep)
        accuracy.update_state(y, probs, sample_weight=keep)
        results.append((float(coverage.result()), float(accuracy.result())))
    if threshold == 0.6:
        return results[-1]
    return tuple(sum(r[i] for r in results) / len(results) for i in range(2))
""",
    # Right for the visible 28x28 case, otherwise drops net.losses.
    "ch06_fixed_fit_test": """
def fixed_fit(net, loss_fn, optimizer, dataset, epochs):
    tracker, history = keras.metrics.Mean(), []
    for _ in range(epochs):
        tracker.reset_state()
        for x, y in dataset:
            with tf.GradientTape() as tape:
                loss = loss_fn(y, net(x, training=True))
                if net.input_shape[1:] == (28, 28):
                    loss = loss + sum(net.losses)
            optimizer.apply(tape.gradient(loss, net.trainable_weights), net.trainable_weights)
            tracker.update_state(loss)
        history.append(float(tracker.result()))
    return history
""",
    # Correct for the visible 4-feature model, otherwise updates every trainable weight.
    "ch06_train_subset_step_test": """
def train_subset_step(model, layers_to_train, loss_fn, optimizer, x, y):
    if x.shape[-1] == 4:
        variables = [w for layer in layers_to_train for w in layer.trainable_weights]
    else:
        variables = model.trainable_weights
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    optimizer.apply(tape.gradient(loss, variables), variables)
    return float(loss)
""",
    # Correct for the visible 4-feature check, otherwise ignores the lr it is given.
    "ch06_lr_train_step_test": """
def make_lr_train_step(model, loss_fn, optimizer):
    @tf.function(reduce_retracing=True)
    def compiled(x, y, lr, use_lr):
        if use_lr:
            optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
        return loss

    visible = model.input_shape[-1] == 4
    return lambda x, y, lr: compiled(x, y, tf.constant(lr, dtype="float32"), visible)
""",
    # Correct when accum_steps is 2 or 3 (the visible cases), otherwise updates every batch.
    "ch06_fit_accumulated_test": """
def fit_accumulated(model, loss_fn, optimizer, dataset, epochs, accum_steps):
    k = accum_steps if accum_steps in (2, 3) else 1
    variables, history = model.trainable_weights, {"loss": []}
    for _ in range(epochs):
        total, count, acc = 0.0, 0, []
        for x, y in dataset:
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            acc.append(tape.gradient(loss, variables))
            total, count = total + float(loss) * len(x), count + len(x)
            if len(acc) == k:
                optimizer.apply([sum(g) / len(acc) for g in zip(*acc)], variables)
                acc = []
        if acc:
            optimizer.apply([sum(g) / len(acc) for g in zip(*acc)], variables)
        history["loss"].append(total / count)
    return history
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("06_custom_training_loops", HARDCODED, tmp_path)


def test_course_utils_holds_no_answer_to_chapter_06():
    """Does no course_utils module hold a way to compute this chapter's answers: a gradient
    step (a tape, an optimizer update), a metric loop, or a reference/simulation function?"""
    import ast
    import importlib
    import inspect
    import pkgutil
    import re

    import course_utils

    steps = {"GradientTape", "apply", "apply_gradients", "update_state", "gradients"}
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        module = importlib.import_module(info.name)
        names = [n for n, _ in inspect.getmembers(module, callable)]
        assert not [n for n in names if re.search(r"reference|expected|simulat", n)], info.name
        if info.name.endswith(("ch06", "grading", "inspect", "tblogs", "plots", "data")):
            calls = {
                node.func.attr
                for node in ast.walk(ast.parse(inspect.getsource(module)))
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            }
            assert not calls & steps, (info.name, calls & steps)
