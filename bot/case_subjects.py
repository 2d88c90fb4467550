"""Recording who a case is about (optional child details), separately from the case itself.

Adapters call this after CaseService.open_case. The details are never logged, audited or
returned by CaseService, so nothing that posts to a shared channel can include them.
"""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import Engine

from bot.core import nhs
from bot.cases import CaseNotFound
from store import case_subjects as repo
from store import cases as case_repo
from store.db import session_scope


class SubjectError(ValueError):
    """A detail that cannot be right (the message names the field, never the value)."""


def check_nhs_number(text: str) -> str:
    """Ten digits (spaces allowed) with a valid modulus-11 check digit."""
    digits = re.sub(r"\s+", "", text)
    if not re.fullmatch(r"\d{10}", digits):
        raise SubjectError("an NHS number has 10 digits")
    if not nhs.is_valid(digits):
        raise SubjectError("that NHS number's check digit is wrong")
    return digits


def record_subject(
    engine: Engine,
    reference: str,
    *,
    name: str | None,
    date_of_birth: date | None,
    nhs_number: str | None,
    actor: str,
) -> None:
    if not (name or date_of_birth or nhs_number):
        return
    with session_scope(engine) as session:
        case = case_repo.get_case(session, reference)
        if case is None or case.id is None:
            raise CaseNotFound(f"no case with reference {reference!r}")
        repo.save_subject(
            session, case.id, name=name, date_of_birth=date_of_birth, nhs_number=nhs_number,
            recorded_by=actor,
        )
        case_repo.audit(session, actor=actor, action="subject.recorded", case_id=case.id,
                        detail={"reference": case.reference})
