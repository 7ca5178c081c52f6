"""How the project counts sizes: a megabyte is 10**6 bytes everywhere (pages, report, scripts, downloads).

>>> megabytes(1_482_734)
1.482734
"""

from __future__ import annotations

MB = 1_000_000


def megabytes(n_bytes: float | None) -> float | None:
    """``n_bytes`` in MB (10**6 bytes); None stays None (a size nobody recorded)."""
    return None if n_bytes is None else n_bytes / MB
