"""gunicorn's configuration for production: `gunicorn -c gunicorn.conf.py` (from the checkout; see
docs/deployment.md §6). Anything here can be overridden on the command line, e.g. ``-w 8`` or ``-b 0.0.0.0:8000``.

The app answers every request within its own budget — an upload within 10 s of its body being in, a page within
3 s — also when S3, PostgreSQL, Redis or Twilio is down (deadlines and breakers in ``webapp/adapters``). gunicorn's
own limits sit above those budgets, so the app, not the server, gives the answer: a worker is never killed in the
middle of a request that is about to answer with the app's page, and a reload lets uploads in flight finish.
"""

import multiprocessing

from webapp.budget import UPLOAD_SECONDS

wsgi_app = "webapp:create_app()"
bind = "127.0.0.1:8000"  # behind the reverse proxy (nginx buffers slow uploads: §6)

# Threads, so a request waiting on an outside service holds one thread, not a whole process: pages that need
# nothing from a failing service keep being answered by the other threads.
worker_class = "gthread"
workers = max(2, multiprocessing.cpu_count())
threads = 4

# Above the upload budget (10 s) with room to spare: gunicorn's timeout is the last resort for a worker that is
# truly stuck, never the answer a parent sees.
timeout = 3 * UPLOAD_SECONDS
graceful_timeout = UPLOAD_SECONDS + 5  # a reload lets every upload in flight answer first
keepalive = 5  # the proxy keeps its connections open between requests

# One line per request with its time (µs) and the request id the error pages show (nginx sends X-Request-ID).
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(D)sus rid=%({x-request-id}o)s'

# Recycle workers now and then, a little apart, so a slow leak never grows and they never all restart at once.
max_requests = 5000
max_requests_jitter = 500


def _mask_gunicorn_logs() -> None:
    """gunicorn's own loggers (its errors, the access lines with each request's path) get the app's filter that
    masks phone and ID numbers (webapp/log_masking.py); the app's loggers get it from the factory."""
    import logging

    from webapp import log_masking

    for name in ("gunicorn.error", "gunicorn.access"):
        log_masking.install(logging.getLogger(name))


def when_ready(_server) -> None:
    _mask_gunicorn_logs()


def post_worker_init(_worker) -> None:
    _mask_gunicorn_logs()
