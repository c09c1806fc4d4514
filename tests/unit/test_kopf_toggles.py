"""kopf's "all indexed" toggle set, made quiet: waiters go on exactly when kopf's own set would let
them, and making or dropping a toggle that leaves the set's state as it was wakes nobody."""

from __future__ import annotations

import asyncio

from kopf._cogs.aiokits import aiotoggles

from shiftlane.controller.kopf_toggles import QuietToggleSet


async def _waiters_and_wakeups(toggle_set: aiotoggles.ToggleSet, objects: int) -> tuple[list[int], int]:
    """Objects indexed one by one while a worker per object waits for all of them, as kopf starts."""
    toggles = [await toggle_set.make_toggle(name=str(i)) for i in range(objects)]
    checks = 0
    went_on: list[int] = []
    original = toggle_set.is_on

    def counted() -> bool:
        nonlocal checks
        checks += 1
        return original()

    toggle_set.is_on = counted  # type: ignore[method-assign]

    async def worker(i: int) -> None:
        await toggle_set.wait_for(True)
        went_on.append(i)

    workers = [asyncio.ensure_future(worker(i)) for i in range(objects)]
    await asyncio.sleep(0)
    for dropped, toggle in enumerate(toggles, 1):
        await toggle_set.drop_toggle(toggle)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert (went_on != []) == (dropped == objects), f"a worker went on with {objects - dropped} objects not indexed"
    await asyncio.gather(*workers)
    return went_on, checks


def test_workers_go_on_only_once_every_object_is_indexed_as_with_kopfs_own_set() -> None:
    quiet, quiet_checks = asyncio.run(_waiters_and_wakeups(QuietToggleSet(all), 200))
    loud, loud_checks = asyncio.run(_waiters_and_wakeups(aiotoggles.ToggleSet(all), 200))
    assert sorted(quiet) == sorted(loud) == list(range(200))
    # kopf's set re-checks every waiter on every drop (about 200 x 200); the quiet one a few per drop.
    assert loud_checks > 20_000 and quiet_checks < 2_000


def test_a_toggle_made_after_the_set_was_on_holds_new_waiters_until_it_is_dropped() -> None:
    async def scenario() -> list[str]:
        toggle_set = QuietToggleSet(all)
        seen: list[str] = []
        await toggle_set.wait_for(True)  # no toggles: on
        late = await toggle_set.make_toggle(name="late")
        waiter = asyncio.ensure_future(toggle_set.wait_for(True))
        await asyncio.sleep(0.01)
        seen.append("waiting" if not waiter.done() else "went on early")
        await toggle_set.drop_toggle(late)
        await asyncio.wait_for(waiter, 1)
        seen.append("went on")
        return seen

    assert asyncio.run(scenario()) == ["waiting", "went on"]
