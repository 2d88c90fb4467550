"""Plain-text rendering of a criteria evaluation, shared by ``criteria`` and the terminal chat."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from bot.core.criteria import also_notify_text
from bot.core.text import fmt_day, table


def render_evaluation(
    evaluation: Any, flow: Any, deadlines: Sequence[Any] = (), aware: date | None = None
) -> str:
    """Decision, reasons and grey areas with numbered sources, then the deadlines that run."""
    sources: list[str] = []

    def cite(source: str) -> int:
        if source not in sources:
            sources.append(source)
        return sources.index(source) + 1

    lines: list[str] = []
    if not evaluation.decided:
        question = flow.question(evaluation.next_question)
        lines.append(f"More information needed: {question.text}")
        lines.append(
            f"  answer with --answer {question.key}=" + "|".join(v for v, _ in question.options)
        )
    else:
        lines.append(f"Decision: {evaluation.title} ({evaluation.decision})")
        lines.append(f"  {evaluation.summary}")
        if evaluation.next_question:
            question = flow.question(evaluation.next_question)
            lines.append(
                f"Still to settle the other notifications: {question.text}\n"
                f"  answer with --answer {question.key}=" + "|".join(v for v, _ in question.options)
            )
    if evaluation.also_notify:
        lines.append(f"Also notify: {also_notify_text(evaluation.also_notify)}")
    if evaluation.reasons:
        lines.append("\nWhy:")
        lines.extend(f"  - {r.text} [{cite(r.source)}]" for r in evaluation.reasons)
    if evaluation.grey_areas:
        lines.append("\nGuidance for this kind of case:")
        lines.extend(f"  * {g.title}: {g.text} [{cite(g.source)}]" for g in evaluation.grey_areas)
    if deadlines and aware is not None:
        lines.append(f"\nDeadlines (LA became aware {fmt_day(aware)}, day 0):")
        rows = [[d.label, fmt_day(d.due), f"{d.rule} [{cite(d.source)}]"] for d in deadlines]
        lines.extend("  " + row for row in table(["Step", "Due", "Rule [source]"], rows).splitlines())
    if sources:
        lines.append("\nSources:")
        lines.extend(f"  [{i}] {s}" for i, s in enumerate(sources, start=1))
    return "\n".join(lines)


def rationale(evaluation: Any, limit: int = 1990) -> str:
    """A decision's rationale as one note: every answer's reason, then the deciding rule's."""
    return "; ".join(reason.text for reason in evaluation.reasons)[:limit]
