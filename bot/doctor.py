"""``safeguard-bot doctor``: check each configured part of an installation, one line each
(issue 16): settings, database and schema, the data key, the referral originals the inbox
folder keeps (encrypted, or still in plain text from an older version), each IMAP mailbox's
login, SMTP, Slack (``auth.test``), Microsoft 365 sign-in. Read-only: it migrates nothing,
sends nothing, encrypts nothing.

A check never prints a secret or a child's detail; a failure names the setting to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings

TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    part: str
    ok: bool
    message: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.part}: {self.message}"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _database(settings: Settings) -> Iterator[Check]:
    from store import crypto
    from store.db import (
        current_revision,
        database_label,
        head_revision,
        make_engine,
        missing_sqlite_file,
    )

    url = settings.resolved_database_url()
    label = database_label(url)
    if missing_sqlite_file(url):
        yield Check("database", False, f"no database at {label} (run `safeguard-bot db upgrade` or start `run`)")
        return
    engine = make_engine(url, read_only=True)
    try:
        current, head = current_revision(engine), head_revision()
        if current == head:
            yield Check("database", True, f"{label}, schema {current} (latest)")
        else:
            yield Check("database", False, f"{label}, schema {current or 'empty'}, latest {head}: "
                        "run `safeguard-bot db upgrade` (run does it at start)")
        keys = settings.data_keys()
        if not keys:
            yield Check("data key", False, f"none configured: {crypto.HOW_TO_MAKE_A_KEY}")
            return
        with engine.connect() as conn:
            plain = crypto.plaintext_count(conn) if current == head else 0
            sample = crypto.encrypted_sample(conn)
        if sample is not None:
            crypto.decrypt(sample)  # DataKeyInvalid if no configured key opens it
        if plain:
            yield Check("data key", False, f"{plain} child detail(s) stored unencrypted: run `safeguard-bot keys rotate`")
        else:
            yield Check("data key", True, f"{len(keys)} key(s); stored child details open with them")
    except Exception as exc:  # noqa: BLE001 - any failure is one FAIL line, never a traceback
        yield Check("database", False, _first_line(exc))
    finally:
        engine.dispose()


def _originals(settings: Settings) -> Iterator[Check]:
    """One line when ``<data dir>/inbox/`` keeps originals: FAIL while any is still in plain
    text (``run`` encrypts them when it starts), else whether the configured keys open one."""
    from store import originals

    folders = originals.folders_of(settings.inbox_dir)
    plain = originals.plaintext_originals(folders)
    kept = originals.archived(folders)
    if plain:
        yield Check("originals", False, f"{len(plain)} referral original(s) kept in plain text in "
                    f"{settings.inbox_dir}/ (processed, quarantine): `run` encrypts them when it starts")
    elif kept:
        try:
            with contextlib.closing(originals.read_chunks(kept[0])) as chunks:
                next(chunks)  # the configured keys open one, or this says why not
        except Exception as exc:  # noqa: BLE001 - one FAIL line, never a traceback
            yield Check("originals", False, _first_line(exc))
            return
        yield Check("originals", True, f"{len(kept)} archived referral original(s), encrypted")


def _imap(settings: Settings) -> Iterator[Check]:
    from handlers.mail.imap_watcher import _close, connect

    for box in settings.imap_mailboxes():
        part = f"imap mailbox {box.name}"
        if box.auth == "oauth2":
            continue  # checked with the Microsoft 365 sign-in below
        try:
            mailbox = connect(box, timeout=TIMEOUT)
            _close(mailbox)
            yield Check(part, True, f"{box.username} signed in at {box.host}:{box.resolved_port}, folder {box.folder}")
        except Exception as exc:  # noqa: BLE001
            yield Check(part, False, f"{box.username} at {box.host}:{box.resolved_port}: {_first_line(exc)} "
                        "(check imap_host, imap_port, imap_username, imap_password)")


async def _smtp_login(settings: Settings) -> None:
    import aiosmtplib

    assert settings.smtp_host is not None
    client = aiosmtplib.SMTP(hostname=settings.smtp_host, port=settings.smtp_port, use_tls=settings.smtp_use_tls,
                             start_tls=settings.smtp_starttls if not settings.smtp_use_tls else False,
                             timeout=TIMEOUT)
    await client.connect()
    try:
        if settings.smtp_auth == "password" and settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            await client.login(settings.smtp_username, password)
        await client.noop()
    finally:
        with contextlib.suppress(Exception):
            await client.quit()


def _smtp(settings: Settings) -> Iterator[Check]:
    if not settings.smtp_host or settings.smtp_auth == "oauth2":
        return
    try:
        asyncio.run(_smtp_login(settings))
        yield Check("smtp", True, f"{settings.smtp_host}:{settings.smtp_port} answers"
                    + (f", {settings.smtp_username} signed in" if settings.smtp_username else ""))
    except Exception as exc:  # noqa: BLE001
        yield Check("smtp", False, f"{settings.smtp_host}:{settings.smtp_port}: {_first_line(exc)} "
                    "(check smtp_host, smtp_port, smtp_username, smtp_password)")


def _slack(settings: Settings) -> Iterator[Check]:
    if settings.slack_bot_token is None:
        return
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    kwargs = {"base_url": settings.slack_api_base_url} if settings.slack_api_base_url else {}
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), timeout=int(TIMEOUT), **kwargs)
    try:
        answer = client.auth_test()
        yield Check("slack", True, f"auth.test: bot {answer.get('user_id')} in team {answer.get('team')}")
    except SlackApiError as exc:
        yield Check("slack", False, f"auth.test refused: {exc.response.get('error')} (check slack_bot_token)")
    except Exception as exc:  # noqa: BLE001
        yield Check("slack", False, f"auth.test failed: {_first_line(exc)} (check slack_api_base_url, the network)")


def _microsoft(settings: Settings) -> Iterator[Check]:
    from bot.oauth import OAuthRefused, check_credentials, configs_in_use

    if not list(configs_in_use(settings)):
        return
    try:
        warnings = check_credentials(settings)
    except (OAuthRefused, ValueError) as exc:
        yield Check("microsoft 365 sign-in", False, _first_line(exc))
        return
    if warnings:
        yield Check("microsoft 365 sign-in", False, warnings[0])
    else:
        yield Check("microsoft 365 sign-in", True, "a token was issued for every registration in use")


def _teams(settings: Settings) -> Iterator[Check]:
    """With SAFEGUARD_TEAMS_MODE on: the bot's own credentials get a Bot Connector token from
    Entra ID (the grant `run` uses to send proactive messages), or the one-line refusal naming
    the SAFEGUARD_TEAMS_* setting and the authority's AADSTS code."""
    if not settings.teams_mode:
        return
    from bot.oauth import OAuthError, provider_for
    from handlers.transports.teams import app_config, cloud_of

    try:
        cloud = cloud_of(settings)
        config = app_config(settings, cloud, scope=cloud.bot_scope)
        config.check("SAFEGUARD_TEAMS_MODE")
        provider_for(config).token()
    except (OAuthError, ValueError) as exc:
        yield Check("teams", False, _first_line(exc))
        return
    yield Check("teams", True, f"a Bot Connector token was issued for app {settings.teams_app_id}")


def run_checks(config_file: Path | None = None) -> list[Check]:
    """Every check for the installation's configuration, in order."""
    try:
        settings = load_settings(config_file)
        settings.imap_mailboxes()  # an incomplete mailbox is a settings failure
    except (SettingsError, ValueError) as exc:
        return [Check("settings", False, _first_line(exc))]
    source = settings.source_file
    checks = [Check("settings", True, str(source) if source else "environment and embedded defaults")]
    return checks + checks_for(settings)


def checks_for(settings: Settings) -> list[Check]:
    """The checks of each configured part, for settings already loaded."""
    checks: list[Check] = []
    for part in (_database, _originals, _imap, _smtp, _slack, _microsoft, _teams):
        checks.extend(part(settings))
    return checks
