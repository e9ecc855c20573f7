"""Masking phone and ID numbers in free text (log lines)."""

from datetime import date

import pytest

from confirm.masking import has_personal_number, mask_personal_numbers
from confirm.validation import make_resident_id

ID_18 = make_resident_id("520102", date(2016, 3, 1), 7, "1")


@pytest.mark.parametrize(("text", "masked"), [
    ("sent to 13800001234", "sent to *******1234"),
    ("phone=19912345678,", "phone=*******5678,"),
    (f"id {ID_18} refused", f"id {'*' * 14}{ID_18[-4:]} refused"),
    ("old id 520102160301123 ok", "old id ***********1123 ok"),
    ("Key (phone)=(13912340000) already exists", "Key (phone)=(*******0000) already exists"),
    ("身份证号52010220160301007X不符", "身份证号**************007X不符"),
    # with the country code, as Twilio's client logs the recipient
    ("Query Params: {'To': '+8613800138000'}", "Query Params: {'To': '**********8000'}"),
    ("Messages.json?To=%2B8613800138000&PageSize=20", "Messages.json?To=************8000&PageSize=20"),
    ("to 008613800138000", "to ***********8000"),
])
def test_phones_and_id_numbers_keep_only_their_last_four_characters(text, masked):
    assert mask_personal_numbers(text) == masked
    assert not has_personal_number(mask_personal_numbers(text))


@pytest.mark.parametrize("text", [
    "request 12345 took 1380 ms",  # short numbers
    "12800001234 is no mobile number",  # 12… is not a mainland mobile prefix
    "order 123456789012345678901",  # a longer run of digits is some other number
    "at 2026-12-01 14:37:10",
])
def test_other_numbers_are_left_as_they_are(text):
    assert mask_personal_numbers(text) == text
