"""Chapter 07 checks: each named mistake gets its message, and a correct answer passes."""

import ast
import importlib
import importlib.util
import inspect
import pkgutil
from pathlib import Path

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import nbformat
import pytest
import tensorflow as tf

from autograder import hidden_tests
from autograder.constraints import judge
from course_utils import checks
from course_utils.checks import CheckFailed


def update_metrics(model, loss, y, y_pred, sample_weight):
    for m in model.metrics:
        if m.name == "loss":
            m.update_state(loss)
        else:
            m.update_state(y, y_pred, sample_weight=sample_weight)
    return {m.name: m.result() for m in model.metrics}


# ---------------------------------------------------------------- 7.1 two-output test_step


def make_two_output(
    training=False, weight_loss=True, weight_metrics=True, keys=True, loop="own", swap=False
):
    class TwoOutput(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.price_mae = keras.metrics.MeanAbsoluteError(name="price_mae")
            self.kind_accuracy = keras.metrics.SparseCategoricalAccuracy(name="kind_accuracy")

        def test_step(self, data):
            x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
            y_pred = self(x, training=training)
            if loop == "plain_sum":  # the two output losses added, loss_weights left out
                ws = {"price": None, "kind": None} if sw is None else sw
                ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                loss = keras.losses.MeanSquaredError()(
                    y["price"], y_pred["price"], sample_weight=ws["price"]
                ) + ce(y["kind"], y_pred["kind"], sample_weight=ws["kind"])
                self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
            else:
                loss = self.compute_loss(
                    x=x, y=y, y_pred=y_pred, sample_weight=sw if weight_loss else None
                )
            if loop == "generic":
                return update_metrics(self, loss, y, y_pred, sw)
            if loop == "index_none":
                weights = sw
            else:
                weights = {"price": None, "kind": None} if sw is None else sw
            if not weight_metrics:
                weights = {"price": None, "kind": None}
            price, kind = ("kind", "price") if swap else ("price", "kind")
            self.price_mae.update_state(y["price"], y_pred["price"], sample_weight=weights[price])
            self.kind_accuracy.update_state(y["kind"], y_pred["kind"], sample_weight=weights[kind])
            self._loss_tracker.update_state(loss)
            logs = {m.name: m.result() for m in self.metrics}
            return logs if keys else {"loss": loss}

    return TwoOutput


def test_two_output_accepts_a_correct_answer():
    """Does a test_step with compute_loss and per-output metrics and weights pass?"""
    forgery.passes(checks.check_two_output_test_step, model_class=make_two_output())


@pytest.mark.parametrize(
    "cls, message",
    [
        (make_two_output(training=True), "training=False"),
        (make_two_output(weight_loss=False), "loss 没有按样本权重加权"),
        (make_two_output(weight_metrics=False), "price_mae 没有按样本权重加权"),
        (make_two_output(keys=False), "缺少"),
        (make_two_output(loop="generic"), "compute_loss 自己更新"),
        (make_two_output(loop="index_none"), "sample_weight 是 None"),
        (make_two_output(loop="plain_sum"), "loss_weights 没有用上"),
    ],
)
def test_two_output_names_each_mistake(cls, message):
    """Are training=True, dropped weights (loss, metrics), missing keys, the tutorial's generic
    metric loop (it feeds the per-output loss trackers), indexing a None sample_weight and a
    loss that ignores loss_weights each named? (Swapped per-output weights are equal on the
    visible case, where one array is copied to both outputs; the hidden tests give each output
    its own weights.)"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_two_output_test_step(model_class=cls)


# ---------------------------------------------------------------- 7.2 adversarial train_step


def make_adversarial(mode="good"):
    class Adversarial(keras.Model):
        def __init__(self, *args, epsilon=0.1, **kwargs):
            super().__init__(*args, **kwargs)
            self.epsilon = epsilon

        def train_step(self, data):
            x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
            if mode == "unweighted":
                sw = None
            with tf.GradientTape() as input_tape:
                input_tape.watch(x)
                attack = self.compute_loss(
                    x=x, y=y, y_pred=self(x, training=False), sample_weight=sw
                )
            grad = input_tape.gradient(attack, x)
            x_adv = x + self.epsilon * (grad if mode == "raw_gradient" else tf.sign(grad))
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                clean = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
                adv = self.compute_loss(
                    x=x_adv, y=y, y_pred=self(x_adv, training=True), sample_weight=sw
                )
                loss = {"clean_only": clean, "sum": clean + adv}.get(mode, (clean + adv) / 2)
            if mode != "no_apply":
                self.optimizer.apply(
                    tape.gradient(loss, self.trainable_variables), self.trainable_variables
                )
            return update_metrics(self, loss, y, y_pred, sw)

    return Adversarial


def test_adversarial_accepts_a_correct_answer():
    """Does FGSM with compute_loss, the mean of both losses and sample weights pass?"""
    forgery.passes(checks.check_adversarial_train_step, model_class=make_adversarial())


@pytest.mark.parametrize(
    "mode, message",
    [
        ("clean_only", "扰动没有起作用"),
        ("sum", "两份损失的和"),
        ("raw_gradient", "梯度的符号"),
        ("unweighted", "样本权重"),
        ("no_apply", "没有变化"),
    ],
)
def test_adversarial_names_each_mistake(mode, message):
    """Are a perturbation that changes nothing, the sum of the losses, the raw gradient instead
    of its sign, dropped weights and a missing optimizer call each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_adversarial_train_step(model_class=make_adversarial(mode))


# ---------------------------------------------------------------- 7.3 trackers


def make_penalty_model(mode="good"):
    class Penalized(keras.Model):
        def __init__(self, *args, beta=0.1, **kwargs):
            super().__init__(*args, **kwargs)
            self.beta = beta
            self.trackers = [keras.metrics.Mean(name=n) for n in ("loss", "mse", "penalty")]

        if mode in ("good", "no_test_step"):

            @property
            def metrics(self):
                return list(self.trackers)

        elif mode in ("no_reset", "last_batch"):

            @property
            def metrics(self):
                return []

        def _objective(self, x, y, training):
            y_pred = self(x, training=training)
            mse = keras.ops.mean(keras.ops.square(y - y_pred))
            penalty = self.beta * keras.ops.mean(keras.ops.square(y_pred))
            return mse + penalty, mse, penalty

        def _report(self, values):
            for t, v in zip(self.trackers, values):
                t.update_state(v)
            if mode == "last_batch":
                return dict(zip(("loss", "mse", "penalty"), values))
            return {t.name: t.result() for t in self.trackers}

        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                values = self._objective(x, y, True)
            self.optimizer.apply(
                tape.gradient(values[0], self.trainable_variables), self.trainable_variables
            )
            return self._report(values)

        if mode != "no_test_step":

            def test_step(self, data):
                x, y = data
                return self._report(self._objective(x, y, False))

    return Penalized


def test_penalty_trackers_accept_a_correct_answer():
    """Do three Mean trackers listed in metrics, with a matching test_step, pass?"""
    forgery.passes(checks.check_penalty_trackers, model_class=make_penalty_model())


@pytest.mark.parametrize(
    "mode, message",
    [
        ("last_batch", "最后一个批次"),
        ("no_reset", "没有在每轮开始时重置"),
        ("auto", "重写 metrics 属性"),
        ("no_test_step", "忘了重写"),
    ],
)
def test_penalty_trackers_name_each_mistake(mode, message):
    """Are batch values, trackers never reset, an unlisted metrics property and a missing
    test_step each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_penalty_trackers(model_class=make_penalty_model(mode))


def test_penalty_trackers_name_extra_keys():
    """Are logs carrying more than the three trackers named?"""

    class Extra(make_penalty_model()):
        def train_step(self, data):
            logs = super().train_step(data)
            return {**logs, "step": 1.0}

    with pytest.raises(CheckFailed, match="多了"):
        checks.check_penalty_trackers(model_class=Extra)


# ---------------------------------------------------------------- 7.4 two optimizers


def make_two_speed(mode="good", weighted=True, weight_metrics=True):
    class TwoSpeed(keras.Model):
        def __init__(self, base, head, base_optimizer, **kwargs):
            super().__init__(**kwargs)
            self.base, self.head, self.base_optimizer = base, head, base_optimizer

        def call(self, x, training=None):
            return self.head(self.base(x, training=training), training=training)

        def train_step(self, data):
            x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
            bv, hv = self.base.trainable_variables, self.head.trainable_variables
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(
                    x=x, y=y, y_pred=y_pred, sample_weight=sw if weighted else None
                )
            gb, gh = tape.gradient(loss, [bv, hv])
            if mode == "good":
                self.base_optimizer.apply(gb, bv)
                self.optimizer.apply(gh, hv)
            elif mode == "swapped":
                self.optimizer.apply(gb, bv)
                self.base_optimizer.apply(gh, hv)
            elif mode == "only_main":
                self.optimizer.apply(gb + gh, bv + hv)
            elif mode == "only_base":
                self.base_optimizer.apply(gb + gh, bv + hv)
            return update_metrics(self, loss, y, y_pred, sw if weight_metrics else None)

    return TwoSpeed


def test_two_speed_accepts_a_correct_answer():
    """Does one loss, two gradient lists and two optimizers pass?"""
    forgery.passes(checks.check_two_speed_step, model_class=make_two_speed())


@pytest.mark.parametrize(
    "cls, message",
    [
        (make_two_speed("only_main"), "base_optimizer 一次也没有"),
        (make_two_speed("only_base"), "编译时的优化器一次也没有"),
        (make_two_speed("swapped"), "学习率用反了"),
        (make_two_speed(weighted=False), "样本权重"),
        (make_two_speed(weight_metrics=False), "mae 不对"),
    ],
)
def test_two_speed_names_each_mistake(cls, message):
    """Are a missing optimizer, swapped optimizers, dropped weights and unweighted metrics named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_two_speed_step(model_class=cls)


# ---------------------------------------------------------------- 7.6 find and fix


def make_fixed(training=True, regularized=True, weighted=True, apply=True):
    class Fixed(keras.Model):
        def train_step(self, data):
            x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
            sw = sw if weighted else None
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True) if training else self(x)
                if regularized:
                    loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
                else:
                    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
                        y, y_pred, sample_weight=sw
                    )
            if apply:
                self.optimizer.apply(
                    tape.gradient(loss, self.trainable_variables), self.trainable_variables
                )
            return update_metrics(self, loss, y, y_pred, sw)

    return Fixed


def test_fixed_train_step_accepts_a_correct_answer():
    """Does a train_step in training mode on compute_loss with sample weights pass?"""
    forgery.passes(checks.check_fixed_train_step, model_class=make_fixed())


@pytest.mark.parametrize(
    "cls, message",
    [
        (make_fixed(training=False), "training=True"),
        (make_fixed(regularized=False), "正则化损失没有进入训练目标"),
        (make_fixed(weighted=False), "样本权重"),
        (make_fixed(apply=False), "没有变化"),
        (make_fixed(training=False, regularized=False), "training=True"),
    ],
)
def test_fixed_train_step_names_each_bug(cls, message):
    """Are the notebook's two bugs (no training=True; a hand-written loss without the
    regularization losses), each alone and together, dropped weights and a missing update
    named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_fixed_train_step(model_class=cls)


def test_notebook_shows_the_bugs_in_read_only_cells():
    """Is the broken train_step in a locked cell that runs (no solution, no grade), followed by
    a locked symptom cell, before the answer cell; and does it carry exactly the two bugs the
    exercise names?"""
    nb = nbformat.read(str(forgery.NOTEBOOKS / "07_custom_train_step.ipynb"), as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    broken, symptom, answer = (
        ids.index("ch07_fix_broken_step"),
        ids.index("ch07_fix_symptom"),
        ids.index("ch07_fix_train_step"),
    )
    assert broken < symptom < answer
    for i in (broken, symptom):
        meta = nb.cells[i].metadata.nbgrader
        assert meta["locked"] and not meta["solution"] and not meta["grade"]
        assert "BEGIN SOLUTION" not in nb.cells[i].source
    source = nb.cells[broken].source
    assert "y_pred = self(x)\n" in source and "self.loss_fn(y, y_pred" in source
    assert "compute_loss" not in source and "training=True" not in source


# ---------------------------------------------------------------- forgeries

HARDCODED = {
    # Feeds both metrics the price weights: equal on the visible case (one array copied to
    # both outputs), wrong when each output has its own weights.
    "ch07_two_output_test_step_test": """
class TwoOutputEvalModel(keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.price_mae = keras.metrics.MeanAbsoluteError(name="price_mae")
        self.kind_accuracy = keras.metrics.SparseCategoricalAccuracy(name="kind_accuracy")

    def test_step(self, data):
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
        w = None if sw is None else sw["price"]
        self.price_mae.update_state(y["price"], y_pred["price"], sample_weight=w)
        self.kind_accuracy.update_state(y["kind"], y_pred["kind"], sample_weight=w)
        for m in self.metrics:
            if m.name == "loss":
                m.update_state(loss)
        return {m.name: m.result() for m in self.metrics}
""",
    # Ignores the epsilon it is given and always uses 0.3 (the visible value).
    "ch07_adversarial_train_step_test": """
class AdversarialModel(keras.Model):
    def __init__(self, *args, epsilon=0.1, **kwargs):
        super().__init__(*args, **kwargs)
        self.epsilon = epsilon

    def train_step(self, data):
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as input_tape:
            input_tape.watch(x)
            attack = self.compute_loss(x=x, y=y, y_pred=self(x, training=False), sample_weight=sw)
        x_adv = x + 0.3 * tf.sign(input_tape.gradient(attack, x))
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            clean = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
            adv = self.compute_loss(x=x_adv, y=y, y_pred=self(x_adv, training=True), sample_weight=sw)
            loss = (clean + adv) / 2
        self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
        for m in self.metrics:
            m.update_state(loss) if m.name == "loss" else m.update_state(y, y_pred, sample_weight=sw)
        return {m.name: m.result() for m in self.metrics}
""",
    # Ignores beta and uses the visible value 0.5.
    "ch07_penalty_trackers_test": """
class PenalizedRegressor(keras.Model):
    def __init__(self, *args, beta=0.1, **kwargs):
        super().__init__(*args, **kwargs)
        self.trackers = [keras.metrics.Mean(name=n) for n in ("loss", "mse", "penalty")]

    @property
    def metrics(self):
        return list(self.trackers)

    def _objective(self, x, y, training):
        y_pred = self(x, training=training)
        mse = keras.ops.mean(keras.ops.square(y - y_pred))
        penalty = 0.5 * keras.ops.mean(keras.ops.square(y_pred))
        return mse + penalty, mse, penalty

    def _report(self, values):
        for t, v in zip(self.trackers, values):
            t.update_state(v)
        return {t.name: t.result() for t in self.trackers}

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            values = self._objective(x, y, True)
        self.optimizer.apply(tape.gradient(values[0], self.trainable_variables), self.trainable_variables)
        return self._report(values)

    def test_step(self, data):
        x, y = data
        return self._report(self._objective(x, y, False))
""",
    # Hard-codes an MSE loss instead of self.compute_loss: right for the visible MSE check only.
    "ch07_two_speed_step_test": """
class TwoSpeedModel(keras.Model):
    def __init__(self, base, head, base_optimizer, **kwargs):
        super().__init__(**kwargs)
        self.base, self.head, self.base_optimizer = base, head, base_optimizer

    def call(self, x, training=None):
        return self.head(self.base(x, training=training), training=training)

    def train_step(self, data):
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        bv, hv = self.base.trainable_variables, self.head.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = keras.losses.MeanSquaredError()(y, y_pred, sample_weight=sw)
        gb, gh = tape.gradient(loss, [bv, hv])
        self.base_optimizer.apply(gb, bv)
        self.optimizer.apply(gh, hv)
        for m in self.metrics:
            m.update_state(loss) if m.name == "loss" else m.update_state(y, y_pred, sample_weight=sw)
        return {m.name: m.result() for m in self.metrics}
""",
    # Keeps the hard-coded cross-entropy and adds the regularization losses by hand: right for
    # the visible cross-entropy case, wrong once the grader compiles another loss.
    "ch07_fix_train_step_test": """
class FixedStepModel(keras.Model):
    def train_step(self, data):
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = loss_fn(y, y_pred, sample_weight=sw) + sum(self.losses)
        self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
        for m in self.metrics:
            m.update_state(loss) if m.name == "loss" else m.update_state(y, y_pred, sample_weight=sw)
        return {m.name: m.result() for m in self.metrics}
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("07_custom_train_step", HARDCODED, tmp_path)


# ---------------------------------------------------------------- constraints and leaks

ATTACKS = Path(__file__).parent / "autograder" / "attacks" / "constraints" / "ch07.py"


def _attacks():
    spec = importlib.util.spec_from_file_location("ch07_constraint_attacks", ATTACKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _notebook_parts():
    """(hidden blocks by grade id, {answer id: (grade id, answer source)}, Setup sources)."""
    nb = nbformat.read(str(forgery.NOTEBOOKS / "07_custom_train_step.ipynb"), as_version=4)
    blocks = hidden_tests.split_notebook(nb)
    answers = {
        nb.cells[cells[0]].metadata.nbgrader["grade_id"]: (gid, nb.cells[cells[0]].source)
        for gid, cells in hidden_tests.answer_cells(nb).items()
    }
    return blocks, answers, hidden_tests.setup_sources(nb)


def test_constraint_attacks_break_a_stated_constraint():
    """Does every constraint attack break its exercise's constraints while the instructor's
    answers keep them? (The attacks give the right numbers; the lead grades them for real.)"""
    blocks, answers, setup = _notebook_parts()
    attacks = _attacks()
    assert sorted(attacks.ANSWERS) == sorted(answers)
    for answer_id, (grade_id, real) in answers.items():
        rules = blocks[grade_id].constraints
        assert rules, f"{grade_id} states no constraint"
        others = [src for aid, (_, src) in answers.items() if aid != answer_id]
        assert judge(rules, real, others, setup).ok, answer_id
        for what, source in attacks.ANSWERS[answer_id]:
            verdict = judge(rules, source, others, setup)
            assert not verdict.ok, f"{answer_id}: {what} keeps every constraint"


def test_course_utils_holds_no_train_or_test_step():
    """Audit for leaked answers: the exercises' answers are Model subclasses with their own
    train_step / test_step, so no module of course_utils (private names included) may define a
    Model subclass, a train_step / test_step, or global-norm clipping (an earlier exercise);
    the chapter's checks compute no gradient, loss or optimizer step of their own (they compare
    with stored values)."""
    import course_utils

    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        module = importlib.import_module(info.name)
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                assert node.name not in ("train_step", "test_step"), info.name
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("clip_by_global_norm", "global_norm"), info.name
                module_attr = isinstance(node.value, ast.Name) and node.value.id == "keras"
                if info.name == "course_utils.checks.ch07" and not module_attr:
                    # keras.losses.X(...) only names the loss the case compiles with;
                    # model.losses (the regularization terms) would be computing.
                    assert node.attr not in (
                        "GradientTape",
                        "gradient",
                        "apply",
                        "update_state",
                        "compute_loss",
                        "losses",
                    ), f"course_utils.checks.ch07 computes with .{node.attr}"
        for name, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == info.name:
                assert not issubclass(value, keras.Model), f"{info.name}.{name} is a keras.Model"
