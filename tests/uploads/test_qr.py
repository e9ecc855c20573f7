"""Sheet QR codes: a signed payload that names the sheet, and finding it in phone photos of the printed page."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from benchmarks.sheet_photos import PHONE_RANGES, POSTER_PAYLOAD, make_sheet_photo
from confirm.errors import DomainError
from confirm.i18n import Message
from confirm.sheets import (
    InvalidSheetCode,
    SheetRef,
    check_sheet_for,
    looks_like_sheet_payload,
    make_sheet_payload,
    parse_sheet_payload,
)
from uploads.intake import sanitize_image
from uploads.pipeline import SheetExpectation, examine
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


def test_only_our_codes_look_like_sheet_payloads():
    assert looks_like_sheet_payload(f" {make_sheet_payload(KEY, SheetRef(5, 6, 7)).lower()}\n")
    assert looks_like_sheet_payload("XJ1-00001-0001-001-ABCDEFGHIJ")  # the shape only: the checksum is not checked
    assert not looks_like_sheet_payload("https://weixin.qq.com/g/AQYAAJ3k1x2Wg7fKpZL0mN8vQe5sTbRc")


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

def _png_as_grey(png: bytes) -> Image.Image:
    with Image.open(io.BytesIO(png)) as image:
        return image.convert("L")


def test_rendered_png_decodes_to_the_payload():
    payload = make_sheet_payload(KEY, SheetRef(10**7, 10**5, 10**4))
    image = _png_as_grey(render_qr_png(payload, box_size=8))
    assert image.size == ((25 + 8) * 8, (25 + 8) * 8)  # version 2 plus a 4-module quiet zone
    assert [code.text for code in zxingcpp.read_barcodes(image)] == [payload]


def test_find_qr_reads_a_clean_rendering_in_rgb_and_greyscale():
    payload = make_sheet_payload(KEY, SheetRef(1, 2, 3))
    grey = _png_as_grey(render_qr_png(payload))
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
    "shadow-across": dict(shadow=0.45),
    "small-far-12mp": dict(qr_cm=2.5, fill=0.8, long_edge=4000),
    "everything-at-once": dict(rotation=-30, skew=0.08, blur=2.0, jpeg_quality=60, brightness=0.7, shading=0.35,
                               noise=4, qr_cm=2.5, fill=0.8, long_edge=3000),
    "shaken-4.5px": dict(blur=4.5, qr_cm=2.6),
    "shaken-5px-12mp": dict(blur=5.0, long_edge=4000),
    "random-a": {},
    "random-b": {},
    "phone-random-a": dict(ranges=PHONE_RANGES),
    "phone-random-b": dict(ranges=PHONE_RANGES),
}


@pytest.mark.parametrize("seed,distortions", list(enumerate(PHOTOS.values(), start=500)), ids=list(PHOTOS))
def test_the_intake_reads_the_code_in_a_generated_phone_photo(seed, distortions):
    photo = make_sheet_photo(seed, **distortions)
    verdict = examine(photo.jpeg)
    assert verdict.qr == photo.payload, (photo.params, verdict.qr_method)


def test_a_sharp_photo_is_read_in_one_pass_and_deblurring_is_kept_for_blurred_ones():
    sharp = make_sheet_photo(501, rotation=10, blur=0.5)
    verdict = examine(sharp.jpeg)
    assert not verdict.quality.is_blurred
    assert (verdict.qr, verdict.qr_method) == (sharp.payload, "zxing")

    shaken = make_sheet_photo(501, rotation=10, blur=5.0)
    image = sanitize_image(shaken.jpeg).image
    assert find_qr(image).text is None  # one plain pass cannot read it …
    result = find_qr(image, is_blurred=True)  # … deconvolved, it can
    assert (result.text, result.method, result.passes) == (shaken.payload, "deblur", 2)
    verdict = examine(shaken.jpeg)
    assert verdict.quality.is_blurred and (verdict.qr, verdict.qr_method) == (shaken.payload, "deblur")


@pytest.mark.parametrize("blurred", [False, True], ids=["sharp", "blurred"])
def test_a_photo_without_a_code_costs_a_fixed_number_of_passes(blurred):
    photo = make_sheet_photo(777, payload=None, long_edge=4000)  # 3000 × 4000: 12 MP
    result = find_qr(sanitize_image(photo.jpeg).image, is_blurred=blurred)
    assert (result.texts, result.method) == ((), "none")
    assert result.passes == (2 if blurred else 1)


def test_of_two_codes_in_the_photo_ours_is_chosen():
    payload = make_sheet_payload(KEY, SheetRef(41, 3, 2))
    photo = make_sheet_photo(31, payload=payload, poster=POSTER_PAYLOAD, rotation=7, blur=0.8, long_edge=3600)
    image = sanitize_image(photo.jpeg).image
    everything = find_qr(image, is_ours=lambda text: False)  # nothing is ours: every code is read
    assert set(everything.texts) == {payload, POSTER_PAYLOAD}
    assert find_qr(image).text == payload  # ours by its shape, whichever zxing read first
    assert examine(photo.jpeg).qr == payload
    signed = examine(photo.jpeg, sheet_key=KEY, expect=SheetExpectation(41, 3, 2, required=True))
    assert signed.qr == payload and signed.is_accepted, [str(r) for r in signed.reasons]


def test_a_forged_sheet_code_beside_a_poster_is_reported_as_forged():
    forged = make_sheet_payload(b"another-key-0123456789abcdef0123", SheetRef(41, 3, 2))
    photo = make_sheet_photo(31, payload=forged, poster=POSTER_PAYLOAD, rotation=7, blur=0.8, long_edge=3600)
    verdict = examine(photo.jpeg, sheet_key=KEY, expect=SheetExpectation(41, 3, 2, required=True))
    assert verdict.qr == forged
    assert any("校验失败" in str(reason) for reason in verdict.reasons)
