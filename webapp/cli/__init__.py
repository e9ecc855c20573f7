"""The command line, ``flask --app webapp …``: one module per group of commands."""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    """Attach every command to the app's CLI."""
    from webapp.cli.bootstrap import create_admin_command, create_school_command, demo_command
    from webapp.cli.database import db_group
    from webapp.cli.districts import COMMANDS as DISTRICT_COMMANDS
    from webapp.cli.outreach import send_daily_reminders_command, send_queued_command
    from webapp.cli.photos import check_photo
    from webapp.cli.retention import retention_command
    from webapp.cli.sheets import print_sheets_command
    from webapp.cli.storage import sweep_storage_command
    from webapp.cli.students import COMMANDS
    from webapp.cli.worker import worker_command

    for command in (db_group, demo_command, create_school_command, create_admin_command, sweep_storage_command,
                    check_photo, send_daily_reminders_command, send_queued_command, print_sheets_command,
                    worker_command, retention_command, *COMMANDS, *DISTRICT_COMMANDS):
        app.cli.add_command(command)
