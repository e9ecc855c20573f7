"""The district page (every school's funnel), its Excel export, a school's classes, messages to a school."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from confirm.clock import local_today
from confirm.districts import DISTRICT_KIND_LABELS, DistrictKind
from confirm.services import district_messages, district_stats, records, stats
from confirm.services.districts import past_memberships
from confirm.states import STAGE_LABELS, Stage
from webapp.adapters import db
from webapp.adapters.queue import enqueue
from webapp.auth.identity import actor
from webapp.district import bp
from webapp.district.access import district_school_or_404, own_district
from webapp.jobs.district import refresh_school_progress
from webapp.shared.downloads import xlsx_download
from webapp.unit_of_work import attempt


class SchoolMessageForm(FlaskForm):
    body = TextAreaField(_l("留言内容（学校的学籍管理员会在平台中看到，并收到短信提醒）"),
                         validators=[Length(max=district_messages.MAX_MESSAGE_LENGTH)])


def _table(district, today):
    """The district table; schools whose counts are missing or old are counted again by the background job."""
    table = district_stats.district_table(db.session(), district, today, sort=request.args.get("sort"))
    if table.to_refresh:
        enqueue(refresh_school_progress, table.to_refresh)
    return table


@bp.get("/")
def home():
    district = own_district()
    today = local_today()
    table = _table(district, today)
    search = request.args.get("q", "").strip()
    page = table.page(request.args.get("page", 1, type=int), search=search)
    sort_arg = request.args.get("sort") or None
    return render_template(
        "district/home.html", district=district, kind_label=DISTRICT_KIND_LABELS[DistrictKind(district.kind)],
        rows=table.rows, table=table, page=page, page_size=district_stats.PAGE_SIZE, search=search, sort_arg=sort_arg,
        figures=stats.Figures(table.totals, stats.Deadline(None, today)),
        sort=district_stats.parse_sort(sort_arg), stages=list(Stage), stage_labels=STAGE_LABELS,
        moved_out=past_memberships(db.session(), district.id),
        key_data_waiting=sum(r.key_data_waiting for r in table.rows))


@bp.get("/export.xlsx")
def export():
    district = own_district()
    today = local_today()
    data = district_stats.district_workbook(district, _table(district, today), today)
    return xlsx_download(data, f"{district.name}-各校进度-{today.isoformat()}.xlsx")


def _render_school(school, form=None, status=200):
    s = db.session()
    campaign = records.active_campaign(s, school.id)
    rows, figures = stats.school_table(s, school.id, campaign, sort=request.args.get("sort"))
    return render_template(
        "district/school.html", school=school, campaign=campaign, rows=rows, figures=figures,
        sort=stats.parse_sort(request.args.get("sort")), stages=list(Stage), stage_labels=STAGE_LABELS,
        form=form or SchoolMessageForm(formdata=None),
        messages=district_messages.messages_to_school(s, school.id)), status


@bp.get("/schools/<int:school_id>")
def school_page(school_id: int):
    return _render_school(district_school_or_404(school_id))


@bp.post("/schools/<int:school_id>/message")
def message_school(school_id: int):
    school = district_school_or_404(school_id)
    form = SchoolMessageForm()
    if form.validate_on_submit():
        ok, _result = attempt(form, lambda: district_messages.send_school_message(
            db.session(), own_district(), school, form.body.data, sender=current_user.account, actor=actor()))
        if ok:
            flash(_("留言已发给 %(school)s 的学籍管理员", school=school.name), "success")
            return redirect(url_for("district.school_page", school_id=school.id))
    return _render_school(school, form=form, status=400)
