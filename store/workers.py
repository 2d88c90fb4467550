"""Worker heartbeats: which ``run`` processes are alive, for ``status`` and for operators."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from store.models import WorkerHeartbeat, utcnow


def beat(
    session: Session, worker_id: str, *, host: str, pid: int, components: str,
    stopped: datetime | None = None,
) -> None:
    """Record that ``worker_id`` is alive now (or stopped at ``stopped``)."""
    row = session.get(WorkerHeartbeat, worker_id)
    if row is None:
        row = WorkerHeartbeat(id=worker_id, host=host, pid=pid, components=components[:200])
    row.last_seen = utcnow()
    row.stopped_at = stopped
    session.add(row)


def running(session: Session) -> Sequence[WorkerHeartbeat]:
    """Workers that have not said they stopped (a killed one stays until it is stale)."""
    return session.exec(select(WorkerHeartbeat).where(col(WorkerHeartbeat.stopped_at).is_(None))).all()
