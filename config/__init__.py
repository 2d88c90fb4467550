"""What a partnership may change, as data (criteria, timescales, reminders, label synonyms), and
the one TOML loader every one of those files is read with.

The loader only reads and parses: each consumer (bot.core.criteria, scheduler.timescales,
scheduler.reminders, handlers.referral.labels) validates its own schema. It imports only the
standard library, so the pure core may use it. A file that cannot be read or is not TOML is a
``ConfigFileError`` whose message is one line naming the file; the consumers' own errors
subclass it, so a caller may catch any bad config file with one ``except``.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["ConfigFileError", "embedded_text", "parse_toml", "read_text", "read_toml"]


class ConfigFileError(ValueError):
    """A config file cannot be used; the message is one line that starts with its name."""


def embedded_text(name: str) -> str:
    """The text of the default file shipped in this package (``config/<name>``)."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def parse_toml(text: str, origin: str) -> dict[str, Any]:
    """TOML text as a dict, or ConfigFileError ``<origin>: not valid TOML: <where and why>``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{origin}: not valid TOML: {exc}") from None


def read_text(name: str, path: Path | None = None) -> tuple[str, str]:
    """The text of a partnership's own file ``path``, else of the embedded ``config/<name>``,
    and how later messages name it (the path).

    A file that cannot be read (missing, a directory, no permission, not UTF-8) is
    ConfigFileError ``<kind> file <path>: cannot read: <why>``, e.g. ``timescales file /etc/x:
    cannot read: No such file or directory``: the kind is said because the path alone (set in
    an environment variable, perhaps mistyped) may not say which setting it came from."""
    if path is None:
        return embedded_text(name), f"config/{name}"
    kind = name.removesuffix(".toml").replace("_", " ")
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ConfigFileError(f"{kind} file {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"{kind} file {path}: cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def read_toml(name: str, path: Path | None = None) -> tuple[dict[str, Any], str]:
    """The parsed file (``path``, else the embedded ``config/<name>``) and how messages name it."""
    text, origin = read_text(name, path)
    return parse_toml(text, origin), origin
