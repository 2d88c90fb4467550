"""A pass-through IMAP proxy that ends a session when its OAuth2 token expires, as Exchange does.

Exchange Online checks the token for the whole session and ends it with ``* BYE Session
invalidated - AccessTokenExpired`` when the token runs out; Dovecot checks it only at login.
This proxy sits between the watcher and Dovecot, reads the XOAUTH2 initial response the client
sends, asks the token authority when that token expires, and at that moment writes Exchange's
BYE to the client and closes both sides. Everything else passes through unchanged.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tests.support.slack_api import free_port
from tests.support.token_authority import TokenAuthority, xoauth2_token

BYE = b"* BYE Session invalidated - AccessTokenExpired\r\n"


class ExpiringImapProxy:
    def __init__(self, upstream_port: int, authority: TokenAuthority) -> None:
        self.upstream_port = upstream_port
        self.authority = authority
        self.port = free_port()
        self.sessions = 0  # sessions that logged in with a token
        self.cut = 0  # sessions ended with the BYE
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> ExpiringImapProxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, server]
            lock = threading.Lock()
            threading.Thread(target=self._upstream, args=(client, server, lock), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, lock), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, lock: threading.Lock) -> None:
        """Server to client, whole chunks under the lock so the BYE never lands inside one."""
        try:
            while data := source.recv(65536):
                with lock:
                    target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _upstream(self, client: socket.socket, server: socket.socket, lock: threading.Lock) -> None:
        """Client to server, watching for the XOAUTH2 initial response (a line of base64)."""
        pending = b""
        watching = True
        try:
            while data := client.recv(65536):
                server.sendall(data)
                if not watching:
                    continue
                pending += data
                *lines, pending = pending.split(b"\r\n")
                for line in lines:
                    found = xoauth2_token(line.strip()) if line and b" " not in line.strip() else None
                    if found is None:
                        continue
                    expires = self.authority.expires_at(found[1])
                    if expires is not None:
                        watching = False
                        self.sessions += 1
                        threading.Thread(target=self._expire, args=(client, server, lock, expires),
                                         daemon=True).start()
        except OSError:
            pass

    def _expire(self, client: socket.socket, server: socket.socket, lock: threading.Lock, at: float) -> None:
        while not self._stop.is_set():
            left = at - time.time()
            if left <= 0:
                break
            self._stop.wait(min(left, 0.1))
        with lock:
            with contextlib.suppress(OSError):
                client.sendall(BYE)
                self.cut += 1
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
