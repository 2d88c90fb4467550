"""The inbox folder's intake, message by message (run by hand, not a test).

    python bench/bench_folder_intake.py [N] [KIND]      # default: 100 messages, KIND=docx

The embedded default mailbox: N distinct referrals are dropped into ``<data dir>/inbox/`` and
one ``FolderInbox.scan`` reads them all through the real pipeline (form read in the worker
process, case opened, acknowledgement and notice written to the outbox, SQLite), then each
message is archived (issue 16: encrypted under the data key in ``inbox/processed/``; a tree
before that moved the plain file). Reports the scan's time per message, and separately the
cost of archiving alone (``store.originals``), so the encryption's share is visible (to compare
with a tree before the archive, run its copy of this script without that last part). No delivery: the figures are the intake's own work, without Dovecot's IDLE delay
that bench_intake.py includes. Not pass/fail: the figures go in the note.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.runtime import open_runtime  # noqa: E402
from bot.settings import load_settings  # noqa: E402
from handlers.mail.folder_watcher import FolderInbox  # noqa: E402
from handlers.mail.intake import IntakePipeline  # noqa: E402
from store import originals  # noqa: E402
from store.crypto import generate_key  # noqa: E402
from tests.support.mail import distinct_referral  # noqa: E402


def main(n: int = 100, kind: str = "docx") -> None:
    # Child details are stored only under a data key: a throw-away one unless one is configured.
    os.environ.setdefault("SAFEGUARD_DATA_KEY", generate_key())
    data = Path(tempfile.mkdtemp(prefix="sgbot-bench-folder-"))
    settings = load_settings(data_dir=data, intake_replies_per_sender_per_hour=1000)
    runtime = open_runtime(settings)
    inbox = FolderInbox(settings.inbox_dir, IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router))
    inbox.scan()  # creates the folders; starts nothing else
    messages = [distinct_referral(kind, k) for k in range(n)]
    warm = settings.inbox_dir / "warm.eml"
    warm.write_bytes(distinct_referral(kind, n + 1))
    inbox.scan()  # the form reader's worker process starts here, outside the figure
    for k, raw in enumerate(messages):
        partial = settings.inbox_dir / f".{k}.partial"
        partial.write_bytes(raw)
        partial.rename(settings.inbox_dir / f"{k:05d}.eml")
    started = time.perf_counter()
    outcomes = inbox.scan()
    elapsed = time.perf_counter() - started
    opened = sum(o.status == "opened" for o in outcomes)
    print(f"folder     n={n:4d}  opened={opened:4d}  scan={elapsed:6.2f} s  per message={elapsed / n * 1000:6.1f} ms")
    sizes = [len(raw) for raw in messages]
    target = data / "archive-only"
    started = time.perf_counter()
    for k, raw in enumerate(messages):
        originals.store_bytes(raw, target, f"{k:064x}", mtime_ns=time.time_ns())
    archive = time.perf_counter() - started
    print(f"archive    n={n:4d}  mean size={sum(sizes) / n / 1024:6.1f} KiB  "
          f"per message={archive / n * 1000:6.2f} ms (encrypt, write, fsync, rename)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100, sys.argv[2] if len(sys.argv) > 2 else "docx")
