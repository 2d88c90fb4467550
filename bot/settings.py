"""Settings: environment variables prefixed ``SAFEGUARD_`` plus an optional TOML file.

Precedence: environment over the TOML file over the embedded defaults, so a deployment can keep
a checked-in settings file and still inject secrets from its environment. Secrets are
``SecretStr`` so they never appear in a repr, a log line or an error message. A bad value stops
start-up with one line that names the key.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.core.dates import check_date_range
from bot.core.owners import InvalidOwner, check_owner, is_email
from scheduler.calendar import WorkingCalendar
from scheduler.reminders import ReminderPolicy, load_policy
from scheduler.timescales import Event, Timescales, load_timescales

if TYPE_CHECKING:
    from bot.core.criteria import CriteriaTree

ENV_PREFIX = "SAFEGUARD_"
CONFIG_FILE_ENV = "SAFEGUARD_CONFIG_FILE"
# An Entra (Azure AD) object id: a GUID.
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class SettingsError(ValueError):
    """A setting cannot be used; the message is one line naming the key."""


def _dates_in_range(days: list[date]) -> list[date]:
    """Closure days within bot.core.dates' range: a year outside it is a typing error."""
    for day in days:
        check_date_range(day, "closure day")
    return days


class AgencySettings(BaseModel):
    """An agency a rapid review asks for its summary of involvement: its safeguarding lead."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str = Field(min_length=2, max_length=200)
    email: str
    slack_user: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,}$")
    teams_user: str | None = Field(default=None, max_length=320)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not is_email(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value.strip()


class PartnerSettings(BaseModel):
    """One of the three statutory safeguarding partners' senior representatives, who signs off
    a rapid review (seed 002: "Signed by the three safeguarding partners")."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["local_authority", "police", "health"]
    name: str = Field(min_length=2, max_length=200)
    email: str
    slack_user: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{2,}$")
    teams_user: str | None = Field(default=None, max_length=320)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return AgencySettings._email(value)


class PartnershipSettings(BaseModel):
    """One safeguarding partnership served by this installation."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(default="default", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    name: str = Field(default="Safeguarding Children Partnership", min_length=2)
    reference_prefix: str = Field(default="SG", pattern=r"^[A-Z][A-Z0-9]{1,7}$")
    closure_days: list[date] = Field(default_factory=list)
    rapid_review_counts_from: Literal["partners_aware", "panel_notified"] | None = None
    slack_channel: str | None = None
    # The Teams channel's conversation id (19:...@thread.tacv2): captured when the app is
    # installed in the partnership's team (`safeguard-bot` logs it and keeps its service URL).
    teams_channel: str | None = None
    escalation_contact: str | None = None
    # The local authorities the partnership covers (Tees: four). The DfE form wants the
    # notifying local authority, not the partnership: a case names one of these.
    local_authorities: list[str] = Field(default_factory=list)
    # The partnership's shared mailbox: notices, reminders, escalations and the digest go here
    # when there is no Slack channel, and as well as Slack when both are set.
    team_email: str | None = None
    # Who the acknowledgement e-mail names as the partnership's contact.
    contact_name: str | None = Field(default=None, max_length=200)
    contact_phone: str | None = Field(default=None, max_length=40)
    # The partnership's case officers (Slack user IDs, Teams Entra object IDs; e-mail addresses
    # are accepted but no chat adapter passes one yet): in Slack and Teams they see and act on
    # this partnership's cases only (bot/cases.py may_act). Empty: the installation-wide lists.
    case_officers: list[str] = Field(default_factory=list)
    # Retention: the child's details and free text are erased this many years after the case
    # closed (None: never automatically). The partnership's decision (README "Retention").
    retention_years_after_close: int | None = Field(default=None, ge=1, le=100)
    # The owner (Slack user ID or e-mail) of a case opened without one, e.g. from e-mail.
    default_owner: str | None = None
    # The rapid review as a run process (issue 14): the agencies asked for their summaries, the
    # partners who sign off, the timeline (default: the embedded config/rapid_review.toml), the
    # partnership's request form attached to every request, its own .docx report template
    # ({{placeholders}}: see bot/rapid_review_report.py), and whether agencies are told the
    # child's name and date of birth (default: the case reference and initials only).
    agencies: list[AgencySettings] = Field(default_factory=list)
    partners: list[PartnerSettings] = Field(default_factory=list)
    rapid_review_file: Path | None = None
    rapid_review_request_template: Path | None = None
    rapid_review_template: Path | None = None
    share_child_details_with_agencies: bool = False

    @field_validator("agencies")
    @classmethod
    def _agency_keys(cls, value: list[AgencySettings]) -> list[AgencySettings]:
        keys = [a.key for a in value]
        if len(set(keys)) != len(keys):
            raise ValueError("an agency key is listed twice")
        return value

    @field_validator("partners")
    @classmethod
    def _one_per_role(cls, value: list[PartnerSettings]) -> list[PartnerSettings]:
        roles = [p.role for p in value]
        if len(set(roles)) != len(roles):
            raise ValueError("a partner role is listed twice (one each: local_authority, police, health)")
        return value

    @field_validator("closure_days")
    @classmethod
    def _closures_in_range(cls, value: list[date]) -> list[date]:
        return _dates_in_range(value)

    @field_validator("local_authorities")
    @classmethod
    def _authorities_named(cls, value: list[str]) -> list[str]:
        cleaned = [name.strip() for name in value]
        if any(not name or len(name) > 120 for name in cleaned):
            raise ValueError("each local authority is a name of 1 to 120 characters")
        if len({name.casefold() for name in cleaned}) != len(cleaned):
            raise ValueError("a local authority is listed twice")
        return cleaned

    def local_authority(self, name: str) -> str:
        """The partnership's spelling of local authority ``name`` (any case), or SettingsError
        naming the ones it covers: a notification names an authority the partnership has."""
        wanted = " ".join(name.split()).casefold()
        for authority in self.local_authorities:
            if authority.casefold() == wanted:
                return authority
        known = ", ".join(self.local_authorities) or "none configured (local_authorities)"
        raise SettingsError(
            f"local authority {name!r} is not one of partnership {self.key!r}'s: {known}"
        )
    @field_validator("team_email")
    @classmethod
    def _team_email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not is_email(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value.strip()

    @field_validator("default_owner")
    @classmethod
    def _default_owner(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return check_owner(value)
        except InvalidOwner as exc:
            raise ValueError(str(exc)) from None


DEFAULT_SENDER_DOMAINS = ["gov.uk", "nhs.net", "nhs.uk", "police.uk", "sch.uk"]


class MailboxSettings(BaseModel):
    """One partnership mailbox watched over IMAP.

    ``security``: "ssl" (implicit TLS, port 993), "starttls" (port 143 upgraded) or "plain"
    (no TLS: loopback test servers only). Messages are only ever moved, to ``processed_folder``
    after their case committed or to ``quarantine_folder`` with a reason; never deleted.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="default", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,39}$")
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str = Field(min_length=1)
    password: SecretStr | None = None
    security: Literal["ssl", "starttls", "plain"] = "ssl"
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    partnership: str | None = None
    # "oauth2": XOAUTH2 with a token from the client-credentials grant (Exchange Online accepts
    # no password for IMAP). The oauth_* keys override the installation's SAFEGUARD_OAUTH_* ones
    # for this mailbox (another tenant or app registration); unset, those apply.
    auth: Literal["password", "oauth2"] = Field(
        default="password", validation_alias=AliasChoices("auth", "imap_auth"))
    oauth_tenant_id: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    oauth_certificate_file: Path | None = None
    oauth_certificate_thumbprint: str | None = None
    oauth_authority_host: str | None = None
    oauth_scope: str | None = None
    # The authserv-id of this mailbox's own receiving server (sender authentication); unset,
    # the installation's SAFEGUARD_TRUSTED_AUTHSERV_ID applies.
    trusted_authserv_id: str | None = None


    @property
    def resolved_port(self) -> int:
        if self.port is not None:
            return self.port
        return 993 if self.security == "ssl" else 143


class Settings(BaseSettings):
    """Everything the bot can be told; the defaults run it with no configuration at all."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    # The TOML file read by settings_customise_sources; set by load_settings().
    _toml_file: ClassVar[Path | None] = None
    # The file these settings were read from (None: environment and embedded defaults only).
    _source_file: Path | None = PrivateAttr(default=None)

    @property
    def source_file(self) -> Path | None:
        return self._source_file

    data_dir: Path = Path("var")
    database_url: str | None = None
    timescales_file: Path | None = None
    closure_days: list[date] = Field(default_factory=list)
    rapid_review_counts_from: Literal["partners_aware", "panel_notified"] = "partners_aware"
    partnerships: list[PartnershipSettings] = Field(
        default_factory=lambda: [PartnershipSettings()]
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    reminders_file: Path | None = None
    local_transport: Literal["folder", "console"] = "folder"
    alert_recipient: str | None = None

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_use_tls: bool = False
    smtp_from: str = "safeguard-bot@localhost"

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_base_url: str | None = None
    # Socket Mode (default) works behind a council firewall; HTTP needs a public URL.
    slack_mode: Literal["socket", "http"] = "socket"
    slack_http_host: str = "0.0.0.0"
    slack_http_port: int = Field(default=3000, ge=1, le=65535)
    # Slack user IDs (U...) allowed to open and view cases; anyone may ask the criteria.
    # Environment: a JSON list or comma-separated IDs.
    slack_case_officers: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Microsoft Teams (handlers/teams, the Teams SDK for Python). The bot's messaging endpoint
    # is served over HTTP at /api/messages; every request's token is validated by the SDK.
    teams_mode: bool = False
    teams_app_id: str | None = None
    teams_app_password: SecretStr | None = None
    # ...or a certificate registered on the app (PEM with its private key) and its thumbprint.
    teams_certificate_file: Path | None = None
    teams_certificate_thumbprint: str | None = None
    teams_tenant_id: str | None = None
    teams_http_host: str = "0.0.0.0"
    teams_http_port: int = Field(default=3978, ge=1, le=65535)
    # Who may open, view and record on cases: Entra user object ids (GUIDs) and/or
    # ``group:<group object id>`` (transitive members, asked of Microsoft Graph's
    # checkMemberGroups with the Teams app's own token; needs GroupMember.Read.All).
    teams_case_officers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The Azure cloud's endpoints (the SDK's CloudEnvironment): the public cloud by default;
    # set these for a sovereign cloud or a private Bot Framework deployment.
    teams_login_endpoint: str | None = None
    teams_openid_metadata_url: str | None = None
    teams_token_issuer: str | None = None
    teams_service_url: str = "https://smba.trafficmanager.net/uk/"
    # The public host name of the messaging endpoint (the package's validDomains).
    teams_domain: str | None = None

    # A partnership's own criteria question tree (default: the embedded config/criteria.toml).
    criteria_file: Path | None = None

    # Mail intake. One mailbox from the imap_* settings, and/or several in ``mailboxes``
    # (environment: a JSON list). With none, ``run`` watches <data_dir>/inbox/ for .eml files.
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_security: Literal["ssl", "starttls", "plain"] = "ssl"
    imap_folder: str = "INBOX"
    imap_processed_folder: str = "Processed"
    imap_quarantine_folder: str = "Quarantine"
    imap_partnership: str | None = None
    # Microsoft 365 (handlers/mail/oauth.py): Exchange Online takes no password for IMAP, and
    # SMTP AUTH with one is going (MC786329). "oauth2" logs in with XOAUTH2 and a token from
    # the client-credentials grant (msal) for the app registration below. "none": no SMTP AUTH
    # (a relay that trusts the host).
    imap_auth: Literal["password", "oauth2"] = "password"
    smtp_auth: Literal["password", "oauth2", "none"] = "password"
    oauth_tenant_id: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: SecretStr | None = None
    # A PEM file holding the certificate's private key (and the certificate), with the
    # certificate's SHA-1 thumbprint as Entra ID shows it: instead of a client secret.
    oauth_certificate_file: Path | None = None
    oauth_certificate_thumbprint: str | None = None
    # Sovereign clouds and test authorities use another host; the token endpoint is
    # {host}/{tenant}/oauth2/v2.0/token.
    oauth_authority_host: str = "https://login.microsoftonline.com"
    oauth_scope: str = "https://outlook.office365.com/.default"
    # "graph": Microsoft Graph instead of IMAP and SMTP, for tenants that switch IMAP off
    # (handlers/mail/graph_watcher.py): the imap_* mailboxes are read with delta queries (host,
    # port and security unused; username = the mailbox) and mail is sent with sendMail.
    mail_backend: Literal["imap", "graph"] = "imap"
    # Sovereign clouds have their own Graph host (https://graph.microsoft.us/v1.0). The token
    # scope is {scheme}://{host}/.default unless SAFEGUARD_OAUTH_SCOPE says otherwise.
    graph_base_url: str = "https://graph.microsoft.com/v1.0"
    # Graph has no IDLE: the folder's delta is asked for this often (a cheap call when nothing
    # changed; Exchange's throttling allows far more).
    graph_poll_seconds: float = Field(default=10.0, gt=0, le=3600)
    # Sender authentication: the authserv-id the partnership's own receiving server writes in
    # Authentication-Results. Unset: the From domain alone decides (and `status` says so).
    trusted_authserv_id: str | None = None
    mailboxes: list[MailboxSettings] = Field(default_factory=list)
    # Where IDLE is missing, and as a safety net beside IDLE, the mailbox is scanned this often.
    imap_poll_seconds: float = Field(default=60.0, gt=0, le=3600)
    # IDLE is re-issued this often (RFC 2177: servers may drop an IDLE older than 29 minutes).
    imap_idle_seconds: float = Field(default=600.0, gt=0, le=29 * 60 - 60)
    inbox_poll_seconds: float = Field(default=0.5, gt=0, le=3600)
    # Senders whose mail is read; others are quarantined for a human. Suffix match on the
    # domain (nhs.net allows mail.nhs.net). Environment: JSON list or comma-separated.
    sender_domains: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_SENDER_DOMAINS)
    )
    # Who hears about quarantined mail: a Slack channel (C...) or an e-mail address;
    # default: the partnership's channel.
    intake_notify: str | None = None
    # A message (IMAP RFC822.SIZE, or an inbox file) larger than this is quarantined unread:
    # reading it would hold it all in memory. 25 MiB is above what Exchange Online and nhs.net
    # accept by default for a message, so a real referral is never near it.
    intake_max_message_bytes: int = Field(default=25 * 1024 * 1024, ge=4096)
    # Automatic replies (acknowledgements, rejections) to one sender address, and within one
    # thread, per hour; beyond them mail is still handled and a human told, the sender not
    # answered. Counted in the database, so the limit holds across restarts and workers.
    intake_replies_per_sender_per_hour: int = Field(default=20, ge=1, le=1000)
    intake_replies_per_thread_per_hour: int = Field(default=2, ge=1, le=1000)
    # The key(s) child details are encrypted under (store/crypto.py): SAFEGUARD_DATA_KEY, or a
    # file (mode 0600, one key a line) named by SAFEGUARD_DATA_KEY_FILE. Several keys: the
    # first encrypts, all decrypt (put a new key first, then `safeguard-bot keys rotate`).
    data_key: SecretStr | None = None
    data_key_file: Path | None = None
    # `run` serves /healthz and /metrics here (loopback only; 0 turns it off).
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=9464, ge=0, le=65535)
    # A log file (rotated: log_file_max_bytes a file, log_file_backups kept); default: stderr.
    log_file: Path | None = None
    log_file_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_file_backups: int = Field(default=5, ge=1, le=100)

    @field_validator("health_host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        """/metrics is unauthenticated: it is served on a loopback address only."""
        import ipaddress

        try:
            loopback = value == "localhost" or ipaddress.ip_address(value).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ValueError("must be a loopback address (127.0.0.1, ::1 or localhost)")
        return value

    def data_keys(self) -> list[str]:
        """The configured data keys, first the one that encrypts; [] when none is configured.
        Raises SettingsError naming the setting (never the key) for a bad one."""
        from store.crypto import DataKeyInvalid, parse_keys

        if self.data_key is not None:
            source, value = "data_key (SAFEGUARD_DATA_KEY)", self.data_key.get_secret_value()
        elif self.data_key_file is not None:
            source = f"data_key_file (SAFEGUARD_DATA_KEY_FILE) {self.data_key_file}"
            try:
                value = self.data_key_file.read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(f"bad setting {source}: cannot read it ({exc.__class__.__name__})") from None
        else:
            return []
        try:
            keys = parse_keys(value)
        except DataKeyInvalid as exc:
            raise SettingsError(f"bad setting {source}: {exc}") from None
        if not keys:
            raise SettingsError(f"bad setting {source}: it holds no key")
        return keys

    def install_data_keys(self) -> None:
        """Give this process's database layer the data keys (store.crypto.use_keys)."""
        import sys

        if self.data_key is None and self.data_key_file is None and "store.crypto" not in sys.modules:
            return  # nothing to install, and `deadlines` need not load cryptography
        from store.crypto import use_keys

        use_keys(self.data_keys())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_file))
        return tuple(sources)

    @field_validator("closure_days")
    @classmethod
    def _closures_in_range(cls, value: list[date]) -> list[date]:
        return _dates_in_range(value)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.match(r"^(sqlite(\+pysqlite)?|postgresql(\+psycopg)?)://", value):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        return value

    @field_validator("slack_case_officers", "teams_case_officers", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("slack_case_officers")
    @classmethod
    def _slack_ids(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.match(r"^[UWS][A-Z0-9]{2,}$", item):
                raise ValueError(f"{item!r} is not a Slack user or group ID (U..., W... or S...)")
        return value

    @field_validator("teams_case_officers")
    @classmethod
    def _teams_ids(cls, value: list[str]) -> list[str]:
        cleaned, groups = [], 0
        for item in value:
            kind, _, rest = item.rpartition(":")
            if kind.lower() not in ("", "group") or not OBJECT_ID.match(rest):
                raise ValueError(f"{item!r} is neither an Entra user object id (a GUID) nor "
                                 "group:<group object id>")
            groups += bool(kind)
            cleaned.append(f"group:{rest.lower()}" if kind else rest.lower())
        if groups > 20:  # checkMemberGroups takes at most 20 group ids a call
            raise ValueError("at most 20 group: entries (Microsoft Graph checkMemberGroups takes 20)")
        return cleaned

    @field_validator("sender_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: Any) -> Any:
        return cls._split_ids(value)

    @field_validator("sender_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        cleaned = []
        for item in value:
            domain = item.strip().lower().lstrip("@").lstrip(".")
            if not re.match(r"^[a-z0-9-]+(\.[a-z0-9-]+)*$", domain):
                raise ValueError(f"{item!r} is not a domain name")
            cleaned.append(domain)
        return cleaned

    @field_validator("imap_password", "oauth_client_secret", mode="before")
    @classmethod
    def _empty_secret(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("partnerships")
    @classmethod
    def _unique_partnerships(cls, value: list[PartnershipSettings]) -> list[PartnershipSettings]:
        if not value:
            raise ValueError("at least one partnership is needed")
        keys = [p.key for p in value]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate partnership key(s): {', '.join(duplicates)}")
        # Case references are PREFIX-YEAR-NNNN: two partnerships on one prefix would share one
        # series of references (the store keeps them unique, but nobody could tell whose a
        # reference is), and every partnership defaults to SG.
        by_prefix: dict[str, list[str]] = {}
        for partnership in value:
            by_prefix.setdefault(partnership.reference_prefix, []).append(partnership.key)
        for prefix, sharing in by_prefix.items():
            if len(sharing) > 1:
                raise ValueError(
                    f"partnerships {' and '.join(sharing)} have the same reference_prefix "
                    f"{prefix!r}: set a different reference_prefix for each"
                )
        return value

    # Derived values -------------------------------------------------------------------------

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'safeguard.db').resolve()}"

    def reminder_policy(self) -> ReminderPolicy:
        return load_policy(self.reminders_file)

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    def partnership(self, key: str | None = None) -> PartnershipSettings:
        """The named partnership, or the first one configured."""
        if key is None:
            return self.partnerships[0]
        for partnership in self.partnerships:
            if partnership.key == key:
                return partnership
        known = ", ".join(p.key for p in self.partnerships)
        raise SettingsError(f"unknown partnership {key!r}; configured: {known}")

    def calendar_for(self, partnership: PartnershipSettings | None = None) -> WorkingCalendar:
        """Weekends, bank holidays, and the closure days of the installation and partnership."""
        closures = set(self.closure_days)
        if partnership is not None:
            closures.update(partnership.closure_days)
        return WorkingCalendar(closures)

    def criteria(self) -> CriteriaTree:
        """The validated criteria question tree (CriteriaConfigError names a bad key)."""
        from bot.core.criteria import load_criteria

        return load_criteria(self.criteria_file)

    def imap_mailboxes(self) -> list[MailboxSettings]:
        """Every IMAP mailbox to watch: the imap_* one (named "default") plus ``mailboxes``."""
        boxes = list(self.mailboxes)
        graph = self.mail_backend == "graph"  # Graph: no host, no password; the mailbox name
        if self.imap_host or (graph and self.imap_username):
            if not self.imap_username or (self.imap_password is None and self.imap_auth == "password"
                                          and not graph):
                raise SettingsError(
                    "bad setting imap_username/imap_password (SAFEGUARD_IMAP_USERNAME, "
                    "SAFEGUARD_IMAP_PASSWORD): both are needed when imap_host is set"
                )
            boxes.insert(
                0,
                MailboxSettings(
                    name="default",
                    host=self.imap_host or "graph.microsoft.com",
                    port=self.imap_port,
                    username=self.imap_username,
                    password=self.imap_password,
                    security=self.imap_security,
                    folder=self.imap_folder,
                    processed_folder=self.imap_processed_folder,
                    quarantine_folder=self.imap_quarantine_folder,
                    partnership=self.imap_partnership,
                    auth=self.imap_auth,
                ),
            )
        names = [box.name for box in boxes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SettingsError(f"bad setting mailboxes: duplicate mailbox name(s): {', '.join(duplicates)}")
        for box in boxes:
            if box.partnership is not None:
                self.partnership(box.partnership)
            if box.auth == "password" and box.password is None and not graph and box in self.mailboxes:
                raise SettingsError(f"bad setting mailboxes (SAFEGUARD_MAILBOXES): mailbox {box.name} needs "
                                    "a password with auth = password (or auth = oauth2)")
        return boxes

    def partnership_for_mailbox(self, mailbox: str) -> str | None:
        """The partnership a mailbox's mail belongs to (None: the first partnership)."""
        for box in self.mailboxes:
            if box.name == mailbox:
                return box.partnership
        if mailbox == "default":
            return self.imap_partnership
        return None

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    def sender_allowed(self, domain: str | None) -> bool:
        """Suffix match: "nhs.net" allows "nhs.net" and "trust.nhs.net", not "evilnhs.net"."""
        if not domain:
            return False
        domain = domain.strip().lower().rstrip(".")
        return any(domain == d or domain.endswith("." + d) for d in self.sender_domains)

    def teams_configured(self) -> bool:
        """Teams is on and has the bot's app id and a secret or certificate (the Azure Bot's)."""
        has_credential = self.teams_app_password is not None or self.teams_certificate_file is not None
        return self.teams_mode and bool(self.teams_app_id) and has_credential

    def slack_configured(self) -> bool:
        """Tokens present for the chosen Slack mode."""
        if self.slack_bot_token is None:
            return False
        if self.slack_mode == "socket":
            return self.slack_app_token is not None
        return self.slack_signing_secret is not None

    def timescales_for(self, partnership: PartnershipSettings | None = None) -> Timescales:
        """The timescale rules with the partnership's rapid-review anchor applied."""
        timescales = load_timescales(self.timescales_file)
        anchor = self.rapid_review_counts_from
        if partnership is not None and partnership.rapid_review_counts_from:
            anchor = partnership.rapid_review_counts_from
        if timescales.get("rapid_review").counts_from.value != anchor:
            timescales = timescales.with_counts_from("rapid_review", Event(anchor))
        return timescales


def _describe(error: ValidationError, toml_file: Path | None) -> str:
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    key = loc[0] if loc else "?"
    dotted = ".".join(loc)
    where = f"{dotted} ({ENV_PREFIX}{key.upper()}"
    where += f" or {toml_file})" if toml_file else ")"
    message = first["msg"]
    message = message.removeprefix("Value error, ")
    return f"bad setting {where}: {message}"


def _refuse_unknown_environment() -> None:
    """A misspelt variable (SAFEGUARD_DATABSE_URL) must not silently fall back to a default."""
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | {CONFIG_FILE_ENV}
    for name in sorted(os.environ):
        if not name.startswith(ENV_PREFIX):
            continue
        base = name.split("__", 1)[0]
        if base not in known:
            raise SettingsError(f"bad setting {name}: no such setting")


# Where a settings file is looked for when neither --config nor SAFEGUARD_CONFIG_FILE names
# one, in order: the directory the command runs in, the user's, the machine's.
DISCOVERED_FILES: tuple[Path, ...] = (
    Path("safeguard-bot.toml"),
    Path("~/.config/safeguard-bot/settings.toml"),
    Path("/etc/safeguard-bot/settings.toml"),
)


def settings_file(config_file: Path | None = None) -> Path | None:
    """The settings file to read: ``config_file`` (--config), else $SAFEGUARD_CONFIG_FILE, else
    the first of DISCOVERED_FILES that exists, else None (embedded defaults). A file named
    explicitly must exist; a discovered one is used only if it does."""
    if config_file is not None:
        if not config_file.is_file():
            raise SettingsError(f"bad setting --config: no such file {config_file}")
        return config_file
    if os.environ.get(CONFIG_FILE_ENV):
        path = Path(os.environ[CONFIG_FILE_ENV])
        if not path.is_file():
            raise SettingsError(f"bad setting {CONFIG_FILE_ENV}: no such file {path}")
        return path
    for candidate in DISCOVERED_FILES:
        path = candidate.expanduser()
        if path.is_file():
            return path.resolve()
    return None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings or raise SettingsError with one line naming the bad key.

    The file is found by settings_file (--config, $SAFEGUARD_CONFIG_FILE, ./safeguard-bot.toml,
    ~/.config/safeguard-bot/settings.toml, /etc/safeguard-bot/settings.toml); the one used is
    kept as ``Settings.source_file`` so ``status`` can name it.
    """
    path = settings_file(config_file)
    _refuse_unknown_environment()
    Settings._toml_file = path
    try:
        loaded = Settings(**overrides)
        loaded._source_file = path
        loaded.install_data_keys()
        return loaded
    except ValidationError as exc:
        raise SettingsError(_describe(exc, path)) from None
    except ValueError as exc:  # e.g. malformed TOML or JSON in a complex env value
        raise SettingsError(f"bad setting: {str(exc).splitlines()[0]}") from None
    finally:
        Settings._toml_file = None
