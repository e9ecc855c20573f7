"""Misuse flags of a class: a registration code guessed at, a login burst, one phone across unrelated families."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from confirm.services import misuse
from webapp.adapters import db
from webapp.auth.identity import STAFF, actor, roles_required, staff_class_or_404
from webapp.teacher import bp
from webapp.teacher.forms import ResolveForm
from webapp.unit_of_work import attempt

FLAG_LABELS = {
    misuse.CODE_FAILURES: _l("注册码多次输入错误（已锁定 1 小时）"),
    misuse.CODE_MANY_PHONES: _l("同一注册码被多个手机号尝试"),
    misuse.LOGIN_BURST: _l("家长账号连续登录失败（已锁定 15 分钟）"),
    misuse.UNRELATED_FAMILIES: _l("一个手机号注册了多个无关家庭的学生"),
}


@bp.get("/classes/<int:class_id>/flags")
@roles_required(*STAFF)
def flags(class_id: int):
    school_class = staff_class_or_404(class_id)
    open_flags = misuse.open_flags_of_class(db.session(), school_class.school_id, school_class.id)
    return render_template("teacher/flags.html", school_class=school_class, flags=open_flags, labels=FLAG_LABELS,
                           resolve_form=ResolveForm())


@bp.post("/classes/<int:class_id>/flags/resolve")
@roles_required(*STAFF)
def resolve_flag(class_id: int):
    school_class = staff_class_or_404(class_id)
    form = ResolveForm()
    if not form.validate_on_submit():
        abort(400)
    open_flags = misuse.open_flags_of_class(db.session(), school_class.school_id, school_class.id)
    if form.flag_id.data:
        open_flags = [f for f in open_flags if str(f.id) == form.flag_id.data]
        if not open_flags:
            abort(404)
    attempt(None, lambda: misuse.resolve_flags(db.session(), open_flags, staff=current_user.account, actor=actor()))
    flash(_("已标记为已处理"), "success")
    return redirect(url_for("teacher.flags", class_id=class_id))


def open_flag_count(school_class) -> int:
    """How many open flags concern the class (for the link on the class page)."""
    return len(misuse.open_flags_of_class(db.session(), school_class.school_id, school_class.id))


@bp.app_context_processor
def _flag_count():
    return {"open_flag_count": open_flag_count}
