"""The webhook caller against a real HTTP server on loopback: what each answer does to the record the
engine reads, the payloads, and notifications retried then given up."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import HookPhase, RolloutProgress, RolloutStatus
from shiftlane.controller.webhooks import WebhookCaller, track, verdicts
from shiftlane.engine.model import Event, Verdict, WebhookRequest

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
ROLLOUT = {"metadata": {"name": "checkout", "namespace": "shop"}}


class Server:
    """Answers /<path> with the status the test sets (or sleeps past the caller's timeout)."""

    def __init__(self) -> None:
        self.answers: dict[str, int | str] = {}
        self.bodies: dict[str, list[dict[str, Any]]] = {}

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.setdefault(request.path, []).append(await request.json())
        answer = self.answers.get(request.path, 200)
        if answer == "slow":
            await asyncio.sleep(3)
            answer = 200
        return web.Response(status=int(answer))


@pytest.fixture
async def server():
    state = Server()
    app = web.Application()
    app.router.add_post("/{tail:.*}", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    yield state
    await runner.cleanup()


def spec_with(*hooks: dict[str, Any]) -> RolloutSpec:
    return RolloutSpec.model_validate({
        "selector": {"matchLabels": {"app": "c"}},
        "template": {"metadata": {"labels": {"app": "c"}}, "spec": {"containers": [{"name": "c", "image": "c:1"}]}},
        "strategy": {"canary": {"steps": [{"setWeight": 50}]}},
        "webhooks": list(hooks),
    })


def rolling_status() -> RolloutStatus:
    return RolloutStatus(stable_revision="aaa", canary_revision="bbb",
                         rollout=RolloutProgress(attempt=3, started_at=NOW, step_started_at=NOW, plan_replicas=1))


async def answer(server: Server, hook: dict[str, Any], calls: int) -> RolloutStatus:
    """The record after `calls` calls, each made when due."""
    spec, status = spec_with(hook), rolling_status()
    track(status, [WebhookRequest(f"bbb-3-{hook['name']}", hook["name"])], NOW)
    async with aiohttp.ClientSession() as session:
        caller = WebhookCaller(session)
        at = NOW
        for _ in range(calls):
            await caller.call_due(ROLLOUT, spec, status, at)
            at += timedelta(minutes=1)
    return status


async def test_2xx_passes_and_the_payload_names_the_rollout(server: Server) -> None:
    hook = {"name": "release", "type": "confirmPromotion", "url": server.base + "/release", "metadata": {"team": "pay"}}
    status = await answer(server, hook, 1)
    assert verdicts(status) == {"bbb-3-release": Verdict.SUCCESSFUL}
    (body,) = server.bodies["/release"]
    assert body == {"name": "checkout", "namespace": "shop", "type": "confirmPromotion", "phase": "Pending",
                    "stableRevision": "aaa", "canaryRevision": "bbb", "metadata": {"team": "pay"}}


@pytest.mark.parametrize("refusal, said", [(403, "HTTP 403"), (500, "HTTP 500"), ("slow", "no answer within 1s")])
async def test_a_confirm_hook_that_refuses_holds_and_is_asked_again(server: Server, refusal, said) -> None:
    server.answers["/approve"] = refusal
    hook = {"name": "approve", "type": "confirmRollout", "url": server.base + "/approve", "timeout": "1s", "retries": 1}
    status = await answer(server, hook, 4)
    (record,) = status.hooks
    assert record.phase is HookPhase.WAITING and record.calls == 4 and record.last_answer == said
    assert record.next_call_at is not None  # asked again, however often it refused


async def test_a_pre_rollout_hook_fails_after_its_retries(server: Server) -> None:
    server.answers["/smoke"] = 503
    hook = {"name": "smoke", "type": "preRollout", "url": server.base + "/smoke", "retries": 2}
    status = await answer(server, hook, 2)
    assert verdicts(status) == {"bbb-3-smoke": Verdict.RUNNING}
    status = await answer(server, hook, 3)
    assert verdicts(status) == {"bbb-3-smoke": Verdict.FAILED} and status.hooks[0].calls == 3


async def test_a_connection_refused_is_a_refusal_not_a_crash() -> None:
    hook = {"name": "gone", "type": "preRollout", "url": "http://127.0.0.1:9/gone", "retries": 0, "timeout": "1s"}
    status = await answer(Server(), hook, 1)
    assert status.hooks[0].phase is HookPhase.FAILED and "Client" in status.hooks[0].last_answer


def test_records_of_another_attempt_are_dropped() -> None:
    status = rolling_status()
    track(status, [WebhookRequest("bbb-3-approve", "approve")], NOW)
    status.rollout.attempt = 4
    track(status, [WebhookRequest("bbb-4-approve", "approve")], NOW)
    assert [h.key for h in status.hooks] == ["bbb-4-approve"]


async def test_notifications_go_to_the_hooks_of_their_kind_and_are_retried(server: Server) -> None:
    server.answers["/flaky"] = 500
    spec = spec_with(
        {"name": "done", "type": "postRollout", "url": server.base + "/done"},
        {"name": "back", "type": "rollback", "url": server.base + "/back"},
        {"name": "chat", "type": "event", "url": server.base + "/chat", "slack": True},
        {"name": "flaky", "type": "event", "url": server.base + "/flaky", "retries": 1},
    )
    events = [Event("RolloutAborted", "aborted by user", "Warning"), Event("StepCompleted", "step 0")]
    async with aiohttp.ClientSession() as session:
        caller = WebhookCaller(session)
        caller.notify(ROLLOUT, spec, rolling_status(), events)
        await asyncio.wait_for(asyncio.gather(*caller._notifications), 10)
    assert "/done" not in server.bodies  # nothing completed
    assert [b["type"] for b in server.bodies["/back"]] == ["rollback"]
    assert [b["text"] for b in server.bodies["/chat"]] == ["[shop/checkout] Warning RolloutAborted: aborted by user",
                                                        "[shop/checkout] Normal StepCompleted: step 0"]
    assert len(server.bodies["/flaky"]) == 4  # two events, each tried twice (retries: 1), then given up
