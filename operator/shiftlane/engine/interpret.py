"""The interpreter: (spec, status, observation, now) -> Decision. Pure: no I/O, no clock, no client.

It walks the compiled plan from the step in status, advancing through every step whose condition
already holds, so a rollout moves the instant the world allows rather than on the next poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from shiftlane.api.spec import RolloutSpec
from shiftlane.api.status import Command, Phase, RolloutStatus
from shiftlane.engine.model import AnalysisRequest, Decision, Event, Observation, Traffic, Verdict
from shiftlane.engine.plan import CompileError, compile_plan
from shiftlane.engine.steps import (
    Finish,
    Pause,
    Plan,
    Role,
    RunAnalysis,
    Scale,
    SetHeaderRoute,
    SetMirror,
    SetWeight,
    Step,
    TrafficMode,
)
from shiftlane.engine.conditions import conditions_for


@dataclass
class _Target:
    """The desired shape while a step is current: what the steps so far have asked for."""

    canary: int
    stable: int
    weight: int = 0
    header_route: tuple = ()
    mirror_percent: int = 0


def fold(steps: tuple[Step, ...], replicas: int) -> _Target:
    target = _Target(canary=0, stable=replicas)
    for step in steps:
        if isinstance(step, Scale):
            if step.role is Role.CANARY:
                target.canary = step.replicas
            else:
                target.stable = step.replicas
        elif isinstance(step, SetWeight):
            target.weight = step.percent
        elif isinstance(step, SetHeaderRoute):
            target.header_route = step.matches
        elif isinstance(step, SetMirror):
            target.mirror_percent = step.percent
    return target


def analysis_key(revision: str, step_index: int) -> str:
    return f"{revision}-{step_index}"


def interpret(spec: RolloutSpec, status: RolloutStatus, observation: Observation, now: float) -> Decision:
    return _Interpretation(spec, status, observation, now).decide()


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Interpretation:
    def __init__(self, spec: RolloutSpec, status: RolloutStatus, observation: Observation, now: float):
        self.spec = spec
        self.obs = observation
        self.now = now
        self.s: dict[str, Any] = status.model_dump()
        self.events: list[Event] = []
        self.wake: list[float] = []
        self.analyses: list[AnalysisRequest] = []
        self.replicas = spec.replicas

    # --- helpers ---------------------------------------------------------------------------

    def event(self, reason: str, message: str, warning: bool = False) -> None:
        self.events.append(Event(reason, message, "Warning" if warning else "Normal"))

    def wake_at(self, ts: float) -> None:
        self.wake.append(max(0.0, ts - self.now))

    def observed(self, revision: str | None):
        return self.obs.revisions.get(revision) if revision else None

    def available(self, revision: str | None) -> int:
        o = self.observed(revision)
        return o.available if o else 0

    def ready(self, revision: str | None) -> int:
        o = self.observed(revision)
        return o.ready if o else 0

    def settled(self, revision: str | None, replicas: int) -> bool:
        """The revision runs exactly `replicas` pods and all are available."""
        o = self.observed(revision)
        if o is None:
            return replicas == 0
        return o.spec_replicas == replicas and o.replicas <= replicas and o.available >= replicas

    @property
    def paused(self) -> bool:
        return self.spec.paused or self.s["paused_by_user"]

    def mode(self) -> TrafficMode:
        try:
            return compile_plan(self.spec, self.obs.routers).mode
        except CompileError:
            return TrafficMode.SWITCH

    # --- entry -----------------------------------------------------------------------------

    def decide(self) -> Decision:
        s = self.s
        command = self.obs.command if self.obs.command and self.obs.command.id != s["handled_command_id"] else None
        if command:
            s["handled_command_id"] = command.id
            self.apply_pause_commands(command)
        target = self.target(command)
        s["strategy"] = self.spec.strategy.name
        if s["stable_revision"] is None:
            s["stable_revision"] = target
            s["step_started_at"] = self.now
            self.event("RevisionCreated", f"first revision {target} at {self.replicas} replicas")
        if target == s["stable_revision"]:
            if s["canary_revision"]:
                self.event("RolloutCancelled", f"target is the stable revision {target} again; canary {s['canary_revision']} removed")
                self.end_rollout()
            return self.steady()
        try:
            plan = compile_plan(self.spec, self.obs.routers)
        except CompileError as error:
            return self.stalled(str(error))
        if s["canary_revision"] != target:
            if self.paused and s["canary_revision"] is None:
                return self.steady(waiting=f"revision {target} waits: the rollout is paused")
            self.start(target)
        if command:
            self.apply_step_commands(command, plan)
        if s["aborted"]:
            return self.aborted(plan)
        return self.advance(plan)

    # --- commands --------------------------------------------------------------------------

    def apply_pause_commands(self, command: Command) -> None:
        if command.name == "pause":
            self.s["paused_by_user"] = True
            self.event("Paused", "paused by user")
        elif command.name == "resume":
            self.s["paused_by_user"] = False
            self.event("Resumed", "resumed by user")

    def apply_step_commands(self, command: Command, plan: Plan) -> None:
        s = self.s
        index = s["current_step_index"]
        if command.name == "abort" and not s["aborted"]:
            s["aborted"] = True
            self.event("RolloutAborted", "aborted by user; traffic returns to the stable revision", warning=True)
        elif command.name == "retry" and s["aborted"]:
            s.update(aborted=False, degraded=False, current_step_index=0, step_started_at=self.now, promoted_full_from=None)
            self.event("RolloutRetried", "retrying the rollout from the first step")
        elif command.name == "promote" and not s["aborted"]:
            s["paused_by_user"] = False
            if isinstance(plan.steps[index], (Pause, RunAnalysis)):
                s.update(current_step_index=index + 1, step_started_at=self.now)
                self.event("Promoted", f"step {index} ({plan.steps[index].describe()}) skipped by promote")
        elif command.name == "promoteFull" and not s["aborted"]:
            s["paused_by_user"] = False
            if index < plan.full_promotion_index:
                s.update(current_step_index=plan.full_promotion_index, step_started_at=self.now, promoted_full_from=index)
            self.event("Promoted", "full promotion: remaining steps skipped")

    def target(self, command: Command | None) -> str:
        """The revision to run: the spec's template, unless `undo` pinned an older one for this generation."""
        s, obs = self.s, self.obs
        if command and command.name == "undo":
            revision = command.revision or self.previous_revision()
            if revision and revision in obs.revisions:
                s["undo"] = {"revision": revision, "generation": obs.generation}
                self.event("Undo", f"rolling back to revision {revision}")
            else:
                self.event("UndoFailed", f"revision {revision or '(none)'} is not kept; nothing to undo to", warning=True)
        undo = s["undo"]
        if undo and undo["generation"] == obs.generation and undo["revision"] in obs.revisions:
            return undo["revision"]
        s["undo"] = None
        return obs.template_revision

    def previous_revision(self) -> str | None:
        s = self.s
        if s["canary_revision"]:
            return s["stable_revision"]
        older = [r for r in self.obs.revisions.values() if r.name != s["stable_revision"]]
        return max(older, key=lambda r: r.number).name if older else None

    # --- rollout ---------------------------------------------------------------------------

    def start(self, target: str) -> None:
        s = self.s
        if s["canary_revision"]:
            self.event("RolloutSuperseded", f"revision {s['canary_revision']} replaced by {target} mid-rollout")
        s.update(
            canary_revision=target,
            current_step_index=0,
            step_started_at=self.now,
            rollout_started_at=self.now,
            aborted=False,
            degraded=False,
            promoted_full_from=None,
        )
        self.event("RolloutStarted", f"rolling out revision {target} with strategy {self.spec.strategy.name}")

    def end_rollout(self) -> None:
        self.s.update(
            canary_revision=None, current_step_index=None, aborted=False, degraded=False, step_count=None, promoted_full_from=None
        )

    def advance(self, plan: Plan) -> Decision:
        s = self.s
        s["step_count"] = len(plan.steps)
        index = min(s["current_step_index"], len(plan.steps) - 1)
        waiting = ""
        while True:
            step = plan.steps[index]
            shape = fold(self.applied_steps(plan, index), self.replicas)
            holds, waiting = self.gate(step, index, shape, plan)
            if not holds or self.paused:
                break
            if isinstance(step, Finish):
                return self.finish(step)
            self.event("StepCompleted", f"step {index}: {step.describe()}")
            index += 1
            s.update(current_step_index=index, step_started_at=self.now)
        s["current_step_index"] = index
        if self.paused:
            waiting = "paused" + (" by user" if s["paused_by_user"] else " (spec.paused)")
        phase = Phase.PAUSED if waiting.startswith(("paused", "analysis inconclusive")) else Phase.PROGRESSING
        if isinstance(step, (Scale, SetWeight)) and not self.paused:
            phase = self.check_deadline(step, phase)
        if s["aborted"]:  # a failed analysis or the progress deadline
            return self.aborted(plan)
        phase = Phase.DEGRADED if s["degraded"] else phase
        return self.decision(plan.mode, shape, phase, f"step {index}/{len(plan.steps)}: {waiting}")

    def applied_steps(self, plan: Plan, index: int) -> tuple[Step, ...]:
        """The steps whose effects hold at `index`: those skipped by promote --full never took effect."""
        skipped_from = self.s["promoted_full_from"]
        if skipped_from is None or index < plan.full_promotion_index:
            return plan.steps[: index + 1]
        return plan.steps[: skipped_from + 1] + plan.steps[plan.full_promotion_index : index + 1]

    def gate(self, step: Step, index: int, shape: _Target, plan: Plan) -> tuple[bool, str]:
        """Whether the current step is done, and if not, what it waits for."""
        s = self.s
        canary = s["canary_revision"]
        if isinstance(step, Scale):
            revision = canary if step.role is Role.CANARY else s["stable_revision"]
            done = self.settled(revision, step.replicas)
            return done, f"waiting for {step.role.value} to run {step.replicas} available pods"
        if isinstance(step, SetWeight):
            done = self.canary_weight(plan.mode, shape) == step.percent
            return done, f"waiting for canary capacity before weight {step.percent}%"
        if isinstance(step, Pause):
            if step.seconds is None:
                return False, "paused until promoted"
            ends = s["step_started_at"] + step.seconds
            if self.now >= ends:
                return True, ""
            self.wake_at(ends)
            return False, f"paused until {_rfc3339(ends)}"
        if isinstance(step, RunAnalysis):
            key = analysis_key(canary, index)
            verdict = self.obs.analysis.get(key, self.obs.unknown_analysis)
            if verdict is Verdict.SUCCESSFUL:
                return True, ""
            if verdict is Verdict.FAILED:
                if not s["aborted"]:
                    s["aborted"] = True
                    self.event("AnalysisFailed", f"analysis {', '.join(step.templates)} failed; aborting", warning=True)
                return False, "analysis failed"
            self.analyses.append(AnalysisRequest(key, step.templates))
            if verdict is Verdict.INCONCLUSIVE:
                return False, "analysis inconclusive: promote to continue or abort"
            return False, f"analysis {', '.join(step.templates)} running"
        return True, ""  # header routes, mirrors and Finish take effect as soon as they are applied

    def check_deadline(self, step: Scale | SetWeight, phase: Phase) -> Phase:
        """Degraded when the revision the step waits for gains no available pod for progressDeadlineSeconds."""
        s = self.s
        waited = s["stable_revision"] if isinstance(step, Scale) and step.role is Role.STABLE else s["canary_revision"]
        observed = self.observed(waited)
        mark = f"{s['current_step_index']}/{observed.available if observed else 0}/{observed.replicas if observed else 0}"
        if mark != s["progress_mark"]:
            if s["degraded"] and not s["aborted"]:
                s["degraded"] = False
                self.event("ProgressResumed", f"step {s['current_step_index']} is progressing again")
            s.update(progress_mark=mark, progress_at=self.now)
        deadline = s["progress_at"] + self.spec.progress_deadline_seconds
        if self.now < deadline:
            self.wake_at(deadline)
            return phase
        if not s["degraded"]:
            s["degraded"] = True
            self.event(
                "ProgressDeadlineExceeded",
                f"step {s['current_step_index']} made no progress in {self.spec.progress_deadline_seconds}s",
                warning=True,
            )
        if self.spec.progress_deadline_abort and not s["aborted"]:
            s["aborted"] = True
            self.event("RolloutAborted", "progress deadline exceeded; rolling back to the stable revision", warning=True)
        return Phase.DEGRADED

    def finish(self, step: Finish) -> Decision:
        s = self.s
        old, new = s["stable_revision"], s["canary_revision"]
        self.event("RolloutCompleted", f"revision {new} is stable; {old} scales down")
        s.update(stable_revision=new, scale_down_revision=old, scale_down_at=self.now + step.scale_down_delay_seconds)
        self.end_rollout()
        return self.steady()

    def aborted(self, plan: Plan) -> Decision:
        """Traffic back to stable at once; the canary goes only when stable has its full capacity again."""
        s = self.s
        s["step_count"] = len(plan.steps)
        stable_back = self.available(s["stable_revision"]) >= self.replicas
        current = self.observed(s["canary_revision"])
        keep_canary = 0 if stable_back or plan.mode is not TrafficMode.SHARE else (current.spec_replicas if current else 0)
        shape = _Target(canary=keep_canary, stable=self.replicas)
        return self.decision(plan.mode, shape, Phase.ABORTED, "aborted: the stable revision serves; retry or change the template")

    # --- steady state ----------------------------------------------------------------------

    def steady(self, waiting: str = "") -> Decision:
        s = self.s
        s.update(step_count=None, current_step_index=None)
        stable = s["stable_revision"]
        ready = self.settled(stable, self.replicas)
        if waiting:
            phase = Phase.PAUSED
        else:
            phase = Phase.HEALTHY if ready else Phase.PROGRESSING
            waiting = "healthy" if ready else f"waiting for {self.replicas} available pods of {stable}"
        mode = self.mode()
        shape = _Target(canary=0, stable=self.replicas, weight=0)
        return self.decision(TrafficMode.SHARE if mode is TrafficMode.SHARE else TrafficMode.SWITCH, shape, phase, waiting)

    def stalled(self, message: str) -> Decision:
        s = self.s
        if s["message"] != message:
            self.event("InvalidSpec", message, warning=True)
        shape = _Target(canary=0, stable=self.replicas)
        return self.decision(TrafficMode.SWITCH, shape, Phase.DEGRADED, message, stalled=True)

    # --- the decision ----------------------------------------------------------------------

    def canary_weight(self, mode: TrafficMode, shape: _Target) -> int:
        canary = self.s["canary_revision"]
        if canary is None or self.s["aborted"]:
            return 0
        if mode is TrafficMode.SHARE:
            total = sum(o.ready for o in self.obs.revisions.values())
            return round(100 * self.ready(canary) / total) if total else 0
        if mode is TrafficMode.SWITCH:
            full = self.available(canary) >= max(1, shape.canary)
            return 100 if shape.weight == 100 and full else 0
        return shape.weight if self.available(canary) > 0 else 0

    def desired_replicas(self, shape: _Target) -> dict[str, int]:
        s = self.s
        replicas = {name: 0 for name in self.obs.revisions}
        pending = s["scale_down_revision"]
        if pending and pending in replicas:
            if s["scale_down_at"] is not None and self.now < s["scale_down_at"]:
                replicas[pending] = self.obs.revisions[pending].spec_replicas
                self.wake_at(s["scale_down_at"])
            else:
                s.update(scale_down_revision=None, scale_down_at=None)
        elif pending:
            s.update(scale_down_revision=None, scale_down_at=None)
        if s["canary_revision"]:
            replicas[s["canary_revision"]] = shape.canary
        replicas[s["stable_revision"]] = shape.stable
        return replicas

    def prune(self, replicas: dict[str, int]) -> tuple[str, ...]:
        s = self.s
        keep = {s["stable_revision"], s["canary_revision"], s["scale_down_revision"], self.obs.template_revision}
        idle = [
            o
            for o in self.obs.revisions.values()
            if o.name not in keep and replicas.get(o.name, 0) == 0 and o.replicas == 0
        ]
        idle.sort(key=lambda o: o.number, reverse=True)
        return tuple(o.name for o in idle[self.spec.revision_history_limit :])

    def weights(self, mode: TrafficMode, shape: _Target) -> dict[str, int]:
        s = self.s
        stable, canary = s["stable_revision"], s["canary_revision"]
        if mode is TrafficMode.SHARE:
            ready = {name: o.ready for name, o in self.obs.revisions.items() if o.ready > 0}
            return _largest_remainder(ready) if ready else {stable: 100}
        weight = self.canary_weight(mode, shape)
        if canary is None or weight == 0:
            chosen = {stable: 100}
        else:
            chosen = {stable: 100 - weight, canary: weight} if weight < 100 else {canary: 100}
        if any(self.ready(r) for r, w in chosen.items() if w):
            return chosen
        # Nothing chosen can serve (say, scaled up from zero): keep traffic where pods are ready.
        fallbacks = [stable, s["scale_down_revision"]] + ([] if s["aborted"] else [canary])
        serving = next((r for r in fallbacks if r and self.ready(r)), None)
        return {serving: 100} if serving else chosen

    def decision(self, mode: TrafficMode, shape: _Target, phase: Phase, message: str, stalled: bool = False) -> Decision:
        s = self.s
        stable, canary = s["stable_revision"], s["canary_revision"]
        replicas = self.desired_replicas(shape)
        delete = self.prune(replicas)
        weights = self.weights(mode, shape)
        canary_serving = canary is not None and self.available(canary) > 0 and not s["aborted"]
        traffic = Traffic(
            weights=weights,
            header_route=shape.header_route if canary_serving else (),
            mirror_percent=shape.mirror_percent if canary_serving else 0,
            canary=canary,
        )
        main = None if mode is TrafficMode.SHARE else max(weights, key=lambda r: weights[r])
        services = {"": main, "stable": stable, "canary": canary or stable}
        self.fill_status(weights, traffic, phase, message, stalled)
        return Decision(
            replicas=replicas,
            delete=delete,
            traffic=traffic,
            services=services,
            status=RolloutStatus.model_validate(s),
            events=tuple(self.events),
            analyses=tuple(self.analyses),
            requeue_after=min(self.wake) if self.wake else None,
        )

    def fill_status(self, weights: dict[str, int], traffic: Traffic, phase: Phase, message: str, stalled: bool) -> None:
        s, obs = self.s, self.obs
        stable, canary = s["stable_revision"], s["canary_revision"]
        shown = [r for r in dict.fromkeys([stable, canary, s["scale_down_revision"]]) if r]
        s["revisions"] = [
            {
                "name": r,
                "replicas": obs.revisions[r].replicas if r in obs.revisions else 0,
                "ready_replicas": self.ready(r),
                "weight": weights.get(r, 0),
            }
            for r in shown
        ]
        s.update(
            observed_generation=obs.generation,
            phase=phase,
            message=message,
            replicas=sum(o.replicas for o in obs.revisions.values()),
            ready_replicas=sum(o.ready for o in obs.revisions.values()),
            updated_replicas=obs.revisions[obs.template_revision].replicas if obs.template_revision in obs.revisions else 0,
            selector=",".join(f"{k}={v}" for k, v in sorted(self.spec.selector.match_labels.items())),
            canary_weight=weights.get(canary, 0) if canary else 0,
            stable_weight=weights.get(stable, 0),
            mirror_percent=traffic.mirror_percent,
            header_route=bool(traffic.header_route),
        )
        s["conditions"] = conditions_for(phase, message, s["conditions"], obs.generation, _rfc3339(self.now), stalled)


def _largest_remainder(counts: dict[str, int]) -> dict[str, int]:
    """Integer percentages proportional to counts that sum to exactly 100."""
    total = sum(counts.values())
    exact = {k: 100 * v / total for k, v in counts.items()}
    shares = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)[: 100 - sum(shares.values())]:
        shares[k] += 1
    return shares
