"""Checks for chapter 02 exercises (the Functional API).

Each check takes the student's answer, compares plain data and raises
:class:`~course_utils.checks.CheckFailed` with a short Chinese message naming the likely mistake.
The checks of exercises 2.1 to 2.3 judge the fixed inputs of their grade cells against expected
values stored here (no function of this module computes an exercise's answer); those of 2.4 and
2.5 test properties of the student's model (its wiring, which weights are trainable, that its
output follows from its own weights). ``toy_functional_model`` builds the small base models the
grade cells test answers on, ``toy_data_for`` random data for them, and ``layer_graph`` (from
``course_utils.inspect``, re-exported here) turns a model's wiring into plain data.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import fail, passed, to_numpy
from course_utils.inspect import layer_graph

__all__ = [
    "check_data_in_model_order",
    "check_dense_residual_block",
    "check_frozen_head",
    "check_layer_output_shapes",
    "check_losses_for_targets",
    "layer_graph",
    "toy_data_for",
    "toy_functional_model",
]


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


def _graph_or_fail(model) -> dict[str, dict]:
    try:
        return layer_graph(model)
    except Exception as exc:
        fail(
            f"读不出模型的连接 (get_config 失败：{type(exc).__name__})：只用 keras.layers 里的层搭建。"
        )
    raise AssertionError("unreachable")


def toy_functional_model(
    input_dims: dict,
    output_units: dict,
    hidden_units: int = 8,
    seed: int = 0,
    hidden_names: tuple[str, ...] = ("features",),
):
    """A small functional model for grading chapter 02 exercises.

    Inputs are named and ordered as ``input_dims`` (name -> width); they are concatenated (layer
    ``"concat"``) and fed through ReLU ``Dense`` layers named as in ``hidden_names`` (by default
    one, ``"features"``); each output is a linear ``Dense`` on the last of them, named as in
    ``output_units`` (name -> units). Weights are seeded, so the model is deterministic.
    """
    import keras
    from keras import layers

    def init(offset: int):
        return keras.initializers.GlorotUniform(seed=seed + offset)

    inputs = [keras.Input(shape=(int(d),), name=n) for n, d in input_dims.items()]
    x = layers.Concatenate(name="concat")(inputs) if len(inputs) > 1 else inputs[0]
    for k, name in enumerate(hidden_names):
        x = layers.Dense(hidden_units, activation="relu", name=name, kernel_initializer=init(k))(x)
    depth = len(hidden_names)
    outputs = [
        layers.Dense(int(u), name=n, kernel_initializer=init(depth + k))(x)
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


#: The grade cell's visible model, ``toy_functional_model({"a": 3, "b": 5}, {"out": 2})``: the
#: output shape of each of its layers.
VISIBLE_LAYER_SHAPES = {
    "a": (None, 3),
    "b": (None, 5),
    "concat": (None, 8),
    "features": (None, 8),
    "out": (None, 2),
}


def check_layer_output_shapes(result) -> None:
    """Exercise 2.1, on the grade cell's visible model (``VISIBLE_LAYER_SHAPES``)."""
    if result is None:
        fail("函数返回了 None：是否忘了 return？")
    if not isinstance(result, dict):
        fail(f"应返回 dict（层名 -> 形状），实际是 {type(result).__name__}。")
    expected = VISIBLE_LAYER_SHAPES
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
    passed("每一层的输出形状都正确")


#: The grade cell's visible model, ``toy_functional_model({"tags": 5, "title": 12, "text_body":
#: 12}, {"department": 3, "priority": 1})``: the order of its inputs and of its outputs.
VISIBLE_INPUT_ORDER = ["tags", "title", "text_body"]
VISIBLE_OUTPUT_ORDER = ["department", "priority"]


def check_data_in_model_order(result, inputs: dict, targets: dict) -> None:
    """Exercise 2.2, on the grade cell's visible model and data (``toy_data_for`` of it):
    ``(x_list, y_list)`` ordered like its ``model.inputs`` and ``model.output_names``."""
    if result is None:
        fail("函数返回了 None：是否忘了 return？")
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        fail("应返回两个列表组成的元组 (x_list, y_list)。")
    x_list, y_list = result
    if isinstance(x_list, dict) or isinstance(y_list, dict):
        fail("要返回列表 (list)，不是字典：按模型的顺序把数组放进列表。")
    if sorted(inputs) != sorted(VISIBLE_INPUT_ORDER) or sorted(targets) != sorted(
        VISIBLE_OUTPUT_ORDER
    ):
        fail("这个检查只认识本格的可见数据 toy_x、toy_y：不要改动它们。")
    for kind, got, names, data, source in (
        ("x_list", x_list, VISIBLE_INPUT_ORDER, inputs, "model.inputs"),
        ("y_list", y_list, VISIBLE_OUTPUT_ORDER, targets, "model.output_names"),
    ):
        if not isinstance(got, (list, tuple)):
            fail(f"{kind} 应是 list，实际是 {type(got).__name__}。")
        if len(got) != len(names):
            fail(f"{kind} 应有 {len(names)} 项（与 {source} 一样多），实际有 {len(got)} 项。")
        for i, (item, name) in enumerate(zip(got, names, strict=True)):
            if not _same(item, data[name]):
                actual = _which(item, data)
                seen = f"'{actual}' 的数据" if actual else "不认识的数组"
                fail(
                    f"{kind} 的第 {i} 项应是 '{name}' 的数据，实际是 {seen}：顺序要跟 {source} 一致，而不是字典里的顺序。"
                )
    passed("列表的顺序与模型的输入、输出顺序一致")


# --- 2.3 losses inferred from the targets ---------------------------------------------------

_WHY = {
    "sparse_categorical_crossentropy": "整数类别标签",
    "categorical_crossentropy": "one-hot 向量（每行恰好一个 1）",
    "binary_crossentropy": "只含 0 和 1、但不是 one-hot 的目标（二分类或多标签 multi-hot）",
    "mean_squared_error": "连续的数值",
}


#: The grade cell's visible targets (``rng = np.random.default_rng(0)``, then ``priority``,
#: ``department``, ``level``, ``labels``): dtype kind, shape, a fingerprint of the values
#: (sum of value x position) and the loss the exercise's rules give for it.
VISIBLE_TARGETS = {
    "priority": ("f", (16, 1), 69.613, "mean_squared_error"),
    "department": ("f", (16, 4), 511.0, "categorical_crossentropy"),
    "level": ("i", (16,), 222.0, "sparse_categorical_crossentropy"),
    "labels": ("f", (16, 5), 804.0, "binary_crossentropy"),
}


def _fingerprint(y: np.ndarray) -> float:
    y = np.asarray(y, dtype="float64")
    return float((y * np.arange(1, y.size + 1).reshape(y.shape)).sum())


def _is_visible(name: str, target) -> bool:
    kind, shape, stored, _ = VISIBLE_TARGETS[name]
    y = np.asarray(target)
    return (
        y.dtype.kind == kind
        and y.shape == shape
        and bool(np.isclose(_fingerprint(y), stored, rtol=0, atol=1e-2))
    )


def _predictions_for(y: np.ndarray, kind: str, rng) -> np.ndarray:
    """Plausible model outputs for target ``y`` under loss ``kind`` (probabilities in (0, 1))."""
    if kind == "sparse_categorical_crossentropy":
        k = max(int(y.max()) + 1, 2)
        logits = rng.normal(size=(len(y), k))
        return (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype("float32")
    if kind == "categorical_crossentropy":
        logits = rng.normal(size=y.shape)
        return (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype("float32")
    return rng.uniform(0.05, 0.95, size=y.shape).astype("float32")


def _loss_value(loss, y_true, y_pred) -> float:
    """Mean value of ``loss`` (a name, a function or a ``keras.losses.Loss``) on one batch."""
    import keras

    fn = keras.losses.get(loss) if isinstance(loss, str) else loss
    if fn is None or not callable(fn):
        raise TypeError(f"{loss!r} is not a loss")
    return float(np.mean(np.asarray(fn(y_true, y_pred), dtype="float64")))


def check_losses_for_targets(losses, targets: dict, seed: int = 0) -> None:
    """Exercise 2.3, on the grade cell's visible targets (``VISIBLE_TARGETS``): one loss per
    target, a name, an alias or a loss object that computes the loss the rules give."""
    if losses is None:
        fail("函数返回了 None：是否忘了 return？")
    if not isinstance(losses, dict):
        fail(f"应返回一个 dict（键是目标的名字），实际是 {type(losses).__name__}。")
    if sorted(map(str, losses)) != sorted(targets):
        fail(
            f"字典的键应与 targets 的键一致 {sorted(targets)}，实际是 {sorted(map(str, losses))}。"
        )
    if sorted(targets) != sorted(VISIBLE_TARGETS) or not all(
        _is_visible(n, t) for n, t in targets.items()
    ):
        fail("这个检查只认识本格的可见数据 visible_targets：不要改动它们。")
    rng = np.random.default_rng(seed)
    for name, target in targets.items():
        y = np.asarray(target)
        want = VISIBLE_TARGETS[name][3]
        p = _predictions_for(y, want, rng)
        why = f"'{name}' 的目标是{_WHY[want]}（dtype {y.dtype}，形状 {tuple(np.shape(target))}），应使用 '{want}'"
        try:
            got = _loss_value(losses[name], y, p)
        except Exception as exc:
            fail(f"{why}；你给的 {losses[name]!r} 在这个目标上算不出来 ({type(exc).__name__})。")
        if not np.isclose(got, _loss_value(want, y, p), rtol=1e-4, atol=1e-6):
            fail(f"{why}，你给的是 {losses[name]!r}。")
    passed("每个目标的损失都与它的格式相符")


# --- 2.4 a frozen base and a new head on a named layer ---------------------------------------


def check_frozen_head(
    new_model,
    base_model,
    layer_name: str,
    output_name: str,
    num_classes: int,
    seed: int = 0,
) -> None:
    """Exercise 2.4: one softmax head on ``layer_name``'s output, every base layer frozen."""
    _require_model(new_model, "add_frozen_head 的返回值")
    if new_model is base_model:
        fail("应返回一个新的 keras.Model，而不是原来的模型。")
    if _input_names(new_model) != _input_names(base_model):
        fail(
            f"新模型的输入应与原模型相同 {_input_names(base_model)}，实际是 {_input_names(new_model)}：直接用 model.inputs。"
        )
    names = list(new_model.output_names)
    if len(names) != 1:
        fail(f"新模型只要一个输出 '{output_name}'，实际有 {names}：不要把原来的输出也放进去。")
    if names[0] != output_name:
        fail(
            f"输出的名字应是 '{output_name}'，实际是 '{names[0]}'：给新的 Dense 层设置 name=output_name。"
        )
    if _shape(new_model.outputs[0]) != (None, num_classes):
        fail(
            f"输出形状应为 (None, {num_classes})，实际是 {_shape(new_model.outputs[0])}：单元数是 num_classes。"
        )

    graph = _graph_or_fail(new_model)
    head = graph.get(output_name, {})
    if head.get("class") != "Dense":
        fail(f"'{output_name}' 应是一个 Dense 层，实际是 {head.get('class')}。")
    if head["calls"] != [[layer_name]]:
        got = head["calls"][0] if head["calls"] else []
        fail(
            f"新输出头应接在 '{layer_name}' 层的输出上，实际接在 {got} 上：用 model.get_layer(layer_name).output。"
        )
    if head["activation"] != "softmax":
        fail(
            f"'{output_name}' 是多分类输出，要用 activation='softmax'，实际是 {head['activation']!r}。"
        )
    if new_model.get_layer(layer_name) is not base_model.get_layer(layer_name):
        fail(
            f"新模型里的 '{layer_name}' 不是原模型的那一层：要复用原来的层，不要重新创建或 clone_model。"
        )
    head_layer = new_model.get_layer(output_name)
    head_ids = {id(w) for w in head_layer.weights}
    base_ids = {id(w) for w in base_model.weights}
    foreign = [w.path for w in new_model.weights if id(w) not in head_ids | base_ids]
    if foreign:
        fail(f"新模型里有不属于原模型、也不属于新输出头的权重 {foreign}：原来的层要直接复用。")

    trainable = {id(w) for w in new_model.trainable_weights}
    if not head_ids or not head_ids <= trainable:
        fail("新输出头的权重不可训练：不要设置 new_model.trainable = False，那会连新的层一起冻结。")
    if trainable - head_ids:
        fail("原模型的层没有冻结：新模型的可训练权重应只有新输出头的 kernel 和 bias。")
    if base_model.trainable_weights:
        left = [w.path for w in base_model.trainable_weights]
        fail(f"原模型还有可训练的权重 {left}：要冻结 model 的每一层（layer.trainable = False）。")

    xs = _random_inputs(base_model, n=8, seed=seed)
    import keras

    feature_model = keras.Model(base_model.inputs, base_model.get_layer(layer_name).output)
    h = to_numpy(feature_model(xs, training=False)).astype("float64")
    kernel, bias = (np.asarray(w, dtype="float64") for w in head_layer.get_weights())
    logits = h @ kernel + bias
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    got = _predict(new_model, xs)[0]
    if got.shape != want.shape or not np.allclose(got, want, atol=1e-5):
        fail(f"'{output_name}' 的输出与 softmax('{layer_name}' 的输出 · kernel + bias) 不符。")
    passed(f"新输出头接在 '{layer_name}' 上，原模型的层全部冻结并被复用")


# --- 2.5 a residual block -------------------------------------------------------------------


def _through_activation(graph: dict, name: str) -> tuple[str, str | None]:
    """Follow a stand-alone ``Activation``/``ReLU`` layer back to the layer it wraps."""
    node = graph[name]
    if node["class"] in ("Activation", "ReLU") and len(node["calls"]) == 1:
        source = node["calls"][0]
        if len(source) == 1:
            return source[0], node["activation"]
    return name, None


def _dense_weights(model, name: str) -> tuple[np.ndarray, np.ndarray]:
    weights = [np.asarray(w, dtype="float64") for w in model.get_layer(name).get_weights()]
    bias = weights[1] if len(weights) > 1 else np.zeros(weights[0].shape[1])
    return weights[0], bias


def check_dense_residual_block(block_fn, width: int, units: int, seed: int = 0) -> None:
    """Exercise 2.5: Dense(relu) -> Dense -> Add(shortcut) -> ReLU, projecting only when needed."""
    import keras

    x = keras.Input(shape=(width,), name="block_input")
    try:
        y = block_fn(x, units)
    except Exception as exc:
        hint = (
            "宽度不同时 Add 的两个输入形状对不上：捷径 (shortcut) 要先经过一个没有激活函数的 Dense(units) 投影。"
            if width != units
            else "检查每一层的调用。"
        )
        fail(
            f"residual_block(x, {units}) 在宽度为 {width} 的输入上出错 ({type(exc).__name__})：{hint}"
        )
    if y is None:
        fail("residual_block 返回了 None：是否忘了 return？")
    if not isinstance(y, keras.KerasTensor):
        fail(
            f"residual_block 应返回符号张量 (KerasTensor)，实际是 {type(y).__name__}：不要在函数里建 keras.Model。"
        )
    if _shape(y) != (None, units):
        fail(f"输出形状应为 (None, {units})，实际是 {_shape(y)}：两个 Dense 的单元数都是 units。")
    model = keras.Model(x, y)
    graph = _graph_or_fail(model)
    adds = [n for n, node in graph.items() if node["class"] == "Add"]
    if len(adds) != 1:
        fail(f"应恰好有一个 Add 层把两条路径相加，实际有 {len(adds)} 个。")
    add = adds[0]
    sources = graph[add]["calls"][0]
    if len(sources) != 2:
        fail(f"Add 应把两个张量相加，实际有 {len(sources)} 个。")
    dense = [n for n, node in graph.items() if node["class"] == "Dense"]
    on_x = [n for n in dense if graph[n]["calls"] == [[x.name]]]
    resolved = {s: _through_activation(graph, s) for s in sources}
    main = [s for s in sources if resolved[s][0] in dense and resolved[s][0] not in on_x]
    if not main:
        fail(
            "Add 的一个输入应是主路径上第二个 Dense 的输出：x → Dense(units, relu) → Dense(units)。"
        )
    second = resolved[main[0]][0]
    others = [s for s in sources if s != main[0]]
    shortcut = others[0] if others else main[0]
    if graph[second]["activation"] not in (None, "linear") or resolved[main[0]][1]:
        fail("第二个 Dense 不要激活函数：ReLU 放在 Add 之后。")
    into_second = graph[second]["calls"][0] if graph[second]["calls"] else []
    d1, act1 = _through_activation(graph, into_second[0]) if len(into_second) == 1 else (None, None)
    if d1 not in on_x:
        fail(
            "主路径应是 x → Dense(units, relu) → Dense(units)：第二个 Dense 要接在第一个 Dense 上，第一个 Dense 接在 x 上。"
        )
    if graph[d1]["activation"] != "relu":
        if act1 == "relu":
            fail(
                "把 relu 写在第一个 Dense 里：Dense(units, activation='relu')，不要另加一个激活层。"
            )
        fail(
            "主路径的第一个 Dense 要用 activation='relu'：没有激活函数时两个 Dense 只相当于一个线性层。"
        )
    project, act_p = _through_activation(graph, shortcut)
    if width == units:
        if shortcut != x.name:
            if project in on_x and project != d1:
                fail("输入宽度已经等于 units 时，捷径直接用 x，不要再投影。")
            fail(
                f"Add 的另一个输入应是块的输入 x 本身（捷径 shortcut），实际是 '{shortcut}' 的输出。"
            )
        project = None
    else:
        if project not in on_x or project == d1:
            fail(
                f"Add 的另一个输入应是 x 的投影 Dense(units)（直接接在 x 上），实际是 '{shortcut}' 的输出。"
            )
        if graph[project]["activation"] not in (None, "linear") or act_p:
            fail("投影 (projection) 的 Dense 不要激活函数：它只负责把 x 变成 units 维。")
    want_dense = 2 if project is None else 3
    if len(dense) != want_dense:
        fail(f"应有 {want_dense} 个 Dense 层，实际有 {len(dense)} 个：不要多加层。")

    rng = np.random.default_rng(seed)
    xs = rng.normal(size=(6, width)).astype("float32")
    k1, b1 = _dense_weights(model, d1)
    k2, b2 = _dense_weights(model, second)
    skip = xs.astype("float64")
    if project is not None:
        kp, bp = _dense_weights(model, project)
        skip = skip @ kp + bp
    main_path = np.maximum(xs @ k1 + b1, 0.0) @ k2 + b2
    got = to_numpy(model(xs, training=False), "块的输出").astype("float64")
    if np.allclose(got, skip + main_path, atol=1e-5) and np.any(skip + main_path < 0):
        fail("相加之后还要经过 ReLU（Activation('relu') 或 layers.ReLU()）。")
    if not np.allclose(got, np.maximum(skip + main_path, 0.0), atol=1e-5):
        fail("块的输出不等于 relu(捷径 + Dense(relu(Dense(x))))：检查每一层接在哪个张量上。")
    stacked_input = keras.Input(shape=(width,), name="stacked_input")
    fresh = "每次调用 residual_block 都要创建新的层：不要在函数外面建好层再反复使用。"
    try:
        stacked = keras.Model(stacked_input, block_fn(block_fn(stacked_input, units), units))
    except Exception:
        fail(f"连续调用两次 residual_block 时出错。{fresh}")
    counts = [node["class"] for node in _graph_or_fail(stacked).values()]
    if counts.count("Add") != 2 or counts.count("Dense") != want_dense + 2:
        fail(f"连续搭两个块时，应有 2 个 Add 和 {want_dense + 2} 个 Dense 层。{fresh}")
    passed("残差块的主路径、捷径和激活函数都接对了")
