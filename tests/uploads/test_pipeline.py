"""One verdict per photo, bounded by work: one decode, no QR search on a photo that must be retaken anyway, and
the same answer on a busy machine as on an idle one."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from PIL import Image, ImageDraw, ImageEnhance

from benchmarks.sheet_photos import make_sheet_photo
from confirm.sheets import SheetRef, make_sheet_payload
from tests.images import sheet_image
from uploads import pipeline
from uploads.pipeline import SheetExpectation, examine

KEY = b"p" * 32


def _save(image: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


@pytest.fixture
def qr_search(monkeypatch):
    """Records every QR search the pipeline starts."""
    calls = []
    real = pipeline.find_qr

    def recording(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "find_qr", recording)
    return calls


def _triangle_png() -> bytes:
    image = Image.new("RGB", (100, 100), "white")
    ImageDraw.Draw(image).polygon([(10, 90), (50, 10), (90, 90)], fill="black")
    return _save(image, "PNG")


def test_a_tiny_drawing_is_refused_as_too_small_without_a_qr_search(qr_search):
    # Once 4.5 s of OpenCV's QR search (8.4 s under load), on an image already refused as too small.
    verdict = examine(_triangle_png(), sheet_key=KEY, expect=SheetExpectation(1, 1, 1, required=True))
    assert [str(reason) for reason in verdict.reasons] == [
        "照片太小（100 像素），看不清字。请用手机相机直接拍照，不要截图或压缩"]
    assert (verdict.qr, verdict.qr_method) == (None, "skipped")
    assert qr_search == []


@pytest.mark.parametrize(
    ("transform", "fragment"),
    [(lambda im: ImageEnhance.Brightness(im).enhance(0.25), "太暗"),
     (lambda im: ImageEnhance.Contrast(ImageEnhance.Brightness(im).enhance(1.9)).enhance(0.2), "过亮或发白")],
    ids=["dark", "washed-out"],
)
def test_a_photo_that_must_be_retaken_anyway_is_not_searched(qr_search, transform, fragment):
    verdict = examine(_save(transform(sheet_image((2000, 1500))), "JPEG"))
    assert any(fragment in str(reason) for reason in verdict.reasons)
    assert verdict.qr_method == "skipped" and qr_search == []


def test_a_blurred_photo_is_still_searched(qr_search):
    photo = make_sheet_photo(501, rotation=10, blur=5.0)
    verdict = examine(photo.jpeg)
    assert any("模糊" in str(reason) for reason in verdict.reasons)
    assert verdict.qr == photo.payload and len(qr_search) == 1  # a head teacher may still file it


def test_a_heic_photo_is_decoded_exactly_once(monkeypatch):
    from pillow_heif.as_plugin import HeifImageFile

    decodes = []
    load = HeifImageFile.load

    def counting(self):
        if self._heif_file is not None:  # not decoded yet: this call decodes
            decodes.append(self.size)
        return load(self)

    monkeypatch.setattr(HeifImageFile, "load", counting)
    payload = make_sheet_payload(KEY, SheetRef(41, 3, 2))
    photo = make_sheet_photo(7, payload=payload, rotation=8, blur=0.5, long_edge=2000)
    with Image.open(io.BytesIO(photo.jpeg)) as jpeg:
        heic = _save(jpeg, "HEIF", quality=80)
    verdict = examine(heic, sheet_key=KEY, expect=SheetExpectation(41, 3, 2, required=True))
    assert verdict.is_accepted and verdict.qr == payload, [str(r) for r in verdict.reasons]
    assert decodes == [(1500, 2000)]


def _fingerprint(verdict) -> tuple:
    return (verdict.qr, verdict.qr_method, [str(reason) for reason in verdict.reasons], verdict.figures(),
            verdict.image.sha256)


def test_the_verdict_does_not_depend_on_how_busy_the_machine_is():
    # A blurred photo takes every step there is (read, deblur, read again): a clock-bound search would drop steps
    # when the CPU is shared. Here a busy loop shares this process's core.
    payload = make_sheet_payload(KEY, SheetRef(41, 3, 2))
    data = make_sheet_photo(501, payload=payload, rotation=10, blur=5.0).jpeg
    expect = SheetExpectation(41, 3, 2, required=True)
    quiet = examine(data, sheet_key=KEY, expect=expect)
    assert quiet.qr == payload and quiet.qr_method == "deblur"

    pinned = hasattr(os, "sched_setaffinity")
    if pinned:
        own = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(own)})
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        if pinned:
            os.sched_setaffinity(hog.pid, {min(own)})
        busy = [examine(data, sheet_key=KEY, expect=expect) for _ in range(2)]
    finally:
        hog.kill()
        hog.wait()
        if pinned:
            os.sched_setaffinity(0, own)
    assert [_fingerprint(verdict) for verdict in busy] == [_fingerprint(quiet)] * 2
