"""Who may own a case: the one rule for every adapter and for settings (a partnership's
``default_owner``). Pure.

Reminders and escalations go to the owner, so an owner that cannot be routed would make them
vanish into the local outbox.
"""

from __future__ import annotations

import re

# Slack user IDs: U (or W, Enterprise Grid) and at least 8 capitals and digits. Anything else
# (U123, a channel, "<!channel>") would be routed as a name nobody receives.
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{8,}")
# A plain, ASCII addr-spec with a dotted domain: what SMTP and the folder transport can use.
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_OWNER_MAX = 320  # the column's width, and RFC 5321's longest address


class InvalidOwner(ValueError):
    """A case owner that is neither a Slack user ID nor an e-mail address; one line."""


def is_email(value: str) -> bool:
    return bool(_EMAIL.fullmatch(value.strip()))


def check_owner(owner: str | None) -> str | None:
    """The owner cleaned of surrounding spaces, or InvalidOwner."""
    if owner is None:
        return None
    cleaned = owner.strip()
    if len(cleaned) <= _OWNER_MAX and (
        _SLACK_USER_ID.fullmatch(cleaned) or _EMAIL.fullmatch(cleaned)
    ):
        return cleaned
    raise InvalidOwner(
        f"owner {owner!r} is neither a Slack user ID (U or W and 8 or more capitals and digits, "
        "e.g. U0123ABCD) nor an e-mail address"
    )
