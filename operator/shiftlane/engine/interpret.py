"""The interpreter: (spec, status, observation, now) -> Decision. Pure: no I/O, no clock, no client.

It walks the compiled plan from the step in status, advancing through every step whose condition
already holds, so a rollout moves the instant the world allows rather than on the next poll.

Safety rules kept here for every strategy (tests/unit/test_engine_properties.py checks them):
- the step index belongs to the plan whose hash status records (a new replica count resumes at the
  same meaning, an edited strategy restarts);
- traffic moves before capacity goes: a revision losing traffic keeps its pods in that Decision, and
  pods of a Service's revision go only once the Service is observed elsewhere;
- where traffic follows pods, reductions never take available pods below what the strategy allows;
- the interpreter never raises: an internal error holds the world as it is and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from enum import Enum

from shiftlane.api.spec import RequestMatch, RolloutSpec
from shiftlane.api.status import (
    Command,
    HandledCommand,
    Phase,
    ProgressDeadline,
    ImageStatus,
    RevisionStatus,
    RolloutProgress,
    RouterStatus,
    RolloutStatus,
    ScaleDown,
    Undo,
)
from shiftlane.engine import adoption
from shiftlane.engine.conditions import Stall, conditions_for
from shiftlane.engine.model import (
    Adoption,
    AnalysisRequest,
    Decision,
    Event,
    ImageGate,
    Observation,
    Traffic,
    Verdict,
    WebhookRequest,
)
from shiftlane.engine.plan import CompileError, compile_plan
from shiftlane.engine.replicas import resolve, share
from shiftlane.engine.steps import (
    AwaitWebhook,
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


@dataclass(frozen=True)
class Shape:
    """The desired shape while a step is current: what the steps so far have asked for."""

    canary: int
    stable: int
    weight: int = 0
    header_route: tuple[RequestMatch, ...] = ()
    mirror_percent: int = 0


def fold(steps: tuple[Step, ...], replicas: int) -> Shape:
    shape = Shape(canary=0, stable=replicas)
    for step in steps:
        if isinstance(step, Scale):
            shape = replace(shape, **{step.role.value: step.replicas})
        elif isinstance(step, SetWeight):
            shape = replace(shape, weight=step.percent)
        elif isinstance(step, SetHeaderRoute):
            shape = replace(shape, header_route=step.matches)
        elif isinstance(step, SetMirror):
            shape = replace(shape, mirror_percent=step.percent)
    return shape


class Wait(str, Enum):
    """What a step waits for."""

    PODS = "Pods"  # a revision is not at the step's count of available pods yet
    TRAFFIC = "Traffic"  # the traffic change is not observed yet
    PAUSE = "Pause"  # a timed pause
    PROMOTION = "Promotion"  # until promoted
    ANALYSIS = "Analysis"  # the analysis has no verdict yet
    INCONCLUSIVE = "Inconclusive"  # a person decides: promote or abort
    FAILED = "Failed"  # the analysis failed: the rollout aborts
    WEBHOOK = "Webhook"  # a gating webhook has not answered 2xx yet


@dataclass(frozen=True)
class Gate:
    """The current step's state: done (wait is None) or what it waits for, and what that implies."""

    wait: Wait | None = None
    message: str = ""
    wake_at: float | None = None
    analysis: AnalysisRequest | None = None
    webhooks: tuple[WebhookRequest, ...] = ()
    abort: str | None = None  # the step failed: abort with this message
    abort_reason: str = "AnalysisFailed"


DONE = Gate()
_PAUSED_WAITS = {Wait.PAUSE, Wait.PROMOTION, Wait.INCONCLUSIVE}
_DEADLINE_WAITS = {Wait.PODS, Wait.TRAFFIC}


def analysis_key(revision: str, attempt: int, step: int | str) -> str:
    """One verdict per rollout attempt and step: a retry or a redeploy never reuses an old verdict."""
    return f"{revision}-{attempt}-{step}"


def interpret(spec: RolloutSpec, status: RolloutStatus, observation: Observation, now: float) -> Decision:
    return _Interpretation(spec, status, observation, now).decide()


def _time(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def _seconds(value: datetime) -> float:
    return value.timestamp()


def _rfc3339(ts: float) -> str:
    return _time(ts).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Interpretation:
    def __init__(self, spec: RolloutSpec, status: RolloutStatus, observation: Observation, now: float):
        self.spec = spec
        self.obs = observation
        self.now = now
        self.original = status
        self.s = status.model_copy(deep=True)  # the typed state this interpretation edits
        self.previous_weights = {r.name: r.weight for r in status.revisions}
        self.events: list[Event] = []
        self.wake: list[float] = []
        self.analyses: list[AnalysisRequest] = []
        self.webhook_requests: list[WebhookRequest] = []
        # A failed check with rollbackOnFailure false: the rollout freezes with this message.
        self.frozen: str | None = None
        self.replicas = spec.replicas
        self.stall: Stall | None = None
        # A Deployment named by spec.workloadRef still serves next to the revisions.
        self.adopting = adoption.serving(spec, status.workload, observation)

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
        """The revision runs exactly `replicas` pods, all available; at zero, no pod of it exists at all."""
        o = self.observed(revision)
        if o is None:
            return replicas == 0
        gone = replicas > 0 or o.terminating == 0
        return o.spec_replicas == replicas and o.replicas <= replicas and o.available >= replicas and gone

    @property
    def paused(self) -> bool:
        return self.spec.paused or self.s.paused_by_user

    @property
    def attempt(self) -> int:
        return self.s.rollout.attempt if self.s.rollout else self.s.rollout_attempts

    def steady_mode(self) -> TrafficMode:
        """Outside a rollout one revision serves: through every pod (share) or one selected revision."""
        try:
            mode = compile_plan(self.spec, self.obs.routers).mode
        except CompileError:
            mode = TrafficMode.SWITCH
        return TrafficMode.SHARE if mode is TrafficMode.SHARE else TrafficMode.SWITCH

    # --- entry -----------------------------------------------------------------------------

    def decide(self) -> Decision:
        try:
            return self.interpret()
        except Exception as error:  # noqa: BLE001 - the interpreter never raises; a bug holds the world
            return self.hold(error)

    def interpret(self) -> Decision:
        s, obs = self.s, self.obs
        command = obs.command if obs.command and obs.command.id != s.handled_command_id else None
        if command:
            s.handled_command = HandledCommand(id=command.id, name=command.name)
            self.apply_pause_commands(command)
        target = self.target(command)
        s.strategy = self.spec.strategy.name
        if obs.template_error and target not in obs.revisions:
            return self.stalled("TemplateRefused", f"the API server refuses revision {target}: {obs.template_error}")
        check = obs.image_check
        if check is not None and target == obs.template_revision and target not in obs.revisions:
            if check.gate is ImageGate.BLOCKED:
                return self.stalled(check.reason or "ImageBlocked", check.message)
            if check.gate is ImageGate.WAITING:
                return self.hold_still(Phase.PROGRESSING, f"checking the images of {target}: {check.message}",
                                       requeue_after=check.retry_after)
            s.images = [ImageStatus(container=i.container, tag=i.tag, digest=i.digest) for i in check.images]
        if obs.conflicts:
            names = ", ".join(obs.conflicts)
            return self.stalled("ObjectConflict", f"{names} exists and was not created by Shiftlane; delete or rename it")
        if obs.missing:
            names = ", ".join(obs.missing)
            return self.stalled("ObjectNotFound", f"{names} named by the Rollout not found; create it or fix the name")
        if s.stable_revision is None:
            s.stable_revision = target
            self.event("RevisionCreated", f"first revision {target} at {self.replicas} replicas")
        elif target != s.stable_revision and s.canary_revision is None and self.adopting:
            # The adopted Deployment still serves: a new template replaces the first revision outright;
            # strategies take over once the Deployment runs no pod.
            self.event("RevisionReplaced", f"revision {target} replaces {s.stable_revision} while Deployment"
                                           f" {obs.workload.name} still serves")
            s.scale_down = ScaleDown(revision=s.stable_revision, after=_time(self.now))
            s.stable_revision = target
        if target == s.stable_revision:
            if s.canary_revision:
                self.event("RolloutCancelled", f"target is the stable revision {target} again; canary {s.canary_revision} removed")
                self.end_rollout()
            return self.steady()
        try:
            plan = compile_plan(self.spec, obs.routers)
        except CompileError as error:
            return self.stalled("InvalidSpec", str(error))
        router = obs.router
        if plan.mode is TrafficMode.ROUTER and router is not None and router.problems:
            return self.stalled("RouterNotReady", "; ".join(router.problems) + "; the stable revision keeps serving")
        if s.canary_revision != target:
            if self.paused and s.canary_revision is None:
                return self.steady(waiting=f"revision {target} waits: the rollout is paused")
            if s.canary_revision:
                self.event("RolloutSuperseded", f"revision {s.canary_revision} replaced by {target} mid-rollout")
            self.start(target, plan)
        self.align(plan)
        if command:
            self.apply_step_commands(command, plan)
        if s.aborted:
            return self.aborted(plan)
        if obs.analysis_problem:
            s.step_count = len(plan.steps)
            return self.stalled("AnalysisTemplateInvalid", f"{obs.analysis_problem}; the rollout holds where it is")
        return self.advance(plan)

    # --- commands --------------------------------------------------------------------------

    def apply_pause_commands(self, command: Command) -> None:
        if command.name == "pause":
            self.s.paused_by_user = True
            self.event("Paused", "paused by user")
        elif command.name == "resume":
            self.s.paused_by_user = False
            self.event("Resumed", "resumed by user")

    def apply_step_commands(self, command: Command, plan: Plan) -> None:
        s, rollout = self.s, self.s.rollout
        index = self.index(plan)
        if command.name == "abort" and not s.aborted:
            self.abort("RolloutAborted", "aborted by user; traffic returns to the stable revision")
        elif command.name == "retry" and s.aborted:
            self.begin_attempt(plan)
            s.aborted = False
            s.degraded = False
            self.event("RolloutRetried", "retrying the rollout from the first step")
        elif command.name == "promote" and not s.aborted:
            s.paused_by_user = False
            if self.background_verdict(plan) is Verdict.INCONCLUSIVE:
                rollout.background_run += 1  # accepted by a person: a fresh background run from here
                self.event("Promoted", "inconclusive background analysis accepted; it runs again from here")
            elif isinstance(plan.steps[index], (Pause, RunAnalysis, AwaitWebhook)):
                self.move_to(index + 1)
                rollout.promoted_steps = sorted({*rollout.promoted_steps, index})
                self.event("Promoted", f"step {index} ({plan.steps[index].describe()}) skipped by promote")
        elif command.name == "promoteFull" and not s.aborted:
            s.paused_by_user = False
            if index < plan.full_promotion_index:
                self.move_to(plan.full_promotion_index)
                rollout.promoted_full_from = index
            self.event("Promoted", "full promotion: remaining steps skipped")

    def target(self, command: Command | None) -> str:
        """The revision to run: the spec's template, unless `undo` pinned an older one for this template."""
        s, obs = self.s, self.obs
        if command and command.name == "undo":
            revision = command.revision or self.previous_revision()
            if revision and revision in obs.revisions:
                s.undo = Undo(revision=revision, template_revision=obs.template_revision)
                self.event("Undo", f"rolling back to revision {revision}")
            else:
                self.event("UndoFailed", f"revision {revision or '(none)'} is not kept; nothing to undo to", warning=True)
        undo = s.undo
        if undo and undo.template_revision == obs.template_revision and undo.revision in obs.revisions:
            return undo.revision
        s.undo = None  # the template changed (or the pinned revision is gone): the spec rules again
        return obs.template_revision

    def previous_revision(self) -> str | None:
        s = self.s
        if s.canary_revision:
            return s.stable_revision
        older = [r for r in self.obs.revisions.values() if r.name != s.stable_revision]
        return max(older, key=lambda r: r.number).name if older else None

    # --- the step index and its plan -------------------------------------------------------

    def start(self, target: str, plan: Plan) -> None:
        self.s.canary_revision = target
        self.s.aborted = False
        self.s.degraded = False
        self.begin_attempt(plan)
        self.event("RolloutStarted", f"rolling out revision {target} with strategy {self.spec.strategy.name}")

    def begin_attempt(self, plan: Plan) -> None:
        """Step 0 of `plan`, with a fresh attempt: new analysis verdicts and a new progress deadline."""
        s = self.s
        s.rollout_attempts += 1
        started = _time(self.now)
        s.rollout = RolloutProgress(
            attempt=s.rollout_attempts, started_at=started, step_started_at=started, plan_replicas=self.replicas
        )
        s.progress = None
        s.current_step_index = 0
        s.current_step_hash = plan.hash

    def align(self, plan: Plan) -> None:
        """Tie the step index to `plan`: resume by meaning after a replica change, restart after an edit."""
        s = self.s
        if s.rollout is not None and s.current_step_hash == plan.hash:
            return
        before = self.plan_at(s.rollout.plan_replicas) if s.rollout is not None else None
        if before is not None and before.hash == s.current_step_hash and s.current_step_index is not None:
            old_index = min(max(s.current_step_index, 0), len(before.steps) - 1)
            index = plan.resume_index(before.origins[old_index])
            if s.rollout.promoted_full_from is not None:
                origin = before.origins[min(s.rollout.promoted_full_from, len(before.origins) - 1)]
                s.rollout.promoted_full_from = min(plan.resume_index(origin), plan.full_promotion_index)
            s.rollout.promoted_steps = sorted({
                plan.resume_index(before.origins[i]) for i in s.rollout.promoted_steps if i < len(before.origins)})
            self.event(
                "StepResumed",
                f"replicas {s.rollout.plan_replicas} -> {self.replicas}: step {old_index} "
                f"({before.steps[old_index].describe()}) continues as step {index} ({plan.steps[index].describe()})",
            )
            if plan.steps[index] != before.steps[old_index]:
                s.rollout.step_started_at = _time(self.now)
            s.current_step_index = index
            s.rollout.plan_replicas = self.replicas
            s.current_step_hash = plan.hash
            return
        aborted = s.aborted
        self.begin_attempt(plan)
        s.aborted = aborted
        self.event("PlanChanged", "the strategy or its steps changed mid-rollout; restarting from the first step", warning=True)

    def plan_at(self, replicas: int) -> Plan | None:
        try:
            return compile_plan(self.spec.model_copy(update={"replicas": replicas}), self.obs.routers)
        except CompileError:
            return None

    def index(self, plan: Plan) -> int:
        return min(max(self.s.current_step_index or 0, 0), len(plan.steps) - 1)

    def move_to(self, index: int) -> None:
        self.s.current_step_index = index
        self.s.rollout.step_started_at = _time(self.now)

    def end_rollout(self) -> None:
        s = self.s
        s.canary_revision = None
        s.current_step_index = None
        s.current_step_hash = None
        s.step_count = None
        s.step = None
        s.aborted = False
        s.degraded = False
        s.rollout = None
        s.progress = None

    def abort(self, reason: str, message: str) -> None:
        self.s.aborted = True
        self.s.rollout.aborted_at = _time(self.now)
        self.event(reason, message, warning=True)

    # --- rollout ---------------------------------------------------------------------------

    def advance(self, plan: Plan) -> Decision:
        s = self.s
        s.step_count = len(plan.steps)
        index = self.index(plan)
        while True:
            step = plan.steps[index]
            shape = fold(self.applied_steps(plan, index), self.replicas)
            gate = self.background_gate(plan, index)
            self.take(gate)
            if gate.wait is None:
                gate = self.gate(step, index, shape, plan)
                self.take(gate)
            if gate.wait is not None or self.paused or self.frozen:
                break
            if isinstance(step, Finish) or index + 1 >= len(plan.steps):
                return self.finish(step)
            self.event("StepCompleted", f"step {index}: {step.describe()}")
            index += 1
            self.move_to(index)
        s.current_step_index = index
        s.step = plan.stage_of(index) or None
        if self.frozen:
            return self.stalled("AnalysisFailed", f"{self.frozen}; rollbackOnFailure is false, so traffic stays"
                                " where it is: abort rolls back, promote goes on")
        waiting = gate.message
        phase = Phase.PAUSED if gate.wait in _PAUSED_WAITS else Phase.PROGRESSING
        if self.paused:
            waiting = "paused" + (" by user" if s.paused_by_user else " (spec.paused)")
            phase = Phase.PAUSED
        elif gate.wait in _DEADLINE_WAITS:
            waited = s.stable_revision if isinstance(step, Scale) and step.role is Role.STABLE else s.canary_revision
            phase = self.check_deadline(waited, phase)
        if s.aborted:  # a failed analysis or the progress deadline
            return self.aborted(plan)
        phase = Phase.DEGRADED if s.degraded else phase
        return self.decision(plan.mode, shape, phase, f"step {index}/{len(plan.steps)}: {waiting}")

    def take(self, gate: Gate) -> None:
        """Carry out what a gate implies: a wake-up, an analysis or webhook to run, an abort."""
        if gate.wake_at is not None:
            self.wake_at(gate.wake_at)
        if gate.analysis is not None and gate.analysis not in self.analyses:
            self.analyses.append(gate.analysis)
        self.webhook_requests += [w for w in gate.webhooks if w not in self.webhook_requests]
        if gate.abort and not self.s.aborted:
            if self.spec.rollback_on_failure:
                self.abort(gate.abort_reason, gate.abort)
            else:
                self.frozen = gate.abort

    def background_key(self) -> str:
        run = self.s.rollout.background_run if self.s.rollout else 0
        return analysis_key(self.s.canary_revision, self.attempt, f"background-{run}")

    def background_verdict(self, plan: Plan) -> Verdict | None:
        if plan.background is None or self.index(plan) < plan.background_from:
            return None
        return self.obs.analysis.get(self.background_key(), Verdict.RUNNING)

    def background_gate(self, plan: Plan, index: int) -> Gate:
        """canary.analysis runs beside the steps from its starting step; its failure aborts any step."""
        if plan.background is None or index < plan.background_from:
            return DONE
        key = self.background_key()
        request = AnalysisRequest(key, plan.background, background=True)
        verdict = self.obs.analysis.get(key, Verdict.RUNNING)
        if verdict is Verdict.FAILED:
            return Gate(Wait.FAILED, "background analysis failed", abort=self.analysis_failure(key, plan.background))
        if verdict is Verdict.INCONCLUSIVE:
            return Gate(Wait.INCONCLUSIVE, "background analysis inconclusive: promote to continue or abort", analysis=request)
        return Gate(analysis=request)

    def analysis_failure(self, key: str, step: RunAnalysis) -> str:
        """The run's own account (which metric, which value), as the analysis runner recorded it."""
        run = next((r for r in self.original.analysis_runs if r.key == key), None)
        detail = f": {run.message}" if run is not None and run.message else ""
        return f"{step.describe()} failed{detail}"

    def applied_steps(self, plan: Plan, index: int) -> tuple[Step, ...]:
        """The steps whose effects hold at `index`: those skipped by promote --full never took effect."""
        skipped_from = self.s.rollout.promoted_full_from if self.s.rollout else None
        if skipped_from is None or index < plan.full_promotion_index:
            return plan.steps[: index + 1]
        return plan.steps[: skipped_from + 1] + plan.steps[plan.full_promotion_index : index + 1]

    def gate(self, step: Step, index: int, shape: Shape, plan: Plan) -> Gate:
        """Whether the current step is done, and if not, what it waits for. No side effects."""
        s = self.s
        canary = s.canary_revision
        if isinstance(step, Scale):
            revision = canary if step.role is Role.CANARY else s.stable_revision
            if self.settled(revision, step.replicas):
                return DONE
            return Gate(Wait.PODS, f"waiting for {step.role.value} to run {step.replicas} available pods")
        if isinstance(step, SetWeight):
            if self.canary_weight(plan.mode, shape) != step.percent:
                return Gate(Wait.TRAFFIC, f"waiting for ready canary pods before weight {step.percent}%")
            if plan.mode is TrafficMode.SWITCH and self.obs.service_revisions.get("", canary) != canary:
                return Gate(Wait.TRAFFIC, f"waiting for the Service to select {canary}")
            return self.router_holds(plan, "weight", step.percent)
        if isinstance(step, SetHeaderRoute):
            return self.router_holds(plan, "header route", bool(step.matches))
        if isinstance(step, SetMirror):
            return self.router_holds(plan, "mirror", step.percent)
        if isinstance(step, Pause):
            if step.seconds is None:
                return Gate(Wait.PROMOTION, "paused until promoted")
            ends = _seconds(s.rollout.step_started_at) + step.seconds
            if self.now >= ends:
                return DONE
            return Gate(Wait.PAUSE, f"paused until {_rfc3339(ends)}", wake_at=ends)
        if isinstance(step, RunAnalysis):
            key = analysis_key(canary, self.attempt, index)
            verdict = self.obs.analysis.get(key, Verdict.RUNNING)
            if verdict is Verdict.SUCCESSFUL:
                return DONE
            if verdict is Verdict.FAILED:
                return Gate(Wait.FAILED, "analysis failed", abort=self.analysis_failure(key, step))
            request = AnalysisRequest(key, step)
            if verdict is Verdict.INCONCLUSIVE:
                return Gate(Wait.INCONCLUSIVE, "analysis inconclusive: promote to continue or abort", analysis=request)
            return Gate(Wait.ANALYSIS, f"{step.describe()} running", analysis=request)
        if isinstance(step, AwaitWebhook):
            requests = tuple(WebhookRequest(analysis_key(canary, self.attempt, name), name) for name in step.names)
            verdicts = {r.webhook: self.obs.webhooks.get(r.key, Verdict.RUNNING) for r in requests}
            failed = [name for name, v in verdicts.items() if v is Verdict.FAILED]
            if failed:
                return Gate(Wait.FAILED, "webhook failed", webhooks=requests, abort_reason="WebhookFailed",
                            abort=f"{step.type} webhook {', '.join(failed)} did not answer 2xx within its retries")
            waiting = [name for name, v in verdicts.items() if v is not Verdict.SUCCESSFUL]
            if not waiting:
                return DONE
            return Gate(Wait.WEBHOOK, f"waiting for {step.type} webhook {', '.join(waiting)} to answer 2xx", webhooks=requests)
        return DONE  # Finish takes effect as soon as it is applied

    def router_holds(self, plan: Plan, what: str, wanted: int | bool) -> Gate:
        """A traffic step is done when the router's object, read back, holds it (not when we asked)."""
        router = self.obs.router
        if plan.mode is not TrafficMode.ROUTER or router is None:
            return DONE
        held = {"weight": router.canary_weight, "header route": router.header_route, "mirror": router.mirror_percent}[what]
        if held == wanted:
            return DONE
        return Gate(Wait.TRAFFIC, f"waiting for the traffic router to hold {what} {wanted} (reads {held})")

    def check_deadline(self, waited: str | None, phase: Phase) -> Phase:
        """Degraded when the awaited revision gains or loses no pod for progressDeadlineSeconds."""
        s = self.s
        observed = self.observed(waited)
        step = s.current_step_index if s.current_step_index is not None else "-"
        mark = f"{step}/{waited}/{observed.available if observed else 0}/{observed.replicas if observed else 0}"
        if s.progress is None or s.progress.mark != mark:
            if s.degraded and not s.aborted and s.progress is not None:
                s.degraded = False
                self.event("ProgressResumed", f"{waited} is progressing again")
            s.progress = ProgressDeadline(last_progress_time=_time(self.now), mark=mark)
        deadline = _seconds(s.progress.last_progress_time) + self.spec.progress_deadline_seconds
        if self.now < deadline:
            self.wake_at(deadline)
            return phase
        if not s.degraded:
            s.degraded = True
            self.event(
                "ProgressDeadlineExceeded",
                f"{waited} made no progress in {self.spec.progress_deadline_seconds}s",
                warning=True,
            )
        if self.spec.progress_deadline_abort and s.rollout is not None and not s.aborted:
            self.abort("RolloutAborted", "progress deadline exceeded; rolling back to the stable revision")
        return Phase.DEGRADED

    def finish(self, step: Step) -> Decision:
        s = self.s
        old, new = s.stable_revision, s.canary_revision
        delay = step.scale_down_delay_seconds if isinstance(step, Finish) else 0
        self.event("RolloutCompleted", f"revision {new} is stable; {old} scales down")
        s.stable_revision = new
        s.scale_down = ScaleDown(revision=old, after=_time(self.now + delay))
        self.end_rollout()
        return self.steady()

    def aborted(self, plan: Plan) -> Decision:
        """Traffic back to stable at once; the new revision's pods go once traffic has left them."""
        s = self.s
        s.step_count = len(plan.steps)
        s.step = plan.stage_of(self.index(plan)) or None
        current = self.observed(s.canary_revision)
        keep = current.spec_replicas if current else 0
        if plan.mode is TrafficMode.SHARE:
            keep = 0  # traffic follows pods: the capacity rule keeps them while stable is short
        elif self.weights(plan.mode, Shape(canary=keep, stable=self.replicas)).get(s.canary_revision):
            keep = current.spec_replicas  # stable has no ready pod yet: the canary still serves
        elif keep:
            aborted_at = s.rollout.aborted_at if s.rollout and s.rollout.aborted_at else _time(self.now)
            release = _seconds(aborted_at) + self.spec.abort_scale_down_delay_seconds
            if self.now >= release:
                keep = 0
            else:
                self.wake_at(release)
        shape = Shape(canary=keep, stable=self.replicas)
        return self.decision(plan.mode, shape, Phase.ABORTED, "aborted: the stable revision serves; retry or change the template")

    # --- steady state ----------------------------------------------------------------------

    def steady(self, waiting: str = "") -> Decision:
        s = self.s
        s.step_count = None
        s.step = None
        s.current_step_index = None
        s.current_step_hash = None
        stable = s.stable_revision
        if waiting:
            phase = Phase.PAUSED
        elif self.settled(stable, self.replicas):
            phase, waiting = Phase.HEALTHY, "healthy"
            s.progress = None
            s.degraded = False
        else:
            phase = Phase.PROGRESSING
            waiting = f"waiting for {self.replicas} available pods of {stable}"
            phase = self.check_deadline(stable, phase)
            phase = Phase.DEGRADED if s.degraded else phase
        shape = Shape(canary=0, stable=self.replicas)
        return self.decision(self.steady_mode(), shape, phase, waiting)

    def stalled(self, reason: str, message: str) -> Decision:
        """Stalled=True with an Event (once per message), and nothing moves."""
        previous = self.original.condition("Stalled")
        if previous is None or previous.message != message:
            self.event(reason, message, warning=True)
        self.stall = Stall(reason, message)
        return self.hold_still(Phase.DEGRADED, message)

    def hold_still(self, phase: Phase, message: str, requeue_after: float | None = None) -> Decision:
        """Nothing moves: every revision keeps its pods and every Service its selection."""
        s = self.s
        replicas = {name: o.spec_replicas for name, o in self.obs.revisions.items()}
        weights = self.held_weights()
        self.fill_status(weights, Traffic(weights), phase, message)
        return Decision(
            replicas=replicas,
            delete=(),
            traffic=Traffic(weights=weights, canary=s.canary_revision),
            services=dict(self.obs.service_revisions),
            status=s,
            events=tuple(self.events),
            requeue_after=requeue_after,
        )

    def held_weights(self) -> dict[str, int]:
        """The weights last decided, where they still add up; else all on stable."""
        ready = {name: o.ready for name, o in self.obs.revisions.items() if o.ready > 0}
        if ready and self.steady_mode() is TrafficMode.SHARE:
            return _largest_remainder(ready)  # every pod serves: the weights are the ready pods' shares
        kept = {name: w for name, w in self.previous_weights.items() if w > 0}
        if sum(kept.values()) == 100 and all(self.ready(name) for name in kept):
            return kept
        # Pods that served are gone meanwhile: traffic only where pods are ready, stable first.
        stable = self.s.stable_revision
        if self.ready(stable) or not ready:
            return {stable: 100} if stable else {}
        return _largest_remainder(ready)

    def hold(self, error: Exception) -> Decision:
        """A bug in this module: hold the cluster as observed and say so, instead of crash-looping."""
        self.s = self.original.model_copy(deep=True)
        self.events = []
        return self.stalled("InternalError", f"internal error, holding the current state: {type(error).__name__}: {error}")

    # --- the decision ----------------------------------------------------------------------

    def canary_weight(self, mode: TrafficMode, shape: Shape) -> int:
        canary = self.s.canary_revision
        if canary is None or self.s.aborted:
            return 0
        if mode is TrafficMode.SHARE:
            total = sum(o.ready for o in self.obs.revisions.values())
            return round(100 * self.ready(canary) / total) if total else 0
        return self.weights(mode, shape).get(canary, 0)

    def desired_replicas(self, shape: Shape) -> dict[str, int]:
        s = self.s
        replicas = {name: 0 for name in self.obs.revisions}
        pending = s.scale_down
        if pending and pending.revision in replicas and pending.revision not in (s.stable_revision, s.canary_revision):
            if self.now < _seconds(pending.after):
                replicas[pending.revision] = self.obs.revisions[pending.revision].spec_replicas
                self.wake_at(_seconds(pending.after))
            else:
                s.scale_down = None
        elif pending:
            s.scale_down = None
        if s.canary_revision:
            replicas[s.canary_revision] = shape.canary
        replicas[s.stable_revision] = shape.stable
        return replicas

    def keep_serving(self, replicas: dict[str, int], mode: TrafficMode, weights: dict[str, int]) -> None:
        """Pods go only after traffic has gone: never in the Decision that moves it, never while a
        Service is still observed selecting them, never below what a revision's traffic needs."""
        if mode is TrafficMode.SHARE:
            return
        for name, o in self.obs.revisions.items():
            if replicas.get(name, 0) >= o.spec_replicas:
                continue
            losing_traffic = weights.get(name, 0) < self.previous_weights.get(name, 0)
            still_reached = self.observed_receiving(name) and not weights.get(name, 0)
            if losing_traffic or still_reached:
                replicas[name] = o.spec_replicas
            elif weights.get(name, 0):  # still serving: keep the pods its share of traffic needs
                needed = min(o.available, share(self.replicas, weights[name]))
                replicas[name] = max(replicas.get(name, 0), needed)

    def observed_receiving(self, revision: str) -> bool:
        """Whether requests can still reach the revision as the cluster shows it now: the main Service
        selects it, or a router sends the canary backend weight, matches or mirrors."""
        services = self.obs.service_revisions
        if services.get("") == revision:
            return True
        router = self.obs.router
        if router is None:
            return False
        if services.get("canary") == revision and services.get("stable") != revision:
            return router.canary_weight > 0 or router.header_route or router.mirror_percent > 0
        return services.get("stable") == revision and router.canary_weight < 100

    def keep_capacity(self, replicas: dict[str, int]) -> None:
        """Where traffic follows pods, a reduction may take only pods the strategy can spare: available
        pods after the Decision stay at or above replicas - maxUnavailable (replicas for the others)."""
        minimum = self.minimum_available()
        if minimum <= 0:
            return

        def after(desired: dict[str, int]) -> int:
            return sum(min(o.available, desired.get(n, 0)) if desired.get(n, 0) < o.spec_replicas else o.available
                       for n, o in self.obs.revisions.items())

        deficit = minimum - after(replicas)
        reduced = sorted(
            (n for n, o in self.obs.revisions.items() if replicas.get(n, 0) < o.spec_replicas),
            key=lambda n: (-self.obs.revisions[n].available, n),
        )
        for name in reduced:
            if deficit <= 0:
                break
            o = self.obs.revisions[name]
            lost = o.available - min(o.available, replicas.get(name, 0))
            restore = min(lost, deficit)
            replicas[name] = replicas.get(name, 0) + restore
            deficit -= restore

    def one_rollout_at_a_time(self, replicas: dict[str, int]) -> None:
        """Never a mix of three: while a superseded revision still drains, the newest does not grow."""
        s = self.s
        ours = {s.stable_revision, s.canary_revision, s.scale_down_revision}
        if s.canary_revision and any(n not in ours and count > 0 for n, count in replicas.items()):
            current = self.observed(s.canary_revision)
            replicas[s.canary_revision] = min(replicas[s.canary_revision], current.spec_replicas if current else 0)

    def minimum_available(self) -> int:
        if self.adopting:
            return self.replicas  # the user's Services reach every revision: none of their pods go early
        strategy = self.spec.strategy
        if strategy.name == "recreate":
            return 0  # chosen by the user: the old revision goes before the new one starts
        if strategy.name == "rolling":
            return self.replicas - resolve(strategy.config.max_unavailable, self.replicas, round_up=False)
        return self.replicas

    def weights(self, mode: TrafficMode, shape: Shape) -> dict[str, int]:
        s = self.s
        stable, canary = s.stable_revision, s.canary_revision
        if mode is TrafficMode.SHARE:
            ready = {name: o.ready for name, o in self.obs.revisions.items() if o.ready > 0}
            return _largest_remainder(ready) if ready else {stable: 100}
        weight = 0 if canary is None or s.aborted else shape.weight
        chosen = {stable: 100 - weight, canary: weight} if 0 < weight < 100 else {canary if weight else stable: 100}
        serving = {r: w for r, w in chosen.items() if self.ready(r) > 0}
        if len(serving) == len(chosen):
            return chosen
        if serving:  # the other chosen revision has no ready pod: it gets no traffic
            return {next(iter(serving)): 100}
        # Nothing chosen can serve (say, scaled up from zero): keep traffic where pods are ready.
        # An aborted canary or a revision on its way out comes last, but serving beats an outage.
        others = sorted(self.obs.revisions.values(), key=lambda o: -o.number)
        fallbacks = [stable, s.scale_down_revision, canary, *(o.name for o in others)]
        ready_one = next((r for r in fallbacks if r and self.ready(r)), None)
        return {ready_one: 100} if ready_one else chosen

    def decision(self, mode: TrafficMode, shape: Shape, phase: Phase, message: str) -> Decision:
        s = self.s
        stable, canary = s.stable_revision, s.canary_revision
        replicas = self.desired_replicas(shape)
        weights = self.weights(mode, shape)
        main = None if mode is TrafficMode.SHARE else max(weights, key=lambda r: weights[r])
        self.keep_serving(replicas, mode, weights)
        if mode is TrafficMode.SHARE or self.adopting:
            self.keep_capacity(replicas)
        self.one_rollout_at_a_time(replicas)
        delete = self.prune(replicas)
        canary_serving = canary is not None and self.available(canary) > 0 and not s.aborted
        traffic = Traffic(
            weights=weights,
            header_route=shape.header_route if canary_serving else (),
            mirror_percent=shape.mirror_percent if canary_serving else 0,
            canary=canary,
        )
        services = {"": main, "stable": stable, "canary": canary or stable}
        adopted = self.adopt()
        self.fill_status(weights, traffic, phase, message)
        return Decision(
            replicas=replicas,
            delete=delete,
            traffic=traffic,
            services=services,
            status=s,
            events=tuple(self.events),
            analyses=tuple(self.analyses),
            webhooks=tuple(self.webhook_requests),
            requeue_after=min(self.wake) if self.wake else None,
            adoption=adopted,
        )

    def adopt(self) -> Adoption | None:
        """The Deployment named by spec.workloadRef shrinks as the revisions take over (engine/adoption.py)."""
        outcome = adoption.adopt(self.spec, self.s.workload, self.obs)
        if outcome is None:
            self.s.workload = None
            return None
        self.s.workload = outcome.status
        self.events.extend(outcome.events)
        return outcome.adoption

    def prune(self, replicas: dict[str, int]) -> tuple[str, ...]:
        s = self.s
        keep = {s.stable_revision, s.canary_revision, s.scale_down_revision, self.obs.template_revision}
        if s.undo:
            keep.add(s.undo.revision)
        idle = [
            o
            for o in self.obs.revisions.values()
            if o.name not in keep and replicas.get(o.name, 0) == 0 and o.replicas == 0 and o.terminating == 0
        ]
        idle.sort(key=lambda o: o.number, reverse=True)
        return tuple(o.name for o in idle[self.spec.revision_history_limit :])

    def fill_status(self, weights: dict[str, int], traffic: Traffic, phase: Phase, message: str) -> None:
        s, obs = self.s, self.obs
        stable, canary = s.stable_revision, s.canary_revision
        # Every revision that takes traffic is shown, a superseded one too: held weights are read back from here.
        serving = sorted(r for r, w in weights.items() if w > 0)
        shown = [r for r in dict.fromkeys([stable, canary, s.scale_down_revision, *serving]) if r]
        s.revisions = [
            RevisionStatus(
                name=r,
                replicas=obs.revisions[r].replicas if r in obs.revisions else 0,
                ready_replicas=self.ready(r),
                weight=weights.get(r, 0),
            )
            for r in shown
        ]
        s.observed_generation = obs.generation
        s.phase = phase
        s.message = message
        s.replicas = sum(o.replicas for o in obs.revisions.values())
        s.ready_replicas = sum(o.ready for o in obs.revisions.values())
        template = obs.revisions.get(obs.template_revision)
        s.updated_replicas = template.replicas if template else 0
        labels = self.spec.selector.match_labels if self.spec.selector else {}  # none: workloadRef's Deployment missing
        s.selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        s.canary_weight = weights.get(canary, 0) if canary else 0
        s.stable_weight = weights.get(stable, 0)
        s.mirror_percent = traffic.mirror_percent
        s.header_route = bool(traffic.header_route)
        routing, router = self.spec.strategy.traffic_routing, obs.router
        s.router = None
        if routing is not None and router is not None:
            s.router = RouterStatus(
                name=routing.router,
                objects=list(router.objects),
                canary_weight=router.canary_weight,
                header_route=router.header_route,
                mirror_percent=router.mirror_percent,
            )
        stall = self.stall
        if stall is None and obs.write_error:
            stall = Stall("WriteRefused", obs.write_error)
            previous = self.original.condition("Stalled")
            if previous is None or previous.message != obs.write_error:
                self.event("WriteRefused", obs.write_error, warning=True)
        missing = obs.rollback_image_missing
        if missing and (self.original.condition("RollbackImageAvailable") is None):
            self.event("RollbackImageMissing", missing, warning=True)
        s.conditions = conditions_for(phase, message, s.conditions, obs.generation, _time(self.now), stall, missing)


def _largest_remainder(counts: dict[str, int]) -> dict[str, int]:
    """Integer percentages proportional to counts that sum to exactly 100."""
    total = sum(counts.values())
    exact = {k: 100 * v / total for k, v in counts.items()}
    shares = {k: int(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)[: 100 - sum(shares.values())]:
        shares[k] += 1
    return shares
