from prometheus_client import REGISTRY

from shiftlane import metrics
from shiftlane.api.status import Phase, RolloutStatus


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_phase_step_weights_and_endings_are_exported() -> None:
    status = RolloutStatus(phase=Phase.PAUSED, strategy="canary", stable_revision="a", canary_revision="b",
                           current_step_index=2, canary_weight=25, stable_weight=75)
    metrics.record("shop", "web", status, ["RolloutStarted"], started_at=100.0, now=130.0)
    assert sample("shiftlane_rollout_phase", namespace="shop", rollout="web", phase="Paused") == 1
    assert sample("shiftlane_rollout_phase", namespace="shop", rollout="web", phase="Healthy") == 0
    assert sample("shiftlane_rollout_step", namespace="shop", rollout="web") == 2
    assert sample("shiftlane_rollout_traffic_weight", namespace="shop", rollout="web", role="canary") == 25
    assert sample("shiftlane_rollout_info", namespace="shop", rollout="web", strategy="canary",
                  stable_revision="a", canary_revision="b") == 1

    before = sample("shiftlane_rollouts_total", strategy="canary", result="completed") or 0
    done = RolloutStatus(phase=Phase.HEALTHY, strategy="canary", stable_revision="b")
    metrics.record("shop", "web", done, ["RolloutCompleted"], started_at=100.0, now=130.0)
    assert sample("shiftlane_rollouts_total", strategy="canary", result="completed") == before + 1
    assert sample("shiftlane_rollout_duration_seconds_sum", strategy="canary", result="completed") >= 30
    # the old info series is replaced, not left behind
    assert sample("shiftlane_rollout_info", namespace="shop", rollout="web", strategy="canary",
                  stable_revision="a", canary_revision="b") is None

    metrics.forget("shop", "web")
    assert sample("shiftlane_rollout_step", namespace="shop", rollout="web") is None
