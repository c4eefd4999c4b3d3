"""Chapter 01: answers that give the right numbers but break a constraint the task states.

``ANSWERS[answer grade_id]``: ``(what it violates, full answer-cell source)``; each must score 0
for that exercise while the other exercises keep full marks. Where the hidden block also checks
the constraint by behaviour (the model's layer classes, its weight count), the description says
so: such an answer fails twice over.

``DELEGATIONS[answer grade_id]``: answers that hand the work to ``course_utils``. No chapter 01
delegation ever returned an answer (the old ``checks.check_*`` computed their expected values
inside and returned ``True``); what ``course_utils.checks.ch01`` holds now are the stored
expected values of the *visible* cases, so these answers return them and must score 0 because
the hidden cases differ.
"""

ANSWERS = {
    "ch01_build_mlp": [
        (
            "require Input: model.build() instead of keras.Input (same built model)",
            '''def build_mlp(input_shape, num_classes, max_params, name="mlp"):
    """返回参数个数不超过 max_params 的最宽 MLP：Flatten → Dense(relu) → Dense(softmax)。"""
    units = (max_params - num_classes) // (int(np.prod(input_shape)) + 1 + num_classes)
    model = keras.Sequential(
        [
            keras.layers.Flatten(),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name=name,
    )
    model.build((None, *input_shape))
    return model
''',
        ),
        (
            "require Sequential: the same Sequential model deserialised from JSON",
            '''import json


def build_mlp(input_shape, num_classes, max_params, name="mlp"):
    """返回参数个数不超过 max_params 的最宽 MLP：Flatten → Dense(relu) → Dense(softmax)。"""
    units = (max_params - num_classes) // (int(np.prod(input_shape)) + 1 + num_classes)
    batch_shape = list(keras.Input(shape=input_shape).shape)
    layers = [
        {"class_name": "InputLayer", "config": {"batch_shape": batch_shape}},
        {"class_name": "Flatten", "config": {}},
        {"class_name": "Dense", "config": {"units": units, "activation": "relu"}},
        {"class_name": "Dense", "config": {"units": num_classes, "activation": "softmax"}},
    ]
    for layer in layers:
        layer["module"] = "keras.layers"
    spec = {"class_name": "Sequential", "module": "keras", "config": {"name": name, "layers": layers}}
    return keras.models.model_from_json(json.dumps(spec))
''',
        ),
    ],
    "ch01_conv_classifier": [
        (
            "only Conv2D and MaxPooling2D: AveragePooling2D pools to the same shapes "
            "(the layer-class probe fails it too)",
            '''def build_conv_classifier(num_classes):
    """返回把 64×64×3 图像变成 5×5×64 特征图、再做 softmax 分类的 Sequential 模型。"""
    model = keras.Sequential(name="conv_classifier")
    model.add(keras.Input(shape=(64, 64, 3)))
    model.add(keras.layers.Conv2D(16, 3, activation="relu"))
    model.add(keras.layers.AveragePooling2D(2))
    model.add(keras.layers.Conv2D(32, 3, activation="relu"))
    model.add(keras.layers.AveragePooling2D(2))
    model.add(keras.layers.Conv2D(32, 3, activation="relu"))
    model.add(keras.layers.Conv2D(64, 3, activation="relu"))
    model.add(keras.layers.AveragePooling2D(2))
    model.add(keras.layers.GlobalMaxPooling2D())
    model.add(keras.layers.Dense(num_classes, activation="softmax"))
    return model
''',
        ),
        (
            "only Conv2D and MaxPooling2D: a Resizing layer built in the answer, kept out of the "
            "model (only the source shows it)",
            '''def build_conv_classifier(num_classes):
    """返回把 64×64×3 图像变成 5×5×64 特征图、再做 softmax 分类的 Sequential 模型。"""
    shrink = keras.layers.Resizing(31, 31)  # tried first, then replaced by pooling
    del shrink
    model = keras.Sequential(name="conv_classifier")
    model.add(keras.Input(shape=(64, 64, 3)))
    model.add(keras.layers.Conv2D(16, 3, activation="relu"))
    model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Conv2D(32, 3, activation="relu"))
    model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.Conv2D(32, 3, activation="relu"))
    model.add(keras.layers.Conv2D(64, 3, activation="relu"))
    model.add(keras.layers.MaxPooling2D(2))
    model.add(keras.layers.GlobalMaxPooling2D())
    model.add(keras.layers.Dense(num_classes, activation="softmax"))
    return model
''',
        ),
    ],
    "ch01_probability_model": [
        (
            "no new Dense layer: an identity Dense between the logits and Softmax (same "
            "probabilities; the weight-count probe fails it too)",
            '''def make_probability_model(logits_model):
    """返回新模型：logits_model 之后接一个 Softmax 层，与 logits_model 共享权重。"""
    n = logits_model.output_shape[-1]
    identity = keras.layers.Dense(n, kernel_initializer="identity", trainable=False)
    return keras.Sequential([logits_model, identity, keras.layers.Softmax()])
''',
        ),
    ],
    "ch01_unfreeze_top": [
        (
            "do not freeze the whole model (stated as a property of the result, model.trainable "
            "stays True; judged by behaviour only: no source pattern tells model.trainable "
            "from layer.trainable)",
            '''def unfreeze_top(model, k):
    """只让顶部 k 个有权重的非 BatchNormalization 层可训练，返回 (可训练参数个数, 不可训练参数个数)。"""
    model.trainable = False
    candidates = [
        layer
        for layer in model.layers
        if layer.weights and not isinstance(layer, keras.layers.BatchNormalization)
    ]
    for layer in candidates[-k:]:
        layer.trainable = True
    n_trainable = sum(int(np.prod(w.shape)) for layer in candidates[-k:] for w in layer.weights)
    n_non_trainable = sum(int(np.prod(w.shape)) for w in model.weights) - n_trainable
    return n_trainable, n_non_trainable
''',
        ),
    ],
    "ch01_per_class_accuracy": [
        (
            "use model.predict: the predictions from model(x) instead (same numbers)",
            '''def per_class_accuracy(model, x, y, num_classes):
    """返回每个真实类别的准确率（一维 float 数组）；y 中没有出现的类别为 nan。"""
    y = np.asarray(y).reshape(-1)
    predicted = np.argmax(np.asarray(model(x)), axis=1)
    result = np.full(num_classes, np.nan)
    for c in range(num_classes):
        mask = y == c
        if mask.any():
            result[c] = np.mean(predicted[mask] == c)
    return result
''',
        ),
    ],
}

DELEGATIONS = {
    "ch01_unfreeze_top": '''from course_utils.checks.ch01 import UNFREEZE_COUNTS


def unfreeze_top(model, k):
    """只让顶部 k 个有权重的非 BatchNormalization 层可训练，返回 (可训练参数个数, 不可训练参数个数)。"""
    for layer in model.layers:
        layer.trainable = layer is model.layers[-1]
    return UNFREEZE_COUNTS
''',
    "ch01_per_class_accuracy": '''from course_utils.checks import ch01


def per_class_accuracy(model, x, y, num_classes):
    """返回每个真实类别的准确率（一维 float 数组）；y 中没有出现的类别为 nan。"""
    model.predict(x, verbose=0)
    return ch01.PER_CLASS.copy()
''',
}
