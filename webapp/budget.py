"""How long a request may take on the server, and how the deadlines of the outside services fit inside it.

An upload is answered within ``UPLOAD_SECONDS`` of its body being in (the reverse proxy buffers the body first, so a
slow phone never holds a worker), a page within ``PAGE_SECONDS``:

* S3: one call ≤ 3 s with its retries (``uploads.storage.S3Store``); an upload makes at most two writes (the photo
  and its thumbnail) → ≤ 6 s, plus the photo intake (~1 s) and the database;
* PostgreSQL: 2 s to connect, 2 s to wait for a pooled connection, 2.5 s per statement
  (``webapp.adapters.db``); a known outage answers at once (the breaker);
* Redis: 0.5 s to connect, 1 s per command (``REDIS_CONNECT_TIMEOUT``, ``REDIS_TIMEOUT``); when it is down a job
  runs after the response instead;
* Twilio: never in a request (the outbox sends after the response or in the worker), 5 s per message.

gunicorn's timeout (``gunicorn.conf.py``) is set well above ``UPLOAD_SECONDS``.
"""

UPLOAD_SECONDS = 10
PAGE_SECONDS = 3
READY_SECONDS = 2  # /readyz
