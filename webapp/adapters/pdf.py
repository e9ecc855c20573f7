"""The printed 学籍信息确认表 as an A4 PDF, one page per student, drawn with ReportLab from the field schema.

Text is set in a TrueType CJK font whose used glyphs are embedded (a subset), so the PDF reads the same in every
viewer — ReportLab's built-in CID fonts are not embedded and show empty boxes on many phones. The QR code is drawn
as vector modules, so it stays sharp at any print resolution. Pages are written to a file one by one.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import segno
from flask_babel import gettext as _
from reportlab.lib.colors import Color, black, white
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from confirm.fields import MEMBER_FIELDS, MEMBER_SLOTS, SECTIONS, Field, fields_in_section
from confirm.presentation import readable
from confirm.services.sheet_printing import PrintedSheet

# TrueType fonts with CJK glyphs (glyf outlines; an .otf with CFF outlines does not work with ReportLab's TTFont).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian/Ubuntu: fonts-wqy-zenhei (scripts/system-deps.sh)
    "/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc",  # Fedora
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei
)
FONT_NAME = "SheetCJK"

GREY = Color(0.45, 0.45, 0.45)
LIGHT = Color(0.93, 0.93, 0.93)
SHADE = Color(0.85, 0.85, 0.85)
PAGE_W, PAGE_H = A4
MARGIN = 28
QR_SIZE = 74  # 26 mm: a version-2 code then has modules of ~0.9 mm, large enough in a phone photo
FONT = 7.5
LINE = 9  # the leading of table text
ROW = 14  # the height of a one-line table row


class SheetFontMissing(RuntimeError):
    """No CJK TrueType font was found to set the sheets in."""


def font_path(configured: str | None = None) -> str:
    """The CJK font file to use: ``configured`` (SHEET_FONT) or the first installed candidate."""
    for path in (configured,) if configured else FONT_CANDIDATES:
        if path and os.path.isfile(path):
            return path
    raise SheetFontMissing(configured or ", ".join(FONT_CANDIDATES))


@functools.cache
def _register(path: str) -> str:
    # A .ttc holds several faces; the first is the regular one.
    options = {"subfontIndex": 0} if path.endswith(".ttc") else {}
    pdfmetrics.registerFont(TTFont(FONT_NAME, path, **options))
    return FONT_NAME


@dataclass(frozen=True)
class SheetContext:
    """What every page of one PDF shares."""

    school_name: str
    campaign_name: str
    register_url: str = ""  # printed with the registration code on invitation sheets


def _wrap(text: str, width: float, size: float, font: str) -> list[str]:
    """Lines of ``text`` that fit ``width`` (CJK text breaks between any two characters)."""
    lines, current = [], ""
    for char in text:
        if pdfmetrics.stringWidth(current + char, font, size) > width and current:
            lines.append(current)
            current = char.lstrip() if char == " " else char
        else:
            current += char
    return [*lines, current] if current or not lines else lines


class _Page:
    """One sheet being drawn: a thin layer over the canvas with the font and the table helpers."""

    def __init__(self, canvas: Canvas, font: str):
        self.c = canvas
        self.font = font

    def text(self, x: float, y: float, text: str, size: float = FONT, colour=black, align: str = "left") -> None:
        self.c.setFillColor(colour)
        self.c.setFont(self.font, size)
        if align == "center":
            self.c.drawCentredString(x, y, text)
        elif align == "right":
            self.c.drawRightString(x, y, text)
        else:
            self.c.drawString(x, y, text)

    def lines(self, x: float, top: float, text: str, width: float, size: float = FONT, colour=black) -> None:
        for n, line in enumerate(_wrap(text, width, size, self.font)):
            self.text(x, top - 3 - size - n * LINE, line, size, colour)

    def row_height(self, cells: list[tuple[str, float]]) -> float:
        """The height a row needs so that every cell's text fits its width."""
        most = max(len(_wrap(text, width - 4, FONT, self.font)) for text, width in cells)
        return ROW + (most - 1) * LINE

    def row(self, x: float, top: float, cells: list[tuple[str, float]], *, fills=(), colours=()) -> float:
        """Draw one bordered table row of (text, width) cells; returns its height."""
        height = self.row_height(cells)
        left = x
        for n, (text, width) in enumerate(cells):
            fill = fills[n] if n < len(fills) else None
            self.c.setStrokeColor(GREY)
            self.c.setLineWidth(0.4)
            if fill is not None:
                self.c.setFillColor(fill)
            self.c.rect(left, top - height, width, height, stroke=1, fill=1 if fill is not None else 0)
            colour = colours[n] if n < len(colours) else black
            self.lines(left + 2, top, text, width - 4, colour=colour)
            left += width
        return height

    def qr(self, x: float, y: float, payload: str, size: float) -> None:
        """The QR code of ``payload`` with its quiet zone, lower-left corner at (x, y), ``size`` points square."""
        code = segno.make(payload, error="q", micro=False)
        border = 4
        modules = code.symbol_size(scale=1, border=border)[0]
        unit = size / modules
        self.c.setFillColor(white)
        self.c.rect(x, y, size, size, stroke=0, fill=1)
        self.c.setFillColor(black)
        for r, row in enumerate(code.matrix):
            c = 0
            while c < len(row):
                if not row[c]:
                    c += 1
                    continue
                start = c
                while c < len(row) and row[c]:
                    c += 1
                # one rectangle per dark run, slightly overlapping the next row so no hairline gaps show
                self.c.rect(x + (start + border) * unit, y + size - (r + border + 1) * unit,
                            (c - start) * unit, unit * 1.02, stroke=0, fill=1)


def _student_column(page: _Page, x: float, top: float, width: float, sections, student) -> None:
    label_w, value_w = width * 0.28, width * 0.40
    widths = (label_w, value_w, width - label_w - value_w)
    for section in sections:
        top -= page.row(x, top, [(_(section.label_zh), width)], fills=(LIGHT,))
        for f in fields_in_section(section.key):
            top -= _field_row(page, x, top, widths, f, readable(f, student.value(f.key)))


def _field_row(page: _Page, x: float, top: float, widths, f: Field, current: str) -> float:
    if f.parent_editable:
        cells = [(f.label_zh, widths[0]), (current, widths[1]), ("", widths[2])]
        return page.row(x, top, cells)
    cells = [(f.label_zh, widths[0]), (current, widths[1]), (_("学校维护"), widths[2])]
    return page.row(x, top, cells, fills=(None, None, LIGHT), colours=(GREY, GREY, GREY))


def _header(page: _Page, sheet: PrintedSheet, ctx: SheetContext) -> float:
    """Title, school and class, the student, the code and instructions; returns where the table starts."""
    student = sheet.student
    top = PAGE_H - MARGIN
    qr_x = PAGE_W - MARGIN - QR_SIZE
    page.qr(qr_x, top - QR_SIZE, sheet.payload, QR_SIZE)
    page.text(qr_x + QR_SIZE / 2, top - QR_SIZE - 6, sheet.payload, 5, GREY, align="center")
    text_w = qr_x - MARGIN - 8
    page.text(MARGIN, top - 16, _("学籍信息确认表"), 16)
    page.text(MARGIN + 140, top - 16, ctx.campaign_name, 8, GREY)
    page.text(MARGIN, top - 31, _("学校：%(school)s　　班级：%(cls)s", school=ctx.school_name,
                                  cls=student.school_class.title), 9)
    page.text(MARGIN, top - 45, _("学生：%(name)s　　拍照上传号：%(no)s", name=student.name, no=student.upload_no), 10)
    y = top - 59
    if sheet.code:
        page.text(MARGIN, y, _("家长注册码：%(code)s　　注册网址：%(url)s", code=sheet.code, url=ctx.register_url), 10)
        y -= 12
        page.text(MARGIN, y, _("注册码只对本表有效；重新打印邀请表后，旧的注册码作废。请勿把注册码告诉他人。"), 7, GREY)
        y -= 4
    elif sheet.is_registered:
        page.text(MARGIN, y, _("家长已在平台注册，请直接登录核对。"), 8, GREY)
        y -= 4
    instructions = (
        _("1. 请逐项核对“系统现有信息”。有错误的项目，请在“更正后信息”一栏用黑色签字笔工整填写正确内容；"
          "正确的项目不填。"),
        _("2. 灰色项目由学校维护，家长无需填写；有疑问请联系班主任。"),
        _("3. 核对后由监护人签字、写上日期，再登录平台把整张表拍照上传（右上角二维码要完整、清晰）。"),
    )
    y -= 4
    for line in instructions:
        for part in _wrap(line, text_w, 7, page.font):
            y -= 9
            page.text(MARGIN, y, part, 7)
    return min(y - 6, top - QR_SIZE - 12)


def _draw_sheet(page: _Page, sheet: PrintedSheet, ctx: SheetContext) -> None:
    student = sheet.student
    top = _header(page, sheet, ctx)
    full = PAGE_W - 2 * MARGIN
    gap = 8
    half = (full - gap) / 2
    heading = [(_("信息项"), half * 0.28), (_("系统现有信息"), half * 0.40), (_("更正后信息"), half * 0.32)]
    page.row(MARGIN, top, heading, fills=(SHADE,) * 3)
    step = page.row(MARGIN + half + gap, top, heading, fills=(SHADE,) * 3)
    top -= step
    # The student's six sections in two side-by-side columns, as the paper form has them.
    left, right = SECTIONS[:3], SECTIONS[3:]
    left_h = sum(_section_height(page, half, s, student) for s in left)
    right_h = sum(_section_height(page, half, s, student) for s in right)
    _student_column(page, MARGIN, top, half, left, student)
    _student_column(page, MARGIN + half + gap, top, half, right, student)
    top -= max(left_h, right_h) + 8
    # Family members: both slots side by side.
    label_w = full * 0.16
    cell = (full - label_w) / 4
    top -= page.row(MARGIN, top, [(_("家庭成员或监护人信息"), full)], fills=(LIGHT,))
    heads = [(_("信息项"), label_w)]
    for slot in MEMBER_SLOTS:
        heads += [(_("成员%(n)s 系统现有信息", n=slot), cell), (_("成员%(n)s 更正后信息", n=slot), cell)]
    top -= page.row(MARGIN, top, heads, fills=(SHADE,) * 5)
    for f in MEMBER_FIELDS:
        cells = [(f.label_zh, label_w)]
        for slot in MEMBER_SLOTS:
            member = student.member(slot)
            cells += [(readable(f, member.value(f.key)) if member else "", cell), ("", cell)]
        top -= page.row(MARGIN, top, cells)
    # Signature and date.
    top -= 22
    signature = _("监护人签字：____________________　与学生关系：__________　日期：________年____月____日")
    page.text(MARGIN, top, signature, 10)
    page.text(PAGE_W / 2, MARGIN - 12,
              _("学籍信息核查确认平台 · 拍照上传号 %(no)s · 请勿涂改右上角二维码", no=student.upload_no), 6, GREY,
              align="center")


def _section_height(page: _Page, width: float, section, student) -> float:
    label_w, value_w = width * 0.28, width * 0.40
    total = page.row_height([(section.label_zh, width)])
    for f in fields_in_section(section.key):
        total += page.row_height([(f.label_zh, label_w), (readable(f, student.value(f.key)), value_w)])
    return total


def render_sheets(sheets: Iterable[PrintedSheet], out: BinaryIO, ctx: SheetContext, *, font_file: str) -> int:
    """Write one A4 page per sheet to ``out`` as a PDF; returns the number of pages."""
    font = _register(font_file)
    canvas = Canvas(out, pagesize=A4, pageCompression=1, initialFontName=font, initialFontSize=FONT)
    canvas.setTitle(_("学籍信息确认表"))
    canvas.setCreator("xueji-confirm")
    pages = 0
    for sheet in sheets:
        _draw_sheet(_Page(canvas, font), sheet, ctx)
        canvas.showPage()
        pages += 1
    canvas.save()
    return pages
