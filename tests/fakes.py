"""The test suite's fakes, in one place: what the outbox hands to the sender, an in-memory object store, and a local
stand-in for Twilio's REST API (so tests run the official client's real code path over real HTTP)."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.orm import Session

from confirm.models import Notification
from confirm.services.outbox import text_to_send
from confirm.unit_of_work import DELIVER


class SentMessages:
    """Installed as a session's sender: every message the outbox hands over after a commit, as the provider would
    receive it — ``sent`` is a list of (phone, text)."""

    def __init__(self, session: Session):
        self.session = session
        self.ids: list[int] = []
        session.info[DELIVER] = self.ids.extend

    @property
    def sent(self) -> list[tuple[str, str]]:
        rows = [self.session.get(Notification, message_id) for message_id in self.ids]
        return [(row.phone, text_to_send(row)) for row in rows]

    def code(self) -> str:
        """The 6-digit code of the newest message."""
        return re.search(r"\b(\d{6})\b", self.sent[-1][1]).group(1)


class MemoryStore:
    """The ObjectStore port in memory."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def put(self, key, data, content_type):
        self.objects[key] = data

    def get(self, key):
        try:
            return self.objects[key]
        except KeyError:
            raise KeyError(key) from None

    def put_file(self, key, source, content_type):
        self.objects[key] = source.read()

    def open_object(self, key):
        return io.BytesIO(self.get(key))

    def delete(self, key):
        self.objects.pop(key, None)

    def exists(self, key):
        return key in self.objects


# --- Twilio --------------------------------------------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class FakeTwilio:
    """Records requests; answers each message with the next scripted response (default: a queued message), or with
    ``always`` when set; waits ``delay`` seconds first. Its message log answers the client's list requests."""

    requests: list[Recorded] = field(default_factory=list)
    script: list[tuple[int, dict]] = field(default_factory=list)
    always: tuple[int, dict] | None = None
    delay: float = 0.0
    messages: list[dict] = field(default_factory=list)  # what was accepted: {"sid", "to", "from", "body"}
    port: int = 0
    url: str = ""

    def reply(self, status: int, body: dict) -> None:
        """Answer the next message with ``status`` and ``body``."""
        self.script.append((status, body))

    def _next(self, form: dict[str, list[str]]) -> tuple[int, dict]:
        if self.always is not None:
            return self.always
        status, body = self.script.pop(0) if self.script else (201, {})
        if status < 300:
            sid = f"SM{len(self.messages) + 1:032x}"
            message = {"sid": sid, "status": "queued", "to": form.get("To", [""])[0],
                       "from": form.get("From", [""])[0], "body": form.get("Body", [""])[0], **body}
            self.messages.append(message)
            body = message
        return status, body

    @property
    def sent(self) -> list[tuple[str, str]]:
        """(to, body) of every accepted message."""
        return [(m["to"], m["body"]) for m in self.messages]


def message_error(status: int, code: int, message: str) -> dict:
    """A Twilio error body, as the Messaging API sends it."""
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def start_fake_twilio() -> tuple[FakeTwilio, ThreadingHTTPServer]:
    """A FakeTwilio listening on a free loopback port (stop it with ``server.shutdown()``)."""
    fake = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            fake.requests.append(Recorded("POST", self.path, dict(self.headers), form))
            if fake.delay:
                time.sleep(fake.delay)
            self._answer(*fake._next(form))

        def do_GET(self):  # noqa: N802 — the message log (Messages.json?To=…)
            query = parse_qs(urlsplit(self.path).query)
            fake.requests.append(Recorded("GET", self.path, dict(self.headers), query))
            to = query.get("To", [None])[0]
            found = [m for m in fake.messages if to is None or m["to"] == to]
            self._answer(200, {"messages": found, "page": 0, "page_size": 50, "first_page_uri": self.path,
                               "next_page_uri": None, "previous_page_uri": None, "uri": self.path})

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.port = server.server_address[1]
    fake.url = f"http://127.0.0.1:{fake.port}"
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return fake, server
