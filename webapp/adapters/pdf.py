"""The printed 学籍信息确认表 as an A4 PDF, drawn with ReportLab from the field schema: one page per student, or
more when long values need them (``webapp.adapters.sheet_layout`` decides where everything goes).

Text is set in a TrueType CJK font whose used glyphs are embedded (a subset), so the PDF reads the same in every
viewer — ReportLab's built-in CID fonts are not embedded and show empty boxes on many phones. The QR code is drawn
as vector modules, so it stays sharp at any print resolution. Pages are written to a file one by one.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from typing import BinaryIO

import segno
from flask_babel import gettext as _
from reportlab.lib.colors import black, white
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from confirm.services.sheet_printing import PrintedSheet
from webapp.adapters.sheet_blocks import Qr, Rect, Text
from webapp.adapters.sheet_layout import GREY, SheetContext, SheetPage, layout_sheet

__all__ = ["FONT_CANDIDATES", "SheetContext", "SheetFontMissing", "font_path", "register_font", "render_sheets"]

# TrueType fonts with CJK glyphs (glyf outlines; an .otf with CFF outlines does not work with ReportLab's TTFont).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian/Ubuntu: fonts-wqy-zenhei (scripts/system-deps.sh)
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",  # Fedora
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
)
FONT_NAME = "SheetCJK"


class SheetFontMissing(RuntimeError):
    """No CJK TrueType font was found to set the sheets in."""


def font_path(configured: str | None = None) -> str:
    """The CJK font file to use: ``configured`` (SHEET_FONT) or the first installed candidate."""
    for path in (configured,) if configured else FONT_CANDIDATES:
        if path and os.path.isfile(path):
            return path
    raise SheetFontMissing(configured or ", ".join(FONT_CANDIDATES))


@functools.cache
def register_font(path: str) -> str:
    """The ReportLab name of the font in ``path``, registered once (what ``layout_sheet`` measures with)."""
    # A .ttc holds several faces; the first is the regular one.
    options = {"subfontIndex": 0} if path.endswith(".ttc") else {}
    pdfmetrics.registerFont(TTFont(FONT_NAME, path, **options))
    return FONT_NAME


def _qr(c: Canvas, qr: Qr) -> None:
    """The QR code of ``qr.payload`` with its quiet zone, as vector modules."""
    code = segno.make(qr.payload, error="q", micro=False)
    border = 4
    modules = code.symbol_size(scale=1, border=border)[0]
    unit = qr.size / modules
    c.setFillColor(white)
    c.rect(qr.x, qr.y, qr.size, qr.size, stroke=0, fill=1)
    c.setFillColor(black)
    for r, row in enumerate(code.matrix):
        col = 0
        while col < len(row):
            if not row[col]:
                col += 1
                continue
            start = col
            while col < len(row) and row[col]:
                col += 1
            # one rectangle per dark run, slightly overlapping the next row so no hairline gaps show
            c.rect(qr.x + (start + border) * unit, qr.y + qr.size - (r + border + 1) * unit,
                   (col - start) * unit, unit * 1.02, stroke=0, fill=1)


def _draw(c: Canvas, page: SheetPage, font: str) -> None:
    """Everything the layout placed on one page."""
    c.setStrokeColor(GREY)
    c.setLineWidth(0.4)
    for block in page.blocks:
        for item in block.items:
            if isinstance(item, Text):
                c.setFillColor(item.colour)
                c.setFont(font, item.size)
                c.drawString(item.x, item.y, item.text)
            elif isinstance(item, Rect):
                if item.fill is not None:
                    c.setFillColor(item.fill)
                c.rect(item.x, item.y, item.w, item.h, stroke=1, fill=1 if item.fill is not None else 0)
            else:
                _qr(c, item)


def render_sheets(sheets: Iterable[PrintedSheet], out: BinaryIO, ctx: SheetContext, *, font_file: str) -> int:
    """Write each sheet (one A4 page, or more when its values are long) to ``out`` as a PDF; returns the number of
    pages drawn."""
    font = register_font(font_file)
    canvas = Canvas(out, pagesize=A4, pageCompression=1, initialFontName=font, initialFontSize=7.5)
    canvas.setTitle(_("学籍信息确认表"))
    canvas.setCreator("xueji-confirm")
    pages = 0
    for sheet in sheets:
        for page in layout_sheet(sheet, ctx, font):
            _draw(canvas, page, font)
            canvas.showPage()
            pages += 1
    canvas.save()
    return pages
