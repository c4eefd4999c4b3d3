"""Chapter 07 diagrams: do they draw what the notebook's prose says, in English text only?"""

import io
import warnings

from matplotlib.figure import Figure

from course_utils.diagrams import ch07


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


def render(fig: Figure) -> None:
    """Draw the figure to PNG, failing on any warning (a missing glyph among them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png", dpi=40)


def test_fit_loop_marks_train_step_and_test_step_as_yours():
    """Are exactly the train_step and test_step boxes yellow, in the order fit() runs them?"""
    fig = ch07.draw_fit_loop()
    boxes = fig.axes[0].patches
    assert len(boxes) == len(ch07.FIT_LOOP)
    yellow = [text for text, color in ch07.FIT_LOOP if color == ch07.YOURS]
    assert ["train_step" in yellow[0], "test_step" in yellow[1]] == [True, True]
    shown = texts(fig)
    assert [t for t in shown if t in {text for text, _ in ch07.FIT_LOOP}] == [
        text for text, _ in ch07.FIT_LOOP
    ]
    assert "next batch" in shown
    render(fig)


def test_distillation_diagram_names_both_terms_and_the_frozen_teacher():
    """Does the data flow show a frozen teacher, the two loss terms and gradients to the
    student only?"""
    shown = "\n".join(texts(ch07.draw_distillation()))
    for part in ("frozen, no gradient", "KL(", "* T^2", "crossentropy(y, s)", "student only"):
        assert part in shown, part
    render(ch07.draw_distillation())


def test_results_plot_shows_each_accuracy_and_curve():
    """One bar per model labelled with its accuracy, one validation curve per student?"""
    accuracies = {"teacher": 0.88, "student alone": 0.81, "distilled student": 0.815}
    curves = {"student alone": [0.7, 0.75, 0.8], "distilled student": [0.72, 0.77, 0.81]}
    fig = ch07.plot_distillation_results(accuracies, curves)
    bars, lines = fig.axes[0], fig.axes[1]
    assert [round(p.get_height(), 3) for p in bars.patches] == [0.88, 0.81, 0.815]
    assert {"0.880", "0.810", "0.815"} <= set(texts(fig))
    assert [list(line.get_ydata()) for line in lines.get_lines()] == list(curves.values())
    render(fig)


def test_diagram_text_is_english():
    """Is all plot text ASCII (English on purpose: no CJK font on Colab or CI)?"""
    figs = [
        ch07.draw_fit_loop(),
        ch07.draw_distillation(),
        ch07.plot_distillation_results({"a": 0.5}, {"a": [0.5]}),
    ]
    for fig in figs:
        for text in texts(fig):
            assert text.isascii(), text
