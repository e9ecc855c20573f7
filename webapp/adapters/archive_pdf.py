"""One student's electronic archive (电子档案) as a PDF: the record as it stands, every correction old → new with who
decided it and when, the list of documents, the audit trail, then the signed-sheet photo(s) and proof documents —
photos as pages of their own, PDF proofs appended as they were uploaded.

Set in the same embedded CJK font as the printed sheet (``webapp.adapters.pdf``). Documents are read through the
object store one at a time; one that is no longer in storage (or cannot be read) is named on the first page as
missing and the rest of the archive is built. A storage that does not answer is not "missing": that error goes up,
and the build fails rather than file an archive that wrongly says documents are gone.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO
from xml.sax.saxutils import escape

from flask_babel import gettext as _
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from confirm.archives import Document, StudentArchive
from confirm.clock import local_time
from webapp.adapters.pdf import register_font

MARGIN = 15 * mm


@dataclass(frozen=True)
class MissingDocument:
    """A document the archive could not hold, and why."""

    label: str
    reason: str


@dataclass(frozen=True)
class RenderedArchive:
    """What went into one archive PDF."""

    images: int  # photos embedded
    appended_pdfs: int  # PDF proof documents appended
    missing: list[MissingDocument]


def _when(at: datetime | None) -> str:
    return local_time(at)


class _Styles:
    def __init__(self, font: str):
        self.title = ParagraphStyle("title", fontName=font, fontSize=15, leading=20, wordWrap="CJK", spaceAfter=4)
        self.heading = ParagraphStyle("heading", fontName=font, fontSize=11, leading=15, wordWrap="CJK",
                                      spaceBefore=8, spaceAfter=4)
        self.body = ParagraphStyle("body", fontName=font, fontSize=8.5, leading=11, wordWrap="CJK")
        self.small = ParagraphStyle("small", fontName=font, fontSize=7.5, leading=10, wordWrap="CJK")
        self.alert = ParagraphStyle("alert", parent=self.body, textColor=colors.HexColor("#b00020"))

    def p(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        return Paragraph(escape(text or ""), style or self.body)


def _table(rows: list[list], widths: list[float], header: bool = True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
             ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
    table.setStyle(TableStyle(style))
    return table


def _read_documents(documents: list[Document], fetch: Callable[[str], bytes]):
    """Each document's bytes, checked to be a photo or PDF we can embed; the missing ones with their reason."""
    photos: list[tuple[Document, bytes, tuple[int, int]]] = []
    pdfs: list[tuple[Document, PdfReader]] = []
    missing: list[MissingDocument] = []
    for doc in documents:
        try:
            data = fetch(doc.storage_key)
        except KeyError:
            missing.append(MissingDocument(doc.label, _("文件已不在存储中")))
            continue
        try:
            if doc.content_type == "application/pdf":
                reader = PdfReader(io.BytesIO(data))
                if not reader.pages:
                    raise PdfReadError("no pages")
                pdfs.append((doc, reader))
            else:
                photos.append((doc, data, ImageReader(io.BytesIO(data)).getSize()))
        except Exception:  # a damaged file is named, never the reason the whole archive fails
            missing.append(MissingDocument(doc.label, _("文件已损坏，无法读取")))
    return photos, pdfs, missing


def render_archive(archive: StudentArchive, out: BinaryIO, *, font_file: str,
                   fetch: Callable[[str], bytes]) -> RenderedArchive:
    """Write ``archive`` as one PDF to ``out``; ``fetch(key)`` reads a stored document (KeyError: not there)."""
    font = register_font(font_file)
    st = _Styles(font)
    photos, pdfs, missing = _read_documents(archive.documents, fetch)
    width = A4[0] - 2 * MARGIN
    story: list = [
        st.p(_("学生电子档案"), st.title),
        st.p(f"{archive.school_name} · {archive.class_title} · {archive.campaign_name}", st.body),
        Spacer(0, 3 * mm),
        _table([[st.p(_("姓名")), st.p(archive.name), st.p(_("出生日期")), st.p(archive.birth_date)],
                [st.p(_("全国学籍号")), st.p(archive.student_no or "—"), st.p(_("核查状态")), st.p(_(archive.stage))]],
               [width * 0.18, width * 0.32, width * 0.18, width * 0.32], header=False),
    ]
    if missing:
        story.append(Spacer(0, 2 * mm))
        for item in missing:
            story.append(st.p(_("缺少材料：%(label)s（%(reason)s）", label=item.label, reason=item.reason), st.alert))

    story.append(st.p(_("更正记录"), st.heading))
    if archive.corrections:
        rows = [[st.p(t, st.small) for t in (_("信息项"), _("原信息"), _("更正为"), _("状态"), _("申请人"),
                                              _("审核人"), _("审核时间"))]]
        for c in archive.corrections:
            field = c.field + (_("（关键信息）") if c.is_key_data else "")
            status = _(c.status) + (f"：{c.reason}" if c.reason else "")
            rows.append([st.p(t, st.small) for t in (field, c.old, c.new, status, c.requested_by, c.decided_by,
                                                      _when(c.decided_at))])
        story.append(_table(rows, [width * f for f in (0.16, 0.17, 0.17, 0.14, 0.13, 0.1, 0.13)]))
    else:
        story.append(st.p(_("没有更正")))

    story.append(st.p(_("材料清单"), st.heading))
    if archive.documents:
        missing_labels = {m.label for m in missing}
        rows = [[st.p(t, st.small) for t in (_("材料"), _("上传时间"), _("SHA-256"), _("状态"))]]
        for doc in archive.documents:
            if doc.label in missing_labels:
                state = _("缺失")
            else:
                state = _("当前确认表") if doc.is_current_sheet else _("已附后")
            rows.append([st.p(doc.label, st.small), st.p(_when(doc.uploaded_at), st.small),
                         st.p(doc.sha256[:16] + "…", st.small), st.p(state, st.small)])
        story.append(_table(rows, [width * 0.3, width * 0.2, width * 0.3, width * 0.2]))
    else:
        story.append(st.p(_("还没有上传任何材料")))

    story.append(st.p(_("记录档案（操作日志）"), st.heading))
    if archive.trail:
        rows = [[st.p(t, st.small) for t in (_("时间"), _("操作人"), _("操作"), _("说明"))]]
        for entry in archive.trail:
            rows.append([st.p(_when(entry.at), st.small), st.p(entry.actor, st.small), st.p(_(entry.action), st.small),
                         st.p(entry.note, st.small)])
        story.append(_table(rows, [width * 0.2, width * 0.2, width * 0.3, width * 0.3]))
    else:
        story.append(st.p(_("没有操作记录")))

    story.append(st.p(_("学籍信息（当前记录）"), st.heading))
    for section in archive.sections:
        story.append(st.p(section.title, st.small))
        rows = [[st.p(line.label, st.small), st.p(line.value, st.small)] for line in section.lines]
        story.append(_table(rows, [width * 0.3, width * 0.7], header=False))

    max_h = A4[1] - 2 * MARGIN - 12 * mm
    for doc, data, (w, h) in photos:
        scale = min(width / w, max_h / h)
        story += [PageBreak(), st.p(f"{doc.label} · {_when(doc.uploaded_at)}", st.heading),
                  Image(io.BytesIO(data), width=w * scale, height=h * scale)]

    target = io.BytesIO() if pdfs else out
    document = SimpleDocTemplate(target, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                                 bottomMargin=MARGIN, title=_("学生电子档案"), creator="xueji-confirm",
                                 pageCompression=1)
    document.build(story)
    if pdfs:
        writer = PdfWriter(clone_from=io.BytesIO(target.getvalue()))
        for _doc, reader in pdfs:
            writer.append(reader)
        writer.write(out)
    return RenderedArchive(images=len(photos), appended_pdfs=len(pdfs), missing=missing)
