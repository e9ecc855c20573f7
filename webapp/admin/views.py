"""School-admin views."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from confirm.models import School, SchoolClass
from confirm.roles import Role
from confirm.services import district_messages, records, stats
from confirm.services import staff as staff_accounts
from confirm.services.school import assign_head_teacher, create_campaign, create_class, head_teachers
from confirm.services.sheet_printing import set_sheet_qr_required
from confirm.states import STAGE_LABELS, Stage
from webapp.adapters import db
from webapp.admin import bp
from webapp.admin.forms import CampaignForm, ClassForm, StaffForm
from webapp.auth.fresh import require_recent_auth
from webapp.auth.identity import actor
from webapp.shared.downloads import xlsx_download
from webapp.unit_of_work import attempt

STUDENTS_PER_PAGE = 50


class StudentSearch:
    """The school page's student search from the query string: ?q=<part of a name>&stage=<stage>&page=<n>.
    Anything unreadable is ignored (the whole list, the first page), never an error."""

    def __init__(self, args):
        self.name = (args.get("q") or "").strip()[:50]
        self.stage = next((stage for stage in Stage if stage.value == args.get("stage")), None)
        page = args.get("page", "")
        self.page = int(page) if page.isdigit() and 0 < len(page) < 7 else 1

    def url_args(self, **changes) -> dict:
        """The query of this search with ``changes`` (e.g. another page), without empty parts."""
        args = {"q": self.name, "stage": self.stage.value if self.stage else "", "page": self.page, **changes}
        return {k: v for k, v in args.items() if v and not (k == "page" and v == 1)}


def _school() -> School:
    return db.session().get_one(School, current_user.school_id)


def _forms(class_form=None, staff_form=None, campaign_form=None):
    """The forms of the school page (the new class's head teacher is chosen from ``teachers``, see the template)."""
    return {
        "class_form": class_form or ClassForm(formdata=None),
        "staff_form": staff_form or StaffForm(formdata=None),
        "campaign_form": campaign_form or CampaignForm(formdata=None),
    }


def _render_home(status: int = 200, **forms):
    if status >= 400:  # the form with the problem may be below the fold
        flash(_("没有保存：请查看下方表单中标红的提示"), "error")
    s = db.session()
    school = s.get_one(School, current_user.school_id)
    campaign = records.active_campaign(s, school.id)
    rows, figures = stats.school_table(s, school.id, campaign, sort=request.args.get("sort"))
    search = StudentSearch(request.args)
    students = stats.school_students(s, school.id, campaign.id if campaign else None, name=search.name,
                                     stage=search.stage, page=search.page, per_page=STUDENTS_PER_PAGE)
    return render_template(
        "admin/home.html",
        school=school,
        campaign=campaign,
        rows=rows,
        figures=figures,
        search=search,
        students=students,
        sort=stats.parse_sort(request.args.get("sort")),
        totals=figures.counts,
        stages=list(Stage),
        stage_labels=STAGE_LABELS,
        stage_names={stage: _(label) for stage, label in STAGE_LABELS.items()},
        teachers=head_teachers(s, school.id),
        district_messages=district_messages.messages_to_school(s, school.id, limit=5),
        **_forms(**forms),
    ), status


@bp.get("/")
def home():
    return _render_home()


@bp.get("/stats.xlsx")
def export_school_stats():
    s = db.session()
    school = s.get_one(School, current_user.school_id)
    campaign = records.active_campaign(s, school.id)
    rows, figures = stats.school_table(s, school.id, campaign, sort=request.args.get("sort"))
    return xlsx_download(stats.school_workbook(school, campaign, rows, figures), f"{school.name}-各班进度.xlsx")


@bp.post("/classes")
def add_class():
    form = ClassForm()
    form.head_teacher_id.choices = []
    if form.validate_on_submit():
        ok, _class = attempt(form, lambda: create_class(
            db.session(), _school(), grade=form.grade.data, name=form.name.data,
            head_teacher_id=form.head_teacher_id.data, actor=actor()))
        if ok:
            flash(_("已创建班级 %(grade)s %(name)s", grade=form.grade.data, name=form.name.data), "success")
            return redirect(url_for("admin.home"))
    return _render_home(400, class_form=form)


@bp.post("/staff")
def add_staff():
    form = StaffForm()
    if form.validate_on_submit():
        ok, _staff = attempt(form, lambda: staff_accounts.create_staff(
            db.session(), _school(), username=form.username.data, display_name=form.display_name.data,
            role=Role.HEAD_TEACHER, password=form.password.data, phone=form.phone.data, actor=actor()))
        if ok:
            flash(_("已创建班主任账号 %(u)s", u=form.username.data), "success")
            return redirect(url_for("admin.home"))
    return _render_home(400, staff_form=form)


@bp.post("/campaign")
def start_campaign():
    form = CampaignForm()
    if form.validate_on_submit():
        ok, _campaign = attempt(form, lambda: create_campaign(db.session(), _school(), name=form.name.data,
                                                              deadline=form.deadline.data, actor=actor()))
        if ok:
            flash(_("已开始新的信息核查：%(name)s", name=form.name.data), "success")
            return redirect(url_for("admin.home"))
    return _render_home(400, campaign_form=form)


def _own_class_or_404(class_id: int) -> SchoolClass:
    school_class = db.session().get(SchoolClass, class_id)
    if school_class is None or school_class.school_id != current_user.school_id:
        abort(404)
    return school_class


@bp.get("/classes/<int:class_id>/teacher")
def change_teacher(class_id: int):
    """The form that names a class's head teacher (one list of the school's teachers, not one per class)."""
    return render_template("admin/class_teacher.html", school_class=_own_class_or_404(class_id),
                           teachers=head_teachers(db.session(), current_user.school_id))


@bp.post("/classes/<int:class_id>/teacher")
def assign_teacher(class_id: int):
    s = db.session()
    school_class = _own_class_or_404(class_id)
    raw = request.form.get("head_teacher_id", "")
    if raw and not raw.isdigit():
        flash(_("请选择本校的班主任"), "error")
        return redirect(url_for("admin.home"))
    ok, _result = attempt(None, lambda: assign_head_teacher(s, school_class, int(raw) if raw else None,
                                                            actor=actor()))
    if ok:
        flash(_("已更新 %(c)s 的班主任", c=school_class.title), "success")
    return redirect(url_for("admin.home"))


@bp.post("/campaign/sheet-qr")
def sheet_qr_setting():
    """Switch on (or off) the rule that uploaded sheet photos must show the QR code of a platform-printed sheet."""
    if not FlaskForm().validate_on_submit():  # the CSRF token only
        abort(400)
    s = db.session()
    campaign = records.active_campaign(s, current_user.school_id)
    if campaign is None:
        flash(_("还没有开始信息核查"), "error")
        return redirect(url_for("admin.home"))
    required = request.form.get("require_sheet_qr") == "y"
    attempt(None, lambda: set_sheet_qr_required(s, campaign, required, actor=actor()))
    flash(_("已要求上传的确认表带有平台二维码") if required else _("已不再要求确认表带有平台二维码"), "success")
    return redirect(url_for("admin.home"))


@bp.post("/staff/phone")
@require_recent_auth(lambda: url_for("admin.staff_page"))
def set_staff_phone():
    ok, staff = attempt(None, lambda: staff_accounts.set_staff_phone(
        db.session(), _school(), request.form.get("staff_id", type=int), request.form.get("phone", ""),
        actor=actor()))
    if ok:
        flash(_("已保存 %(name)s 的手机号，第一次敏感操作时会发短信验证", name=staff.display_name), "success")
    return redirect(url_for("admin.staff_page") + "#staff-phone")


@bp.post("/district-messages/read")
def read_district_messages():
    """The admin has read the supervisors' messages: they are marked read for the supervisor to see."""
    if not FlaskForm().validate_on_submit():  # the CSRF token only
        abort(400)
    attempt(None, lambda: district_messages.mark_read(db.session(), current_user.school_id, current_user.account))
    return redirect(url_for("admin.home"))
