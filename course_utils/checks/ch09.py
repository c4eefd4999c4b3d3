"""Checks for chapter 09, the capstone project (one check per milestone).

Each check runs the student's code on FIXED inputs (fixed seeds, weights and data) and compares
plain numbers with values stored in this module (computed once from the reference answers,
together with what typical mistakes give on the same inputs, so the message can name the
mistake). The module computes no expected value: the hidden tests of the notebook judge other
inputs against their own reference.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile

import numpy as np

from course_utils.checks._core import all_close, fail, passed

__all__ = [
    "check_capstone_dataset",
    "check_capstone_model",
    "check_macro_recall",
    "check_capstone_callbacks",
    "check_clipped_train_step",
    "check_export_predict",
    "check_evaluate_classifier",
]

# Stored results of the reference answers (and of typical mistakes) on the inputs below.
_STORED: dict = {
    "9.1": {
        "feature_sums": [0.321152, -2.983667, -1.776611],
        "image_sums": [1185.1098, 1162.5726, 401.2],
        "sizes": [3, 3, 1],
    },
    "9.2": {
        "concat_ba": [
            [-1.5531682, -0.5359206, -0.7387345, 1.1234189],
            [0.3968917, 0.8593044, -1.0643474, -0.6805493],
        ],
        "fusion": [
            [-2.4208925, -0.9694664, -1.315249, -0.5042207],
            [0.2533582, 0.785114, -1.0907661, -0.6006629],
        ],
        "no_sigmoid": [
            [-10.2850475, -2.5353117, -3.548552, -0.8521072],
            [1.2160482, 1.2881233, -1.4639885, -1.5221275],
        ],
        "swapped": [
            [-0.2733588, -0.2503096, -0.4276043, 0.5692459],
            [-0.0267756, 0.1106581, -1.0644517, -0.2798641],
        ],
    },
    "9.3": {
        "batch1": 0.6111111,
        "batch1_absent_zero": 0.4583333,
        "batch1_precision": 0.5,
        "batch2_only": 0.7222222,
        "batch_mean": 0.6666667,
        "both": 0.5833333,
        "unweighted": 0.7222222,
        "weighted": 0.4920635,
    },
    "9.4": {
        "curve": [0.3, 0.5, 0.45, 0.6, 0.55, 0.58],
        "epochs_run": 6,
        "restored": 3.0,
        "saved": 3.0,
        "steps": [0, 1, 2, 3, 4, 5],
    },
    "9.5": {
        "after": [
            -0.4077479,
            -0.4992905,
            4.2282023,
            0.2358194,
            -1.0374088,
            2.8030655,
            1.72887,
            0.5129229,
            1.1259331,
            -2.1598439,
            0.0571443,
            -0.1653481,
            -5.4251876,
            2.1968389,
            1.0994663,
            0.4106723,
            1.9039454,
            -1.4487586,
            0.7355052,
            -1.2520882,
            1.8352333,
            -0.2760424,
            0.8554664,
            0.4694782,
            -3.4197059,
            -2.700078,
            -0.6871897,
            0.8521956,
            -0.719414,
        ],
        "grad_norm": 10.644733,
        "loss": 20.056454,
        "per_tensor": [
            -0.403893,
            -0.4997878,
            4.2342529,
            0.2224354,
            -1.0432739,
            2.7910511,
            1.7361536,
            0.5147775,
            1.1327659,
            -2.1681628,
            0.0509387,
            -0.1580512,
            -5.4222779,
            2.1752634,
            1.0914375,
            0.4039068,
            1.9014927,
            -1.4565016,
            0.7198741,
            -1.2873744,
            1.818508,
            -0.277045,
            0.8537411,
            0.4694224,
            -3.4181981,
            -2.6988635,
            -0.6856165,
            0.8875474,
            -0.6963801,
        ],
        "unclipped": [
            -0.3784824,
            -0.5030658,
            4.2741375,
            0.1342113,
            -1.0819359,
            2.7118542,
            1.7841647,
            0.5270032,
            1.1778065,
            -2.223,
            0.0100327,
            -0.1099522,
            -5.4030952,
            2.0330427,
            1.0385132,
            0.3593105,
            1.8853244,
            -1.5075412,
            0.6756499,
            -1.3872081,
            1.7711875,
            -0.5740211,
            0.3426757,
            0.4529001,
            -2.9715617,
            -2.339047,
            -0.219613,
            0.9848973,
            -0.6329509,
        ],
        "unweighted": [
            -0.4078094,
            -0.5060735,
            4.2272558,
            0.2375542,
            -1.0339919,
            2.8049018,
            1.7285218,
            0.5014092,
            1.1248865,
            -2.1582954,
            0.0516388,
            -0.1665409,
            -5.4252815,
            2.1950972,
            1.1007352,
            0.4115064,
            1.907216,
            -1.447571,
            0.7373288,
            -1.2616981,
            1.8365251,
            -0.2757714,
            0.8570037,
            0.4683691,
            -3.426719,
            -2.7009902,
            -0.6872082,
            0.8514977,
            -0.7214898,
        ],
    },
    "9.6": {
        "probs": [
            0.0001395,
            0.0003239,
            0.0035329,
            0.0001702,
            0.4381968,
            0.0014172,
            0.0012246,
            0.0005619,
            0.5541028,
            0.0003303,
        ],
        "unscaled": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    },
    "9.7": {
        "accuracy": 0.6666666666666666,
        "confusion": [[4, 1, 0], [0, 4, 0], [2, 1, 0]],
        "ece": 0.19031338085304705,
        "ece_10_bins": 0.26005750143673767,
        "precision": [0.6666667, 0.6666667, 0.0],
        "recall": [0.8, 1.0, 0.0],
    },
}


def _close(a, b, tol: float = 1e-4) -> bool:
    return all_close(a, b, atol=tol)


def _run(fn, what: str):
    """Run ``fn()``; name a missing answer instead of a bare traceback."""
    try:
        return fn()
    except NotImplementedError:
        fail(f"{what} 还没有实现（仍然是 raise NotImplementedError()）")
    raise AssertionError("unreachable")


# ---------------------------------------------------------------- 9.1 tf.data pipeline


def dataset_case():
    """Visible inputs of 9.1: 7 images (uint8), 3 features each, labels 0..6, batch size 3."""
    rng = np.random.default_rng(901)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    features = rng.normal(size=(7, 3)).astype("float32")
    labels = np.arange(7, dtype="int64")
    return images, features, labels


def _batches(dataset):
    """``[(image, features, labels)]`` as NumPy arrays, or fail naming the wrong element."""
    out = []
    for element in dataset:
        if not (isinstance(element, tuple) and len(element) == 2 and isinstance(element[0], dict)):
            fail(
                "数据集的每个元素应是二元组 ({'image': ..., 'features': ...}, labels)："
                "输入用字典，键名和模型的两个 Input 的 name 一致"
            )
        x, y = element
        if sorted(x) != ["features", "image"]:
            fail(f"输入字典的键应正好是 'image' 和 'features'，实际是 {sorted(x)}")
        out.append((np.asarray(x["image"]), np.asarray(x["features"]), np.asarray(y)))
    return out


def _dataset_summary(make_dataset_fn, shuffle: bool, seed=None) -> dict:
    """Plain numbers from one pipeline on the visible inputs (two passes over it)."""
    import tensorflow as tf

    images, features, labels = dataset_case()
    ds = _run(
        lambda: make_dataset_fn(images, features, labels, 3, shuffle=shuffle, seed=seed),
        "make_dataset",
    )
    if not isinstance(ds, tf.data.Dataset):
        fail(f"make_dataset 应返回 tf.data.Dataset，实际是 {type(ds).__name__}")
    first, second = _batches(ds), _batches(ds)
    return {
        "sizes": [int(len(b[2])) for b in first],
        "image_shape": list(first[0][0].shape),
        "image_dtype": str(first[0][0].dtype),
        "features_dtype": str(first[0][1].dtype),
        "labels": [int(v) for b in first for v in b[2]],
        "labels_again": [int(v) for b in second for v in b[2]],
        "batches": [[int(v) for v in b[2]] for b in first],
        "image_sums": [float(b[0].astype("float64").sum()) for b in first],
        "feature_sums": [float(b[1].astype("float64").sum()) for b in first],
    }


def check_capstone_dataset(make_dataset_fn) -> None:
    """Exercise 9.1: dict inputs scaled to [0, 1] with a channel axis, batched, shuffled with
    ``Dataset.shuffle`` before batching and again every epoch."""
    want = _STORED["9.1"]
    got = _dataset_summary(make_dataset_fn, shuffle=False)
    if got["sizes"] != want["sizes"]:
        if got["sizes"] == want["sizes"][:-1]:
            fail("最后一个不满的批次被丢掉了：batch(batch_size) 不要加 drop_remainder=True")
        fail(f"7 个样本、batch_size=3 应分成 {want['sizes']} 三批，实际是 {got['sizes']}")
    if got["image_shape"][1:] != [28, 28, 1]:
        fail(
            f"每批图像的形状应为 (批大小, 28, 28, 1)，实际是 {tuple(got['image_shape'])}："
            "在 map 里用 [..., None] 或 tf.expand_dims 加通道维"
        )
    if got["image_dtype"] != "float32" or got["features_dtype"] != "float32":
        fail(
            f"图像和特征都应是 float32，实际是 {got['image_dtype']} 和 {got['features_dtype']}："
            "先 tf.cast(..., tf.float32) 再除以 255"
        )
    if not _close(got["image_sums"], want["image_sums"], 1e-2):
        if _close(np.asarray(got["image_sums"]) / 255.0, want["image_sums"], 1e-2):
            fail("图像没有缩放到 [0, 1]：像素值要除以 255")
        fail("图像的数值不对：只做 float32 转换、除以 255 和加通道维，不要做别的变换")
    if not _close(got["feature_sums"], want["feature_sums"], 1e-4):
        fail("特征向量的数值被改动了：features 原样 (float32) 放进输入字典")
    if got["labels"] != list(range(7)) or got["labels_again"] != list(range(7)):
        fail("shuffle=False 时不应打乱：只有 shuffle=True 时才调用 Dataset.shuffle")
    got = _dataset_summary(make_dataset_fn, shuffle=True, seed=9)
    first, again = got["labels"], got["labels_again"]
    if sorted(first) != list(range(7)) or sorted(again) != list(range(7)):
        fail("打乱后每轮仍应正好包含每个样本一次：不要 repeat()，也不要丢样本")
    if first == list(range(7)) and again == list(range(7)):
        fail("shuffle=True 时顺序没有变：buffer_size 要不小于样本数 (len(labels))")
    # Each batch as it came out of the pipeline (not the flattened order cut every 3: a short
    # batch shuffled to the front would shift the cuts and hide a batch-level shuffle).
    if all(b == list(range(b[0], b[0] + len(b))) for b in got["batches"]):
        fail("只打乱了批次的顺序，批次内部没有打乱：shuffle 要放在 batch 之前")
    if first == again:
        fail(
            "两轮的顺序完全一样：Dataset.shuffle 保持 reshuffle_each_iteration=True（默认），"
            "不要在 make_dataset 外先用固定的排列打乱"
        )
    passed("数据管道正确：字典输入、缩放到 [0, 1]、先打乱再分批，每轮重新打乱")


# ---------------------------------------------------------------- 9.2 model + subclassed layer


def fusion_case():
    """Visible inputs of the GatedFusion layer: a and b of shape (2, 4), weights seed 92."""
    rng = np.random.default_rng(92)
    return rng.normal(size=(2, 4)).astype("float32"), rng.normal(size=(2, 4)).astype("float32")


def _fusion_output(layer_cls):
    import keras

    from course_utils.inspect import fill_weights

    a, b = fusion_case()
    layer = _run(lambda: layer_cls(), "GatedFusion")
    if not isinstance(layer, keras.layers.Layer):
        fail("GatedFusion 应继承 keras.layers.Layer")
    _run(lambda: layer([a, b]), "GatedFusion.call")
    shapes = [tuple(int(d) for d in w.shape) for w in layer.weights]
    if shapes != [(8, 4), (4,)]:
        fail(
            f"输入维度 d=4 时权重应依次是 kernel (8, 4) 和 bias (4,)，实际是 {shapes}："
            "在 build 里先 add_weight 建 kernel (2d, d)，再建 bias (d,)"
        )
    fill_weights(layer, 92, scale=0.5)
    return np.asarray(layer([a, b]))


def _ancestors(graph: dict, name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        node = todo.pop()
        for call in graph[node]["calls"]:
            for source in call:
                if source not in seen:
                    seen.add(source)
                    todo.append(source)
    return seen


def _model_summary(build_fn, layer_cls, num_features: int, embed_dim: int, num_classes: int):
    """The student's model described as data: inputs, output, the fusion layer's wiring."""
    import keras

    from course_utils.inspect import layer_graph

    model = _run(lambda: build_fn(num_features, embed_dim, num_classes), "build_capstone_model")
    if not isinstance(model, keras.Model):
        fail(f"build_capstone_model 应返回 keras.Model，实际是 {type(model).__name__}")
    inputs = getattr(model, "_inputs_struct", None)
    names = sorted(t.name.split(":")[0] for t in model.inputs)
    graph = layer_graph(model)
    fusions = [layer for layer in model.layers if isinstance(layer, layer_cls)]
    feeds = []
    for layer in fusions:
        calls = graph[layer.name]["calls"]
        feeds.append(
            [sorted({"image", "features"} & ({s} | _ancestors(graph, s))) for s in calls[0]]
            if calls
            else []
        )
    rng = np.random.default_rng(93)
    x = {
        "image": rng.random((3, 28, 28, 1)).astype("float32"),
        "features": rng.normal(size=(3, num_features)).astype("float32"),
    }
    probs = np.asarray(model(x, training=False))
    return {
        "dict_inputs": isinstance(inputs, dict),
        "input_names": names,
        "input_shapes": {
            t.name.split(":")[0]: [d if d is None else int(d) for d in t.shape]
            for t in model.inputs
        },
        "output_shape": list(probs.shape),
        "row_sums": probs.sum(axis=1).tolist(),
        "fusions": len(fusions),
        "feeds": feeds,
    }


def check_capstone_model(build_fn, layer_cls) -> None:
    """Exercise 9.2: ``GatedFusion`` computes ``g*a + (1-g)*b`` and the Functional model wires an
    image branch and a feature branch into one fusion layer."""
    want = _STORED["9.2"]
    got = _fusion_output(layer_cls)
    if not _close(got, want["fusion"]):
        if _close(got, want["swapped"]):
            fail("门控用反了：输出是 g * a + (1 - g) * b，g 乘第一个输入 a")
        if _close(got, want["no_sigmoid"]):
            fail("门 g 没有经过 sigmoid：g = sigmoid(concat([a, b]) @ kernel + bias)")
        if _close(got, want["concat_ba"]):
            fail("拼接顺序反了：concat([a, b], axis=-1)，a 在前")
        fail(
            "GatedFusion 的输出不对：g = sigmoid(concat([a, b]) @ kernel + bias)，输出 g*a + (1-g)*b"
        )
    info = _model_summary(build_fn, layer_cls, num_features=5, embed_dim=6, num_classes=10)
    if info["input_names"] != ["features", "image"]:
        fail(
            f"模型应有两个输入，名字是 'image' 和 'features'，实际是 {info['input_names']}："
            "keras.Input(..., name='image') / name='features'"
        )
    if not info["dict_inputs"]:
        fail("用字典传入两个输入：keras.Model(inputs={'image': ..., 'features': ...}, outputs=...)")
    shapes = info["input_shapes"]
    if shapes["image"] != [None, 28, 28, 1] or shapes["features"] != [None, 5]:
        fail(
            f"输入形状应为 image (None, 28, 28, 1)、features (None, num_features)，实际是 {shapes}"
        )
    if info["output_shape"] != [3, 10]:
        fail(f"3 个样本的输出形状应为 (3, num_classes) = (3, 10)，实际是 {info['output_shape']}")
    if not _close(info["row_sums"], [1.0, 1.0, 1.0], 1e-4):
        fail("输出每行应是概率（和为 1）：最后一层 Dense(num_classes, activation='softmax')")
    if info["fusions"] != 1:
        fail(f"模型里应正好有一个 GatedFusion 层，实际有 {info['fusions']} 个")
    if info["feeds"] != [[["image"], ["features"]]]:
        fail(
            "GatedFusion 的第一个输入应来自图像分支、第二个来自特征分支（两个分支都先变成 "
            "embed_dim 维的向量）；实际的来源是 " + str(info["feeds"])
        )
    passed("GatedFusion 的门控正确，函数式模型把两个分支接进了融合层")


# ---------------------------------------------------------------- 9.3 streaming metric


def recall_case():
    """Visible inputs of 9.3: 4 classes, two batches of 6 (class 3 never occurs), weights."""
    y1 = np.array([0, 0, 1, 2, 2, 2])
    p1 = np.eye(4)[[0, 1, 1, 2, 0, 3]] * 0.7 + 0.075
    y2 = np.array([[1], [1], [0], [2], [1], [0]])  # (n, 1) labels, as Keras passes them
    p2 = np.eye(4)[[1, 2, 0, 2, 1, 1]] * 0.7 + 0.075
    w2 = np.array([1.0, 2.0, 0.5, 1.0, 0.0, 3.0])
    return (y1, p1.astype("float32")), (y2, p2.astype("float32")), w2


def _recall_results(metric_cls) -> dict:
    import keras

    (y1, p1), (y2, p2), w2 = recall_case()
    metric = _run(lambda: metric_cls(num_classes=4), "MacroRecall")
    if not isinstance(metric, keras.metrics.Metric):
        fail("MacroRecall 应继承 keras.metrics.Metric")
    out = {}
    _run(lambda: metric.update_state(y1, p1), "update_state")
    out["batch1"] = float(np.asarray(metric.result()))
    metric.update_state(y2, p2)
    out["both"] = float(np.asarray(metric.result()))
    _run(lambda: metric.reset_state(), "reset_state")
    out["after_reset"] = float(np.asarray(metric.result()))
    metric.update_state(y2, p2, sample_weight=w2)
    out["weighted"] = float(np.asarray(metric.result()))
    out["name"] = metric.name
    return out


def check_macro_recall(metric_cls) -> None:
    """Exercise 9.3: macro recall over the classes seen so far, accumulated across batches,
    weighted, reset to 0."""
    want = _STORED["9.3"]
    got = _recall_results(metric_cls)
    if got["name"] != "macro_recall":
        fail(f"默认名字应为 'macro_recall'（history 里的键），实际是 {got['name']!r}")
    if not _close(got["batch1"], want["batch1"]):
        if _close(got["batch1"], want["batch1_absent_zero"]):
            fail("没出现过的类别也算进了平均（记为 0）：只对真实样本数 > 0 的类别取平均")
        if _close(got["batch1"], want["batch1_precision"]):
            fail("算成了精确率：召回率 = 对角线 / 混淆矩阵的行和（真实为该类的样本数）")
        fail(
            f"第一批之后应为 {want['batch1']:.4f}，实际是 {got['batch1']:.4f}："
            "用 argmax 得到预测类别，按 (真实, 预测) 累加混淆矩阵"
        )
    if not _close(got["both"], want["both"]):
        if _close(got["both"], want["batch_mean"]):
            fail(
                "两批之后的结果是两批各自宏召回率的平均：状态应是累加的混淆矩阵（计数），"
                "result() 再从总计数算召回率"
            )
        if _close(got["both"], want["batch2_only"]):
            fail("第二批覆盖了第一批：update_state 要 assign_add 累加，不能 assign")
        fail(
            f"两批之后应为 {want['both']:.4f}，实际是 {got['both']:.4f}："
            "y_true 可能是 (n, 1)，先 reshape 成一维"
        )
    if got["after_reset"] != 0.0:
        fail("reset_state() 之后 result() 应为 0：把混淆矩阵变量全部清零")
    if not _close(got["weighted"], want["weighted"]):
        if _close(got["weighted"], want["unweighted"]):
            fail("忽略了 sample_weight：每个样本按权重计数 (confusion_matrix 的 weights 参数)")
        fail(f"带样本权重时应为 {want['weighted']:.4f}，实际是 {got['weighted']:.4f}")
    passed("MacroRecall 跨批次累加、按权重计数、只对出现过的类别取平均，reset_state 清零")


# ---------------------------------------------------------------- 9.4 callbacks + log


#: The validation accuracy the visible check makes fit() report, epoch by epoch.
CALLBACK_VALUES = [0.30, 0.50, 0.45, 0.60, 0.55, 0.58, 0.59, 0.50, 0.40]


def drive_callbacks(make_callbacks_fn, read_curve_fn, values, patience: int, folder) -> dict:
    """Run a real ``fit()`` on a tiny model whose learning rate is 0 with the student's
    callbacks, after one that sets the last kernel to the epoch number at the start of each
    epoch and reports ``values[epoch]`` as ``val_accuracy``. Returns plain numbers."""
    import keras

    class _Script(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            kernel = self.model.layers[-1].kernel
            kernel.assign(np.full(kernel.shape, float(epoch), "float32"))

        def on_epoch_end(self, epoch, logs=None):
            logs["val_accuracy"] = float(values[epoch])

    folder = str(folder)
    checkpoint, log_dir = os.path.join(folder, "best.keras"), os.path.join(folder, "logs")
    callbacks = list(
        _run(lambda: make_callbacks_fn(checkpoint, log_dir, patience), "make_callbacks")
    )
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.0),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    rng = np.random.default_rng(94)
    x, y = rng.normal(size=(8, 2)).astype("float32"), rng.integers(0, 2, size=8)
    history = model.fit(
        x, y, validation_data=(x, y), epochs=len(values), verbose=0,
        callbacks=[_Script(), *callbacks],
    )  # fmt: skip
    saved = -1.0
    if os.path.exists(checkpoint):
        saved = float(np.asarray(keras.models.load_model(checkpoint).layers[-1].kernel)[0, 0])
    steps, curve = _run(lambda: read_curve_fn(log_dir), "read_val_curve")
    return {
        "epochs_run": len(history.history["loss"]),
        "restored": float(np.asarray(model.layers[-1].kernel)[0, 0]),
        "saved": saved,
        "steps": [int(s) for s in np.asarray(steps)],
        "curve": [float(v) for v in np.asarray(curve)],
    }


def check_capstone_callbacks(make_callbacks_fn, read_curve_fn) -> None:
    """Exercise 9.4: best-on-validation checkpoint, early stopping that restores the best
    weights, a TensorBoard log, and the validation curve read back from its event files."""
    want = _STORED["9.4"]
    with tempfile.TemporaryDirectory() as folder:
        got = drive_callbacks(make_callbacks_fn, read_curve_fn, CALLBACK_VALUES, 2, folder)
    if got["epochs_run"] != want["epochs_run"]:
        if got["epochs_run"] == len(CALLBACK_VALUES):
            fail(
                "训练没有提前停止：EarlyStopping(monitor='val_accuracy', mode='max', patience=patience)"
            )
        fail(
            f"val_accuracy 依次是 {CALLBACK_VALUES}、patience=2 时应在第 {want['epochs_run']} 轮后停止，"
            f"实际训练了 {got['epochs_run']} 轮：监控 val_accuracy（越大越好，mode='max'），patience 用参数"
        )
    if got["restored"] != want["restored"]:
        fail(
            f"训练结束后模型应恢复到验证准确率最好的第 {int(want['restored'])} 轮（从 0 数），实际是第 "
            f"{int(got['restored'])} 轮：EarlyStopping(..., restore_best_weights=True)"
        )
    if got["saved"] != want["saved"]:
        if got["saved"] < 0:
            fail("checkpoint_path 下没有文件：ModelCheckpoint(checkpoint_path, ...)")
        fail(
            f"检查点应是验证准确率最好的第 {int(want['saved'])} 轮，实际是第 {int(got['saved'])} 轮："
            "ModelCheckpoint(..., monitor='val_accuracy', mode='max', save_best_only=True)"
        )
    if not _close(got["curve"], want["curve"], 1e-6) or got["steps"] != want["steps"]:
        fail(
            "从事件文件读出的验证曲线不对：TensorBoard(log_dir=log_dir) 写日志，"
            "read_val_curve 读 tblogs.read_scalars(log_dir)['validation/epoch_accuracy']，"
            "返回 (steps, values)"
        )
    passed("回调正确：按验证准确率存最好的模型、提前停止并恢复最好的权重，曲线从事件文件读回")


# ---------------------------------------------------------------- 9.5 train_step with clipping


def clip_case(model_cls, clip_norm: float = 0.5, seed: int = 95):
    """Visible inputs of 9.5: dict inputs a (4,) and b (2,) -> Dense(3, tanh) -> Dense(2),
    weights 2 x N(0, 1), MSE, SGD(0.1), one batch of 6 weighted samples."""
    import keras

    from course_utils.inspect import fill_weights

    a, b = keras.Input(shape=(4,), name="a"), keras.Input(shape=(2,), name="b")
    h = keras.layers.Dense(3, activation="tanh")(keras.layers.Concatenate()([a, b]))
    model = _run(
        lambda: model_cls({"a": a, "b": b}, keras.layers.Dense(2)(h), clip_norm=clip_norm),
        "ClippedModel",
    )
    if not isinstance(model, keras.Model):
        fail("ClippedModel 应继承 keras.Model")
    fill_weights(model, seed, scale=2.0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    rng = np.random.default_rng(seed + 1)
    x = {
        "a": rng.normal(size=(6, 4)).astype("float32"),
        "b": rng.normal(size=(6, 2)).astype("float32"),
    }
    y = (2.0 * rng.normal(size=(6, 2))).astype("float32")
    w = rng.uniform(0.2, 3.0, size=6).astype("float32")
    return model, x, y, w


def _flat(weights) -> list[float]:
    return np.concatenate([np.asarray(w, dtype="float64").ravel() for w in weights]).tolist()


def check_clipped_train_step(model_cls) -> None:
    """Exercise 9.5: one ``fit()`` step clipped to the global norm, with sample weights, and the
    pre-clipping global norm logged as ``grad_norm``."""
    want = _STORED["9.5"]
    model, x, y, w = clip_case(model_cls)
    before = _flat(model.trainable_variables)
    history = _run(
        lambda: model.fit(x, y, sample_weight=w, batch_size=6, epochs=1, shuffle=False, verbose=0),
        "train_step",
    )
    after = _flat(model.trainable_variables)
    if _close(after, before, 1e-9):
        fail(
            "一步训练后权重没有变化：是否忘了 self.optimizer.apply(grads, self.trainable_variables)？"
        )
    if not _close(after, want["after"]):
        if _close(after, want["unclipped"]):
            fail("梯度没有被裁剪：用 tf.clip_by_global_norm(grads, self.clip_norm)")
        if _close(after, want["per_tensor"]):
            fail(
                "对每个张量分别裁剪了 (tf.clip_by_norm)：要按全部梯度的全局范数裁剪 (tf.clip_by_global_norm)"
            )
        if _close(after, want["unweighted"]):
            fail(
                "损失没有使用样本权重：用 keras.utils.unpack_x_y_sample_weight 拆出 sample_weight 传给 self.compute_loss"
            )
        fail(
            "更新后的权重与预期不同：检查损失（self.compute_loss）、裁剪阈值 self.clip_norm 和优化器调用"
        )
    logs = getattr(history, "history", {})
    if "grad_norm" not in logs:
        fail(
            f"history 里没有 'grad_norm'（实际键 {sorted(logs)}）：在 __init__ 里建 "
            "keras.metrics.Mean(name='grad_norm')，train_step 用它记录全局范数并返回"
        )
    norm = float(np.asarray(logs["grad_norm"][0]))
    if not _close(norm, want["grad_norm"]):
        if _close(norm, 0.5):
            fail(
                "grad_norm 记录的是裁剪后的范数：记录裁剪之前的全局范数（clip_by_global_norm 的第二个返回值）"
            )
        fail(f"grad_norm 应为裁剪前的全局范数 {want['grad_norm']:.4f}，实际是 {norm:.4f}")
    if not _close(float(np.asarray(logs.get("loss", [np.nan])[0])), want["loss"]):
        fail("history 里的 loss 不对：用 compute_loss 得到的损失更新名为 loss 的指标")
    passed("ClippedModel 按全局范数裁剪梯度、使用样本权重，并记录裁剪前的 grad_norm")


# ---------------------------------------------------------------- 9.6 export + reload


def export_case(seed: int = 96, num_features: int = 3):
    """Visible inputs of 9.6: a two-input model (weights from ``seed``), one uint8 image and its
    feature vector."""
    import keras

    from course_utils.inspect import fill_weights

    image = keras.Input(shape=(28, 28, 1), name="image")
    feats = keras.Input(shape=(num_features,), name="features")
    h = keras.layers.Add()(
        [keras.layers.Dense(10)(keras.layers.Flatten()(image)), keras.layers.Dense(10)(feats)]
    )
    model = keras.Model({"image": image, "features": feats}, keras.layers.Softmax()(h))
    fill_weights(model, seed, scale=0.2)
    rng = np.random.default_rng(seed + 1)
    one_image = rng.integers(0, 256, size=(28, 28), dtype=np.uint8)
    one_features = rng.normal(size=(num_features,)).astype("float32")
    return model, one_image, one_features


def check_export_predict(export_fn, predict_fn) -> None:
    """Exercise 9.6: ``model.export`` writes a SavedModel, and the reloaded artifact alone
    predicts one raw image."""
    want = _STORED["9.6"]
    model, image, features = export_case()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "exported")
        with contextlib.redirect_stdout(io.StringIO()):  # export() lists its endpoints
            _run(lambda: export_fn(model, path), "export_model")
        if not os.path.exists(os.path.join(path, "saved_model.pb")):
            fail(f"{path} 下没有 saved_model.pb：用 model.export(export_dir) 导出 SavedModel")
        model = None  # predict_one must work from the exported folder alone
        probs = np.asarray(
            _run(lambda: predict_fn(path, image.copy(), features.copy()), "predict_one")
        )
    if probs.shape != (10,):
        fail(f"predict_one 应返回一张图的概率，形状 (10,)，实际是 {probs.shape}：去掉批次维 ([0])")
    if not _close(probs, want["probs"], 1e-5):
        if _close(probs, want["unscaled"], 1e-5):
            fail("图像没有缩放：原始 uint8 像素要先转成 float32 再除以 255")
        fail(
            "预测的概率不对：图像变成 (1, 28, 28, 1)、特征变成 (1, num_features)，按名字放进字典交给 serve"
        )
    passed("导出的 SavedModel 读回后能单独预测一张新图像")


# ---------------------------------------------------------------- 9.7 evaluation


def evaluation_case():
    """Visible inputs of 9.7: 12 samples, 3 classes (class 2 never predicted), 4 bins."""
    rng = np.random.default_rng(108)
    labels = np.array([0, 1, 2, 0, 1, 2, 0, 0, 1, 1, 2, 0])
    logits = rng.normal(size=(12, 3)) * 1.5
    logits[np.arange(12), labels] += 1.5
    logits[:, 2] -= 4.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probs, 3, 4


def check_evaluate_classifier(evaluate_fn) -> None:
    """Exercise 9.7: accuracy, confusion matrix (rows = true), per-class precision and recall
    (0 where undefined), and ECE over ``n_bins`` equal-width bins."""
    want = _STORED["9.7"]
    labels, probs, k, n_bins = evaluation_case()
    got = _run(lambda: evaluate_fn(labels.copy(), probs.copy(), k, n_bins), "evaluate_classifier")
    if not isinstance(got, dict):
        fail(f"evaluate_classifier 应返回字典，实际是 {type(got).__name__}")
    keys = ["accuracy", "confusion", "ece", "precision", "recall"]
    if sorted(got) != keys:
        fail(f"返回的字典应正好有键 {keys}，实际是 {sorted(got)}")
    cm = np.asarray(got["confusion"])
    if cm.shape != (k, k) or not _close(cm, want["confusion"], 0):
        if cm.shape == (k, k) and _close(cm.T, want["confusion"], 0):
            fail("混淆矩阵转置了：第 i 行第 j 列是“真实为 i、预测为 j”的样本数")
        fail("混淆矩阵不对：形状 (num_classes, num_classes)，用每行 argmax 作为预测类别")
    if not _close(got["accuracy"], want["accuracy"], 1e-9):
        fail(f"accuracy 应为 {want['accuracy']:.4f}，实际是 {float(got['accuracy']):.4f}")
    p, r = np.asarray(got["precision"], "float64"), np.asarray(got["recall"], "float64")
    if not (np.all(np.isfinite(p)) and np.all(np.isfinite(r))):
        fail("精确率或召回率里有 NaN：分母为 0 时（某类从未被预测 / 从未出现）记为 0.0")
    if _close(p, want["recall"]) and _close(r, want["precision"]):
        fail("精确率和召回率对调了：精确率 = 对角线 / 列和，召回率 = 对角线 / 行和")
    if not (_close(p, want["precision"]) and _close(r, want["recall"])):
        fail("每类精确率或召回率不对：精确率 = 对角线 / 列和，召回率 = 对角线 / 行和")
    ece = got["ece"]
    if not isinstance(ece, float):
        fail(f"ece 应是 Python float，实际是 {type(ece).__name__}：用 float(...) 转换")
    if not _close(ece, want["ece"], 1e-9):
        if _close(ece, want["ece_10_bins"], 1e-9):
            fail("ECE 没有用参数 n_bins（用了固定的 10 个区间）")
        fail(
            f"ece 应为 {want['ece']:.5f}，实际是 {ece:.5f}：区间 (i/n_bins, (i+1)/n_bins] 左开右闭，"
            "按区间样本比例加权 |准确率 − 平均置信度|"
        )
    passed("evaluate_classifier 的准确率、混淆矩阵、每类精确率/召回率和 ECE 都正确")
