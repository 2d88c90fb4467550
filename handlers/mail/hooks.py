"""A test-only checkpoint: pause a watcher at a named stage so a test can SIGKILL it there.

``SAFEGUARD_TEST_INTAKE_PAUSE=after_fetch:/tmp/marker`` makes the watcher write its PID to the
marker file when it reaches that stage and then sleep until killed. Stages: ``after_fetch`` (the
message is read, nothing committed) and ``after_commit`` (case committed, message not yet moved).
Unset in production, where ``checkpoint`` is one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PAUSE_ENV = "SAFEGUARD_TEST_INTAKE_PAUSE"


def checkpoint(stage: str) -> None:
    spec = os.environ.get(PAUSE_ENV)
    if not spec:
        return
    wanted, _, marker = spec.partition(":")
    if wanted != stage:
        return
    Path(marker).write_text(str(os.getpid()))
    while True:  # until the test kills this process
        time.sleep(3600)
