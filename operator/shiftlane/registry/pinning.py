"""The revision Deployment's pod template with images pinned to digests.

Applied after the revision hash is taken from the spec's template, so pinning (and the pull secret)
never changes a revision's name: the same spec keeps naming the same revision.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def pinned_template(template: dict[str, Any], images: Mapping[str, str], *, pull_secret: str | None = None) -> dict[str, Any]:
    """A copy of ``template`` whose containers and init containers named in ``images`` (container name
    to image, e.g. ``repo@sha256:…``) run those images, and that names ``pull_secret`` in its
    ``imagePullSecrets`` once."""
    pinned = copy.deepcopy(template)
    spec = pinned.setdefault("spec", {})
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if container.get("name") in images:
                container["image"] = images[container["name"]]
    if pull_secret:
        secrets = spec.setdefault("imagePullSecrets", [])
        if {"name": pull_secret} not in secrets:
            secrets.append({"name": pull_secret})
    return pinned
