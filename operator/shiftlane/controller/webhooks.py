"""Webhooks: the gating ones (confirmRollout, preRollout, confirmPromotion) answer the engine's
WebhookRequests; the notifying ones (postRollout, rollback, event) are sent as Events are emitted.

A 2xx answer is "go". A confirm hook that says anything else, or does not answer in time, holds the
rollout and is asked again every CONFIRM_POLL_SECONDS; a preRollout hook that keeps failing past its
retries aborts the rollout. Notifications are retried with backoff and then given up (and logged).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from shiftlane.api.durations import seconds_of
from shiftlane.api.spec import RolloutSpec, Webhook
from shiftlane.api.status import HookPhase, HookStatus, RolloutStatus
from shiftlane.engine.model import Event, Verdict, WebhookRequest

log = logging.getLogger(__name__)

CONFIRM_POLL_SECONDS = 5.0
PRE_ROLLOUT_RETRY_SECONDS = 2.0
# Events that end a rollout badly: the rollback hooks hear of each.
ABORT_REASONS = {"RolloutAborted", "AnalysisFailed", "WebhookFailed"}

_VERDICTS = {HookPhase.WAITING: Verdict.RUNNING, HookPhase.PASSED: Verdict.SUCCESSFUL, HookPhase.FAILED: Verdict.FAILED}


class HookRefused(Exception):
    """A webhook answered other than 2xx, or not at all."""


def payload(rollout: Mapping[str, Any], status: RolloutStatus, hook: Webhook, event: Event | None = None) -> dict[str, Any]:
    """What every webhook receives (an event hook with `slack: true` gets {"text": ...} instead)."""
    meta = rollout["metadata"]
    if event is not None and hook.slack:
        return {"text": f"[{meta['namespace']}/{meta['name']}] {event.type} {event.reason}: {event.message}"}
    body: dict[str, Any] = {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "type": hook.type,
        "phase": status.phase.value,
        "stableRevision": status.stable_revision,
        "canaryRevision": status.canary_revision,
        "metadata": hook.metadata,
    }
    if event is not None:
        body["event"] = {"type": event.type, "reason": event.reason, "message": event.message}
    return body


@dataclass
class WebhookCaller:
    session: aiohttp.ClientSession
    _notifications: set[asyncio.Task[None]] = field(default_factory=set)

    async def post(self, hook: Webhook, body: dict[str, Any]) -> str:
        """POST once; returns how it answered ("HTTP 204"); raises HookRefused unless 2xx."""
        timeout = aiohttp.ClientTimeout(total=seconds_of(hook.timeout))
        try:
            async with self.session.post(hook.url, json=body, timeout=timeout) as response:
                answer = f"HTTP {response.status}"
                if not 200 <= response.status < 300:
                    raise HookRefused(answer)
                return answer
        except asyncio.TimeoutError:
            raise HookRefused(f"no answer within {hook.timeout}") from None
        except aiohttp.ClientError as error:
            raise HookRefused(f"{type(error).__name__}: {error}") from None

    async def call_due(self, rollout: Mapping[str, Any], spec: RolloutSpec, status: RolloutStatus, now: datetime) -> None:
        """Call every gating webhook still waiting whose time has come; record the answers in status."""
        by_name = {h.name: h for h in spec.webhooks}
        prefix = _attempt_prefix(status) or ""
        due = [h for h in status.hooks if h.phase is HookPhase.WAITING and h.next_call_at is not None
               and h.next_call_at <= now and h.key.startswith(prefix)]
        await asyncio.gather(*(self._call(rollout, status, by_name.get(h.key[len(prefix):]), h, now) for h in due))

    async def _call(self, rollout: Mapping[str, Any], status: RolloutStatus, hook: Webhook | None, record: HookStatus, now: datetime) -> None:
        if hook is None:  # removed from the spec: it no longer gates anything
            record.phase, record.last_answer, record.next_call_at = HookPhase.PASSED, "removed from spec.webhooks", None
            return
        record.calls += 1
        try:
            record.last_answer = await self.post(hook, payload(rollout, status, hook))
            record.phase, record.next_call_at = HookPhase.PASSED, None
        except HookRefused as refusal:
            record.last_answer = str(refusal)
            if hook.type == "preRollout" and record.calls > hook.retries:
                record.phase, record.next_call_at = HookPhase.FAILED, None
            else:
                wait = PRE_ROLLOUT_RETRY_SECONDS * record.calls if hook.type == "preRollout" else CONFIRM_POLL_SECONDS
                record.next_call_at = now + timedelta(seconds=wait)

    def notify(self, rollout: Mapping[str, Any], spec: RolloutSpec, status: RolloutStatus, events: Iterable[Event]) -> None:
        """Send postRollout, rollback and event hooks for the Events just emitted, in the background."""
        for event in events:
            for hook in spec.webhooks:
                wanted = (hook.type == "event" or (hook.type == "postRollout" and event.reason == "RolloutCompleted")
                          or (hook.type == "rollback" and event.reason in ABORT_REASONS))
                if wanted:
                    body = payload(rollout, status, hook, event if hook.type == "event" else None)
                    task = asyncio.ensure_future(self._send(hook, body, rollout["metadata"]))
                    self._notifications.add(task)
                    task.add_done_callback(self._notifications.discard)

    async def _send(self, hook: Webhook, body: dict[str, Any], meta: Mapping[str, Any]) -> None:
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(hook.retries + 1),
                wait=wait_exponential(multiplier=1, max=30),
                retry=retry_if_exception_type(HookRefused),
                reraise=True,
            ):
                with attempt:
                    await self.post(hook, body)
        except HookRefused as refusal:
            log.warning("%s webhook %s for %s/%s given up: %s", hook.type, hook.name, meta["namespace"], meta["name"], refusal)


def track(status: RolloutStatus, requests: Iterable[WebhookRequest], now: datetime) -> float | None:
    """Add a record for each webhook the engine now waits on, keep this rollout attempt's (a passed hook
    stays passed), drop the rest; seconds to the next call."""
    prefix = _attempt_prefix(status)
    status.hooks = [h for h in status.hooks if prefix and h.key.startswith(prefix)]
    known = {h.key for h in status.hooks}
    requested = {r.key for r in requests}
    status.hooks += [HookStatus(key=k, next_call_at=now) for k in sorted(requested - known)]
    upcoming = [h.next_call_at for h in status.hooks if h.key in requested and h.next_call_at is not None]
    return max(0.0, (min(upcoming) - now).total_seconds()) if upcoming else None


def verdicts(status: RolloutStatus) -> dict[str, Verdict]:
    return {h.key: _VERDICTS[h.phase] for h in status.hooks}


def _attempt_prefix(status: RolloutStatus) -> str | None:
    """Webhook keys are <revision>-<attempt>-<webhook name> (as the engine's analysis keys)."""
    if status.canary_revision is None or status.rollout is None:
        return None
    return f"{status.canary_revision}-{status.rollout.attempt}-"
