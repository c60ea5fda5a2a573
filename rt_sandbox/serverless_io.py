"""The Nebius Serverless stand-in's edges: MysteryBox store, TLS, endpoint proxy, Loki log API.

The state machine and the gRPC services are in rt_sandbox/nebius_serverless.py (its docstring
documents the whole stand-in); this module holds what talks HTTP or touches files:

- MysteryBox: `<state-dir>/mysterybox.json` {"secrets": [{"id", "name", "parent_id", "payload"}]};
  `seed_secret(...)` adds or updates one (same id for the same parent and name).
- TLS: a self-signed CA and a server certificate for 127.0.0.1/localhost, made once in `<state-dir>/tls/`.
- EndpointProxy: TLS on 127.0.0.1:<its port>, raw bytes both ways to the container's published port.
- LokiServer: Loki's push and `query_range` API; the containers' output is pushed to it.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets as pysecrets
import select
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlparse

# The stand-in's `__bucket__` and id labels: Nebius's docs name no bucket nor labels for Serverless, so
# these are assumed (README, Serverless); the project's target has them as settings with the same defaults.
LOG_BUCKET = "sp_serverless"
LOG_ID_LABEL = {"job": "job_id", "endpoint": "endpoint_id"}
SANDBOX_LOGS_PORT = 9557
SANDBOX_PARENT = "project-sandbox"

# -- MysteryBox --------------------------------------------------------------------------------


def _mysterybox_file(state_dir: Path) -> Path:
    return Path(state_dir) / "mysterybox.json"


def load_secrets(state_dir: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads(_mysterybox_file(state_dir).read_text()).get("secrets", []))
    except (FileNotFoundError, ValueError):
        return []


def version_id(secret_id: str) -> str:
    """Each stand-in secret has one version; its id is derived from the secret's."""
    return secret_id.replace("mbsec-", "mbsecver-", 1)


def seed_secret(state_dir: Path, parent_id: str, name: str, payload: dict[str, str]) -> str:
    """Add (or replace the payload of) the secret `name` in `parent_id`; returns its id."""
    path = _mysterybox_file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    items = load_secrets(state_dir)
    found = next((s for s in items if s["parent_id"] == parent_id and s["name"] == name), None)
    if found is None:
        found = {"id": f"mbsec-{pysecrets.token_hex(8)}", "name": name, "parent_id": parent_id}
        items.append(found)
    found["payload"] = {str(k): str(v) for k, v in payload.items()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"secrets": items}, indent=2))
    os.chmod(tmp, 0o600)  # it holds secret values
    tmp.replace(path)
    return found["id"]


def find_secret(state_dir: Path, secret_id: str = "", *, parent_id: str = "", name: str = "") -> dict | None:
    for s in load_secrets(state_dir):
        if (secret_id and s["id"] == secret_id) or (not secret_id and s["parent_id"] == parent_id
                                                   and s["name"] == name):
            return s
    return None


def secret_value(state_dir: Path, secret_id: str, ver: str, key: str) -> str:
    """The payload entry whose key is `key`, else the first one (the SDK's rule for env vars)."""
    s = find_secret(state_dir, secret_id)
    if s is None or (ver and ver != version_id(s["id"])):
        raise KeyError(f"mysterybox secret {secret_id} (version {ver or 'primary'}) not found")
    payload = s.get("payload") or {}
    if key in payload:
        return payload[key]
    if not payload:
        raise KeyError(f"mysterybox secret {secret_id} has an empty payload")
    return next(iter(payload.values()))


# -- TLS ---------------------------------------------------------------------------------------


def ensure_tls(state_dir: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key) under <state-dir>/tls/, made once and reused."""
    folder = Path(state_dir) / "tls"
    ca_pem, cert_pem, key_pem = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    if ca_pem.exists() and cert_pem.exists() and key_pem.exists():
        return ca_pem, cert_pem, key_pem
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rt-sandbox serverless CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    # Strict verifiers (Python 3.13's default) want key usage, SKI/AKI and a SAN on the leaf.
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                         content_commitment=False, data_encipherment=False, key_agreement=True,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(key_pem, 0o600)
    cert_pem.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    ca_pem.write_bytes(ca.public_bytes(pem))  # written last: its presence means the set is complete
    return ca_pem, cert_pem, key_pem


# -- endpoint proxy ------------------------------------------------------------------------------


@dataclass
class Route:
    """What the proxy needs to know about its endpoint, asked on every connection."""
    running: bool
    upstream_port: int | None
    token: str | None  # set: the proxy itself demands `Authorization: Bearer <token>`


def _reply(conn: Any, code: int, reason: str, body: str) -> None:
    data = body.encode()
    head = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n")
    if code == 401:
        head += 'WWW-Authenticate: Bearer realm="endpoint"\r\n'
    try:
        conn.sendall(head.encode() + b"\r\n" + data)
    except OSError:
        pass


def _bearer(head: bytes) -> str | None:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                return token.strip().decode(errors="replace")
    return None


def _upgrade(head: bytes) -> bool:
    return any(line.partition(b":")[0].strip().lower() == b"upgrade" for line in head.split(b"\r\n\r\n")[0]
               .split(b"\r\n")[1:])


def _closing(head: bytes) -> bytes:
    """The request head with `Connection: close` (the server answers it and hangs up); any body bytes kept."""
    top, sep, body = head.partition(b"\r\n\r\n")
    lines = [line for line in top.split(b"\r\n") if line.partition(b":")[0].strip().lower() != b"connection"]
    return b"\r\n".join([*lines, b"Connection: close"]) + sep + body


def serve_in_background(base: type, port: int, handler: type) -> tuple[Any, int]:
    """A threading server of `base` on 127.0.0.1:`port` (0: any), serving from a daemon thread; (server, port)."""

    class Server(base):  # type: ignore[misc, valid-type]
        allow_reuse_address = True  # the same port again after a restart of the stand-in
        daemon_threads = True

    server = Server(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    return server, server.server_address[1]


class EndpointProxy:
    """TLS on 127.0.0.1:<port> in front of one endpoint. With a token (Nebius's token proxy) a request without
    `Authorization: Bearer <token>` gets 401; a checked request is forwarded with `Connection: close`, so the next
    one comes on a new connection and is checked too; a WebSocket upgrade is checked once, then piped."""

    IDLE = 120.0  # seconds a connection may sit silent both ways (the real ingress closes idle sockets too)

    def __init__(self, port: int, cert: Path, key: Path, route: Callable[[], Route]) -> None:
        self.route = route
        self.ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ctx.load_cert_chain(str(cert), str(key))
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._serve(self.request)

        self.server, self.port = serve_in_background(socketserver.ThreadingTCPServer, port, Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            route = self.route()
            if not route.running:
                return _reply(conn, 503, "Service Unavailable", "endpoint is not running\n")
            if route.token is not None and _bearer(head) != route.token:
                return _reply(conn, 401, "Unauthorized", "missing or wrong bearer token\n")
            if route.token is not None and not _upgrade(head):
                head = _closing(head)  # one request a connection, so every request meets the token check
            try:
                upstream = socket.create_connection(("127.0.0.1", route.upstream_port or 0), timeout=3)
            except OSError:
                return _reply(conn, 502, "Bad Gateway", "the endpoint's server is not listening yet\n")
            with upstream:
                upstream.sendall(head)
                if self._pipe(conn, upstream):
                    # docker's port publisher accepts, then hangs up while nothing listens inside
                    conn.setblocking(True)
                    conn.settimeout(10)
                    _reply(conn, 502, "Bad Gateway", "the endpoint's server is not listening yet\n")
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _pipe(self, client: Any, upstream: socket.socket) -> bool:
        """Bytes both ways until one side closes; True when the upstream hung up without a word."""
        client.setblocking(False)
        upstream.setblocking(False)
        answered = False
        while True:
            ready = [client] if client.pending() else select.select([client, upstream], [], [], self.IDLE)[0]
            if not ready:
                return False
            for src, dst in ((client, upstream), (upstream, client)):
                if src not in ready:
                    continue
                try:
                    data = src.recv(65536)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    return src is upstream and not answered
                answered = answered or src is upstream
                dst.setblocking(True)
                dst.settimeout(30)
                dst.sendall(data)
                dst.setblocking(False)


# -- logs: Loki's push and query API ------------------------------------------------------------
# Loki's HTTP API (https://grafana.com/docs/loki/latest/reference/loki-http-api/):
#   POST /loki/api/v1/push, Content-Type: application/json, {"streams": [{"stream": {labels},
#     "values": [["<ns>", "<line>"], ...]}]} -> 204 No Content; 400 with a plain-text reason.
#   GET /loki/api/v1/query_range: query, start (default one hour ago, entries >= start), end (default
#     now, entries < end), limit (default 100), direction (forward | backward, default backward).
#     A limit over `limits_config.max_entries_limit_per_query` (default 5000) is a 400 with Loki's own
#     message; entries with the same stream, timestamp and line are one entry (Loki de-duplicates
#     them on read, which is also why logcli de-duplicates at its page boundaries).
# A real Grafana Loki cannot be installed here: Debian's `loki` package is a genetics program (MCMC
# linkage analysis) and Grafana Loki's code is AGPL, which this project does not take in. So this is
# the stand-in of Nebius Observability's Loki-compatible logs API, holding only what that page says.
MAX_ENTRIES_PER_QUERY = 5000


def logs_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "loki"


def _stream_files(state_dir: Path, labels: dict[str, str]) -> tuple[Path, Path]:
    import hashlib

    key = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:24]
    folder = logs_dir(state_dir)
    return folder / f"{key}.labels.json", folder / f"{key}.jsonl"


def parse_push(body: bytes) -> list[tuple[dict[str, str], list[tuple[int, str]]]]:
    """A push request's streams as (labels, [(ns, line)]); a malformed one -> ValueError (Loki's 400)."""
    data = json.loads(body)
    streams = data.get("streams") if isinstance(data, dict) else None
    if not isinstance(streams, list):
        raise ValueError("error parsing push request: no streams")
    out = []
    for stream in streams:
        labels, values = stream.get("stream"), stream.get("values")
        if not isinstance(labels, dict) or not labels or not all(
                isinstance(k, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) and isinstance(v, str)
                for k, v in labels.items()):
            raise ValueError(f"error parsing labels {labels!r}")
        entries = []
        for value in values or []:
            if not (isinstance(value, list) and len(value) >= 2 and isinstance(value[0], str)
                    and value[0].isdigit() and isinstance(value[1], str)):
                raise ValueError(f"bad entry {value!r}: want [\"<unix ns>\", \"<line>\"]")
            entries.append((int(value[0]), value[1]))
        out.append((dict(labels), entries))
    return out


_STORE_LOCK = threading.Lock()


def store(state_dir: Path, streams: list[tuple[dict[str, str], list[tuple[int, str]]]]) -> None:
    """Append pushed entries to their streams' files (one pair of files per label set)."""
    with _STORE_LOCK:
        for labels, entries in streams:
            labels_file, data = _stream_files(state_dir, labels)
            labels_file.parent.mkdir(parents=True, exist_ok=True)
            if not labels_file.exists():
                labels_file.write_text(json.dumps(labels))
            with data.open("a") as out:
                out.writelines(json.dumps([ns, line]) + "\n" for ns, line in entries)


def push(url: str, labels: dict[str, str], entries: list[tuple[int, str]], timeout: float = 10.0) -> None:
    """POST entries to a Loki push API (what a log shipper does); OSError when it is not taken."""
    import urllib.request

    body = json.dumps({"streams": [{"stream": labels, "values": [[str(ns), line] for ns, line in entries]}]})
    request = urllib.request.Request(f"{url}/loki/api/v1/push", data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        answer.read()


def _streams(state_dir: Path) -> Iterator[tuple[dict[str, str], Path]]:
    for labels_file in sorted(logs_dir(state_dir).glob("*.labels.json")):
        try:
            labels = json.loads(labels_file.read_text())
        except ValueError:
            continue
        yield labels, labels_file.with_name(labels_file.name.replace(".labels.json", ".jsonl"))


_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_selector(query: str) -> dict[str, str]:
    """`{a="b", c="d"}` -> {"a": "b", "c": "d"}; anything else (pipelines, !=, =~) -> ValueError."""
    text = query.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"parse error: the stand-in accepts only a stream selector {{label=\"value\", ...}}, "
                         f"got {query!r}")
    body, pos, found = text[1:-1].strip(), 0, {}
    while pos < len(body):
        m = _MATCHER.match(body, pos)
        if not m:
            raise ValueError(f"parse error at col {pos + 2}: only label=\"value\" matchers are supported")
        found[m.group(1)] = json.loads(f'"{m.group(2)}"')
        pos = m.end()
    if not found:
        raise ValueError("parse error: queries require at least one regexp or equality matcher")
    return found


def parse_time(value: str | None, default: int) -> int:
    """Loki's forms: integer (ns, or s when <= 10 digits), float seconds, RFC3339."""
    if not value:
        return default
    if re.fullmatch(r"\d+", value):
        return int(value) * (10 ** 9 if len(value) <= 10 else 1)
    if re.fullmatch(r"\d+\.\d*", value):
        return int(float(value) * 1e9)
    stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(stamp.timestamp()) * 10 ** 9 + stamp.microsecond * 1000


def query_range(state_dir: Path, params: dict[str, str]) -> dict[str, Any]:
    matchers = parse_selector(params.get("query", ""))
    now = time.time_ns()
    end = parse_time(params.get("end"), now)
    start = parse_time(params.get("start"), end - 3600 * 10 ** 9)
    limit = int(params.get("limit") or 100)
    if limit > MAX_ENTRIES_PER_QUERY:
        raise ValueError(f"max entries limit per query exceeded, limit > max_entries_limit "
                         f"({limit} > {MAX_ENTRIES_PER_QUERY})")
    forward = (params.get("direction") or "backward").lower() == "forward"
    picked: list[tuple[int, int, str, int]] = []  # (ns, arrival, line, stream index)
    streams: list[dict[str, str]] = []
    if "__bucket__" in matchers:  # Nebius: a query without __bucket__ returns no entries
        for labels, data in _streams(state_dir):
            if any(labels.get(k) != v for k, v in matchers.items()) or not data.exists():
                continue
            streams.append(labels)
            seen: set[tuple[int, str]] = set()
            with data.open() as lines:
                for arrival, raw in enumerate(lines):
                    try:
                        ns, line = json.loads(raw)
                    except ValueError:
                        continue  # a line cut short by a crash while it was written
                    if start <= ns < end and (ns, line) not in seen:
                        seen.add((ns, line))
                        picked.append((ns, arrival, line, len(streams) - 1))
    picked.sort(key=lambda e: (e[0], e[1]), reverse=not forward)
    picked = picked[:max(limit, 0)]
    grouped: dict[int, list[list[str]]] = {}
    for ns, _, line, index in picked:
        grouped.setdefault(index, []).append([str(ns), line])
    result = [{"stream": streams[i], "values": values} for i, values in grouped.items()]
    return {"status": "success", "data": {"resultType": "streams", "result": result,
                                          "stats": {"summary": {"totalEntriesReturned": len(picked)}}}}


class LokiServer:
    """Loki's push and query_range API over <state-dir>/loki/ (loopback only)."""

    def __init__(self, state_dir: Path, port: int = 0) -> None:
        folder = Path(state_dir)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet: the stand-in's log stays readable
                pass

            def _send(self, code: int, body: dict[str, Any] | None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(code)
                if body is not None:
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                if urlparse(self.path).path != "/loki/api/v1/push":
                    return self._send(404, {"code": 404, "status": "error", "message": "not found"})
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    store(folder, parse_push(body))
                except ValueError as exc:
                    return self._send(400, {"code": 400, "status": "error", "message": str(exc)})
                self._send(204, None)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/ready":
                    return self._send(200, {"status": "ready"})
                auth = self.headers.get("Authorization", "")
                if not (auth.startswith("Bearer ") and auth[7:].strip()):
                    return self._send(401, {"code": 401, "status": "error", "message": "unauthorized"})
                if url.path != "/loki/api/v1/query_range":
                    return self._send(404, {"code": 404, "status": "error", "message": "not found"})
                params = {k: v[-1] for k, v in parse_qs(url.query).items()}
                try:
                    body = query_range(folder, params)
                except ValueError as exc:
                    return self._send(400, {"code": 400, "status": "error", "message": str(exc)})
                self._send(200, body)

        self.server, self.port = serve_in_background(ThreadingHTTPServer, port, Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- the sandbox's serverless target --------------------------------------------------------------

SECRET_NAMES = {
    "AWS_ACCESS_KEY_ID": "positronic-serverless-aws-access-key-id",
    "AWS_SECRET_ACCESS_KEY": "positronic-serverless-aws-secret-access-key",
    "WANDB_API_KEY": "positronic-serverless-wandb-api-key",
}
AUTH_TOKEN_SECRET = "positronic-serverless-inference-token"
REGISTRY_SECRET = "rt-sandbox-registry-creds"  # the team's private registry (the sandbox's) for Nebius to pull
S3_CREDS_SECRET = "positronic-serverless-s3-creds"


def sandbox_state_dir(root: Path) -> Path:
    return Path(root).resolve() / ".sandbox" / "nebius"  # the API stand-in's own state dir (one process)


def sandbox_serverless_settings(root: Path) -> dict[str, Any]:
    """Seed the sandbox's MysteryBox and return what a hosts.yaml serverless target needs.

    The S3 keys are the sandbox's (moto accepts any; rt_sandbox/services.ensure_s3 uses "sandbox").
    The inference token is random once and kept: a running endpoint keeps the token it read at start.
    """
    state_dir = sandbox_state_dir(root)
    state_dir.mkdir(parents=True, exist_ok=True)
    s3 = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox"}
    for var, value in s3.items():
        seed_secret(state_dir, SANDBOX_PARENT, SECRET_NAMES[var], {var: value})
    seed_secret(state_dir, SANDBOX_PARENT, S3_CREDS_SECRET,
                {"S3_ACCESS_KEY_ID": s3["AWS_ACCESS_KEY_ID"], "S3_SECRET_ACCESS_KEY": s3["AWS_SECRET_ACCESS_KEY"]})
    wandb = find_secret(state_dir, parent_id=SANDBOX_PARENT, name=SECRET_NAMES["WANDB_API_KEY"])
    if wandb is None:
        seed_secret(state_dir, SANDBOX_PARENT, SECRET_NAMES["WANDB_API_KEY"],
                    {"WANDB_API_KEY": f"sandbox-wandb-{pysecrets.token_hex(8)}"})
    if find_secret(state_dir, parent_id=SANDBOX_PARENT, name=AUTH_TOKEN_SECRET) is None:
        seed_secret(state_dir, SANDBOX_PARENT, AUTH_TOKEN_SECRET, {"AUTH_TOKEN": pysecrets.token_hex(16)})
    registry = find_secret(state_dir, parent_id=SANDBOX_PARENT, name=REGISTRY_SECRET)
    if registry is None:
        seed_secret(state_dir, SANDBOX_PARENT, REGISTRY_SECRET,
                    {"REGISTRY_USERNAME": "sandbox", "REGISTRY_PASSWORD": pysecrets.token_hex(16)})
        registry = find_secret(state_dir, parent_id=SANDBOX_PARENT, name=REGISTRY_SECRET)
    login = {"username": registry["payload"]["REGISTRY_USERNAME"], "password": registry["payload"]["REGISTRY_PASSWORD"]}
    auth_file = state_dir / "registry_auth.json"
    from .layout import BRIDGE_ADDR, REGISTRY, REGISTRY_PORT

    hosts = (REGISTRY, f"127.0.0.1:{REGISTRY_PORT}", f"{BRIDGE_ADDR}:{REGISTRY_PORT}")
    auth_file.write_text(json.dumps({host: login for host in hosts}))
    os.chmod(auth_file, 0o600)
    ca_pem, _, _ = ensure_tls(state_dir)
    return {
        "parent_id": SANDBOX_PARENT,
        "subnet_id": "vpcsubnet-sandbox",
        "cache_filesystem_id": "computefilesystem-sandbox-cache",
        "logs_url": f"http://127.0.0.1:{SANDBOX_LOGS_PORT}",
        "logs_bucket": LOG_BUCKET,
        "logs_job_label": LOG_ID_LABEL["job"],
        "logs_endpoint_label": LOG_ID_LABEL["endpoint"],
        "logs_grace_s": 2,  # the stand-in pushes what its containers wrote every 0.3 s
        "ca_file": str(ca_pem),
        "secrets": dict(SECRET_NAMES),
        "s3_volume_secret": S3_CREDS_SECRET,
        "auth_token_secret": AUTH_TOKEN_SECRET,
        "registry_credentials_secret": REGISTRY_SECRET,
    }
