import numpy as np
import pytest
from matplotlib.figure import Figure

from course_utils import inspect, plots
from course_utils.data import CLASS_NAMES


def test_plot_history_from_dict_and_history_object():
    """Does plot_history accept a History or its dict and draw one panel per metric?"""
    hist = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8]}
    fig = plots.plot_history(hist)
    assert isinstance(fig, Figure)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1

    class FakeHistory:
        history = hist

    assert len(plots.plot_history(FakeHistory(), metrics=["loss"]).axes) == 1


def test_plot_history_names_missing_metric():
    """Does asking for an unknown metric list the available ones?"""
    with pytest.raises(KeyError, match="available"):
        plots.plot_history({"loss": [1.0]}, metrics=["acc"])


def test_plot_images_titles_and_marks_mistakes():
    """Does plot_images title each image and colour wrong predictions red?"""
    images = np.random.default_rng(0).integers(0, 255, (5, 28, 28), dtype=np.uint8)
    fig = plots.plot_images(
        images,
        labels=[0, 1, 2, 3, 4],
        class_names=CLASS_NAMES,
        predictions=[0, 1, 9, 3, 4],
        ncols=3,
    )
    assert isinstance(fig, Figure)
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 5
    assert titled[2].title.get_color() == "red" and "Ankle boot" in titled[2].get_title()


def test_confusion_matrix_counts():
    """Does the confusion matrix count true rows against predicted columns?"""
    m = plots.confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2], num_classes=3)
    assert m.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 2]]
    fig = plots.plot_confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2], ["a", "b", "c"], normalize=True)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "1.00" in texts and len(texts) == 9


def test_layer_table_and_count_params():
    """Does layer_table describe a built model as data, and count_params split by trainability?"""
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="d1"),
            keras.layers.BatchNormalization(name="bn"),
        ]
    )
    rows = inspect.layer_table(model)
    assert [r["name"] for r in rows] == ["d1", "bn"]
    assert rows[0]["params"] == 15 and rows[0]["output_shape"] == (None, 3)
    assert inspect.count_params(model) == 15 + 12
    assert inspect.count_params(model, trainable=True) == 15 + 6
    assert inspect.count_params(model, trainable=False) == 6


def test_plot_history_puts_sparse_validation_on_its_own_epochs():
    """After fit(validation_freq=2) over 6 epochs, val_loss holds epochs 2, 4 and 6: the dashed
    curve must sit on those epochs, not on 1, 2 and 3."""
    history = {"loss": [6, 5, 4, 3, 2, 1], "val_loss": [5.5, 3.5, 1.5]}
    fig = plots.plot_history(history)
    val_line = [line for line in fig.axes[0].lines if line.get_label() == "val loss"][0]
    assert list(val_line.get_xdata()) == [2, 4, 6]
    fig = plots.plot_history({"loss": [5, 4, 3, 2, 1], "val_loss": [3.0]}, validation_freq=3)
    val_line = [line for line in fig.axes[0].lines if line.get_label() == "val loss"][0]
    assert list(val_line.get_xdata()) == [3]


def test_plot_history_asks_for_validation_freq_when_the_lengths_are_ambiguous():
    with pytest.raises(ValueError, match="validation_freq"):
        plots.plot_history({"loss": [5, 4, 3, 2, 1], "val_loss": [3.0]})  # k = 3, 4 or 5
