"""Field-by-field encryption at rest of what identifies a child (issue 16).

The columns that hold a child's name, date of birth, NHS number, the referral's other details,
the free text a case carries (summary, milestone notes) and the outbox's messages (an agency's
rapid-review request may name the child; a sign-off request attaches the draft report) use the
column types below: the
database holds only Fernet tokens (AES-128-CBC with an HMAC-SHA256, authenticated; from the
``cryptography`` package), so a copy of the SQLite file, a ``pg_dump`` or a backup shows no
child. The service code is untouched: the ORM encrypts on the way in and decrypts on the way out.

The keys are a MultiFernet keyring: the first key encrypts, every key decrypts, so a new key is
put in front of the old one and ``safeguard-bot keys rotate`` (rotate_all) re-encrypts every
value under it, one committed batch at a time: a crash in the middle leaves every value
readable, and running it again carries on where it stopped.

The keyring is installed once per process by the settings (bot.settings.load_settings calls
use_keys with SAFEGUARD_DATA_KEY or the file SAFEGUARD_DATA_KEY_FILE names); store/ reads
nothing from the environment. A value written before encryption existed (no ``enc1:`` prefix)
is read as it is, and the migration 0012 or ``keys rotate`` encrypts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Connection, String, Text, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

PREFIX = "enc1:"
HOW_TO_MAKE_A_KEY = (
    "set SAFEGUARD_DATA_KEY or SAFEGUARD_DATA_KEY_FILE (make a key with `safeguard-bot keys generate`)"
)

# (table, id column, encrypted columns): every encrypted column in store/models.py.
ENCRYPTED_COLUMNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("case_subject", "id", ("name", "date_of_birth", "nhs_number", "details")),
    ("case_file", "id", ("summary",)),
    ("milestone", "id", ("note",)),
    ("rapid_review_file", "id", ("filename", "data")),
    ("outbox", "id", ("body", "payload")),
)


class DataKeyMissing(RuntimeError):
    """Child details were to be stored or read and no data key is configured."""

    def __init__(self, doing: str = "store child details") -> None:
        super().__init__(f"no data key: cannot {doing}; {HOW_TO_MAKE_A_KEY}")


class DataKeyInvalid(ValueError):
    """A configured data key is not a Fernet key, or no configured key opens a stored value."""


_keyring: MultiFernet | None = None
_primary: Fernet | None = None


def generate_key() -> str:
    """A new random key (32 bytes, URL-safe base64), as SAFEGUARD_DATA_KEY takes it."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(value: str) -> list[str]:
    """Keys separated by commas, spaces or new lines (a key file may hold one a line); the
    first encrypts. Raises DataKeyInvalid naming the position, never the key."""
    keys = [k for k in value.replace(",", " ").split() if k]
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise DataKeyInvalid(f"data key {number} is not a key made by `safeguard-bot keys generate`") from exc
    return keys


def use_keys(keys: Sequence[str] | None) -> None:
    """Install the process's keyring (None or empty: no key; child details cannot be stored)."""
    global _keyring, _primary
    if not keys:
        _keyring = _primary = None
        return
    fernets = [Fernet(k) for k in keys]
    _keyring, _primary = MultiFernet(fernets), fernets[0]


def has_key() -> bool:
    return _keyring is not None


def encrypt_bytes(data: bytes, *, doing: str = "store a referral original") -> bytes:
    """A Fernet token of ``data`` under the current key: the one encryption every stored value
    goes through (the columns below, and store/originals.py's archive of referral originals).
    DataKeyMissing (saying what could not be done: ``doing``) without a key."""
    if _keyring is None:
        raise DataKeyMissing(doing)
    return _keyring.encrypt(data)


def decrypt_bytes(token: bytes, *, what: str = "a stored referral original",
                  unopened: str | None = None) -> bytes:
    """The bytes a token of ``encrypt_bytes`` holds, opened with any configured key.
    DataKeyMissing without a key; DataKeyInvalid (``unopened``, or a line naming ``what``) when
    no configured key opens it (the key was removed too early, or the token was altered:
    Fernet's HMAC cannot tell the two apart)."""
    if _keyring is None:
        raise DataKeyMissing(f"read {what}")
    try:
        return _keyring.decrypt(token)
    except InvalidToken as exc:
        raise DataKeyInvalid(unopened or f"no configured data key opens {what}, or it was altered") from exc


def is_current_token(token: bytes) -> bool:
    """Whether a token of ``encrypt_bytes`` is under the first (current) key."""
    if _primary is None:
        return False
    try:
        _primary.decrypt(token)
    except InvalidToken:
        return False
    return True


def encrypt(plain: str) -> str:
    return PREFIX + encrypt_bytes(plain.encode("utf-8"), doing="store child details").decode("ascii")


def decrypt(stored: str) -> str:
    """The plain text of a stored value (a legacy plaintext value is returned as it is)."""
    if not stored.startswith(PREFIX):
        return stored
    return decrypt_bytes(
        stored[len(PREFIX):].encode("ascii"), what="child details",
        unopened=("no configured data key opens the stored child details (a key was removed before "
                  "`safeguard-bot keys rotate` finished?)"),
    ).decode("utf-8")


def is_current(stored: str) -> bool:
    """Whether a stored value is encrypted under the first (current) key."""
    return stored.startswith(PREFIX) and is_current_token(stored[len(PREFIX):].encode("ascii"))


class EncryptedText(TypeDecorator[str]):
    """A str column stored encrypted (TEXT holding an ``enc1:`` Fernet token).

    ``sqlite_length``: the VARCHAR length the column had on SQLite before it was encrypted.
    SQLite never enforces it, and keeping the declared type there spares the migration a
    rebuild of a table other tables' foreign keys point at (case_file); PostgreSQL gets TEXT.

    ``required``: a child's details (the default) are never stored without a key
    (DataKeyMissing). A case's free text (``required=False``: its summary, milestone notes) is
    encrypted whenever a key is configured and kept as typed when none is, so the tool still
    works on its embedded defaults; ``keys rotate`` (or the migration) encrypts it once a key
    is set, and ``doctor`` and ``run`` say that no key is configured.
    """

    impl = Text
    cache_ok = True

    def __init__(self, sqlite_length: int | None = None, *, required: bool = True) -> None:
        super().__init__()
        self.sqlite_length = sqlite_length
        self.required = required

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite" and self.sqlite_length:
            return String(self.sqlite_length)
        return Text()

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not self.required and _keyring is None:
            return value
        return encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)


class EncryptedBytes(TypeDecorator[bytes]):
    """A binary column stored encrypted (TEXT holding an ``enc1:`` Fernet token of the bytes):
    the files agencies return to a rapid review, which describe the child."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return PREFIX + encrypt_bytes(bytes(value), doing="store an agency's return").decode("ascii")

    def process_result_value(self, value: str | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        return decrypt_bytes(value[len(PREFIX):].encode("ascii"), what="an agency's return",
                             unopened="no configured data key opens the stored agency return")


class EncryptedDate(TypeDecorator[date]):
    """A date column stored encrypted (its ISO form, encrypted)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: date | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value.isoformat())

    def process_result_value(self, value: str | None, dialect: Dialect) -> date | None:
        return None if value is None else date.fromisoformat(decrypt(value))


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON column stored encrypted (its JSON text, encrypted). ``required`` as for
    EncryptedText: False keeps the JSON text as it is while no key is configured (an outgoing
    message's payload: its attachments may carry a draft that names the child, but the service
    must still deliver reminders on its embedded defaults)."""

    impl = Text
    cache_ok = True

    def __init__(self, *, required: bool = True) -> None:
        super().__init__()
        self.required = required

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        plain = json.dumps(value, sort_keys=True)
        if not self.required and _keyring is None:
            return plain
        return encrypt(plain)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(decrypt(value))


def _pending(connection: Connection, table: str, id_column: str, column: str,
             after: int, limit: int) -> list[tuple[int, str]]:
    rows = connection.execute(
        text(f"SELECT {id_column}, {column} FROM {table} WHERE {column} IS NOT NULL "
             f"AND {id_column} > :after ORDER BY {id_column} LIMIT :limit"),
        {"after": after, "limit": limit},
    ).all()
    return [(int(r[0]), str(r[1])) for r in rows]


def _reencrypted(stored: str) -> str | None:
    """The value under the current key, or None when it already is."""
    if is_current(stored):
        return None
    if stored.startswith(PREFIX):
        assert _keyring is not None
        return PREFIX + _keyring.rotate(stored[len(PREFIX):].encode("ascii")).decode("ascii")
    return encrypt(stored)  # a legacy plaintext value


def rotate_batches(begin: Callable[[], Any], *, batch_size: int = 200,
                   progress: Callable[[int], None] | None = None,
                   columns: Iterable[tuple[str, str, tuple[str, ...]]] = ENCRYPTED_COLUMNS) -> int:
    """Re-encrypt every encrypted value not yet under the current key, ``batch_size`` rows a
    transaction (``begin`` opens one: engine.begin). Returns how many values it rewrote;
    ``progress`` is told the running count after each committed batch.

    Idempotent and resumable: a value already under the current key is left alone, so after a
    crash the next run rewrites only what the last one had not committed.
    """
    if _keyring is None:
        raise DataKeyMissing("re-encrypt child details")
    done = 0
    for table, id_column, names in columns:
        for column in names:
            after = 0
            while True:
                with begin() as connection:
                    rows = _pending(connection, table, id_column, column, after, batch_size)
                    if not rows:
                        break
                    for row_id, stored in rows:
                        new = _reencrypted(stored)
                        if new is not None:
                            connection.execute(
                                text(f"UPDATE {table} SET {column} = :v WHERE {id_column} = :id"),
                                {"v": new, "id": row_id},
                            )
                            done += 1
                    after = rows[-1][0]
                if progress is not None:
                    progress(done)
    return done


def plaintext_count(connection: Connection) -> int:
    """How many child-detail values are still stored unencrypted (written before issue 16)."""
    total = 0
    for table, _id, names in ENCRYPTED_COLUMNS:
        for column in names:
            total += int(connection.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE {column} IS NOT NULL "
                     f"AND {column} NOT LIKE 'enc1:%'")
            ).scalar_one())
    return total


def encrypted_sample(connection: Connection) -> str | None:
    """One stored encrypted child detail (or None): ``doctor`` opens it to prove the configured
    keys still read what the database holds."""
    value = connection.execute(
        text(f"SELECT name FROM case_subject WHERE name LIKE '{PREFIX}%' LIMIT 1")
    ).scalar()
    return None if value is None else str(value)

