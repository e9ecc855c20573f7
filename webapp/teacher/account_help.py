"""Account help for head teachers (问题二、问题三): reset a student's registration code, reset a parent's password.
Both need a fresh step-up (``webapp.teacher.stepup``); each is audited."""

from __future__ import annotations

from flask import flash, render_template, request
from flask_babel import gettext as _

from confirm.services import resets
from confirm.services.namesakes import student_labels
from webapp.adapters import db
from webapp.adapters.keys import code_key
from webapp.auth.fresh import stepup_is_fresh
from webapp.auth.identity import STAFF, actor, roles_required, staff_class_or_404, staff_student_or_404
from webapp.shared.links import registration_url
from webapp.teacher import bp
from webapp.teacher.forms import ResetCodeForm, ResetPasswordForm
from webapp.teacher.stepup import to_stepup
from webapp.unit_of_work import attempt


@bp.route("/students/<int:student_id>/reset-code", methods=["GET", "POST"])
@roles_required(*STAFF)
def reset_code(student_id: int):
    student = staff_student_or_404(student_id)
    form = ResetCodeForm()
    if request.method == "POST" and not stepup_is_fresh():
        return to_stepup(request.path)
    if form.validate_on_submit():
        ok, result = attempt(form, lambda: resets.reset_registration_code(
            db.session(), student, reason=form.reason.data, key=code_key(), actor=actor()))
        if ok:
            if result.unlinked:
                flash(_("已解除 %(n)s 个家长账号与该学生的关联，家长会收到短信通知", n=len(result.unlinked)), "info")
            slips = [{"student": student, "code": result.code}]
            return render_template("teacher/code_slips.html", school_class=student.school_class, slips=slips,
                                   label=student_labels(db.session(), [student.class_id]),
                                   register_url=registration_url()), 200, {"Cache-Control": "no-store"}
    return render_template("teacher/reset_code.html", student=student, form=form, fresh=stepup_is_fresh())


# --- resetting a parent's password -----------------------------------------------------------------------------


@bp.route("/classes/<int:class_id>/reset-password", methods=["GET", "POST"])
@roles_required(*STAFF)
def reset_password(class_id: int):
    school_class = staff_class_or_404(class_id)
    form = ResetPasswordForm()
    if request.method == "GET" and request.args.get("platform_no"):  # from the student's page: one parent named
        form.platform_no.data = request.args["platform_no"][:12]
    if request.method == "POST" and not stepup_is_fresh():
        return to_stepup(request.path)
    temporary = None
    if form.validate_on_submit():
        _ok, temporary = attempt(form, lambda: resets.reset_parent_password(
            db.session(), platform_no=form.platform_no.data, phone=form.phone.data, class_ids=[school_class.id],
            school_id=school_class.school_id, actor=actor()))
    return render_template("teacher/reset_password.html", school_class=school_class, form=form,
                           fresh=stepup_is_fresh(), temporary=temporary,
                           platform_no=form.platform_no.data if temporary else ""), 200, {"Cache-Control": "no-store"}


