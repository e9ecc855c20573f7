"""The record as shown on pages: sections of (field, current value, correction) rows, built from the schema."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from threading import Lock

from flask import current_app, render_template
from flask_babel import get_locale
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from confirm.fields import MEMBER_FIELDS, MEMBER_SECTION, MEMBER_SLOTS, SECTIONS, Field, Kind, fields_in_section
from confirm.models import Confirmation, FieldCorrection, Student
from confirm.presentation import readable
from confirm.services.common import mask_id_number, mask_phone
from confirm.services.keydata import OUTCOME_LABELS
from confirm.services.records import fields_checked_together, form_name, parent_fields


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the record: a field, its value now, and any correction asked for — with what the page shows
    worked out once (a record page shows a hundred rows)."""

    slot: int
    field: Field
    value: str
    correction: FieldCorrection | None
    input_name: str
    label: str
    display: str
    old_display: str  # the value the correction was asked against (the record may already carry the new one)
    corrected_display: str
    is_key_data: bool  # a key field of the student (needs a proof to be corrected)

    @classmethod
    def of(cls, slot: int, f: Field, value: str, correction: FieldCorrection | None, locale: str) -> Row:
        """The row of field ``f`` in ``slot`` showing ``value`` (and ``correction``), labelled in ``locale``."""
        display = readable(f, value)
        return cls(slot, f, value, correction, form_name(slot, f.key), f.label(locale), display,
                   readable(f, correction.old_value) if correction else display,
                   readable(f, correction.new_value) if correction else "", slot == 0 and f.key_data)

    @property
    def masked_display(self) -> str:
        """The value as a page that is not the family's shows it: ID numbers and phones masked."""
        if self.value and self.field.kind is Kind.ID_NUMBER:
            return mask_id_number(self.value)
        if self.value and self.field.kind is Kind.PHONE:
            return mask_phone(self.value)
        return self.display


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
        rows = [Row.of(0, f, student.value(f.key), corrections.get((0, f.key)), locale)
                for f in fields_in_section(section.key)]
        blocks.append(Block(section.label(locale), rows))
    for slot in MEMBER_SLOTS:
        member = student.member(slot)
        rows = [
            Row.of(slot, f, member.value(f.key) if member else "", corrections.get((slot, f.key)), locale)
            for f in MEMBER_FIELDS
        ]
        blocks.append(Block(f"{MEMBER_SECTION.label(locale)} {slot}", rows, slot))
    return blocks


# --- what the parent's record page shows of the rows: plain values, so the same record renders once ---------------


@dataclass(frozen=True, slots=True)
class ShownRow:
    """Everything the record page shows of one row, as plain values (equal rows render to the same HTML)."""

    input_name: str
    label: str
    is_key_data: bool
    value: str  # the value now, or the value the correction was asked against
    new_value: str | None  # what the correction asks for (None: not corrected)
    outcome: str | None  # a key-data correction's state with a label (CorrectionStatus value)
    reason: str  # why a correction was not accepted
    correctable: bool  # the parent may correct this field


@dataclass(frozen=True, slots=True)
class ShownBlock:
    title: str
    rows: tuple[ShownRow, ...]
    folded: str | None  # "school": kept by the school; "empty": a family member not recorded; None: open


def shown_blocks(blocks: list[Block], outcomes) -> tuple[ShownBlock, ...]:
    """What the record page shows of ``blocks`` (``outcomes``: the correction states that have a label)."""
    shown = []
    for block in blocks:
        rows = []
        for row in block.rows:
            c = row.correction
            outcome = c.status if c is not None and c.is_key_data and c.status in outcomes else None
            reason = (c.decision_reason or "") if outcome == "rejected" else ""
            rows.append(ShownRow(row.input_name, row.label, row.is_key_data,
                                 row.old_display if c is not None else row.display,
                                 row.corrected_display if c is not None else None, outcome, reason,
                                 row.field.parent_editable))
        folded = "school" if block.is_school_managed else "empty" if block.slot and block.is_empty else None
        shown.append(ShownBlock(block.title, tuple(rows), folded))
    return tuple(shown)


def record_rows_html(student: Student, confirmation: Confirmation | None, *, editable: bool, fields_url: str,
                     editors=None) -> Markup:
    """The record page's rows of the student's record (``editors``: the inputs opened by a save that was refused).

    Rows are built from the record, the family members' records and the corrections alone, and the template reads
    nothing else than those, the locale and the arguments: the HTML of the same data is the same. Without open
    editors it is kept (per process, the most recent records) and reused, since a family reloads the same page
    again and again; a change of anything shown is another key, never a stale page.
    """
    if editors or current_app.jinja_env.auto_reload:
        blocks = record_blocks(student, confirmation)
        rows = {row.input_name: row for block in blocks for row in block.rows}
        return _render_rows(blocks, editable, fields_url, editors, rows)
    kept = current_app.extensions.get(KEPT)
    if kept is None:  # the first record page of this app in this process (a second thread's store is dropped)
        kept = current_app.extensions.setdefault(KEPT, RecentlyRendered(256))
    key = (_record_data(student, confirmation), editable, fields_url, str(get_locale()))
    html = kept.get(key)
    if html is None:
        html = kept.put(key, _render_rows(record_blocks(student, confirmation), editable, fields_url, None, {}))
    return html


def _render_rows(blocks: list[Block], editable: bool, fields_url: str, editors, rows) -> Markup:
    return Markup(render_template("parent/_record_rows.html", blocks=shown_blocks(blocks, OUTCOME_LABELS),
                                  editable=editable, fields_url=fields_url, key_outcomes=OUTCOME_LABELS,
                                  editors=editors, rows=rows))


def _record_data(student: Student, confirmation: Confirmation | None) -> tuple:
    """Everything the rows are built from, as plain values: the record, each family member's, the corrections."""
    members = tuple(tuple(sorted(m.record.items())) if (m := student.member(slot)) and m.record else ()
                    for slot in MEMBER_SLOTS)
    corrections = tuple(sorted(
        (c.slot, c.field_key, c.old_value or "", c.new_value or "", str(c.status), bool(c.is_key_data),
         c.decision_reason or "") for c in confirmation.corrections)) if confirmation else ()
    return tuple(sorted((student.record or {}).items())), members, corrections


class RecentlyRendered:
    """The HTML of the most recently shown records, shared by a process's threads (least recently used goes)."""

    def __init__(self, size: int):
        self.size, self._items, self._lock = size, OrderedDict(), Lock()

    def get(self, key) -> Markup | None:
        with self._lock:
            html = self._items.get(key)
            if html is not None:
                self._items.move_to_end(key)
            return html

    def put(self, key, html: Markup) -> Markup:
        with self._lock:
            self._items[key] = html
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return html


# Per app and process: about 50 KB each with its key (the record itself), 256 of them about 12 MB per worker.
KEPT = "kept_record_rows"


# --- the correction editors: rendered only for the fields a parent opens ---------------------------------------------

EDITABLE: dict[str, tuple[int, Field]] = {form_name(slot, f.key): (slot, f) for slot, f in parent_fields()}
_ORDER = {name: i for i, name in enumerate(EDITABLE)}


def _input_for(f: Field):
    if f.choices:
        options = [SelectChoice("", "—"), *(SelectChoice(c.code, c.name) for c in f.choices)]
        return SelectField(choices=options, validate_choice=False)
    return StringField(validators=[Length(max=max(f.max_length * 2, 40))])


@lru_cache(maxsize=256)
def _form_class(names: tuple[str, ...]) -> type[FlaskForm]:
    return type("CorrectionForm", (FlaskForm,), {name: _input_for(EDITABLE[name][1]) for name in names})


def editor_group(student: Student, name: str) -> list[str]:
    """The inputs opened together with ``name``: the fields checked with it, or a whole family member not yet
    recorded (who needs a name, a relation… at once). In schema order."""
    slot, f = EDITABLE[name]
    member = student.member(slot) if slot else None
    if slot and (member is None or not any(member.value(m.key) for m in MEMBER_FIELDS)):
        keys: tuple[str, ...] = tuple(m.key for m in MEMBER_FIELDS)
    else:
        keys = fields_checked_together(slot, f.key)
    return sorted((n for n in (form_name(slot, k) for k in keys) if n in EDITABLE), key=_ORDER.__getitem__)


def posted_names(formdata) -> list[str]:
    """The correction inputs present in a submitted form (a field not sent is left as it is)."""
    return [name for name in EDITABLE if name in formdata]


def correction_form(student: Student, confirmation: Confirmation | None, names, *, submitted: bool):
    """A form with just the editors of ``names`` and their groups; the ones not typed in show the saved correction."""
    opened = sorted({n for name in names for n in editor_group(student, name)}, key=_ORDER.__getitem__)
    saved = {form_name(c.slot, c.field_key): c.new_value for c in confirmation.corrections} if confirmation else {}
    sent = set(names) if submitted else set()
    form = _form_class(tuple(opened))() if submitted else _form_class(tuple(opened))(formdata=None)
    for name in opened:
        if name not in sent:
            form[name].data = saved.get(name, "")
    return form


def correction_entries(form: FlaskForm, names) -> dict[tuple[int, str], str]:
    """The corrections typed into the inputs ``names`` of ``form``, keyed by (slot, field key)."""
    return {(EDITABLE[name][0], EDITABLE[name][1].key): (form[name].data or "") for name in names}


def editors_of(form: FlaskForm | None) -> dict:
    """The form's inputs by name, for the rows of the page that show an editor."""
    return {name: form[name] for name in EDITABLE if form is not None and name in form}
