"""Every phone photo accepted safely: type by content, limits before decoding, metadata gone, re-encoded."""

from __future__ import annotations

import io
import math
import struct
import zlib

import pytest
from PIL import Image

from tests.images import sheet_image, sheet_jpeg
from uploads.intake import FULL_DECODE_MAX_PIXELS, IntakeError, accept_proof_pdf, sanitize_image, sniff


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


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height pixels (its data would inflate to gigabytes)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + \
        _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + _png_chunk(b"IEND", b"")


def _flat_grey_png(width: int, height: int, level: int = 128) -> bytes:
    """A complete, valid greyscale PNG of one flat level: a few KB for millions of pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = (b"\x00" + bytes([level]) * width) * height  # filter type 0, then the row
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + \
        _png_chunk(b"IDAT", zlib.compress(rows, 9)) + _png_chunk(b"IEND", b"")


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image file is decoded (header reads are fine)."""
    from PIL import ImageFile

    def refuse(self):
        raise AssertionError(f"{self.format} {self.size} was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


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


def test_decompression_bomb_png_is_refused_before_decoding(no_decoding):
    with pytest.raises(IntakeError) as caught:
        sanitize_image(_bomb_png(30000, 30000))
    assert "尺寸过大" in str(caught.value.message)


def test_png_over_the_full_decode_cap_is_refused_before_decoding_with_its_size(no_decoding):
    data = _flat_grey_png(6300, 6300)  # 39.7 MP in about 40 KB: once 1.4–2.9 s of CPU and 220 MB per upload
    assert len(data) < 100_000
    with pytest.raises(IntakeError) as caught:
        sanitize_image(data)
    message = caught.value.message
    assert "尺寸过大" in str(message) and "JPG" in str(message)
    assert message.params == {"mp": 39.7}  # megapixels


def test_png_at_the_full_decode_cap_is_decoded_once_and_cut_down():
    side = int(FULL_DECODE_MAX_PIXELS["PNG"] ** 0.5)  # 5000 × 5000
    clean = sanitize_image(_flat_grey_png(side, side))
    assert (clean.original_width, clean.original_height) == (side, side)
    assert clean.width == clean.height == math.ceil(side / 3)  # box-reduced straight after decoding
    with pytest.raises(IntakeError):
        sanitize_image(_flat_grey_png(side + 1, side))


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


def _marked_portrait(size=(1200, 1600)) -> Image.Image:
    """A portrait sheet with a black square in its top-left corner, to tell which way up it came out."""
    photo = sheet_image(size)
    photo.paste((0, 0, 0), (0, 0, 150, 150))
    return photo


def _is_upright_marked_portrait(clean) -> bool:
    grey = Image.open(io.BytesIO(clean.data)).convert("L")
    corner = grey.crop((0, 0, grey.width // 10, grey.width // 10))
    return clean.width < clean.height and corner.getextrema()[1] < 60


def test_iphone_portrait_heic_comes_out_upright():
    # As an iPhone stores a portrait photo: coded landscape, turned by the container's irot box, and EXIF
    # orientation 6 saying the same. Honouring both would turn it twice.
    upright = _marked_portrait()
    coded = upright.transpose(Image.Transpose.ROTATE_90)  # the sensor's landscape
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _save(coded, "HEIF", quality=80, exif=exif.tobytes())
    assert b"irot" in data and sniff(data) == "HEIF"
    clean = sanitize_image(data)
    assert (clean.width, clean.height) == (1200, 1600)
    assert _is_upright_marked_portrait(clean)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_exif_orientation_is_applied_in_every_format(fmt):
    coded = _marked_portrait().transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to show
    clean = sanitize_image(_save(coded, fmt, exif=exif.tobytes()))
    assert _is_upright_marked_portrait(clean)


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


def test_webp_is_held_to_fewer_pixels(no_decoding):
    with pytest.raises(IntakeError) as caught:
        sanitize_image(_save(Image.new("RGB", (3000, 2100), "white"), "WEBP"))  # 6.3 MP
    assert "尺寸过大" in str(caught.value.message)


@pytest.mark.parametrize("mode", ["RGBA", "P", "I;16", "1"])
def test_large_images_of_every_mode_are_cut_down_strip_by_strip(mode):
    size = (3300, 2100)  # reduced 2× in strips of rows, a strip's height not dividing the image
    if mode == "RGBA":
        image = Image.new("RGBA", size, (0, 0, 0, 0))  # fully transparent: must come out white
        image.paste((20, 20, 20, 255), (0, 0, 600, 600))
        expect_corner, expect_middle = 20, 255
    elif mode == "P":
        image = Image.new("RGB", size, "white").quantize(4)
        expect_corner = expect_middle = 255
    elif mode == "I;16":
        image = Image.new("I;16", size, 65535)
        expect_corner = expect_middle = 255
    else:
        image = Image.new("1", size, 1)
        expect_corner = expect_middle = 255
    clean = sanitize_image(_save(image, "PNG"))
    assert (clean.width, clean.height) == (1650, 1050)
    out = Image.open(io.BytesIO(clean.data)).convert("L")
    assert abs(out.getpixel((10, 10)) - expect_corner) < 8
    assert abs(out.getpixel((1000, 1000)) - expect_middle) < 8


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


def test_large_jpeg_is_decoded_at_reduced_size():
    assert sanitize_image(sheet_jpeg((4000, 3000))).width == 2000  # DCT scaling 1/2: never decoded in full
    assert sanitize_image(sheet_jpeg((3000, 2250))).width == 1500  # a 3000 px photo too


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
