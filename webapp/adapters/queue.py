"""Background jobs: RQ on Redis when REDIS_URL is set; without it (or with Redis down) a job runs once right after
the response has gone out, so no answer ever waits for it.

A job is a plain function in ``webapp.jobs`` taking ids, queued only after the data it needs is committed. Jobs
are stored as JSON (the function's import path and its ids), so the queue can never be made to run other code.
In the worker (``flask --app webapp worker``) a job runs inside the app context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, Response, current_app, g, has_request_context

from webapp.adapters.breaker import Breaker

log = logging.getLogger(__name__)
QUEUE_NAME = "confirm"
_AFTER_RESPONSE = "jobs_after_response"


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

        response.call_on_close(run)
    return response


def queue_is_up() -> bool:
    """True when a queue is configured and Redis answers."""
    queue = current_app.extensions.get("job_queue")
    if queue is None:
        return False
    try:
        return bool(queue.connection.ping())
    except Exception:
        return False
