"""Student import (upload → template check → confirm) and exports, in the school admin's area."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from confirm.errors import FieldErrors
from confirm.exporting import export_changes, export_students
from confirm.i18n import Message
from confirm.importing.annotate import annotated_workbook
from confirm.importing.reader import UnreadableFile
from confirm.importing.service import check_file, check_upload, commit_checked
from confirm.models import ImportRun, School, SchoolClass
from confirm.services.records import active_campaign
from confirm.states import ImportStatus
from webapp.adapters import db
from webapp.adapters.storage import store
from webapp.admin import bp
from webapp.admin.forms import ConfirmForm, ImportForm
from webapp.auth.identity import actor
from webapp.shared.downloads import xlsx_download
from webapp.unit_of_work import attempt


def _school() -> School:
    return db.session().get_one(School, current_user.school_id)


def _run_or_404(run_id: int) -> ImportRun:
    run = db.session().get(ImportRun, run_id)
    if run is None or run.school_id != current_user.school_id:
        abort(404)
    return run


@bp.route("/students/import", methods=["GET", "POST"])
def import_page():
    form = ImportForm()
    s = db.session()
    school = _school()
    if form.validate_on_submit():
        upload = form.file.data
        ok, run = attempt(form, lambda: _checked(school, upload.read(), upload.filename or "upload"))
        if ok:
            return redirect(url_for("admin.import_report", run_id=run.id))
    elif form.is_submitted():
        form.file.errors = [_("请选择要导入的 .xlsx 或 .csv 文件")]
    runs = s.scalars(select(ImportRun).where(ImportRun.school_id == school.id)
                     .order_by(ImportRun.created_at.desc()).limit(10)).all()
    classes = s.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)
                        .order_by(SchoolClass.grade, SchoolClass.name)).all()
    return render_template("admin/import.html", form=form, runs=runs, school=school, classes=classes)


def _checked(school: School, data: bytes, filename: str) -> ImportRun:
    try:
        return check_upload(db.session(), school, data, filename, store=store(), actor=actor())
    except UnreadableFile as exc:
        raise FieldErrors([("file", exc.message)]) from None


@bp.get("/students/import/<int:run_id>")
def import_report(run_id: int):
    run = _run_or_404(run_id)
    problems = [
        {**item, "message": Message(item["text"], item.get("params") or {})} for item in run.problems.get("items", [])
    ]
    return render_template("admin/import_report.html", run=run, problems=problems, form=ConfirmForm(),
                           truncated=run.problems.get("truncated", 0))


def _stored_upload(run: ImportRun) -> bytes:
    if not run.storage_key:
        abort(410)
    try:
        return store().get(run.storage_key)
    except KeyError:
        abort(410)


@bp.post("/students/import/<int:run_id>/commit")
def import_commit(run_id: int):
    run = _run_or_404(run_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    ok, new = attempt(None, lambda: commit_checked(db.session(), run, _school(), store=store(), actor=actor()))
    if not ok:
        return redirect(url_for("admin.import_report", run_id=run.id))
    if new.status != ImportStatus.COMMITTED:  # the school's data changed since the check and now conflicts
        flash(_("学校数据在检查后发生了变化，重新检查发现问题，未导入"), "error")
        return redirect(url_for("admin.import_report", run_id=new.id))
    flash(_("导入完成：新增 %(c)s 人，更新 %(u)s 人，未变 %(n)s 人", c=new.created_count, u=new.updated_count,
            n=new.unchanged_count), "success")
    return redirect(url_for("admin.import_report", run_id=new.id))


@bp.get("/students/import/<int:run_id>/annotated.xlsx")
def import_annotated(run_id: int):
    run = _run_or_404(run_id)
    if not run.storage_key:
        flash(_("原文件已不再保存，请重新上传检查"), "error")
        return redirect(url_for("admin.import_report", run_id=run.id))
    data = _stored_upload(run)
    result = check_file(db.session(), _school(), data, run.filename)
    return xlsx_download(annotated_workbook(data, run.filename, result), "checked.xlsx")


@bp.get("/students/export.xlsx")
def export_students_file():
    school = _school()
    school_class = None
    if request.args.get("class_id"):
        school_class = db.session().get(SchoolClass, request.args.get("class_id", type=int) or 0)
        if school_class is None or school_class.school_id != school.id:
            abort(404)
    return xlsx_download(export_students(db.session(), school, school_class), f"students-{school.code}.xlsx")


@bp.get("/changes/export.xlsx")
def export_changes_file():
    school = _school()
    data = export_changes(db.session(), school, active_campaign(db.session(), school.id))
    return xlsx_download(data, f"changes-{school.code}.xlsx")
