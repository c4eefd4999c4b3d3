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
    assert checks.check_prelu_layer(layer_cls=GoodPReLU, alpha_init=0.25, input_dim=4)
    assert checks.check_prelu_layer(layer_cls=GoodPReLU, alpha_init=-0.3, input_dim=7)


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
        checks.check_prelu_layer(layer_cls=cls, alpha_init=0.25, input_dim=4)


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
    assert checks.check_noise_layer(layer_cls=GoodNoise, stddev=0.5)
    assert checks.check_noise_layer(layer_cls=GoodNoise, stddev=1.5)


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
        checks.check_noise_layer(layer_cls=cls, stddev=0.5)


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
    assert checks.check_residual_block(block_cls=GoodBlock, filters=8, in_channels=3)
    assert checks.check_residual_block(block_cls=GoodBlock, filters=5, in_channels=5)


@pytest.mark.parametrize(
    ("cls", "filters", "channels", "fragment"),
    [
        (NoProjectionBlock, 8, 3, "投影"),
        (AlwaysProjectionBlock, 5, 5, "恒等"),
        (UntrackedBlock, 8, 3, "self 的属性"),
        (FrozenBNBlock, 8, 3, "写死了 training=False"),
        (NoFinalReluBlock, 8, 3, "参考实现"),
        (BiasBlock, 8, 3, "use_bias=False"),
        (NoConfigBlock, 8, 3, "filters"),
    ],
)
def test_residual_mistakes_are_named(cls, filters, channels, fragment):
    """Is each residual-block mistake reported with its own message?"""
    with pytest.raises(CheckFailed, match=fragment):
        checks.check_residual_block(block_cls=cls, filters=filters, in_channels=channels)


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
    assert checks.check_branch_model(model_cls=GoodNet, num_classes=3, width=6, dropout=0.5)
    assert checks.check_branch_model(
        model_cls=GoodNet, num_classes=5, width=3, dropout=0.3, channels=3
    )


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
        checks.check_branch_model(model_cls=cls, num_classes=3, width=6, dropout=0.5)


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
