"""Nebius SDK failures as the core's typed errors, for compute (providers/nebius.py) and Serverless
(serverless/client.py) alike, read from the typed details the SDK parses, never from message text.

The SDK (nebius/aio/service_error.py, 0.6.29) gives every RequestError and OperationError a
`status.service_errors`: `nebius.common.v1.ServiceError` messages whose `details` one-of names the
kind: `quota_failure` (a quota of the project is used up), `not_enough_resources` (no capacity for
the platform/preset now), `too_many_requests` (rate limiting), and others. A RESOURCE_EXHAUSTED without
one of these is reported as it is: neither quota nor capacity is guessed from its wording.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from ...errors import NoCapacityError, ProviderError
from .base import ProviderUnavailable

LOGIN_FIX = "log in again: inv vm.login (or check nebius.credentials_file in hosts.yaml)"
RATE_RETRY_S = 60.0  # how long rate limiting (too_many_requests) is waited out, the SDK's own retries aside
RATE_BACKOFF_S = (1.0, 10.0)  # first and longest pause, doubling, jittered
T = TypeVar("T")


class RateLimited(ProviderUnavailable):
    """The API said too_many_requests for longer than RATE_RETRY_S."""


class NoAnswer(ProviderUnavailable):
    """The API did not answer (UNAVAILABLE, DEADLINE_EXCEEDED, a time-out)."""


class NotFound(ProviderError):
    """The API does not know the resource (NOT_FOUND)."""


@dataclass(frozen=True)
class Fixes:
    """What the user should do, in the caller's words."""
    quota: str
    capacity: str
    not_found: str
    short_of: str = "capacity"  # what there is none of: "GPU" for a VM


def status_code(error: BaseException) -> str:
    status = getattr(error, "status", None)
    return getattr(getattr(status, "code", None), "name", None) or str(getattr(status, "code", "") or "")


def kinds(error: BaseException) -> set[str]:
    """The typed detail kinds of the error's service errors (`details` one-of field names)."""
    found = set()
    for service_error in getattr(getattr(error, "status", None), "service_errors", None) or ():
        details = getattr(service_error, "details", None)
        if details is not None and getattr(details, "field", None):
            found.add(details.field)
    return found


def translate(error: BaseException, where: str, action: str, fixes: Fixes, endpoint: str = "the Nebius API"
              ) -> ProviderError:
    """An SDK or gRPC failure as one typed error with its fix."""
    code, typed = status_code(error), kinds(error)
    message = getattr(getattr(error, "status", None), "message", None) or str(error)
    if "quota_failure" in typed:
        return NoCapacityError(f"{where}: the project's quota does not allow this {action} ({message})", fixes.quota)
    if "not_enough_resources" in typed:
        return NoCapacityError(f"{where}: Nebius has no free {fixes.short_of} for this {action} ({message})",
                               fixes.capacity)
    if "too_many_requests" in typed:
        return RateLimited(f"{where}: the Nebius API kept rate-limiting the {action} ({message})",
                           "wait a minute and retry; fewer parallel launches help")
    if code == "ALREADY_EXISTS":
        return ProviderError(f"{where}: the name is already taken in the project ({message})",
                             "choose another name, or stop the old one first (inv serve.stop NAME)")
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return ProviderError(f"{where}: Nebius refused the {action} ({code}): {message}", LOGIN_FIX)
    if code == "NOT_FOUND":
        return NotFound(f"{where}: Nebius does not know it ({action}): {message}", fixes.not_found)
    if code in ("UNAVAILABLE", "DEADLINE_EXCEEDED") or isinstance(error, TimeoutError):
        return NoAnswer(f"{where}: {endpoint} did not answer the {action} request ({code or error})",
                                   "check the network and nebius.endpoint in hosts.yaml, then retry")
    return ProviderError(f"{where}: Nebius {action} failed ({code or type(error).__name__}): {message}",
                         "see the message; retry, or check the console")


def call(make: Callable[[], T], on_error: Callable[[BaseException], ProviderError],
         budget_s: float = RATE_RETRY_S) -> T:
    """make(), with rate limiting (too_many_requests) retried after growing, jittered pauses for up to
    `budget_s`; any other failure, or rate limiting past that, through `on_error`."""
    end = time.monotonic() + budget_s
    pause = RATE_BACKOFF_S[0]
    while True:
        try:
            return make()
        except ProviderError:
            raise
        except Exception as exc:  # the SDK's RequestError / OperationError and friends
            left = end - time.monotonic()
            if "too_many_requests" not in kinds(exc) or left <= 0:
                raise on_error(exc) from exc
            time.sleep(min(left, pause * random.uniform(0.5, 1.0)))  # jitter: launches do not retry in step
            pause = min(pause * 2, RATE_BACKOFF_S[1])


def wait_operation(op: Any, timeout: float, first: float = 0.2, longest: float = 5.0, grow: float = 1.5) -> None:
    """Wait for an SDK operation, asking again after pauses that grow from `first` to `longest`
    (a long create is not asked ten times a second), within `timeout`. OperationError when it
    failed; TimeoutError when it is still running at the deadline."""
    from nebius.aio.operation import OperationError

    end = time.monotonic() + timeout
    pause = first
    while True:
        if op.done():
            if not op.successful():
                raise OperationError(op)
            return
        left = end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"operation {op.id} still running after {timeout:g}s")
        time.sleep(min(pause, left))
        pause = min(pause * grow, longest)
        op.sync_update(timeout=max(1.0, min(20.0, end - time.monotonic())))
