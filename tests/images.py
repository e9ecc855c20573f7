"""Generated photos for tests: a printed sheet on a table, good enough to pass the quality gate."""

from __future__ import annotations

import functools
import io
import random

from PIL import Image, ImageDraw


def sheet_image(size=(1600, 1200), background=(120, 104, 88), seed: int = 0) -> Image.Image:
    """A white page with lines of dark 'text' on a coloured table, filling most of the frame."""
    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = width // 12, height // 14, width - width // 12, height - height // 14
    draw.rectangle([left, top, right, bottom], fill=(246, 246, 240))
    line = max(10, (bottom - top) // 40)
    for y in range(top + 2 * line, bottom - 2 * line, line):
        x = left + line
        while x < right - 4 * line:
            word = rng.randint(line, 5 * line)
            draw.rectangle([x, y, min(x + word, right - line), y + line // 2], fill=(35, 35, 40))
            x += word + line // 2
    return image


@functools.lru_cache(maxsize=128)
def sheet_jpeg(size=(1600, 1200), background=(120, 104, 88), seed: int = 0, quality: int = 85) -> bytes:
    """``sheet_image`` as JPEG bytes (made once per run for each set of arguments: bytes cannot be changed)."""
    out = io.BytesIO()
    sheet_image(size, background, seed).save(out, "JPEG", quality=quality)
    return out.getvalue()
