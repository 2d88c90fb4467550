"""Reading a form in a worker process, with a CPU-time limit and a wall-clock timeout.

Why a process: the readers' own limits (safety.py) refuse the expensive shapes we know of, but
pypdf, python-docx, lxml and the field extractor have more slow paths than any list of limits
can name (one PDF page can draw 200,000 text runs from 500 KB on disk). A thread cannot be
stopped; a process can. So every parse runs in a worker process that the kernel stops once it
has used ``cpu_seconds`` of CPU (RLIMIT_CPU sends SIGXCPU, whose default action ends the
process), and that this side kills if no answer came within ``wall_seconds`` (a worker starved
of CPU, or stuck in a way that uses none). Either way the caller gets ``ReferralRejected`` with
a one-line reason, the message is quarantined and a human told, and the next message is read.

Why a persistent worker rather than a process per form: starting Python with pypdf and
python-docx imported costs far more than reading a Word form; sending a form to a waiting
worker costs about a millisecond. The CPU limit is per form all the same: before each form the
worker sets its soft limit to the CPU it has used so far plus the budget. A worker that was
stopped is replaced on the next parse; one that has read ``forms_per_worker`` forms is retired,
so nothing a reader leaves behind accumulates.

Why ``subprocess`` and a socket pair rather than multiprocessing: the service runs threads (mail
watchers, the Slack loop, the sweep), and forking a threaded process can copy a lock another
thread holds into a child that then deadlocks on it; a fresh interpreter (fork + exec) is safe
from any thread. multiprocessing's "spawn" would also re-run the parent's ``__main__`` in the
worker; this starts only ``serve_forever`` below. The worker's output goes nowhere: a library's
warning could quote the form.
"""

from __future__ import annotations

import atexit
import importlib
import json
import logging
import math
import pickle
import resource
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date
from multiprocessing.connection import Connection
from typing import Any

from handlers.referral import safety
from bot.core.referral_errors import ReferralRejected
from handlers.referral.labels import LabelBook
from bot.core.referral import Referral
from handlers.referral.reader import read_referral

log = logging.getLogger(__name__)

Read = Callable[..., Referral]
_READY, _OK, _REJECTED, _FAILED = "ready", "ok", "rejected", "failed"
START_SECONDS = 60.0  # for a new worker to import the readers (about a second; more when busy)
# The worker's whole program: this service's import path, then serve_forever on the inherited fd.
_BOOT = ("import json, sys; sys.path[:] = json.loads(sys.argv[2]); "
         "from handlers.referral.worker import serve_forever; serve_forever(int(sys.argv[1]))")


class ReaderUnavailable(RuntimeError):
    """No worker process could be started. Not the form's fault, so not ReferralRejected: the
    intake pipeline reports it as a reader error (quarantine, a human told)."""


# --- the worker's side ---------------------------------------------------------------------------

def _warm() -> None:
    """Import the readers' libraries and load the label book once per worker, so a form's CPU
    budget is spent on the form and the first PDF is not slower than the next."""
    import docx  # noqa: F401
    import pypdf  # noqa: F401

    from handlers.referral import docx_reader, pdf_reader  # noqa: F401
    from handlers.referral.labels import default_labels

    default_labels()


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cap_memory() -> None:
    """Cap the address space (as the parse-referral command caps its own), so a reader that
    would need gigabytes fails with MemoryError in the worker rather than starving the service."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > safety.PARSE_MEMORY_BYTES:
        cap = safety.PARSE_MEMORY_BYTES if hard == resource.RLIM_INFINITY else min(safety.PARSE_MEMORY_BYTES, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _portable(exc: BaseException) -> BaseException:
    """The reader's own exception if it survives pickling (the intake pipeline logs its type),
    else a RuntimeError naming the type."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any pickling failure
        return RuntimeError(type(exc).__name__)


def serve_forever(fd: int) -> None:
    """The worker process: set up, say ready, then one form in, one outcome out, until the
    service closes its end (or exits: the socket then reads as closed). No core files from a
    SIGXCPU."""
    conn = Connection(fd)
    module, name, cpu_seconds = conn.recv()
    read: Read = getattr(importlib.import_module(module), name)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    _cap_memory()
    _warm()
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    conn.send((_READY, None))  # the wall clock of the first form starts after start-up
    while True:
        try:
            data, filename, book, today = conn.recv()
        except (EOFError, OSError):
            return
        soft = math.ceil(_cpu_used()) + cpu_seconds
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        outcome: tuple[str, Any]
        try:
            outcome = (_OK, read(data, filename, book=book, today=today))
        except ReferralRejected as exc:
            outcome = (_REJECTED, exc.reason)
        except Exception as exc:  # noqa: BLE001 - a reader bug is reported to the caller
            outcome = (_FAILED, _portable(exc))
        try:
            conn.send(outcome)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            conn.send((_FAILED, RuntimeError(f"unpicklable result ({type(exc).__name__})")))
        except OSError:
            return


# --- the service's side --------------------------------------------------------------------------

def _describe(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


class _Worker:
    """One worker process and our end of its socket."""

    def __init__(self, read: Read, cpu_seconds: int) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(theirs.fileno()), json.dumps(sys.path)],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal chat is the service's to handle
            )
        except OSError as exc:
            ours.close()
            raise ReaderUnavailable(f"the referral reader process did not start ({type(exc).__name__})") from None
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.forms = 0
        try:
            self.conn.send((read.__module__, read.__qualname__, cpu_seconds))
            ready = self.conn.poll(START_SECONDS) and self.conn.recv()[0] == _READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            code = self.stop(kill=True)
            raise ReaderUnavailable(f"the referral reader process did not start ({_describe(code)})")
        log.debug("referral reader process %d started", self.process.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, *, kill: bool) -> int | None:
        """End the process (kill it, or close its socket and let it finish); its exit code."""
        if kill and self.alive():
            self.process.kill()
        self.conn.close()
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


class BoundedReader:
    """``parse`` is ``read`` run in a worker process under a CPU-time and a wall-clock limit.

    Thread-safe: each parse has a worker to itself; idle workers (up to ``max_idle``) are
    kept for the next parse. ``read`` must be a module-level function with
    ``read_referral``'s signature (the worker imports it by name).
    """

    def __init__(
        self,
        read: Read = read_referral,
        *,
        cpu_seconds: int = safety.PARSE_CPU_SECONDS,
        wall_seconds: float = safety.PARSE_WALL_SECONDS,
        max_idle: int = 2,
        forms_per_worker: int = 200,
    ) -> None:
        self.read = read
        self.cpu_seconds = max(1, int(cpu_seconds))
        self.wall_seconds = wall_seconds
        self.max_idle = max_idle
        self.forms_per_worker = forms_per_worker
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def parse(
        self, data: bytes, filename: str = "", *, book: LabelBook | None = None, today: date | None = None
    ) -> Referral:
        """Read one form; ReferralRejected if it cannot be used or takes too long to read."""
        safety.check_size(data)  # before copying megabytes to another process
        worker = self._send((data, filename, book, today))
        try:
            kind, value = self._outcome(worker)
        except BaseException:
            if not worker.conn.closed:
                worker.stop(kill=True)  # interrupted mid-form: no half-read worker goes back idle
            raise
        self._give_back(worker)
        if kind == _OK:
            return value  # type: ignore[no-any-return]
        if kind == _REJECTED:
            raise ReferralRejected(value)
        raise value

    def _outcome(self, worker: _Worker) -> tuple[str, Any]:
        """The worker's answer within the wall-clock limit; ReferralRejected (the worker
        stopped) if it ran out of time or CPU, or died."""
        try:
            answered = worker.conn.poll(self.wall_seconds)
        except OSError:
            answered = True  # the worker's end is gone: recv says how below
        if not answered:
            worker.stop(kill=True)
            log.info("a form took longer than %.0f s to read: reader process killed", self.wall_seconds)
            raise ReferralRejected(
                f"reading the form took longer than {self.wall_seconds:.0f} s: refused as possibly hostile"
            )
        try:
            kind, value = worker.conn.recv()
        except (EOFError, OSError):
            code = worker.stop(kill=True)
            if code == -signal.SIGXCPU:
                log.info("a form used its %d s of CPU: reader process stopped", self.cpu_seconds)
                raise ReferralRejected(
                    f"reading the form took more than {self.cpu_seconds} s of processing: "
                    "refused as possibly hostile"
                ) from None
            log.error("the reader process ended while reading a form (%s)", _describe(code))
            raise ReferralRejected(
                f"the form could not be read (the reader process stopped: {_describe(code)})"
            ) from None
        return kind, value

    def close(self) -> None:
        """Retire the idle workers (busy ones end with their parse); later parses start anew."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop(kill=False)

    def __enter__(self) -> BoundedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, task: tuple[bytes, str, LabelBook | None, date | None]) -> _Worker:
        """Hand the form to an idle worker, or to a new one. A worker found dead at this point
        (killed from outside while idle) is replaced once: it never read this form."""
        worker = self._take()
        try:
            worker.conn.send(task)
            return worker
        except OSError:
            worker.stop(kill=True)
        except BaseException:
            worker.stop(kill=True)
            raise
        worker = _Worker(self.read, self.cpu_seconds)
        try:
            worker.conn.send(task)
        except BaseException:
            worker.stop(kill=True)
            raise
        return worker

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.stop(kill=True)
        return _Worker(self.read, self.cpu_seconds)

    def _give_back(self, worker: _Worker) -> None:
        worker.forms += 1
        with self._lock:
            if worker.forms < self.forms_per_worker and len(self._idle) < self.max_idle:
                self._idle.append(worker)
                return
        worker.stop(kill=False)


_shared: BoundedReader | None = None
_shared_lock = threading.Lock()


def parse_referral(
    data: bytes, filename: str = "", *, book: LabelBook | None = None, today: date | None = None
) -> Referral:
    """Read one referral (.eml, .docx, .pdf, .txt or HTML) in the shared bounded reader.

    Raises ReferralRejected with a one-line reason for anything that cannot be used, including
    a form that takes more than safety.PARSE_CPU_SECONDS of CPU or PARSE_WALL_SECONDS to read.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = BoundedReader()
            atexit.register(_shared.close)  # idle workers end with the service, reaped
        reader = _shared
    return reader.parse(data, filename, book=book, today=today)
