"""Naming a class as people write it: 年级 + 班级 ("三年级 1班", "三年级1班"), the class alone ("1班") or its 班号.

The one parser every command and page uses to find a class by name. Pure: no database.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Protocol


class NamedClass(Protocol):
    grade: str
    name: str
    class_code: str | None


def normalized(text: str | None) -> str:
    """``text`` as compared: full-width letters and digits made ASCII (NFKC), no spaces, upper case."""
    return "".join(unicodedata.normalize("NFKC", text or "").split()).upper()


def spellings(school_class: NamedClass) -> set[str]:
    """Every way of naming ``school_class`` that finds it: 年级+班级, 班级, 班号."""
    names = {normalized(school_class.grade + school_class.name), normalized(school_class.name),
             normalized(school_class.class_code)}
    return names - {""}


def matching(classes: Iterable[NamedClass], wanted: str) -> list:
    """The classes that ``wanted`` names. A full 年级+班级 or a 班号 wins over a bare class name that several grades
    share, so "三年级1班" is one class even when every grade has a 1班."""
    key = normalized(wanted)
    if not key:
        return []
    classes = list(classes)
    exact = [c for c in classes if key in {normalized(c.grade + c.name), normalized(c.class_code)} - {""}]
    return exact or [c for c in classes if normalized(c.name) == key]
