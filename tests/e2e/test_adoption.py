"""Moving in: a Deployment serving real requests is adopted by a Rollout with no moment of fewer ready
pods than wanted, and a Rollout that names an existing Service keeps serving through it.

Requests go through the local control plane's Gateway (Traefik) to the user's own Service; ready pods
are sampled from a watch on every Deployment of the namespace, so no moment between two polls is missed.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from tests.e2e.helpers import (
    GROUP_RESOURCE, IMAGE_V1, IMAGE_V2, REVISION_LABEL, ListWatch, Namespace, rollout_manifest, wait_for,
)
from tests.e2e.test_traffic_real import Traffic, host_of, http_route
from tests.harness.traffic import Reply, by_revision, send, statuses, until_routed

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PORT = 8080
REPLICAS = 4


class ReadyPods(ListWatch):
    """Deployment name -> ready pods, after each change of any Deployment in the namespace."""

    resource = "deployments"

    def entry(self, obj: dict[str, Any]) -> tuple[str, Any] | None:
        return obj["metadata"]["name"], (obj.get("status") or {}).get("readyReplicas", 0)

    def totals(self) -> list[int]:
        return [sum(state.values()) for state in self.states()]


def user_deployment(name: str, image: str = IMAGE_V1) -> dict[str, Any]:
    """The team's own Deployment: the pod template a Rollout without `workloadRef` would carry."""
    template = rollout_manifest(name, {"recreate": {}}, image=image)["spec"]["template"]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": name}}, "template": template}}


def user_service(name: str, app: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "annotations": {"team": "shop"}},
            "spec": {"selector": {"app": app}, "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]}}


def all_answered(replies: list[Reply]) -> bool:
    return bool(replies) and statuses(replies) == {200: len(replies)}


def wait_workload_ready(ns: Namespace, name: str) -> None:
    wait_for(lambda: (ns.json("get", "deployment", name).get("status") or {}).get("readyReplicas") == REPLICAS,
             60, f"Deployment {name} to have {REPLICAS} ready pods")


ADOPTIONS = [
    pytest.param("progressively", {"canary": {"steps": [{"setWeight": 50}, {"pause": {}}]}}, False, id="progressively-canary"),
    pytest.param("onSuccess", {"blueGreen": {"autoPromotionEnabled": False}}, True, id="onSuccess-blueGreen-named-service"),
]


@pytest.mark.parametrize(("scale_down", "strategy", "named"), ADOPTIONS)
def test_a_deployment_serving_requests_is_adopted_without_a_moment_of_fewer_ready_pods(
    ns: Namespace, scale_down: str, strategy: dict[str, Any], named: bool
) -> None:
    workload = "web"
    host = host_of(ns, workload)
    for obj in (user_deployment(workload), user_service(workload, workload), http_route(ns, workload, {"name": workload, "port": PORT})):
        ns.apply(obj)
    wait_workload_ready(ns, workload)
    until_routed(host, all_answered)

    # Under the Deployment's name the Rollout must name the user's Service `web`: otherwise it would
    # want a Service of its own by that name (ObjectConflict).
    name = workload if named else "web-rollout"
    rollout = rollout_manifest(name, strategy, replicas=REPLICAS)
    del rollout["spec"]["template"], rollout["spec"]["selector"]
    rollout["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": workload, "scaleDown": scale_down}
    if named:
        rollout["spec"]["services"] = {"active": workload}
    with ReadyPods(ns.name, None) as ready:
        ready.wait_started()
        traffic = Traffic(host)
        traffic.start()
        wait_for(lambda: len(traffic.batches) >= 3, 20, "requests before the Rollout")
        ns.apply(rollout)
        status = ns.wait_status(name, lambda s: (s.get("workload") or {}).get("adopted") and s.get("phase") == "Healthy",
                                90, "the Deployment adopted")
        until_routed(host, lambda replies: set(by_revision(replies)) == {status["stableRevision"]})
        traffic.stop.set()
        traffic.join(30)
    totals = ready.totals()

    replies = traffic.replies()
    assert all_answered(replies), f"requests failed while adopting: {statuses(replies)}"
    assert min(totals) >= REPLICAS, f"ready pods fell to {min(totals)} while adopting: {totals}"
    served = by_revision(replies)
    assert served[""] > 0 and served[status["stableRevision"]] > 0, served  # the Deployment's pods, then the revision's
    deployment = ns.json("get", "deployment", workload)
    assert deployment["spec"]["replicas"] == 0 and deployment["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE_V1
    assert ns.selector(workload) == {"app": workload, **({REVISION_LABEL: status["stableRevision"]} if named else {})}
    print(f"adoption ({scale_down}): {len(replies)} requests, all 200, by revision {dict(served)};"
          f" fewest ready pods {min(totals)} over {len(totals)} watch events")

    # The Deployment's next template is a rollout by the Rollout's strategy, requests answered throughout.
    old = status["stableRevision"]
    traffic = Traffic(host)
    traffic.start()
    ns.kubectl("set", "image", f"deployment/{workload}", f"app={IMAGE_V2}")
    new = ns.wait_phase(name, "Paused", 60)["canaryRevision"]
    assert new not in (None, old)
    ns.plugin("promote", name)
    ns.wait_phase(name, "Healthy", 90, stableRevision=new)
    until_routed(host, lambda replies: set(by_revision(replies)) == {new})
    traffic.stop.set()
    traffic.join(30)
    assert all_answered(traffic.replies()), statuses(traffic.replies())
    assert ns.json("get", "deployment", workload)["spec"]["replicas"] == 0


def test_a_rollout_naming_an_existing_service_keeps_serving_through_it(ns: Namespace) -> None:
    name, service = "shop", "front"
    host = host_of(ns, service)
    ns.apply(user_service(service, name))
    ns.apply(http_route(ns, service, {"name": service, "port": PORT}))
    rollout = rollout_manifest(name, {"blueGreen": {"autoPromotionEnabled": False}}, replicas=REPLICAS)
    rollout["spec"]["services"] = {"active": service}
    ns.apply(rollout)
    old = ns.wait_phase(name, "Healthy", 60)["stableRevision"]
    until_routed(host, lambda replies: set(by_revision(replies)) == {old})

    traffic = Traffic(host)
    traffic.start()
    ns.set_image(name, IMAGE_V2)
    new = ns.wait_phase(name, "Paused", 60)["canaryRevision"]
    ns.wait_replicas(name, {new: REPLICAS})
    preview = send(200, host)
    assert by_revision(preview) == {old: 200}, f"the preview answered clients: {statuses(preview)}"
    ns.plugin("promote", name)
    ns.wait_phase(name, "Healthy", 90, stableRevision=new)
    until_routed(host, lambda replies: set(by_revision(replies)) == {new})
    traffic.stop.set()
    traffic.join(30)

    replies = traffic.replies()
    assert all_answered(replies), f"requests failed through {service}: {statuses(replies)}"
    served: Counter = by_revision(replies)
    assert set(served) == {old, new}, served
    front = ns.json("get", "service", service)
    assert front["spec"]["selector"] == {"app": name, REVISION_LABEL: new}
    assert front["spec"]["ports"][0]["port"] == PORT and front["metadata"]["annotations"]["team"] == "shop"
    assert not front["metadata"].get("ownerReferences")
    assert ns.kubectl("get", "service", name, check=False).returncode != 0  # no `<rollout>` Service of its own
    ns.kubectl("delete", GROUP_RESOURCE, name)
    wait_for(lambda: ns.kubectl("get", "deployments", "-o", "name").stdout.strip() == "", 60, "the revisions to go")
    assert ns.json("get", "service", service)["metadata"]["name"] == service  # the user's Service stays
    print(f"named Service: {len(replies)} requests through {service}, all 200, by revision {dict(served)}")
