"""The confirmation workflow: states, actions and the one table of allowed transitions."""

from __future__ import annotations

from enum import StrEnum

from confirm.errors import InvalidTransition
from confirm.i18n import N_, Message


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
    APPROVED = "approved"  # 已通过


STAGE_LABELS: dict[Stage, str] = {
    Stage.UNREGISTERED: N_("未注册"),
    Stage.REGISTERED: N_("已注册未提交"),
    Stage.SUBMITTED: N_("待审核"),
    Stage.RETURNED: N_("已退回"),
    Stage.APPROVED: N_("已通过"),
}


def stage_of(state: State | str | None, has_parent: bool) -> Stage:
    """The stage shown for a student whose confirmation is in ``state``."""
    if state and state != State.OPEN:
        return Stage(state)
    return Stage.REGISTERED if has_parent else Stage.UNREGISTERED
