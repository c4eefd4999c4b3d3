"""Chapter 09 checks: a correct answer passes each milestone's check, typical mistakes get their
message, and forged answers fail every grade cell (the forgery harness, once for the chapter)."""

import forgery  # tests/forgery.py (tests/ is on sys.path via conftest)
import keras
import numpy as np
import pytest
import tensorflow as tf

from course_utils import checks, tblogs
from course_utils.checks import CheckFailed

# ---------------------------------------------------------------- reference answers


def make_dataset(images, features, labels, batch_size, shuffle=False, seed=None, mode="good"):
    ds = tf.data.Dataset.from_tensor_slices(
        ({"image": images, "features": np.asarray(features, "float32")}, labels)
    )
    if shuffle and mode == "good":
        ds = ds.shuffle(len(labels), seed=seed)

    def prepare(x, y):
        scale = 1.0 if mode == "unscaled" else 255.0
        return {
            "image": tf.cast(x["image"], tf.float32)[..., None] / scale,
            "features": x["features"],
        }, y

    ds = ds.map(prepare).batch(batch_size, drop_remainder=mode == "drop")
    if shuffle and mode == "after_batch":
        ds = ds.shuffle(10, seed=seed)
    if shuffle and mode == "short_batch_first":  # batch order 3, 1, 2: whole batches move
        ds = ds.skip(2).concatenate(ds.take(2))
    return ds.prefetch(2)


def dataset_fn(mode):
    return lambda *a, **k: make_dataset(*a, **k, mode=mode)


def fusion_cls(mode="good"):
    class GatedFusion(keras.layers.Layer):
        def build(self, input_shape):
            d = int(input_shape[0][-1])
            self.kernel = self.add_weight(shape=(2 * d, d), name="kernel")
            self.bias = self.add_weight(shape=(d,), initializer="zeros", name="bias")

        def call(self, inputs):
            a, b = inputs
            z = keras.ops.matmul(keras.ops.concatenate([a, b], axis=-1), self.kernel) + self.bias
            g = keras.ops.sigmoid(z)
            return (1 - g) * a + g * b if mode == "swapped" else g * a + (1 - g) * b

    return GatedFusion


GOOD_FUSION = fusion_cls()


def build_model_fn(layer_cls, swap_branches=False):
    def build(num_features, embed_dim=32, num_classes=10):
        image = keras.Input(shape=(28, 28, 1), name="image")
        feats = keras.Input(shape=(num_features,), name="features")
        x = keras.layers.MaxPooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(image))
        a = keras.layers.Dense(embed_dim, activation="relu")(keras.layers.Flatten()(x))
        b = keras.layers.Dense(embed_dim, activation="relu")(feats)
        h = layer_cls()([b, a] if swap_branches else [a, b])
        out = keras.layers.Dense(num_classes, activation="softmax")(h)
        return keras.Model({"image": image, "features": feats}, out)

    return build


def recall_cls(mode="good"):
    class MacroRecall(keras.metrics.Metric):
        def __init__(self, num_classes, name="macro_recall", **kwargs):
            super().__init__(name=name, **kwargs)
            self.k = num_classes
            self.cm = self.add_weight(shape=(num_classes, num_classes), initializer="zeros")
            self.total = self.add_weight(shape=(), initializer="zeros")
            self.batches = self.add_weight(shape=(), initializer="zeros")

        def _macro(self, cm):
            support = tf.reduce_sum(cm, axis=1)
            rec = tf.math.divide_no_nan(tf.linalg.diag_part(cm), support)
            present = tf.cast(support > 0, tf.float32)
            return tf.math.divide_no_nan(tf.reduce_sum(rec * present), tf.reduce_sum(present))

        def update_state(self, y_true, y_pred, sample_weight=None):
            labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
            pred = tf.cast(tf.argmax(y_pred, axis=-1), tf.int32)
            w = None
            if sample_weight is not None:
                w = tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
            cm = tf.math.confusion_matrix(labels, pred, self.k, weights=w, dtype=tf.float32)
            self.cm.assign_add(cm)
            self.total.assign_add(self._macro(cm))
            self.batches.assign_add(1.0)

        def result(self):
            if mode == "batch_mean":
                return tf.math.divide_no_nan(self.total, self.batches)
            return self._macro(self.cm)

        def reset_state(self):
            for v in (self.cm, self.total, self.batches):
                v.assign(tf.zeros_like(v))

    return MacroRecall


def make_callbacks_fn(monitor="val_accuracy", restore=True, best_only=True):
    def make_callbacks(checkpoint_path, log_dir, patience):
        mode = "max" if "accuracy" in monitor else "min"
        return [
            keras.callbacks.ModelCheckpoint(
                checkpoint_path, monitor=monitor, mode=mode, save_best_only=best_only
            ),
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode=mode, patience=patience, restore_best_weights=restore
            ),
            keras.callbacks.TensorBoard(log_dir=log_dir),
        ]

    return make_callbacks


def read_val_curve(log_dir, tag="epoch_accuracy"):
    return tblogs.read_scalars(log_dir)[f"validation/{tag}"]


def clipped_cls(mode="global"):
    class ClippedModel(keras.Model):
        def __init__(self, *args, clip_norm=1.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.clip_norm = clip_norm
            self.tracker = keras.metrics.Mean(name="grad_norm")

        def train_step(self, data):
            x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
            grads = tape.gradient(loss, self.trainable_variables)
            norm = tf.linalg.global_norm(grads)
            if mode == "each":
                grads = [tf.clip_by_norm(g, self.clip_norm) for g in grads]
            elif mode != "none":
                grads, _ = tf.clip_by_global_norm(grads, self.clip_norm)
            self.optimizer.apply(grads, self.trainable_variables)
            self.tracker.update_state(
                tf.linalg.global_norm(grads) if mode == "clipped_norm" else norm
            )
            for m in self.metrics:
                if m.name == "loss":
                    m.update_state(loss)
                elif m is not self.tracker:
                    m.update_state(y, y_pred, sample_weight=sw)
            return {m.name: m.result() for m in self.metrics}

    return ClippedModel


def export_model(model, export_dir):
    model.export(str(export_dir))


def predict_fn(scale=255.0):
    def predict_one(export_dir, image, features):
        reloaded = tf.saved_model.load(str(export_dir))
        x = {
            "image": np.asarray(image, "float32").reshape(1, 28, 28, 1) / scale,
            "features": np.asarray(features, "float32").reshape(1, -1),
        }
        return np.asarray(reloaded.serve(x))[0]

    return predict_one


def evaluate_fn(swap=False, fixed_bins=None):
    def evaluate_classifier(y_true, probs, num_classes, n_bins=10):
        n_bins = fixed_bins or n_bins
        y_true = np.asarray(y_true).astype(int).ravel()
        probs = np.asarray(probs, "float64")
        pred = probs.argmax(axis=1)
        cm = np.zeros((num_classes, num_classes), dtype=int)
        np.add.at(cm, (y_true, pred), 1)
        tp, col, row = np.diag(cm).astype(float), cm.sum(0), cm.sum(1)
        p = np.divide(tp, col, out=np.zeros(num_classes), where=col > 0)
        r = np.divide(tp, row, out=np.zeros(num_classes), where=row > 0)
        conf, right = probs.max(axis=1), (pred == y_true).astype(float)
        bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
        ece = sum(
            (bins == b).mean() * abs(right[bins == b].mean() - conf[bins == b].mean())
            for b in range(n_bins)
            if (bins == b).any()
        )
        if swap:
            p, r = r, p
        return {
            "accuracy": float(right.mean()),
            "confusion": cm,
            "precision": p,
            "recall": r,
            "ece": float(ece),
        }

    return evaluate_classifier


# ---------------------------------------------------------------- each check: pass and mistakes


def test_correct_answers_pass_every_check():
    """Does each milestone's check pass a correct answer with one ✅ line and no Out: value?"""
    forgery.passes(checks.check_capstone_dataset, dataset_fn("good"))
    layer = fusion_cls()
    forgery.passes(checks.check_capstone_model, build_model_fn(layer), layer)
    forgery.passes(checks.check_macro_recall, recall_cls())
    forgery.passes(checks.check_capstone_callbacks, make_callbacks_fn(), read_val_curve)
    forgery.passes(checks.check_clipped_train_step, clipped_cls())
    forgery.passes(checks.check_export_predict, export_model, predict_fn())
    forgery.passes(checks.check_evaluate_classifier, evaluate_fn())


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: checks.check_capstone_dataset(dataset_fn("drop")), "drop_remainder"),
        (lambda: checks.check_capstone_dataset(dataset_fn("unscaled")), "除以 255"),
        (lambda: checks.check_capstone_dataset(dataset_fn("after_batch")), "batch 之前"),
        # the short last batch moved to the front: judged by the batches, not by the flattened
        # order cut every batch_size samples (which hid this case)
        (lambda: checks.check_capstone_dataset(dataset_fn("short_batch_first")), "batch 之前"),
        (
            lambda: checks.check_capstone_model(
                build_model_fn(fusion_cls()), fusion_cls("swapped")
            ),
            "门控用反了",
        ),
        (
            lambda: checks.check_capstone_model(
                build_model_fn(GOOD_FUSION, swap_branches=True), GOOD_FUSION
            ),
            "第一个输入应来自图像分支",
        ),
        (lambda: checks.check_macro_recall(recall_cls("batch_mean")), "各自宏召回率的平均"),
        (
            lambda: checks.check_capstone_callbacks(
                make_callbacks_fn(restore=False), read_val_curve
            ),
            "restore_best_weights",
        ),
        (
            lambda: checks.check_capstone_callbacks(
                make_callbacks_fn(best_only=False), read_val_curve
            ),
            "save_best_only",
        ),
        (lambda: checks.check_clipped_train_step(clipped_cls("none")), "没有被裁剪"),
        (lambda: checks.check_clipped_train_step(clipped_cls("each")), "全局范数"),
        (lambda: checks.check_clipped_train_step(clipped_cls("clipped_norm")), "裁剪后的范数"),
        (lambda: checks.check_export_predict(export_model, predict_fn(1.0)), "没有缩放"),
        (lambda: checks.check_evaluate_classifier(evaluate_fn(swap=True)), "对调"),
        (lambda: checks.check_evaluate_classifier(evaluate_fn(fixed_bins=10)), "n_bins"),
    ],
)
def test_checks_name_each_mistake(call, message):
    """Are a dropped last batch, unscaled images, shuffling after batching, a swapped gate or
    branch, per-batch averaging, a missing restore or best-only save, missing or per-tensor
    clipping, the clipped norm logged, an unscaled export input, swapped precision/recall and a
    fixed bin count each named?"""
    with pytest.raises(CheckFailed, match=message):
        call()


# ---------------------------------------------------------------- forgeries

HARDCODED = {
    # Drops the last partial batch except for the visible batch size 3.
    "ch09_dataset_test": """
def make_dataset(images, features, labels, batch_size, shuffle=False, seed=None):
    ds = tf.data.Dataset.from_tensor_slices(
        ({"image": images, "features": np.asarray(features, "float32")}, labels)
    )
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed)
    ds = ds.map(lambda x, y: ({"image": tf.cast(x["image"], tf.float32)[..., None] / 255.0,
                               "features": x["features"]}, y))
    return ds.batch(batch_size, drop_remainder=batch_size != 3).prefetch(2)
""",
    # The visible model has 10 classes; this one always has 10.
    "ch09_model_test": """
@keras.saving.register_keras_serializable(package="ch09")
class GatedFusion(keras.layers.Layer):
    def build(self, input_shape):
        d = int(input_shape[0][-1])
        self.kernel = self.add_weight(shape=(2 * d, d), name="kernel")
        self.bias = self.add_weight(shape=(d,), initializer="zeros", name="bias")

    def call(self, inputs):
        a, b = inputs
        g = keras.ops.sigmoid(keras.ops.matmul(keras.ops.concatenate([a, b], -1), self.kernel) + self.bias)
        return g * a + (1 - g) * b


def build_capstone_model(num_features, embed_dim=32, num_classes=10):
    image = keras.Input(shape=(28, 28, 1), name="image")
    feats = keras.Input(shape=(num_features,), name="features")
    a = keras.layers.Dense(embed_dim, activation="relu")(keras.layers.Flatten()(image))
    b = keras.layers.Dense(embed_dim, activation="relu")(feats)
    out = keras.layers.Dense(10, activation="softmax")(GatedFusion()([a, b]))
    return keras.Model({"image": image, "features": feats}, out)
""",
    # Four classes, as in the visible case, whatever num_classes says.
    "ch09_macro_recall_test": """
class MacroRecall(keras.metrics.Metric):
    def __init__(self, num_classes, name="macro_recall", **kwargs):
        super().__init__(name=name, **kwargs)
        self.cm = self.add_weight(shape=(4, 4), initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        w = None if sample_weight is None else tf.reshape(tf.cast(sample_weight, tf.float32), [-1])
        self.cm.assign_add(tf.math.confusion_matrix(
            tf.cast(tf.reshape(y_true, [-1]), tf.int32), tf.cast(tf.argmax(y_pred, -1), tf.int32),
            4, weights=w, dtype=tf.float32))

    def result(self):
        s = tf.reduce_sum(self.cm, 1)
        r = tf.math.divide_no_nan(tf.linalg.diag_part(self.cm), s)
        p = tf.cast(s > 0, tf.float32)
        return tf.math.divide_no_nan(tf.reduce_sum(r * p), tf.reduce_sum(p))

    def reset_state(self):
        self.cm.assign(tf.zeros_like(self.cm))
""",
    # Patience 2, as in the visible case.
    "ch09_callbacks_test": """
from course_utils import tblogs


def make_callbacks(checkpoint_path, log_dir, patience):
    return [
        keras.callbacks.ModelCheckpoint(checkpoint_path, monitor="val_accuracy", mode="max", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=2, restore_best_weights=True),
        keras.callbacks.TensorBoard(log_dir=log_dir),
    ]


def read_val_curve(log_dir, tag="epoch_accuracy"):
    return tblogs.read_scalars(log_dir)[f"validation/{tag}"]
""",
    # The visible clip_norm 0.5, whatever the constructor gets.
    "ch09_clipped_step_test": """
class ClippedModel(keras.Model):
    def __init__(self, *args, clip_norm=1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_norm = 0.5
        self.grad_norm_tracker = keras.metrics.Mean(name="grad_norm")

    def train_step(self, data):
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw)
        grads, norm = tf.clip_by_global_norm(tape.gradient(loss, self.trainable_variables), self.clip_norm)
        self.optimizer.apply(grads, self.trainable_variables)
        self.grad_norm_tracker.update_state(norm)
        for m in self.metrics:
            if m.name == "loss":
                m.update_state(loss)
            elif m is not self.grad_norm_tracker:
                m.update_state(y, y_pred, sample_weight=sw)
        return {m.name: m.result() for m in self.metrics}
""",
    # Three features, as in the visible case.
    "ch09_export_test": """
def export_model(model, export_dir):
    model.export(str(export_dir))


def predict_one(export_dir, image, features):
    reloaded = tf.saved_model.load(str(export_dir))
    x = {"image": np.asarray(image, "float32").reshape(1, 28, 28, 1) / 255.0,
         "features": np.resize(np.asarray(features, "float32"), (1, 3))}
    return np.asarray(reloaded.serve(x))[0]
""",
    # Four bins, as in the visible case, whatever n_bins says.
    "ch09_evaluate_test": """
def evaluate_classifier(y_true, probs, num_classes, n_bins=10):
    n_bins = 4
    y_true = np.asarray(y_true).astype(int).ravel()
    probs = np.asarray(probs, dtype="float64")
    pred = probs.argmax(axis=1)
    cm = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(cm, (y_true, pred), 1)
    tp, col, row = np.diag(cm).astype(float), cm.sum(0), cm.sum(1)
    conf, right = probs.max(axis=1), (pred == y_true).astype(float)
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        if (bins == b).any():
            ece += (bins == b).mean() * abs(right[bins == b].mean() - conf[bins == b].mean())
    return {"accuracy": float(right.mean()), "confusion": cm,
            "precision": np.divide(tp, col, out=np.zeros(num_classes), where=col > 0),
            "recall": np.divide(tp, row, out=np.zeros(num_classes), where=row > 0), "ece": float(ece)}
""",
}


def test_forged_answers_fail_every_grade_cell(tmp_path):
    """Do always-equal objects, rebound checks and hard-coded answers fail every grade cell,
    while the real answers pass?"""
    forgery.assert_forgeries_fail("09_capstone", HARDCODED, tmp_path)
