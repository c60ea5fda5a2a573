"""remote_training/fleet/providers/nebius_errors.py: SDK failures told apart by their typed details
(status.service_errors, as the SDK parses them from a real google.rpc.Status), never by wording; rate
limiting waited out with growing pauses; operation polling that backs off. The statuses are built by the
stand-ins' own helper (rt_sandbox/nebius_standin.rich_status), the one the API stand-ins answer with."""
from __future__ import annotations

import time

import pytest

from remote_training.errors import ExitCode, NoCapacityError, ProviderError
from remote_training.fleet.providers import nebius_errors
from remote_training.serverless.client import SERVERLESS_FIXES

FIXES = nebius_errors.Fixes(quota="raise the quota", capacity="retry later", not_found="check the id")


def sdk_error(code: int, message: str, kind: str = "") -> Exception:
    """The SDK's own RequestError, from a status as the API sends it."""
    import nebius.api.google.rpc as rpc
    from nebius.aio.service_error import RequestError, RequestStatusExtended

    from rt_sandbox.nebius_records import rich_status

    status = RequestStatusExtended.from_rpc_status(rich_status(code, message, kind, "nebius.ai.v1"), "", "",
                                                   registry=rpc.REGISTRY)
    return RequestError(status)


def test_quota_and_capacity_come_from_the_typed_detail_not_the_words() -> None:
    quota = nebius_errors.translate(sdk_error(8, "limit reached", "quota_failure"), "cloud", "create", FIXES)
    capacity = nebius_errors.translate(sdk_error(8, "try later", "not_enough_resources"), "cloud", "create", FIXES)
    assert isinstance(quota, NoCapacityError) and "quota" in str(quota) and "raise the quota" in quota.fix
    assert isinstance(capacity, NoCapacityError) and "no free capacity" in str(capacity)
    assert quota.exit_code == capacity.exit_code == ExitCode.NO_CAPACITY
    # the words alone decide nothing: no typed detail, no quota or capacity verdict
    worded = nebius_errors.translate(sdk_error(8, "quota exceeded: not enough resources"), "cloud", "create", FIXES)
    assert type(worded) is ProviderError and "RESOURCE_EXHAUSTED" in str(worded)
    rate = nebius_errors.translate(sdk_error(8, "slow down", "too_many_requests"), "cloud", "create", FIXES)
    assert isinstance(rate, nebius_errors.RateLimited) and "rate-limiting" in str(rate)


def test_rate_limiting_is_retried_with_growing_pauses_then_given_up(monkeypatch) -> None:
    monkeypatch.setattr(nebius_errors, "RATE_BACKOFF_S", (0.05, 0.2))
    tries: list[float] = []

    def limited_twice() -> str:
        tries.append(time.monotonic())
        if len(tries) <= 2:
            raise sdk_error(8, "slow down", "too_many_requests")
        return "created"

    assert nebius_errors.call(limited_twice, lambda e: nebius_errors.translate(e, "cloud", "create", FIXES)) == \
        "created"
    assert len(tries) == 3 and tries[2] - tries[1] >= (tries[1] - tries[0]) * 0.4
    with pytest.raises(nebius_errors.RateLimited):
        nebius_errors.call(lambda: (_ for _ in ()).throw(sdk_error(8, "slow", "too_many_requests")),
                           lambda e: nebius_errors.translate(e, "cloud", "create", FIXES), budget_s=0.3)
    quota_tries = []

    def quota() -> None:
        quota_tries.append(1)
        raise sdk_error(8, "limit", "quota_failure")

    with pytest.raises(NoCapacityError):  # never retried: a quota does not free itself in a minute
        nebius_errors.call(quota, lambda e: nebius_errors.translate(e, "cloud", "create", SERVERLESS_FIXES))
    assert quota_tries == [1]


def test_insecure_is_for_a_loopback_endpoint_only() -> None:
    from remote_training.fleet.providers.nebius import check_insecure

    check_insecure({"endpoint": "127.0.0.1:9556", "insecure": True})
    check_insecure({"endpoint": "api.example.cloud:443"})  # TLS: nothing to check
    for settings in ({"endpoint": "10.0.0.5:9556", "insecure": True}, {"insecure": True},
                     {"endpoint": "api.example.cloud:443", "insecure": True}):
        with pytest.raises(ProviderError, match="plaintext") as refused:
            check_insecure(settings)
        assert "loopback" in refused.value.fix


def test_only_the_sdks_retry_noise_is_quieted(caplog) -> None:
    import logging

    from remote_training.fleet.providers.nebius import quiet_retry_noise

    quiet_retry_noise()
    logger = logging.getLogger("nebius.aio.request")
    with caplog.at_level(logging.WARNING):
        logger.error("The SDK request attempt %d failed. The SDK will retry the request.", 1)
        logger.warning("The SDK could not release the request transport after setup failed.")
        logging.getLogger("nebius.aio.channel").error("channel broke")
    assert [r.getMessage() for r in caplog.records] == [
        "The SDK could not release the request transport after setup failed.", "channel broke"]


def test_the_s3_region_defaults_as_upstreams_workflow_does() -> None:
    from remote_training.serverless.spec import s3_region

    assert s3_region("https://storage.eu-west1.nebius.cloud:443") == "eu-west1"
    assert s3_region(None) == s3_region("http://10.213.0.1:9000") == "eu-north1"  # common.sh's
