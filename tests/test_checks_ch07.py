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


# ---------------------------------------------------------------- 7.1 test_step


def make_eval_model(
    training=False, weight_loss=True, weight_metrics=True, hard_mse=False, keys=True
):
    class EvalModel(keras.Model):
        def test_step(self, data):
            x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
            y_pred = self(x, training=training)
            if hard_mse:
                loss = keras.losses.MeanSquaredError()(y, y_pred, sample_weight=sw)
            else:
                loss = self.compute_loss(
                    x=x, y=y, y_pred=y_pred, sample_weight=sw if weight_loss else None
                )
            logs = update_metrics(self, loss, y, y_pred, sw if weight_metrics else None)
            return logs if keys else {"total": loss}

    return EvalModel


class Keras2EvalModel(keras.Model):
    def test_step(self, data):
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        self.compiled_loss(y, y_pred, sample_weight=sw)
        self.compiled_metrics.update_state(y, y_pred, sample_weight=sw)
        return {m.name: m.result() for m in self.metrics}


class MinimizeEvalModel(keras.Model):
    def test_step(self, data):
        self.optimizer.minimize(lambda: 0.0, self.trainable_variables)
        return {}


class PairEvalModel(keras.Model):
    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        return update_metrics(self, self.compute_loss(x=x, y=y, y_pred=y_pred), y, y_pred, None)


class MissingEvalModel(keras.Model):
    def test_step(self, data):
        raise NotImplementedError()


def test_weighted_test_step_accepts_a_correct_answer():
    """Does a test_step with training=False, compute_loss and weighted metrics pass?"""
    forgery.passes(checks.check_weighted_test_step, model_class=make_eval_model())


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "cls, message",
    [
        (make_eval_model(training=True), "training=False"),
        (make_eval_model(weight_loss=False), "loss 没有按样本权重加权"),
        (make_eval_model(weight_metrics=False), "mae 没有按样本权重加权"),
        (make_eval_model(keys=False), "缺少"),
        (Keras2EvalModel, "compiled_metrics"),
        (MinimizeEvalModel, "minimize"),
        (MissingEvalModel, "还没有实现"),
        (PairEvalModel, "unpack_x_y_sample_weight"),
    ],
)
def test_weighted_test_step_names_each_mistake(cls, message):
    """Are training=True, dropped sample weights, wrong keys, a Keras 2 idiom, a two-way unpack
    and a missing override each named? (A hard-coded loss is right on the visible MSE case; the
    hidden tests catch it: see HARDCODED.)"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_weighted_test_step(model_class=cls)


# ---------------------------------------------------------------- 7.2 clip-norm train_step


def make_clip_model(mode="global", weighted=True):
    class ClipModel(keras.Model):
        def __init__(self, *args, clip_norm=1.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.clip_norm = clip_norm

        def train_step(self, data):
            x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
            if mode == "minimize":
                self.optimizer.minimize(lambda: 0.0, self.trainable_variables)
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(
                    x=x, y=y, y_pred=y_pred, sample_weight=sw if weighted else None
                )
            grads = tape.gradient(loss, self.trainable_variables)
            if mode == "global":
                grads, _ = tf.clip_by_global_norm(grads, self.clip_norm)
            elif mode == "each":
                grads = [tf.clip_by_norm(g, self.clip_norm) for g in grads]
            if mode != "no_apply":
                self.optimizer.apply(grads, self.trainable_variables)
            return update_metrics(self, loss, y, y_pred, sw)

    return ClipModel


def test_clipnorm_accepts_a_correct_answer():
    """Does global-norm clipping with compute_loss and sample weights pass?"""
    forgery.passes(checks.check_clipnorm_train_step, model_class=make_clip_model())


@pytest.mark.parametrize(
    "cls, message",
    [
        (make_clip_model("none"), "没有被裁剪"),
        (make_clip_model("each"), "全局范数"),
        (make_clip_model(weighted=False), "样本权重"),
        (make_clip_model("minimize"), "minimize"),
        (make_clip_model("no_apply"), "没有变化"),
    ],
)
def test_clipnorm_names_each_mistake(cls, message):
    """Are a missing clip, per-tensor clipping, dropped weights, optimizer.minimize and a missing
    optimizer call each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_clipnorm_train_step(model_class=cls)


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


# ---------------------------------------------------------------- forgeries

HARDCODED = {
    # Hard-codes MSE instead of the compiled loss: right for the visible MSE check only.
    "ch07_weighted_test_step_test": """
class WeightedEvalModel(keras.Model):
    def test_step(self, data):
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = keras.losses.MeanSquaredError()(y, y_pred, sample_weight=sw)
        for m in self.metrics:
            if m.name == "loss":
                m.update_state(loss)
            else:
                m.update_state(y, y_pred, sample_weight=sw)
        return {m.name: m.result() for m in self.metrics}
""",
    # Ignores the clip_norm it is given and always clips at 1.0 (the visible value).
    "ch07_clipnorm_train_step_test": """
class ClipNormModel(keras.Model):
    def __init__(self, *args, clip_norm=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_norm = clip_norm

    def train_step(self, data):
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
        grads, _ = tf.clip_by_global_norm(tape.gradient(loss, self.trainable_variables), 1.0)
        self.optimizer.apply(grads, self.trainable_variables)
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
    Model subclass, a train_step / test_step, or the global-norm clipping they are built from;
    the chapter's checks compute no gradient, loss or optimizer step of their own (they compare
    with stored values)."""
    import course_utils

    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        module = importlib.import_module(info.name)
        tree = ast.parse(inspect.getsource(module))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                assert node.name not in ("train_step", "test_step", "_global_clip"), info.name
            if isinstance(node, ast.Attribute):
                assert node.attr not in ("clip_by_global_norm", "global_norm"), info.name
                if info.name == "course_utils.checks.ch07":
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
