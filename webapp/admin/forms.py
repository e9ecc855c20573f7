"""Forms of the school admin's pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class ClassForm(FlaskForm):
    grade = StringField(_l("年级"), validators=[DataRequired(_l("请填写年级")), Length(max=20)])
    name = StringField(_l("班级"), validators=[DataRequired(_l("请填写班级名称")), Length(max=40)])
    head_teacher_id = SelectField(_l("班主任"), coerce=lambda v: int(v) if v else None, validators=[Optional()],
                                  validate_choice=False)


class StaffForm(FlaskForm):
    display_name = StringField(_l("姓名"), validators=[DataRequired(_l("请填写姓名")), Length(max=50)])
    username = StringField(_l("登录用户名"), validators=[DataRequired(_l("请填写用户名")), Length(max=64)])
    phone = StringField(_l("手机号"), validators=[Optional(), Length(max=20)])
    password = PasswordField(_l("初始密码"), validators=[DataRequired(_l("请设置初始密码")), Length(max=128)])


class CampaignForm(FlaskForm):
    name = StringField(_l("核查名称"), validators=[DataRequired(_l("请填写核查名称")), Length(max=100)])
    deadline = DateField(_l("截止日期"), validators=[DataRequired(_l("请选择截止日期"))])


class ImportForm(FlaskForm):
    file = FileField(validators=[FileRequired()])


class ConfirmForm(FlaskForm):
    """Only the CSRF token."""


class StaffActionForm(FlaskForm):
    """One staff account of the school, named by id (reset its password, deactivate or reactivate it)."""

    staff_id = IntegerField(validators=[DataRequired()])


class AuditFilterForm(FlaskForm):
    """The audit log's filters (a GET form: nothing is changed, so no CSRF token)."""

    class Meta:
        csrf = False

    actor = SelectField(_l("操作人"), validators=[Optional()], validate_choice=False)
    student = StringField(_l("学生（姓名或身份证号）"), validators=[Optional(), Length(max=50)])
    action = SelectField(_l("操作"), validators=[Optional()], validate_choice=False)
    since = DateField(_l("从（日期）"), validators=[Optional()])
    until = DateField(_l("到（日期）"), validators=[Optional()])

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for field in (self.since, self.until):
            if field.errors:  # WTForms' own message is English and terse
                field.errors = [_l("请按“年-月-日”填写日期，例如 2026-03-01")]
        if self.since.data and self.until.data and self.since.data > self.until.data:
            self.until.errors = [_l("结束日期不能早于开始日期")]
            ok = False
        return ok
