"""Consent at registration (issue 12 item 7): a short privacy notice, linked from registration; the guardian's
consent is required, and recorded with the account (when, and which version of the notice)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from confirm.invitations import Invitation, make_invitation_token
from confirm.models import AuditEvent, ParentAccount, SmsChallenge
from confirm.privacy import NOTICE_VERSION
from tests.webapp.conftest import sms_code

NOT_TICKED = "请阅读《个人信息保护说明》，并勾选同意后再继续"


def test_the_privacy_notice_says_what_is_collected_why_who_sees_it_and_how_long_it_is_kept(app, client):
    app.config["RETENTION_PROOF_DAYS"] = 45
    page = client.get("/privacy")

    body = page.get_data(as_text=True)
    assert page.status_code == 200
    for heading in ("我们收集哪些信息", "为什么收集", "谁能看到", "保存多久"):
        assert heading in body
    assert "导出核查结果 45 天后删除" in body and NOTICE_VERSION in body


def test_the_privacy_notice_is_in_english_for_english_readers(client):
    client.set_cookie("lang", "en")
    body = client.get("/privacy").get_data(as_text=True)
    assert "Privacy notice" in body and "How long it is kept" in body and "我们收集" not in body


@pytest.mark.parametrize("path", ["/register"])
def test_registration_links_the_notice_and_asks_for_consent(client, path):
    body = client.get(path).get_data(as_text=True)
    assert 'href="/privacy"' in body and 'name="consent"' in body


def test_registration_without_consent_is_refused_with_a_clear_message_and_keeps_what_was_typed(client, world, issue,
                                                                                              outbox, db):
    student = world.students_a[1]
    code = issue(student)

    refused = client.post("/register", data={"code": code, "student_name": student.name, "phone": "13912345678"})

    body = refused.get_data(as_text=True)
    assert refused.status_code == 200 and NOT_TICKED in body
    assert f'value="{code}"' in body and f'value="{student.name}"' in body and 'value="13912345678"' in body
    assert outbox == [] and db.scalar(select(SmsChallenge.id)) is None



def test_a_short_phone_number_and_no_consent_are_both_told_in_one_try(client, world, issue, outbox):
    student = world.students_a[1]

    refused = client.post("/register", data={"code": issue(student), "student_name": student.name,
                                             "phone": "1391234567"})

    body = refused.get_data(as_text=True)
    assert refused.status_code == 200 and NOT_TICKED in body and "请输入正确的 11 位手机号码" in body
    assert outbox == []

def test_the_consent_is_recorded_with_the_new_account_and_in_the_audit_trail(client, world, issue, outbox, db):
    student = world.students_a[1]
    client.post("/register", data={"code": issue(student), "student_name": student.name, "phone": "13912345678",
                                   "consent": "y"})
    client.post("/register/verify", data={"sms_code": sms_code(outbox), "password": "our family tea garden",
                                          "password_confirm": "our family tea garden"})

    account = db.scalar(select(ParentAccount).where(ParentAccount.phone == "13912345678"))
    assert account.privacy_notice_version == NOTICE_VERSION and account.privacy_consented_at is not None
    registered = db.scalar(select(AuditEvent).where(AuditEvent.action == "parent.registered"))
    assert registered.detail["privacy_notice"] == NOTICE_VERSION


def test_an_existing_account_records_the_consent_given_for_another_child(client, world, issue, outbox, db):
    second = world.students_a[1]
    client.post("/register", data={"code": issue(second), "student_name": second.name, "phone": world.parent.phone,
                                   "consent": "y"})
    client.post("/register/verify", data={"sms_code": sms_code(outbox)})

    account = db.get(ParentAccount, world.parent.id)
    db.refresh(account)
    assert account.privacy_notice_version == NOTICE_VERSION


def test_an_invitation_without_consent_is_refused_too(app, client, world, outbox):
    student = world.students_a[1]
    token = make_invitation_token(app.extensions["invite_key"], Invitation(student.id, world.campaign.id))
    page = client.get("/register", query_string={"invite": token}).get_data(as_text=True)
    assert 'href="/privacy"' in page

    refused = client.post("/register", query_string={"invite": token},
                          data={"phone": student.member(1).value("phone")})

    assert refused.status_code == 200 and NOT_TICKED in refused.get_data(as_text=True) and outbox == []
