"""Fixtures for the chaos tests: the e2e suite's cluster fixtures (CRDs, the chart, its ServiceAccount,
the invariant watcher checked around every test), and an operator of each test's own to kill.

An e2e session operator, if one runs in this pytest session, is stopped while a chaos test runs (two
operators acting on one Rollout is not a chaos test) and started again afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import (  # noqa: F401  (fixtures used by name)
    Operator,
    crd,
    ecr_endpoint,
    invariants,
    invariants_kept,
    pytest_runtest_makereport,
    release,
    token_kubeconfig,
)
from tests.e2e.helpers import Namespace
from tests.harness.api_proxy import ApiProxy
from tests.harness.invariants import InvariantWatcher


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("KUBECONFIG"):
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=e2e.SKIP_REASON))


@pytest.fixture
def solo(release: str) -> Iterator[None]:
    """No other operator acts while the test runs."""
    paused = [op for op in e2e._OPERATORS if op.proc is not None]
    for op in paused:
        op.stop()
    yield
    for op in paused:
        op.start()


def operator_for(kubeconfig: str, log: Path, *args: str, **env: str) -> Operator:
    return Operator(kubeconfig, log, extra_args=args, extra_env=env)


@contextmanager
def running(op: Operator) -> Iterator[Operator]:
    e2e._OPERATORS.append(op)  # its log tail goes into a failure's report
    op.start()
    try:
        yield op
    finally:
        op.stop()
        e2e._OPERATORS.remove(op)


@pytest.fixture
def own_operator(solo: None, token_kubeconfig: str, tmp_path: Path) -> Iterator[Operator]:
    """A cluster-wide operator with the chart's RBAC, for the test to kill and start."""
    with running(operator_for(token_kubeconfig, tmp_path / "operator.log")) as op:
        yield op


@pytest.fixture
def proxy(token_kubeconfig: str) -> Iterator[ApiProxy]:
    """A loopback proxy to the API server with the chart's credentials, passing everything at first."""
    proxy = ApiProxy(token_kubeconfig, seed=7).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxied_operator(solo: None, proxy: ApiProxy, tmp_path: Path) -> Iterator[Operator]:
    """A cluster-wide operator that reaches the API server through `proxy`."""
    with running(operator_for(proxy.kubeconfig(tmp_path / "kubeconfig"), tmp_path / "operator.log")) as op:
        yield op


@pytest.fixture
def chaos_ns(invariants: InvariantWatcher, request: pytest.FixtureRequest) -> Iterator[Namespace]:
    with e2e.namespace_for_test("chaos", invariants, request) as namespace:
        yield namespace
