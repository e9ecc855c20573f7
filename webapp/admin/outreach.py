"""The school admin sends registration invitations to every unregistered student of the school at once."""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from confirm.models import School, SchoolClass
from confirm.services.outreach import lagging_students
from confirm.services.records import active_campaign
from confirm.states import MessageKind, Stage
from webapp.adapters import db
from webapp.admin import bp
from webapp.teacher.outreach import InvitationForm, queue_and_send


@bp.post("/invitations")
def send_invitations():
    if not InvitationForm().validate_on_submit():
        abort(400)
    s = db.session()
    school = s.get(School, current_user.school_id)
    campaign = active_campaign(s, school.id)
    if campaign is None:
        flash(_("学校还没有开始信息核查，不能发送注册邀请"), "error")
        return redirect(url_for("admin.home"))
    class_ids = s.scalars(select(SchoolClass.id).where(SchoolClass.school_id == school.id)
                          .order_by(SchoolClass.grade, SchoolClass.name))
    students = [item for class_id in class_ids
                for item in lagging_students(s, class_id, campaign.id, [Stage.UNREGISTERED])]
    if not students:
        flash(_("全校学生都已有家长注册，不需要发送邀请"), "warning")
    else:
        queue_and_send(school, students, MessageKind.INVITATION, campaign)
    return redirect(url_for("admin.home"))
