"""Checks for chapter 01 exercises (Sequential models, Softmax, trainable weights, per-class accuracy).

Each check judges the visible case of its exercise (the fixed arguments the grade cell shows)
against expected values stored here, raises :class:`~course_utils.checks.CheckFailed` with a
short Chinese message naming the likely mistake, and returns ``True`` when everything matches.
No function here builds an answer or computes one for other arguments: the hidden tests compute
their own references (``notebooks/AUTHORING.md``).
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import fail, passed, to_numpy

__all__ = [
    "check_mlp",
    "check_conv_classifier",
    "check_probability_model",
    "check_freeze_except_last",
    "check_per_class_accuracy",
]

# Exercise 1.1, visible case: build_mlp((28, 28), 64, 10).
MLP_INPUT_SHAPE = (28, 28)
MLP_HIDDEN_UNITS = 64
MLP_NUM_CLASSES = 10
MLP_PARAMS = 50890  # 28*28*64 + 64 + 64*10 + 10
MLP_NAME = "mlp"

# Exercise 1.2, visible case: build_conv_classifier(10).
CONV_INPUT_SHAPE = (64, 64, 3)
CONV_FEATURE_SHAPE = (5, 5, 64)
CONV_NUM_CLASSES = 10

# Exercise 1.3, visible case: Sequential([Input((5,)), Dense(4)]) with
# course_utils.inspect.fill_weights(model, seed=13, scale=1.0), on
# np.random.default_rng(13).normal(size=(6, 5)).astype("float32").
PROB_X_SEED = 13
PROB_LOGITS = np.array(
    [
        [-0.380235, -8.168552, 0.745852, 0.894660],
        [4.348338, -1.466769, 6.277177, 1.735427],
        [1.346986, -1.948823, 3.288456, 1.130793],
        [0.550160, 2.360680, 0.824170, 1.356663],
        [2.829775, -1.878929, 6.445078, 0.119181],
        [2.379937, -5.461835, 1.704044, 1.815188],
    ]
)
PROB_PROBS = np.array(
    [
        [0.130509, 0.000054, 0.402433, 0.467004],
        [0.125663, 0.000375, 0.864749, 0.009214],
        [0.113487, 0.004203, 0.790887, 0.091423],
        [0.093730, 0.573032, 0.123277, 0.209961],
        [0.026152, 0.000236, 0.971873, 0.001739],
        [0.481325, 0.000189, 0.244851, 0.273635],
    ]
)

# Exercise 1.4, visible case: Sequential([Input((6,)), Dense(8), BatchNormalization(), Dense(3)])
# with every layer but the last frozen.
FREEZE_COUNTS = (27, 88)  # trainable: Dense(3) 8*3+3; frozen: Dense(8) 6*8+8, BN 4*8
FREEZE_TOTAL = 115
FREEZE_TENSORS = (2, 6)  # weight tensors (not scalars) on each side

# Exercise 1.5, visible case: the model predicts 0, 1, 2, 0, 1, 2; y = [0, 1, 2, 1, 1, 0];
# num_classes = 4, so class 3 is absent from y.
PER_CLASS_NUM_CLASSES = 4
PER_CLASS_COUNTS = np.array([2, 3, 1, 0])  # samples of each true class
PER_CLASS = np.array([1 / 2, 2 / 3, 1.0, np.nan])
PER_CLASS_OVERALL = 4 / 6
PER_CLASS_BY_TOTAL = np.array([1 / 6, 2 / 6, 1 / 6, 0.0])  # hits / len(y)
PER_CLASS_PRECISION = np.array([1 / 2, 1.0, 1 / 2, np.nan])  # grouped by the predicted class


def _layer_names(model) -> str:
    """``Flatten → Dense → Dense``: the class names of a model's layers, in order."""
    return " → ".join(type(layer).__name__ for layer in model.layers) or "(没有层)"


def _activation_name(layer) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation))


def _require_built_sequential(model, what: str, input_shape: tuple) -> None:
    """Fail unless ``model`` is a built ``keras.Sequential`` taking ``(None, *input_shape)``."""
    import keras

    if model is None:
        fail(f"{what} 是 None：函数是否忘了 return？")
    if not isinstance(model, keras.Sequential):
        fail(f"{what} 应是 keras.Sequential 模型，实际是 {type(model).__name__}")
    if not model.built:
        fail(
            f"{what} 还没有构建 (unbuilt)：是否忘了把 keras.Input(shape={tuple(input_shape)}) "
            "放在第一层？"
        )
    expected = (None, *tuple(input_shape))
    actual = tuple(model.input_shape)
    if actual != expected:
        fail(f"{what} 的输入形状应为 {expected}，实际是 {actual}：检查 keras.Input 的 shape")


def _check_softmax_dense(layer, num_classes: int) -> None:
    """Fail unless ``layer`` is ``Dense(num_classes, activation="softmax")``."""
    if type(layer).__name__ != "Dense":
        fail(
            f"最后一层应为 Dense(num_classes, activation='softmax')，实际是 {type(layer).__name__}"
        )
    units = int(layer.units)
    if units != int(num_classes):
        fail(f"输出层的单元数 (units) 应等于类别数 {num_classes}，实际是 {units}")
    if _activation_name(layer) != "softmax":
        fail(
            f"输出层的激活函数应为 softmax，实际是 {_activation_name(layer)}："
            "是否忘了 activation='softmax'？"
        )


def check_mlp(model) -> None:
    """Exercise 1.1, ``build_mlp((28, 28), 64, 10)``: ``Input → Flatten → Dense(64, relu) →
    Dense(10, softmax)``, 50890 parameters, named ``"mlp"``."""
    from course_utils.inspect import count_params

    _require_built_sequential(model, "build_mlp 返回的模型", MLP_INPUT_SHAPE)
    kinds = [type(layer).__name__ for layer in model.layers]
    if kinds != ["Flatten", "Dense", "Dense"]:
        fail(f"层的顺序或种类不对：应为 Flatten → Dense → Dense，实际是 {_layer_names(model)}")
    hidden, output = model.layers[1], model.layers[2]
    if int(hidden.units) != MLP_HIDDEN_UNITS:
        fail(f"隐藏层的单元数 (units) 应为 {MLP_HIDDEN_UNITS}，实际是 {int(hidden.units)}")
    if _activation_name(hidden) != "relu":
        fail(
            f"隐藏层的激活函数应为 relu，实际是 {_activation_name(hidden)}："
            "是否忘了 activation='relu'？"
        )
    _check_softmax_dense(output, MLP_NUM_CLASSES)
    actual = count_params(model)
    if actual != MLP_PARAMS:
        fail(f"参数总数应为 {MLP_PARAMS}，实际是 {actual}：对照 model.summary() 检查每一层")
    if model.name != MLP_NAME:
        fail(
            f"模型的名字应为 {MLP_NAME!r}，实际是 {model.name!r}：给 keras.Sequential 传 name=name"
        )
    passed(f"build_mlp 结构正确：{_layer_names(model)}，共 {actual} 个参数")


def check_conv_classifier(model) -> None:
    """Exercise 1.2, ``build_conv_classifier(10)``: a Conv2D/MaxPooling2D stack to (5, 5, 64),
    then GlobalMaxPooling2D and Dense(10, softmax)."""
    _require_built_sequential(model, "build_conv_classifier 返回的模型", CONV_INPUT_SHAPE)
    layers = list(model.layers)
    if len(layers) < 3:
        fail(
            "层太少：应为若干 Conv2D / MaxPooling2D，再加 GlobalMaxPooling2D 和 Dense，"
            f"实际是 {_layer_names(model)}"
        )
    if type(layers[-1]).__name__ != "Dense":
        fail(
            f"最后一层应为 Dense(num_classes, activation='softmax')，实际是 {type(layers[-1]).__name__}"
        )
    if type(layers[-2]).__name__ != "GlobalMaxPooling2D":
        fail(
            "倒数第二层应为 GlobalMaxPooling2D（把特征图变成向量），"
            f"实际是 {type(layers[-2]).__name__}"
        )
    for layer in layers[:-2]:
        kind = type(layer).__name__
        if kind not in ("Conv2D", "MaxPooling2D"):
            fail(f"卷积部分只能使用 Conv2D 和 MaxPooling2D，却发现了 {kind} ({layer.name})")
    actual = tuple(layers[-3].output.shape)
    expected = (None, *CONV_FEATURE_SHAPE)
    if actual != expected:
        fail(
            f"全局池化前的特征图形状应为 {expected}，实际是 {actual}："
            "用 add() + summary() 逐层查看形状，再增减 Conv2D / MaxPooling2D 或改 filters"
        )
    _check_softmax_dense(layers[-1], CONV_NUM_CLASSES)
    passed(f"特征图 {expected} → 输出 {tuple(model.output_shape)}，结构正确")


def check_probability_model(prob_model, logits_model) -> None:
    """Exercise 1.3, the visible case: ``logits_model`` is ``Sequential([Input((5,)),
    Dense(4)])`` after ``fill_weights(logits_model, seed=13, scale=1.0)``; ``prob_model`` must
    share its weights and output the stored probabilities on the stored inputs."""
    import keras

    if prob_model is None:
        fail("make_probability_model 的返回值是 None：函数是否忘了 return？")
    if not isinstance(prob_model, keras.Model):
        fail(f"应返回一个 keras 模型，实际是 {type(prob_model).__name__}")
    if prob_model is logits_model:
        fail("返回的是传入的同一个模型：应新建 keras.Sequential([logits_model, layers.Softmax()])")
    if any(isinstance(layer, keras.layers.Softmax) for layer in logits_model.layers) or (
        logits_model.layers and _activation_name(logits_model.layers[-1]) == "softmax"
    ):
        fail("不要修改传入的 logits_model（例如对它 add()）：它应仍然输出 logits")
    logit_ids = {id(v) for v in logits_model.weights}
    prob_ids = {id(v) for v in prob_model.weights}
    if not logit_ids <= prob_ids:
        fail("概率模型应复用传入的 logits_model（共享同一组权重），不要新建 Dense 层")
    if prob_ids - logit_ids:
        fail("概率模型多出了 logits_model 以外的权重：只在后面接一个 Softmax 层，不要新建 Dense 层")
    x = np.random.default_rng(PROB_X_SEED).normal(size=(6, 5)).astype("float32")
    logits = to_numpy(logits_model(x), "logits_model(x)").astype("float64")
    if logits.shape != PROB_LOGITS.shape or not np.allclose(logits, PROB_LOGITS, atol=1e-4):
        fail(
            "logits_model 的输出和这一格设定的权重对不上：不要修改传入的 logits_model；"
            "请从这一格开头重新运行"
        )
    probs = to_numpy(prob_model(x), "prob_model(x)").astype("float64")
    if probs.shape != PROB_PROBS.shape:
        fail(f"输出形状应为 {PROB_PROBS.shape}，实际是 {probs.shape}")
    if not np.allclose(probs.sum(axis=-1), 1.0, atol=1e-4):
        fail("每一行的概率之和应为 1：是否忘了在最后加 layers.Softmax()？")
    if not np.allclose(probs, PROB_PROBS, atol=1e-5):
        fail("概率不等于 softmax(logits)：是否用了两次 softmax，或者 Softmax 的 axis 不是 -1？")
    passed("概率模型输出 softmax(logits)，并与 logits_model 共享权重")


def check_freeze_except_last(model, result) -> None:
    """Exercise 1.4, the visible case: ``model`` is ``Sequential([Input((6,)), Dense(8),
    BatchNormalization(), Dense(3)])`` after ``freeze_except_last(model)`` returned ``result``."""
    if result is None:
        fail("freeze_except_last 的返回值是 None：函数是否忘了 return？")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("应返回两个整数组成的元组：(可训练参数数, 不可训练参数数)")
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in result):
        fail(f"返回的两个数应为整数 (int)，实际类型是 {[type(n).__name__ for n in result]}")
    if not model.trainable:
        fail("不要冻结整个模型 (model.trainable = False)：那样最后一层也不会被训练")
    *body, last = model.layers
    still = [layer.name for layer in body if layer.trainable]
    if still:
        fail(f"除最后一层外都应设 layer.trainable = False，这些层仍可训练：{still}")
    if not last.trainable:
        fail("最后一层应保持可训练 (trainable=True)")
    n_trainable, n_frozen = int(result[0]), int(result[1])
    if (n_trainable, n_frozen) == FREEZE_COUNTS:
        passed(f"可训练 {n_trainable} 个参数，不可训练 {n_frozen} 个参数")
        return
    if n_trainable == FREEZE_TOTAL:
        fail(
            f"可训练参数数 {n_trainable} 等于总参数数：是否用了 model.weights 而不是 "
            "model.trainable_weights？"
        )
    if (n_trainable, n_frozen) == FREEZE_TENSORS:
        fail("数的是权重张量的个数，不是参数个数：把每个权重的 np.prod(w.shape) 加起来")
    if (n_frozen, n_trainable) == FREEZE_COUNTS:
        fail("两个数的顺序反了：应返回 (可训练参数数, 不可训练参数数)")
    fail(
        f"参数个数不对：应为 (可训练, 不可训练) = {FREEZE_COUNTS}，实际是 {(n_trainable, n_frozen)}"
    )
    raise AssertionError("unreachable")


def check_per_class_accuracy(result) -> None:
    """Exercise 1.5, the visible case: ``per_class_accuracy(model_15, x_15, y_15, 4)``, where
    the model predicts 0, 1, 2, 0, 1, 2 and ``y_15 = [0, 1, 2, 1, 1, 0]`` (class 3 absent)."""
    num_classes = PER_CLASS_NUM_CLASSES
    present = PER_CLASS_COUNTS > 0
    values = to_numpy(result, "per_class_accuracy 的返回值")
    if values.ndim == 0:
        fail("返回的是一个数：这是总精度吗？应对每个类别各算一个精度，返回一维数组")
    if values.ndim != 1:
        fail(f"应返回一维数组（每个类别一个数），实际形状是 {values.shape}")
    if len(values) != num_classes:
        if len(values) == int(present.sum()):
            fail(
                f"长度应为 num_classes = {num_classes}，实际是 {len(values)}："
                "y 里没有出现的类别也要占一个位置（填 np.nan）"
            )
        fail(f"长度应为 num_classes = {num_classes}，实际是 {len(values)}")
    if not isinstance(result, np.ndarray):
        fail(
            f"应返回 NumPy 数组 (np.ndarray)，实际是 {type(result).__name__}：用 np.array(...) 转换"
        )
    if not np.issubdtype(values.dtype, np.floating):
        fail(f"元素应为浮点数 (float)，实际 dtype 是 {values.dtype}")
    values = values.astype("float64")
    if not np.allclose(values[present], PER_CLASS[present], atol=1e-6):
        if np.allclose(values[present], PER_CLASS_OVERALL, atol=1e-6):
            fail("每个类别都是同一个数（总精度）：应对每个类别 c 只看 y == c 的样本")
        if np.allclose(values[present], PER_CLASS_BY_TOTAL[present], atol=1e-6):
            fail("分母应是该类别的样本数 (y == c).sum()，而不是全部样本数 len(y)")
        if np.allclose(values[present], PER_CLASS_PRECISION[present], atol=1e-6):
            fail(
                "算成了精确率 (precision)：应按真实类别 y == c 挑出样本，"
                "再看其中预测对了多少，而不是按预测类别分组"
            )
        wrong = [int(c) for c in np.flatnonzero(present) if not np.isclose(values[c], PER_CLASS[c])]
        fail(
            f"类别 {wrong} 的精度不对：应为 model.predict(x) 取 argmax(axis=1) 后，"
            f"在 y == c 的 {[int(PER_CLASS_COUNTS[c]) for c in wrong]} 个样本里预测为 c 的比例"
        )
    if not np.all(np.isnan(values[~present])):
        missing = [int(c) for c in np.flatnonzero(~present)]
        fail(f"类别 {missing} 在 y 中没有出现，对应的元素应为 np.nan（不是 0：0 表示全错）")
    passed(f"{num_classes} 个类别的精度全部正确")
