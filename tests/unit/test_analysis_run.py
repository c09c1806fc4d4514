"""An analysis run's arithmetic: counts, limits, phases and schedules (table tests), and its safety
rules over any sequence of measurements (property test)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shiftlane.analysis.run import Outcome, due, give_up, new_run, planned_count, record, settle
from shiftlane.api.analysis import Metric
from shiftlane.api.status import AnalysisPhase, MEASUREMENTS_KEPT

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
S, F, I, E = AnalysisPhase.SUCCESSFUL, AnalysisPhase.FAILED, AnalysisPhase.INCONCLUSIVE, AnalysisPhase.ERROR
PROVIDER = {"web": {"url": "http://127.0.0.1:1/value"}}


def metric(**fields) -> Metric:
    return Metric.model_validate({"name": "error-ratio", "provider": PROVIDER, **fields})


def run_of(m: Metric, outcomes: list[AnalysisPhase]):
    run = new_run("r-1-2", ["rate"], [("rate", m)], T0)
    at = T0
    for phase in outcomes:
        status = run.metrics[0]
        if status.phase is not AnalysisPhase.RUNNING:
            break
        at += timedelta(seconds=1)
        record(status, m, Outcome(phase, at, at, value="0.5"))
    settle(run)
    return run


@pytest.mark.parametrize(
    "fields, outcomes, expected",
    [
        ({}, [S], S),  # one measurement by default
        ({}, [F], F),
        ({}, [I], I),
        ({"interval": "10s", "count": 3}, [S, S], AnalysisPhase.RUNNING),
        ({"interval": "10s", "count": 3}, [S, S, S], S),
        ({"interval": "10s", "count": 3}, [S, F], F),  # failureLimit 0: the first failure fails it
        ({"interval": "10s", "count": 3, "failureLimit": 1}, [S, F, S], S),
        ({"interval": "10s", "count": 3, "failureLimit": 1}, [F, F], F),
        ({"interval": "10s", "count": 3, "inconclusiveLimit": 1}, [I, S, S], AnalysisPhase.RUNNING),  # 2 decisive of 3
        ({"interval": "10s", "count": 3, "inconclusiveLimit": 1}, [I, S, S, S], S),
        ({"interval": "10s", "count": 2, "inconclusiveLimit": 5}, [I, I, I], AnalysisPhase.RUNNING),  # no data is never success
        ({"interval": "10s", "count": 3, "inconclusiveLimit": 1}, [I, I], I),
        ({"interval": "10s", "count": 2}, [E, E, E, E], AnalysisPhase.RUNNING),  # errors do not count as measurements
        ({"interval": "10s", "count": 2}, [E, E, E, E, E], E),  # 5 in a row > consecutiveErrorLimit 4
        ({"interval": "10s", "count": 2, "consecutiveErrorLimit": 0}, [E], E),
        ({"interval": "10s", "count": 2}, [E, E, S, E, E, E, S], S),  # a success resets the run of errors
        ({"interval": "10s"}, [S] * 50, AnalysisPhase.RUNNING),  # an interval and no count: until stopped
    ],
)
def test_metric_phase_table(fields, outcomes, expected) -> None:
    assert run_of(metric(**fields), outcomes).phase is expected


@pytest.mark.parametrize(
    "fields, planned", [({}, 1), ({"count": 4, "interval": "1m"}, 4), ({"interval": "1m"}, None), ({"count": 1}, 1)]
)
def test_planned_count_table(fields, planned) -> None:
    assert planned_count(metric(**fields)) == planned


def test_first_measurement_waits_for_the_initial_delay_then_follows_the_interval() -> None:
    m = metric(interval="30s", count=3, initialDelay="1m")
    run = new_run("k", ["rate"], [("rate", m)], T0)
    assert due(run, T0 + timedelta(seconds=59)) == []
    (status,) = due(run, T0 + timedelta(seconds=60))
    finished = T0 + timedelta(seconds=61)
    record(status, m, Outcome(S, finished, finished, value="0.01"))
    assert status.next_measurement_at == finished + timedelta(seconds=30)
    assert due(run, finished + timedelta(seconds=29)) == []


def test_measurements_kept_are_bounded_and_counts_are_not() -> None:
    run = run_of(metric(interval="1s"), [S] * 40)
    status = run.metrics[0]
    assert len(status.measurements) == MEASUREMENTS_KEPT and status.count == 40


def test_failure_names_the_metric_and_its_last_value() -> None:
    run = run_of(metric(interval="10s", count=3, failureLimit=1), [F, F])
    assert run.phase is F
    assert "rate/error-ratio" in run.message and "2 of 2 measurements failed" in run.message and "0.5" in run.message
    assert run.metrics[0].next_measurement_at is None


def test_a_failed_metric_ends_the_run_while_another_still_runs() -> None:
    slow, quick = metric(name="slow", interval="1m", count=10), metric(name="quick")
    run = new_run("k", ["rate"], [("rate", slow), ("rate", quick)], T0)
    record(run.metrics[1], quick, Outcome(F, T0, T0, value="1"))
    settle(run)
    assert run.phase is F and all(m.next_measurement_at is None for m in run.metrics)


def test_a_run_without_metrics_is_never_successful() -> None:
    run = new_run("k", ["empty"], [], T0)
    settle(run)
    assert run.phase is E


def test_give_up_ends_the_metric_in_error() -> None:
    run = new_run("k", ["rate"], [("rate", metric())], T0)
    give_up(run.metrics[0], "AnalysisTemplate default/rate not found", T0)
    settle(run)
    assert run.phase is E and "not found" in run.metrics[0].measurements[-1].message


phases = st.sampled_from([S, F, I, E])


@settings(max_examples=300, deadline=None)
@given(
    outcomes=st.lists(phases, max_size=40),
    count=st.one_of(st.none(), st.integers(1, 10)),
    failure_limit=st.integers(0, 3),
    inconclusive_limit=st.integers(0, 3),
    error_limit=st.integers(0, 5),
)
def test_a_run_succeeds_only_on_enough_good_measurements(outcomes, count, failure_limit, inconclusive_limit, error_limit) -> None:
    m = metric(interval="5s", count=count, failureLimit=failure_limit, inconclusiveLimit=inconclusive_limit,
               consecutiveErrorLimit=error_limit)
    run = run_of(m, outcomes)
    status = run.metrics[0]
    if run.phase is S:
        assert count is not None and status.count >= count
        assert status.failed <= failure_limit and status.inconclusive <= inconclusive_limit
        assert status.successful >= count - failure_limit and status.successful >= 1  # no data never adds up to success
    if status.failed > failure_limit:
        assert run.phase is F
    # Once over, nothing more is scheduled; while running, the next measurement is scheduled.
    assert (status.next_measurement_at is None) == (run.phase is not AnalysisPhase.RUNNING)
