"""Chapter 02: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; each must score 0
for that exercise while the other exercises keep full marks. Exercise 2.3 states no constraint
that source analysis judges ("look at the data, not the names" is judged by behaviour: the
hidden targets come under other names), so it has no entry.

``DELEGATIONS[answer grade_id]``: answers that hand the work to ``course_utils``. The issue's
leak was 2.3: ``course_utils.checks.ch02.expected_loss_for`` computed the loss for any target,
so delegating to it got full marks; it is gone, so that answer now raises. The others return
what ``course_utils.checks.ch02`` stores now, the expected values of the *visible* cases, and
must score 0 because the hidden cases differ.
"""

ANSWERS = {
    "ch02_upstream_layers": [
        (
            "forbid get_config: walks the inbound nodes of model.get_config() (right sets)",
            '''def upstream_layers(model, layer_name):
    """返回 layer_name 这一层的输出所依赖的所有层的名字（集合，不含它自己）。"""

    def sources(value):
        if isinstance(value, dict):
            history = value.get("config", {}).get("keras_history") if "config" in value else None
            if history is not None:
                return [history[0]]
            return [n for v in value.values() for n in sources(v)]
        if isinstance(value, (list, tuple)):
            return [n for v in value for n in sources(v)]
        return []

    parents = {
        entry["name"]: set(sources(entry.get("inbound_nodes", [])))
        for entry in model.get_config()["layers"]
    }
    found, todo = set(), [layer_name]
    while todo:
        for source in parents[todo.pop()]:
            if source not in found:
                found.add(source)
                todo.append(source)
    return found
''',
        ),
        (
            "forbid course_utils: reads the parents from course_utils.inspect.layer_graph",
            '''from course_utils.inspect import layer_graph


def upstream_layers(model, layer_name):
    """返回 layer_name 这一层的输出所依赖的所有层的名字（集合，不含它自己）。"""
    graph = layer_graph(model)
    found, todo = set(), [layer_name]
    while todo:
        for call in graph[todo.pop()]["calls"]:
            for source in call:
                if source not in found:
                    found.add(source)
                    todo.append(source)
    return found
''',
        ),
    ],
    "ch02_weighted_total_loss": [
        (
            "forbid compile/evaluate: lets Keras compute the total (right numbers)",
            '''def weighted_total_loss(model, inputs, targets, losses, loss_weights):
    """各输出的平均损失乘以 loss_weights 中的权重（缺省为 1.0）再相加，返回 Python float。"""
    names = list(model.output_names)
    batch = len(next(iter(inputs.values())))
    if len(names) == 1:  # Keras takes one loss (and no weight dict) for a single output
        model.compile(loss=losses[names[0]])
        y = targets[names[0]]
        scores = model.evaluate(inputs, y, batch_size=batch, verbose=0, return_dict=True)
        return float(loss_weights.get(names[0], 1.0) * scores["loss"])
    weights = {name: loss_weights.get(name, 1.0) for name in names}
    model.compile(loss=dict(losses), loss_weights=weights)
    scores = model.evaluate(inputs, targets, batch_size=batch, verbose=0, return_dict=True)
    return float(scores["loss"])
''',
        ),
    ],
    "ch02_concat_head": [
        (
            "forbid clone_model: calls keras.models.clone_model (result unused; head on the "
            "original layers, so the numbers are right)",
            '''def add_concat_head(model, layer_names, output_name, num_classes):
    """冻结 model 的所有层，把 layer_names 各层的输出按顺序拼接，接一个 softmax 新输出，返回新模型。"""
    backup = keras.models.clone_model(model)
    del backup
    for layer in model.layers:
        layer.trainable = False
    parts = [model.get_layer(name).output for name in layer_names]
    joined = keras.layers.Concatenate()(parts)
    head = keras.layers.Dense(num_classes, activation="softmax", name=output_name)(joined)
    return keras.Model(inputs=model.inputs, outputs=head)
''',
        ),
    ],
    "ch02_residual_block": [
        (
            "require Add: adds the two paths with `+` (Keras records the same Add operation, "
            "so the wiring and the numbers are right)",
            '''def residual_block(x, units):
    """relu(捷径 + Dense(Dense_relu(x)))；宽度不同时捷径先投影到 units 维。"""
    h = keras.layers.Dense(units, activation="relu")(x)
    h = keras.layers.Dense(units)(h)
    shortcut = x if x.shape[-1] == units else keras.layers.Dense(units)(x)
    return keras.layers.ReLU()(shortcut + h)
''',
        ),
    ],
}

DELEGATIONS = {
    # The leak: the reference rules of 2.3 were importable (now removed).
    "ch02_losses_for_targets": '''from course_utils.checks.ch02 import expected_loss_for


def losses_for_targets(targets):
    """按每个目标数组的 dtype 和取值，返回 {输出名: 损失名}。"""
    return {name: expected_loss_for(target) for name, target in targets.items()}
''',
    # The visible model's answers, stored for the visible check.
    "ch02_upstream_layers": '''from course_utils.checks.ch02 import VISIBLE_UPSTREAM


def upstream_layers(model, layer_name):
    """返回 layer_name 这一层的输出所依赖的所有层的名字（集合，不含它自己）。"""
    return set(VISIBLE_UPSTREAM.get(layer_name, set()))
''',
    # The visible case's total, stored for the visible check.
    "ch02_weighted_total_loss": '''from course_utils.checks import ch02


def weighted_total_loss(model, inputs, targets, losses, loss_weights):
    """各输出的平均损失乘以 loss_weights 中的权重（缺省为 1.0）再相加，返回 Python float。"""
    return float(ch02.VISIBLE_TOTAL_LOSS["good"])
''',
}
