"""The pieces a printed 学籍信息确认表 is made of, measured before they are placed: lines of text in the embedded font
(wrapped with its own glyph widths), table rows whose height follows from their wrapped cells, and placed blocks.

``webapp.adapters.sheet_layout`` puts them on pages; ``webapp.adapters.pdf`` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportlab.lib.colors import Color, black
from reportlab.pdfbase import pdfmetrics

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


@dataclass
class Block:
    """A placed part of a page: ``box`` holds everything in ``items``; no two blocks of a page overlap."""

    name: str
    box: Box
    items: list[Item]


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
             align: str = "left") -> Text:
        """``text`` set in a line box of ``height`` whose top is ``top``: the glyphs centred in it (and on ``x``
        with ``align="center"``)."""
        width = self.width(text, size)
        if align == "center":
            x = x - width / 2
        baseline = top - (height - (self.ascent + self.descent) * size) / 2 - self.ascent * size
        return Text(x, baseline, text, size, width, self.ascent * size, self.descent * size, colour)


def lines_block(m: Measure, name: str, x: float, top: float, lines: list[str], size: float, *, leading: float,
                colour: Color = black, align: str = "left") -> Block:
    """A block of text lines from ``top`` downwards; with ``align="center"`` ``x`` is the centre."""
    texts = [m.line(x, top - n * leading, text, size, leading, colour, align) for n, text in enumerate(lines)]
    x0 = min((t.x for t in texts), default=x)
    x1 = max((t.x + t.width for t in texts), default=x)
    return Block(name, (x0, top - leading * len(lines), x1, top), list[Item](texts))


def join_parts(m: Measure, parts: list[str], width: float, size: float) -> list[str]:
    """``parts`` on as few lines as fit ``width``, two ideographic spaces apart; a part breaks only if it must."""
    lines: list[str] = []
    for part in parts:
        if lines and m.width(lines[-1] + "　　" + part, size) <= width:
            lines[-1] += "　　" + part
        else:
            lines.extend(m.wrap(part, width, size))
    return lines


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


_measures: dict[str, Measure] = {}


def measure(font: str) -> Measure:
    """The (cached) measure of the registered font ``font``."""
    if font not in _measures:
        _measures[font] = Measure(font)
    return _measures[font]
