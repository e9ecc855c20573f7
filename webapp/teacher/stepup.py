"""Step-up verification for staff: a fresh SMS code to the user's own phone unlocks sensitive actions (reset a code
or a password, reveal a phone) for 10 minutes in this browser session only (kept in the server-side session, whose
id changes at the step-up; a new login starts without it)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from confirm.models import StaffUser
from confirm.services import stepup
from confirm.services.common import mask_phone
from webapp.adapters import db, sessions
from webapp.adapters.keys import code_key
from webapp.auth.fresh import mark_stepped_up, stepup_is_fresh
from webapp.auth.identity import STAFF, actor, roles_required
from webapp.shared.links import safe_next
from webapp.teacher import bp
from webapp.teacher.forms import StepupSendForm, StepupVerifyForm
from webapp.unit_of_work import attempt


def to_stepup(next_path: str):
    """Send the teacher to the step-up page, and back to ``next_path`` once verified."""
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
            sessions.rotate(keep_age=True)
            mark_stepped_up(staff.id, until)
            flash(_("验证成功，10 分钟内可以进行敏感操作"), "success")
            return redirect(safe_next(request.args.get("next"), within="/teacher/") or url_for("teacher.home"))
    return render_template("teacher/stepup.html", form=form, send_form=StepupSendForm(), staff=staff,
                           phone=mask_phone(staff.phone) if staff.phone else "", sent=bool(challenge_id),
                           fresh=stepup_is_fresh(), next=request.args.get("next", ""))


@bp.post("/verify/send")
@roles_required(*STAFF)
def stepup_send():
    form = StepupSendForm()
    if not form.validate_on_submit():
        abort(400)
    ok, challenge = attempt(form, lambda: stepup.send_stepup_code(db.session(), current_user.account,
                                                                   key=code_key(), actor=actor()))
    if ok:
        session["stepup_challenge"] = challenge.id
        flash(_("验证码已发送到您的手机 %(phone)s", phone=mask_phone(challenge.phone)), "info")
    return redirect(url_for("teacher.stepup", next=request.args.get("next", "")))


