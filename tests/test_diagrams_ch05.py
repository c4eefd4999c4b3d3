"""Chapter 05 diagrams: the fit() hooks, EarlyStopping's patience window, the warm-up shape."""

import matplotlib

from course_utils.diagrams.ch05 import (
    FIT_HOOKS,
    plot_fit_hooks,
    plot_patience_window,
    plot_warmup_shape,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def test_fit_hooks_figure_names_every_hook_in_order():
    """Is every hook written once, top to bottom from on_train_begin to on_train_end, inside
    four nested boxes, in a closed Figure?"""
    fig = plot_fit_hooks()
    assert fig.number not in plt.get_fignums()
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    for _, _, hook in FIT_HOOKS:
        assert texts.count(hook) == 1, hook
    ys = {t.get_text(): t.get_position()[1] for t in ax.texts}
    assert ys["on_train_begin(logs)"] > ys["on_epoch_begin(epoch, logs)"] > ys["on_train_end(logs)"]
    assert len(ax.patches) == 4
    assert "model.fit(...)" in texts


def test_patience_window_marks_the_best_epoch_and_shades_the_rest():
    """Is the best epoch (0-based in, 1-based on the axis) circled on the monitored curve and
    the window after it shaded up to the last epoch?"""
    history = {"loss": [1.0, 0.8, 0.6, 0.5, 0.4], "val_loss": [0.9, 0.7, 0.75, 0.8, 0.85]}
    fig = plot_patience_window(history, best_epoch=1, patience=3)
    ax = fig.axes[0]
    best = [line for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata()) == 1]
    assert len(best) == 1
    assert best[0].get_xdata()[0] == 2 and best[0].get_ydata()[0] == 0.7
    (span,) = ax.patches
    assert (span.get_x(), span.get_x() + span.get_width()) == (2, 5)
    assert "patience=3" in ax.get_title()
    assert fig.number not in plt.get_fignums()


def test_warmup_shape_rises_linearly_then_stays_flat():
    """Does the drawn warm-up climb by base_lr / 10 per step to 1e-3 and stay there, with two
    epoch boundaries dotted?"""
    fig = plot_warmup_shape()
    ax = fig.axes[0]
    y = ax.lines[0].get_ydata()
    assert len(y) == 18
    assert abs(y[0] - 1e-4) < 1e-12 and abs(y[9] - 1e-3) < 1e-12
    assert all(abs(v - 1e-3) < 1e-12 for v in y[9:])
    assert len([line for line in ax.lines if line.get_linestyle() == ":"]) == 2
    assert fig.number not in plt.get_fignums()
