"""``safeguard-bot case ...``: open cases, record milestones, list, show, snooze.

Each command parses what was typed, calls the case service (bot.cases) once, and prints its
answer and its warnings; the rules are the service's."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from bot.cli.common import (
    actor_of,
    case_service,
    date_option,
    deadline_table,
    domain_call,
    fail,
    fmt_day,
    print_json,
    table,
    warn,
)


@click.group()
def case() -> None:
    """Open cases, record milestones, see deadlines."""


def _answer_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--answer KEY=VALUE`` pairs, parsed as ``safeguard-bot criteria`` parses them."""
    from bot.core.criteria import CriteriaAnswerError, parse_answer_pairs

    try:
        return parse_answer_pairs(pairs)
    except CriteriaAnswerError as exc:
        fail(str(exc))


def _criteria_call(call: Any) -> Any:
    """A service call that evaluates criteria answers: a bad key or value is the same one-line
    error ``safeguard-bot criteria`` gives."""
    from bot.core.criteria import CriteriaAnswerError, CriteriaConfigError

    try:
        return domain_call(call)
    except (CriteriaAnswerError, CriteriaConfigError) as exc:
        fail(str(exc))


_ANSWER_HELP = (
    "A criteria answer, e.g. harm=died (repeat for each; the keys and values of "
    "`safeguard-bot criteria`). The case's steps follow from the decision."
)


@case.command("open")
@click.option("--aware", required=True, help="Date the LA became aware of the incident.")
@click.option("--summary", default=None, help="A short summary (stays in the case record).")
@click.option("--incident", default=None, help="Date of the incident, if known.")
@click.option("--partnership", default=None, help="Partnership key (default: the first).")
@click.option("--by", default=None, help="Who is opening the case (default: your login).")
@click.option("--owner", default=None, help="Case owner for reminders: a Slack user ID or an e-mail.")
@click.option("--answer", "answers", multiple=True, metavar="KEY=VALUE", help=_ANSWER_HELP)
@click.option("--la", "local_authority", default=None,
              help="The notifying local authority (one of the partnership's local_authorities).")
@click.option("--request-type", "request_type", default=None,
              type=click.Choice(["serious_incident_notification", "learning_request"]),
              help="A learning request runs the partnership's decision, not the Panel clock.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_open(
    ctx: click.Context,
    aware: str,
    summary: str | None,
    incident: str | None,
    partnership: str | None,
    by: str | None,
    owner: str | None,
    answers: tuple[str, ...],
    local_authority: str | None,
    request_type: str | None,
    as_json: bool,
) -> None:
    """Open a case and create its deadlines."""
    la_aware = date_option(aware, "--aware")
    incident_date = date_option(incident, "--incident")
    assert la_aware is not None
    given = _answer_pairs(answers)
    service = case_service(ctx)
    view = _criteria_call(
        lambda: service.open_case(
            la_aware=la_aware,
            actor=actor_of(by),
            summary=summary,
            incident_date=incident_date,
            partnership_key=partnership,
            owner=owner,
            answers=given or None,
            local_authority=local_authority,
            request_type=request_type,
        )
    )
    _show_changed(view, as_json, f"Opened case {view.reference} (LA became aware {fmt_day(view.la_aware)})")


@case.command("list")
@click.option("--status", "status", default="open", show_default=True,
              help="open, closed, withdrawn or all.")
@click.option("--partnership", default=None, help="Only this partnership's cases.")
@click.option("--all", "include_closed", is_flag=True, help="Every case (same as --status all).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_list(ctx: click.Context, status: str, partnership: str | None, include_closed: bool,
              as_json: bool) -> None:
    """Cases (open ones unless --status says otherwise) with their next deadline."""
    from scheduler.calendar import today_in_london

    service = case_service(ctx, writing=False)
    wanted = "all" if include_closed else status
    views = domain_call(lambda: service.list_cases(status=wanted, partnership=partnership))
    if as_json:
        print_json([_case_summary_json(v) for v in views])
        return
    if not views:
        click.echo("No open cases." if wanted == "open" else f"No cases ({wanted}).")
        return
    today = today_in_london()
    rows = []
    for view in views:
        nxt = view.next_deadline
        due = "-"
        step = "-"
        if nxt is not None:
            due = fmt_day(nxt.deadline.due) + (" OVERDUE" if nxt.overdue_on(today) else "")
            step = nxt.deadline.label
        rows.append([view.reference, fmt_day(view.la_aware), step, due, view.status, view.owner or "-"])
    click.echo(table(["Reference", "LA aware", "Next step", "Due", "Status", "Owner"], rows))


def _case_summary_json(view: Any) -> dict[str, Any]:
    nxt = view.next_deadline
    return {
        "reference": view.reference,
        "partnership": view.partnership,
        "status": view.status,
        "owner": view.owner,
        "la_aware": view.la_aware.isoformat(),
        "next_deadline": (
            {"key": nxt.deadline.key, "label": nxt.deadline.label, "due": nxt.deadline.due.isoformat(),
             "warnings": list(nxt.deadline.warnings)}
            if nxt
            else None
        ),
    }


@case.command("show")
@click.argument("reference")
@click.option("--with-child-details", "with_child", is_flag=True,
              help="Also the children's details (personal data; the look is audited).")
@click.option("--by", default=None, help="Who is looking (for the audit; default: your login).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_show(ctx: click.Context, reference: str, with_child: bool, by: str | None, as_json: bool) -> None:
    """Everything the case holds: status, owner, milestones (voided and amended ones marked),
    deadlines and sources, criteria answers and decision, children (initials), the referral."""
    from scheduler.calendar import today_in_london

    # Looking at the child's details writes an audit entry, so that one needs a writer.
    service = case_service(ctx, writing=with_child, must_exist=True)
    view = domain_call(lambda: service.get(reference))
    details = domain_call(lambda: service.child_details(reference, actor=actor_of(by), via="case show")) if with_child else None
    if as_json:
        data = view.as_json()
        if details is not None:
            data["child_details"] = details
        print_json(data)
        return
    _print_case(view, today_in_london())
    _print_rapid_review(service, view.reference)
    if details is not None:
        _print_child_details(details)


def _print_case(view: Any, today: date) -> None:
    click.echo(f"Case {view.reference}  ({view.partnership}, {view.status})")
    if view.status_reason:
        when = f" on {view.status_changed_at:%d %b %Y}" if view.status_changed_at else ""
        click.echo(f"Status:          {view.status}{when}: {view.status_reason}")
    click.echo(f"LA became aware: {fmt_day(view.la_aware)}")
    if view.incident_date:
        click.echo(f"Incident date:   {fmt_day(view.incident_date)}")
    click.echo(f"Owner:           {view.owner or '- (nobody: case assign REF --owner ...)'}")
    if view.summary:
        click.echo(f"Summary:         {view.summary}")
    if view.local_authority:
        click.echo(f"Notifying LA:    {view.local_authority}")
    if view.children:
        click.echo(f"Children:        {', '.join(view.children)}")
    referral = view.referral or {}
    origin = referral.get("origin") or {}
    if referral.get("type") or origin.get("channel") == "e-mail":
        how = f"e-mail from {origin.get('sender_domain') or 'unknown'}" if origin.get("channel") == "e-mail" else origin.get("channel")
        click.echo(f"Referral:        {referral.get('type') or '-'} ({how})")
    if view.answers:
        click.echo("Criteria answers: " + ", ".join(f"{k}={v}" for k, v in view.answers.items()))
    if view.decision:
        click.echo(f"Decision:        {view.decision}")
    from scheduler.calendar import LONDON

    click.echo(f"Opened by {view.opened_by} on {view.opened_at.astimezone(LONDON):%a %d %b %Y %H:%M} (London)\n")
    if view.milestones:
        rows = []
        for m in view.milestones:
            state = "VOIDED: " + (m.void_reason or "") if m.voided else (
                f"amended from {m.amended_from.isoformat()}" if m.amended_from else "")
            rows.append([m.key, fmt_day(m.on), m.recorded_by, m.note or "", state])
        headers = ["Milestone", "On", "Recorded by", "Note", "Correction"]
        if not any(row[-1] for row in rows):
            headers, rows = headers[:-1], [row[:-1] for row in rows]
        click.echo(table(headers, rows) + "\n")
    click.echo(deadline_table(view.deadlines, today))


def _print_rapid_review(service: Any, reference: str) -> None:
    """The rapid review's progress at a glance (issue 14), when the case has one."""
    from bot.rapid_review import RapidReviewService

    progress = RapidReviewService(service).progress_of(reference)
    if progress:
        click.echo(f"\nRapid review:    {progress} (rapid-review status {reference})")


def _print_child_details(details: dict[str, Any]) -> None:
    click.echo("\nChildren (personal data; this look is in the audit log):")
    for child in details.get("children") or [details.get("child") or {}]:
        parts = [child.get("name") or "(no name)"]
        if child.get("date_of_birth"):
            parts.append(f"born {child['date_of_birth']}")
        if child.get("nhs_number"):
            parts.append(f"NHS {child['nhs_number']}")
        click.echo("  " + ", ".join(parts))


@case.command("record")
@click.argument("reference")
@click.argument("milestone")
@click.option("--on", "on", required=True, help="Date it happened (or the planned date).")
@click.option("--by", default=None, help="Who is recording it (default: your login).")
@click.option("--note", default=None, help="A short note for the record.")
@click.option("--reason", default=None,
              help="rapid-review-sent with fewer than three partner sign-offs: why (rapid-review sent).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_record(
    ctx: click.Context,
    reference: str,
    milestone: str,
    on: str,
    by: str | None,
    note: str | None,
    as_json: bool,
    reason: str | None = None,
) -> None:
    """Record a milestone: deadlines are met, and the ones that now apply are added.

    MILESTONE is one of: partners-aware, panel-notified, partners-notified,
    notification-not-required, rapid-review-sent, panel-responded, decision-local-review,
    decision-no-review, decision-national-review, publication-planned, final-report-sent,
    published, sos-ofsted-notified, rapid-review-delay-notified, panel-requested-information,
    panel-information-sent, panel-decided-national-review, lcspr-commission-notified,
    publication-delay-notified, learning-request-decided.
    """
    from bot.core.lifecycle import LifecycleError, parse_milestone

    try:
        kind = parse_milestone(milestone)
    except LifecycleError as exc:
        fail(str(exc))
    occurred = date_option(on, "--on")
    assert occurred is not None
    service = case_service(ctx)
    view = domain_call(
        lambda: service.record_milestone(
            reference, kind, on=occurred, actor=actor_of(by), note=note, reason=reason
        )
    )
    _show_changed(view, as_json, f"Recorded {kind.value.replace('_', '-')} on {fmt_day(occurred)} for {view.reference}")


@case.command("assess")
@click.argument("reference")
@click.option("--answer", "answers", multiple=True, metavar="KEY=VALUE", help=_ANSWER_HELP)
@click.option("--la", "local_authority", default=None,
              help="The notifying local authority (one of the partnership's local_authorities).")
@click.option("--by", default=None, help="Who is assessing (default: your login).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_assess(
    ctx: click.Context,
    reference: str,
    answers: tuple[str, ...],
    local_authority: str | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Record criteria answers on a case (over those it has): its decision and steps follow."""
    given = _answer_pairs(answers)
    if not given and local_authority is None:
        fail("case assess: give at least one --answer KEY=VALUE (or --la NAME)")
    service = case_service(ctx)
    view = _criteria_call(
        lambda: service.assess(reference, given, actor=actor_of(by), local_authority=local_authority)
    )
    _show_changed(view, as_json, f"Assessed {view.reference}: decision {view.decision or '-'}")


@case.command("snooze")
@click.argument("reference")
@click.argument("step")
@click.option("--by", default=None)
@click.pass_context
def case_snooze(ctx: click.Context, reference: str, step: str, by: str | None) -> None:
    """Quieten a step's reminders until the next working day (the deadline does not move).

    STEP is what ``case show`` displays: the step's key (panel_notification), the milestone that
    meets it (panel-notified) or its label.
    """
    from datetime import UTC, datetime

    service = case_service(ctx)
    deadline = domain_call(lambda: service.resolve_step(reference, step))
    day = domain_call(
        lambda: service.snooze(reference, deadline, now=datetime.now(tz=UTC), actor=actor_of(by))
    )
    click.echo(f"Reminders for {reference} {deadline} snoozed until {fmt_day(day)}.")


def _show_changed(view: Any, as_json: bool, headline: str) -> None:
    """After a case changed: the case service's warnings on stderr (a future date, an owner out
    of reach, a partnership gone), then the case as JSON, or the headline and its deadlines."""
    from scheduler.calendar import today_in_london

    for warning in view.warnings:
        warn(warning)
    if as_json:
        print_json(view.as_json())
        return
    if view.status != "open":  # e.g. the closing rule closed it just now
        headline += f"\nThe case is {view.status}: {view.status_reason or '-'}."
    click.echo(headline + "\n")
    click.echo(deadline_table(view.deadlines, today_in_london()))

