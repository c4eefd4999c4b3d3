"""Chapter 06: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; each must score 0
for that exercise while the other exercises keep full marks. The hidden tests also pass a loss
whose gradient is replaced with ``tf.custom_gradient`` and a stateful optimizer (Adam, SGD with
momentum), so a gradient derived by hand or an update written by hand gives wrong numbers; the
answers below reach the right numbers with ``tf.gradients`` in a graph instead of a tape,
toggle ``trainable``, skip ``tf.function`` or call the metric instead of ``update_state``.

``DELEGATIONS[answer grade_id]``: an answer that hands the work to what used to compute it in
``course_utils`` (``checks.ch06._simulate_accumulation``, the NumPy reference of exercise 6.4,
which the old hidden test's linear model, MSE and plain SGD matched); it no longer exists.
"""

ANSWERS = {
    "ch06_evaluate_loop": [
        (
            "streams with metric.update_state: calls the metric object instead",
            '''def evaluate_loop(model, dataset, metric):
    """以推理模式在 dataset 上流式计算 metric，返回 Python float。"""
    metric.reset_state()
    for x, y in dataset:
        metric(y, model(x, training=False))
    return float(metric.result())
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
