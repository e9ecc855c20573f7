"""Every state in the platform as an enum, each next to the table of its allowed transitions.

The confirmation of a student moves by *actions* (``TRANSITIONS``); corrections, messages, batch photos and
imports move from status to status (``*_MOVES``). Changing a status anywhere goes through ``next_state`` or
``move``, so an illegal change is an error, never a silent no-op. Pure: no database, no web.
"""

from __future__ import annotations

from enum import StrEnum

from confirm.errors import InvalidTransition
from confirm.i18n import N_, Message


def allowed_values(enum: type[StrEnum] | tuple[StrEnum, ...]) -> str:
    """The SQL list of an enum's values (or of some of them), for the CHECK constraint that guards its column."""
    return ", ".join(f"'{member.value}'" for member in enum)


# --- the confirmation of one student ----------------------------------------------------------------------------


class State(StrEnum):
    """State of one student's confirmation in one campaign."""

    OPEN = "open"  # not submitted yet
    SUBMITTED = "submitted"  # 待审核
    RETURNED = "returned"  # 已退回
    APPROVED = "approved"  # 已通过


class Action(StrEnum):
    """What someone does to a confirmation."""

    SUBMIT = "submit"
    APPROVE = "approve"
    RETURN = "return"
    REOPEN = "reopen"


TRANSITIONS: dict[tuple[State, Action], State] = {
    (State.OPEN, Action.SUBMIT): State.SUBMITTED,
    (State.RETURNED, Action.SUBMIT): State.SUBMITTED,
    (State.SUBMITTED, Action.APPROVE): State.APPROVED,
    (State.SUBMITTED, Action.RETURN): State.RETURNED,
    (State.APPROVED, Action.REOPEN): State.RETURNED,
}

EDITABLE_STATES = frozenset({State.OPEN, State.RETURNED})


def next_state(current: State | str, action: Action) -> State:
    """The state after ``action``; raises InvalidTransition when the table does not allow it."""
    current = State(current)
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise InvalidTransition(
            Message(N_("当前状态（%(state)s）不能执行该操作"), {"state": STAGE_LABELS[Stage(current.value)]})
        ) from None


class Stage(StrEnum):
    """Where a student stands in the campaign, as the head teacher counts it."""

    UNREGISTERED = "unregistered"  # 未注册
    REGISTERED = "open"  # 已注册未提交 (a parent is linked, nothing submitted)
    SUBMITTED = "submitted"  # 待审核
    RETURNED = "returned"  # 已退回
    KEY_RETURNED = "key_returned"  # 关键信息被退回: the sheet is approved, a key-data change needs a new proof
    APPROVED = "approved"  # 已通过


STAGE_LABELS: dict[Stage, str] = {
    Stage.UNREGISTERED: N_("未注册"),
    Stage.REGISTERED: N_("已注册未提交"),
    Stage.SUBMITTED: N_("待审核"),
    Stage.RETURNED: N_("已退回"),
    Stage.KEY_RETURNED: N_("关键信息被退回"),
    Stage.APPROVED: N_("已通过"),
}


class Submission(StrEnum):
    """How a signed sheet reached the platform (recorded on the event of each submission)."""

    PARENT = "parent"  # the parent's own upload
    ON_BEHALF = "on_behalf"  # 班主任代传: the head teacher photographed the family's paper sheet
    BATCH = "batch"  # a photo of a batch, matched to the student by the sheet's QR code
    BATCH_MANUAL = "batch_manual"  # a photo of a batch the head teacher filed by its 拍照上传号


SUBMISSION_LABELS: dict[Submission, str] = {
    Submission.PARENT: N_("家长提交"),
    Submission.ON_BEHALF: N_("班主任代传"),
    Submission.BATCH: N_("批量拍照（按二维码自动匹配）"),
    Submission.BATCH_MANUAL: N_("批量拍照（班主任手动归档）"),
}


# Stages in which the family still has something to do, and reminders may be sent.
REMINDER_STAGES = (Stage.UNREGISTERED, Stage.REGISTERED, Stage.RETURNED, Stage.KEY_RETURNED)


def stage_of(state: State | str | None, has_parent: bool, *, key_data_returned: bool = False) -> Stage:
    """The stage shown for a student whose confirmation is in ``state`` (``key_data_returned``: an approved sheet
    with a key-data correction the school turned down, waiting for the family)."""
    if state == State.APPROVED and key_data_returned:
        return Stage.KEY_RETURNED
    if state and state != State.OPEN:
        return Stage(state)
    return Stage.REGISTERED if has_parent else Stage.UNREGISTERED


# --- statuses that move from one to the next ---------------------------------------------------------------------


def move(current: StrEnum | str, target: StrEnum, moves: dict) -> StrEnum:
    """``target`` when ``moves`` allows going there from ``current``; InvalidTransition otherwise."""
    kind = type(target)
    if target not in moves.get(kind(current), frozenset()):
        raise InvalidTransition(Message(N_("这项已经处理过了，不能再执行该操作")))
    return target


class CorrectionStatus(StrEnum):
    """A requested change of one field, from the parent's draft to the record."""

    DRAFT = "draft"  # typed by the parent, not handed in yet (or handed back by a return)
    SUBMITTED = "submitted"  # handed in with the signed sheet
    APPLIED = "applied"  # written into the record
    PENDING_ADMIN = "pending_admin"  # key data: the head teacher passed the sheet; the school admin decides
    # key data the school admin passed, when the campaign needs the district's approval (关键数据变更核办)
    PENDING_DISTRICT = "pending_district"
    REJECTED = "rejected"  # key data turned down (school or district): the family sends a new proof or withdraws it
    WITHDRAWN = "withdrawn"  # the family withdrew a turned-down key-data correction: the record stays as it was


CORRECTION_MOVES: dict[CorrectionStatus, frozenset[CorrectionStatus]] = {
    CorrectionStatus.DRAFT: frozenset({CorrectionStatus.DRAFT, CorrectionStatus.SUBMITTED}),
    CorrectionStatus.SUBMITTED: frozenset({CorrectionStatus.DRAFT, CorrectionStatus.APPLIED,
                                           CorrectionStatus.PENDING_ADMIN}),
    CorrectionStatus.PENDING_ADMIN: frozenset({CorrectionStatus.APPLIED, CorrectionStatus.REJECTED,
                                               CorrectionStatus.PENDING_DISTRICT}),
    CorrectionStatus.PENDING_DISTRICT: frozenset({CorrectionStatus.APPLIED, CorrectionStatus.REJECTED}),
    CorrectionStatus.APPLIED: frozenset(),
    CorrectionStatus.REJECTED: frozenset({CorrectionStatus.PENDING_ADMIN, CorrectionStatus.WITHDRAWN}),
    CorrectionStatus.WITHDRAWN: frozenset(),
}

# A correction in one of these states changed the record during the campaign (applied) or is still to be decided:
# a re-import must not silently undo the one nor drop the other.
CAMPAIGN_CHANGES = (CorrectionStatus.APPLIED, CorrectionStatus.PENDING_ADMIN, CorrectionStatus.PENDING_DISTRICT,
                    CorrectionStatus.SUBMITTED, CorrectionStatus.DRAFT)


class MessageStatus(StrEnum):
    """One SMS in the outbox."""

    QUEUED = "queued"  # waiting to be sent (now, or at ``scheduled_for`` after a temporary failure)
    SCHEDULED = "scheduled"  # held until the morning (quiet hours)
    SENDING = "sending"  # handed to the provider; saved before the provider is asked
    SENT = "sent"
    FAILED = "failed"  # for good: a bad number, a refusal, or too many tries
    SKIPPED = "skipped"  # no longer needed (the student moved on before it went out)


MESSAGE_MOVES: dict[MessageStatus, frozenset[MessageStatus]] = {
    MessageStatus.QUEUED: frozenset({MessageStatus.SENDING, MessageStatus.SKIPPED, MessageStatus.FAILED}),
    MessageStatus.SCHEDULED: frozenset({MessageStatus.SENDING, MessageStatus.SKIPPED}),
    # a sender that died mid-send leaves SENDING: the next one asks the provider, then SENT or QUEUED again
    MessageStatus.SENDING: frozenset({MessageStatus.SENT, MessageStatus.QUEUED, MessageStatus.FAILED}),
    MessageStatus.SENT: frozenset(),
    MessageStatus.FAILED: frozenset(),
    MessageStatus.SKIPPED: frozenset(),
}
# Messages that are, or are about to be, out: they count against the per-phone and daily limits.
MESSAGE_ACTIVE = (MessageStatus.QUEUED, MessageStatus.SCHEDULED, MessageStatus.SENDING, MessageStatus.SENT)


class MessageKind(StrEnum):
    """What a message is for."""

    REMINDER = "reminder"  # chasing a family that has something to do
    INVITATION = "invitation"  # a personal registration link
    NOTICE = "notice"  # an outcome: a returned sheet, a key-data decision, a code reset, a phone change
    CODE = "code"  # a one-time SMS code
    PASSWORD = "password"  # a temporary password


OUTREACH_KINDS = (MessageKind.REMINDER, MessageKind.INVITATION)  # the kinds the per-phone and daily limits govern


class BatchItemStatus(StrEnum):
    """One photo of a head teacher's batch upload."""

    PENDING = "pending"  # uploaded, waiting to be matched
    MATCHED = "matched"  # filed under the student its QR code names
    NO_QR = "no_qr"  # no QR code of ours: waits for the teacher to file it by upload number
    OTHER_CLASS = "other_class"
    OLD_VERSION = "old_version"
    DUPLICATE = "duplicate"
    UNREADABLE = "unreadable"
    REFUSED = "refused"  # the quality gate refused it: waits for the teacher (file with a reason, or discard)
    ASSIGNED = "assigned"  # filed by the teacher by hand
    DISCARDED = "discarded"


BATCH_WAITING = (BatchItemStatus.NO_QR, BatchItemStatus.REFUSED)  # their raw photo is kept for the teacher
BATCH_FILED = (BatchItemStatus.MATCHED, BatchItemStatus.ASSIGNED)


class BatchGroup(StrEnum):
    """How the batch results page groups its photos."""

    WAITING = "waiting"  # 待手动处理: the teacher files it by upload number (or with a reason), or discards it
    FILED = "filed"  # matched by its QR code, or filed by hand
    REFUSED = "refused"  # not usable here: another class, an old sheet, a repeat, unreadable, or discarded
    PENDING = "pending"  # still being matched


BATCH_GROUP_OF: dict[BatchItemStatus, BatchGroup] = {
    **{status: BatchGroup.WAITING for status in BATCH_WAITING},
    **{status: BatchGroup.FILED for status in BATCH_FILED},
    BatchItemStatus.PENDING: BatchGroup.PENDING,
    **{status: BatchGroup.REFUSED for status in (BatchItemStatus.OTHER_CLASS, BatchItemStatus.OLD_VERSION,
                                                 BatchItemStatus.DUPLICATE, BatchItemStatus.UNREADABLE,
                                                 BatchItemStatus.DISCARDED)},
}
BATCH_GROUP_LABELS: dict[BatchGroup, str] = {
    BatchGroup.WAITING: N_("待手动处理"), BatchGroup.FILED: N_("已归档"), BatchGroup.REFUSED: N_("未能使用"),
    BatchGroup.PENDING: N_("处理中"),
}
BATCH_MOVES: dict[BatchItemStatus, frozenset[BatchItemStatus]] = {
    BatchItemStatus.PENDING: frozenset(set(BatchItemStatus) - {BatchItemStatus.PENDING, BatchItemStatus.ASSIGNED,
                                                                 BatchItemStatus.DISCARDED}),
    BatchItemStatus.NO_QR: frozenset({BatchItemStatus.ASSIGNED, BatchItemStatus.DISCARDED}),
    BatchItemStatus.REFUSED: frozenset({BatchItemStatus.ASSIGNED, BatchItemStatus.DISCARDED}),
    **{status: frozenset() for status in (BatchItemStatus.MATCHED, BatchItemStatus.OTHER_CLASS,
                                          BatchItemStatus.OLD_VERSION, BatchItemStatus.DUPLICATE,
                                          BatchItemStatus.UNREADABLE, BatchItemStatus.ASSIGNED,
                                          BatchItemStatus.DISCARDED)},
}


class ConflictChoice(StrEnum):
    """Which value a re-import keeps for a field the running campaign changed and the file says otherwise.

    Not a status: the admin may switch either way, for one field or the whole file, until the import is committed.
    """

    PLATFORM = "platform"  # keep the value on the platform (the default: the file is older than the campaign)
    FILE = "file"  # take the file's value


class ImportStatus(StrEnum):
    """One import of a student file."""

    CHECKED = "checked"  # clean; the file is kept until the admin confirms
    COMMITTED = "committed"
    REJECTED = "rejected"  # errors found, or superseded by the committed run of the same file


IMPORT_MOVES: dict[ImportStatus, frozenset[ImportStatus]] = {
    ImportStatus.CHECKED: frozenset({ImportStatus.REJECTED}),
    ImportStatus.COMMITTED: frozenset(),
    ImportStatus.REJECTED: frozenset(),
}


class RepeatState(StrEnum):
    """A guarded request (see RepeatGuard): running, its effect committed, or its answer kept for a repeat."""

    RUNNING = "running"
    COMMITTED = "committed"  # the effect is saved; the answer is on its way
    ANSWERED = "answered"


REPEAT_MOVES: dict[RepeatState, frozenset[RepeatState]] = {
    RepeatState.RUNNING: frozenset({RepeatState.COMMITTED, RepeatState.ANSWERED}),
    RepeatState.COMMITTED: frozenset({RepeatState.ANSWERED}),
    RepeatState.ANSWERED: frozenset(),
}


class ArchiveScope(StrEnum):
    """What one electronic archive (电子档案) covers."""

    CLASS = "class"
    SCHOOL = "school"


class ArchiveStatus(StrEnum):
    """An archive ZIP, from the request to its download link running out."""

    QUEUED = "queued"  # requested; waits for the worker (or for the end of the request's response)
    BUILDING = "building"  # the worker is writing the students' PDFs
    READY = "ready"  # stored; downloadable until ``expires_at``
    FAILED = "failed"  # the build stopped (``error`` says why); the admin may ask again
    EXPIRED = "expired"  # past its 24 hours: the object is deleted


ARCHIVE_OPEN = (ArchiveStatus.QUEUED, ArchiveStatus.BUILDING)  # at most one of these per scope
ARCHIVE_MOVES: dict[ArchiveStatus, frozenset[ArchiveStatus]] = {
    ArchiveStatus.QUEUED: frozenset({ArchiveStatus.BUILDING, ArchiveStatus.FAILED}),
    # a worker that died mid-build leaves BUILDING until the job is given up as stale (FAILED)
    ArchiveStatus.BUILDING: frozenset({ArchiveStatus.READY, ArchiveStatus.FAILED}),
    ArchiveStatus.READY: frozenset({ArchiveStatus.EXPIRED}),
    ArchiveStatus.FAILED: frozenset(),
    ArchiveStatus.EXPIRED: frozenset(),
}
