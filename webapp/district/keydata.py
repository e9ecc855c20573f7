"""The district's 关键数据变更核办: the queue, one case (old/new values, proofs, the school's opinion), approve or
reject with a reason, the per-school setting, and the change list export."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import Length

from confirm.clock import local_today
from confirm.fields import field_for
from confirm.models import FieldCorrection, School, StoredFile
from confirm.presentation import readable
from confirm.services import exports, keydata, proofs, records
from webapp.adapters import db
from webapp.auth.fresh import ask_again_unless_recent
from webapp.auth.identity import actor
from webapp.district import bp
from webapp.district.access import district_school_or_404, own_district
from webapp.shared.downloads import xlsx_download
from webapp.unit_of_work import attempt


class DistrictApproveForm(FlaskForm):
    pass


class DistrictRejectForm(FlaskForm):
    reason = TextAreaField(_l("不通过的原因（学校和家长会看到）"), validators=[Length(max=keydata.MAX_REASON_LENGTH)])


class DistrictSettingForm(FlaskForm):
    pass


@dataclass(frozen=True)
class Case:
    """One key-data change as the supervisor sees it."""

    correction: FieldCorrection
    label: str
    old: str
    new: str
    school: School
    proofs: list[StoredFile]

    @property
    def student(self):
        return self.correction.confirmation.student


def _cases(corrections: list[FieldCorrection], with_proofs: bool) -> list[Case]:
    s = db.session()
    found = proofs.proofs_by_confirmation(s, (c.confirmation_id for c in corrections)) if with_proofs else {}
    schools = {sc.id: sc for sc in s.scalars(select(School).where(School.id.in_(
        {c.confirmation.student.school_id for c in corrections})))} if corrections else {}
    locale = str(get_locale())
    cases = []
    for c in corrections:
        f = field_for(0, c.field_key)
        cases.append(Case(c, f.label(locale), readable(f, c.old_value), readable(f, c.new_value),
                          schools[c.confirmation.student.school_id], found.get(c.confirmation_id, [])))
    return cases


@bp.get("/key-data")
def key_data():
    s = db.session()
    district_id = current_user.account.district_id
    waiting = _cases(keydata.district_queue(s, district_id), with_proofs=False)
    decided = _cases(keydata.district_decided(s, district_id), with_proofs=False)
    return render_template("district/keydata.html", waiting=waiting, decided=decided)


def _case_or_404(correction_id: int) -> FieldCorrection:
    correction = keydata.district_case(db.session(), current_user.account.district_id, correction_id)
    if correction is None:
        abort(404)
    return correction


def _render_case(correction: FieldCorrection, reject_form=None, status: int = 200):
    return render_template("district/case.html", case=_cases([correction], with_proofs=True)[0],
                           approve_form=DistrictApproveForm(),
                           reject_form=reject_form or DistrictRejectForm(formdata=None)), status


@bp.get("/key-data/<int:correction_id>")
def key_data_case(correction_id: int):
    return _render_case(_case_or_404(correction_id))


@bp.post("/key-data/<int:correction_id>/approve")
def key_data_approve(correction_id: int):
    form = DistrictApproveForm()
    if not form.validate_on_submit():
        abort(400)
    correction = keydata.district_case(db.session(), current_user.account.district_id, correction_id)
    if correction is None:
        return _already_decided(correction_id)
    ok, taken = attempt(form, lambda: keydata.district_approve(db.session(), correction,
                                                               supervisor=current_user.account, actor=actor()))
    if ok:
        locale = str(get_locale())
        flash(_("已核准 %(name)s 的%(field)s变更，学籍已更新", name=correction.confirmation.student.name,
                field=_("、").join(field_for(0, each.field_key).label(locale) for each in taken)), "success")
    return redirect(url_for("district.key_data"))  # a refusal (an ID number now taken) is flashed there


@bp.post("/key-data/<int:correction_id>/reject")
def key_data_reject(correction_id: int):
    form = DistrictRejectForm()
    if not form.validate_on_submit():
        abort(400)
    correction = keydata.district_case(db.session(), current_user.account.district_id, correction_id)
    if correction is None:
        return _already_decided(correction_id)
    ok, _result = attempt(form, lambda: keydata.district_reject(db.session(), correction, form.reason.data or "",
                                                                supervisor=current_user.account, actor=actor()))
    if ok:
        flash(_("已退回 %(name)s 的关键数据变更，学校和家长会看到原因", name=correction.confirmation.student.name),
              "success")
        return redirect(url_for("district.key_data"))
    return _render_case(correction, reject_form=form, status=400)


def _already_decided(correction_id: int):
    """A case decided a moment ago (by this supervisor's other tap, or by a colleague) says so; one that was never
    this district's is 404."""
    if keydata.decided_by_district(db.session(), current_user.account.district_id, correction_id) is None:
        abort(404)
    flash(_("这项关键数据变更已经由其他人核办过了，请查看下方的核办记录"), "warning")
    return redirect(url_for("district.key_data"))


@bp.post("/schools/<int:school_id>/key-data-setting")
def key_data_setting(school_id: int):
    school = district_school_or_404(school_id)
    form = DistrictSettingForm()
    if not form.validate_on_submit():
        abort(400)
    campaign = records.active_campaign(db.session(), school.id)
    if campaign is None:
        flash(_("这所学校还没有开始信息核查"), "error")
        return redirect(url_for("district.school_page", school_id=school.id))
    required = request.form.get("required") == "y"
    ok, _changed = attempt(form, lambda: keydata.set_district_approval(db.session(), campaign, required,
                                                                       actor=actor()))
    if ok:
        flash(_("已设置：本次核查的关键数据变更需报主管部门核办") if required
              else _("已设置：本次核查的关键数据变更由学校审核后生效"), "success")
    return redirect(url_for("district.school_page", school_id=school.id))


@bp.get("/key-data/export.xlsx")
def key_data_export():
    """The district's key-data change list (names and full ID numbers of several schools' students): asks for a
    recent password or step-up, and is audited with one row per school in the file."""
    if (ask := ask_again_unless_recent()) is not None:
        return ask
    district = own_district()
    _ok, data = attempt(None, lambda: exports.key_data_workbook(db.session(), district=district, actor=actor()))
    return xlsx_download(data, f"{district.name}-关键数据变更清单-{local_today().isoformat()}.xlsx")
