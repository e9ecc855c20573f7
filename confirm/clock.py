"""The schools' clock: Beijing time (Asia/Shanghai). Times are stored in UTC; every date a school sees — today, a
deadline's days left, a file's date — and every time it reads is Beijing's, whatever the server's own zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LOCAL_TZ_NAME = "北京时间"  # named in every export header that carries a time


def local_today(now: datetime | None = None) -> date:
    """Today's date in Beijing (at 07:00 there the server's UTC date is still yesterday's)."""
    return (now or datetime.now(UTC)).astimezone(LOCAL_TZ).date()


def local_time(at: datetime | None) -> str:
    """An aware UTC timestamp as Beijing time, "2026-09-08 16:22"; "" for none."""
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if at else ""
