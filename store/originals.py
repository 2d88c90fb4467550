"""Referral originals kept encrypted at rest: the embedded mailbox's processed/ and quarantine/.

A referral e-mail names the child in its body and its attachments, and people name the file
after the child, so an original is never kept in plain text nor under the name it came with.
Each is one file, ``<message_sha256>.eml.enc`` (``handlers.mail.intake.message_sha256``, the
ledger's ``intake_message.message_sha256``: retention finds a case's originals from its ledger
rows, and a crash between "written" and "inbox copy removed" finds the file already there).

The format streams, so a message quarantined unread because it is hundreds of MiB never sits
in memory whole::

    safeguard-bot-original 1\\n
    <Fernet token>\\n          one per chunk of at most 1 MiB, under the data key (store.crypto)
    ...

Each chunk's plain text starts with its index (8 bytes, big-endian) and a flag (1 byte, 1 on
the last chunk), inside the token's authenticated encryption: a file cut short, or with chunks
reordered or dropped, fails to read with ``OriginalDamaged`` (one line) rather than giving back
a plausible but shortened message; an altered token fails Fernet's HMAC the same way.

Every write is atomic (a hidden temporary file in the same folder, fsync, ``os.replace``) and
carries the message's arrival time as the file's modification time: that is the awareness
moment, which ``intake release`` gives back to the message it returns to the inbox.
"""

from __future__ import annotations

import os
import re
import secrets
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from store import crypto

HEADER = b"safeguard-bot-original 1\n"
SUFFIX = ".eml.enc"
CHUNK_BYTES = 1024 * 1024
FOLDERS = ("processed", "quarantine")  # under a mailbox folder's root (<data dir>/inbox/)
FOLDER_MAILBOX = "inbox"  # the ledger's mailbox name for the <data dir>/inbox/ folder (handlers/mail/folder_watcher.py)

_FRAME = struct.Struct(">QB")  # chunk index, last-chunk flag
# A token of a full chunk is about 1.34 MiB of base64; a longer line is not one of ours.
_MAX_LINE = 2 * CHUNK_BYTES
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ARCHIVE_NAME = re.compile(r"^[0-9a-f]{64}" + re.escape(SUFFIX) + r"$")
_TEMP_SUFFIX = ".tmp"


class OriginalDamaged(crypto.DataKeyInvalid):
    """An archived original that cannot be read back whole: cut short, chunks out of order,
    not one of ours, or altered (or no configured key opens it). One line, naming the file by
    its hash, never by anything the message says."""


@dataclass
class RotationResult:
    """What ``rotate_all`` did: files re-encrypted, and those that could not be read."""

    rotated: int = 0
    current: int = 0
    damaged: list[str] = field(default_factory=list)


def archive_name(message_sha256: str) -> str:
    """``<message_sha256>.eml.enc``; refuses anything but a SHA-256 in hex (a name must never
    carry what the message or its file was called)."""
    if not _SHA256.match(message_sha256):
        raise ValueError("an archived original is named by its message's SHA-256 (64 hex digits)")
    return message_sha256 + SUFFIX


def is_archive(path: Path) -> bool:
    return bool(_ARCHIVE_NAME.match(path.name))


def folders_of(root: Path) -> tuple[Path, ...]:
    """Where a mailbox folder keeps its originals: ``<root>/processed`` and ``<root>/quarantine``."""
    return tuple(root / name for name in FOLDERS)


def archived(folders: Iterable[Path]) -> list[Path]:
    """Every archived original in ``folders`` (missing folders hold none), sorted by name."""
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found.extend(p for p in folder.iterdir() if is_archive(p) and p.is_file())
    return sorted(found)


def store_bytes(data: bytes, folder: Path, message_sha256: str, *, mtime_ns: int) -> tuple[Path, bool]:
    """Archive a message held in memory. Returns its path and whether it was written: an
    archive already there (a re-delivery, or a crash before the inbox copy went) is kept as it
    is, so storing the same message twice is harmless."""
    view = memoryview(data)
    blocks = (bytes(view[i:i + CHUNK_BYTES]) for i in range(0, len(view), CHUNK_BYTES))
    return _store(blocks, folder, message_sha256, mtime_ns=mtime_ns)


def store_file(source: Path, folder: Path, message_sha256: str, *, mtime_ns: int) -> tuple[Path, bool]:
    """Archive a file by streaming it a chunk at a time (never read into memory whole); as
    ``store_bytes`` otherwise."""
    target = folder / archive_name(message_sha256)
    if target.exists():
        return target, False
    with open(source, "rb") as handle:
        return _store(_blocks_of(handle), folder, message_sha256, mtime_ns=mtime_ns)


def _store(blocks: Iterable[bytes], folder: Path, message_sha256: str, *, mtime_ns: int) -> tuple[Path, bool]:
    target = folder / archive_name(message_sha256)
    if target.exists():
        return target, False
    if not crypto.has_key():
        raise crypto.DataKeyMissing("store a referral original")
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomic(target, _encrypted(blocks), mtime_ns=mtime_ns)
    return target, True


def _blocks_of(handle: BinaryIO) -> Iterator[bytes]:
    return iter(lambda: handle.read(CHUNK_BYTES), b"")


def _encrypted(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """The file's bytes for these plain blocks: the header, then one token line per block,
    the last one flagged (one block ahead is read to know which is last)."""
    yield HEADER
    index = 0
    pending: bytes | None = None
    for block in blocks:
        if pending is not None:
            yield _token(index, pending, last=False)
            index += 1
        pending = block
    yield _token(index, pending or b"", last=True)


def _token(index: int, block: bytes, *, last: bool) -> bytes:
    return crypto.encrypt_bytes(_FRAME.pack(index, 1 if last else 0) + block) + b"\n"


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.{secrets.token_hex(6)}{_TEMP_SUFFIX}")


def _write_atomic(target: Path, pieces: Iterable[bytes], *, mtime_ns: int) -> None:
    """Write ``pieces`` to a hidden temporary file beside ``target`` (mode 0600), fsync it, give
    it the modification time, then rename it over ``target``: a reader sees the old file or the
    whole new one, never half, and a crash leaves at most the temporary file."""
    temporary = _temporary(target)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            for piece in pieces:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        os.utime(temporary, ns=(mtime_ns, mtime_ns))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _damaged(path: Path, why: str) -> OriginalDamaged:
    return OriginalDamaged(f"archived original {path.name} is damaged ({why}); it cannot be read back")


def _token_lines(path: Path, handle: BinaryIO) -> Iterator[bytes]:
    if handle.readline(len(HEADER) + 1) != HEADER:
        raise _damaged(path, "not an archived original")
    while True:
        line = handle.readline(_MAX_LINE)
        if not line:
            return
        if not line.endswith(b"\n"):
            raise _damaged(path, "cut short")
        yield line[:-1]


def _open_token(path: Path, token: bytes) -> bytes:
    try:
        return crypto.decrypt_bytes(token)
    except crypto.DataKeyInvalid:
        raise _damaged(path, "no configured data key opens it, or it was altered") from None


def read_chunks(path: Path) -> Iterator[bytes]:
    """The original's bytes, a chunk at a time (bounded memory). The order of the chunks and
    the presence of the last are checked as it goes: the final check comes after the last
    chunk, so a consumer keeps nothing until the iteration has finished (``restore``,
    ``read_bytes`` do). DataKeyMissing without a key; OriginalDamaged if it is not whole."""
    if not crypto.has_key():
        raise crypto.DataKeyMissing("read a referral original")
    with open(path, "rb") as handle:
        expected, finished = 0, False
        for token in _token_lines(path, handle):
            if finished:
                raise _damaged(path, "data after its last chunk")
            plain = _open_token(path, token)
            if len(plain) < _FRAME.size:
                raise _damaged(path, "a chunk without its index")
            index, flag = _FRAME.unpack_from(plain)
            if index != expected or flag not in (0, 1):
                raise _damaged(path, "chunks out of order or missing")
            expected, finished = expected + 1, flag == 1
            yield plain[_FRAME.size:]
        if not finished:
            raise _damaged(path, "cut short")


def read_bytes(path: Path) -> bytes:
    """The whole original in memory (for a message the intake read anyway; ``restore`` streams)."""
    return b"".join(read_chunks(path))


def restore(path: Path, target: Path) -> None:
    """Write the original back in plain text as ``target`` (atomically, mode 0600), with the
    archive's modification time, i.e. when the message first arrived. Nothing appears at
    ``target`` unless the whole original was read and verified."""
    _write_atomic(target, read_chunks(path), mtime_ns=path.stat().st_mtime_ns)


def is_current(path: Path) -> bool:
    """Whether the archive is under the current key (its first token is: every write is whole)."""
    with open(path, "rb") as handle:
        for token in _token_lines(path, handle):
            return crypto.is_current_token(token)
    raise _damaged(path, "no chunks")


def rotate(path: Path) -> bool:
    """Re-encrypt one archive under the current key (a new file, renamed over it, its
    modification time kept). False, and nothing written, when it already is: after a crash
    half way through many files, running again skips the ones done."""
    if not crypto.has_key():
        raise crypto.DataKeyMissing("re-encrypt referral originals")
    if is_current(path):
        return False
    mtime_ns = path.stat().st_mtime_ns
    _write_atomic(path, _encrypted(read_chunks(path)), mtime_ns=mtime_ns)
    return True


def rotate_all(folders: Iterable[Path]) -> RotationResult:
    """``rotate`` every archive in ``folders``. One that cannot be read is reported (by name)
    and left as it is, so it never stops the others from reaching the current key."""
    result = RotationResult()
    for path in archived(folders):
        try:
            if rotate(path):
                result.rotated += 1
            else:
                result.current += 1
        except OriginalDamaged:
            result.damaged.append(path.name)
        except FileNotFoundError:
            continue  # erased meanwhile (retention)
    return result


def find(folders: Iterable[Path], message_sha256: str) -> Path | None:
    """The message's archive in the first of ``folders`` that holds it (None: not kept)."""
    name = archive_name(message_sha256)
    return next((path for path in (folder / name for folder in folders) if path.exists()), None)


def erase_all(folders: Iterable[Path], message_sha256: str) -> int:
    """``erase`` the message's archive from each of ``folders``; how many there were."""
    return sum(erase(folder, message_sha256) for folder in folders)


def erase(folder: Path, message_sha256: str) -> bool:
    """Delete the message's archive in ``folder`` (and any temporary file a crash left of it).
    Returns whether there was one."""
    name = archive_name(message_sha256)
    for stale in folder.glob(f".{name}.*{_TEMP_SUFFIX}"):
        stale.unlink(missing_ok=True)
    target = folder / name
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True


def plaintext_originals(folders: Iterable[Path]) -> list[Path]:
    """Originals still in plain text (``*.eml``, moved there by a version before this one)."""
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found.extend(p for p in folder.glob("*.eml") if p.is_file() and not p.name.startswith("."))
    return sorted(found)
