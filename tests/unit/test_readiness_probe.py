"""A fixed host's readiness probe (targets/host.answers) against real local sockets: plain HTTP, TLS with a
certificate nobody vouches for, a silent server, and a port proxy that accepts and closes."""
from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Callable

from remote_training.jobs.catalog import Readiness
from remote_training.targets.host import answers
from rt_sandbox.serverless_io import ensure_tls

HTTPS_PAGE, HTTP_MODELS = Readiness("https", "/", page=True), Readiness("http", "/api/v1/models")


def serve_once(handle: Callable[[socket.socket], None], context: ssl.SSLContext | None = None) -> int:
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        conn, _ = listener.accept()
        listener.close()
        try:
            if context is not None:
                conn = context.wrap_socket(conn, server_side=True)
            handle(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def reply_to(seen: list[bytes]) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        seen.append(conn.recv(4096))
        conn.sendall(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    return handle


def test_https_asks_its_path_after_a_handshake_with_a_self_signed_cert(tmp_path: Path) -> None:
    _, cert, key = ensure_tls(tmp_path)  # signed by a CA this probe does not know, as the viewer's own is
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen: list[bytes] = []
    assert answers("127.0.0.1", serve_once(reply_to(seen), context), HTTPS_PAGE)
    assert seen[0].startswith(b"GET / HTTP/1.0\r\n")


def test_http_keeps_any_reply_or_silence_and_refuses_a_proxy_that_closes() -> None:
    seen: list[bytes] = []
    assert answers("127.0.0.1", serve_once(reply_to(seen)), HTTP_MODELS)  # a 404 is still the server itself
    assert seen[0].startswith(b"GET /api/v1/models HTTP/1.0\r\n")
    assert answers("127.0.0.1", serve_once(lambda conn: conn.recv(4096) and time.sleep(3)),
                   HTTP_MODELS)  # ZeroMQ: open and silent
    assert not answers("127.0.0.1", serve_once(lambda conn: None), HTTP_MODELS)  # accepted, closed, no byte
    assert not answers("127.0.0.1", serve_once(lambda conn: None), HTTPS_PAGE)
    plain: list[bytes] = []
    assert not answers("127.0.0.1", serve_once(reply_to(plain)), HTTPS_PAGE)  # plain HTTP is no TLS server
