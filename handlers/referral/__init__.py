"""Reading referral forms: Word, PDF, e-mail bodies and whole messages, as pure functions.

``parse_referral(data, filename)`` returns a ``Referral`` (missing fields are warnings) or raises
``ReferralRejected(reason)``, which the mailbox watcher uses to quarantine a message with that
reason and the CLI prints as one line.
"""

from handlers.referral.errors import ReferralRejected
from handlers.referral.model import Child, Referral, Referrer
from handlers.referral.reader import parse_referral, sniff

__all__ = ["Child", "Referral", "ReferralRejected", "Referrer", "parse_referral", "sniff"]
