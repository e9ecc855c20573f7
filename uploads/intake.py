"""Safe intake of an uploaded photo: decide the type by content, decode under limits, re-encode clean.

Only the sanitised JPEG is kept: orientation applied, every metadata block (EXIF with GPS, XMP, ICC)
dropped, RGB, long edge capped. The original bytes — and anything appended to them — are discarded.
A 12 MP JPEG is decoded at half size through libjpeg's DCT scaling (``draft``), never in full.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

from confirm.i18n import N_, Message

try:  # HEIC/HEIF from iPhones; pillow-heif registers itself as a Pillow plugin
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF = ("HEIF",)
except ImportError:  # pragma: no cover - the dependency is declared; this only keeps imports working without it
    HEIF = ()

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", *HEIF)
MAX_PIXELS = 40_000_000  # a 12 MP phone photo is far below; a decompression bomb is far above
LONG_EDGE = 2400
DRAFT_MIN_EDGE = 1600  # DCT scaling may stop at this long edge: enough to read a sheet and its QR code
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
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def _unreadable() -> IntakeError:
    return IntakeError(Message(N_("无法识别的文件，请上传照片（JPG、PNG、WebP 或 HEIC 格式）")))


def open_photo(data: bytes, *, max_pixels: int = MAX_PIXELS, draft_edge: int | None = DRAFT_MIN_EDGE):
    """Open ``data`` as a photo under strict limits; returns (image with orientation applied, original size)."""
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
            if original[0] * original[1] > max_pixels:
                raise IntakeError(Message(N_("图片尺寸过大，请用手机相机直接拍照上传")))
            if image.format == "JPEG" and draft_edge and max(original) >= 2 * draft_edge:
                factor = draft_edge / max(original)
                image.draft("RGB", (math.ceil(original[0] * factor), math.ceil(original[1] * factor)))
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
        except IntakeError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise IntakeError(Message(N_("图片尺寸过大，请用手机相机直接拍照上传"))) from None
        except UnidentifiedImageError:
            raise _unreadable() from None
        except (OSError, SyntaxError, ValueError, EOFError):
            raise IntakeError(Message(N_("图片文件已损坏或不完整，请重新拍照上传"))) from None
    return image, original


def sanitize_image(data: bytes, *, long_edge: int = LONG_EDGE, max_pixels: int = MAX_PIXELS) -> SanitizedImage:
    """Open ``data`` as a photo under strict limits and return a clean JPEG and thumbnail."""
    image, original = open_photo(data, max_pixels=max_pixels)
    clean = _to_rgb(image)
    del image
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


def full_resolution(data: bytes, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """The photo decoded at full size (only for a second look when the reduced image is not enough)."""
    image, _ = open_photo(data, max_pixels=max_pixels, draft_edge=None)
    return _to_rgb(image)


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
