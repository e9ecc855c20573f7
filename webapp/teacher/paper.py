"""The paper loop: upload on a parent's behalf and batch upload of sheet photos."""

from __future__ import annotations

from flask import Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, IntegerField, StringField
from wtforms.validators import AnyOf, Length

from confirm.errors import DomainError
from confirm.models import BatchItem, BatchUpload, SchoolClass, Student
from confirm.services import batches, records
from uploads.intake import IntakeError, sanitize_image
from uploads.storage import new_object_key
from webapp.adapters import db
from webapp.adapters.queue import enqueue
from webapp.adapters.storage import store
from webapp.auth.identity import STAFF, actor, roles_required, staff_can_see_class, staff_class_or_404
from webapp.jobs.batch import GateRefused, assign_item, hand_in, process_batch_item, sheet_ref
from webapp.teacher import bp
from webapp.unit_of_work import apply_errors, render

NO_JS_FILES = 5  # the whole request stays under MAX_CONTENT_LENGTH; batch.js sends one photo per request


class LookupForm(FlaskForm):
    class Meta:
        csrf = False  # a GET that only looks a number up

    upload_no = StringField(_l("拍照上传号"), validators=[Length(max=20)])


class OnBehalfForm(FlaskForm):
    upload_no = HiddenField()
    sheet = FileField(_l("签字确认表照片"), validators=[FileRequired(_l("请拍照或选择签字后的确认表照片"))])
    override = BooleanField(_l("仍然使用这张照片"))
    override_reason = StringField(_l("仍然使用的原因（会记录在案）"), validators=[Length(max=200)])


class BatchForm(FlaskForm):
    photos = MultipleFileField(_l("确认表照片（可多选）"))


class BatchAddForm(FlaskForm):
    photo = FileField(_l("确认表照片"), validators=[FileRequired(_l("请选择照片"))])


class AssignForm(FlaskForm):
    item_id = IntegerField()
    action = HiddenField(default="assign", validators=[AnyOf(["assign", "discard"])])
    upload_no = StringField(_l("拍照上传号"), validators=[Length(max=20)])
    override = BooleanField(_l("仍然使用这张照片"))
    override_reason = StringField(_l("原因"), validators=[Length(max=200)])


def _campaign_or_redirect(school_class: SchoolClass):
    campaign = records.active_campaign(db.session(), school_class.school_id)
    if campaign is None:
        flash(_("学校还没有开始本次信息核查"), "error")
    return campaign


# --- upload on behalf ------------------------------------------------------------------------------------------


@bp.route("/classes/<int:class_id>/upload", methods=["GET", "POST"])
@roles_required(*STAFF)
def upload_on_behalf(class_id: int):
    school_class = staff_class_or_404(class_id)
    s = db.session()
    campaign = _campaign_or_redirect(school_class)
    if campaign is None:
        return redirect(url_for("teacher.class_page", class_id=school_class.id))
    lookup = LookupForm(request.args)
    form = OnBehalfForm()
    student, status, show_override = None, 200, False
    number = form.upload_no.data if request.method == "POST" else lookup.upload_no.data
    if number:
        try:
            student = batches.student_by_upload_no(s, school_class, number)
        except DomainError as exc:
            apply_errors(lookup, exc)
            status = 400
    elif request.method == "POST":
        status = 400
    if student is not None and request.method == "POST":
        if form.validate_on_submit():
            try:
                hand_in(s, student, campaign, form.sheet.data.read(), actor=actor(), how="on_behalf",
                        override_reason=(form.override_reason.data or "") if form.override.data else None)
            except GateRefused as exc:
                apply_errors(form, exc)
                show_override, status = True, 400
            except IntakeError as exc:
                form.sheet.errors.append(render(exc.message))
                status = 400
            except DomainError as exc:
                apply_errors(form, exc)
                show_override, status = bool(form.override.data), 400
            else:
                flash(_("已代 %(name)s 的家长提交确认表，请在待审核中审核", name=student.name), "success")
                return redirect(url_for("teacher.upload_on_behalf", class_id=school_class.id))
        else:
            status = 400
    if student is not None:
        form.upload_no.data = student.upload_no
        lookup.upload_no.data = student.upload_no
        show_override = show_override or bool(form.override.errors or form.override_reason.errors)
    return render_template("teacher/upload_on_behalf.html", school_class=school_class, lookup=lookup, form=form,
                           student=student, show_override=show_override), status


# --- batch upload ----------------------------------------------------------------------------------------------


def _batch_or_404(batch_id: int) -> tuple[BatchUpload, SchoolClass]:
    s = db.session()
    batch = s.get(BatchUpload, batch_id)
    school_class = s.get(SchoolClass, batch.class_id) if batch is not None else None
    if school_class is None or not staff_can_see_class(school_class):
        abort(404)
    return batch, school_class


def _add_photo(batch: BatchUpload, upload) -> BatchItem:
    """Keep the raw photo under a generated key and record it as a pending item (the caller commits)."""
    key = new_object_key("batch", batch.school_id, "bin")
    store().put(key, upload.read(), "application/octet-stream")
    return batches.add_item(db.session(), batch, upload.filename or "", key)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.route("/classes/<int:class_id>/batches", methods=["GET", "POST"])
@roles_required(*STAFF)
def batch_new(class_id: int):
    school_class = staff_class_or_404(class_id)
    s = db.session()
    form = BatchForm()
    campaign = records.active_campaign(s, school_class.school_id)
    if campaign is not None and form.validate_on_submit():
        files = [f for f in (form.photos.data or []) if getattr(f, "filename", "")]
        if len(files) > NO_JS_FILES:
            flash(_("不用脚本上传时，每次最多 %(n)s 张照片；可在结果页继续添加", n=NO_JS_FILES), "error")
            files = files[:NO_JS_FILES]
        batch = batches.start_batch(s, school_class, campaign, actor=actor())
        items = [_add_photo(batch, f) for f in files]
        s.commit()
        for item in items:
            enqueue(process_batch_item, item.id)
        if _wants_json():
            return jsonify(batch_url=url_for("teacher.batch_page", batch_id=batch.id),
                           add_url=url_for("teacher.batch_add", batch_id=batch.id))
        return redirect(url_for("teacher.batch_page", batch_id=batch.id))
    if request.method == "POST":
        abort(400)
    recent = s.scalars(select(BatchUpload).where(BatchUpload.class_id == school_class.id)
                       .order_by(BatchUpload.id.desc()).limit(10)).all()
    return render_template("teacher/batch_new.html", school_class=school_class, campaign=campaign, form=form,
                           recent=recent, no_js_files=NO_JS_FILES)


@bp.post("/batches/<int:batch_id>/items")
@roles_required(*STAFF)
def batch_add(batch_id: int):
    batch, _school_class = _batch_or_404(batch_id)
    form = BatchAddForm()
    if not form.validate_on_submit():
        abort(400)
    item = _add_photo(batch, form.photo.data)
    db.session().commit()
    enqueue(process_batch_item, item.id)
    if _wants_json():
        db.session().refresh(item)
        return jsonify(id=item.id, position=item.position, status=item.status, **batches.progress(batch))
    return redirect(url_for("teacher.batch_page", batch_id=batch.id))


def _students_of(batch: BatchUpload) -> dict[int, Student]:
    ids = {item.student_id for item in batch.items if item.student_id}
    if not ids:
        return {}
    return {st.id: st for st in db.session().scalars(select(Student).where(Student.id.in_(ids)))}


def _suggested_numbers(batch: BatchUpload) -> dict[int, str]:
    """For a refused photo whose QR names a student of this class: that student's upload number, as a default."""
    out = {}
    for item in batch.items:
        ref = sheet_ref(item.qr) if item.status in batches.WAITING else None
        if ref is not None:
            student = db.session().get(Student, ref.student_id)
            if student is not None and student.class_id == batch.class_id:
                out[item.id] = student.upload_no
    return out


@bp.get("/batches/<int:batch_id>")
@roles_required(*STAFF)
def batch_page(batch_id: int):
    batch, school_class = _batch_or_404(batch_id)
    return render_template("teacher/batch.html", batch=batch, school_class=school_class,
                           progress=batches.progress(batch), labels=batches.STATUS_LABELS,
                           students=_students_of(batch), suggested=_suggested_numbers(batch),
                           waiting=batches.WAITING, add_form=BatchAddForm(), assign_form=AssignForm())


@bp.get("/batches/<int:batch_id>/status.json")
@roles_required(*STAFF)
def batch_status(batch_id: int):
    batch, _school_class = _batch_or_404(batch_id)
    items = [{"id": i.id, "status": i.status, "label": _(batches.STATUS_LABELS[i.status])} for i in batch.items]
    return jsonify(items=items, **batches.progress(batch))


@bp.post("/batches/<int:batch_id>/assign")
@roles_required(*STAFF)
def batch_assign(batch_id: int):
    batch, school_class = _batch_or_404(batch_id)
    form = AssignForm()
    if not form.validate_on_submit():
        abort(400)
    s = db.session()
    item = s.get(BatchItem, form.item_id.data)
    if item is None or item.batch_id != batch.id:
        abort(404)
    back = redirect(url_for("teacher.batch_page", batch_id=batch.id) + f"#item-{item.id}")
    try:
        if form.action.data == "discard":
            raw_key = item.upload_key
            batches.discard_item(s, item, actor=actor())
            item.upload_key = None
            s.commit()
            if raw_key:
                store().delete(raw_key)
            flash(_("已放弃第 %(n)s 张照片", n=item.position), "success")
            return back
        student = batches.student_by_upload_no(s, school_class, form.upload_no.data)
        assign_item(s, item, student, actor=actor(),
                    override_reason=(form.override_reason.data or "") if form.override.data else None)
    except GateRefused as exc:
        s.rollback()
        reasons = "；".join(render(message) for _field, message in exc.errors)
        flash(_("第 %(n)s 张照片没有通过检查：%(reasons)s。确认可用时请勾选“仍然使用这张照片”并填写原因。",
                n=item.position, reasons=reasons), "error")
        return back
    except (DomainError, IntakeError) as exc:
        s.rollback()
        message = exc.message if isinstance(exc, IntakeError) else exc.message
        flash(_("第 %(n)s 张照片：%(reason)s", n=item.position, reason=render(message)), "error")
        return back
    flash(_("第 %(n)s 张照片已归档到 %(name)s 名下", n=item.position, name=student.name), "success")
    return back


@bp.get("/batches/<int:batch_id>/photo")
@roles_required(*STAFF)
def batch_photo(batch_id: int):
    """A small picture of one photo of the batch (?item=id; default: the first still to be filed by hand),
    so the teacher can read the photo-upload number off it."""
    batch, _school_class = _batch_or_404(batch_id)
    wanted = request.args.get("item", type=int)
    item = next((i for i in batch.items if (i.id == wanted if wanted else bool(i.upload_key or i.file_id))), None)
    if item is None or not (item.upload_key or item.file_id):
        abort(404)
    if item.file_id:
        return redirect(url_for("files.show", file_id=item.file_id, size="thumb"))
    try:
        thumbnail = sanitize_image(store().get(item.upload_key)).thumbnail
    except (KeyError, IntakeError):
        abort(404)
    return Response(thumbnail, mimetype="image/jpeg",
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})
