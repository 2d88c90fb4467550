"""Tick boxes written as text: ☒ ☐ ☑ ✓ ✔ X [X] [ ] (X) |_| and words such as Yes.

Readers turn Word check boxes (content controls and legacy form fields) into ☒/☐ so that from
here on a tick box is always text.
"""

from __future__ import annotations

import re

CHECKED = "☒"
UNCHECKED = "☐"

_CHECKED_TOKENS = re.compile(r"^(?:\[\s*[xX✓✔✗✘*]\s*\]|\(\s*[xX✓✔]\s*\)|[☒☑✓✔✗✘■⌧xX])$")
_UNCHECKED_TOKENS = re.compile(r"^(?:\[\s*\]|\(\s*\)|\|_\||[☐□❑❒_])$")
_BOX = re.compile(
    r"\[\s*[xX✓✔✗✘*]?\s*\]|\(\s*[xX✓✔]?\s*\)|\|_\||[☒☑☐□■⌧✓✔✗✘]|(?<![\w'’])[xX](?![\w'’])"
)
_YES = {"yes", "y", "ticked", "true", "selected", "checked"}
_NO = {"no", "n", "false", "unticked", "not ticked", "n/a"}


def is_checked_token(token: str) -> bool:
    return bool(_CHECKED_TOKENS.match(token.strip()))


def mark_state(text: str) -> bool | None:
    """Whether a cell holding only a mark is ticked: True, False, or None when it holds text."""
    stripped = text.strip()
    if not stripped:
        return False
    if _CHECKED_TOKENS.match(stripped):
        return True
    if _UNCHECKED_TOKENS.match(stripped):
        return False
    lowered = stripped.lower().rstrip(".")
    if lowered in _YES:
        return True
    if lowered in _NO:
        return False
    return None


def has_box(text: str) -> bool:
    return bool(_BOX.search(text))


def segments(text: str, marks_first: bool) -> list[tuple[str, bool | None]]:
    """Split ``text`` at tick-box marks into (label, ticked) pairs.

    ``marks_first``: "[X] Learning Request [ ] SIN" (the mark precedes its label) versus
    "Learning Request ☒ SIN ☐" (it follows). The caller tries both and keeps the reading whose
    labels it recognises.
    """
    tokens = list(_BOX.finditer(text))
    if not tokens:
        return [(text.strip(), None)]
    out: list[tuple[str, bool | None]] = []
    if marks_first:
        head = text[: tokens[0].start()].strip()
        if head:
            out.append((head, None))
        for i, tok in enumerate(tokens):
            end = tokens[i + 1].start() if i + 1 < len(tokens) else len(text)
            out.append((text[tok.end() : end].strip(), is_checked_token(tok.group())))
    else:
        start = 0
        for tok in tokens:
            out.append((text[start : tok.start()].strip(), is_checked_token(tok.group())))
            start = tok.end()
        tail = text[start:].strip()
        if tail:
            out.append((tail, None))
    return out


def strip_marks(text: str) -> tuple[str, bool | None]:
    """The text without a single leading or trailing mark, and that mark's state (None: none)."""
    tokens = list(_BOX.finditer(text))
    if len(tokens) != 1:
        return text.strip(), None
    tok = tokens[0]
    before, after = text[: tok.start()].strip(), text[tok.end() :].strip()
    if before and after:
        return text.strip(), None
    return (before or after), is_checked_token(tok.group())
