"""The nebius provider: Nebius compute instances through the official `nebius` SDK.

hosts.yaml:
    nebius:                     # top level, optional; all keys optional
      profile: default          # a `nebius` CLI profile (~/.nebius/config.yaml): the default auth
      credentials_file: ~/.nebius/sa-credentials.json   # or a service-account credentials file
      service_account: {id: ..., public_key_id: ..., private_key_file: ...}
      endpoint: 127.0.0.1:PORT  # route every service to one address (the sandbox stand-in)
      insecure: true            # plaintext gRPC to that endpoint (loopback only)
      auth: none                # no credentials at all (the stand-in)
      domain: api.nebius.cloud:443
    hosts:
      vm-train2: {provider: {type: nebius, instance_id: computeinstance-..., profile: ...}}

The SDK is imported only when a nebius host is actually asked something. If it
is missing the error says how to install it.
"""
from __future__ import annotations

import atexit
import threading
import time
from pathlib import Path
from typing import Any

from ..provider_kinds import NEBIUS
from . import nebius_errors
from .base import Provider, ProviderError, ProviderTimeout, ProviderUnavailable, State, Status

_SDKS: dict[tuple, Any] = {}  # one SDK (one channel pool) per distinct setting, per process
_SDKS_LOCK = threading.Lock()
REQUEST_TIMEOUT = 20.0  # one API call; the SDK retries inside it
LOGIN_FIX = nebius_errors.LOGIN_FIX


def _close_all() -> None:
    with _SDKS_LOCK:
        for sdk in _SDKS.values():
            try:
                sdk.sync_close()
            except Exception:
                pass  # exiting anyway
        _SDKS.clear()


class _RetryNoise:
    """Drops the SDK's "attempt N failed. The SDK will retry" records (nebius/aio/request.py logs each
    retried attempt at ERROR with a traceback); the caller gets one translated line if all tries fail.
    Every other SDK record passes."""

    @staticmethod
    def filter(record: Any) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("The SDK request attempt")
                    and "will retry" in record.msg)


def quiet_retry_noise() -> None:
    import logging

    logger = logging.getLogger("nebius.aio.request")
    if not any(isinstance(f, _RetryNoise) for f in logger.filters):
        logger.addFilter(_RetryNoise())


def check_insecure(settings: dict[str, Any]) -> None:
    """`insecure: true` (plaintext gRPC) only to a loopback endpoint: the bearer token travels with each call."""
    if not settings.get("insecure"):
        return
    import ipaddress

    host = str(settings.get("endpoint") or "").rsplit(":", 1)[0].strip("[]")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ProviderError(f"nebius.insecure is set for {settings.get('endpoint') or 'the public API'}: credentials "
                            "would travel in plaintext", "remove insecure: true (it is for a loopback stand-in only)")


def build_sdk(settings: dict[str, Any], profile: str | None = None, **extra: Any) -> Any:
    """An SDK object from the inventory's `nebius:` settings (also used by vm.login)."""
    try:
        from nebius.sdk import SDK
    except ImportError as exc:
        raise ProviderUnavailable("the nebius SDK is not installed",
                                  "pip install nebius (it is in requirements.txt: bash scripts/install.sh)") from exc
    quiet_retry_noise()
    check_insecure(settings)
    kwargs: dict[str, Any] = {"user_agent_prefix": "remote-training/1"}
    endpoint = settings.get("endpoint")
    if endpoint:
        from nebius.base.resolver import Constant

        kwargs["resolver"] = Constant(str(endpoint))
        if settings.get("insecure"):
            from nebius.base.options import INSECURE

            kwargs["address_options"] = {str(endpoint): [(INSECURE, True)]}
    if settings.get("domain"):
        kwargs["domain"] = str(settings["domain"])
    account = settings.get("service_account") or {}
    if str(settings.get("auth", "")).lower() == "none":
        from nebius.aio.channel import NoCredentials

        kwargs["credentials"] = NoCredentials()
    elif settings.get("credentials_file"):
        kwargs["credentials_file_name"] = str(Path(str(settings["credentials_file"])).expanduser())
    elif account:
        kwargs.update(service_account_id=account.get("id"), service_account_public_key_id=account.get("public_key_id"),
                      service_account_private_key_file_name=str(
                          Path(str(account.get("private_key_file", ""))).expanduser()))
    else:
        from nebius.aio.cli_config import Config

        wanted = profile or settings.get("profile")
        try:
            kwargs["config_reader"] = Config(profile=wanted) if wanted else Config()
        except Exception as exc:  # no ~/.nebius/config.yaml, or no such profile
            raise ProviderError(f"nebius: no usable CLI profile: {exc}",
                                "inv vm.login (after `nebius profile create`), or set nebius.credentials_file "
                                "in hosts.yaml") from exc
    kwargs.update(extra)
    try:
        return SDK(**kwargs)
    except Exception as exc:  # the SDK raises its own types for a missing profile or a bad key file
        raise ProviderError(f"nebius: cannot set up the API client: {exc}", LOGIN_FIX) from exc


def shared_sdk(settings: dict[str, Any], profile: str | None = None) -> Any:
    key = (tuple(sorted((k, repr(v)) for k, v in settings.items())), profile)
    with _SDKS_LOCK:
        if key not in _SDKS:
            if not _SDKS:
                atexit.register(_close_all)
            _SDKS[key] = build_sdk(settings, profile)
        return _SDKS[key]


VM_FIXES = nebius_errors.Fixes(
    quota="raise the project's quota (console: Administration -> Quotas), or stop another VM, then retry",
    capacity="a stopped VM without a reservation gives its GPU back: retry in a few minutes, use another "
             "VM (inv vm.status), or attach a capacity reservation to the instance",
    not_found="check provider.instance_id in hosts.yaml (nebius compute instance list)", short_of="GPU")


def translate(error: BaseException, host: str, action: str, endpoint: str = "the Nebius API") -> ProviderError:
    """An SDK or gRPC failure as one of our typed errors, with the fix (nebius_errors: by typed details)."""
    return nebius_errors.translate(error, host, action, VM_FIXES, endpoint)


class NebiusProvider(Provider):
    kind = NEBIUS

    @property
    def instance_id(self) -> str:
        return str(self.options["instance_id"])

    def _client(self) -> Any:
        from nebius.api.nebius.compute.v1 import InstanceServiceClient

        return InstanceServiceClient(shared_sdk(self.settings, self.options.get("profile")))

    def _call(self, action: str, make: Any) -> Any:
        endpoint = str(self.settings.get("endpoint") or "the Nebius API")
        return nebius_errors.call(make, lambda exc: translate(exc, self.host.name, action, endpoint))

    def state(self, *, timeout: float | None = None) -> Status:
        timeout = timeout or REQUEST_TIMEOUT
        from nebius.api.nebius.compute.v1 import GetInstanceRequest

        instance = self._call("status", lambda: self._client().get(
            GetInstanceRequest(id=self.instance_id), timeout=timeout, per_retry_timeout=timeout / 2).wait())
        return status_of(instance)

    def _operation(self, action: str, request: Any, timeout: float) -> None:
        client = self._client()
        method = client.start if action == "start" else client.stop
        op = self._call(action, lambda: method(request, timeout=REQUEST_TIMEOUT).wait())
        end = time.monotonic() + timeout
        while True:
            try:
                nebius_errors.wait_operation(op, max(1.0, end - time.monotonic()))
                return
            except TimeoutError as exc:
                raise ProviderTimeout(f"{self.host.name}: the {action} operation {op.id} did not finish in "
                                      f"{timeout:g}s", f"check it: nebius compute instance get --id {self.instance_id}"
                                      ) from exc
            except Exception as exc:
                error = translate(exc, self.host.name, action)
                # The API went away while the operation runs on: ask again until the deadline.
                if not isinstance(error, ProviderUnavailable) or time.monotonic() >= end:
                    raise error from exc
                time.sleep(1.0)

    def _wait_for(self, target: State, timeout: float, *, done: bool = False) -> Status:
        """Poll until `target`. `done`: our operation already succeeded, so the opposite
        settled state means someone else powered it back meanwhile: say so, do not wait on."""
        opposite = {State.RUNNING: State.STOPPED, State.STOPPED: State.RUNNING}[target]
        end = time.monotonic() + timeout
        while True:
            try:
                now = self.state()
            except ProviderUnavailable:
                if time.monotonic() >= end:
                    raise
                time.sleep(1.0)  # the API is away for a moment (restarting): the machine is not
                continue
            if now.state is target:
                return now
            if done and now.state in (opposite, State.STARTING if target is State.STOPPED else State.STOPPING):
                raise ProviderError(f"{self.host.name}: {now.state.value} right after a successful "
                                    f"{'stop' if target is State.STOPPED else 'start'}: someone else changed it",
                                    f"check who (nebius compute instance get --id {self.instance_id}), then retry")
            if now.state is State.ERROR or time.monotonic() >= end:
                raise ProviderTimeout(f"{self.host.name}: instance is {now.state.value}, expected {target.value}",
                                      f"check it: nebius compute instance get --id {self.instance_id}")
            time.sleep(0.5)

    def start(self, *, timeout: float = 900.0) -> Status:
        from nebius.api.nebius.compute.v1 import StartInstanceRequest

        end = time.monotonic() + timeout
        now = self.state()
        if now.state is State.RUNNING:
            return now
        if now.state is State.STOPPING:  # the API refuses a start mid-stop: let the stop finish
            self._wait_for(State.STOPPED, timeout)
        if now.state is not State.STARTING:
            self._operation("start", StartInstanceRequest(id=self.instance_id), max(1.0, end - time.monotonic()))
            return self._wait_for(State.RUNNING, max(1.0, end - time.monotonic()), done=True)
        return self._wait_for(State.RUNNING, max(1.0, end - time.monotonic()))

    def stop(self, *, timeout: float = 600.0) -> Status:
        from nebius.api.nebius.compute.v1 import StopInstanceRequest

        end = time.monotonic() + timeout
        now = self.state()
        if now.state is State.STOPPED:
            return now
        if now.state is State.STARTING:
            self._wait_for(State.RUNNING, timeout)
        if now.state is not State.STOPPING:
            self._operation("stop", StopInstanceRequest(id=self.instance_id), max(1.0, end - time.monotonic()))
            return self._wait_for(State.STOPPED, max(1.0, end - time.monotonic()), done=True)
        return self._wait_for(State.STOPPED, max(1.0, end - time.monotonic()))

    def describe_start(self) -> str:
        return f"nebius: InstanceService.Start(id={self.instance_id}), wait for the operation, then RUNNING"

    def describe_stop(self) -> str:
        return f"nebius: InstanceService.Stop(id={self.instance_id}), wait for the operation, then STOPPED"


def status_of(instance: Any) -> Status:
    """Our Status from a compute.v1 Instance: state name and the first public address."""
    raw = instance.status.state
    state = State.parse(getattr(raw, "name", str(raw)))
    address = None
    for nic in instance.status.network_interfaces or []:
        public = nic.public_ip_address
        value = getattr(public, "address", "") if public is not None else ""
        if value:
            address = value.split("/")[0]  # the API gives a CIDR: 1.2.3.4/32
            break
    return Status(state, address, detail=instance.metadata.name or "")
