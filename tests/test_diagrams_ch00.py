"""Chapter 00 diagrams: do they draw what the notebook's prose says, in English text only?"""

import io
import warnings

import numpy as np
from matplotlib.figure import Figure

from course_utils.diagrams import ch00


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


def render(fig: Figure) -> None:
    """Draw the figure to PNG, failing on any warning (a missing glyph among them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png", dpi=40)


def test_broadcasting_shows_both_operands_stretched_and_their_sum():
    """Does the broadcasting diagram show (3, 1) + (1, 4) = (3, 4) with the right sums?"""
    fig = ch00.draw_broadcasting(column=(0.0, 1.0, 2.0), row=(1.0, 2.0, 3.0, 4.0))
    assert isinstance(fig, Figure)
    shown = texts(fig)
    assert {"column (3, 1)", "row (1, 4)", "result (3, 4)"} <= set(shown)
    sums = np.add.outer([0.0, 1.0, 2.0], [1.0, 2.0, 3.0, 4.0])
    for value in sums.ravel():
        assert f"{value:g}" in shown
    # 3 grids of 12 cells each; the column and row grids mark 8 and 9 stretched copies.
    dotted = [p for p in fig.axes[0].patches if p.get_linestyle() == ":"]
    assert len(fig.axes[0].patches) == 36 and len(dotted) == 8 + 9
    render(fig)


def test_tape_diagram_shows_the_notebook_gradients():
    """Does the tape diagram show z = 24 and the gradients the notebook computes (14 and 12)?"""
    fig = ch00.draw_tape()
    shown = "\n".join(texts(fig))
    assert "z = w + v\n= 24" in shown
    assert "dz/da = 14" in shown and "dz/db = 12" in shown
    render(fig)


def test_tape_diagram_gradients_follow_the_chain_rule():
    """Is every red gradient the sum over outgoing edges of (end's gradient x local derivative)?"""
    local = {(s, d): float(text.split("=")[-1]) for s, d, text in ch00._TAPE_EDGES}
    for node, grad in ch00._TAPE_GRADS.items():
        outgoing = [(d, v) for (s, d), v in local.items() if s == node]
        if outgoing:
            assert grad == sum(ch00._TAPE_GRADS[d] * v for d, v in outgoing), node


def test_diagram_text_is_english():
    """Is all plot text ASCII (English on purpose: no CJK font on Colab or CI)?"""
    for fig in (ch00.draw_broadcasting(), ch00.draw_tape()):
        for text in texts(fig):
            assert text.isascii(), text
