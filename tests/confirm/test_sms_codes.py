"""SMS codes: the try limit holds even when requests race, because each try is counted in the database first."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from confirm.errors import FieldErrors, RecordedRefusal
from confirm.models import SmsChallenge
from confirm.services.sms_codes import MAX_ATTEMPTS, send_challenge, verify_challenge
from tests.fakes import SentMessages


@pytest.fixture
def challenge_and_code(session, key):
    outbox = SentMessages(session)
    challenge = send_challenge(session, phone="13912345678", purpose="test", payload={}, key=key)
    session.commit()
    return challenge.id, re.search(r"\d{6}", outbox.sent[0][1]).group()


def test_a_try_counted_by_a_parallel_request_is_seen_before_comparing(session, key, challenge_and_code):
    challenge_id, code = challenge_and_code
    stale = session.get(SmsChallenge, challenge_id)  # this request loaded the row with attempts = 0
    with Session(session.get_bind()) as other:  # meanwhile parallel requests used up every try
        other.get(SmsChallenge, challenge_id).attempts = MAX_ATTEMPTS
        other.commit()
    assert stale.attempts == 0
    with pytest.raises(FieldErrors) as refused:
        verify_challenge(session, challenge_id, code, purpose="test", key=key)  # even the right code
    assert "错误次数过多" in str(refused.value.errors[0][1])


def test_wrong_codes_count_down_and_the_right_code_works_once(session, key, challenge_and_code):
    challenge_id, code = challenge_and_code
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(RecordedRefusal) as first:
        verify_challenge(session, challenge_id, wrong, purpose="test", key=key)
    assert f"还可以尝试 {MAX_ATTEMPTS - 1} 次" in str(first.value.errors[0][1])
    session.commit()
    assert verify_challenge(session, challenge_id, code, purpose="test", key=key).used_at is not None
    session.commit()
    with pytest.raises(FieldErrors):
        verify_challenge(session, challenge_id, code, purpose="test", key=key)
