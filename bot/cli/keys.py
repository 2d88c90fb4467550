"""``safeguard-bot keys generate|rotate``: the data key child details are encrypted under.

Rotation: put a new key in front of the old one (SAFEGUARD_DATA_KEY="NEW,OLD", or NEW on the
first line of the key file), run ``keys rotate`` (every value is re-encrypted under NEW, a batch
a transaction; after a crash run it again, it carries on), then remove OLD.
"""

from __future__ import annotations

import click

from bot.cli.common import fail, settings_of


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
@click.pass_context
def keys_rotate(ctx: click.Context, batch_size: int) -> None:
    """Re-encrypt every stored child detail under the first configured key (resumable)."""
    from bot.runtime import open_runtime
    from store.crypto import HOW_TO_MAKE_A_KEY, rotate_batches

    settings = settings_of(ctx)
    if not settings.data_keys():
        fail(f"no data key: {HOW_TO_MAKE_A_KEY}")
    ctx.ensure_object(dict)["database_url"] = settings.resolved_database_url()
    engine = open_runtime(settings).engine
    done = rotate_batches(engine.begin, batch_size=batch_size)
    click.echo(f"re-encrypted {done} value(s) under the current key; every stored child detail is under it now")
