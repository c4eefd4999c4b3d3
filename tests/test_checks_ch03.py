"""Chapter 03 checks: each named mistake gets its message, and a correct answer passes."""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest
from keras import layers, ops

from course_utils import checks
from course_utils.checks import CheckFailed

# ---------------------------------------------------------------- 3.1 LearnablePReLU


class GoodPReLU(layers.Layer):
    def __init__(self, alpha_init=0.25, **kwargs):
        super().__init__(**kwargs)
        self.alpha_init = alpha_init

    def build(self, input_shape):
        self.alpha = self.add_weight(
            shape=(input_shape[-1],), initializer=keras.initializers.Constant(self.alpha_init)
        )

    def call(self, x):
        return ops.where(x > 0, x, self.alpha * x)

    def get_config(self):
        return {**super().get_config(), "alpha_init": self.alpha_init}


class EagerPReLU(GoodPReLU):
    """Creates its weight in __init__ with a guessed size."""

    def __init__(self, alpha_init=0.25, **kwargs):
        super().__init__(alpha_init, **kwargs)
        self.alpha = self.add_weight(shape=(4,), initializer="zeros")

    def build(self, input_shape):
        pass


class ScalarPReLU(GoodPReLU):
    def build(self, input_shape):
        self.alpha = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(self.alpha_init)
        )


class FrozenPReLU(GoodPReLU):
    def build(self, input_shape):
        self.alpha = self.add_weight(
            shape=(input_shape[-1],),
            initializer=keras.initializers.Constant(self.alpha_init),
            trainable=False,
        )


class ZeroInitPReLU(GoodPReLU):
    def build(self, input_shape):
        self.alpha = self.add_weight(shape=(input_shape[-1],), initializer="zeros")


class SwappedPReLU(GoodPReLU):
    def call(self, x):
        return ops.where(x > 0, self.alpha * x, x)


class NoConfigPReLU(GoodPReLU):
    def get_config(self):
        return super(GoodPReLU, self).get_config()


class NoKwargsPReLU(GoodPReLU):
    def __init__(self, alpha_init=0.25):
        super().__init__(alpha_init=alpha_init)


def test_prelu_good_passes():
    forgery.passes(checks.check_prelu_layer, layer_cls=GoodPReLU)


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [
        (EagerPReLU, "build"),
        (ScalarPReLU, "形状应为"),
        (FrozenPReLU, "不可训练"),
        (ZeroInitPReLU, "初始值"),
        (SwappedPReLU, "正数部分"),
        (NoConfigPReLU, "alpha_init"),
        (NoKwargsPReLU, "kwargs"),
    ],
)
def test_prelu_mistakes_are_named(cls, fragment):
    """Is each PReLU mistake reported with its own message?"""
    with pytest.raises(CheckFailed, match=fragment):
        checks.check_prelu_layer(layer_cls=cls)


def test_prelu_not_a_class():
    with pytest.raises(CheckFailed, match="类"):
        checks.check_prelu_layer(layer_cls=lambda **k: None)


# ---------------------------------------------------------------- 3.2 TrainingNoise


class GoodNoise(layers.Layer):
    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev, self.seed = stddev, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        return x + keras.random.normal(ops.shape(x), stddev=self.stddev, seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class AlwaysNoise(GoodNoise):
    def call(self, x, training=None):
        return super().call(x, training=True)


class NeverNoise(GoodNoise):
    def call(self, x, training=None):
        return x


class VarianceNoise(GoodNoise):
    def call(self, x, training=None):
        if not training:
            return x
        return x + keras.random.normal(
            ops.shape(x), stddev=self.stddev**2, seed=self.seed_generator
        )


class NumpyNoise(GoodNoise):
    def call(self, x, training=None):
        if not training:
            return x
        return x + np.random.normal(0.0, self.stddev, size=tuple(x.shape)).astype("float32")


class NoConfigNoise(GoodNoise):
    def get_config(self):
        return super(GoodNoise, self).get_config()


def test_noise_good_passes():
    forgery.passes(checks.check_noise_layer, layer_cls=GoodNoise)


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [
        (AlwaysNoise, "完全相同"),
        (NeverNoise, "高斯噪声"),
        (VarianceNoise, "方差"),
        (NumpyNoise, "tf.function"),
        (NoConfigNoise, "stddev"),
    ],
)
def test_noise_mistakes_are_named(cls, fragment):
    """Is each noise-layer mistake reported with its own message?"""
    with pytest.raises(CheckFailed, match=fragment):
        checks.check_noise_layer(layer_cls=cls)


# ---------------------------------------------------------------- 3.3 ResidualBlock


class GoodBlock(layers.Layer):
    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv1 = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn1 = layers.BatchNormalization()
        self.conv2 = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn2 = layers.BatchNormalization()

    def build(self, input_shape):
        self.projection = None
        if input_shape[-1] != self.filters:
            self.projection = layers.Conv2D(self.filters, 1, use_bias=False)

    def main(self, x, training):
        h = ops.relu(self.bn1(self.conv1(x), training=training))
        return self.bn2(self.conv2(h), training=training)

    def call(self, x, training=None):
        shortcut = x if self.projection is None else self.projection(x)
        return ops.relu(self.main(x, training) + shortcut)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


class NoProjectionBlock(GoodBlock):
    def build(self, input_shape):
        self.projection = None


class AlwaysProjectionBlock(GoodBlock):
    def build(self, input_shape):
        self.projection = layers.Conv2D(self.filters, 1, use_bias=False)


class UntrackedBlock(layers.Layer):
    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def call(self, x, training=None):
        return layers.Conv2D(self.filters, 1)(x)


class FrozenBNBlock(GoodBlock):
    def main(self, x, training):
        return super().main(x, False)


class NoFinalReluBlock(GoodBlock):
    def call(self, x, training=None):
        shortcut = x if self.projection is None else self.projection(x)
        return self.main(x, training) + shortcut


class BiasBlock(GoodBlock):
    def __init__(self, filters, **kwargs):
        super().__init__(filters, **kwargs)
        self.conv1 = layers.Conv2D(filters, 3, padding="same")


class NoConfigBlock(GoodBlock):
    def get_config(self):
        return super(GoodBlock, self).get_config()


def test_residual_good_passes():
    forgery.passes(checks.check_residual_block, block_cls=GoodBlock)


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [
        (NoProjectionBlock, "投影"),
        (AlwaysProjectionBlock, "恒等"),
        (UntrackedBlock, "self 的属性"),
        (FrozenBNBlock, "写死了 training=False"),
        (NoFinalReluBlock, "预期结果"),
        (BiasBlock, "use_bias=False"),
        (NoConfigBlock, "filters"),
    ],
)
def test_residual_mistakes_are_named(cls, fragment):
    """Is each residual-block mistake reported with its own message?"""
    with pytest.raises(CheckFailed, match=fragment):
        checks.check_residual_block(block_cls=cls)


# ---------------------------------------------------------------- 3.4 TwoBranchNet


class GoodNet(keras.Model):
    def __init__(self, num_classes, width=16, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.width, self.rate = num_classes, width, dropout
        self.b3 = layers.Conv2D(width, 3, padding="same", activation="relu")
        self.b5 = layers.Conv2D(width, 5, padding="same", activation="relu")
        self.pool = layers.GlobalAveragePooling2D()
        self.drop = layers.Dropout(dropout)
        self.head = layers.Dense(num_classes)

    def features(self, x):
        return ops.concatenate([self.b3(x), self.b5(x)], axis=-1)

    def call(self, x, training=None):
        return self.head(self.drop(self.pool(self.features(x)), training=training))

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "width": self.width,
            "dropout": self.rate,
        }


class SwappedNet(GoodNet):
    def features(self, x):
        return ops.concatenate([self.b5(x), self.b3(x)], axis=-1)


class SoftmaxNet(GoodNet):
    def call(self, x, training=None):
        return ops.softmax(super().call(x, training=training))


class ExtraDenseNet(GoodNet):
    def __init__(self, num_classes, width=16, dropout=0.0, **kwargs):
        super().__init__(num_classes, width, dropout, **kwargs)
        self.hidden = layers.Dense(8, activation="relu")

    def call(self, x, training=None):
        return self.head(self.hidden(self.pool(self.features(x))))


class NoDropoutNet(GoodNet):
    def call(self, x, training=None):
        return self.head(self.pool(self.features(x)))


class NoWidthConfigNet(GoodNet):
    def get_config(self):
        config = super().get_config()
        del config["width"]
        return config


def test_branch_good_passes():
    forgery.passes(checks.check_branch_model, model_cls=GoodNet)


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [
        (SwappedNet, "拼接顺序"),
        (SoftmaxNet, "logits"),
        (ExtraDenseNet, "可训练参数"),
        (NoDropoutNet, "Dropout"),
        (NoWidthConfigNet, "width"),
    ],
)
def test_branch_mistakes_are_named(cls, fragment):
    """Is each two-branch-model mistake reported with its own message?"""
    with pytest.raises(CheckFailed, match=fragment):
        checks.check_branch_model(model_cls=cls)


def test_branch_wrong_base_class():
    class NotAModel(layers.Layer):
        def __init__(self, num_classes, width=16, dropout=0.0, **kwargs):
            super().__init__(**kwargs)

    with pytest.raises(CheckFailed, match="keras.Model"):
        checks.check_branch_model(model_cls=NotAModel)


# ---------------------------------------------------------------- forgeries

HARDCODED = {
    # Ignores alpha_init: the slope always starts at the visible 0.25.
    "ch03_prelu_layer_test": """
from keras import layers, ops


class LearnablePReLU(layers.Layer):
    def __init__(self, alpha_init=0.25, **kwargs):
        super().__init__(**kwargs)
        self.alpha_init = alpha_init

    def build(self, input_shape):
        self.alpha = self.add_weight(shape=(input_shape[-1],), initializer=keras.initializers.Constant(0.25))

    def call(self, x):
        return ops.where(x > 0, x, self.alpha * x)

    def get_config(self):
        return {**super().get_config(), "alpha_init": self.alpha_init}
""",
    # Ignores stddev: the noise always has the visible standard deviation 0.5.
    "ch03_noise_layer_test": """
from keras import layers, ops


class TrainingNoise(layers.Layer):
    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev, self.seed = stddev, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=None):
        if not training:
            return x
        return x + keras.random.normal(ops.shape(x), stddev=0.5, seed=self.seed_generator)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}
""",
    # Always projects the shortcut: right for the visible 3 -> 8 channels only.
    "ch03_residual_block_test": """
from keras import layers, ops


class ResidualBlock(layers.Layer):
    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape):
        self.conv1 = layers.Conv2D(self.filters, 3, padding="same", use_bias=False)
        self.bn1 = layers.BatchNormalization()
        self.conv2 = layers.Conv2D(self.filters, 3, padding="same", use_bias=False)
        self.bn2 = layers.BatchNormalization()
        self.projection = layers.Conv2D(self.filters, 1, use_bias=False)

    def call(self, x, training=None):
        h = ops.relu(self.bn1(self.conv1(x), training=training))
        h = self.bn2(self.conv2(h), training=training)
        return ops.relu(h + self.projection(x))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}
""",
    # get_config hard-codes the visible width 6.
    "ch03_branch_model_test": """
from keras import layers, ops


class TwoBranchNet(keras.Model):
    def __init__(self, num_classes, width=16, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.rate = num_classes, dropout
        self.b3 = layers.Conv2D(width, 3, padding="same", activation="relu")
        self.b5 = layers.Conv2D(width, 5, padding="same", activation="relu")
        self.pool, self.drop = layers.GlobalAveragePooling2D(), layers.Dropout(dropout)
        self.head = layers.Dense(num_classes)

    def call(self, x, training=None):
        h = ops.concatenate([self.b3(x), self.b5(x)], axis=-1)
        return self.head(self.drop(self.pool(h), training=training))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "width": 6,
                "dropout": self.rate}
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("03_subclassing", HARDCODED, tmp_path)


# ---------------------------------------------------------------- no answer in course_utils


#: Names that smell like a reference or a helper of one (checked in every course_utils module).
SUSPECT = (
    "ref",
    "expect",
    "answer",
    "solution",
    "prelu",
    "residual",
    "branch",
    "conv",
    "_bn",
    "noise",
)


def _course_utils_callables():
    """The functions of course_utils to try: every one in the chapter's checks module and the
    inspection/grading helpers, and any anywhere whose name looks like a reference. (Calling
    every function of every module with arrays can crash TensorFlow's kernels outright.)"""
    import importlib
    import inspect
    import pkgutil

    import course_utils

    found = {}
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        module = importlib.import_module(info.name)
        everything = info.name in (
            "course_utils.checks.ch03",
            "course_utils.inspect",
            "course_utils.grading",
        )
        for name, obj in vars(module).items():
            if not inspect.isfunction(obj) or obj.__module__ != info.name:
                continue
            if everything or any(s in name.lower() for s in SUSPECT):
                found[f"{info.name}.{name}"] = obj
    return found


def _leak_cases():
    """(argument tuples a leaked reference could take, the answer they would give), computed
    with this file's correct answers on the checks' visible inputs."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    alpha = np.array([-0.5, 0.25, 1.0, 1.5], dtype="float32")
    prelu = GoodPReLU()
    prelu(x)
    prelu.set_weights([alpha])
    cases = [([(x, alpha), (x, alpha, 0.25)], np.asarray(prelu(x)))]

    xr = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    block = GoodBlock(8)
    block(xr)
    k1, k2 = rng.normal(size=(3, 3, 3, 8)), rng.normal(size=(3, 3, 8, 8))
    proj = rng.normal(size=(1, 1, 3, 8))
    for training in (False, True):
        block.conv1.kernel.assign(k1)
        block.conv2.kernel.assign(k2)
        block.projection.kernel.assign(proj)
        for bn in (block.bn1, block.bn2):
            bn.set_weights([np.ones(8), np.zeros(8), np.zeros(8), np.ones(8)])
        args = [(xr, k1, k2, proj, training), (xr, [k1, k2, proj], training)]
        cases.append((args, np.asarray(block(xr, training=training))))

    xb = rng.normal(size=(5, 7, 7, 1)).astype("float32")
    net = GoodNet(3, 6, 0.5)
    net(xb)
    weights = [np.asarray(w, "float64") for w in net.trainable_weights]
    cases.append(([(xb, weights), (xb, net.trainable_weights)], np.asarray(net(xb))))
    return cases


def _leaks(callables) -> list[str]:
    import inspect
    import warnings

    found = []
    cases = _leak_cases()
    for qualname, obj in callables.items():
        if qualname.split(".")[-1].startswith("check_"):
            continue  # checks print one line or raise
        try:
            sig = inspect.signature(obj)
        except (TypeError, ValueError):
            continue
        for arg_tuples, answer in cases:
            for args in arg_tuples:
                try:
                    sig.bind(*args)
                except TypeError:
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        got = np.asarray(obj(*args), dtype="float64")
                except Exception:
                    continue
                if got.shape == answer.shape and np.allclose(got, answer, atol=1e-4):
                    found.append(qualname)
    return found


def test_no_callable_in_course_utils_computes_an_answer():
    """Does any function of course_utils (private ones included) return an exercise's answer
    on the visible inputs (as chapter 03's old ``_residual_reference`` and
    ``_branch_reference`` did)?"""
    assert _leaks(_course_utils_callables()) == []
