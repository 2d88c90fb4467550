"""``safeguard-bot case amend|void|correct|withdraw|close|reopen|assign|history|child``: putting a
case right and finishing it (issue 11).

Each command parses what was typed, makes one call to the case service (bot.cases), which
checks, audits and re-plans, and prints the answer: the rules are the service's. Registered
on the ``case`` group of bot.cli.cases; bot.cli's LAZY_COMMANDS loads ``case`` from here so
both modules' commands are present.
"""

from __future__ import annotations

from typing import Any

import click

from bot.cli.cases import _show_changed, case
from bot.cli.common import (
    actor_of,
    case_service,
    date_option,
    domain_call,
    fmt_day,
    print_json,
    table,
)

_REASON = click.option("--reason", required=True,
                       help="Why (kept in the audit log, which anyone who sees the case list may read: do not name the child).")
_BY = click.option("--by", default=None, help="Who is doing this (default: your login).")
_JSON = click.option("--json", "as_json", is_flag=True)

__all__ = ["case"]


@case.command("amend")
@click.argument("reference")
@click.argument("milestone")
@click.option("--on", "on", required=True, help="The right date.")
@_REASON
@_BY
@_JSON
@click.pass_context
def case_amend(ctx: click.Context, reference: str, milestone: str, on: str, reason: str,
               by: str | None, as_json: bool) -> None:
    """A recorded milestone's date was wrong: re-date it (deadlines and reminders follow)."""
    occurred = date_option(on, "--on")
    service = case_service(ctx)
    view = domain_call(lambda: service.amend_milestone(reference, milestone, on=occurred,
                                                        reason=reason, actor=actor_of(by)))
    key = milestone.strip().lower().replace("_", "-")
    _show_changed(view, as_json, f"Amended {key} to {fmt_day(occurred)} for {view.reference}")


@case.command("void")
@click.argument("reference")
@click.argument("milestone")
@_REASON
@_BY
@_JSON
@click.pass_context
def case_void(ctx: click.Context, reference: str, milestone: str, reason: str, by: str | None,
              as_json: bool) -> None:
    """A milestone was recorded in error: void it (kept in the record; its deadlines reopen)."""
    service = case_service(ctx)
    view = domain_call(lambda: service.void_milestone(reference, milestone, reason=reason,
                                                       actor=actor_of(by)))
    key = milestone.strip().lower().replace("_", "-")
    _show_changed(view, as_json, f"Voided {key} on {view.reference}")


@case.command("correct")
@click.argument("reference")
@click.option("--aware", required=True, help="The right date the LA became aware.")
@_REASON
@_BY
@_JSON
@click.pass_context
def case_correct(ctx: click.Context, reference: str, aware: str, reason: str, by: str | None,
                 as_json: bool) -> None:
    """The LA-aware date was wrong: correct it (every deadline counted from it moves)."""
    la_aware = date_option(aware, "--aware")
    service = case_service(ctx)
    view = domain_call(lambda: service.correct_awareness(reference, aware=la_aware, reason=reason,
                                                          actor=actor_of(by)))
    _show_changed(view, as_json, f"Corrected {view.reference}: LA became aware {fmt_day(view.la_aware)}")


def _status_command(name: str, method: str, done: str, doc: str) -> None:
    @case.command(name, help=doc)
    @click.argument("reference")
    @_REASON
    @_BY
    @_JSON
    @click.pass_context
    def command(ctx: click.Context, reference: str, reason: str, by: str | None, as_json: bool) -> None:
        service = case_service(ctx)
        view = domain_call(lambda: getattr(service, method)(reference, reason=reason, actor=actor_of(by)))
        _show_changed(view, as_json, f"{done} {view.reference} (status {view.status})")


_status_command("withdraw", "withdraw", "Withdrew",
                "Opened by mistake or a duplicate: status withdrawn, no deadlines, no reminders "
                "(the audit stays).")
_status_command("close", "close", "Closed",
                "Close the case; steps still open are marked not applicable (and named).")
_status_command("reopen", "reopen", "Reopened",
                "Reopen a closed or withdrawn case: its open deadlines and reminders return.")


@case.command("assign")
@click.argument("reference")
@click.option("--owner", required=True, help="A Slack user ID (U...) or an e-mail address.")
@_BY
@_JSON
@click.pass_context
def case_assign(ctx: click.Context, reference: str, owner: str, by: str | None, as_json: bool) -> None:
    """Give the case an owner: reminders and escalations go to them."""
    service = case_service(ctx)
    view = domain_call(lambda: service.assign(reference, owner=owner, actor=actor_of(by)))
    _show_changed(view, as_json, f"Assigned {view.reference} to {view.owner}")


@case.command("history")
@click.argument("reference")
@_JSON
@click.pass_context
def case_history(ctx: click.Context, reference: str, as_json: bool) -> None:
    """The case's audit trail: who did what, when, and why."""
    service = case_service(ctx, writing=False)
    entries = domain_call(lambda: service.history(reference))
    if as_json:
        print_json(entries)
        return
    rows = [[_london(e["at"]), e["actor"], e["action"], _describe(e["detail"])] for e in entries]
    click.echo(table(["When (London)", "Who", "What", "Detail"], rows))


def _london(moment: str) -> str:
    from datetime import datetime

    from scheduler.calendar import LONDON

    return datetime.fromisoformat(moment).astimezone(LONDON).strftime("%d %b %Y %H:%M")


def _describe(detail: dict[str, Any]) -> str:
    """The detail in words: the fields that say what changed, the reference left out."""
    parts = []
    for key, value in detail.items():
        if key == "reference" or value in (None, [], {}):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


@case.group("child")
def case_child() -> None:
    """The children a case is about (several in one incident: siblings)."""


@case_child.command("add")
@click.argument("reference")
@click.option("--name", default=None, help="The child's name (personal data: shown as initials).")
@click.option("--dob", default=None, help="Date of birth.")
@click.option("--nhs", default=None, help="NHS number (10 digits).")
@_BY
@click.pass_context
def case_child_add(ctx: click.Context, reference: str, name: str | None, dob: str | None,
                   nhs: str | None, by: str | None) -> None:
    """Add another child to the case (e.g. a sibling harmed in the same incident)."""
    from bot.case_subjects import SubjectError, check_nhs_number
    from bot.cli.common import fail

    born = date_option(dob, "--dob")
    try:
        number = check_nhs_number(nhs) if nhs else None
    except SubjectError as exc:
        fail(f"--nhs: {exc}")
    service = case_service(ctx)
    view = domain_call(lambda: service.add_child(reference, name=name, date_of_birth=born,
                                                  nhs_number=number, actor=actor_of(by)))
    click.echo(f"{view.reference} is about {len(view.children)} children: {', '.join(view.children)}")


@case.command("hold")
@click.argument("reference")
@click.option("--reason", default=None,
              help="Why (e.g. an inquiry's preservation order); retention never erases a held case.")
@click.option("--lift", is_flag=True, help="Lift the hold instead.")
@_BY
@click.pass_context
def case_hold(ctx: click.Context, reference: str, reason: str | None, lift: bool, by: str | None) -> None:
    """Put a legal hold on a case (retention never erases it), or lift one (--lift)."""
    from bot.cli.common import fail
    from bot.retention import hold

    if lift == bool(reason and reason.strip()):
        fail("case hold: give --reason (why the case is held) or --lift, not both")
    service = case_service(ctx)
    domain_call(lambda: hold(service.engine, reference, reason=None if lift else reason.strip(), actor=actor_of(by)))
    click.echo(f"Hold on {reference} lifted" if lift else f"{reference} is on hold: retention will not erase it")
