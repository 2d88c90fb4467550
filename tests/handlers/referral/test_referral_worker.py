"""The bounded reader: forms are read in a worker process that cannot hold the caller up.

The limits are asserted as refusals (which reason, and that the next form is still read), never
as timings; bench/bench_hostile_parse.py measures how long the worst refusal takes. The ``read``
functions below stand in for a reader that spins, blocks or crashes: they run in the worker,
so they are module-level (the worker imports them by name).
"""

from __future__ import annotations

import os
import threading
from datetime import date

import pytest

from handlers.referral import ReferralRejected, parse_referral, read_referral, safety
from bot.core.referral import Referral
from handlers.referral.worker import BoundedReader
from tests.fixtures import build_referrals as fx

pytestmark = [pytest.mark.integration, pytest.mark.subprocess]

TODAY = date(2026, 12, 22)


def _spin(data: bytes, filename: str = "", **_: object) -> Referral:
    while True:
        pass


def _block(data: bytes, filename: str = "", **_: object) -> Referral:
    threading.Event().wait()  # uses no CPU: only the wall-clock timeout ends it
    raise AssertionError("unreachable")


def _broken(data: bytes, filename: str = "", **_: object) -> Referral:
    raise KeyError("a reader bug")


def _whoami(data: bytes, filename: str = "", **_: object) -> Referral:
    if data == b"spin":
        _spin(data)
    if data == b"refuse":
        raise ReferralRejected("not a form")
    return Referral(summary=str(os.getpid()))


def test_a_form_reads_the_same_in_the_worker_as_in_this_process() -> None:
    for name in ("tees_content_control", "text_pdf", "eml_html", "plain"):
        ext, make = fx.GOOD[name]
        data = make()
        bounded = parse_referral(data, f"{name}{ext}", today=TODAY)
        assert bounded.as_json() == read_referral(data, f"{name}{ext}", today=TODAY).as_json()


def test_reading_happens_in_another_process_that_is_reused() -> None:
    with BoundedReader(_whoami) as reader:
        first = reader.parse(b"form", "f.txt").summary
        assert first != str(os.getpid())
        assert reader.parse(b"form", "f.txt").summary == first
        with pytest.raises(ReferralRejected, match="^not a form$"):
            reader.parse(b"refuse", "f.txt")
        assert reader.parse(b"form", "f.txt").summary == first  # a refusal costs no worker


def test_a_read_past_its_cpu_budget_is_refused_and_the_next_form_is_read() -> None:
    with BoundedReader(_whoami, cpu_seconds=1) as reader:
        first = reader.parse(b"form", "f.txt").summary
        with pytest.raises(ReferralRejected) as caught:
            reader.parse(b"spin", "f.txt")
        assert caught.value.reason == (
            "reading the form took more than 1 s of processing: refused as possibly hostile"
        )
        after = reader.parse(b"form", "f.txt").summary
        assert after is not None and after != first  # a fresh worker replaced the stopped one


def test_a_read_that_blocks_is_stopped_by_the_wall_clock_timeout() -> None:
    with BoundedReader(_block, wall_seconds=1) as reader:
        with pytest.raises(ReferralRejected, match="took longer than 1 s: refused as possibly hostile"):
            reader.parse(b"form", "f.txt")


def test_a_reader_bug_reaches_the_caller_as_itself() -> None:
    """The intake pipeline quarantines a reader crash as "reader error <type>": keep the type."""
    with BoundedReader(_broken) as reader:
        with pytest.raises(KeyError):
            reader.parse(b"form", "f.txt")


def test_an_oversized_input_is_refused_before_it_is_sent_to_a_worker() -> None:
    with BoundedReader(_spin) as reader:
        with pytest.raises(ReferralRejected, match="too large"):
            reader.parse(b"a" * (safety.MAX_INPUT_BYTES + 1), "big.txt")


def test_forms_from_several_threads_are_read_at_once() -> None:
    """The intake runs one thread per mailbox: each parse has a worker to itself."""
    names = ["tees_glyph", "text_pdf", "eml_docx", "eml_plain"]
    expected = {n: read_referral(fx.GOOD[n][1](), f"{n}{fx.GOOD[n][0]}", today=TODAY).as_json() for n in names}
    results: dict[str, list[dict]] = {n: [] for n in names}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        ext, make = fx.GOOD[name]
        try:
            for _ in range(3):
                results[name].append(parse_referral(make(), f"{name}{ext}", today=TODAY).as_json())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert all(not thread.is_alive() for thread in threads)
    for name in names:
        assert results[name] == [expected[name]] * 3
