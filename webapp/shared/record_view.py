"""The record as shown on pages: sections of (field, current value, correction) rows, built from the schema."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from confirm.fields import MEMBER_FIELDS, MEMBER_SECTION, MEMBER_SLOTS, SECTIONS, Field, Kind, fields_in_section
from confirm.models import Confirmation, FieldCorrection, Student
from confirm.presentation import readable
from confirm.services.common import mask_id_number, mask_phone
from confirm.services.records import form_name, parent_fields


@dataclass(frozen=True)
class Row:
    """One line of the record: a field, its value now, and any correction asked for."""

    slot: int
    field: Field
    value: str
    correction: FieldCorrection | None

    @property
    def input_name(self) -> str:
        return form_name(self.slot, self.field.key)

    @property
    def label(self) -> str:
        return self.field.label(str(get_locale()))

    @property
    def display(self) -> str:
        return readable(self.field, self.value)

    @property
    def masked_display(self) -> str:
        """The value as a page that is not the family's shows it: ID numbers and phones masked."""
        if self.value and self.field.kind is Kind.ID_NUMBER:
            return mask_id_number(self.value)
        if self.value and self.field.kind is Kind.PHONE:
            return mask_phone(self.value)
        return self.display

    @property
    def old_display(self) -> str:
        """The value the correction was asked against (the record may already carry the new one)."""
        return readable(self.field, self.correction.old_value) if self.correction else self.display

    @property
    def corrected_display(self) -> str:
        return readable(self.field, self.correction.new_value) if self.correction else ""


@dataclass(frozen=True)
class Block:
    """A titled group of rows (a section of the student record, or one family member)."""

    title: str
    rows: list[Row]
    slot: int = 0

    @property
    def is_school_managed(self) -> bool:
        """True for a block that only the school maintains (parents read it, they cannot correct it)."""
        return all(not r.field.parent_editable for r in self.rows)

    @property
    def is_empty(self) -> bool:
        """True for a family-member block with nothing recorded and nothing corrected."""
        return all(not r.value and r.correction is None for r in self.rows)


def record_blocks(student: Student, confirmation: Confirmation | None) -> list[Block]:
    """Every section of the student's record, then family members 1 and 2, with corrections."""
    locale = str(get_locale())
    corrections = {(c.slot, c.field_key): c for c in confirmation.corrections} if confirmation else {}
    blocks = []
    for section in SECTIONS:
        rows = [Row(0, f, student.value(f.key), corrections.get((0, f.key))) for f in fields_in_section(section.key)]
        blocks.append(Block(section.label(locale), rows))
    for slot in MEMBER_SLOTS:
        member = student.member(slot)
        rows = [
            Row(slot, f, member.value(f.key) if member else "", corrections.get((slot, f.key)))
            for f in MEMBER_FIELDS
        ]
        blocks.append(Block(f"{MEMBER_SECTION.label(locale)} {slot}", rows, slot))
    return blocks


def _input_for(f: Field):
    if f.choices:
        options = [SelectChoice("", "—"), *(SelectChoice(c.code, c.name) for c in f.choices)]
        return SelectField(choices=options, validate_choice=False)
    return StringField(validators=[Length(max=max(f.max_length * 2, 40))])


class CorrectionForm(FlaskForm):
    """One optional input per parent-editable field; empty means "correct as shown"."""


for _slot, _field in parent_fields():
    setattr(CorrectionForm, form_name(_slot, _field.key), _input_for(_field))


def correction_entries(form: CorrectionForm) -> dict[tuple[int, str], str]:
    """The typed corrections keyed by (slot, field key)."""
    return {(slot, f.key): (form[form_name(slot, f.key)].data or "") for slot, f in parent_fields()}
