"""Chapter 04 diagrams: do the figures draw what the notebook hands them, closed and in English?"""

import matplotlib
import numpy as np

from course_utils.diagrams import ch04

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def test_pipelines_have_a_row_per_method_and_a_box_per_step():
    """Does the overview name the four methods and draw one box per step, closed?"""
    fig = ch04.plot_method_pipelines()
    assert fig.number not in plt.get_fignums()
    texts = [t.get_text() for t in fig.axes[0].texts]
    for title in ("compile()", "fit()", "evaluate()", "predict()"):
        assert title in texts
    steps = sum(len(steps) for _, steps, _ in ch04.PIPELINES)
    assert len(fig.axes[0].patches) == steps


def test_validation_epochs_are_the_multiples_of_the_frequency():
    """Are the validated epochs k, 2k, ... up to the last epoch, counted from 1?"""
    assert ch04.validation_epochs(4, 2) == [2, 4]
    assert ch04.validation_epochs(6, 4) == [4]
    assert ch04.validation_epochs(3, 1) == [1, 2, 3]


def test_validation_freq_plot_puts_each_val_value_on_its_epoch():
    """With validation_freq=2 over 5 epochs, are the 2 validation points drawn at epochs 2, 4?"""
    history = {"loss": [1.0, 0.8, 0.7, 0.6, 0.55], "val_loss": [0.9, 0.75]}
    fig = ch04.plot_validation_freq(history, freq=2)
    assert fig.number not in plt.get_fignums()
    train, val = fig.axes[0].lines[:2]
    assert list(train.get_xdata()) == [1, 2, 3, 4, 5]
    assert list(val.get_xdata()) == [2, 4] and list(val.get_ydata()) == [0.9, 0.75]


def test_validation_split_shades_the_tail():
    """Is the shaded span the part after split_at?"""
    labels = np.repeat(np.arange(10), 10)
    fig = ch04.plot_validation_split(labels, split_at=80)
    span = fig.axes[0].patches[0]  # axvspan: a rectangle in data x, axes y
    assert (span.get_x(), span.get_x() + span.get_width()) == (80, 100)


def test_batch_average_and_schedules_are_closed_figures():
    """Do the batch-average bars and the schedule curves come back closed, labelled in English?"""
    fig = ch04.plot_batch_average([1.0, 6.0], 2.83, 3.5, sizes=[4, 1])
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["batch 1 (4 samples)", "batch 2 (1 sample)"]
    assert fig.number not in plt.get_fignums()

    def halving(step):
        return 0.1 * 0.5 ** (step // 10)

    fig = ch04.plot_schedules({"halving": halving}, total_steps=40, steps_per_epoch=10)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "learning rate"
    assert len(ax.lines) == 1 + 3  # one curve, a dotted line at each of the 3 inner epoch ends
    assert fig.number not in plt.get_fignums()
