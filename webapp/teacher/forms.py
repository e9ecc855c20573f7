"""Forms of the head teacher's pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import BooleanField, HiddenField, IntegerField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length


class ApproveForm(FlaskForm):
    """Only the CSRF token: approving takes no input."""


# The reasons a teacher gives most often, one tap each; the value is what the parent reads (in Chinese).
COMMON_RETURN_REASONS = [
    SelectChoice("照片不清楚", _l("照片不清楚")),
    SelectChoice("缺少家长签字", _l("缺少家长签字")),
    SelectChoice("更正内容与照片不一致", _l("更正内容与照片不一致")),
    SelectChoice("缺少证明材料", _l("缺少证明材料")),
    SelectChoice("拍的不是确认表", _l("拍的不是确认表")),
]


class ReturnForm(FlaskForm):
    common = RadioField(_l("常见原因"), choices=COMMON_RETURN_REASONS, validate_choice=False)
    reason = TextAreaField(_l("退回原因（家长会看到）"), validators=[Length(max=500)])

    def full_reason(self) -> str:
        """The chosen common reason and the typed explanation, as the parent will read them."""
        parts = [self.common.data or "", (self.reason.data or "").strip()]
        return "；".join(p for p in parts if p)


class IssueCodesForm(FlaskForm):
    """Only the CSRF token: the class comes from the URL."""


# --- the paper loop: upload on behalf, batch upload -------------------------------------------------------


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


# --- account help: step-up, resets, the parents directory, misuse flags --------------------------------


class StepupSendForm(FlaskForm):
    """Only the CSRF token: the code goes to the teacher's own phone."""


class StepupVerifyForm(FlaskForm):
    sms_code = StringField(_l("短信验证码"), validators=[DataRequired(_l("请输入短信验证码")), Length(max=10)])


class ResetCodeForm(FlaskForm):
    reason = TextAreaField(_l("重置原因"), validators=[DataRequired(_l("请填写重置原因")), Length(max=300)])


class ResetPasswordForm(FlaskForm):
    platform_no = StringField(_l("家长平台号"), validators=[DataRequired(_l("请输入平台号")), Length(max=12)])
    phone = StringField(_l("家长手机号"), validators=[DataRequired(_l("请输入手机号")), Length(max=20)])


class RevealForm(FlaskForm):
    parent_id = HiddenField(validators=[DataRequired()])


class ResolveForm(FlaskForm):
    flag_id = HiddenField()  # empty: every open flag of the class
