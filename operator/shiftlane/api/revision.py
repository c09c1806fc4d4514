"""A revision's name: a short, stable hash of the pod template, as Deployments name ReplicaSets."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def revision_of(template: dict[str, Any]) -> str:
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]
