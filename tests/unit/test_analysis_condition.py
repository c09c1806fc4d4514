"""Success and failure conditions: CEL over `result`, the phase of a measurement, and hostile input."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shiftlane.analysis.cel_sandbox import EVALUATION_TIMEOUT
from shiftlane.analysis.condition import (
    MAX_EXPRESSION_LENGTH,
    InvalidCondition,
    assess,
    compile_condition,
    is_empty,
    judge,
)
from shiftlane.analysis.measurement import Measurement, Phase

S, F, I, E, R = Phase.SUCCESSFUL, Phase.FAILED, Phase.INCONCLUSIVE, Phase.ERROR, Phase.RUNNING
NAN = float("nan")

# (measurement, successCondition, failureCondition, phase)
TABLE = [
    # what the provider says comes first
    (Measurement(error="connection refused"), "result < 1", None, E),
    (Measurement(value=0.0, error="timeout"), "result < 1", None, E),
    (Measurement(pending=True), "result < 1", None, R),
    (Measurement(phase=S), "result > 1", None, S),
    (Measurement(phase=F), None, None, F),
    # no data is inconclusive, whatever the conditions
    (Measurement(value=None), "result < 1", None, I),
    (Measurement(value=NAN), "result < 1", None, I),
    (Measurement(value=NAN), None, "result > 1", I),
    (Measurement(value=[]), "size(result) == 0", None, I),
    (Measurement(value=[0.1, NAN]), "result[0] < 1", None, I),
    (Measurement(value=[None]), None, None, I),
    (Measurement(value={}), None, None, I),
    (Measurement(value=""), None, None, I),
    (Measurement(value=None), None, None, I),
    # success only
    (Measurement(value=0.01), "result < 0.05", None, S),
    (Measurement(value=0.2), "result < 0.05", None, F),
    (Measurement(value=0.05), "result < 0.05", None, F),
    (Measurement(value=0.05), "result <= 0.05", None, S),
    (Measurement(value=[0.01, 0.2]), "result[0] < 0.05", None, S),
    (Measurement(value=[0.01, 0.2]), "result.all(x, x < 0.05)", None, F),
    (Measurement(value=1), "result < 1.5", None, S),  # int against double compares
    (Measurement(value=0.5), "result < 1", None, S),
    (Measurement(value=True), "result", None, S),
    (Measurement(value="ok"), "result == 'ok'", None, S),
    (Measurement(value={"status": "ok", "ratio": 0.01}), "result.status == 'ok' && result.ratio < 0.05", None, S),
    (Measurement(value=math.inf), "result < 0.05", None, F),
    # failure only
    (Measurement(value=0.2), None, "result > 0.1", F),
    (Measurement(value=0.01), None, "result > 0.1", S),
    # both
    (Measurement(value=0.01), "result < 0.05", "result > 0.1", S),
    (Measurement(value=0.2), "result < 0.05", "result > 0.1", F),
    (Measurement(value=0.07), "result < 0.05", "result > 0.1", I),
    (Measurement(value=0.2), "result > 0.1", "result > 0.1", F),  # failure wins when both hold
    # neither
    (Measurement(value=0.2), None, None, S),
    (Measurement(value=0.2), "", "  ", S),
    # a condition that errors on this value
    (Measurement(value=0.2), "result", None, E),  # not a bool
    (Measurement(value={"a": 1}), "result.b > 0", None, E),  # no such key
    (Measurement(value=[1.0]), "result[3] > 0", None, E),  # index out of range
    (Measurement(value=0.2), "result < ", None, E),  # does not compile
    (Measurement(value=0.2), "other < 1", None, E),  # unknown variable
    (Measurement(value=0.2), "result < 1", "result.size() > 0", E),
    (Measurement(value=9223372036854775807), "result + 1 > 0", None, E),  # int overflow is an error
]


@pytest.mark.parametrize(("measurement", "success", "failure", "phase"), TABLE)
def test_judge_table(measurement: Measurement, success: str | None, failure: str | None, phase: Phase) -> None:
    assert judge(measurement, success, failure) == phase


def test_an_error_says_which_condition_and_why() -> None:
    verdict = assess(Measurement(value={"a": 1}), "result.b > 0", None)
    assert verdict.phase == E
    assert "result.b > 0" in verdict.message and "no such key" in verdict.message


def test_a_provider_error_is_the_message() -> None:
    assert assess(Measurement(error="HTTP 503"), "result < 1", None).message == "HTTP 503"


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("result <", "at 1:9"),
        ("", "non-empty"),
        ("   ", "non-empty"),
        ("result < 0.05 &&", "does not compile"),
        ("99999999999999999999999 > result", "does not compile"),  # an int literal beyond 64 bits
        ("(" * 200 + "result" + ")" * 200 + " < 1", "Recursion limit"),
        ("[" * 150 + "1" + "]" * 150 + " == result", "Recursion limit"),
        ("x" * (MAX_EXPRESSION_LENGTH + 1), f"at most {MAX_EXPRESSION_LENGTH} characters"),
    ],
)
def test_compile_refuses_with_a_readable_message(expression: str, says: str) -> None:
    with pytest.raises(InvalidCondition) as refused:
        compile_condition(expression)
    assert says in str(refused.value)
    assert len(str(refused.value)) < 600  # no echo of a whole long expression


def test_compile_accepts_the_usual_conditions() -> None:
    for expression in ["result < 0.05", "result[0] >= 0.95", "result.all(x, x < 0.05)", "size(result) > 3 && result[0] < 1",
                       "result.status == 'ok'", "double(result) < 0.5", "!(result > 1)"]:
        assert compile_condition(expression).expression == expression


# --- hostile input ------------------------------------------------------------------------------


def _timed(measurement: Measurement, success: str) -> tuple[Phase, float]:
    start = time.monotonic()
    phase = judge(measurement, success, None)
    return phase, time.monotonic() - start


def test_a_condition_that_would_run_for_minutes_is_stopped_within_the_bound() -> None:
    values = [float(i) for i in range(2000)]  # 8e9 steps
    phase, took = _timed(Measurement(value=values), "result.all(a, result.all(b, result.all(c, a <= b + c + 1.0e9)))")
    assert phase == E
    assert took < EVALUATION_TIMEOUT + 2.0
    # and the next one is judged as usual by a new evaluator
    assert judge(Measurement(value=0.01), "result < 0.05", None) == S


def test_a_condition_that_would_build_a_huge_list_is_stopped() -> None:
    values = [1.0] * 1000
    phase, took = _timed(Measurement(value=values), "size(result.map(a, result.map(b, result.map(c, 1)))) > 0")
    assert phase == E
    assert took < EVALUATION_TIMEOUT + 2.0


@pytest.mark.parametrize(
    "expression",
    [
        "result.__class__ == 1",
        "result.__class__.__init__.__globals__ == {}",
        "result.__dict__.size() > 0",
        "result['__class__'] == 1",
        "__import__('os').system('true') == 0",
        "getattr(result, 'x') == 1",
        "eval('1') == 1",
    ],
)
def test_python_attribute_tricks_reach_nothing(expression: str) -> None:
    for value in (0.5, {"a": 1}, [1.0], "text"):
        assert judge(Measurement(value=value), expression, None) == E


@pytest.mark.parametrize(
    ("value", "expression", "phase"),
    [
        (1e308, "result * 10.0 > 0.0", S),  # overflows to +inf, which is still > 0
        (10**30, "result > 0", S),  # a JSON integer beyond 64 bits
        (-(2**63), "result - 1 < 0", E),  # int underflow is an error, not a wrap
        ("a" * 1_000_000, "result.size() == 1000000", S),
        ("a" * 1_000_000, "result.contains('b')", F),
        ([[[[[[[[[[1.0]]]]]]]]]], "result[0][0][0][0][0][0][0][0][0][0] == 1.0", S),
        ({"a": {"b": {"c": {"d": 0.01}}}}, "result.a.b.c.d < 0.05", S),
        (0.01, "!" * 1000 + "(result < 0.05)", S),  # an even number of negations
        (0.01, " || ".join(["result > 1.0"] * 120) + " || result < 0.05", S),  # long, within the limit
    ],
)
def test_huge_and_deep_values_are_judged_safely(value: object, expression: str, phase: Phase) -> None:
    judged, took = _timed(Measurement(value=value), expression)
    assert judged == phase
    assert took < EVALUATION_TIMEOUT + 1.0


# --- properties ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
conditions = st.one_of(
    st.none(),
    st.sampled_from(["result < 0.05", "result > 0.1", "result[0] < 1", "result.a == 1", "size(result) > 0", "result",
                     "result == null", "true", "false", "!(result < 0.05)", "result.all(x, x < 1)"]),
    st.text(max_size=40),
)
empty_values = st.sampled_from([None, NAN, [], {}, "", [NAN], [None], [0.1, NAN], [NAN, 0.1]])
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(value=json_values, success=conditions, failure=conditions, pending=st.booleans(), error=st.none() | st.text(max_size=10))
def test_judge_never_raises_and_returns_a_phase(value, success, failure, pending, error) -> None:
    assert judge(Measurement(value=value, pending=pending, error=error), success, failure) in set(Phase)


@FAST
@given(value=empty_values, success=conditions, failure=conditions)
def test_empty_nan_or_none_is_never_successful(value, success, failure) -> None:
    assert judge(Measurement(value=value), success, failure) != S
    assert judge(Measurement(value=value), success, failure) == I


@FAST
@given(value=json_values, success=conditions, failure=conditions, error=st.text(max_size=10), phase=st.none() | st.sampled_from(Phase))
def test_an_error_is_never_successful(value, success, failure, error, phase) -> None:
    assert judge(Measurement(value=value, error=error, phase=phase), success, failure) == E


@FAST
@given(value=json_values, failure=conditions)
def test_a_condition_that_cannot_be_decided_is_never_successful(value, failure) -> None:
    # `result.nope` errors on every value that is not a map holding nope
    phase = judge(Measurement(value=value), "result.nope == 1", failure)
    if not is_empty(value) and not (isinstance(value, dict) and "nope" in value):
        assert phase in (E, F)


@FAST
@given(value=st.floats(allow_nan=False, allow_infinity=False, width=64), bound=st.floats(-1e6, 1e6))
def test_a_threshold_decides_as_arithmetic_does(value: float, bound: float) -> None:
    expected = S if value < bound else F
    assert judge(Measurement(value=value), f"result < {bound!r}", None) == expected
