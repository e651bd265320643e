"""`kmeshctl waypoint ...`: deploy and inspect kmeshctl waypoints (stock Envoy + the
kmeshctl controller), and the two commands that run inside a waypoint pod."""

from __future__ import annotations

import math
import os
import shlex
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, NoReturn, Optional

import typer
from typer._click.globals import get_current_context
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kmeshctl.cli import cmdline
from kmeshctl.cli.option_hints import POSITIONAL_READERS
from kmeshctl.cli.progress import note
from kmeshctl.cli.tables import EMPTY, cli_console, print_fitted

from kmeshctl.apply import ApplyResult, PartialApply, nothing_changed
from kmeshctl.cli.common import (MAX_RUN_S, MAX_TIMEOUT_S, PORT_MAX, PORT_MIN, OutputFormat, app,
                                 check_namespace_flags, fix_hint, ignore_not_found_fix, is_data, print_data,
                                 output_option, run_options, with_namespace_line)
from kmeshctl.cli.suggestions import flag_as_typed, given_on_command_line
from kmeshctl.cli.render import ManifestFormat, print_manifests, same_work_command
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import KubeClient, object_ref
from kmeshctl.namespaces import terminating_why
from kmeshctl.params import WAYPOINT_DELETE_TIMEOUT_S, WAYPOINT_WAIT_TIMEOUT_S, counted, shown
from kmeshctl import stopping
from kmeshctl.stopping import check_not_stopped, sigterm_stops, stopped_by
from kmeshctl.waypoint import deploy

if TYPE_CHECKING:
    from kmeshctl.waypoint import model

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


NameOpt = Annotated[str, typer.Option("--name", help="Name of the waypoint (its Gateway, Service, Deployment): a "
                                       "letter first, then lower-case letters, digits or '-'.")]


def _client():
    """A reachable cluster, after the name flags were checked (nothing connects before).
    None configured while sandboxes are up: the error also says where their waypoints show."""
    from kmeshctl.kube import NoClusterConfigured, connect_reachable

    _check_names()
    try:
        return connect_reachable(run_options())
    except NoClusterConfigured as err:
        pointer = _sandbox_waypoints_pointer()
        if not pointer:
            raise
        raise err.pointing_at(pointer) from None


def _sandbox_waypoints_pointer() -> str:
    """`sandbox t26a (or: sandboxes a, b) is up: a sandbox's waypoints are shown by
    `kmeshctl sandbox status --name t26a``; "" when no sandbox is up."""
    from kmeshctl.cli.common import sandboxes_up_pointer

    return sandboxes_up_pointer("a sandbox's waypoints are shown by")


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
        from kmeshctl.cli import names  # the check a stray `waypoint delete NAME` passes too

        names.check_waypoint_name(flag_as_typed("name"), params["name"])


@waypoint_app.command("apply")
def apply_cmd(
    namespace: NamespaceOpt = None,
    name: NameOpt = deploy.DEFAULT_NAME,
    image: Annotated[str, typer.Option(help="Image with kmeshctl and Envoy (Dockerfile.waypoint).")] = deploy.DEFAULT_IMAGE,
    replicas: Annotated[int, typer.Option(min=deploy.MIN_REPLICAS, max=deploy.MAX_REPLICAS, metavar="COUNT",
                                          help="Waypoint pods (0: none, as kubectl scale --replicas=0).")
                        ] = deploy.DEFAULT_REPLICAS,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until its pods are ready and "
                                       "istiod has programmed its Gateway.")] = False,
    timeout: Annotated[float, typer.Option(metavar="DURATION", min=0, max=MAX_TIMEOUT_S,
                                           help="How long --wait waits (e.g. 300s, 5m; 0: no limit).")
                       ] = WAYPOINT_WAIT_TIMEOUT_S,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the objects, apply nothing; the configured cluster (which must answer; offline only when none is configured) checks them first, as install --dry-run.")] = False,
    force_conflicts: Annotated[bool, typer.Option(
        "--force-conflicts", help="Take back fields of this waypoint's own objects that another field manager "
                                  "(kubectl scale/edit/patch) now owns: server-side apply with force, as "
                                  "install --force-conflicts. Objects of its names that it did not make stay "
                                  "refused.")] = False,
    output: Annotated[Optional[ManifestFormat], typer.Option(
        "--output", "-o", help="With --dry-run: manifest format; otherwise the result of each object's apply as "
                               "one JSON / YAML document on stdout (progress on stderr).")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress lines (each object, the wait), "
                                        "only the result.")] = False,
    revision: Annotated[Optional[str], typer.Option(
        "-r", "--revision", metavar="REVISION",
        help="The istiod revision (or revision tag) that programs the Gateway (ASM: 1-22-6 for istiod-1-22-6): "
             "the Gateway's istio.io/rev label, as istioctl's. Left out, the namespace's istio.io/rev label "
             "decides, else the default revision.")] = None,
) -> None:
    """Deploy a waypoint into the namespace of -n (Services opt in with the label
    istio.io/use-waypoint=<its --name>).

    Ctrl-C or SIGTERM says what was applied and what not (exit 130 / 143).

    Examples:

      kmeshctl waypoint apply -n default --wait
      # istiod installed with a revision only (ASM: istiod-1-22-6)
      kmeshctl waypoint apply -n default --revision 1-22-6 --wait
      kmeshctl waypoint apply -n default --dry-run -o yaml
      kubectl label service fortio istio.io/use-waypoint=waypoint
    """
    try:  # a stop before any connection: nothing was applied (its line, not a bare `stopped by`)
        _check_names()
        given, namespace = namespace, _namespace(namespace)
        params = deploy.WaypointParams(namespace, name, image, replicas, revision or "")
        objs = deploy.render(params)  # every flag checked before any connection
        deploy.check_apply_namespace(params, None, _namespace_origin(given, namespace),  # offline dry runs too
                                     with_namespace_line)  # kube-system, istio's, kmesh's
        if wait and replicas == 0:
            raise _no_pods_to_wait_for(namespace)
        from kmeshctl.demo_cluster import validation_version

        if dry_run:
            client = _dry_run_cluster()
            if client is not None:
                _set_force(client, force_conflicts)
                try:
                    deploy.check_apply(client, params, validation_version(client),
                                       _namespace_origin(given, namespace))
                except deploy.NameTaken as taken:
                    raise _with_free_name(client, params, taken) from None
                _warn_unknown_revision(client, params.revision)
                _warn_untyped_changes(params, _running_params(client, params.namespace, params.name), dry_run=True,
                                      known=_revisions(client))
                _note_leftovers_removable(client, params, quiet)
            print_manifests(objs, output or ManifestFormat.yaml)  # the `kind: List` of render -o json
            return
    except KeyboardInterrupt as stop:
        _stopped_before_connecting(stop, dry_run)
    quiet = quiet or run_options().quiet
    run = _ApplyRun(params, [object_ref(o) for o in objs], output)
    # each object's line on stdout, as install's (with -o the document says it); the wait's
    # progress on stderr, each line as it comes (stdout is held when piped: kmeshctl.cli)
    say = (lambda _line: None) if quiet else (lambda line: typer.echo(line, err=output is not None))
    progress = (lambda _line: None) if quiet else (lambda line: typer.echo(line, err=True))
    client: Optional[KubeClient] = None
    try:
        with sigterm_stops():  # from connecting: a stop says what was applied (nothing yet)
            client = _client()
            run.existed = _exists(client, params)  # a stop or failure then never offers its delete
            _set_force(client, force_conflicts)
            _warn_unknown_revision(client, params.revision)
            live = _running_params(client, params.namespace, params.name)
            changes = untyped_changes_text(params, live, known=_revisions(client))
            run.results = deploy.apply(client, params, validation_version(client), run.reported(say),
                                       _namespace_origin(given, namespace), run.started.append, run.removed(say),
                                       _warn)
            if changes:  # said once they are made: an apply refused (a field manager's conflict) changed nothing
                _warn(changes)
            if wait:  # 0: no limit, as kubectl's; piped (a log): a line only when the wait's state changes
                run.waiting = True
                deploy.wait_ready(client, params, timeout or float("inf"), progress, every_poll=_stderr_is_terminal(),
                                  apply_with=lambda parameter, value: _apply_command(namespace, {parameter: value}),
                                  before=live.image if live is not None else "")
            check_not_stopped()
    except KeyboardInterrupt as stop:
        run.stopped(stop)
    except PartialApply as failure:
        run.failed(failure)
    except deploy.NameTaken as taken:
        assert client is not None  # taken is read once connected
        raise _with_free_name(client, params, taken) from None
    except KmeshctlError as error:
        if run.results:  # applied, then the wait failed: the document says what was applied
            run.print_document(notApplied=[ref for ref in run.refs if ref not in {r.ref for r in run.results}],
                               error=str(error))
        raise
    run.done()


def _stopped_before_connecting(stop: KeyboardInterrupt, dry_run: bool) -> NoReturn:
    """A signal while apply checked its flags or rendered (nothing connected yet): its one
    line, that this run changed nothing, and the re-run; exit 130 / 143."""
    how = stopped_by(stop)
    line = (f"waypoint apply --dry-run stopped by {how.how}; nothing was applied (a dry run applies nothing)"
            if dry_run else _ApplyRun.unknown_stop(how.how))
    stopping.say(fix_hint(line))
    raise typer.Exit(how.exit_code)


def _exists(client: KubeClient, params: deploy.WaypointParams) -> bool:
    """deploy.exists; False when its objects cannot be read (the apply's own checks say why)."""
    try:
        return deploy.exists(client, params)
    except KmeshctlError:
        return False


def _apply_command(namespace: str, values: dict[str, str]) -> str:
    """This `waypoint apply` as typed (every flag kept, in the spelling typed; -n added
    when not typed: the paste must not depend on the context's namespace) with the flag
    of each parameter of ``values`` set to its value (where typed, else added at the end)."""
    from kmeshctl.rollout import set_flag

    words = shlex.split(same_work_command(["waypoint", "apply"]))
    if not given_on_command_line("namespace") and "namespace" not in values:
        words[3:3] = ["-n", namespace]
    for parameter, value in values.items():
        flag = "-n" if parameter == "namespace" and not given_on_command_line(parameter) else flag_as_typed(parameter)
        words = set_flag(words, flag, value)
    return shlex.join(words)


def _with_free_name(client: KubeClient, params: deploy.WaypointParams, taken: deploy.NameTaken) -> KmeshctlError:
    """``taken`` with a --name `waypoint apply` would take there (_free_name's) in this
    apply as typed; as it was when that name is taken too."""
    other = _free_name(client, params.namespace, params.name)
    if other is None:
        return taken
    return UsageError(taken.problem,
                      fix=f"choose another --name: `{_apply_command(params.namespace, {'name': other})}`")


def _running_params(client: KubeClient, namespace: str, name: str,
                    gateway: Optional[dict] = None) -> Optional[deploy.WaypointParams]:
    """deploy.running_params; None when they cannot be read (this user may not, the
    cluster serves no Gateway API: only a warning or a fix's flags depend on them; the
    apply itself says what is wrong)."""
    try:
        return deploy.running_params(client, namespace, name, gateway)
    except KmeshctlError:  # ApiError is one
        return None


def _warn_untyped_changes(params: deploy.WaypointParams, live: Optional[deploy.WaypointParams],
                          dry_run: bool = False, known: Optional[list[str]] = None) -> None:
    """untyped_changes_text as a warning (none when it is '')."""
    text = untyped_changes_text(params, live, dry_run, known)
    if text:
        _warn(text)


def untyped_changes_text(params: deploy.WaypointParams, live: Optional[deploy.WaypointParams],
                         dry_run: bool = False, known: Optional[list[str]] = None) -> str:
    """The warning when this apply changes the --replicas, --image or --revision the waypoint
    runs with (``live``: _running_params', None unknown) and that flag was not typed (left
    out, it is the default again, as istioctl's and helm's values): the line that keeps them.
    Typed, the change is what the user asked for. A revision no istiod serves (``known``:
    the cluster's revisions and tags, None unknown) is never offered to keep. '' for none."""
    if live is None:
        return ""
    changes: list[str] = []
    keep: dict[str, str] = {}
    if not given_on_command_line("replicas") and live.replicas != params.replicas:
        changes.append(f"its replicas {'would go' if dry_run else 'go'} from {live.replicas} to {params.replicas}")
        keep["replicas"] = str(live.replicas)
    if not given_on_command_line("image") and live.image != params.image:
        changes.append(f"its image {'would go' if dry_run else 'goes'} from {live.image} to {params.image}")
        keep["image"] = live.image
    served = known is None or live.revision in known
    if not given_on_command_line("revision") and live.revision != params.revision:
        changes.append(f"its Gateway {'would lose' if dry_run else 'loses'} label {deploy.REVISION_LABEL}="
                       f"{live.revision}" + ("" if served else f" (no istiod of revision {live.revision} runs)"))
        if served:
            keep["revision"] = live.revision
    if not keep:
        return f"waypoint {params.namespace}/{params.name}: {' and '.join(changes)}" if changes else ""
    flags = " and ".join(f"--{parameter}" for parameter in keep)
    return (f"waypoint {params.namespace}/{params.name}: {' and '.join(changes)} ({flags} not given: the "
            f"default); to keep {'them' if len(keep) > 1 else 'it'}: `{_apply_command(params.namespace, keep)}`")


def _note_leftovers_removable(client: KubeClient, params: deploy.WaypointParams, quiet: bool) -> None:
    """`apply --dry-run`: on stderr (stdout is the manifests), the line of each leftover
    binding the apply would remove, in delete --dry-run's words."""
    if quiet or run_options().quiet:
        return
    deploy.remove_leftovers_if_listed(
        client, lambda ref, ns: typer.echo(deploy.leftover_line(ref, ns, dry_run=True), err=True),
        keep=deploy.binding_name(params), dry_run=True, on_failed=_warn)


def _warn(line: str) -> None:
    """A warning on stderr (with -o too: stdout is the document); -q keeps it: it is no
    progress line but something left undone."""
    typer.echo(fix_hint(f"Warning: {line}"), err=True)


def _warn_unknown_revision(client: KubeClient, revision: str) -> None:
    """A warning when no istiod revision or revision tag of the cluster is ``revision``:
    the Gateway then waits, Pending, for an istiod that does not run (not a refusal: the
    istiod may be about to be installed)."""
    from kmeshctl.istiod import known_revisions

    known = known_revisions(client) if revision else None
    if known is None or revision in known:
        return
    _warn(f"no istiod of revision {revision} runs in the cluster (revisions and tags: {', '.join(known) or 'none'}); "
          f"the Gateway stays Pending until one does: give --revision one of them, or leave it out for the "
          f"namespace's or the default revision")


def _revisions(client: KubeClient) -> Optional[list[str]]:
    """The cluster's istiod revisions and tags (None: not known)."""
    from kmeshctl.istiod import known_revisions

    try:
        return known_revisions(client)
    except KmeshctlError:
        return None


def _set_force(client: KubeClient, force_conflicts: bool) -> None:
    """Apply with force when --force-conflicts (as install); otherwise a conflict's fix
    offers the command typed with --force-conflicts added."""
    client.force_conflicts = force_conflicts
    client.force_command = "" if force_conflicts else same_work_command(["waypoint", "apply"],
                                                                        ["--force-conflicts"])


class _ApplyRun:
    """One `waypoint apply`: what it applied so far, and how it reports its end (done,
    failed mid-way, stopped by a signal) as text or as the -o document."""

    def __init__(self, params: deploy.WaypointParams, refs: list[str], output: Optional[ManifestFormat]) -> None:
        self.params, self.refs, self.output = params, refs, output
        self.results: list[ApplyResult] = []
        self.started: list[str] = []
        self.waiting = False
        self.leftovers: list[tuple[str, str]] = []  # (ref, namespace) of bindings deleted namespaces left
        self.existed: Optional[bool] = None  # the waypoint was there before this apply (its delete would remove
        # it); None: not read yet (a stop while connecting)

    def reported(self, say: Callable[[str], None]) -> Callable[[ApplyResult], None]:
        def report(result: ApplyResult) -> None:
            self.results.append(result)
            if self.output is None:  # with -o, as install: the document says it
                say(f"{result.ref} {result.action}")
        return report

    def removed(self, say: Callable[[str], None]) -> Callable[[str, str], None]:
        """Each leftover binding removed after the apply: delete's line (not with -o)."""
        def report(ref: str, namespace: str) -> None:
            self.leftovers.append((ref, namespace))
            if self.output is None:
                say(deploy.leftover_line(ref, namespace))
        return report

    @property
    def waypoint(self) -> str:
        return f"{self.params.namespace}/{self.params.name}"

    def print_document(self, **extra: object) -> None:
        if self.output is None:
            return
        document: dict = {"waypoint": self.waypoint,
                          "applied": [{"object": r.ref, "action": r.action} for r in self.results],
                          "changed": self.changed,
                          "leftoversRemoved": [{"object": ref, "namespace": ns} for ref, ns in self.leftovers]}
        print_data({**document, **extra}, OutputFormat(self.output.value))

    @property
    def changed(self) -> bool:
        """Whether the cluster changed: an object applied anew, or a leftover removed."""
        return bool(self.leftovers) or (not nothing_changed(self.results) if self.results else False)

    def done(self) -> None:
        if self.output is not None:
            self.print_document()
        elif not self.changed:
            typer.echo(f"Nothing to do: waypoint {self.waypoint} is up to date.")
        elif nothing_changed(self.results):  # only leftovers removed: each has its line
            typer.echo(f"waypoint {self.waypoint} is up to date; removed "
                       f"{counted(len(self.leftovers), 'leftover ClusterRoleBinding')} of deleted namespaces.")
        else:
            typer.echo(f"waypoint {self.waypoint} applied. Label a Service or namespace "
                       f"istio.io/use-waypoint={self.params.name} to send its traffic through it.")

    def failed(self, failure: PartialApply) -> None:
        cause_fix = getattr(failure.cause, "fix", "")
        first = f"{cause_fix.removesuffix(', then retry').removesuffix(', then re-run')}, then " if cause_fix else ""
        error = KmeshctlError(f"{failure.failed} could not be applied: {failure.cause.problem}; {failure.counts} "
                              "(nothing is rolled back)",
                              fix=f"{first}re-run `{same_work_command(['waypoint', 'apply'])}` (it applies the "
                                  f"rest){self.ways_on()}")
        self.print_document(notApplied=[object_ref(o) for o in failure.not_applied], error=str(error))
        raise error from failure

    def stopped(self, stop: KeyboardInterrupt) -> None:
        how = stopped_by(stop)
        line = self.stopped_text(how.how)
        done = {r.ref for r in self.results}
        self.print_document(notApplied=[ref for ref in self.refs if ref not in done], error=line)
        stopping.say(fix_hint(line))
        raise typer.Exit(how.exit_code)

    def stopped_text(self, how: str) -> str:
        """The one line of an apply a signal stopped: what was applied, what was being
        applied (it may have been), what was not, and the commands that go on. Every object
        applied (while waiting, or tidying up after): the rollout goes on, nothing to re-run.
        Nothing applied: this run changed nothing (a waypoint there before is as it was)."""
        again = f"re-run `{same_work_command(['waypoint', 'apply'])}`"
        done = [r.ref for r in self.results]
        removed = [ref for ref, _ in self.leftovers]
        going = [ref for ref in self.started if ref not in done and ref not in removed]
        left = [ref for ref in self.refs if ref not in done and ref not in going]
        if self.waiting or (done and not left and not going):
            return self._all_applied(how)
        if not done and not going:
            return self._nothing_applied(how, again)
        parts = [f"applied {', '.join(done)}" if done else "nothing applied yet"]
        parts += [f"removed leftover {', '.join(removed)}"] if removed else []
        parts += [f"{', '.join(going)} being {'applied' if going[0] in self.refs else 'removed'} (it may have "
                  "been)"] if going else []
        parts += [f"not applied: {', '.join(left)}"] if left else []
        return f"waypoint apply stopped by {how}: " + "; ".join(parts) + f"; {again} to apply the rest{self.ways_on()}"

    def _all_applied(self, how: str) -> str:
        """Every object applied: nothing is left to apply; the Deployment's rollout and
        istiod's programming of the Gateway go on without kmeshctl."""
        status = same_work_command(["waypoint", "status"])
        when = " while waiting" if self.waiting else ""
        removed = [ref for ref, _ in self.leftovers]
        tidied = f"; removed leftover {', '.join(removed)}" if removed else ""
        return (f"waypoint apply stopped by {how}{when}: all {counted(len(self.results), 'object')} of waypoint "
                f"{self.waypoint} applied{tidied}; nothing is left to apply, the rollout goes on (see `{status}`)")

    def _nothing_applied(self, how: str, again: str) -> str:
        """Stopped before any write: this run changed nothing; a waypoint that was there
        before is said to be there, as it was."""
        if self.existed:
            return (f"waypoint apply stopped by {how} before this run applied anything: it changed nothing (waypoint "
                    f"{self.waypoint} was already there and is as it was); {again} to apply it")
        if self.existed is None:
            return self.unknown_stop(how)
        return f"waypoint apply stopped by {how} before anything was applied; {again} to apply it (this run changed " \
               "nothing)"

    @staticmethod
    def unknown_stop(how: str) -> str:
        """A stop before the cluster said whether the waypoint is there: only this run is spoken of."""
        return (f"waypoint apply stopped by {how} before this run applied anything: it changed nothing; re-run "
                f"`{same_work_command(['waypoint', 'apply'])}` to apply it")

    def ways_on(self) -> str:
        """After `re-run ... (to apply the rest)`: over a waypoint that was there before, how
        much of it changed (its delete would remove it: never offered, as install's
        uninstall); a new one's delete, which removes what was applied."""
        if not self.existed:
            return f", or remove what was applied with `{_delete_command()}`" if self.results or self.started else ""
        changed = not nothing_changed(self.results) or bool(self.leftovers)
        return f" (the earlier waypoint {self.waypoint} is {'partly updated' if changed else 'unchanged'})"


def _delete_command() -> str:
    return same_work_command(["waypoint", "delete"])


def _stderr_is_terminal() -> bool:
    """Where the wait's progress goes: a line each poll on a terminal, a log's only on a change."""
    from rich.console import Console

    return Console(stderr=True).is_terminal


def _no_pods_to_wait_for(namespace: str) -> UsageError:
    """`--wait --replicas 0`: refused before anything connects. No pod is made, so none
    becomes ready and istiod programs no Gateway for it (as `kubectl wait --for=condition=Ready
    pod -l ...` fails at once when no pod matches): the line without --wait, or with a pod.
    Both are the line typed, in the order typed (the global flags where they were, another
    bad value as typed: the one error naming every bad value mends it in both)."""
    typed = _typed_apply_words(namespace)
    without_wait = cmdline.without_flag(cmdline.without_flag(typed, "--wait", valued=False), "--timeout")
    with_pod = [*_with_replicas(_wait_alone(typed), "1")]
    return UsageError("--wait with --replicas 0: no waypoint pod is made, so none can become ready (nor does istiod "
                      "program a Gateway without one) and the wait could only time out",
                      fix=f"apply it scaled to 0 without waiting: `{shlex.join(without_wait)}`, or give it a pod "
                          f"and wait: `{shlex.join(with_pod)}`")


def _typed_apply_words(namespace: str) -> list[str]:
    """`kmeshctl ... waypoint apply ...` as typed (cmdline.ARGS: the line being parsed, also
    when a line is only checked), with `-n NAMESPACE` after `apply` when -n was not typed
    (the paste must not depend on the context's namespace)."""
    words = ["kmeshctl", *cmdline.ARGS]
    end = cmdline.separator_at(words)
    if any(w.partition("=")[0] in ("-n", "--namespace") for w in words[:end]) or "apply" not in words[:end]:
        return words
    at = words.index("apply") + 1
    return [*words[:at], "-n", namespace, *words[at:]]


def _wait_alone(words: list[str]) -> list[str]:
    """``words`` with `--wait=VALUE` (refused: an on/off flag takes no value) as --wait."""
    end = cmdline.separator_at(words)
    return [("--wait" if w.startswith("--wait=") and i < end else w) for i, w in enumerate(words)]


def _with_replicas(words: list[str], value: str) -> list[str]:
    """``words`` with --replicas given ``value`` (where typed, in the spelling typed)."""
    return cmdline.with_flag_value(words, "--replicas", value)


# -o's help says what -o wide adds to each command's own output
ListOutputOption = output_option(None)  # every column is in the table already: wide only stops cutting or
# leaving out the columns a narrow terminal has no room for
StatusOutputOption = output_option("a line saying whether kmeshctl made the waypoint and which Services use it")


def namespace_and_all(namespace: str) -> UsageError:
    """`waypoint list -n foo -A`: one namespace or every one, with the line typed each way
    (badinput's parse-time check says it too, beside the line's other bad values)."""
    words = list(cmdline.ARGS)
    one = cmdline.without_flag(cmdline.without_flag(words, "-A", valued=False), "--all-namespaces", valued=False)
    every = cmdline.without_flag(cmdline.without_flag(words, "-n"), "--namespace")
    lines = " or ".join(f"`{shlex.join(['kmeshctl', *line])}`" for line in (one, every) if line != words)
    flag, all_flag = flag_as_typed("namespace") or "-n", flag_as_typed("all_namespaces") or "-A"
    return UsageError(f"{flag} {shown(namespace)} and {all_flag} do not go together ({all_flag} lists every "
                      f"namespace): give one of them{': ' + lines if lines else ''}")


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
        raise namespace_and_all(namespace)
    _check_names()
    where = None if all_namespaces else _namespace(namespace)  # a bad context namespace: before connecting
    client = _client()
    states = deploy.list_waypoints(client, where)
    if not states and where is not None:  # as status: never "No waypoints found" in a namespace not there
        _check_listed_namespace(client, where, _namespace_origin(namespace, where))
    _note_leftovers(client)
    if is_data(output):
        print_data([s.as_dict() for s in states], output)
        return
    if not states:
        # as kubectl's "No resources found": on stderr, so a script reading stdout sees no rows (-q: not even that)
        note(f"No waypoints found in namespace {where}." if where else "No waypoints found.", run_options().quiet)
        return
    print_waypoints(states, cli_console(wide=output is OutputFormat.wide))


def print_waypoints(states: list[deploy.WaypointState], console: Console) -> None:
    """The table of waypoint list: in a terminal, NAMESPACE and NAME whole and no name or
    address split across lines; the columns that do not fit then are left out from the
    right and named under it (-o wide: a console that shows every column)."""
    table = Table("NAMESPACE", "NAME", "BY KMESHCTL", "READY", "ISTIOD ADDRESS", "SERVICES")
    for s in states:
        cells = (s.namespace, s.name, "yes" if s.managed else "no", f"{s.ready_pods}/{len(s.pods)}",
                 ", ".join(s.addresses) or f"{EMPTY} ({s.gateway_reason})", ", ".join(s.services) or EMPTY)
        table.add_row(*(escape(cell) for cell in cells))  # the cluster's words, never read as rich markup
    print_fitted(console, table, ("NAMESPACE", "NAME"))


def _check_listed_namespace(client: KubeClient, namespace: str, origin: str) -> None:
    """deploy.check_namespace's UsageError when ``namespace`` does not exist; nothing when
    this user may not read it (the list said what it could)."""
    from kmeshctl.kube import ApiError

    try:
        deploy.check_namespace(client, namespace, origin)
    except ApiError as err:
        if err.status != 403:
            raise


def _note_leftovers(client: KubeClient) -> None:
    """A note on stderr for each waypoint ClusterRoleBinding a deleted namespace left
    (nothing when this user may not list them): `waypoint delete` removes them."""
    from kmeshctl.kube import ApiError

    if run_options().quiet:
        return
    try:
        leftovers = deploy.leftover_bindings(client)
    except ApiError:
        return
    for binding, namespace in leftovers:
        name = binding["metadata"]["labels"][deploy.WAYPOINT_LABEL]
        typer.echo(fix_hint(f"Note: ClusterRoleBinding {binding['metadata']['name']} was left by deleted namespace "
                            f"{namespace}; `kmeshctl waypoint delete -n {namespace} --name {name}` removes it"),
                   err=True)


@waypoint_app.command("status")
def status_cmd(
    namespace: NamespaceOpt = None,
    name: NameOpt = deploy.DEFAULT_NAME,
    output: StatusOutputOption = OutputFormat.table,
) -> None:
    """What each pod of a waypoint serves: Services, routes with the weights Envoy applies,
    whether Envoy ACKed the latest configuration. Exit 1 when a pod is not in sync, or
    when the Gateway of that name was not made by `waypoint apply` (istioctl's: it says
    whose it is).

    Examples:

      kmeshctl waypoint status
      kmeshctl waypoint status -n default --name waypoint -o json
    """
    _check_names()
    given, namespace = namespace, _namespace(namespace)  # a bad context namespace: before connecting
    client = _client()
    gateway = _gateway(client, namespace, name)
    if gateway is not None and not deploy.made_by_waypoint_apply(gateway, name):
        raise _not_kmeshctls(client, gateway, namespace, name)
    # what it runs with: a fix re-applying it keeps its revision and replicas
    params = _running_params(client, namespace, name, gateway) or deploy.WaypointParams(namespace, name)
    if gateway is None:  # no waypoint: pods of a Deployment of its name (not its own) are not counted
        raise _no_pods(client, False, params, _namespace_origin(given, namespace))
    state = deploy.waypoint_state(client, namespace, name, gateway, deploy.services_of(client, namespace, name))
    if not state.pods and params.replicas != 0:  # (0: its own Deployment, scaled to none: reported below)
        raise _no_pods(client, True, params, _namespace_origin(given, namespace))
    replaced = deploy.rollout_replaced(client, params, state)  # what every put-back line offers
    reports = {pod: _pod_report(client, params, pod, replaced) for pod in state.pods}
    problems = _waypoint_problems(client, params, state, replaced)
    healthy = not problems and state.ready_pods == len(state.pods) and all(
        r.get("envoy", {}).get("ready") and r.get("envoy", {}).get("acked") for r in reports.values())
    if is_data(output):
        print_data({"waypoint": state.as_dict(), "pods": reports, "problems": problems, "healthy": healthy}, output)
    else:
        _print_status(state, reports, problems, wide=output is OutputFormat.wide)
    raise typer.Exit(0 if healthy else 1)


def _waypoint_problems(client: KubeClient, p: deploy.WaypointParams, state: deploy.WaypointState,
                       replaced: str = "") -> list[str]:
    """What keeps the waypoint as a whole from serving, each with its fix: its Deployment's
    rollout not done (apply --wait's words and fix, the put-back of ``replaced``), its
    Deployment scaled to 0 (no pod to ask), istiod not having programmed its Gateway (the
    agents are given no address for it; the istiod without a ready pod named when that is why)."""
    problems = []
    if p.replicas == 0 and not state.pods:
        problems.append(f"its Deployment is scaled to 0 replicas: no pod serves its Services; scale it up: "
                        f"`{deploy.apply_line(p, 'replicas', '1')}`")
    if not state.addresses:
        cause = deploy.istiod_cause(client, p)
        if cause is None and p.revision:
            cause = f"no istiod of revision {p.revision} was found: see `kubectl get svc -A -l app=istiod`"
        elif cause is None:  # no default-revision istiod: one of a revision only may be the one meant
            cause = (f"istiod installed with a revision only (as ASM's istiod-1-22-6)? re-apply with its revision: "
                     f"`{deploy.apply_line(p, 'revision', 'REVISION')}`")
        why = cause or "see istiod's log"
        problems.append(f"istiod has not programmed its Gateway ({state.gateway_reason}): no address for the "
                        f"agents to send its Services' traffic to; {why}")
    rollout = deploy.rollout_problem(client, p, state, replaced)  # apply --wait's words for a rollout not done
    return [*problems, rollout] if rollout else problems


def _no_pods(client: KubeClient, has_gateway: bool, p: deploy.WaypointParams, origin: str) -> KmeshctlError:
    """`waypoint status` of a waypoint without pods: not found when it has no Gateway
    (naming what it left: a stopped apply's objects, the binding of a deleted namespace);
    else what keeps its pods away, with a fix `waypoint apply` accepts."""
    own, foreign = deploy.objects_of(client, p)
    where = f"{p.namespace}/{p.name}"
    if not has_gateway:
        live = client.get("v1", "Namespace", p.namespace)
        if (why := terminating_why(live)) is not None:  # apply is refused there: none offered
            return KmeshctlError(f"waypoint {where} not found: namespace {p.namespace} is being deleted ({why}); "
                                 "no waypoint can be made there",
                                 fix=f"`kubectl get namespace {p.namespace} -o yaml` shows what holds it (or "
                                     f"{LIST_ALL})")
        if live is None:
            if not own:  # nothing of it anywhere: the namespace is what is missing
                deploy.check_namespace(client, p.namespace, origin)
            them = "it" if len(own) == 1 else "them"
            return KmeshctlError(f"waypoint {where} not found: namespace {p.namespace} does not exist; leftovers: "
                                 f"{', '.join(own)}", fix=f"`{_delete_of(p)}` removes {them}")
        return _not_found(client, p.namespace, p.name, _create_fix(client, p, own, foreign), look_first=False,
                          leftovers=own)
    if foreign:
        replaced = ", ".join(foreign) + (" was replaced by an object" if len(foreign) == 1 else
                                         " were replaced by objects")
        kubectl = " and ".join(f"`{deploy.delete_command(ref)}`" for ref in foreign)
        return KmeshctlError(f"waypoint {where} has no pods: {replaced} kmeshctl did not make (waypoint apply never "
                             "takes one over, --force-conflicts neither)",
                             fix=f"{kubectl}, then `{_apply_of(p)}`; or remove this waypoint with `{_delete_of(p)}`")
    return KmeshctlError(f"waypoint {where} has no pods",
                         fix=f"run `{_apply_of(p)}` (or check `kmeshctl waypoint list -A`)")


def _apply_of(p: deploy.WaypointParams) -> str:
    return deploy.apply_line(p)


def _delete_of(p: deploy.WaypointParams) -> str:
    return f"kmeshctl waypoint delete -n {p.namespace} --name {p.name}"


def _create_fix(client: KubeClient, p: deploy.WaypointParams, own: list[str], foreign: list[str]) -> str:
    """The fix of a waypoint status did not find: the status of the kmeshctl waypoint
    that is in the namespace, and a `waypoint apply` it accepts (another --name when
    objects of this one's names are not kmeshctl's), or the delete of its leftovers."""
    ours = [g["metadata"]["name"] for g in client.list(deploy.GATEWAY_API, "Gateway", p.namespace)
            if deploy.made_by_waypoint_apply(g, g["metadata"]["name"])]
    look = ""
    if ours:
        others = f" (or --name {', '.join(ours[1:])})" if len(ours) > 1 else ""
        look = f"`kmeshctl waypoint status -n {p.namespace} --name {ours[0]}` shows {ours[0]}{others}; "
    if own and not foreign:
        return f"{look}re-create it with `{_apply_of(p)}`, or remove them with `{_delete_of(p)}`"
    if not foreign:
        return f"{look}create it: `{_apply_of(p)}`"
    other = _free_name(client, p.namespace, p.name)
    taken = f"{', '.join(foreign)} {'is' if len(foreign) == 1 else 'are'} not kmeshctl's"
    if other is None:
        return f"{look}{taken}: choose a --name that is free for `kmeshctl waypoint apply -n {p.namespace}`"
    another = "another" if ours else "one"
    return f"{look}to create {another}, choose a --name that is free ({taken}): " \
           f"`{_apply_of(deploy.WaypointParams(p.namespace, other))}`"


def _free_name(client: KubeClient, namespace: str, name: str) -> Optional[str]:
    """A --name beside ``name`` that `waypoint apply` would accept in ``namespace``
    (no object of its names there that kmeshctl did not make), else None."""
    other = f"{name}{OTHER_NAME_SUFFIX}"[:63].rstrip("-")
    _own, foreign = deploy.objects_of(client, deploy.WaypointParams(namespace, other))
    return None if foreign or _gateway(client, namespace, other) is not None else other


def _pod_report(client: KubeClient, p: deploy.WaypointParams, pod: str, replaced: str = "") -> dict:
    """The controller's report of a running pod; a pod not running: why (its container's
    waiting reason) and the fix (with the put-back of ``replaced``, the image the waypoint's
    template replaced), without asking a controller that is not there."""
    waiting = deploy.pod_not_running(client, p, pod, replaced)
    if waiting:
        return {"error": waiting}
    try:
        return _expected_errors_dropped(deploy.pod_status(p.namespace, pod, run_options()))
    except KmeshctlError as err:
        starting = deploy.pod_starting(client, p, pod)
        return {"error": starting or _controller_error(err, p, pod)}


def _controller_error(err: KmeshctlError, p: deploy.WaypointParams, pod: str) -> str:
    """``err`` of asking a ready waypoint pod's controller, in a waypoint's words: the
    port-forward's `no agent admin endpoint ...: pass --admin-port` is the node agent's
    (a waypoint's 15000 is Envoy's admin, and status has no --admin-port)."""
    text = str(err)
    if not text.startswith("no agent admin endpoint"):
        return text
    why = text[text.find("(") + 1:text.find("):")] if "):" in text else "no answer"
    return (f"its controller does not answer on port {deploy.STATUS_PORT} ({why}): see its log, "
            f"`kubectl logs {pod} -n {p.namespace} -c controller`")


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


def _print_status(state: deploy.WaypointState, reports: dict[str, dict], problems: list[str],
                  wide: bool = False) -> None:
    """The report as lines (never cut, so -o table and -o wide differ only in what wide
    adds: the Services that use the waypoint, and whether kmeshctl made it). Every line
    goes through fix_hint, as every error and warning: a fix in it (a pod's `waypoint
    apply ... --image ...`) pastes with the --kubeconfig / --context typed."""
    def echo(line: str) -> None:
        typer.echo(fix_hint(line) if "`" in line else line)

    going = f" ({len(state.terminating)} terminating)" if state.terminating else ""  # counted by neither
    echo(f"Waypoint {state.namespace}/{state.name}: {state.ready_pods}/{len(state.pods)} pods ready{going}; "
         f"istiod address: {', '.join(state.addresses) or f'{EMPTY} ({state.gateway_reason})'}")
    if wide:
        echo(f"  made by kmeshctl: {'yes' if state.managed else 'no'}; used by: "
             f"{', '.join(state.services) or EMPTY}")
    for problem in problems:
        echo(f"  problem: {problem}")
    for pod, report in reports.items():
        if "error" in report:
            error = report["error"]
            echo(f"  {pod}: {error}" if error.startswith(("not running", "not ready")) else
                 f"  {pod}: cannot ask its controller ({error})")
            continue
        envoy = report["envoy"]
        echo(f"  {pod}: Envoy {'ready' if envoy['ready'] else 'NOT ready'}, "
             f"{'in sync (ACKed)' if envoy['acked'] else 'NOT in sync'}; "
             f"services: {', '.join(report['services']) or EMPTY}")
        if envoy.get("error"):
            echo(f"    cannot read Envoy's routes: {envoy['error']}")
        for route, weights in sorted(report["routes"].items()):
            echo(f"    {route}: " + ", ".join(f"{c} {w}" for c, w in weights.items()))
        for problem in report["problems"]:
            echo(f"    problem: {problem}")


DeleteOutputOption = Annotated[Optional[ManifestFormat], typer.Option(
    "-o", "--output", metavar="json|yaml", show_default=False,
    help="Print what was deleted, left and absent, the Services still using it and any error as one JSON / "
         "YAML document (schema: docs/usage.md) instead of one line per object.")]


@waypoint_app.command("delete")
def delete_cmd(
    namespace: NamespaceOpt = None,
    name: NameOpt = deploy.DEFAULT_NAME,
    ignore_not_found: Annotated[bool, typer.Option(
        "--ignore-not-found", help="Exit 0 when the waypoint does not exist (for scripts).")] = False,
    output: DeleteOutputOption = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what would be deleted (the same reads and ownership decisions), delete nothing.")
                       ] = False,
    timeout: Annotated[float, typer.Option(
        metavar="DURATION", min=0, max=MAX_TIMEOUT_S,
        help="How long to wait for its objects to go (e.g. 60s, 5m; 0: no limit, as kubectl's).")
                       ] = WAYPOINT_DELETE_TIMEOUT_S,
) -> None:
    """Delete a waypoint made by `waypoint apply` (Services labelled to use it then go direct).

    A waypoint that does not exist is an error (NotFound, exit 1), as with `kubectl
    delete`; --ignore-not-found makes it a success that says "Nothing to delete".
    Services still labelled to use it are named on stderr with the command that
    unlabels them. Each object is awaited until it is gone (--timeout). With --dry-run
    nothing is deleted: what would be is listed. Ctrl-C or SIGTERM says what was deleted
    and what not (exit 130 / 143).

    Examples:

      kmeshctl waypoint delete -n default
      kmeshctl waypoint delete -n default --dry-run
      kmeshctl waypoint delete -n demo --name east --ignore-not-found
      kmeshctl waypoint delete -n default -o json
    """
    _check_names()
    given, namespace = namespace, _namespace(namespace)  # a bad context namespace: before connecting
    params = deploy.WaypointParams(namespace, name)
    run = _DeleteRun(params, output, dry_run)
    say = (lambda _line: None) if run_options().quiet or output is not None else typer.echo
    try:
        with sigterm_stops():  # a stop while connecting: nothing was deleted (an unreachable cluster: no document)
            client = _client()
    except KeyboardInterrupt as stop:
        run.stopped(stop)
    try:
        with sigterm_stops():
            if not deploy.exists(client, params):
                _nothing_to_delete(client, run, ignore_not_found, _namespace_origin(given, namespace))
                return
            run.users = _users(client, params)
            _warn_in_use(params, run.users, dry_run)  # -q too: a warning with a fix
            if not dry_run:  # what a stop reports as not deleted: only what would have been
                run.plan = deploy.delete_plan(client, params)
            deploy.delete(client, params, run.reported(say), run.started.append, run.removed(say), dry_run=dry_run,
                          timeout=timeout or math.inf, again=same_work_command(["waypoint", "delete"]))
            check_not_stopped()
            # from here a stop's line says the work is done (not a bare `stopped by`)
            stopping.leaves(f"waypoint {namespace}/{name} was {'not deleted (dry run)' if dry_run else 'deleted'}")
    except KeyboardInterrupt as stop:
        run.stopped(stop)
    except KmeshctlError as error:
        if not isinstance(error, UsageError):  # a refusal: nothing ran
            run.print_document(error=str(error))
        raise
    run.print_document()


def _nothing_to_delete(client: KubeClient, run: "_DeleteRun", ignore_not_found: bool, origin: str) -> None:
    """A waypoint that does not exist: NotFound (the cluster's lack of the Gateway API
    first: no waypoint can exist there; a namespace that does not exist: exit 2, as list
    and status say it, ``origin`` where -n came from), or with --ignore-not-found the
    line (and document) saying there is nothing to delete."""
    p = run.params
    served = client.is_served(deploy.GATEWAY_API, "Gateway")
    run.results = [(ref, deploy.NOT_FOUND) for ref in deploy.own_refs(p)]  # -o's `absent`, as uninstall lists them
    if not ignore_not_found:
        deploy.require_gateway_api(client)
        _check_listed_namespace(client, p.namespace, origin)
        raise _not_found(client, p.namespace, p.name, ignore_not_found_fix(["waypoint", "delete"]))
    if run.output is None and not run_options().quiet:
        why = "" if served else " (the cluster does not serve the Gateway API)"
        typer.echo(f"Nothing to delete: waypoint {p.namespace}/{p.name} does not exist{why}.")
    run.print_document()


def _users(client: KubeClient, p: deploy.WaypointParams) -> "list[model.Service]":
    """The Services using the waypoint, for a warning: none when this user may not read
    them (the delete does not depend on it)."""
    from kmeshctl.kube import ApiError

    try:
        return deploy.waypoint_users(client, p.namespace).get((p.namespace, p.name), [])
    except ApiError:
        return []


def _warn_in_use(p: deploy.WaypointParams, users: "list[model.Service]", dry_run: bool = False) -> None:
    """A warning, not a refusal: Services labelled to use the waypoint go direct once it
    is gone (istiod drops the waypoint from them), which may be what the user wants."""
    if not users:
        return
    refs = ", ".join(f"{s.namespace}/{s.name}" for s in users)
    commands = " and ".join(f"`{c}`" for c in dict.fromkeys(deploy.unlabel_command(s) for s in users[:5]))
    uses = "Service {} still uses" if len(users) == 1 else "Services {} still use"
    would = " would" if dry_run else ""
    typer.echo(fix_hint(f"Warning: {uses.format(refs)} waypoint {p.namespace}/{p.name} (label "
                        f"istio.io/use-waypoint={p.name}); once it is gone their traffic{would} go"
                        f"{'' if would else 'es'} direct, without the waypoint's L7 rules (routes, weights, L7 "
                        f"policy); to keep those, keep the waypoint; to send them direct on purpose, unlabel "
                        f"{'it' if len(users) == 1 else 'them'}: {commands}"), err=True)


class _DeleteRun:
    """One `waypoint delete`: each object's outcome so far, reported as lines or as the
    -o document, and the line of a delete a signal stopped."""

    def __init__(self, params: deploy.WaypointParams, output: Optional[ManifestFormat], dry_run: bool = False) -> None:
        self.params, self.output, self.dry_run = params, output, dry_run
        self.plan: Optional[list[str]] = None  # what the delete would delete, once read
        self.results: list[tuple[str, str]] = []
        self.started: list[str] = []
        self.users: list = []
        self.leftovers: list[tuple[str, str]] = []  # (ref, namespace) of bindings deleted namespaces left

    def reported(self, say: Callable[[str], None]) -> Callable[[str, str], None]:
        def report(ref: str, outcome: str) -> None:
            self.results.append((ref, outcome))
            say(f"{ref} {outcome}")
        return report

    def removed(self, say: Callable[[str], None]) -> Callable[[str, str], None]:
        def report(ref: str, namespace: str) -> None:
            self.leftovers.append((ref, namespace))
            say(deploy.leftover_line(ref, namespace, self.dry_run))
        return report

    def print_document(self, **extra: object) -> None:
        """`waypoint delete -o json|yaml` (docs/usage.md)."""
        if self.output is None:
            return
        document = {
            "waypoint": f"{self.params.namespace}/{self.params.name}",
            "dryRun": self.dry_run,
            "deleted": [ref for ref, outcome in self.results if outcome in (deploy.DELETED, deploy.WOULD_DELETE)],
            "absent": [ref for ref, outcome in self.results if outcome == "not found"],
            "left": [{"object": ref, "reason": outcome.removeprefix("left: ")} for ref, outcome in self.results
                     if outcome.startswith("left")],
            "usedBy": [f"{s.namespace}/{s.name}" for s in self.users],
            "leftoversRemoved": [{"object": ref, "namespace": ns} for ref, ns in self.leftovers],
            "errors": [str(extra["error"])] if "error" in extra else [],
        }
        print_data(document, OutputFormat(self.output.value))

    def stopped(self, stop: KeyboardInterrupt) -> None:
        how = stopped_by(stop)
        line = self.stopped_text(how.how)
        self.print_document(error=line)
        stopping.say(fix_hint(line))
        raise typer.Exit(how.exit_code)

    def stopped_text(self, how: str) -> str:
        """What was deleted, what was being deleted (it may be gone), what was not reached,
        and the command that deletes the rest."""
        if self.dry_run:
            return f"waypoint delete --dry-run stopped by {how}; nothing was deleted"
        done = [ref for ref, outcome in self.results if outcome == deploy.DELETED]
        done += [ref for ref, _ in self.leftovers]
        handled = {ref for ref, _ in self.results + self.leftovers}
        going = [ref for ref in self.started if ref not in handled]
        if self.plan is None:  # stopped while reading what to delete
            return (f"waypoint delete stopped by {how} before anything was deleted; re-run "
                    f"`{same_work_command(['waypoint', 'delete'])}` to delete it")
        left = [ref for ref in self.plan if ref not in handled and ref not in going]
        parts = [f"deleted {', '.join(done)}" if done else "nothing deleted yet"]
        parts += [f"{', '.join(going)} being deleted (it may be gone)"] if going else []
        parts += [f"not deleted: {', '.join(left)}"] if left else []
        return (f"waypoint delete stopped by {how}: " + "; ".join(parts) +
                f"; re-run `{same_work_command(['waypoint', 'delete'])}` to delete the rest")


LIST_ALL = "see `kmeshctl waypoint list -A`"
OTHER_NAME_SUFFIX = "-kmesh"  # the --name suggested beside a waypoint kmeshctl did not make


def _gateway(client: KubeClient, namespace: str, name: str) -> Optional[dict]:
    deploy.require_gateway_api(client)
    return client.get(deploy.GATEWAY_API, "Gateway", name, namespace)


def _not_kmeshctls(client: KubeClient, gateway: dict, namespace: str, name: str) -> KmeshctlError:
    """`waypoint status` of a Gateway another tool made (istioctl's, istiod's): whose it
    is, and a name `waypoint apply` would take (never one it refuses), exit 1."""
    problem = (f"Gateway {namespace}/{name} ({deploy.gateway_maker(gateway)}) was not made by kmeshctl waypoint "
               "apply: `kmeshctl waypoint status` reports only kmeshctl's waypoints")
    look = f"`kubectl get gateway {name} -n {namespace} -o yaml` shows it"
    other = _free_name(client, namespace, name)
    if other is None:  # that name is taken too: no command that would be refused
        return KmeshctlError(problem, fix=look)
    return KmeshctlError(problem, fix=f"{look}; for a kmeshctl waypoint there choose another --name: "
                                      f"`kmeshctl waypoint apply -n {namespace} --name {other}`")


def _not_found(client, namespace: str, name: str, fix: str,  # type: ignore[no-untyped-def]
               look_first: bool = True, leftovers: "list[str] | tuple[str, ...]" = ()) -> KmeshctlError:
    """One wording for a waypoint that does not exist (status, delete): the waypoints that
    are in the namespace and what this one left (``leftovers``); none there: where to look
    for them (before ``fix``, or after it when ``look_first`` is False: the first command
    of a line is the one a user pastes)."""
    names = deploy.waypoint_names(client, namespace)
    elsewhere = [ns for ns in deploy.namespaces_with(client, name) if ns != namespace][:3]
    there = ", ".join(names) or ("none; " + LIST_ALL if look_first and not elsewhere else "none")
    if not names and not look_first and not elsewhere:
        fix = f"{fix} (or {LIST_ALL})"
    also = ""
    if elsewhere and _deleting():  # never a delete line for another object: where it is, in words
        also = (f"; a waypoint {name} is in namespace{'s' if len(elsewhere) > 1 else ''} {', '.join(elsewhere)}: "
                "another object, which this does not touch (if it is the one meant, give its -n)")
    elif elsewhere:  # a wrong -n: the line in the namespace that has it, before the fix here
        fix = f"{_in_namespaces(name, elsewhere)}; else {fix}"
    left = f"; its leftovers: {', '.join(leftovers)}" if leftovers else ""
    return KmeshctlError(f"waypoint {namespace}/{name} not found (waypoints in {namespace}: {there}{left}{also})",
                         fix=fix)


def _deleting() -> bool:
    """Whether the running command deletes (`waypoint delete`): its fixes never name another object."""
    context = get_current_context(silent=True)
    return context is not None and context.command_path.split()[1:3] == ["waypoint", "delete"]


def _in_namespaces(name: str, namespaces: list[str]) -> str:
    """`waypoint wp3 is in namespace demo: `kmeshctl waypoint delete -n demo --name wp3``:
    the command being run with its -n / --namespace (as typed, else -n) set to each."""
    words = shlex.split(same_work_command(get_current_context().command_path.split()[1:]))
    lines = " or ".join(f"`{shlex.join(_namespace_set(words, ns))}`" for ns in namespaces)
    return f"waypoint {name} is in namespace{'s' if len(namespaces) > 1 else ''} {', '.join(namespaces)}: {lines}"


def _namespace_set(words: list[str], namespace: str) -> list[str]:
    """``words`` with their -n / --namespace (`-n x`, `-nx`, `--namespace=x`) set to
    ``namespace``, else `-n NAMESPACE` added."""
    for i, word in enumerate(words):
        if word in ("-n", "--namespace") and i + 1 < len(words):
            return [*words[:i + 1], namespace, *words[i + 2:]]
        if word.startswith("--namespace="):
            return [*words[:i], f"--namespace={namespace}", *words[i + 1:]]
        if word.startswith("-n") and len(word) > 2:
            return [*words[:i], "-n", namespace, *words[i + 1:]]
    return [*words, "-n", namespace]


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


# ---------------------------------------------------------------- a stray word


NAMESPACE_LOOKUP_S = 2.0  # the hint asks the cluster once: an unreachable one must not make the error slow


def _stray_apply_word(words: list[str], args: list[str]) -> str:
    """`waypoint apply WORD` without -n, WORD an existing namespace: istioctl's habit
    (`waypoint apply -n NS`), so the line with -n WORD; "" otherwise (no cluster, one that
    does not answer in time, no such namespace: the generic `--name WORD` reading)."""
    from kmeshctl.cli.cmdline import separator_at, spelled
    from kmeshctl.params import DNS1123_LABEL_RE

    end = separator_at(args)
    if len(words) != 1 or args[:end].count(words[0]) != 1 or \
            any(spelled(w, {"-n", "--namespace"}) for w in args[:end]) or not DNS1123_LABEL_RE.match(words[0]):
        return ""
    word = words[0]
    if not _namespace_exists(word, args):
        return ""
    rest = [w for w in args if w != word]
    at = next((i + 2 for i in range(len(rest) - 1) if rest[i:i + 2] == ["waypoint", "apply"]), None)
    if at is None:
        return ""
    line = shlex.join(["kmeshctl", *rest[:at], "-n", word, *rest[at:]])
    return f"; {word} is a namespace: give it with -n, as istioctl's `waypoint apply -n`: `{line}`"


def _namespace_exists(name: str, args: list[str]) -> bool:
    """Whether the cluster the line names (badinput.typed_target) has namespace ``name``,
    asked within NAMESPACE_LOOKUP_S; False when it cannot say (none configured, no answer,
    no right to read it)."""
    from kmeshctl import istiod
    from kmeshctl.cli.badinput import typed_target

    target = typed_target(args)
    found, _ = istiod.ask_quickly(target.kubeconfig, target.context, NAMESPACE_LOOKUP_S,
                                  lambda client: client.get("v1", "Namespace", name) is not None,
                                  f"asking whether {name} is a namespace")
    return bool(found)


POSITIONAL_READERS[("waypoint", "apply")] = _stray_apply_word
