"""The confirmation workflow: the one table of allowed transitions, and the stage a head teacher counts."""

from __future__ import annotations

import itertools

import pytest

from confirm.errors import DomainError, InvalidTransition
from confirm.i18n import Message
from confirm.states import (
    EDITABLE_STATES,
    STAGE_LABELS,
    TRANSITIONS,
    Action,
    Stage,
    State,
    next_state,
    stage_of,
)

ALLOWED = {
    (State.OPEN, Action.SUBMIT): State.SUBMITTED,
    (State.RETURNED, Action.SUBMIT): State.SUBMITTED,
    (State.SUBMITTED, Action.APPROVE): State.APPROVED,
    (State.SUBMITTED, Action.RETURN): State.RETURNED,
    (State.APPROVED, Action.REOPEN): State.RETURNED,
}
ILLEGAL = [pair for pair in itertools.product(State, Action) if pair not in ALLOWED]


def test_transition_table_is_exactly_the_documented_workflow():
    assert TRANSITIONS == ALLOWED


@pytest.mark.parametrize(("state", "action", "after"), [(s, a, t) for (s, a), t in ALLOWED.items()])
def test_allowed_transition_gives_the_next_state(state, action, after):
    assert next_state(state, action) is after


@pytest.mark.parametrize(("state", "action", "after"), [(s, a, t) for (s, a), t in ALLOWED.items()])
def test_state_given_as_stored_text_is_accepted(state, action, after):
    assert next_state(state.value, action) is after


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_every_illegal_transition_raises_invalid_transition(state, action):
    with pytest.raises(InvalidTransition) as raised:
        next_state(state, action)
    assert isinstance(raised.value, DomainError)
    assert isinstance(raised.value.message, Message)
    # The message names the current state in words a parent or teacher understands.
    assert STAGE_LABELS[Stage(state.value)] in str(raised.value)


def test_eleven_of_the_sixteen_state_action_pairs_are_illegal():
    assert len(ILLEGAL) == len(State) * len(Action) - len(ALLOWED) == 11


def test_approved_and_submitted_records_cannot_be_submitted_again():
    for state in (State.SUBMITTED, State.APPROVED):
        with pytest.raises(InvalidTransition):
            next_state(state, Action.SUBMIT)


def test_unknown_state_text_is_refused():
    with pytest.raises(ValueError):
        next_state("deleted", Action.SUBMIT)


def test_parents_may_edit_only_open_and_returned_confirmations():
    assert frozenset({State.OPEN, State.RETURNED}) == EDITABLE_STATES


@pytest.mark.parametrize(
    ("state", "has_parent", "stage"),
    [
        (None, False, Stage.UNREGISTERED),
        (None, True, Stage.REGISTERED),
        ("", True, Stage.REGISTERED),
        (State.OPEN, False, Stage.UNREGISTERED),
        (State.OPEN, True, Stage.REGISTERED),
        ("open", True, Stage.REGISTERED),
        (State.SUBMITTED, True, Stage.SUBMITTED),
        (State.RETURNED, True, Stage.RETURNED),
        (State.APPROVED, True, Stage.APPROVED),
        ("approved", False, Stage.APPROVED),  # a decision counts even if the parent link was removed later
    ],
)
def test_stage_of_maps_state_and_parent_link_to_the_counted_stage(state, has_parent, stage):
    assert stage_of(state, has_parent) is stage


def test_registered_stage_is_stored_as_open_so_sql_and_python_agree():
    assert Stage.REGISTERED.value == State.OPEN.value
    assert {s.value for s in State} <= {s.value for s in Stage}


def test_every_stage_has_a_chinese_label():
    assert set(STAGE_LABELS) == set(Stage)
    assert STAGE_LABELS[Stage.UNREGISTERED] == "未注册"
    assert STAGE_LABELS[Stage.RETURNED] == "已退回"
    assert STAGE_LABELS[Stage.APPROVED] == "已通过"
