"""The networks: pure builders of the digit classifiers and of the strip reader, and their
conversion to TFLite. Imports ``core`` and ``data`` only."""
