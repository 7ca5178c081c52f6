"""Runs side by side: one row per run, for the Explore page's Compare section and ``digits-compare``.

A row comes from the run's ``metrics.json`` (and a latency the caller measured); ``COLUMNS`` names its
fields for people, so the page's table and the script's Markdown table read the same.

    >>> row = comparison_row("runs/lenet5-a", {"architecture": "lenet5", "test_accuracy": 0.99})
    >>> row["run"], row["test_accuracy"], row["parameters"]
    ('lenet5-a', 0.99, None)
"""

from __future__ import annotations

import os
from pathlib import Path

from recognizer.core.units import megabytes

# Row field -> column header, in table order.
COLUMNS = {
    "run": "run",
    "architecture": "architecture",
    "test_accuracy": "MNIST test",
    "pen_holdout_accuracy": "pen hold-out",
    "styled_worst": "styled, worst",
    "parameters": "parameters",
    "size_mb": "size (MB)",
    "training_seconds": "training (s)",
    "latency_ms": "latency (ms)",
}


def _number(value) -> float | None:
    # A hand-edited or damaged metrics file may hold anything: only numbers count.
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def comparison_row(run_dir: str | os.PathLike, metrics: dict, latency_ms: float | None = None) -> dict:
    """A run's row: the fields of ``COLUMNS``; None where the run's metrics do not say."""
    parameters = _number(metrics.get("parameter_count"))
    return {
        "run": Path(run_dir).name,
        "architecture": str(metrics.get("architecture", "?")),
        "test_accuracy": _number(metrics.get("test_accuracy")),
        "pen_holdout_accuracy": _number(metrics.get("pen_holdout_accuracy")),
        "styled_worst": _worst_styled(metrics),
        "parameters": None if parameters is None else int(parameters),
        "size_mb": megabytes(_number(metrics.get("model_file_bytes"))),
        "training_seconds": _number(metrics.get("training_seconds")),
        "latency_ms": latency_ms,
    }


def _worst_styled(metrics: dict) -> float | None:
    """The lowest accuracy over the ways of writing 1, 7 and 0 (``recognizer.data.styles``); None if unmeasured."""
    pen = metrics.get("pen_holdout")
    styled = pen.get("styled") if isinstance(pen, dict) else None
    if not isinstance(styled, dict):
        return None
    found = [_number(v.get("accuracy")) for v in styled.values() if isinstance(v, dict)]
    found = [v for v in found if v is not None]
    return min(found) if found else None


_CELL_FORMATS = {
    "test_accuracy": "{:.2%}",
    "pen_holdout_accuracy": "{:.2%}",
    "styled_worst": "{:.1%}",
    "parameters": "{:,}",
    "size_mb": "{:.1f}",
    "training_seconds": "{:.0f}",
    "latency_ms": "{:.2f}",
}
_TEXT_COLUMNS = {"run", "architecture"}  # left-aligned; numbers right-aligned


def _cell(field: str, value) -> str:
    if value is None:
        return "–"
    return _CELL_FORMATS.get(field, "{}").format(value)


def markdown_table(rows: list[dict]) -> str:
    """The rows as a Markdown table, numbers right-aligned, "–" for what a run does not record."""
    lines = [
        "| " + " | ".join(COLUMNS.values()) + " |",
        "| " + " | ".join("---" if field in _TEXT_COLUMNS else "---:" for field in COLUMNS) + " |",
    ]
    lines += ["| " + " | ".join(_cell(field, row[field]) for field in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)
