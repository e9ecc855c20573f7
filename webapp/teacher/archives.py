"""A class's electronic archive (电子档案) from the class's own pages: the head teacher of the class (and the school
admin) asks for it and downloads it; the download is ``webapp.shared.archives``."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask_wtf import FlaskForm

from confirm.services import archives
from webapp.adapters import db
from webapp.auth.identity import STAFF, roles_required, staff_class_or_404
from webapp.shared.archives import ask_for, page_context
from webapp.teacher import bp


def _page(school_class, form, status: int = 200):
    jobs = archives.recent_jobs(db.session(), school_class.school_id, school_class)
    return render_template("teacher/archive.html", school_class=school_class, form=form,
                           **page_context(jobs)), status


@bp.get("/classes/<int:class_id>/archive")
@roles_required(*STAFF)
def class_archive(class_id: int):
    return _page(staff_class_or_404(class_id), FlaskForm())


@bp.post("/classes/<int:class_id>/archive")
@roles_required(*STAFF)
def request_class_archive(class_id: int):
    school_class = staff_class_or_404(class_id)
    form = FlaskForm()
    if not form.validate_on_submit():  # the CSRF token only
        abort(400)
    if not ask_for(school_class.school, school_class, form):
        return _page(school_class, form, 400)
    return redirect(url_for("teacher.class_archive", class_id=school_class.id))
