"""Background jobs: RQ on Redis when REDIS_URL is set; without it (or with Redis down) a job runs once right after
the response has gone out, so no answer ever waits for it.

A job is a plain function in ``webapp.jobs`` taking ids, queued only after the data it needs is committed. Jobs
are stored as JSON (the function's import path and its ids), so the queue can never be made to run other code.
In the worker (``flask --app webapp worker``) a job runs inside the app context.

"After the response" means once the server has written the response's last byte (``_BodyThenJobs``), not when it
calls ``close()``: werkzeug's server (``flask run``, the browser tests) skips ``close()`` when the client resets the
connection after reading the answer, which would have left a parent's SMS code unsent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from flask import Flask, Response, current_app, g, has_request_context, request

from webapp.adapters.breaker import Breaker

log = logging.getLogger(__name__)
QUEUE_NAME = "confirm"
_AFTER_RESPONSE = "jobs_after_response"
_ENVIRON_KEY = "confirm.after_response"  # the request's jobs, carried in the WSGI environ to AfterResponse


def init_app(app: Flask) -> None:
    """Connect the queue named by REDIS_URL (none: jobs run right after the response)."""
    app.extensions["job_queue"] = None
    app.extensions["queue_breaker"] = Breaker("queue", cool_off=app.config["BREAKER_COOL_OFF"])
    url = app.config.get("REDIS_URL")
    if url:
        from redis import Redis
        from rq import Queue
        from rq.serializers import JSONSerializer

        connection = Redis.from_url(url, socket_connect_timeout=app.config["REDIS_CONNECT_TIMEOUT"],
                                    socket_timeout=app.config["REDIS_TIMEOUT"])
        app.extensions["job_queue"] = Queue(QUEUE_NAME, connection=connection, serializer=JSONSerializer,
                                            default_timeout=app.config["JOB_TIMEOUT"])
    app.after_request(_run_after_response)
    app.wsgi_app = AfterResponse(app.wsgi_app)


def enqueue(func: Callable, *args, timeout: int | None = None) -> str:
    """Queue ``func(*args)``: "queued" for the worker; "later" to run after this request's response; "ran" when
    there is no request to wait for (a command or a job) and it ran here and now. ``timeout``: the seconds the
    worker lets this job run (default JOB_TIMEOUT)."""
    queue = current_app.extensions.get("job_queue")
    breaker: Breaker = current_app.extensions["queue_breaker"]
    if queue is not None and breaker.allow():  # with Redis known to be down, not even a connect is tried
        try:
            queue.enqueue(func, *args, **({"job_timeout": timeout} if timeout else {}))
            breaker.succeeded()
            return "queued"
        except Exception as exc:  # Redis down: do the work here rather than lose it
            breaker.failed()
            log.warning("job queue unavailable (%s); running %s here", type(exc).__name__, func.__name__)
    if has_request_context():
        g.setdefault(_AFTER_RESPONSE, []).append((func, args))
        return "later"
    func(*args)
    return "ran"


def _run_after_response(response: Response) -> Response:
    """Hand the request's jobs to ``AfterResponse``, which runs them once the response has been written."""
    jobs = g.pop(_AFTER_RESPONSE, None)
    if jobs:
        app = current_app._get_current_object()

        def run() -> None:
            with app.app_context():
                for func, args in jobs:
                    try:
                        func(*args)
                    except Exception:  # one failed job must not stop the others; each records its own outcome
                        log.exception("job %s failed after the response", func.__name__)

        request.environ.setdefault(_ENVIRON_KEY, []).append(run)
    return response


class AfterResponse:
    """WSGI middleware: a response that has jobs waiting runs them after its last chunk has been handed to the
    server (or at ``close()``, if the client went away before that)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        body = self.wsgi_app(environ, start_response)
        jobs = environ.pop(_ENVIRON_KEY, None)
        return _BodyThenJobs(body, jobs) if jobs else body


class _BodyThenJobs:
    """The response body, then the jobs: each job runs exactly once, whichever of the end of the body and
    ``close()`` comes first."""

    def __init__(self, body: Iterable[bytes], jobs: list[Callable[[], None]]):
        self.body = body
        self.jobs = jobs

    def __iter__(self) -> Iterator[bytes]:
        yield from self.body
        self._run()  # the server asks for the next chunk only once it has written the last one

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self._run()

    def _run(self) -> None:
        jobs, self.jobs = self.jobs, []
        for job in jobs:
            job()


def queue_is_up() -> bool:
    """True when a queue is configured and Redis answers."""
    queue = current_app.extensions.get("job_queue")
    if queue is None:
        return False
    try:
        return bool(queue.connection.ping())
    except Exception:
        return False
