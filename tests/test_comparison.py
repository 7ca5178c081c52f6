"""recognizer.evaluation.comparison: a run's row from its metrics, and the Markdown table of digits-compare."""

from recognizer.core.units import megabytes
from recognizer.evaluation.comparison import COLUMNS, comparison_row, markdown_table

METRICS = {
    "architecture": "deepcnn",
    "test_accuracy": 0.996,
    "pen_holdout_accuracy": 0.9893,
    "parameter_count": 346026,
    "model_file_bytes": 1_482_734,
    "training_seconds": 2541.2,
    "pen_holdout": {"styled": {"1 plain": {"accuracy": 0.98}, "1 long flag": {"accuracy": 0.914}}},
}


def test_a_row_holds_the_runs_figures_with_sizes_in_megabytes():
    row = comparison_row("/runs/deepcnn-a", METRICS, latency_ms=1.3)
    assert list(row) == list(COLUMNS)
    assert row["run"] == "deepcnn-a" and row["parameters"] == 346026 and row["latency_ms"] == 1.3
    assert row["size_mb"] == megabytes(1_482_734) == 1.482734


def test_damaged_or_missing_figures_are_none():
    row = comparison_row("old", {"test_accuracy": "oops", "parameter_count": True})
    assert row["test_accuracy"] is None and row["parameters"] is None and row["size_mb"] is None
    assert row["architecture"] == "?"
    damaged = {"pen_holdout": {"styled": {"1 plain": {"accuracy": "x"}, "7 plain": None}}}
    assert comparison_row("old", damaged)["styled_worst"] is None
    assert comparison_row("old", {"pen_holdout": "oops"})["styled_worst"] is None


def test_styled_worst_is_the_lowest_way_of_writing():
    assert comparison_row("a", METRICS)["styled_worst"] == 0.914


def test_markdown_table():
    table = markdown_table([comparison_row("a", METRICS, 1.3), comparison_row("b", {})])
    lines = table.splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS.values()) + " |"
    assert lines[1] == "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    assert lines[2] == "| a | deepcnn | 99.60% | 98.93% | 91.4% | 346,026 | 1.5 | 2541 | 1.30 |"
    assert lines[3] == "| b | ? | – | – | – | – | – | – | – |"
