"""A short circuit breaker per outside service (S3, PostgreSQL, Redis, Twilio), kept in each process.

After ``threshold`` failures in a row the breaker opens: for ``cool_off`` seconds calls to the service fail at once
(``ServiceUnavailable``) instead of every thread waiting out its deadline on a service that is known to be down.
Then one call is let through as a trial: its success closes the breaker, its failure opens it again.

Why the state is per process and not in Redis or PostgreSQL: the breaker decides nothing that must hold across
processes. Every call it refuses would have failed anyway (after its deadline); every call it lets through is
bounded by that same deadline. So a process that has not yet seen the outage (its breaker still closed) only answers
more slowly — within the budget — and never differently. Sharing the state would make every request ask Redis (or
the database) first, adding a dependency, and a round trip, to exactly the moments when dependencies fail; and a
breaker for the database cannot live in the database. Correctness (no photo lost, no orphan, no double effect) rests
on the deadlines, the pending-object records and the transactions, never on the breaker.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class ServiceUnavailable(RuntimeError):
    """An outside service is down (or its breaker is open): the request gets the app's own page for it."""

    def __init__(self, service: str, message: str = ""):
        super().__init__(message or f"{service} is unavailable")
        self.service = service


class Breaker:
    """Opens after ``threshold`` failures in a row, lets one trial through after ``cool_off`` seconds."""

    def __init__(self, service: str, *, threshold: int = 2, cool_off: float = 5.0, clock=time.monotonic):
        self.service = service
        self.threshold = threshold
        self.cool_off = cool_off
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_since: float | None = None

    @property
    def is_open(self) -> bool:
        """True while calls are refused without trying (a trial may be under way)."""
        with self._lock:
            return self._opened_at is not None

    def allow(self) -> bool:
        """May a call go to the service now? Closed: yes. Open: only one trial after the cool-off."""
        with self._lock:
            if self._opened_at is None:
                return True
            now = self._clock()
            if now - self._opened_at < self.cool_off:
                return False
            if self._trial_since is not None and now - self._trial_since < self.cool_off:
                return False  # a trial is out; the others keep failing fast until it reports
            self._trial_since = now
            return True

    def check(self) -> None:
        """Raise ServiceUnavailable unless a call may go to the service now."""
        if not self.allow():
            raise ServiceUnavailable(self.service, f"{self.service}: circuit open (failing fast)")

    def succeeded(self) -> None:
        """The service answered: close the breaker."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failures, self._opened_at, self._trial_since = 0, None, None
        if was_open:
            log.warning("%s answers again: circuit closed", self.service)

    def failed(self) -> None:
        """The service failed (or timed out): count it, and open the breaker at the threshold."""
        with self._lock:
            self._failures += 1
            opening = self._opened_at is None and self._failures >= self.threshold
            if self._opened_at is not None or opening:
                self._opened_at, self._trial_since = self._clock(), None
        if opening:
            log.error("%s failed %s times in a row: circuit open, failing fast for %.0f s", self.service,
                      self.threshold, self.cool_off)
