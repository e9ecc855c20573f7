"""The review shows how a sheet arrived, and batch results come grouped (issue 15, item 4)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from confirm.models import ConfirmationEvent
from tests.factories import PASSWORD
from tests.webapp.conftest import jpeg_bytes
from tests.webapp.test_batch_upload import add, items, qr_photo, start
from tests.webapp.test_teacher_review import hand_in
from tests.webapp.test_upload_on_behalf import upload


@pytest.fixture
def teacher(client, world):
    response = client.post("/login", data={"login": world.teacher.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def provenance(page: str) -> str:
    """The provenance block's text, tags dropped."""
    block = re.search(r'<dl class="provenance">(.*?)</dl>', page, flags=re.S)
    assert block, "no provenance on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", block.group(1)).split())


def history(page: str) -> list[str]:
    """The 处理记录 lines without their times."""
    lines = re.findall(r'<ul class="history">(.*?)</ul>', page, flags=re.S)[0]
    return [" ".join(re.sub(r"<[^>]+>|\d{4}-\d\d-\d\d \d\d:\d\d", " ", li).split())
            for li in re.findall(r"<li>(.*?)</li>", lines, flags=re.S)]


def test_a_parents_submission_says_so_with_the_platform_number(app, teacher, world, db):
    student = world.students_a[0]
    hand_in(app, db, world, student, world.parent.id)
    page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)
    assert provenance(page) == f"提交方式 家长提交 平台号 {world.parent.platform_no}"
    assert history(page) == ["家长提交"]


def test_an_upload_on_behalf_is_shown_as_the_head_teachers_not_the_parents(app, teacher, world, db):
    student = world.students_a[1]
    assert upload(teacher, world, student, jpeg_bytes()).status_code == 302
    page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)
    assert provenance(page) == f"提交方式 班主任代传 {world.teacher.display_name}"
    assert history(page) == ["班主任代传"]
    db.commit()
    event = db.scalar(select(ConfirmationEvent).where(ConfirmationEvent.to_state == "submitted"))
    assert (event.via, event.actor_kind) == ("on_behalf", "staff") and event.sheet_file_id is not None


def test_the_override_reason_of_a_refused_photo_is_shown_to_the_reviewer(app, teacher, world, db):
    student = world.students_a[1]
    response = upload(teacher, world, student, jpeg_bytes(size=(800, 600)), override="y",
                      override_reason="家长只有这张照片，纸质表已核对")
    assert response.status_code == 302
    page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)
    assert "照片未通过质量检查，仍然使用的原因 家长只有这张照片，纸质表已核对" in provenance(page)


def test_a_batch_photo_names_its_batch_and_place(app, teacher, world, db):
    student = world.students_a[1]
    batch = start(teacher, world)
    add(teacher, batch, jpeg_bytes(), "first.jpg")
    add(teacher, batch, qr_photo(app, student, world.campaign), "second.jpg")
    page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)
    batch_id = items(db)[0].batch_id
    assert provenance(page) == (f"提交方式 批量拍照（按二维码自动匹配） {world.teacher.display_name} "
                                f"来自批次 第 {batch_id} 批 第 2 张照片")
    assert f'href="/teacher/batches/{batch_id}"' in page


def test_a_photo_filed_by_hand_from_a_batch_says_so(app, teacher, world, db):
    student = world.students_a[2]
    batch = start(teacher, world)
    add(teacher, batch, jpeg_bytes())
    (item,) = items(db)
    teacher.post(batch["batch_url"] + "/assign", data={"item_id": item.id, "upload_no": student.upload_no,
                                                      "action": "assign"})
    page = teacher.get(f"/teacher/students/{student.id}").get_data(as_text=True)
    assert provenance(page).startswith("提交方式 批量拍照（班主任手动归档）")


def group_titles(page: str) -> list[str]:
    return [" ".join(re.sub(r"<[^>]+>", " ", h).split()) for h in re.findall(
        r'<section class="card batch-group[^"]*"[^>]*>\s*<h2[^>]*>(.*?)</h2>', page, flags=re.S)]


def test_batch_results_are_grouped_and_the_waiting_ones_can_be_shown_alone(app, teacher, world, db):
    batch = start(teacher, world)
    add(teacher, batch, qr_photo(app, world.students_a[1], world.campaign), "matched.jpg")
    add(teacher, batch, jpeg_bytes(), "no-qr.jpg")
    add(teacher, batch, jpeg_bytes(size=(800, 600)), "tiny.jpg")
    add(teacher, batch, b"not a photo", "notes.txt")
    page = teacher.get(batch["batch_url"]).get_data(as_text=True)
    assert group_titles(page) == ["待手动处理 2", "已归档 1", "未能使用 1"]
    waiting = page.split('batch-group-waiting')[1].split("</section>")[0]
    assert "no-qr.jpg" in waiting and "tiny.jpg" in waiting and "matched.jpg" not in waiting
    only = teacher.get(batch["batch_url"], query_string={"show": "waiting"}).get_data(as_text=True)
    assert group_titles(only) == ["待手动处理 2"] and "matched.jpg" not in only
    assert teacher.get(batch["batch_url"], query_string={"show": "nonsense"}).status_code == 404
