"""Account help for head teachers: step-up SMS verification, code and password resets, the parents directory,
and the misuse flags of a class.

Sensitive actions (reset a code or a password, reveal a phone) need a step-up: a fresh SMS code to the teacher's own
phone unlocks them for 10 minutes in this browser session only (the expiry is kept in the Flask session, which a new
login clears).
"""

from __future__ import annotations

import time
from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from confirm.errors import DomainError
from confirm.models import StaffUser, utcnow
from confirm.services import misuse, resets, stepup
from confirm.services.common import mask_phone
from webapp.adapters import db
from webapp.adapters.keys import code_key
from webapp.adapters.sms import notifier
from webapp.auth.identity import STAFF, actor, roles_required, staff_class_or_404, staff_student_or_404
from webapp.teacher import bp
from webapp.unit_of_work import apply_errors, attempt

_STEPUP = "stepup"


class StepupSendForm(FlaskForm):
    """Only the CSRF token: the code goes to the teacher's own phone."""


class StepupVerifyForm(FlaskForm):
    sms_code = StringField(_l("短信验证码"), validators=[DataRequired(_l("请输入短信验证码")), Length(max=10)])


class ResetCodeForm(FlaskForm):
    reason = TextAreaField(_l("重置原因"), validators=[DataRequired(_l("请填写重置原因")), Length(max=300)])


class ResetPasswordForm(FlaskForm):
    platform_no = StringField(_l("家长平台号"), validators=[DataRequired(_l("请输入平台号")), Length(max=12)])
    phone = StringField(_l("家长手机号"), validators=[DataRequired(_l("请输入手机号")), Length(max=20)])


class RevealForm(FlaskForm):
    parent_id = HiddenField(validators=[DataRequired()])


class ResolveForm(FlaskForm):
    flag_id = HiddenField()  # empty: every open flag of the class


# --- step-up ---------------------------------------------------------------------------------------------------


def stepup_is_fresh() -> bool:
    """True while this session's step-up verification of the current teacher is still valid."""
    state = session.get(_STEPUP) or {}
    return state.get("staff") == current_user.id and state.get("until", 0) > time.time()


def _safe_next(default: str) -> str:
    target = request.args.get("next", "")
    return target if target.startswith("/teacher/") and "//" not in target else default


def _to_stepup(next_path: str):
    flash(_("这是敏感操作，请先完成短信验证"), "warning")
    return redirect(url_for("teacher.stepup", next=next_path))


@bp.route("/verify", methods=["GET", "POST"], endpoint="stepup")
@roles_required(*STAFF)
def stepup_page():
    staff: StaffUser = current_user.account
    form = StepupVerifyForm()
    challenge_id = session.get("stepup_challenge")
    if form.validate_on_submit():
        ok, until = attempt(form, lambda: stepup.verify_stepup_code(
            db.session(), staff, challenge_id, form.sms_code.data, key=code_key(), actor=actor()))
        if ok:
            session.pop("stepup_challenge", None)
            session[_STEPUP] = {"staff": staff.id, "until": until.timestamp()}
            flash(_("验证成功，10 分钟内可以进行敏感操作"), "success")
            return redirect(_safe_next(url_for("teacher.home")))
    return render_template("teacher/stepup.html", form=form, send_form=StepupSendForm(), staff=staff,
                           phone=mask_phone(staff.phone) if staff.phone else "", sent=bool(challenge_id),
                           fresh=stepup_is_fresh(), next=request.args.get("next", ""))


@bp.post("/verify/send")
@roles_required(*STAFF)
def stepup_send():
    form = StepupSendForm()
    if not form.validate_on_submit():
        abort(400)
    s = db.session()
    try:
        challenge = stepup.send_stepup_code(s, current_user.account, key=code_key(), notifier=notifier(),
                                            actor=actor())
    except DomainError as exc:
        s.rollback()
        apply_errors(form, exc)
    else:
        s.commit()
        session["stepup_challenge"] = challenge.id
        flash(_("验证码已发送到您的手机 %(phone)s", phone=mask_phone(challenge.phone)), "info")
    return redirect(url_for("teacher.stepup", next=request.args.get("next", "")))


# --- resetting a registration code -----------------------------------------------------------------------------


@bp.route("/students/<int:student_id>/reset-code", methods=["GET", "POST"])
@roles_required(*STAFF)
def reset_code(student_id: int):
    student = staff_student_or_404(student_id)
    form = ResetCodeForm()
    if request.method == "POST" and not stepup_is_fresh():
        return _to_stepup(request.path)
    if form.validate_on_submit():
        s = db.session()
        try:
            result = resets.reset_registration_code(s, student, reason=form.reason.data, key=code_key(),
                                                    actor=actor(), notifier=notifier())
        except DomainError as exc:
            s.rollback()
            apply_errors(form, exc)
        else:
            s.commit()
            if result.unlinked:
                flash(_("已解除 %(n)s 个家长账号与该学生的关联，家长会收到短信通知", n=len(result.unlinked)), "info")
            register_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for("auth.register")
            slips = [{"student": student, "code": result.code}]
            return render_template("teacher/code_slips.html", school_class=student.school_class, slips=slips,
                                   register_url=register_url), 200, {"Cache-Control": "no-store"}
    return render_template("teacher/reset_code.html", student=student, form=form, fresh=stepup_is_fresh())


# --- resetting a parent's password -----------------------------------------------------------------------------


@bp.route("/classes/<int:class_id>/reset-password", methods=["GET", "POST"])
@roles_required(*STAFF)
def reset_password(class_id: int):
    school_class = staff_class_or_404(class_id)
    form = ResetPasswordForm()
    if request.method == "POST" and not stepup_is_fresh():
        return _to_stepup(request.path)
    temporary = None
    if form.validate_on_submit():
        _ok, temporary = attempt(form, lambda: resets.reset_parent_password(
            db.session(), platform_no=form.platform_no.data, phone=form.phone.data, class_ids=[school_class.id],
            school_id=school_class.school_id, actor=actor(), notifier=notifier()))
    return render_template("teacher/reset_password.html", school_class=school_class, form=form,
                           fresh=stepup_is_fresh(), temporary=temporary,
                           platform_no=form.platform_no.data if temporary else ""), 200, {"Cache-Control": "no-store"}


# --- the class's parents ---------------------------------------------------------------------------------------


def _render_directory(school_class, revealed: dict[int, str] | None = None):
    search = request.args.get("q", "").strip()[:50]
    rows = resets.class_parents(db.session(), school_class.id, search)
    return render_template("teacher/directory.html", school_class=school_class, rows=rows, search=search,
                           revealed=revealed or {}, reveal_form=RevealForm(), fresh=stepup_is_fresh(),
                           mask_phone=mask_phone), 200, {"Cache-Control": "no-store"}


@bp.get("/classes/<int:class_id>/parents")
@roles_required(*STAFF)
def directory(class_id: int):
    return _render_directory(staff_class_or_404(class_id))


@bp.post("/classes/<int:class_id>/parents/reveal")
@roles_required(*STAFF)
def reveal_phone(class_id: int):
    school_class = staff_class_or_404(class_id)
    if not stepup_is_fresh():
        return _to_stepup(url_for("teacher.directory", class_id=class_id))
    form = RevealForm()
    if not form.validate_on_submit() or not form.parent_id.data.isdigit():
        abort(400)
    s = db.session()
    account = resets.reveal_parent_phone(s, school_class.id, int(form.parent_id.data), actor=actor(),
                                         school_id=school_class.school_id)
    if account is None:
        abort(404)
    s.commit()
    return _render_directory(school_class, {account.id: account.phone})


# --- misuse flags ----------------------------------------------------------------------------------------------

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
    s = db.session()
    open_flags = misuse.open_flags_of_class(s, school_class.school_id, school_class.id)
    if form.flag_id.data:
        open_flags = [f for f in open_flags if str(f.id) == form.flag_id.data]
        if not open_flags:
            abort(404)
    now: datetime = utcnow()
    for flag in open_flags:
        misuse.resolve_flag(s, flag, staff=current_user.account, actor=actor(), now=now)
    s.commit()
    flash(_("已标记为已处理"), "success")
    return redirect(url_for("teacher.flags", class_id=class_id))


def open_flag_count(school_class) -> int:
    """How many open flags concern the class (for the link on the class page)."""
    return len(misuse.open_flags_of_class(db.session(), school_class.school_id, school_class.id))


@bp.app_context_processor
def _flag_count():
    return {"open_flag_count": open_flag_count}
