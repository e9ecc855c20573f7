"""The school's staff accounts: who they are, when they last signed in, and the admin's part in their account life
(a temporary password by SMS, deactivation, reactivation). Each of these needs the admin's password (or step-up)
in the last few minutes."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from confirm.models import School, SchoolClass
from confirm.roles import Role
from confirm.services import staff as staff_accounts
from webapp.adapters import db
from webapp.admin import bp
from webapp.admin.forms import StaffActionForm
from webapp.auth.fresh import require_recent_auth
from webapp.auth.identity import actor
from webapp.unit_of_work import attempt


def _school() -> School:
    return db.session().get_one(School, current_user.school_id)


def _staff_page() -> str:
    return url_for("admin.staff_page")


@bp.get("/staff")
def staff_page():
    s = db.session()
    school = _school()
    classes: dict[int, list[str]] = {}
    for school_class in s.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id,
                                                            SchoolClass.head_teacher_id.is_not(None))
                                  .order_by(SchoolClass.grade, SchoolClass.name)):
        classes.setdefault(school_class.head_teacher_id, []).append(school_class.title)
    return render_template("admin/staff.html", school=school, staff=staff_accounts.school_staff(s, school),
                           classes=classes, form=StaffActionForm(formdata=None), roles=Role)


def _act(call, done: str):
    form = StaffActionForm()
    if not form.validate_on_submit():
        abort(400)
    ok, staff = attempt(None, lambda: call(db.session(), _school(), form.staff_id.data, actor=actor()))
    if ok:  # (a refusal is flashed by attempt)
        flash(done % {"name": staff.display_name}, "success")
    return redirect(_staff_page())


@bp.post("/staff/reset-password")
@require_recent_auth(_staff_page)
def reset_staff_password():
    return _act(staff_accounts.reset_staff_password,
                _("已把临时密码用短信发给 %(name)s；下次登录时需要设置新密码，其他登录已退出"))


@bp.post("/staff/deactivate")
@require_recent_auth(_staff_page)
def deactivate_staff():
    return _act(lambda s, school, staff_id, actor: staff_accounts.set_staff_active(s, school, staff_id, False,
                                                                                 actor=actor),
                _("已停用 %(name)s 的账号，TA 的登录已全部退出；班级和记录都保留"))


@bp.post("/staff/reactivate")
@require_recent_auth(_staff_page)
def reactivate_staff():
    return _act(lambda s, school, staff_id, actor: staff_accounts.set_staff_active(s, school, staff_id, True,
                                                                                 actor=actor),
                _("已重新启用 %(name)s 的账号"))
