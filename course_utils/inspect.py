"""Model inspection as plain data, for checks and for printing in notebooks."""

from __future__ import annotations


def layer_table(model) -> list[dict]:
    """One dict per layer: ``name``, ``class``, ``output_shape`` and ``params``.

    Unlike ``model.summary()`` it returns data, so checks can compare architectures.
    The model must be built.
    """
    rows = []
    for layer in model.layers:
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        rows.append(
            {
                "name": layer.name,
                "class": type(layer).__name__,
                "output_shape": shape,
                "params": int(layer.count_params()) if layer.built else 0,
            }
        )
    return rows


def count_params(model, trainable: bool | None = None) -> int:
    """Number of parameters: all (``None``), trainable (``True``) or non-trainable (``False``)."""
    import numpy as np

    if trainable is None:
        weights = model.weights
    elif trainable:
        weights = model.trainable_weights
    else:
        weights = model.non_trainable_weights
    return int(sum(np.prod(w.shape) for w in weights))


def _history_names(value) -> list[str]:
    """Names of the layers whose output tensors appear in one serialized call's arguments."""
    if isinstance(value, dict):
        history = value.get("config", {}).get("keras_history") if "config" in value else None
        if history is None:
            history = value.get("keras_history")
        if history is not None:
            return [str(history[0])]
        return [n for v in value.values() for n in _history_names(v)]
    if isinstance(value, (list, tuple)):
        return [n for v in value for n in _history_names(v)]
    return []


def layer_graph(model) -> dict[str, dict]:
    """A functional model's wiring as plain data, read from ``model.get_config()``.

    Returns ``{layer name: {"class", "activation", "units", "use_bias", "calls"}}`` in the
    config's (topological) order, where ``calls`` has one list per call of the layer naming the
    layers whose outputs it received (a shared layer has several calls; an input layer none).
    Operations such as ``keras.ops.add`` appear as the layers Keras stores them as (``Add``).
    Used by the chapter 02 checks (``checks.layer_graph``) and diagrams.
    """
    config = model.get_config()
    entries = config["layers"]
    chain = all("inbound_nodes" not in e for e in entries)  # a Sequential model's config
    graph = {}
    previous = None
    for entry in entries:
        cfg = entry.get("config", {}) or {}
        name = str(entry.get("name") or cfg["name"])
        activation = cfg.get("activation")
        if entry.get("class_name") == "ReLU":
            activation = "relu"
        if chain:
            calls = [[previous]] if previous else []
        else:
            calls = [_history_names(node) for node in entry.get("inbound_nodes", [])]
        graph[name] = {
            "class": str(entry.get("class_name")),
            "activation": activation if isinstance(activation, str) else None,
            "units": cfg.get("units"),
            "use_bias": cfg.get("use_bias"),
            "calls": calls,
        }
        previous = name
    return graph


def fill_weights(model, seed: int = 0, scale: float = 0.1) -> None:
    """Set every weight of ``model`` (in ``model.weights`` order) to grader-chosen values.

    Hidden tests call it before probing a student's model, so the numbers that decide a grade
    come from the test's seed, never from the student's initialisation. Each weight gets
    normal noise times ``scale`` from one NumPy generator seeded with ``seed``; non-trainable
    statistics named ``moving_variance`` get ``1 + |noise|`` so they stay positive.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(int(d) for d in weight.shape)
        values = rng.normal(scale=scale, size=shape)
        if "variance" in weight.name:
            values = 1.0 + np.abs(values)
        weight.assign(values.astype(weight.dtype if isinstance(weight.dtype, str) else "float32"))
