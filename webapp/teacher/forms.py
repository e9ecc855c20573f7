"""Forms of the head teacher's pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length


class ApproveForm(FlaskForm):
    """Only the CSRF token: approving takes no input."""


class ReturnForm(FlaskForm):
    reason = TextAreaField(_l("退回原因（家长会看到）"), validators=[Length(max=500)])


class IssueCodesForm(FlaskForm):
    """Only the CSRF token: the class comes from the URL."""
