"""Sheet QR codes: a signed payload that names the sheet, and finding it in phone photos of the printed page."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
from PIL import Image

from benchmarks.sheet_photos import make_sheet_photo
from confirm.errors import DomainError
from confirm.i18n import Message
from confirm.sheets import InvalidSheetCode, SheetRef, check_sheet_for, make_sheet_payload, parse_sheet_payload
from uploads.qr import find_qr, render_qr_png

KEY = b"sheet-test-key-0123456789abcdef!"
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


# --- the payload -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "ref",
    [SheetRef(1, 1, 1), SheetRef(0, 0, 0), SheetRef(123_456, 42, 3), SheetRef(10**7, 10**5, 10**4),
     SheetRef(10**9, 10**7, 10**6)],
)
def test_payload_round_trip(ref):
    assert parse_sheet_payload(KEY, make_sheet_payload(KEY, ref)) == ref


@pytest.mark.parametrize(
    "ref", [SheetRef(1, 1, 1), SheetRef(9_999_999, 99_999, 9_999), SheetRef(10**7, 10**5, 10**4)]
)
def test_payload_is_short_and_qr_alphanumeric_for_realistic_ids(ref):
    payload = make_sheet_payload(KEY, ref)
    assert 25 <= len(payload) <= 32
    assert set(payload) <= QR_ALPHANUMERIC
    assert payload.startswith("XJ1-")


def test_payload_fits_a_version_2_qr_code_at_error_correction_q():
    import segno

    code = segno.make(make_sheet_payload(KEY, SheetRef(10**7, 10**5, 10**4)), error="q", micro=False)
    assert (code.version, code.mode, code.error) == (2, "alphanumeric", "Q")


def test_payload_is_read_case_insensitively_and_with_surrounding_space():
    ref = SheetRef(2024, 7, 2)
    assert parse_sheet_payload(KEY, f"  {make_sheet_payload(KEY, ref).lower()}\n") == ref


def _with_field(payload: str, index: int, value: str) -> str:
    parts = payload.split("-")
    parts[index] = value
    return "-".join(parts)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p: _with_field(p, 1, "02N9D"),  # another student, checksum kept
        lambda p: _with_field(p, 2, "0017"),  # another campaign
        lambda p: _with_field(p, 3, "004"),  # a newer version
        lambda p: p[:-1] + ("0" if p[-1] != "0" else "1"),  # checksum changed
        lambda p: _with_field(p, 1, "002N9C"),  # the same student spelled with an extra zero
    ],
    ids=["student", "campaign", "version", "checksum", "non-canonical"],
)
def test_a_changed_payload_is_rejected(tamper):
    payload = make_sheet_payload(KEY, SheetRef(123_456, 42, 3))
    with pytest.raises(InvalidSheetCode) as caught:
        parse_sheet_payload(KEY, tamper(payload))
    assert isinstance(caught.value, DomainError)
    assert "校验失败" in str(caught.value.message)


def test_a_payload_made_with_another_key_is_rejected():
    payload = make_sheet_payload(b"another-key-0123456789abcdef0123", SheetRef(5, 6, 7))
    with pytest.raises(InvalidSheetCode):
        parse_sheet_payload(KEY, payload)


@pytest.mark.parametrize(
    "text",
    ["", "hello", "https://weixin.qq.com/r/abcdef", "XJ1-1-1-1-ABCDEFGHIJ", "XJ2-00001-0001-001-ABCDEFGHIJ",
     "XJ1-00001-0001-001-ABCDEFGHI", "XJ1-00001-0001-001-ABCDEFGHIJ-EXTRA", "XJ1-0000é-0001-001-ABCDEFGHIJ"],
)
def test_a_code_that_is_not_ours_is_rejected_with_a_chinese_message(text):
    with pytest.raises(InvalidSheetCode) as caught:
        parse_sheet_payload(KEY, text)
    assert "确认表" in str(caught.value.message)


def test_negative_ids_cannot_be_encoded():
    with pytest.raises(ValueError):
        make_sheet_payload(KEY, SheetRef(-1, 1, 1))


# --- which sheet it is -------------------------------------------------------------------------------------

EXPECTED = {"student_id": 7, "campaign_id": 3, "current_version": 2}


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        (None, "没有找到确认表上的二维码，请把整张确认表拍进画面"),
        (SheetRef(8, 3, 2), "另一名学生"),
        (SheetRef(7, 4, 2), "其他核查批次"),
        (SheetRef(7, 3, 1), "这是旧版本的确认表，请使用班主任最新发放的确认表"),
        (SheetRef(7, 3, 3), "版本与系统记录不一致"),
    ],
    ids=["no-code", "other-student", "other-campaign", "older-version", "unknown-version"],
)
def test_check_sheet_for_names_the_reason(ref, fragment):
    reason = check_sheet_for(ref, **EXPECTED)
    assert isinstance(reason, Message)
    assert fragment in str(reason)


def test_check_sheet_for_accepts_the_current_sheet_of_the_student():
    assert check_sheet_for(SheetRef(7, 3, 2), **EXPECTED) is None


# --- rendering and reading ---------------------------------------------------------------------------------

def test_rendered_png_decodes_to_the_payload():
    payload = make_sheet_payload(KEY, SheetRef(10**7, 10**5, 10**4))
    png = render_qr_png(payload, box_size=8)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image.shape == ((25 + 8) * 8, (25 + 8) * 8)  # version 2 plus a 4-module quiet zone
    assert cv2.QRCodeDetector().detectAndDecode(image)[0] == payload


def test_find_qr_reads_a_clean_rendering_in_rgb_and_greyscale():
    payload = make_sheet_payload(KEY, SheetRef(1, 2, 3))
    grey = Image.frombytes("L", (330, 330), cv2.imdecode(
        np.frombuffer(render_qr_png(payload), np.uint8), cv2.IMREAD_GRAYSCALE).tobytes())
    assert find_qr(grey).text == payload
    assert find_qr(grey.convert("RGB")).text == payload


# Deterministic photos: each names the distortions it pins; the rest come from the seed.
PHOTOS = {
    "straight": dict(rotation=0, skew=0, blur=0, jpeg_quality=90, brightness=1.0, shading=0),
    "rotated-30": dict(rotation=30),
    "rotated-minus-30": dict(rotation=-30),
    "skewed": dict(skew=0.08, rotation=8),
    "blurred": dict(blur=2.0),
    "jpeg-60": dict(jpeg_quality=60, noise=4),
    "dim-and-shaded": dict(brightness=0.7, shading=0.35),
    "small-far-12mp": dict(qr_cm=2.5, fill=0.8, long_edge=4000),
    "everything-at-once": dict(rotation=-30, skew=0.08, blur=2.0, jpeg_quality=60, brightness=0.7, shading=0.35,
                               noise=4, qr_cm=2.5, fill=0.8, long_edge=3000),
    "random-a": {},
    "random-b": {},
}


@pytest.mark.parametrize("seed,distortions", list(enumerate(PHOTOS.values(), start=500)), ids=list(PHOTOS))
def test_find_qr_reads_the_code_in_a_generated_phone_photo(seed, distortions):
    photo = make_sheet_photo(seed, **distortions)
    result = find_qr(photo.app_sized(), full_resolution=photo.full_resolution)
    assert result.text == photo.payload, (photo.params, result)
    assert result.method != "none"


def test_find_qr_answers_none_quickly_for_a_photo_without_a_code():
    photo = make_sheet_photo(777, payload=None, long_edge=4000)  # 3000 × 4000: 12 MP
    image = photo.full_resolution()
    image.thumbnail((2400, 2400))
    start = time.perf_counter()
    result = find_qr(image, full_resolution=photo.full_resolution)
    elapsed = time.perf_counter() - start
    assert (result.text, result.method) == (None, "none")
    assert elapsed < 1.0  # a loose bound for shared CI machines; benchmarks/qr_detection.py measures it


def test_find_qr_keeps_to_its_time_budget():
    photo = make_sheet_photo(778, payload=None, long_edge=3000)
    image = photo.app_sized()
    start = time.perf_counter()
    result = find_qr(image, full_resolution=photo.full_resolution, time_budget=0.0)
    assert (result.text, result.method) == (None, "none")
    assert time.perf_counter() - start < 0.1


def test_find_qr_falls_back_to_full_resolution_only_when_needed():
    photo = make_sheet_photo(501, rotation=10, blur=0.5)
    calls = []

    def original():
        calls.append(1)
        return photo.full_resolution()

    assert find_qr(photo.app_sized(), full_resolution=original).text == photo.payload
    assert calls == []  # the reduced photo was enough

    tiny = photo.full_resolution()
    tiny.thumbnail((400, 400))  # far too small to read the code: only the original can
    assert find_qr(tiny).text is None
    result = find_qr(tiny, full_resolution=original)
    assert (result.text, result.method) == (photo.payload, "full")
    assert calls == [1]
