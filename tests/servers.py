"""Real HTTP servers for tests that must see the app as a client does: the answer's time, what happens after it.

``serve(app)`` runs the app in werkzeug's threaded server on a free loopback port, in this process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import make_server


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app served on http://127.0.0.1:<free port>; yields the base URL, stops the server at the end."""
    # threaded: a browser may open a speculative connection and not use it; one thread must not wait on it.
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
