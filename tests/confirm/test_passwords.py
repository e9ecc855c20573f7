"""The password policy (issue 12 item 4): long enough, not a common password, nothing the guesser knows about the
account — and no composition rules."""

from __future__ import annotations

import pytest

from confirm.errors import FieldErrors
from confirm.passwords import PersonalFacts, check_new_password, common_passwords, password_problem

FACTS = PersonalFacts(phones=("13812345678",), numbers=("90001234", "teacher_wang"), birth_dates=("20150315",))


def reason(password: str, facts: PersonalFacts = FACTS) -> str | None:
    problem = password_problem(password, facts)
    return problem.text if problem is not None else None


def test_the_shipped_list_holds_at_least_ten_thousand_common_passwords():
    assert len(common_passwords()) >= 10_000
    assert {"123456", "password", "qwerty", "12345678", "11111111"} <= common_passwords()


@pytest.mark.parametrize("password", ["12345678", "11111111", "password", "Password", "PASSWORD", "qwertyuiop",
                                      "iloveyou"])
def test_a_common_password_is_refused_as_too_common(password):
    assert "太常见" in reason(password)


@pytest.mark.parametrize("password", ["short", "1234567", "密码太短了"])
def test_a_password_under_eight_characters_is_refused_with_the_length(password):
    assert reason(password) == "密码至少 %(n)s 位"


@pytest.mark.parametrize("password, why", [
    ("13812345678", "手机号"), ("wo13812345678", "手机号"),
    ("90001234", "平台号"), ("my90001234pass", "平台号"), ("Teacher_Wang2026", "平台号或用户名"),
    ("20150315", "出生日期"), ("baobao150315", "出生日期"), ("happy0315day", "出生日期"),
])
def test_the_accounts_own_phone_numbers_and_a_childs_birth_date_are_refused(password, why):
    assert why in reason(password)


def test_birth_dates_stored_with_dashes_are_recognised_too():
    assert "出生日期" in reason("xiaoming20150315", PersonalFacts(birth_dates=("2015-03-15",)))


@pytest.mark.parametrize("password", ["correct horse battery staple", "我家的猫叫小花花", "alllowercaseletters",
                                      "tea-at-five-oclock", "2015年春天很暖和"])
def test_a_passphrase_is_accepted_without_composition_rules(password):
    assert password_problem(password, FACTS) is None


def test_both_the_policy_and_the_confirmation_are_reported_on_their_fields():
    with pytest.raises(FieldErrors) as refused:
        check_new_password("12345678", "12345679")
    fields = [field for field, _ in refused.value.errors]
    assert fields == ["password", "password_confirm"]
