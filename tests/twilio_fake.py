"""A local stand-in for Twilio's REST API, so tests run the official client's real code path.

``FakeTwilio`` is an HTTP server on 127.0.0.1 that records every request and answers from a script of
(status, JSON body) responses; ``LocalTwilioHttpClient`` is the client's own TwilioHttpClient with every
https://*.twilio.com URL rewritten to the fake (edge and region settings cannot point at localhost).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from twilio.http.http_client import TwilioHttpClient


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


@dataclass
class FakeTwilio:
    """Records requests; answers each with the next scripted response (default: a queued message)."""

    requests: list[Recorded] = field(default_factory=list)
    script: list[tuple[int, dict]] = field(default_factory=list)
    port: int = 0

    def reply(self, status: int, body: dict) -> None:
        """Answer the next request with ``status`` and ``body``."""
        self.script.append((status, body))

    def _next(self, n: int) -> tuple[int, dict]:
        if self.script:
            return self.script.pop(0)
        return 201, {"sid": f"SM{n:032x}", "status": "queued"}


def message_error(status: int, code: int, message: str) -> dict:
    """A Twilio error body, as the Messaging API sends it."""
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def start_fake() -> tuple[FakeTwilio, ThreadingHTTPServer]:
    fake = FakeTwilio()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            form = parse_qs(self.rfile.read(length).decode())
            fake.requests.append(Recorded("POST", self.path, dict(self.headers), form))
            status, body = fake._next(len(fake.requests))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return fake, server


class LocalTwilioHttpClient(TwilioHttpClient):
    """The official HTTP client, sending https://<anything>.twilio.com to the local fake instead."""

    def __init__(self, port: int, **kwargs):
        super().__init__(**kwargs)
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method, url, *args, **kwargs):
        return super().request(method, re.sub(r"^https://[a-z0-9.-]+\.twilio\.com", self.base, url), *args, **kwargs)
