"""The printed sheet always fits: the worst cases are laid out and drawn, and checked by geometry twice — on the
blocks the layout computes, and on the PDF itself (pdftotext's word boxes, and a rendering of the page margins)."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path

import pytest
from PIL import Image

from confirm.fields import MEMBER_FIELDS, STUDENT_FIELDS, Field, Kind
from confirm.models import FamilyMember, School, SchoolClass, Student
from confirm.presentation import readable
from confirm.services.sheet_printing import PrintedSheet
from confirm.sheets import SheetRef, make_sheet_payload
from tests.factories import student_values
from webapp.adapters.pdf import SheetContext, font_path, register_font, render_sheets
from webapp.adapters.sheet_blocks import Rect, Text
from webapp.adapters.sheet_layout import MARGIN, PAGE_H, PAGE_W, TABLE_SIZES, layout_sheet

pytestmark = pytest.mark.skipif(not Path("/usr/bin/pdftotext").exists(), reason="needs poppler-utils")

EPS = 1e-6
FRAME = (MARGIN, MARGIN, PAGE_W - MARGIN, PAGE_H - MARGIN)
ADDRESS_120 = ("贵州省黔东南苗族侗族自治州凯里市经济开发区开元大道香榭丽舍小区十八栋二单元三十一楼三一零二室"
               "（请从北门进入，门卫室左转第三栋，电梯坏了请走楼梯）" * 2)[:120]
ADDRESS_62 = ADDRESS_120[:62]
LONGEST_DIVISION = "622927000000"  # 甘肃省临夏回族自治州积石山保安族东乡族撒拉族自治县: the longest name there is
SHORT = SheetContext("测试小学", "2026年秋季学籍信息核查", "https://example.edu.cn/register")
LONG = SheetContext("贵州省黔东南苗族侗族自治州凯里市经济开发区第一中学附属实验小学（开元校区）",
                    "2026年秋季学期全校学籍信息核查确认（含转入学生、随迁子女和新入学一年级学生）",
                    "https://xueji-confirm.qiandongnan-kaili-education-bureau.example.edu.cn/register?school=5200000001")


def _longest(f: Field) -> str:
    """The value of ``f`` that takes the most room: its longest option, or its maximum length in wide characters."""
    if f.choices:
        return max(f.choices, key=lambda c: len(c.name)).code
    if f.kind is Kind.DATE:
        return "20161231"
    if f.kind is Kind.YEAR_MONTH:
        return "202212"
    if f.kind is Kind.DIVISION:
        return LONGEST_DIVISION
    return ("测试用的很长内容" * 30)[: f.max_length]  # full-width glyphs: the most lines per character


def _student(values: dict[str, str], members: dict[int, dict[str, str]], n: int = 1) -> Student:
    school_class = SchoolClass(grade="三年级", name="1班", school=School(code="5200000001", name="测试小学"))
    return Student(id=n, name=values["name"], upload_no=f"{n:010d}", record=values, record_version=1,
                   school_class=school_class,
                   members=[FamilyMember(slot=slot, record=m) for slot, m in members.items() if m])


def _typical() -> Student:
    values, members = student_values(1)
    return _student(values, members)


def _long_addresses(address: str) -> Student:
    values, members = student_values(2)
    values.update(name="欧阳" + "测" * 28, current_address=address, mailing_address=address, home_address=address)
    full = {f.key: _longest(f) for f in MEMBER_FIELDS} | {"name": "欧阳测试", "current_address": address,
                                                          "employer": "贵州省黔东南州凯里市某某建筑工程有限公司",
                                                          "position": "项目经理", "relation_note": "继父"}
    return _student(values, {1: full, 2: full | {"name": "李测试", "relation": "2"}})


def _longest_record(*, second_member: bool) -> Student:
    values = {f.key: _longest(f) for f in STUDENT_FIELDS}
    member = {f.key: _longest(f) for f in MEMBER_FIELDS}
    return _student(values, {1: member, 2: member if second_member else {}})


PAYLOAD = make_sheet_payload(b"k" * 32, SheetRef(1, 1, 1))
CASES = {
    "typical, invitation": (lambda: PrintedSheet(_typical(), PAYLOAD, "AB12-CD34"), SHORT),
    "typical, registered parent": (lambda: PrintedSheet(_typical(), PAYLOAD, None, True), SHORT),
    "62-character addresses, invitation": (lambda: PrintedSheet(_long_addresses(ADDRESS_62), PAYLOAD, "AB12-CD34"),
                                           SHORT),
    "30-character name, 120-character addresses, both members, invitation":
        (lambda: PrintedSheet(_long_addresses(ADDRESS_120), PAYLOAD, "AB12-CD34"), SHORT),
    "every field at its longest, both members, invitation":
        (lambda: PrintedSheet(_longest_record(second_member=True), PAYLOAD, "AB12-CD34"), LONG),
    "every field at its longest, no family member 2":
        (lambda: PrintedSheet(_longest_record(second_member=False), PAYLOAD, None, True), LONG),
}


@pytest.fixture
def font(app):
    with app.test_request_context():
        yield register_font(font_path())


def _inside(inner, outer, tol: float = EPS) -> bool:
    return (inner[0] >= outer[0] - tol and inner[1] >= outer[1] - tol and inner[2] <= outer[2] + tol
            and inner[3] <= outer[3] + tol)


def _overlap(a, b, tol: float = EPS) -> bool:
    """True when the boxes share an area (touching edges do not count)."""
    return min(a[2], b[2]) - max(a[0], b[0]) > tol and min(a[3], b[3]) - max(a[1], b[1]) > tol


def _assert_fits(pages) -> None:
    """Every block inside the margins and holding its items, no two blocks or texts on each other, no cell border
    through a text, and the signature once, on the last page, between the family table and the footer."""
    for page in pages:
        blocks = page.blocks
        assert all(_inside(b.box, FRAME) for b in blocks), [b.name for b in blocks if not _inside(b.box, FRAME)]
        assert all(_inside(item.box, b.box) for b in blocks for item in b.items)
        assert [(a.name, b.name) for a, b in combinations(blocks, 2) if _overlap(a.box, b.box)] == []
        texts = [item for b in blocks for item in b.items if isinstance(item, Text)]
        assert [(s.text, t.text) for s, t in combinations(texts, 2) if _overlap(s.box, t.box)] == []
        # no cell border runs through a text: each text is inside a cell or clear of it
        cells = [item for b in blocks for item in b.items if isinstance(item, Rect)]
        crossed = [t.text for t in texts for c in cells if _overlap(t.box, c.box) and not _inside(t.box, c.box)]
        assert crossed == []
    assert [[b.name for b in page.blocks].count("signature") for page in pages] == [0] * (len(pages) - 1) + [1]
    last = pages[-1].blocks
    signature = next(b for b in last if b.name == "signature")
    footer = next(b for b in last if b.name == "footer")
    rows = [b for b in last if b.name.startswith("member")]
    assert rows and signature.box[3] <= min(r.box[1] for r in rows) and signature.box[1] >= footer.box[3]
    assert "监护人签字" in "".join(t.text for t in signature.items)


@pytest.mark.parametrize("case", CASES)
def test_layout_puts_every_block_inside_the_margins_and_no_two_on_each_other(case, font):
    make, ctx = CASES[case]
    _assert_fits(layout_sheet(make(), ctx, font))


def test_the_layout_fits_at_every_length_of_the_addresses(font):
    """Address lengths from none to 120 characters cross every point where the table shrinks or breaks, and where
    the signature only just fits or must move to the next page with the last row."""
    for length in range(0, 121, 3):
        _assert_fits(layout_sheet(PrintedSheet(_long_addresses(ADDRESS_120[:length]), PAYLOAD, "AB12-CD34"), SHORT,
                                  font))


@pytest.mark.parametrize("case", CASES)
def test_every_page_repeats_the_header_and_says_which_page_it_is(case, font):
    make, ctx = CASES[case]
    sheet = make()
    pages = layout_sheet(sheet, ctx, font)
    names = [[b.name for b in page.blocks] for page in pages]
    for page, on_page in zip(pages, names, strict=True):
        assert {"qr", "qr.caption", "title", "school", "student", "footer"} <= set(on_page)
        assert [item.payload for b in page.blocks if b.name == "qr" for item in b.items] == [sheet.payload]
        student = "".join(t.text for b in page.blocks if b.name == "student" for t in b.items)
        assert sheet.student.upload_no in student
        assert page.count == len(pages)
        label = [t.text for b in page.blocks if b.name == "page.label" for t in b.items]
        assert label == ([f"第 {page.number} 页 / 共 {len(pages)} 页"] if len(pages) > 1 else [])
    if len(pages) > 1:  # the tables continue under repeated headings
        assert "student.heading" in names[1] or "members.section.continued" in names[1]


@pytest.mark.parametrize("case", CASES)
def test_every_value_is_printed_whole(case, font):
    make, ctx = CASES[case]
    sheet = make()
    printed: dict[str, str] = {}
    for page in layout_sheet(sheet, ctx, font):
        for b in page.blocks:
            printed[b.name] = printed.get(b.name, "") + "".join(t.text for t in b.items if isinstance(t, Text))
    for f in STUDENT_FIELDS:
        assert re.sub(r"\s", "", readable(f, sheet.student.value(f.key))) in printed[f"field.{f.key}"], f.key
    for f in MEMBER_FIELDS:
        for member in sheet.student.members:
            assert re.sub(r"\s", "", readable(f, member.value(f.key))) in printed[f"member.{f.key}"], f.key
    header = printed["student"] + printed.get("code", "")
    assert sheet.student.name in re.sub(r"\s", "", header) and sheet.student.upload_no in header
    assert (sheet.code or "") in header and (ctx.register_url if sheet.code else "") in re.sub(r"\s", "", header)


@pytest.mark.parametrize("case", ["typical, invitation", "typical, registered parent"])
def test_a_typical_sheet_is_one_page_at_full_size(case, font):
    make, ctx = CASES[case]
    assert [p.table_size for p in layout_sheet(make(), ctx, font)] == [TABLE_SIZES[0]]


def test_long_addresses_shrink_the_tables_within_the_floor_and_stay_on_one_page(font):
    make, ctx = CASES["62-character addresses, invitation"]
    [page] = layout_sheet(make(), ctx, font)
    assert TABLE_SIZES[-1] <= page.table_size < TABLE_SIZES[0]


def test_the_longest_record_takes_two_pages_at_the_floor_size_never_three(font):
    make, ctx = CASES["every field at its longest, both members, invitation"]
    assert [p.table_size for p in layout_sheet(make(), ctx, font)] == [TABLE_SIZES[-1]] * 2


# --- the PDF itself ------------------------------------------------------------------------------------------

XHTML = "{http://www.w3.org/1999/xhtml}"


def _words(pdf: Path) -> list[list[tuple[tuple[float, float, float, float], str]]]:
    """pdftotext's word boxes of each page, in PDF points with y upwards like the layout's."""
    xhtml = subprocess.run(["pdftotext", "-bbox-layout", str(pdf), "-"], check=True, capture_output=True,
                           text=True).stdout
    pages = []
    for page in ET.fromstring(xhtml).iter(f"{XHTML}page"):
        height = float(page.get("height"))
        pages.append([((float(w.get("xMin")), height - float(w.get("yMax")), float(w.get("xMax")),
                        height - float(w.get("yMin"))), w.text or "") for w in page.iter(f"{XHTML}word")])
    return pages


def _render(case: str, font: str, app, tmp_path: Path):
    make, ctx = CASES[case]
    sheet = make()
    pdf = tmp_path / "sheet.pdf"
    with app.test_request_context(), pdf.open("wb") as out:
        count = render_sheets([sheet], out, ctx, font_file=font_path())
        layout = layout_sheet(sheet, ctx, font)
    return pdf, count, layout


@pytest.mark.parametrize("case", CASES)
def test_pdf_words_sit_where_the_layout_put_them_inside_the_margins_and_apart(case, font, app, tmp_path):
    pdf, count, layout = _render(case, font, app, tmp_path)
    words = _words(pdf)
    assert count == len(words) == len(layout)
    for page_words, page in zip(words, layout, strict=True):
        assert page_words
        outside = [text for box, text in page_words if not _inside(box, FRAME, 0.01)]
        assert outside == []
        on_each_other = [(s, t) for (a, s), (b, t) in combinations(page_words, 2) if _overlap(a, b, 0.01)]
        assert on_each_other == []
        texts = [item.box for b in page.blocks for item in b.items if isinstance(item, Text)]
        unplanned = [text for box, text in page_words if not any(_inside(box, t, 0.01) for t in texts)]
        assert unplanned == []
    last = "".join(text for _, text in words[-1])
    assert "监护人签字" in last and "日期" in last
    if count > 1:
        assert all(f"第{n}页/共{count}页" in "".join(t for _, t in page) for n, page in enumerate(words, 1))


@pytest.mark.parametrize("case", ["typical, invitation", "every field at its longest, both members, invitation"])
def test_pdf_draws_nothing_in_the_page_margins(case, font, app, tmp_path):
    pdf, count, _ = _render(case, font, app, tmp_path)
    dpi = 36  # 2 points a pixel: the 28-point margin is 14 pixels; the outer 13 must be blank paper
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.pgm"))
    assert len(images) == count
    band = int(MARGIN * dpi / 72) - 1
    for path in images:
        with Image.open(path) as image:
            width, height = image.size
            pixels = image.load()
            inked = [(x, y) for x in range(width) for y in range(height)
                     if (x < band or y < band or x >= width - band or y >= height - band) and pixels[x, y] < 250]
            # and the page is not blank: the frame inside the margins has ink
            assert any(pixels[x, height // 2] < 128 for x in range(band, width - band))
        assert inked == []
