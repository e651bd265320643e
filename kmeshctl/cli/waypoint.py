"""`kmeshctl waypoint ...`: deploy and inspect kmeshctl waypoints (stock Envoy + the
kmeshctl controller), and the two commands that run inside a waypoint pod."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer._click.globals import get_current_context
from rich.table import Table

from kmeshctl.cli.tables import EMPTY, cli_console

from kmeshctl.cli.common import (MAX_RUN_S, MAX_TIMEOUT_S, PORT_MAX, PORT_MIN, OutputFormat, app,
                                 check_namespace_flags, ignore_not_found_fix, is_data, print_data, print_json,
                                 output_option, run_options)
from kmeshctl.cli.conventions import flag_as_typed
from kmeshctl.cli.render import ManifestFormat, print_manifests
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.namespaces import check_names
from kmeshctl.waypoint import deploy

waypoint_app = typer.Typer(
    help="Deploy and inspect waypoints (stock Envoy configured by kmeshctl).\n\n"
         "Examples:\n\n"
         "  kmeshctl waypoint apply -n default --wait\n"
         "  kmeshctl waypoint list -A\n"
         "  kmeshctl waypoint status -n default\n"
         "  kmeshctl waypoint delete -n default",
    no_args_is_help=True)
app.add_typer(waypoint_app, name="waypoint")

NAMESPACE_DEFAULT_HELP = "default: the kubeconfig context's namespace, else default"
NamespaceOpt = Annotated[Optional[str], typer.Option("--namespace", "-n", show_default=False,
                                                     help=f"Namespace of the waypoint ({NAMESPACE_DEFAULT_HELP}).")]
# The in-pod commands get -n from their Deployment: no kubeconfig to read there.
PodNamespaceOpt = Annotated[str, typer.Option("--namespace", "-n", help="Namespace of the waypoint.")]


def _namespace(given: Optional[str]) -> str:
    """-n as typed, else the namespace kubectl would use (kmeshctl.kube.default_namespace)."""
    from kmeshctl.kube import default_namespace

    return given if given is not None else default_namespace(run_options())


def _namespace_origin(given: Optional[str], namespace: str) -> str:
    """Where ``namespace`` came from when -n was not typed (`from context prod`), for an
    error that names it; "" when typed, or the plain default."""
    from kmeshctl.kube import DEFAULT_KUBECONFIG, DEFAULT_OBJECT_NAMESPACE, check_kubeconfig, running_in_cluster

    target = run_options()
    if given is not None or namespace == DEFAULT_OBJECT_NAMESPACE:
        return ""
    if not target.named and running_in_cluster():
        return "from this pod's service account"
    context = target.context
    if context is None:
        try:
            context = check_kubeconfig(target.kubeconfig or os.path.expanduser(DEFAULT_KUBECONFIG), None,
                                       False).current
        except KmeshctlError:
            return "from the kubeconfig context"
    return f"from context {context}"


NameOpt = Annotated[str, typer.Option("--name", help="Name of the waypoint (its Gateway, Service, Deployment).")]


def _client():
    """A reachable cluster, after the name flags were checked (nothing connects before)."""
    from kmeshctl.kube import connect_reachable

    _check_names()
    return connect_reachable(run_options())


def _dry_run_cluster():
    """The cluster a dry run checks against, as `install --dry-run`: the one configured
    (--kubeconfig, --context, $KUBECONFIG, ~/.kube/config, the in-cluster account) must
    answer (a broken flag the user typed: exit 2; a cluster that does not answer: exit 1);
    None, offline, only when no cluster is configured at all."""
    from kmeshctl.kube import NoClusterConfigured, connect_reachable

    target = run_options()
    try:
        return connect_reachable(target)
    except NoClusterConfigured as err:  # nothing configured to check against: the objects as rendered
        from kmeshctl.cli.progress import echo_coloured

        if not target.quiet:
            echo_coloured(f"No reachable cluster ({err}): rendered offline, not checked by an API server",
                          typer.colors.YELLOW)
        return None


def _check_names() -> None:
    check_namespace_flags()
    params = get_current_context().params
    if params.get("name") is not None:
        check_names(flag_as_typed("name"), [params["name"]], kind="waypoint name", example="--name waypoint")


@waypoint_app.command("apply")
def apply_cmd(
    namespace: NamespaceOpt = None,
    name: NameOpt = deploy.DEFAULT_NAME,
    image: Annotated[str, typer.Option(help="Image with kmeshctl and Envoy (Dockerfile.waypoint).")] = deploy.DEFAULT_IMAGE,
    replicas: Annotated[int, typer.Option(min=1, max=20, metavar="COUNT", help="Waypoint pods.")
                        ] = deploy.DEFAULT_REPLICAS,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until its pods are ready and "
                                       "istiod has programmed its Gateway.")] = False,
    timeout: Annotated[float, typer.Option(metavar="DURATION", min=0, max=MAX_TIMEOUT_S,
                                           help="How long --wait waits (e.g. 300s, 5m; 0: no limit).")
                       ] = deploy.WAIT_TIMEOUT_S,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the objects, apply nothing; the configured cluster (which must answer; offline only when none is configured) checks them first, as install --dry-run.")] = False,
    output: Annotated[Optional[ManifestFormat], typer.Option(
        "--output", "-o", help="With --dry-run: manifest format; otherwise json prints each object's result.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress lines (each object, the wait), "
                                        "only the result.")] = False,
) -> None:
    """Deploy a waypoint into the namespace of -n (Services opt in with the label
    istio.io/use-waypoint=<its --name>).

    Examples:

      kmeshctl waypoint apply -n default --wait
      kmeshctl waypoint apply -n default --dry-run -o yaml
      kubectl label service fortio istio.io/use-waypoint=waypoint
    """
    _check_names()
    given, namespace = namespace, _namespace(namespace)
    params = deploy.WaypointParams(namespace, name, image, replicas)
    objs = deploy.render(params)  # every flag checked before any connection
    from kmeshctl.apply import nothing_changed
    from kmeshctl.demo_cluster import validation_version

    if dry_run:
        client = _dry_run_cluster()
        if client is not None:
            deploy.check_apply(client, params, validation_version(client), _namespace_origin(given, namespace))
        print_manifests(objs, output or ManifestFormat.yaml)  # the `kind: List` of render -o json
        return
    client = _client()
    say = (lambda _line: None) if quiet or run_options().quiet else typer.echo
    results = deploy.apply(client, params, validation_version(client), say, _namespace_origin(given, namespace))
    if wait:  # 0: no limit, as kubectl's; piped (a log): a line only when the wait's state changes
        deploy.wait_ready(client, params, timeout or float("inf"), say, every_poll=_stdout_is_terminal())
    if output == ManifestFormat.json:
        print_json([{"object": r.ref, "action": r.action} for r in results])
    elif nothing_changed(results):
        typer.echo(f"Nothing to do: waypoint {namespace}/{name} is up to date.")
    else:
        typer.echo(f"waypoint {namespace}/{name} applied. Label a Service or namespace "
                   f"istio.io/use-waypoint={name} to send its traffic through it.")


def _stdout_is_terminal() -> bool:
    from rich.console import Console

    return Console().is_terminal


# -o's help says what -o wide adds to each command's own output
ListOutputOption = output_option(None)  # every column is in the table already: wide only stops cutting
StatusOutputOption = output_option("a line saying whether kmeshctl made the waypoint and which Services use it")


@waypoint_app.command("list")
def list_cmd(
    namespace: Annotated[Optional[str], typer.Option(
        "--namespace", "-n", help=f"Only this namespace ({NAMESPACE_DEFAULT_HELP}).")] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", "-A", help="Waypoints of every namespace.")
                              ] = False,
    output: ListOutputOption = OutputFormat.table,
) -> None:
    """Waypoints (Gateways of class istio-waypoint), their pods, istiod's address and users.

    Examples:

      kmeshctl waypoint list
      kmeshctl waypoint list -A -o wide
      kmeshctl waypoint list -n default -o json
    """
    if all_namespaces and namespace is not None:
        raise UsageError("give -n NAMESPACE or -A (--all-namespaces), not both")
    _check_names()
    where = None if all_namespaces else _namespace(namespace)  # a bad context namespace: before connecting
    client = _client()
    states = deploy.list_waypoints(client, where)
    if is_data(output):
        print_data([s.as_dict() for s in states], output)
        return
    if not states:
        # as kubectl's "No resources found": on stderr, so a script reading stdout sees no rows
        typer.echo(f"No waypoints found in namespace {where}." if where else "No waypoints found.", err=True)
        return
    table = Table("NAMESPACE", "NAME", "BY KMESHCTL", "READY", "ISTIOD ADDRESS", "SERVICES")
    for s in states:
        table.add_row(s.namespace, s.name, "yes" if s.managed else "no", f"{s.ready_pods}/{len(s.pods)}",
                      ", ".join(s.addresses) or f"{EMPTY} ({s.gateway_reason})", ", ".join(s.services) or EMPTY)
    cli_console(wide=output is OutputFormat.wide).print(table)


@waypoint_app.command("status")
def status_cmd(
    namespace: NamespaceOpt = None,
    name: NameOpt = deploy.DEFAULT_NAME,
    output: StatusOutputOption = OutputFormat.table,
) -> None:
    """What each pod of a waypoint serves: Services, routes with the weights Envoy applies,
    whether Envoy ACKed the latest configuration. Exit 1 when a pod is not in sync.

    Examples:

      kmeshctl waypoint status
      kmeshctl waypoint status -n default --name waypoint -o json
    """
    _check_names()
    namespace = _namespace(namespace)  # a bad context namespace: before connecting
    client = _client()
    state = deploy.waypoint_state(client, namespace, name)
    if not state.pods and not deploy.exists(client, deploy.WaypointParams(namespace, name)):
        raise _not_found(client, namespace, name, f"create it: `kmeshctl waypoint apply -n {namespace} --name "
                                                  f"{name}`", look_first=False)
    if not state.pods:
        raise KmeshctlError(f"waypoint {namespace}/{name} has no pods",
                            fix=f"run `kmeshctl waypoint apply -n {namespace} --name {name}` (or check "
                                "`kmeshctl waypoint list -A`)")
    reports = {pod: _pod_report(namespace, pod) for pod in state.pods}
    healthy = all(r.get("envoy", {}).get("ready") and r.get("envoy", {}).get("acked") for r in reports.values())
    if is_data(output):
        print_data({"waypoint": state.as_dict(), "pods": reports, "healthy": healthy}, output)
    else:
        _print_status(state, reports, wide=output is OutputFormat.wide)
    raise typer.Exit(0 if healthy else 1)


def _pod_report(namespace: str, pod: str) -> dict:
    try:
        return _expected_errors_dropped(deploy.pod_status(namespace, pod, run_options()))
    except KmeshctlError as err:
        return {"error": str(err)}


# What Envoy's admin answers for /config_dump?resource=dynamic_route_configs while it has
# no route at all: expected until a Service uses the waypoint (kmeshctl.waypoint.envoy).
NO_ROUTES_YET = "Envoy admin /config_dump answered 404"


def _expected_errors_dropped(report: dict) -> dict:
    """The controller's report, without the error it records when Envoy has no routes to
    show because no Service uses the waypoint yet: -o json and the table then agree that
    nothing is wrong (any other error the table shows, as json carries it)."""
    envoy = report.get("envoy")
    if isinstance(envoy, dict) and envoy.get("error") == NO_ROUTES_YET and not report.get("services"):
        report["envoy"] = {**envoy, "error": ""}
    return report


def _print_status(state: deploy.WaypointState, reports: dict[str, dict], wide: bool = False) -> None:
    """The report as lines (never cut, so -o table and -o wide differ only in what wide
    adds: the Services that use the waypoint, and whether kmeshctl made it)."""
    typer.echo(f"Waypoint {state.namespace}/{state.name}: {state.ready_pods}/{len(state.pods)} pods ready; "
               f"istiod address: {', '.join(state.addresses) or f'{EMPTY} ({state.gateway_reason})'}")
    if wide:
        typer.echo(f"  made by kmeshctl: {'yes' if state.managed else 'no'}; used by: "
                   f"{', '.join(state.services) or EMPTY}")
    for pod, report in reports.items():
        if "error" in report:
            typer.echo(f"  {pod}: cannot ask its controller ({report['error']})")
            continue
        envoy = report["envoy"]
        typer.echo(f"  {pod}: Envoy {'ready' if envoy['ready'] else 'NOT ready'}, "
                   f"{'in sync (ACKed)' if envoy['acked'] else 'NOT in sync'}; "
                   f"services: {', '.join(report['services']) or EMPTY}")
        if envoy.get("error"):
            typer.echo(f"    cannot read Envoy's routes: {envoy['error']}")
        for route, weights in sorted(report["routes"].items()):
            typer.echo(f"    {route}: " + ", ".join(f"{c} {w}" for c, w in weights.items()))
        for problem in report["problems"]:
            typer.echo(f"    problem: {problem}")


@waypoint_app.command("delete")
def delete_cmd(
    namespace: NamespaceOpt = None,
    name: NameOpt = deploy.DEFAULT_NAME,
    ignore_not_found: Annotated[bool, typer.Option(
        "--ignore-not-found", help="Exit 0 when the waypoint does not exist (for scripts).")] = False,
) -> None:
    """Delete a waypoint made by `waypoint apply` (Services labelled to use it then go direct).

    A waypoint that does not exist is an error (NotFound, exit 1), as with `kubectl
    delete`; --ignore-not-found makes it a success that says "Nothing to delete".

    Examples:

      kmeshctl waypoint delete -n default
      kmeshctl waypoint delete -n demo --name east --ignore-not-found
    """
    _check_names()
    namespace = _namespace(namespace)  # a bad context namespace: before connecting
    client = _client()
    params = deploy.WaypointParams(namespace, name)
    if not deploy.exists(client, params):
        if not ignore_not_found:
            raise _not_found(client, namespace, name, ignore_not_found_fix(["waypoint", "delete"]))
        if not run_options().quiet:
            typer.echo(f"Nothing to delete: waypoint {namespace}/{name} does not exist.")
        return
    deploy.delete(client, params, (lambda _line: None) if run_options().quiet else typer.echo)


LIST_ALL = "see `kmeshctl waypoint list -A`"


def _not_found(client, namespace: str, name: str, fix: str,  # type: ignore[no-untyped-def]
               look_first: bool = True) -> KmeshctlError:
    """One wording for a waypoint that does not exist (status, delete): the waypoints that
    are in the namespace; none there: where to look for them (before ``fix``, or after it
    when ``look_first`` is False: the first command of a line is the one a user pastes)."""
    names = deploy.waypoint_names(client, namespace)
    there = ", ".join(names) or ("none; " + LIST_ALL if look_first else "none")
    if not names and not look_first:
        fix = f"{fix} (or {LIST_ALL})"
    return KmeshctlError(f"waypoint {namespace}/{name} not found (waypoints in {namespace}: {there})", fix=fix)


# ---------------------------------------------------------------- inside the waypoint pod


@waypoint_app.command("envoy", hidden=True)
def envoy_cmd(
    namespace: PodNamespaceOpt = deploy.DEFAULT_NAMESPACE,
    name: NameOpt = deploy.DEFAULT_NAME,
    xds_socket: Annotated[Path, typer.Option(help="The controller's xDS unix socket.")] = Path(f"{deploy.XDS_DIR}/xds.sock"),
    admin_port: Annotated[int, typer.Option(min=PORT_MIN, max=PORT_MAX, metavar="PORT", help="Envoy admin port on 127.0.0.1.")
                          ] = deploy.ADMIN_PORT,
    socket_wait: Annotated[float, typer.Option(min=0, max=MAX_RUN_S, metavar="DURATION",
                                               help="How long to wait for the controller's "
                                               "socket.")] = 60.0,
) -> None:
    """(In a waypoint pod.) Write Envoy's bootstrap and exec Envoy."""
    from kmeshctl.waypoint.envoy import exec_envoy

    exec_envoy(namespace, name, xds_socket, admin_port, socket_wait)


@waypoint_app.command("controller", hidden=True)
def controller_cmd(
    namespace: PodNamespaceOpt = deploy.DEFAULT_NAMESPACE,
    name: NameOpt = deploy.DEFAULT_NAME,
    xds_socket: Annotated[Path, typer.Option(help="Where to serve xDS to Envoy.")] = Path(f"{deploy.XDS_DIR}/xds.sock"),
    envoy_admin_port: Annotated[int, typer.Option(min=PORT_MIN, max=PORT_MAX, metavar="PORT", help="Envoy's admin port on "
                                                  "127.0.0.1.")] = deploy.ADMIN_PORT,
    status_port: Annotated[int, typer.Option(min=PORT_MIN, max=PORT_MAX, metavar="PORT", help="Port of /ready and /status.")
                           ] = deploy.STATUS_PORT,
    port: Annotated[int, typer.Option(min=PORT_MIN, max=PORT_MAX, metavar="PORT", help="Envoy's PROXY-protocol listener port.")
                    ] = deploy.PROXY_PORT,
) -> None:
    """(In a waypoint pod.) Serve Envoy its configuration from the API server's objects."""
    import logging
    import sys

    from kmeshctl.kube import connect
    from kmeshctl.waypoint.config import WaypointRef
    from kmeshctl.waypoint.controller import Controller, status_server
    from kmeshctl.waypoint.envoy import EnvoyAdmin

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    controller = Controller(connect(run_options()), WaypointRef(namespace, name, port), f"unix:{xds_socket}",
                            EnvoyAdmin(port=envoy_admin_port, timeout=2.0))
    server = status_server(controller, status_port)
    server.start()
    signal.signal(signal.SIGTERM, lambda *_: controller.stop())
    worker = threading.Thread(target=controller.run, name="waypoint-controller")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        controller.stop()
        worker.join()
    server.stop()
