"""The one exception a referral reader raises for input it cannot use."""

from __future__ import annotations


class ReferralRejected(Exception):
    """Input that is not a usable referral form.

    ``reason`` is one line, safe to show to an officer and to store with a quarantined message:
    it says why (encrypted PDF, automatic reply, decompression bomb...) and never quotes the
    form's contents, so no child's details leak into logs or quarantine notes.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason
