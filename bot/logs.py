"""Logging for ``safeguard-bot run``: the one place the bot configures it.

Log lines carry references and counts, never a child's details. The bot's own modules log at the
configured level (``SAFEGUARD_LOG_LEVEL``). Libraries do not keep to that rule: at DEBUG,
slack_sdk logs every Web API request and response body (the case modal's ``views.open`` holds
the child's name, date of birth and NHS number), slack_bolt and the Socket Mode client log the
payloads Slack sends (a ``view_submission`` holds what the officer typed), websockets logs
frames, aiosmtplib logs the SMTP conversation (the message itself), and SQLAlchemy logs every
statement *with its parameters* at INFO. Setting the bot to DEBUG to chase a bug must not
switch all of that on, so, whatever the bot's own level:

- the loggers in ``LIBRARY_FLOORS`` are set to their floor (INFO, or WARNING where INFO already
  carries data), so they do not even build those records;
- every handler installed here carries ``LibraryFloor``, which drops a record from any logger
  outside the bot's own packages below INFO (or below its floor in ``LIBRARY_FLOORS``). Levels
  alone are not enough: slack_bolt copies the root logger's level onto each logger it creates
  (``slack_bolt.*`` and one named after the app), and a library not listed here still logs;
- imaplib's debug output, which it prints to stderr itself rather than logging, is switched off.

The bot never passes ``echo=`` to SQLAlchemy (that would add SQLAlchemy's own handler, outside
these filters).
"""

from __future__ import annotations

import imaplib
import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

OWN_PACKAGES = frozenset({"bot", "handlers", "scheduler", "store"})
LIBRARY_FLOOR = logging.INFO  # any library not listed below
LIBRARY_FLOORS: dict[str, int] = {
    "slack_sdk": logging.INFO,  # DEBUG: Web API bodies, Socket Mode envelopes
    "slack_bolt": logging.INFO,  # DEBUG: request bodies and listener payloads
    "aiohttp": logging.INFO,  # DEBUG: client and server internals (INFO: access lines, no bodies)
    "urllib3": logging.INFO,  # DEBUG: every URL with its query string
    "websockets": logging.INFO,  # DEBUG: every frame (Socket Mode payloads)
    "websocket": logging.INFO,  # websocket-client, the same
    "aiosmtplib": logging.INFO,  # DEBUG: the SMTP conversation, message data included
    "asyncio": logging.INFO,  # DEBUG (debug mode): reprs of callbacks and their arguments
    "charset_normalizer": logging.INFO,  # DEBUG: notes on the bytes of a referral body
    "docx": logging.INFO,
    "PIL": logging.INFO,
    "pypdf": logging.ERROR,  # its warnings can quote document text
    "sqlalchemy": logging.WARNING,  # INFO: every statement with its parameters
    "alembic": logging.WARNING,
    "apscheduler": logging.WARNING,
    "microsoft_teams": logging.INFO,  # DEBUG: activities as received (a case form's child details)
    "httpx": logging.WARNING,  # INFO: every Bot Connector request line
    "uvicorn": logging.WARNING,  # the Teams endpoint's server (access lines are off)
    "msal": logging.WARNING,
}
LOG_FILE = "safeguard-bot.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def floor_for(name: str) -> int:
    """The lowest level a record from logger ``name`` may be written at (0 for the bot's own)."""
    if name.split(".", 1)[0] in OWN_PACKAGES:
        return logging.NOTSET
    floor = LIBRARY_FLOOR
    best = ""
    for prefix, level in LIBRARY_FLOORS.items():
        if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > len(best):
            best, floor = prefix, max(level, LIBRARY_FLOOR)
    return floor


class LibraryFloor(logging.Filter):
    """Drops library records below their floor, whatever level their logger was given."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= floor_for(record.name)


def configure_logging(level: str | int, data_dir: Path, *, quiet: bool, log_file: Path | None = None,
                      max_bytes: int = 10 * 1024 * 1024, backups: int = 5) -> list[logging.Handler]:
    """Log to stderr (the journal, under systemd) at ``level`` for the bot's own modules and at
    most INFO for libraries; to a file only when one is asked for (``log_file``) or when the
    terminal chat is on screen (``quiet``: only warnings reach the screen, so everything else
    goes to ``<data_dir>/safeguard-bot.log``). A file is rotated at ``max_bytes`` with
    ``backups`` old files kept, so it never grows for ever (issue 16). Returns the handlers."""
    data_dir.mkdir(parents=True, exist_ok=True)
    target = log_file or (data_dir / LOG_FILE if quiet else None)
    formatter = logging.Formatter(FORMAT)
    screen = logging.StreamHandler(sys.stderr)
    screen.setLevel(logging.WARNING if quiet else level)
    handlers: list[logging.Handler] = [screen]
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        logfile = RotatingFileHandler(target, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        logfile.setLevel(level)
        handlers.append(logfile)
    root = logging.getLogger()
    root.setLevel(level)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(LibraryFloor())
        root.addHandler(handler)
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(floor)
    imaplib.Debug = 0  # type: ignore[attr-defined]  # prints protocol lines (mail) to stderr
    return handlers
