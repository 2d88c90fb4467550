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
@click.option("--all", "include_closed", is_flag=True, help="Include closed cases.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_list(ctx: click.Context, include_closed: bool, as_json: bool) -> None:
    """Open cases with their next deadline."""
    from scheduler.calendar import today_in_london

    views = case_service(ctx, writing=False).list(include_closed=include_closed)
    if as_json:
        print_json([_case_summary_json(v) for v in views])
        return
    if not views:
        click.echo("No open cases.")
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
        rows.append([view.reference, fmt_day(view.la_aware), step, due, view.status])
    click.echo(table(["Reference", "LA aware", "Next step", "Due", "Status"], rows))


def _case_summary_json(view: Any) -> dict[str, Any]:
    nxt = view.next_deadline
    return {
        "reference": view.reference,
        "partnership": view.partnership,
        "status": view.status,
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
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def case_show(ctx: click.Context, reference: str, as_json: bool) -> None:
    """A case's milestones and deadlines."""
    from scheduler.calendar import today_in_london

    service = case_service(ctx, writing=False)
    view = domain_call(lambda: service.get(reference))
    if as_json:
        print_json(view.as_json())
        return
    _print_case(view, today_in_london())


def _print_case(view: Any, today: date) -> None:
    click.echo(f"Case {view.reference}  ({view.partnership}, {view.status})")
    click.echo(f"LA became aware: {fmt_day(view.la_aware)}")
    if view.incident_date:
        click.echo(f"Incident date:   {fmt_day(view.incident_date)}")
    if view.summary:
        click.echo(f"Summary:         {view.summary}")
    if view.local_authority:
        click.echo(f"Notifying LA:    {view.local_authority}")
    if view.decision:
        answered = ", ".join(f"{k}={v}" for k, v in view.answers.items())
        click.echo(f"Criteria:        {view.decision} ({answered})")
    click.echo(f"Opened by {view.opened_by} at {view.opened_at:%Y-%m-%d %H:%M} UTC\n")
    if view.milestones:
        rows = [[m.kind.replace("_", "-"), fmt_day(m.on), m.recorded_by] for m in view.milestones]
        click.echo(table(["Milestone", "On", "Recorded by"], rows) + "\n")
    click.echo(deadline_table(view.deadlines, today))


@case.command("record")
@click.argument("reference")
@click.argument("milestone")
@click.option("--on", "on", required=True, help="Date it happened (or the planned date).")
@click.option("--by", default=None, help="Who is recording it (default: your login).")
@click.option("--note", default=None, help="A short note for the record.")
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
        lambda: service.record_milestone(reference, kind, on=occurred, actor=actor_of(by), note=note)
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
@click.argument("deadline")
@click.option("--by", default=None)
@click.pass_context
def case_snooze(ctx: click.Context, reference: str, deadline: str, by: str | None) -> None:
    """Quieten a deadline's reminders until the next working day (the deadline does not move)."""
    from datetime import UTC, datetime

    service = case_service(ctx)
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
    click.echo(headline + "\n")
    click.echo(deadline_table(view.deadlines, today_in_london()))
