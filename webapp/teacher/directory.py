"""The class's parents (问题四: a parent's platform number), with phones masked until a step-up reveals one."""

from __future__ import annotations

from flask import abort, render_template, request, url_for

from confirm.services import directory as parents
from confirm.services.common import mask_phone
from confirm.services.namesakes import student_labels
from webapp.adapters import db
from webapp.auth.fresh import stepup_is_fresh
from webapp.auth.identity import STAFF, actor, roles_required, staff_class_or_404
from webapp.teacher import bp
from webapp.teacher.forms import RevealForm
from webapp.teacher.stepup import to_stepup
from webapp.unit_of_work import attempt


def _render_directory(school_class, revealed: dict[int, str] | None = None):
    search = request.args.get("q", "").strip()[:50]
    rows = parents.class_parents(db.session(), school_class.id, search)
    return render_template("teacher/directory.html", school_class=school_class, rows=rows, search=search,
                           revealed=revealed or {}, reveal_form=RevealForm(), fresh=stepup_is_fresh(),
                           mask_phone=mask_phone,
                           label=student_labels(db.session(), [school_class.id])), 200, {"Cache-Control": "no-store"}


@bp.get("/classes/<int:class_id>/parents")
@roles_required(*STAFF)
def directory(class_id: int):
    return _render_directory(staff_class_or_404(class_id))


@bp.post("/classes/<int:class_id>/parents/reveal")
@roles_required(*STAFF)
def reveal_phone(class_id: int):
    school_class = staff_class_or_404(class_id)
    if not stepup_is_fresh():
        return to_stepup(url_for("teacher.directory", class_id=class_id))
    form = RevealForm()
    if not form.validate_on_submit() or not form.parent_id.data.isdigit():
        abort(400)
    _ok, account = attempt(None, lambda: parents.reveal_parent_phone(
        db.session(), school_class.id, int(form.parent_id.data), actor=actor(), school_id=school_class.school_id))
    if account is None:
        abort(404)
    return _render_directory(school_class, {account.id: account.phone})


