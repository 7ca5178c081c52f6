"""Measuring a model: metrics, stored test answers, curves, calibration, the held-out writers,
numbers, saliency, latency, the HTML report and run comparison. Never imports ``training``."""
