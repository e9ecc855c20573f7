"""Background jobs: RQ on Redis when REDIS_URL is set, otherwise (or when Redis is down) run at once.

Call ``enqueue`` only after the data a job needs is committed. A job is a plain function in ``webapp.jobs``
taking ids; in the worker (``flask --app webapp worker``) it runs inside the app context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app

log = logging.getLogger(__name__)
QUEUE_NAME = "confirm"


def init_app(app: Flask) -> None:
    """Connect the queue named by REDIS_URL (none: jobs run synchronously in the request)."""
    app.extensions["job_queue"] = None
    url = app.config.get("REDIS_URL")
    if url:
        from redis import Redis
        from rq import Queue

        connection = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        app.extensions["job_queue"] = Queue(QUEUE_NAME, connection=connection,
                                            default_timeout=app.config.get("JOB_TIMEOUT", 600))


def enqueue(func: Callable, *args, **kwargs) -> str:
    """Queue ``func(*args, **kwargs)``; returns "queued", or "ran" when it ran here and now."""
    queue = current_app.extensions.get("job_queue")
    if queue is not None:
        try:
            queue.enqueue(func, *args, **kwargs)
            return "queued"
        except Exception as exc:  # Redis down: do the work now rather than lose it
            log.warning("job queue unavailable (%s); running %s synchronously", type(exc).__name__, func.__name__)
    func(*args, **kwargs)
    return "ran"


def queue_is_up() -> bool:
    """True when a queue is configured and Redis answers."""
    queue = current_app.extensions.get("job_queue")
    if queue is None:
        return False
    try:
        return bool(queue.connection.ping())
    except Exception:
        return False
