"""The guides say what the app does: every setting they or the app's messages name is read by the configuration,
and every setting the configuration reads is in the README's one table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Upper-case words in the guides that are not settings of the app: SQL, the test runner's own variables, apt's.
NOT_SETTINGS = {"TRUNCATE", "UPDATE", "DELETE", "INSERT", "SELECT", "TEST_DATABASE_URL", "TEST_PG_URL",
                "TEST_REDIS_URL", "TEST_WORKERS", "CI", "SCREENSHOT_DIR", "DEBIAN_FRONTEND", "MAX_CONTENT_LENGTH",
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


# --- every command, address and button a guide names exists ----------------------------------------------------

GUIDES = sorted((ROOT / "docs").glob("*.md"))


def code_of(text: str) -> str:
    """The guide's code: `spans` and ``` blocks (prose such as "make sure" is not a command)."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return "\n".join([*blocks, *spans])


def commands_named(text: str) -> set[str]:
    """``flask …`` commands (the first word after the app option) a guide names."""
    return set(re.findall(r"\bflask(?: --app \S+)? ([a-z][a-z_-]*)", code_of(text)))


def make_targets_named(text: str) -> set[str]:
    return set(re.findall(r"(?:^|[\s(])make ([a-z][a-z-]*)", code_of(text)))


def paths_named(text: str) -> set[str]:
    """The site addresses a guide names, as written (``/teacher/students/<id>/messages``)."""
    return {p.rstrip(".,;:)") for p in re.findall(r"(?<![\w.])(/[a-z][\w./<>-]*)", code_of(text))}


def labels_named(text: str) -> set[str]:
    """The labels a guide tells the reader to look for or press: 「…」, **“…”** and 点“…”."""
    found = set(re.findall(r"「([^」\n]+)」", text))
    found |= set(re.findall(r"\*\*“([^”\n]+)”\*\*", text))
    found |= set(re.findall(r"(?:点|点击|按)\s*“([^”\n]+)”", text))
    return {label.strip() for label in found}


def app_texts() -> str:
    """Every text the app can show: its templates, the messages of the catalogue and the demo data (`make run`)."""
    templates = "\n".join(p.read_text() for p in [*(ROOT / "templates").rglob("*.html"), ROOT / "confirm" / "demo.py"])
    catalogue = (ROOT / "translations" / "messages.pot").read_text()
    msgids = "\n".join(re.findall(r'^msgid "(.*)"$', catalogue, flags=re.M))
    return templates + "\n" + msgids


def test_every_command_a_guide_names_exists(app):
    commands = set(app.cli.list_commands(app.app_context())) | {"run", "shell", "routes", "db"}
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.M))
    for doc in GUIDES:
        text = doc.read_text()
        assert commands_named(text) - commands == set(), f"{doc.name} names flask commands that do not exist"
        assert make_targets_named(text) - targets == set(), f"{doc.name} names make targets that do not exist"


def test_every_address_a_guide_names_is_a_page_of_the_app(app):
    rules = [re.compile(re.sub(r"<[^>]+>", "<[^>/]+>", re.escape(r.rule).replace(r"\<", "<").replace(r"\>", ">"))
                        + "/?") for r in app.url_map.iter_rules()]
    areas = {r.rule.split("/")[1] for r in app.url_map.iter_rules()}
    for doc in GUIDES:
        ours = {p for p in paths_named(doc.read_text()) if p.split("/")[1] in areas}  # not /etc/…, /srv/…
        unknown = {p for p in ours if not any(rule.fullmatch(p) for rule in rules)}
        unknown = {p for p in unknown if not (p.startswith("/static/") and (ROOT / p.lstrip("/")).exists())}
        assert not unknown, f"{doc.name} names addresses the app does not have: {sorted(unknown)}"


def test_every_button_and_label_a_guide_names_is_on_a_page():
    texts = app_texts()
    for doc in GUIDES:
        missing = {label for label in labels_named(doc.read_text()) if label not in texts}
        assert not missing, f"{doc.name} names labels no page shows: {sorted(missing)}"


def test_the_checks_find_what_they_look_for():
    sample = ("点「重置注册码」，再点 **“保存”**；或点“退回给家长”。运行 `flask --app webapp print-sheets` 或 "
              "`make run`，打开 `/teacher/students/<id>/messages`。make sure\n```\nflask worker\n```")
    assert labels_named(sample) == {"重置注册码", "保存", "退回给家长"}
    assert commands_named(sample) == {"print-sheets", "worker"}
    assert make_targets_named(sample) == {"run"}
    assert paths_named(sample) == {"/teacher/students/<id>/messages"}
