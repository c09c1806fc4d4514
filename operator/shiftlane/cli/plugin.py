"""`kubectl shiftlane`: watch and steer Rollouts.

Manual actions are written to the status subresource as a command with a fresh id, which the operator
handles once; so promote/abort/pause never make a GitOps tool see drift in fields it owns.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from shiftlane.api.spec import TRAFFIC_ROUTERS
from shiftlane.cli.convert.command import add_convert_arguments
from shiftlane.cli.get import cmd_get
from shiftlane.cli.kubectl import Kubectl, KubectlError
from shiftlane.cli.listing import cmd_list, cmd_version
from shiftlane.cli.main import add_plan_arguments, check_command, run_command
from shiftlane.cli.wait import cmd_status, timeout_argument

# CLI action -> status.command.name
ACTIONS = {
    "promote": "promote",
    "abort": "abort",
    "retry": "retry",
    "pause": "pause",
    "resume": "resume",
    "undo": "undo",
}


class UsageError(Exception):
    pass


def _where(rollout: dict[str, Any], fallback: str) -> str:
    meta = rollout.get("metadata") or {}
    name = meta.get("name", fallback)
    return f"{meta['namespace']}/{name}" if meta.get("namespace") else name


def new_command(name: str, revision: str | None = None) -> dict[str, Any]:
    command: dict[str, Any] = {"name": name, "id": uuid.uuid4().hex}
    if revision:
        command["revision"] = revision
    return command


# --- commands ------------------------------------------------------------------------------


def cmd_action(kube: Kubectl, args: argparse.Namespace) -> int:
    name = ACTIONS[args.command]
    if args.command == "promote" and args.full:
        name = "promoteFull"
    revision = getattr(args, "to_revision", None)
    # Verify first: a merge patch on the status of a missing object fails anyway, but with a less clear message.
    kube.get_rollout(args.name)
    rollout = kube.patch_status(args.name, {"command": new_command(name, revision)})
    what = {"promoteFull": "full promotion", "undo": "undo" + (f" to revision {revision}" if revision else "")}.get(name, name)
    print(f"rollout {_where(rollout, args.name)}: {what} requested")
    return 0


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    images: dict[str, str] = {}
    for pair in pairs:
        container, sep, image = pair.partition("=")
        if not sep or not container or not image:
            raise UsageError(f"expected CONTAINER=IMAGE, got {pair!r}")
        images[container] = image
    return images


def image_patch(rollout: dict[str, Any], images: dict[str, str]) -> list[dict[str, Any]]:
    """A JSON patch setting container images by index; `test` ops guard against a concurrent reorder."""
    containers = (((rollout.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    index = {c.get("name"): i for i, c in enumerate(containers)}
    unknown = [name for name in images if name not in index]
    if unknown:
        known = ", ".join(str(n) for n in index) or "none"
        raise UsageError(f"unknown container {', '.join(unknown)} (containers: {known})")
    ops: list[dict[str, Any]] = []
    for name, image in images.items():
        path = f"/spec/template/spec/containers/{index[name]}"
        ops += [
            {"op": "test", "path": f"{path}/name", "value": name},
            {"op": "replace", "path": f"{path}/image", "value": image},
        ]
    return ops


def cmd_set_image(kube: Kubectl, args: argparse.Namespace) -> int:
    images = parse_assignments(args.images)
    rollout = kube.get_rollout(args.name)
    updated = kube.json_patch(args.name, image_patch(rollout, images))
    changes = ", ".join(f"{c}={i}" for c, i in images.items())
    print(f"rollout {_where(updated, args.name)}: image updated ({changes})")
    return 0


def cmd_plan(kube: Kubectl, args: argparse.Namespace) -> int:
    from shiftlane.cli.planning import plan_all

    return check_command(kube, args, plan_all)


def cmd_lint(kube: Kubectl, args: argparse.Namespace) -> int:
    from shiftlane.cli.planning import lint_all

    return check_command(kube, args, lint_all)


# --- arguments -----------------------------------------------------------------------------


def _common(default: Any) -> argparse.ArgumentParser:
    """kubectl's connection flags, accepted before or after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-n", "--namespace", default=default, help="namespace (default: the context's)")
    common.add_argument("--context", default=default, help="kubeconfig context")
    common.add_argument("--kubeconfig", default=default, help="kubeconfig file (default: $KUBECONFIG)")
    return common


def build_parser() -> argparse.ArgumentParser:

    parser = argparse.ArgumentParser(
        prog="kubectl shiftlane",
        description="Watch and steer Shiftlane Rollouts.",
        parents=[_common(None)],
    )
    # SUPPRESS: a subcommand's flag overrides the top-level one only when given.
    common = _common(argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    get = sub.add_parser("get", parents=[common], help="show a Rollout: phase, traffic, revisions, steps")
    get.add_argument("name", metavar="NAME")
    get.add_argument("-w", "--watch", action="store_true",
                     help="print again, with the time, whenever something shown changes")
    get.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                     help="with --watch: how often pods and events are read again (default 2)")
    get.add_argument("--router", dest="routers", action="append", metavar="ROUTER", choices=TRAFFIC_ROUTERS,
                     help="compile the steps as if the operator drives this router (default: inferred from status)")
    get.set_defaults(func=cmd_get)

    helps = {
        "promote": "skip the current pause or analysis step (--full: skip to the end)",
        "abort": "return all traffic to the stable revision and stop",
        "retry": "restart an aborted rollout from its first step",
        "pause": "hold the rollout at its current step",
        "resume": "continue a paused rollout",
        "undo": "roll back to the previous (or a given) revision",
    }
    for action, text in helps.items():
        p = sub.add_parser(action, parents=[common], help=text)
        p.add_argument("name", metavar="NAME")
        if action == "promote":
            p.add_argument("--full", action="store_true", help="skip every remaining step")
        if action == "undo":
            p.add_argument("--to-revision", metavar="REV", help="revision (template hash) to return to")
        p.set_defaults(func=cmd_action)

    set_ = sub.add_parser("set", help="change a Rollout's template")
    set_sub = set_.add_subparsers(dest="what", metavar="WHAT", required=True)
    image = set_sub.add_parser("image", parents=[common], help="set container images (starts a rollout)")
    image.add_argument("name", metavar="NAME")
    image.add_argument("images", metavar="CONTAINER=IMAGE", nargs="+")
    image.set_defaults(func=cmd_set_image)

    status = sub.add_parser("status", parents=[common],
                            help="wait until the Rollout is Healthy (exit 0); Degraded or Aborted exit 1, a timeout 3")
    status.add_argument("name", metavar="NAME")
    status.add_argument("--timeout", type=timeout_argument, metavar="DURATION",
                        help="give up after this long, e.g. 10m (default: wait without end)")
    status.add_argument("--no-wait", action="store_true", help="print the state once; exit 3 when not yet Healthy")
    status.set_defaults(func=cmd_status)

    list_ = sub.add_parser("list", parents=[common], help="Rollouts with phase, step and canary weight")
    list_.add_argument("-A", "--all-namespaces", action="store_true", help="in every namespace")
    list_.set_defaults(func=cmd_list)

    version_ = sub.add_parser("version", parents=[common], help="the client's version, and the operator's if reachable")
    version_.add_argument("--client", action="store_true", help="the client only; do not ask the cluster")
    version_.set_defaults(func=cmd_version)

    convert = sub.add_parser("convert", help="print a Deployment, Argo Rollout or Flagger Canary as a Shiftlane Rollout")
    add_convert_arguments(convert)

    plan = sub.add_parser("plan", parents=[common], help="print the steps a Rollout (NAME, or -f FILE) compiles to")
    add_plan_arguments(plan)
    plan.set_defaults(func=cmd_plan)
    lint = sub.add_parser("lint", parents=[common], help="check Rollout manifests (-f FILE) or a Rollout NAME")
    add_plan_arguments(lint)
    lint.set_defaults(func=cmd_lint)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    kube = Kubectl(namespace=args.namespace, context=args.context, kubeconfig=args.kubeconfig)
    return run_command(_reporting_errors, args.func, kube, args)


def _reporting_errors(command, kube: Kubectl, args: argparse.Namespace) -> int:
    try:
        return command(kube, args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KubectlError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
