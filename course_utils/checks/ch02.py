"""Checks for chapter 02 exercises (the Functional API).

Each check takes the student's answer and explicit arguments, compares plain data and raises
:class:`~course_utils.checks.CheckFailed` with a short Chinese message naming the likely mistake.
``toy_functional_model`` builds the small models the grade cells test answers on.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import fail, passed, to_numpy

__all__ = [
    "check_data_in_model_order",
    "check_difficulty_head",
    "check_layer_output_shapes",
    "check_ticket_losses",
    "check_ticket_model",
    "toy_data_for",
    "toy_functional_model",
]

TICKET_INPUTS = ("title", "text_body", "tags")
TICKET_OUTPUTS = ("priority", "department")


def _is_model(value) -> bool:
    import keras

    return isinstance(value, keras.Model)


def _require_model(value, what: str) -> None:
    if value is None:
        fail(f"{what} 是 None：函数是否忘了 return？")
    if not _is_model(value):
        fail(
            f"{what} 应是 keras.Model，实际是 {type(value).__name__}：记得用 keras.Model(inputs=..., outputs=...) 包装。"
        )


def _input_names(model) -> list[str]:
    return [t.name for t in model.inputs]


def _shape(tensor) -> tuple:
    return tuple(None if d is None else int(d) for d in tensor.shape)


def _as_list(outputs) -> list:
    if isinstance(outputs, dict):
        return list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        return list(outputs)
    return [outputs]


def _check_names(actual: list[str], expected: list[str], kind: str, hint: str) -> None:
    if actual == expected:
        return
    if sorted(actual) == sorted(expected):
        fail(f"{kind}的顺序不对：应依次是 {expected}，实际是 {actual}。{hint}")
    fail(f"{kind}的名字应依次是 {expected}，实际是 {actual}。{hint}")


def toy_functional_model(
    input_dims: dict, output_units: dict, hidden_units: int = 8, seed: int = 0
):
    """A small functional model for grading chapter 02 exercises.

    Inputs are named and ordered as ``input_dims`` (name -> width); they are concatenated and
    fed to a ReLU ``Dense`` layer named ``"features"``; each output is a linear ``Dense`` named
    as in ``output_units`` (name -> units). Weights are seeded, so the model is deterministic.
    """
    import keras
    from keras import layers

    def init(offset: int):
        return keras.initializers.GlorotUniform(seed=seed + offset)

    inputs = [keras.Input(shape=(int(d),), name=n) for n, d in input_dims.items()]
    x = layers.Concatenate(name="concat")(inputs) if len(inputs) > 1 else inputs[0]
    x = layers.Dense(hidden_units, activation="relu", name="features", kernel_initializer=init(0))(
        x
    )
    outputs = [
        layers.Dense(int(u), name=n, kernel_initializer=init(k + 1))(x)
        for k, (n, u) in enumerate(output_units.items())
    ]
    return keras.Model(inputs=inputs, outputs=outputs, name="toy")


def toy_data_for(model, num_samples: int = 4, seed: int = 0):
    """Random ``(inputs, targets)`` dicts for ``model``, keyed by its input and output names.

    The keys come in the *reverse* of the model's order, so an answer that relies on the
    order of a dict instead of the model's names fails. Used by the chapter 02 grade cells.
    """
    rng = np.random.default_rng(seed)
    inputs = {
        t.name: rng.integers(0, 2, (num_samples, *_shape(t)[1:])).astype("float32")
        for t in reversed(model.inputs)
    }
    targets = {
        name: rng.random((num_samples, *_shape(o)[1:])).astype("float32")
        for name, o in reversed(list(zip(model.output_names, model.outputs, strict=True)))
    }
    return inputs, targets


def _random_inputs(model, n: int, seed: int, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(scale * rng.normal(size=(n, *_shape(t)[1:]))).astype("float32") for t in model.inputs]


def _predict(model, xs) -> list[np.ndarray]:
    return [to_numpy(o, "模型输出") for o in _as_list(model(xs, training=False))]


def check_ticket_model(
    model,
    vocabulary_size: int,
    num_tags: int,
    num_departments: int,
    hidden_units: int | None = None,
    seed: int = 0,
) -> bool:
    """Exercise 2.1: a functional ticket model with the right names, shapes and activations."""
    _require_model(model, "build_ticket_model 的返回值")
    if not hasattr(model, "inputs") or not model.inputs:
        fail(
            "模型还没有输入：请用 keras.Input 定义输入，再用 keras.Model(inputs, outputs) 构建 Functional 模型。"
        )
    names = _input_names(model)
    _check_names(
        names,
        list(TICKET_INPUTS),
        "输入",
        "检查 keras.Input(name=...) 以及传给 keras.Model 的 inputs 列表顺序。",
    )
    widths = {"title": vocabulary_size, "text_body": vocabulary_size, "tags": num_tags}
    for t in model.inputs:
        want = (None, widths[t.name])
        if _shape(t) != want:
            fail(
                f"输入 '{t.name}' 的形状应为 {want}，实际是 {_shape(t)}：是否把 vocabulary_size 和 num_tags 弄混了？"
            )
    _check_names(
        list(model.output_names),
        list(TICKET_OUTPUTS),
        "输出",
        "给输出 Dense 层设置 name=...，并按 [priority, department] 的顺序传给 outputs。",
    )
    out_shapes = dict(zip(model.output_names, (_shape(o) for o in model.outputs), strict=True))
    if out_shapes["priority"] != (None, 1):
        fail(
            f"priority 的输出形状应为 (None, 1)，实际是 {out_shapes['priority']}：优先级是一个 0 到 1 的分数，只要 1 个单元。"
        )
    if out_shapes["department"] != (None, num_departments):
        fail(
            f"department 的输出形状应为 (None, {num_departments})，实际是 {out_shapes['department']}：单元数要等于部门数 num_departments。"
        )
    layer_names = [layer.name for layer in model.layers]
    if "features" not in layer_names:
        fail(
            "找不到名为 'features' 的中间层：请给 Dense 特征层设置 name='features'（练习 2.5 要用它）。"
        )
    features = model.get_layer("features")
    if hidden_units is not None and _shape(features.output) != (None, hidden_units):
        fail(
            f"'features' 层的输出应为 (None, {hidden_units})，实际是 {_shape(features.output)}：检查 hidden_units。"
        )

    xs = _random_inputs(model, n=16, seed=seed, scale=20.0)
    preds = dict(zip(model.output_names, _predict(model, xs), strict=True))
    p, d = preds["priority"], preds["department"]
    if not np.all(np.isfinite(p)) or not np.all(np.isfinite(d)):
        fail("模型输出中有 NaN 或 Inf。")
    if np.allclose(p, 1.0):
        fail("priority 恒等于 1：对单个单元用了 softmax，应改用 activation='sigmoid'。")
    if p.min() < 0.0 or p.max() > 1.0:
        fail("priority 的输出不在 0 到 1 之间：最后一层是否忘了 activation='sigmoid'？")
    if d.min() < 0.0 or not np.allclose(d.sum(axis=-1), 1.0, atol=1e-4):
        fail("department 每一行的概率之和不是 1：最后一层是否忘了 activation='softmax'？")
    return passed("工单模型的输入、输出、形状和激活函数都正确")


def _loss_value(loss, y_true, y_pred) -> float:
    import keras

    fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    if fn is None or not callable(fn):
        fail(
            f"{loss!r} 不是可用的损失函数：用字符串（如 'mean_squared_error'）或 keras.losses 里的对象。"
        )
    return float(np.mean(to_numpy(fn(y_true, y_pred), "损失值")))


def check_ticket_losses(losses, num_departments: int = 4, seed: int = 0) -> bool:
    """Exercise 2.3: per-output losses keyed by output name, matching the target formats."""
    import keras

    if losses is None:
        fail("ticket_losses() 返回了 None：函数是否忘了 return？")
    if not isinstance(losses, dict):
        fail(f"应返回一个 dict（键是输出层的名字），实际是 {type(losses).__name__}。")
    if sorted(losses) != sorted(TICKET_OUTPUTS):
        fail(f"字典的键应为 {list(TICKET_OUTPUTS)}（与输出层的名字一致），实际是 {list(losses)}。")

    rng = np.random.default_rng(seed)
    n = 8
    y_dep = np.eye(num_departments, dtype="float32")[rng.integers(0, num_departments, n)]
    logits = rng.normal(size=(n, num_departments)).astype("float32")
    p_dep = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    want = float(np.mean(keras.losses.categorical_crossentropy(y_dep, p_dep)))
    try:
        got = _loss_value(losses["department"], y_dep, p_dep)
    except Exception as exc:
        if "sparse" in str(losses["department"]).lower() or "rank" in str(exc).lower():
            fail(
                "department 的目标是 one-hot 向量，要用 'categorical_crossentropy'，而不是 'sparse_categorical_crossentropy'。"
            )
        fail(
            f"department 的损失函数无法计算 one-hot 目标：{type(exc).__name__}。应使用 'categorical_crossentropy'。"
        )
    if not np.isclose(got, want, rtol=1e-4, atol=1e-5):
        fail(
            "department 是多分类的 softmax 输出，目标是 one-hot：损失应为 'categorical_crossentropy'。"
        )

    y_pri = rng.random((n, 1)).astype("float32")
    p_pri = rng.random((n, 1)).astype("float32")
    try:
        got = _loss_value(losses["priority"], y_pri, p_pri)
    except Exception as exc:
        fail(f"priority 的损失函数无法计算 (n, 1) 的分数：{type(exc).__name__}。")
    if np.isclose(got, 0.0, atol=1e-7):
        fail(
            "priority 的损失恒为 0：只有 1 个单元时 categorical_crossentropy 学不到东西，改用 'mean_squared_error' 或 'binary_crossentropy'。"
        )
    candidates = (
        keras.losses.mean_squared_error,
        keras.losses.binary_crossentropy,
        keras.losses.mean_absolute_error,
    )
    if not any(np.isclose(got, float(np.mean(f(y_pri, p_pri))), rtol=1e-4) for f in candidates):
        fail(
            "priority 是 0 到 1 之间的分数：损失应为 'mean_squared_error'（或 'binary_crossentropy'）。"
        )
    return passed("两个输出的损失函数都与目标的格式相符")


def _same(a, b) -> bool:
    if a is b:
        return True
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a, b)


def _which(array, named: dict) -> str | None:
    """The name of the array in ``named`` that ``array`` is (or equals), if any."""
    for name, b in named.items():
        if array is b:
            return name
    for name, b in named.items():
        if _same(array, b):
            return name
    return None


def check_data_in_model_order(result, model, inputs: dict, targets: dict) -> bool:
    """Exercise 2.2: ``(x_list, y_list)`` ordered like ``model.inputs`` and ``model.output_names``."""
    if result is None:
        fail("函数返回了 None：是否忘了 return？")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("应返回两个列表组成的元组 (x_list, y_list)。")
    x_list, y_list = result
    if isinstance(x_list, dict) or isinstance(y_list, dict):
        fail("要返回列表 (list)，不是字典：按模型的顺序把数组放进列表。")
    in_names = _input_names(model)
    out_names = list(model.output_names)
    for kind, got, names, data, source in (
        ("x_list", x_list, in_names, inputs, "model.inputs"),
        ("y_list", y_list, out_names, targets, "model.output_names"),
    ):
        if not isinstance(got, (list, tuple)):
            fail(f"{kind} 应是 list，实际是 {type(got).__name__}。")
        if len(got) != len(names):
            fail(f"{kind} 应有 {len(names)} 项（与 {source} 一样多），实际有 {len(got)} 项。")
        for i, (item, name) in enumerate(zip(got, names, strict=True)):
            if name not in data:
                fail(f"数据字典里没有 '{name}'：检查模型的名字和字典的键。")
            if not _same(item, data[name]):
                actual = _which(item, data)
                seen = f"'{actual}' 的数据" if actual else "不认识的数组"
                fail(
                    f"{kind} 的第 {i} 项应是 '{name}' 的数据，实际是 {seen}：顺序要跟 {source} 一致，而不是字典里的顺序。"
                )
    return passed("列表的顺序与模型的输入、输出顺序一致")


def check_layer_output_shapes(result, model) -> bool:
    """Exercise 2.4: ``{layer name: output shape}`` for every layer in ``model.layers``."""
    if result is None:
        fail("函数返回了 None：是否忘了 return？")
    if not isinstance(result, dict):
        fail(f"应返回 dict（层名 -> 形状），实际是 {type(result).__name__}。")
    expected = {layer.name: _shape(layer.output) for layer in model.layers}
    missing = [n for n in expected if n not in result]
    extra = [n for n in result if n not in expected]
    if missing:
        fail(f"缺少这些层：{missing}。model.layers 也包含输入层 (InputLayer)。")
    if extra:
        fail(f"多出了不属于 model.layers 的键：{extra}：键要用 layer.name。")
    for name, want in expected.items():
        got = result[name]
        try:
            got = tuple(None if d is None else int(d) for d in got)
        except TypeError:
            fail(f"层 '{name}' 的形状应是 tuple，实际是 {type(result[name]).__name__}。")
        if got != want:
            hint = "要包含批次维 None。" if got == want[1:] else "用 layer.output.shape。"
            fail(f"层 '{name}' 的输出形状应为 {want}，实际是 {got}：{hint}")
    return passed("每一层的输出形状都正确")


def check_difficulty_head(new_model, base_model, num_levels: int = 3, seed: int = 0) -> bool:
    """Exercise 2.5: a new model with an extra ``difficulty`` output that shares the base weights."""
    _require_model(new_model, "add_difficulty_head 的返回值")
    if new_model is base_model:
        fail("应返回一个新的 keras.Model，而不是原来的模型。")
    base_outputs = list(base_model.output_names)
    if len(base_outputs) != len(base_model.outputs) or "difficulty" in base_outputs:
        fail("原模型被修改了：新的输出只应出现在新模型里。")
    if _input_names(new_model) != _input_names(base_model):
        fail(
            f"新模型的输入应与原模型相同 {_input_names(base_model)}，实际是 {_input_names(new_model)}：直接用 model.inputs。"
        )
    want = [*base_outputs, "difficulty"]
    got = list(new_model.output_names)
    if got != want:
        if "difficulty" not in got:
            fail(
                f"新模型的输出里没有 'difficulty'（实际是 {got}）：给新的 Dense 层设置 name='difficulty'。"
            )
        fail(f"新模型的输出应依次是 {want}，实际是 {got}：保留原来的输出，把 difficulty 放在最后。")
    shape = _shape(new_model.outputs[-1])
    if shape != (None, num_levels):
        fail(
            f"difficulty 的输出形状应为 (None, {num_levels})，实际是 {shape}：单元数应为 num_levels。"
        )

    new_ids = {id(v) for v in new_model.weights}
    if not all(id(v) in new_ids for v in base_model.weights):
        fail(
            "新模型没有复用原模型的层（权重不是同一批变量）：是否重新创建了层、要从头训练？请用 model.get_layer('features').output。"
        )
    extra = len(new_model.weights) - len(base_model.weights)
    if extra != 2:
        fail(
            f"新模型应只比原模型多 2 个权重（difficulty 层的 kernel 和 bias），实际多了 {extra} 个。"
        )
    kernel_in = int(new_model.get_layer("difficulty").weights[0].shape[0])
    if kernel_in != _shape(base_model.get_layer("features").output)[-1]:
        fail("difficulty 层应接在 'features' 层的输出上。")

    xs = _random_inputs(base_model, n=8, seed=seed)
    old = _predict(base_model, xs)
    new = _predict(new_model, xs)
    for name, a, b in zip(base_outputs, old, new, strict=False):
        if a.shape != b.shape or not np.allclose(a, b, atol=1e-5):
            fail(f"新模型的 '{name}' 输出与原模型不同：原来的输出应原样保留。")
    levels = new[-1]
    if levels.min() < 0.0 or not np.allclose(levels.sum(axis=-1), 1.0, atol=1e-4):
        fail("difficulty 每一行的概率之和不是 1：是否忘了 activation='softmax'？")
    return passed("新模型多了 difficulty 输出，并与原模型共享权重")
