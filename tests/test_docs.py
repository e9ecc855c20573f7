"""The guides say what the app does: every setting they or the app's messages name is read by the configuration,
and every setting the configuration reads is in the README's one table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Upper-case words in the guides that are not settings of the app: SQL, the test runner's own variables, apt's.
NOT_SETTINGS = {"TRUNCATE", "UPDATE", "DELETE", "INSERT", "SELECT", "TEST_DATABASE_URL", "TEST_PG_URL",
                "TEST_REDIS_URL", "CI", "SCREENSHOT_DIR", "DEBIAN_FRONTEND", "MAX_CONTENT_LENGTH",
                "PERMANENT_SESSION_LIFETIME", "PORT", "HOST"}


def settings_read() -> set[str]:
    """The environment variables webapp/config.py reads."""
    source = (ROOT / "webapp" / "config.py").read_text()
    return set(re.findall(r'(?:os\.environ\.get|_bool|_float|_int)\("([A-Z][A-Z0-9_]+)"', source))


def readme_table() -> set[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration (environment variables)", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def named_in(text: str) -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]{2,})(?:=[^`]*)?`", text)) - NOT_SETTINGS


def test_every_setting_the_app_reads_is_in_the_readme_table():
    assert settings_read() - readme_table() == set()
    assert readme_table() - settings_read() == set(), "the table lists settings nothing reads"


def test_every_setting_a_guide_names_is_read_by_the_configuration():
    for doc in DOCS:
        unknown = named_in(doc.read_text()) - settings_read()
        assert not unknown, f"{doc.relative_to(ROOT)} names settings the app does not read: {sorted(unknown)}"


def test_every_setting_a_message_of_the_app_names_is_read_by_the_configuration():
    sources = [*ROOT.glob("webapp/**/*.py"), *ROOT.glob("confirm/**/*.py"), *ROOT.glob("scripts/*.sh")]
    for path in sources:
        for text in re.findall(r"\"[^\"\n]*\"|'[^'\n]*'", path.read_text()):
            named = set(re.findall(r"\b(?:set |or )([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b", text))
            unknown = named - settings_read() - NOT_SETTINGS
            assert not unknown, f"{path.relative_to(ROOT)} tells operators to set {sorted(unknown)}"
