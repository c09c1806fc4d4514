"""A flaky API server: the operator reaches it through a proxy that answers a quarter of its writes
with 500 and drops one request in twenty without an answer. Every rollout still ends as it must, the
errors are counted (shiftlane_reconcile_errors_total), no transition's Event is told twice although
status writes fail after the transition was decided, and after a failed write the operator backs
off instead of hammering: nothing more is written for that Rollout for TRANSIENT_RETRY_SECONDS."""

from __future__ import annotations

import re
import urllib.request

import pytest

from shiftlane.controller.reconciler import TRANSIENT_RETRY_SECONDS
from tests.chaos.fleet import KINDS, Member, change_images, deploy, told_twice, wait_all
from tests.e2e.conftest import Operator
from tests.e2e.helpers import Namespace
from tests.harness.api_proxy import ApiProxy, Request

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

FAIL_WRITES, DROP = 0.25, 0.05


def rollout_of(path: str, names: set[str]) -> str | None:
    """The Rollout a write was made for: its status, revision Deployments, Services or route."""
    match = re.search(r"/(rollouts|deployments|services|httproutes)/([^/]+)", path)
    if match is None:
        return None
    name = match.group(2)
    return next((n for n in sorted(names, key=len, reverse=True) if name == n or name.startswith(f"{n}-")), None)


def errors_counted(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(float(v) for v in re.findall(r"^shiftlane_reconcile_errors_total\{[^}]*\} (\S+)$", text, re.M))


def test_rollouts_converge_through_failed_writes_and_dropped_connections_with_backoff(
        proxy: ApiProxy, proxied_operator: Operator, chaos_ns: Namespace) -> None:
    kinds = {k.name: k for k in KINDS}
    members = [Member(f"{kind}-f", kinds[kind]) for kind in ("canary", "routed", "rolling", "doomed")]
    olds = deploy(chaos_ns, members)
    proxy.fail_writes, proxy.drop = FAIL_WRITES, DROP
    change_images(chaos_ns, members)
    left = wait_all(chaos_ns, members, olds, 240)
    errors = errors_counted(proxied_operator.metrics_port)
    proxy.fail_writes = proxy.drop = 0.0
    assert not left, f"rollouts not converged: {left}"
    names = {m.name for m in members}
    injected = [r for r in proxy.requests if r.status in (0, 500)]
    print(f"{len(proxy.writes())} writes, {sum(r.status == 500 for r in injected)} answered 500, "
          f"{sum(r.status == 0 for r in injected)} dropped; errors counted: {errors:g}")
    assert any(r.status == 500 and rollout_of(r.path, names) for r in injected), "no write of a rollout was refused"
    assert errors >= 1
    assert any("/rollouts/" in r.path and r.path.endswith("/status") for r in injected), "no status write failed"
    assert not told_twice(chaos_ns, members)
    hasty = [(failed, after) for failed, after in _next_writes(proxy.requests, names) if after.at - failed.at < TRANSIENT_RETRY_SECONDS - 0.2]
    assert not hasty, "written again before the backoff: " + "; ".join(
        f"{f.method} {f.path} failed, then {a.method} {a.path} {a.at - f.at:.2f}s later" for f, a in hasty[:3])


def _next_writes(requests: list[Request], names: set[str]) -> list[tuple[Request, Request]]:
    """Each failed write of a Rollout's objects, with the next write for the same Rollout."""
    writes = [(r, rollout_of(r.path, names)) for r in requests if r.write and "/events" not in r.path]
    pairs = []
    for i, (failed, rollout) in enumerate(writes):
        if rollout is None or failed.status not in (0, 500):
            continue
        after = next((r for r, owner in writes[i + 1:] if owner == rollout), None)
        if after is not None:
            pairs.append((failed, after))
    return pairs
