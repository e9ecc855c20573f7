"""Stored photos, served only to people allowed to see the student they belong to."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect
from flask_login import current_user
from sqlalchemy import select

from confirm.models import Guardianship, StoredFile, Student
from webapp import db
from webapp.auth.identity import roles_required, staff_can_see_class
from webapp.backends import store

bp = Blueprint("files", __name__, url_prefix="/files")


def _may_see(stored: StoredFile) -> bool:
    if stored.student_id is None:
        return False
    s = db.session()
    if current_user.role == "parent":
        return s.scalar(
            select(Guardianship.id).where(
                Guardianship.student_id == stored.student_id, Guardianship.parent_id == current_user.id
            )
        ) is not None
    student = s.get(Student, stored.student_id)
    return student is not None and staff_can_see_class(student.school_class)


@bp.get("/<int:file_id>")
@roles_required("parent", "head_teacher", "school_admin")
def show(file_id: int):
    stored = db.session().get(StoredFile, file_id)
    if stored is None or not _may_see(stored):
        abort(404)
    backend = store()
    url = backend.presigned_url(stored.storage_key, expires=300)
    if url:
        return redirect(url)
    try:
        data = backend.get(stored.storage_key)
    except KeyError:
        abort(404)
    return Response(data, mimetype=stored.content_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})
