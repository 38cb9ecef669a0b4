"""One background thread for the QA window's database calls, so a slow or lost database
never freezes the window.

Calls run in order on a single thread; their results (or errors) come back to
the GUI thread through a queued Qt signal.

Usage::

    worker = DatabaseWorker()
    worker.submit(lambda: session.roll_state(key), on_done=show_roll, on_error=show_error)
    ...
    worker.shutdown()   # waits for the running call, then stops the thread
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class DatabaseWorker(QObject):
    """Runs callables on one background thread and reports back in the GUI thread.

    Signals:
        busy_changed(bool): True while calls are waiting or running.
    """

    busy_changed = pyqtSignal(bool)
    _finished = pyqtSignal(int, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool: ThreadPoolExecutor | None = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="qa-database"
        )
        self._ids = itertools.count()
        self._callbacks: dict[int, tuple[Done, Failed]] = {}
        self._finished.connect(self._deliver)

    @property
    def pending(self) -> int:
        """Calls submitted whose results have not been delivered yet."""
        return len(self._callbacks)

    def submit(self, work: Callable[[], Any], *, on_done: Done, on_error: Failed) -> None:
        """Run ``work()`` on the database thread; then call ``on_done`` or ``on_error`` here."""
        if self._pool is None:
            return  # shut down: the window is closing
        call_id = next(self._ids)
        self._callbacks[call_id] = (on_done, on_error)
        if len(self._callbacks) == 1:
            self.busy_changed.emit(True)
        self._pool.submit(self._run, call_id, work)

    def _run(self, call_id: int, work: Callable[[], Any]) -> None:
        try:
            result = work()
        except Exception as error:  # every error goes to the GUI thread's handler
            self._finished.emit(call_id, None, error)
        else:
            self._finished.emit(call_id, result, None)

    def _deliver(self, call_id: int, result: object, error: object) -> None:
        on_done, on_error = self._callbacks.pop(call_id, (None, None))
        if not self._callbacks:
            self.busy_changed.emit(False)
        if on_done is None or on_error is None or self._pool is None:
            return
        if isinstance(error, BaseException):
            on_error(error)
        else:
            on_done(result)

    def shutdown(self) -> None:
        """Wait for the running call, drop the waiting ones, stop the thread."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._callbacks.clear()
