"""Sender authentication: is an allow-listed From domain really who sent the message?

Anyone can write ``From: someone@nhs.net``. The partnership's own receiving server checks SPF,
DKIM and DMARC and records the verdicts in an ``Authentication-Results`` header (RFC 8601) at
the top of the message. Only that header is believed, and only if it is the topmost one: a
sender can put any number of Authentication-Results headers into a message before it reaches
the partnership's server, but never one above the header that server adds on arrival.

The message passes when that header says, for the From domain:
- ``dmarc=pass`` (its ``header.from``, when given, is the From domain); or
- ``spf=pass`` with ``smtp.mailfrom`` (or ``smtp.helo``) aligned with the From domain; or
- ``dkim=pass`` with ``header.d`` aligned with the From domain.
Alignment is DMARC's relaxed alignment, approximated without the Public Suffix List: the two
domains are equal, or one is a subdomain of the other (``trust.nhs.net`` aligns with
``nhs.net``; ``evilnhs.net`` does not). Nothing else counts: Exchange's ``compauth=pass`` is a
Microsoft heuristic (it can pass mail that fails DMARC), and ``dmarc=bestguesspass`` is a
guess for domains without a DMARC record.

The server is named by ``SAFEGUARD_TRUSTED_AUTHSERV_ID`` (or a mailbox's
``trusted_authserv_id``): the authserv-id it writes first in its header. Exchange Online writes
its header without an authserv-id (``Authentication-Results: spf=pass (sender IP is ...)
smtp.mailfrom=nhs.net; dkim=pass ...; dmarc=pass action=none header.from=nhs.net;...``). Such a
header is believed only when the setting is ``EXCHANGE_ONLINE`` (``mx.microsoft.com``, the
authserv-id Exchange writes in its ARC-Authentication-Results), and, like any other, only as
the topmost header: a header without an id is never taken for another server's, and with any
other setting it is a header nobody vouches for.

With no authserv-id configured nothing is checked (the From domain alone decides, as before),
and ``safeguard-bot status`` says sender authentication is off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings

EXCHANGE_ONLINE = "mx.microsoft.com"
_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*([A-Za-z0-9_-]+)")
_PROPERTY = re.compile(r"([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)")


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str  # for the human who reviews it: domains and results only, never content


def trusted_id_for(settings: Settings, mailbox: str | None) -> str | None:
    """The authserv-id for mail from this mailbox: its own setting, else the installation's."""
    if mailbox:
        for box in settings.mailboxes:
            if box.name == mailbox and box.trusted_authserv_id:
                return box.trusted_authserv_id
    return settings.trusted_authserv_id


def status(settings: Settings) -> dict[str, object]:
    """For ``safeguard-bot status``: on (and whose headers are read) or off."""
    ids = sorted({i for i in [settings.trusted_authserv_id, *(b.trusted_authserv_id for b in settings.mailboxes)] if i})
    if not ids:
        return {"enabled": False, "authserv_ids": [],
                "text": "Sender authentication: off (SAFEGUARD_TRUSTED_AUTHSERV_ID is not set: "
                        "an allow-listed From domain is trusted as it stands)"}
    partial = settings.trusted_authserv_id is None
    text = f"Sender authentication: on (Authentication-Results from {', '.join(ids)})"
    if partial:
        text += "; off for mailboxes without trusted_authserv_id"
    return {"enabled": True, "authserv_ids": ids, "text": text}


def _aligned(domain: str, other: str | None) -> bool:
    if not other:
        return False
    other = other.strip().strip('"').lower().rstrip(".")
    if "@" in other:
        other = other.rsplit("@", 1)[1]
    return domain == other or domain.endswith("." + other) or other.endswith("." + domain)


def _parse(value: str) -> tuple[str | None, list[tuple[str, str, dict[str, str]]]]:
    """(authserv-id or None for Exchange's form, [(method, result, properties)])."""
    text = " ".join(_COMMENT.sub(" ", _COMMENT.sub(" ", value)).split())
    parts = [p.strip() for p in text.split(";")]
    authserv: str | None = None
    if parts and "=" not in parts[0]:
        authserv = parts[0].split()[0].lower() if parts[0].split() else ""
        parts = parts[1:]
    results = []
    for part in parts:
        found = _RESULT.match(part)
        if not found:
            continue
        props = {k.lower(): v.strip('"') for k, v in _PROPERTY.findall(part[found.end():])}
        results.append((found.group(1).lower(), found.group(2).lower(), props))
    return authserv, results


def check(msg: Message, from_domain: str | None, trusted_id: str) -> Verdict:
    """Whether the trusted server's (topmost) Authentication-Results vouches for ``from_domain``."""
    trusted = trusted_id.strip().lower()
    headers = msg.get_all("Authentication-Results") or []
    if not headers:
        return Verdict(False, f"sender not authenticated: no Authentication-Results from {trusted_id}")
    authserv, results = _parse(str(headers[0]))
    exchange = authserv is None and trusted == EXCHANGE_ONLINE
    if authserv != trusted and not exchange:
        named = authserv if authserv is not None else "a server that gives no authserv-id"
        return Verdict(False, f"sender not authenticated: the topmost Authentication-Results is from "
                              f"{named}, not {trusted_id}")
    if not from_domain:
        return Verdict(False, "sender not authenticated: no From domain")
    domain = from_domain.lower().rstrip(".")
    for method, result, props in results:
        if result != "pass":
            continue
        if method == "dmarc" and ("header.from" not in props or _aligned(domain, props["header.from"])):
            return Verdict(True, "dmarc=pass")
        if method == "spf" and (_aligned(domain, props.get("smtp.mailfrom")) or _aligned(domain, props.get("smtp.helo"))):
            return Verdict(True, "aligned spf=pass")
        if method == "dkim" and (_aligned(domain, props.get("header.d")) or _aligned(domain, props.get("header.i"))):
            return Verdict(True, "aligned dkim=pass")
    said = ", ".join(f"{m}={r}" for m, r, _ in results if m in ("dmarc", "spf", "dkim")) or "no verdict"
    return Verdict(False, f"sender not authenticated: {trusted_id} reports {said} for {domain} "
                          "(no DMARC pass, no aligned SPF or DKIM pass)")
