"""The review queue: one submission after another, and bulk approval."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from confirm.models import Campaign, SchoolClass, Student
from confirm.services import records, review_queue
from confirm.services.namesakes import student_labels
from confirm.states import Stage
from webapp.adapters import db
from webapp.auth.identity import STAFF, actor, roles_required, staff_class_or_404
from webapp.teacher import bp
from webapp.teacher.forms import ApproveForm
from webapp.unit_of_work import attempt


def _campaign_id(school_class: SchoolClass) -> int | None:
    campaign = records.active_campaign(db.session(), school_class.school_id)
    return campaign.id if campaign else None


def waiting(student: Student) -> list[int]:
    """Student ids of the class's submissions waiting for review, first come first."""
    school_class = student.school_class
    return review_queue.submitted_in_order(db.session(), school_class.id, _campaign_id(school_class))


def position(student: Student, campaign: Campaign | None) -> review_queue.Position | None:
    """The student's place among the class's waiting submissions in the running ``campaign`` (for the previous /
    next links)."""
    queue = review_queue.submitted_in_order(db.session(), student.class_id, campaign.id if campaign else None)
    return review_queue.position_in(queue, student.id)


def url_after_decision(student: Student, queue_before: list[int]) -> str:
    """Where the teacher goes after approving or returning: the next waiting submission, else the class."""
    following = review_queue.next_after(queue_before, student.id, waiting(student))
    if following is not None:
        return url_for("teacher.student_page", student_id=following)
    flash(_("待审核的材料都处理完了"), "success")
    return url_for("teacher.class_page", class_id=student.class_id, stage=Stage.SUBMITTED.value)


@bp.get("/classes/<int:class_id>/queue")
@roles_required(*STAFF)
def queue(class_id: int):
    school_class = staff_class_or_404(class_id)
    ids = review_queue.submitted_in_order(db.session(), school_class.id, _campaign_id(school_class))
    if ids:
        return redirect(url_for("teacher.student_page", student_id=ids[0]))
    return render_template("teacher/queue.html", school_class=school_class, eligible=None, form=None, empty=True)


@bp.route("/classes/<int:class_id>/bulk-approve", methods=["GET", "POST"])
@roles_required(*STAFF)
def bulk_approve(class_id: int):
    school_class = staff_class_or_404(class_id)
    s = db.session()
    eligible = review_queue.bulk_approvable(s, school_class.id, _campaign_id(school_class))
    form = ApproveForm()
    if form.validate_on_submit():
        _ok, n = attempt(form, lambda: review_queue.bulk_approve(s, eligible, actor=actor()))
        if n:
            flash(_("已批量通过 %(n)s 份确认表", n=n), "success")
        else:
            flash(_("没有可以批量通过的确认表"), "info")
        return redirect(url_for("teacher.class_page", class_id=school_class.id, stage=Stage.SUBMITTED.value))
    if form.is_submitted():
        abort(400)
    return render_template("teacher/queue.html", school_class=school_class, eligible=eligible, form=form,
                           empty=False, label=student_labels(s, [school_class.id]))
