"""Translatable messages for the domain core, which must not import Flask-Babel.

Domain messages are written in Chinese (the product language) and marked with ``N_`` so that
``pybabel extract`` collects them; the web layer translates them at render time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def N_(text: str) -> str:
    """Mark ``text`` for extraction without translating it (translation happens in the web layer)."""
    return text


@dataclass(frozen=True)
class Message:
    """A user-facing message: a Chinese msgid plus %-style parameters."""

    text: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def render(self, gettext=None) -> str:
        """Return the message, translated by ``gettext`` when one is given (parameters that are messages too)."""
        template = gettext(self.text) if gettext else self.text
        if not self.params:
            return template
        return template % {k: v.render(gettext) if isinstance(v, Message) else v for k, v in self.params.items()}

    def __str__(self) -> str:
        return self.render()
