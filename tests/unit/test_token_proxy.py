"""The Nebius stand-in's token proxy (rt_sandbox/serverless_io.EndpointProxy) in front of a real local HTTP/1.1
server that keeps connections alive: every request meets the bearer check, not only a connection's first."""
from __future__ import annotations

import http.client
import http.server
import ssl
from pathlib import Path

from rt_sandbox.serverless_io import EndpointProxy, Route, ensure_tls, serve_in_background


class KeepAlive(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        if self.close_connection:  # as uvicorn (h11) answers a request that asked for `Connection: close`
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


def test_every_request_needs_the_token_even_on_a_kept_connection(tmp_path: Path) -> None:
    ca, cert, key = ensure_tls(tmp_path)
    upstream, port = serve_in_background(http.server.ThreadingHTTPServer, 0, KeepAlive)
    proxy = EndpointProxy(0, cert, key, lambda: Route(True, port, "s3cret"))
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", proxy.port, timeout=5,
                                           context=ssl.create_default_context(cafile=str(ca)))
        conn.request("GET", "/", headers={"Authorization": "Bearer s3cret"})
        first = conn.getresponse()
        assert (first.status, first.read(), first.getheader("Connection")) == (200, b"ok", "close")
        conn.request("GET", "/")  # http.client reconnects after `close`: the proxy checks this one too
        second = conn.getresponse()
        assert second.status == 401 and second.getheader("WWW-Authenticate") == 'Bearer realm="endpoint"'
        conn.close()
    finally:
        proxy.close()
        upstream.shutdown()
        upstream.server_close()
