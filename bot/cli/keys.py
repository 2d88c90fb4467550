"""``safeguard-bot keys generate|rotate``: the data key child details are encrypted under.

Rotation: put a new key in front of the old one (SAFEGUARD_DATA_KEY="NEW,OLD", or NEW on the
first line of the key file), run ``keys rotate`` (every value is re-encrypted under NEW, a batch
a transaction, then every archived referral original in ``<data dir>/inbox/processed`` and
``quarantine``, a file at a time; after a crash run it again, it carries on), then remove OLD.
"""

from __future__ import annotations

from typing import Any

import click

from bot.cli.common import EnvironmentFailure, fail, settings_of


@click.group()
def keys() -> None:
    """The data key (encryption at rest of child details)."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new random data key (put it in SAFEGUARD_DATA_KEY or the key file, mode 0600)."""
    from store.crypto import generate_key

    click.echo(generate_key())


@keys.command("rotate")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=200, show_default=True,
              help="Rows re-encrypted per transaction.")
@click.option("--new-key", "new_key", is_flag=True,
              help="First write a new key at the top of SAFEGUARD_DATA_KEY_FILE (the old ones stay until you remove them).")
@click.pass_context
def keys_rotate(ctx: click.Context, batch_size: int, new_key: bool) -> None:
    """Re-encrypt every stored child detail, and every archived referral original, under the
    first configured key (resumable: after a crash, run it again). With --new-key, a new key is
    made and put first in the key file."""
    from bot.runtime import open_runtime
    from store import originals
    from store.crypto import HOW_TO_MAKE_A_KEY, rotate_batches

    settings = settings_of(ctx)
    if not settings.data_keys():
        fail(f"no data key: {HOW_TO_MAKE_A_KEY}")
    if new_key:
        settings = _prepend_new_key(ctx, settings)
    ctx.ensure_object(dict)["database_url"] = settings.resolved_database_url()
    engine = open_runtime(settings).engine
    done = rotate_batches(engine.begin, batch_size=batch_size)
    click.echo(f"re-encrypted {done} value(s) under the current key; every stored child detail is under it now")
    files = originals.rotate_all(originals.folders_of(settings.inbox_dir))
    click.echo(f"re-encrypted {files.rotated} archived referral original(s) in {settings.inbox_dir}/ "
               f"({files.current} already under the current key)")
    if files.damaged:
        shown = ", ".join(files.damaged[:5]) + (" and more" if len(files.damaged) > 5 else "")
        raise EnvironmentFailure(f"{len(files.damaged)} archived original(s) could not be read and were left "
                                 f"as they are: {shown}")


def _prepend_new_key(ctx: click.Context, settings: Any) -> Any:
    """A new key first in the key file (written whole, then renamed over it, mode 0600), the
    old keys after it: the file is never left without the keys the database needs."""
    import os

    from bot.settings import load_settings
    from store.crypto import generate_key

    path = settings.data_key_file
    if settings.data_key is not None or path is None:
        fail("keys rotate --new-key writes the key file: set SAFEGUARD_DATA_KEY_FILE (not SAFEGUARD_DATA_KEY); "
             "or put a new key first in SAFEGUARD_DATA_KEY yourself and run keys rotate")
    old = settings.data_keys()
    partial = path.with_name(path.name + ".new")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write("\n".join([generate_key(), *old]) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    click.echo(f"wrote a new key first in {path}; remove the old line(s) after this finishes", err=True)
    obj = ctx.ensure_object(dict)
    obj["settings"] = load_settings(obj.get("config_file"))  # installs the new keyring
    return obj["settings"]
