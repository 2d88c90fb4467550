"""What the yearly report reads: every case aware on or before the report's end date, with its
milestones (voided ones left out: they count for nothing) and its stored deadlines.

Four queries whatever the number of cases (cases, milestones, deadlines, children), so a year
of a busy partnership loads at once. It decides nothing: bot/core/report.py counts.

The children's identifiers are read only to be handed to the core as ``private_terms``, which
strips them from recorded reasons; they are never part of what the report shows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlmodel import Session, col, select

from bot.core.report import ReportCase, ReportMilestone, ReportStep
from store.models import Case, CaseSubject, DeadlineRow, MilestoneRow, Partnership


def report_cases(session: Session, *, until: date, partnership_key: str | None = None) -> list[ReportCase]:
    """Every case the LA became aware of on or before ``until`` (of one partnership, or all)."""
    statement = (
        select(Case, Partnership)
        .join(Partnership, col(Partnership.id) == col(Case.partnership_id))
        .where(col(Case.la_aware_on) <= until)
        .order_by(col(Case.la_aware_on), col(Case.id))
    )
    if partnership_key is not None:
        statement = statement.where(Partnership.key == partnership_key)
    rows = session.exec(statement).all()
    ids = [case.id for case, _ in rows if case.id is not None]
    milestones: dict[int, list[ReportMilestone]] = defaultdict(list)
    steps: dict[int, list[ReportStep]] = defaultdict(list)
    terms: dict[int, list[str]] = defaultdict(list)
    if ids:
        for m in session.exec(
            select(MilestoneRow)
            .where(col(MilestoneRow.case_id).in_(ids), col(MilestoneRow.voided_at).is_(None))
            .order_by(col(MilestoneRow.occurred_on), col(MilestoneRow.id))
        ).all():
            milestones[m.case_id].append(ReportMilestone(m.kind, m.occurred_on, m.note))
        for d in session.exec(
            select(DeadlineRow).where(col(DeadlineRow.case_id).in_(ids)).order_by(col(DeadlineRow.id))
        ).all():
            steps[d.case_id].append(
                ReportStep(d.key, d.label, d.due, d.status, d.counts_from, d.anchor_on,
                           d.completed_on, d.source)
            )
        for s in session.exec(select(CaseSubject).where(col(CaseSubject.case_id).in_(ids))).all():
            found = [part for part in (s.name or "").replace("-", " ").split()]
            found += [s.name or "", s.nhs_number or ""]
            if s.date_of_birth is not None:
                found += [s.date_of_birth.isoformat(), s.date_of_birth.strftime("%d/%m/%Y")]
            terms[s.case_id].extend(t for t in found if t)
    return [
        ReportCase(
            reference=case.reference,
            partnership=partnership.key,
            status=case.status,
            la_aware=case.la_aware_on,
            decision=case.decision,
            request_type=case.request_type,
            milestones=tuple(milestones[case.id or 0]),
            steps=tuple(steps[case.id or 0]),
            private_terms=tuple(terms[case.id or 0]),
        )
        for case, partnership in rows
    ]
