"""The database: one engine per app, one session per request, committed once by the view.

PostgreSQL is reached with deadlines that fit a page's budget (3 s): 2 s to connect (libpq's smallest), 2 s to wait
for a pooled connection, a statement timeout (DATABASE_STATEMENT_TIMEOUT, 2.5 s) and a lock timeout, and TCP timeouts
so that a database host that vanished mid-query is noticed in seconds, not minutes. A breaker (see
``webapp.adapters.breaker``) opens after connections fail twice in a row: new connections are then refused at once
(DatabaseUnavailable) until a trial succeeds, so a database outage answers every page right away with the app's own
page.
"""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import create_engine, event, exc, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from confirm.services.outbox import PUBLIC_BASE_URL
from confirm.unit_of_work import discard
from webapp.adapters.breaker import Breaker, ServiceUnavailable
from webapp.config import DEVELOPMENT_ADDRESS

SERVICE = "database"
CONNECT_TIMEOUT = 2  # seconds; libpq does not wait less than 2
POOL_TIMEOUT = 2  # seconds to wait for a free pooled connection


class DatabaseUnavailable(ServiceUnavailable):
    """The database's breaker is open: no connection is tried."""

    def __init__(self, message: str = ""):
        super().__init__(SERVICE, message)


def is_database_outage(error: BaseException) -> bool:
    """True for errors that mean the database cannot be reached (not a bug in a query)."""
    if isinstance(error, DatabaseUnavailable | exc.TimeoutError | exc.InterfaceError):
        return True
    if isinstance(error, exc.DBAPIError):
        return bool(error.connection_invalidated) or isinstance(error, exc.OperationalError)
    return False


def make_engine(url: str, *, statement_timeout: float = 2.5, breaker: Breaker | None = None) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout; PostgreSQL gets the deadlines above
    and, with ``breaker``, fails fast while the database is known to be down. Errors and logs never carry a
    statement's parameters (``hide_parameters``): they hold phones, ID numbers, password hashes and session nonces."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    connect_args = {"connect_timeout": CONNECT_TIMEOUT, "tcp_user_timeout": 3000, "keepalives": 1,
                    "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 2}
    if statement_timeout:
        ms = int(statement_timeout * 1000)
        given = make_url(url).query.get("options", "")  # e.g. a search_path: kept, the timeouts added
        connect_args["options"] = " ".join(filter(None, [*([given] if isinstance(given, str) else given),
                                                         f"-c statement_timeout={ms} -c lock_timeout={ms}"]))
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_timeout=POOL_TIMEOUT,
                           connect_args=connect_args, hide_parameters=True)
    if breaker is not None:
        watch(engine, breaker)
    return engine


def watch(engine: Engine, breaker: Breaker) -> None:
    """Count failed connections against ``breaker`` and refuse new ones at once while it is open."""

    @event.listens_for(engine, "do_connect")
    def _fail_fast(_dialect, _record, _cargs, _cparams):
        if not breaker.allow():
            raise DatabaseUnavailable("database: circuit open (failing fast)")

    @event.listens_for(engine, "connect")
    def _connected(_dbapi_connection, _record):
        breaker.succeeded()

    @event.listens_for(engine, "handle_error")
    def _count(context):
        if context.is_pre_ping:  # a dead pooled connection found before use: the pool simply reconnects
            return
        if context.is_disconnect or context.connection is None:  # lost, or could not connect at all
            breaker.failed()


def init_app(app: Flask) -> None:
    """Create the engine and close each request's session at teardown."""
    breaker = Breaker(SERVICE, cool_off=app.config["BREAKER_COOL_OFF"])
    app.extensions["db_breaker"] = breaker
    engine = make_engine(app.config["DATABASE_URL"], statement_timeout=app.config["DATABASE_STATEMENT_TIMEOUT"],
                         breaker=breaker)
    app.extensions["db_engine"] = engine
    # Links in messages start with the public address (confirm.services.outbox.public_url).
    info = {PUBLIC_BASE_URL: app.config.get("PUBLIC_BASE_URL") or DEVELOPMENT_ADDRESS}
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False, info=info)
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["db_engine"]


def session() -> Session:
    """The session of the current request (created on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
        if has_request_context():  # PUBLIC_BASE_URL, or in development the address this request came to
            g.db_session.info[PUBLIC_BASE_URL] = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    end_request_session()


def end_request_session() -> None:
    """Close the request's session now (as teardown would): what was not committed is rolled back and undone."""
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()  # anything not committed is rolled back here
        discard(db_session)  # and what was written for it outside the database is undone
