"""PyQt6 applications: operator live view and QA review. The only package that imports Qt.

The whole package is the ``ui`` extra. Its modules import Qt at the top, so the
check is made once, here, before any of them loads: without Qt the windows
stop with one line saying what to install instead of a traceback.
"""

try:
    import PyQt6.QtWidgets  # noqa: F401  (loads Qt's own libraries too)
    import pyqtgraph  # noqa: F401  (after PyQt6, so that it binds to PyQt6)
except ImportError as error:
    raise SystemExit(
        f"error: the station's windows cannot load Qt ({error})\n"
        "  what to do: pip install 'cras-station[ui]'; on Debian also apt-get install "
        "libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0"
    ) from None
