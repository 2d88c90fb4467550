"""``safeguard-bot keys rotate``'s work (store.crypto.rotate_batches, one row a batch) in a
process that stops after its first committed batch, for the crash test.

    python -m tests.support.paused_rotation <marker file>

Settings (the database, the keys NEW,OLD) come from the environment, as for the command.
After the first batch this process writes its PID to the marker file and sleeps; the test
SIGKILLs it there and checks that the state it left is readable and that a second run finishes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bot.settings import load_settings
from store.crypto import rotate_batches
from store.db import open_database


def main(argv: list[str]) -> int:
    marker = Path(argv[0])
    settings = load_settings()
    engine = open_database(settings.resolved_database_url())

    def pause(done: int) -> None:
        if done:
            marker.write_text(str(__import__("os").getpid()))
            while True:
                time.sleep(3600)

    rotate_batches(engine.begin, batch_size=1, progress=pause)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
