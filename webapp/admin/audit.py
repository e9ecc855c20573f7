"""The school's audit log for its admin: who did what to which student, filtered, paged, exported (audited)."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from confirm.models import StaffUser
from confirm.services import audit_log
from confirm.services.exports import AuditAction
from webapp.adapters import db
from webapp.admin import bp
from webapp.admin.forms import AuditFilterForm
from webapp.auth.identity import actor
from webapp.shared.downloads import xlsx_download
from webapp.unit_of_work import attempt

# Names for the actions an admin looks for most; any other action is shown by its code.
ACTION_LABELS = {
    "export.": _l("全部导出"),
    AuditAction.STUDENTS_EXPORTED.value: _l("导出学生信息"),
    AuditAction.CHANGES_EXPORTED.value: _l("导出更正清单"),
    AuditAction.IMPORT_ANNOTATED.value: _l("下载导入检查结果"),
    AuditAction.CLASS_STATS_EXPORTED.value: _l("导出班级统计"),
    AuditAction.AUDIT_LOG_EXPORTED.value: _l("导出操作记录"),
    AuditAction.KEY_DATA_EXPORTED.value: _l("导出关键数据变更清单"),
    AuditAction.FILE_VIEWED.value: _l("查看照片或证明材料"),
    AuditAction.BATCH_PHOTO_VIEWED.value: _l("查看批量上传的照片"),
    "sheets.printed": _l("打印确认表"),
    "parent.phone_revealed": _l("查看家长手机号"),
    "login.succeeded": _l("登录"),
    "login.failed": _l("登录失败"),
}
FILTER_ARGS = ("actor", "student", "student_id", "action", "since", "until")  # carried to the next page and export
ACTOR_KINDS = {"parent": _l("家长（全部）"), "system": _l("系统")}


def _form() -> AuditFilterForm:
    form = AuditFilterForm(formdata=MultiDict(request.args) if request.args else None)
    staff = db.session().scalars(select(StaffUser).where(StaffUser.school_id == current_user.school_id)
                                 .order_by(StaffUser.display_name))
    form.actor.choices = [("", _l("全部")), *((f"staff:{u.id}", u.display_name) for u in staff),
                          *ACTOR_KINDS.items()]
    actions = audit_log.actions_seen(db.session(), current_user.school_id)
    form.action.choices = [("", _l("全部")), ("export.", ACTION_LABELS["export."]),
                           *((a, ACTION_LABELS.get(a, a)) for a in actions)]
    if request.args:
        form.validate()
    return form


def _wanted(form: AuditFilterForm) -> audit_log.AuditFilter:
    kind, _sep, actor_id = (form.actor.data or "").partition(":")
    return audit_log.AuditFilter(
        actor_kind=kind or None,
        actor_id=int(actor_id) if actor_id.isdigit() else None,
        student=(form.student.data or "").strip() or None,
        student_id=request.args.get("student_id", type=int),
        action=form.action.data or None,
        since=form.since.data if not form.since.errors else None,
        until=form.until.data if not form.until.errors else None,
    )


@bp.get("/audit")
def audit_page():
    form = _form()
    wanted = _wanted(form)
    page = audit_log.audit_page(db.session(), current_user.school_id, wanted, request.args.get("page", 1, type=int))
    args = {k: v for k, v in request.args.items() if k in FILTER_ARGS and v}
    return render_template("admin/audit.html", form=form, page=page, labels=ACTION_LABELS,
                           detail_text=audit_log.detail_text, export_url=url_for("admin.audit_export", **args),
                           page_url=lambda n: url_for("admin.audit_page", **args, page=n))


@bp.get("/audit.xlsx")
def audit_export():
    wanted = _wanted(_form())
    _ok, data = attempt(None, lambda: audit_log.audit_workbook(db.session(), current_user.school_id, wanted,
                                                               actor=actor()))
    return xlsx_download(data, "audit.xlsx")
