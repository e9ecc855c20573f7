"""Every phone photo accepted safely: type by content, limits before decoding, metadata gone, re-encoded."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from tests.images import sheet_image, sheet_jpeg
from uploads.intake import IntakeError, accept_proof_pdf, full_resolution, sanitize_image, sniff


def _save(image: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def _exif_with_gps_and_orientation(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "N", 2: (39.0, 54.0, 20.0), 3: "E", 4: (116.0, 23.0, 29.0)}
    exif[0x8825] = gps  # GPSInfo
    return exif.tobytes()


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height pixels (its data would inflate to gigabytes)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "文件是空的"),
        (b"just some text, renamed to photo.jpg\n", "无法识别的文件"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
         "无法识别的文件"),
        (_save(Image.new("RGB", (1200, 900), "white"), "GIF"), "无法识别的文件"),
        (b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF", "无法识别的文件"),
    ],
    ids=["zero-bytes", "text-named-jpg", "svg", "gif", "pdf-as-photo"],
)
def test_files_that_are_not_photos_are_refused_with_a_clear_message(data, fragment):
    with pytest.raises(IntakeError) as caught:
        sanitize_image(data)
    assert fragment in str(caught.value.message)


def test_truncated_jpeg_is_refused():
    data = sheet_jpeg((1600, 1200))
    with pytest.raises(IntakeError) as caught:
        sanitize_image(data[: len(data) // 2])
    assert "损坏或不完整" in str(caught.value.message)


def test_decompression_bomb_png_is_refused_before_decoding():
    with pytest.raises(IntakeError) as caught:
        sanitize_image(_bomb_png(30000, 30000))
    assert "尺寸过大" in str(caught.value.message)


def test_gps_and_all_metadata_are_stripped_and_orientation_applied():
    photo = sheet_image((1600, 1200))
    data = _save(photo, "JPEG", exif=_exif_with_gps_and_orientation(6), quality=90)  # 6: rotate 90° clockwise
    assert b"PhoneMaker" in data
    clean = sanitize_image(data)
    assert (clean.width, clean.height) == (1200, 1600)  # turned upright
    reopened = Image.open(io.BytesIO(clean.data))
    assert not reopened.getexif()
    assert "icc_profile" not in reopened.info and "xmp" not in reopened.info
    assert b"PhoneMaker" not in clean.data and b"GPS" not in clean.data


def test_iphone_heic_is_accepted_and_becomes_jpeg():
    data = _save(sheet_image((1600, 1200)), "HEIF", quality=80)
    assert sniff(data) == "HEIF"
    clean = sanitize_image(data)
    assert clean.data.startswith(b"\xff\xd8\xff") and (clean.width, clean.height) == (1600, 1200)


def test_cmyk_jpeg_becomes_rgb():
    data = _save(sheet_image((1400, 1000)).convert("CMYK"), "JPEG")
    clean = sanitize_image(data)
    assert Image.open(io.BytesIO(clean.data)).mode == "RGB"


def test_16_bit_png_with_alpha_is_flattened_onto_white():
    rgba = sheet_image((1200, 900)).convert("RGBA")
    rgba.putalpha(128)
    clean = sanitize_image(_save(rgba, "PNG"))
    assert Image.open(io.BytesIO(clean.data)).mode == "RGB"
    grey16 = Image.new("I;16", (1200, 900), 40000)
    assert Image.open(io.BytesIO(sanitize_image(_save(grey16, "PNG")).data)).getpixel((5, 5))[0] > 120


def test_polyglot_jpeg_with_html_appended_is_stored_re_encoded():
    data = sheet_jpeg((1600, 1200)) + b"<html><script>alert('x')</script></html>"
    clean = sanitize_image(data)
    assert b"<script>" not in clean.data
    assert clean.data != data[: len(clean.data)]


def test_long_edge_is_capped_and_a_thumbnail_is_made():
    clean = sanitize_image(sheet_jpeg((4000, 3000)))
    assert max(clean.width, clean.height) <= 2400
    assert (clean.original_width, clean.original_height) == (4000, 3000)
    thumb = Image.open(io.BytesIO(clean.thumbnail))
    assert max(thumb.size) == 320


def test_large_jpeg_is_decoded_at_reduced_size_but_full_resolution_is_available():
    data = sheet_jpeg((4000, 3000))
    assert sanitize_image(data).width == 2000  # DCT scaling 1/2: never decoded in full
    assert full_resolution(data).size == (4000, 3000)


def test_same_photo_gives_the_same_hash():
    data = sheet_jpeg((1600, 1200))
    assert sanitize_image(data).sha256 == sanitize_image(data).sha256


def test_pdf_is_accepted_only_as_a_proof_document():
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    assert accept_proof_pdf(pdf).sha256
    with pytest.raises(IntakeError):
        accept_proof_pdf(b"%PDF-1.4 truncated")
    with pytest.raises(IntakeError):
        accept_proof_pdf(sheet_jpeg((100, 100)))
