"""The Teams app package: ``manifest.json`` and its two icons in a zip, as Teams uploads it.

The manifest names the bot (the Azure Bot's Microsoft App ID), the scopes it works in
(``personal`` for the criteria assistant and case views, ``team`` for the partnership's
channel), the domain its messaging endpoint is served on, and no permissions beyond the bot's.
It follows the published Teams app manifest schema v1.29 (the OfficeDev
microsoft-teams-app-schema repository; tests validate the package against it).

The icons are drawn here (a plain PNG encoder, no imaging library): a 192x192 full-colour
icon and a 32x32 white-on-transparent outline, the sizes the schema's descriptions require.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST_VERSION = "1.29"
SCHEMA_URL = f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
ACCENT = "#1F4E79"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(\*\.)?([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")


class PackageError(ValueError):
    """A setting the package cannot be made without; one line, naming the setting."""


@dataclass(frozen=True)
class PackageInfo:
    app_id: str
    domain: str
    name: str = "Safeguard bot"
    developer: str = "Safeguarding Partnership"
    version: str = "1.0.0"
    website_url: str | None = None
    privacy_url: str | None = None
    terms_url: str | None = None

    def check(self) -> None:
        if not _GUID.match(self.app_id or ""):
            raise PackageError("bad setting teams_app_id (SAFEGUARD_TEAMS_APP_ID): needed for the package: "
                               "the Azure Bot's Microsoft App ID, a GUID")
        if not _DOMAIN.match(self.domain or ""):
            raise PackageError("bad setting teams_domain (SAFEGUARD_TEAMS_DOMAIN): needed for the package: "
                               "the host name the messaging endpoint is served on, e.g. bot.example.gov.uk")


def manifest(info: PackageInfo) -> dict[str, Any]:
    """manifest.json for ``info`` (checked first)."""
    info.check()
    site = info.website_url or f"https://{info.domain}/"
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": MANIFEST_VERSION,
        "version": info.version,
        "id": info.app_id,
        "developer": {
            "name": info.developer[:32],
            "websiteUrl": site,
            "privacyUrl": info.privacy_url or site,
            "termsOfUseUrl": info.terms_url or site,
        },
        "name": {"short": info.name[:30], "full": "Safeguarding statutory clock"},
        "description": {
            "short": "Serious incident notification criteria and statutory deadlines.",
            "full": ("Checks an incident against the serious incident notification criteria, with the "
                     "source of every answer, and keeps the statutory clock for the partnership's cases: "
                     "notices, reminders and escalations in the partnership's channel. Never a child's "
                     "details in a channel."),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": ACCENT,
        "bots": [
            {
                "botId": info.app_id,
                "scopes": ["personal", "team"],
                "supportsFiles": False,
                "isNotificationOnly": False,
                "commandLists": [
                    {"scopes": ["personal", "team"],
                     "commands": [{"title": "check", "description": "Check an incident against the criteria"},
                                  {"title": "review", "description": "Rapid review decision"},
                                  {"title": "restart", "description": "Start again"}]},
                ],
            }
        ],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": [info.domain],
    }


def _png(size: int, pixel: Any) -> bytes:
    """An RGBA PNG of ``size`` x ``size`` whose pixel (x, y) is ``pixel(x, y)``."""
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(size)) for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")


def _shield(size: int, x: int, y: int) -> bool:
    """A simple shield shape: the app's mark."""
    cx, top, bottom = size / 2, size * 0.18, size * 0.85
    if not top <= y <= bottom:
        return False
    half = size * 0.32 if y < size * 0.55 else size * 0.32 * (bottom - y) / (bottom - size * 0.55)
    return abs(x + 0.5 - cx) <= half


def color_icon() -> bytes:
    accent = (0x1F, 0x4E, 0x79, 255)
    return _png(192, lambda x, y: (255, 255, 255, 255) if _shield(192, x, y) else accent)


def outline_icon() -> bytes:
    return _png(32, lambda x, y: (255, 255, 255, 255) if _shield(32, x, y) else (0, 0, 0, 0))


def write_package(info: PackageInfo, path: Path) -> dict[str, Any]:
    """Write the zip (manifest.json, color.png, outline.png at its root); the manifest."""
    data = manifest(info)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(data, indent=2))
        archive.writestr("color.png", color_icon())
        archive.writestr("outline.png", outline_icon())
    return data
