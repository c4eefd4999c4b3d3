"""Chapter 03 checks: each named mistake gets its message, and a correct answer passes."""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest
from keras import layers, ops

from course_utils import checks
from course_utils.checks import CheckFailed

# ---------------------------------------------------------------- 3.1 Bilinear


class GoodBilinear(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        (m, n) = input_shape[0][-1], input_shape[1][-1]
        self.kernel = self.add_weight(shape=(m, n, self.units), initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        a, b = inputs
        return ops.einsum("bi,ijk,bj->bk", a, self.kernel, b) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class EagerBilinear(GoodBilinear):
    """Creates its weights in __init__ with guessed sizes."""

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        self.kernel = self.add_weight(shape=(3, 4, units))
        self.bias = self.add_weight(shape=(units,))

    def build(self, input_shape):
        pass


class FirstShapeOnlyBilinear(GoodBilinear):
    """Reads only the first input's shape (as if build got one shape)."""

    def build(self, input_shape):
        m = input_shape[0][-1]
        self.kernel = self.add_weight(shape=(m, m, self.units))
        self.bias = self.add_weight(shape=(self.units,))

    def call(self, inputs):
        a, b = inputs
        return ops.einsum("bi,ijk,bi->bk", a, self.kernel, a) + self.bias


class SwappedShapeBilinear(GoodBilinear):
    def build(self, input_shape):
        (m, n) = input_shape[0][-1], input_shape[1][-1]
        self.kernel = self.add_weight(shape=(n, m, self.units))
        self.bias = self.add_weight(shape=(self.units,))

    def call(self, inputs):
        a, b = inputs
        return ops.einsum("bj,jik,bi->bk", b, self.kernel, a) + self.bias


class NoBiasBilinear(GoodBilinear):
    def call(self, inputs):
        a, b = inputs
        return ops.einsum("bi,ijk,bj->bk", a, self.kernel, b)


class WrongFormulaBilinear(GoodBilinear):
    def call(self, inputs):
        a, b = inputs
        return ops.einsum("bi,ijk->bk", a, self.kernel) + self.bias


class NoConfigBilinear(GoodBilinear):
    def get_config(self):
        return super(GoodBilinear, self).get_config()


class NoKwargsBilinear(GoodBilinear):
    def __init__(self, units):
        super().__init__(units=units)


def test_bilinear_good_passes():
    forgery.passes(checks.check_bilinear_layer, layer_cls=GoodBilinear)


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [
        (EagerBilinear, "build"),
        (FirstShapeOnlyBilinear, "两个形状的列表"),
        (SwappedShapeBilinear, "顺序应为"),
        (NoBiasBilinear, "少了偏置"),
        (WrongFormulaBilinear, "einsum"),
        (NoConfigBilinear, "units"),
        (NoKwargsBilinear, "kwargs"),
    ],
)
def test_bilinear_mistakes_are_named(cls, fragment):
    """Is each bilinear-layer mistake reported with its own message?"""
    with pytest.raises(CheckFailed, match=fragment):
        checks.check_bilinear_layer(layer_cls=cls)


def test_bilinear_not_a_class():
    with pytest.raises(CheckFailed, match="类"):
        checks.check_bilinear_layer(layer_cls=lambda **k: None)


# ---------------------------------------------------------------- 3.2 RunningCenter


class GoodCenter(layers.Layer):
    def __init__(self, momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    def build(self, input_shape):
        self.moving_mean = self.add_weight(
            shape=(input_shape[-1],), initializer="zeros", trainable=False, name="moving_mean"
        )

    def batch_mean(self, x):
        return ops.mean(x, axis=list(range(len(x.shape) - 1)))

    def update(self, mean):
        self.moving_mean.assign(self.momentum * self.moving_mean + (1 - self.momentum) * mean)

    def call(self, x, training=None):
        if not training:
            return x - self.moving_mean
        mean = self.batch_mean(x)
        self.update(mean)
        return x - mean

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}


class TrainableCenter(GoodCenter):
    def build(self, input_shape):
        self.moving_mean = self.add_weight(shape=(input_shape[-1],), initializer="zeros")


class MovingInTrainingCenter(GoodCenter):
    def call(self, x, training=None):
        if training:
            self.update(self.batch_mean(x))
        return x - self.moving_mean


class SwappedMomentumCenter(GoodCenter):
    def update(self, mean):
        self.moving_mean.assign((1 - self.momentum) * self.moving_mean + self.momentum * mean)


class NoUpdateCenter(GoodCenter):
    def update(self, mean):
        pass


class BatchAtInferenceCenter(GoodCenter):
    def call(self, x, training=None):
        mean = self.batch_mean(x)
        if training:
            self.update(mean)
        return x - mean


class FirstAxisCenter(GoodCenter):
    def batch_mean(self, x):
        return ops.mean(x, axis=0)


class NumpyCenter(GoodCenter):
    """Updates a NumPy copy: right in eager mode, frozen in a tf.function."""

    def update(self, mean):
        self.moving_mean.assign(
            self.momentum * np.asarray(self.moving_mean) + (1 - self.momentum) * np.asarray(mean)
        )


class NoConfigCenter(GoodCenter):
    def get_config(self):
        return super(GoodCenter, self).get_config()


def test_center_good_passes():
    forgery.passes(checks.check_running_center, layer_cls=GoodCenter)


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [
        (TrainableCenter, "可训练权重"),
        (MovingInTrainingCenter, "训练时要减去本批次的均值"),
        (SwappedMomentumCenter, "更新反了"),
        (NoUpdateCenter, "assign"),
        (BatchAtInferenceCenter, "推理时要减去滑动均值"),
        (FirstAxisCenter, "除最后一维外的所有轴"),
        (NoConfigCenter, "momentum"),
    ],
)
def test_center_mistakes_are_named(cls, fragment):
    """Is each running-center mistake reported with its own message?"""
    with pytest.raises(CheckFailed, match=fragment):
        checks.check_running_center(layer_cls=cls)


def test_center_numpy_update_fails_somewhere():
    """A NumPy update cannot run on the symbolic tensors of a tf.function: the check fails."""
    with pytest.raises(CheckFailed):
        checks.check_running_center(layer_cls=NumpyCenter)


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


# ---------------------------------------------------------------- 3.4 DenseBlock (find and fix)


class GoodDenseBlock(layers.Layer):
    def __init__(self, units, rate=0.5, **kwargs):
        super().__init__(**kwargs)
        self.units, self.rate = units, rate
        self.dense = layers.Dense(units)
        self.bn = layers.BatchNormalization()
        self.dropout = layers.Dropout(rate)

    def call(self, x, training=None):
        h = self.bn(self.dense(x), training=training)
        return self.dropout(ops.relu(h), training=training)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "rate": self.rate}


class DenseInCallBlock(GoodDenseBlock):
    """The broken cell's first error alone: a new Dense on every call."""

    def call(self, x, training=None):
        h = self.bn(layers.Dense(self.units)(x), training=training)
        return self.dropout(ops.relu(h), training=training)


class FrozenBNDenseBlock(GoodDenseBlock):
    """The second error alone: the batch normalisation always in inference mode."""

    def call(self, x, training=None):
        h = self.bn(self.dense(x), training=False)
        return self.dropout(ops.relu(h), training=training)


class NoKwargsDenseBlock(GoodDenseBlock):
    """The third error alone: no **kwargs, so from_config cannot pass name on."""

    def __init__(self, units, rate=0.5):
        super().__init__(units, rate)


class NoDropoutBlock(GoodDenseBlock):
    def call(self, x, training=None):
        return ops.relu(self.bn(self.dense(x), training=training))


class ReluFirstBlock(GoodDenseBlock):
    def call(self, x, training=None):
        h = self.bn(ops.relu(self.dense(x)), training=training)
        return self.dropout(h, training=training)


def test_dense_block_good_passes():
    forgery.passes(checks.check_dense_block, block_cls=GoodDenseBlock)


@pytest.mark.parametrize(
    ("cls", "fragment"),
    [
        (DenseInCallBlock, "不会被跟踪"),
        (FrozenBNDenseBlock, "写死了"),
        (NoKwargsDenseBlock, "kwargs"),
        (NoDropoutBlock, "Dropout"),
        (ReluFirstBlock, "顺序是"),
    ],
)
def test_dense_block_mistakes_are_named(cls, fragment):
    """Is each of the broken cell's errors, alone, reported with its own message?"""
    with pytest.raises(CheckFailed, match=fragment):
        checks.check_dense_block(block_cls=cls)


def test_dense_block_broken_cell_fails():
    """Does the notebook's read-only BrokenDenseBlock (all three errors) fail the check?"""
    import json

    from nbexec import REPO

    nb = json.loads((REPO / "notebooks" / "03_subclassing.ipynb").read_text(encoding="utf-8"))
    cell = next(
        c
        for c in nb["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade_id") == "ch03_fix_dense_block_broken"
    )
    assert cell["metadata"]["nbgrader"]["locked"] and not cell["metadata"]["nbgrader"]["solution"]
    scope = {"keras": keras, "layers": layers, "ops": ops, "np": np}
    exec("".join(cell["source"]), scope)
    with pytest.raises(CheckFailed, match="不会被跟踪"):
        checks.check_dense_block(block_cls=scope["BrokenDenseBlock"])


# ---------------------------------------------------------------- 3.5 TwoBranchNet


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
    # Ignores the second input's size: the kernel is always (3, 4, units), as in the visible case.
    "ch03_bilinear_layer_test": """
from keras import layers, ops


class Bilinear(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[0][-1], 4, self.units))
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros")

    def call(self, inputs):
        a, b = inputs
        return ops.einsum("bi,ijk,bj->bk", a, self.kernel, b[:, :4]) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units}
""",
    # Ignores momentum: the visible 0.8 is hard-coded.
    "ch03_running_center_test": """
from keras import layers, ops


class RunningCenter(layers.Layer):
    def __init__(self, momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum

    def build(self, input_shape):
        self.moving_mean = self.add_weight(
            shape=(input_shape[-1],), initializer="zeros", trainable=False, name="moving_mean"
        )

    def call(self, x, training=None):
        if not training:
            return x - self.moving_mean
        mean = ops.mean(x, axis=list(range(len(x.shape) - 1)))
        self.moving_mean.assign(0.8 * self.moving_mean + 0.2 * mean)
        return x - mean

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}
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
    # get_config hard-codes the visible rate 0.5 (and the default is the visible 0.0 case's).
    "ch03_fix_dense_block_test": """
from keras import layers, ops


class DenseBlock(layers.Layer):
    def __init__(self, units, rate=0.5, **kwargs):
        super().__init__(**kwargs)
        self.units, self.rate = units, rate
        self.dense = layers.Dense(units)
        self.bn = layers.BatchNormalization()
        self.dropout = layers.Dropout(rate)

    def call(self, x, training=None):
        h = self.bn(self.dense(x), training=training)
        return self.dropout(ops.relu(h), training=training)

    def get_config(self):
        return {**super().get_config(), "units": 3, "rate": 0.5}
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
    "bilinear",
    "center",
    "residual",
    "branch",
    "conv",
    "_bn",
    "dense_block",
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
    a = rng.normal(size=(2, 3)).astype("float32")
    b = rng.normal(size=(2, 4)).astype("float32")
    bilinear = GoodBilinear(2)
    bilinear([a, b])
    kernel, bias = (np.asarray(w) for w in bilinear.weights)
    cases = [
        (
            [(a, b, kernel, bias), ([a, b], kernel, bias), (a, b, kernel)],
            np.asarray(bilinear([a, b])),
        )
    ]
    xc = rng.normal(size=(4, 3)).astype("float32")
    cases.append(([(xc,), (xc, 0.8), (xc, np.zeros(3), 0.8)], xc - xc.mean(axis=0)))
    block = GoodDenseBlock(3, rate=0.0)
    block(xc)
    dense_weights = [np.asarray(w) for w in block.weights]
    cases.append(([(xc, dense_weights), (xc, *dense_weights)], np.asarray(block(xc))))

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
