"""Electronic archives (电子档案, issue 16 item 3): one student's PDF, the class and school ZIP built in the
background, its progress, the signed 24-hour download and its audit."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from confirm.archives import load_archives
from confirm.models import StoredFile
from confirm.services.records import active_campaign
from tests.archive_scene import NEW_ADDRESS, confirmed_student
from webapp.adapters.archive_pdf import render_archive
from webapp.adapters.pdf import font_path


def _text(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _image_count(reader: PdfReader) -> int:
    return sum(len(page.images) for page in reader.pages)


@pytest.fixture
def objects(app):
    return app.extensions["store"]


def _confirmed(db, objects, world, student, **kw):
    confirmation = confirmed_student(db, objects, world.campaign, student, parent_id=world.parent.id,
                                     teacher=world.teacher, admin=world.admin, seed=student.id, **kw)
    db.commit()
    return confirmation


def _student_pdf(app, db, student) -> tuple[PdfReader, object]:
    with app.app_context():
        archive, = load_archives(db, [student.id], active_campaign(db, student.school_id))
        out = io.BytesIO()
        result = render_archive(archive, out, font_file=font_path(), fetch=app.extensions["store"].get)
    return PdfReader(io.BytesIO(out.getvalue())), result


def test_a_student_archive_shows_the_record_the_corrections_and_who_approved_them(app, db, world, objects):
    student = world.students_a[0]
    _confirmed(db, objects, world, student)
    reader, result = _student_pdf(app, db, student)
    text = _text(reader)
    assert student.name in text and "学生电子档案" in text
    assert NEW_ADDRESS in text  # the record as confirmed, and the correction's new value
    assert "贵阳市测试路1号" in text  # the old value
    assert "回族" in text and "汉族" in text and "关键信息" in text  # key data, old → new, by name
    assert world.teacher.display_name in text and world.admin.display_name in text  # who decided
    assert "提交确认表" in text and "班主任审核通过" in text and "关键信息更正已生效" in text  # the trail
    assert result.missing == [] and result.images == 2  # the sheet photo and the proof photo
    assert _image_count(reader) == 2


def test_a_pdf_proof_is_appended_to_the_archive_as_its_own_pages(app, db, world, objects):
    student = world.students_a[0]
    _confirmed(db, objects, world, student, pdf_proof=True)
    reader, result = _student_pdf(app, db, student)
    assert result.appended_pdfs == 1
    assert "Hukou booklet scan (synthetic)" in reader.pages[-1].extract_text()


def test_a_proof_gone_from_storage_is_named_as_missing_and_the_rest_is_built(app, db, world, objects):
    student = world.students_a[0]
    _confirmed(db, objects, world, student)
    proof = db.scalar(select(StoredFile).where(StoredFile.student_id == student.id, StoredFile.kind == "proof"))
    objects.delete(proof.storage_key)
    reader, result = _student_pdf(app, db, student)
    assert [m.label for m in result.missing] == ["证明材料 1"]
    text = _text(reader)
    assert "缺少材料：证明材料 1" in text and "文件已不在存储中" in text
    assert _image_count(reader) == 1  # the sheet photo is still there
    assert NEW_ADDRESS in text


def test_a_student_with_nothing_submitted_still_has_an_archive_of_the_record(app, db, world):
    student = world.students_b[1]
    reader, result = _student_pdf(app, db, student)
    text = _text(reader)
    assert student.name in text and "没有更正" in text and "还没有上传任何材料" in text
    assert _image_count(reader) == 0 and result.missing == []
