"""Forms of the login and registration pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from confirm.validation import mobile_number


def mainland_mobile(form, field) -> None:
    """The phone is checked with the form's other fields, so a parent hears of every problem at once (the service
    checks it again: confirm.services.registration.clean_mobile)."""
    if field.data and mobile_number(field.data) is None:
        raise ValidationError(_l("请输入正确的 11 位手机号码"))


class LoginForm(FlaskForm):
    login = StringField(_l("平台号 / 手机号 / 用户名"), validators=[DataRequired(_l("请输入平台号、手机号或用户名")),
                                                          Length(max=64)])
    password = PasswordField(_l("密码"), validators=[DataRequired(_l("请输入密码")), Length(max=128)])


def consent_field() -> BooleanField:
    """The guardian's consent to the privacy notice (/privacy), asked before any personal data is sent."""
    return BooleanField(_l("我是学生的监护人，已阅读并同意《个人信息保护说明》"),
                        validators=[DataRequired(_l("请阅读《个人信息保护说明》，并勾选同意后再继续"))])


class RegisterStartForm(FlaskForm):
    code = StringField(_l("学生注册码"), validators=[DataRequired(_l("请输入注册码")), Length(max=20)])
    student_name = StringField(_l("学生姓名"), validators=[DataRequired(_l("请输入学生姓名")), Length(max=50)])
    phone = StringField(_l("家长手机号"),
                        validators=[DataRequired(_l("请输入手机号")), Length(max=20), mainland_mobile])
    consent = consent_field()


class RegisterVerifyForm(FlaskForm):
    sms_code = StringField(_l("短信验证码"), validators=[DataRequired(_l("请输入短信验证码")), Length(max=10)])
    password = PasswordField(_l("设置密码"), validators=[Length(max=128)])
    password_confirm = PasswordField(_l("再次输入密码"), validators=[Length(max=128)])


class InvitedRegisterForm(FlaskForm):
    """Registration through an invitation link: the student comes from the link, only the phone is typed."""

    phone = StringField(_l("家长手机号"),
                        validators=[DataRequired(_l("请输入手机号")), Length(max=20), mainland_mobile])
    consent = consent_field()


class ForgotPasswordForm(FlaskForm):
    phone = StringField(_l("注册时使用的手机号"), validators=[DataRequired(_l("请输入手机号")), Length(max=20)])


class ForgotPasswordVerifyForm(FlaskForm):
    sms_code = StringField(_l("短信验证码"), validators=[DataRequired(_l("请输入短信验证码")), Length(max=10)])
    password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入新密码")), Length(max=128)])
    password_confirm = PasswordField(_l("再次输入新密码"), validators=[Length(max=128)])


class ChangePasswordForm(FlaskForm):
    # asked for unless the password was typed in the last few minutes (then the field is not shown)
    current_password = PasswordField(_l("现在的密码"), validators=[Length(max=128)])
    password = PasswordField(_l("新密码"), validators=[DataRequired(_l("请输入新密码")), Length(max=128)])
    password_confirm = PasswordField(_l("再次输入新密码"), validators=[Length(max=128)])


class ConfirmPasswordForm(FlaskForm):
    password = PasswordField(_l("现在的密码"), validators=[DataRequired(_l("请输入密码")), Length(max=128)])


class EndSessionForm(FlaskForm):
    session_id = HiddenField(validators=[DataRequired(), Length(max=64)])


class SignOutElsewhereForm(FlaskForm):
    """Only the CSRF token."""
