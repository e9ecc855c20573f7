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

from confirm.fields import MEMBER_FIELDS, MEMBER_SECTION, MEMBER_SLOTS, SECTIONS, Field, fields_in_section
from confirm.presentation import readable
from confirm.services.sheet_printing import PrintedSheet
from webapp.adapters.sheet_blocks import Block, Cell, Measure, Qr, Row, join_parts, lines_block, measure

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


@dataclass(frozen=True)
class SheetContext:
    """What every page of one PDF shares."""

    school_name: str
    campaign_name: str
    register_url: str = ""  # printed with the registration code on invitation sheets


@dataclass
class SheetPage:
    """One page of one student's sheet, as laid out."""

    number: int
    count: int
    table_size: float
    blocks: list[Block] = field(default_factory=list)


# --- the tables ----------------------------------------------------------------------------------------------


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

    def add(self, block: Block) -> None:
        self.blocks.append(block)
        self.top = block.box[1]

    def _footer(self) -> Block:
        text = _("学籍信息核查确认平台 · 拍照上传号 %(no)s · 请勿涂改右上角二维码", no=self.sheet.student.upload_no)
        lines = self.m.wrap(text, RIGHT - LEFT, 6)
        top = BOTTOM + 7.5 * len(lines)
        return lines_block(self.m, "footer", PAGE_W / 2, top, lines, 6, leading=7.5, colour=GREY, align="center")


def _header(m: Measure, sheet: PrintedSheet, ctx, *, first: bool) -> list[Block]:
    """Title, school and class, the student and the QR code; on the first page also the code and instructions."""
    student = sheet.student
    qr_x = RIGHT - QR_SIZE
    text_w = qr_x - LEFT - 8
    blocks = [Block("qr", (qr_x, TOP - QR_SIZE, RIGHT, TOP), [Qr(qr_x, TOP - QR_SIZE, QR_SIZE, sheet.payload)])]
    caption = 5 if m.width(sheet.payload, 5) <= QR_SIZE else 5 * QR_SIZE / m.width(sheet.payload, 5)
    blocks.append(lines_block(m, "qr.caption", qr_x + QR_SIZE / 2, TOP - QR_SIZE - 1, [sheet.payload], caption,
                               leading=7, colour=GREY, align="center"))
    # The page label ("第 1 页 / 共 2 页") goes under the caption; its room is kept on every page (see _label).
    blocks.append(Block("page.label.room", (qr_x, TOP - QR_SIZE - 20, RIGHT, TOP - QR_SIZE - 8), []))
    title = lines_block(m, "title", LEFT, TOP, [_("学籍信息确认表")], 16, leading=18)
    blocks.append(title)
    y = title.box[1]
    campaign = ctx.campaign_name
    title_w = title.box[2] - LEFT
    if campaign and title_w + 12 + m.width(campaign, 8) <= text_w:
        # on the title's baseline: a 10-point line box starting 6.4 points down centres 8-point text there
        line = m.line(LEFT + title_w + 12, TOP - 6.4, campaign, 8, 10, GREY)
        blocks.append(Block("campaign", (line.x, TOP - 16.4, line.x + line.width, TOP - 6.4), [line]))
    elif campaign:
        blocks.append(lines_block(m, "campaign", LEFT, y, m.wrap(campaign, text_w, 8), 8, leading=10, colour=GREY))
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
        lines = join_parts(m, parts, text_w, size)
        blocks.append(lines_block(m, name, LEFT, y - 1, lines, size, leading=size * 1.3, colour=colour))
        y = blocks[-1].box[1]
    if first:
        instructions = [
            _("1. 请逐项核对“系统现有信息”。有错误的项目，请在“更正后信息”一栏用黑色签字笔工整填写正确内容；"
              "正确的项目不填。"),
            _("2. 灰色项目由学校维护，家长无需填写；有疑问请联系班主任。"),
            _("3. 核对后由监护人签字、写上日期，再登录平台把整张表拍照上传（右上角二维码要完整、清晰）。"),
        ]
        lines = [part for line in instructions for part in m.wrap(line, text_w, 7)]
        blocks.append(lines_block(m, "instructions", LEFT, y - 4, lines, 7, leading=9))
    return blocks


def _label(m: Measure, page: SheetPage) -> None:
    """Write "第 n 页 / 共 N 页" into the room the header kept for it, when the sheet has more than one page."""
    page.blocks = [b for b in page.blocks if b.name != "page.label.room"]
    if page.count > 1:
        text = _("第 %(page)s 页 / 共 %(pages)s 页", page=page.number, pages=page.count)
        size = min(8.0, 8.0 * QR_SIZE / m.width(text, 8.0))
        page.blocks.append(lines_block(m, "page.label", RIGHT - QR_SIZE / 2, TOP - QR_SIZE - 8, [text], size,
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


def _flow_rows(p: _Pages, rows: list[Row], continued: Callable[[], list[Row]],
               signature: Callable[[float], Block]) -> None:
    """The family table, then the signature: rows break between pages with the table's headings repeated; the
    headings keep with the first member row, and the last row keeps with the signature."""
    probe = signature(0.0)
    chain_end = probe.box[3] - probe.box[1] + BLOCK_GAP
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
    if chain_end > p.room():  # only after a last row taller than a page, which was cut
        p.new_page()
    p.add(signature(p.top - BLOCK_GAP))


def _signature(m: Measure, top: float) -> Block:
    """The guardian's signature, relation and date across the page under ``top``, with room above the line."""
    text = _("监护人签字：____________________　与学生关系：__________　日期：________年____月____日")
    size = 10.0
    while size > 8 and m.width(text, size) > RIGHT - LEFT:  # one line if it can (a longer translation)
        size -= 0.5
    lines = m.wrap(text, RIGHT - LEFT, size)
    block = lines_block(m, "signature", LEFT, top - 8, lines, size, leading=14)
    return Block("signature", (LEFT, block.box[1], RIGHT, top), block.items)


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
    _flow_rows(p, rows, continued, lambda top: _signature(m, top))
    for page in p.pages:
        page.count = len(p.pages)
        _label(m, page)
    return p.pages


def layout_sheet(sheet: PrintedSheet, ctx, font: str) -> list[SheetPage]:
    """The pages of one student's sheet: one page at the largest table size that fits, down to the floor size;
    otherwise the fewest pages the floor size needs, at the largest size that needs no more."""
    m = measure(font)
    tried = {}
    for size in TABLE_SIZES:
        tried[size] = _layout(m, sheet, ctx, size)
        if len(tried[size]) == 1:
            return tried[size]
    fewest = len(tried[TABLE_SIZES[-1]])
    return next(pages for pages in tried.values() if len(pages) == fewest)
