"""Forms of the parent's pages."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField
from wtforms.validators import DataRequired


class SubmitSheetForm(FlaskForm):
    sheet = FileField(_l("签字确认表照片"), validators=[FileRequired(_l("请拍照或选择签字后的确认表照片"))])
    confirmed = BooleanField(
        _l("我已逐项核对孩子的学籍信息，并已在纸质确认表上签字"),
        validators=[DataRequired(_l("请确认您已核对信息并签字"))],
    )


class ProofForm(FlaskForm):
    proof = FileField(_l("证明材料（户口簿、身份证的照片或 PDF 文件）"),
                      validators=[FileRequired(_l("请拍照或选择证明材料"))])


class ResubmitKeyForm(FlaskForm):
    """A new proof for a key-data correction the school turned down."""

    field_key = HiddenField(validators=[DataRequired()])
    proof = FileField(_l("新的证明材料（户口簿、身份证的照片或 PDF 文件）"),
                      validators=[FileRequired(_l("请拍照或选择新的证明材料"))])


class WithdrawKeyForm(FlaskForm):
    """Withdraw a key-data correction the school turned down (the record keeps its value)."""

    field_key = HiddenField(validators=[DataRequired()])
