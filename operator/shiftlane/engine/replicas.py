"""Replica arithmetic: how many pods each revision runs for a weight, a batch, a surge.

Every strategy's counts come from here, so the rounding rules live in one place (the table test
beside this module, tests/unit/test_replicas.py, lists inputs and the counts they give).
"""

from __future__ import annotations

import math


def resolve(value: int | str, replicas: int, round_up: bool) -> int:
    """An absolute count or a percentage of `replicas`, as a Deployment's maxSurge / maxUnavailable."""
    if isinstance(value, int):
        return value
    exact = replicas * int(value.rstrip("%")) / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def share(replicas: int, percent: float) -> int:
    """Pods for a share of traffic, rounded up so a non-zero share never gets zero pods."""
    return min(replicas, math.ceil(replicas * percent / 100))


def split(replicas: int, percent: float) -> tuple[int, int]:
    """(new, old) pods when traffic follows pods and `percent` of it goes to the new revision.

    While both revisions serve (0 < percent < 100) each keeps at least one pod, so a single-replica
    Rollout at 10% runs one new pod beside its one old pod rather than dropping the old to zero.
    """
    if replicas <= 0:
        return 0, 0
    new = share(replicas, percent)
    old = replicas - new
    if 0 < percent < 100:
        old = max(old, 1)
    return new, old


def partial_steps(replicas: int, counts: list[int]) -> list[int]:
    """The new-pod counts of a stepwise shift, each strictly between the previous one and the whole.

    A count that reaches `replicas` would move everything before the last step, and a count equal
    to the previous one changes nothing: both are dropped.
    """
    out: list[int] = []
    for count in counts:
        if 0 < count < replicas and (not out or count > out[-1]):
            out.append(count)
    return out


def elastic_counts(replicas: int, step_percent: int) -> list[int]:
    """New-pod counts for each elastic step: shares of the replica count, partial only."""
    return partial_steps(replicas, [share(replicas, p) for p in range(step_percent, 100, step_percent)])


def batch_counts(replicas: int, batch: int) -> list[int]:
    """New-pod counts after each batch but the last (the promotion tail moves the rest)."""
    return partial_steps(replicas, list(range(batch, replicas, max(1, batch))))


def rolling_counts(replicas: int, max_surge: int, max_unavailable: int) -> list[tuple[int, int]]:
    """(new, old) pod targets of a Deployment-style rolling update, one pair per change.

    Never more than replicas + surge pods, never fewer than replicas - unavailable available. When
    both limits round to zero a Deployment surges by one; so do we.
    """
    if max_surge == 0 and max_unavailable == 0:
        max_surge = 1
    pairs: list[tuple[int, int]] = []
    new, old = 0, replicas
    while new < replicas or old > 0:
        before = (new, old)
        grown = min(replicas, replicas + max_surge - old)
        if grown > new:
            new = grown
            pairs.append((new, old))
        shrunk = 0 if new == replicas else min(old, max(0, replicas - max_unavailable - new))
        if shrunk < old:
            old = shrunk
            pairs.append((new, old))
        if (new, old) == before:  # cannot happen with non-negative limits; never loop forever
            break
    return pairs
