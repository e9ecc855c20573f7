"""The direction of imports (docs/architecture.md): the domain core knows nothing of the web or the photo intake,
the intake nothing of the web; views commit only through the unit of work; no web code sleeps."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "confirm": ("webapp", "uploads", "flask", "flask_babel", "flask_login", "flask_wtf", "werkzeug", "boto3",
                "botocore", "twilio", "PIL", "cv2", "zxingcpp", "rq", "redis"),
    "uploads": ("webapp", "flask"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_from_the_layers_above_it(package):
    offending = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for module in imported_modules(path):
            if module.split(".")[0] in FORBIDDEN[package]:
                offending.append(f"{path.relative_to(ROOT)}: {module}")
    assert not offending


def test_only_the_unit_of_work_the_jobs_and_the_commands_commit():
    # the repeat guard's claims are its own short transactions: every process must see a token the moment it is taken
    allowed = {ROOT / "webapp" / "unit_of_work.py", ROOT / "webapp" / "repeat_guard.py"}
    committing = []
    for path in sorted((ROOT / "webapp").rglob("*.py")) + sorted((ROOT / "confirm").rglob("*.py")):
        if path in allowed or path.parent.name in ("cli", "jobs"):
            continue
        if re.search(r"\.commit\(\)", path.read_text()):
            committing.append(str(path.relative_to(ROOT)))
    assert committing == []


def test_no_code_a_request_runs_sleeps():
    sleeping = [str(p.relative_to(ROOT)) for pkg in ("webapp", "confirm", "uploads") for p in (ROOT / pkg).rglob("*.py")
                if p.parent.name != "cli" and "time.sleep(" in p.read_text()]
    assert sleeping == []


def test_roles_are_named_by_their_enum_only():
    literal = re.compile(r"[\"']school_admin[\"']")
    found = [str(p.relative_to(ROOT)) for pkg in ("webapp", "confirm", "uploads", "templates")
             for p in (ROOT / pkg).rglob("*") if p.suffix in (".py", ".html") and p.name != "roles.py"
             and literal.search(p.read_text())]
    assert found == []


def test_every_date_a_school_sees_is_beijings():
    """The server's clock is UTC: from 00:00 to 08:00 in Beijing its date is yesterday's. Dates come from
    confirm.clock.local_today, never from the server's own date."""
    server_dates = re.compile(r"\bdate\.today\(\)|\bdatetime\.now\(\)|\bdatetime\.today\(\)|utcnow\(\)\.date\(\)")
    found = [str(p.relative_to(ROOT)) for pkg in ("webapp", "confirm", "uploads") for p in (ROOT / pkg).rglob("*.py")
             if server_dates.search(p.read_text())]
    assert found == []
