"""Chapter 01 diagrams: do they draw what the notebook's prose says, in English text only?"""

import io
import warnings

import numpy as np
from matplotlib.figure import Figure

from course_utils.diagrams import ch01


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


def render(fig: Figure) -> None:
    """Draw the figure to PNG, failing on any warning (a missing glyph among them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png", dpi=40)


def test_fit_diagram_shows_batches_steps_and_the_validation_part():
    """Does the fit() diagram name the last batch, the held-out samples and the step count?"""
    fig = ch01.draw_fit_batches(steps_per_epoch=36, batch_size=128, n_val=500, epochs=3)
    assert isinstance(fig, Figure)
    shown = texts(fig)
    assert "batch 36" in shown and "validation\n500 samples" in shown
    assert "fit(): 3 epochs x 36 steps" in shown
    assert "1 step = 1 batch of 128 samples = 1 weight update" in shown
    # two epochs of five boxes (batches and "...") and one validation box each
    assert len(fig.axes[0].patches) == 2 * 6
    render(fig)


def test_validation_tails_draw_one_bar_per_class_and_ordering():
    """Does the tail chart draw each ordering's counts, one bar per class, and the balanced
    line at n_val / classes?"""
    names = ["a", "b", "c"]
    tails = {"as loaded": [5, 3, 2], "sorted by label": [0, 0, 10], "after shuffling": [4, 3, 3]}
    fig = ch01.draw_validation_tails(names, tails, n_val=10)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [5, 3, 2, 0, 0, 10, 4, 3, 3]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(tails)
    assert np.allclose(ax.lines[0].get_ydata(), 10 / 3)
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    render(fig)


def test_diagram_text_is_english():
    """Is all plot text ASCII (English on purpose: no CJK font on Colab or CI)?"""
    figs = (
        ch01.draw_fit_batches(36, 128, 500, 3),
        ch01.draw_validation_tails(["T-shirt/top", "Trouser"], {"x": [1, 2]}, 3),
    )
    for fig in figs:
        for text in texts(fig):
            assert text.isascii(), text
