"""Figures the notebooks show: training curves, image grids, confusion matrices.

Every function returns the matplotlib ``Figure`` (so tests and students can save or tweak it)
and draws nothing until the notebook displays it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def _history_dict(history) -> dict[str, list[float]]:
    """Accept a Keras ``History`` or its ``.history`` dict."""
    data = getattr(history, "history", history)
    if not isinstance(data, Mapping) or not data:
        raise ValueError("plot_history needs a keras History or a non-empty dict of lists")
    return {str(k): [float(v) for v in vals] for k, vals in data.items()}


def _validation_epochs(n_train: int, n_val: int, validation_freq: int | None) -> np.ndarray:
    """The 1-based epochs that have a validation value: every epoch, or every k-th one after
    ``fit(validation_freq=k)`` (epochs k, 2k, ...)."""
    if validation_freq is None:
        if n_val == n_train:
            return np.arange(1, n_train + 1)
        fits = [k for k in range(1, n_train + 1) if n_train // k == n_val]
        if len(fits) != 1:
            raise ValueError(
                f"验证值只有 {n_val} 个、训练值有 {n_train} 个：请传入 fit 用的 "
                f"validation_freq=k (validation ran on fewer epochs; pass validation_freq=k)"
            )
        validation_freq = fits[0]
    return np.arange(validation_freq, n_train + 1, validation_freq)[:n_val]


def plot_history(
    history,
    metrics: Sequence[str] | None = None,
    title: str | None = None,
    validation_freq: int | None = None,
):
    """Plot training (solid) and validation (dashed) curves, one panel per metric.

    Args:
        history: what ``model.fit`` returns, or its ``history`` dict.
        metrics: names to plot (default: every metric without a ``val_`` prefix).
        validation_freq: the ``validation_freq=k`` given to ``fit``, when validation ran only
            every k-th epoch; worked out from the lengths when only one k fits.

    Used from chapter 01 on.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    data = _history_dict(history)
    names = list(metrics) if metrics else [k for k in data if not k.startswith("val_")]
    missing = [m for m in names if m not in data]
    if missing:
        raise KeyError(f"not in history: {missing}; available: {sorted(data)}")
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.5), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = np.arange(1, len(data[name]) + 1)
        ax.plot(epochs, data[name], "o-", label=f"train {name}")
        if f"val_{name}" in data:
            val = data[f"val_{name}"]
            val_epochs = _validation_epochs(len(epochs), len(val), validation_freq)
            ax.plot(val_epochs, val, "s--", label=f"val {name}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)  # the notebook shows the returned figure once
    return fig


def plot_images(
    images,
    labels=None,
    class_names: Sequence[str] | None = None,
    predictions=None,
    ncols: int = 8,
    max_images: int = 32,
):
    """Show a grid of images with their (true and predicted) class names.

    Args:
        images: ``(n, h, w)`` or ``(n, h, w, c)`` array.
        labels: integer labels (optional).
        class_names: names for the labels (e.g. ``course_utils.data.CLASS_NAMES``).
        predictions: predicted integer labels; wrong ones are titled in red.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)[:max_images]
    n = len(images)
    if n == 0:
        raise ValueError("plot_images needs at least one image")
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.4 * ncols, 1.6 * nrows), squeeze=False)

    def name(i):
        return class_names[int(i)] if class_names is not None else str(int(i))

    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = images[k]
        ax.imshow(img.squeeze(), cmap="gray" if img.ndim == 2 or img.shape[-1] == 1 else None)
        if labels is not None and predictions is not None:
            wrong = int(labels[k]) != int(predictions[k])
            ax.set_title(
                f"{name(predictions[k])}\n({name(labels[k])})",
                fontsize=7,
                color="red" if wrong else "black",
            )
        elif labels is not None:
            ax.set_title(name(labels[k]), fontsize=7)
    fig.tight_layout()
    plt.close(fig)
    return fig


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """Count matrix ``m[i, j]`` = examples of true class ``i`` predicted as ``j``."""
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = np.asarray(y_pred).astype(int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in length")
    k = num_classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    m = np.zeros((k, k), dtype=int)
    np.add.at(m, (y_true, y_pred), 1)
    return m


def plot_confusion_matrix(
    y_true, y_pred, class_names: Sequence[str] | None = None, normalize: bool = False
):
    """Draw the confusion matrix as a heat map with counts (or row fractions) in each cell."""
    import matplotlib.pyplot as plt

    k = len(class_names) if class_names is not None else None
    m = confusion_matrix(y_true, y_pred, k).astype(float)
    if normalize:
        m = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    k = m.shape[0]
    names = list(class_names) if class_names is not None else [str(i) for i in range(k)]
    fig, ax = plt.subplots(figsize=(0.6 * k + 2.5, 0.6 * k + 2))
    im = ax.imshow(m, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = m.max() / 2 if m.size else 0
    for i in range(k):
        for j in range(k):
            text = f"{m[i, j]:.2f}" if normalize else f"{int(m[i, j])}"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if m[i, j] > threshold else "black",
            )
    fig.tight_layout()
    plt.close(fig)
    return fig
