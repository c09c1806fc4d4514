"""ingress-nginx: a generated `<ingress>-canary` Ingress, owned by the Rollout, that repeats the user's
paths to `<rollout>-stable` with the canary Service, and carries the canary annotations: `canary-weight`
for weights, `canary-by-header[-value|-pattern]` and `canary-by-cookie` for A/B. The user's Ingress is
only read. ingress-nginx routes a cookie match only for the value `always`, and cannot mirror.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client

from shiftlane.api.spec import NginxRouting, RequestMatch
from shiftlane.engine.model import RouterState, Traffic
from shiftlane.kube.labels import FIELD_MANAGER, ROLLOUT_LABEL, owner_reference
from shiftlane.traffic.alb import backend_service, ingress_ref
from shiftlane.traffic.matches import value_regex
from shiftlane.traffic.router import Backends, ObjectRef, RouteObjects, RouterError, Wanted, count, edited, missing, wanted

APPLY = "application/apply-patch+yaml"
# The suffixes of ingress-nginx's canary annotations Shiftlane owns on the generated Ingress.
MATCH_KEYS = ("canary-by-header", "canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie")


@dataclass(frozen=True)
class NginxRouter:
    user: ObjectRef
    canary: ObjectRef
    names: Backends
    prefix: str
    kind: str = "nginx"

    def objects(self) -> list[ObjectRef]:
        return [self.user, self.canary]

    def _key(self, suffix: str) -> str:
        return f"{self.prefix}/{suffix}"

    def _canary_paths(self, ingress: dict[str, Any]) -> list[dict[str, Any]]:
        rules = []
        for rule in (ingress.get("spec") or {}).get("rules") or []:
            paths = [p for p in (rule.get("http") or {}).get("paths") or [] if backend_service(p).get("name") == self.names.stable]
            if paths:
                for path in paths:
                    path["backend"]["service"]["name"] = self.names.canary
                rules.append({**rule, "http": {"paths": paths}})
        return rules

    def read(self, current: RouteObjects) -> RouterState:
        ingress = current.get(self.user)
        if ingress is None:
            return missing(self.user)
        if not self._canary_paths(edited(ingress)):
            return RouterState(0, False, 0, (f"{self.user} has no path to Service {self.names.stable}",))
        canary = current.get(self.canary)
        if canary is None:
            return RouterState(0, False, 0)
        annotations = canary["metadata"].get("annotations") or {}
        weight = int(annotations.get(self._key("canary-weight"), "0"))
        return RouterState(weight, any(self._key(k) in annotations for k in MATCH_KEYS), 0)

    def _match_annotations(self, matches: tuple[RequestMatch, ...]) -> dict[str, str]:
        if not matches:
            return {}
        request = matches[0]
        headers, cookies = request.headers or [], request.cookies or []
        if len(matches) > 1 or len(headers) > 1 or len(cookies) > 1 or request.query_params:
            raise RouterError("ingress-nginx matches one header and one cookie, in one match, and no query parameters")
        annotations = {}
        if headers:
            header = headers[0]
            annotations[self._key("canary-by-header")] = header.name
            if header.exact is not None:
                annotations[self._key("canary-by-header-value")] = header.exact
            else:
                annotations[self._key("canary-by-header-pattern")] = value_regex(header)
        if cookies:
            if cookies[0].exact != "always":
                raise RouterError("ingress-nginx sends a request to the canary by cookie only when its value is `always`")
            annotations[self._key("canary-by-cookie")] = cookies[0].name
        return annotations

    def translate(self, current: RouteObjects, want: Wanted, rollout: dict[str, Any]) -> dict[ObjectRef, dict[str, Any]]:
        """The canary Ingress as Shiftlane applies it; nothing while the user's Ingress is missing."""
        ingress = current.get(self.user)
        if ingress is None:
            return {}
        spec: dict[str, Any] = {"rules": self._canary_paths(edited(ingress))}
        if "ingressClassName" in (ingress.get("spec") or {}):
            spec["ingressClassName"] = ingress["spec"]["ingressClassName"]
        annotations = {self._key("canary"): "true", self._key("canary-weight"): str(want.canary_weight), **self._match_annotations(want.matches)}
        return {
            self.canary: {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {
                    "name": self.canary.name,
                    "namespace": self.canary.namespace,
                    "labels": {ROLLOUT_LABEL: self.names.rollout},
                    "annotations": annotations,
                    "ownerReferences": [owner_reference(rollout)],
                },
                "spec": spec,
            }
        }

    def _holds(self, observed: dict[str, Any] | None, manifest: dict[str, Any]) -> bool:
        """Whether the Ingress already has what Shiftlane applies (other field managers may add more)."""
        if observed is None:
            return False
        have = observed["metadata"].get("annotations") or {}
        want = manifest["metadata"]["annotations"]
        keys = [self._key(k) for k in ("canary", "canary-weight", *MATCH_KEYS)]
        spec = observed.get("spec") or {}
        return (
            all(have.get(k) == want.get(k) for k in keys)
            and spec.get("rules") == manifest["spec"]["rules"]
            and spec.get("ingressClassName") == manifest["spec"].get("ingressClassName")
        )

    async def apply(self, api: client.ApiClient, current: RouteObjects, rollout: dict[str, Any], stable: str, canary: str | None,
                    traffic: Traffic) -> None:
        manifest = self.translate(current, wanted(stable, canary, traffic), rollout).get(self.canary)
        if manifest is None:
            count(self.kind, "missing")  # the user's Ingress: there is nothing to copy the paths from
            return
        if self._holds(current.get(self.canary), manifest):
            count(self.kind, "unchanged")
            return
        try:
            await client.NetworkingV1Api(api).patch_namespaced_ingress(
                self.canary.name, self.canary.namespace, manifest, field_manager=FIELD_MANAGER, force=True, _content_type=APPLY
            )
        except client.ApiException:
            count(self.kind, "refused")
            raise
        count(self.kind, "written")


def nginx_router(routing: NginxRouting, namespace: str, names: Backends) -> NginxRouter:
    return NginxRouter(
        ingress_ref(namespace, routing.ingress), ingress_ref(namespace, f"{routing.ingress}-canary"), names, routing.annotation_prefix
    )
