"""Harnesses that measure the product: the benchmark (``digits-benchmark``), the load test
(``digits-load-test``), pen timing in a real browser and training speed. Nothing in
``recognizer`` imports them."""
