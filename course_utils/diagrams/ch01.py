"""Diagrams for chapter 01: what one ``fit()`` call does, and what ``validation_split`` holds out.

Like ``course_utils.plots``, each function returns the matplotlib ``Figure`` (closed, so the
notebook shows it once as the cell's value). Text is English on purpose (see AUTHORING.md).
"""

from __future__ import annotations

import numpy as np


def _box(ax, x: float, y: float, width: float, text: str, color: str) -> None:
    """A box of height 0.6 with its lower left corner at (x, y) and ``text`` in its middle."""
    from matplotlib.patches import Rectangle

    ax.add_patch(Rectangle((x, y), width, 0.6, facecolor=color, edgecolor="#333"))
    ax.text(x + width / 2, y + 0.3, text, ha="center", va="center", fontsize=8)


def draw_fit_batches(steps_per_epoch: int, batch_size: int, n_val: int, epochs: int):
    """Two epochs of ``fit()``: the batches (one weight update each) of every epoch, then the
    validation samples ``validation_split`` held out, evaluated at the end of each epoch.
    Used in chapter 01."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 2.8))
    names = ["batch 1", "batch 2", "batch 3", "...", f"batch {steps_per_epoch}"]
    for row, label in enumerate(["epoch 1", "epoch 2\n(reshuffled)"]):
        y = 1.0 - row
        ax.text(-0.2, y + 0.3, label, ha="right", va="center")
        for i, name in enumerate(names):
            _box(ax, i * 1.3, y, 1.2, name, "white" if name == "..." else "#9ecae1")
        _box(ax, 6.8, y, 2.2, f"validation\n{n_val} samples", "#d9d9d9")
    ax.text(0.0, 1.75, f"1 step = 1 batch of {batch_size} samples = 1 weight update", fontsize=9)
    ax.text(6.8, 1.75, "evaluated at each epoch end", fontsize=9)
    ax.set(xlim=(-1.6, 9.2), ylim=(-0.2, 2.1))
    ax.set_title(f"fit(): {epochs} epochs x {steps_per_epoch} steps")
    ax.axis("off")
    plt.close(fig)
    return fig


def draw_validation_tails(class_names, tails: dict, n_val: int):
    """Bar chart of the class counts among the last ``n_val`` samples (what
    ``validation_split`` holds out), one bar group per class and one bar per ordering of the
    data (``tails``: legend label -> counts per class); the dashed line is the balanced count.
    Used in chapter 01."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.2))
    ids = np.arange(len(class_names))
    width = 0.8 / max(len(tails), 1)
    for k, (label, counts) in enumerate(tails.items()):
        offset = (k - (len(tails) - 1) / 2) * width
        ax.bar(ids + offset, np.asarray(counts), width=width, label=label)
    ax.axhline(n_val / len(class_names), color="gray", ls="--", lw=1)
    ax.set_xticks(ids, list(class_names), rotation=30, ha="right")
    ax.set(ylabel="validation samples")
    ax.set_title(f"What validation_split holds out: the last {n_val} samples")
    ax.legend()
    plt.close(fig)
    return fig
