"""SMS backends behind the domain's Notifier port, chosen by SMS_BACKEND. Only the outbox's sender calls them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, current_app

from confirm.i18n import N_, Message
from confirm.services.common import mask_phone
from confirm.services.outbox import SmsError
from webapp.adapters.breaker import Breaker

log = logging.getLogger("webapp.sms")


class ConsoleNotifier:
    """Development backend: writes the message to the log instead of sending it."""

    def send(self, phone: str, text: str) -> str:
        # The development console is the one place a code is shown; the phone is still masked.
        log.warning("SMS to %s: %s", mask_phone(phone), text)
        print(f"[SMS → {mask_phone(phone)}] {text}", flush=True)
        return "console"

    def find_sent(self, phone: str, text: str, since: datetime) -> str | None:
        return None  # nothing went out: printing again is harmless


@dataclass
class MemoryNotifier:
    """Keeps every message in memory; the test suite reads ``outbox``."""

    outbox: list[tuple[str, str]] = field(default_factory=list)

    def send(self, phone: str, text: str) -> str:
        self.outbox.append((phone, text))
        return f"memory-{len(self.outbox)}"

    def find_sent(self, phone: str, text: str, since: datetime) -> str | None:
        found = [i for i, sent in enumerate(self.outbox, 1) if sent == (phone, text)]
        return f"memory-{found[-1]}" if found else None


# Twilio error codes that no retry can fix, with what the teacher reads.
_PERMANENT_CODES = {
    21211: N_("手机号码无效"),
    21214: N_("手机号码无效"),
    21408: N_("短信服务未开通该地区的发送权限"),
    21610: N_("对方已退订短信"),
    21612: N_("无法向该号码发送短信"),
    21614: N_("该号码不是手机号码"),
}


class TwilioNotifier:
    """Sends through Twilio's Messaging API with the official client.

    ``send`` returns Twilio's message id. Failures raise SmsError: rate limits (429) and server errors (5xx)
    are temporary — the caller retries with backoff; a bad number or any other refusal is permanent. A timeout
    after the request left is permanent too: the message may have gone out, so trying again could send it twice.
    """

    def __init__(self, account_sid: str, auth_token: str, from_number: str, http_client=None, timeout: float = 5,
                 api_url: str | None = None, breaker: Breaker | None = None):
        from twilio.rest import Client

        client = http_client or _http_client(timeout, api_url)
        self.client = Client(account_sid, auth_token, http_client=client)
        self.from_number = from_number
        self.breaker = breaker or Breaker("twilio")

    @staticmethod
    def _to(phone: str) -> str:
        return phone if phone.startswith("+") else f"+86{phone}"

    def find_sent(self, phone: str, text: str, since: datetime) -> str | None:
        """Twilio's id of ``text`` sent to ``phone`` since ``since`` (its message log), so a cut-short attempt is
        never sent a second time."""
        for message in self.client.messages.list(to=self._to(phone), from_=self.from_number, date_sent_after=since,
                                                 limit=50):
            if message.body == text:
                return message.sid
        return None

    def send(self, phone: str, text: str) -> str:
        import requests
        from twilio.base.exceptions import TwilioRestException, TwilioServiceException

        to = self._to(phone)
        if not self.breaker.allow():  # Twilio failed just now: the message waits for its retry, nobody waits here
            raise SmsError(Message(N_("短信服务暂时连不上，稍后自动重试")), permanent=False)
        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=text)
        except (TwilioRestException, TwilioServiceException) as exc:
            if int(getattr(exc, "status", 0) or 0) >= 500:
                self.breaker.failed()
            else:
                self.breaker.succeeded()  # Twilio answered: a refusal of this message, not an outage
            raise _rest_error(exc) from exc
        except requests.ConnectionError as exc:  # nothing reached Twilio: safe to try again
            self.breaker.failed()
            if isinstance(exc, requests.exceptions.ConnectTimeout) or not isinstance(exc, requests.Timeout):
                raise SmsError(Message(N_("无法连接短信服务")), permanent=False) from exc
            raise SmsError(Message(N_("短信服务响应超时，可能已发出，为避免重复未自动重试")), permanent=True) from exc
        except requests.Timeout as exc:
            self.breaker.failed()
            raise SmsError(Message(N_("短信服务响应超时，可能已发出，为避免重复未自动重试")), permanent=True) from exc
        self.breaker.succeeded()
        log.info("SMS to %s accepted by Twilio as %s", mask_phone(phone), message.sid)
        return message.sid


def _http_client(timeout: float, api_url: str | None):
    """Twilio's own HTTP client with a deadline; with ``api_url`` (TWILIO_API_URL: a gateway or a local stand-in)
    every https://*.twilio.com address is sent there instead."""
    import re

    from twilio.http.http_client import TwilioHttpClient

    if not api_url:
        return TwilioHttpClient(timeout=timeout)
    base = api_url.rstrip("/")

    class Redirected(TwilioHttpClient):
        def request(self, method, url, *args, **kwargs):
            return super().request(method, re.sub(r"^https://[a-z0-9.-]+\.twilio\.com", base, url), *args, **kwargs)

    return Redirected(timeout=timeout)


def _rest_error(exc) -> SmsError:
    """Twilio's refusal as an SmsError the job can record."""
    status, code = int(getattr(exc, "status", 0) or 0), getattr(exc, "code", None)
    if status == 429 or code == 20429:
        return SmsError(Message(N_("短信服务限流（HTTP 429）")), permanent=False)
    if status >= 500:
        return SmsError(Message(N_("短信服务暂时故障（HTTP %(status)s）"), {"status": status}), permanent=False)
    if code in _PERMANENT_CODES:
        return SmsError(Message(_PERMANENT_CODES[code]), permanent=True)
    return SmsError(Message(N_("短信服务拒绝发送（错误 %(code)s）"), {"code": code or status}), permanent=True)


def notifier_from_config(config: dict):
    """The Notifier named by SMS_BACKEND (console, memory or twilio)."""
    backend = config.get("SMS_BACKEND", "console")
    if backend == "console":
        return ConsoleNotifier()
    if backend == "memory":
        return MemoryNotifier()
    if backend == "twilio":
        missing = [k for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM") if not config.get(k)]
        if missing:
            raise RuntimeError(f"SMS_BACKEND=twilio needs {', '.join(missing)}")
        return TwilioNotifier(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], config["TWILIO_FROM"],
                              timeout=float(config.get("TWILIO_TIMEOUT", 5)), api_url=config.get("TWILIO_API_URL"),
                              breaker=Breaker("twilio", cool_off=float(config.get("BREAKER_COOL_OFF", 5))))
    raise RuntimeError(f"unknown SMS_BACKEND {backend!r} (use console, memory or twilio)")


def init_app(app: Flask) -> None:
    """Build the SMS backend of ``app``."""
    app.extensions["notifier"] = notifier_from_config(app.config)


def notifier():
    """The SMS backend."""
    return current_app.extensions["notifier"]
