"""The data: MNIST, pen-written strokes and their canvas renderings, writing styles, composed
numbers, "not a digit" examples and saved corrections. Imports only ``core``."""
