"""The committed CRDs are generated from the pydantic models; a stale file fails here (`make crds`)."""

from pathlib import Path

import pytest

from shiftlane.api.crd import render_crds

ROOT = Path(__file__).resolve().parents[2]
PLURALS = ["rollouts", "analysistemplates", "clusteranalysistemplates"]


@pytest.mark.parametrize("plural", PLURALS)
def test_crd_sync_committed_file_is_not_stale(plural: str) -> None:
    assert (ROOT / "crds" / f"{plural}.shiftlane.io.yaml").read_text() == render_crds(plural), "run `make crds`"


@pytest.mark.parametrize("plural", PLURALS)
def test_crd_sync_chart_copy_matches(plural: str) -> None:
    assert (ROOT / "charts/shiftlane/files/crds" / f"{plural}.shiftlane.io.yaml").read_text() == render_crds(plural), "run `make crds`"
