"""Signed-in sessions of an account: which are open, and ending them.

An account's sessions end together when its nonce changes (every session carries the nonce it signed in with);
one session ends when its row goes. The web layer keeps the rows (``WebSession``); this module decides.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from confirm.models import ParentAccount, StaffUser, WebSession, utcnow
from confirm.security import new_nonce
from confirm.services.common import Actor, audit

Account = ParentAccount | StaffUser


def kind_of(account: Account) -> str:
    return "parent" if isinstance(account, ParentAccount) else "staff"


def end_all_sessions(account: Account) -> None:
    """Every session of ``account`` ends at its next request (and lapsed rows are removed with the next cleanup)."""
    account.session_nonce = new_nonce()


def active_sessions(session: Session, account: Account, *, now: datetime | None = None) -> list[WebSession]:
    """The account's open sessions, most recently used first."""
    now = now or utcnow()
    return list(session.scalars(
        select(WebSession)
        .where(WebSession.account_kind == kind_of(account), WebSession.account_id == account.id,
               WebSession.account_nonce == account.session_nonce, WebSession.expires_at > now)
        .order_by(WebSession.last_seen_at.desc())))


def end_session(session: Session, account: Account, session_id: str, *, actor: Actor) -> bool:
    """End one of the account's sessions (by its stored id); False when it is not one of them."""
    ended = session.execute(delete(WebSession).where(
        WebSession.id == session_id, WebSession.account_kind == kind_of(account),
        WebSession.account_id == account.id)).rowcount
    if ended:
        audit(session, actor, "session.ended", school_id=getattr(account, "school_id", None), target=account)
    return bool(ended)


def sign_out_everywhere(session: Session, account: Account, *, actor: Actor) -> None:
    """End every session of the account (the caller signs this browser in again on a new nonce if it stays)."""
    end_all_sessions(account)
    session.execute(delete(WebSession).where(WebSession.account_kind == kind_of(account),
                                             WebSession.account_id == account.id))
    audit(session, actor, "session.ended_everywhere", school_id=getattr(account, "school_id", None), target=account)
    session.flush()
