"""Chapter 07 constraint attacks: answer cells that give the right numbers but break one stated
constraint of the exercise (``constrain(...)`` in the grade cell's hidden block).

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``. Graded through
the real grader, each must score 0 on its exercise while the other exercises keep full marks.
Several keep a Keras 2 call in a branch that never runs: the constraint is judged on the source.
``DELEGATIONS`` is empty: the answer that once delegated to ``course_utils`` (the old
``course_utils.checks.ch07._global_clip``) belonged to an exercise the chapter no longer has.
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

_TWO_INIT = """class TwoOutputEvalModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.price_mae = keras.metrics.MeanAbsoluteError(name="price_mae")
        self.kind_accuracy = keras.metrics.SparseCategoricalAccuracy(name="kind_accuracy")

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
"""
_TWO_METRICS = """        weights = {"price": None, "kind": None} if sample_weight is None else sample_weight
        self.price_mae.update_state(y["price"], y_pred["price"], sample_weight=weights["price"])
        self.kind_accuracy.update_state(y["kind"], y_pred["kind"], sample_weight=weights["kind"])
"""
_TWO_RETURN = """        for m in self.metrics:
            if m.name == "loss":
                m.update_state(loss)
        return {m.name: m.result() for m in self.metrics}
"""


def _two_output(loss_line: str, head: str = "") -> str:
    return (
        _TWO_INIT
        + head
        + "        y_pred = self(x, training=False)\n"
        + f"        {loss_line}\n"
        + _TWO_METRICS
        + _TWO_RETURN
    )


# Builds the compiled loss container the way compute_loss would, so it can be called by hand.
_BUILD = (
    "        if not self._compile_loss.built:\n"
    "            self._compile_loss.build(data[1], self(data[0]))\n"
)
_COMPUTE = "loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)"

TWO_OUTPUT_ANSWERS = [
    (
        "require compute_loss: the compiled loss container (model._compile_loss) plus the layers' losses by hand",
        _two_output(
            "loss = self._compile_loss(y, y_pred, sample_weight) + sum(self.losses)", head=_BUILD
        ),
    ),
    (
        "forbid compiled_loss (Keras 2), in a branch that never runs",
        _two_output(
            _COMPUTE,
            head="        if x is None:\n"
            "            return self.compiled_loss(y, self(x), sample_weight=sample_weight)\n",
        ),
    ),
    (
        "forbid compiled_metrics (Keras 2), in a branch that never runs",
        _two_output(
            _COMPUTE,
            head="        if x is None:\n"
            "            self.compiled_metrics.update_state(y, self(x), sample_weight=sample_weight)\n",
        ),
    ),
    (
        "forbid *.test_step: updates its own metrics, then the default keras.Model.test_step",
        _TWO_INIT
        + "        y_pred = self(x, training=False)\n"
        + _TWO_METRICS
        + "        return super().test_step(data)\n",
    ),
]

# ---------------------------------------------------------------- 7.2


def _adversarial(
    attack: str = (
        "        with tf.GradientTape() as input_tape:\n"
        "            input_tape.watch(x)\n"
        "            attack = self.compute_loss(x=x, y=y, y_pred=self(x, training=False), sample_weight=sample_weight)\n"
        "        x_adv = x + self.epsilon * tf.sign(input_tape.gradient(attack, x))\n"
    ),
    train: str = (
        "        with tf.GradientTape() as tape:\n"
        "            y_pred = self(x, training=True)\n"
        "            clean = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)\n"
        "            adv = self.compute_loss(x=x_adv, y=y, y_pred=self(x_adv, training=True), sample_weight=sample_weight)\n"
        "            loss = (clean + adv) / 2\n"
        "        grads = tape.gradient(loss, self.trainable_variables)\n"
    ),
    apply_line: str = "self.optimizer.apply(grads, self.trainable_variables)",
    head: str = "",
) -> str:
    return (
        "class AdversarialModel(keras.Model):\n"
        "    def __init__(self, *args, epsilon=0.1, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        "        self.epsilon = epsilon\n"
        "\n"
        "    def train_step(self, data):\n"
        f"{head}"
        "        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)\n"
        f"{attack}"
        f"{train}"
        f"        {apply_line}\n" + _METRICS
    )


ADVERSARIAL_ANSWERS = [
    (
        "require GradientTape: tf.gradients inside the traced train_step, for the input and the weights",
        _adversarial(
            attack="        attack = self.compute_loss(x=x, y=y, y_pred=self(x, training=False), sample_weight=sample_weight)\n"
            "        x_adv = x + self.epsilon * tf.sign(tf.gradients(attack, x)[0])\n",
            train="        y_pred = self(x, training=True)\n"
            "        clean = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)\n"
            "        adv = self.compute_loss(x=x_adv, y=y, y_pred=self(x_adv, training=True), sample_weight=sample_weight)\n"
            "        loss = (clean + adv) / 2\n"
            "        grads = tf.gradients(loss, self.trainable_variables)\n",
        ),
    ),
    (
        "require compute_loss: the compiled loss container (model._compile_loss) plus the layers' losses by hand",
        _adversarial(
            head=_BUILD,
            attack="        with tf.GradientTape() as input_tape:\n"
            "            input_tape.watch(x)\n"
            "            attack = self._compile_loss(y, self(x, training=False), sample_weight)\n"
            "        x_adv = x + self.epsilon * tf.sign(input_tape.gradient(attack, x))\n",
            train="        with tf.GradientTape() as tape:\n"
            "            y_pred = self(x, training=True)\n"
            "            clean = self._compile_loss(y, y_pred, sample_weight)\n"
            "            adv = self._compile_loss(y, self(x_adv, training=True), sample_weight)\n"
            "            loss = (clean + adv) / 2 + sum(self.losses)\n"
            "        grads = tape.gradient(loss, self.trainable_variables)\n",
        ),
    ),
    (
        "require apply: optimizer.apply_gradients instead of optimizer.apply",
        _adversarial(
            apply_line="self.optimizer.apply_gradients(zip(grads, self.trainable_variables))"
        ),
    ),
    (
        "forbid minimize (Keras 2), in a branch that never runs",
        _adversarial(
            head="        if self.epsilon is None:\n"
            "            self.optimizer.minimize(lambda: 0.0, self.trainable_variables)\n"
        ),
    ),
    (
        "forbid compiled_loss (Keras 2), in a branch that never runs",
        _adversarial(
            head="        if self.epsilon is None:\n"
            "            return self.compiled_loss(data[1], self(data[0]))\n"
        ),
    ),
    (
        "forbid compiled_metrics (Keras 2), in a branch that never runs",
        _adversarial(
            head="        if self.epsilon is None:\n"
            "            self.compiled_metrics.update_state(data[1], self(data[0]))\n"
        ),
    ),
    (
        "forbid *.train_step: the default train_step, in a branch that never runs",
        _adversarial(
            head="        if self.epsilon is None:\n            return super().train_step(data)\n"
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

# ---------------------------------------------------------------- 7.6


def _fixed(
    tape_lines: str = (
        "        with tf.GradientTape() as tape:\n"
        "            y_pred = self(x, training=True)\n"
        "            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)\n"
        "        grads = tape.gradient(loss, self.trainable_variables)\n"
    ),
    apply_line: str = "self.optimizer.apply(grads, self.trainable_variables)",
    head: str = "",
) -> str:
    return (
        "class FixedStepModel(keras.Model):\n"
        "    def train_step(self, data):\n"
        f"{head}"
        "        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)\n"
        f"{tape_lines}"
        f"        {apply_line}\n" + _METRICS
    )


FIXED_ANSWERS = [
    (
        "require GradientTape: tf.gradients inside the traced train_step",
        _fixed(
            tape_lines="        y_pred = self(x, training=True)\n"
            "        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)\n"
            "        grads = tf.gradients(loss, self.trainable_variables)\n"
        ),
    ),
    (
        "require compute_loss: the compiled loss container (model._compile_loss) plus the layers' losses by hand",
        _fixed(
            head=_BUILD,
            tape_lines="        with tf.GradientTape() as tape:\n"
            "            y_pred = self(x, training=True)\n"
            "            loss = self._compile_loss(y, y_pred, sample_weight) + sum(self.losses)\n"
            "        grads = tape.gradient(loss, self.trainable_variables)\n",
        ),
    ),
    (
        "require apply: optimizer.apply_gradients instead of optimizer.apply",
        _fixed(apply_line="self.optimizer.apply_gradients(zip(grads, self.trainable_variables))"),
    ),
    (
        "forbid *.train_step: the default train_step, in a branch that never runs",
        _fixed(head="        if data is None:\n            return super().train_step(data)\n"),
    ),
    (
        "forbid compiled_loss (Keras 2), in a branch that never runs",
        _fixed(
            head="        if data is None:\n            return self.compiled_loss(data[1], self(data[0]))\n"
        ),
    ),
    (
        "forbid minimize (Keras 2), in a branch that never runs",
        _fixed(
            head="        if data is None:\n"
            "            self.optimizer.minimize(lambda: 0.0, self.trainable_variables)\n"
        ),
    ),
]

ANSWERS = {
    "ch07_two_output_test_step": TWO_OUTPUT_ANSWERS,
    "ch07_adversarial_train_step": ADVERSARIAL_ANSWERS,
    "ch07_penalty_trackers": PENALTY_ANSWERS,
    "ch07_two_speed_step": TWO_ANSWERS,
    "ch07_fix_train_step": FIXED_ANSWERS,
}

# The exercise whose answer once delegated to course_utils.checks.ch07._global_clip (global-norm
# clipping) is gone; no answer of this chapter has a course_utils helper to delegate to.
DELEGATIONS: dict = {}
