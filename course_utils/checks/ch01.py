"""Checks for chapter 01 exercises (Sequential models, Softmax, trainable weights, per-class
accuracy).

Each check judges the visible case of its exercise (the fixed arguments the grade cell shows)
against expected values stored here, raises :class:`~course_utils.checks.CheckFailed` with a
short Chinese message naming the likely mistake, and prints one ✅ line when everything matches.
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
    "check_unfreeze_top",
    "check_per_class_accuracy",
]

# Exercise 1.1, visible case: build_mlp((28, 28), 10, 50060): the widest hidden layer whose
# model has at most 50060 parameters. Each hidden unit costs 784 + 1 + 10 = 795 parameters and
# the output bias 10 more, so 62 units (49300); 63 units (50095) would exceed the budget, yet
# counting without the hidden bias (794 per unit) or without any bias gives 63.
MLP_INPUT_SHAPE = (28, 28)
MLP_NUM_CLASSES = 10
MLP_BUDGET = 50060
MLP_HIDDEN_UNITS = 62
MLP_PARAMS = 49300  # 784*62 + 62 + 62*10 + 10
MLP_PARAMS_PER_UNIT = 795
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

# Exercise 1.4, visible case: unfreeze_top(model, 3) on Sequential([Input((6,)), Dense(8, relu),
# BatchNormalization(), Dense(5, relu), Dropout(0.2), Dense(3)]) whose last layer was frozen
# before the call. The top three layers with weights, BatchNormalization aside, are the three
# Dense layers (6*8+8 = 56, 8*5+5 = 45, 5*3+3 = 18 parameters); the BN layer (4*8 = 32) stays
# frozen, the Dropout layer (no weights) too.
UNFREEZE_K = 3
UNFREEZE_FLAGS = (True, False, True, False, True)
UNFREEZE_COUNTS = (119, 32)
UNFREEZE_TOTAL = 151
UNFREEZE_TENSORS = (6, 4)  # weight tensors (not scalars) on each side
UNFREEZE_LAST_K_LAYERS = (False, False, True, True, True)  # model.layers[-3:], Dropout counted
UNFREEZE_BN_COUNTED = (False, True, True, False, True)  # BatchNormalization taken as one of k

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
    """Exercise 1.1, ``build_mlp((28, 28), 10, 50060)``: ``Input → Flatten → Dense(62, relu) →
    Dense(10, softmax)`` (49300 parameters, the widest within the budget), named ``"mlp"``."""
    from course_utils.inspect import count_params

    _require_built_sequential(model, "build_mlp 返回的模型", MLP_INPUT_SHAPE)
    kinds = [type(layer).__name__ for layer in model.layers]
    if kinds != ["Flatten", "Dense", "Dense"]:
        fail(f"层的顺序或种类不对：应为 Flatten → Dense → Dense，实际是 {_layer_names(model)}")
    hidden, output = model.layers[1], model.layers[2]
    if _activation_name(hidden) != "relu":
        fail(
            f"隐藏层的激活函数应为 relu，实际是 {_activation_name(hidden)}："
            "是否忘了 activation='relu'？"
        )
    _check_softmax_dense(output, MLP_NUM_CLASSES)
    units, actual = int(hidden.units), count_params(model)
    if actual > MLP_BUDGET:
        fail(
            f"隐藏层 {units} 个单元时共有 {actual} 个参数，超过了预算 max_params = {MLP_BUDGET}。"
            "检查你的参数公式：两个 Dense 层都有 输入维度 × units 个 kernel 参数，再加 units 个 "
            "bias，两个 bias 都要算上；单元数要向下取整"
        )
    if units < MLP_HIDDEN_UNITS:
        fail(
            f"隐藏层 {units} 个单元（{actual} 个参数）还没有用满预算：再加 1 个单元，参数是 "
            f"{actual + MLP_PARAMS_PER_UNIT}，仍不超过 {MLP_BUDGET}。应取满足条件的最大单元数"
        )
    if actual != MLP_PARAMS:
        fail(f"参数总数应为 {MLP_PARAMS}，实际是 {actual}：对照 model.summary() 检查每一层")
    if model.name != MLP_NAME:
        fail(
            f"模型的名字应为 {MLP_NAME!r}，实际是 {model.name!r}：给 keras.Sequential 传 name=name"
        )
    passed(f"build_mlp 结构正确：{_layer_names(model)}，隐藏层 {units} 个单元，共 {actual} 个参数")


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


def check_unfreeze_top(model, result) -> None:
    """Exercise 1.4, the visible case: ``model`` is ``Sequential([Input((6,)), Dense(8, relu),
    BatchNormalization(), Dense(5, relu), Dropout(0.2), Dense(3)])`` with its last layer frozen
    beforehand, after ``unfreeze_top(model, 3)`` returned ``result``."""
    if result is None:
        fail("unfreeze_top 的返回值是 None：函数是否忘了 return？")
    if not model.trainable:
        fail(
            "不要冻结整个模型 (model.trainable = False)：那样每一层都不会被训练；逐层设置 layer.trainable"
        )
    flags = tuple(bool(layer.trainable) for layer in model.layers)
    kinds = [type(layer).__name__ for layer in model.layers]
    if len(flags) != len(UNFREEZE_FLAGS):
        fail(f"模型的层被改动了：不要增删层，只设置每一层的 trainable。现在的层：{kinds}")
    if flags[1]:
        fail(
            "BatchNormalization 层应保持冻结 (trainable=False)，也不计入 k 个层："
            "微调时让它继续使用已经积累的统计量"
        )
    if not flags[-1]:
        fail(
            "最后一层在调用之前被冻结过，但它属于顶部的 k 个层，应被设回 trainable = True："
            "结果只由规则决定，和调用前的状态无关"
        )
    if flags == UNFREEZE_LAST_K_LAYERS:
        fail(
            "解冻的是 model.layers[-k:]：Dropout 这样没有权重的层不计入 k，"
            "要从后往前数 k 个 layer.weights 不为空的层"
        )
    if flags != UNFREEZE_FLAGS:
        want = [k for k, f in zip(kinds, UNFREEZE_FLAGS) if f]
        got = [k for k, f in zip(kinds, flags) if f]
        fail(f"应解冻 (trainable=True) 的层是 {want}，其余都冻结；实际可训练的层是 {got}")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("应返回两个整数组成的元组：(可训练参数数, 不可训练参数数)")
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in result):
        fail(f"返回的两个数应为整数 (int)，实际类型是 {[type(n).__name__ for n in result]}")
    n_trainable, n_frozen = int(result[0]), int(result[1])
    if (n_trainable, n_frozen) == UNFREEZE_COUNTS:
        passed(
            f"解冻了顶部 {UNFREEZE_K} 个带权重的层：可训练 {n_trainable} 个参数，不可训练 {n_frozen} 个"
        )
        return
    if n_trainable == UNFREEZE_TOTAL:
        fail(
            f"可训练参数数 {n_trainable} 等于总参数数：是否用了 model.weights 而不是 "
            "model.trainable_weights？"
        )
    if (n_trainable, n_frozen) == UNFREEZE_TENSORS:
        fail("数的是权重张量的个数，不是参数个数：把每个权重的 np.prod(w.shape) 加起来")
    if (n_frozen, n_trainable) == UNFREEZE_COUNTS:
        fail("两个数的顺序反了：应返回 (可训练参数数, 不可训练参数数)")
    fail(
        f"参数个数不对：应为 (可训练, 不可训练) = {UNFREEZE_COUNTS}，实际是 {(n_trainable, n_frozen)}"
        "：在设置完所有层之后再统计 model.trainable_weights 和 model.non_trainable_weights"
    )
    raise AssertionError("unreachable")


def check_per_class_accuracy(result) -> None:
    """Exercise 1.5, the visible case: ``per_class_accuracy(model_15, x_15, y_15, 4)``, where
    the model predicts 0, 1, 2, 0, 1, 2 and ``y_15 = [0, 1, 2, 1, 1, 0]`` (class 3 absent)."""
    num_classes = PER_CLASS_NUM_CLASSES
    present = PER_CLASS_COUNTS > 0
    values = to_numpy(result, "per_class_accuracy 的返回值")
    if values.ndim == 0:
        fail("返回的是一个数：这是总准确率吗？应对每个类别各算一个准确率，返回一维数组")
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
            fail("每个类别都是同一个数（总准确率）：应对每个类别 c 只看 y == c 的样本")
        if np.allclose(values[present], PER_CLASS_BY_TOTAL[present], atol=1e-6):
            fail("分母应是该类别的样本数 (y == c).sum()，而不是全部样本数 len(y)")
        if np.allclose(values[present], PER_CLASS_PRECISION[present], atol=1e-6):
            fail(
                "算成了精确率 (precision)：应按真实类别 y == c 挑出样本，"
                "再看其中预测对了多少，而不是按预测类别分组"
            )
        wrong = [int(c) for c in np.flatnonzero(present) if not np.isclose(values[c], PER_CLASS[c])]
        fail(
            f"类别 {wrong} 的准确率不对：应为 model.predict(x) 取 argmax(axis=1) 后，"
            f"在 y == c 的 {[int(PER_CLASS_COUNTS[c]) for c in wrong]} 个样本里预测为 c 的比例"
        )
    if not np.all(np.isnan(values[~present])):
        missing = [int(c) for c in np.flatnonzero(~present)]
        fail(f"类别 {missing} 在 y 中没有出现，对应的元素应为 np.nan（不是 0：0 表示全错）")
    passed(f"{num_classes} 个类别的准确率全部正确")
