"""Safe intake of an uploaded photo: decide the type by content, decode under limits, re-encode clean.

Only the sanitised JPEG is kept: orientation applied, every metadata block (EXIF with GPS, XMP, ICC)
dropped, RGB, long edge capped. The original bytes — and anything appended to them — are discarded.

Every step is bounded by work, never by a clock, so the answer never depends on how busy the machine is:

- the size in the file's header is checked before a single pixel is decoded: a JPEG up to 40 MP (libjpeg's
  DCT scaling, ``draft``, decodes a 12 MP photo at half size, a 40 MP one at a quarter); PNG, WebP and HEIC,
  decoded in full, up to FULL_DECODE_MAX_PIXELS (25 MP, which admits a 24 MP camera or iPhone photo; WebP 6 MP);
- each file is decoded once; a large PNG, WebP or HEIC is cut down right after decoding, in strips, so that
  colour conversion never makes a second full-size copy;
- the checks and the QR reader get the greyscale copy made here and never decode the file again.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

from confirm.i18n import N_, Message

try:  # HEIC/HEIF from iPhones; pillow-heif registers itself as a Pillow plugin
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF = ("HEIF",)
except ImportError:  # pragma: no cover - the dependency is declared; this only keeps imports working without it
    HEIF = ()

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", *HEIF)
MAX_PIXELS = 40_000_000  # JPEG, decoded DCT-scaled: a 12 MP phone photo is far below, a decompression bomb far above
# Formats without DCT scaling (every pixel is decoded), and the most pixels each may have. 25 MP lets 24 MP cameras
# and iPhones (5712 × 4284 = 24.5 MP) through; a 24 MP PNG peaks at ~145 MB (Pillow holds 4 bytes a pixel). WebP is
# held to 6 MP: Pillow's decoder keeps ~17 bytes a pixel (libwebp's two canvases, a copy, the image) — 24 MP cost
# 420 MB — and no phone camera writes WebP.
FULL_DECODE_MAX_PIXELS = {"PNG": 25_000_000, "WEBP": 6_000_000, **dict.fromkeys(HEIF, 25_000_000)}
LONG_EDGE = 2400
# Decoding may reduce a photo down to this long edge: enough to read the sheet, and its QR code still has ≥ 3 px per
# module. 1500, not more, so that a 3000 px photo is decoded at half size too (benchmarks/qr_detection.py reads as
# many codes; a full decode and resize would cost such a photo twice the CPU).
DRAFT_MIN_EDGE = 1500
STRIP_PIXELS = 250_000  # pixels converted at a time when a fully decoded image is cut down (~1 MB a copy)
THUMB_EDGE = 320
JPEG_QUALITY = 85

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}


class IntakeError(Exception):
    """The upload cannot be accepted; ``message`` tells the parent why, in their language."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(str(message))


def sniff(data: bytes) -> str | None:
    """The file type by its first bytes: JPEG, PNG, WEBP, HEIF, PDF, GIF, SVG — or None."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF"
    if head.startswith(b"%PDF-"):
        return "PDF"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<svg", b"<?xml")):
        return "SVG"
    return None


@dataclass(frozen=True)
class SanitizedImage:
    """The re-encoded photo and what we record about it; ``image`` is its greyscale, kept for the checks."""

    data: bytes
    thumbnail: bytes
    width: int
    height: int
    original_width: int
    original_height: int
    sha256: str
    image: Image.Image = field(repr=False, compare=False)
    content_type: str = "image/jpeg"


def _encode(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit / float greyscale: scale to 8 bits first
        image = image.convert("I").point(lambda v: v / 256).convert("L")
    if image.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _reduced_rgb(image: Image.Image, factor: int) -> Image.Image:
    """``image`` as RGB, shrunk ``factor`` times by box averaging; other modes are converted strip by strip.

    Converting a whole 24 MP RGBA, palette or 16-bit image would add full-size copies (~100 MB each); a strip of
    rows at a time adds a few MB.
    """
    if image.mode in ("RGB", "L", "CMYK"):  # box-reduced as they are, then converted: no full-size copy is made
        return _to_rgb(image.reduce(factor) if factor > 1 else image)
    width, height = image.size
    out = Image.new("RGB", (math.ceil(width / factor), math.ceil(height / factor)))
    step = max(1, STRIP_PIXELS // width // factor) * factor
    for top in range(0, height, step):
        strip = _to_rgb(image.crop((0, top, width, min(height, top + step))))
        out.paste(strip.reduce(factor) if factor > 1 else strip, (0, top // factor))
    return out


_TRANSPOSE = {  # EXIF orientation → the turn that makes the photo upright (as ImageOps.exif_transpose)
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _unreadable() -> IntakeError:
    return IntakeError(Message(N_("无法识别的文件，请上传照片（JPG、PNG、WebP 或 HEIC 格式）")))


def unreadable_proof() -> IntakeError:
    """A proof document that is neither a photo nor a PDF (the proof form takes both)."""
    return IntakeError(Message(N_("无法识别的文件，请上传照片（JPG、PNG、WebP 或 HEIC 格式）或 PDF 文件")))


def _too_large() -> IntakeError:
    return IntakeError(Message(N_("图片尺寸过大，请用手机相机直接拍照上传")))


def open_photo(data: bytes, *, max_pixels: int = MAX_PIXELS, draft_edge: int = DRAFT_MIN_EDGE):
    """Decode ``data`` once under strict limits: the photo upright as RGB, reduced to a long edge between
    ``draft_edge`` and about twice that, and the size its header gave."""
    if not data:
        raise IntakeError(Message(N_("文件是空的，请重新拍照上传")))
    kind = sniff(data)
    if kind not in ALLOWED_FORMATS:
        raise _unreadable()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            original = image.size
            pixels = original[0] * original[1]
            if pixels > max_pixels:
                raise _too_large()
            if pixels > FULL_DECODE_MAX_PIXELS.get(image.format, max_pixels):
                # Refused before decoding: these formats cannot be decoded at a reduced size.
                raise IntakeError(Message(
                    N_("图片尺寸过大（约 %(mp)s 百万像素），请用手机相机直接拍照，或保存为 JPG 格式后上传"),
                    {"mp": round(pixels / 1e6, 1)}))
            if image.format == "JPEG" and max(original) >= 2 * draft_edge:
                factor = draft_edge / max(original)
                image.draft("RGB", (math.ceil(original[0] * factor), math.ceil(original[1] * factor)))
            image.load()
            # Read before converting: PNG and WebP carry EXIF too; pillow-heif has already applied HEIC's irot
            # and reset the EXIF orientation it contradicts, so an iPhone photo is not turned twice.
            turn = _TRANSPOSE.get(image.getexif().get(0x0112))
            clean = _reduced_rgb(image, max(1, max(image.size) // draft_edge))
        except IntakeError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_large() from None
        except UnidentifiedImageError:
            raise _unreadable() from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise IntakeError(Message(N_("图片文件已损坏或不完整，请重新拍照上传"))) from None
    del image
    return (clean.transpose(turn) if turn else clean), original


def sanitize_image(data: bytes, *, long_edge: int = LONG_EDGE, max_pixels: int = MAX_PIXELS) -> SanitizedImage:
    """Open ``data`` as a photo under strict limits and return a clean JPEG and thumbnail."""
    clean, original = open_photo(data, max_pixels=max_pixels)
    if max(clean.size) > long_edge:
        clean.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS)
    clean.info = {}  # EXIF (with GPS), XMP, ICC and comments are dropped: nothing of the original is written
    encoded = _encode(clean)
    scale = THUMB_EDGE / max(clean.size)
    thumb = clean.resize((max(1, round(clean.width * scale)), max(1, round(clean.height * scale))),
                         Image.Resampling.LANCZOS, reducing_gap=2.0)
    width, height = clean.size
    grey = clean.convert("L")  # all the checks need; the colour image is let go here
    del clean
    return SanitizedImage(
        data=encoded,
        thumbnail=_encode(thumb, 80),
        width=width,
        height=height,
        original_width=original[0],
        original_height=original[1],
        sha256=hashlib.sha256(encoded).hexdigest(),
        image=grey,
    )


@dataclass(frozen=True)
class StoredDocument:
    """A proof document kept as uploaded (PDF only; images go through sanitize_image)."""

    data: bytes
    sha256: str
    content_type: str = "application/pdf"


def accept_proof_pdf(data: bytes) -> StoredDocument:
    """A PDF proof document, checked to be one; it is stored as a file and never rendered by us."""
    if sniff(data) != "PDF" or b"%%EOF" not in data[-2048:]:
        raise IntakeError(Message(N_("PDF 文件不完整或已损坏，请重新选择")))
    return StoredDocument(data, hashlib.sha256(data).hexdigest())
