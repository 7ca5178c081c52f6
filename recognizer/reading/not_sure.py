"""TODO docstring."""

from __future__ import annotations

# The page's threshold for a run that was never measured.
DEFAULT_NOT_SURE_BELOW = 0.7


def not_sure_below(metrics: dict) -> float:
    """The page's "Not sure" threshold from a run's ``metrics.json``.

    The measured threshold; 0 (never "Not sure") when it was measured and no threshold kept the
    rule, so the page claims no doubt it cannot back; ``DEFAULT_NOT_SURE_BELOW`` when never measured.
    """
    calibration = metrics.get("calibration") if isinstance(metrics, dict) else None
    if not isinstance(calibration, dict) or "unsure_below" not in calibration:
        return DEFAULT_NOT_SURE_BELOW
    value = calibration["unsure_below"]
    if value is None:
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.0 < value < 1.0:
        return float(value)
    return DEFAULT_NOT_SURE_BELOW
