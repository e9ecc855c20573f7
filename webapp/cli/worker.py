"""``flask worker``: the RQ worker that runs the background jobs, with RQ's scheduler for retries that are due
later (an SMS the provider refused for the moment)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--burst", is_flag=True, help="work until the queue is empty, then exit")
@with_appcontext
def worker_command(burst: bool):
    """Run an RQ worker for this app's queue (needs REDIS_URL)."""
    from rq import SimpleWorker

    queue = current_app.extensions.get("job_queue")
    if queue is None:
        raise click.ClickException("REDIS_URL is not set: jobs run right after each response, no worker is needed")
    # SimpleWorker runs jobs in this process, inside the app context (no fork sharing database connections).
    worker = SimpleWorker([queue], connection=queue.connection, serializer=queue.serializer)
    worker.work(burst=burst, with_scheduler=True)
