"""Reading referral forms: Word, PDF, e-mail bodies and whole messages, with no side effects.

``parse_referral(data, filename)`` returns a ``Referral`` (missing fields are warnings) or raises
``ReferralRejected(reason)``, which the mailbox watcher uses to quarantine a message with that
reason and the CLI prints as one line. It reads in a worker process under a CPU-time limit and
a wall-clock timeout (worker.py), so one hostile file costs seconds at most;
``read_referral`` is the same reading in this process, without that bound.
"""

from bot.core.referral_errors import ReferralRejected
from bot.core.referral import Child, Referral, Referrer
from handlers.referral.reader import read_referral, sniff
from handlers.referral.worker import parse_referral

__all__ = ["Child", "Referral", "ReferralRejected", "Referrer", "parse_referral", "read_referral", "sniff"]
