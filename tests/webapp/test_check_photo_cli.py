"""check-photo runs the intake and the quality gate on one file and prints the verdict as JSON."""

from __future__ import annotations

import json

from PIL import ImageFilter

from benchmarks.sheet_photos import make_sheet_photo
from confirm.sheets import SheetRef, make_sheet_payload
from tests.factories import make_campaign, make_class, make_school, make_student
from tests.images import sheet_image, sheet_jpeg


def _verdict(result) -> dict:
    return json.loads(result.output.strip().splitlines()[-1])


def test_good_photo_is_accepted_with_its_size(runner, tmp_path):
    path = tmp_path / "good.jpg"
    path.write_bytes(sheet_jpeg((3000, 2250)))
    result = runner.invoke(args=["check-photo", str(path)])
    verdict = _verdict(result)
    assert result.exit_code == 0
    assert verdict["accepted"] is True and verdict["reasons"] == []
    assert max(verdict["width"], verdict["height"]) <= 2400


def test_blurred_photo_is_refused_with_the_reason(runner, tmp_path):
    path = tmp_path / "blurred.jpg"
    sheet_image((2000, 1500)).filter(ImageFilter.GaussianBlur(8)).save(path, "JPEG")
    result = runner.invoke(args=["check-photo", str(path)])
    assert result.exit_code == 1
    assert any("模糊" in reason for reason in _verdict(result)["reasons"])


def test_a_text_file_is_refused(runner, tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a photo")
    result = runner.invoke(args=["check-photo", str(path)])
    assert result.exit_code == 1
    assert _verdict(result)["accepted"] is False and "无法识别" in _verdict(result)["reasons"][0]


def test_sheet_for_a_student_checks_the_qr_code(runner, app, db, tmp_path):
    school = make_school(db)
    campaign = make_campaign(db, school)
    student = make_student(db, make_class(db, school))
    other = make_student(db, student.school_class)
    db.commit()
    key = app.extensions["sheet_key"]
    photo = make_sheet_photo(3, payload=make_sheet_payload(key, SheetRef(student.id, campaign.id,
                                                                          student.record_version)),
                             long_edge=2600, rotation=5, blur=0.3)
    path = tmp_path / "sheet.jpg"
    path.write_bytes(photo.jpeg)
    mine = runner.invoke(args=["check-photo", str(path), "--sheet-for", str(student.id)])
    assert mine.exit_code == 0 and _verdict(mine)["qr"] == photo.payload
    theirs = runner.invoke(args=["check-photo", str(path), "--sheet-for", str(other.id)])
    assert theirs.exit_code == 1
    assert any("另一名学生" in reason for reason in _verdict(theirs)["reasons"])
