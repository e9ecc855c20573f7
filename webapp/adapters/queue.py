"""Background jobs: RQ on Redis when REDIS_URL is set; without it (or with Redis down) a job runs once right after
the response has gone out, so no answer ever waits for it.

A job is a plain function in ``webapp.jobs`` taking ids, queued only after the data it needs is committed. Jobs
are stored as JSON (the function's import path and its ids), so the queue can never be made to run other code.
In the worker (``flask --app webapp worker``) a job runs inside the app context.

"After the response" means when the server closes the response (``AfterResponse``), as every WSGI server must — except
that werkzeug's own server (``flask run``, the browser tests) skips ``close()`` when the client resets the connection
after reading the answer, which left a parent's SMS code unsent: there the jobs run as soon as the last byte of a
body of known length has been handed over.
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
    """WSGI middleware: the jobs of a request run after its response, in the thread that served it."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if not environ.get("SERVER_SOFTWARE", "").startswith("Werkzeug/"):
            body = self.wsgi_app(environ, start_response)
            jobs = environ.pop(_ENVIRON_KEY, None)
            return _BodyThenJobs(body, jobs) if jobs else body
        length: list[int] = []

        def start(status, headers, exc_info=None):
            length[:] = [int(v) for k, v in headers if k.lower() == "content-length"][:1]
            return start_response(status, headers, exc_info)

        body = self.wsgi_app(environ, start)
        jobs = environ.pop(_ENVIRON_KEY, None)
        return _BodyThenJobs(body, jobs, length=length[0] if length else None) if jobs else body


class _BodyThenJobs:
    """The response body, then the jobs, which run once: at ``close()``, or — given the body's ``length`` — as soon
    as that many bytes have been handed to the server (all of the answer is written then; the client does not wait
    for the jobs, and a server that never calls ``close()`` still runs them)."""

    def __init__(self, body: Iterable[bytes], jobs: list[Callable[[], None]], *, length: int | None = None):
        self.body = body
        self.jobs = jobs
        self.length = length

    def __iter__(self) -> Iterator[bytes]:
        handed = 0
        for chunk in self.body:  # not ``yield from``: that would close the body a second time when dropped
            yield chunk
            handed += len(chunk)
        if self.length and handed >= self.length:
            self._run()

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
