"""Chapter 03 diagrams: a layer's life cycle and the two Inception modules (matplotlib).

Each ``plot_*`` function returns the closed ``Figure`` (like ``course_utils.plots``), so the
notebook shows it once as the cell's value. Plot text is English on purpose (see
notebooks/AUTHORING.md).
"""

from __future__ import annotations

#: Box colours: the input, the step that creates weights, the forward pass, the output/merge.
INPUT, BUILD, CALL, OUTPUT = "#fde2c8", "#dbe9f6", "#d5f0d5", "#eeeeee"


def draw_box(ax, x: float, y: float, text: str, color: str = BUILD, w: float = 2.3, h: float = 1.0):
    """A rounded box centred on ``(x, y)`` with ``text`` inside."""
    from matplotlib.patches import FancyBboxPatch

    box = FancyBboxPatch(
        (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.08", fc=color, ec="#333"
    )
    ax.add_patch(box)
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)
    return box


def arrow(ax, start, end, **kwargs) -> None:
    """An arrow from ``start`` to ``end`` (extra ``arrowprops`` in ``kwargs``)."""
    ax.annotate("", end, start, arrowprops={"arrowstyle": "->", "lw": 1.4, **kwargs})


def plot_layer_lifecycle():
    """``__init__`` -> first call ``build`` -> ``call`` -> output, and the later calls that go
    straight to ``call``; return the closed Figure. Used in chapter 03."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 2.6))
    steps = [
        ("MyDense(3)\n__init__: store units,\nno weights yet", INPUT),
        ("first call layer(x)\nbuild(input_shape):\nadd_weight(...)", BUILD),
        ("call(x, training)\nforward pass", CALL),
        ("output", OUTPUT),
    ]
    for i, (text, color) in enumerate(steps):
        draw_box(ax, 1.5 + 3 * i, 1.0, text, color=color)
        if i:
            arrow(ax, (3 * i - 0.25, 1.0), (3 * i + 0.25, 1.0))
    arrow(ax, (0.8, 0.35), (7.0, 0.4), color="gray", connectionstyle="arc3,rad=0.25")
    ax.text(
        4.2, -0.45, "later calls: layer(x) -> call only (already built)", ha="center", color="gray"
    )
    ax.set_xlim(0, 11.5)
    ax.set_ylim(-0.8, 1.8)
    ax.axis("off")
    plt.close(fig)
    return fig


def draw_branches(ax, title: str, branches, merge: str = "Concatenate (channels)") -> None:
    """One input on top, the branches side by side, one merge box below."""
    draw_box(ax, 2.5, 3.0, "input", color=OUTPUT)
    for i, text in enumerate(branches):
        bx = 1.2 + 2.6 * i
        draw_box(ax, bx, 1.6, text)
        arrow(ax, (2.5, 2.45), (bx, 2.15))
        arrow(ax, (bx, 1.05), (2.5, 0.75))
    draw_box(ax, 2.5, 0.2, merge, color=CALL, w=3.2)
    ax.set_title(title)
    ax.set_xlim(-0.5, 5.5)
    ax.set_ylim(-0.5, 3.7)
    ax.axis("off")


def plot_inception_blocks():
    """The InceptionBlock (1x1 and 3x3 ConvBN) and the DownsampleBlock (strided ConvBN and
    max pooling), each concatenated on channels; return the closed Figure. Used in chapter 03."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    draw_branches(
        left,
        "InceptionBlock(f1, f3)",
        ["ConvBN(f1, 1x1)\nstride 1, same", "ConvBN(f3, 3x3)\nstride 1, same"],
    )
    draw_branches(
        right,
        "DownsampleBlock(f)",
        ["ConvBN(f, 3x3)\nstride 2, valid", "MaxPooling2D(3x3)\nstride 2, valid"],
    )
    plt.close(fig)
    return fig
