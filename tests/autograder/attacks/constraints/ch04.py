"""Chapter 04 answers that give the right numbers but break one constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; graded through
``python -m autograder grade``, each must score 0 on its exercise (the constraint, judged on
the source, is the only thing wrong) while the other exercises keep full marks.
``DELEGATIONS[answer grade_id]``: an answer that imports from ``course_utils`` and delegates to
what used to compute the answer there (``ch04.focal_reference``, ``pinball_reference``,
``f1_reference``, ``warmup_reference``), wrapped in ``tf.numpy_function`` so that it ran inside
``fit``/``evaluate`` graphs; it scored full marks before issue 16 and must score 0 now.
"""

FOCAL_NUMPY = '''from keras import ops


def binary_focal_loss(y_true, y_pred):
    """二元 focal loss (gamma=2)：返回每个样本一个值，形状 (batch,)。"""
    eps = np.float32(1e-7)  # a NumPy constant: harmless in a graph, but NumPy all the same
    y_true = ops.cast(y_true, "float32")
    p = ops.clip(ops.cast(y_pred, "float32"), eps, 1 - eps)
    terms = y_true * (1 - p) ** 2 * ops.log(p) + (1 - y_true) * p**2 * ops.log(1 - p)
    return -ops.mean(terms, axis=-1)
'''

FOCAL_TF = '''from keras import ops


def binary_focal_loss(y_true, y_pred):
    """二元 focal loss (gamma=2)：返回每个样本一个值，形状 (batch,)。"""
    y_true = tf.cast(y_true, "float32")
    p = tf.clip_by_value(tf.cast(y_pred, "float32"), 1e-7, 1 - 1e-7)
    terms = y_true * (1 - p) ** 2 * tf.math.log(p) + (1 - y_true) * p**2 * tf.math.log(1 - p)
    return -tf.reduce_mean(terms, axis=-1)
'''

FOCAL_BUILTIN = '''from keras import ops


def binary_focal_loss(y_true, y_pred):
    """二元 focal loss (gamma=2)：返回每个样本一个值，形状 (batch,)。"""
    return keras.losses.binary_focal_crossentropy(y_true, y_pred, gamma=2.0)
'''

FOCAL_BUILTIN_BY_NAME = '''from keras import ops
from keras.losses import get as get_loss


def binary_focal_loss(y_true, y_pred):
    """二元 focal loss (gamma=2)：返回每个样本一个值，形状 (batch,)。"""
    return get_loss("binary_focal_crossentropy")(y_true, y_pred, gamma=2.0)
'''

PINBALL_TF = '''from keras import ops


class PinballLoss(keras.losses.Loss):
    """分位数损失：e = y_true - y_pred，max(tau*e, (tau-1)*e) 对最后一个轴取平均。"""

    def __init__(self, tau=0.5, **kwargs):
        super().__init__(**kwargs)
        self.tau = tau

    def call(self, y_true, y_pred):
        error = tf.cast(y_true, y_pred.dtype) - y_pred
        return tf.reduce_mean(tf.maximum(self.tau * error, (self.tau - 1.0) * error), axis=-1)

    def get_config(self):
        return {**super().get_config(), "tau": self.tau}
'''

PINBALL_NUMPY = '''from keras import ops


class PinballLoss(keras.losses.Loss):
    """分位数损失：e = y_true - y_pred，max(tau*e, (tau-1)*e) 对最后一个轴取平均。"""

    def __init__(self, tau=0.5, **kwargs):
        super().__init__(**kwargs)
        self.tau = float(np.float64(tau))  # NumPy, outside the graph, but NumPy all the same

    def call(self, y_true, y_pred):
        error = ops.cast(y_true, y_pred.dtype) - y_pred
        return ops.mean(ops.maximum(self.tau * error, (self.tau - 1.0) * error), axis=-1)

    def get_config(self):
        return {**super().get_config(), "tau": self.tau}
'''

_F1 = '''from keras import ops


class BinaryF1(keras.metrics.Metric):
    """流式二分类 F1：累加 tp、fp、fn，只在 result() 里计算 F1。"""

    def __init__(self, threshold=0.5, name="binary_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = threshold
        self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")
        self.fp = self.add_variable(shape=(), initializer="zeros", name="fp")
        self.fn = self.add_variable(shape=(), initializer="zeros", name="fn")

    def update_state(self, y_true, y_pred, sample_weight=None):
        actual = ops.cast(ops.reshape(y_true, (-1,)), "float32") > 0.5
        predicted = ops.cast(ops.reshape(y_pred, (-1,)), "float32") > self.threshold
        if sample_weight is None:
            w = ops.ones_like(ops.cast(actual, "float32"))
        else:
            w = ops.cast(ops.reshape(sample_weight, (-1,)), "float32")

        def count(mask):
            return ops.sum(w * ops.cast(mask, "float32"))

        self.tp.assign_add(count(ops.logical_and(predicted, actual)))
        self.fp.assign_add(count(ops.logical_and(predicted, ops.logical_not(actual))))
        self.fn.assign_add(count(ops.logical_and(ops.logical_not(predicted), actual)))

    def result(self):
        denominator = 2.0 * self.tp + self.fp + self.fn
        return ops.where(denominator > 0, 2.0 * self.tp / ops.maximum(denominator, 1e-12), 0.0)

    def reset_state(self):
        for variable in (self.tp, self.fp, self.fn):
            variable.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}
'''

F1_TF = _F1.replace(
    """        def count(mask):
            return ops.sum(w * ops.cast(mask, "float32"))""",
    """        def count(mask):
            return tf.reduce_sum(w * tf.cast(mask, "float32"))""",
)

F1_NUMPY = _F1.replace(
    "        self.threshold = threshold\n",
    "        self.threshold = float(np.float32(threshold))  # NumPy, all the same\n",
)

# The three counts come from Keras' own Precision and Recall (kept out of the metric's tracked
# variables, so the state still looks like three scalars): F1 = 2PR / (P + R).
F1_BUILTIN = _F1.replace(
    """        self.fn = self.add_variable(shape=(), initializer="zeros", name="fn")
""",
    """        self.fn = self.add_variable(shape=(), initializer="zeros", name="fn")
        object.__setattr__(self, "_p", keras.metrics.Precision(thresholds=threshold))
        object.__setattr__(self, "_r", keras.metrics.Recall(thresholds=threshold))
""",
).replace(
    """    def result(self):
        denominator = 2.0 * self.tp + self.fp + self.fn
        return ops.where(denominator > 0, 2.0 * self.tp / ops.maximum(denominator, 1e-12), 0.0)

    def reset_state(self):
        for variable in (self.tp, self.fp, self.fn):
            variable.assign(0.0)
""",
    """        self._p.update_state(y_true, y_pred, sample_weight=sample_weight)
        self._r.update_state(y_true, y_pred, sample_weight=sample_weight)

    def result(self):
        p, r = self._p.result(), self._r.result()
        return ops.where(p + r > 0, 2.0 * p * r / ops.maximum(p + r, 1e-12), 0.0)

    def reset_state(self):
        for variable in (self.tp, self.fp, self.fn):
            variable.assign(0.0)
        self._p.reset_state()
        self._r.reset_state()
""",
)

# Counters made with keras.Variable instead of add_variable / add_weight.
F1_NO_ADD_VARIABLE = _F1.replace(
    """        self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")
        self.fp = self.add_variable(shape=(), initializer="zeros", name="fp")
        self.fn = self.add_variable(shape=(), initializer="zeros", name="fn")""",
    """        self.tp = keras.Variable(0.0, name="tp")
        self.fp = keras.Variable(0.0, name="fp")
        self.fn = keras.Variable(0.0, name="fn")""",
)

_WARMUP = '''from keras import ops


class WarmupExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """线性预热到 peak_lr，然后按 decay_rate ** ((step - warmup_steps) / decay_steps) 衰减。"""

    def __init__(self, peak_lr, warmup_steps, decay_rate, decay_steps):
        self.peak_lr = peak_lr
        self.warmup_steps = warmup_steps
        self.decay_rate = decay_rate
        self.decay_steps = decay_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = self.peak_lr * (step + 1.0) / self.warmup_steps
        exponent = (step - self.warmup_steps) / self.decay_steps
        decay = self.peak_lr * ops.power(ops.cast(self.decay_rate, "float32"), exponent)
        return ops.where(step < self.warmup_steps, warmup, decay)

    def get_config(self):
        return {
            "peak_lr": self.peak_lr,
            "warmup_steps": self.warmup_steps,
            "decay_rate": self.decay_rate,
            "decay_steps": self.decay_steps,
        }
'''

# Blends the two pieces with a 0/1 mask instead of ops.where.
WARMUP_NO_WHERE = _WARMUP.replace(
    "        return ops.where(step < self.warmup_steps, warmup, decay)",
    """        in_warmup = ops.cast(step < self.warmup_steps, "float32")
        return in_warmup * warmup + (1.0 - in_warmup) * decay""",
)

# Turns the integer step into floats by true division instead of ops.cast.
WARMUP_NO_CAST = _WARMUP.replace(
    """        step = ops.cast(step, "float32")
        warmup = self.peak_lr * (step + 1.0) / self.warmup_steps
        exponent = (step - self.warmup_steps) / self.decay_steps
        decay = self.peak_lr * ops.power(ops.cast(self.decay_rate, "float32"), exponent)""",
    """        step = ops.true_divide(step, 1)
        warmup = self.peak_lr * (step + 1.0) / self.warmup_steps
        exponent = (step - self.warmup_steps) / self.decay_steps
        decay = self.peak_lr * ops.power(self.decay_rate, exponent)""",
)

ANSWERS = {
    "ch04_focal_loss": [
        ("uses NumPy (np.float32 constant)", FOCAL_NUMPY),
        ("uses tf.* instead of keras.ops", FOCAL_TF),
        ("calls keras.losses.binary_focal_crossentropy", FOCAL_BUILTIN),
        ("looks up the built-in focal loss by name", FOCAL_BUILTIN_BY_NAME),
    ],
    "ch04_pinball_loss": [
        ("uses tf.* instead of keras.ops", PINBALL_TF),
        ("uses NumPy", PINBALL_NUMPY),
    ],
    "ch04_binary_f1": [
        ("uses tf.* instead of keras.ops", F1_TF),
        ("uses NumPy", F1_NUMPY),
        ("borrows keras.metrics.Precision / Recall", F1_BUILTIN),
        ("creates the counters without add_variable / add_weight", F1_NO_ADD_VARIABLE),
    ],
    "ch04_warmup_schedule": [
        ("selects the two pieces without ops.where", WARMUP_NO_WHERE),
        ("converts the step without ops.cast", WARMUP_NO_CAST),
    ],
}

DELEGATIONS = {
    "ch04_focal_loss": """from course_utils.checks.ch04 import focal_reference


def binary_focal_loss(y_true, y_pred):
    per_sample = tf.numpy_function(focal_reference, [y_true, y_pred], "float32")
    return tf.reshape(per_sample, tf.shape(y_pred)[:-1])
""",
    "ch04_pinball_loss": """from course_utils.checks.ch04 import pinball_reference


class PinballLoss(keras.losses.Loss):
    def __init__(self, tau=0.5, **kwargs):
        super().__init__(**kwargs)
        self.tau = tau

    def call(self, y_true, y_pred):
        per_sample = tf.numpy_function(
            lambda y, p: pinball_reference(y, p, self.tau).astype("float32"), [y_true, y_pred], "float32"
        )
        return tf.reshape(per_sample, tf.shape(y_pred)[:-1])

    def get_config(self):
        return {**super().get_config(), "tau": self.tau}
""",
    "ch04_binary_f1": '''from course_utils.checks.ch04 import f1_reference


class BinaryF1(keras.metrics.Metric):
    """Keeps every batch in Python lists and lets f1_reference compute the F1 of all of them."""

    def __init__(self, threshold=0.5, name="binary_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.threshold = threshold
        self.seen = [[], [], []]
        self.tp = self.add_variable(shape=(), initializer="zeros", name="tp")
        self.fp = self.add_variable(shape=(), initializer="zeros", name="fp")
        self.fn = self.add_variable(shape=(), initializer="zeros", name="fn")

    def _store(self, y, p, w):
        for store, values in zip(self.seen, (y, p, w)):
            store.append(values.reshape(-1))
        value = f1_reference(*map(np.concatenate, self.seen[:2]), self.threshold, np.concatenate(self.seen[2]))
        return np.float32(value)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y = tf.cast(tf.reshape(y_true, (-1,)), "float32")
        w = tf.ones_like(y) if sample_weight is None else tf.cast(tf.reshape(sample_weight, (-1,)), "float32")
        value = tf.numpy_function(self._store, [y, tf.cast(tf.reshape(y_pred, (-1,)), "float32"), w], "float32")
        self.tp.assign(tf.reshape(value, ()))

    def result(self):
        return self.tp + 0.0

    def reset_state(self):
        self.seen = [[], [], []]
        self.tp.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}
''',
    "ch04_warmup_schedule": """from course_utils.checks.ch04 import warmup_reference


class WarmupExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, peak_lr, warmup_steps, decay_rate, decay_steps):
        self.peak_lr, self.warmup_steps = peak_lr, warmup_steps
        self.decay_rate, self.decay_steps = decay_rate, decay_steps

    def __call__(self, step):
        def lr(s):
            return np.float32(
                warmup_reference(s, self.peak_lr, self.warmup_steps, self.decay_rate, self.decay_steps)
            )

        return tf.reshape(tf.numpy_function(lr, [step], "float32"), ())

    def get_config(self):
        return dict(peak_lr=self.peak_lr, warmup_steps=self.warmup_steps,
                    decay_rate=self.decay_rate, decay_steps=self.decay_steps)
""",
}
