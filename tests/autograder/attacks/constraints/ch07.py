"""Chapter 07 constraint attacks: answer cells that give the right numbers but break one stated
constraint of the exercise (``constrain(...)`` in the grade cell's hidden block).

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``. Graded through
the real grader, each must score 0 on its exercise while the other exercises keep full marks.
Several keep a Keras 2 call in a branch that never runs: the constraint is judged on the source.
``DELEGATIONS[answer grade_id]``: an answer that delegated to ``course_utils`` before issue 16
(the old ``course_utils.checks.ch07._global_clip`` clipped by the global norm); it now scores 0.
"""

_METRICS = """
        for m in self.metrics:
            if m.name == "loss":
                m.update_state(loss)
            else:
                m.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}
"""

# ---------------------------------------------------------------- 7.1


def _eval(loss_line: str, extra: str = "", head: str = "") -> str:
    return (
        "class WeightedEvalModel(keras.Model):\n"
        "    def test_step(self, data):\n"
        "        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)\n"
        f"{head}"
        "        y_pred = self(x, training=False)\n"
        f"        {loss_line}\n"
        f"{extra}" + _METRICS
    )


# Builds the compiled loss container the way compute_loss would, so it can be called by hand.
_BUILD = (
    "        if not self._compile_loss.built:\n"
    "            self._compile_loss.build(data[1], self(data[0]))\n"
)
_COMPUTE = "loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)"

EVAL_ANSWERS = [
    (
        "require compute_loss: the compiled loss container (model._compile_loss) plus the layers' losses by hand",
        _eval(
            "loss = self._compile_loss(y, y_pred, sample_weight) + sum(self.losses)",
            head=_BUILD,
        ),
    ),
    (
        "forbid compiled_loss (Keras 2), in a branch that never runs",
        _eval(
            _COMPUTE,
            "        if x is None:\n"
            "            loss = self.compiled_loss(y, y_pred, sample_weight=sample_weight)\n",
        ),
    ),
    (
        "forbid compiled_metrics (Keras 2), in a branch that never runs",
        _eval(
            _COMPUTE,
            "        if x is None:\n"
            "            self.compiled_metrics.update_state(y, y_pred, sample_weight=sample_weight)\n",
        ),
    ),
    (
        "forbid *.test_step: delegates to the default keras.Model.test_step",
        "class WeightedEvalModel(keras.Model):\n"
        "    def test_step(self, data):\n"
        "        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)\n"
        "        self.compute_loss(x=x, y=y, y_pred=self(x, training=False), sample_weight=sample_weight)\n"
        "        return super().test_step(data)\n",
    ),
]

# ---------------------------------------------------------------- 7.2


def _clip(
    loss_line: str = _COMPUTE,
    clip_lines: str = "        grads, _ = tf.clip_by_global_norm(grads, self.clip_norm)\n",
    apply_line: str = "self.optimizer.apply(grads, self.trainable_variables)",
    before: str = "",
) -> str:
    return (
        "class ClipNormModel(keras.Model):\n"
        "    def __init__(self, *args, clip_norm=1.0, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        "        self.clip_norm = clip_norm\n"
        "\n"
        "    def train_step(self, data):\n"
        f"{before}"
        "        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)\n"
        "        with tf.GradientTape() as tape:\n"
        "            y_pred = self(x, training=True)\n"
        f"            {loss_line}\n"
        "        grads = tape.gradient(loss, self.trainable_variables)\n"
        f"{clip_lines}"
        f"        {apply_line}\n" + _METRICS
    )


CLIP_ANSWERS = [
    (
        "require compute_loss: the compiled loss container (model._compile_loss) plus the layers' losses by hand",
        _clip(
            "loss = self._compile_loss(y, y_pred, sample_weight) + sum(self.losses)",
            before=_BUILD,
        ),
    ),
    (
        "require clip_by_global_norm: the global norm scaling written by hand",
        _clip(
            clip_lines="        norm = tf.linalg.global_norm(grads)\n"
            "        scale = self.clip_norm / tf.maximum(norm, self.clip_norm)\n"
            "        grads = [g * scale for g in grads]\n"
        ),
    ),
    (
        "require apply: optimizer.apply_gradients instead of optimizer.apply",
        _clip(apply_line="self.optimizer.apply_gradients(zip(grads, self.trainable_variables))"),
    ),
    (
        "forbid clip_by_norm: tf.clip_by_norm on all gradients flattened into one vector",
        _clip(
            clip_lines="        tf.clip_by_global_norm(grads, self.clip_norm)\n"
            "        flat = tf.concat([tf.reshape(g, [-1]) for g in grads], axis=0)\n"
            "        flat = tf.clip_by_norm(flat, self.clip_norm)\n"
            "        sizes = [g.shape.num_elements() for g in grads]\n"
            "        grads = [tf.reshape(p, g.shape) for p, g in zip(tf.split(flat, sizes), grads)]\n"
        ),
    ),
    (
        "forbid global_clipnorm: lets the optimizer clip by the global norm",
        _clip(
            clip_lines="        tf.clip_by_global_norm(grads, self.clip_norm)\n"
            "        self.optimizer.global_clipnorm = self.clip_norm\n"
        ),
    ),
    (
        "forbid minimize (Keras 2), in a branch that never runs",
        _clip(
            before="        if self.clip_norm is None:\n"
            "            self.optimizer.minimize(lambda: 0.0, self.trainable_variables)\n"
        ),
    ),
    (
        "forbid compiled_loss (Keras 2), in a branch that never runs",
        _clip(
            before="        if self.clip_norm is None:\n"
            "            return self.compiled_loss(data[1], self(data[0]))\n"
        ),
    ),
    (
        "forbid *.train_step: the default train_step, in a branch that never runs",
        _clip(
            before="        if self.clip_norm is None:\n"
            "            return super().train_step(data)\n"
        ),
    ),
]

# ---------------------------------------------------------------- 7.3


def _penalty(
    tracker: str = "keras.metrics.Mean",
    apply_line: str = "self.optimizer.apply(grads, self.trainable_variables)",
    prelude: str = "",
    train_head: str = "",
    test_head: str = "",
) -> str:
    return (
        f"{prelude}"
        "class PenalizedRegressor(keras.Model):\n"
        "    def __init__(self, *args, beta=0.1, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        "        self.beta = beta\n"
        f'        self.trackers = [{tracker}(name=n) for n in ("loss", "mse", "penalty")]\n'
        "\n"
        "    @property\n"
        "    def metrics(self):\n"
        "        return list(self.trackers)\n"
        "\n"
        "    def objective(self, x, y, training):\n"
        "        y_pred = self(x, training=training)\n"
        "        mse = keras.ops.mean(keras.ops.square(y - y_pred))\n"
        "        penalty = self.beta * keras.ops.mean(keras.ops.square(y_pred))\n"
        "        return mse + penalty, mse, penalty\n"
        "\n"
        "    def record(self, values):\n"
        "        for tracker, value in zip(self.trackers, values):\n"
        "            tracker.update_state(value)\n"
        "        return {t.name: t.result() for t in self.trackers}\n"
        "\n"
        "    def train_step(self, data):\n"
        f"{train_head}"
        "        x, y = data[0], data[1]\n"
        "        with tf.GradientTape() as tape:\n"
        "            values = self.objective(x, y, training=True)\n"
        "        grads = tape.gradient(values[0], self.trainable_variables)\n"
        f"        {apply_line}\n"
        "        return self.record(values)\n"
        "\n"
        "    def test_step(self, data):\n"
        f"{test_head}"
        "        return self.record(self.objective(data[0], data[1], training=False))\n"
    )


_OWN_MEAN = '''class Mean(keras.metrics.Metric):
    """A running mean written by hand, not keras.metrics.Mean."""

    def __init__(self, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, value):
        self.total.assign_add(keras.ops.cast(value, "float32"))
        self.count.assign_add(1.0)

    def result(self):
        return self.total / keras.ops.maximum(self.count, 1.0)


'''

PENALTY_ANSWERS = [
    (
        "require *metrics.Mean: its own running-mean metric class (also named Mean)",
        _penalty(tracker="Mean", prelude=_OWN_MEAN),
    ),
    (
        "require apply: optimizer.apply_gradients instead of optimizer.apply",
        _penalty(apply_line="self.optimizer.apply_gradients(zip(grads, self.trainable_variables))"),
    ),
    (
        "forbid minimize (Keras 2), in a branch that never runs",
        _penalty(
            train_head="        if self.beta is None:\n"
            "            self.optimizer.minimize(lambda: 0.0, self.trainable_variables)\n"
        ),
    ),
    (
        "forbid *.train_step: the default train_step, in a branch that never runs",
        _penalty(
            train_head="        if self.beta is None:\n            return super().train_step(data)\n"
        ),
    ),
    (
        "forbid *.test_step: the default test_step, in a branch that never runs",
        _penalty(
            test_head="        if self.beta is None:\n            return super().test_step(data)\n"
        ),
    ),
]

# ---------------------------------------------------------------- 7.4


def _two(
    tape_lines: str = (
        "        with tf.GradientTape() as tape:\n"
        "            y_pred = self(x, training=True)\n"
        "            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)\n"
        "        base_grads, head_grads = tape.gradient(loss, [base_vars, head_vars])\n"
    ),
    apply_lines: str = (
        "        self.base_optimizer.apply(base_grads, base_vars)\n"
        "        self.optimizer.apply(head_grads, head_vars)\n"
    ),
    head: str = "",
) -> str:
    return (
        "class TwoSpeedModel(keras.Model):\n"
        "    def __init__(self, base, head, base_optimizer, **kwargs):\n"
        "        super().__init__(**kwargs)\n"
        "        self.base, self.head, self.base_optimizer = base, head, base_optimizer\n"
        "\n"
        "    def call(self, x, training=None):\n"
        "        return self.head(self.base(x, training=training), training=training)\n"
        "\n"
        "    def train_step(self, data):\n"
        f"{head}"
        "        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)\n"
        "        base_vars = self.base.trainable_variables\n"
        "        head_vars = self.head.trainable_variables\n"
        f"{tape_lines}"
        f"{apply_lines}" + _METRICS
    )


TWO_ANSWERS = [
    (
        "require GradientTape: tf.gradients inside the traced train_step",
        _two(
            tape_lines="        y_pred = self(x, training=True)\n"
            "        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)\n"
            "        grads = tf.gradients(loss, base_vars + head_vars)\n"
            "        base_grads, head_grads = grads[: len(base_vars)], grads[len(base_vars) :]\n"
        ),
    ),
    (
        "require compute_loss: the compiled loss container (model._compile_loss) called by hand",
        _two(
            head=_BUILD,
            tape_lines="        with tf.GradientTape() as tape:\n"
            "            y_pred = self(x, training=True)\n"
            "            loss = self._compile_loss(y, y_pred, sample_weight) + sum(self.losses)\n"
            "        base_grads, head_grads = tape.gradient(loss, [base_vars, head_vars])\n",
        ),
    ),
    (
        "require apply: optimizer.apply_gradients for both parts",
        _two(
            apply_lines="        self.base_optimizer.apply_gradients(zip(base_grads, base_vars))\n"
            "        self.optimizer.apply_gradients(zip(head_grads, head_vars))\n"
        ),
    ),
    (
        "forbid minimize (Keras 2), in a branch that never runs",
        _two(
            head="        if self.base_optimizer is None:\n"
            "            self.optimizer.minimize(lambda: 0.0, self.trainable_variables)\n"
        ),
    ),
    (
        "forbid compiled_loss (Keras 2), in a branch that never runs",
        _two(
            head="        if self.base_optimizer is None:\n"
            "            return self.compiled_loss(data[1], self(data[0]))\n"
        ),
    ),
    (
        "forbid compiled_metrics (Keras 2), in a branch that never runs",
        _two(
            head="        if self.base_optimizer is None:\n"
            "            self.compiled_metrics.update_state(data[1], self(data[0]))\n"
        ),
    ),
    (
        "forbid *.train_step: the default train_step, in a branch that never runs",
        _two(
            head="        if self.base_optimizer is None:\n            return super().train_step(data)\n"
        ),
    ),
]

ANSWERS = {
    "ch07_weighted_test_step": EVAL_ANSWERS,
    "ch07_clipnorm_train_step": CLIP_ANSWERS,
    "ch07_penalty_trackers": PENALTY_ANSWERS,
    "ch07_two_speed_step": TWO_ANSWERS,
}

DELEGATIONS = {
    "ch07_clipnorm_train_step": """from course_utils.checks.ch07 import _global_clip


class ClipNormModel(keras.Model):
    def __init__(self, *args, clip_norm=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_norm = clip_norm

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        grads = tape.gradient(loss, self.trainable_variables)
        clipped = tf.numpy_function(
            lambda *g: [np.float32(c) for c in _global_clip(list(g), self.clip_norm)[0]],
            grads,
            [tf.float32] * len(grads),
        )
        grads = [tf.reshape(c, g.shape) for c, g in zip(clipped, grads)]
        self.optimizer.apply(grads, self.trainable_variables)
        for m in self.metrics:
            if m.name == "loss":
                m.update_state(loss)
            else:
                m.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}
""",
}
