"""Chapter 07 checks: each named mistake gets its message, and a correct answer passes."""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import pytest
import tensorflow as tf

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
    assert checks.check_weighted_test_step(model_class=make_eval_model())
    assert checks.check_weighted_test_step(
        model_class=make_eval_model(), loss="huber", seed=5, batch_size=3
    )


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "cls, loss, message",
    [
        (make_eval_model(training=True), "mse", "training=False"),
        (make_eval_model(weight_loss=False), "mse", "loss 没有按样本权重加权"),
        (make_eval_model(weight_metrics=False), "mse", "mae 没有按样本权重加权"),
        (make_eval_model(hard_mse=True), "huber", "self.compute_loss"),
        (make_eval_model(keys=False), "mse", "缺少"),
        (Keras2EvalModel, "mse", "compiled_metrics"),
        (MinimizeEvalModel, "mse", "minimize"),
        (MissingEvalModel, "mse", "还没有实现"),
        (PairEvalModel, "mse", "unpack_x_y_sample_weight"),
    ],
)
def test_weighted_test_step_names_each_mistake(cls, loss, message):
    """Are training=True, dropped sample weights, a hard-coded loss, wrong keys, a Keras 2 idiom,
    a two-way unpack and a missing override each named?"""
    with pytest.raises(CheckFailed, match=message):
        checks.check_weighted_test_step(model_class=cls, loss=loss)


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
    """Does global-norm clipping with compute_loss and sample weights pass, clipped or not?"""
    assert checks.check_clipnorm_train_step(model_class=make_clip_model())
    assert checks.check_clipnorm_train_step(
        model_class=make_clip_model(), clip_norm=100.0, loss="huber", seed=9
    )


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
    assert checks.check_penalty_trackers(model_class=make_penalty_model())
    assert checks.check_penalty_trackers(
        model_class=make_penalty_model(), beta=1.5, n=12, batch_size=3, seed=3
    )


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
    """Does one loss, two gradient lists and two optimizers pass, with and without momentum?"""
    assert checks.check_two_speed_step(model_class=make_two_speed())
    assert checks.check_two_speed_step(
        model_class=make_two_speed(), momentum=0.9, loss="huber", steps=3, seed=1
    )


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
