"""Chapter 06: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; each must score 0
for that exercise while the other exercises keep full marks. The hidden tests also pass a loss
whose gradient is replaced with ``tf.custom_gradient`` and a stateful optimizer (Adam, SGD with
momentum), so a gradient derived by hand or an update written by hand gives wrong numbers; the
answers below reach the right numbers with ``tf.gradients`` in a graph instead of a tape,
toggle ``trainable``, skip ``tf.function``, call the metrics instead of ``update_state``, count
with NumPy, or concatenate every batch's predictions before one update.

``DELEGATIONS[answer grade_id]``: an answer that hands the work to what used to compute it in
``course_utils`` (``checks.ch06._simulate_accumulation``, the NumPy reference of exercise 6.5 (then 6.4),
which the old hidden test's linear model, MSE and plain SGD matched); it no longer exists.
"""

ANSWERS = {
    "ch06_selective_accuracy": [
        (
            "streams with metric.update_state: calls the metric objects instead",
            '''def selective_accuracy(model, dataset, threshold):
    """置信度 ≥ threshold 的样本占比和它们的准确率：返回 (coverage, accuracy) 两个 float。"""
    coverage = keras.metrics.Mean()
    accuracy = keras.metrics.SparseCategoricalAccuracy()
    for x, y in dataset:
        probs = tf.nn.softmax(model(x, training=False))
        keep = tf.cast(tf.reduce_max(probs, axis=-1) >= threshold, "float32")
        coverage(keep)
        accuracy(y, probs, sample_weight=keep)
    return float(coverage.result()), float(accuracy.result())
''',
        ),
        (
            "uses no NumPy: counts with NumPy (one update_state call kept for show)",
            '''def selective_accuracy(model, dataset, threshold):
    """置信度 ≥ threshold 的样本占比和它们的准确率：返回 (coverage, accuracy) 两个 float。"""
    seen = keras.metrics.Mean()
    kept = right = total = 0
    for x, y in dataset:
        probs = np.asarray(tf.nn.softmax(model(x, training=False)))
        keep = probs.max(axis=-1) >= threshold
        seen.update_state(keep.astype("float32"))
        kept += int(keep.sum())
        right += int((probs.argmax(axis=-1) == np.asarray(y))[keep].sum())
        total += len(keep)
    return kept / total, right / kept if kept else 0.0
''',
        ),
        (
            "does not concatenate the batches: collects every prediction with tf.concat",
            '''def selective_accuracy(model, dataset, threshold):
    """置信度 ≥ threshold 的样本占比和它们的准确率：返回 (coverage, accuracy) 两个 float。"""
    batches = list(dataset)
    y = tf.concat([b[1] for b in batches], axis=0)
    probs = tf.concat([tf.nn.softmax(model(b[0], training=False)) for b in batches], axis=0)
    keep = tf.cast(tf.reduce_max(probs, axis=-1) >= threshold, "float32")
    coverage = keras.metrics.Mean()
    accuracy = keras.metrics.SparseCategoricalAccuracy()
    coverage.update_state(keep)
    accuracy.update_state(y, probs, sample_weight=keep)
    return float(coverage.result()), float(accuracy.result())
''',
        ),
    ],
    "ch06_train_subset_step": [
        (
            "uses tf.GradientTape: symbolic tf.gradients inside a tf.function instead",
            '''def train_subset_step(model, layers_to_train, loss_fn, optimizer, x, y):
    """只更新 layers_to_train 的可训练权重，返回更新前的损失 (float)。"""
    variables = [w for layer in layers_to_train for w in layer.trainable_weights]

    @tf.function
    def loss_and_grads():
        loss = loss_fn(y, model(x, training=True))
        return loss, tf.gradients(loss, [v.value for v in variables])

    loss, grads = loss_and_grads()
    optimizer.apply(grads, variables)
    return float(loss)
''',
        ),
        (
            "does not touch trainable: freezes the other variables, steps model.trainable_weights",
            '''def train_subset_step(model, layers_to_train, loss_fn, optimizer, x, y):
    """只更新 layers_to_train 的可训练权重，返回更新前的损失 (float)。"""
    keep = {id(w) for layer in layers_to_train for w in layer.trainable_weights}
    frozen = [w for w in model.trainable_weights if id(w) not in keep]
    for w in frozen:
        w.trainable = False
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply(grads, model.trainable_weights)
    for w in frozen:
        w.trainable = True
    return float(loss)
''',
        ),
    ],
    "ch06_fixed_fit": [
        (
            "uses tf.GradientTape: symbolic tf.gradients inside a tf.function instead",
            '''@tf.function(reduce_retracing=True)
def _loss_and_grads(net, loss_fn, x, y):
    loss = loss_fn(y, net(x, training=True)) + sum(net.losses)
    return loss, tf.gradients(loss, [v.value for v in net.trainable_weights])


def fixed_fit(net, loss_fn, optimizer, dataset, epochs):
    """修好的 buggy_fit：训练 net 共 epochs 轮，返回每轮的平均批损失。"""
    history = []
    for _ in range(epochs):
        tracker = keras.metrics.Mean()
        for x, y in dataset:
            loss, grads = _loss_and_grads(net, loss_fn, x, y)
            optimizer.apply(grads, net.trainable_weights)
            tracker.update_state(loss)
        history.append(float(tracker.result()))
    return history
''',
        ),
    ],
    "ch06_lr_train_step": [
        (
            "uses tf.GradientTape: symbolic tf.gradients inside the tf.function instead",
            '''def make_lr_train_step(model, loss_fn, optimizer):
    """返回 step(x, y, lr)：用学习率 lr 更新一步，返回更新前的损失；最多追踪 2 次。"""

    @tf.function(reduce_retracing=True)
    def compiled_step(x, y, lr):
        optimizer.learning_rate.assign(lr)
        loss = loss_fn(y, model(x, training=True))
        grads = tf.gradients(loss, [v.value for v in model.trainable_weights])
        optimizer.apply(grads, model.trainable_weights)
        return loss

    def step(x, y, lr):
        return compiled_step(x, y, tf.constant(lr, dtype="float32"))

    return step
''',
        ),
        (
            "compiled with tf.function: runs eagerly (right losses and weights; the eager-call "
            "probe fails it as well)",
            '''def make_lr_train_step(model, loss_fn, optimizer):
    """返回 step(x, y, lr)：用学习率 lr 更新一步，返回更新前的损失；最多追踪 2 次。"""

    def step(x, y, lr):
        optimizer.learning_rate.assign(lr)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)
        return loss

    return step
''',
        ),
    ],
    "ch06_fit_accumulated": [
        (
            "uses tf.GradientTape per batch: symbolic tf.gradients inside a tf.function instead",
            '''@tf.function(reduce_retracing=True)
def _batch_grads(model, loss_fn, x, y):
    loss = loss_fn(y, model(x, training=True))
    return loss, tf.gradients(loss, [v.value for v in model.trainable_weights])


def fit_accumulated(model, loss_fn, optimizer, dataset, epochs, accum_steps):
    """梯度累积训练：每 accum_steps 个批次用平均梯度更新一次，返回 {"loss": [...]}。"""
    variables = model.trainable_weights
    history = {"loss": []}
    for _ in range(epochs):
        total, count, acc = 0.0, 0, []
        for x, y in dataset:
            loss, grads = _batch_grads(model, loss_fn, x, y)
            acc.append(grads)
            total, count = total + float(loss) * len(x), count + len(x)
            if len(acc) == accum_steps:
                optimizer.apply([sum(g) / len(acc) for g in zip(*acc)], variables)
                acc = []
        if acc:
            optimizer.apply([sum(g) / len(acc) for g in zip(*acc)], variables)
        history["loss"].append(total / count)
    return history
''',
        ),
    ],
}

DELEGATIONS = {
    "ch06_fit_accumulated": '''from course_utils.checks.ch06 import _simulate_accumulation


def fit_accumulated(model, loss_fn, optimizer, dataset, epochs, accum_steps):
    """梯度累积训练：每 accum_steps 个批次用平均梯度更新一次，返回 {"loss": [...]}。"""
    batches = list(dataset)
    x = np.concatenate([np.asarray(b[0]) for b in batches])
    y = np.concatenate([np.asarray(b[1]) for b in batches])
    for xb, _ in batches:
        model(xb, training=True)
    dense = model.layers[-1]
    w, b, losses, updates = _simulate_accumulation(
        np.asarray(dense.kernel),
        np.asarray(dense.bias),
        x,
        y,
        len(batches[0][0]),
        accum_steps,
        epochs,
        float(np.asarray(optimizer.learning_rate)),
    )
    zeros = [tf.zeros_like(v) for v in model.trainable_weights]
    for _ in range(updates):
        optimizer.apply(zeros, model.trainable_weights)
    dense.kernel.assign(w.astype("float32"))
    dense.bias.assign(b.astype("float32"))
    return {"loss": losses}
''',
}
