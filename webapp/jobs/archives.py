"""The job that builds a class's or a school's electronic archive (电子档案): a ZIP with one PDF per student
(``班级/姓名-出生日期.pdf``), the index workbook ``索引.xlsx`` and ``manifest.sha256`` (``sha256sum -c`` format).

The ZIP is written to a temporary file, entry by entry — never the whole archive in memory — with the students
loaded in chunks (a fixed number of queries each) and let go after each chunk; progress is committed every chunk, so
the page shows it while the build goes on. The finished file is copied to object storage in blocks and is
downloadable for 24 hours. It runs in the RQ worker when REDIS_URL is set, else right after the response of the
request that asked for it. A job run twice (a repeated queue entry) builds once: taking it is a conditional UPDATE.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from confirm.archives import StudentArchive, load_archives, safe_name
from confirm.clock import LOCAL_TZ
from confirm.exporting import _as_text
from confirm.models import ArchiveJob, Campaign, utcnow
from confirm.services import archives as service
from confirm.services.records import active_campaign
from confirm.storage_keys import new_object_key
from confirm.unit_of_work import ledger
from webapp.adapters.archive_pdf import render_archive
from webapp.adapters.pdf import font_path
from webapp.adapters.storage import store

log = logging.getLogger(__name__)
CHUNK = 50  # students loaded at once
INDEX_NAME = "索引.xlsx"
MANIFEST_NAME = "manifest.sha256"
INDEX_HEADERS = ("班级", "姓名", "出生日期", "学籍号", "核查状态", "文件名", "缺少的材料")


class _Names:
    """File names inside the ZIP: 班级/姓名-出生日期.pdf, namesakes (same class, name and birth date) made distinct
    with -2, -3… in the order of their ids."""

    def __init__(self):
        self.used: set[str] = set()

    def of(self, archive: StudentArchive) -> str:
        base = f"{safe_name(archive.class_title)}/{safe_name(archive.base_name)}"
        name, n = f"{base}.pdf", 1
        while name in self.used:
            n += 1
            name = f"{base}-{n}.pdf"
        self.used.add(name)
        return name


def _entry(name: str, when: datetime) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.astimezone(LOCAL_TZ).timetuple()[:6])  # ZIP times are local
    info.compress_type = zipfile.ZIP_STORED  # PDFs of JPEG photos do not shrink; storing keeps the CPU for drawing
    return info


def write_archive(session, student_ids: list[int], campaign: Campaign | None, out, *,
                  font_file: str, fetch: Callable[[str], bytes],
                  progress: Callable[[int], None] = lambda done: None) -> int:
    """Write the archive ZIP of ``student_ids`` into the open file ``out``; returns the number of documents found
    missing from storage."""
    names, manifest, index_rows, missing_total = _Names(), [], [], 0
    now = utcnow()
    with zipfile.ZipFile(out, "w", allowZip64=True) as archive_zip:
        for start in range(0, len(student_ids), CHUNK):
            for archive in load_archives(session, student_ids[start:start + CHUNK], campaign):
                name = names.of(archive)
                digest = hashlib.sha256()
                with archive_zip.open(_entry(name, now), "w") as entry:
                    result = render_archive(archive, _Hashing(entry, digest), font_file=font_file, fetch=fetch)
                manifest.append(f"{digest.hexdigest()}  {name}\n")
                missing_total += len(result.missing)
                index_rows.append((archive.class_title, archive.name, archive.birth_date, archive.student_no,
                                   archive.stage, name, "；".join(f"{m.label}（{m.reason}）" for m in result.missing)))
            session.expunge_all()  # the chunk's students, records and files are let go
            progress(min(start + CHUNK, len(student_ids)))
        data = _index_workbook(index_rows)  # a few short texts per student: small even for a whole school
        archive_zip.writestr(_entry(INDEX_NAME, now), data)
        manifest.append(f"{hashlib.sha256(data).hexdigest()}  {INDEX_NAME}\n")
        archive_zip.writestr(_entry(MANIFEST_NAME, now), "".join(manifest).encode())
    return missing_total


def _index_workbook(rows: list[tuple]) -> bytes:
    """索引.xlsx: one row per student — class, name, birth date, student number, stage, file, missing documents."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("档案索引")
    header = []
    for text in INDEX_HEADERS:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append(_as_text(sheet, list(row)))  # a name or class title starting with "=" stays text
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


class _Hashing:
    """A write-only file that passes what it is given on and hashes it on the way."""

    def __init__(self, target, digest):
        self.target, self.digest = target, digest

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        return self.target.write(data)

    def flush(self) -> None:
        pass


def build_archive(job_id: int) -> str:
    """Build, store and open for download the archive of ``job_id``; returns the job's status afterwards."""
    objects = store()
    with current_app.extensions["db_sessionmaker"]() as session:
        expired = service.expire_archives(session, objects)  # the 24 hours of earlier archives: their objects go
        session.commit()
        if expired:
            log.info("%s archive(s) expired", expired)
        job = service.start_build(session, job_id)
        session.commit()
        if job is None:  # not queued any more: another worker took it, or it was given up
            found = session.get(ArchiveJob, job_id)
            return found.status if found is not None else "missing"
        started = time.monotonic()
        try:
            font = font_path(current_app.config.get("SHEET_FONT"))
            campaign = active_campaign(session, job.school_id)
            ids = service.student_ids(session, job)
            job.total = len(ids)
            session.commit()

            def progress(done: int) -> None:
                service.record_progress(session, job_id, done)
                session.commit()

            with tempfile.TemporaryFile() as tmp:
                missing = write_archive(session, ids, campaign, tmp, font_file=font, fetch=objects.get,
                                        progress=progress)
                size = tmp.tell()
                tmp.seek(0)
                key = new_object_key("archive", job.school_id, "zip")
                pending = ledger(session)
                if pending is not None:
                    pending.hold(session, key)  # committed on its own: a crash now leaves a record for the sweep
                try:
                    objects.put_file(key, tmp, "application/zip")
                except Exception:
                    if pending is not None:
                        pending.abandon(key)
                    raise
            job = session.get_one(ArchiveJob, job_id)
            service.finish_build(session, job, object_key=key, size_bytes=size, missing=missing)
            session.commit()
            log.info("archive %s built: %s students, %s bytes, %s missing document(s), %.1f s", job_id, len(ids),
                     size, missing, time.monotonic() - started)
        except Exception as exc:
            log.exception("archive %s failed", job_id)
            session.rollback()
            job = session.get_one(ArchiveJob, job_id)
            service.fail_build(session, job, f"{type(exc).__name__}")
            session.commit()
        return job.status
