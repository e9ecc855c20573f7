"""Student import (upload → template check → confirm) and exports, in the school admin's area."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from confirm.errors import FieldErrors
from confirm.fields import field_for
from confirm.i18n import Message
from confirm.importing.checker import OtherSchoolFile
from confirm.importing.conflicts import ConflictCounts, ConflictPage, choose, conflict_counts, conflict_page
from confirm.importing.reader import UnreadableFile
from confirm.importing.service import check_upload, commit_checked, recheck_keeping
from confirm.models import ImportConflict, ImportRun, School, SchoolClass, Student
from confirm.presentation import readable
from confirm.services import exports
from confirm.services.records import active_campaign
from confirm.states import ConflictChoice, CorrectionStatus, ImportStatus
from webapp.adapters import db
from webapp.adapters.storage import store
from webapp.admin import bp
from webapp.admin.forms import ConfirmForm, ImportForm
from webapp.auth.fresh import ask_again_unless_recent
from webapp.auth.identity import actor
from webapp.rate_limits import STAFF_UPLOADS, upload_limits
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
@upload_limits(STAFF_UPLOADS)
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
    except (UnreadableFile, OtherSchoolFile) as exc:
        raise FieldErrors([("file", exc.message)]) from None


CORRECTION_LABELS = {
    CorrectionStatus.APPLIED: _l("已生效"),
    CorrectionStatus.PENDING_ADMIN: _l("待学籍管理员审核"),
    CorrectionStatus.PENDING_DISTRICT: _l("待主管部门核办"),
    CorrectionStatus.SUBMITTED: _l("待班主任审核"),
    CorrectionStatus.DRAFT: _l("家长未提交"),
}


@dataclass(frozen=True)
class ConflictRow:
    """One conflicting field as the report shows it: the three values as a person reads them, and the choice."""

    conflict: ImportConflict
    student: Student
    school_class: SchoolClass
    choice: ConflictChoice
    label: str
    start: str
    file: str
    platform: str
    corrected: str

    @property
    def status(self) -> str:
        return str(CORRECTION_LABELS.get(CorrectionStatus(self.conflict.correction_status), ""))


def _conflict_rows(page: ConflictPage) -> list[ConflictRow]:
    locale = str(get_locale())
    rows = []
    for conflict, student, school_class, choice in page.items:
        f = field_for(conflict.slot, conflict.field_key)
        label = f.label(locale) if conflict.slot == 0 else _("成员%(n)s%(field)s", n=conflict.slot,
                                                             field=f.label(locale))
        rows.append(ConflictRow(conflict, student, school_class, choice, label, readable(f, conflict.start_value),
                                readable(f, conflict.file_value), readable(f, conflict.platform_value),
                                readable(f, conflict.corrected_value)))
    return rows


@bp.get("/students/import/<int:run_id>")
def import_report(run_id: int):
    run = _run_or_404(run_id)
    problems = [
        {**item, "message": Message(item["text"], item.get("params") or {})} for item in run.problems.get("items", [])
    ]
    # a superseded check's conflicts are not what happened: its committed run reports them
    page = conflict_page(db.session(), run, request.args.get("page", 1, type=int)) \
        if run.status != ImportStatus.REJECTED else ConflictPage([], 1, 1, ConflictCounts())
    return render_template("admin/import_report.html", run=run, problems=problems, form=ConfirmForm(),
                           truncated=run.problems.get("truncated", 0), page=page, conflicts=_conflict_rows(page))


def _field_choices() -> dict[int, str]:
    """The report page's per-field choices: ``choice-<conflict id>`` = platform | file."""
    return {int(name.removeprefix("choice-")): value for name, value in request.form.items()
            if name.startswith("choice-") and name.removeprefix("choice-").isdigit()}


@bp.post("/students/import/<int:run_id>/choices")
def import_choices(run_id: int):
    run = _run_or_404(run_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    whole_file = request.form.get("whole_file") or None
    goto = request.form.get("goto", type=int)
    ok, covered = attempt(None, lambda: choose(db.session(), run, actor=actor(), whole_file=whole_file,
                                               fields=None if whole_file else _field_choices()))
    if ok and whole_file:
        flash(_("已对全部 %(n)s 项选择：%(choice)s", n=covered, choice=_("保留平台的值")
                if whole_file == ConflictChoice.PLATFORM else _("采用文件的值")), "success")
    elif ok and goto is None:
        flash(_("已保存本页的选择"), "success")
    page = goto or request.form.get("page", 1, type=int)
    return redirect(url_for("admin.import_report", run_id=run.id, page=page, _anchor="conflicts"))


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
    ok, new = attempt(None, lambda: commit_checked(db.session(), run, _school(), store=store(), actor=actor(),
                                                   fields=_field_choices()))
    if not ok:
        return redirect(url_for("admin.import_report", run_id=run.id, page=request.form.get("page", 1, type=int)))
    if new.status != ImportStatus.COMMITTED:  # the school's data changed since the check and now conflicts
        flash(_("学校数据在检查后发生了变化，重新检查发现问题，未导入"), "error")
        return redirect(url_for("admin.import_report", run_id=new.id))
    flash(_("导入完成：新增 %(c)s 人，更新 %(u)s 人，未变 %(n)s 人", c=new.created_count, u=new.updated_count,
            n=new.unchanged_count), "success")
    counts = conflict_counts(db.session(), new)
    if counts.fields:
        flash(_("与本次核查不一致的 %(n)s 项：保留平台的值 %(k)s 项，采用文件的值 %(t)s 项", n=counts.fields,
                k=counts.keeping_platform, t=counts.taking_file), "success")
    return redirect(url_for("admin.import_report", run_id=new.id))


@bp.post("/students/import/<int:run_id>/keep")
def import_keep(run_id: int):
    """保留原值: check the file again keeping the ticked rows' division codes that are not in the list."""
    run = _run_or_404(run_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    rows = {int(v) for v in request.form.getlist("keep_row") if v.isdigit()}
    ok, new = attempt(None, lambda: recheck_keeping(db.session(), run, _school(), rows, store=store(), actor=actor()))
    if not ok:
        return redirect(url_for("admin.import_report", run_id=run.id))
    flash(_("已保留 %(n)s 行的原值并重新检查", n=len(rows)), "success")
    return redirect(url_for("admin.import_report", run_id=new.id))


@bp.get("/students/import/<int:run_id>/annotated.xlsx")
def import_annotated(run_id: int):
    """The admin's import file with its problems marked (the whole school's data: a recent password or step-up)."""
    run = _run_or_404(run_id)
    if not run.storage_key:
        flash(_("原文件已不再保存，请重新上传检查"), "error")
        return redirect(url_for("admin.import_report", run_id=run.id))
    if (ask := ask_again_unless_recent()) is not None:
        return ask
    data = _stored_upload(run)
    _ok, workbook = attempt(None, lambda: exports.annotated_import(db.session(), _school(), run, data, actor=actor()))
    return xlsx_download(workbook, "checked.xlsx")


@bp.get("/students/export.xlsx")
def export_students_file():
    """The national-template export; the whole school's (every child's and parent's ID number, phone, address)
    asks for the password again (or a staff step-up) in the last few minutes, then downloads."""
    school = _school()
    school_class = None
    if request.args.get("class_id"):
        school_class = db.session().get(SchoolClass, request.args.get("class_id", type=int) or 0)
        if school_class is None or school_class.school_id != school.id:
            abort(404)
    elif (ask := ask_again_unless_recent()) is not None:
        return ask
    s = db.session()
    _ok, data = attempt(None, lambda: exports.students_workbook(s, school, school_class, actor=actor(),
                                                                campaign=active_campaign(s, school.id)))
    return xlsx_download(data, f"students-{school.code}.xlsx")


@bp.get("/changes/export.xlsx")
def export_changes_file():
    """The change list of the whole school: asks for a recent password or step-up, like the student export."""
    if (ask := ask_again_unless_recent()) is not None:
        return ask
    school = _school()
    s = db.session()
    _ok, data = attempt(None, lambda: exports.changes_workbook(s, school, active_campaign(s, school.id),
                                                               actor=actor()))
    return xlsx_download(data, f"changes-{school.code}.xlsx")
