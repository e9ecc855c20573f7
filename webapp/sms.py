"""SMS backends behind the domain's Notifier port, chosen by SMS_BACKEND."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from confirm.services.common import mask_phone

log = logging.getLogger("webapp.sms")


class ConsoleNotifier:
    """Development backend: writes the message to the log instead of sending it."""

    def send(self, phone: str, text: str) -> None:
        # The development console is the one place a code is shown; the phone is still masked.
        log.warning("SMS to %s: %s", mask_phone(phone), text)
        print(f"[SMS → {mask_phone(phone)}] {text}", flush=True)


@dataclass
class MemoryNotifier:
    """Keeps every message in memory; the test suite reads ``outbox``."""

    outbox: list[tuple[str, str]] = field(default_factory=list)

    def send(self, phone: str, text: str) -> None:
        self.outbox.append((phone, text))


class TwilioNotifier:
    """Sends through Twilio's Messaging API with the official client."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, http_client=None):
        from twilio.rest import Client

        self.client = Client(account_sid, auth_token, http_client=http_client)
        self.from_number = from_number

    def send(self, phone: str, text: str) -> None:
        to = phone if phone.startswith("+") else f"+86{phone}"
        message = self.client.messages.create(to=to, from_=self.from_number, body=text)
        log.info("SMS to %s queued by Twilio as %s", mask_phone(phone), message.sid)


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
        return TwilioNotifier(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], config["TWILIO_FROM"])
    raise RuntimeError(f"unknown SMS_BACKEND {backend!r} (use console, memory or twilio)")
