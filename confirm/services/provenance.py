"""How a sheet reached the review: who handed it in (parent, 班主任代传, batch photo), the reason a refused photo
was used anyway, and the batch it came from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import BatchItem, Confirmation, ConfirmationEvent, ParentAccount, StaffUser, StoredFile
from confirm.states import SUBMISSION_LABELS, State, Submission


@dataclass(frozen=True)
class Provenance:
    """The latest submission of a confirmation as the reviewer needs to see it."""

    via: Submission
    by: str  # the head teacher's name, or the parent's platform number
    at: datetime | None
    override_reason: str | None  # the quality gate refused the photo; the head teacher used it anyway, because…
    batch_id: int | None = None
    batch_position: int | None = None  # the photo's place in its batch (1 for the first)

    @property
    def label(self) -> str:
        """The msgid naming how the sheet came (家长提交, 班主任代传, 批量拍照…)."""
        return SUBMISSION_LABELS[self.via]


def submission_via(event: ConfirmationEvent) -> Submission:
    """How the sheet of a submission event came; events from before it was recorded go by who acted."""
    if event.via:
        return Submission(event.via)
    return Submission.PARENT if event.actor_kind == "parent" else Submission.ON_BEHALF


def event_label(event: ConfirmationEvent, labels: dict[str, str]) -> str:
    """The msgid of one history line: a submission says how the sheet came, other events use ``labels``."""
    if event.to_state == State.SUBMITTED.value:
        return SUBMISSION_LABELS[submission_via(event)]
    return labels.get(event.to_state, event.to_state)


def provenance_of(session: Session, confirmation: Confirmation | None) -> Provenance | None:
    """How the confirmation's current sheet came; None before any submission. At most three small queries (none
    for the account already loaded)."""
    if confirmation is None:
        return None
    submits = [e for e in confirmation.events if e.to_state == State.SUBMITTED.value]
    if not submits:
        return None
    event = submits[-1]
    via = submission_via(event)
    # by primary key: no statement when the page has loaded the account already (the linked parents, the teacher)
    if event.actor_kind == "parent":
        account = session.get(ParentAccount, event.actor_id)
        by = account.platform_no if account else ""
    else:
        account = session.get(StaffUser, event.actor_id)
        by = account.display_name if account else ""
    file_id = event.sheet_file_id or confirmation.sheet_file_id
    override, batch = None, None
    if file_id is not None:
        quality = session.scalar(select(StoredFile.quality).where(StoredFile.id == file_id)) or {}
        override = quality.get("override_reason")
        if via in (Submission.BATCH, Submission.BATCH_MANUAL):
            batch = session.execute(select(BatchItem.batch_id, BatchItem.position)
                                    .where(BatchItem.file_id == file_id).limit(1)).first()
    return Provenance(via, by, event.at, override, batch[0] if batch else None, batch[1] if batch else None)
