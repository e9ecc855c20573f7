"""Student import (upload → template check → confirm) and exports, in the school admin's area."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select, update

from confirm.errors import DomainError
from confirm.exporting import export_changes, export_students
from confirm.i18n import Message
from confirm.importing.annotate import annotated_workbook
from confirm.importing.reader import UnreadableFile
from confirm.importing.service import check_file, import_file
from confirm.models import ImportRun, School, SchoolClass
from confirm.services.records import active_campaign
from uploads.storage import new_object_key
from webapp.adapters import db
from webapp.adapters.storage import store
from webapp.admin import bp
from webapp.auth.identity import actor, roles_required
from webapp.unit_of_work import render

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ImportForm(FlaskForm):
    file = FileField(validators=[FileRequired()])


class ConfirmForm(FlaskForm):
    """Only the CSRF token."""


def _school() -> School:
    return db.session().get_one(School, current_user.school_id)


def _run_or_404(run_id: int) -> ImportRun:
    run = db.session().get(ImportRun, run_id)
    if run is None or run.school_id != current_user.school_id:
        abort(404)
    return run


def _download(data: bytes, filename: str) -> Response:
    return Response(data, mimetype=XLSX, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{filename}", "Cache-Control": "private, no-store"})


@bp.route("/students/import", methods=["GET", "POST"])
@roles_required("school_admin")
def import_page():
    form = ImportForm()
    s = db.session()
    school = _school()
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read()
        key = new_object_key("imports", school.id, "bin")
        store().put(key, data, "application/octet-stream")
        try:
            outcome = import_file(s, school, data, upload.filename or "upload", actor=actor(), commit=False,
                                  storage_key=key)
            s.commit()
        except UnreadableFile as exc:
            s.rollback()
            store().delete(key)
            form.file.errors = [render(exc.message)]
        except BaseException:
            s.rollback()
            store().delete(key)
            raise
        else:
            # The file is kept (also when it has errors) so the annotated workbook can be downloaded.
            return redirect(url_for("admin.import_report", run_id=outcome.run.id))
    elif form.is_submitted():
        form.file.errors = [_("请选择要导入的 .xlsx 或 .csv 文件")]
    runs = s.scalars(select(ImportRun).where(ImportRun.school_id == school.id)
                     .order_by(ImportRun.created_at.desc()).limit(10)).all()
    classes = s.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)
                        .order_by(SchoolClass.grade, SchoolClass.name)).all()
    return render_template("admin/import.html", form=form, runs=runs, school=school, classes=classes)


@bp.get("/students/import/<int:run_id>")
@roles_required("school_admin")
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
@roles_required("school_admin")
def import_commit(run_id: int):
    run = _run_or_404(run_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    s = db.session()
    # Claim the checked run first: of two clicks on 确认导入 only one gets past this (row lock / db lock).
    claimed = s.execute(update(ImportRun).where(ImportRun.id == run.id, ImportRun.status == "checked")
                        .values(status="rejected").execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        s.rollback()
        flash(_("这个文件已经导入过，或者检查没有通过"), "error")
        return redirect(url_for("admin.import_report", run_id=run.id))
    data = _stored_upload(run)
    try:
        outcome = import_file(s, _school(), data, run.filename, actor=actor(), commit=True,
                              storage_key=run.storage_key)
    except (UnreadableFile, DomainError) as exc:
        s.rollback()
        flash(render(exc.message), "error")
        return redirect(url_for("admin.import_report", run_id=run.id))
    if outcome.run.status != "committed":  # the school's data changed since the check and now conflicts
        s.commit()
        flash(_("学校数据在检查后发生了变化，重新检查发现问题，未导入"), "error")
        return redirect(url_for("admin.import_report", run_id=outcome.run.id))
    key, run.storage_key = run.storage_key, None  # superseded by the committed run; its file is not needed
    s.commit()
    store().delete(key)
    new = outcome.run
    flash(_("导入完成：新增 %(c)s 人，更新 %(u)s 人，未变 %(n)s 人", c=new.created_count, u=new.updated_count,
            n=new.unchanged_count), "success")
    return redirect(url_for("admin.import_report", run_id=new.id))


@bp.get("/students/import/<int:run_id>/annotated.xlsx")
@roles_required("school_admin")
def import_annotated(run_id: int):
    run = _run_or_404(run_id)
    if not run.storage_key:
        flash(_("原文件已不再保存，请重新上传检查"), "error")
        return redirect(url_for("admin.import_report", run_id=run.id))
    data = _stored_upload(run)
    result = check_file(db.session(), _school(), data, run.filename)
    return _download(annotated_workbook(data, run.filename, result), "checked.xlsx")


@bp.get("/students/export.xlsx")
@roles_required("school_admin")
def export_students_file():
    school = _school()
    school_class = None
    if request.args.get("class_id"):
        school_class = db.session().get(SchoolClass, request.args.get("class_id", type=int) or 0)
        if school_class is None or school_class.school_id != school.id:
            abort(404)
    return _download(export_students(db.session(), school, school_class), f"students-{school.code}.xlsx")


@bp.get("/changes/export.xlsx")
@roles_required("school_admin")
def export_changes_file():
    school = _school()
    data = export_changes(db.session(), school, active_campaign(db.session(), school.id))
    return _download(data, f"changes-{school.code}.xlsx")
