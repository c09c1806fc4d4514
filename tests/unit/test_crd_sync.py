"""The committed CRDs are generated from the pydantic models; a stale file fails here (`make crds`)."""

from pathlib import Path

from shiftlane.api.crd import render_crds

ROOT = Path(__file__).resolve().parents[2]


def test_crd_sync_committed_file_is_not_stale() -> None:
    assert (ROOT / "crds/rollouts.shiftlane.io.yaml").read_text() == render_crds(), "run `make crds`"


def test_crd_sync_chart_copy_matches() -> None:
    assert (ROOT / "charts/shiftlane/files/crds/rollouts.shiftlane.io.yaml").read_text() == render_crds(), "run `make crds`"
