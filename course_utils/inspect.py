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
