"""English translation: the catalogue is complete and current, and the language switch works.

The catalogue tests read translations/en/LC_MESSAGES/messages.po directly. The web tests need the compiled
.mo; ``make test`` compiles it, and the ``compiled_catalogue`` fixture below does it too when the .mo is
missing or older than the .po, so a plain ``pytest`` run works.
"""

from __future__ import annotations

import os
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "translations"
PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
# The same keywords as `make extract-messages` (-k _l -k N_) on top of babel's defaults (_, gettext, ...).
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "N_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


def _read_po():
    with PO.open("rb") as f:
        return read_po(f)


def _msgid(message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _strings(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogue():
    """Compile the English catalogue when the .mo is missing or stale (the .mo is build output)."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        catalog = _read_po()
        fd, tmp = tempfile.mkstemp(dir=MO.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write_mo(f, catalog)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the .mo is an ordinary build file
            os.replace(tmp, MO)  # atomic: a concurrent run never reads a half-written file
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


# --- the catalogue ------------------------------------------------------------------------------------


def test_every_message_is_translated_and_none_is_fuzzy():
    catalog = _read_po()
    messages = [m for m in catalog if m.id]
    assert messages, "the English catalogue is empty"
    untranslated = [_msgid(m) for m in messages if not all(s.strip() for s in _strings(m.string))]
    fuzzy = [_msgid(m) for m in messages if m.fuzzy]
    assert not untranslated, f"{len(untranslated)} messages have no English translation: {untranslated}"
    assert not fuzzy, f"fuzzy translations need checking: {fuzzy}"
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy"


def test_placeholders_in_translations_match_the_message_ids():
    mismatched = []
    for m in _read_po():
        if not m.id:
            continue
        expected = set(PLACEHOLDER.findall(_msgid(m)))
        for text in _strings(m.string):
            found = set(PLACEHOLDER.findall(text))
            if found != expected:
                mismatched.append((_msgid(m), sorted(expected), sorted(found)))
            elif expected:
                text % dict.fromkeys(expected, 1)  # no stray "%" that would break the formatting
    assert not mismatched, f"placeholders differ (msgid, expected, translation): {mismatched}"


def _directory_filter(path: str) -> bool:
    # Babel's default filter also skips "_"-prefixed directories, which would silently drop
    # templates/_partials and templates/_macros; only hidden directories and caches are skipped here.
    name = os.path.basename(path)
    return not (name.startswith(".") or name in {"__pycache__", "node_modules"})


def test_catalogue_is_up_to_date_with_the_sources():
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    extracted = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=_directory_filter
    ):
        msgid = message if isinstance(message, str) else message[0]
        extracted.setdefault((msgid, context), f"{filename}:{lineno}")
    assert extracted, "nothing was extracted; is babel.cfg right?"
    catalog = _read_po()
    missing = sorted(
        f"{where}: {msgid}" for (msgid, context), where in extracted.items() if catalog.get(msgid, context) is None
    )
    assert not missing, (
        f"{len(missing)} messages in the sources are missing from {PO.relative_to(ROOT)}; run "
        "`make extract-messages` and translate them:\n" + "\n".join(missing)
    )


# --- the web UI -----------------------------------------------------------------------------------------


class _VisibleText(HTMLParser):
    """Text a person sees or hears on a page: text nodes and the placeholder/label/alt attributes."""

    ATTRIBUTES = ("placeholder", "aria-label", "title", "alt")

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._skip: list[str] = []  # open elements whose text is not checked

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style") or (tag == "a" and attrs.get("lang") == "zh-CN"):  # the "中文" switch
            self._skip.append(tag)
        if self._skip:
            return
        self.texts += [attrs[a] for a in self.ATTRIBUTES if attrs.get(a)]
        if tag in ("input", "button") and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.texts.append(attrs["value"])

    def handle_endtag(self, tag):
        if self._skip and self._skip[-1] == tag:
            self._skip.pop()

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def visible_texts(html: str) -> list[str]:
    parser = _VisibleText()
    parser.feed(html)
    return parser.texts


@pytest.fixture
def english(client):
    client.set_cookie("lang", "en")
    return client


def test_login_page_in_english_has_no_chinese(english):
    r = english.get("/login")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<html lang="en">' in html
    texts = visible_texts(html)
    assert "Log in" in texts  # the heading and the button
    assert '<button type="submit" class="btn primary">Log in</button>' in html
    assert "Password" in texts
    assert "Platform number / mobile number / username" in texts
    chinese = [t for t in texts if CJK.search(t)]
    assert not chinese, f"untranslated text on the English login page: {chinese}"
    assert "中文" in html  # the switch back to Chinese


def test_register_page_in_english_has_no_chinese(english):
    texts = visible_texts(english.get("/register").get_data(as_text=True))
    assert "Parent registration" in texts
    assert "Student registration code" in texts
    chinese = [t for t in texts if CJK.search(t)]
    assert not chinese, f"untranslated text on the English registration page: {chinese}"


def test_domain_messages_are_shown_in_english(english, world, auth):
    r = auth.login(world.parent.phone, "wrong-password")
    assert "The account or password is incorrect." in r.get_data(as_text=True)
    r = english.post("/register", data={"consent": "y", "code": "ABCD-2345", "student_name": "张三", "phone": "123"})
    assert "Please enter a valid 11-digit mobile number." in r.get_data(as_text=True)


def test_parent_record_page_in_english(english, world, auth):
    auth.login(world.parent.platform_no, PASSWORD)
    student = world.students_a[0]
    html = english.get(f"/parent/students/{student.id}").get_data(as_text=True)
    texts = visible_texts(html)
    for text in ("Basic information", "Family member or guardian 1", "Date of birth", "Key information",
                 "Save corrections", "Save and upload the signed form", "Log out", "Registered, not submitted"):
        assert text in texts, text
    assert student.name in texts  # record data stays as it is
    for untranslated in ("学生个人基础信息", "出生日期", "关键信息", "保存更正", "已注册未提交"):
        assert untranslated not in html


def test_default_language_is_chinese(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "登录" in visible_texts(html)
    assert "Log in" not in html
    assert "English" in html  # the switch to English


def test_language_switch_sets_the_cookie_and_returns_to_the_page(client):
    r = client.get("/lang/en?next=/login")
    assert r.status_code == 302
    assert r.headers["Location"] == "/login"
    cookie = client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en"
    assert cookie.http_only
    assert "Log in" in visible_texts(client.get("/login").get_data(as_text=True))
    client.get("/lang/zh_CN?next=/login")
    assert client.get_cookie("lang").value == "zh_CN"
    assert "登录" in visible_texts(client.get("/login").get_data(as_text=True))


def test_unknown_locale_is_404_and_sets_no_cookie(client):
    assert client.get("/lang/xx?next=/login").status_code == 404
    assert client.get_cookie("lang") is None


def test_unknown_locale_in_the_cookie_falls_back_to_chinese(client):
    client.set_cookie("lang", "xx")
    assert "登录" in visible_texts(client.get("/login").get_data(as_text=True))


@pytest.mark.parametrize(
    "target",
    ["https://evil.example", "https://evil.example/login", "//evil.example", "///evil.example",
     "/\\evil.example", "\\\\evil.example", "javascript:alert(1)", "evil.example"],
)
def test_language_switch_never_redirects_off_site(client, target):
    r = client.get("/lang/en", query_string={"next": target})
    assert r.status_code == 302
    location = r.headers["Location"]
    # Browsers read "\" as "/" in http(s) URLs, so "/\evil.example" would leave the site too.
    parts = urlsplit(location.replace("\\", "/"))
    assert not parts.scheme and not parts.netloc, location
    assert location.startswith("/") and not location.replace("\\", "/").startswith("//"), location
    assert client.get_cookie("lang").value == "en"
