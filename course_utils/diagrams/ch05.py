"""Chapter 05 diagrams: when fit() calls a callback, EarlyStopping's patience window, the shape
of a per-step warm-up (matplotlib).

Each ``plot_*`` function returns a closed ``Figure`` (like ``course_utils.plots``), so the
notebook shows it once as the cell's value. Plot text is English on purpose (see
notebooks/AUTHORING.md).
"""

from __future__ import annotations

import numpy as np

#: The hooks of the fit() diagram: (x, y, text); the train step itself is drawn in black.
FIT_HOOKS = [
    (0.2, 4.25, "on_train_begin(logs)"),
    (0.6, 3.45, "on_epoch_begin(epoch, logs)"),
    (1.0, 2.65, "on_train_batch_begin(batch)"),
    (1.0, 2.25, "   train_step: forward/update"),
    (1.0, 1.85, "on_train_batch_end(batch, logs)"),
    (5.1, 2.45, "on_test_begin / on_test_batch_*"),
    (5.1, 2.05, "on_test_end(logs)"),
    (0.6, 0.85, "on_epoch_end(epoch, logs)  <- val_* here"),
    (0.2, 0.15, "on_train_end(logs)"),
]


def draw_box(ax, x, y, w, h, title, color):
    """A rounded box with ``title`` in its top-left corner."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="#333"))
    ax.text(x + 0.1, y + h - 0.12, title, va="top", fontsize=9, family="monospace")


def plot_fit_hooks():
    """Nested boxes (fit, epoch, batch, validation) with the hook called at each moment in red."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    draw_box(ax, 0, 0, 9, 5.0, "model.fit(...)", "#f2f2f2")
    draw_box(ax, 0.4, 0.5, 8.2, 3.4, "for epoch in range(epochs):", "#dbe9f6")
    draw_box(ax, 0.8, 1.5, 3.8, 1.7, "for batch in train data:", "#e3f2d9")
    draw_box(ax, 4.9, 1.5, 3.4, 1.7, "validation (val data)", "#fbe5d6")
    for x, y, text in FIT_HOOKS:
        color = "black" if "train_step" in text else "tab:red"
        ax.text(x, y, text, fontsize=8.5, color=color, family="monospace")
    ax.set_xlim(-0.1, 9.1)
    ax.set_ylim(-0.1, 5.1)
    ax.axis("off")
    plt.close(fig)
    return fig


def plot_patience_window(history, best_epoch: int, patience: int, monitor: str = "val_loss"):
    """Train and validation loss of a ``History`` (or its ``.history`` dict), the best epoch
    (0-based, as ``EarlyStopping.best_epoch``) circled and the epochs after it shaded."""
    import matplotlib.pyplot as plt

    logs = getattr(history, "history", history)
    watched = logs[monitor]
    epochs = np.arange(1, len(watched) + 1)
    best = best_epoch + 1
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(epochs, logs["loss"], "o-", label="train loss")
    ax.plot(epochs, watched, "s--", label=monitor)
    ax.plot(best, watched[best - 1], "o", ms=12, mfc="none", mec="tab:green", mew=2)
    ax.axvspan(best, len(watched), color="gray", alpha=0.2, label="patience window")
    ax.set(
        xlabel="epoch",
        ylabel="loss",
        title=f"EarlyStopping(monitor='{monitor}', patience={patience})",
    )
    ax.legend()
    plt.close(fig)
    return fig


def plot_warmup_shape():
    """The shape exercise 5.5 asks for, drawn for one fixed case (lr 1e-3, 10 warm-up steps,
    6 batches per epoch, 3 epochs): a step plot over global steps, epoch boundaries dotted."""
    import matplotlib.pyplot as plt

    base_lr, warmup_steps, steps_per_epoch, epochs = 1e-3, 10, 6, 3
    steps = np.arange(steps_per_epoch * epochs)
    fig, ax = plt.subplots(figsize=(7, 2.8))
    ax.step(
        steps,
        base_lr * np.minimum(1.0, (steps + 1) / warmup_steps),
        where="post",
        label="learning rate used by step s",
    )
    for epoch in range(1, epochs):
        ax.axvline(epoch * steps_per_epoch, color="gray", ls=":", lw=1)
    for epoch in range(epochs):
        ax.text(epoch * steps_per_epoch + 0.2, 0.93 * base_lr, f"epoch {epoch + 1}", color="gray")
    ax.set(xlabel="global step s (does not restart at a new epoch)", ylabel="lr")
    ax.legend(loc="lower right")
    plt.close(fig)
    return fig
