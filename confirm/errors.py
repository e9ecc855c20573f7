"""The domain's errors: one root, and FieldErrors that views map back onto form fields."""

from __future__ import annotations

from collections.abc import Iterable

from confirm.i18n import Message


class DomainError(Exception):
    """Root of every error the domain raises on purpose; carries a user-facing message."""

    def __init__(self, message: Message | str):
        self.message = message if isinstance(message, Message) else Message(message)
        super().__init__(str(self.message))


class FieldErrors(DomainError):
    """Input that failed validation: a list of (field name, message); field "" means the whole form."""

    def __init__(self, errors: Iterable[tuple[str, Message]]):
        self.errors = list(errors)
        first = self.errors[0][1] if self.errors else Message("输入有误")
        super().__init__(first)


class RecordedRefusal(FieldErrors):
    """A refusal whose bookkeeping (a counted failed try, a lock) must be committed, not rolled back."""


class UnreadablePhoto(DomainError):
    """The upload is not a photo (or PDF) the intake can take; the message says why, for the parent."""


class InvalidTransition(DomainError):
    """A workflow action that the current state does not allow."""
