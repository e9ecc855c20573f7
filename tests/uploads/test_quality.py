"""The quality gate tells a parent exactly why to retake a photo, and lets good photos through."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageEnhance, ImageFilter

from confirm.sheets import SheetRef, make_sheet_payload
from tests.images import sheet_image
from uploads.pipeline import SheetExpectation, examine
from uploads.quality import assess

KEY = b"q" * 32


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def test_a_good_sheet_photo_passes():
    report = assess(sheet_image((2000, 1500)))
    assert report.is_accepted, [str(r) for r in report.reasons]


@pytest.mark.parametrize(
    ("transform", "fragment"),
    [
        (lambda im: ImageEnhance.Brightness(im).enhance(0.25), "太暗"),
        (lambda im: ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.9)).enhance(0.2), "过亮或发白"),
        (lambda im: im.filter(ImageFilter.GaussianBlur(8)), "模糊"),
    ],
    ids=["dark", "washed-out", "blurred"],
)
def test_bad_photos_get_a_reason_a_parent_understands(transform, fragment):
    report = assess(transform(sheet_image((2000, 1500))))
    assert any(fragment in str(r) for r in report.reasons), [str(r) for r in report.reasons]


def test_too_small_is_judged_on_the_original_size():
    report = assess(sheet_image((800, 600)))
    assert any("太小" in str(r) for r in report.reasons)


def _sheet_photo_with(payload: str | None) -> bytes:
    from benchmarks.sheet_photos import make_sheet_photo

    photo = make_sheet_photo(7, payload=payload, rotation=8, blur=0.5, long_edge=3000, jpeg_quality=85)
    return photo.jpeg


def test_sheet_of_this_student_and_version_is_accepted():
    payload = make_sheet_payload(KEY, SheetRef(41, 3, 2))
    verdict = examine(_sheet_photo_with(payload), sheet_key=KEY,
                      expect=SheetExpectation(41, 3, 2, required=True))
    assert verdict.qr == payload
    assert verdict.is_accepted, [str(r) for r in verdict.reasons]


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [(SheetRef(42, 3, 2), "另一名学生"), (SheetRef(41, 2, 2), "其他核查批次"), (SheetRef(41, 3, 1), "旧版本")],
    ids=["other-student", "other-campaign", "older-version"],
)
def test_wrong_sheet_is_refused_even_when_qr_codes_are_not_required(ref, fragment):
    verdict = examine(_sheet_photo_with(make_sheet_payload(KEY, ref)), sheet_key=KEY,
                      expect=SheetExpectation(41, 3, 2, required=False))
    assert any(fragment in str(r) for r in verdict.reasons), [str(r) for r in verdict.reasons]


def test_missing_qr_is_refused_only_when_required():
    data = _sheet_photo_with(None)
    required = examine(data, sheet_key=KEY, expect=SheetExpectation(41, 3, 2, required=True))
    assert any("没有找到确认表上的二维码" in str(r) for r in required.reasons)
    optional = examine(data, sheet_key=KEY, expect=SheetExpectation(41, 3, 2, required=False))
    assert optional.is_accepted, [str(r) for r in optional.reasons]


def test_forged_qr_is_refused_when_required():
    payload = make_sheet_payload(b"another-key" * 3, SheetRef(41, 3, 2))
    verdict = examine(_sheet_photo_with(payload), sheet_key=KEY, expect=SheetExpectation(41, 3, 2, required=True))
    assert any("校验失败" in str(r) for r in verdict.reasons)
