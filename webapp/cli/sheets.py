"""``flask print-sheets``: the confirmation sheets of a school or a class as one PDF file."""

from __future__ import annotations

import os
import tempfile

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("print-sheets")
@with_appcontext
@click.option("--school", "school_code", required=True, help="学校标识码")
@click.option("--class", "class_name", default=None,
              help="only this class: 年级+班级 (三年级1班), 班级 (1班) or 班号 (default: whole school)")
@click.option("--invitation", is_flag=True,
              help="print fresh registration codes for students without a registered parent (old codes stop working)")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True), help="FILE.pdf")
def print_sheets_command(school_code: str, class_name: str | None, invitation: bool, output: str):
    """Write the 学籍信息确认表 (one A4 page per student, two when its values are very long) to a PDF file."""
    from sqlalchemy import select

    from confirm.errors import DomainError
    from confirm.models import School
    from confirm.services.common import SYSTEM
    from confirm.services.sheet_printing import prepare_sheets, school_students
    from webapp.adapters import db
    from webapp.adapters.keys import code_key, sheet_key
    from webapp.adapters.pdf import SheetContext, SheetFontMissing, font_path, render_sheets
    from webapp.shared.links import command_base_url, registration_url

    session = db.session()
    school = session.scalar(select(School).where(School.code == school_code))
    if school is None:
        raise click.ClickException(f"no school with code {school_code}")
    try:
        font = font_path(current_app.config.get("SHEET_FONT"))
    except SheetFontMissing as exc:
        raise click.ClickException(f"no CJK TrueType font found ({exc}); install fonts-wqy-zenhei "
                                   "(bash scripts/system-deps.sh) or set SHEET_FONT") from None
    try:
        students = school_students(session, school, class_name)
        campaign, sheets = prepare_sheets(session, school.id, students, sheet_key=sheet_key(), invitation=invitation,
                                          code_key=code_key(), actor=SYSTEM)
    except DomainError as exc:
        session.rollback()
        raise click.ClickException(str(exc.message)) from None
    # Written next to the target and renamed at the end, so a failed run leaves no half-written PDF behind.
    directory = os.path.dirname(os.path.abspath(output))
    # A request context for url_for and the (Chinese) messages, as on the web.
    with current_app.test_request_context(base_url=command_base_url()), \
            tempfile.NamedTemporaryFile(dir=directory, suffix=".pdf.part", delete=False) as part:
        register_url = registration_url()
        try:
            pages = render_sheets(sheets, part, SheetContext(school.name, campaign.name, register_url),
                                  font_file=font)
        except BaseException:
            os.unlink(part.name)
            raise
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(part.name, 0o666 & ~umask)  # the temporary file was private; the PDF gets the usual permissions
    os.replace(part.name, output)
    session.commit()  # codes of an invitation count only once the PDF holding them exists
    codes = sum(1 for s in sheets if s.code)
    # A sheet with very long values continues on a second page, so sheets and pages are counted apart.
    click.echo(f"wrote {len(sheets)} sheets on {pages} pages to {output}"
               + (f" ({codes} new registration codes)" if invitation else ""))
