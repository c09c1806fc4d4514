"""The package never shadows the standard library's `operator` module, from the tree or a wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_operator_and_shiftlane_import_together_from_the_repo_root() -> None:
    code = "import operator, shiftlane; assert operator.itemgetter, operator.__file__"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_wheel_holds_only_the_shiftlane_package(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    wheel = next(tmp_path.glob("shiftlane-*.whl"))
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert "shiftlane" in tops
    assert not {t for t in tops if t.startswith("operator")}, tops
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt")))
    assert b"kubectl-shiftlane = shiftlane.cli.plugin:main" in entry_points
    assert b"shiftlane = shiftlane.cli.main:main" in entry_points
