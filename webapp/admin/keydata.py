"""The school admin's approval of key-data corrections (姓名, 性别, 出生日期, 民族, 身份证件类型, 身份证件号)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from confirm.clock import local_today
from confirm.fields import KEY_DATA_KEYS, field_for
from confirm.models import FieldCorrection, School, StoredFile
from confirm.presentation import readable
from confirm.services import exports, keydata, proofs, records
from webapp.adapters import db
from webapp.admin import bp
from webapp.auth.fresh import ask_again_unless_recent
from webapp.auth.identity import actor, staff_student_or_404
from webapp.shared.downloads import xlsx_download
from webapp.unit_of_work import attempt


class ApproveKeyForm(FlaskForm):
    field_key = HiddenField(validators=[DataRequired()])
    opinion = TextAreaField(_l("学校意见（报主管部门核办时填写）"), validators=[Length(max=500)])


class RejectKeyForm(FlaskForm):
    field_key = HiddenField(validators=[DataRequired()])
    reason = TextAreaField(_l("不通过的原因（家长会看到）"), validators=[Length(max=500)])


@dataclass(frozen=True)
class Item:
    """One correction as the queue shows it."""

    correction: FieldCorrection
    label: str
    old: str
    new: str
    proofs: list[StoredFile]

    @property
    def student(self):
        return self.correction.confirmation.student


def _items() -> list[Item]:
    s = db.session()
    pending = keydata.pending_corrections(s, current_user.school_id)
    found = proofs.proofs_by_confirmation(s, (c.confirmation_id for c in pending))
    locale = str(get_locale())
    items = []
    for c in pending:
        f = field_for(0, c.field_key)
        items.append(Item(c, f.label(locale), readable(f, c.old_value), readable(f, c.new_value),
                          found[c.confirmation_id]))
    return items


@bp.context_processor
def _pending_count():
    """``key_data_pending()`` for the admin's pages (a query only where a page asks for it)."""
    return {"key_data_pending": lambda: keydata.count_pending(db.session(), current_user.school_id)}


def _summaries(corrections: list[FieldCorrection]) -> list[Item]:
    locale = str(get_locale())
    return [Item(c, field_for(0, c.field_key).label(locale), readable(field_for(0, c.field_key), c.old_value),
                 readable(field_for(0, c.field_key), c.new_value), []) for c in corrections]


@bp.get("/key-data")
def key_data():
    s = db.session()
    campaign = records.active_campaign(s, current_user.school_id)
    return render_template(
        "admin/keydata.html", items=_items(), approve_form=ApproveKeyForm(), reject_form=RejectKeyForm(),
        needs_district=bool(campaign and campaign.key_data_needs_district),
        at_district=_summaries(keydata.waiting_for_district(s, current_user.school_id)),
        district_decisions=_summaries(keydata.district_decisions_for_school(s, current_user.school_id)))


def _pending_or_404(student_id: int, field_key: str | None) -> FieldCorrection:
    student = staff_student_or_404(student_id)
    if field_key not in KEY_DATA_KEYS:
        abort(404)
    correction = keydata.pending_correction_for(db.session(), student, field_key)
    if correction is None:
        abort(404)
    return correction


@bp.post("/key-data/students/<int:student_id>/approve")
def key_data_approve(student_id: int):
    form = ApproveKeyForm()
    if not form.validate_on_submit():
        abort(400)
    correction = _pending_or_404(student_id, form.field_key.data)
    ok, _result = attempt(form, lambda: keydata.approve_key_correction(db.session(), correction, actor=actor(),
                                                                       opinion=form.opinion.data))
    if ok and correction.status == keydata.PENDING_DISTRICT:
        flash(_("已将 %(name)s 的关键信息更正报主管部门核办", name=correction.confirmation.student.name), "success")
    elif ok:
        flash(_("已通过 %(name)s 的关键信息更正，学籍已更新", name=correction.confirmation.student.name), "success")
    return redirect(url_for("admin.key_data"))


@bp.post("/key-data/students/<int:student_id>/reject")
def key_data_reject(student_id: int):
    form = RejectKeyForm()
    if not form.validate_on_submit():
        abort(400)
    correction = _pending_or_404(student_id, form.field_key.data)
    ok, _result = attempt(form, lambda: keydata.reject_key_correction(db.session(), correction,
                                                                      form.reason.data or "", actor=actor()))
    if ok:
        flash(_("已退回 %(name)s 的关键信息更正，家长会收到短信通知", name=correction.confirmation.student.name),
              "success")
    for error in form.reason.errors:
        flash(error, "error")
    return redirect(url_for("admin.key_data"))


@bp.get("/key-data/export.xlsx")
def key_data_export():
    """The school's key-data change list (names and full ID numbers): asks for a recent password or step-up, like
    the whole-school student export, and is audited."""
    if (ask := ask_again_unless_recent()) is not None:
        return ask
    s = db.session()
    school = s.get_one(School, current_user.school_id)
    _ok, data = attempt(None, lambda: exports.key_data_workbook(s, school=school, actor=actor()))
    return xlsx_download(data, f"{school.name}-关键数据变更清单-{local_today().isoformat()}.xlsx")
