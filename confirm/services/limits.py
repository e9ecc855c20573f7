"""Limits on what can be tried or sent: each one a count kept in the database, changed by one atomic statement.

``spend`` counts one use against a limit for a key and says whether it is still within the limit. It runs in the
caller's transaction (one INSERT … ON CONFLICT DO UPDATE … RETURNING): parallel requests, in any process, queue on
the counter's row, so none can act on a count another is changing — a limit never slips, and an attempt is counted
*before* the guess is compared. A refusal whose count must stay is raised as RecordedRefusal (its transaction is
committed); any other rollback takes the count back with it.

A window starts with its first use and lasts ``per`` (like a Redis INCR that sets its expiry on the first hit).
Keys are keyed hashes, so no phone number or address is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from confirm.models import RateCounter, utcnow
from confirm.security import keyed_hash


@dataclass(frozen=True)
class Limit:
    """At most ``most`` uses per ``per`` for one key of this kind."""

    name: str
    most: int
    per: timedelta


# Sign-in: a login name (platform number, phone or username, whether or not it has an account) from one address;
# the tries of any names from one address (a school's Wi-Fi or a carrier's NAT carries many families, so it is
# generous); and a login name from all addresses together in a short window, counted only for tries an address was
# still allowed — so one address's burst never locks the owner out from elsewhere, and many addresses together do
# so for a minute at a time. A right password gives back what it spent on each: only failures stay counted.
LOGIN_FROM_ADDRESS = Limit("login-address", 5, timedelta(minutes=15))
LOGIN_ADDRESS_ALL = Limit("login-address-all", 50, timedelta(minutes=15))
LOGIN_ANYWHERE = Limit("login-anywhere", 10, timedelta(minutes=1))
# Registration: tries of one registration code (a wrong child's name counts), and of any code from one address or
# from everywhere (unknown codes count too).
CODE_TRIES = Limit("code-tries", 5, timedelta(hours=1))
CODES_FROM_ADDRESS = Limit("codes-address", 30, timedelta(minutes=10))
CODES_ANYWHERE = Limit("codes-anywhere", 600, timedelta(minutes=10))
# SMS codes: to one phone, one a minute and ten a day, in a pool per purpose (what strangers ask for a phone never
# uses up the owner's own step-up); per requester — the address and the browser session — counted first, so a
# requester past its limit spends nothing of the phone's; and per subject (a staff user, a registration code).
SMS_TO_PHONE = Limit("sms-phone", 1, timedelta(seconds=60))
SMS_TO_PHONE_DAILY = Limit("sms-phone-day", 10, timedelta(days=1))
SMS_FROM_ADDRESS = Limit("sms-address", 100, timedelta(hours=1))  # a parents' meeting on the school's Wi-Fi
SMS_FROM_SESSION = Limit("sms-session", 5, timedelta(hours=1))
SMS_PER_SUBJECT_DAILY = Limit("sms-subject-day", 10, timedelta(days=1))
# Reminders and invitations: one per phone per 24 hours; a school's messages per day (the key names the day; the
# budget itself is configured).
OUTREACH_PER_PHONE = Limit("outreach-phone", 1, timedelta(hours=24))
SCHOOL_DAY = Limit("school-day", 0, timedelta(days=1))


@dataclass(frozen=True)
class Spent:
    """A counter after one more use: the count in its window, and when the window ends."""

    count: int
    resets_at: datetime
    limit: Limit

    @property
    def is_within(self) -> bool:
        return self.count <= self.limit.most

    def wait_seconds(self, now: datetime) -> int:
        """Whole seconds until the window ends (at least 1)."""
        return max(1, int((self.resets_at - now).total_seconds()) + 1)


def counter_key(key: bytes, limit: Limit, *parts: object) -> str:
    """The stored key of ``limit`` for ``parts`` (e.g. a login name and an address), hashed under ``key``."""
    return keyed_hash(key, "\x1f".join([limit.name, *(str(p) for p in parts)]))


def spend(session: Session, limit: Limit, *parts: object, key: bytes, now: datetime | None = None,
          amount: int = 1) -> Spent:
    """Count ``amount`` uses (one by default) of ``limit`` for ``parts``, atomically, in the session's transaction."""
    now = now or utcnow()
    cutoff = now - limit.per
    stored = counter_key(key, limit, *parts)
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    table = RateCounter.__table__
    fresh = table.c.started_at <= cutoff
    statement = insert(RateCounter).values(key=stored, started_at=now, count=amount)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"count": case((fresh, amount), else_=table.c.count + amount),
              "started_at": case((fresh, statement.excluded.started_at), else_=table.c.started_at)},
    ).returning(table.c.count, table.c.started_at)
    count, started_at = session.execute(statement).one()
    return Spent(count, started_at + limit.per, limit)


def peek(session: Session, limit: Limit, *parts: object, key: bytes, now: datetime | None = None) -> int:
    """How many uses ``limit`` has counted for ``parts`` in its current window (no use counted)."""
    now = now or utcnow()
    row = session.execute(select(RateCounter.count, RateCounter.started_at)
                          .where(RateCounter.key == counter_key(key, limit, *parts))).first()
    return row.count if row is not None and row.started_at > now - limit.per else 0


def used(session: Session, limit: Limit, values: list[object], *prefix: object, key: bytes,
         now: datetime | None = None) -> set[object]:
    """Those of ``values`` whose counter of ``limit`` (for ``*prefix, value``) has reached its limit now — one query
    for many keys, to show what a burst would skip."""
    now = now or utcnow()
    keys = {counter_key(key, limit, *prefix, value): value for value in values}
    if not keys:
        return set()
    full = session.scalars(select(RateCounter.key).where(
        RateCounter.key.in_(keys), RateCounter.started_at > now - limit.per, RateCounter.count >= limit.most))
    return {keys[k] for k in full}
