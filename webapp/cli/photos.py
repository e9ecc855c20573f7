"""CLI: check-photo — the upload pipeline and quality gate on one file, nothing stored."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from confirm.models import Student
from confirm.services.records import active_campaign
from uploads.intake import IntakeError
from uploads.pipeline import SheetExpectation, examine
from webapp.adapters import db
from webapp.adapters.keys import sheet_key


@click.command("check-photo")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sheet-for", "student_id", type=int, default=None,
              help="also check that the photo shows this student's current sheet (by its QR code)")
@with_appcontext
def check_photo(file: Path, student_id: int | None):
    """Run the photo intake and quality gate on FILE and print the verdict as JSON.

    Exit 0 when the photo would be accepted, 1 when it would be refused.
    """
    expect = None
    if student_id is not None:
        session = db.session()
        student = session.get(Student, student_id)
        if student is None:
            raise click.ClickException(f"no student with id {student_id}")
        campaign = active_campaign(session, student.school_id)
        if campaign is None:
            raise click.ClickException("the student's school has no running campaign")
        expect = SheetExpectation(student.id, campaign.id, student.record_version or 1, required=True)
    try:
        verdict = examine(file.read_bytes(), sheet_key=sheet_key(), expect=expect)
    except IntakeError as exc:
        click.echo(json.dumps({"accepted": False, "reasons": [str(exc.message)], "width": None, "height": None,
                               "qr": None}, ensure_ascii=False))
        sys.exit(1)
    click.echo(json.dumps({
        "accepted": verdict.is_accepted,
        "reasons": [str(reason) for reason in verdict.reasons],
        "width": verdict.image.width,
        "height": verdict.image.height,
        "qr": verdict.qr,
        "quality": verdict.figures(),
    }, ensure_ascii=False))
    sys.exit(0 if verdict.is_accepted else 1)
