"""A loopback stand-in for the Microsoft Graph mail endpoints the Graph backend uses.

It follows Microsoft's documented requests and responses (Graph v1.0):
- ``GET /users/{id}/mailFolders/{id}/messages/delta`` (``$select``; ``Prefer:
  odata.maxpagesize=n``): pages of ``value`` linked by ``@odata.nextLink`` (a ``$skiptoken``),
  the last with ``@odata.deltaLink`` (a ``$deltatoken``); a later round from that link reports
  only changes, moved-out messages as ``{"id": ..., "@removed": {"reason": "deleted"}}``. An
  expired token gets ``410 Gone`` (``SyncStateNotFound``): the client must sync afresh;
- ``GET /users/{id}/messages/{id}/$value``: the MIME; ``404 ErrorItemNotFound`` when gone;
- ``POST /users/{id}/messages/{id}/move`` ``{"destinationId"}``: ``201`` with the message under
  its new id (Exchange gives a moved message a new id);
- ``GET /users/{id}/mailFolders?$filter=displayName eq 'X'`` and ``POST /users/{id}/mailFolders``;
- ``POST /users/{id}/sendMail`` with ``Content-Type: text/plain`` and base64 MIME: ``202``;
- ``POST /users/{user object id}/checkMemberGroups`` ``{"groupIds": [...]}`` (at most 20):
  ``200 {"value": [the ids the user is a member of, transitively]}``; an unknown user gets
  ``404 Request_ResourceNotFound``. It needs an app token for Graph's audience (else 401) whose
  app holds ``GroupMember.Read.All`` (:meth:`GraphApi.grant`; else 403
  ``Authorization_RequestDenied``). Groups and members: :meth:`GraphApi.group`.
Every request needs ``Authorization: Bearer`` with a live token from the TokenAuthority for an
app whose mailbox this is (else 401 ``InvalidAuthenticationToken`` or 403 ``ErrorAccessDenied``).
``throttle(n)`` answers the next n requests ``429`` with ``Retry-After``.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.slack_api import free_port
from tests.support.token_authority import TokenAuthority

_FILTER = re.compile(r"^displayName eq '((?:[^']|'')*)'$")


@dataclass
class _Mail:
    id: str
    raw: bytes
    received: datetime
    internet_id: str


@dataclass
class _Mailbox:
    folders: dict[str, str] = field(default_factory=lambda: {"inbox": "Inbox"})  # id -> displayName
    where: dict[str, str] = field(default_factory=dict)  # message id -> folder id
    mails: dict[str, _Mail] = field(default_factory=dict)
    log: list[tuple[int, str, str, str]] = field(default_factory=list)  # (seq, folder, added|removed, id)
    sent: list[Message] = field(default_factory=list)


class GraphApi:
    def __init__(self, authority: TokenAuthority) -> None:
        self.authority = authority
        self.port = free_port()
        self.mailboxes: dict[str, _Mailbox] = {}
        self.requests: list[tuple[str, str, int]] = []  # (method, path with query, status)
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._throttle = 0
        self.retry_after = 1
        self._valid_from = 0  # delta tokens minted before this seq are expired
        self._server: ThreadingHTTPServer | None = None
        self.groups: dict[str, set[str]] = {}  # group id -> member ids (users or groups)
        self.users: set[str] = set()
        self.permissions: dict[str, set[str]] = {}  # client id -> application permissions
        self.member_checks: list[dict[str, Any]] = []  # what each checkMemberGroups call sent

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

    # --- the test's side ------------------------------------------------------------------------

    def mailbox(self, name: str) -> _Mailbox:
        with self._lock:
            return self.mailboxes.setdefault(name.lower(), _Mailbox())

    def deliver(self, mailbox: str, raw: bytes, received: datetime | None = None) -> str:
        """A message arrives in the Inbox."""
        box = self.mailbox(mailbox)
        with self._lock:
            mail_id = f"AAMk{next(self._ids):06d}"
            msg = message_from_bytes(raw)
            box.mails[mail_id] = _Mail(mail_id, raw, received or datetime.now(tz=UTC), str(msg["Message-ID"] or ""))
            box.where[mail_id] = "inbox"
            box.log.append((next(self._seq), "inbox", "added", mail_id))
            return mail_id

    def count(self, mailbox: str, folder_name: str) -> int:
        box = self.mailbox(mailbox)
        with self._lock:
            ids = [i for i, n in box.folders.items() if n.lower() == folder_name.lower()]
            return sum(1 for f in box.where.values() if f in ids)

    def group(self, group_id: str, *members: str) -> None:
        """A group with these members (user ids, or other groups' ids: nested)."""
        with self._lock:
            self.groups.setdefault(group_id.lower(), set()).update(m.lower() for m in members)
            self.users.update(m.lower() for m in members if m.lower() not in self.groups)

    def grant(self, client_id: str, permission: str) -> None:
        with self._lock:
            self.permissions.setdefault(client_id, set()).add(permission)

    def _member_of(self, user: str) -> set[str]:
        """Every group the user is in, through nested groups too."""
        found: set[str] = set()
        frontier = {user}
        while frontier:
            step = {g for g, members in self.groups.items() if members & frontier} - found
            found |= step
            frontier = step
        return found

    def _check_member_groups(self, token: str, user: str, body: bytes) -> tuple[int, Any]:
        app = self.authority.app_of(token)
        if app is None or app[1] != f"http://127.0.0.1:{self.port}/.default":
            return 401, {"error": {"code": "InvalidAuthenticationToken", "message": "Invalid audience."}}
        with self._lock:
            allowed = "GroupMember.Read.All" in self.permissions.get(app[0], set())
            try:
                ids = [str(g).lower() for g in json.loads(body or b"{}")["groupIds"]]
            except (ValueError, KeyError, TypeError):
                ids = None
            self.member_checks.append({"user": user, "groupIds": ids, "client_id": app[0], "scope": app[1],
                                       "token": token})
            if not allowed:
                return 403, {"error": {"code": "Authorization_RequestDenied",
                                       "message": "Insufficient privileges to complete the operation."}}
            if ids is None or not 0 < len(ids) <= 20:
                return 400, {"error": {"code": "Request_BadRequest", "message": "Invalid groupIds."}}
            if user not in self.users:
                return 404, {"error": {"code": "Request_ResourceNotFound",
                                       "message": f"Resource '{user}' does not exist or one of its queried "
                                                  "reference-property objects are not present."}}
            member = self._member_of(user)
        return 200, {"@odata.context": f"{self.base_url}/$metadata#Collection(Edm.String)",
                     "value": [g for g in ids if g in member]}

    def throttle(self, n: int, retry_after: int = 1) -> None:
        with self._lock:
            self._throttle, self.retry_after = n, retry_after

    def expire_delta_tokens(self) -> None:
        with self._lock:
            self._valid_from = next(self._seq)

    def calls(self, method: str, fragment: str) -> list[tuple[str, str, int]]:
        return [r for r in self.requests if r[0] == method and fragment in r[1]]

    # --- the API --------------------------------------------------------------------------------

    def _delta(self, box: _Mailbox, folder: str, query: dict[str, str], page_size: int,
               path: str) -> tuple[int, Any]:
        with self._lock:
            now = next(self._seq)
            if "$skiptoken" in query:
                since, upto, offset = (int(x) for x in query["$skiptoken"].split("."))
            elif "$deltatoken" in query:
                since, upto, offset = int(query["$deltatoken"]), now, 0
                if since < self._valid_from:
                    return 410, {"error": {"code": "SyncStateNotFound",
                                           "message": "The sync state generation is not found."}}
            else:
                since, upto, offset = 0, now, 0
            # The folder's changes in (since, upto], as of ``upto``: a cursor that later moves
            # cannot shift (like Graph's own), so paging while the client moves mail is exact.
            changed: dict[str, str] = {}
            for seq, f, kind, mail_id in box.log:
                if since < seq <= upto and f == folder:
                    changed[mail_id] = kind
            items: list[dict[str, Any]] = []
            for mail_id, kind in changed.items():
                if kind == "added":
                    items.append(self._item(box.mails[mail_id]))
                elif since > 0:  # a first round reports only what is there
                    items.append({"@odata.type": "#microsoft.graph.message", "id": mail_id,
                                  "@removed": {"reason": "deleted"}})
            page = items[offset:offset + page_size]
            body: dict[str, Any] = {"@odata.context": f"{self.base_url}/$metadata#Collection(message)", "value": page}
            link = f"http://127.0.0.1:{self.port}{path}"
            if offset + page_size < len(items):
                body["@odata.nextLink"] = f"{link}?$skiptoken={since}.{upto}.{offset + page_size}"
            else:
                body["@odata.deltaLink"] = f"{link}?$deltatoken={upto}"
            return 200, body

    @staticmethod
    def _item(mail: _Mail) -> dict[str, Any]:
        return {"@odata.type": "#microsoft.graph.message", "@odata.etag": f'W/"{mail.id}"', "id": mail.id,
                "receivedDateTime": mail.received.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "internetMessageId": mail.internet_id}

    def _move(self, box: _Mailbox, mail_id: str, destination: str) -> tuple[int, Any]:
        with self._lock:
            if mail_id not in box.where:
                return 404, {"error": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}}
            if destination not in box.folders:
                return 400, {"error": {"code": "ErrorInvalidIdMalformed", "message": "Id is malformed."}}
            old = box.where.pop(mail_id)
            box.log.append((next(self._seq), old, "removed", mail_id))
            mail = box.mails[mail_id]  # the old id stays known (its $value is 404 now)
            new_id = f"AAMk{next(self._ids):06d}"
            mail = _Mail(new_id, mail.raw, mail.received, mail.internet_id)
            box.mails[new_id] = mail
            box.where[new_id] = destination
            box.log.append((next(self._seq), destination, "added", new_id))
            return 201, dict(self._item(mail), parentFolderId=destination)

    def _route(self, method: str, path: str, query: dict[str, str], headers: Any, body: bytes) -> tuple[int, Any, str]:
        with self._lock:
            if self._throttle > 0:
                self._throttle -= 1
                return 429, {"error": {"code": "TooManyRequests", "message": "Please retry again later."}}, "json"
        auth = headers.get("Authorization", "")
        token_user = self.authority.check(auth[len("Bearer "):]) if auth.startswith("Bearer ") else None
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:2] != ["v1.0", "users"] or len(parts) < 4:
            return 404, {"error": {"code": "BadRequest", "message": "Resource not found"}}, "json"
        user = parts[2].lower()
        if token_user is None:
            return 401, {"error": {"code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid."}}, "json"
        if parts[3:] == ["checkMemberGroups"] and method == "POST":
            status, answer = self._check_member_groups(auth[len("Bearer "):], user, body)
            return status, answer, "json"
        if token_user.lower() != user:
            return 403, {"error": {"code": "ErrorAccessDenied", "message": "Access is denied. Check credentials and try again."}}, "json"
        box = self.mailbox(user)
        rest = parts[3:]
        if rest == ["mailFolders"] and method == "GET":
            found = _FILTER.match(query.get("$filter", ""))
            name = found.group(1).replace("''", "'") if found else None
            with self._lock:
                value = [{"id": i, "displayName": n} for i, n in box.folders.items() if name is None or n == name]
            return 200, {"value": value}, "json"
        if rest == ["mailFolders"] and method == "POST":
            name = json.loads(body)["displayName"]
            with self._lock:
                folder = f"folder-{next(self._ids)}"
                box.folders[folder] = name
            return 201, {"id": folder, "displayName": name}, "json"
        if len(rest) == 4 and rest[0] == "mailFolders" and rest[2:] == ["messages", "delta"] and method == "GET":
            folder = rest[1]
            if folder not in box.folders:
                return 404, {"error": {"code": "ErrorInvalidIdMalformed", "message": "Id is malformed."}}, "json"
            prefer = headers.get("Prefer", "")
            size = int(prefer.split("=", 1)[1]) if prefer.startswith("odata.maxpagesize=") else 10
            status, answer = self._delta(box, folder, query, size, path)
            return status, answer, "json"
        if len(rest) == 3 and rest[0] == "messages" and rest[2] == "$value" and method == "GET":
            with self._lock:
                mail = box.mails.get(rest[1]) if rest[1] in box.where else None
            if mail is None:
                return 404, {"error": {"code": "ErrorItemNotFound", "message": "The specified object was not found in the store."}}, "json"
            return 200, mail.raw, "mime"
        if len(rest) == 3 and rest[0] == "messages" and rest[2] == "move" and method == "POST":
            status, answer = self._move(box, rest[1], json.loads(body)["destinationId"])
            return status, answer, "json"
        if rest == ["sendMail"] and method == "POST":
            if not headers.get("Content-Type", "").startswith("text/plain"):
                return 400, {"error": {"code": "ErrorMimeContentInvalid", "message": "expected base64 MIME"}}, "json"
            box.sent.append(message_from_bytes(base64.b64decode(body)))
            return 202, None, "none"
        return 404, {"error": {"code": "BadRequest", "message": "Resource not found"}}, "json"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer, kind = api._route(method, parts.path, query, self.headers, body)
                api.requests.append((method, self.path, status))
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", str(api.retry_after))
                data = b""
                if kind == "json":
                    data = json.dumps(answer).encode()
                    self.send_header("Content-Type", "application/json")
                elif kind == "mime":
                    data = answer
                    self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        return Handler

    def __enter__(self) -> GraphApi:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def start(self) -> GraphApi:
        """Serve (again, on the same port after :meth:`stop`: an outage and its end)."""
        return self.__enter__()

    def stop(self) -> None:
        self.__exit__()
