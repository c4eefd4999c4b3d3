"""Chapter 08 diagrams: the three ways to save, resuming from checkpoints, a frozen base under
a new head (matplotlib).

Each ``plot_*`` function returns the closed ``Figure`` (like ``course_utils.plots``), so the
notebook shows it once as the cell's value; ``draw_box`` draws one labelled box into an
``Axes``. Plot text is English on purpose (see notebooks/AUTHORING.md).
"""

from __future__ import annotations

#: (call, what the file holds, how it is read back, colour), one row per way to save.
SAVE_FORMATS = [
    (
        "model.save('m.keras')",
        "architecture + weights\n+ optimizer state + compile",
        "keras.models.load_model\n-> keep training",
        "#dbe9f6",
    ),
    (
        "model.save_weights(\n'm.weights.h5')",
        "weights only",
        "build the same model in code\n-> load_weights",
        "#fde9c9",
    ),
    (
        "model.export('dir')",
        "TF graph + weights\n(SavedModel)",
        "tf.saved_model.load / TFSMLayer\nTF Serving: inference only",
        "#e2f0d9",
    ),
]

#: The transfer-learning model of the chapter, input to output: (label, colour).
TRANSFER_PARTS = [
    ("Input 96x96x3", "#eeeeee"),
    ("MobileNetV2 base\nfrozen: trainable=False", "#cfd8e3"),
    ("GlobalAveragePooling2D", "#e2f0d9"),
    ("Dropout(0.2)", "#e2f0d9"),
    ("Dense(10, softmax)\nnew head", "#e2f0d9"),
]


def draw_box(ax, x, y, w, h, text, color="#dbe9f6", fontsize=8):
    """A rounded box at ``(x, y)`` of size ``w`` x ``h`` with ``text`` centred in it."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="#333"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end):
    ax.annotate("", end, start, arrowprops={"arrowstyle": "->"})


def plot_save_formats():
    """One row per way to save (:data:`SAVE_FORMATS`): the call, what it stores, how it is
    read back. Returns the closed ``Figure``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.2))
    for r, (call, content, use, color) in enumerate(SAVE_FORMATS):
        y = 2.1 - r * 1.0
        draw_box(ax, 0.0, y, 2.6, 0.75, call, color)
        draw_box(ax, 3.2, y, 2.6, 0.75, content, color)
        draw_box(ax, 6.4, y, 2.9, 0.75, use, color)
        _arrow(ax, (2.6, y + 0.37), (3.2, y + 0.37))
        _arrow(ax, (5.8, y + 0.37), (6.4, y + 0.37))
    ax.set(xlim=(-0.1, 9.4), ylim=(0, 3))
    ax.axis("off")
    plt.close(fig)
    return fig


def plot_resume_timeline(epochs: int = 4, crash_after: int = 2):
    """``epochs`` epochs, each saving ``epoch_NN.keras``; the run stops after ``crash_after``
    and a second ``fit(initial_epoch=crash_after)`` resumes. Returns the closed ``Figure``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 2.2))
    for e in range(1, epochs + 1):
        first = e <= crash_after
        label = "first fit()" if first else f"fit(initial_epoch={crash_after})"
        color = "#dbe9f6" if first else "#e2f0d9"
        draw_box(ax, (e - 1) * 2.2, 1.1, 1.8, 0.6, f"epoch {e}\n{label}", color)
        draw_box(ax, (e - 1) * 2.2 + 0.2, 0.1, 1.4, 0.5, f"epoch_{e:02d}.keras", "#fde9c9", 7)
        _arrow(ax, (e * 2.2 - 1.3, 1.1), (e * 2.2 - 1.3, 0.6))
    message = f"crash -> load_model('epoch_{crash_after:02d}.keras') and resume"
    ax.text(epochs * 1.05, 1.9, message, ha="center", fontsize=9, color="#b22")
    ax.set(xlim=(-0.1, epochs * 2.2 + 0.1), ylim=(0, 2.2))
    ax.axis("off")
    plt.close(fig)
    return fig


def plot_transfer_head():
    """The chapter's transfer model, left to right (:data:`TRANSFER_PARTS`): a frozen base
    under a new head. Returns the closed ``Figure``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 1.8))
    for k, (text, color) in enumerate(TRANSFER_PARTS):
        draw_box(ax, k * 1.9, 0.3, 1.6, 1.0, text, color, 7)
        if k:
            _arrow(ax, (k * 1.9 - 0.3, 0.8), (k * 1.9, 0.8))
    ax.set(xlim=(-0.1, 9.5), ylim=(0, 1.6))
    ax.axis("off")
    plt.close(fig)
    return fig
