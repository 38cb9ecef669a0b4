"""Signing in at the operator window: the QA window's dialog on the store's users table.

The dialog is opened without blocking (the live view goes on behind it);
:attr:`SignInFlow.signed_in` carries the user once name and password are right.
"""

from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QWidget

from station.store.users import UserDirectory
from ui.operator.session import message_of
from ui.widgets.sign_in import SignInDialog


class SignInFlow(QObject):
    """One sign-in at a time against the database at ``url``.

    Args:
        url: The store's database URL (its ``users`` table).
        connect_timeout_s: How long to wait for the database.
        parent: The window the dialog belongs to.
    """

    signed_in = pyqtSignal(object)  # station.store.users.SignedInUser

    def __init__(self, url: str, *, connect_timeout_s: float, parent: QWidget) -> None:
        super().__init__(parent)
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self.window = parent
        self.dialog: SignInDialog | None = None
        self._directory: UserDirectory | None = None

    def open(self) -> str:
        """Open the dialog; returns "" or why it cannot be opened (for the status line)."""
        if self.dialog is not None:
            return "a sign-in is already open"
        try:
            self._directory = UserDirectory.connect(
                self.url, connect_timeout_s=self.connect_timeout_s
            )
        except Exception as error:
            return f"Sign-in needs the database: {message_of(error)}"
        self.dialog = SignInDialog(
            self._directory.sign_in, purpose="operator window", parent=self.window
        )
        self.dialog.finished.connect(self._finished)
        self.dialog.open()
        return ""

    def _finished(self, _result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if self._directory is not None:
            self._directory.close()
            self._directory = None
        if dialog is not None and dialog.user is not None:
            self.signed_in.emit(dialog.user)
