"""Store and case service on SQLite and PostgreSQL: references, deadlines, audit, concurrency."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from bot.cases import CaseNotFound, CaseService
from bot.core.lifecycle import DeadlineStatus, LifecycleError
from bot.settings import load_settings
from store.models import AuditEntry, DeadlineRow


def _rows(engine: Engine, reference: str) -> dict[str, DeadlineRow]:
    with Session(engine) as session:
        rows = session.exec(
            select(DeadlineRow).join_from(DeadlineRow, __import__("store.models").models.Case)
            .where(__import__("store.models").models.Case.reference == reference)
        ).all()
        return {row.key: row for row in rows}


def test_open_case_persists_deadlines_and_audit(cases: CaseService, engine: Engine) -> None:
    view = cases.open_case(la_aware=date(2026, 12, 22), actor="tester", summary="Fictional")
    assert view.reference == "SG-2026-0001"
    rows = _rows(engine, view.reference)
    assert {k: (r.due, r.status) for k, r in rows.items()} == {
        "panel_notification": (date(2026, 12, 31), "open"),
        "partners_notification": (date(2026, 12, 31), "open"),
        "rapid_review": (date(2027, 1, 15), "open"),
    }
    assert all(r.source and r.rule for r in rows.values())
    with Session(engine) as session:
        entries = session.exec(select(AuditEntry)).all()
    assert [e.action for e in entries] == ["case.opened"]
    assert entries[0].detail["reference"] == view.reference
    assert "Fictional" not in str(entries[0].detail)  # free text never copied into the audit log


def test_references_are_sequential_per_year(cases: CaseService) -> None:
    refs = [cases.open_case(la_aware=date(2026, 12, d), actor="t").reference for d in (1, 2)]
    refs.append(cases.open_case(la_aware=date(2027, 1, 4), actor="t").reference)
    assert refs == ["SG-2026-0001", "SG-2026-0002", "SG-2027-0001"]


def test_recording_milestones_updates_rows(cases: CaseService, engine: Engine) -> None:
    ref = cases.open_case(la_aware=date(2026, 12, 22), actor="t").reference
    cases.record_milestone(ref, "panel-notified", on=date(2026, 12, 30), actor="officer")
    view = cases.record_milestone(ref.lower(), "rapid_review_sent", on=date(2027, 1, 18), actor="o")
    statuses = {s.deadline.key: s.status for s in view.deadlines}
    assert statuses["panel_notification"] is DeadlineStatus.MET
    assert statuses["rapid_review"] is DeadlineStatus.MISSED
    assert statuses["panel_response"] is DeadlineStatus.AWAITED
    rows = _rows(engine, ref)
    assert rows["rapid_review"].status == "missed"
    assert rows["rapid_review"].completed_on == date(2027, 1, 18)
    assert rows["panel_response"].due == date(2027, 2, 8)
    assert [m.kind for m in cases.get(ref).milestones] == ["panel_notified", "rapid_review_sent"]


def test_refusals_change_nothing(cases: CaseService, engine: Engine) -> None:
    ref = cases.open_case(la_aware=date(2026, 12, 22), actor="t").reference
    with pytest.raises(LifecycleError):
        cases.record_milestone(ref, "rapid-review-sent", on=date(2027, 1, 5), actor="o")
    with pytest.raises(CaseNotFound):
        cases.record_milestone("SG-1999-0001", "panel-notified", on=date(2026, 12, 23), actor="o")
    assert cases.get(ref).milestones == ()
    with Session(engine) as session:
        assert len(session.exec(select(AuditEntry)).all()) == 1


def test_audit_log_is_append_only(cases: CaseService, engine: Engine) -> None:
    cases.open_case(la_aware=date(2026, 12, 22), actor="t")
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text(statement))


def test_list_and_next_deadline(cases: CaseService) -> None:
    first = cases.open_case(la_aware=date(2026, 12, 22), actor="t").reference
    cases.open_case(la_aware=date(2026, 12, 1), actor="t")
    cases.record_milestone(first, "panel-notified", on=date(2026, 12, 23), actor="o")
    cases.record_milestone(first, "partners-notified", on=date(2026, 12, 23), actor="o")
    views = cases.list()
    assert [v.reference for v in views] == ["SG-2026-0002", "SG-2026-0001"]
    nxt = views[1].next_deadline
    assert nxt is not None and nxt.deadline.key == "rapid_review"


def test_partnership_settings_apply(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        data_dir=tmp_path,
        partnerships=[
            {"key": "tees", "name": "Tees", "reference_prefix": "TEES",
             "closure_days": ["2026-12-29", "2026-12-30"],
             "rapid_review_counts_from": "panel_notified"},
        ],
    )
    service = CaseService(engine, settings)
    view = service.open_case(la_aware=date(2026, 12, 22), actor="t", partnership_key="tees")
    assert view.reference == "TEES-2026-0001"
    keys = {s.deadline.key: s.deadline.due for s in view.deadlines}
    # Closure days never move a due date (issue 10 item 2); the rapid review anchor does apply.
    assert keys == {"panel_notification": date(2026, 12, 31), "partners_notification": date(2026, 12, 31)}
    view = service.record_milestone(view.reference, "panel-notified", on=date(2026, 12, 24), actor="o")
    assert {s.deadline.key: s.deadline.due for s in view.deadlines}["rapid_review"] == date(2027, 1, 19)


def test_concurrent_openings_get_distinct_references(engine: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    service = CaseService(engine, settings)
    references: list[str] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            references.append(service.open_case(la_aware=date(2026, 12, 22), actor="t").reference)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(references) == [f"SG-2026-{i:04d}" for i in range(1, 9)]


def test_concurrent_milestones_on_one_case_record_once(engine: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    service = CaseService(engine, settings)
    ref = service.open_case(la_aware=date(2026, 12, 22), actor="t").reference
    outcomes: list[str] = []

    def record_one() -> None:
        try:
            service.record_milestone(ref, "panel-notified", on=date(2026, 12, 23), actor="o")
            outcomes.append("ok")
        except LifecycleError:
            outcomes.append("refused")

    threads = [threading.Thread(target=record_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5
    assert len(service.get(ref).milestones) == 1


def test_one_submission_opens_one_case_even_when_it_arrives_at_once(engine: Engine, settings) -> None:  # type: ignore[no-untyped-def]
    """A replayed or double-clicked "Open a case" submission: the unique submission id makes the
    second (and every later) opening return the first one's case, even in a race."""
    service = CaseService(engine, settings)
    submission = "5" * 32
    start = threading.Barrier(6)
    results: list[tuple[str, bool]] = []
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            start.wait(timeout=30)
            view, opened = service.open_case_once(submission, la_aware=date(2026, 12, 22), actor="slack:U1")
            results.append((view.reference, opened))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(opened for _, opened in results) == [False] * 5 + [True]
    assert {reference for reference, _ in results} == {"SG-2026-0001"}
    assert [case.reference for case in service.list()] == ["SG-2026-0001"]
    assert service.case_for_submission(submission).reference == "SG-2026-0001"  # type: ignore[union-attr]
    again, opened = service.open_case_once(submission, la_aware=date(2026, 12, 22), actor="slack:U1")
    assert (again.reference, opened) == ("SG-2026-0001", False)
    other, opened = service.open_case_once("6" * 32, la_aware=date(2026, 12, 22), actor="slack:U1")
    assert (other.reference, opened) == ("SG-2026-0002", True)
    assert service.case_for_submission("7" * 32) is None


# --- references: unique per partnership by construction, whatever the settings say ------------


def _open_in_store(
    engine: Engine, key: str, prefix: str, aware: date = date(2026, 12, 22), attempts: int = 5
) -> str:
    """Open a case through the repository alone, as a deployed database with partnership rows
    that settings no longer (or never) kept apart would."""
    from store import cases as repo
    from store.db import session_scope

    with session_scope(engine) as session:
        partnership = repo.ensure_partnership(session, key, key.title(), prefix)
        case = repo.add_case(session, partnership, la_aware_on=aware, opened_by="t", attempts=attempts)
        return case.reference


def test_partnerships_sharing_a_prefix_get_distinct_references(engine: Engine) -> None:
    refs = [_open_in_store(engine, key, "SG") for key in ("north", "south", "north", "south")]
    assert refs == ["SG-2026-0001", "SG-2026-0002", "SG-2026-0003", "SG-2026-0004"]
    assert _open_in_store(engine, "south", "SG", date(2027, 1, 4)) == "SG-2027-0001"


def test_a_changed_prefix_never_collides(engine: Engine) -> None:
    # south has used SG four times; north used NO three times and is then given SG as well.
    assert [_open_in_store(engine, "south", "SG") for _ in range(4)][-1] == "SG-2026-0004"
    assert [_open_in_store(engine, "north", "NO") for _ in range(3)][-1] == "NO-2026-0003"
    # Neither south's SG-2026-0004 nor north's own sequence 1..3 may be reused.
    assert _open_in_store(engine, "north", "SG") == "SG-2026-0005"
    assert _open_in_store(engine, "south", "SG") == "SG-2026-0006"
    assert _open_in_store(engine, "north", "NO") == "NO-2026-0006"


def test_concurrent_openings_across_partnerships_sharing_a_prefix(engine: Engine) -> None:
    references: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def open_one(key: str) -> None:
        try:
            start.wait(timeout=30)
            # One attempt: allocation must be serialised, not rescued by the retry.
            references.append(_open_in_store(engine, key, "SG", attempts=1))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    # Create both partnership rows first: the race under test is reference allocation.
    _open_in_store(engine, "north", "SG")
    _open_in_store(engine, "south", "SG")
    threads = [threading.Thread(target=open_one, args=("north" if i % 2 else "south",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(references) == [f"SG-2026-{i:04d}" for i in range(3, 11)]


# --- case owner: a Slack user ID or an e-mail address, checked by the service ------------------


@pytest.mark.parametrize(
    "owner", ["<!channel>", "U123", "U0123abcd", "C0123ABCD9", "#general", "S0123ABCD", "officer",
              "officer@", "@council.gov.uk", "a b@council.gov.uk", "officer@council", ""]
)
def test_bad_owner_refused_and_nothing_stored(cases: CaseService, engine: Engine, owner: str) -> None:
    from bot.cases import InvalidOwner

    with pytest.raises(InvalidOwner) as caught:
        cases.open_case(la_aware=date(2026, 11, 20), actor="t", owner=owner)
    assert "\n" not in str(caught.value)
    assert cases.list() == []
    with Session(engine) as session:
        assert session.exec(select(AuditEntry)).all() == []


@pytest.mark.parametrize(
    ("given", "stored"),
    [("U0123ABCD", "U0123ABCD"), ("W0123ABCDEF", "W0123ABCDEF"),
     (" officer.name+cases@council.gov.uk ", "officer.name+cases@council.gov.uk")],
)
def test_good_owner_accepted(cases: CaseService, given: str, stored: str) -> None:
    view = cases.open_case(la_aware=date(2026, 11, 20), actor="t", owner=given)
    assert view.owner == stored == cases.get(view.reference).owner


def test_slack_owner_without_slack_is_reported_at_open(engine: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    without = CaseService(engine, load_settings(data_dir=tmp_path))
    view = without.open_case(la_aware=date(2026, 11, 20), actor="t", owner="U0123ABCD")
    assert len(view.warnings) == 1
    assert "U0123ABCD" in view.warnings[0] and "Slack is not configured" in view.warnings[0]
    # An e-mail owner on the embedded defaults goes to the folder by design: no warning.
    assert without.open_case(la_aware=date(2026, 11, 20), actor="t", owner="a@council.gov.uk").warnings == ()
    with_slack = CaseService(engine, load_settings(data_dir=tmp_path, slack_bot_token="xoxb-test"))
    assert with_slack.open_case(la_aware=date(2026, 11, 20), actor="t", owner="U0123ABCD").warnings == ()


def test_advisory_lock_serialises_one_name_until_commit(engine: Engine) -> None:
    """store.db.advisory_lock: a second transaction asking for the same name waits for the
    first to end (PostgreSQL); another name, or SQLite, does not wait at all."""
    from store.db import advisory_lock

    with Session(engine) as holder:
        advisory_lock(holder, "message:<a@x>")
        with Session(engine) as other:
            if engine.dialect.name == "postgresql":
                other.execute(text("SET LOCAL lock_timeout = '200ms'"))
                advisory_lock(other, "message:<b@x>")  # a different name: free
                with pytest.raises(DBAPIError):
                    advisory_lock(other, "message:<a@x>")
                other.rollback()
            else:
                advisory_lock(other, "message:<a@x>")  # SQLite: BEGIN IMMEDIATE serialises instead
        holder.commit()
        with Session(engine) as after:
            advisory_lock(after, "message:<a@x>")  # released with the first transaction
            after.commit()
