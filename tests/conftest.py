"""Shared fixtures: a fresh migrated database per test (SQLite file or a PostgreSQL schema), the app,
its client and CLI runner, and a login helper.

The database comes from TEST_DATABASE_URL (default: SQLite). The schema is built once per run by the
real Alembic migrations, then each test gets a clean copy (SQLite) or emptied tables (PostgreSQL).
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from alembic import command
from flask.testing import FlaskClient
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.orm import Session

from webapp import create_app
from webapp.cli.database import alembic_config

pytest_plugins = ["tests.s3server"]  # the S3 test server (SeaweedFS) and the storage fixtures

TEST_SECRET = "test-secret-key-0123456789abcdef0123456789abcdef"
BASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _is_postgres() -> bool:
    return BASE_URL.startswith("postgresql")


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Run the migrations once: a template SQLite file, or a private PostgreSQL schema."""
    if _is_postgres():
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(BASE_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in BASE_URL else "?"
        url = f"{BASE_URL}{sep}options=-csearch_path%3D{schema}"
        command.upgrade(alembic_config(url), "head")
        yield url
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "template.sqlite3"
        command.upgrade(alembic_config(f"sqlite:///{path}"), "head")
        yield path


@pytest.fixture
def db_url(database_template, tmp_path) -> str:
    """A clean, fully migrated database for this test."""
    if _is_postgres():
        engine = create_engine(database_template)
        tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        engine.dispose()
        return database_template
    target = tmp_path / "test.sqlite3"
    shutil.copyfile(database_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def session(db_url):
    """A plain SQLAlchemy session for domain-level tests (no Flask)."""
    from webapp.adapters.db import make_engine

    engine = make_engine(db_url)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


@pytest.fixture
def key() -> bytes:
    """The key used for code hashes in domain tests."""
    return b"k" * 32


def test_app_config(db_url: str, tmp_path, **overrides) -> dict:
    """The configuration of every test app: the test database, local storage in a temp dir, the SMS outbox."""
    return {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": db_url,
        "STORAGE_URL": f"file://{tmp_path / 'storage'}",
        "SMS_BACKEND": "memory",
        "WTF_CSRF_ENABLED": False,
        **overrides,
    }


test_app_config.__test__ = False  # a helper, not a test


class ClosingClient(FlaskClient):
    """The test client as a real server uses the app: every response is read to its end and closed, so what the app
    does after the response (sending the outbox, jobs without Redis) has happened when the request returns."""

    def open(self, *args, buffered: bool = True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


@pytest.fixture
def app(db_url, tmp_path):
    """The app on the test database, local storage in a temp dir and the in-memory SMS outbox."""
    app = create_app(test_app_config(db_url, tmp_path))
    app.test_client_class = ClosingClient
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def outbox(app) -> list[tuple[str, str]]:
    """Every SMS the app sent, as (phone, text)."""
    return app.extensions["notifier"].outbox


@pytest.fixture
def db(app):
    """A session bound to the app's database, for arranging and checking rows in web tests."""
    with Session(app.extensions["db_engine"], expire_on_commit=False) as s:
        yield s


class Auth:
    """Logs the test client in and out."""

    def __init__(self, client):
        self.client = client

    def login(self, login: str, password: str):
        return self.client.post("/login", data={"login": login, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


def pytest_report_header(config):
    return f"database: {'PostgreSQL' if _is_postgres() else 'SQLite'}"
