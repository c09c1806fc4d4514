"""`shiftlane`: run the operator, print the CRDs, or print a Rollout's plan before anything changes."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from shiftlane.api.spec import TRAFFIC_ROUTERS
from shiftlane.traffic import ROUTERS

if TYPE_CHECKING:
    from shiftlane.cli.kubectl import Kubectl

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
    from shiftlane.registry.settings import RegistrySettings, SettingError, default_policy, pull_secret_settings

    namespaces = args.namespaces if args.namespaces else _env_namespaces()
    try:
        registry = RegistrySettings(
            pull_secrets=pull_secret_settings(args.ecr_pull_secrets, args.ecr_pull_secret_refresh_before,
                                              args.ecr_pull_secret_check_interval),
            default_policy=default_policy(args.default_image_policy),
        )
    except SettingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = run_operator(
        namespaces=namespaces,
        metrics_port=args.metrics_port,
        health_port=args.health_port,
        verbose=args.verbose,
        leader_elect=args.leader_elect,
        registry=registry,
        routers=_run_routers(args),
    )
    return result if isinstance(result, int) else 0


def cmd_crd(args: argparse.Namespace) -> int:
    from shiftlane.api.crd import render_crds

    sys.stdout.write(render_crds(args.plural))
    return 0


def check_command(kube: Kubectl, args: argparse.Namespace, run) -> int:
    """`plan` / `lint` of both tools: Rollouts from files, or one by name from the cluster (through kubectl)."""
    from shiftlane.cli.kubectl import KubectlError
    from shiftlane.cli.planning import EXIT_INVALID, InputError, select_rollouts

    routers = frozenset(args.routers) if args.routers else ROUTERS
    try:
        rollouts = select_rollouts(getattr(args, "source", None), args.files, kube.get_rollout)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KubectlError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return run(rollouts, sys.stdout, sys.stderr, routers)


def _kube(args: argparse.Namespace) -> Kubectl:
    from shiftlane.cli.kubectl import Kubectl

    return Kubectl(namespace=args.namespace, context=args.context)


def cmd_plan(args: argparse.Namespace) -> int:
    from shiftlane.cli.planning import plan_all

    return check_command(_kube(args), args, plan_all)


def cmd_lint(args: argparse.Namespace) -> int:
    from shiftlane.cli.planning import lint_all

    return check_command(_kube(args), args, lint_all)


def add_plan_arguments(parser: argparse.ArgumentParser, by_name: bool = True) -> None:
    if by_name:
        parser.add_argument("source", metavar="NAME|FILE", nargs="?",
                            help="a Rollout in the cluster, or a YAML file with Rollout(s) ('-' for stdin)")
    parser.add_argument("-f", "--filename", dest="files", action="append", metavar="FILE",
                        help="a YAML file with Rollout(s) ('-' for stdin); repeatable")
    parser.add_argument("--router", dest="routers", action="append", choices=TRAFFIC_ROUTERS, metavar="ROUTER",
                        help="compile as if the operator drives this traffic router (repeatable; "
                             f"one of {', '.join(TRAFFIC_ROUTERS)}); default: every router the operator drives")


def add_registry_arguments(run: argparse.ArgumentParser) -> None:
    """Registry settings: each flag's default comes from the environment variable the chart sets."""
    from shiftlane.registry import settings

    ecr = run.add_argument_group("registry")
    ecr.add_argument("--ecr-pull-secrets", action=argparse.BooleanOptionalAction, default=settings.env_flag(settings.PULL_SECRETS_ENV),
                     help="keep a dockerconfigjson Secret from ECR GetAuthorizationToken in each namespace whose Rollouts "
                          f"pull from ECR, named by new revisions (default ${settings.PULL_SECRETS_ENV}, else off)")
    ecr.add_argument("--ecr-pull-secret-refresh-before", metavar="DURATION",
                     default=os.environ.get(settings.REFRESH_BEFORE_ENV) or "6h",
                     help=f"rewrite the Secret this long before its token expires (default ${settings.REFRESH_BEFORE_ENV}, else 6h)")
    ecr.add_argument("--ecr-pull-secret-check-interval", metavar="DURATION",
                     default=os.environ.get(settings.CHECK_INTERVAL_ENV) or settings.CHECK_INTERVAL,
                     help="read each Secret back this often, so one deleted or edited is rewritten "
                          f"(default ${settings.CHECK_INTERVAL_ENV}, else {settings.CHECK_INTERVAL})")
    ecr.add_argument("--default-image-policy", metavar="JSON", default=os.environ.get(settings.DEFAULT_POLICY_ENV),
                     help="an imagePolicy (JSON, camelCase) for Rollouts without one, and for the fields theirs leaves "
                          f"unset (default ${settings.DEFAULT_POLICY_ENV})")


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
    add_registry_arguments(run)
    run.add_argument("--router", dest="routers", action="append", choices=TRAFFIC_ROUTERS, metavar="ROUTER",
                     help=f"drive this traffic router and watch its objects (repeatable; default ${ROUTERS_ENV}, "
                          "comma-separated; unset means every router)")
    run.set_defaults(func=cmd_run)

    crd = sub.add_parser("crd", help="print the CustomResourceDefinitions as YAML")
    crd.add_argument("plural", nargs="?", choices=["rollouts", "analysistemplates", "clusteranalysistemplates"],
                     default="rollouts", help="which CRD (default rollouts)")
    crd.set_defaults(func=cmd_crd)

    for command, func, text in (
        ("plan", cmd_plan, "print the steps a Rollout compiles to, before anything changes"),
        ("lint", cmd_lint, "check Rollout manifests: unknown fields, values, the plan (exit 2 when malformed)"),
    ):
        checker = sub.add_parser(command, help=text)
        add_plan_arguments(checker)
        checker.add_argument("-n", "--namespace", help="namespace of the Rollout NAME (default: kubectl's)")
        checker.add_argument("--context", help="kubeconfig context for NAME")
        checker.set_defaults(func=func)
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
