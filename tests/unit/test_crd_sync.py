"""The committed CRDs are generated from the pydantic models; a stale file fails here (`make crds`)."""

from pathlib import Path

import pytest

from shiftlane.api.crd import render_crds

ROOT = Path(__file__).resolve().parents[2]
FILES = {"rollout": "rollouts.shiftlane.io.yaml", "analysis": "analysistemplates.shiftlane.io.yaml"}


@pytest.mark.parametrize("which", FILES)
def test_crd_sync_committed_file_is_not_stale(which: str) -> None:
    assert (ROOT / "crds" / FILES[which]).read_text() == render_crds(which), "run `make crds`"


@pytest.mark.parametrize("which", FILES)
def test_crd_sync_chart_copy_matches(which: str) -> None:
    assert (ROOT / "charts/shiftlane/crds" / FILES[which]).read_text() == render_crds(which), "run `make crds`"
