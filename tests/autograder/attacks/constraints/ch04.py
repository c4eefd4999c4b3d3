"""Chapter 04 answers that give the right numbers but break one constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; graded through
``python -m autograder grade``, each must score 0 on its exercise (the constraint, judged on
the source, is the only thing wrong) while the other exercises keep full marks.
``DELEGATIONS[answer grade_id]``: an answer that imports from ``course_utils`` and delegates to
what used to compute the answer there (``ch04.f1_reference``, ``warmup_reference``), wrapped in
``tf.numpy_function`` so that it ran inside ``fit``/``evaluate`` graphs; it scored full marks
before issue 16 and must score 0 now.
"""

_MASKED = '''from keras import ops


def masked_mse(y_true, y_pred):
    """只在 y_true 有值（不是 NaN）的位置上求平方误差的平均；返回形状 (batch,)。"""
    y_true = ops.cast(y_true, y_pred.dtype)
    missing = ops.isnan(y_true)
    error = ops.where(missing, y_pred, y_true) - y_pred
    observed = ops.sum(ops.cast(ops.logical_not(missing), y_pred.dtype), axis=-1)
    return ops.sum(ops.square(error), axis=-1) / ops.maximum(observed, 1.0)
'''

# The floor of the count written with a NumPy constant: harmless in a graph, NumPy all the same.
MASKED_NUMPY = _MASKED.replace("ops.maximum(observed, 1.0)", "ops.maximum(observed, np.float32(1))")

MASKED_TF = _MASKED.replace(
    """    missing = ops.isnan(y_true)""", """    missing = tf.math.is_nan(y_true)"""
)

_CW = '''from keras import ops


class ClassWeightedCrossentropy(keras.losses.Loss):
    """稀疏交叉熵 × 真实类别的权重：class_weights[y_true] * CE(y_true, y_pred)。"""

    def __init__(self, class_weights, from_logits=False, **kwargs):
        super().__init__(**kwargs)
        self.class_weights = [float(w) for w in class_weights]
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        ce = keras.losses.sparse_categorical_crossentropy(
            labels, y_pred, from_logits=self.from_logits
        )
        weights = ops.convert_to_tensor(self.class_weights, dtype=y_pred.dtype)
        return ops.take(weights, labels) * ce

    def get_config(self):
        config = {"class_weights": self.class_weights, "from_logits": self.from_logits}
        return {**super().get_config(), **config}
'''

CW_TF = _CW.replace(
    "        return ops.take(weights, labels) * ce",
    "        return tf.gather(weights, labels) * ce",
)

# Class weights checked and stored through NumPy in __init__ (outside the graph, but NumPy).
CW_NUMPY = _CW.replace(
    "        self.class_weights = [float(w) for w in class_weights]",
    "        self.class_weights = np.asarray(class_weights, dtype=float).tolist()",
)

_TP = '''from keras import ops


class FixedTruePositives(keras.metrics.Metric):
    """修好的 CategoricalTruePositives：argmax 预测正确的样本的权重之和。"""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="ctp")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        predicted = ops.reshape(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), (-1,))
        values = ops.cast(labels == predicted, "float32")
        if sample_weight is not None:
            values = values * ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0.0)
'''

TP_TF = _TP.replace(
    """        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))""",
    """        labels = tf.reshape(tf.cast(y_true, "int32"), (-1,))""",
)

TP_NUMPY = _TP.replace(
    """        self.true_positives.assign(0.0)""",
    """        self.true_positives.assign(np.float32(0.0))""",
)

# Keras' own accuracy function does the flattening and the comparison.
TP_BUILTIN = _TP.replace(
    """        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        predicted = ops.reshape(ops.cast(ops.argmax(y_pred, axis=-1), "int32"), (-1,))
        values = ops.cast(labels == predicted, "float32")""",
    """        values = ops.reshape(keras.metrics.sparse_categorical_accuracy(y_true, y_pred), (-1,))""",
)

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
    "ch04_masked_mse": [
        ("uses NumPy (np.float32 constant)", MASKED_NUMPY),
        ("uses tf.* instead of keras.ops", MASKED_TF),
    ],
    "ch04_class_weighted_ce": [
        ("uses tf.* instead of keras.ops", CW_TF),
        ("uses NumPy", CW_NUMPY),
    ],
    "ch04_fix_true_positives": [
        ("uses tf.* instead of keras.ops", TP_TF),
        ("uses NumPy", TP_NUMPY),
        ("borrows keras.metrics.sparse_categorical_accuracy", TP_BUILTIN),
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
