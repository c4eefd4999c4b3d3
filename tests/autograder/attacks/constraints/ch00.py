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
            "no built-in softmax: scipy.special.softmax on the kept positions (the issue's answer)",
            '''from scipy.special import softmax


def stable_softmax(logits, mask=None):
    """沿最后一个轴计算数值稳定的 softmax；mask 为 False 的位置概率为 0。"""
    z = logits.numpy().astype("float64")
    keep = np.ones(z.shape, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    out = np.zeros_like(z)
    for i in range(z.shape[0]):
        if keep[i].any():
            out[i, keep[i]] = softmax(z[i, keep[i]])
    return tf.constant(out.astype("float32"))
''',
        ),
        (
            "no built-in softmax: tf.nn.softmax after hiding the masked logits",
            '''def stable_softmax(logits, mask=None):
    """沿最后一个轴计算数值稳定的 softmax；mask 为 False 的位置概率为 0。"""
    if mask is None:
        return tf.nn.softmax(logits, axis=-1)
    probs = tf.nn.softmax(tf.where(mask, logits, -1e30), axis=-1)
    return tf.where(mask, probs, 0.0)
''',
        ),
        (
            "no built-in softmax: keras.layers.Softmax after hiding the masked logits",
            '''def stable_softmax(logits, mask=None):
    """沿最后一个轴计算数值稳定的 softmax；mask 为 False 的位置概率为 0。"""
    if mask is None:
        mask = tf.ones_like(logits, dtype=tf.bool)
    probs = keras.layers.Softmax(axis=-1)(tf.where(mask, logits, -1e30))
    return tf.where(mask, probs, 0.0)
''',
        ),
        (
            "no built-in log_softmax: exp(tf.nn.log_softmax)",
            '''def stable_softmax(logits, mask=None):
    """沿最后一个轴计算数值稳定的 softmax；mask 为 False 的位置概率为 0。"""
    if mask is None:
        mask = tf.ones_like(logits, dtype=tf.bool)
    probs = tf.exp(tf.nn.log_softmax(tf.where(mask, logits, -1e30), axis=-1))
    return tf.where(mask, probs, 0.0)
''',
        ),
        (
            "no built-in softmax: keras.ops.softmax through an alias",
            '''from keras import ops as K


def stable_softmax(logits, mask=None):
    """沿最后一个轴计算数值稳定的 softmax；mask 为 False 的位置概率为 0。"""
    if mask is None:
        mask = tf.ones_like(logits, dtype=tf.bool)
    return tf.where(mask, K.softmax(tf.where(mask, logits, -1e30), axis=-1), 0.0)
''',
        ),
    ],
    "ch00_hessian_vector_product": [
        (
            "use two GradientTapes: tf.gradients twice inside a tf.function (right numbers, "
            "custom gradients included, but no tape)",
            '''def hessian_vector_product(f, x, v):
    """用两层 GradientTape 计算 f 在 x 处的 Hessian 与向量 v 的乘积 H v。"""
    v = tf.constant(v, dtype=tf.float32)

    @tf.function
    def hvp(t):
        grad = tf.gradients(f(t), t)[0]
        return tf.gradients(tf.reduce_sum(grad * v), t)[0]

    return hvp(tf.constant(x, dtype=tf.float32))
''',
        ),
        (
            "do not build the full Hessian: tape.jacobian of the gradient, then H @ v",
            '''def hessian_vector_product(f, x, v):
    """用两层 GradientTape 计算 f 在 x 处的 Hessian 与向量 v 的乘积 H v。"""
    x = tf.constant(x, dtype=tf.float32)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = f(x)
        grad = inner.gradient(y, x)
    hessian = outer.jacobian(grad, x)
    return tf.linalg.matvec(hessian, tf.constant(v, dtype=tf.float32))
''',
        ),
        (
            "do not use finite differences: a central difference of the tape's gradient along v "
            "(uses GradientTape, so its source passes; fails by behaviour on the custom-gradient "
            "functions)",
            '''def hessian_vector_product(f, x, v):
    """用两层 GradientTape 计算 f 在 x 处的 Hessian 与向量 v 的乘积 H v。"""

    def grad(point):
        point = tf.constant(point, dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(point)
            y = f(point)
        return tape.gradient(y, point).numpy().astype("float64")

    h = 1e-3
    return (grad(x + h * v) - grad(x - h * v)) / (2 * h)
''',
        ),
    ],
    "ch00_momentum_step": [
        (
            "do not derive the gradient by hand: a dummy tape.gradient, then the MSE gradient "
            "written out for the line model (right numbers for an MSE line only, so it fails by "
            "behaviour on the custom-gradient, MAE and matrix cases, not by its source)",
            '''def momentum_step(params, velocities, loss_fn, lr, beta):
    """动量法的一步：u ← beta·u − lr·g，θ ← θ + u；返回更新前的损失 loss_fn()。"""
    with tf.GradientTape() as tape:
        loss = loss_fn()
    tape.gradient(loss, params)
    w, b = params
    x = tf.constant([-1.0, 0.0, 1.0, 2.0, 3.0])
    err = w * x + b - (3.0 * x - 1.0)
    grads = [tf.reduce_mean(2.0 * err * x), tf.reduce_mean(2.0 * err)]
    for param, velocity, grad in zip(params, velocities, grads):
        velocity.assign(beta * velocity - lr * grad)
        param.assign_add(velocity)
    return loss
''',
        ),
        (
            "compute the gradient with tf.GradientTape: tf.gradients inside a tf.function "
            "(right numbers, custom_gradient included, but no tape)",
            '''def momentum_step(params, velocities, loss_fn, lr, beta):
    """动量法的一步：u ← beta·u − lr·g，θ ← θ + u；返回更新前的损失 loss_fn()。"""

    @tf.function
    def loss_and_grads():
        loss = loss_fn()
        return loss, tf.gradients(loss, params)

    loss, grads = loss_and_grads()
    for param, velocity, grad in zip(params, velocities, grads):
        velocity.assign(beta * velocity - lr * grad)
        param.assign_add(velocity)
    return loss
''',
        ),
        (
            "no Keras optimizer: keras.optimizers.SGD(momentum=beta) with its momentum state "
            "loaded from and written back to the velocities (right numbers)",
            '''def momentum_step(params, velocities, loss_fn, lr, beta):
    """动量法的一步：u ← beta·u − lr·g，θ ← θ + u；返回更新前的损失 loss_fn()。"""
    # momentum=0 would give the optimizer no momentum state to load and read back
    opt = keras.optimizers.SGD(learning_rate=lr, momentum=max(beta, 1e-9))
    opt.build(params)
    for state, velocity in zip(opt.momentums, velocities):
        state.assign(velocity)
    with tf.GradientTape() as tape:
        loss = loss_fn()
    opt.apply_gradients(zip(tape.gradient(loss, params), params))
    for state, velocity in zip(opt.momentums, velocities):
        velocity.assign(state)
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
