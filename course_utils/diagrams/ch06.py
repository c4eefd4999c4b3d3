"""Diagrams for chapter 06: one training step, and what ``tf.function`` does on each call.

Like ``course_utils.plots``, each function returns the matplotlib ``Figure`` (closed, so the
notebook shows it once as the cell's value). Text is English on purpose (see AUTHORING.md).
"""

from __future__ import annotations

#: The boxes of one training step, left to right (the notebook's prose names the same steps).
STEP_BOXES = (
    "batch (x, y)",
    "forward pass\nmodel(x, training=True)",
    "loss\nloss_fn(y, logits)\n+ sum(model.losses)",
    "tape.gradient(loss,\nmodel.trainable_weights)",
    "optimizer.apply(grads,\ntrainable_weights)",
)

#: The three rows of the tracing diagram: (title, colour, boxes).
TRACING_ROWS = (
    (
        "first call",
        "#fde2c8",
        (
            "1st call, new\ninput signature",
            "TRACE: run Python\n(print runs here)",
            "graph cached\n(ConcreteFunction)",
            "EXECUTE graph\n(tf.print runs)",
        ),
    ),
    (
        "same signature",
        "#d5f0d5",
        (
            "later call,\nsame signature",
            "cache hit:\nno Python runs",
            "EXECUTE graph\n(tf.print runs)",
        ),
    ),
    (
        "retracing",
        "#f8d0d0",
        (
            "new shape / dtype or\nnew Python value",
            "RETRACE: run Python\nagain (slow!)",
            "2nd graph cached",
            "EXECUTE graph",
        ),
    ),
)


def _flow(ax, steps, y: float = 0.0, color: str = "#dbe9f6", dx: float = 2.6) -> None:
    """A row of rounded boxes from left to right, joined by arrows."""
    from matplotlib.patches import FancyBboxPatch

    for i, text in enumerate(steps):
        box = FancyBboxPatch((i * dx, y), 2.1, 0.9, boxstyle="round,pad=0.08", fc=color, ec="#333")
        ax.add_patch(box)
        ax.text(i * dx + 1.05, y + 0.45, text, ha="center", va="center", fontsize=8.5)
        if i:
            ax.annotate(
                "",
                (i * dx - 0.1, y + 0.45),
                (i * dx - 0.42, y + 0.45),
                arrowprops={"arrowstyle": "->", "lw": 1.5},
            )
    ax.set_xlim(-0.4, len(steps) * dx)
    ax.axis("off")


def draw_training_step():
    """One training step: batch, forward pass and loss inside the tape (dashed red frame), then
    gradients and the optimizer update; the updated weights feed the next batch. Chapter 06."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(13, 2.7))
    _flow(ax, STEP_BOXES)
    ax.add_patch(
        FancyBboxPatch(
            (2.45, -0.3), 5.0, 1.5, boxstyle="round,pad=0.05", fill=False, ls="--", ec="tab:red"
        )
    )
    ax.text(4.95, 1.28, "inside  with tf.GradientTape() as tape:", color="tab:red", ha="center")
    ax.annotate(
        "",
        (3.6, -0.12),
        (11.45, -0.12),
        arrowprops={"arrowstyle": "->", "color": "gray", "connectionstyle": "arc3,rad=-0.08"},
    )
    ax.text(7.5, -0.72, "updated weights are used by the next batch", ha="center", color="gray")
    ax.set_ylim(-0.95, 1.5)
    plt.close(fig)
    return fig


def draw_tracing():
    """What a ``tf.function`` does on its first call, on a call with the same signature, and on
    a call that retraces (new shape, dtype or Python value). Chapter 06."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(11, 4.2))
    for ax, (title, color, steps) in zip(axes, TRACING_ROWS):
        _flow(ax, steps, color=color)
        ax.set_ylim(-0.1, 1.0)
        ax.set_title(title, fontsize=9, loc="left")
    fig.tight_layout()
    plt.close(fig)
    return fig
