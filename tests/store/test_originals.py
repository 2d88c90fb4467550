"""The archive of referral originals (store/originals.py) on real files: what it writes, that
it gives the same bytes back, and that a file cut short, reordered or altered is refused in one
line instead of read back as a shorter message."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from store import crypto, originals
from tests.conftest import TEST_DATA_KEY

SHA = hashlib.sha256(b"a message").hexdigest()
ARRIVED_NS = 1_764_495_300_123_456_789  # 30 Nov 2025 09:35 UTC, to the nanosecond
DATA = os.urandom(2 * originals.CHUNK_BYTES + 12_345)  # three chunks, the last one short


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_a_message_is_stored_in_chunks_with_its_arrival_time_and_read_back(tmp_path: Path) -> None:
    path, written = originals.store_bytes(DATA, tmp_path, SHA, mtime_ns=ARRIVED_NS)
    assert written and path.name == f"{SHA}.eml.enc"
    lines = _lines(path)
    assert lines[0] == originals.HEADER and len(lines) == 4
    assert DATA[:64] not in path.read_bytes()
    assert path.stat().st_mtime_ns == ARRIVED_NS and path.stat().st_mode & 0o777 == 0o600
    assert originals.read_bytes(path) == DATA
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_a_file_is_streamed_into_the_archive(tmp_path: Path) -> None:
    source = tmp_path / "Referral - a child's name.eml"
    source.write_bytes(DATA)
    path, _ = originals.store_file(source, tmp_path / "quarantine", SHA, mtime_ns=ARRIVED_NS)
    assert b"".join(originals.read_chunks(path)) == DATA
    assert max(len(chunk) for chunk in originals.read_chunks(path)) == originals.CHUNK_BYTES


@pytest.mark.parametrize("data", [b"", b"x"])
def test_empty_and_tiny_messages(tmp_path: Path, data: bytes) -> None:
    path, _ = originals.store_bytes(data, tmp_path, SHA, mtime_ns=ARRIVED_NS)
    assert originals.read_bytes(path) == data


def test_an_archive_already_there_is_never_rewritten(tmp_path: Path) -> None:
    path, _ = originals.store_bytes(DATA, tmp_path, SHA, mtime_ns=ARRIVED_NS)
    before = path.read_bytes()
    again, written = originals.store_bytes(b"something else", tmp_path, SHA, mtime_ns=1)
    assert (again, written) == (path, False) and path.read_bytes() == before


def test_a_name_is_only_ever_a_hash(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        originals.store_bytes(DATA, tmp_path, "Referral - Jamie Fictional", mtime_ns=ARRIVED_NS)


def _damaged(path: Path) -> str:
    with pytest.raises(originals.OriginalDamaged) as caught:
        originals.read_bytes(path)
    message = str(caught.value)
    assert "\n" not in message and path.name in message
    assert isinstance(caught.value, crypto.DataKeyInvalid)  # the CLI's one-line errors catch it
    return message


@pytest.mark.parametrize(("how", "why"), [
    ("last chunk dropped", "cut short"),
    ("cut mid-token", "cut short"),
    ("two chunks swapped", "out of order"),
    ("a chunk repeated", "out of order"),
    ("a byte altered", "altered"),
    ("not an archive", "not an archived original"),
    ("a chunk after the last", "after its last chunk"),
])
def test_a_damaged_archive_is_refused_in_one_line(tmp_path: Path, how: str, why: str) -> None:
    path, _ = originals.store_bytes(DATA, tmp_path, SHA, mtime_ns=ARRIVED_NS)
    header, *tokens = _lines(path)
    if how == "last chunk dropped":
        tokens = tokens[:-1]
    elif how == "cut mid-token":
        tokens[-1] = tokens[-1][:100]
    elif how == "two chunks swapped":
        tokens[0], tokens[1] = tokens[1], tokens[0]
    elif how == "a chunk repeated":
        tokens.insert(1, tokens[0])
    elif how == "a byte altered":
        token = bytearray(tokens[1])
        token[500] = ord("A") if token[500] != ord("A") else ord("B")
        tokens[1] = bytes(token)
    elif how == "not an archive":
        header = b"From: someone\n"
    elif how == "a chunk after the last":
        tokens.append(tokens[-1])
    path.write_bytes(header + b"".join(tokens))
    assert why in _damaged(path)
    # Restoring it writes nothing: a half message never appears in place of the whole.
    with pytest.raises(originals.OriginalDamaged):
        originals.restore(path, tmp_path / "inbox.eml")
    assert not (tmp_path / "inbox.eml").exists() and len(list(tmp_path.iterdir())) == 1


def test_without_a_key_nothing_is_stored_or_read(tmp_path: Path) -> None:
    path, _ = originals.store_bytes(DATA, tmp_path, SHA, mtime_ns=ARRIVED_NS)
    crypto.use_keys(None)
    with pytest.raises(crypto.DataKeyMissing):
        originals.read_bytes(path)
    with pytest.raises(crypto.DataKeyMissing):
        originals.store_bytes(DATA, tmp_path, hashlib.sha256(b"other").hexdigest(), mtime_ns=ARRIVED_NS)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_restore_gives_back_the_bytes_and_the_arrival_time(tmp_path: Path) -> None:
    path, _ = originals.store_bytes(DATA, tmp_path / "quarantine", SHA, mtime_ns=ARRIVED_NS)
    target = tmp_path / "released-Q-1.eml"
    originals.restore(path, target)
    assert target.read_bytes() == DATA and target.stat().st_mtime_ns == ARRIVED_NS


def test_rotation_rewrites_each_file_once_and_keeps_its_time(tmp_path: Path) -> None:
    shas = [hashlib.sha256(bytes([n])).hexdigest() for n in range(4)]
    for n, sha in enumerate(shas):
        originals.store_bytes(DATA[: 1000 * (n + 1)], tmp_path / "processed", sha, mtime_ns=ARRIVED_NS + n)
    new = crypto.generate_key()
    crypto.use_keys([new, TEST_DATA_KEY])
    folders = originals.folders_of(tmp_path)
    assert not any(originals.is_current(p) for p in originals.archived(folders))
    assert originals.rotate(originals.archived(folders)[0]) is True  # one done, as if a run stopped there
    result = originals.rotate_all(folders)
    assert (result.rotated, result.current, result.damaged) == (3, 1, [])
    crypto.use_keys([new])  # the old key can go
    for n, sha in enumerate(shas):
        path = tmp_path / "processed" / originals.archive_name(sha)
        assert originals.read_bytes(path) == DATA[: 1000 * (n + 1)]
        assert path.stat().st_mtime_ns == ARRIVED_NS + n
    assert originals.rotate_all(folders).rotated == 0


def test_rotation_reports_a_damaged_file_and_rotates_the_rest(tmp_path: Path) -> None:
    good, bad = (hashlib.sha256(w).hexdigest() for w in (b"good", b"bad"))
    originals.store_bytes(DATA, tmp_path / "quarantine", good, mtime_ns=ARRIVED_NS)
    broken, _ = originals.store_bytes(DATA, tmp_path / "quarantine", bad, mtime_ns=ARRIVED_NS)
    broken.write_bytes(b"".join(_lines(broken)[:-1]))
    crypto.use_keys([crypto.generate_key(), TEST_DATA_KEY])
    result = originals.rotate_all(originals.folders_of(tmp_path))
    assert (result.rotated, result.damaged) == (1, [broken.name])


def test_erase_removes_the_archive_and_what_a_crash_left_of_it(tmp_path: Path) -> None:
    path, _ = originals.store_bytes(DATA, tmp_path, SHA, mtime_ns=ARRIVED_NS)
    (tmp_path / f".{path.name}.0123456789ab.tmp").write_bytes(b"left by a crash")
    assert originals.erase(tmp_path, SHA) is True
    assert list(tmp_path.iterdir()) == []
    assert originals.erase(tmp_path, SHA) is False
