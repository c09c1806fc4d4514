"""`kubectl shiftlane get`'s view, driven by the real interpreter (tests/unit/world.py): the user's steps
with the current one marked (skipped by promote, a timed pause's time left), each revision's images and
pods, which image serves after an abort, analysis runs, and events in the order they happened."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shiftlane.api.spec import RolloutSpec
from shiftlane.cli.events import ordered_events
from shiftlane.cli.progress import StageState
from shiftlane.cli.render import plan_for
from shiftlane.cli.view import Scene, render_rollout
from shiftlane.cli.workload import workload
from shiftlane.engine.plan import compile_plan
from shiftlane.kube.labels import REVISION_LABEL, ROLLOUT_LABEL
from tests.unit.world import World, manifest

GATEWAY = {"gatewayAPI": {"httpRoute": "web"}}
CANARY = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}]}}
T0 = datetime(2026, 11, 27, 8, 0, 0, tzinfo=timezone.utc)


def rollout_object(spec: dict[str, Any], status: dict[str, Any] | None = None, generation: int = 1) -> dict[str, Any]:
    return {"apiVersion": "shiftlane.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop", "generation": generation, "uid": "u-1"},
            "spec": spec, "status": status or {}}


def deployed_world(strategy: dict[str, Any], routers: frozenset[str] = frozenset()) -> World:
    world = World(manifest(strategy, replicas=4), routers=routers)
    world.run()
    return world


def as_object(world: World) -> dict[str, Any]:
    status = world.status.model_dump(by_alias=True, mode="json", exclude_none=True)
    return rollout_object(world.raw, status, generation=world.generation)


def section(text: str, head: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(head))
    rows = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        rows.append(line)
    return rows


def stages(text: str) -> dict[int, tuple[str, str]]:
    """user step number -> (mark, text) from the Steps section ('' mark when no rollout is under way)."""
    out = {}
    for row in section(text, "Steps"):
        parts = row.split(maxsplit=2)
        if parts[0].isdigit():
            out[int(parts[0])] = ("", row.split(maxsplit=1)[1])
        elif len(parts) > 1 and parts[1].isdigit():
            out[int(parts[1])] = (parts[0], parts[2])
    return out


# --- the user's steps ----------------------------------------------------------------------------


def test_in_progress_canary_marks_the_users_step_not_the_compiled_one() -> None:
    world = deployed_world(CANARY)
    world.set_image("app:2")
    world.run()
    text = render_rollout(as_object(world))
    assert "Steps (2/4):" in text  # the manual pause is the user's 2nd step of 3, plus the promotion
    got = stages(text)
    assert got[1] == ("✔", "setWeight 25%")
    assert got[2] == ("▶", "pause until promoted")
    assert got[3] == ("", "setWeight 50%")  # not reached yet: no mark
    assert got[4][1].startswith("promote:")
    assert "Phase:       Paused" in text and "Images:      web=app:2" in text


def test_every_canary_step_is_listed_even_one_that_compiles_to_nothing() -> None:
    # setWeight 25 twice: the second changes nothing and compiles to no step, but it is the user's step 2.
    world = deployed_world({"canary": {"steps": [{"setWeight": 25}, {"setWeight": 25}, {"pause": {}}]}})
    world.set_image("app:2")
    world.run()
    got = stages(render_rollout(as_object(world)))
    assert [got[n][0] for n in (1, 2, 3)] == ["✔", "✔", "▶"]
    assert got[2][1] == "setWeight 25%"


@pytest.mark.parametrize("replicas_after", [None, 1])  # 1: the plan compiles to fewer steps, the skipped pause moves
def test_a_step_promote_skipped_is_shown_as_skipped(replicas_after: int | None) -> None:
    world = deployed_world({"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}})
    world.set_image("app:2")
    world.run()
    world.send("promote")
    world.run()
    if replicas_after is not None:
        world.set_replicas(replicas_after)
        world.run()
    got = stages(render_rollout(as_object(world)))  # from status alone: Events expire after an hour
    assert got[2] == ("↷", "pause until promoted  (skipped by promote)")
    assert got[1][0] == "✔" and got[3][0] == "✔" and got[4][0] == "▶"


def test_promote_full_skips_every_step_up_to_the_promotion() -> None:
    world = deployed_world({"canary": {"steps": [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]}})
    world.set_image("app:2")
    world.run()
    world.never_ready.add(world.template_revision)  # the promotion waits for pods, so it is seen under way
    world.send("promoteFull")
    world.run()
    got = stages(render_rollout(as_object(world)))
    assert [got[n][0] for n in range(1, 6)] == ["✔", "↷", "↷", "↷", "▶"]
    assert "Steps (5/5):" in render_rollout(as_object(world))


def test_a_timed_pause_shows_the_time_left_only_with_a_clock() -> None:
    world = deployed_world({"canary": {"steps": [{"setWeight": 25}, {"pause": {"duration": "2m"}}]}})
    world.set_image("app:2")
    world.run()
    started = world.status.rollout.step_started_at
    text = render_rollout(as_object(world), now=started + timedelta(seconds=30))
    assert stages(text)[2] == ("▶", "pause 2m  (90s left)")
    text = render_rollout(as_object(world), now=started + timedelta(seconds=200))
    assert stages(text)[2] == ("▶", "pause 2m  (pause over)")
    # The clockless rendering (what --watch compares) does not tick.
    assert stages(render_rollout(as_object(world)))[2] == ("▶", "pause 2m  (pause 120s)")


def test_router_plan_lines_up_with_the_status_step_count() -> None:
    strategy = {"canary": {"steps": [{"setWeight": 25}, {"pause": {}}], "trafficRouting": GATEWAY}}
    world = deployed_world(strategy, routers=frozenset({"gatewayAPI"}))
    world.set_image("app:2")
    world.run()
    for routers in (frozenset({"gatewayAPI"}), None):
        got = stages(render_rollout(as_object(world), routers=routers))
        assert got[2] == ("▶", "pause until promoted")
    assert "note:" not in render_rollout(as_object(world), routers=frozenset({"gatewayAPI"}))


def test_step_count_in_status_picks_the_matching_compilation() -> None:
    spec = RolloutSpec.model_validate(manifest({"canary": {"steps": [{"setCanaryScale": {"replicas": 1}}, {"setWeight": 50}],
                                                           "trafficRouting": GATEWAY}}))
    share, router = compile_plan(spec), compile_plan(spec, frozenset({"gatewayAPI"}))
    assert len(share.steps) != len(router.steps)
    assert plan_for(spec, len(router.steps)) == router
    assert plan_for(spec, len(share.steps)) == share
    assert plan_for(spec, None) == share


def test_strategies_without_steps_show_their_stages() -> None:
    world = deployed_world({"rollingBatches": {"batchSize": 2, "pauseBetween": "30s"}})
    world.set_image("app:2")
    world.run()
    text = render_rollout(as_object(world))
    got = stages(text)
    assert got[1][0] == "▶" and "scale canary to 2" in got[1][1]
    assert {mark for mark, _ in list(got.values())[1:]} == {""}


def test_healthy_rollout_shows_all_steps_plain() -> None:
    world = deployed_world(CANARY)
    text = render_rollout(as_object(world))
    assert "Phase:       Healthy" in text and "Canary:      -" in text and "Traffic:     stable 100%" in text
    assert "Steps:" in text and {mark for mark, _ in stages(text).values()} == {""}
    assert "▶" not in text and "✔" not in text


# --- revisions, pods, abort ----------------------------------------------------------------------


def owned(revision: str, image: str, pods: list[tuple[str, bool, datetime]]) -> list[dict[str, Any]]:
    labels = {ROLLOUT_LABEL: "web", REVISION_LABEL: revision}
    objects: list[dict[str, Any]] = [{
        "kind": "Deployment", "metadata": {"name": f"web-{revision}", "labels": labels},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
    }]
    for name, ready, created in pods:
        objects.append({"kind": "Pod", "metadata": {"name": name, "labels": labels, "creationTimestamp": created.isoformat()},
                        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                                   "containerStatuses": [{"restartCount": 2 if not ready else 0}]}})
    return objects


def test_each_revision_shows_its_images_and_pods_with_age_and_readiness() -> None:
    world = deployed_world(CANARY)
    stable = world.status.stable_revision
    world.set_image("app:2")
    world.run()
    canary = world.status.canary_revision
    objects = owned(stable, "app:1", [(f"web-{stable}-a", True, T0 - timedelta(hours=3))])
    objects += owned(canary, "app:2", [(f"web-{canary}-b", False, T0 - timedelta(seconds=42))])
    scene = Scene(as_object(world), workload=workload(objects))
    text = render_rollout(scene, now=T0)
    revisions = [row.split() for row in section(text, "Revisions:")]
    assert [stable, "stable", "3", "3", "75%", "web=app:1"] in revisions
    assert [canary, "canary", "1", "1", "25%", "web=app:2"] in revisions
    pods = [row.split() for row in section(text, "Pods:")]
    assert pods[0] == ["REVISION", "POD", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [stable, f"web-{stable}-a", "yes", "Running", "0", "3h"] in pods
    assert [canary, f"web-{canary}-b", "no", "Running", "2", "42s"] in pods
    # Without a clock the ages are left out, so a watch does not print again every second.
    clockless = render_rollout(scene)
    assert section(clockless, "Pods:")[0].split() == ["REVISION", "POD", "READY", "STATUS", "RESTARTS"]
    assert "3h" not in clockless and "42s" not in clockless


def test_after_an_abort_the_view_says_which_image_serves() -> None:
    world = deployed_world(CANARY)
    stable = world.status.stable_revision
    world.set_image("app:2")
    world.run()
    canary = world.status.canary_revision
    world.send("abort")
    world.run()
    objects = owned(stable, "app:1", []) + owned(canary, "app:2", [])
    text = render_rollout(Scene(as_object(world), workload=workload(objects)))
    assert "Phase:       Aborted" in text
    assert f"Serving:     {stable} (stable): web=app:1; aborted {canary} (web=app:2) gets no traffic" in text
    got = stages(text)
    assert got[1][0] == "✔" and got[2][0] == "✖" and "▶" not in text
    assert any(row.split()[:2] == [canary, "aborted"] for row in section(text, "Revisions:"))


def test_pods_that_cannot_be_listed_are_said_so() -> None:
    from shiftlane.cli.workload import Workload

    world = deployed_world(CANARY)
    text = render_rollout(Scene(as_object(world), workload=Workload(error="pods is forbidden")))
    assert "Pods:        cannot be listed: pods is forbidden" in text


# --- analysis runs and events ----------------------------------------------------------------------


def test_analysis_runs_show_phase_and_the_last_values_per_metric() -> None:
    world = deployed_world(CANARY)
    obj = as_object(world)
    at = {"startedAt": "2026-11-27T08:00:00Z", "finishedAt": "2026-11-27T08:00:01Z"}
    obj["status"]["analysisRuns"] = [{
        "key": "bbb222-1-3", "templates": ["success-rate"], "phase": "Failed",
        "message": "error-ratio failed 2 times", "startedAt": "2026-11-27T08:00:00Z",
        "metrics": [{"name": "error-ratio", "template": "success-rate", "phase": "Failed", "query": "sum(rate(x[1m]))",
                     "count": 4, "successful": 2, "failed": 2, "inconclusive": 0, "errors": 0, "consecutiveErrors": 0,
                     "measurements": [{"phase": "Successful", "value": "0.01", **at}, {"phase": "Successful", "value": "0.02", **at},
                                      {"phase": "Failed", "value": "0.3", **at}, {"phase": "Failed", "value": "0.4", **at}]},
                    {"name": "latency", "template": "success-rate", "phase": "Running", "measurements": []}],
    }]
    lines = section(render_rollout(obj), "Analysis runs:")
    assert lines[0] == "  bbb222-1-3  success-rate: Failed (error-ratio failed 2 times)"
    assert lines[1] == "    success-rate/error-ratio: Failed; last: 0.02, 0.3, 0.4  (2 ok, 2 failed, 0 inconclusive, 0 errors)"
    assert lines[2].startswith("    success-rate/latency: Running; last: no measurement yet")
    assert "Analysis runs:" not in render_rollout(as_object(world))  # absent from status: not shown


def event(name: str, reason: str, **times: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "creationTimestamp": times.pop("created", "2026-11-27T07:00:00Z")},
            "type": "Normal", "reason": reason, "message": f"{reason} happened", **times}


def test_events_are_ordered_by_event_time_not_by_name_or_list_order() -> None:
    listed = [  # as the API lists them: by name
        event("web.a", "Third", eventTime="2026-11-27T08:00:03.000001Z", lastTimestamp="2026-11-27T08:00:00Z"),
        event("web.b", "First", lastTimestamp="2026-11-27T08:00:01Z"),  # an older writer: no eventTime
        event("web.c", "Second", eventTime="2026-11-27T08:00:02.500000Z"),
        event("web.d", "Fourth", series={"lastObservedTime": "2026-11-27T08:00:09.000000Z", "count": 3},
              eventTime="2026-11-27T07:59:00.000000Z"),
        event("web.e", "Zeroth", created="2026-11-27T07:00:00Z"),  # no time but its creation
    ]
    lines = ordered_events(listed)
    assert [line.reason for line in lines] == ["Zeroth", "First", "Second", "Third", "Fourth"]
    assert lines[-1].count == 3
    text = render_rollout(Scene(rollout_object(manifest({"recreate": {}})), events=lines),
                          now=datetime(2026, 11, 27, 8, 1, 0, tzinfo=timezone.utc))
    rows = [row.split()[2] for row in section(text, "Events:")[1:]]
    assert rows == ["Zeroth", "First", "Second", "Third", "Fourth"]
    assert "Fourth happened (x3)" in text


def test_the_view_shows_only_the_last_ten_events() -> None:
    listed = [event(f"e{i:02}", f"R{i:02}", eventTime=f"2026-11-27T08:00:{i:02}.000000Z") for i in range(15)]
    text = render_rollout(Scene(rollout_object(manifest({"recreate": {}})), events=ordered_events(listed)))
    assert [row.split()[1] for row in section(text, "Events:")[1:]] == [f"R{i:02}" for i in range(5, 15)]


# --- the rest of the view --------------------------------------------------------------------------


def test_hand_written_status_with_weights_mirror_header_and_pending_command() -> None:
    spec = manifest({"shadow": {"mirrorPercent": 20, "duration": "1m", "trafficRouting": GATEWAY}})
    status = {
        "phase": "Progressing", "message": "step 2/7: waiting", "strategy": "shadow", "currentStepIndex": 2,
        "stepCount": 7, "stableRevision": "aaa111", "canaryRevision": "bbb222", "canaryWeight": 0, "stableWeight": 100,
        "mirrorPercent": 20, "headerRoute": True,
        "revisions": [{"name": "aaa111", "replicas": 4, "readyReplicas": 4, "weight": 100},
                      {"name": "bbb222", "replicas": 1, "readyReplicas": 0, "weight": 0}],
        "conditions": [{"type": "Ready", "status": "False", "reason": "Progressing", "message": "step 2/7",
                        "lastTransitionTime": "2026-11-27T08:00:00Z"}],
        "command": {"name": "pause", "id": "abc"}, "handledCommand": {"id": "old", "name": "promote"},
    }
    text = render_rollout(rollout_object(spec, status, generation=3))
    assert "Name:        shop/web" in text and "Strategy:    shadow" in text
    assert "mirror 20% to canary" in text and "header route to canary" in text
    assert "Command:     pause requested, not yet handled" in text
    assert "Generation:  3 (not yet observed)" in text
    revision_rows = [line.split() for line in section(text, "Revisions:")]
    assert ["aaa111", "stable", "4", "4", "100%", "-"] in revision_rows
    assert ["bbb222", "canary", "1", "0", "0%", "-"] in revision_rows
    current = [n for n, (mark, _) in stages(text).items() if mark == StageState.CURRENT.value]
    assert len(current) == 1


ROUTED = manifest({"abTesting": {"match": [{"headers": [{"name": "x-beta", "exact": "1"}]}], "trafficRouting": GATEWAY}})


def test_router_objects_and_what_they_hold_are_shown() -> None:
    status = {
        "phase": "Progressing", "strategy": "abTesting", "stableRevision": "aaa111", "canaryRevision": "bbb222",
        "canaryWeight": 30, "stableWeight": 70,
        "router": {"name": "gatewayAPI", "objects": ["HTTPRoute shop/web", "GRPCRoute shop/web-grpc"],
                   "canaryWeight": 20, "headerRoute": True, "mirrorPercent": 5},
    }
    lines = render_rollout(rollout_object(ROUTED, status)).splitlines()
    at = lines.index("Router:      gatewayAPI, read back: canary 20%, header route active, mirror 5%")
    assert lines[at + 1 : at + 3] == ["  HTTPRoute shop/web", "  GRPCRoute shop/web-grpc"]
    # The decided weights stay on their own line: a route that lags the decision is visible as such.
    assert "Traffic:     stable 70% / canary 30%" in lines
    status["router"] = {"name": "gatewayAPI", "objects": ["HTTPRoute shop/web"]}
    text = render_rollout(rollout_object(ROUTED, status))
    assert "Router:      gatewayAPI, read back: canary 0%, no header route, no mirror" in text


def test_a_rollout_without_router_or_digests_shows_neither() -> None:
    text = render_rollout(rollout_object(manifest({"recreate": {}}), {"phase": "Healthy", "stableRevision": "aaa111"}))
    assert "Router:" not in text and "Image digests:" not in text and "Serving:" not in text


def test_image_digests_of_the_new_revision_are_shown() -> None:
    digest = "sha256:" + "ab" * 32
    status = {"phase": "Progressing", "stableRevision": "aaa111", "canaryRevision": "bbb222",
              "images": [{"container": "web", "tag": "1.4.3", "digest": digest},
                         {"container": "sidecar", "digest": "sha256:" + "cd" * 32}]}
    rows = [row.split() for row in section(render_rollout(rollout_object(ROUTED, status)), "Image digests:")]
    assert rows == [["CONTAINER", "TAG", "DIGEST"], ["web", "1.4.3", digest], ["sidecar", "-", "sha256:" + "cd" * 32]]


def test_rollout_with_invalid_spec_still_renders_status() -> None:
    spec = manifest({"canary": {"steps": [{"setWeight": 500}]}})
    text = render_rollout(rollout_object(spec, {"phase": "Degraded", "message": "bad"}))
    assert "Phase:       Degraded" in text
    assert "spec.strategy.canary.steps[0].setWeight" in text


def test_rollout_without_status() -> None:
    text = render_rollout(rollout_object(manifest({"recreate": {}}), None))
    assert "Phase:       Pending" in text
    assert "scale stable to 0" in text
