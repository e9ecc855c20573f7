"""Opening an uploaded table: type by content, the header row found by its content, rows streamed.

Everything that makes a file unreadable as a whole raises ``UnreadableFile`` with a message for the
admin; problems in single cells are left to the checker.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from confirm.errors import DomainError
from confirm.i18n import N_, Message
from confirm.template import Column, column_for_header

HEADER_SCAN_ROWS = 10
MIN_HEADER_MATCHES = 3
MAX_ROWS = 100_000

_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: legacy .xls, or an encrypted .xlsx
_ENCRYPTED_MARK = "EncryptionInfo".encode("utf-16-le")


class UnreadableFile(DomainError):
    """The file as a whole cannot be read (wrong type, encrypted, corrupt, no header)."""


@dataclass
class Table:
    """A readable table: where the header is, what each column means, and the data rows."""

    kind: str  # "xlsx" | "xls" | "csv"
    sheet_name: str
    header_row: int  # the header's row number as Excel shows it
    headers: list[str]
    columns: list[Column | None]  # by column index; None for columns we do not know
    rows: Iterator[tuple[int, tuple]]  # (row number as Excel shows it, cell values)
    merged: list[tuple[str, int, int]] = field(default_factory=list)  # (A1 range, first row, last row)
    formulas: set[tuple[int, int]] = field(default_factory=set)  # (row, column index) of formula cells

    @property
    def ignored_headers(self) -> list[str]:
        """Headers of columns that are not template columns (they are ignored)."""
        return [h for h, c in zip(self.headers, self.columns, strict=False) if c is None and h]


def open_table(data: bytes, filename: str = "") -> Table:
    """Open ``data`` (xlsx or csv, decided by content) and locate its header row."""
    if not data:
        raise UnreadableFile(Message(N_("文件是空的")))
    if data.startswith(_CFB_MAGIC):
        if _ENCRYPTED_MARK in data[:200_000] or _ENCRYPTED_MARK in data:
            raise UnreadableFile(Message(N_("工作簿设置了打开密码，请在 Excel 中取消密码后另存为 .xlsx 再导入")))
        return _open_xlsx(data, kind="xls")
    if data.startswith(b"PK"):
        return _open_xlsx(data)
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise UnreadableFile(Message(N_("文件已损坏，无法作为 Excel 工作簿打开")))
    return _open_csv(data)


def _find_header(first_rows: list[tuple[int, tuple]]) -> tuple[int, list[str], list[Column | None]] | None:
    best: tuple[int, int, list[str], list[Column | None]] | None = None
    for row_no, values in first_rows:
        headers = ["" if v is None else str(v).strip() for v in values]
        columns = [column_for_header(h) if h else None for h in headers]
        chinese = sum(1 for h, c in zip(headers, columns, strict=False) if c and not h.upper().startswith("KD_"))
        has_name = any(c is not None and c.field is not None and c.slot == 0 and c.field.key == "name"
                       for h, c in zip(headers, columns, strict=False) if not h.upper().startswith("KD_"))
        if chinese >= MIN_HEADER_MATCHES and has_name and (best is None or chinese > best[0]):
            best = (chinese, row_no, headers, columns)
    if best is None:
        return None
    _, row_no, headers, columns = best
    return row_no, headers, _dedupe(columns)


def _dedupe(columns: list[Column | None]) -> list[Column | None]:
    """A second column for the same field is ignored (the first one wins)."""
    seen: set[int] = set()
    out: list[Column | None] = []
    for c in columns:
        if c is not None and id(c) in seen:
            out.append(None)
            continue
        if c is not None:
            seen.add(id(c))
        out.append(c)
    return out


def _is_codes_row(values: tuple) -> bool:
    texts = [str(v).strip().upper() for v in values if v not in (None, "")]
    return bool(texts) and sum(t.startswith("KD_F") for t in texts) >= len(texts) / 2


def _data_rows(rows: Iterator[tuple[int, tuple]], header_row: int) -> Iterator[tuple[int, tuple]]:
    count = 0
    for row_no, values in rows:
        if row_no <= header_row:
            continue
        if row_no == header_row + 1 and _is_codes_row(values):
            continue
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # empty rows are skipped
        count += 1
        if count > MAX_ROWS:
            raise UnreadableFile(Message(N_("文件超过 %(n)s 行，请分成几个文件导入"), {"n": MAX_ROWS}))
        yield row_no, values


MAX_UNPACKED_BYTES = 300 * 1024 * 1024
MAX_COLUMNS = 200  # the template has 75; calamine allocates rows × columns cells up front
_ROW_RE = re.compile(rb'<(?:\w+:)?row\b[^>]*?\sr="(\d+)"')
_WIDE_CELL_RE = re.compile(rb'<(?:\w+:)?c\b[^>]*?\sr="(?:[A-Z]{3}|[H-Z][A-Z]|G[S-Z])\d')


def _check_extent(data: bytes) -> None:
    """Refuse workbooks whose sheets reach far beyond any real student list before calamine sees them:
    a tiny file with one cell at A1 and one at XFD1048576 would make it allocate a dense range of terabytes."""
    too_big = UnreadableFile(Message(
        N_("工作表的范围过大（超过 %(rows)s 行或 %(cols)s 列），请删除多余的行和列后再导入"),
        {"rows": MAX_ROWS, "cols": MAX_COLUMNS}))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return  # calamine reports the damaged file
    with archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise too_big
        for member in members:
            if not (member.filename.startswith("xl/worksheets/") and member.filename.endswith(".xml")):
                continue
            rows = 0
            with archive.open(member) as src:
                tail = b""
                while chunk := src.read(1 << 20):
                    buf = tail + chunk
                    if _WIDE_CELL_RE.search(buf):
                        raise too_big
                    rows += chunk.count(b"<row")
                    for match in _ROW_RE.finditer(buf):
                        if int(match.group(1)) > MAX_ROWS + 1000:
                            raise too_big
                    if rows > MAX_ROWS + 1000:
                        raise too_big
                    tail = buf[-200:]


def _open_xlsx(data: bytes, kind: str = "xlsx") -> Table:
    """Read with calamine (Rust; several times faster than openpyxl, and it reads legacy .xls too)."""
    from python_calamine import CalamineWorkbook

    if kind == "xlsx":
        _check_extent(data)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine raises its own error types for damaged or foreign files
        raise UnreadableFile(Message(N_("文件已损坏，无法作为 Excel 工作簿打开"))) from exc
    for index, name in enumerate(workbook.sheet_names):
        try:
            sheet = workbook.get_sheet_by_index(index)
            first_row, first_col = sheet.start if sheet.start else (0, 0)
            # calamine starts rows and columns at the first used cell; pad columns back to A so that column
            # indexes are Excel's (the annotated workbook marks cells by them)
            pad = (None,) * first_col
            head = [(first_row + i + 1, pad + tuple(r))
                    for i, r in enumerate(sheet.to_python(nrows=HEADER_SCAN_ROWS))]
        except Exception as exc:
            raise UnreadableFile(Message(N_("文件已损坏，无法作为 Excel 工作簿打开"))) from exc
        found = _find_header(head)
        if found is None:
            continue
        header_row, headers, columns = found
        # unlike to_python, iter_rows starts at row 1 even when the first rows are empty
        rows = ((i + 1, pad + tuple(r)) for i, r in enumerate(sheet.iter_rows()))
        merged = sorted(
            ((_a1(r0, c0) + (":" + _a1(r1, c1) if (r0, c0) != (r1, c1) else ""), r0 + 1, r1 + 1)
             for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or []) if r1 + 1 > header_row),
            key=lambda m: m[1],
        )
        formulas = _formula_cells(data, index) if kind == "xlsx" else set()
        return Table(kind, name, header_row, headers, columns, _data_rows(rows, header_row), merged, formulas)
    raise UnreadableFile(
        Message(N_("在前 %(n)s 行没有找到表头（需要包含“姓名”等模板列名），请使用全国学籍系统的学生信息模板"),
                {"n": HEADER_SCAN_ROWS})
    )


def _a1(row0: int, col0: int) -> str:
    """0-based (row, column) as an A1 reference."""
    letters = ""
    col = col0 + 1
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return f"{letters}{row0 + 1}"


_FORMULA_RE = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*>\s*<f[ >/]')
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _formula_cells(data: bytes, sheet_index: int) -> set[tuple[int, int]]:
    """(row, 0-based column) of every formula cell; calamine gives only their cached values."""
    from xml.etree import ElementTree

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
            sheets = [el for el in book.iter() if el.tag.endswith("}sheet")]
            rel_id = sheets[sheet_index].get(_NS_REL)
            target = next(el.get("Target") for el in rels if el.get("Id") == rel_id)
            path = target.lstrip("/") if target.startswith("/") else "xl/" + target
            found: set[tuple[int, int]] = set()
            with archive.open(path) as src:
                tail = b""
                while chunk := src.read(1 << 20):
                    buf = tail + chunk
                    for m in _FORMULA_RE.finditer(buf):
                        col = 0
                        for ch in m.group(1):
                            col = col * 26 + (ch - 64)
                        found.add((int(m.group(2)), col - 1))
                    tail = buf[-200:]
            return found
    except Exception:  # calamine read it but its XML is not where we expect: skip the formula check
        return set()


def _open_csv(data: bytes) -> Table:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UnreadableFile(Message(N_("无法识别的文件类型，请上传 .xlsx 或 .csv 文件")))
    if "\x00" in text[:4096]:
        raise UnreadableFile(Message(N_("无法识别的文件类型，请上传 .xlsx 或 .csv 文件")))
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows = [(i, tuple(r)) for i, r in enumerate(reader, start=1)]
    found = _find_header(rows[:HEADER_SCAN_ROWS])
    if found is None:
        raise UnreadableFile(
            Message(N_("在前 %(n)s 行没有找到表头（需要包含“姓名”等模板列名），请使用全国学籍系统的学生信息模板"),
                    {"n": HEADER_SCAN_ROWS})
        )
    header_row, headers, columns = found
    return Table("csv", "", header_row, headers, columns, _data_rows(iter(rows), header_row))
