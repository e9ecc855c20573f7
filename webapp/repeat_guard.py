"""Every state-changing form is safe to send twice: a double tap, a browser retry, or back-and-resubmit has the effect
of one submission, and the second request gets the first one's answer.

One mechanism for every form: each POST form carries a one-time token (``once_token()`` in the template; scripts
that send one request per photo give each its own). The first request with a token claims it — one row of
``repeat_guards``, inserted and committed at once, so every process sees it. When the request's use case commits,
the claim is marked in that same transaction; when it answers, the answer is kept — status, redirect, flashed
messages, the session and the body — encrypted with a key derived from the token (stored only as a keyed hash), for
a few minutes. A request that arrives with a claimed token then:

* replays the kept answer (the same page, the same login, the same one-time messages) — never a second effect;
* while the first is still at work, gets a short page that follows it (``/repeat/<token>``, no JavaScript needed);
* if the first committed but died before answering, or its answer was too big to keep, gets "already submitted".

A first request that fails with a server error before committing lets its token go: the form can simply be sent again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import delete, event, update
from sqlalchemy.exc import IntegrityError

from confirm.models import RepeatGuard, utcnow
from confirm.security import keyed_hash
from confirm.states import REPEAT_MOVES, RepeatState, move
from webapp.adapters import db

FIELD = "_once"
KEEP_FOR = timedelta(minutes=10)
PATIENCE = timedelta(seconds=60)  # a first request still running after this is taken for dead (nothing committed)
MAX_BODY = 4 * 1024 * 1024  # a larger answer (a big PDF) is not kept: its repeat says "already submitted"
KEPT_HEADERS = ("Location", "Content-Type", "Content-Disposition", "Cache-Control", "Content-Security-Policy")
_OWNER = "_repeat_owner"
log = logging.getLogger(__name__)

bp = Blueprint("repeat", __name__)


def once_token() -> Markup:
    """The hidden field every POST form carries: a fresh one-time token. (Rendering it also gives an anonymous
    browser its owner id in the session, so both taps of a double tap are known as the same browser's.)"""
    if not current_user.is_authenticated:  # an anonymous browser's owner id, for the taps of a double tap
        session.setdefault(_OWNER, secrets.token_hex(12))
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, secrets.token_urlsafe(18))


def init_app(app: Flask) -> None:
    """Guard every POST that carries a token; offer ``once_token()`` to the templates."""
    app.extensions["repeat_key"] = hashlib.sha256(b"repeat-guard:" + app.config["SECRET_KEY"].encode()).digest()
    app.jinja_env.globals["once_token"] = once_token
    app.before_request(_claim)
    app.after_request(_keep_answer)
    app.register_blueprint(bp)


def _key(token: str) -> str:
    return keyed_hash(current_app.extensions["repeat_key"], "token:" + token)


def _owner() -> str:
    """Who sent the form: the account when signed in, else this browser's session (e.g. registration)."""
    if current_user.is_authenticated:
        who = f"{current_user.kind}:{current_user.id}"
    else:
        who = session.get(_OWNER) or session.setdefault(_OWNER, secrets.token_hex(12))
    return keyed_hash(current_app.extensions["repeat_key"], "owner:" + who)


def _cipher(token: str) -> AESGCM:
    return AESGCM(hashlib.sha256(current_app.extensions["repeat_key"] + b"answer:" + token.encode()).digest())


def _seal(token: str, answer: dict[str, Any]) -> bytes:
    nonce = secrets.token_bytes(12)
    return nonce + _cipher(token).encrypt(nonce, json.dumps(answer).encode(), None)


def _unseal(token: str, sealed: bytes) -> dict[str, Any]:
    return json.loads(_cipher(token).decrypt(sealed[:12], sealed[12:], None))


# --- before the view: claim the token, or answer as the first request did -----------------------------------------


def _claim():
    if request.method != "POST" or not request.form.get(FIELD):
        return None
    token = request.form[FIELD][:64]
    key, owner = _key(token), _owner()
    for _attempt in range(3):  # a claim let go or found dead a moment ago is simply claimed again
        now = utcnow()
        with current_app.extensions["db_sessionmaker"]() as s:
            s.execute(delete(RepeatGuard).where(RepeatGuard.expires_at < now))  # old tokens go as new ones come
            s.add(RepeatGuard(key=key, owner=owner, state=RepeatState.RUNNING.value, created_at=now,
                              expires_at=now + KEEP_FOR))
            try:
                s.commit()
            except IntegrityError:
                s.rollback()
                earlier = s.get(RepeatGuard, key)
                if earlier is None:
                    continue
                if earlier.state == RepeatState.RUNNING and now - earlier.created_at > PATIENCE:
                    s.delete(earlier)  # the first request died before its use case committed: nothing happened
                    s.commit()
                    continue
                return _answer_again(token, earlier, owner)
        g.repeat_guard = (key, token)
        event.listen(db.session(), "before_commit", _mark_committed)
        return None
    return _answer_again(token, None, owner)


def _mark_committed(session) -> None:
    """In the use case's own transaction: from now on, this token has had its effect."""
    if session.in_nested_transaction() or "repeat_guard" not in g:  # a savepoint, or the answer is being kept
        return
    key, _token = g.repeat_guard
    session.execute(update(RepeatGuard).where(RepeatGuard.key == key, RepeatGuard.state == RepeatState.RUNNING.value)
                    .values(state=RepeatState.COMMITTED.value))


def _answer_again(token: str, earlier: RepeatGuard | None, owner: str):
    """A repeated token: the first request's answer, a page that waits for it, or "already submitted"."""
    if earlier is not None and earlier.owner == owner:
        if earlier.state == RepeatState.ANSWERED and earlier.answer:
            return _replay(_unseal(token, earlier.answer))
        if _still_at_work(earlier):
            return render_template("errors/repeat_wait.html", url=url_for("repeat.follow", token=token)), 202
    return render_template("errors/repeated.html"), 409


def _still_at_work(row: RepeatGuard) -> bool:
    """A first request that has not answered yet, and not for so long that it must have died."""
    return row.state != RepeatState.ANSWERED and utcnow() - row.created_at <= PATIENCE


def _replay(answer: dict[str, Any]) -> Response:
    if answer["session"] is not None:
        signs_in = answer["session"].get("_user_id") != session.get("_user_id")
        session.clear()
        session.update(answer["session"])
        if signs_in:  # the first answer signed in (or stepped up): this browser's copy gets an id of its own
            from webapp.adapters import sessions

            sessions.rotate(keep_age=True)
    for category, message in answer["flashes"]:
        flash(message, category)
    if answer["body"] is None:
        return Response(render_template("errors/repeated.html"), status=409)
    return Response(base64.b64decode(answer["body"]), status=answer["status"], headers=answer["headers"])


# --- after the view: keep the answer for a repeat ----------------------------------------------------------------


def _keep_answer(response: Response) -> Response:
    guard = g.pop("repeat_guard", None)
    if guard is None:
        return response
    key, token = guard
    try:
        with current_app.extensions["db_sessionmaker"]() as s:
            row = s.get(RepeatGuard, key)
            if row is not None and response.status_code >= 500 and row.state == RepeatState.RUNNING:
                s.delete(row)  # nothing was saved: the same form may simply be sent again
            elif row is not None:
                row.state = move(row.state, RepeatState.ANSWERED, REPEAT_MOVES).value
                row.answer = _seal(token, _answer_of(response))
            s.commit()
    except Exception as exc:
        from webapp.adapters.db import is_database_outage

        if not is_database_outage(exc):
            raise
        # The database went away after the claim: the answer goes out all the same; a repeat of this token finds
        # the claim still running (and, after PATIENCE, taken for dead) or already committed.
        log.warning("repeat guard: could not keep the answer (%s)", type(exc).__name__)
    return response


def _answer_of(response: Response) -> dict[str, Any]:
    """What a repeat must see again. A streamed or very large body (a PDF) is not kept."""
    keep_body = not response.is_streamed and not response.direct_passthrough and \
        (response.content_length or 0) <= MAX_BODY
    return {
        "status": response.status_code,
        "headers": [(name, value) for name, value in response.headers.items() if name in KEPT_HEADERS],
        "body": base64.b64encode(response.get_data()).decode() if keep_body else None,
        "flashes": [list(item) for item in session.get("_flashes", [])],
        "session": {k: v for k, v in session.items() if k != "_flashes"},
    }


# --- the page that follows a first request still at work ----------------------------------------------------------


@bp.get("/repeat/<token>")
def follow(token: str):
    """Where the waiting page goes: the first request's answer once it has one (for the browser that sent it)."""
    with current_app.extensions["db_sessionmaker"]() as s:
        row = s.get(RepeatGuard, _key(token[:64]))
        if row is not None and row.owner == _owner():
            if row.state == RepeatState.ANSWERED and row.answer:
                return _replay(_unseal(token, row.answer))
            if _still_at_work(row):
                return render_template("errors/repeat_wait.html", url=url_for("repeat.follow", token=token)), 202
            if row.state == RepeatState.COMMITTED:
                return render_template("errors/repeated.html"), 409
    flash(_("没有找到这次提交的结果。如果页面上的内容还没有更新，请重新提交"), "warning")
    return redirect(url_for("auth.index"))
