"""Reminders and invitations by SMS, with their statuses and history."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import HiddenField, SelectChoice, SelectField, SelectMultipleField

from confirm.clock import LOCAL_TZ
from confirm.models import Campaign, Notification, SchoolClass, Student, utcnow
from confirm.services import outbox, outreach
from confirm.services.common import mask_phone
from confirm.services.outreach import REMINDER_STAGES
from confirm.services.records import active_campaign
from confirm.states import STAGE_LABELS, MessageKind, MessageStatus, Stage
from webapp.adapters import db
from webapp.adapters.keys import code_key
from webapp.auth.identity import STAFF, actor, roles_required, staff_class_or_404, staff_student_or_404
from webapp.shared.links import message_link
from webapp.teacher import bp
from webapp.unit_of_work import attempt

HISTORY_LIMIT = 50


class ReminderForm(FlaskForm):
    stage = SelectField(_l("提醒哪些学生"),
                        choices=[SelectChoice(s.value, _l(STAGE_LABELS[s])) for s in REMINDER_STAGES])
    student_ids = SelectMultipleField(coerce=int, validate_choice=False)
    pick = HiddenField()  # "1" when the page sent its checkboxes: none ticked then means nobody, not everybody
    back = HiddenField()  # "student": sent from one student's page, which the teacher goes back to


class InvitationForm(FlaskForm):
    """Only the CSRF token: invitations go to every student without a registered parent."""


def clock():
    """The current time (tests replace this to act at noon or at night)."""
    return utcnow()


def budget() -> int:
    """The school's daily SMS budget."""
    return int(current_app.config.get("SMS_DAILY_BUDGET_PER_SCHOOL", outreach.DEFAULT_DAILY_BUDGET))


def flash_outcome(plan: outreach.Plan, created: list[Notification]) -> None:
    """Tell the teacher what happened: sent or queued, and who could not be reached."""
    if created:
        if plan.send_at:
            flash(_("现在是夜间（21:00–8:00），%(n)s 条短信已安排在 %(at)s 发送", n=len(created),
                    at=plan.send_at.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M")), "warning")
        else:
            flash(_("%(n)s 条短信已交给后台发送，发送结果见下方列表", n=len(created)), "success")
    else:
        flash(_("没有发出短信"), "warning")
    if plan.no_phone:
        flash(_("没有手机号，无法发送：%(names)s", names="、".join(s.name for s in plan.no_phone)), "warning")
    if plan.invalid:
        flash(_("以下号码不是有效的手机号，已跳过，请核对学籍中的联系电话：%(items)s",
                items="、".join(f"{s.name} {raw}" for s, raw in plan.invalid)), "warning")
    if plan.recent_count:
        flash(_("%(n)s 个号码在 24 小时内已收到过短信，这次不再发送", n=plan.recent_count), "warning")


def queue_and_send(school, students, kind: MessageKind, campaign) -> bool:
    """Queue the messages (the commit hands them to the sender); False when the budget refused the burst."""
    ok, queued = attempt(None, lambda: outreach.queue_messages(
        db.session(), school, students, kind, compose=outreach.composer(school, campaign, message_link(campaign)),
        budget=budget(), actor=actor(), now=clock(), key=code_key()))
    if ok:
        flash_outcome(*queued)
    return ok


@bp.get("/classes/<int:class_id>/outreach")
@roles_required(*STAFF)
def outreach_page(class_id: int):
    school_class = staff_class_or_404(class_id)
    s = db.session()
    try:
        stage = Stage(request.args.get("stage") or Stage.UNREGISTERED.value)
    except ValueError:
        abort(404)
    if stage not in REMINDER_STAGES:
        abort(404)
    campaign = active_campaign(s, school_class.school_id)
    students = outreach.lagging_students(s, school_class.id, campaign.id if campaign else None, [stage])
    plan = outreach.plan_messages(s, students, MessageKind.REMINDER, budget=budget(), now=clock(), key=code_key())
    history = list(s.scalars(
        select(Notification).join(Student, Student.id == Notification.student_id)
        .where(Student.class_id == school_class.id)
        .order_by(Notification.id.desc()).limit(HISTORY_LIMIT)
    ))
    names = dict(s.execute(select(Student.id, Student.name).where(Student.class_id == school_class.id)).all())
    stale = s.scalar(
        select(func.count()).select_from(Notification).join(Student, Student.id == Notification.student_id)
        .where(Student.class_id == school_class.id, Notification.status == MessageStatus.QUEUED.value,
               Notification.created_at < utcnow() - timedelta(minutes=10))
    )
    return render_template(
        "teacher/outreach.html", school_class=school_class, campaign=campaign, stage=stage, plan=plan,
        stages=REMINDER_STAGES, stage_labels=STAGE_LABELS, history=history, names=names, stale=stale,
        reminder_form=ReminderForm(stage=stage.value), invitation_form=InvitationForm(), mask_phone=mask_phone,
        status_labels=outreach.STATUS_LABELS, kind_labels=outreach.KIND_LABELS, stage_label=outreach.stage_label,
        queue_configured=current_app.extensions.get("job_queue") is not None, shown_body=outbox.shown_body,
    )


@bp.post("/classes/<int:class_id>/reminders")
@roles_required(*STAFF)
def send_reminders(class_id: int):
    school_class = staff_class_or_404(class_id)
    form = ReminderForm()
    if not form.validate_on_submit():
        abort(400)
    stage = Stage(form.stage.data)
    s = db.session()
    campaign = active_campaign(s, school_class.school_id)
    students = outreach.lagging_students(s, school_class.id, campaign.id if campaign else None, [stage])
    if form.pick.data:
        chosen = set(form.student_ids.data or [])
        students = [(st, sg) for st, sg in students if st.id in chosen]
    if not students:
        flash(_("请至少选择一名学生"), "warning")
    else:
        queue_and_send(school_class.school, students, MessageKind.REMINDER, campaign)
    if form.back.data == "student" and len(form.student_ids.data or []) == 1:
        return redirect(url_for("teacher.student_page", student_id=form.student_ids.data[0]))
    return redirect(url_for("teacher.outreach_page", class_id=school_class.id, stage=stage.value))


@bp.post("/classes/<int:class_id>/invitations")
@roles_required(*STAFF)
def send_invitations(class_id: int):
    school_class = staff_class_or_404(class_id)
    if not InvitationForm().validate_on_submit():
        abort(400)
    s = db.session()
    campaign = active_campaign(s, school_class.school_id)
    if campaign is None:
        flash(_("学校还没有开始信息核查，不能发送注册邀请"), "error")
    else:
        students = outreach.lagging_students(s, school_class.id, campaign.id, [Stage.UNREGISTERED])
        if not students:
            flash(_("本班学生都已有家长注册，不需要发送邀请"), "warning")
        else:
            queue_and_send(school_class.school, students, MessageKind.INVITATION, campaign)
    return redirect(url_for("teacher.outreach_page", class_id=school_class.id, stage=Stage.UNREGISTERED.value))


@bp.get("/students/<int:student_id>/messages")
@roles_required(*STAFF)
def student_messages(student_id: int):
    student = staff_student_or_404(student_id)
    history = list(db.session().scalars(
        select(Notification).where(Notification.student_id == student.id).order_by(Notification.id.desc())
    ))
    return render_template(
        "teacher/outreach_history.html", student=student, history=history, mask_phone=mask_phone,
        status_labels=outreach.STATUS_LABELS, kind_labels=outreach.KIND_LABELS, stage_label=outreach.stage_label,
        shown_body=outbox.shown_body,
    )


def invitation_summary(school_class: SchoolClass, campaign: Campaign | None) -> dict[str, int]:
    """For the outreach page: the class's invitations at a glance (``outreach.invitation_counts``) in the page's
    running ``campaign`` (None: none is running). The class page counts them from its roster."""
    s = db.session()
    unregistered = outreach.unregistered_students(s, school_class.id, campaign.id if campaign else None)
    return outreach.invitation_counts(s, school_class.id, unregistered)


@bp.app_context_processor
def _outreach_helpers():
    return {"invitation_summary": invitation_summary}
