"""The privacy notice a guardian agrees to at registration: its version, recorded with the account's consent.

The notice itself is the page ``/privacy`` (templates/auth/privacy.html). Change ``NOTICE_VERSION`` whenever what it
says changes, so each account's recorded consent names the text that was shown.
"""

from __future__ import annotations

NOTICE_VERSION = "2026-12-01"
