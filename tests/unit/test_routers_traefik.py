"""The traefik router's translation, on golden files (tests/unit/golden/routers/traefik)."""

from __future__ import annotations

import pytest

from shiftlane.api.spec import TraefikRouting
from shiftlane.traffic.router import Backends, Wanted, patch_ops
from shiftlane.traffic.traefik import traefik_router
from tests.unit.routers_golden import Case, cases


@pytest.mark.parametrize("folder", cases("traefik"), ids=lambda p: p.name)
def test_golden(folder) -> None:
    Case(folder).run()


def test_a_shadow_gives_back_the_users_weighted_as_it_was() -> None:
    router = traefik_router(TraefikRouting(traefik_service="checkout"), "shop", Backends("checkout"))
    managed = router.managed[0]
    weighted = {
        "services": [
            {"name": "checkout-stable", "port": 8080, "weight": 90},
            {"name": "checkout-canary", "port": 8080, "weight": 0},
            {"name": "legacy", "port": 80, "weight": 10},
        ],
        "sticky": {"cookie": {"name": "lb"}},
    }
    user = {"metadata": {"name": "checkout", "namespace": "shop", "resourceVersion": "7"}, "spec": {"weighted": weighted}}
    mirroring = managed.edit(user, Wanted(mirror_percent=30))
    assert "weighted" not in mirroring["spec"] and mirroring["spec"]["mirroring"]["mirrors"][0]["percent"] == 30
    # The first annotation of an object without any is written with its parent.
    assert patch_ops(user, mirroring, managed.paths)[-1]["path"] == "/metadata/annotations"
    ended = managed.edit(mirroring, Wanted())
    assert "mirroring" not in ended["spec"]
    assert ended["spec"]["weighted"]["sticky"] == {"cookie": {"name": "lb"}}
    assert {"name": "legacy", "port": 80, "weight": 10} in ended["spec"]["weighted"]["services"]
    assert "shiftlane.io/weighted" not in ended["metadata"]["annotations"]
