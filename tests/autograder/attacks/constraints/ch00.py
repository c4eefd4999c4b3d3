"""Chapter 00: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; each must score 0
for that exercise while the other exercises keep full marks. ``DELEGATIONS[answer grade_id]``:
answers that hand the work to a ``course_utils`` function that used to compute the answer
(``checks.ch00._reference_softmax``, ``_central``, ``_reference_epoch``); those no longer exist,
so each must score 0 too.
"""

ANSWERS = {
    "ch00_stable_softmax": [
        (
            "no built-in softmax: scipy.special.softmax (the issue's answer)",
            '''from scipy.special import softmax


def stable_softmax(logits):
    """沿最后一个轴计算数值稳定的 softmax。"""
    return tf.constant(softmax(logits.numpy(), axis=-1))
''',
        ),
        (
            "no built-in softmax: tf.nn.softmax",
            '''def stable_softmax(logits):
    """沿最后一个轴计算数值稳定的 softmax。"""
    return tf.nn.softmax(logits, axis=-1)
''',
        ),
        (
            "no built-in softmax: keras.layers.Softmax",
            '''def stable_softmax(logits):
    """沿最后一个轴计算数值稳定的 softmax。"""
    return keras.layers.Softmax(axis=-1)(logits)
''',
        ),
        (
            "no built-in log_softmax: exp(tf.nn.log_softmax)",
            '''def stable_softmax(logits):
    """沿最后一个轴计算数值稳定的 softmax。"""
    return tf.exp(tf.nn.log_softmax(logits, axis=-1))
''',
        ),
        (
            "no built-in softmax: keras.ops.softmax through an alias",
            '''from keras import ops as K


def stable_softmax(logits):
    """沿最后一个轴计算数值稳定的 softmax。"""
    return K.softmax(logits, axis=-1)
''',
        ),
    ],
    "ch00_second_derivative": [
        (
            "use nested tf.GradientTape: tf.gradients inside a tf.function (right numbers, no tape)",
            '''def second_derivative(f, x):
    """用嵌套的 GradientTape 计算 f 在 x 处的二阶导数。"""

    @tf.function
    def second(t):
        dy_dx = tf.gradients(f(t), t)[0]
        return tf.gradients(dy_dx, t)[0]

    return float(second(tf.constant(x, dtype=tf.float32)))
''',
        ),
    ],
    "ch00_gradient_descent_step": [
        (
            "do not derive the gradient by hand: a dummy tape.gradient, then the MSE gradient "
            "written out (the issue's answer; right numbers for an MSE loss_fn only, so it fails "
            "by behaviour on the custom_gradient and MAE losses, not by its source)",
            '''def gradient_descent_step(w, b, x, y, lr, loss_fn):
    """对 y ≈ w*x + b 做一步梯度下降，返回更新前的损失 loss_fn(y, y_pred)。"""
    with tf.GradientTape() as tape:
        loss = loss_fn(y, w * x + b)
    tape.gradient(loss, w)
    err = w * x + b - y
    grad_w = tf.reduce_mean(2.0 * err * x)
    grad_b = tf.reduce_mean(2.0 * err)
    w.assign_sub(lr * grad_w)
    b.assign_sub(lr * grad_b)
    return loss
''',
        ),
        (
            "do not derive the gradient by hand: a dummy tape, then a central finite difference "
            "of loss_fn (right numbers for losses whose gradient is not overridden; fails by "
            "behaviour on the custom_gradient loss)",
            '''def gradient_descent_step(w, b, x, y, lr, loss_fn):
    """对 y ≈ w*x + b 做一步梯度下降，返回更新前的损失 loss_fn(y, y_pred)。"""
    with tf.GradientTape() as tape:
        loss = loss_fn(y, w * x + b)
    tape.gradient(loss, [w, b])
    h = 1e-3
    w0, b0 = float(w.numpy()), float(b.numpy())
    grad_w = (float(loss_fn(y, (w0 + h) * x + b0)) - float(loss_fn(y, (w0 - h) * x + b0))) / (2 * h)
    grad_b = (float(loss_fn(y, w0 * x + b0 + h)) - float(loss_fn(y, w0 * x + b0 - h))) / (2 * h)
    w.assign_sub(lr * grad_w)
    b.assign_sub(lr * grad_b)
    return loss
''',
        ),
        (
            "compute the gradient with tf.GradientTape: tf.gradients inside a tf.function "
            "(right numbers, custom_gradient included, but no tape)",
            '''def gradient_descent_step(w, b, x, y, lr, loss_fn):
    """对 y ≈ w*x + b 做一步梯度下降，返回更新前的损失 loss_fn(y, y_pred)。"""

    @tf.function
    def loss_and_grads():
        loss = loss_fn(y, w * x + b)
        return loss, tf.gradients(loss, [w, b])

    loss, (grad_w, grad_b) = loss_and_grads()
    w.assign_sub(lr * grad_w)
    b.assign_sub(lr * grad_b)
    return loss
''',
        ),
    ],
    "ch00_sgd_epoch": [
        (
            "do not derive the gradient by hand: a dummy tape.gradient per batch, then the MSE "
            "gradient written out (right numbers for an MSE loss_fn only; fails by behaviour)",
            '''def sgd_epoch(w, b, x, y, lr, batch_size, loss_fn):
    """按顺序用小批量梯度下降跑一个 epoch，返回每一步更新前的损失。"""
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
''',
        ),
        (
            "compute the gradient with tf.GradientTape: tf.gradients inside a tf.function "
            "(right numbers, custom_gradient included, but no tape)",
            '''def sgd_epoch(w, b, x, y, lr, batch_size, loss_fn):
    """按顺序用小批量梯度下降跑一个 epoch，返回每一步更新前的损失。"""

    @tf.function
    def loss_and_grads(xb, yb):
        loss = loss_fn(yb, w * xb + b)
        return loss, tf.gradients(loss, [w, b])

    losses = []
    for start in range(0, int(x.shape[0]), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        loss, (grad_w, grad_b) = loss_and_grads(xb, yb)
        w.assign_sub(lr * grad_w)
        b.assign_sub(lr * grad_b)
        losses.append(float(loss))
    return losses
''',
        ),
    ],
}

DELEGATIONS = {
    "ch00_stable_softmax": '''from course_utils.checks.ch00 import _reference_softmax


def stable_softmax(logits):
    """沿最后一个轴计算数值稳定的 softmax。"""
    return tf.constant(_reference_softmax(logits.numpy()).astype("float32"))
''',
    "ch00_numeric_grad": '''from course_utils.checks.ch00 import _central


def numeric_grad(f, x, eps=1e-3):
    """用中心差分估计标量函数 f 在 x 处的梯度。"""
    return _central(f, np.asarray(x, dtype="float64").copy(), eps)
''',
    "ch00_sgd_epoch": '''from course_utils.checks.ch00 import _reference_epoch


def sgd_epoch(w, b, x, y, lr, batch_size, loss_fn):
    """按顺序用小批量梯度下降跑一个 epoch，返回每一步更新前的损失。"""
    with tf.GradientTape() as tape:
        tape.gradient(loss_fn(y, w * x + b), w)
    xd, yd = x.numpy().astype("float64"), y.numpy().astype("float64")
    losses, new_w, new_b = _reference_epoch(xd, yd, float(w.numpy()), float(b.numpy()), lr, batch_size)
    w.assign(new_w)
    b.assign(new_b)
    return list(losses)
''',
}
