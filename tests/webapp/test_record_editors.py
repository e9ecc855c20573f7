"""The record page shows the record and opens a field's correction editor only when the parent asks for it."""

from __future__ import annotations

import io
import re
from unittest.mock import patch

import pytest
from sqlalchemy import select

from confirm.fields import field_for
from confirm.models import Confirmation, FieldCorrection
from tests.factories import PASSWORD
from tests.webapp.conftest import jpeg_bytes

NEW_ADDRESS = "贵阳市新地址8号"


@pytest.fixture
def parent(client, world, auth):
    auth.login(world.parent.phone, PASSWORD)
    return client


def _record_url(world) -> str:
    return f"/parent/students/{world.students_a[0].id}"


def test_the_record_page_ships_no_editor_and_no_list_of_choices(parent, world):
    page = parent.get(_record_url(world)).get_data(as_text=True)
    assert "<option" not in page and "<select" not in page
    assert not re.search(r'<input[^>]+name="c\d-', page)  # no correction input until one is opened
    assert f'href="{_record_url(world)}/fields/c0-current_address"' in page
    assert f'href="{_record_url(world)}/fields/c1-phone"' in page
    assert world.students_a[0].name in page


def test_a_fields_editor_page_offers_its_input_and_saves_through_the_record_page(parent, world, db):
    page = parent.get(f"{_record_url(world)}/fields/c0-current_address").get_data(as_text=True)
    assert re.search(r'<input[^>]+name="c0-current_address"', page)
    assert f'action="{_record_url(world)}"' in page and 'name="csrf_token"' in page
    saved = parent.post(_record_url(world), data={"c0-current_address": NEW_ADDRESS})
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"{_record_url(world)}#row-c0-current_address")
    correction = db.scalar(select(FieldCorrection))
    assert (correction.field_key, correction.new_value) == ("current_address", NEW_ADDRESS)


def test_the_editor_part_is_only_the_editor_with_its_choices_rendered_once(parent, world):
    answer = parent.get(f"{_record_url(world)}/fields/c0-ethnicity?part=editor")
    assert answer.status_code == 200 and answer.headers["X-Editor"] == "1"
    part = answer.get_data(as_text=True)
    assert "<html" not in part and "<form" not in part
    assert part.count("<select") == 1
    assert part.count("<option") == len(field_for(0, "ethnicity").choices) + 1  # and "—"
    assert "证明材料" in part  # a key field says it needs a proof


def test_an_id_number_opens_with_the_fields_checked_with_it(parent, world):
    part = parent.get(f"{_record_url(world)}/fields/c0-id_number?part=editor").get_data(as_text=True)
    assert re.findall(r'data-for="([^"]+)"', part) == ["c0-gender", "c0-birth_date", "c0-id_type", "c0-id_number"]


def test_an_unrecorded_family_member_opens_as_a_whole(parent, world):
    part = parent.get(f"{_record_url(world)}/fields/c2-name?part=editor").get_data(as_text=True)
    opened = re.findall(r'data-for="([^"]+)"', part)
    assert "c2-name" in opened and "c2-relation" in opened and "c2-phone" in opened
    single = parent.get(f"{_record_url(world)}/fields/c1-phone?part=editor").get_data(as_text=True)
    assert re.findall(r'data-for="([^"]+)"', single) == ["c1-phone"]  # member 1 is on record


def test_a_saved_correction_is_shown_in_its_editor(parent, world):
    parent.post(_record_url(world), data={"c0-current_address": NEW_ADDRESS})
    part = parent.get(f"{_record_url(world)}/fields/c0-current_address?part=editor").get_data(as_text=True)
    assert f'value="{NEW_ADDRESS}"' in part


def test_saving_one_field_keeps_the_other_corrections(parent, world, db):
    parent.post(_record_url(world), data={"c0-current_address": NEW_ADDRESS})
    parent.post(_record_url(world), data={"c1-phone": "13911112222"})
    rows = {(c.slot, c.field_key): c.new_value for c in db.scalars(select(FieldCorrection))}
    assert rows == {(0, "current_address"): NEW_ADDRESS, (1, "phone"): "13911112222"}


def test_an_emptied_editor_withdraws_its_correction(parent, world, db):
    parent.post(_record_url(world), data={"c0-current_address": NEW_ADDRESS})
    parent.post(_record_url(world), data={"c0-current_address": ""})
    assert db.scalar(select(FieldCorrection)) is None


def test_a_refused_correction_reopens_its_editor_in_place_with_the_typed_value(parent, world, db):
    student = world.students_a[0]
    bad_id = student.id_number[:-1] + ("0" if student.id_number[-1] != "0" else "1")
    answer = parent.post(_record_url(world), data={"c0-id_number": bad_id})
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    row = re.search(r'<div class="row([^"]*)" id="row-c0-id_number">(.*?)</dd>', page, re.S)
    assert "has-error" in row[1] and "校验" in row[2] and f'value="{bad_id}"' in row[2]
    assert "<select" in page  # the ID type opened with it, so it can be corrected together
    assert db.scalar(select(FieldCorrection)) is None


@pytest.mark.parametrize("name", ["c0-school_no", "c0-nope", "c3-name"])
def test_a_field_a_parent_cannot_correct_has_no_editor(parent, world, name):
    assert parent.get(f"{_record_url(world)}/fields/{name}").status_code == 404


def test_another_familys_child_has_no_editor(parent, world):
    assert parent.get(f"/parent/students/{world.students_b[0].id}/fields/c0-current_address").status_code == 404


def test_after_the_sheet_is_submitted_the_editor_sends_back_to_the_record(parent, world, db):
    parent.post(_record_url(world), data={"c0-current_address": NEW_ADDRESS})
    sent = parent.post(f"{_record_url(world)}/submit", content_type="multipart/form-data",
                       data={"sheet": (io.BytesIO(jpeg_bytes()), "sheet.jpg"), "confirmed": "y"})
    assert sent.status_code == 302 and db.scalar(select(Confirmation.state)) == "submitted"
    answer = parent.get(f"{_record_url(world)}/fields/c0-current_address")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(_record_url(world))
    page = parent.get(_record_url(world)).get_data(as_text=True)
    assert "/fields/" not in page and "审核完成前不能修改" in page


def test_the_record_page_warns_before_leaving_with_unsaved_corrections(parent, world):
    page = parent.get(_record_url(world)).get_data(as_text=True)
    assert 'data-unsaved="您填写的更正还没有保存' in page
    assert re.search(r'<script src="/static/js/record\.js\?v=[0-9a-f]{12}"', page)


def _kept_rows(app) -> int:
    from webapp.shared.record_view import KEPT

    kept = app.extensions.get(KEPT)
    return len(kept._items) if kept else 0


@pytest.fixture
def nothing_kept(app):
    """The app (one for the whole run) without rows kept by earlier tests."""
    from webapp.shared.record_view import KEPT

    app.extensions.pop(KEPT, None)
    return app


def test_an_unchanged_record_is_rendered_once_and_its_rows_reused(nothing_kept, parent, world):
    app = nothing_kept
    first = parent.get(_record_url(world)).get_data(as_text=True)
    kept = _kept_rows(app)
    with patch("webapp.shared.record_view.render_template", side_effect=AssertionError("rendered again")):
        again = parent.get(_record_url(world)).get_data(as_text=True)
    assert _kept_rows(app) == kept == 1
    rows = re.compile(r'<section class="card record-block">.*</section>\s*<div class="actionbar">', re.S)
    assert rows.search(again)[0] == rows.search(first)[0]


def test_a_refused_save_shows_its_open_editor_and_is_never_kept(nothing_kept, parent, world):
    app = nothing_kept
    refused = parent.post(_record_url(world), data={"c0-current_address": "x" * 500})
    page = refused.get_data(as_text=True)
    assert 'has-error' in page and re.search(r'<input[^>]+name="c0-current_address"', page)
    assert _kept_rows(app) == 0
    shown = parent.get(_record_url(world)).get_data(as_text=True)  # the record as saved: no editor, no error
    assert "has-error" not in shown and not re.search(r'<input[^>]+name="c0-', shown)
    assert _kept_rows(app) == 1


def test_a_change_to_any_shown_value_shows_at_once_after_the_rows_were_kept(parent, world, db):
    parent.get(_record_url(world))  # the rows of the record as it is are kept
    parent.post(_record_url(world), data={"c0-current_address": NEW_ADDRESS})
    page = parent.get(_record_url(world)).get_data(as_text=True)
    assert f"→ {NEW_ADDRESS}" in page
    # a decision taken elsewhere (no request of this parent's) changes what the row shows
    correction = db.scalar(select(FieldCorrection))
    correction.is_key_data, correction.status, correction.decision_reason = True, "rejected", "请上传户口簿首页"
    db.commit()
    page = parent.get(_record_url(world)).get_data(as_text=True)
    assert "请上传户口簿首页" in page and "outcome-rejected" in page
    # the same record in the other language is rendered in that language, not taken from the Chinese one
    parent.get("/lang/en?next=/")
    english = parent.get(_record_url(world)).get_data(as_text=True)
    assert ">Change</a>" in english and "Reason for rejection: 请上传户口簿首页" in english
    assert "未通过的原因" not in english
