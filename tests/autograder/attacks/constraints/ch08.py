"""Chapter 08: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; each must score 0
for that exercise while the other exercises keep full marks. ``DELEGATIONS[answer grade_id]``:
answers that hand the work to a ``course_utils`` function that used to compute the answer
(``checks.ch08.reference_precision_recall``, ``reference_rbf``, ``reference_calibration_error``);
those no longer exist, so each must score 0 too. Exercise 8.5 (find and fix) states no
constraint: it is judged by behaviour only.
"""

_RBF_BODY = """
    def __init__(self, num_centers, gamma=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_centers = int(num_centers)
        self.gamma = float(gamma)

    def build(self, input_shape):
        self.centers = self.add_weight(
            shape=(self.num_centers, input_shape[-1]), initializer="random_normal", name="centers"
        )

    def call(self, x):
        diff = keras.ops.expand_dims(x, 1) - keras.ops.expand_dims(self.centers, 0)
        return keras.ops.exp(-self.gamma * keras.ops.sum(diff * diff, axis=-1))

    def get_config(self):
        return {**super().get_config(), "num_centers": self.num_centers, "gamma": self.gamma}
"""

ANSWERS = {
    "ch08_per_class_precision_recall": [
        (
            "NumPy only: tf.math.confusion_matrix (the issue's answer)",
            '''def per_class_precision_recall(y_true, y_pred, num_classes):
    """返回 (precision, recall)：两个长度为 num_classes 的数组，只用 NumPy。"""
    cm = tf.math.confusion_matrix(y_true, y_pred, num_classes=num_classes).numpy()
    tp, predicted, actual = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(num_classes), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(num_classes), where=actual > 0)
    return precision, recall
''',
        ),
        (
            "NumPy only: sklearn.metrics.precision_recall_fscore_support",
            '''from sklearn.metrics import precision_recall_fscore_support


def per_class_precision_recall(y_true, y_pred, num_classes):
    """返回 (precision, recall)：两个长度为 num_classes 的数组，只用 NumPy。"""
    p, r, _, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(num_classes)), zero_division=0
    )
    return p, r
''',
        ),
        (
            "NumPy only: course_utils.plots.confusion_matrix through the Setup name plots",
            '''def per_class_precision_recall(y_true, y_pred, num_classes):
    """返回 (precision, recall)：两个长度为 num_classes 的数组，只用 NumPy。"""
    cm = np.asarray(plots.confusion_matrix(y_true, y_pred, num_classes=num_classes), "float64")
    tp, predicted, actual = np.diag(cm), cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros(num_classes), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(num_classes), where=actual > 0)
    return precision, recall
''',
        ),
    ],
    "ch08_rbf_features": [
        (
            "centers created with add_weight: a keras.Variable attribute instead (tracked and saved)",
            '''@keras.saving.register_keras_serializable(package="ch08")
class RBFFeatures(keras.layers.Layer):
    """exp(-gamma * ||x - c_j||^2)，中心 c_j 可训练；可以保存到 .keras 再读回。"""

    def __init__(self, num_centers, gamma=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_centers = int(num_centers)
        self.gamma = float(gamma)

    def build(self, input_shape):
        self.centers = keras.Variable(
            keras.random.normal((self.num_centers, input_shape[-1]), stddev=0.05),
            name="centers",
        )

    def call(self, x):
        diff = keras.ops.expand_dims(x, 1) - keras.ops.expand_dims(self.centers, 0)
        return keras.ops.exp(-self.gamma * keras.ops.sum(diff * diff, axis=-1))

    def get_config(self):
        return {**super().get_config(), "num_centers": self.num_centers, "gamma": self.gamma}
''',
        ),
        (
            "registered with register_keras_serializable: Keras's registry filled by hand instead",
            '''from keras.src.saving import object_registration


class RBFFeatures(keras.layers.Layer):
    """exp(-gamma * ||x - c_j||^2)，中心 c_j 可训练；可以保存到 .keras 再读回。"""
'''
            + _RBF_BODY
            + """

object_registration.GLOBAL_CUSTOM_NAMES[RBFFeatures] = "ch08>RBFFeatures"
object_registration.GLOBAL_CUSTOM_OBJECTS["ch08>RBFFeatures"] = RBFFeatures
""",
        ),
    ],
    "ch08_fine_tune_checkpoint": [
        (
            "require load_model: rebuilds the model from the checkpoint's config.json and "
            "load_weights (same weights, so the numbers are right)",
            '''import zipfile


def resume_for_fine_tuning(path, base_name, n_top, learning_rate):
    """读回检查点，只解冻 base 中最后 n_top 个带权重的非 BN 层，重新编译并返回模型。"""
    config = zipfile.ZipFile(path).read("config.json").decode()
    model = keras.models.model_from_json(config)
    model.load_weights(path)
    base = model.get_layer(base_name)
    base.trainable = True
    tunable = [
        layer
        for layer in base.layers
        if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    ][-n_top:]
    for layer in base.layers:
        layer.trainable = any(layer is t for t in tunable)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
''',
        ),
    ],
    "ch08_calibration_error": [
        (
            "NumPy only: tf.reduce_max / tf.argmax for the confidences",
            '''def expected_calibration_error(probs, labels, n_bins=10):
    """按 n_bins 个等宽置信度区间计算 ECE，返回 Python float。"""
    probs = tf.constant(np.asarray(probs, dtype="float64"))
    conf = tf.reduce_max(probs, axis=1).numpy()
    correct = (tf.argmax(probs, axis=1).numpy() == np.asarray(labels)).astype("float64")
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(ece)
''',
        ),
        (
            "NumPy only: sklearn.metrics.accuracy_score per bin",
            '''from sklearn.metrics import accuracy_score


def expected_calibration_error(probs, labels, n_bins=10):
    """按 n_bins 个等宽置信度区间计算 ECE，返回 Python float。"""
    probs = np.asarray(probs, dtype="float64")
    labels = np.asarray(labels).astype(int).ravel()
    conf = probs.max(axis=1)
    pred = probs.argmax(axis=1)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            acc = accuracy_score(labels[in_bin], pred[in_bin])
            ece += in_bin.mean() * abs(acc - conf[in_bin].mean())
    return float(ece)
''',
        ),
    ],
}

DELEGATIONS = {
    "ch08_per_class_precision_recall": '''from course_utils.checks.ch08 import reference_precision_recall


def per_class_precision_recall(y_true, y_pred, num_classes):
    """返回 (precision, recall)：两个长度为 num_classes 的数组，只用 NumPy。"""
    return reference_precision_recall(y_true, y_pred, num_classes)
''',
    "ch08_rbf_features": '''from course_utils.checks.ch08 import reference_rbf


@keras.saving.register_keras_serializable(package="ch08")
class RBFFeatures(keras.layers.Layer):
    """exp(-gamma * ||x - c_j||^2)，中心 c_j 可训练；可以保存到 .keras 再读回。"""

    def __init__(self, num_centers, gamma=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_centers = int(num_centers)
        self.gamma = float(gamma)

    def build(self, input_shape):
        self.centers = self.add_weight(
            shape=(self.num_centers, input_shape[-1]), initializer="random_normal", name="centers"
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_centers)

    def call(self, x):
        return keras.ops.convert_to_tensor(
            reference_rbf(np.asarray(x), np.asarray(self.centers), self.gamma), dtype="float32"
        )

    def get_config(self):
        return {**super().get_config(), "num_centers": self.num_centers, "gamma": self.gamma}
''',
    "ch08_calibration_error": '''from course_utils.checks.ch08 import reference_calibration_error


def expected_calibration_error(probs, labels, n_bins=10):
    """按 n_bins 个等宽置信度区间计算 ECE，返回 Python float。"""
    return reference_calibration_error(probs, labels, n_bins)
''',
}
