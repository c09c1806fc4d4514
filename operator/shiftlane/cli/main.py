"""`shiftlane`: run the operator, print the CRDs, or print a Rollout's plan before anything changes."""

from __future__ import annotations

import argparse
import os
import sys

from shiftlane.api.spec import TRAFFIC_ROUTERS
from shiftlane.traffic import ROUTERS

WATCH_NAMESPACES_ENV = "SHIFTLANE_WATCH_NAMESPACES"
ROUTERS_ENV = "SHIFTLANE_ROUTERS"


def _env_namespaces() -> list[str]:
    return [ns.strip() for ns in os.environ.get(WATCH_NAMESPACES_ENV, "").split(",") if ns.strip()]


def _run_routers(args: argparse.Namespace) -> frozenset[str]:
    """--router, else $SHIFTLANE_ROUTERS (comma-separated; set and empty: none), else every router."""
    if args.routers:
        return frozenset(args.routers)
    if ROUTERS_ENV not in os.environ:
        return ROUTERS
    named = frozenset(r.strip() for r in os.environ[ROUTERS_ENV].split(",") if r.strip())
    unknown = sorted(named - set(TRAFFIC_ROUTERS))
    if unknown:
        raise SystemExit(f"error: ${ROUTERS_ENV} names unknown routers {', '.join(unknown)} (known: {', '.join(TRAFFIC_ROUTERS)})")
    return named


def cmd_run(args: argparse.Namespace) -> int:
    from shiftlane.controller.run import run_operator

    namespaces = args.namespaces if args.namespaces else _env_namespaces()
    result = run_operator(
        namespaces=namespaces,
        metrics_port=args.metrics_port,
        health_port=args.health_port,
        verbose=args.verbose,
        leader_elect=args.leader_elect,
        routers=_run_routers(args),
    )
    return result if isinstance(result, int) else 0


def cmd_crd(args: argparse.Namespace) -> int:
    from shiftlane.api.crd import render_crds

    sys.stdout.write(render_crds())
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from shiftlane.cli.planning import InputError, is_file_source, load_rollouts, plan_all, read_source

    routers = frozenset(args.routers) if args.routers else ROUTERS
    if is_file_source(args.source):
        try:
            rollouts = load_rollouts(read_source(args.source), "stdin" if args.source == "-" else args.source)
        except (InputError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    else:
        from shiftlane.cli.kubectl import Kubectl, KubectlError

        try:
            rollouts = [Kubectl(namespace=args.namespace, context=args.context).get_rollout(args.source)]
        except KubectlError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return plan_all(rollouts, sys.stdout, sys.stderr, routers)


def add_plan_arguments(parser: argparse.ArgumentParser, from_file: bool = True) -> None:
    if from_file:
        parser.add_argument("source", metavar="FILE|NAME",
                            help="a YAML file with Rollout(s) ('-' for stdin), or the name of a Rollout in the cluster")
    parser.add_argument("--router", dest="routers", action="append", choices=TRAFFIC_ROUTERS, metavar="ROUTER",
                        help="compile as if the operator drives this traffic router (repeatable; "
                             f"one of {', '.join(TRAFFIC_ROUTERS)}); default: every router the operator drives")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shiftlane", description="Shiftlane progressive-delivery operator")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run the operator")
    run.add_argument("--namespace", dest="namespaces", action="append", metavar="NS",
                     help=f"watch this namespace (repeatable; default ${WATCH_NAMESPACES_ENV}, "
                          "comma-separated; empty means all namespaces)")
    run.add_argument("--metrics-port", type=int, default=8080, help="Prometheus metrics port (default 8080)")
    run.add_argument("--health-port", type=int, default=8081, help="liveness/readiness port (default 8081)")
    run.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    run.add_argument("--leader-elect", action="store_true",
                     help="act only while holding the Lease shiftlane-leader in $POD_NAMESPACE (for several replicas)")
    run.add_argument("--router", dest="routers", action="append", choices=TRAFFIC_ROUTERS, metavar="ROUTER",
                     help=f"drive this traffic router and watch its objects (repeatable; default ${ROUTERS_ENV}, "
                          "comma-separated; unset means every router)")
    run.set_defaults(func=cmd_run)

    crd = sub.add_parser("crd", help="print the CustomResourceDefinitions as YAML")
    crd.set_defaults(func=cmd_crd)

    plan = sub.add_parser("plan", help="print the steps a Rollout compiles to, before anything changes")
    add_plan_arguments(plan)
    plan.add_argument("-n", "--namespace", help="namespace of the Rollout NAME (default: kubectl's)")
    plan.add_argument("--context", help="kubeconfig context for NAME")
    plan.set_defaults(func=cmd_plan)
    return parser


def run_command(command, *args) -> int:
    """Exit codes of both command-line tools for an interrupt or a closed pipe."""
    try:
        return command(*args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `shiftlane crd | head`: not an error worth a traceback.
        sys.stderr.close()
        return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
