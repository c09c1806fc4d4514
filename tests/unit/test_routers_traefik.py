"""The traefik router's translation, on golden files (tests/unit/golden/routers/traefik)."""

from __future__ import annotations

import pytest

from tests.unit.routers_golden import Case, cases


@pytest.mark.parametrize("folder", cases("traefik"), ids=lambda p: p.name)
def test_golden(folder) -> None:
    Case(folder).run()
