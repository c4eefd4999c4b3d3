"""Chapter 04 diagrams: what compile/fit/evaluate/predict do, where ``validation_split`` cuts,
when ``validation_freq`` validates, why a streaming metric is not a mean of batch values, and
learning-rate schedules.

Like ``course_utils.plots``, each function returns the matplotlib ``Figure`` (closed, so the
notebook shows it once as the cell's value). Plot text is English on purpose (see
notebooks/AUTHORING.md). Nothing here computes an exercise's answer: the functions draw the
numbers the notebook hands them.
"""

from __future__ import annotations

import numpy as np

#: One row per method: (title, steps, colour).
PIPELINES = [
    ("compile()", ["optimizer", "loss\n(+ loss_weights)", "metrics"], "#fde2c8"),
    (
        "fit()",
        [
            "batch (x, y, w)",
            "forward\ntraining=True",
            "loss + add_loss",
            "gradients,\nupdate",
            "epoch end:\nvalidation",
        ],
        "#dbe9f6",
    ),
    (
        "evaluate()",
        ["batch (x, y, w)", "forward\ntraining=False", "loss, metrics\n(streamed)"],
        "#d9f2d9",
    ),
    ("predict()", ["batch x", "forward\ntraining=False", "NumPy outputs"], "#eeeeee"),
]


def draw_pipeline_row(ax, y: float, title: str, steps, color: str) -> None:
    """Draw one row at height ``y``: the method's name, then its steps as boxes and arrows."""
    from matplotlib.patches import FancyBboxPatch

    ax.text(0, y + 0.35, title, fontsize=11, fontweight="bold", va="center")
    for i, text in enumerate(steps):
        x = 2.2 + i * 2.5
        box = FancyBboxPatch((x, y), 2.0, 0.7, boxstyle="round,pad=0.06", fc=color, ec="#333")
        ax.add_patch(box)
        ax.text(x + 1.0, y + 0.35, text, ha="center", va="center", fontsize=8)
        if i:
            arrow = {"arrowstyle": "->"}
            ax.annotate("", (x - 0.1, y + 0.35), (x - 0.42, y + 0.35), arrowprops=arrow)


def plot_method_pipelines():
    """The four built-in methods, one row each: what each does per batch (or once)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(13, 4.2))
    for y, (title, steps, color) in zip([3, 2, 1, 0], PIPELINES):
        draw_pipeline_row(ax, y, title, steps, color)
    ax.set(xlim=(-0.2, 14.8), ylim=(-0.3, 3.9))
    ax.axis("off")
    plt.close(fig)
    return fig


def plot_validation_split(labels, split_at: int):
    """Each sample's label against its position, the part ``validation_split`` takes shaded.

    Args:
        labels: the labels in the order they are passed to ``fit``.
        split_at: the first index of the validation part.
    """
    import matplotlib.pyplot as plt

    labels = np.asarray(labels)
    fig, ax = plt.subplots(figsize=(10, 3))
    ax.scatter(np.arange(len(labels)), labels, s=3, c=labels, cmap="tab10")
    ax.axvspan(split_at, len(labels), color="tab:red", alpha=0.15)
    note = "validation_split\ntakes the LAST part\n(before shuffling)"
    ax.text(split_at - 40, 4, note, color="tab:red", ha="right", fontsize=9)
    ax.set(xlabel="index in the arrays passed to fit()", ylabel="label", yticks=range(10))
    plt.close(fig)
    return fig


def validation_epochs(n_epochs: int, freq: int) -> list[int]:
    """The epochs (counted from 1) after which ``fit(validation_freq=freq)`` validates."""
    return list(range(freq, n_epochs + 1, freq))


def plot_validation_freq(history, freq: int, metric: str = "loss"):
    """Training ``metric`` at every epoch and ``val_<metric>`` only where it was computed.

    With ``validation_freq=freq`` the History holds one validation value per ``freq`` epochs;
    plotted against list positions, those values would land on the wrong epochs.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    data = getattr(history, "history", history)
    train, val = data[metric], data.get(f"val_{metric}", [])
    epochs = np.arange(1, len(train) + 1)
    val_at = validation_epochs(len(train), freq)[: len(val)]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.plot(epochs, train, "o-", label=f"train {metric} (every epoch)")
    ax.plot(val_at, val, "s--", color="tab:orange", ms=8, label=f"val {metric} (every {freq})")
    for epoch in epochs:
        if epoch not in val_at:
            ax.axvline(epoch, color="gray", lw=0.5, ls=":")
    ax.set(xlabel="epoch", ylabel=metric, title=f"fit(..., validation_freq={freq})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    plt.close(fig)
    return fig


def plot_batch_average(per_batch, streamed: float, averaged: float, sizes=None):
    """Each batch's metric as a bar, with the streaming result and the mean of the bars."""
    import matplotlib.pyplot as plt

    per_batch = [float(v) for v in per_batch]
    sizes = sizes or [None] * len(per_batch)
    names = [
        f"batch {i + 1}" + (f" ({n} sample{'s' if n != 1 else ''})" if n else "")
        for i, n in enumerate(sizes)
    ]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.bar(names, per_batch, color="#bbbbbb", label="RMSE of each batch")
    ax.axhline(
        averaged, color="tab:red", ls="--", label=f"mean of batch RMSEs = {averaged:.2f} (wrong)"
    )
    ax.axhline(streamed, color="tab:green", label=f"streaming RMSE = {streamed:.2f} (right)")
    ax.set_ylabel("RMSE")
    ax.legend(loc="upper left", fontsize=8)
    plt.close(fig)
    return fig


def plot_schedules(schedules: dict, total_steps: int, steps_per_epoch: int):
    """Each schedule's learning rate over ``total_steps`` optimizer steps; dotted epoch ends."""
    import matplotlib.pyplot as plt

    steps = np.linspace(0, total_steps, 200).astype("int64")
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, schedule in schedules.items():
        ax.plot(steps, [float(schedule(int(s))) for s in steps], label=name)
    for boundary in range(steps_per_epoch, total_steps, steps_per_epoch):
        ax.axvline(boundary, color="gray", lw=0.5, ls=":")
    ax.set(
        xlabel="optimizer step (iterations)",
        ylabel="learning rate",
        title="learning-rate schedules",
    )
    ax.legend()
    plt.close(fig)
    return fig
