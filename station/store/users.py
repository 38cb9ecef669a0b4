"""Users, roles and local sign-in for the station's windows.

Three roles: an **operator** runs rolls at the frame, **qa** reviews defects,
an **engineer** does both and changes models and thresholds. Passwords are
hashed with scrypt (memory-hard) and a fresh random salt per password; the
parameters travel with the hash (``scrypt$n$r$p$salt$hash``) so they can be
raised later without invalidating older passwords. Sign-in compares in
constant time and answers a wrong password and an unknown user with the same
error, after the same work, so it does not tell which of the two was wrong.

Usage::

    users = UserDirectory(repository.engine)
    users.add_user("anna", role=Role.QA, password="...")
    user = users.sign_in("anna", "...")        # SignInError if wrong
    require_role(user, Role.QA, Role.ENGINEER, to="review defects")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from station.store.engine import is_connection_error, unreachable_error
from station.store.errors import StoreError
from station.store.models import User
from station.store.records import utc_now
from station.store.repository import DefectRepository

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 128
# scrypt cost: 2^15 x 8 x 128 bytes = 32 MiB; one check took 0.2 s on the 2-core dev VM.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
_SCHEME = "scrypt"
T = TypeVar("T")


class Role(StrEnum):
    """What a signed-in person may do."""

    OPERATOR = "operator"  # runs rolls; may view reviews but not review
    QA = "qa"  # reviews defects, grades and exports rolls
    ENGINEER = "engineer"  # reviews too, and changes models and thresholds


class UserError(StoreError):
    """A user cannot be added or changed (bad name, role or password, or a duplicate)."""


class SignInError(StoreError):
    """The user name or password is wrong (deliberately not saying which)."""


class PermissionDeniedError(StoreError):
    """The signed-in user's role does not allow the action."""


@dataclass(frozen=True, slots=True)
class SignedInUser:
    """A user, as the windows see them (never the password hash)."""

    name: str
    role: Role
    created_at: datetime

    @property
    def may_review(self) -> bool:
        return self.role in (Role.QA, Role.ENGINEER)


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, *, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=length,
        maxmem=2 * 128 * n * r * p + 1024 * 1024,
    )


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$hash`` of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, n=n, r=r, p=p, length=HASH_BYTES)
    return f"{_SCHEME}${n}${r}${p}${_encode(salt)}${_encode(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest, validate=True)
        salt_bytes = base64.b64decode(salt, validate=True)
        if scheme != _SCHEME:
            return False
        actual = _scrypt(password, salt_bytes, n=int(n), r=int(r), p=int(p), length=len(expected))
    except (ValueError, TypeError):
        return False  # an unreadable hash matches nothing
    return hmac.compare_digest(actual, expected)


# Checked when the user does not exist, so that answering takes as long as for a wrong password.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        raise UserError(
            f"a user name must be 1 to {MAX_NAME_LENGTH} characters",
            hint="choose a short name such as the person's initials or login",
        )
    if any(c.isspace() for c in name.strip()):
        raise UserError("a user name must not contain spaces", hint="use e.g. anna.berg")
    return name.strip()


def _check_password(password: str) -> None:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= (
        MAX_PASSWORD_LENGTH
    ):
        raise UserError(
            f"a password must be at least {MIN_PASSWORD_LENGTH} characters long",
            hint="choose a longer password (a few words work well)",
        )


def parse_role(text: str) -> Role:
    """A :class:`Role` from its name.

    Raises:
        UserError: no such role.
    """
    try:
        return Role(text.strip().lower())
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise UserError(f"unknown role {text!r}", hint=f"use one of: {names}") from None


def require_role(user: SignedInUser, *roles: Role, to: str) -> None:
    """Raise unless ``user`` has one of ``roles``.

    Raises:
        PermissionDeniedError: naming the action and the roles that may do it.
    """
    if user.role not in roles:
        allowed = " or ".join(role.value for role in roles)
        raise PermissionDeniedError(
            f"{user.name} signed in as {user.role.value} and may not {to}",
            hint=f"sign in as a user with the role {allowed}",
        )


class UserDirectory:
    """The users table of one defect database.

    Args:
        engine: The store's engine (``DefectRepository.engine``).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def connect(cls, url: str, *, connect_timeout_s: float = 5.0) -> UserDirectory:
        """The users of the database at ``url`` (its schema checked); :meth:`close` it after.

        Raises:
            StoreUrlError, DatabaseUnreachableError, SchemaError.
        """
        return cls(DefectRepository.connect(url, connect_timeout_s=connect_timeout_s).engine)

    def close(self) -> None:
        """Close the connection pool."""
        self._engine.dispose()

    def _run(self, work: Callable[[Connection], T]) -> T:
        try:
            with self._engine.begin() as connection:
                return work(connection)
        except SQLAlchemyError as error:
            if is_connection_error(error):
                raise unreachable_error(self._engine.url, error) from None
            raise

    def add_user(self, name: str, *, role: Role | str, password: str) -> SignedInUser:
        """Create a user.

        Raises:
            UserError: bad name, role or password, or the name is taken.
            DatabaseUnreachableError: the database cannot be reached.
        """
        name = _check_name(name)
        role = parse_role(role) if not isinstance(role, Role) else role
        _check_password(password)
        now = utc_now()
        values = {
            "name": name,
            "role": role.value,
            "password_hash": hash_password(password),
            "created_at": now,
            "password_changed_at": now,
        }
        try:
            self._run(lambda connection: connection.execute(insert(User).values(**values)))
        except IntegrityError:
            raise UserError(
                f"a user named {name!r} already exists",
                hint="choose another name, or reset this user's password",
            ) from None
        return SignedInUser(name=name, role=role, created_at=now)

    def reset_password(self, name: str, *, password: str) -> None:
        """Give a user a new password.

        Raises:
            UserError: no such user, or the password is too short.
        """
        _check_password(password)
        statement = (
            update(User)
            .where(User.name == name.strip())
            .values(password_hash=hash_password(password), password_changed_at=utc_now())
        )
        changed = self._run(lambda connection: connection.execute(statement).rowcount)
        if not changed:
            raise UserError(
                f"no user named {name!r}", hint="list the users with `station db user list`"
            )

    def list_users(self) -> list[SignedInUser]:
        """Every user, by name."""
        statement = select(User.name, User.role, User.created_at).order_by(User.name)
        rows = self._run(lambda connection: connection.execute(statement).all())
        return [SignedInUser(name=r.name, role=Role(r.role), created_at=r.created_at) for r in rows]

    def sign_in(self, name: str, password: str) -> SignedInUser:
        """Check a user name and password.

        Raises:
            SignInError: unknown user or wrong password (the same error for both).
            DatabaseUnreachableError: the database cannot be reached.
        """
        statement = select(User.name, User.role, User.created_at, User.password_hash).where(
            User.name == (name or "").strip()
        )
        row = self._run(lambda connection: connection.execute(statement).first())
        matches = verify_password(password or "", row.password_hash if row else _DUMMY_HASH)
        if row is None or not matches:
            raise SignInError(
                "the user name or password is wrong",
                hint="check both and try again; an engineer can reset a forgotten password",
            )
        return SignedInUser(name=row.name, role=Role(row.role), created_at=row.created_at)
