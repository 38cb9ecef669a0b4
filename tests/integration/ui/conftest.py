"""Qt tests run real windows on the offscreen platform (no display needed).

The platform must be chosen before the first QApplication exists, so it is set
when this conftest is imported; a developer who wants to watch the windows can
export ``QT_QPA_PLATFORM=xcb`` (or run under Xvfb) before starting pytest.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
