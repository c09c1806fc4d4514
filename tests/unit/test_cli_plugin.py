"""`kubectl shiftlane` against a stand-in kubectl that records its arguments: what is sent, and how errors read.

The real API server round trip is in tests/integration/test_plugin.py.
"""

from __future__ import annotations

import json
import re
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from shiftlane.cli.kubectl import Kubectl, error_text, iter_json_objects
from shiftlane.cli.plugin import UsageError, image_patch, main, parse_assignments
from tests.unit.world import manifest

FAKE = '''#!{python}
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
obj = json.load(open(os.environ["FAKE_OBJECT"]))
if "deployments,pods" in args:
    print(json.dumps({{"kind": "List", "items": []}}))
    sys.exit(0)
if "events" in args:
    print(json.dumps({{"kind": "List", "items": json.load(open(os.environ["FAKE_EVENTS"]))}}))
    sys.exit(0)
if "deployments" in args:  # version: the operator's Deployment
    print(json.dumps({{"kind": "List", "items": [{{"metadata": {{"namespace": "shiftlane-system", "name": "shiftlane"}},
          "spec": {{"template": {{"spec": {{"containers": [{{"name": "operator", "image": "shiftlane:0.1.0"}}]}}}}}}}}]}}))
    sys.exit(0)
valued = {{"-o", "-p", "-l", "--field-selector"}}
words = [a for i, a in enumerate(args) if not a.startswith("-") and args[i - 1] not in valued]
name = words[2] if len(words) > 2 else None
if name is None and "--watch" not in args:  # list
    print(json.dumps({{"kind": "List", "items": [obj]}}))
    sys.exit(0)
if name != obj["metadata"]["name"]:
    print('Error from server (NotFound): rollouts.shiftlane.io "%s" not found' % name, file=sys.stderr)
    sys.exit(1)
if "--watch" in args:
    # the last change is one no user sees (a new resourceVersion only)
    for i, phase in enumerate(os.environ.get("FAKE_PHASES", "Progressing,Healthy,Healthy").split(",")):
        obj["metadata"]["resourceVersion"] = str(100 + i)
        obj["status"]["phase"] = phase
        print(json.dumps({{"type": "MODIFIED", "object": obj}}, indent=4))
        sys.stdout.flush()
    if os.environ.get("FAKE_DELETE", "1") == "1":
        print(json.dumps({{"type": "DELETED", "object": obj}}, indent=4))
    sys.exit(0)
print(json.dumps(obj))
'''


def rollout() -> dict[str, Any]:
    spec = manifest({"canary": {"steps": [{"setWeight": 25}, {"pause": {}}]}})
    spec["template"]["spec"]["containers"].append({"name": "sidecar", "image": "proxy:1"})
    return {
        "apiVersion": "shiftlane.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop", "generation": 1, "resourceVersion": "1", "uid": "u-1"},
        "spec": spec,
        "status": {"phase": "Healthy", "stableRevision": "aaa", "observedGeneration": 1},
    }


@pytest.fixture
def fake_kubectl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "kubectl"
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "object.json").write_text(json.dumps(rollout()))
    (tmp_path / "events.json").write_text(json.dumps([
        {"metadata": {"name": "web.b"}, "reason": "Later", "message": "b", "eventTime": "2026-11-27T08:00:02.000000Z"},
        {"metadata": {"name": "web.a"}, "reason": "Sooner", "message": "a", "eventTime": "2026-11-27T08:00:01.000000Z"},
    ]))
    monkeypatch.setenv("FAKE_EVENTS", str(tmp_path / "events.json"))
    log = tmp_path / "log"
    monkeypatch.setenv("KUBECTL", str(script))
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_OBJECT", str(tmp_path / "object.json"))
    return log


def calls(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def patch_body(call: list[str]) -> Any:
    return json.loads(call[call.index("-p") + 1])


@pytest.mark.parametrize(
    "argv, name",
    [
        (["promote", "web"], "promote"),
        (["promote", "web", "--full"], "promoteFull"),
        (["abort", "web"], "abort"),
        (["retry", "web"], "retry"),
        (["pause", "web"], "pause"),
        (["resume", "web"], "resume"),
        (["undo", "web"], "undo"),
    ],
)
def test_commands_patch_status_only(fake_kubectl: Path, capsys: pytest.CaptureFixture[str], argv: list[str], name: str) -> None:
    assert main([*argv, "-n", "shop"]) == 0
    patch = calls(fake_kubectl)[-1]
    assert "--namespace=shop" in patch
    assert "patch" in patch and "rollouts.shiftlane.io" in patch and "web" in patch
    assert "--subresource=status" in patch and "--type=merge" in patch
    command = patch_body(patch)["status"]["command"]
    assert command["name"] == name
    assert len(command["id"]) == 32 and int(command["id"], 16) >= 0
    assert "revision" not in command
    out = capsys.readouterr().out
    assert out.startswith("rollout shop/web: ") and "requested" in out


def test_each_command_gets_a_fresh_id(fake_kubectl: Path) -> None:
    main(["promote", "web"])
    main(["promote", "web"])
    ids = [patch_body(c)["status"]["command"]["id"] for c in calls(fake_kubectl) if "patch" in c]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_undo_to_revision(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["undo", "web", "--to-revision", "abc123"]) == 0
    command = patch_body(calls(fake_kubectl)[-1])["status"]["command"]
    assert command["name"] == "undo" and command["revision"] == "abc123"
    assert "undo to revision abc123 requested" in capsys.readouterr().out


def test_connection_flags_before_or_after_the_subcommand(fake_kubectl: Path) -> None:
    main(["-n", "a", "--context", "ctx", "pause", "web"])
    assert {"--namespace=a", "--context=ctx"} <= set(calls(fake_kubectl)[-1])
    main(["--context", "ctx", "pause", "web", "--namespace", "b", "--kubeconfig", "/k"])
    assert {"--namespace=b", "--context=ctx", "--kubeconfig=/k"} <= set(calls(fake_kubectl)[-1])


def test_missing_rollout_is_a_clear_error(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["promote", "nope", "-n", "shop"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == 'error: rollout "nope" not found in namespace "shop"'
    assert not any("patch" in c for c in calls(fake_kubectl))
    assert main(["get", "nope"]) == 1
    assert 'rollout "nope" not found' in capsys.readouterr().err


def test_set_image_patches_by_index(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["set", "image", "web", "sidecar=proxy:2", "web=app:9", "-n", "shop"]) == 0
    patch = calls(fake_kubectl)[-1]
    assert "--type=json" in patch and "--subresource=status" not in " ".join(patch)
    ops = patch_body(patch)
    assert {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "proxy:2"} in ops
    assert {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "app:9"} in ops
    assert {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "sidecar"} in ops
    assert "rollout shop/web: image updated (sidecar=proxy:2, web=app:9)" in capsys.readouterr().out


def test_set_image_unknown_container(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["set", "image", "web", "nope=x:1"]) == 2
    assert "unknown container nope (containers: web, sidecar)" in capsys.readouterr().err
    assert not any("patch" in c for c in calls(fake_kubectl))


def test_set_image_bad_assignment(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["set", "image", "web", "justanimage"]) == 2
    assert "expected CONTAINER=IMAGE" in capsys.readouterr().err


def test_get_renders(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "web"]) == 0
    out = capsys.readouterr().out
    assert "Name:        shop/web" in out and "Phase:       Healthy" in out and "Steps:" in out
    assert "\033[" not in out  # no screen clearing when stdout is not a terminal


def test_get_shows_events_in_event_time_order(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "web"]) == 0
    out = capsys.readouterr().out
    assert out.index("Sooner") < out.index("Later")
    events = [c for c in calls(fake_kubectl) if "events" in c][-1]
    assert "involvedObject.uid=u-1" in events and "--namespace=shop" in events


def test_get_watch_prints_each_visible_change_with_the_time_until_deleted(
        fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "web", "--watch", "--interval", "0.2"]) == 1
    out = capsys.readouterr().out
    # the first get, then Progressing, then Healthy; the last event changed nothing a user sees
    assert out.count("Name:        shop/web") == 3
    assert len(re.findall(r"^Time:        \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}$", out, re.MULTILINE)) == 3
    phases = re.findall(r"^Phase:       (\w+)$", out, re.MULTILINE)
    assert phases == ["Healthy", "Progressing", "Healthy"]
    assert re.search(r"\d\d:\d\d:\d\d [+-]\d{4} rollout shop/web deleted$", out.rstrip())
    watch = next(c for c in calls(fake_kubectl) if "--watch" in c)
    assert {"--watch", "--output-watch-events", "json"} <= set(watch)


def test_plan_from_cluster(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "web"]) == 0
    assert "Rollout shop/web: strategy canary" in capsys.readouterr().out


def test_missing_kubectl(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KUBECTL", "/nonexistent/kubectl")
    assert main(["get", "web"]) == 1
    assert "not found on PATH" in capsys.readouterr().err


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["promote"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        main(["frobnicate", "web"])
    assert exit_.value.code == 2


def set_object(fake_kubectl: Path, **status: Any) -> None:
    path = fake_kubectl.parent / "object.json"
    obj = json.loads(path.read_text())
    obj["status"].update(status)
    path.write_text(json.dumps(obj))


def test_status_exits_0_once_healthy(fake_kubectl: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    set_object(fake_kubectl, phase="Progressing", message="step 1/4: waiting for canary")
    monkeypatch.setenv("FAKE_DELETE", "0")
    assert main(["status", "web", "--timeout", "30s"]) == 0
    out = capsys.readouterr().out.splitlines()
    # one line per change a user sees, each stamped (the watch's first Progressing repeats the get)
    assert [line.split(" ", 3)[3] for line in out] == [
        "rollout shop/web: Progressing: step 1/4: waiting for canary", "rollout shop/web: Healthy: step 1/4: waiting for canary"]
    assert all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} ", line) for line in out)


@pytest.mark.parametrize("phase", ["Degraded", "Aborted"])
def test_status_exits_1_when_degraded_or_aborted(fake_kubectl: Path, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, phase: str) -> None:
    set_object(fake_kubectl, phase="Progressing")
    monkeypatch.setenv("FAKE_PHASES", f"Progressing,{phase}")
    monkeypatch.setenv("FAKE_DELETE", "0")
    assert main(["status", "web", "--timeout", "30s"]) == 1
    assert capsys.readouterr().err == f"error: rollout shop/web is {phase}\n"


def test_status_times_out_with_exit_3(fake_kubectl: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    set_object(fake_kubectl, phase="Paused", message="step 2/4: paused until promoted")
    monkeypatch.setenv("FAKE_PHASES", "Paused")
    monkeypatch.setenv("FAKE_DELETE", "0")
    assert main(["status", "web", "--timeout", "1500ms"]) == 3
    err = capsys.readouterr().err
    assert err == "error: rollout shop/web not Healthy within 1500ms: Paused: step 2/4: paused until promoted\n"


def test_status_waits_for_the_operator_to_observe_the_spec(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_object(fake_kubectl, observedGeneration=0)  # Healthy, but for the spec before the last change
    assert main(["status", "web", "--no-wait"]) == 3
    assert "waiting for the operator to observe generation 1" in capsys.readouterr().out


def test_status_rejects_a_bad_timeout(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["status", "web", "--timeout", "ten minutes"])
    assert exit_.value.code == 2
    assert "--timeout must be a duration such as 90s, 10m or 1h" in capsys.readouterr().err


def test_list_shows_phase_step_and_weight(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "-n", "shop"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "STRATEGY", "PHASE", "STEP", "CANARY", "WEIGHT", "READY", "AGE"]
    assert lines[1].split()[:5] == ["web", "canary", "Healthy", "-", "-"]
    assert main(["list", "-A"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:2] == ["shop", "web"]
    assert "--all-namespaces" in calls(fake_kubectl)[-1]


def test_version(fake_kubectl: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Client:   kubectl-shiftlane 0.1")
    assert out[1] == "Operator: shiftlane-system/shiftlane: shiftlane:0.1.0"
    before = len(calls(fake_kubectl))
    assert main(["version", "--client"]) == 0
    assert len(calls(fake_kubectl)) == before  # the client alone asks no cluster


def test_version_without_a_cluster_still_prints_the_client(monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("KUBECTL", "/nonexistent/kubectl")
    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert "Client:   kubectl-shiftlane" in out and "Operator: not reachable" in out


# --- pieces ---------------------------------------------------------------------------------


def test_iter_json_objects_handles_pretty_printed_stream_in_pieces() -> None:
    events = [{"type": "ADDED", "object": {"a": "}{"}}, {"type": "MODIFIED", "object": {"b": [1, 2]}}]
    text = "".join(json.dumps(e, indent=4) + "\n" for e in events)
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
    assert list(iter_json_objects(pieces)) == events
    assert list(iter_json_objects(text.splitlines(keepends=True))) == events
    assert list(iter_json_objects([json.dumps(events[0]) + json.dumps(events[1]) + "\n"])) == events


def test_error_text_drops_klog_noise() -> None:
    stderr = (
        'E1126 18:05:43.733439   19981 memcache.go:265] "Unhandled Error" err="couldn\'t get"\n'
        "The connection to the server localhost:8080 was refused\n"
    )
    assert error_text(stderr) == "The connection to the server localhost:8080 was refused"


@pytest.mark.parametrize("stderr, said", [
    ('error: the server doesn\'t have a resource type "rollouts"\n',
     "rollouts.shiftlane.io is not installed in this cluster (apply crds/ or install the chart)"),
    ('Error from server (Forbidden): pods is forbidden: User "dev" cannot list resource "pods"\n',
     'pods is forbidden: User "dev" cannot list resource "pods"'),
    ("error: You must be logged in to the server (Unauthorized)\nerror: You must be logged in to the server (Unauthorized)\n",
     "You must be logged in to the server (Unauthorized)"),
])
def test_error_text_is_said_once_without_kubectls_prefix(stderr: str, said: str) -> None:
    assert error_text(stderr) == said


def test_parse_assignments_and_image_patch() -> None:
    assert parse_assignments(["a=b:1", "c=reg:5000/d:2"]) == {"a": "b:1", "c": "reg:5000/d:2"}
    with pytest.raises(UsageError):
        parse_assignments(["=x"])
    with pytest.raises(UsageError):
        image_patch(rollout(), {"x": "y"})


def test_kubectl_flags() -> None:
    kube = Kubectl(namespace="ns", context="c", kubeconfig="/k", binary="kubectl")
    assert kube.base() == ["kubectl", "--kubeconfig=/k", "--context=c", "--namespace=ns"]
    assert Kubectl(binary="k").base() == ["k"]
