"""Chapter 09 diagrams: the capstone project's plan and the gated fusion of its two inputs.

Each function returns a closed matplotlib ``Figure`` (like ``course_utils.plots``), so the
notebook shows it once as the cell's value. Plot text is English on purpose (see
notebooks/AUTHORING.md).
"""

from __future__ import annotations

#: The project's steps, in order: (label, exercise or "", colour).
PLAN = (
    ("load + split\ntrain / val / test", "", "#fde2c8"),
    ("image features\n(2nd input)", "", "#fde2c8"),
    ("baseline\n(val accuracy)", "", "#eeeeee"),
    ("tf.data\npipeline", "9.1", "#dbe9f6"),
    ("two-input model\n+ GatedFusion", "9.2", "#dbe9f6"),
    ("streaming metric\nMacroRecall", "9.3", "#dbe9f6"),
    ("callbacks\n+ TensorBoard log", "9.4", "#dbe9f6"),
    ("train_step with\nglobal-norm clipping", "9.5", "#dbe9f6"),
    ("export +\npredict one image", "9.6", "#d9f2d9"),
    ("test set, once:\nfull evaluation", "9.7", "#d9f2d9"),
    ("written report", "9.8", "#f6dbe9"),
)


def _box(ax, x, y, w, h, text, color, fontsize=8):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="#333", lw=0.8)
    )
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)


def plot_project_plan(columns: int = 4):
    """The project as a path of boxes, ``columns`` per row, each milestone with its exercise.

    Returns the closed ``Figure``. Used in chapter 09's project brief.
    """
    import matplotlib.pyplot as plt

    rows = (len(PLAN) + columns - 1) // columns
    fig, ax = plt.subplots(figsize=(2.6 * columns, 1.25 * rows + 0.3))
    w, h, gap_x, gap_y = 2.0, 0.8, 0.55, 0.45
    centres = []
    for i, (label, exercise, color) in enumerate(PLAN):
        row, col = divmod(i, columns)
        if row % 2:  # snake: odd rows run right to left
            col = columns - 1 - col
        x, y = col * (w + gap_x), -row * (h + gap_y)
        text = f"{exercise}  {label}" if not exercise else f"[{exercise}]\n{label}"
        _box(ax, x, y, w, h, text, color)
        centres.append((x, y))
    for (x0, y0), (x1, y1) in zip(centres, centres[1:]):
        if y0 == y1:
            start = (x0 + w, y0 + h / 2) if x1 > x0 else (x0, y0 + h / 2)
            end = (x1, y1 + h / 2) if x1 > x0 else (x1 + w, y1 + h / 2)
        else:
            start, end = (x0 + w / 2, y0), (x1 + w / 2, y1 + h)
        ax.annotate("", end, start, arrowprops={"arrowstyle": "-|>", "color": "#555"})
    ax.set(xlim=(-0.2, columns * (w + gap_x)), ylim=(-(rows - 1) * (h + gap_y) - 0.2, h + 0.2))
    ax.set_title("capstone project: milestones [exercise] in order", fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_gated_fusion():
    """The ``GatedFusion`` layer: two embeddings, a sigmoid gate from both, a weighted mix.

    Returns the closed ``Figure``. Used in chapter 09 next to exercise 9.2.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.5, 3.4))
    boxes = {
        "image": (0.0, 2.2, "image (28, 28, 1)\nConv -> Pool -> Dense", "#fde2c8"),
        "features": (0.0, 0.2, "features (num_features,)\nDense", "#fde2c8"),
        "a": (3.0, 2.2, "a  (embed_dim)", "#dbe9f6"),
        "b": (3.0, 0.2, "b  (embed_dim)", "#dbe9f6"),
        "gate": (5.4, 1.2, "g = sigmoid(\n[a, b] @ kernel + bias)", "#d9f2d9"),
        "mix": (8.0, 1.2, "g * a + (1 - g) * b\n-> Dense(softmax)", "#f6dbe9"),
    }
    w, h = 2.2, 0.8
    for x, y, text, color in boxes.values():
        _box(ax, x, y, w, h, text, color)

    def arrow(src, dst, dy_src=0.0, dy_dst=0.0):
        (x0, y0, *_), (x1, y1, *_) = boxes[src], boxes[dst]
        ax.annotate(
            "",
            (x1, y1 + h / 2 + dy_dst),
            (x0 + w, y0 + h / 2 + dy_src),
            arrowprops={"arrowstyle": "-|>", "color": "#555"},
        )

    arrow("image", "a")
    arrow("features", "b")
    arrow("a", "gate", dy_dst=0.2)
    arrow("b", "gate", dy_dst=-0.2)
    arrow("gate", "mix")
    for src, dy in (("a", 0.25), ("b", -0.25)):
        x0, y0 = boxes[src][0] + w, boxes[src][1] + h / 2
        ax.annotate(
            "",
            (boxes["mix"][0] + w / 2, boxes["mix"][1] + (h if dy > 0 else 0)),
            (x0, y0),
            arrowprops={"arrowstyle": "-|>", "color": "#999", "ls": "--"},
        )
    ax.set(xlim=(-0.2, 10.4), ylim=(0.0, 3.2))
    ax.set_title(
        "GatedFusion: the gate decides, per unit, how much of each input to keep", fontsize=10
    )
    ax.axis("off")
    fig.tight_layout()
    plt.close(fig)
    return fig
