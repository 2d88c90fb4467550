"""Reminder sweep time with 10,000 and 100,000 open cases (run by hand, not a test).

    python bench/bench_sweep.py [--cases 10000 100000] [--db sqlite|postgresql|both]

For each size it bulk-loads that many open cases (3 open deadlines and their planned reminders
each, as CaseService would plan them, spread over a year of awareness dates), then times:
- an idle sweep (a minute with nothing due: what the service does 1,440 times a day);
- the 09:00 sweep of a busy working day (every reminder due that morning sent);
- the sweep's claim query plan on PostgreSQL (EXPLAIN), to show the indexes are used.
PostgreSQL uses a throw-away database on 127.0.0.1:5432; SQLite a temporary file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, time as dtime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, text  # noqa: E402

from scheduler.calendar import LONDON, WorkingCalendar  # noqa: E402
from scheduler.deadlines import compute_deadlines  # noqa: E402
from scheduler.reminders import load_policy, plan_deadline  # noqa: E402
from scheduler.sweep import Sweeper  # noqa: E402
from scheduler.timescales import Event, load_timescales  # noqa: E402
from store.db import make_engine, upgrade  # noqa: E402
from store.models import Case, DeadlineRow, Partnership, ReminderRow, utcnow  # noqa: E402

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TODAY = date(2027, 3, 10)  # a Wednesday: the busy morning being measured


def load(engine, count: int) -> None:  # type: ignore[no-untyped-def]
    """Bulk-insert ``count`` open cases with their deadlines and reminders."""
    calendar, policy, timescales = WorkingCalendar(), load_policy(), load_timescales()
    now = utcnow()
    with engine.begin() as conn:
        pid = conn.execute(
            insert(Partnership).values(key="bench", name="Bench", reference_prefix="BN", created_at=now)
        ).inserted_primary_key[0]
        batch = 5000
        for start in range(0, count, batch):
            cases, deadlines, reminders = [], [], []
            ids = range(start + 1, min(start + batch, count) + 1)
            for i in ids:
                aware = TODAY - timedelta(days=i % 365)
                cases.append(dict(id=i, reference=f"BN-{aware.year}-{i:06d}", partnership_id=pid,
                                  year=aware.year, sequence=i, status="open", la_aware_on=aware,
                                  opened_by="bench", opened_at=now, updated_at=now))
            conn.execute(insert(Case), cases)
            for i in ids:
                aware = TODAY - timedelta(days=i % 365)
                for n, d in enumerate(compute_deadlines({Event.LA_AWARE: aware}, timescales, calendar)):
                    did = i * 10 + n
                    deadlines.append(dict(id=did, case_id=i, key=d.key, label=d.label, due=d.due,
                                          status="open", counts_from=d.counts_from.value,
                                          anchor_on=d.anchor_date, rule=d.rule, source=d.source,
                                          updated_at=now))
                    for p in plan_deadline(d.key, d.due, policy, calendar):
                        # Past occasions were sent long ago; only today's and later are pending.
                        status = "pending" if p.send_on >= TODAY else "sent"
                        reminders.append(dict(case_id=i, deadline_id=did, deadline_key=d.key,
                                              occasion=p.occasion.value, send_on=p.send_on,
                                              send_at=p.send_at, status=status, created_at=now))
            conn.execute(insert(DeadlineRow), deadlines)
            conn.execute(insert(ReminderRow), reminders)
        if engine.dialect.name == "postgresql":
            for table in ("case_file", "deadline", "reminder"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def run(engine, count: int) -> dict[str, float | int | str]:  # type: ignore[no-untyped-def]
    upgrade(engine)
    started = time.perf_counter()
    load(engine, count)
    loaded = time.perf_counter() - started
    router = lambda key, audience, owner: [("folder", "#bench")] if audience == "channel" else []  # noqa: E731
    sweeper = Sweeper(engine, load_policy(), lambda key: WorkingCalendar(), router)
    idle_at = datetime.combine(TODAY - timedelta(days=1), dtime(15, 0), tzinfo=LONDON)
    t = time.perf_counter()
    idle = sweeper.sweep(idle_at)
    idle_s = time.perf_counter() - t
    busy_at = datetime.combine(TODAY, dtime(9, 0), tzinfo=LONDON)
    t = time.perf_counter()
    busy = sweeper.sweep(busy_at)
    busy_s = time.perf_counter() - t
    t = time.perf_counter()
    again = sweeper.sweep(busy_at + timedelta(minutes=1))
    after_s = time.perf_counter() - t
    plan = ""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            rows = conn.execute(text(
                "EXPLAIN SELECT deadline_id FROM reminder WHERE status = 'pending' "
                "AND send_at <= :now ORDER BY send_at LIMIT 3200"), {"now": busy_at.astimezone(UTC)}).all()
            plan = " | ".join(r[0].strip() for r in rows if "Index" in r[0] or "Seq Scan" in r[0])
    return {"cases": count, "load_s": round(loaded, 1), "idle_sweep_ms": round(idle_s * 1000, 1),
            "busy_sweep_s": round(busy_s, 2), "reminders_sent": len(busy.sent),
            "per_reminder_ms": round(busy_s * 1000 / max(len(busy.sent), 1), 2),
            "next_minute_sweep_ms": round(after_s * 1000, 1), "idle_sent": len(idle.sent) + len(again.sent),
            "plan": plan}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    for count in args.cases:
        if args.db in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as folder:
                engine = make_engine(f"sqlite:///{folder}/bench.db")
                print("sqlite", run(engine, count), flush=True)
                engine.dispose()
        if args.db in ("postgresql", "both"):
            admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
            name = f"sgbot_bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                engine = make_engine(ADMIN.rsplit("/", 1)[0] + f"/{name}")
                print("postgresql", run(engine, count), flush=True)
                engine.dispose()
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
