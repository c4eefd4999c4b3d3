"""Checks for chapter 02 exercises (the Functional API).

Each check takes the student's answer, compares plain data and raises
:class:`~course_utils.checks.CheckFailed` with a short Chinese message naming the likely mistake.
The checks of exercises 2.1 to 2.3 judge the fixed inputs of their grade cells against expected
values stored here (no function of this module computes an exercise's answer); those of 2.4 and
2.5 test properties of the student's model (its wiring, which weights are trainable, that its
output follows from its own weights). ``toy_functional_model`` and ``branching_model`` build the
small models the grade cells test answers on, ``toy_data_for`` random data for them, and
``layer_graph`` (from ``course_utils.inspect``, re-exported here) turns a model's wiring into
plain data.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks._core import fail, passed, to_numpy
from course_utils.inspect import layer_graph

__all__ = [
    "branching_model",
    "check_concat_head",
    "check_dense_residual_block",
    "check_losses_for_targets",
    "check_upstream_layers",
    "check_weighted_total_loss",
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


# --- 2.1 every layer upstream of a layer ---------------------------------------------------


def branching_model():
    """The model of exercise 2.1's grade cell: three inputs, and outputs that do not all
    depend on every input (``urgency`` reads only ``title``; ``topic`` does not read
    ``text_body``). Seeded weights; the check needs only its wiring."""
    import keras
    from keras import layers

    title = keras.Input(shape=(3,), name="title")
    tags = keras.Input(shape=(2,), name="tags")
    body = keras.Input(shape=(4,), name="text_body")
    title_code = layers.Dense(4, activation="relu", name="title_code")(title)
    tag_code = layers.Dense(4, activation="relu", name="tag_code")(tags)
    both = layers.Concatenate(name="both")([title_code, tag_code])
    urgency = layers.Dense(1, name="urgency")(title_code)
    topic = layers.Dense(3, name="topic")(both)
    route = layers.Dense(2, name="route")(layers.Concatenate(name="all")([both, body]))
    return keras.Model([title, tags, body], [urgency, topic, route], name="branching")


#: ``branching_model()``: for each layer the grade cell asks about, the layers upstream of it
#: and the layers feeding it directly (for the message when only those are found).
VISIBLE_UPSTREAM = {
    "urgency": {"title", "title_code"},
    "topic": {"title", "tags", "title_code", "tag_code", "both"},
    "route": {"title", "tags", "text_body", "title_code", "tag_code", "both", "all"},
    "tags": set(),
}
VISIBLE_PARENTS = {
    "urgency": {"title_code"},
    "topic": {"both"},
    "route": {"all"},
    "tags": set(),
}
VISIBLE_INPUTS = {"title", "tags", "text_body"}


def check_upstream_layers(found: dict) -> None:
    """Exercise 2.1, on ``branching_model()``: ``found`` maps each layer name of
    ``VISIBLE_UPSTREAM`` to what ``upstream_layers(model, name)`` returned."""
    if not isinstance(found, dict) or sorted(found) != sorted(VISIBLE_UPSTREAM):
        fail("这个检查只认识本格的可见数据 found：不要改动它。")
    for name, want in VISIBLE_UPSTREAM.items():
        got = found[name]
        if got is None:
            fail("upstream_layers 返回了 None：是否忘了 return？")
        if isinstance(got, (str, dict)) or not isinstance(got, (set, frozenset, list, tuple)):
            fail(f"upstream_layers 应返回层名的集合 (set)，实际是 {type(got).__name__}。")
        if not all(isinstance(n, str) for n in got):
            fail("集合里放层的名字 (layer.name)，不要放层对象或张量。")
        got = set(got)
        if got == want:
            continue
        where = f"upstream_layers(model, '{name}')"
        if name in got:
            fail(f"{where} 包含了 '{name}' 自己：只要它上游的层。")
        missing, extra = want - got, got - want
        if missing and missing <= VISIBLE_INPUTS and not extra:
            fail(f"{where} 缺少输入层 {sorted(missing)}：输入层 (InputLayer) 也算上游的层。")
        if got == VISIBLE_PARENTS[name]:
            fail(
                f"{where} 只找到了直接接在它前面的层 {sorted(got)}：还要沿着这些层的 "
                "layer.input 继续往回找，一直找到输入层。"
            )
        if extra:
            fail(
                f"{where} 多出了 {sorted(extra)}：它们并不为 '{name}' 提供数据。"
                "（用 keras.Model(model.inputs, ...) 建子模型时，没用到的输入层也会留在 "
                "layers 里，所以不能这样找。）"
            )
        fail(f"{where} 缺少 {sorted(missing)}：每一层的每个输入张量都要往回找。")
    passed("每一层的上游层都找对了")


# --- 2.2 the weighted total loss of a multi-output model -------------------------------------


#: The grade cell's visible case (``toy_functional_model({"title": 6, "tags": 3}, {"priority": 1,
#: "department": 3})`` with ``fill_weights(toy, 22)``, ``toy_data_for(toy, 6, 22)``, the MSE and
#: a from-logits cross-entropy, ``loss_weights={"department": 0.5}``): the weighted total, and
#: what the named mistakes give instead (computed once, offline).
VISIBLE_TOTAL_LOSS = {
    "good": 1.452808,
    "unweighted": 2.338993,
    "missing_weight_zero": 0.886185,
    "sum_over_batch": 8.71685,
}


def check_weighted_total_loss(total) -> None:
    """Exercise 2.2, on the grade cell's visible case (``VISIBLE_TOTAL_LOSS``)."""
    if total is None:
        fail("weighted_total_loss 返回了 None：是否忘了 return？")
    if isinstance(total, bool) or type(total) is not float:
        fail(f"应返回 Python float，实际是 {type(total).__name__}：用 float(...) 转换。")
    stored = VISIBLE_TOTAL_LOSS
    if np.isclose(total, stored["good"], rtol=1e-4, atol=1e-6):
        passed("加权总损失与 evaluate 报告的 loss 一致")
        return
    if np.isclose(total, stored["unweighted"], rtol=1e-4, atol=1e-6):
        fail("各输出的损失直接加起来了：还要乘以 loss_weights 里的权重。")
    if np.isclose(total, stored["missing_weight_zero"], rtol=1e-4, atol=1e-6):
        fail("没有出现在 loss_weights 里的输出被漏掉了：它们的权重是 1.0，不是 0。")
    if np.isclose(total, stored["sum_over_batch"], rtol=1e-4, atol=1e-6):
        fail("损失在批次上求了和：每个输出的损失要取整个批次的平均值。")
    fail(
        f"总损失应为 {stored['good']:.5f}，实际是 {total:.5f}：model(inputs) 按 "
        "model.output_names 的顺序返回预测，要按名字和 targets、losses 对上。"
    )


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


# --- 2.4 a frozen base and a new head on two (or more) concatenated layers ------------------


def check_concat_head(
    new_model,
    base_model,
    layer_names: list,
    output_name: str,
    num_classes: int,
    seed: int = 0,
) -> None:
    """Exercise 2.4: one softmax head on the concatenated outputs of ``layer_names`` (in that
    order), every base layer frozen and reused."""
    _require_model(new_model, "add_concat_head 的返回值")
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
    sources = head["calls"][0] if head["calls"] else []
    joined = graph.get(sources[0], {}) if len(sources) == 1 else {}
    if joined.get("class") != "Concatenate":
        fail(
            f"新输出头应接在把 {list(layer_names)} 的输出拼接 (concatenate) 起来的张量上，"
            f"实际接在 {sources} 上。"
        )
    got = joined["calls"][0] if joined["calls"] else []
    if sorted(got) == sorted(layer_names) and got != list(layer_names):
        fail(f"拼接的顺序应是 {list(layer_names)}，实际是 {got}：按 layer_names 的顺序拼接。")
    if got != list(layer_names):
        fail(
            f"拼接的应是 {list(layer_names)} 这些层的输出，实际是 {got}：用 model.get_layer(名字).output 取出每一层的输出。"
        )
    if head["activation"] != "softmax":
        fail(
            f"'{output_name}' 是多分类输出，要用 activation='softmax'，实际是 {head['activation']!r}。"
        )
    for name in layer_names:
        if new_model.get_layer(name) is not base_model.get_layer(name):
            fail(
                f"新模型里的 '{name}' 不是原模型的那一层：要复用原来的层，不要重新创建或 clone_model。"
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

    import keras

    xs = _random_inputs(base_model, n=8, seed=seed)
    parts = [
        to_numpy(
            keras.Model(base_model.inputs, base_model.get_layer(n).output)(xs, training=False)
        ).astype("float64")
        for n in layer_names
    ]
    h = np.concatenate(parts, axis=-1)
    kernel, bias = (np.asarray(w, dtype="float64") for w in head_layer.get_weights())
    logits = h @ kernel + bias
    want = np.exp(logits - logits.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    got = _predict(new_model, xs)[0]
    if got.shape != want.shape or not np.allclose(got, want, atol=1e-5):
        fail(f"'{output_name}' 的输出与 softmax(拼接后的特征 · kernel + bias) 不符。")
    passed(f"新输出头接在 {list(layer_names)} 拼接后的特征上，原模型的层全部冻结并被复用")


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
