"""Masking of personal numbers in free text (log lines): mainland mobile numbers and resident ID numbers.

Pure: no logging, no Flask. Only the last 4 characters stay, enough to tell two log lines apart, too little to
identify a child or call a parent. A number is matched only where it is not part of a longer run of digits, so
amounts, timestamps and ids of other lengths are left as they are.
"""

from __future__ import annotations

import re

KEEP = 4  # characters kept at the end of a masked number

# 18-character resident ID (17 digits + digit or X), 15-digit old ID, 11-digit mobile 1[3-9]xxxxxxxxx.
_ID_18 = r"\d{17}[\dXx]"
_ID_15 = r"\d{15}"
# A mobile may carry the country code as SMS providers write it: +86…, 0086…, 86… or URL-encoded %2B86….
_MOBILE = r"(?:(?:\+|%2[Bb]|00)?86[- ]?)?1[3-9]\d{9}"
PERSONAL_NUMBER = re.compile(rf"(?<!\d)(?:{_ID_18}|{_ID_15}|{_MOBILE})(?!\d)")


def _mask(match: re.Match[str]) -> str:
    number = match.group(0)
    return "*" * (len(number) - KEEP) + number[-KEEP:]


def mask_personal_numbers(text: str) -> str:
    """``text`` with every mobile number and ID number replaced by asterisks but its last 4 characters."""
    return PERSONAL_NUMBER.sub(_mask, text)


def has_personal_number(text: str) -> bool:
    """True when ``text`` still holds a full mobile or ID number."""
    return PERSONAL_NUMBER.search(text) is not None
