"""Folding what Chinese input methods type into the ASCII our codes and numbers are made of.

A parent typing with a Chinese input method in full-width mode gets ``Ｄ３７６－ＵＧ２３`` for ``D376-UG23``, an
ideographic space for a space and one of several dashes (－—–‐﹣) for the hyphen. Every code and number field folds
its input with :func:`fold_code` before it is checked, so those are read as what the parent meant.
"""

from __future__ import annotations

# Full-width ASCII (U+FF01–U+FF5E) is the ASCII range shifted by 0xFEE0.
_TABLE: dict[int, int] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
# The ideographic space and the other spaces a phone keyboard or a copied SMS may carry.
_TABLE.update({cp: 0x20 for cp in (0x3000, 0x00A0, 0x2002, 0x2003, 0x2009, 0x202F)})
# Every dash a Chinese keyboard offers: the hyphen, the non-breaking hyphen, the figure, en and em dashes, the
# horizontal bar, the minus sign, the small and full-width hyphen-minus and the Chinese long dash (一 is a digit
# word, not a dash, so it is left alone).
_TABLE.update({cp: 0x2D for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63, 0xFF0D)})
# Characters that are not there at all as far as a code is concerned: zero-width spaces and joiners, the BOM.
_TABLE.update({cp: None for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF)})


def fold_code(text: object) -> str:
    """``text`` with full-width digits and letters, Chinese dashes and wide spaces folded to ASCII, ends stripped.

    Only these characters change: Chinese characters and everything else stay as they are, so a name or an address
    is never altered by it. ``None`` gives ``""``.
    """
    if text is None:
        return ""
    return str(text).translate(_TABLE).strip()


def fold_digits(text: object) -> str:
    """:func:`fold_code`, then spaces and dashes dropped: a number typed in groups (``138 0013－8000``) as digits."""
    return "".join(fold_code(text).replace("-", " ").split())
