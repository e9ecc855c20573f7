"""Server-side sessions (Flask-Session): the cookie carries a random id, the session is a row of ``web_sessions``.

A copied cookie is worth nothing once the row is gone: logout deletes it, and a changed account nonce (password
change or reset, sign-out everywhere, deactivation) makes every row of the account refuse its user. Rows lapse
after an idle time (30 minutes for staff, 2 hours for parents and visitors) and at the latest 12 hours after
sign-in; the id changes at sign-in and at step-up. Only the SHA-256 of the id is stored.

The store is the database the app already runs on (PostgreSQL in production): read in the request's own transaction
(its first statement, on the request's one pooled connection), written in short transactions of their own. If it
cannot be reached the request gets a 503 page — never a session kept in a cookie.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask, current_app, g, request, session
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from confirm.models import WebSession, utcnow
from webapp.adapters.breaker import ServiceUnavailable

log = logging.getLogger(__name__)

IDLE = {"staff": timedelta(minutes=30), "parent": timedelta(hours=2), None: timedelta(hours=2)}
LIFETIME = timedelta(hours=12)
# How often an unchanged session's row is touched to record activity; the idle limit gets this much slack, so a
# session never ends sooner than its idle time after the last request, and at most this much later.
TOUCH_EVERY = timedelta(seconds=60)
# How long a session's old id still opens what it held before the id changed (the second tap of a double tap).
RETIRED_FOR = timedelta(seconds=30)

AccountOf = Callable[[dict], "tuple[str, int, str] | None"]


class UnsavedSession(ServerSideSession):
    """An empty session that is never stored: for the probes and static files, which must not need the database."""


class UnavailableSession(UnsavedSession):
    """The session of a request whose store could not be read: empty, never saved, answered with a 503 page."""


# Requests that never read or write a session (the probes answer while the database is down; static files are
# fetched many times per page).
WITHOUT_SESSION = ("/healthz", "/readyz", "/static/")


class DatabaseSessions(ServerSideSessionInterface):
    """Flask-Session's server-side interface with the app's own database as the store."""

    ttl = False  # rows carry expires_at; `flask session_cleanup` (or the retention command) deletes lapsed ones

    def __init__(self, app: Flask, account_of: AccountOf):
        super().__init__(app, key_prefix="", use_signer=False, permanent=True, sid_length=32,
                         serialization_format="msgpack", cleanup_n_requests=None)
        self.account_of = account_of

    # -- storage ids and the times of the row read in this request

    def _get_store_id(self, sid: str) -> str:
        return _hash(sid)

    @staticmethod
    def _times() -> dict[str, tuple[datetime, datetime]]:
        return g.setdefault("web_session_times", {})

    # -- Flask's hooks

    def open_session(self, app: Flask, request) -> ServerSideSession:
        if request.path.startswith(WITHOUT_SESSION):
            return UnsavedSession(sid=None)
        try:
            return super().open_session(app, request)
        except (SQLAlchemyError, ServiceUnavailable) as error:  # the store is the database: its outage
            log.error("session store unavailable: %s", type(error).__name__)
            return UnavailableSession(sid=None)

    def save_session(self, app: Flask, session: ServerSideSession, response) -> None:
        if isinstance(session, UnsavedSession):
            return
        from webapp.adapters import db

        db.end_request_session()  # the response is built: release the request's transaction before writing here
        try:
            super().save_session(app, session, response)
        except (SQLAlchemyError, ServiceUnavailable) as error:  # the page is answered; the next request says so
            log.error("session not saved: %s", type(error).__name__)

    def should_set_storage(self, app: Flask, session: ServerSideSession) -> bool:
        if session.modified:
            return True
        times = self._times().get(self._get_store_id(session.sid))
        return times is not None and utcnow() - times[1] >= TOUCH_EVERY

    def regenerate(self, session: ServerSideSession, *, keep_age: bool = False) -> None:
        """A new id for ``session``; ``keep_age`` keeps the absolute limit running.

        The old row keeps what it held (before this request's changes) for a few seconds more, so the second tap
        of a double tap — sent with the old cookie — is still known as this browser's (the repeat guard then gives
        it the first tap's answer on an id of its own). It never gains what the new id has.
        """
        now = utcnow()
        old_id = self._get_store_id(session.sid) if session.sid else None
        old = self._times().get(old_id) if old_id else None
        if old_id:
            with _engine().begin() as connection:
                connection.execute(update(WebSession).where(WebSession.id == old_id,
                                                            WebSession.expires_at > now + RETIRED_FOR)
                                   .values(expires_at=now + RETIRED_FOR))
        session.sid = self._generate_sid(self.sid_length)
        session.modified = True
        if keep_age and old is not None:
            self._times()[self._get_store_id(session.sid)] = (old[0], now)

    # -- the store

    def _retrieve_session_data(self, store_id: str) -> dict | None:
        # Read as the first statement of the request's own transaction (a plain SELECT takes no lock): one pooled
        # connection, one pre-ping and one transaction per request instead of two. Writes keep transactions of
        # their own, since they must last whatever the request's transaction does. (Core, not the ORM: no objects.)
        from webapp.adapters import db

        now = utcnow()
        row = db.session().connection().execute(_READ, {"id": store_id}).first()
        if row is None:
            return None
        if row.expires_at <= now:
            with _engine().begin() as connection:
                connection.execute(delete(WebSession).where(WebSession.id == store_id))
            return None
        self._times()[store_id] = (row.created_at, row.last_seen_at)
        return self.serializer.decode(row.data)

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> None:
        now = utcnow()
        created_at = self._times().get(store_id, (now, now))[0]
        account = self.account_of(dict(session))
        kind, account_id, nonce = account if account else (None, None, None)
        expires_at = min(created_at + LIFETIME, now + IDLE[kind] + TOUCH_EVERY)
        values = {"data": self.serializer.encode(session), "account_kind": kind, "account_id": account_id,
                  "account_nonce": nonce, "last_seen_at": now, "expires_at": expires_at}
        engine = _engine()
        insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert
        statement = insert(WebSession).values(id=store_id, created_at=created_at, device=_device(),
                                              ip=request.remote_addr, **values)
        with engine.begin() as connection:
            connection.execute(statement.on_conflict_do_update(index_elements=[WebSession.id], set_=values))
        self._times()[store_id] = (created_at, now)

    def _delete_session(self, store_id: str) -> None:
        with _engine().begin() as connection:
            connection.execute(delete(WebSession).where(WebSession.id == store_id))
        self._times().pop(store_id, None)

    def _delete_expired_sessions(self) -> None:
        with _engine().begin() as connection:
            connection.execute(delete(WebSession).where(WebSession.expires_at <= utcnow()))


_READ = select(WebSession.data, WebSession.created_at, WebSession.last_seen_at, WebSession.expires_at).where(
    WebSession.id == bindparam("id"))


def _engine():
    return current_app.extensions["db_engine"]


def _device() -> str:
    """What the sessions page calls this browser, e.g. "微信 · Android" or "Chrome · Windows"."""
    from ua_parser import parse

    agent = request.user_agent.string or ""
    if not agent:
        return ""
    parsed = parse(agent[:500])
    browser = "微信" if "MicroMessenger" in agent else (parsed.user_agent.family if parsed.user_agent else "")
    system = parsed.os.family if parsed.os else ""
    return " · ".join(part for part in (browser, system) if part and part != "Other")[:120]


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def store_id_of(current) -> str | None:
    """The stored id (hash) of the session ``current`` (None for a session the store could not give)."""
    return _hash(current.sid) if getattr(current, "sid", None) else None


def rotate(*, keep_age: bool = False) -> None:
    """Give the current session a new id (at sign-in; ``keep_age`` at step-up, where the 12 hours keep running)."""
    current_app.session_interface.regenerate(session, keep_age=keep_age)


def refuse_when_unavailable():
    """Before every request: a request whose session store could not be read gets the 503 page."""
    if isinstance(session, UnavailableSession):
        raise ServiceUnavailable("database", "the session store could not be read")


def init_app(app: Flask, account_of: AccountOf) -> None:
    """Keep sessions in the database; ``account_of`` names the account a session's data is signed in as."""
    app.config.setdefault("SESSION_REFRESH_EACH_REQUEST", False)  # the cookie changes only with its id
    app.session_interface = DatabaseSessions(app, account_of)
    app.before_request(refuse_when_unavailable)
