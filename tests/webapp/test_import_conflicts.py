"""The school admin re-imports the national file during a campaign: the report lists every field the campaign changed
where the file says otherwise (value at the campaign's start, in the file, on the platform now), keeps the platform's
value unless the admin takes the file's — per field, or for the whole file across every page — and the exports say
what was kept."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, insert, select

from benchmarks._template import student_row
from confirm.exporting import CHANGE_HEADERS, export_students
from confirm.models import AuditEvent, Confirmation, FieldCorrection, ImportRun, Student
from confirm.services import keydata, proofs, records, review
from confirm.services.common import SYSTEM, Actor
from confirm.template import EXPORT_COLUMNS
from tests.factories import PASSWORD
from tests.webapp.test_import_web import workbook_bytes
from tests.webapp.test_teacher_review import hand_in

HEADERS = [c.header for c in EXPORT_COLUMNS]
NEW_ADDRESS = "贵阳市新家路8号"


def text_of(response) -> str:
    return unescape(response.get_data(as_text=True))


def conflict_rows(page: str) -> list[list[str]]:
    """The report's conflict table: each row's cells as text, and the checked choice last."""
    out = []
    for row in re.findall(r'<tr class="conflict">(.*?)</tr>', page, flags=re.S):
        cells = [re.sub(r"<[^>]+>", " ", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
        cells = [" ".join(c.split()) for c in cells]
        checked = re.search(r'value="(platform|file)" checked', row)
        out.append([*cells[:-1], checked.group(1) if checked else cells[-1]])
    return out


def choice_ids(page: str) -> dict[str, int]:
    """The conflict id behind each row, by 信息项 (the radios are named choice-<id>)."""
    ids = {}
    for row in re.findall(r'<tr class="conflict">(.*?)</tr>', page, flags=re.S):
        label = " ".join(re.sub(r"<[^>]+>", " ", re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)[2]).split())
        ids[label] = int(re.search(r'name="choice-(\d+)"', row).group(1))
    return ids


def uploaded(admin, data: bytes, filename: str = "全国学籍系统导出.xlsx") -> int:
    response = admin.post("/admin/students/import", data={"file": (io.BytesIO(data), filename)},
                          content_type="multipart/form-data")
    assert response.status_code == 302, text_of(response)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def committed(admin, run_id: int, choices: dict | None = None) -> tuple[int, str]:
    response = admin.post(f"/admin/students/import/{run_id}/commit", data=choices or {})
    assert response.status_code == 302
    new_id = int(response.headers["Location"].rsplit("/", 1)[1])
    return new_id, text_of(admin.get(response.headers["Location"]))


def sheet_rows(data: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


@pytest.fixture
def admin(client, world, auth):
    assert auth.login(world.admin.username, PASSWORD).status_code == 302
    return client


@pytest.fixture
def original(db, world) -> bytes:
    """The national system's workbook as it was at the campaign's start (students_a[0] is 回族)."""
    student = db.merge(world.students_a[0])
    student.set_value("ethnicity", "03")
    db.commit()
    return export_students(db, db.merge(world.school))


def approve_address_and_ethnicity(app, db, world) -> Student:
    """students_a[0]: 现住址 approved by the head teacher, 民族 回族→苗族 with a proof approved by the school admin."""
    student = db.merge(world.students_a[0])
    parent = Actor("parent", world.parent.id)
    confirmation = records.ensure_confirmation(db, db.merge(world.campaign), student)
    records.save_corrections(db, confirmation, {(0, "current_address"): NEW_ADDRESS, (0, "ethnicity"): "06"},
                             actor=parent)
    proofs.add_proof(db, confirmation, proofs.ProofUpload(b"jpeg", "ab" * 32, "image/jpeg", thumbnail=b"t"),
                     store=app.extensions["store"], actor=parent)
    db.commit()
    confirmation = hand_in(app, db, world, student, world.parent.id)
    review.approve_confirmation(db, confirmation, actor=Actor("staff", world.teacher.id))
    [key_data] = [c for c in confirmation.corrections if c.field_key == "ethnicity"]
    keydata.approve_key_correction(db, key_data, actor=Actor("staff", world.admin.id))
    db.commit()
    return student


def test_report_shows_each_changed_field_three_ways_and_the_import_keeps_the_platforms_values(
        app, admin, db, world, original):
    old_address = world.students_a[0].value("current_address")
    student = approve_address_and_ethnicity(app, db, world)

    run_id = uploaded(admin, original)
    page = text_of(admin.get(f"/admin/students/import/{run_id}"))

    assert "检查通过，待确认" in page and "与本次核查不一致的信息" in page
    assert "1 名学生的 2 项信息在本次核查中改过" in page and "默认保留平台的值" in page
    title = f"{student.name} {world.class_a.title}"
    assert conflict_rows(page) == [
        ["3", title, "民族", "回族", "回族", "苗族", "已生效", "platform"],
        ["3", title, "现住址", old_address, old_address, NEW_ADDRESS, "已生效", "platform"],
    ]
    assert "现在保留平台的值 2 项，采用文件的值 0 项" in page

    new_id, page = committed(admin, run_id)

    assert "导入完成：新增 0 人，更新 0 人，未变 5 人" in page
    assert "与本次核查不一致的 2 项：保留平台的值 2 项，采用文件的值 0 项" in page
    assert "导入时保留了平台的值 2 项，采用了文件的值 0 项" in page
    assert [r[-1] for r in conflict_rows(page)] == ["平台的值", "平台的值"] and 'type="radio"' not in page
    db.expire_all()
    stored = db.get(Student, student.id)
    assert (stored.value("current_address"), stored.value("ethnicity")) == (NEW_ADDRESS, "06")
    exported = {r[HEADERS.index("姓名")]: r for r in sheet_rows(admin.get("/admin/students/export.xlsx").data)[2:]}
    assert exported[student.name][HEADERS.index("民族")] == "苗族"
    assert exported[student.name][HEADERS.index("现住址")] == NEW_ADDRESS
    changes = sheet_rows(admin.get("/admin/changes/export.xlsx").data)
    reimport = CHANGE_HEADERS.index("再次导入")
    assert changes[0][reimport] == "再次导入"
    assert all("导入时保留了平台的值" in r[reimport] for r in changes[1:]) and len(changes) == 3
    assert db.get(ImportRun, new_id).conflict_choice == "platform"


def test_taking_the_files_value_for_one_field_takes_only_that_field_and_audits_it(app, admin, db, world, original):
    old_address = world.students_a[0].value("current_address")
    student = approve_address_and_ethnicity(app, db, world)
    run_id = uploaded(admin, original)
    ids = choice_ids(text_of(admin.get(f"/admin/students/import/{run_id}")))

    new_id, page = committed(admin, run_id, {f"choice-{ids['现住址']}": "file", f"choice-{ids['民族']}": "platform"})

    assert "导入完成：新增 0 人，更新 1 人，未变 4 人" in page
    assert "导入时保留了平台的值 1 项，采用了文件的值 1 项" in page
    assert [(r[2], r[-1]) for r in conflict_rows(page)] == [("民族", "平台的值"), ("现住址", "文件的值")]
    db.expire_all()
    stored = db.get(Student, student.id)
    assert (stored.value("current_address"), stored.value("ethnicity")) == (old_address, "06")
    events = db.scalars(select(AuditEvent).where(AuditEvent.action.startswith("import_conflict."))
                        .order_by(AuditEvent.id)).all()
    assert [(e.action, e.detail["field"], e.actor_id, e.target_id) for e in events] == [
        ("import_conflict.kept", "0.ethnicity", world.admin.id, student.id),
        ("import_conflict.file_taken", "0.current_address", world.admin.id, student.id)]
    reimport = CHANGE_HEADERS.index("再次导入")
    changes = {r[2]: r[reimport] for r in sheet_rows(admin.get("/admin/changes/export.xlsx").data)[1:]}
    assert f"导入时采用了文件的值“{old_address}”" in changes["现住址"]
    assert "导入时保留了平台的值（文件中为“回族”）" in changes["民族"]


def test_a_pending_correction_is_listed_with_the_value_it_waits_for_and_stays_pending(admin, db, world, original):
    student = db.merge(world.students_a[1])
    confirmation = records.ensure_confirmation(db, db.merge(world.campaign), student)
    records.save_corrections(db, confirmation, {(0, "phone"): "13912345678"}, actor=Actor("staff", world.admin.id))
    db.commit()
    sheet = load_workbook(io.BytesIO(original))
    rows = list(sheet.active.iter_rows(min_row=3))
    [cells] = [r for r in rows if r[HEADERS.index("姓名")].value == student.name]
    cells[HEADERS.index("联系电话")].value = "13700001111"
    out = io.BytesIO()
    sheet.save(out)

    run_id = uploaded(admin, out.getvalue())
    page = text_of(admin.get(f"/admin/students/import/{run_id}"))
    assert [r[2:] for r in conflict_rows(page)] == [
        ["联系电话", student.value("phone"), "13700001111", student.value("phone"), "家长未提交：改为 13912345678",
         "platform"]]
    committed(admin, run_id)

    db.expire_all()
    assert db.get(Student, student.id).value("phone") == student.value("phone")
    assert db.scalar(select(FieldCorrection.status).where(FieldCorrection.confirmation_id == confirmation.id)) == \
        "draft"


def _conflicting_school(db, world, n: int) -> tuple[bytes, list[int]]:
    """``n`` students imported from a workbook, each with an approved address change: the workbook conflicts on all."""
    from confirm.importing.service import import_file

    data = workbook_bytes([student_row(i, world.school.code) for i in range(n)])
    school = db.merge(world.school)
    assert import_file(db, school, data, "全校.xlsx", actor=SYSTEM, commit=True).run.created_count == n
    students = db.scalars(select(Student).where(Student.school_id == school.id,
                                                Student.upload_no.not_in([s.upload_no for s in (
                                                    *world.students_a, *world.students_b)]))).all()
    confirmations = db.scalars(insert(Confirmation).returning(Confirmation.id, sort_by_parameter_order=True), [
        {"campaign_id": world.campaign.id, "student_id": s.id, "state": "open"} for s in students]).all()
    db.execute(insert(FieldCorrection), [
        {"confirmation_id": c, "slot": 0, "field_key": "current_address", "old_value": s.value("current_address"),
         "new_value": NEW_ADDRESS, "is_key_data": False, "status": "applied", "requested_by_kind": "parent",
         "requested_by_id": 0} for c, s in zip(confirmations, students, strict=True)])
    for s in students:
        s.set_value("current_address", NEW_ADDRESS)
    db.commit()
    return data, [s.id for s in students]


def test_a_file_conflicting_on_500_students_is_paged_and_one_choice_takes_the_file_for_all(admin, db, world):
    data, ids = _conflicting_school(db, world, 500)
    run_id = uploaded(admin, data)
    report = f"/admin/students/import/{run_id}"

    first = text_of(admin.get(report))
    assert "500 名学生的 500 项信息在本次核查中改过" in first and "第 1 / 10 页" in first
    last = text_of(admin.get(f"{report}?page=10"))
    assert "第 10 / 10 页" in last
    assert len(conflict_rows(first)) == len(conflict_rows(last)) == 50
    assert {r[1] for r in conflict_rows(first)}.isdisjoint({r[1] for r in conflict_rows(last)})
    assert [int(r[0]) for r in conflict_rows(first)] == list(range(3, 53))  # file order, from the first data row
    assert "第 10 / 10 页" in text_of(admin.get(f"{report}?page=99"))

    moved = admin.post(f"{report}/choices", data={"page": "1", "goto": "2"})
    assert moved.status_code == 302 and moved.headers["Location"].endswith(f"{report}?page=2#conflicts")

    chosen = admin.post(f"{report}/choices", data={"page": "4", "whole_file": "file"}, follow_redirects=True)
    page = text_of(chosen)
    assert "已对全部 500 项选择：采用文件的值" in page and "第 4 / 10 页" in page
    assert "现在保留平台的值 0 项，采用文件的值 500 项" in page
    assert {r[-1] for r in conflict_rows(text_of(admin.get(f"{report}?page=9")))} == {"file"}

    _new_id, page = committed(admin, run_id)

    assert "导入完成：新增 0 人，更新 500 人，未变 0 人" in page
    assert "导入时保留了平台的值 0 项，采用了文件的值 500 项" in page
    db.expire_all()
    addresses = {s.value("current_address") for s in db.scalars(select(Student).where(Student.id.in_(ids)))}
    assert addresses == {f"测试市测试路{i % 997 + 1}号" for i in range(500)}
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.action == "import_conflict.file_taken")) == 500


def test_a_per_field_choice_on_one_page_leaves_the_other_pages_as_the_whole_file_says(admin, db, world):
    data, _ids = _conflicting_school(db, world, 60)
    run_id = uploaded(admin, data)
    report = f"/admin/students/import/{run_id}"
    ids = [int(i) for i in re.findall(r'name="choice-(\d+)" value="file"', text_of(admin.get(f"{report}?page=2")))]
    assert len(ids) == 10

    admin.post(f"{report}/choices", data={"page": "2", f"choice-{ids[0]}": "file"})

    first, second = text_of(admin.get(report)), text_of(admin.get(f"{report}?page=2"))
    assert {r[-1] for r in conflict_rows(first)} == {"platform"}
    assert [r[-1] for r in conflict_rows(second)] == ["file"] + ["platform"] * 9
    assert "现在保留平台的值 59 项，采用文件的值 1 项" in first


def test_a_second_click_on_confirm_imports_once_and_the_superseded_check_lists_no_choices(app, admin, db, world,
                                                                                          original):
    approve_address_and_ethnicity(app, db, world)
    run_id = uploaded(admin, original)
    ids = choice_ids(text_of(admin.get(f"/admin/students/import/{run_id}")))
    choices = {f"choice-{ids['现住址']}": "file"}
    committed(admin, run_id, choices)

    again = admin.post(f"/admin/students/import/{run_id}/commit", data=choices, follow_redirects=True)

    assert "这个文件已经导入过，或者检查没有通过" in text_of(again)
    assert "与本次核查不一致的信息" not in text_of(again) and 'type="radio"' not in text_of(again)
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(ImportRun).where(ImportRun.status == "committed")) == 1
    assert db.scalar(select(func.count()).select_from(AuditEvent)
                     .where(AuditEvent.action == "import_conflict.file_taken")) == 1


# --- bad input -------------------------------------------------------------------------------------------------


def test_another_schools_file_is_refused_on_the_upload_form_before_any_change(admin, db, world):
    foreign = workbook_bytes([student_row(i, world.other_school.code) for i in range(3)])
    before = db.scalar(select(func.count()).select_from(Student))

    response = admin.post("/admin/students/import", data={"file": (io.BytesIO(foreign), "外校.xlsx")},
                          content_type="multipart/form-data")

    assert response.status_code == 200
    page = text_of(response)
    assert (f"这是另一所学校的学生名单（文件中的学校标识码为 {world.other_school.code}），"
            f"不是本校（{world.school.code}）的；没有导入任何数据") in page
    assert db.scalar(select(func.count()).select_from(ImportRun)) == 0
    assert db.scalar(select(func.count()).select_from(Student)) == before


def test_an_unknown_choice_and_a_choice_after_the_import_are_refused_with_a_message(app, admin, db, world, original):
    approve_address_and_ethnicity(app, db, world)
    run_id = uploaded(admin, original)
    report = f"/admin/students/import/{run_id}"

    page = text_of(admin.post(f"{report}/choices", data={"whole_file": "both"}, follow_redirects=True))
    assert "无法识别的选择，请在“保留平台的值”和“采用文件的值”中选一个" in page
    db.expire_all()
    assert db.get(ImportRun, run_id).conflict_choice == "platform"

    new_id, _page = committed(admin, run_id)
    for target in (run_id, new_id):
        page = text_of(admin.post(f"/admin/students/import/{target}/choices", data={"whole_file": "file"},
                                  follow_redirects=True))
        assert "这个文件已经导入过，或者检查没有通过，不能再修改选择" in page
    db.expire_all()
    assert db.get(ImportRun, new_id).conflict_choice == "platform"
