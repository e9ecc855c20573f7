"""Safe intake of an uploaded photo: decide the type by content, decode under limits, re-encode clean.

Only the sanitised JPEG is kept: orientation applied, every metadata block (EXIF with GPS, XMP, ICC)
dropped, RGB, long edge capped. The original bytes — and anything appended to them — are discarded.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from confirm.i18n import N_, Message

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_PIXELS = 40_000_000  # a 12 MP phone photo is far below; a decompression bomb is far above
LONG_EDGE = 2400
THUMB_EDGE = 320
JPEG_QUALITY = 85


class IntakeError(Exception):
    """The upload cannot be accepted; ``message`` tells the parent why, in their language."""

    def __init__(self, message: Message):
        self.message = message
        super().__init__(str(message))


@dataclass(frozen=True)
class SanitizedImage:
    """The re-encoded photo and what we record about it."""

    data: bytes
    thumbnail: bytes
    width: int
    height: int
    sha256: str
    content_type: str = "image/jpeg"


def _encode(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def sanitize_image(data: bytes, *, long_edge: int = LONG_EDGE, max_pixels: int = MAX_PIXELS) -> SanitizedImage:
    """Open ``data`` as a photo under strict limits and return a clean JPEG and thumbnail."""
    if not data:
        raise IntakeError(Message(N_("文件是空的，请重新拍照上传")))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            if image.width * image.height > max_pixels:
                raise IntakeError(Message(N_("图片尺寸过大，请用手机相机直接拍照上传")))
            if image.format == "JPEG":
                image.draft("RGB", (long_edge, long_edge))  # DCT scaling: never decode more than we keep
            image.load()
            image = ImageOps.exif_transpose(image)
        except IntakeError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise IntakeError(Message(N_("图片尺寸过大，请用手机相机直接拍照上传"))) from None
        except UnidentifiedImageError:
            raise IntakeError(Message(N_("无法识别的文件，请上传照片（JPG、PNG 或 WebP 格式）"))) from None
        except (OSError, SyntaxError, ValueError):
            raise IntakeError(Message(N_("图片文件已损坏或不完整，请重新拍照上传"))) from None
    if image.mode in ("RGBA", "LA", "P", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        image = background
    elif image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((long_edge, long_edge), Image.Resampling.LANCZOS)
    clean = Image.new("RGB", image.size)  # a fresh image carries no metadata at all
    clean.paste(image)
    encoded = _encode(clean)
    thumb = clean.copy()
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE), Image.Resampling.LANCZOS)
    return SanitizedImage(
        data=encoded,
        thumbnail=_encode(thumb),
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(encoded).hexdigest(),
    )
