"""The real service (outbox sender and mail watchers, as ``safeguard-bot run --headless`` wires
them) with a watcher checkpoint that stops the process at one stage, for crash tests.

    python -m tests.support.paused_service <stage> <marker file>

Settings come from the environment, as for ``safeguard-bot run``. When a watcher reaches
``<stage>`` (handlers.mail.intake.AFTER_FETCH or AFTER_COMMIT) this process writes its PID to
the marker file and sleeps; the test then SIGKILLs it there, the way a power cut or the OOM
killer would, and checks what a restart makes of the state it left. Production code knows
nothing of this: the watchers only expose ``checkpoint``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from bot.runtime import open_runtime
from bot.service import Service
from bot.settings import load_settings
from handlers.mail.component import mail_components
from handlers.mail.intake import AFTER_COMMIT, AFTER_FETCH, Checkpoint


def pause_at(stage: str, marker: Path) -> Checkpoint:
    """A checkpoint that, at ``stage``, writes this process's PID to ``marker`` and sleeps until
    the process is killed (every other stage passes)."""

    def checkpoint(reached: str) -> None:
        if reached != stage:
            return
        marker.write_text(str(os.getpid()))
        while True:
            time.sleep(3600)

    return checkpoint


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in (AFTER_FETCH, AFTER_COMMIT):
        print(f"usage: python -m tests.support.paused_service {{{AFTER_FETCH}|{AFTER_COMMIT}}} MARKER",
              file=sys.stderr)
        return 2
    stage, marker = argv[0], Path(argv[1])
    runtime = open_runtime(load_settings())
    service = Service(runtime)
    service.components.update(
        mail_components(runtime, wake=service.wake_threadsafe, checkpoint=pause_at(stage, marker))
    )
    asyncio.run(service.run(asyncio.Event()))  # until killed
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
