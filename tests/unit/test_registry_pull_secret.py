import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from shiftlane.registry.pull_secret import (
    EXPIRES_ANNOTATION,
    observe_pull_secret,
    pull_secret_manifest,
    refresh_due,
)
from shiftlane.registry.results import AuthorizationToken

ISSUED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HOSTS = ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com")


def tokens(expires: datetime = ISSUED + timedelta(hours=12)) -> list[AuthorizationToken]:
    return [AuthorizationToken(host, "AWS", f"secret-{i}", expires - timedelta(minutes=i)) for i, host in enumerate(HOSTS)]


def test_the_secret_is_a_dockerconfigjson_kubelets_can_use() -> None:
    secret = pull_secret_manifest("shop", tokens())
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    assert config["auths"][HOSTS[1]] == {
        "username": "AWS", "password": "secret-1", "auth": base64.b64encode(b"AWS:secret-1").decode()}
    # It expires with its earliest token.
    assert secret["metadata"]["annotations"][EXPIRES_ANNOTATION] == "2026-03-01T19:59:00+00:00"


def test_the_token_never_shows_in_a_repr() -> None:
    assert "secret-0" not in repr(tokens()[0])


@pytest.mark.parametrize(("hours_after_issue", "due", "reason"), [
    (0, False, "fresh"),
    (5.9, False, "fresh"),
    (6.1, True, "expires soon"),  # well before the 12-hour expiry
    (12.5, True, "expired"),
])
def test_refresh_falls_due_well_before_expiry(hours_after_issue, due, reason) -> None:
    observed = observe_pull_secret(pull_secret_manifest("shop", tokens()))
    decision = refresh_due(observed, frozenset(HOSTS), ISSUED + timedelta(hours=hours_after_issue))
    assert (decision.due, decision.reason) == (due, reason)
    if not due:
        assert decision.at == ISSUED + timedelta(hours=12, minutes=-1) - timedelta(hours=6)


def test_a_missing_or_stale_secret_is_refreshed_at_once() -> None:
    now = ISSUED + timedelta(minutes=1)
    assert refresh_due(observe_pull_secret(None), frozenset(HOSTS), now).reason == "missing"
    fresh = pull_secret_manifest("shop", tokens()[:1])
    decision = refresh_due(observe_pull_secret(fresh), frozenset(HOSTS), now)
    assert decision.due and HOSTS[1] in decision.reason
    fresh["metadata"]["annotations"] = {}
    assert refresh_due(observe_pull_secret(fresh), frozenset(HOSTS[:1]), now).reason == "expiry unknown"
    fresh["metadata"]["annotations"] = {EXPIRES_ANNOTATION: "2026-03-01T20:00:00"}  # no zone: not trusted
    assert refresh_due(observe_pull_secret(fresh), frozenset(HOSTS[:1]), now).due
