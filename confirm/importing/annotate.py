"""The uploaded workbook handed back with every problem marked: red cells for errors, yellow for
warnings, and the message as a cell comment — so the admin fixes the file in Excel, row by row."""

from __future__ import annotations

import io
from collections import defaultdict

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from confirm.importing.checker import CheckResult
from confirm.importing.reader import open_table
from confirm.template import normalize_header

ERROR_FILL = PatternFill("solid", start_color="FFFFC7CE", end_color="FFFFC7CE")
WARNING_FILL = PatternFill("solid", start_color="FFFFEB9C", end_color="FFFFEB9C")


def annotated_workbook(data: bytes, filename: str, result: CheckResult) -> bytes:
    """The file as .xlsx with problem cells filled and commented (a CSV becomes a workbook first)."""
    table = open_table(data, filename)
    headers: dict[str, int] = {}  # problems name a column by its template header, the file may spell it otherwise
    for i, (header, column) in enumerate(zip(table.headers, table.columns, strict=False), start=1):
        if column is not None:
            headers.setdefault(normalize_header(column.header), i)
        if header:
            headers.setdefault(normalize_header(header), i)
    if table.kind == "xlsx":
        workbook = load_workbook(io.BytesIO(data))
        sheet = workbook[table.sheet_name]
        place = None
    else:
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(list(table.headers))
        row_of = {table.header_row: 1}
        for n, (row_no, values) in enumerate(table.rows, start=2):
            sheet.append(list(values))
            if any(isinstance(v, str) and v.startswith("=") for v in values):
                for cell in sheet[n]:
                    if cell.data_type == "f":
                        cell.data_type = "s"  # text of the upload, not a formula to run
            row_of[row_no] = n
        place = row_of.get
    notes: dict[tuple[int, int], list[tuple[str, bool]]] = defaultdict(list)
    for p in result.problems:
        row = place(p.row, 1) if place else p.row
        column = headers.get(normalize_header(p.column), 1)
        notes[(row, column)].append((("警告：" if p.is_warning else "") + str(p.message), p.is_warning))
    for (row, column), items in notes.items():
        cell = sheet.cell(row=row, column=column)
        cell.fill = WARNING_FILL if all(is_warning for _, is_warning in items) else ERROR_FILL
        cell.comment = Comment("\n".join(text for text, _ in items), "学籍核查", width=300, height=120)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
