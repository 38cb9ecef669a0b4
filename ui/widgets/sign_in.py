"""The sign-in dialog of the station's windows, backed by :mod:`station.store.users`.

Usage::

    users = UserDirectory.connect(url)
    dialog = SignInDialog(users.sign_in, purpose="QA review")
    if dialog.exec() == QDialog.DialogCode.Accepted:
        user = dialog.user          # a SignedInUser

A wrong password, an unknown user or an unreachable database shows its message
inside the dialog; the dialog stays open for another try.
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from station.store.users import SignedInUser
from training.errors import CrasStationError

SignInFunction = Callable[[str, str], SignedInUser]


class SignInDialog(QDialog):
    """User name and password; :attr:`user` is set once the sign-in succeeded.

    Args:
        sign_in: Checks a name and password (e.g. ``UserDirectory.sign_in``) and
            raises a :class:`~training.errors.CrasStationError` when they are wrong.
        purpose: What the person signs in to, shown in the title.
    """

    def __init__(
        self, sign_in: SignInFunction, *, purpose: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._sign_in = sign_in
        self.user: SignedInUser | None = None
        self.setWindowTitle(f"Sign in: {purpose}")
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("user_name")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.error_label = QLabel("")
        self.error_label.setObjectName("sign_in_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b71c1c;")
        form = QFormLayout()
        form.addRow("User name", self.name_edit)
        form.addRow("Password", self.password_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok_button is not None:
            ok_button.setText("Sign in")
        buttons.accepted.connect(self.try_sign_in)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        self.setMinimumWidth(360)

    def try_sign_in(self) -> bool:
        """Check the entered name and password; accept the dialog when they are right."""
        try:
            self.user = self._sign_in(self.name_edit.text(), self.password_edit.text())
        except CrasStationError as error:
            self.user = None
            self.error_label.setText(f"{error.message}. {error.hint}".strip(". "))
            self.password_edit.clear()
            self.password_edit.setFocus()
            return False
        self.error_label.setText("")
        self.accept()
        return True
