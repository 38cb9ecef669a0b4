"""Users and roles on SQLite and the real PostgreSQL: scrypt hashes, sign-in, the CLI."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from station.cli import main
from station.store.errors import SchemaOutOfDateError
from station.store.models import User
from station.store.users import (
    PermissionDeniedError,
    Role,
    SignInError,
    UserDirectory,
    UserError,
    hash_password,
    require_role,
    verify_password,
)


@pytest.fixture
def users(migrated_url: str):
    directory = UserDirectory.connect(migrated_url)
    yield directory
    directory.close()


def test_a_user_signs_in_with_the_right_password_only(users: UserDirectory) -> None:
    added = users.add_user("anna", role=Role.QA, password="correct horse")
    assert added.role is Role.QA and added.may_review
    signed_in = users.sign_in("anna", "correct horse")
    assert (signed_in.name, signed_in.role) == ("anna", Role.QA)
    with pytest.raises(SignInError) as wrong_password:
        users.sign_in("anna", "correct horsE")
    with pytest.raises(SignInError) as unknown_user:
        users.sign_in("annie", "correct horse")
    # One message for both, so a caller cannot tell which names exist.
    assert wrong_password.value.message == unknown_user.value.message
    assert "Traceback" not in str(wrong_password.value)


def test_passwords_are_stored_as_salted_scrypt_hashes(users: UserDirectory) -> None:
    users.add_user("bob", role="operator", password="same password")
    users.add_user("carl", role="engineer", password="same password")
    with users._engine.connect() as connection:
        stored = dict(connection.execute(select(User.name, User.password_hash)).all())
    for name in ("bob", "carl"):
        assert "same password" not in stored[name]
        scheme, n, r, _p, salt, _digest = stored[name].split("$")
        assert scheme == "scrypt" and int(n) >= 2**14 and int(r) == 8 and len(salt) >= 16
    assert stored["bob"] != stored["carl"]  # a fresh salt per password
    assert verify_password("same password", stored["bob"])
    assert not verify_password("same password ", stored["bob"])


def test_reset_password_replaces_the_old_one(users: UserDirectory) -> None:
    users.add_user("dora", role=Role.QA, password="first password")
    users.reset_password("dora", password="second password")
    assert users.sign_in("dora", "second password").name == "dora"
    with pytest.raises(SignInError):
        users.sign_in("dora", "first password")
    with pytest.raises(UserError, match="no user named"):
        users.reset_password("nobody", password="second password")


def test_bad_users_are_refused_with_clear_messages(users: UserDirectory) -> None:
    users.add_user("eve", role=Role.QA, password="long enough")
    with pytest.raises(UserError, match="already exists"):
        users.add_user("eve", role=Role.QA, password="long enough")
    with pytest.raises(UserError, match="at least 8"):
        users.add_user("fred", role=Role.QA, password="short")
    with pytest.raises(UserError, match="unknown role") as bad_role:
        users.add_user("fred", role="admin", password="long enough")
    assert "operator, qa, engineer" in bad_role.value.hint
    with pytest.raises(UserError, match="spaces"):
        users.add_user("fred smith", role=Role.QA, password="long enough")
    assert [u.name for u in users.list_users()] == ["eve"]


def test_roles_decide_who_may_review(users: UserDirectory) -> None:
    operator = users.add_user("olga", role=Role.OPERATOR, password="operator pass")
    engineer = users.add_user("emil", role=Role.ENGINEER, password="engineer pass")
    assert not operator.may_review and engineer.may_review
    with pytest.raises(PermissionDeniedError) as denied:
        require_role(operator, Role.QA, Role.ENGINEER, to="review defects")
    assert "olga" in denied.value.message and "qa or engineer" in denied.value.hint
    require_role(engineer, Role.QA, Role.ENGINEER, to="review defects")


def test_hash_parameters_travel_with_the_hash() -> None:
    cheap = hash_password("a password", n=2**10, r=8, p=1)
    assert cheap.split("$")[1] == "1024"
    assert verify_password("a password", cheap)
    assert not verify_password("a password", "scrypt$garbage")


def test_cli_adds_lists_and_resets_users(migrated_url: str, monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a good password\n"))
    assert (
        main(
            ["db", "user", "add", "gina", "--role", "qa", "--url", migrated_url, "--password-stdin"]
        )
        == 0
    )
    assert "added user gina with role qa" in capsys.readouterr().out
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "another password")
    assert main(["db", "user", "reset-password", "gina", "--url", migrated_url]) == 0
    assert main(["db", "user", "list", "--url", migrated_url]) == 0
    assert "gina" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        main(
            ["db", "user", "add", "hans", "--role", "qa", "--url", migrated_url, "--password-stdin"]
        )
        == 2
    )
    assert "at least 8" in capsys.readouterr().err
    users = UserDirectory.connect(migrated_url)
    try:
        assert users.sign_in("gina", "another password").role is Role.QA
    finally:
        users.close()


def test_station_db_upgrade_adds_the_users_table_to_an_older_database(db_url: str, capsys) -> None:
    from sqlalchemy import inspect

    from station.store.engine import create_store_engine
    from station.store.migrate import head_revision, schema_status, upgrade_database

    engine = create_store_engine(db_url, create=True)
    try:
        assert upgrade_database(engine, revision="0001").current == "0001"
        with engine.connect() as connection:
            assert "users" not in inspect(connection).get_table_names()
        assert schema_status(engine).pending[0] == "0002"  # then any later migrations
    finally:
        engine.dispose()
    with pytest.raises(SchemaOutOfDateError, match="pending") as too_old:
        UserDirectory.connect(db_url)
    assert "station db upgrade" in too_old.value.hint
    assert main(["db", "upgrade", "--url", db_url]) == 0
    assert f"migrated from 0001 to {head_revision()}" in capsys.readouterr().out
    users = UserDirectory.connect(db_url)
    try:
        users.add_user("ivan", role=Role.ENGINEER, password="engineer password")
        assert users.sign_in("ivan", "engineer password").role is Role.ENGINEER
    finally:
        users.close()
