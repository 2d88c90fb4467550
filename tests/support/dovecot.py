"""A throw-away Dovecot IMAP server on a free loopback port (see shared/recipes/test-servers.md).

Everything lives in one mkdtemp folder made world-readable (Dovecot's unprivileged processes
must traverse it; pytest's 0700 tmp_path does not work). Users come from a pool written before
start-up, so every test gets an empty mailbox of its own from one server. Runs as root (these
machines, CI) with mail uid 65534, or as an ordinary user with the internal users set to it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from imap_tools import MailBoxUnencrypted

from tests.support.slack_api import free_port

DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
PASSWORD = "secret"


def _config(base: Path, port: int, introspection_url: str | None = None) -> str:
    me = pwd.getpwuid(os.getuid()).pw_name
    root = os.getuid() == 0
    # XOAUTH2 (Microsoft 365 tests): the oauth2 passdb validates every bearer token by RFC 7662
    # introspection; failed logins must not slow the next ones down (all come from 127.0.0.1).
    oauth = introspection_url is not None
    anvil = ("  chroot =\n" if not root else "") + (
        "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n" if oauth else "")
    unprivileged = "" if root else f"""
default_internal_user = {me}
default_internal_group = {me}
default_login_user = {me}
"""
    if anvil:
        unprivileged += f"service anvil {{\n{anvil}}}\n"
    mechanisms = "plain login xoauth2 oauthbearer" if oauth else "plain login"
    oauth_passdb = f"""
auth_cache_size = 0
auth_failure_delay = 0
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {base}/dovecot-oauth2.conf.ext
}}
""" if oauth else ""
    login_chroot = "" if root else "  chroot =\n"
    return f"""
instance_name = test-dovecot-{uuid.uuid4().hex[:8]}
base_dir = {base}/run
state_dir = {base}/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
log_path = {base}/dovecot.log
mail_location = maildir:{base}/mail/%u/Maildir
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
{oauth_passdb}userdb {{
  driver = passwd-file
  args = username_format=%u {base}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{login_chroot}}}
{unprivileged}
"""


class Dovecot:
    def __init__(self, users: int = 40, *, introspection_url: str | None = None) -> None:
        """``introspection_url``: also accept XOAUTH2/OAUTHBEARER, each token checked there."""
        assert DOVECOT is not None
        self.base = Path(tempfile.mkdtemp(prefix="sgbot-dovecot-"))
        os.chmod(self.base, 0o755)
        self.port = free_port()
        self.conf = self.base / "dovecot.conf"
        self.conf.write_text(_config(self.base, self.port, introspection_url))
        if introspection_url is not None:
            (self.base / "dovecot-oauth2.conf.ext").write_text(
                "introspection_mode = post\n"
                f"introspection_url = {introspection_url}\n"
                "force_introspection = yes\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
            )
        (self.base / "users").write_text("")
        (self.base / "mail").mkdir()
        os.chmod(self.base / "mail", 0o755)
        self.uid = 65534 if os.getuid() == 0 else os.getuid()
        self._pool = [f"intake{k:03d}" for k in range(users)]
        for name in self._pool:
            self._create_user(name)

    def start(self) -> Dovecot:
        # Dovecot daemonises; its children keep inherited pipes open, so no capture here.
        with open(self.base / "start.log", "wb") as out:
            subprocess.run([DOVECOT, "-c", str(self.conf)], check=True, stdout=out, stderr=out, timeout=30)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not start: {self.log()}")

    def stop(self) -> None:
        subprocess.run([DOVECOT, "-c", str(self.conf), "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        pid_file = self.base / "run" / "master.pid"
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.base, ignore_errors=True)

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def _create_user(self, name: str) -> None:
        home = self.base / "mail" / name
        home.mkdir(parents=True)
        os.chown(home, self.uid, self.uid)
        with open(self.base / "users", "a") as users:
            users.write(f"{name}:{{PLAIN}}{PASSWORD}:{self.uid}:{self.uid}::{home}::\n")

    def add_user(self) -> str:
        """A user with an empty mailbox, from a pool written before the server started (Dovecot
        notices a changed passwd-file only at one-second granularity, and a failed login costs
        a deliberate delay, so users are not added while it runs)."""
        return self._pool.pop(0)

    def mailbox(self, user: str, folder: str = "INBOX") -> MailBoxUnencrypted:
        return MailBoxUnencrypted("127.0.0.1", self.port).login(user, PASSWORD, initial_folder=folder)

    def append(self, user: str, raw: bytes, folder: str = "INBOX", dt: datetime | None = None) -> None:
        """APPEND a message; ``dt`` sets its INTERNALDATE (default: now)."""
        with self.mailbox(user) as box:
            box.append(raw, folder, dt=dt, flag_set=())

    def count(self, user: str, folder: str) -> int:
        with self.mailbox(user) as box:
            if not box.folder.exists(folder):
                return 0
            return int(box.folder.status(folder, ["MESSAGES"])["MESSAGES"])

    def messages(self, user: str, folder: str) -> list[bytes]:
        with self.mailbox(user) as box:
            if not box.folder.exists(folder):
                return []
            box.folder.set(folder)
            return [m.obj.as_bytes() for m in box.fetch(mark_seen=False)]
