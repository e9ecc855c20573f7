"""Forms of the head teacher's pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import Length


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
