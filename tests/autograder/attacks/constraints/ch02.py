"""Chapter 02: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; each must score 0
for that exercise while the other exercises keep full marks. Exercises 2.1 to 2.3 state no
constraint that source analysis judges (2.2's "do not rely on the dict's key order" and 2.3's
"look at the data, not the names" are judged by behaviour: the hidden data come in another order
and under other names), so they have no entry.

``DELEGATIONS[answer grade_id]``: answers that hand the work to ``course_utils``. The issue's
leak was 2.3: ``course_utils.checks.ch02.expected_loss_for`` computed the loss for any target,
so delegating to it got full marks; it is gone, so that answer now raises. The others return
what ``course_utils.checks.ch02`` stores now, the expected values of the *visible* cases, and
must score 0 because the hidden cases differ.
"""

ANSWERS = {
    "ch02_frozen_head": [
        (
            "forbid clone_model: calls keras.models.clone_model (result unused; head on the "
            "original layers, so the numbers are right)",
            '''def add_frozen_head(model, layer_name, output_name, num_classes):
    """冻结 model 的所有层，在 layer_name 的输出上接一个 softmax 新输出，返回只有这个输出的新模型。"""
    backup = keras.models.clone_model(model)
    del backup
    for layer in model.layers:
        layer.trainable = False
    features = model.get_layer(layer_name).output
    head = keras.layers.Dense(num_classes, activation="softmax", name=output_name)(features)
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
    # The visible model's shapes, stored for the visible check.
    "ch02_layer_output_shapes": '''from course_utils.checks.ch02 import VISIBLE_LAYER_SHAPES


def layer_output_shapes(model):
    """返回 {层名: 输出形状}，覆盖 model.layers 中的每一层。"""
    return dict(VISIBLE_LAYER_SHAPES)
''',
    # The visible model's order, stored for the visible check.
    "ch02_data_in_model_order": '''from course_utils.checks import ch02


def to_model_order(model, inputs, targets):
    """把以名字为键的数据字典排成与模型输入、输出顺序一致的两个列表。"""
    x_list = [inputs[n] for n in ch02.VISIBLE_INPUT_ORDER if n in inputs]
    y_list = [targets[n] for n in ch02.VISIBLE_OUTPUT_ORDER if n in targets]
    return x_list, y_list
''',
}
