"""What intake says, and to whom: acknowledgement, rejection and the partnership's notices.

Pure text building. The rule for every message here: no child's details. The acknowledgement
goes back to the person who sent the form, but even so it names only the case reference, the
deadlines and the *labels* of missing fields; the channel and quarantine notices name the
sender's domain, never the child. Reasons never carry an attachment's file name (which might
be a child's name): the readers refer to attachments by position and type, and ``redact_reason``
removes any quoted name still found, as a second line of defence.

Everything here is plain text. Nothing is escaped for Slack (or anything else) here: the Slack
renderer (handlers/transports/slack.py) escapes every text it posts, once.

Why the channel notice names the sender's domain and not the form's "agency" field: that field
is free text typed by whoever sent the form, and anyone on the internet can send one (a From
address is easily forged). The channel is shared and its notices are read at a glance, so a
typed "agency" could say anything ("URGENT: open case SG-1 here", a link's text, a child's name
typed in the wrong box) under the bot's name. The domain has passed the allow-list
(``sender_domains``), it is short and has a shape a person cannot fill with a sentence, and it
says the same thing (which organisation the referral came from). The typed agency stays in the
case record, for officers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from bot.cases import CaseView
from bot.core.lifecycle import DeadlineState, DeadlineStatus
from scheduler.calendar import LONDON

REQUEST_LABELS = {
    "serious_incident_notification": "serious incident notification request",
    "learning_request": "learning request",
    None: "referral (request type not stated)",
}
# A quoted name as repr() writes it: either quote, with backslash escapes inside (a name with
# both ' and " is wrapped in ' with the inner one escaped, which a plain '.*?' stops short of).
_QUOTED_ATTACHMENT = re.compile(r"""attachment\s+(['"])(?:\\.|(?!\1)[^\\])*\1""", re.IGNORECASE | re.DOTALL)


def redact_reason(reason: str) -> str:
    """One line, with quoted attachment file names removed (they can name the child).

    A second line of defence only: the readers refer to attachments by position and type and
    never put a file name in a reason (handlers/referral/eml_reader.py). This still catches a
    reason recorded by an earlier release or a future reader that forgets.
    """
    text = _QUOTED_ATTACHMENT.sub("an attachment", reason)
    return " ".join(text.split())[:300]


def request_label(request_type: str | None) -> str:
    return REQUEST_LABELS.get(request_type, REQUEST_LABELS[None])


def when(moment: datetime) -> str:
    return moment.astimezone(LONDON).strftime("%a %d %b %Y at %H:%M")


def day(moment_or_date: object) -> str:
    return moment_or_date.strftime("%a %d %b %Y")  # type: ignore[attr-defined]


def open_deadlines(view: CaseView) -> list[DeadlineState]:
    return sorted(
        (s for s in view.deadlines if s.status is DeadlineStatus.OPEN), key=lambda s: s.deadline.due
    )


def _deadline_lines(view: CaseView) -> list[str]:
    lines = []
    for state in open_deadlines(view):
        d = state.deadline
        lines.append(f"- {d.label}: by {day(d.due)}")
        lines.append(f"  ({d.rule}; source: {d.source})")
    return lines


def _learning_note(request_type: str | None) -> list[str]:
    if request_type != "learning_request":
        return []
    return [
        "",
        "You sent a learning request. The partnership will decide whether this is a serious "
        "incident that must be notified to the Child Safeguarding Practice Review Panel. A "
        "learning request does not run the Panel notification clock; if the partnership "
        "assesses it as a serious incident, the notification deadlines run from the day the "
        "referral arrived.",
    ]


def acknowledgement(
    view: CaseView,
    *,
    partnership_name: str,
    request_type: str | None,
    received_at: datetime,
    warnings: Sequence[str],
    updated: bool,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    team_email: str | None = None,
) -> tuple[str, str]:
    """(subject, body) of the reply to the sender, in plain words: who has it, what happens
    next and whom to contact. The statutory detail (each deadline's rule and source) is in the
    attachment (statutory_detail), not here. No child details at all."""
    label = request_label(request_type)
    if updated:
        subject = f"[{view.reference}] Re-sent referral matched to case {view.reference}"
        opening = (
            f"Thank you. The form you sent on {when(received_at)} matches a referral we already "
            f"hold as case {view.reference} at the {partnership_name}, so no new case was "
            "opened; the case record has been updated from this copy. The deadlines are unchanged."
        )
    else:
        subject = f"[{view.reference}] Referral received: {label}"
        opening = (
            f"Thank you. Your {label} reached the {partnership_name} on {when(received_at)} and "
            f"has been opened as case {view.reference}. Please quote {view.reference} in any "
            "reply."
        )
    lines = [opening]
    steps = open_deadlines(view)
    if steps and not updated:
        lines += ["", "What happens next:"]
        lines.append("- A case officer at the partnership reads your referral and may contact you "
                     "for more information.")
        for state in steps[:3]:
            lines.append(f"- {state.deadline.label}: by {day(state.deadline.due)}.")
        lines.append(
            f"These dates count from {day(view.la_aware)}, the day your referral reached us; if "
            "the partnership knew of the incident earlier, an officer will correct it."
        )
        lines.append(
            f"The attached {view.reference}-deadlines.txt gives each step's statutory basis, and "
            f"{view.reference}-deadlines.ics adds the dates to a calendar."
        )
    lines += _learning_note(request_type)
    if warnings:
        lines += ["", "Missing or doubtful on the form (please reply with what you can):"]
        lines += [f"- {w}" for w in warnings]
    who = [p for p in (contact_name, contact_phone, team_email) if p]
    lines += ["", f"Contact: {', '.join(who)}." if who else
              "Contact: reply to this e-mail and the partnership team will answer."]
    lines += [
        "",
        "This is an automatic message from the partnership's referral mailbox. It repeats none "
        "of the child's details.",
    ]
    return subject, "\n".join(lines) + "\n"


def statutory_detail(view: CaseView, *, partnership_name: str) -> str:
    """The attachment beside the acknowledgement: every running deadline with its rule and
    its source (document and section). Reference and steps only, no child details."""
    lines = [f"Case {view.reference}: {partnership_name}",
             f"Deadlines counted from {day(view.la_aware)} (the day the LA became aware).", ""]
    lines += _deadline_lines(view) or ["No deadline is running."]
    return "\n".join(lines) + "\n"


def rejection(reason: str, *, received_at: datetime, quarantine_id: str) -> tuple[str, str]:
    """(subject, body) telling the sender their form could not be read, and what to do."""
    body = (
        f"We received your message on {when(received_at)} but could not read a referral form "
        f"in it:\n\n    {' '.join(reason.split())[:400]}\n\n"
        "No case has been opened from it yet. A member of the partnership team has been told "
        f"(reference {quarantine_id}) and will look at it. To avoid delay, please send the form "
        "again, in a new e-mail rather than a reply to this one, as an unprotected Word document "
        "(.docx), a PDF with selectable text (not a scan), or with the form's fields typed into "
        "the body of an e-mail.\n\n"
        "This is an automatic message from the partnership's referral mailbox.\n"
    )
    return f"Your referral could not be read ({quarantine_id})", body


def _sender_text(domain: str | None) -> str:
    """The sender's domain as one bounded line (it comes from a From header)."""
    text = " ".join((domain or "").split())[:100]
    return text or "an unknown sender"


def held_for_review(*, received_at: datetime, quarantine_id: str, reason: str | None) -> tuple[str, str]:
    """(subject, body) telling a referrer their message arrived and is with a person: for mail
    the bot could not process itself (it crashed on it, or will not read something that large).
    Not a verdict on the form, and never an internal error: ``reason`` is for the sender."""
    why = f" ({redact_reason(reason)})" if reason else ""
    body = (
        f"We received your message on {when(received_at)}. It could not be processed "
        f"automatically{why}, so no case has been opened from it yet. A member of the partnership "
        f"team has been told (reference {quarantine_id}) and will look at it and contact you if "
        "anything else is needed.\n\n"
        "This is an automatic message from the partnership's referral mailbox.\n"
    )
    return f"Your message was received ({quarantine_id})", body


def channel_notice(
    view: CaseView,
    *,
    request_type: str | None,
    sender_domain: str | None,
    mailbox: str,
    updated: bool,
    warnings_count: int,
) -> tuple[str, str]:
    """(subject, body) for the partnership's channel: reference, type, next deadline and the
    sending organisation, as the sender's domain (never the form's typed agency: see above)."""
    source = _sender_text(sender_domain)
    if updated:
        text = f"Re-sent referral from {source} matched to {view.reference}: case details refreshed."
        return f"[{view.reference}] Re-sent referral", text
    text = f"New case {view.reference}: {request_label(request_type)} from {source} (mailbox {mailbox})."
    nxt = view.next_deadline
    if nxt is not None:
        text += f" Next deadline: {nxt.deadline.label}, by {day(nxt.deadline.due)}."
    if request_type == "learning_request":
        text += " Learning request: decide whether notification is required."
    if warnings_count:
        text += f" The form has {warnings_count} gap(s); the sender has been asked."
    return f"[{view.reference}] New referral", text


def quarantine_notice(
    quarantine_id: str,
    *,
    reason: str,
    sender_domain: str | None,
    mailbox: str,
    received_at: datetime,
    sender_told: bool,
    told: str | None = None,
) -> tuple[str, str]:
    """(subject, body) telling a human a message needs looking at. Sender domain and reason only.
    ``told`` says what the sender was told, when it was not "it could not be read"."""
    if told is None:
        told = "The sender has been told it could not be read." if sender_told else "Nothing was sent to the sender."
    text = (
        f"Intake {quarantine_id}: a message from {_sender_text(sender_domain)} "
        f"(mailbox {mailbox}, received {when(received_at)}) was quarantined: "
        f"{redact_reason(reason)}. {told} It is in the mailbox's quarantine folder."
    )
    return f"[intake] Message quarantined ({quarantine_id})", text


# The subjects above, as they come back in a reply ("Re: ", "AW: ", "RE: Re: "...). A responder
# that does not thread (no In-Reply-To) still keeps the subject; that is how its answers to the
# bot's own messages are known. Keep in step with the subjects built in this module.
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|vs|fw|fwd|tr)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_OUR_SUBJECTS = re.compile(
    r"^(?:\[[A-Z][A-Z0-9]{0,7}-[A-Z0-9-]{1,20}\] (?:Referral received|Re-sent referral|New referral)"
    r"|Your referral could not be read \(Q-\d+\)"
    r"|Your message was received \(Q-\d+\)"
    r"|\[intake\] )"
)


def replies_to_our_subject(subject: str) -> bool:
    """Whether ``subject`` is a reply to (or forward of) one of the bot's own messages."""
    found = _REPLY_PREFIX.match(subject or "")
    return bool(found) and bool(_OUR_SUBJECTS.match(subject[found.end():].strip()))


def loop_summary(
    quarantine_ids: Sequence[str], *, sender_domain: str | None, mailbox: str, first: datetime, last: datetime
) -> tuple[str, str]:
    """(subject, body) of the one notice that stands for a sender's looping mail in an hour."""
    shown = ", ".join(quarantine_ids[:30]) + (" and more" if len(quarantine_ids) > 30 else "")
    text = (
        f"Intake: {len(quarantine_ids)} more message(s) from {sender_domain or 'an unknown sender'} "
        f"(mailbox {mailbox}) were quarantined between {when(first)} and {when(last)} without a "
        "notice each: they looked like a mail loop (automatic mail, or answers to the bot's own "
        f"messages) and none was answered. Quarantine ids: {shown}. They are in the mailbox's "
        "quarantine folder."
    )
    return f"[intake] {len(quarantine_ids)} more message(s) quarantined from {sender_domain or 'an unknown sender'}", text
