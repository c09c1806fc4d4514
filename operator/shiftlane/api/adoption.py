"""Moving in: ``spec.workloadRef`` (run a Deployment's pod template and scale that Deployment down) and
``spec.services`` (use Services a team already has, under their own names)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from shiftlane.api.base import Model, rule

# A DNS-1123 subdomain, as Kubernetes names Deployments; Services are DNS-1035 labels.
DEPLOYMENT_NAME = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
SERVICE_NAME = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$")]

# never: the Deployment is left as it is (scale it down yourself); onSuccess: to zero once the first
# revision has all its pods available; progressively: it shrinks as the revision's available pods grow.
ScaleDownMode = Literal["never", "onSuccess", "progressively"]


class WorkloadRef(Model):
    """An apps/v1 Deployment whose pod template (and selector, when the Rollout has none) the Rollout runs."""

    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["Deployment"] = "Deployment"
    name: DEPLOYMENT_NAME
    """The Deployment's name, in the Rollout's namespace."""
    scale_down: ScaleDownMode = "progressively"
    """How the Deployment leaves: never, onSuccess (once the first revision is complete) or progressively (as its pods become ready)."""


# spec.services key -> the Service suffix it replaces (kube/labels.py SERVICE_SUFFIXES).
SERVICE_ROLES = {"active": "", "stable": "stable", "canary": "canary"}


class ServiceNames(Model):
    """Existing Services to use instead of creating `<rollout>`, `<rollout>-stable`, `<rollout>-canary`."""

    # Shiftlane only sets the `shiftlane.io/revision` key of a named Service's selector: it never
    # creates, deletes or otherwise edits one.

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                rule(
                    " && ".join(
                        f"!(has(self.{a}) && has(self.{b}) && self.{a} == self.{b})"
                        for a, b in (("active", "stable"), ("active", "canary"), ("stable", "canary"))
                    ),
                    "active, stable and canary must name different Services: each selects its own revision",
                )
            ]
        }
    )
    active: SERVICE_NAME | None = None
    """What clients use, instead of `<rollout>`; blue/green's active Service."""
    stable: SERVICE_NAME | None = None
    """The stable backend routers weight, instead of `<rollout>-stable`."""
    canary: SERVICE_NAME | None = None
    """The canary backend (blue/green's preview), instead of `<rollout>-canary`."""

