"""Sheet QR codes: render one for printing, and find and decode one in a parent's photo."""

from __future__ import annotations

import io

import segno


def render_qr_png(payload: str, *, box_size: int = 10, border: int = 4, error: str = "q") -> bytes:
    """A black-on-white PNG of ``payload`` with ``box_size`` pixels per module and a ``border``-module quiet zone."""
    code = segno.make(payload, error=error, micro=False)
    out = io.BytesIO()
    code.save(out, kind="png", scale=box_size, border=border)
    return out.getvalue()
