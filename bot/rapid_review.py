"""Rapid review service: the 15 working days as a run process on a case (issue 14).

Built on the one case service (bot/cases.py: the case, its milestones, its audit trail) and the
outbox (every e-mail is a row written in the same transaction as the change that caused it).
The rules (the timeline, late agencies, chasing, the sign-off rule, the progress line) are
bot/core/rapid_review.py's; the rows are store/rapid_review.py's; adapters (the CLI, the mail
intake, the sweep) only call this.

Privacy: agencies get the case reference and the child's initials unless the partnership sets
``share_child_details_with_agencies``; channels and the team mailbox get the reference, agency
names and counts only; returned files' names are never in a notice, a log or the audit log.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot.cases import CaseNotFound, CaseService
from bot.core.lifecycle import LifecycleError
from bot.core.rapid_review import (
    LATE,
    PARTNER_LABELS,
    PARTNER_ROLES,
    AgencyFacts,
    Progress,
    RapidReviewError,
    Timeline,
    agency_status,
    check_agencies,
    load_timeline,
    progress_line,
    step_done_on,
    to_chase,
    to_escalate,
)
from bot.core.text import fmt_day, initials
from bot.routing import Router
from bot.settings import PartnershipSettings
from scheduler.timescales import Milestone
from store import case_subjects as subject_repo
from store import cases as case_repo
from store import outbox as outbox_repo
from store import rapid_review as repo
from store.db import session_scope
from store.models import Case, RapidReview, RapidReviewAgency

# Tokens in subjects and Message-IDs: "[RR-1a2b3c4d-police]" asks an agency for its summary;
# "[RRS-1a2b3c4d-health]" asks a partner to sign off.
_SUBJECT_TOKEN = re.compile(r"\[(RRS?)-([0-9a-f]{8})-([a-z0-9][a-z0-9_-]{0,39})\]", re.IGNORECASE)
_MESSAGE_TOKEN = re.compile(r"<(rrs?)-([0-9a-f]{8})-([a-z0-9][a-z0-9_-]{0,39})@[^<>\s]+>", re.IGNORECASE)
_MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class AgencyView:
    agency: str
    name: str
    requested_on: date
    due: date
    returned_on: date | None
    status: str
    chased_on: date | None = None
    escalated_on: date | None = None
    files: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"agency": self.agency, "requested_on": self.requested_on.isoformat(),
                "due": self.due.isoformat(),
                "returned_on": self.returned_on.isoformat() if self.returned_on else None,
                "status": self.status}


@dataclass(frozen=True)
class StepView:
    key: str
    label: str
    due: date
    done_on: date | None
    source: str
    day: int

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "due": self.due.isoformat(),
                "done_on": self.done_on.isoformat() if self.done_on else None}


@dataclass(frozen=True)
class SignoffView:
    partner: str
    by: str
    on: date
    via: str

    def as_json(self) -> dict[str, Any]:
        return {"partner": self.partner, "by": self.by, "on": self.on.isoformat()}


@dataclass(frozen=True)
class RapidReviewView:
    """A rapid review as every adapter shows it (no child details)."""

    reference: str
    started_on: date
    steps: tuple[StepView, ...]
    agencies: tuple[AgencyView, ...]
    meeting: date | None
    signoffs: tuple[SignoffView, ...]
    sent_on: date | None = None
    sent_reason: str | None = None
    draft_on: date | None = None
    warnings: tuple[str, ...] = ()

    @property
    def progress(self) -> str:
        returned = sum(1 for a in self.agencies if a.returned_on)
        return progress_line(returned, len(self.agencies), len(self.signoffs), self.meeting)

    def as_json(self) -> dict[str, Any]:
        """The ``rapid-review status --json`` contract (issue 14): exactly these keys."""
        return {
            "steps": [s.as_json() for s in self.steps],
            "agencies": [a.as_json() for a in self.agencies],
            "meeting": self.meeting.isoformat() if self.meeting else None,
            "signoffs": [s.as_json() for s in self.signoffs],
        }


@dataclass(frozen=True)
class ReplyMatch:
    """A mail that answers one of the rapid review's own e-mails."""

    kind: str  # "return" (an agency's summary) or "signoff" (a partner's answer)
    review_id: int
    case_id: int
    reference: str
    who: str  # agency key or partner role
    request_message_id: str


@dataclass(frozen=True)
class FiledReply:
    reference: str
    kind: str
    who: str
    recorded: bool  # a return filed / a sign-off recorded (False: filed for a human to read)
    note: str | None = None
    files: int = 0


@dataclass
class ChaseResult:
    chased: list[tuple[str, str]] = field(default_factory=list)
    escalated: list[tuple[str, str]] = field(default_factory=list)


def _clean_filename(name: str | None, index: int) -> str:
    base = Path(name or "").name.strip().replace("\x00", "")
    return (base or f"attachment-{index}")[:255]


class NotAPartner(RapidReviewError):
    """A sign-off button pressed by someone the case's partnership does not register as a
    partner (told in the words of partnership scoping to anyone outside that partnership)."""


class RapidReviewService:
    """Start, file returns, chase, meet, sign off, send, read back; one transaction per call."""

    def __init__(self, cases: CaseService) -> None:
        self.cases = cases
        self.engine = cases.engine
        self.settings = cases.settings
        self.router = Router(cases.settings)
        self._timelines: dict[str, Timeline] = {}

    # --- settings ------------------------------------------------------------------------

    def timeline_for(self, partnership: PartnershipSettings) -> Timeline:
        if partnership.key not in self._timelines:
            self._timelines[partnership.key] = load_timeline(partnership.rapid_review_file)
        return self._timelines[partnership.key]

    def _domain(self) -> str:
        return self.settings.smtp_from.rsplit("@", 1)[-1].strip("> ").lower() or "localhost"

    def _case(self, session: Session, reference: str, *, for_update: bool = False) -> Case:
        case = case_repo.get_case(session, reference, for_update=for_update)
        if case is None or case.id is None:
            raise CaseNotFound(f"no case with reference {reference!r}")
        return case

    def _partnership(self, session: Session, case: Case) -> PartnershipSettings:
        return self.cases.partnership_of_case(case_repo.get_partnership(session, case.partnership_id).key)[0]

    def _review(self, session: Session, case: Case, *, for_update: bool = False) -> RapidReview:
        assert case.id is not None
        review = repo.for_case(session, case.id, for_update=for_update)
        if review is None:
            raise RapidReviewError(
                f"{case.reference} has no rapid review: start one (rapid-review start {case.reference})"
            )
        return review

    # --- start: requests out ---------------------------------------------------------------

    def proposed_agencies(self, reference: str) -> list[str]:
        """The agencies to ask when none are named: those the referral names (by key or name),
        else every agency the partnership has (what a Slack or Teams start form proposes)."""
        with Session(self.engine) as session:
            case = self._case(session, reference)
            return self._proposed(session, case, self._partnership(session, case))

    @staticmethod
    def _proposed(session: Session, case: Case, partnership: PartnershipSettings) -> list[str]:
        subject = subject_repo.subject_for(session, case.id or 0)
        listed = ((subject.details or {}).get("agencies") or []) if subject else []
        named = " ".join(" ".join(str(v) for v in (a.values() if isinstance(a, dict) else [a])) for a in listed)
        keys = [a.key for a in partnership.agencies]
        if named:
            lowered = named.casefold()
            matched = [a.key for a in partnership.agencies
                       if a.key.casefold() in lowered or a.name.casefold() in lowered]
            if matched:
                return matched
        return keys

    def start(self, reference: str, *, agencies: Sequence[str] | None, actor: str,
              on: date | None = None) -> RapidReviewView:
        """Start the rapid review: plan its steps from ``on`` (default today) and e-mail each
        agency's safeguarding lead a request for its summary of involvement (outbox)."""
        started = on or self.cases.today()
        with session_scope(self.engine) as session:
            case = self._case(session, reference, for_update=True)
            assert case.id is not None
            if case.status != "open":
                raise LifecycleError(f"{case.reference} is {case.status}: cannot start its rapid review")
            if repo.for_case(session, case.id) is not None:
                raise RapidReviewError(f"{case.reference}'s rapid review has already started")
            partnership = self._partnership(session, case)
            chosen = check_agencies(list(agencies) if agencies else self._proposed(session, case, partnership),
                                    [a.key for a in partnership.agencies])
            timeline = self.timeline_for(partnership)
            _, calendar = self.cases.rules_for(partnership)
            dues = timeline.dues(started, calendar)
            steps = [{"key": s.key, "label": s.label, "day": s.day, "action": s.action,
                      "source": s.source, "due": dues[s.key].isoformat()} for s in timeline.steps]
            token = secrets.token_hex(4)
            review = repo.add_review(session, case_id=case.id, token=token, started_on=started,
                                     started_by=actor, steps=steps)
            returns = timeline.step_for("returns")
            # The requests go now (the day it starts); the summaries are due on the returns
            # step's day (seven working days if a partnership's timeline has no such step).
            due = dues[returns.key] if returns else calendar.add_working_days(started, 7)
            requested_on = started
            settings_by_key = {a.key: a for a in partnership.agencies}
            child = self._child_line(session, case, partnership)
            template = self._template_attachment(partnership)
            for key in chosen:
                agency = settings_by_key[key]
                message_id = f"<rr-{token}-{key}@{self._domain()}>"
                repo.add_agency(session, rapid_review_id=review.id, agency=key, name=agency.name,
                                email=agency.email, requested_on=requested_on, due=due,
                                request_message_id=message_id)
                subject, body = self._request_text(case, partnership, timeline, token, agency.name, key,
                                                   due, child)
                payload: dict[str, Any] = {"kind": "rapid_review_request", "reference": case.reference,
                                           "message_id": message_id, "agency": key}
                if template:
                    payload["attachments"] = [template]
                transport, recipient = self.router.address(agency.email)
                outbox_repo.enqueue(session, transport=transport, recipient=recipient, subject=subject,
                                    body=body, payload=payload, case_id=case.id,
                                    dedupe_key=f"rr:request:{case.reference}:{key}")
            case_repo.audit(session, actor=actor, action="rapid_review.started", case_id=case.id,
                            detail={"reference": case.reference, "started_on": started.isoformat(),
                                    "agencies": chosen, "returns_due": due.isoformat()})
            warnings = self._late_plan(session, case, timeline, dues)
            self._team(session, case, partnership, "started",
                       f"Rapid review {case.reference} started",
                       f"Rapid review {case.reference} started on {fmt_day(started)}: "
                       f"{len(chosen)} agencies asked for their summaries by {fmt_day(due)}.")
            return replace(self._view(session, case, review), warnings=warnings)

    @staticmethod
    def _late_plan(session: Session, case: Case, timeline: Timeline, dues: dict[str, date]) -> tuple[str, ...]:
        """A warning when the local timeline ends after the case's 15-working-day rapid review
        date (the national timescale wins: the steps are local practice and are not moved)."""
        sent = timeline.step_for("sent")
        row = case_repo.deadline_row(session, case.id or 0, "rapid_review")
        if sent is None or row is None or row.status not in ("open", "awaited") or dues[sent.key] <= row.due:
            return ()
        warning = (f"the local timeline's last step ({sent.label}, {fmt_day(dues[sent.key])}) is after the "
                   f"rapid review's due date ({fmt_day(row.due)}, {row.rule}): plan the steps earlier, or "
                   "notify the Panel of the delay")
        return (warning,)

    def _child_line(self, session: Session, case: Case, partnership: PartnershipSettings) -> str:
        assert case.id is not None
        subjects = [s for s in subject_repo.subjects_for(session, case.id)
                    if s.name or s.date_of_birth or s.nhs_number]
        if not subjects:
            return "Child: (not recorded)"
        if partnership.share_child_details_with_agencies:
            parts = []
            for s in subjects:
                born = f", born {s.date_of_birth:%d %B %Y}" if s.date_of_birth else ""
                parts.append(f"{s.name or '(name not recorded)'}{born}")
            return "Child: " + "; ".join(parts)
        return "Child: " + ", ".join(initials(s.name) for s in subjects) + \
            " (initials only: the partnership shares no more by e-mail)"

    @staticmethod
    def _template_attachment(partnership: PartnershipSettings) -> dict[str, Any] | None:
        path = partnership.rapid_review_request_template
        if path is None:
            return None
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise RapidReviewError(
                f"rapid_review_request_template {path}: cannot read: {exc.strerror or exc}"
            ) from None
        content_type = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                        if str(path).lower().endswith(".docx") else "application/octet-stream")
        return {"filename": Path(path).name, "content_type": content_type,
                "data": base64.b64encode(data).decode("ascii"), "encoding": "base64"}

    def _request_text(self, case: Case, partnership: PartnershipSettings, timeline: Timeline,
                      token: str, agency_name: str, key: str, due: date, child: str) -> tuple[str, str]:
        step = timeline.step_for("returns")
        day = f" (working day {step.day} of the rapid review)" if step else ""
        subject = f"[RR-{token}-{key}] Rapid review {case.reference}: your summary of involvement by {fmt_day(due)}"
        cover = "\n".join(f"  - {line}" for line in timeline.request_cover)
        lines = [
            f"To the safeguarding lead, {agency_name}",
            "",
            (f"{partnership.name} has started a rapid review of a serious child safeguarding "
            f"incident: case {case.reference}."),
            child,
            "",
            (f"Please send your agency's summary of involvement by {fmt_day(due)}{day}. "
            "This date is the partnership's local practice, not a statutory deadline."),
            "",
            "Please cover:",
            cover,
            "",
            timeline.request_secure,
            "",
            (f"Reply to this e-mail with your summary attached (keep [RR-{token}-{key}] in the "
            "subject): it is filed with the rapid review and acknowledged."),
        ]
        if partnership.rapid_review_request_template:
            lines.append("The partnership's summary form is attached.")
        lines += ["", f"Source: {timeline.request_source}."]
        return subject, "\n".join(lines)

    def _team(self, session: Session, case: Case, partnership: PartnershipSettings, event: str,
              subject: str, text: str, *, extra: Iterable[tuple[str, str]] = ()) -> None:
        """Tell the partnership's team (reference, agency names and counts only)."""
        routes = list(self.router.team(partnership)) + list(extra)
        for transport, recipient in dict.fromkeys(routes):
            outbox_repo.enqueue(
                session, transport=transport, recipient=recipient, subject=subject, body=text,
                payload={"kind": "rapid_review_notice", "reference": case.reference, "event": event},
                dedupe_key=f"rr:team:{event}:{case.reference}:{transport}:{recipient}"[:200],
                case_id=case.id,
            )

    # --- returns in -------------------------------------------------------------------------

    def record_return(self, reference: str, agency: str, *, files: Sequence[tuple[str, str, bytes]],
                      actor: str, on: date | None = None, via: str = "cli") -> RapidReviewView:
        """File an agency's return by hand (``rapid-review return REF AGENCY --file F``)."""
        with session_scope(self.engine) as session:
            case = self._case(session, reference, for_update=True)
            review = self._review(session, case, for_update=True)
            row = self._agency_row(session, review, agency)
            self._file_return(session, case, review, row, files, on or self.cases.today(), actor, via)
            return self._view(session, case, review)

    def _agency_row(self, session: Session, review: RapidReview, agency: str) -> RapidReviewAgency:
        rows = repo.agencies(session, review.id or 0)
        for row in rows:
            if row.agency == agency:
                return row
        raise RapidReviewError(
            f"agency {agency!r} was not asked in this rapid review; asked: {', '.join(r.agency for r in rows)}"
        )

    def _file_return(self, session: Session, case: Case, review: RapidReview, row: RapidReviewAgency,
                     files: Sequence[tuple[str, str, bytes]], on: date, actor: str, via: str) -> int:
        for index, (name, content_type, data) in enumerate(files, start=1):
            if len(data) > _MAX_FILE_BYTES:
                raise RapidReviewError(f"file {index} is larger than {_MAX_FILE_BYTES // (1024 * 1024)} MiB")
            repo.add_file(session, rapid_review_agency_id=row.id, filename=_clean_filename(name, index),
                          content_type=(content_type or "application/octet-stream")[:120],
                          sha256=hashlib.sha256(data).hexdigest(), size=len(data), data=data)
        first = row.returned_on is None
        if first:
            row.returned_on, row.returned_via, row.returned_by = on, via[:40], actor[:120]
            repo.save(session, row)
        case_repo.audit(session, actor=actor, action="rapid_review.returned", case_id=case.id,
                        detail={"reference": case.reference, "agency": row.agency, "on": on.isoformat(),
                                "via": via, "files": len(files), "first": first})
        partnership = self._partnership(session, case)
        view = self._view(session, case, review)
        self._team(session, case, partnership, f"returned:{row.agency}:{row.id}:{len(repo.files(session, row.id or 0))}",
                   f"Rapid review {case.reference}: {row.name} returned its summary",
                   f"Rapid review {case.reference}: {row.name} returned its summary "
                   f"({len(files)} file(s)). {view.progress}.")
        return len(files)

    def match_reply(self, session: Session, *, subject: str, message_ids: Sequence[str]) -> ReplyMatch | None:
        """The request a mail answers: one of its In-Reply-To/References Message-IDs is a
        request's, else the request's token is in its subject. None for any other mail."""
        found: tuple[str, str, str] | None = None
        for message_id in message_ids:
            hit = _MESSAGE_TOKEN.search(message_id)
            if hit and hit.group(0).lower().endswith(f"@{self._domain()}>"):
                found = (hit.group(1).lower(), hit.group(2).lower(), hit.group(3).lower())
                break
        if found is None:
            hit = _SUBJECT_TOKEN.search(subject or "")
            if hit:
                found = (hit.group(1).lower(), hit.group(2).lower(), hit.group(3).lower())
        if found is None:
            return None
        prefix, token, who = found
        review = repo.by_token(session, token)
        if review is None or review.id is None:
            return None
        reference = case_repo.reference_of(session, review.case_id) or "?"
        if prefix == "rr":
            row = next((r for r in repo.agencies(session, review.id) if r.agency == who), None)
            if row is None:
                return None
            return ReplyMatch("return", review.id, review.case_id, reference, who, row.request_message_id)
        if who not in PARTNER_ROLES:
            return None
        return ReplyMatch("signoff", review.id, review.case_id, reference, who,
                          f"<rrs-{token}-{who}@{self._domain()}>")

    def sender_may_reply(self, session: Session, match: ReplyMatch, address: str | None) -> str | None:
        """Why this sender may not answer this request (None: they may). A sign-off comes only
        from the partner's registered address; a return from the agency's own domain or an
        allow-listed one."""
        case = session.get(Case, match.case_id)
        assert case is not None
        partnership = self._partnership(session, case)
        sender = (address or "").strip().lower()
        if match.kind == "signoff":
            partner = next((p for p in partnership.partners if p.role == match.who), None)
            if partner is None or partner.email.lower() != sender:
                return "a sign-off reply that is not from the partner's registered address"
            return None
        agency = next((a for a in partnership.agencies if a.key == match.who), None)
        domain = sender.rsplit("@", 1)[-1] if "@" in sender else ""
        own = agency.email.lower().rsplit("@", 1)[-1] if agency else None
        if domain and (domain == own or self.settings.sender_allowed(domain)):
            return None
        return f"sender domain {domain or '(none)'} is neither the agency's nor on the allow-list"

    def file_reply(self, session: Session, match: ReplyMatch, *, text: str,
                   files: Sequence[tuple[str, str, bytes]], on: date, actor: str) -> FiledReply:
        """File a reply the mail intake matched (in the intake's transaction): an agency's
        return with its attachments, or a partner's sign-off when their words say so."""
        case = session.get(Case, match.case_id, with_for_update=True)
        review = session.get(RapidReview, match.review_id, with_for_update=True)
        assert case is not None and review is not None
        if match.kind == "return":
            row = self._agency_row(session, review, match.who)
            count = self._file_return(session, case, review, row, files, on, actor, "e-mail")
            return FiledReply(case.reference, "return", match.who, True, files=count)
        from bot.core.rapid_review import reply_signs_off

        partnership = self._partnership(session, case)
        partner = next(p for p in partnership.partners if p.role == match.who)
        if not reply_signs_off(text):
            case_repo.audit(session, actor=actor, action="rapid_review.signoff_reply_unclear", case_id=case.id,
                            detail={"reference": case.reference, "partner": match.who})
            self._team(session, case, partnership, f"unclear:{match.who}:{on.isoformat()}",
                       f"Rapid review {case.reference}: a partner replied without signing off",
                       f"Rapid review {case.reference}: {PARTNER_LABELS[match.who]} replied to the sign-off "
                       "request without saying they sign off. Nothing was recorded: read the reply in "
                       "the mailbox and record it by hand (rapid-review signoff) if it is one.")
            return FiledReply(case.reference, "signoff", match.who, False,
                              note="the reply does not say it signs off")
        self._sign(session, case, review, match.who, partner.name, on, actor, "e-mail")
        return FiledReply(case.reference, "signoff", match.who, True)

    # --- chasing ----------------------------------------------------------------------------

    def chase(self, today: date | None = None) -> ChaseResult:
        """Chase late agencies on the chase step's day and escalate those still late on the
        escalation step's day (outbox; once each). Run by every sweep."""
        today = today or self.cases.today()
        result = ChaseResult()
        with session_scope(self.engine) as session:
            for review in repo.running(session):
                case = session.get(Case, review.case_id)
                if case is None or case.status != "open":
                    continue
                self._chase_one(session, case, review, today, result)
        return result

    def _chase_one(self, session: Session, case: Case, review: RapidReview, today: date,
                   result: ChaseResult) -> None:
        steps = {s["action"]: s for s in review.steps}
        rows = repo.agencies(session, review.id or 0)
        facts = [AgencyFacts(r.agency, r.requested_on, r.due, r.returned_on, r.chased_on, r.escalated_on)
                 for r in rows]
        by_key = {r.agency: r for r in rows}
        partnership = self._partnership(session, case)
        done = dict(review.done or {})
        if "chase" in steps:
            chase_on = date.fromisoformat(steps["chase"]["due"])
            late = to_chase(facts, chase_on, today)
            for key in late:
                row = by_key[key]
                row.chased_on = today
                repo.save(session, row)
                transport, recipient = self.router.address(row.email)
                outbox_repo.enqueue(
                    session, transport=transport, recipient=recipient,
                    subject=f"[RR-{review.token}-{key}] Reminder: rapid review {case.reference}: "
                            f"your summary of involvement was due {fmt_day(row.due)}",
                    body=(f"To the safeguarding lead, {row.name}\n\nYour agency's summary of involvement "
                          f"for rapid review {case.reference} was due on {fmt_day(row.due)} and has not "
                          "reached the partnership. Please reply to the request with it today, or tell "
                          "the partnership when it will come.\n\nThis is the partnership's local practice "
                          "for the rapid review timeline, not a statutory deadline."),
                    payload={"kind": "rapid_review_chase", "reference": case.reference,
                             "in_reply_to": row.request_message_id, "references": row.request_message_id},
                    dedupe_key=f"rr:chase:{case.reference}:{key}", case_id=case.id,
                )
                result.chased.append((case.reference, key))
                case_repo.audit(session, actor="sweep", action="rapid_review.chased", case_id=case.id,
                                detail={"reference": case.reference, "agency": key, "on": today.isoformat()})
            if today >= chase_on and steps["chase"]["key"] not in done:
                done[steps["chase"]["key"]] = today.isoformat()
        if "escalate" in steps:
            escalate_on = date.fromisoformat(steps["escalate"]["due"])
            late = to_escalate(facts, escalate_on, today)
            if late:
                for key in late:
                    by_key[key].escalated_on = today
                    repo.save(session, by_key[key])
                names = ", ".join(by_key[k].name for k in late)
                extra = [self.router.address(partnership.escalation_contact)] if partnership.escalation_contact else []
                self._team(session, case, partnership, f"escalated:{today.isoformat()}",
                           f"Rapid review {case.reference}: agency summaries still missing",
                           f"Rapid review {case.reference}: still no summary of involvement from {names} "
                           f"(chased; due {fmt_day(min(by_key[k].due for k in late))}). Please follow "
                           "this up with the agency's senior safeguarding lead.", extra=extra)
                result.escalated.extend((case.reference, k) for k in late)
                case_repo.audit(session, actor="sweep", action="rapid_review.escalated", case_id=case.id,
                                detail={"reference": case.reference, "agencies": late, "on": today.isoformat()})
            if today >= escalate_on and steps["escalate"]["key"] not in done:
                done[steps["escalate"]["key"]] = today.isoformat()
        if done != (review.done or {}):
            review.done = done
            repo.save(session, review)

    # --- meeting, draft, sign-off, sent -----------------------------------------------------

    def meeting(self, reference: str, *, on: date, actor: str) -> RapidReviewView:
        with session_scope(self.engine) as session:
            case = self._case(session, reference, for_update=True)
            review = self._review(session, case, for_update=True)
            if on < review.started_on:
                raise RapidReviewError(f"the meeting cannot be before the rapid review started ({fmt_day(review.started_on)})")
            previous = review.meeting_on
            review.meeting_on = on
            repo.save(session, review)
            case_repo.audit(session, actor=actor, action="rapid_review.meeting", case_id=case.id,
                            detail={"reference": case.reference, "on": on.isoformat(),
                                    "from": previous.isoformat() if previous else None})
            return self._view(session, case, review)

    def signoff(self, reference: str, partner: str, *, by: str, actor: str, on: date | None = None,
                via: str = "cli") -> RapidReviewView:
        """Record a safeguarding partner's sign-off (``partner``: local_authority | police | health)."""
        role = partner.strip().lower().replace("-", "_")
        if role not in PARTNER_ROLES:
            raise RapidReviewError(f"unknown partner {partner!r}; one of {', '.join(PARTNER_ROLES)}")
        name = " ".join(by.split())
        if not name:
            raise RapidReviewError("--by: who signed off is required")
        with session_scope(self.engine) as session:
            case = self._case(session, reference, for_update=True)
            review = self._review(session, case, for_update=True)
            self._sign(session, case, review, role, name[:200], on or self.cases.today(), actor, via)
            return self._view(session, case, review)

    def _sign(self, session: Session, case: Case, review: RapidReview, role: str, name: str, on: date,
              actor: str, via: str) -> None:
        if any(s.partner == role for s in repo.signoffs(session, review.id or 0)):
            raise RapidReviewError(f"{PARTNER_LABELS[role]} has already signed off {case.reference}")
        repo.add_signoff(session, rapid_review_id=review.id, partner=role, signed_by=name, signed_on=on, via=via)
        case_repo.audit(session, actor=actor, action="rapid_review.signed_off", case_id=case.id,
                        detail={"reference": case.reference, "partner": role, "by": name,
                                "on": on.isoformat(), "via": via})

    def signoff_by_user(self, reference: str, user: str, *, actor: str) -> RapidReviewView:
        """A sign-off button pressed in Slack/Teams by ``user``: the partner whose slack_user or
        teams_user that is signs off, by name (nobody else can sign for them)."""
        with Session(self.engine) as session:
            case = self._case(session, reference)
            partnership = self._partnership(session, case)
        partner = next((p for p in partnership.partners if user in (p.slack_user, p.teams_user)), None)
        if partner is None:
            raise NotAPartner("only a safeguarding partner registered for this partnership can sign off")
        return self.signoff(reference, partner.role, by=partner.name, actor=actor, via="slack")

    def mark_draft(self, reference: str, *, actor: str, on: date | None = None,
                   draft: tuple[str, bytes] | None = None) -> RapidReviewView:
        """The draft report was written: the draft step is done, and each partner who has not
        signed off is asked to (e-mail with the draft attached; a reply saying so signs off)."""
        day = on or self.cases.today()
        with session_scope(self.engine) as session:
            case = self._case(session, reference, for_update=True)
            review = self._review(session, case, for_update=True)
            review.draft_on = review.draft_on or day
            repo.save(session, review)
            signed = {s.partner for s in repo.signoffs(session, review.id or 0)}
            partnership = self._partnership(session, case)
            signoff_step = next((s for s in review.steps if s["action"] == "signoff"), None)
            by = f" by {fmt_day(date.fromisoformat(signoff_step['due']))}" if signoff_step else ""
            for partner in partnership.partners:
                if partner.role in signed:
                    continue
                if partner.slack_user:  # a DM with a "Sign off" button (handlers/transports/slack.py)
                    transport, recipient = self.router.address(partner.slack_user)
                    outbox_repo.enqueue(
                        session, transport=transport, recipient=recipient,
                        subject=f"Rapid review {case.reference}: please sign off{by}",
                        body=(f"The draft rapid review report for case {case.reference} is ready for "
                              f"{PARTNER_LABELS[partner.role]}'s sign-off (it was e-mailed to you)."),
                        payload={"kind": "rapid_review_signoff_request", "reference": case.reference},
                        case_id=case.id,
                        dedupe_key=f"rr:signoff-dm:{case.reference}:{partner.role}:{day.isoformat()}",
                    )
                message_id = f"<rrs-{review.token}-{partner.role}@{self._domain()}>"
                payload: dict[str, Any] = {"kind": "rapid_review_signoff_request", "reference": case.reference,
                                           "message_id": message_id}
                if draft is not None:
                    payload["attachments"] = [{
                        "filename": f"{case.reference}-rapid-review-draft.docx",
                        "content_type": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                        "data": base64.b64encode(draft[1]).decode("ascii"), "encoding": "base64"}]
                transport, recipient = self.router.address(partner.email)
                outbox_repo.enqueue(
                    session, transport=transport, recipient=recipient,
                    subject=f"[RRS-{review.token}-{partner.role}] Rapid review {case.reference}: please sign off{by}",
                    body=(f"To {partner.name} ({PARTNER_LABELS[partner.role]})\n\nThe draft rapid review "
                          f"report for case {case.reference} is ready. Senior representatives of the three "
                          "safeguarding partners should sign off the rapid review (BSCP process, seed 002).\n\n"
                          "To sign off, reply to this e-mail from this address saying \"I sign off\" (or "
                          "\"approved\"). Any other reply is passed to the partnership's team."),
                    payload=payload, case_id=case.id,
                    dedupe_key=f"rr:signoff-request:{case.reference}:{partner.role}:{day.isoformat()}",
                )
            case_repo.audit(session, actor=actor, action="rapid_review.drafted", case_id=case.id,
                            detail={"reference": case.reference, "on": day.isoformat()})
            return self._view(session, case, review)

    def sent(self, reference: str, *, on: date, actor: str, reason: str | None = None) -> RapidReviewView:
        """Sent to the Panel (``rapid-review sent``): see record_sent; the review read back."""
        with Session(self.engine) as session:
            self._review(session, self._case(session, reference))  # one line if it has none
        case_view = self.record_sent(reference, on=on, actor=actor, reason=reason)
        return replace(self.status(reference), warnings=case_view.warnings)

    def record_sent(self, reference: str, *, on: date, actor: str, reason: str | None = None,
                    note: str | None = None) -> Any:
        """Record the case's rapid_review_sent milestone (the statutory clock) and, when the case
        has a rapid review, its last step: the sign-off rule (fewer than three need a reason)
        is the case service's, on every path that records the milestone. Returns the view."""
        return self.cases.record_milestone(
            reference, Milestone.RAPID_REVIEW_SENT, on=on, actor=actor, note=note, reason=reason
        )

    # --- reading ----------------------------------------------------------------------------

    def status(self, reference: str) -> RapidReviewView:
        with Session(self.engine) as session:
            case = self._case(session, reference)
            return self._view(session, case, self._review(session, case))

    def progress_of(self, reference: str) -> str | None:
        """The one progress line, or None when the case has no rapid review."""
        with Session(self.engine) as session:
            case = self._case(session, reference)
            review = repo.for_case(session, case.id or 0)
            return None if review is None else self._view(session, case, review).progress

    def _view(self, session: Session, case: Case, review: RapidReview) -> RapidReviewView:
        today = self.cases.today()
        rows = repo.agencies(session, review.id or 0)
        agencies = tuple(
            AgencyView(r.agency, r.name, r.requested_on, r.due, r.returned_on,
                       agency_status(r.due, r.returned_on, today), r.chased_on, r.escalated_on,
                       repo.file_count(session, r.id or 0))
            for r in rows
        )
        signoffs = tuple(SignoffView(s.partner, s.signed_by, s.signed_on, s.via)
                         for s in repo.signoffs(session, review.id or 0))
        done = {k: date.fromisoformat(v) for k, v in (review.done or {}).items()}
        progress = Progress(
            started_on=review.started_on,
            agencies=tuple(AgencyFacts(a.agency, a.requested_on, a.due, a.returned_on) for a in agencies),
            signoffs={s.partner: s.on for s in signoffs}, meeting_on=review.meeting_on,
            draft_on=review.draft_on, sent_on=review.sent_on,
            chase_run_on=next((done[s["key"]] for s in review.steps if s["action"] == "chase" and s["key"] in done), None),
            escalate_run_on=next((done[s["key"]] for s in review.steps if s["action"] == "escalate" and s["key"] in done), None),
            done=done,
        )
        from bot.core.rapid_review import Step

        steps = tuple(
            StepView(s["key"], s["label"], date.fromisoformat(s["due"]),
                     step_done_on(Step(s["key"], s["label"], s["day"], s["action"], s["source"]), progress, today),
                     s["source"], s["day"])
            for s in review.steps
        )
        return RapidReviewView(case.reference, review.started_on, steps, agencies, review.meeting_on,
                               signoffs, review.sent_on, review.sent_reason, review.draft_on)

    def report(self, reference: str, *, actor: str) -> dict[str, Any]:
        """What the draft report is written from: the case's facts and the review's (the
        child as initials, unless the partnership shares more with agencies). The draft
        prints the children's details, so reading them for it is an audited look (``actor``)."""
        view = self.status(reference)
        case = self.cases.get(reference)
        with Session(self.engine) as session:
            row = self._case(session, reference)
            partnership = self._partnership(session, row)
            subjects = [s for s in subject_repo.subjects_for(session, row.id or 0)
                        if s.name or s.date_of_birth or s.nhs_number]
            details = dict(subject_repo.subject_for(session, row.id or 0).details or {}) if subjects else {}
        children = []
        for s in subjects:
            age = None
            if s.date_of_birth:
                ref_day = case.incident_date or case.la_aware
                age = ref_day.year - s.date_of_birth.year - ((ref_day.month, ref_day.day) < (s.date_of_birth.month, s.date_of_birth.day))
            children.append({
                "name": s.name if partnership.share_child_details_with_agencies else initials(s.name),
                "age": age,
                "legal_status": ", ".join(str(x) for x in details.get("child_status") or []) or None,
            })
        if subjects:
            self.cases.record_details_view(reference, actor=actor, via="rapid-review draft")
        return {"case": case, "review": view, "partnership": partnership, "children": children,
                "details": details}


__all__ = [
    "LATE",
    "ChaseResult",
    "FiledReply",
    "RapidReviewError",
    "RapidReviewService",
    "RapidReviewView",
    "ReplyMatch",
]
