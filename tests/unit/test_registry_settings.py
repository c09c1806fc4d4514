"""The operator's registry settings: flags over environment variables, and the operator-wide image
policy under each Rollout's own, field by field."""

from __future__ import annotations

import sys
import types
from datetime import timedelta
from typing import Any

import pytest

from shiftlane.api.image_policy import ImagePolicy
from shiftlane.cli.main import main as shiftlane_main
from shiftlane.registry.settings import PullSecretSettings, RegistrySettings, effective_policy

DEFAULT = {"denyTags": ["latest", "dev"], "scan": {"maxSeverity": "HIGH", "requireScan": True}, "protectStable": True}


def own(**fields: Any) -> ImagePolicy:
    return ImagePolicy.model_validate(fields)


@pytest.mark.parametrize(("rollout", "expected"), [
    # No policy anywhere: nothing is checked.
    (None, None),
    # No policy of its own: the operator's, with built-in defaults for what it leaves out.
    ("none", {"pinDigest": True, "denyTags": ["latest", "dev"], "scan": {"maxSeverity": "HIGH", "requireScan": True,
                                                                          "allowList": [], "waitFor": "10m"}}),
    # Its own fields win; unset ones come from the operator's; scan is merged key by key.
    ({"scan": {"allowList": ["CVE-1"]}}, {"denyTags": ["latest", "dev"], "scan": {"maxSeverity": "HIGH", "requireScan": True,
                                                                                  "allowList": ["CVE-1"], "waitFor": "10m"}}),
    # A list is replaced, not joined; a field set to its built-in default still wins.
    ({"denyTags": [], "protectStable": False, "scan": {"maxSeverity": "CRITICAL"}},
     {"denyTags": [], "protectStable": False, "scan": {"maxSeverity": "CRITICAL", "requireScan": True}}),
])
def test_the_rollouts_fields_win_over_the_operators_default(rollout, expected) -> None:
    default = None if rollout is None else DEFAULT
    policy = effective_policy(None if rollout in (None, "none") else own(**rollout), default)
    if expected is None:
        assert policy is None
        return
    dumped = policy.model_dump(by_alias=True)
    for key, value in expected.items():
        if isinstance(value, dict):
            assert {k: dumped[key][k] for k in value} == value
        else:
            assert dumped[key] == value


def test_without_a_default_the_rollouts_policy_is_used_as_it_is() -> None:
    assert effective_policy(own(pinDigest=False), None) == own(pinDigest=False)


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    fake = types.ModuleType("shiftlane.controller.run")
    fake.run_operator = lambda **kwargs: calls.append(kwargs)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "shiftlane.controller.run", fake)
    for name in ("SHIFTLANE_ECR_PULL_SECRETS", "SHIFTLANE_ECR_PULL_SECRET_REFRESH_BEFORE",
                 "SHIFTLANE_ECR_PULL_SECRET_CHECK_INTERVAL", "SHIFTLANE_DEFAULT_IMAGE_POLICY"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_settings_come_from_the_environment_and_flags_override_it(runs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIFTLANE_ECR_PULL_SECRETS", "true")
    monkeypatch.setenv("SHIFTLANE_ECR_PULL_SECRET_REFRESH_BEFORE", "4h")
    monkeypatch.setenv("SHIFTLANE_DEFAULT_IMAGE_POLICY", '{"scan": {"maxSeverity": "CRITICAL"}}')
    assert shiftlane_main(["run"]) == 0
    assert runs[-1]["registry"] == RegistrySettings(PullSecretSettings(timedelta(hours=4), 60.0), {"scan": {"maxSeverity": "CRITICAL"}})
    assert shiftlane_main(["run", "--no-ecr-pull-secrets", "--default-image-policy", "{}"]) == 0
    assert runs[-1]["registry"] == RegistrySettings()
    assert shiftlane_main(["run", "--ecr-pull-secret-check-interval", "2s"]) == 0
    assert runs[-1]["registry"].pull_secrets == PullSecretSettings(timedelta(hours=4), 2.0)


@pytest.mark.parametrize(("argv", "named"), [
    (["--default-image-policy", "{scan"], "not JSON"),
    (["--default-image-policy", '["latest"]'], "JSON object"),
    (["--default-image-policy", '{"scan": {"maxSeverity": "SEVERE"}}'], "maxSeverity"),
    (["--ecr-pull-secrets", "--ecr-pull-secret-refresh-before", "12h"], "12 h"),
    (["--ecr-pull-secrets", "--ecr-pull-secret-check-interval", "soon"], "not a duration"),
])
def test_a_setting_that_cannot_be_used_stops_the_start_naming_it(runs, argv, named, capsys: pytest.CaptureFixture[str]) -> None:
    assert shiftlane_main(["run", *argv]) == 2
    assert named in capsys.readouterr().err and not runs
