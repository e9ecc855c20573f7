"""Shared fixtures: a fresh migrated database per test (SQLite file or a PostgreSQL schema), the app,
its client and CLI runner, and a login helper.

The database comes from TEST_DATABASE_URL (default: SQLite). The schema is built once per run by the
real Alembic migrations, then each test gets a clean copy (SQLite) or emptied tables (PostgreSQL).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

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


@pytest.fixture(scope="session")
def _pg_tables(database_template) -> list[str]:
    """The PostgreSQL schema's tables, parents before children."""
    if not _is_postgres():
        return []
    engine = create_engine(database_template)
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    from confirm.models import Base

    ordered = [t.name for t in Base.metadata.sorted_tables if t.name in names]
    return ordered + sorted(names - set(ordered))


def _truncate(conn, tables: list[str]) -> None:
    """Empty ``tables`` and start their ids again at 1, as in a freshly migrated database.

    Only the tables holding rows are truncated (a TRUNCATE costs ~2 ms a table however small it is, and a test
    touches a few of thirty), and only the sequences that have moved are reset (an insert that was rolled back
    moves one and leaves its table empty)."""
    exists = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables)
    holding = [row[0] for row in conn.execute(text(exists))]
    if holding:
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in holding) + " CASCADE"))
    conn.execute(text("SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences "
                      "WHERE schemaname = current_schema() AND last_value IS NOT NULL"))


@pytest.fixture
def db_url(database_template, _pg_tables, tmp_path) -> str:
    """A clean, fully migrated database for this test."""
    if _is_postgres():
        engine = create_engine(database_template)
        with engine.begin() as conn:
            _truncate(conn, _pg_tables)
        engine.dispose()
        return database_template
    target = tmp_path / "test.sqlite3"
    shutil.copyfile(database_template, target)
    return f"sqlite:///{target}"


@dataclass
class DataSnapshot:
    """Every row of a test database at one moment: a module builds an expensive world once, and each of its tests
    starts from these rows (a copy of the SQLite file; for PostgreSQL, the tables copied back with COPY)."""

    url: str
    sqlite_file: Path | None = None
    tables: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def take(cls, url: str, pg_tables: list[str]) -> DataSnapshot:
        if not _is_postgres():
            return cls(url, sqlite_file=Path(url.removeprefix("sqlite:///")))
        engine = create_engine(url)
        with engine.connect() as conn:
            cursor = conn.connection.cursor()
            tables = {}
            for table in pg_tables:
                with cursor.copy(f'COPY "{table}" TO STDOUT') as copy:
                    tables[table] = b"".join(bytes(chunk) for chunk in copy)
        engine.dispose()
        return cls(url, tables=tables)

    def restore(self, tmp_path: Path) -> str:
        """The rows put back (PostgreSQL) or copied for this test (SQLite); returns the test's database URL."""
        if self.sqlite_file is not None:
            target = tmp_path / "test.sqlite3"
            shutil.copyfile(self.sqlite_file, target)
            return f"sqlite:///{target}"
        engine = create_engine(self.url)
        with engine.begin() as conn:
            _truncate(conn, list(self.tables))
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # rows go back in any order
            cursor = conn.connection.cursor()
            for table, data in self.tables.items():
                if data:
                    with cursor.copy(f'COPY "{table}" FROM STDIN') as copy:
                        copy.write(data)
                    conn.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), MAX(id)) FROM \"{table}\" "
                        "HAVING MAX(id) IS NOT NULL"))
        engine.dispose()
        return self.url


@pytest.fixture(scope="module")
def module_database(database_template, _pg_tables, tmp_path_factory) -> str:
    """A clean database for a module to build its world in once (see DataSnapshot)."""
    if _is_postgres():
        engine = create_engine(database_template)
        with engine.begin() as conn:
            _truncate(conn, _pg_tables)
        engine.dispose()
        return database_template
    target = tmp_path_factory.mktemp("module-db") / "world.sqlite3"
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


@pytest.fixture(scope="session")
def _one_app(tmp_path_factory):
    """One app for the whole run (building its URL map costs ~50 ms): each test rebinds it to its own database,
    storage and SMS outbox, and gets the configuration back as it was built."""
    app = create_app(test_app_config("sqlite://", tmp_path_factory.mktemp("app")))
    app.test_client_class = ClosingClient
    return app, dict(app.config)


@pytest.fixture
def app(_one_app, db_url, tmp_path):
    """The app on the test database, local storage in a temp dir and the in-memory SMS outbox."""
    from webapp.adapters import db, sms, storage
    from webapp.rate_limits import limiter

    app, pristine = _one_app
    app.config.clear()
    app.config.update(pristine, DATABASE_URL=db_url, STORAGE_URL=f"file://{tmp_path / 'storage'}")
    engine = db.make_engine(db_url)
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"].configure(bind=engine)
    storage.init_app(app)
    sms.init_app(app)
    limiter.init_app(app)  # the limiter is one per process: take back its storage from an app a test made itself
    limiter.reset()  # counts in this process's memory: each test starts with none
    yield app
    engine.dispose()


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


# The grep the issue asks for, over every log record of the whole run: an 11-digit mainland mobile number or an
# 18-character ID number (not part of a longer run of digits) must never reach a log handler.
LEAKED_NUMBER = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|\d{17}[\dXx])(?!\d)")


class LeakCatcher(logging.Handler):
    """Installed on the root logger for the whole run: keeps each record whose rendered line (message, arguments,
    traceback) still holds a full phone or ID number."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.seen = 0
        self.leaks: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen += 1
        line = logging.Formatter("%(message)s").format(record)
        if LEAKED_NUMBER.search(line):
            self.leaks.append((record.name, line[:300]))


LEAK_CATCHER = LeakCatcher()


def pytest_configure(config):
    """In a parallel run each worker has a Redis database of its own (tests empty theirs): the test database's
    number counted down by the worker's (gw0: 15, gw1: 14, …); refused when there are not that many below it."""
    from urllib.parse import urlsplit, urlunsplit

    worker = getattr(config, "workerinput", None)
    url = os.environ.get("TEST_REDIS_URL")
    if worker is None or not url:
        return
    parts = urlsplit(url)
    first = int(parts.path.strip("/") or 0)
    if first - (worker["workercount"] - 1) < 1:  # never database 0, where a developer's own data usually is
        raise pytest.UsageError(f"TEST_REDIS_URL {url}: {worker['workercount']} workers need databases "
                                f"{first} down to {first - worker['workercount'] + 1}; use a higher number")
    own = first - int(worker["workerid"].removeprefix("gw"))
    os.environ["TEST_REDIS_URL"] = urlunsplit(parts._replace(path=f"/{own}"))


def pytest_sessionstart(session):
    """Watch every log record of the run (INFO and up; SQLAlchemy keeps its own WARNING level). Installed before
    any app is built: the first ``create_app`` puts its masking filter (webapp.log_masking) on this handler as on
    any handler of the root logger, so what is caught here is what production handlers would write."""
    root = logging.getLogger()
    root.addHandler(LEAK_CATCHER)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The figure of the log check: how many records it saw (in every worker of a parallel run)."""
    terminalreporter.write_line(f"log check: {LEAK_CATCHER.seen} log records, {len(LEAK_CATCHER.leaks)} with a full "
                                "phone or ID number")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """A parallel run (pytest-xdist): a worker's log check is added to this one's when the worker ends."""
    output = getattr(node, "workeroutput", {})
    LEAK_CATCHER.seen += output.get("log_records_seen", 0)
    LEAK_CATCHER.leaks += [tuple(leak) for leak in output.get("log_leaks", [])]


def pytest_sessionfinish(session, exitstatus):
    """Fail the run when any log record held a phone or ID number, naming the logger that wrote it. A worker of a
    parallel run hands its records to the controller, which does the failing."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["log_records_seen"] = LEAK_CATCHER.seen
        workeroutput["log_leaks"] = [list(leak) for leak in LEAK_CATCHER.leaks]
        return
    if not LEAK_CATCHER.leaks:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(LEAK_CATCHER.leaks)} of {LEAK_CATCHER.seen} log records hold a full phone or ID number:"]
    lines += [f"  logger {name!r}: {line}" for name, line in LEAK_CATCHER.leaks[:20]]
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", "personal numbers in the logs", red=True)
        for line in lines:
            reporter.write_line(line)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_report_header(config):
    return f"database: {'PostgreSQL' if _is_postgres() else 'SQLite'}"


# -- engines a test leaves open ------------------------------------------------------------------------------------
# A test that builds an app and fails before disposing its engine leaves pooled connections for the garbage
# collector, whose ResourceWarning (an error here) then lands on whichever later test happens to be running. Every
# engine the app factory makes during a test has its pool closed when the test ends (the engine stays usable).
_ENGINES_OF_THIS_TEST: list = []


def _recording_make_engine(original):
    def make_engine(*args, **kwargs):
        engine = original(*args, **kwargs)
        _ENGINES_OF_THIS_TEST.append(engine)
        return engine
    return make_engine


@pytest.fixture(autouse=True)
def _close_the_engines_a_test_made(monkeypatch):
    from webapp.adapters import db as db_adapter

    monkeypatch.setattr(db_adapter, "make_engine", _recording_make_engine(db_adapter.make_engine))
    yield
    while _ENGINES_OF_THIS_TEST:
        _ENGINES_OF_THIS_TEST.pop().dispose()
