"""Chapter 06 diagrams: do they draw what the notebook's prose says, in English text only?"""

import io
import warnings

from matplotlib.figure import Figure

from course_utils.diagrams import ch06


def texts(fig: Figure) -> list[str]:
    titles = [ax.get_title(loc=loc) for ax in fig.axes for loc in ("left", "center")]
    return [t.get_text() for ax in fig.axes for t in ax.texts] + titles


def render(fig: Figure) -> None:
    """Draw the figure to PNG, failing on any warning (a missing glyph among them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png", dpi=40)


def test_training_step_puts_forward_pass_and_loss_inside_the_tape():
    """Are the five steps drawn in order, with the loss (model.losses included) in the tape's
    frame and the gradient and update outside it?"""
    fig = ch06.draw_training_step()
    assert isinstance(fig, Figure)
    shown = texts(fig)
    steps = [t for t in shown if t in ch06.STEP_BOXES]
    assert steps == list(ch06.STEP_BOXES)
    assert "sum(model.losses)" in ch06.STEP_BOXES[2]
    ax = fig.axes[0]
    frame = next(p for p in ax.patches if p.get_linestyle() == "--")
    x0, x1 = frame.get_x(), frame.get_x() + frame.get_width()
    boxes = [p for p in ax.patches if p is not frame]
    inside = [i for i, p in enumerate(boxes) if x0 <= p.get_x() and p.get_x() + p.get_width() <= x1]
    assert inside == [1, 2]  # forward pass and loss; the gradient and the update stay outside
    render(fig)


def test_tracing_shows_trace_cache_hit_and_retrace():
    """Does the tracing diagram show the three cases the notebook demonstrates?"""
    fig = ch06.draw_tracing()
    shown = "\n".join(texts(fig))
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["first call", "same signature", "retracing"]
    assert "TRACE: run Python" in shown and "cache hit" in shown and "RETRACE" in shown
    render(fig)


def test_diagram_text_is_english():
    """Is all plot text ASCII (English on purpose: no CJK font on Colab or CI)?"""
    for fig in (ch06.draw_training_step(), ch06.draw_tracing()):
        for text in texts(fig):
            assert text.isascii(), text
