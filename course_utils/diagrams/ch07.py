"""Chapter 07 diagrams: where ``fit()`` calls ``train_step``, the distillation data flow, and the
distillation results (matplotlib).

Each function returns the closed ``Figure`` (like ``course_utils.plots``), so the notebook shows
it once as the cell's value. Plot text is English on purpose (see notebooks/AUTHORING.md).
"""

from __future__ import annotations

#: Fill colours: the methods the chapter overrides, and everything ``fit()`` provides.
YOURS = "#ffe08a"
FIT = "#eeeeee"
PLAIN = "#dbe9f6"

#: The steps of one ``fit()`` epoch, top to bottom, with the colour of their box.
FIT_LOOP = [
    ("on_epoch_begin: reset_state() of every m in model.metrics", FIT),
    ("for each batch:  logs = train_step(data)", YOURS),
    ("callbacks.on_train_batch_end(logs), progress bar", FIT),
    ("validation_data:  test_step(data) for each batch", YOURS),
    ("on_epoch_end(logs): History, EarlyStopping, ModelCheckpoint ...", FIT),
]


def _box(ax, x, y, text, color=PLAIN, w=3.4, h=0.7):
    """A rounded box with ``text``; returns ``(centre x, centre y, half width)``."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.06", fc=color, ec="#333"))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=8.5)
    return x + w / 2, y + h / 2, w / 2


def _arrow(ax, start, end, **style):
    ax.annotate("", end[:2], start[:2], arrowprops={"arrowstyle": "->", "lw": 1.3, **style})


def _link(ax, a, b):
    """An arrow from the right edge of box ``a`` to the left edge of box ``b``."""
    _arrow(ax, (a[0] + a[2] + 0.05, a[1]), (b[0] - b[2] - 0.08, b[1]))


def draw_fit_loop():
    """One epoch of ``fit()`` as a column of boxes; the two overridable steps in yellow.

    Used in chapter 07 to show that overriding ``train_step`` / ``test_step`` keeps callbacks,
    the progress bar and ``validation_data`` working.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4.6))
    centers = [
        _box(ax, 0, 4 - 1.0 * i, text, color, w=6.2) for i, (text, color) in enumerate(FIT_LOOP)
    ]
    for a, b in zip(centers, centers[1:]):
        _arrow(ax, (a[0], a[1] - 0.38), (b[0], b[1] + 0.38))
    _arrow(ax, (6.4, 2.35), (6.4, 3.35), color="gray", connectionstyle="arc3,rad=-0.6")
    ax.text(7.0, 2.85, "next batch", color="gray", fontsize=9)
    ax.text(6.5, 0.35, "you write only the yellow boxes", color="#b07800", fontsize=9)
    ax.set_xlim(-0.3, 9.5)
    ax.set_ylim(-0.2, 4.9)
    ax.axis("off")
    plt.close(fig)
    return fig


def draw_distillation():
    """The data flow of knowledge distillation: a frozen teacher, a trained student, two loss
    terms mixed by ``alpha``; gradients reach the student only. Used in chapter 07."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 3.6))
    x_in = _box(ax, 0, 1.3, "batch x", w=1.4)
    teacher = _box(ax, 2.2, 2.4, "teacher(x, training=False)\nfrozen, no gradient", FIT, w=3.2)
    student = _box(ax, 2.2, 0.2, "student(x, training=True)", YOURS, w=3.2)
    kl = _box(ax, 6.4, 2.4, "KL(softmax(t/T) || softmax(s/T))\n* T^2", w=3.6)
    ce = _box(ax, 6.4, 0.2, "crossentropy(y, s)", w=3.6)
    total = _box(ax, 11.0, 1.3, "loss = alpha*student\n + (1-alpha)*distill", YOURS, w=2.8)
    edges = [(x_in, teacher), (x_in, student), (teacher, kl), (student, kl), (student, ce)]
    for a, b in [*edges, (kl, total), (ce, total)]:
        _link(ax, a, b)
    ax.text(11.2, 0.5, "gradients: student only", color="#b07800", fontsize=9)
    ax.set_xlim(-0.2, 14.0)
    ax.set_ylim(-0.1, 3.3)
    ax.axis("off")
    plt.close(fig)
    return fig


def plot_distillation_results(accuracies: dict, curves: dict):
    """Left: a bar per model of its test accuracy (``{name: accuracy}``); right: validation
    accuracy per epoch (``{name: [val_accuracy, ...]}``). Used in chapter 07."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.4))
    names, values = list(accuracies), [float(v) for v in accuracies.values()]
    colors = ["#999999", "#8fb8de", "#f0a640", "#b5d99c"][: len(names)]
    bars = ax1.bar(names, values, color=colors)
    ax1.bar_label(bars, fmt="%.3f")
    ax1.set(ylim=(min(values) - 0.05, 1.0), ylabel="test accuracy", title="test accuracy")
    for name, curve in curves.items():
        ax2.plot(range(1, len(curve) + 1), curve, "o-", label=name)
    ax2.set(xlabel="epoch", ylabel="val accuracy", title="validation curves")
    ax2.legend()
    plt.close(fig)
    return fig
