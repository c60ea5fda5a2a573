"""The five S3 calls a launch makes, signed with SigV4 over http.client: no botocore on the launch path.

Importing botocore and building its S3 client costs about 0.17 s of CPU per launch, for four small
requests. This client speaks the same requests botocore sends to an explicit endpoint (path-style
URLs, `encoding-type=url` listings decoded back, SigV4 with the payload's SHA-256) and answers with
the same dict shapes, so storage.py's functions take either. Its errors carry botocore's
`response["Error"]["Code"]` (a HEAD's is its status, as botocore's), so one translation serves both.

It is used only when the answer is simple: an explicit endpoint reached without a proxy, and static
keys where botocore's credential chain would find them first (the environment, else the profile's
keys in the shared credentials file or the config file). A profile that assumes a role, uses SSO, a web identity or a
credential process, or sets S3 options, gets botocore itself (`static_keys` returns None): the AWS
credential chain stays honoured as it is.
"""
from __future__ import annotations

import configparser
import datetime
import hashlib
import hmac
import http.client
import io
import os
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Any, Mapping
from xml.etree import ElementTree

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 20.0  # the same bounds as storage.client's botocore config
# Profile keys that send botocore's chain past static keys, or change how S3 is spoken to.
DELEGATED = ("role_arn", "web_identity_token_file", "sso_start_url", "sso_session", "sso_account_id", "s3",
             "credential_source")
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class S3Error(Exception):
    """An S3 error answer; `response` has botocore's ClientError shape."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}


class S3Unreachable(Exception):
    """No answer from the endpoint (refused, timed out, reset)."""


@dataclass(frozen=True)
class Keys:
    access_key: str
    secret_key: str
    token: str | None = None


def _section(path: str, name: str) -> Mapping[str, str]:
    parser = configparser.RawConfigParser()
    try:
        parser.read(os.path.expanduser(path))
    except configparser.Error:
        return {"s3": "unreadable"}  # let botocore say what is wrong with the file
    return dict(parser[name]) if parser.has_section(name) else {}


def profile_settings(environ: Mapping[str, str] = os.environ) -> tuple[Mapping[str, str], Mapping[str, str]]:
    """(config file section, credentials file section) of the profile botocore would use."""
    profile = environ.get("AWS_DEFAULT_PROFILE") or environ.get("AWS_PROFILE") or "default"
    config = _section(environ.get("AWS_CONFIG_FILE") or "~/.aws/config",
                      "default" if profile == "default" else f"profile {profile}")
    creds = _section(environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials", profile)
    return config, creds


def static_keys(environ: Mapping[str, str] = os.environ, settings: Any = None) -> Keys | None:
    """The static keys botocore's credential chain would pick first, or None when it would do more.
    `settings`: profile_settings(environ) when the caller has read them already."""
    access, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if access and secret:
        return Keys(access, secret, environ.get("AWS_SESSION_TOKEN") or None)
    if access or secret or environ.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return None  # half a pair (botocore reports it) or a web identity
    config, creds = settings or profile_settings(environ)
    if any(key in config or key in creds for key in DELEGATED):
        return None
    for section in (creds, {} if "credential_process" in config else config):
        if section.get("aws_access_key_id") and section.get("aws_secret_access_key"):
            return Keys(section["aws_access_key_id"], section["aws_secret_access_key"],
                        section.get("aws_session_token") or None)
    return None


def region(environ: Mapping[str, str] = os.environ, settings: Any = None) -> str:
    """botocore's: AWS_DEFAULT_REGION, else the profile's region; us-east-1 for an endpoint without one."""
    config = (settings or profile_settings(environ))[0]
    return environ.get("AWS_DEFAULT_REGION") or config.get("region") or "us-east-1"


def for_endpoint(endpoint: str | None, environ: Mapping[str, str] = os.environ,
                 timeout: float | None = None) -> "S3Lite | None":
    """This client for `endpoint` when the answer is simple (see the module's docstring), else None.
    `timeout`: connect and read bounds in s (default CONNECT_TIMEOUT_S, READ_TIMEOUT_S)."""
    parsed = urllib.parse.urlsplit(endpoint or "")
    if endpoint is None or parsed.scheme not in ("http", "https") or not parsed.hostname or parsed.path.strip("/"):
        return None
    if _proxied(endpoint):
        return None  # botocore goes through the proxy the environment names; this client does not
    settings = profile_settings(environ)  # the two AWS files, read once for keys, region and CA bundle
    keys = static_keys(environ, settings)
    if keys is None:
        return None
    ca = environ.get("AWS_CA_BUNDLE") or settings[0].get("ca_bundle")
    return S3Lite(endpoint, keys, region(environ, settings), ca_bundle=ca, timeout=timeout)


def _proxied(endpoint: str) -> bool:
    """Would botocore send this endpoint's requests through a proxy? It asks urllib, as this does:
    HTTP(S)_PROXY from the environment, less what NO_PROXY bypasses."""
    import urllib.request

    parsed = urllib.parse.urlsplit(endpoint)
    try:
        if urllib.request.proxy_bypass(parsed.netloc):
            return False
    except (TypeError, OSError):
        pass
    return parsed.scheme in urllib.request.getproxies()


def sign(method: str, url: str, headers: dict[str, str], payload_sha256: str, keys: Keys, region_name: str,
         when: datetime.datetime) -> str:
    """SigV4's Authorization header for S3 over every header given (names lower-case), as botocore signs."""
    parts = urllib.parse.urlsplit(url)
    pairs = sorted(pair.partition("=")[::2] for pair in parts.query.split("&")) if parts.query else []
    canonical_query = "&".join(f"{k}={v}" for k, v in pairs)  # already encoded in the URL, as botocore reads it
    names = sorted(headers)
    canonical_headers = "".join(f"{n}:{' '.join(str(headers[n]).split())}\n" for n in names)
    signed = ";".join(names)
    request = "\n".join([method, parts.path or "/", canonical_query, canonical_headers, signed, payload_sha256])
    stamp, day = when.strftime("%Y%m%dT%H%M%SZ"), when.strftime("%Y%m%d")
    scope = f"{day}/{region_name}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()])
    key = f"AWS4{keys.secret_key}".encode()
    for part in (day, region_name, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={keys.access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"


def _quote(text: str) -> str:
    return urllib.parse.quote(text, safe="-_.~")


class S3Lite:
    """One endpoint, one kept-alive connection (calls are serialised), the calls storage.py makes."""

    def __init__(self, endpoint: str, keys: Keys, region_name: str, *, ca_bundle: str | None = None,
                 timeout: float | None = None) -> None:
        parsed = urllib.parse.urlsplit(endpoint)
        if not parsed.hostname:
            raise ValueError(f"S3 endpoint {endpoint!r} names no host")  # for_endpoint never passes one
        self.endpoint = f"{parsed.scheme}://{parsed.netloc}"
        self.keys, self.region = keys, region_name
        self._https, self._host, self._port = parsed.scheme == "https", parsed.hostname, parsed.port
        default_port = 443 if parsed.scheme == "https" else 80
        # The Host header as botocore signs it: a default port left out.
        self._netloc = parsed.netloc[:parsed.netloc.rfind(":")] if parsed.port == default_port else parsed.netloc
        self._ca = ca_bundle
        self._timeouts = (timeout, timeout) if timeout else (CONNECT_TIMEOUT_S, READ_TIMEOUT_S)
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self.clock = lambda: datetime.datetime.now(datetime.timezone.utc)

    # -- the calls, botocore's names and answers --------------------------------------
    def list_objects_v2(self, *, Bucket: str, Prefix: str = "", MaxKeys: int | None = None,
                        Delimiter: str | None = None, ContinuationToken: str | None = None) -> dict[str, Any]:
        query = [("list-type", "2"), ("prefix", Prefix)] + ([("max-keys", str(MaxKeys))] if MaxKeys else []) + \
            ([("delimiter", Delimiter)] if Delimiter else []) + [("encoding-type", "url")] + \
            ([("continuation-token", ContinuationToken)] if ContinuationToken else [])
        _, _, body = self.request("GET", Bucket, "", query=query)
        return _listing(body)

    def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        _, headers, _ = self.request("HEAD", Bucket, Key)
        return {"ETag": headers.get("etag"), "ContentLength": int(headers.get("content-length") or 0)}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        _, headers, body = self.request("GET", Bucket, Key)
        return {"Body": io.BytesIO(body), "ETag": headers.get("etag"), "ContentLength": len(body)}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str | None = None,
                   IfMatch: str | None = None, IfNoneMatch: str | None = None) -> dict[str, Any]:
        extra = {"content-type": ContentType, "if-match": IfMatch, "if-none-match": IfNoneMatch}
        _, headers, _ = self.request("PUT", Bucket, Key, body=Body, headers=extra)
        return {"ETag": headers.get("etag")}

    def delete_object(self, *, Bucket: str, Key: str, IfMatch: str | None = None) -> dict[str, Any]:
        self.request("DELETE", Bucket, Key, headers={"if-match": IfMatch})
        return {}

    # -- one signed request -------------------------------------------------------------
    def url(self, bucket: str, key: str, query: list[tuple[str, str]] | None = None) -> str:
        path = "/" + urllib.parse.quote(bucket, safe="") + ("/" + urllib.parse.quote(key, safe="/~") if key else "")
        return self.endpoint + path + ("?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in query) if query else "")

    def signed_headers(self, method: str, url: str, body: bytes = b"",
                       headers: Mapping[str, str | None] | None = None) -> dict[str, str]:
        """Every header the request carries, Authorization last (the names botocore sends, lower-case)."""
        payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        when = self.clock()
        out = {k: v for k, v in (headers or {}).items() if v is not None}
        out.update({"host": self._netloc, "x-amz-date": when.strftime("%Y%m%dT%H%M%SZ"),
                    "x-amz-content-sha256": payload})
        if self.keys.token:
            out["x-amz-security-token"] = self.keys.token
        out["authorization"] = sign(method, url, out, payload, self.keys, self.region, when)
        return out

    def request(self, method: str, bucket: str, key: str, *, query: list[tuple[str, str]] | None = None,
                body: bytes = b"", headers: Mapping[str, str | None] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
        url = self.url(bucket, key, query)
        target = url[len(self.endpoint):]
        with self._lock:
            for attempt in (1, 2):  # botocore's standard mode: two attempts in all
                sent = self.signed_headers(method, url, body, headers)
                try:
                    conn = self._connection()
                    conn.request(method, target, body=body or None, headers=sent)
                    answer = conn.getresponse()
                    data = answer.read()
                except (OSError, http.client.HTTPException) as exc:
                    self.close()
                    if attempt == 2:
                        raise S3Unreachable(f"{self.endpoint}: {exc}") from None
                    continue
                status, got = answer.status, {k.lower(): v for k, v in answer.getheaders()}
                if status >= 500 and attempt == 1:
                    continue
                if status >= 300:
                    raise _error(status, data)
                return status, got, data
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                import ssl

                context = ssl.create_default_context(cafile=self._ca or _default_ca())
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeouts[0], context=context)
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeouts[0])
            conn.connect()
            conn.sock.settimeout(self._timeouts[1])
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _default_ca() -> str | None:
    """botocore's default bundle: certifi's when it is installed, else the system's."""
    try:
        import certifi

        return certifi.where()
    except ImportError:
        return None


def _error(status: int, body: bytes) -> S3Error:
    code, message = str(status), ""  # a HEAD has no body: botocore's code is then the status
    if body:
        try:
            root = ElementTree.fromstring(body)
            code = root.findtext("Code") or code
            message = root.findtext("Message") or ""
        except ElementTree.ParseError:
            message = body[:200].decode(errors="replace")
    return S3Error(status, code, message)


def _listing(body: bytes) -> dict[str, Any]:
    """ListBucketResult as botocore returns it (keys and prefixes URL-decoded)."""
    root = ElementTree.fromstring(body)
    ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    decode = urllib.parse.unquote_plus if root.findtext(f"{ns}EncodingType") == "url" else (lambda s: s)
    out: dict[str, Any] = {"IsTruncated": (root.findtext(f"{ns}IsTruncated") or "").lower() == "true",
                           "KeyCount": int(root.findtext(f"{ns}KeyCount") or 0)}
    contents = [{"Key": decode(item.findtext(f"{ns}Key") or ""), "ETag": item.findtext(f"{ns}ETag"),
                 "Size": int(item.findtext(f"{ns}Size") or 0)} for item in root.findall(f"{ns}Contents")]
    prefixes = [{"Prefix": decode(item.findtext(f"{ns}Prefix") or "")} for item in root.findall(f"{ns}CommonPrefixes")]
    if contents:
        out["Contents"] = contents
    if prefixes:
        out["CommonPrefixes"] = prefixes
    token = root.findtext(f"{ns}NextContinuationToken")
    if token:
        out["NextContinuationToken"] = token
    return out
