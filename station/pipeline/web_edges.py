"""Web-edge detection of the station: the rule lives in :mod:`training.data.web_span`.

Training tiles its images across the same span, so it is defined once, there.
"""

from training.public import WebSpan, fabric_columns, find_web_span

__all__ = ["WebSpan", "fabric_columns", "find_web_span"]
