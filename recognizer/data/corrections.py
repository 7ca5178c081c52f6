"""Corrections people make on the Draw page: the 28x28 input and the right label.

Each correction is its own small ``.npz`` file, written atomically under a unique name, so
concurrent visitors never overwrite each other and a crash never corrupts what is saved. Training
can add them to its data (``load``).

    >>> import numpy as np, tempfile
    >>> store = FeedbackStore(tempfile.mkdtemp())
    >>> _ = store.save(np.zeros((28, 28), np.float32), label=7, predicted=1)
    >>> store.count()
    1
"""

from __future__ import annotations

import datetime as dt
import io
import os
import uuid
from pathlib import Path

import numpy as np

from recognizer.core import paths
from recognizer.core.storage import write_bytes_atomic


def default_feedback_dir() -> Path:
    return paths.user_data_dir() / "corrections"


class FeedbackStore:
    """A folder of corrections (one ``.npz`` per correction)."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder) if folder is not None else default_feedback_dir()

    def save(self, image: np.ndarray, label: int, predicted: int | None = None, source: str = "draw") -> Path:
        """Store one correction; ``image`` is the 28x28 model input (float 0..1 or uint8)."""
        image = np.asarray(image)
        if image.shape != (28, 28):
            raise ValueError(f"a correction is a 28x28 image, got shape {image.shape}")
        if not 0 <= int(label) <= 9:
            raise ValueError(f"label must be a digit 0..9, got {label}")
        if image.dtype != np.uint8:
            image = np.clip(np.round(image.astype(np.float32) * 255), 0, 255).astype(np.uint8)
        now = dt.datetime.now(dt.UTC)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            image=image,
            label=np.uint8(label),
            predicted=np.int16(-1 if predicted is None else predicted),
            created=np.str_(now.isoformat(timespec="seconds")),
            source=np.str_(source),
        )
        path = self.folder / f"{now:%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}-{int(label)}.npz"
        write_bytes_atomic(path, buffer.getvalue())
        return path

    def files(self) -> list[Path]:
        # Temp files of writes in progress start with a dot and end in .tmp: not matched here.
        return sorted(self.folder.glob("[0-9]*.npz")) if self.folder.is_dir() else []

    def count(self) -> int:
        return len(self.files())

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """All corrections as (uint8 (N,28,28), labels (N,)); unreadable files are skipped."""
        images, labels = [], []
        for path in self.files():
            try:
                with np.load(path) as data:
                    images.append(data["image"])
                    labels.append(int(data["label"]))
            except (OSError, ValueError, KeyError):
                continue
        if not images:
            return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
        return np.stack(images), np.array(labels, np.int64)
