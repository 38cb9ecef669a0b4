"""Recording good fabric from the station's source into a training set (``station capture``).

:func:`capture_request` checks the options and loads ``station.yaml``;
:func:`capture_good_fabric` records the strips and the manifest.
"""

from station.capture.manifest import MANIFEST_FILE, CaptureOutputError
from station.capture.request import CaptureRequest, capture_request
from station.capture.session import CaptureResult, capture_good_fabric

__all__ = [
    "MANIFEST_FILE",
    "CaptureOutputError",
    "CaptureRequest",
    "CaptureResult",
    "capture_good_fabric",
    "capture_request",
]
