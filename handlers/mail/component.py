"""The mail watchers as ``safeguard-bot run`` components.

Each watcher is a blocking loop (imap-tools and file I/O block), so it runs in its own thread,
off the event loop; the component bridges the service's asyncio stop event to the thread's
``threading.Event`` and waits for the thread to finish its message in progress. ``wake`` is
called after every committed outcome so the outbox sender delivers the acknowledgement at
once instead of at its next idle poll.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.oauth import OAuthConfig, provider_for
from bot.runtime import Runtime
from bot.service import Component, threaded
from handlers.mail.folder_watcher import FolderInbox
from handlers.mail.imap_watcher import ImapWatcher
from handlers.mail.intake import Checkpoint, IntakeOutcome, IntakePipeline


def mail_components(
    runtime: Runtime, wake: Callable[[], None] | None = None, *, checkpoint: Checkpoint | None = None
) -> dict[str, Component]:
    """One component per IMAP mailbox, or the ``<data dir>/inbox/`` folder when none is set.

    ``checkpoint`` is handed to every watcher (see handlers.mail.intake.Checkpoint)."""
    settings = runtime.settings
    pipeline = IntakePipeline(runtime.engine, settings, runtime.cases, runtime.router)

    def on_outcome(_: IntakeOutcome) -> None:
        if wake is not None:
            wake()

    mailboxes = settings.imap_mailboxes()
    if not mailboxes:
        inbox = FolderInbox(settings.inbox_dir, pipeline, poll_seconds=settings.inbox_poll_seconds,
                            on_outcome=on_outcome, checkpoint=checkpoint)
        return {"inbox": threaded(inbox.run, "mail-inbox")}
    components: dict[str, Component] = {}
    if settings.mail_backend == "graph":
        return _graph_components(runtime, pipeline, on_outcome, checkpoint)
    for config in mailboxes:
        tokens = None
        if config.auth == "oauth2":
            oauth = OAuthConfig.of(settings, config)
            oauth.check(f"mailbox {config.name} (auth = oauth2)")
            tokens = provider_for(oauth)
        watcher = ImapWatcher(config, pipeline, idle_seconds=settings.imap_idle_seconds,
                              poll_seconds=settings.imap_poll_seconds, on_outcome=on_outcome,
                              checkpoint=checkpoint, tokens=tokens)
        components[f"imap:{config.name}"] = threaded(watcher.run, f"mail-{config.name}")
    return components


def _graph_components(runtime: Runtime, pipeline: IntakePipeline, on_outcome: Callable[[IntakeOutcome], None],
                      checkpoint: Checkpoint | None) -> dict[str, Component]:
    """SAFEGUARD_MAIL_BACKEND=graph: one Graph watcher per mailbox (handlers/mail/graph_watcher.py)."""
    from handlers.mail.graph_watcher import GraphWatcher
    from handlers.transports.graph import GraphClient

    settings = runtime.settings
    components: dict[str, Component] = {}
    for config in settings.imap_mailboxes():
        oauth = OAuthConfig.of(settings, config, graph=True)
        oauth.check(f"mailbox {config.name} (SAFEGUARD_MAIL_BACKEND=graph)")
        client = GraphClient(settings.graph_base_url, provider_for(oauth))
        watcher = GraphWatcher(config, pipeline, client, poll_seconds=settings.graph_poll_seconds,
                               on_outcome=on_outcome, checkpoint=checkpoint)
        components[f"graph:{config.name}"] = threaded(watcher.run, f"mail-{config.name}")
    return components
