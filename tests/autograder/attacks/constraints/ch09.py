"""Chapter 09: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; each must score 0
for that exercise while the other exercises keep full marks.
"""

ANSWERS = {
    "ch09_dataset": [
        (
            "tf.data only: indices from Dataset.range gathered in map (no from_tensor_slices)",
            '''def make_dataset(images, features, labels, batch_size, shuffle=False, seed=None):
    """返回 tf.data.Dataset：({"image": float32 (b, 28, 28, 1), "features": float32}, labels)。"""
    images_t = tf.constant(images)
    features_t = tf.constant(np.asarray(features, dtype="float32"))
    labels_t = tf.constant(labels)
    ds = tf.data.Dataset.range(len(labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed)

    def take(i):
        image = tf.cast(tf.gather(images_t, i), tf.float32)[..., None] / 255.0
        return {"image": image, "features": tf.gather(features_t, i)}, tf.gather(labels_t, i)

    return ds.map(take).batch(batch_size).prefetch(tf.data.AUTOTUNE)
''',
        ),
        (
            "shuffle only with Dataset.shuffle: a Python generator shuffling with NumPy",
            '''def make_dataset(images, features, labels, batch_size, shuffle=False, seed=None):
    """返回 tf.data.Dataset：({"image": float32 (b, 28, 28, 1), "features": float32}, labels)。"""
    rng = np.random.default_rng(seed)
    features = np.asarray(features, dtype="float32")
    labels = np.asarray(labels)

    def generate():
        order = rng.permutation(len(labels)) if shuffle else np.arange(len(labels))
        for i in order:
            image = images[i][..., None].astype("float32") / 255.0
            yield {"image": image, "features": features[i]}, labels[i]

    signature = (
        {
            "image": tf.TensorSpec((28, 28, 1), tf.float32),
            "features": tf.TensorSpec((features.shape[1],), tf.float32),
        },
        tf.TensorSpec((), tf.as_dtype(labels.dtype)),
    )
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
''',
        ),
    ],
    "ch09_model": [
        (
            "Functional API only: the image branch is a nested keras.Sequential",
            '''@keras.saving.register_keras_serializable(package="ch09")
class GatedFusion(keras.layers.Layer):
    """[a, b] -> g * a + (1 - g) * b，g = sigmoid(concat([a, b]) @ kernel + bias)。"""

    def build(self, input_shape):
        d = int(input_shape[0][-1])
        self.kernel = self.add_weight(shape=(2 * d, d), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(d,), initializer="zeros", name="bias")

    def call(self, inputs):
        a, b = inputs
        both = keras.ops.concatenate([a, b], axis=-1)
        gate = keras.ops.sigmoid(keras.ops.matmul(both, self.kernel) + self.bias)
        return gate * a + (1.0 - gate) * b


def build_capstone_model(num_features, embed_dim=32, num_classes=10):
    """函数式 API：图像分支和特征分支经 GatedFusion 融合，输出 softmax 概率。"""
    image = keras.Input(shape=(28, 28, 1), name="image")
    features = keras.Input(shape=(num_features,), name="features")
    branch = keras.Sequential(
        [
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(embed_dim, activation="relu"),
        ]
    )
    a = branch(image)
    b = keras.layers.Dense(embed_dim, activation="relu")(features)
    h = keras.layers.Dropout(0.2)(GatedFusion()([a, b]))
    outputs = keras.layers.Dense(num_classes, activation="softmax")(h)
    return keras.Model(inputs={"image": image, "features": features}, outputs=outputs)
''',
        ),
    ],
    "ch09_macro_recall": [
        (
            "tensor operations only: counts made in NumPy through tf.numpy_function",
            '''class MacroRecall(keras.metrics.Metric):
    """流式的宏平均召回率：状态是累加的混淆矩阵。"""

    def __init__(self, num_classes, name="macro_recall", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.confusion = self.add_weight(
            shape=(num_classes, num_classes), initializer="zeros", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        k = self.num_classes

        def count(y, p, w):
            cm = np.zeros((k, k), dtype="float32")
            np.add.at(cm, (y.reshape(-1).astype(int), p.argmax(axis=-1)), w.reshape(-1))
            return cm

        labels = tf.reshape(tf.cast(y_true, tf.float32), [-1])
        weights = tf.ones_like(labels) if sample_weight is None else tf.cast(sample_weight, tf.float32)
        counts = tf.numpy_function(count, [labels, y_pred, weights], tf.float32)
        self.confusion.assign_add(tf.reshape(counts, (k, k)))

    def result(self):
        support = tf.reduce_sum(self.confusion, axis=1)
        recall = tf.math.divide_no_nan(tf.linalg.diag_part(self.confusion), support)
        present = tf.cast(support > 0, tf.float32)
        return tf.math.divide_no_nan(tf.reduce_sum(recall * present), tf.reduce_sum(present))

    def reset_state(self):
        self.confusion.assign(tf.zeros_like(self.confusion))
''',
        ),
    ],
    "ch09_callbacks": [
        (
            "built-in callbacks only: a hand-written best-model checkpoint (Callback subclass)",
            '''from course_utils import tblogs


class BestCheckpoint(keras.callbacks.Callback):
    def __init__(self, path):
        super().__init__()
        self.path = path

    def on_train_begin(self, logs=None):
        self.best = -float("inf")

    def on_epoch_end(self, epoch, logs=None):
        if logs["val_accuracy"] > self.best:
            self.best = logs["val_accuracy"]
            self.model.save(self.path)


def make_callbacks(checkpoint_path, log_dir, patience):
    """[ModelCheckpoint, EarlyStopping, TensorBoard]，都按 val_accuracy（越大越好）。"""
    return [
        BestCheckpoint(checkpoint_path),
        keras.callbacks.EarlyStopping(
            monitor="val_accuracy", mode="max", patience=patience, restore_best_weights=True
        ),
        keras.callbacks.TensorBoard(log_dir=log_dir),
    ]


def read_val_curve(log_dir, tag="epoch_accuracy"):
    """从 log_dir 的事件文件读出验证运行的 tag，返回 (steps, values)。"""
    steps, values = tblogs.read_scalars(log_dir)[f"validation/{tag}"]
    return steps, values
''',
        ),
    ],
    "ch09_clipped_step": [
        (
            "clip with tf.clip_by_global_norm: the same scaling written by hand",
            '''class ClippedModel(keras.Model):
    """train_step 按全局范数裁剪梯度，并把裁剪前的范数记成 grad_norm。"""

    def __init__(self, *args, clip_norm=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_norm = clip_norm
        self.grad_norm_tracker = keras.metrics.Mean(name="grad_norm")

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        grads = tape.gradient(loss, self.trainable_variables)
        norm = tf.sqrt(tf.add_n([tf.reduce_sum(g * g) for g in grads]))
        scale = self.clip_norm / tf.maximum(norm, self.clip_norm)
        self.optimizer.apply([g * scale for g in grads], self.trainable_variables)
        self.grad_norm_tracker.update_state(norm)
        for m in self.metrics:
            if m.name == "loss":
                m.update_state(loss)
            elif m is not self.grad_norm_tracker:
                m.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}
''',
        ),
        (
            "write train_step yourself: the optimizer's global_clipnorm and the parent's "
            "train_step (right numbers, or by behaviour)",
            '''class ClippedModel(keras.Model):
    """train_step 按全局范数裁剪梯度，并把裁剪前的范数记成 grad_norm。"""

    def __init__(self, *args, clip_norm=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_norm = clip_norm
        self.grad_norm_tracker = keras.metrics.Mean(name="grad_norm")

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        grads = tape.gradient(loss, self.trainable_variables)
        _, norm = tf.clip_by_global_norm(grads, self.clip_norm)
        self.grad_norm_tracker.update_state(norm)
        self.optimizer.global_clipnorm = self.clip_norm
        return super().train_step(data)
''',
        ),
    ],
    "ch09_export": [
        (
            "tf.saved_model.load only: the export read back through keras.layers.TFSMLayer",
            '''def export_model(model, export_dir):
    """用 model.export 把 model 导出成 SavedModel。"""
    model.export(str(export_dir))


def predict_one(export_dir, image, features):
    """读回 export_dir 的 SavedModel，预测一张原始 uint8 图像，返回 (num_classes,) 概率。"""
    layer = keras.layers.TFSMLayer(str(export_dir), call_endpoint="serve")
    inputs = {
        "image": np.asarray(image, dtype="float32").reshape(1, 28, 28, 1) / 255.0,
        "features": np.asarray(features, dtype="float32").reshape(1, -1),
    }
    return np.asarray(layer(inputs))[0]
''',
        ),
        (
            "SavedModel only: a .keras copy saved beside the export and read with load_model",
            '''def export_model(model, export_dir):
    """用 model.export 把 model 导出成 SavedModel。"""
    model.export(str(export_dir))
    model.save(str(export_dir) + ".keras")


def predict_one(export_dir, image, features):
    """读回 export_dir 的 SavedModel，预测一张原始 uint8 图像，返回 (num_classes,) 概率。"""
    model = keras.models.load_model(str(export_dir) + ".keras")
    inputs = {
        "image": np.asarray(image, dtype="float32").reshape(1, 28, 28, 1) / 255.0,
        "features": np.asarray(features, dtype="float32").reshape(1, -1),
    }
    return np.asarray(model(inputs))[0]
''',
        ),
    ],
    "ch09_evaluate": [
        (
            "NumPy only: sklearn.metrics.confusion_matrix",
            '''from sklearn.metrics import confusion_matrix


def evaluate_classifier(y_true, probs, num_classes, n_bins=10):
    """只用 NumPy：accuracy、confusion、每类 precision / recall 和 ECE。"""
    y_true = np.asarray(y_true).astype(int).ravel()
    probs = np.asarray(probs, dtype="float64")
    predicted = probs.argmax(axis=1)
    confusion = confusion_matrix(y_true, predicted, labels=list(range(num_classes)))
    tp = np.diag(confusion).astype("float64")
    col, row = confusion.sum(axis=0), confusion.sum(axis=1)
    confidence = probs.max(axis=1)
    correct = (predicted == y_true).astype("float64")
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return {
        "accuracy": float(correct.mean()),
        "confusion": confusion,
        "precision": np.divide(tp, col, out=np.zeros(num_classes), where=col > 0),
        "recall": np.divide(tp, row, out=np.zeros(num_classes), where=row > 0),
        "ece": float(ece),
    }
''',
        ),
    ],
}
