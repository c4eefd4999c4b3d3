"""Chapter 03: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; each must score 0
for that exercise while the other exercises keep full marks. Exercise 3.1 (Bilinear) forbids
borrowing ``Dense``/``EinsumDense`` and requires ``add_weight``; 3.2 (RunningCenter) forbids the
built-in normalisation layers; 3.4 (the fixed DenseBlock) requires the broken cell's
``Dense``, ``BatchNormalization`` and ``Dropout``; 3.3 and 3.5 require their Keras layers.

``DELEGATIONS[answer grade_id]``: answers that hand the work to ``course_utils``. The old
``course_utils.checks.ch03`` held ``_residual_reference`` (with ``_conv``/``_bn``) and
``_branch_reference``, which computed exercise 3.3's and 3.5's outputs from a block's weights;
a block whose eager ``call`` returned them matched the old hidden tests' eager outputs (its
graph-mode and gradient parts would still have needed real layers). Those functions are gone,
so these answers fail at the import and must score 0.
"""

_RESIDUAL_CONFIG = """
    def get_config(self):
        return {**super().get_config(), "filters": self.filters}
"""

_BRANCH_CONFIG = """
    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "width": self.width,
            "dropout": self.dropout_rate,
        }
"""

ANSWERS = {
    "ch03_bilinear_layer": [
        (
            "forbid EinsumDense: the kernel (m, n, units) borrowed from an EinsumDense on a, "
            "then contracted with b; the bias from add_weight",
            '''class Bilinear(keras.layers.Layer):
    """两个输入的双线性层：out[:, k] = a · W[:, :, k] · b + bias[k]。"""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        shape_a, shape_b = input_shape
        self.project = keras.layers.EinsumDense(
            "bi,ijk->bjk", output_shape=(shape_b[-1], self.units)
        )
        self.project.build(shape_a)
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs):
        a, b = inputs
        return keras.ops.einsum("bjk,bj->bk", self.project(a), b) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units}
''',
        ),
        (
            "require add_weight: the weights are keras.Variable attributes (tracked all the same)",
            '''class Bilinear(keras.layers.Layer):
    """两个输入的双线性层：out[:, k] = a · W[:, :, k] · b + bias[k]。"""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        shape_a, shape_b = input_shape
        shape = (shape_a[-1], shape_b[-1], self.units)
        self.kernel = keras.Variable(keras.initializers.GlorotUniform()(shape), name="kernel")
        self.bias = keras.Variable(keras.ops.zeros((self.units,)), name="bias")

    def call(self, inputs):
        a, b = inputs
        return keras.ops.einsum("bi,ijk,bj->bk", a, self.kernel, b) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units}
''',
        ),
    ],
    "ch03_running_center": [
        (
            "forbid *Normalization: a BatchNormalization without centre or scale and a huge "
            "epsilon, times 1e6, is x - mean to float precision and keeps the same moving_mean",
            '''class RunningCenter(keras.layers.Layer):
    """训练时减去批次均值并更新滑动均值，推理时减去滑动均值。"""

    def __init__(self, momentum=0.9, **kwargs):
        super().__init__(**kwargs)
        self.momentum = momentum
        self.norm = keras.layers.BatchNormalization(
            momentum=momentum, epsilon=1e12, center=False, scale=False
        )

    def call(self, x, training=None):
        return self.norm(x, training=training) * 1e6

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}
''',
        ),
    ],
    "ch03_fix_dense_block": [
        (
            "require Dropout: inverted dropout written by hand with tf.random.uniform",
            '''class DenseBlock(keras.layers.Layer):
    """Dense → 批归一化 → ReLU → Dropout（修好的版本）。"""

    def __init__(self, units, rate=0.5, **kwargs):
        super().__init__(**kwargs)
        self.units, self.rate = units, rate
        self.dense = keras.layers.Dense(units)
        self.bn = keras.layers.BatchNormalization()

    def call(self, x, training=None):
        h = keras.ops.relu(self.bn(self.dense(x), training=training))
        if training and self.rate > 0:
            keep = tf.random.uniform(tf.shape(h)) >= self.rate
            h = keras.ops.where(keep, h / (1.0 - self.rate), 0.0)
        return h

    def get_config(self):
        return {**super().get_config(), "units": self.units, "rate": self.rate}
''',
        ),
    ],
    "ch03_residual_block": [
        (
            "require Conv2D: kernels from add_weight and keras.ops.conv",
            '''class ResidualBlock(keras.layers.Layer):
    """conv-BN-ReLU-conv-BN 加捷径（通道不同时 1×1 投影），最后 ReLU。"""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape):
        cin, f = input_shape[-1], self.filters
        self.k1 = self.add_weight(shape=(3, 3, cin, f), initializer="glorot_uniform", name="k1")
        self.k2 = self.add_weight(shape=(3, 3, f, f), initializer="glorot_uniform", name="k2")
        self.bn1 = keras.layers.BatchNormalization()
        self.bn2 = keras.layers.BatchNormalization()
        self.proj = None
        if cin != f:
            self.proj = self.add_weight(shape=(1, 1, cin, f), initializer="glorot_uniform", name="p")

    def call(self, x, training=None):
        h = keras.ops.conv(x, self.k1, padding="same")
        h = keras.ops.relu(self.bn1(h, training=training))
        h = self.bn2(keras.ops.conv(h, self.k2, padding="same"), training=training)
        shortcut = x if self.proj is None else keras.ops.conv(x, self.proj, padding="same")
        return keras.ops.relu(h + shortcut)
'''
            + _RESIDUAL_CONFIG,
        ),
        (
            "require BatchNormalization: a hand-written normalisation layer with the same "
            "weights (gamma, beta, moving_mean, moving_variance) and the same maths",
            '''class HandNorm(keras.layers.Layer):
    def build(self, input_shape):
        n = input_shape[-1]
        self.gamma = self.add_weight(shape=(n,), initializer="ones", name="gamma")
        self.beta = self.add_weight(shape=(n,), initializer="zeros", name="beta")
        self.moving_mean = self.add_weight(
            shape=(n,), initializer="zeros", trainable=False, name="moving_mean"
        )
        self.moving_variance = self.add_weight(
            shape=(n,), initializer="ones", trainable=False, name="moving_variance"
        )

    def call(self, x, training=None):
        if training:
            mean, var = keras.ops.moments(x, axes=[0, 1, 2])
            self.moving_mean.assign(0.99 * self.moving_mean + 0.01 * mean)
            self.moving_variance.assign(0.99 * self.moving_variance + 0.01 * var)
        else:
            mean, var = self.moving_mean, self.moving_variance
        return self.gamma * (x - mean) / keras.ops.sqrt(var + 1e-3) + self.beta


class ResidualBlock(keras.layers.Layer):
    """conv-BN-ReLU-conv-BN 加捷径（通道不同时 1×1 投影），最后 ReLU。"""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape):
        self.conv1 = keras.layers.Conv2D(self.filters, 3, padding="same", use_bias=False)
        self.bn1 = HandNorm()
        self.conv2 = keras.layers.Conv2D(self.filters, 3, padding="same", use_bias=False)
        self.bn2 = HandNorm()
        self.projection = None
        if input_shape[-1] != self.filters:
            self.projection = keras.layers.Conv2D(self.filters, 1, use_bias=False)

    def call(self, x, training=None):
        h = keras.ops.relu(self.bn1(self.conv1(x), training=training))
        h = self.bn2(self.conv2(h), training=training)
        shortcut = x if self.projection is None else self.projection(x)
        return keras.ops.relu(h + shortcut)
'''
            + _RESIDUAL_CONFIG,
        ),
    ],
    "ch03_branch_model": [
        (
            "forbid softmax: an extra method that applies softmax (call still returns logits)",
            '''class TwoBranchNet(keras.Model):
    """3×3 与 5×5 两个卷积分支拼接 → 全局平均池化 → Dropout → Dense（logits）。"""

    def __init__(self, num_classes, width=16, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.width, self.dropout_rate = num_classes, width, dropout
        self.branch3 = keras.layers.Conv2D(width, 3, padding="same", activation="relu")
        self.branch5 = keras.layers.Conv2D(width, 5, padding="same", activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dropout = keras.layers.Dropout(dropout)
        self.classifier = keras.layers.Dense(num_classes)

    def call(self, x, training=None):
        h = keras.ops.concatenate([self.branch3(x), self.branch5(x)], axis=-1)
        return self.classifier(self.dropout(self.pool(h), training=training))

    def probabilities(self, x):
        return keras.ops.softmax(self(x, training=False))
'''
            + _BRANCH_CONFIG,
        ),
        (
            "require Conv2D: a hand-written convolution layer (add_weight + keras.ops.conv)",
            '''class HandConv(keras.layers.Layer):
    def __init__(self, filters, size, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.size = filters, size

    def build(self, input_shape):
        shape = (self.size, self.size, input_shape[-1], self.filters)
        self.kernel = self.add_weight(shape=shape, initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")

    def call(self, x):
        return keras.ops.relu(keras.ops.conv(x, self.kernel, padding="same") + self.bias)


class TwoBranchNet(keras.Model):
    """3×3 与 5×5 两个卷积分支拼接 → 全局平均池化 → Dropout → Dense（logits）。"""

    def __init__(self, num_classes, width=16, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.width, self.dropout_rate = num_classes, width, dropout
        self.branch3, self.branch5 = HandConv(width, 3), HandConv(width, 5)
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dropout = keras.layers.Dropout(dropout)
        self.classifier = keras.layers.Dense(num_classes)

    def call(self, x, training=None):
        h = keras.ops.concatenate([self.branch3(x), self.branch5(x)], axis=-1)
        return self.classifier(self.dropout(self.pool(h), training=training))
'''
            + _BRANCH_CONFIG,
        ),
        (
            "require Dropout: inverted dropout written by hand with keras.random.uniform",
            '''class TwoBranchNet(keras.Model):
    """3×3 与 5×5 两个卷积分支拼接 → 全局平均池化 → Dropout → Dense（logits）。"""

    def __init__(self, num_classes, width=16, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.width, self.dropout_rate = num_classes, width, dropout
        self.branch3 = keras.layers.Conv2D(width, 3, padding="same", activation="relu")
        self.branch5 = keras.layers.Conv2D(width, 5, padding="same", activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.seed_generator = keras.random.SeedGenerator()
        self.classifier = keras.layers.Dense(num_classes)

    def call(self, x, training=None):
        h = keras.ops.concatenate([self.branch3(x), self.branch5(x)], axis=-1)
        h = self.pool(h)
        if training and self.dropout_rate > 0:
            u = keras.random.uniform(keras.ops.shape(h), seed=self.seed_generator)
            h = keras.ops.where(u >= self.dropout_rate, h / (1.0 - self.dropout_rate), 0.0)
        return self.classifier(h)
'''
            + _BRANCH_CONFIG,
        ),
        (
            "require Dense: a hand-written affine layer (add_weight + keras.ops.matmul)",
            '''class Affine(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        shape = (input_shape[-1], self.units)
        self.kernel = self.add_weight(shape=shape, initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, x):
        return keras.ops.matmul(x, self.kernel) + self.bias


class TwoBranchNet(keras.Model):
    """3×3 与 5×5 两个卷积分支拼接 → 全局平均池化 → Dropout → Dense（logits）。"""

    def __init__(self, num_classes, width=16, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.width, self.dropout_rate = num_classes, width, dropout
        self.branch3 = keras.layers.Conv2D(width, 3, padding="same", activation="relu")
        self.branch5 = keras.layers.Conv2D(width, 5, padding="same", activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dropout = keras.layers.Dropout(dropout)
        self.classifier = Affine(num_classes)

    def call(self, x, training=None):
        h = keras.ops.concatenate([self.branch3(x), self.branch5(x)], axis=-1)
        return self.classifier(self.dropout(self.pool(h), training=training))
'''
            + _BRANCH_CONFIG,
        ),
    ],
}

DELEGATIONS = {
    "ch03_residual_block": '''from course_utils.checks.ch03 import _residual_reference


class ResidualBlock(keras.layers.Layer):
    """conv-BN-ReLU-conv-BN 加捷径（通道不同时 1×1 投影），最后 ReLU。"""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape):
        self.conv1 = keras.layers.Conv2D(self.filters, 3, padding="same", use_bias=False)
        self.bn1 = keras.layers.BatchNormalization()
        self.conv2 = keras.layers.Conv2D(self.filters, 3, padding="same", use_bias=False)
        self.bn2 = keras.layers.BatchNormalization()
        self.projection = None
        if input_shape[-1] != self.filters:
            self.projection = keras.layers.Conv2D(self.filters, 1, use_bias=False)

    def call(self, x, training=None):
        proj = None if self.projection is None else np.asarray(self.projection.kernel)
        k1, k2 = np.asarray(self.conv1.kernel), np.asarray(self.conv2.kernel)
        return _residual_reference(np.asarray(x), k1, k2, proj, bool(training))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}
''',
    "ch03_branch_model": '''from course_utils.checks.ch03 import _branch_reference


class TwoBranchNet(keras.Model):
    """3×3 与 5×5 两个卷积分支拼接 → 全局平均池化 → Dropout → Dense（logits）。"""

    def __init__(self, num_classes, width=16, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.width, self.dropout_rate = num_classes, width, dropout
        self.branch3 = keras.layers.Conv2D(width, 3, padding="same", activation="relu")
        self.branch5 = keras.layers.Conv2D(width, 5, padding="same", activation="relu")
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dropout = keras.layers.Dropout(dropout)
        self.classifier = keras.layers.Dense(num_classes)

    def call(self, x, training=None):
        h = keras.ops.concatenate([self.branch3(x), self.branch5(x)], axis=-1)
        out = self.classifier(self.dropout(self.pool(h), training=training))
        weights = [np.asarray(w, "float64") for w in self.trainable_weights]
        return _branch_reference(np.asarray(x), weights).astype("float32")

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "width": self.width,
            "dropout": self.dropout_rate,
        }
''',
}
