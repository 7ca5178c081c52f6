"""Reading what people write: the ``Recognizer`` (digits, numbers, photos), views for unsure
answers, segmenting, the strip reader, teaching and the "Not sure" rule. What the Draw page
needs; it never imports ``evaluation`` or ``training``."""
