"""Success and failure conditions: CEL expressions over ``result``, and the phase they give a measurement.

CEL is the language of Kubernetes validation rules; the library is common-expression-language (Rust).
It compares numbers across int and double (``result < 1`` works on 0.5), refuses integer overflow and
nesting deeper than its parser's recursion limit, and has no way to reach Python objects. Expressions
are also limited in length, and run in a child process that is stopped after EVALUATION_TIMEOUT
(cel_sandbox.py), so a hostile or careless condition costs at most that long and never the operator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shiftlane.analysis.cel_sandbox import CelSandbox
from shiftlane.analysis.measurement import Measurement, Phase

# Conditions are a comparison or a few; a template's schema can use it as maxLength.
MAX_EXPRESSION_LENGTH = 2048

_sandbox = CelSandbox()


class InvalidCondition(ValueError):
    """An expression that is not a usable condition; the message says why."""


class ConditionError(Exception):
    """A condition that compiled but could not be decided for a value."""


@dataclass(frozen=True)
class Condition:
    expression: str

    def holds(self, result: Any) -> bool:
        answer = _sandbox.test(self.expression, result)
        if answer.error is not None:
            raise ConditionError(f"condition {self.expression!r}: {answer.error}")
        return bool(answer.value)


def compile_condition(expression: str) -> Condition:
    """The condition, or InvalidCondition with a message naming the problem."""
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidCondition("a condition must be a non-empty CEL expression over `result`, such as `result < 0.05`")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise InvalidCondition(f"a condition must be at most {MAX_EXPRESSION_LENGTH} characters (this one has {len(expression)})")
    answer = _sandbox.compile(expression)
    if answer.error is not None:
        raise InvalidCondition(f"condition {_excerpt(expression)} {answer.error}")
    return Condition(expression)


def is_empty(value: Any) -> bool:
    """No data to judge: nothing, NaN, an empty list, map or string, or a list with a missing or NaN point."""
    if value is None or _is_nan(value):
        return True
    if isinstance(value, (list, tuple)):
        return not value or any(item is None or _is_nan(item) for item in value)
    if isinstance(value, (dict, str)):
        return not value
    return False


@dataclass(frozen=True)
class Verdict:
    phase: Phase
    message: str | None = None  # why, when it is not what the conditions plainly said


def assess(measurement: Measurement, success: str | None, failure: str | None) -> Verdict:
    """The phase of one measurement, with the reason for an error or an inconclusive one. Never raises."""
    if measurement.error is not None:
        return Verdict(Phase.ERROR, measurement.error)
    if measurement.pending:
        return Verdict(Phase.RUNNING)
    if measurement.phase is not None:
        return Verdict(measurement.phase)
    if is_empty(measurement.value):
        return Verdict(Phase.INCONCLUSIVE, "no data: the result is empty, missing or NaN")
    success, failure = _given(success), _given(failure)
    try:
        if failure is not None and compile_condition(failure).holds(measurement.value):
            return Verdict(Phase.FAILED)
        if success is not None and compile_condition(success).holds(measurement.value):
            return Verdict(Phase.SUCCESSFUL)
    except (InvalidCondition, ConditionError) as error:
        return Verdict(Phase.ERROR, str(error))
    if success is not None and failure is not None:
        return Verdict(Phase.INCONCLUSIVE, "neither the success nor the failure condition holds")
    if success is not None:
        return Verdict(Phase.FAILED)
    return Verdict(Phase.SUCCESSFUL)


def judge(measurement: Measurement, success: str | None, failure: str | None) -> Phase:
    """The phase of one measurement (see assess). Blocks for at most about EVALUATION_TIMEOUT per condition."""
    return assess(measurement, success, failure).phase


def _given(expression: str | None) -> str | None:
    return expression if expression is not None and expression.strip() else None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _excerpt(expression: str) -> str:
    return repr(expression if len(expression) <= 120 else expression[:117] + "...")
