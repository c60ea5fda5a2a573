"""Asking a registry whether a tag exists: one HEAD of its manifest, no engine needed.

Plain HTTP for loopback registries (Docker treats them as insecure too), HTTPS
otherwise; credentials come from the docker config that `docker login` writes,
with the bearer-token exchange that Docker Hub and most registries require.
"""
from __future__ import annotations

import base64
import json
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImageError

DEFAULT_REGISTRY = "docker.io"
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ImageRef:
    registry: str  # host[:port], docker.io for the default
    repository: str  # path inside the registry (library/ added for Hub's official images)
    tag: str

    @property
    def api_base(self) -> str:
        host = self.registry
        if host == DEFAULT_REGISTRY:
            host = "registry-1.docker.io"
        scheme = "http" if _is_loopback(host) else "https"
        return f"{scheme}://{host}"

    def __str__(self) -> str:
        return f"{self.registry}/{self.repository}:{self.tag}"


def split_ref(ref: str) -> tuple[str, str | None, str | None]:
    """`name[:tag][@digest]` as written: (name, tag, digest), None for a part not given. The one image
    reference parser: the tag starts at the first ':' after the last '/' (a registry's port comes before
    it; a compose file's `${IMAGE_TAG:-latest}` keeps its own ':')."""
    name, _, digest = ref.strip().partition("@")
    slash = name.rfind("/")
    colon = name.find(":", slash + 1)
    tag = None
    if colon >= 0:
        name, tag = name[:colon], name[colon + 1:]
    return name, tag or None, digest or None


def _locate(name: str) -> tuple[str, str]:
    """(registry, repository) of an image name, as Docker reads it: a first part with '.' or ':' (or
    localhost) is a registry host, else Docker Hub, where an official image lives under library/."""
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return DEFAULT_REGISTRY, name if "/" in name else f"library/{name}"


def parse_ref(ref: str) -> ImageRef:
    """A tag reference `[registry/]path[:tag]` (default tag latest), read as Docker does."""
    name, tag, digest = split_ref(ref)
    if digest:
        raise ImageError(f"digest references are not supported here: {ref}", fix="use a tag")
    return ImageRef(*_locate(name), tag or "latest")


def registry_host(ref: str) -> str:
    """The registry an image reference (tag or digest) is pulled from: host[:port], docker.io for Hub."""
    return _locate(split_ref(ref)[0])[0]


def _is_loopback(host: str) -> bool:
    bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return bare in ("localhost", "::1", "[::1]") or bare.startswith("127.")


def docker_credentials(registry: str) -> tuple[str, str] | None:
    """(user, password) from ~/.docker/config.json `auths`, if `docker login` stored them there."""
    config_dir = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    path = Path(config_dir) / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if config.get("credsStore") or config.get("credHelpers"):
        return _helper_credentials(registry)
    auths = config.get("auths", {})
    keys = [registry]
    if registry == DEFAULT_REGISTRY:
        keys += ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"]
    for key in list(auths):
        if urllib.parse.urlparse(key if "//" in key else f"//{key}").netloc in keys:
            keys.append(key)
    for key in keys:
        entry = auths.get(key)
        if entry and entry.get("auth"):
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            return user, password
    return None


def _helper_credentials(registry: str) -> tuple[str, str] | None:
    """Credentials kept by a docker credential helper: let the docker SDK ask it (heavy import, rare)."""
    import docker.auth

    index = "https://index.docker.io/v1/" if registry == DEFAULT_REGISTRY else registry
    found = docker.auth.load_config().resolve_authconfig(index) or {}
    user, password = found.get("Username") or found.get("username"), found.get("Password") or found.get("password")
    return (user, password) if user and password else None


def manifest_exists(ref: str) -> bool:
    """True when the tag exists; False on 404; ImageError when the registry cannot answer."""
    return manifest_digest(ref) is not None


def manifest_digest(ref: str) -> str | None:
    """The tag's manifest digest, None when the tag does not exist."""
    status, headers, _ = _manifest_call(ref, "HEAD")
    return None if status == 404 else (headers.get("Docker-Content-Digest") or "present")


def copy_tag(ref: str, new_tag: str) -> None:
    """Point `new_tag` at the manifest of `ref` inside the registry: no layers move, no engine needed."""
    status, headers, body = _manifest_call(ref, "GET")
    if status == 404:
        raise ImageError(f"{ref} vanished from the registry", fix="rerun: the plan will rebuild it")
    parsed = parse_ref(ref)
    target = f"{parsed.registry}/{parsed.repository}:{new_tag}"
    _manifest_call(target, "PUT", body, headers.get("Content-Type", MANIFEST_TYPES.split(",")[0]))


def _manifest_call(ref: str, method: str, data: bytes | None = None,
                   content_type: str | None = None) -> tuple[int, dict, bytes]:
    """One manifest request with the registry's auth dance; (status, headers, body), 404 included."""
    parsed = parse_ref(ref)
    url = f"{parsed.api_base}/v2/{parsed.repository}/manifests/{parsed.tag}"
    headers = {"Accept": MANIFEST_TYPES}
    if content_type:
        headers["Content-Type"] = content_type
    creds = docker_credentials(parsed.registry)
    # urllib.request (with http.client, email) here, not at import: ~8 ms of every command that reads the catalog
    import urllib.error
    import urllib.request

    for attempt in range(2):
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 404 and method != "PUT":
                return 404, {}, b""
            if exc.code == 401 and attempt == 0:
                headers["Authorization"] = _authorization(exc.headers.get("WWW-Authenticate", ""), creds, parsed,
                                                          "pull,push" if method == "PUT" else "pull")
                continue
            raise ImageError(f"registry {parsed.registry} answered HTTP {exc.code} to {method} {ref}",
                             fix="check `docker login` for this registry") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ImageError(f"registry {parsed.registry} is unreachable ({reason})",
                             fix="start the registry or check the images.registry setting") from None
    raise ImageError(f"registry {parsed.registry} refused the credentials for {ref}",
                     fix=f"run `docker login {parsed.registry}`")


def _authorization(challenge: str, creds: tuple[str, str] | None, ref: ImageRef, actions: str) -> str:
    scheme, _, params = challenge.partition(" ")
    if scheme.lower() == "basic":
        if not creds:
            raise ImageError(f"registry {ref.registry} needs credentials", fix=f"run `docker login {ref.registry}`")
        return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
    fields = dict(_challenge_fields(params))
    realm = fields.pop("realm", None)
    if scheme.lower() != "bearer" or not realm:
        raise ImageError(f"registry {ref.registry} asks for unsupported auth {scheme!r}",
                         fix="use a registry with basic or token auth")
    fields.setdefault("scope", f"repository:{ref.repository}:{actions}")
    import urllib.error  # as in _manifest_call
    import urllib.request

    token_req = urllib.request.Request(realm + "?" + urllib.parse.urlencode(fields))
    if creds:
        token_req.add_header("Authorization",
                             "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(token_req, timeout=TIMEOUT_S) as resp:
            body = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ImageError(f"registry {ref.registry}: token request failed ({exc})",
                         fix=f"run `docker login {ref.registry}`") from None
    return "Bearer " + (body.get("token") or body.get("access_token") or "")


def _challenge_fields(params: str) -> list[tuple[str, str]]:
    # Values are quoted and may hold commas (scope="repository:x:pull,push").
    return re.findall(r'(\w+)="([^"]*)"', params)
