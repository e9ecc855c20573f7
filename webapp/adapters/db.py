"""The database: one engine per app, one session per request, committed once by the view."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from confirm.services.outbox import PUBLIC_BASE_URL
from confirm.unit_of_work import discard


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def init_app(app: Flask) -> None:
    """Create the engine and close each request's session at teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    # Links in messages start with the public address (confirm.services.outbox.public_url).
    info = {PUBLIC_BASE_URL: app.config.get("PUBLIC_BASE_URL", "")}
    app.extensions["db_sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False, info=info)
    app.teardown_appcontext(_close_session)


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions["db_engine"]


def session() -> Session:
    """The session of the current request (created on first use)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    end_request_session()


def end_request_session() -> None:
    """Close the request's session now (as teardown would): what was not committed is rolled back and undone."""
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()  # anything not committed is rolled back here
        discard(db_session)  # and what was written for it outside the database is undone
