"""The Gateway API router's translation, on golden files (tests/unit/golden/routers/gatewayAPI)."""

from __future__ import annotations

import pytest

from tests.unit.routers_golden import Case, cases


@pytest.mark.parametrize("folder", cases("gatewayAPI"), ids=lambda p: p.name)
def test_golden(folder) -> None:
    Case(folder).run()
