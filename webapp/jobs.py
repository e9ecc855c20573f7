"""Background jobs: RQ on Redis when REDIS_URL is set, otherwise (or when Redis is down) run at once.

Call ``enqueue`` only after the data a job needs is committed. A job is a plain function in
``webapp.tasks`` taking ids; in the worker it runs inside the app context (``flask --app webapp worker``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

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
    app.cli.add_command(worker_command)


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


@click.command("worker")
@click.option("--burst", is_flag=True, help="work until the queue is empty, then exit")
@with_appcontext
def worker_command(burst: bool):
    """Run an RQ worker for this app's queue (needs REDIS_URL)."""
    from rq import SimpleWorker

    queue = current_app.extensions.get("job_queue")
    if queue is None:
        raise click.ClickException("REDIS_URL is not set: jobs run synchronously, no worker is needed")
    # SimpleWorker runs jobs in this process, inside the app context (no fork sharing database connections).
    SimpleWorker([queue], connection=queue.connection).work(burst=burst)
