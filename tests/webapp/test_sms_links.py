"""A message about a returned sheet or a returned key-data change links to the page where the parent acts on it,
and every message with a link stays within two SMS parts."""

from __future__ import annotations

import pytest

from confirm.services.outbox import render_sms
from tests.webapp.test_teacher_review import hand_in, logged_in

# A Chinese SMS holds 70 characters; a longer one is sent in parts of 67, and each part is billed.
SMS_PART = 67
MOST_PARTS = 2
# The longest inputs we expect: a long school name, a three-character name, a 7-digit student id on a real domain.
LONG_SCHOOL = "贵州省黔东南苗族侗族自治州某某县第一民族中学"
SUBMIT_LINK = "https://xjqr.example.edu.cn/parent/students/1234567/submit"
RECORD_LINK = "https://xjqr.example.edu.cn/parent/students/1234567"


@pytest.mark.parametrize(("template", "params"), [
    ("sheet_returned", {"student_name": "欧阳明", "link": SUBMIT_LINK}),
    ("key_data_rejected", {"student_name": "欧阳明", "field": "公民身份号码", "link": RECORD_LINK}),
    ("reminder_returned", {"school": LONG_SCHOOL, "student_name": "欧阳明", "link": SUBMIT_LINK,
                           "deadline": "12月31日"}),
    ("reminder_key_returned", {"school": LONG_SCHOOL, "student_name": "欧阳明", "link": RECORD_LINK,
                               "deadline": "12月31日"}),
    ("reminder_open", {"school": LONG_SCHOOL, "student_name": "欧阳明", "link": RECORD_LINK, "deadline": "12月31日"}),
])
def test_messages_with_a_link_fit_in_two_sms_parts(template, params):
    text = render_sms(template, **params)
    assert params["link"] in text
    assert len(text) <= SMS_PART * MOST_PARTS, (len(text), text)


def test_the_returned_sheet_sms_links_to_the_upload_page_which_shows_the_reason(app, db, world, outbox):
    student = world.students_a[0]
    hand_in(app, db, world, student, world.parent.id)
    teacher = logged_in(app, world.teacher.username)
    teacher.post(f"/teacher/students/{student.id}/return", data={"reason": "缺少家长签字"})
    (phone, text), = outbox
    link = f"{app.config['PUBLIC_BASE_URL']}/parent/students/{student.id}/submit"
    assert phone == world.parent.phone and link in text
    parent = logged_in(app, world.parent.platform_no)
    page = parent.get(link.removeprefix(app.config["PUBLIC_BASE_URL"]))
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "缺少家长签字" in body and 'name="sheet"' in body


def test_a_signed_out_parent_following_the_link_lands_on_the_upload_page_after_signing_in(app, db, world, outbox):
    from tests.factories import PASSWORD

    student = world.students_a[0]
    hand_in(app, db, world, student, world.parent.id)
    logged_in(app, world.teacher.username).post(f"/teacher/students/{student.id}/return", data={"reason": "照片不清楚"})
    path = f"/parent/students/{student.id}/submit"
    client = app.test_client()
    to_login = client.get(path)
    assert to_login.status_code == 302 and "/login" in to_login.headers["Location"]
    signed_in = client.post(to_login.headers["Location"], data={"login": world.parent.platform_no,
                                                                "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.headers["Location"].endswith(path)


@pytest.mark.parametrize(("stage", "path"), [("returned", "/parent/students/{id}/submit"),
                                              ("key_returned", "/parent/students/{id}")])
def test_reminders_to_returned_families_link_to_the_page_that_needs_action(app, world, stage, path):
    from confirm.states import Stage
    from webapp.shared.links import message_link, public_base_url

    student = world.students_a[0]
    with app.test_request_context():
        link = message_link(world.campaign)(student, Stage(stage))
        base = public_base_url()  # PUBLIC_BASE_URL, or in development the address the request came to
    assert link == base + path.format(id=student.id)
