"""The school admin's electronic archives (电子档案): ask for a class's or the whole school's archive and watch it
being built; the download is ``webapp.shared.archives``."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import InputRequired

from confirm.models import School, SchoolClass
from confirm.services import archives
from webapp.adapters import db
from webapp.admin import bp
from webapp.auth.identity import staff_classes
from webapp.shared.archives import ask_for, page_context

SCHOOL = "school"


class ArchiveForm(FlaskForm):
    scope = SelectField(_l("档案范围"), validators=[InputRequired()], validate_choice=False)


def _page(form: ArchiveForm, status: int = 200):
    form.scope.choices = [(SCHOOL, _("全校"))] + [(str(c.id), c.title) for c in staff_classes()]
    s = db.session()
    school = s.get_one(School, current_user.school_id)
    jobs = archives.recent_jobs(s, school.id)
    return render_template("admin/archives.html", form=form, school=school, **page_context(jobs)), status


@bp.get("/archives")
def archives_page():
    return _page(ArchiveForm(formdata=None))


@bp.post("/archives")
def request_archive():
    form = ArchiveForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    s = db.session()
    school = s.get_one(School, current_user.school_id)
    school_class = None
    if form.scope.data != SCHOOL:
        school_class = s.get(SchoolClass, int(form.scope.data)) if form.scope.data.isdigit() else None
        if school_class is None or school_class.school_id != school.id:
            form.scope.errors = [_("请选择本校的班级，或“全校”")]
            return _page(form, 400)
    if not ask_for(school, school_class, form):
        return _page(form, 400)
    return redirect(url_for("admin.archives_page"))
