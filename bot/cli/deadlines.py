"""``safeguard-bot deadlines``: the statutory deadlines from dates given, with no database."""

from __future__ import annotations

from datetime import date

import click

from bot.cli.common import (
    date_option,
    deadline_table,
    fail,
    fmt_day,
    print_json,
    settings_of,
    warn,
)


@click.command()
@click.option("--aware", required=True, help="Date the LA became aware (day 0).")
@click.option("--notified", default=None, help="Date the Panel was notified.")
@click.option(
    "--rapid-review-submitted", "rapid", default=None, help="Date the rapid review was sent."
)
@click.option("--decision", default=None, help="Date of the decision to initiate an LCSPR.")
@click.option("--publication", default=None, help="Planned publication date of the LCSPR.")
@click.option("--partnership", default=None, help="Partnership key (closure days, anchors).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def deadlines(
    ctx: click.Context,
    aware: str,
    notified: str | None,
    rapid: str | None,
    decision: str | None,
    publication: str | None,
    partnership: str | None,
    as_json: bool,
) -> None:
    """Every statutory deadline from the dates given (no database needed)."""
    from bot.core.lifecycle import (
        CaseFacts,
        LifecycleError,
        RecordedMilestone,
        check_awareness,
        derive_deadlines,
        out_of_order,
    )
    from bot.settings import SettingsError
    from scheduler.deadlines import due_date
    from scheduler.timescales import Milestone, TimescaleConfigError

    dates: dict[str, date | None] = {
        "--aware": date_option(aware, "--aware"),
        "--notified": date_option(notified, "--notified"),
        "--rapid-review-submitted": date_option(rapid, "--rapid-review-submitted"),
        "--decision": date_option(decision, "--decision"),
        "--publication": date_option(publication, "--publication"),
    }
    la_aware = dates["--aware"]
    assert la_aware is not None

    try:
        check_awareness(la_aware)
    except LifecycleError as exc:
        # The calculator still answers (historic or training examples), with a warning.
        warn(f"--aware: {exc}")
    milestones = [
        (Milestone.PANEL_NOTIFIED, "--notified"),
        (Milestone.RAPID_REVIEW_SENT, "--rapid-review-submitted"),
        (Milestone.DECISION_LOCAL_REVIEW, "--decision"),
        (Milestone.PUBLICATION_PLANNED, "--publication"),
    ]
    given: dict[Milestone, date] = {kind: on for kind, flag in milestones if (on := dates[flag])}
    flags = dict(milestones)
    # Each date must not precede the one it follows from: the lifecycle's ordering rule.
    for kind, on in given.items():
        for earlier, earlier_on in out_of_order(kind, on, la_aware, given):
            flag = flags[earlier] if earlier is not None else "--aware"
            fail(f"{flags[kind]} {on.isoformat()} is before {flag} {earlier_on.isoformat()}")

    facts = CaseFacts(
        la_aware=la_aware,
        milestones=tuple(RecordedMilestone(kind, on) for kind, on in given.items()),
    )
    settings = settings_of(ctx)
    try:
        chosen = settings.partnership(partnership)
        timescales = settings.timescales_for(chosen)
        calendar = settings.calendar_for(chosen)
    except (SettingsError, TimescaleConfigError) as exc:
        fail(str(exc))
    states = derive_deadlines(facts, timescales, calendar)

    # Sources disagree on the rapid review anchor: say what the other reading would give.
    notes: dict[str, str] = {}
    rapid_rule = timescales.get("rapid_review")
    alternatives = [e for e in rapid_rule.allowed_counts_from if e != rapid_rule.counts_from]
    for alternative in alternatives:
        anchor = facts.events().get(alternative)
        if anchor is None:
            continue
        other = timescales.with_counts_from("rapid_review", alternative)
        other_due = due_date(other.get("rapid_review"), anchor, calendar)
        current = next((s for s in states if s.deadline.key == "rapid_review"), None)
        if current and other_due != current.deadline.due:
            notes["rapid_review"] = (
                f"counted from {alternative.value.replace('_', ' ')} "
                f"({anchor.isoformat()}) it would be {other_due.isoformat()}"
            )

    if as_json:
        from bot.cases import deadline_json

        out = []
        for state in states:
            item = deadline_json(state)
            if state.deadline.key in notes:
                item["note"] = notes[state.deadline.key]
            out.append(item)
        print_json(out)
        return
    click.echo(f"LA became aware: {fmt_day(la_aware)} (day 0)")
    click.echo(deadline_table(states))
    for key, note in notes.items():
        click.echo(f"\nNote on {key}: {note}")

