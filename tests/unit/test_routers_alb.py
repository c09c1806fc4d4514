"""The alb router's translation, on golden files (tests/unit/golden/routers/alb)."""

from __future__ import annotations

import pytest

from tests.unit.routers_golden import Case, cases


@pytest.mark.parametrize("folder", cases("alb"), ids=lambda p: p.name)
def test_golden(folder) -> None:
    Case(folder).run()
