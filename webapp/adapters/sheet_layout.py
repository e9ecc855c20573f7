"""Where everything on a printed 学籍信息确认表 goes, measured before anything is drawn.

A sheet is laid out as placed blocks (header lines, the QR code, table rows, the signature, the footer), each with its
box and what is drawn inside it. Every text is measured with the embedded font's own metrics and wrapped to its cell,
so heights are known before a page is filled. When a sheet does not fit one A4 page, the table text shrinks in steps
down to a floor size; when it still does not fit, the tables continue on further pages with the header repeated and
"第 n 页 / 共 N 页". The signature block is never split and is always printed, right after the family table.
``webapp.adapters.pdf`` draws the blocks; tests check the boxes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask_babel import gettext as _
from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics

from confirm.fields import MEMBER_FIELDS, MEMBER_SECTION, MEMBER_SLOTS, SECTIONS, Field, fields_in_section
from confirm.presentation import readable
from confirm.services.sheet_printing import PrintedSheet

GREY = Color(0.45, 0.45, 0.45)
LIGHT = Color(0.93, 0.93, 0.93)
SHADE = Color(0.85, 0.85, 0.85)
PAGE_W, PAGE_H = A4
MARGIN = 28  # nothing is drawn closer to the paper's edge than this (10 mm; inside every printer's reach)
LEFT, RIGHT, BOTTOM, TOP = MARGIN, PAGE_W - MARGIN, MARGIN, PAGE_H - MARGIN
QR_SIZE = 74  # 26 mm: a version-2 code then has modules of ~0.9 mm, large enough in a phone photo
TABLE_SIZES = (7.5, 7.0, 6.5, 6.0)  # the tables' font sizes, largest first; the last is the floor
COLUMN_GAP = 8  # between the two columns of the student table
BLOCK_GAP = 6  # between the student table, the family table and the signature
# Chinese line-breaking: these never start a line (the character before them moves down with them).
NO_LINE_START = frozenset("，。、；：？！）》」』】〕…％,.;:?!)]}%")

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in PDF points, y upwards


@dataclass(frozen=True)
class Text:
    """One line of text; ``x`` is its left edge and ``y`` its baseline."""

    x: float
    y: float
    text: str
    size: float
    width: float
    ascent: float  # above the baseline, in points
    descent: float  # below the baseline, in points (positive)
    colour: Color = black

    @property
    def box(self) -> Box:
        """Where the glyphs go: the font's ascent to descent, the measured advance wide."""
        return (self.x, self.y - self.descent, self.x + self.width, self.y + self.ascent)


@dataclass(frozen=True)
class Rect:
    """A table cell: an outline, optionally filled."""

    x: float
    y: float
    w: float
    h: float
    fill: Color | None = None

    @property
    def box(self) -> Box:
        """The rectangle itself."""
        return (self.x, self.y, self.x + self.w, self.y + self.h)


@dataclass(frozen=True)
class Qr:
    """The sheet's QR code (with its quiet zone), lower-left corner at (x, y)."""

    x: float
    y: float
    size: float
    payload: str

    @property
    def box(self) -> Box:
        """The square of the code and its quiet zone."""
        return (self.x, self.y, self.x + self.size, self.y + self.size)


Item = Text | Rect | Qr


@dataclass(frozen=True)
class SheetContext:
    """What every page of one PDF shares."""

    school_name: str
    campaign_name: str
    register_url: str = ""  # printed with the registration code on invitation sheets


@dataclass
class Block:
    """A placed part of a page: ``box`` holds everything in ``items``; no two blocks of a page overlap."""

    name: str
    box: Box
    items: list[Item]


@dataclass
class SheetPage:
    """One page of one student's sheet, as laid out."""

    number: int
    count: int
    table_size: float
    blocks: list[Block] = field(default_factory=list)


def _is_latin(char: str) -> bool:
    """True for the letters and digits that make up English words (which break only at spaces)."""
    return char.isascii() and char.isalnum()


class Measure:
    """Text widths and wrapping in one font, from the font's own metrics."""

    def __init__(self, font: str):
        self.font = font
        ascent, descent = pdfmetrics.getAscentDescent(font, 1000)
        self.ascent, self.descent = ascent / 1000, -descent / 1000
        self._widths: dict[str, float] = {}

    def _char(self, char: str) -> float:
        width = self._widths.get(char)
        if width is None:
            width = self._widths[char] = pdfmetrics.stringWidth(char, self.font, 1000) / 1000
        return width

    def width(self, text: str, size: float) -> float:
        """The advance width of ``text`` at ``size`` points."""
        return sum(self._char(c) for c in text) * size

    def wrap(self, text: str, width: float, size: float) -> list[str]:
        """Lines of ``text`` no wider than ``width`` (CJK text breaks between any two characters)."""
        lines: list[str] = []
        for paragraph in " ".join(text.split("\t")).splitlines() or [""]:
            lines.extend(self._wrap_paragraph(paragraph, width / size))
        return lines

    def _wrap_paragraph(self, text: str, ems: float) -> list[str]:
        lines, current, used = [], [], 0.0
        for char in text:
            w = self._char(char)
            if current and used + w > ems:
                carried = []
                if _is_latin(char) and _is_latin(current[-1]) and " " in current[1:]:  # a Latin word moves whole
                    cut = len(current) - current[::-1].index(" ")
                    carried, current = current[cut:], current[:cut]
                elif char in NO_LINE_START and len(current) > 1:  # take the character before it along
                    carried = [current.pop()]
                lines.append("".join(current).rstrip())
                current = list(carried)
                used = sum(self._char(c) for c in current)
                if char == " " and not current:
                    continue
            current.append(char)
            used += w
        lines.append("".join(current))
        return lines

    def line(self, x: float, top: float, text: str, size: float, height: float, colour: Color = black,
             align: str = "left", right: float | None = None) -> Text:
        """``text`` set in a line box of ``height`` whose top is ``top``: the glyphs centred in it."""
        width = self.width(text, size)
        if align == "center":
            x = x - width / 2
        elif align == "right":
            x = (right if right is not None else x) - width
        baseline = top - (height - (self.ascent + self.descent) * size) / 2 - self.ascent * size
        return Text(x, baseline, text, size, width, self.ascent * size, self.descent * size, colour)


def _lines_block(m: Measure, name: str, x: float, top: float, lines: list[str], size: float, *,
                 leading: float | None = None, colour: Color = black, align: str = "left",
                 width: float = 0.0) -> Block:
    """A block of text lines from ``top`` downwards; with ``align="center"`` ``x`` is the centre."""
    leading = leading or size * 1.25
    items = [m.line(x, top - n * leading, text, size, leading, colour, align) for n, text in enumerate(lines)]
    x0 = min((t.x for t in items), default=x)
    x1 = max((t.x + t.width for t in items), default=x)
    if align == "left" and width:
        x1 = max(x1, x + width)
    return Block(name, (x0, top - leading * len(lines), x1, top), items)


def _parts(m: Measure, parts: list[str], width: float, size: float) -> list[str]:
    """``parts`` on as few lines as fit ``width``, two ideographic spaces apart; a part breaks only if it must."""
    lines: list[str] = []
    for part in parts:
        if lines and m.width(lines[-1] + "　　" + part, size) <= width:
            lines[-1] += "　　" + part
        else:
            lines.extend(m.wrap(part, width, size))
    return lines


# --- table rows ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A table cell's text and look."""

    text: str
    width: float
    fill: Color | None = None
    colour: Color = black


class Row:
    """A table row at one text size: the cells' wrapped lines, hence its height."""

    def __init__(self, m: Measure, name: str, cells: list[Cell], size: float, section: str = "",
                 lines: list[list[str]] | None = None):
        self.m, self.name, self.cells, self.size, self.section = m, name, cells, size, section
        self.leading = size * 1.2
        self.pad = size * 0.3
        self.lines = lines if lines is not None else [m.wrap(c.text, c.width - 4, size) for c in cells]
        self.height = 2 * self.pad + self.leading * max(len(lines) for lines in self.lines)

    def split(self, height: float) -> tuple[Row, Row]:
        """This row cut in two so that the first part is at most ``height`` high (a row taller than a page)."""
        keep = max(1, int((height - 2 * self.pad) // self.leading))
        head, tail = [ls[:keep] or [""] for ls in self.lines], [ls[keep:] or [""] for ls in self.lines]
        return (Row(self.m, self.name, self.cells, self.size, self.section, head),
                Row(self.m, self.name, self.cells, self.size, self.section, tail))

    def place(self, x: float, top: float) -> Block:
        """The row's block with its left edge at ``x`` and its top at ``top``."""
        items: list[Item] = []
        left = x
        for cell, lines in zip(self.cells, self.lines, strict=True):
            items.append(Rect(left, top - self.height, cell.width, self.height, cell.fill))
            for n, text in enumerate(lines):
                if text:
                    items.append(self.m.line(left + 2, top - self.pad - n * self.leading, text, self.size,
                                             self.leading, cell.colour))
            left += cell.width
        return Block(self.name, (x, top - self.height, left, top), items)


def _student_rows(m: Measure, sheet: PrintedSheet, sections, width: float, size: float) -> list[Row]:
    label_w, value_w = width * 0.28, width * 0.40
    rows = []
    for section in sections:
        rows.append(Row(m, f"section.{section.key}", [Cell(_(section.label_zh), width, LIGHT)], size, section.key))
        for f in fields_in_section(section.key):
            value = readable(f, sheet.student.value(f.key))
            if f.parent_editable:
                cells = [Cell(f.label_zh, label_w), Cell(value, value_w), Cell("", width - label_w - value_w)]
            else:
                cells = [Cell(f.label_zh, label_w, colour=GREY), Cell(value, value_w, colour=GREY),
                         Cell(_("学校维护"), width - label_w - value_w, LIGHT, GREY)]
            rows.append(Row(m, f"field.{f.key}", cells, size, section.key))
    return rows


def _student_heading(m: Measure, width: float, size: float) -> Row:
    cells = [Cell(_("信息项"), width * 0.28, SHADE), Cell(_("系统现有信息"), width * 0.40, SHADE),
             Cell(_("更正后信息"), width * 0.32, SHADE)]
    return Row(m, "student.heading", cells, size)


def _continued(m: Measure, name: str, label: str, width: float, size: float) -> Row:
    return Row(m, name, [Cell(_("%(section)s（续）", section=label), width, LIGHT)], size)


def _member_columns() -> tuple[float, float]:
    full = RIGHT - LEFT
    label_w = full * 0.16
    return label_w, (full - label_w) / 4


def _member_heading(m: Measure, size: float) -> Row:
    label_w, cell = _member_columns()
    cells = [Cell(_("信息项"), label_w, SHADE)]
    for slot in MEMBER_SLOTS:
        cells += [Cell(_("成员%(n)s 系统现有信息", n=slot), cell, SHADE),
                  Cell(_("成员%(n)s 更正后信息", n=slot), cell, SHADE)]
    return Row(m, "members.heading", cells, size)


def _member_row(m: Measure, sheet: PrintedSheet, f: Field, size: float) -> Row:
    label_w, cell = _member_columns()
    cells = [Cell(f.label_zh, label_w)]
    for slot in MEMBER_SLOTS:
        member = sheet.student.member(slot)
        cells += [Cell(readable(f, member.value(f.key)) if member else "", cell), Cell("", cell)]
    return Row(m, f"member.{f.key}", cells, size)


# --- pages ---------------------------------------------------------------------------------------------------


class _Pages:
    """The pages of one sheet being filled from the top down."""

    def __init__(self, m: Measure, sheet: PrintedSheet, ctx, size: float):
        self.m, self.sheet, self.ctx, self.size = m, sheet, ctx, size
        self.pages: list[SheetPage] = []
        self.footer = self._footer()
        self.limit = self.footer.box[3] + 4  # the body ends above the footer
        self.top = TOP
        self.new_page()

    @property
    def blocks(self) -> list[Block]:
        return self.pages[-1].blocks

    @property
    def is_fresh(self) -> bool:
        """True when nothing of the body is on the current page yet."""
        return self.top == self.body_top

    def new_page(self) -> None:
        self.pages.append(SheetPage(len(self.pages) + 1, 0, self.size))
        self.blocks.extend(_header(self.m, self.sheet, self.ctx, first=len(self.pages) == 1))
        self.blocks.append(self.footer)
        self.top = self.body_top = min(b.box[1] for b in self.blocks if b is not self.footer) - 4

    def room(self) -> float:
        return self.top - self.limit

    def add(self, block: Block, below: float = 0.0) -> None:
        self.blocks.append(block)
        self.top = block.box[1] - below

    def _footer(self) -> Block:
        text = _("学籍信息核查确认平台 · 拍照上传号 %(no)s · 请勿涂改右上角二维码", no=self.sheet.student.upload_no)
        lines = self.m.wrap(text, RIGHT - LEFT, 6)
        top = BOTTOM + 7.5 * len(lines)
        return _lines_block(self.m, "footer", PAGE_W / 2, top, lines, 6, leading=7.5, colour=GREY, align="center")


def _header(m: Measure, sheet: PrintedSheet, ctx, *, first: bool) -> list[Block]:
    """Title, school and class, the student and the QR code; on the first page also the code and instructions."""
    student = sheet.student
    qr_x = RIGHT - QR_SIZE
    text_w = qr_x - LEFT - 8
    blocks = [Block("qr", (qr_x, TOP - QR_SIZE, RIGHT, TOP), [Qr(qr_x, TOP - QR_SIZE, QR_SIZE, sheet.payload)])]
    caption = 5 if m.width(sheet.payload, 5) <= QR_SIZE else 5 * QR_SIZE / m.width(sheet.payload, 5)
    blocks.append(_lines_block(m, "qr.caption", qr_x + QR_SIZE / 2, TOP - QR_SIZE - 1, [sheet.payload], caption,
                               leading=7, colour=GREY, align="center"))
    # The page label ("第 1 页 / 共 2 页") goes under the caption; its room is kept on every page (see _label).
    blocks.append(Block("page.label.room", (qr_x, TOP - QR_SIZE - 20, RIGHT, TOP - QR_SIZE - 8), []))
    title = _lines_block(m, "title", LEFT, TOP, [_("学籍信息确认表")], 16, leading=18)
    blocks.append(title)
    y = title.box[1]
    campaign = ctx.campaign_name
    title_w = title.box[2] - LEFT
    if campaign and title_w + 12 + m.width(campaign, 8) <= text_w:
        # on the title's baseline: a 10-point line box starting 6.4 points down centres 8-point text there
        line = m.line(LEFT + title_w + 12, TOP - 6.4, campaign, 8, 10, GREY)
        blocks.append(Block("campaign", (line.x, TOP - 16.4, line.x + line.width, TOP - 6.4), [line]))
    elif campaign:
        blocks.append(_lines_block(m, "campaign", LEFT, y, m.wrap(campaign, text_w, 8), 8, leading=10, colour=GREY))
        y = blocks[-1].box[1]
    rows: list[tuple[str, list[str], float, Color]] = [
        ("school", [_("学校：%(school)s", school=ctx.school_name),
                    _("班级：%(cls)s", cls=student.school_class.title)], 9, black),
        ("student", [_("学生：%(name)s", name=student.name), _("拍照上传号：%(no)s", no=student.upload_no)], 10, black),
    ]
    if first and sheet.code:
        code = [_("家长注册码：%(code)s", code=sheet.code), _("注册网址：%(url)s", url=ctx.register_url)]
        note = [_("注册码只对本表有效；重新打印邀请表后，旧的注册码作废。请勿把注册码告诉他人。")]
        rows += [("code", code, 10, black), ("code.note", note, 7, GREY)]
    elif first and sheet.is_registered:
        rows.append(("registered", [_("家长已在平台注册，请直接登录核对。")], 8, GREY))
    for name, parts, size, colour in rows:
        lines = _parts(m, parts, text_w, size)
        blocks.append(_lines_block(m, name, LEFT, y - 1, lines, size, leading=size * 1.3, colour=colour))
        y = blocks[-1].box[1]
    if first:
        instructions = [
            _("1. 请逐项核对“系统现有信息”。有错误的项目，请在“更正后信息”一栏用黑色签字笔工整填写正确内容；"
              "正确的项目不填。"),
            _("2. 灰色项目由学校维护，家长无需填写；有疑问请联系班主任。"),
            _("3. 核对后由监护人签字、写上日期，再登录平台把整张表拍照上传（右上角二维码要完整、清晰）。"),
        ]
        lines = [part for line in instructions for part in m.wrap(line, text_w, 7)]
        blocks.append(_lines_block(m, "instructions", LEFT, y - 4, lines, 7, leading=9))
    return blocks


def _label(m: Measure, page: SheetPage) -> None:
    """Write "第 n 页 / 共 N 页" into the room the header kept for it, when the sheet has more than one page."""
    page.blocks = [b for b in page.blocks if b.name != "page.label.room"]
    if page.count > 1:
        text = _("第 %(page)s 页 / 共 %(pages)s 页", page=page.number, pages=page.count)
        size = min(8.0, 8.0 * QR_SIZE / m.width(text, 8.0))
        page.blocks.append(_lines_block(m, "page.label", RIGHT - QR_SIZE / 2, TOP - QR_SIZE - 8, [text], size,
                                        leading=12, align="center"))


def _flow_columns(p: _Pages, columns: list[list[Row]], xs: list[float], heading: Callable[[], Row],
                  width: float) -> None:
    """The student table: two columns side by side, each breaking where it must, continued on the next page."""
    labels = {s.key: _(s.label_zh) for s in SECTIONS}
    started = False
    while any(columns):
        if started:
            p.new_page()
        top, bottoms = p.top, []
        for x, rows in zip(xs, columns, strict=True):
            if not rows:
                continue
            y = top
            head = heading()
            placed = [head.place(x, y)]
            y -= head.height
            if started and not rows[0].name.startswith("section."):
                cont = _continued(p.m, f"section.{rows[0].section}.continued", labels[rows[0].section], width,
                                  p.size)
                placed.append(cont.place(x, y))
                y -= cont.height
            count = 0
            while rows:
                row = rows[0]
                need = row.height + (rows[1].height if row.name.startswith("section.") and len(rows) > 1 else 0)
                if y - need < p.limit and count:
                    break  # continued on the next page
                if y - row.height < p.limit:  # the first row of a page and taller than the page: cut it
                    row, rows[0] = row.split(y - p.limit)
                else:
                    rows.pop(0)
                placed.append(row.place(x, y))
                y -= row.height
                count += 1
            p.blocks.extend(placed)
            bottoms.append(y)
        p.top = min(bottoms) - BLOCK_GAP
        started = True


def _flow_rows(p: _Pages, rows: list[Row], continued: Callable[[], list[Row]], signature: Block) -> None:
    """The family table, then the signature: rows break between pages with the table's headings repeated; the
    headings keep with the first member row, and the last row keeps with the signature."""
    chain_end = signature.box[3] - signature.box[1] + BLOCK_GAP
    heads = 2  # rows[0] and rows[1] are the headings
    fresh = p.is_fresh  # no member row on this page yet
    i = 0
    while i < len(rows):
        row = rows[i]
        if i < heads:
            need = sum(r.height for r in rows[i: heads + 1])
        else:
            need = row.height + (chain_end if i == len(rows) - 1 else 0)
        if need > p.room() and not fresh:
            p.new_page()
            fresh = True
            if i >= heads:
                for head in continued():
                    p.add(head.place(LEFT, p.top))
            continue
        if i >= heads:
            fresh = False
        if row.height > p.room():  # the first row of a page and taller than the page: cut it
            row, rows[i] = row.split(p.room())
        else:
            i += 1
        p.add(row.place(LEFT, p.top))
    if chain_end > p.room():  # only on a page too short for the last row and the signature together
        p.new_page()
    height = signature.box[3] - signature.box[1]
    top = p.top - BLOCK_GAP
    p.add(Block("signature", (signature.box[0], top - height, signature.box[2], top),
                [_shift(item, top - signature.box[3]) for item in signature.items]))


def _shift(item: Item, dy: float) -> Item:
    if isinstance(item, Text):
        return Text(item.x, item.y + dy, item.text, item.size, item.width, item.ascent, item.descent, item.colour)
    raise TypeError(item)


def _signature(m: Measure) -> Block:
    """The guardian's signature, relation and date, with room above the line to write in (placed at top 0)."""
    text = _("监护人签字：____________________　与学生关系：__________　日期：________年____月____日")
    size = 10.0
    while size > 8 and m.width(text, size) > RIGHT - LEFT:  # one line if it can (a longer translation)
        size -= 0.5
    lines = m.wrap(text, RIGHT - LEFT, size)
    block = _lines_block(m, "signature", LEFT, -8, lines, size, leading=14)
    return Block("signature", (LEFT, block.box[1], RIGHT, 0), block.items)


def _layout(m: Measure, sheet: PrintedSheet, ctx, size: float) -> list[SheetPage]:
    p = _Pages(m, sheet, ctx, size)
    half = (RIGHT - LEFT - COLUMN_GAP) / 2
    columns = [_student_rows(m, sheet, SECTIONS[:3], half, size), _student_rows(m, sheet, SECTIONS[3:], half, size)]
    _flow_columns(p, columns, [LEFT, LEFT + half + COLUMN_GAP], lambda: _student_heading(m, half, size), half)
    full = RIGHT - LEFT
    section = _(MEMBER_SECTION.label_zh)

    def continued() -> list[Row]:
        return [_continued(m, "members.section.continued", section, full, size), _member_heading(m, size)]

    rows = [Row(m, "members.section", [Cell(section, full, LIGHT)], size), _member_heading(m, size)]
    rows += [_member_row(m, sheet, f, size) for f in MEMBER_FIELDS]
    _flow_rows(p, rows, continued, _signature(m))
    for page in p.pages:
        page.count = len(p.pages)
        _label(m, page)
    return p.pages


def layout_sheet(sheet: PrintedSheet, ctx, font: str) -> list[SheetPage]:
    """The pages of one student's sheet: one page at the largest table size that fits, down to the floor size;
    otherwise the fewest pages the floor size needs, at the largest size that needs no more."""
    m = _measure(font)
    tried = {}
    for size in TABLE_SIZES:
        tried[size] = _layout(m, sheet, ctx, size)
        if len(tried[size]) == 1:
            return tried[size]
    fewest = len(tried[TABLE_SIZES[-1]])
    return next(pages for pages in tried.values() if len(pages) == fewest)


_measures: dict[str, Measure] = {}


def _measure(font: str) -> Measure:
    if font not in _measures:
        _measures[font] = Measure(font)
    return _measures[font]
