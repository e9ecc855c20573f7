"""Ports to the outside world: SMS, object storage and the photo intake. Backends live outside the domain core."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from confirm.i18n import Message
    from confirm.models import Campaign, Student
    from confirm.services.proofs import ProofUpload
    from confirm.sheets import SheetRef


class Notifier(Protocol):
    """Sends a text message to a mobile phone (only the outbox's sender calls it)."""

    def send(self, phone: str, text: str) -> str | None:
        """Send ``text`` to ``phone``; returns the provider's message id. Raises SmsError on failure."""

    def find_sent(self, phone: str, text: str, since: datetime) -> str | None:
        """The provider's id of ``text`` sent to ``phone`` since ``since``, if it went out (an attempt cut short)."""


class StoredObject(Protocol):
    """One object as a storage listing shows it."""

    @property
    def key(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def last_modified(self) -> datetime:
        """When the object was written (timezone-aware)."""


class ObjectStore(Protocol):
    """Private object storage (S3 or a local directory)."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``."""

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> None:
        """Store the rest of the open file ``source`` under ``key`` without reading it all into memory."""

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; KeyError when there is none."""

    def open_object(self, key: str) -> BinaryIO:
        """The object under ``key`` as a stream to read from; KeyError when there is none."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when it is already gone)."""

    def exists(self, key: str) -> bool:
        """True when ``key`` is stored."""

    def list_objects(self, prefix: str = "") -> Iterable[StoredObject]:
        """Every stored object whose key starts with ``prefix``."""

    def check(self) -> None:
        """Raise when the storage cannot be reached."""


class Photo(Protocol):
    """A photo as the intake re-encoded it (metadata gone, orientation applied), with its thumbnail."""

    data: bytes
    thumbnail: bytes
    width: int
    height: int
    sha256: str
    content_type: str


class PhotoVerdict(Protocol):
    """What the intake found in a sheet photo; no ``reasons`` means it is accepted."""

    image: Photo
    qr: str | None
    reasons: list[Message]

    @property
    def is_accepted(self) -> bool: ...

    def figures(self) -> dict:
        """The quality figures recorded with the stored file."""


class PhotoExaminer(Protocol):
    """The photo intake. Each method raises UnreadablePhoto for a file that is not a usable photo (or PDF)."""

    def sheet_of(self, data: bytes, student: Student, campaign: Campaign, *,
                 qr_required: bool | None = None, for_staff: bool = False) -> PhotoVerdict:
        """Judge ``data`` as ``student``'s signed sheet (by default a QR code is needed as the campaign says);
        ``for_staff``: a head teacher uploads it, and the reasons address the teacher."""

    def any_sheet(self, data: bytes) -> PhotoVerdict:
        """Judge ``data`` as a sheet of whoever its QR code names (batch uploads)."""

    def sheet_ref(self, qr: str | None) -> SheetRef | None:
        """The sheet a decoded QR text names, or None when there is none or it is not one of ours."""

    def qr_of(self, verdict: PhotoVerdict) -> str | None:
        """The photo's QR text, looked for even where the quality gate refused the photo without a look."""

    def proof(self, data: bytes) -> ProofUpload:
        """A proof document (a photo, sanitised, or a checked PDF) ready to store."""
