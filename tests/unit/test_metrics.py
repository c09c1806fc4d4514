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


def test_analysis_metrics_follow_the_latest_run_and_go_with_it() -> None:
    from datetime import datetime, timezone

    from shiftlane.api.status import AnalysisPhase, AnalysisRunStatus, MeasurementStatus, MetricStatus

    at = datetime(2026, 11, 27, tzinfo=timezone.utc)

    def run(key: str, phase: AnalysisPhase, value: str) -> AnalysisRunStatus:
        measurement = MeasurementStatus(phase=phase, value=value, started_at=at, finished_at=at)
        metric = MetricStatus(name="ratio", template="errors", phase=phase, measurements=[measurement])
        return AnalysisRunStatus(key=key, templates=["errors"], phase=phase, started_at=at, metrics=[metric])

    status = RolloutStatus(analysis_runs=[run("a-1-2", AnalysisPhase.SUCCESSFUL, "0.01"), run("b-2-2", AnalysisPhase.FAILED, "[0.2]")])
    metrics.record("shop", "cart", status, [], started_at=None, now=0.0)
    labels = {"namespace": "shop", "rollout": "cart", "metric": "errors/ratio"}
    assert sample("shiftlane_analysis_metric_phase", **labels, phase="Failed") == 1
    assert sample("shiftlane_analysis_metric_phase", **labels, phase="Successful") == 0
    assert sample("shiftlane_analysis_metric_value", **labels) == 0.2
    metrics.record("shop", "cart", RolloutStatus(), [], started_at=None, now=0.0)  # history gone from status
    assert sample("shiftlane_analysis_metric_phase", **labels, phase="Failed") is None
    assert sample("shiftlane_analysis_metric_value", **labels) is None
