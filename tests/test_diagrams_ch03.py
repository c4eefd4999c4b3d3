"""Chapter 03 diagrams: does each figure come back closed, with the boxes it promises?"""

import matplotlib

from course_utils.diagrams.ch03 import plot_inception_blocks, plot_layer_lifecycle

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _box_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_text()]


def test_lifecycle_has_four_steps_in_order_and_is_closed():
    """Are __init__, build, call and output drawn left to right, in a closed Figure?"""
    fig = plot_layer_lifecycle()
    assert fig.number not in plt.get_fignums()
    (ax,) = fig.axes
    texts = _box_texts(ax)
    order = [
        next(i for i, t in enumerate(texts) if word in t)
        for word in ("__init__", "build(", "call(x", "output")
    ]
    assert order == sorted(order)
    assert len(ax.patches) == 4  # one box per step
    assert any("later calls" in t for t in texts)


def test_inception_blocks_show_two_branches_each():
    """Does each panel draw an input, two branches and a concatenation, titled by its block?"""
    fig = plot_inception_blocks()
    assert fig.number not in plt.get_fignums()
    left, right = fig.axes
    assert [left.get_title(), right.get_title()] == ["InceptionBlock(f1, f3)", "DownsampleBlock(f)"]
    for ax in (left, right):
        assert len(ax.patches) == 4  # input, two branches, merge
        assert sum("Concatenate" in t for t in _box_texts(ax)) == 1
    assert any("MaxPooling2D" in t for t in _box_texts(right))
