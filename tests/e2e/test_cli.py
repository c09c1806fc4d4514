"""`kubectl shiftlane get / status / list` against the running operator: the user's steps as the real
interpreter walks them (a step `promote` skipped, from the operator's own events), the pods of each
revision, which image serves after an abort, and exit codes a CI pipeline can act on."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.e2e.helpers import BIN, IMAGE_V1, IMAGE_V2, Namespace, rollout_manifest

pytestmark = pytest.mark.e2e

STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]


def plugin(ns: Namespace, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "kubectl-shiftlane"), *args, "-n", ns.name], capture_output=True, text=True,
                          timeout=timeout)


def steps_of(text: str) -> dict[int, str]:
    """user step number -> its mark, from the Steps section of `get`."""
    marks = {}
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Steps"))
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        match = re.match(r"^  (\S)?\s*(\d+)  ", line)
        if match:
            marks[int(match.group(2))] = match.group(1) or ""
    return marks


def test_get_status_and_list_follow_a_canary(ns: Namespace) -> None:
    name = "cli"
    ns.apply(rollout_manifest(name, {"canary": {"steps": STEPS}}, replicas=4))
    old = ns.wait_phase(name, "Healthy", 30)["stableRevision"]
    assert plugin(ns, "status", name, "--timeout", "30s").returncode == 0

    ns.set_image(name, IMAGE_V2)
    new = ns.wait_new_revision(name, old)
    ns.wait_phase(name, "Paused", 30, currentStepIndex=2)
    ns.wait_replicas(name, {new: 1, old: 3})

    waiting = plugin(ns, "status", name, "--timeout", "2s")
    assert waiting.returncode == 3, waiting.stderr
    assert "not Healthy within 2s: Paused step 2/5" in waiting.stderr

    listed = plugin(ns, "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line.split() for line in listed.stdout.splitlines() if line.startswith(name + " "))
    assert row[:6] == [name, "canary", "Paused", "2/5", "25%", "4/4"]

    got = plugin(ns, "get", name)
    assert got.returncode == 0, got.stderr
    assert "Steps (2/5):" in got.stdout and steps_of(got.stdout) == {1: "✔", 2: "▶", 3: "", 4: "", 5: ""}
    rows = [line.split() for line in got.stdout.splitlines() if line.startswith(("  " + old, "  " + new))]
    revisions = {row[0]: row for row in rows if row[1] in ("stable", "canary")}  # the Revisions table, not Pods
    assert revisions[old][1] == "stable" and revisions[old][-1] == f"app={IMAGE_V1}"
    assert revisions[new][1] == "canary" and revisions[new][-1] == f"app={IMAGE_V2}"
    pods = [line.split() for line in got.stdout.splitlines() if re.match(rf"^  ({old}|{new})  {name}-", line)]
    assert sorted(p[0] for p in pods) == sorted([old] * 3 + [new])
    assert all(p[2] == "yes" and p[3] == "Running" for p in pods)  # ready, with an age in the last column
    assert "Events:" in got.stdout

    plugin(ns, "promote", name)  # the manual pause is skipped; on to setWeight 50 and the next pause
    ns.wait_phase(name, "Paused", 30, currentStepIndex=5)
    got = plugin(ns, "get", name).stdout
    assert steps_of(got) == {1: "✔", 2: "↷", 3: "✔", 4: "▶", 5: ""}
    assert "2  pause until promoted  (skipped by promote)" in got

    plugin(ns, "promote", name, "--full")
    finished = plugin(ns, "status", name, "--timeout", "60s")
    assert finished.returncode == 0, finished.stderr
    assert f"rollout {ns.name}/{name}: Healthy" in finished.stdout.splitlines()[-1]


def test_after_an_abort_get_says_which_image_serves_and_status_fails(ns: Namespace) -> None:
    name = "cli-abort"
    ns.apply(rollout_manifest(name, {"canary": {"steps": STEPS}}, replicas=4))
    old = ns.wait_phase(name, "Healthy", 30)["stableRevision"]
    ns.set_image(name, IMAGE_V2)
    new = ns.wait_new_revision(name, old)
    ns.wait_phase(name, "Paused", 30, currentStepIndex=2)
    plugin(ns, "abort", name)
    ns.wait_phase(name, "Aborted", 15)
    ns.wait_status(name, lambda s: s["canaryWeight"] == 0, 15, "no traffic to the aborted revision")

    got = plugin(ns, "get", name).stdout
    assert f"Serving:     {old} (stable): app={IMAGE_V1}; aborted {new} (app={IMAGE_V2}) gets no traffic" in got
    assert steps_of(got)[2] == "✖"
    failed = plugin(ns, "status", name, "--timeout", "10s")
    assert failed.returncode == 1
    assert failed.stderr.startswith(f"error: rollout {ns.name}/{name} is Aborted")
