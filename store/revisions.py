"""The migration chain as text: the head revision and every known revision, without Alembic.

Every command that touches the database first checks that the schema is current. Importing
Alembic for that (and with it Mako, Pygments and Alembic's dialect modules) costs more than the
rest of ``case list``, and a current schema, the usual case, needs nothing from it. So the
revision ids are read here from the migration files' ``revision =`` and ``down_revision =``
lines, with the standard library only; store/db.py imports Alembic only to actually migrate.

tests/test_migrations.py checks that this reading agrees with Alembic's own ScriptDirectory, so a
migration written in a shape this module cannot read fails the tests rather than start-up.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"

# A module-level assignment as Alembic's template writes it: ``revision = '0004'`` (either quote),
# ``down_revision = None`` or a tuple of ids for a merge.
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*(?:#.*)?$", re.MULTILINE)


class RevisionsUnreadable(RuntimeError):
    """The migration files do not form one readable chain (no head, several heads, a file
    without a ``revision`` line); the message names the problem."""


def _ids(expression: str, where: Path) -> tuple[str, ...]:
    try:
        value = ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        raise RevisionsUnreadable(f"{where.name}: cannot read {expression!r} as a revision id") from None
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list)) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise RevisionsUnreadable(f"{where.name}: {expression!r} is not a revision id")


@lru_cache(maxsize=4)
def read_chain(versions: Path = VERSIONS_DIR) -> dict[str, tuple[str, ...]]:
    """Each revision id mapped to the ids it follows (``down_revision``)."""
    chain: dict[str, tuple[str, ...]] = {}
    for file in sorted(versions.glob("*.py")):
        found = dict(_ASSIGNMENT.findall(file.read_text(encoding="utf-8")))
        if "revision" not in found:
            raise RevisionsUnreadable(f"{file.name}: no `revision =` line")
        revision = _ids(found["revision"], file)
        if len(revision) != 1:
            raise RevisionsUnreadable(f"{file.name}: `revision =` must name one id")
        chain[revision[0]] = _ids(found.get("down_revision", "None"), file)
    return chain


def known_revisions(versions: Path = VERSIONS_DIR) -> set[str]:
    """Every revision this code has a migration for."""
    return set(read_chain(versions))


def head_revision(versions: Path = VERSIONS_DIR) -> str | None:
    """The one revision no other revision follows; None when there are no migrations."""
    chain = read_chain(versions)
    if not chain:
        return None
    followed = {parent for parents in chain.values() for parent in parents}
    heads = sorted(set(chain) - followed)
    if len(heads) != 1:
        raise RevisionsUnreadable(f"the migrations have {len(heads)} heads ({', '.join(heads)}), not one")
    return heads[0]
