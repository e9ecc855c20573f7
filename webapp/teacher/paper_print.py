"""Printable confirmation sheets: a class's (or a selection's) 学籍信息确认表 as one PDF, optionally as invitations."""

from __future__ import annotations

import tempfile
from io import BytesIO

from flask import current_app, render_template, send_file
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, RadioField, SelectChoice, SelectMultipleField
from wtforms.validators import InputRequired

from confirm.clock import local_today
from confirm.models import Guardianship, Student
from confirm.services import records
from confirm.services.namesakes import student_labels
from confirm.services.sheet_printing import MAX_SHEETS, class_students, prepare_sheets
from webapp.adapters import db
from webapp.adapters.keys import code_key, sheet_key
from webapp.adapters.pdf import SheetContext, SheetFontMissing, font_path, render_sheets
from webapp.auth.identity import STAFF, actor, roles_required, staff_class_or_404
from webapp.shared.links import registration_url
from webapp.teacher import bp
from webapp.unit_of_work import attempt

SPOOL_BYTES = 8 * 1024 * 1024  # a PDF larger than this is spooled to disk rather than held in memory


class PrintSheetsForm(FlaskForm):
    scope = RadioField(_l("打印范围"), default="all", validators=[InputRequired()],
                       choices=[SelectChoice("all", _l("全班学生")),
                                SelectChoice("selected", _l("只打印下面勾选的学生"))])
    students = SelectMultipleField(_l("学生"), coerce=int, validate_choice=False)
    invitation = BooleanField(_l("邀请版：为还没有注册的家长印上新的注册码"))


def _render_page(school_class, form, status=200):
    s = db.session()
    students = s.scalars(select(Student).where(Student.class_id == school_class.id)
                         .order_by(Student.name, Student.id)).all()
    registered = set(s.scalars(select(Guardianship.student_id).where(
        Guardianship.student_id.in_([st.id for st in students]))))
    campaign = records.active_campaign(s, school_class.school_id)
    return render_template("teacher/print_sheets.html", school_class=school_class, form=form, students=students,
                           registered=registered, campaign=campaign, max_sheets=MAX_SHEETS,
                           label=student_labels(s, [school_class.id])), status


def _print(school_class, chosen: list[int] | None, invitation: bool, out, font: str) -> tuple[int, int]:
    """Prepare the sheets (and, for invitations, fresh codes) and draw them into ``out``; returns how many sheets
    and how many pages (a sheet with very long values takes two)."""
    s = db.session()
    students = class_students(s, school_class, chosen)
    campaign, sheets = prepare_sheets(s, school_class.school_id, students, sheet_key=sheet_key(),
                                      invitation=invitation, code_key=code_key(), actor=actor())
    ctx = SheetContext(school_class.school.name, campaign.name, registration_url())
    return len(sheets), render_sheets(sheets, out, ctx, font_file=font)


@bp.get("/classes/<int:class_id>/sheets")
@roles_required(*STAFF)
def print_sheets_page(class_id: int):
    school_class = staff_class_or_404(class_id)
    return _render_page(school_class, PrintSheetsForm())


@bp.post("/classes/<int:class_id>/sheets")
@roles_required(*STAFF)
def print_sheets(class_id: int):
    school_class = staff_class_or_404(class_id)
    form = PrintSheetsForm()
    if not form.validate_on_submit():
        return _render_page(school_class, form, 400)
    try:
        font = font_path(current_app.config.get("SHEET_FONT"))
    except SheetFontMissing:
        current_app.logger.error("no CJK font for the sheets; run scripts/system-deps.sh or set SHEET_FONT")
        form.form_errors.append(_("服务器缺少打印确认表所需的中文字体，请联系系统管理员安装（fonts-wqy-zenhei）。"))
        return _render_page(school_class, form, 503)
    # Ticked students are what the teacher means, even if "whole class" was left selected.
    chosen = form.students.data if form.scope.data == "selected" or form.students.data else None
    # Pages go to a temporary file (on disk once it is large), never all into one bytes object.
    out = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - closed below or by the response
    try:
        # New registration codes count only once the PDF that holds them is made: one unit of work for both.
        ok, counts = attempt(form, lambda: _print(school_class, chosen, form.invitation.data, out, font))
    except BaseException:
        out.close()
        raise
    if not ok:
        out.close()
        if form.students.errors:
            form.form_errors.extend(form.students.errors)
        return _render_page(school_class, form, 400)
    size = out.tell()
    out.seek(0)
    current_app.logger.info("printed %s sheets on %s pages for class %s", *counts, school_class.id)
    kind = _("邀请版") if form.invitation.data else _("确认表")
    name = f"{school_class.grade}{school_class.name}-{kind}-{local_today():%Y%m%d}.pdf"
    if size <= SPOOL_BYTES:  # still in memory: hand over the bytes and free the file now
        with out:
            body = BytesIO(out.read())
        response = send_file(body, mimetype="application/pdf", as_attachment=True, download_name=name)
    else:  # on disk: streamed from the file, which the response closes (and so removes) at the end
        response = send_file(out, mimetype="application/pdf", as_attachment=True, download_name=name)
        response.content_length = size
    response.headers["Cache-Control"] = "no-store"  # the PDF holds personal data and, maybe, registration codes
    return response
