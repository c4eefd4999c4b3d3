"""Chapter 08 diagrams: closed figures with one box per thing they name."""

import matplotlib

from course_utils.diagrams.ch08 import (
    SAVE_FORMATS,
    TRANSFER_PARTS,
    plot_resume_timeline,
    plot_save_formats,
    plot_transfer_head,
)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts if t.get_text()]


def test_save_formats_has_three_boxes_per_way_to_save():
    """Is every call, content and use of SAVE_FORMATS written in a box, the figure closed?"""
    fig = plot_save_formats()
    assert fig.number not in plt.get_fignums()
    texts = _texts(fig)
    for call, content, use, _ in SAVE_FORMATS:
        assert {call, content, use} <= set(texts)
    assert len(fig.axes[0].patches) == 3 * len(SAVE_FORMATS)


def test_resume_timeline_has_a_checkpoint_per_epoch_and_names_the_resume():
    """Is there a checkpoint box per epoch, and do epochs after the crash resume from it?"""
    fig = plot_resume_timeline(epochs=5, crash_after=3)
    texts = _texts(fig)
    assert [t for t in texts if t.endswith(".keras")] == [
        f"epoch_{e:02d}.keras" for e in range(1, 6)
    ]
    assert sum("fit(initial_epoch=3)" in t for t in texts) == 2
    assert any("load_model('epoch_03.keras')" in t for t in texts)
    assert fig.number not in plt.get_fignums()


def test_transfer_head_draws_the_parts_in_order():
    """Are the transfer model's parts drawn left to right, input first, head last?"""
    fig = plot_transfer_head()
    boxes = sorted(
        (t for t in fig.axes[0].texts if t.get_text()), key=lambda t: t.get_position()[0]
    )
    assert [t.get_text() for t in boxes] == [text for text, _ in TRANSFER_PARTS]
