"""Cluster-facing commands: install, uninstall, precheck, status, enable-ns, disable-ns.
(`render` lives in cli/render.py; `install` shares its options.)"""

from __future__ import annotations

import functools
import math
import re
import shlex
from dataclasses import replace
from typing import Annotated, Callable, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kmeshctl.cli.badinput import COMMAND_HABITS
from kmeshctl.cli.names import check_namespace_words
from kmeshctl.cli.suggestions import flag_as_typed
from kmeshctl.cli.tables import cli_console, overhead, wide_only

from kmeshctl import apply as applier
from kmeshctl import config_dump
from kmeshctl import install as installer
from kmeshctl import istiod
from kmeshctl import namespaces as ns_ops
from kmeshctl.cli import names as name_checks
from kmeshctl import precheck as checks
from kmeshctl.cli.common import (MAX_TIMEOUT_S, OutputFormat, app, check_namespace_flags, fix_hint, is_data,
                                 pointing_at_sandboxes, print_data, run_options, suggest)
from kmeshctl.cli.common import output_option
from kmeshctl.cli.render import (
    check_crd_files,
    check_offline_xds_address,
    ClusterIdOption,
    CrdFileOption,
    EnableBpfLogOption,
    EnableBypassOption,
    ImageOption,
    IstioNamespaceOption,
    ClusterKubernetesVersionOption,
    ManifestFormat,
    ModeOption,
    NamespaceOption,
    InstallOutputOption,
    NetworkOption,
    XdsAddressOption,
    CLUSTER_ID_NEEDED,
    CLUSTER_UNREACHABLE_FOR_ISTIOD,
    XDS_ADDRESS_NEEDED,
    offline_render_hint,
    print_manifests,
    required_flags_error,
    same_work_command,
    warn_left_out,
    warn_unvalidated_custom_kinds,
)
from kmeshctl.errors import KmeshctlError, UsageError, spoken_list
from kmeshctl.kube import (PRECHECK_LISTS, ApiError, ApiUnreachable, KubeClient, NoClusterConfigured,
                           cluster_configured, connect_reachable, is_can_i_pointer, object_ref)
from kmeshctl.params import (
    counted,
    DEFAULT_IMAGE,
    DEFAULT_ISTIO_NAMESPACE,
    DEFAULT_NAMESPACE,
    HINT_LOOKUP_TIMEOUT_S,
    UNINSTALL_TIMEOUT_S,
    XDS_ADDRESS_EXAMPLE,
    install_hint,
)
from kmeshctl.render import DAEMONSET_NAME, NOT_OURS, left_out
from kmeshctl.asciinum import waited_words
from kmeshctl.rollout import (RefusalWatch, RolloutGone, RolloutState, RolloutTimeout, counts_text, image_at_fault,
                             image_pull_state, missing_configmap, replaced_image, set_flag, timeout_fix,
                             wait_for_rollout)
from kmeshctl.status import (BEING_UNINSTALLED, UNKNOWN_HEAD, AgentXds, MeshStatus, agent_problem, agent_xds,
                             istiod_unreached, mesh_status, status_daemonset)
from kmeshctl.stopping import check_not_stopped, say, sigterm_stops, stopped_by
from kmeshctl.uninstall import (ABSENT, SPARED, DeleteResult, InstalledElsewhere, check_install_namespaces,
                                installed_objects, stopped_text)
from kmeshctl.uninstall import uninstall as uninstall_objects
from kmeshctl.uninstall import dry_run as uninstall_dry_run
from kmeshctl import uninstall as uninstall_mod


# -o's help names what -o wide adds to each command's own table
# -o wide: whether the agent should mark each pod (-o json's expected), where it is, as `kubectl get pods -o wide`
ENROLLMENT_WIDE = ("EXPECTED", "IP", "NODE")
STATUS_WIDE = ("IMAGE",)  # -o wide: each agent's image (the DaemonSet line names it otherwise)
PrecheckOutputOption = output_option(None)  # CHECK/RESULT/DETAIL/FIX is all of it; wide only stops cutting
StatusOutputOption = output_option(STATUS_WIDE)
EnrollmentOutputOption = output_option(ENROLLMENT_WIDE)
# -n says what each command does with kmesh's namespace (render's own: the one install creates).
StatusNamespaceOption = Annotated[str, typer.Option(
    "-n", "--namespace", help="Namespace of the installed node agent (the DaemonSet status reads).")]
UninstallNamespaceOption = Annotated[str, typer.Option(
    "-n", "--namespace", help="Namespace install created for the node agent (uninstall deletes it).")]
PrecheckNamespaceOption = Annotated[str, typer.Option(
    "-n", "--namespace", help="Namespace install would create for the node agent (checked for permission).")]
WIDE_WIDTH = 10_000  # -o wide: rich never cuts or wraps a column
# Every long command has it (issue 14, fifth pass): no progress lines, only the result.
QuietOption = Annotated[bool, typer.Option("-q", "--quiet", help="No progress lines while waiting, only the result.")]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0, max=MAX_TIMEOUT_S, metavar="DURATION",
                        help="Give up waiting after this long (e.g. 300s, 5m, 1h; a plain number is seconds; "
                             "0: no limit, as kubectl's).")
]


def wait_limit(timeout: float) -> float:
    """--timeout as a limit in seconds: 0 is no limit (kubectl rollout status --timeout=0)."""
    return timeout or math.inf


def out(output: OutputFormat = OutputFormat.table) -> Console:
    if output is OutputFormat.wide:
        return cli_console(highlight=False, soft_wrap=True, width=WIDE_WIDTH)
    return cli_console(highlight=False, soft_wrap=True)


def err(quiet: bool = False) -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True, quiet=quiet)


# -- install ------------------------------------------------------------------------------


@app.command()
def install(
    xds_address: XdsAddressOption = None,
    cluster_id: ClusterIdOption = None,
    image: ImageOption = DEFAULT_IMAGE,
    namespace: NamespaceOption = DEFAULT_NAMESPACE,
    mode: ModeOption = "dual-engine",
    enable_bypass: EnableBypassOption = False,
    enable_bpf_log: EnableBpfLogOption = False,
    istio_namespace: IstioNamespaceOption = DEFAULT_ISTIO_NAMESPACE,
    kubernetes_version: ClusterKubernetesVersionOption = None,
    network: NetworkOption = "",
    crd_file: CrdFileOption = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Render, validate, dry-run on the cluster (which must answer; offline only when "
                     "no cluster is configured), print, apply nothing. --dry-run=server is the same.")] = False,
    force_conflicts: Annotated[bool, typer.Option(
        "--force-conflicts", help="Take back fields another field manager (kubectl edit/patch) now owns: "
                                  "server-side apply with force, as `kubectl apply --server-side "
                                  "--force-conflicts` (with --dry-run: a forced server dry run).")] = False,
    output: InstallOutputOption = ManifestFormat.yaml,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the DaemonSet rollout.")] = True,
    quiet: QuietOption = False,
    timeout: TimeoutOption = 300,
) -> None:
    """Install the node agent DaemonSet and the waypoint EnvoyFilters (server-side apply).

    Everything is checked before the first write: flags, rendering, strict schema
    validation (Istio kinds against the cluster's own CRDs, or --crd-file), that the
    cluster serves every kind, and a server-side dry run of every object (admission,
    validation, field-manager conflicts): a rejected object stops the install with
    nothing applied. Re-running with the same flags changes nothing. Should the real
    apply fail after those checks (the API server failing mid-way), the error names the
    objects applied and not, and re-running the same command applies the rest.
    With --dry-run the manifests are printed (-o yaml|json) and nothing is applied;
    otherwise one line per object, or with -o json / an explicit -o yaml the result of
    each apply as JSON / YAML.

    Examples:

      kmeshctl install --cluster-id c1
      # istiod named instead of found (ASM: the istiod-<revision> Service)
      kmeshctl install --cluster-id c1 --xds-address istiod.istio-system.svc:15012
      # nothing applied (with no cluster configured, give --xds-address too:
      # it validates offline)
      kmeshctl install --cluster-id c1 --dry-run
    """
    try:  # a stop before _install's checks: nothing was applied either
        with sigterm_stops():
            check_namespace_flags()
            check_crd_files(crd_file)
            _check_required(xds_address, cluster_id, dry_run, istio_namespace)
    except KeyboardInterrupt as stop:
        _stopped_before_apply(stop, dry_run)
    try:
        _install(xds_address, cluster_id, image, namespace, mode, enable_bypass, enable_bpf_log, istio_namespace,
                 kubernetes_version, network, crd_file, dry_run, force_conflicts, output, wait, quiet, timeout)
    except installer.InstallBlocked as blocked:
        raise _blocked_refusal(blocked) from None
    except KmeshctlError as error:
        raise _refusal_pointing_at(error, PRECHECK_LISTS) from None


def _install(xds_address: Optional[str], cluster_id: Optional[str], image: str, namespace: str, mode: str,
             enable_bypass: bool, enable_bpf_log: bool, istio_namespace: str, kubernetes_version: Optional[str],
             network: str, crd_file: Optional[list], dry_run: bool, force_conflicts: bool, output: ManifestFormat,
             wait: bool, quiet: bool, timeout: float) -> None:
    options = dict(image=image, namespace=namespace, mode=mode, enable_bypass=enable_bypass,
                   enable_bpf_log=enable_bpf_log, istio_namespace=istio_namespace,
                   kubernetes_version=kubernetes_version, network=network)
    try:
        with sigterm_stops():  # the checks read the cluster for a while: a stop says nothing was applied
            plan = _plan(xds_address, cluster_id, options, crd_file, dry_run)
    except KeyboardInterrupt as stop:
        _stopped_before_apply(stop, dry_run)
    _set_force(plan.client, force_conflicts)
    note = err(quiet)  # -q: no line on stderr but errors
    if plan.offline_because:
        note.print(f"[yellow]No reachable cluster ({plan.offline_because}): validating offline[/]")
    if plan.xds_found_in:
        note.print(f"Using istiod at {plan.params.xds_address} (found in namespace {plan.xds_found_in})")
    for name in plan.users_namespaces:
        note.print(f"Namespace {name}: {NOT_OURS}, used as is (not labelled; uninstall keeps it)")
    _warn_policy_left_out(plan)  # -q too: the install lacks a guard
    if changed := installer.image_change(plan):  # -q too: a line with a fix (the docs' -q rule)
        err().print(_image_change_line(changed, dry_run))
    if plan.istiod_idle is not None:  # only a dry run gets here with it (the install refuses it): -q too
        err().print(f"[yellow]{escape(fix_hint(_istiod_idle_warning(plan.istiod_idle)))}[/]")
    if dry_run:
        try:
            with sigterm_stops():
                report = installer.dry_run(plan)
        except KeyboardInterrupt as stop:
            _stopped_before_apply(stop, dry_run)
        _print_dry_run(report, plan.crds is not None, quiet)
        print_manifests(plan.objects, output)
        return
    result_format = _result_format(output)
    results = _apply_and_report(plan, result_format, quiet, document=not wait)
    if wait:
        assert plan.client is not None
        document = (functools.partial(_print_results, results, result_format) if result_format else
                    functools.partial(_quiet_summary, results) if quiet and not applier.nothing_changed(results)
                    else _no_document)
        _wait_interruptible(plan.client, plan.params.namespace, wait_limit(timeout), output, quiet, document,
                            plan.params.cluster_id, plan.image_before)


def _stopped_before_apply(stop: KeyboardInterrupt, dry_run: bool) -> NoReturn:
    """A stop during install's checks (before its first write): the line that says so, as
    waypoint apply's, with the command that starts again; exit 130 / 143."""
    how = stopped_by(stop)
    if dry_run:
        say(f"install --dry-run stopped by {how.how}; nothing was applied (a dry run applies nothing)")
    else:
        say(fix_hint(f"install stopped by {how.how} before anything was applied; re-run "
                     f"`{same_work_command(['install'])}` to install"))
    raise typer.Exit(how.exit_code) from stop


def _istiod_idle_warning(deployment: istiod.IstiodDeployment) -> str:
    """A dry run's line for the istiod the real install refuses (installer.IstiodNotReady):
    a warning (nothing is written; istiod may be up by the real run), with the lines to run."""
    again = shlex.join(w for w in shlex.split(same_work_command(["install"]))
                       if w != "--dry-run" and not w.startswith("--dry-run="))  # a flag of no value
    return (f"Warning: {installer.istiod_idle_problem(deployment)}: install (without --dry-run) refuses it; "
            f"{installer.istiod_idle_fix(deployment)}, then run `{again}`")


def _image_change_line(change: installer.ImageChange, dry_run: bool) -> str:
    """Says the agents' image changes (an install without --image puts the default back,
    as istioctl and helm do with a value left out), and the line that keeps the old one."""
    verb = "would change" if dry_run else "changes"
    line = f"[yellow]DaemonSet {change.ref}: the agents' image {verb} from {change.before} to {change.after}[/]"
    if change.failing:  # the image the agents cannot pull or start: none to keep
        return f"{line} [yellow](they cannot pull or start {change.before})[/]"
    keep = _install_with("image", change.before)
    return f"{line} {escape(fix_hint(f'(to keep it: `{keep}`)'))}"  # fix_hint: with the --kubeconfig/--context typed


LINE_ROOM = 80  # `Error: ` and the pointer an error line may end with (` (see 'kmeshctl install --help')`)


def _blocked_refusal(blocked: installer.InstallBlocked) -> KmeshctlError:
    """Every blocker in the one Error line; when that line would be too long to show
    whole, each blocker on a line of its own above a shorter Error line."""
    from kmeshctl.cli.badinput import MAX_LINE

    if len(fix_hint(str(blocked))) + LINE_ROOM <= MAX_LINE:
        return blocked
    for n, (problem, fix, _) in enumerate(blocked.blockers, 1):
        err().print(escape(fix_hint(f"  ({n}) {problem}" + (f": {fix}" if fix else ""))))
    return KmeshctlError(f"{len(blocked.blockers)} problems block the install (each above, with its fix), nothing was "
                         "applied", blocked.exit_code)


def _set_force(client: Optional[KubeClient], force_conflicts: bool) -> None:
    """Apply with force=true when --force-conflicts; otherwise a conflict's fix offers it."""
    if client is not None:
        client.force_conflicts = force_conflicts
        client.force_command = "" if force_conflicts else same_work_command(["install"], ["--force-conflicts"])


def _result_format(output: ManifestFormat) -> Optional[ManifestFormat]:
    """How install prints what it applied: None (one line per object) unless -o was typed."""
    from typer._click.core import ParameterSource
    from typer._click.globals import get_current_context

    typed = get_current_context().get_parameter_source("output") != ParameterSource.DEFAULT
    return output if typed or output is ManifestFormat.json else None


def _no_document(**_failure: object) -> None:
    """No -o typed: the lines per object said what was applied."""


def _wait_interruptible(client: KubeClient, namespace: str, timeout: float, output: ManifestFormat,
                        quiet: bool, document: Callable[..., None] = _no_document, cluster_id: str = "",
                        before: str = "") -> None:
    """The rollout wait, then the -o document (``document``): one that a script can tell
    from success when the wait failed or was stopped (`error`: the Error line's words;
    `notApplied` empty). Ctrl-C or SIGTERM is one Error line, as a stop while applying
    (_install_stopped): every object applied, the rollout goes on, the command that
    shows it; exit 130 / 143. ``before``: the agents' image before this install."""
    try:
        with sigterm_stops():
            _wait_rollout(client, namespace, timeout, output, quiet, cluster_id, before)
            check_not_stopped()  # a stop whose exception was swallowed is no success either
    except KeyboardInterrupt as stop:
        how = stopped_by(stop)
        line = fix_hint(f"install stopped by {how.how} while waiting for the rollout: every object applied; "
                        f"the rollout goes on without kmeshctl: `kmeshctl status -n {namespace}` shows it")
        document(notApplied=[], error=line)
        say(line)
        raise typer.Exit(how.exit_code) from stop
    except KmeshctlError as error:
        document(notApplied=[], error=str(_refusal_pointing_at(error, PRECHECK_LISTS)))  # install() says it so
        raise
    document()


def _check_required(xds_address: Optional[str], cluster_id: Optional[str], dry_run: bool,
                    istio_namespace: str = DEFAULT_ISTIO_NAMESPACE) -> None:
    """Every required flag left out, named in one line (exit 2); the example --cluster-id
    is istiod's own when its Deployment names it (read for at most HINT_LOOKUP_TIMEOUT_S)."""
    needs = {"cluster_id": CLUSTER_ID_NEEDED, "xds_address": XDS_ADDRESS_NEEDED}
    missing = installer.missing_required(xds_address, cluster_id, dry_run, run_options())
    if "cluster_id" in missing:
        flag, _, what = CLUSTER_ID_NEEDED
        own = istiods_cluster_id_quickly(istio_namespace)
        needs["cluster_id"] = (flag, own, f"{what}: istiod's is {own}") if own else CLUSTER_ID_NEEDED
    if missing:
        why = "with no cluster configured, --dry-run validates offline" if "xds_address" in missing else ""
        raise required_flags_error(["install"], [needs[name] for name in missing], why, xds_address, istio_namespace)


def istiods_cluster_id_quickly(istio_namespace: str) -> Optional[str]:
    """istiod's cluster id as its Deployment in the cluster configured names it, for a
    hint: asked within the request timeout, at most HINT_LOOKUP_TIMEOUT_S (None: not known)."""
    target = run_options()
    limit = min(target.request_timeout or HINT_LOOKUP_TIMEOUT_S, HINT_LOOKUP_TIMEOUT_S)
    return istiod.known_cluster_id_quickly(target.kubeconfig, target.context, istio_namespace, limit)


def _plan(xds_address: Optional[str], cluster_id: Optional[str], options: dict, crd_file: Optional[list],
          dry_run: bool) -> installer.InstallPlan:
    """installer.plan_install; a suggested command instead carries every flag typed that it takes."""
    if dry_run and xds_address is not None and not cluster_configured(run_options()):  # offline: no cluster judges it
        check_offline_xds_address(["install"], xds_address, options["istio_namespace"])
    try:
        return installer.plan_install(xds_address, cluster_id, options, crd_file, dry_run, run_options())
    except installer.DryRunClusterUnreachable as error:
        raise KmeshctlError(f"{error.reason}; to validate without a cluster: "
                            f"{offline_render_hint(CLUSTER_UNREACHABLE_FOR_ISTIOD)}",
                            error.exit_code) from error
    except istiod.XdsAddressRefused as error:
        if len(error.found) == 1:
            raise KmeshctlError(f"{error}; use `{_install_with('xds_address', error.found[0])}`",
                                error.exit_code) from error
        raise
    except InstalledElsewhere as error:
        raise UsageError(elsewhere_line(error, ["install"], " (or uninstall it first)")) from error
    except installer.KubernetesVersionNotServed as error:
        raise UsageError(f"{error}; give the cluster's: `{_install_with('kubernetes_version', error.found)}`") \
            from error
    except applier.PolicyApiNotServed as error:  # the line with every flag typed
        line = _install_with("kubernetes_version", applier.POLICY_LESS_VERSION)
        raise KmeshctlError(f"{error.problem}; {applier.policy_api_fix(line)}", error.exit_code) from error
    except installer.NamespaceTerminating as error:
        raise KmeshctlError(f"{error.problem}; `kubectl get namespace {error.namespace} -o yaml` shows what holds "
                            f"it; once it is gone, re-run `{same_work_command(['install'])}` (it creates the "
                            "namespace)", error.exit_code) from error
    except installer.IstiodNotReady as error:
        fix = installer.istiod_idle_fix(error.deployment)
        raise KmeshctlError(f"{error.problem}; nothing was applied; {fix}, then re-run "
                            f"`{same_work_command(['install'])}`", error.exit_code) from error
    except installer.BeingUninstalled as error:
        status_line, again = same_work_command(["status"]), same_work_command(["install"])
        raise KmeshctlError(f"{error.problem}; wait for the uninstall to finish (`{status_line}` says when), then "
                            f"re-run `{again}`", error.exit_code) from error
    except istiod.ClusterIdNotIstiods as error:
        raise UsageError(f"{error}; use `{_install_with('cluster_id', error.own)}`") from error
    except istiod.SeveralIstiods as error:
        lines = " or ".join(f"`{_install_with('xds_address', address)}`" for address in error.found)
        raise UsageError(f"{error.problem}; choose one with --xds-address: {lines}") from error
    except istiod.IstioNamespaceMissing as error:
        if len(error.with_istiod) == 1:
            raise KmeshctlError(f"{error}; use `{_install_with('istio_namespace', error.with_istiod[0])}`",
                                error.exit_code) from error
        raise
    except installer.NoClusterForIstiod as error:
        offline = same_work_command(["install"], ["--dry-run", "--xds-address", XDS_ADDRESS_EXAMPLE])
        raise KmeshctlError(f"no cluster to find istiod in ({error.reason}); pass --xds-address HOST:PORT for an "
                            f"offline dry run, e.g. `{offline}`", error.exit_code) from error


def _warn_policy_left_out(plan: installer.InstallPlan) -> None:
    """warn_left_out's line; when the cluster serves the policy a typed --kubernetes-version
    leaves out, the fix is the install without that flag (kmeshctl reads the cluster's), and
    what an earlier install made of it stays (install deletes nothing): said so, not `any pod`."""
    if plan.policy_kept is None:
        warn_left_out(plan.params, ["install"], plan.cluster_version)
        return
    left = " and ".join(left_out(plan.params))
    typed = flag_as_typed("kubernetes_version")
    again = shlex.join(_without_flag(shlex.split(same_work_command(["install"])), "kubernetes_version"))
    if plan.policy_kept:
        kept = ("both stay" if len(plan.policy_kept) == len(left_out(plan.params)) else
                f"{' and '.join(plan.policy_kept)} stays")
        line = (f"Warning: {typed} {plan.params.kubernetes_version} leaves out {left}; install deletes none: "
                f"{kept} in the cluster as is (the guard that the agent may patch only pods on its own node still "
                f"holds); to keep it up to date, leave {typed} out (the cluster's is read): `{again}`")
    else:
        line = (f"Warning: {left} left out ({typed} is {plan.params.kubernetes_version}), though the cluster "
                f"serves them: the agent may patch any pod; leave {typed} out (the cluster's is read): `{again}`")
    err().print(f"[yellow]{escape(fix_hint(line))}[/]")


def _install_with(name: str, value: str) -> str:
    """This install command, as typed, with the flag of parameter ``name`` set to ``value``."""
    return command_with(["install"], name, value)


def command_with(command: list[str], name: str, value: str) -> str:
    """`kmeshctl COMMAND` with the flags typed that it takes (same_work_command), the flag
    of parameter ``name`` set to ``value`` (where it was typed, else added at the end)."""
    return shlex.join(set_flag(shlex.split(same_work_command(command)), _flag_for(name), value))


def _without_flag(words: list[str], name: str) -> list[str]:
    """``words`` without the flag of parameter ``name`` (as typed) and its value."""
    from kmeshctl.cli.cmdline import without_flag

    return without_flag(words, _flag_for(name))


def precheck_fix_command(command: str, values: dict[str, str]) -> str:
    """A fix of precheck's that runs precheck or install again (kmeshctl.precheck.FixCommand):
    every flag typed that ``command`` takes, each of ``values`` set. Not precheck's -o for
    install: there it is another thing (the apply results), and table / wide are refused."""
    words = shlex.split(same_work_command([command]))
    if command != "precheck":
        words = _without_flag(words, "output")
    for name, value in values.items():
        words = set_flag(words, _flag_for(name), value)
    return shlex.join(words)


def _flag_for(name: str) -> str:
    """The flag of parameter ``name`` as typed; -n for a namespace not typed."""
    from kmeshctl.cli.suggestions import given_on_command_line

    return "-n" if name == "namespace" and not given_on_command_line(name) else flag_as_typed(name)


def elsewhere_line(error: InstalledElsewhere, command: list[str], aside: str = "") -> str:
    """`kmesh is installed in namespace A, not B; pass -n A: `kmeshctl COMMAND -n A ...``:
    the refusal of a namespace flag that is not the install's, with the command to paste."""
    flag = _flag_for(error.parameter)
    return f"{error.problem}; pass {flag} {error.found}{aside}: `{command_with(command, error.parameter, error.found)}`"


def _print_dry_run(report: installer.DryRunReport, crd_file_given: bool, quiet: bool = False) -> None:
    if quiet:
        return
    if report.online:
        source = "--crd-file" if crd_file_given else "the cluster's CRDs"
        err().print(f"Dry run: validated against {source}; the API server's own dry run accepted "
                    f"{report.total - len(report.deferred)} of {report.total} objects. Nothing applied.")
        if report.deferred:
            namespaces = ", ".join(sorted({o["metadata"]["namespace"] for o in report.deferred}))
            err().print(f"The other {len(report.deferred)} live in namespace {namespaces}, which install "
                        "creates: the API server checks them once it exists, before anything else is written.")
    else:
        warn_unvalidated_custom_kinds(report.unvalidated_kinds, quiet)
        err().print("Dry run: nothing applied.")


def _apply_and_report(plan: installer.InstallPlan, output: Optional[ManifestFormat], quiet: bool = False,
                      document: bool = True) -> list[applier.ApplyResult]:
    """Apply, one line per object as it goes (``output`` None; -q: only the summary line,
    as uninstall -q) or the results as one JSON / YAML document at the end (``document``
    False: after the rollout wait, which the caller prints it after); a failure mid-way
    prints the document of what was applied too, then the error naming what was not and
    the command that finishes."""
    console = out()
    applied: list[applier.ApplyResult] = []

    def report(result: applier.ApplyResult) -> None:
        applied.append(result)
        if output is None and not quiet:
            style = {"created": "green", "configured": "yellow", "unchanged": "dim"}[result.action]
            console.print(f"{result.ref} [{style}]{result.action}[/]")

    try:
        with sigterm_stops():
            results = installer.apply(plan, report)
    except KeyboardInterrupt as stop:
        _install_stopped(stop, plan, applied, output)
    except applier.PartialApply as failure:
        error = partial_apply_error(failure, plan.installed_before)
        if output is not None:
            _print_results(failure.applied, output, notApplied=[object_ref(o) for o in failure.not_applied],
                           error=str(error))
        raise error from failure
    if output is not None:
        if document:
            _print_results(results, output)
    elif applier.nothing_changed(results) and plan.policy_kept:  # the cluster has more than this install writes
        kept = plan.policy_kept
        console.print(f"Nothing to do: every object this install writes already matches ({' and '.join(kept)} "
                      f"left as {'it is' if len(kept) == 1 else 'they are'}).")
    elif applier.nothing_changed(results):
        console.print("Nothing to do: the cluster already matches.")
    elif quiet and document:  # with the wait: said after it (_quiet_summary), Installed only once ready
        console.print(f"Installed: {install_summary(results)}.")
    return results


def _quiet_summary(results: list[applier.ApplyResult], **failure: object) -> None:
    """install -q's one line on stdout once the rollout wait ended: `Installed: ...` when it
    succeeded, otherwise (``failure``: the wait failed or was stopped) what was applied
    and that the agents are not ready (the Error line says why)."""
    head = "Applied, not ready" if failure else "Installed"
    out().print(f"{head}: {install_summary(results)}.")


def install_summary(results: list[applier.ApplyResult]) -> str:
    """`10 objects applied (3 created, 7 unchanged)`: install -q's one line."""
    actions = [f"{sum(1 for r in results if r.action == a)} {a}" for a in ("created", "configured", "unchanged")
               if any(r.action == a for r in results)]
    return f"{counted(len(results), 'object')} applied ({', '.join(actions)})"


def _ways_on(plan: installer.InstallPlan, applied: list[applier.ApplyResult]) -> str:
    """How to end a stopped or failed install: re-run it; remove what was applied only
    when there was no install before this run (uninstall would remove that one too)."""
    again = same_work_command(["install"])
    if plan.installed_before:
        how = "partly updated" if not applier.nothing_changed(applied) else "unchanged"
        return (f"the earlier install is {how}: re-run `{again}` to finish (it applies the rest; the applied "
                "objects stay as they are)")
    return f"re-run `{again}` to apply the rest, or remove what was applied with `{same_work_command(['uninstall'])}`"


def _install_stopped(stop: KeyboardInterrupt, plan: installer.InstallPlan, applied: list[applier.ApplyResult],
                     output: Optional[ManifestFormat]) -> None:
    """A signal stopped install while applying: one Error line (what was applied, what
    was not, the ways on), with -o the document so far too; exit 130 / 143."""
    how = stopped_by(stop)
    done = [r.ref for r in applied]
    left = [object_ref(o) for o in plan.objects if object_ref(o) not in done]
    what = (f"applied {', '.join(done)}; not applied: {', '.join(left)} ({left[0]} may have been, as it was being "
            f"sent)" if done else f"nothing applied ({left[0]} may have been, if it was being sent)") if left else \
        f"every object applied ({len(done)})"
    line = fix_hint(f"install stopped by {how.how}: {what}; {_ways_on(plan, applied)}")
    if output is not None:
        _print_results(applied, output, notApplied=left, error=line)
    say(line)
    raise typer.Exit(how.exit_code)


def _print_results(results: list[applier.ApplyResult], output: ManifestFormat, **failure: object) -> None:
    document: dict = {"applied": [{"object": r.ref, "action": r.action} for r in results],
                      "changed": not applier.nothing_changed(results) if results else False}
    document.update(failure)
    print_data(document, OutputFormat(output.value))  # its error's commands with the user's flags


def partial_apply_error(failure: applier.PartialApply, installed_before: bool = False) -> KmeshctlError:
    """The one line of an install stopped mid-apply: the object, why, what was applied and
    not, and the ways to end it (finish it; or, with no install before this run, remove
    what was applied)."""
    cause_fix = getattr(failure.cause, "fix", "")
    first = f"{cause_fix.removesuffix(', then retry')}, then " if cause_fix else ""
    again, remove = same_work_command(["install"]), same_work_command(["uninstall"])
    if installed_before:
        how = "partly updated" if not applier.nothing_changed(failure.applied) else "unchanged"
        fix = (f"{first}re-run `{again}` to finish (it applies the rest; the applied objects stay as they are; the "
               f"earlier install is {how})")
    else:
        fix = (f"{first}re-run `{again}` (it applies the rest; the applied objects stay as they are), or remove "
               f"what was applied with `{remove}`")
    return KmeshctlError(f"{failure.failed} could not be applied: {failure.cause.problem}; {failure.counts} "
                         f"(nothing is rolled back)", fix=fix)


def _wait_rollout(client: KubeClient, namespace: str, timeout: float, output: ManifestFormat,
                  quiet: bool = False, cluster_id: str = "", before: str = "") -> None:
    fetch = functools.partial(config_dump.fetch_from_pod, target=client.target)
    watch = RefusalWatch(lambda pods: [agent.xds for agent in agent_xds(pods, namespace, fetch)])
    try:
        wait_for_rollout(client, namespace, DAEMONSET_NAME, timeout,
                         console=Console(stderr=True, quiet=True) if quiet else err(), refused=watch)
    except RolloutGone as error:  # the lines to paste keep the flags typed
        raise KmeshctlError(error.problem, fix=f"once `{same_work_command(['status'])}` says nothing is installed, "
                                               f"re-run `{same_work_command(['install'])}`") from error
    except RolloutTimeout as error:
        console = err()
        not_ready = error.state.not_ready()
        if not_ready:  # never a header over nothing
            console.print("[red]Pods not ready:[/]")
        agents = {a.pod: a for a in agent_xds(not_ready, namespace, fetch)}
        unreached = [a for a in agents.values() if a.xds is not None and not a.connected]
        for pod in not_ready:
            console.print(f"  {pod.name} (node {pod.node or '-'}): {escape(pod.reason)}")
            agent = agents.get(pod.name)
            if agent in unreached:
                # A running agent that is not ready is usually one istiod refuses: say why.
                console.print(f"    istiod {agent.xds.get('address')}: {escape(fix_hint(_xds_text(agent)))}")
        if unreached:
            raise KmeshctlError(error.problem, fix=timeout_fix(error.state, namespace, istiod_unreached(
                client, unreached[0], cluster_id), _install_with)) from error
        raise KmeshctlError(error.problem, fix=timeout_fix(error.state, namespace, install_with=_install_with,
                                                           replaced=_replaced(client, namespace, error.state, before),
                                                           unmounted=missing_configmap(client, not_ready),
                                                           timeout=timeout, pull=image_pull_state(client, not_ready))
                            ) from error
    err(quiet).print(f"[green]DaemonSet {namespace}/{DAEMONSET_NAME} is ready.[/]")


def _replaced(client: KubeClient, namespace: str, state: RolloutState, before: str) -> str:
    """The image the one that cannot be pulled or started replaced (rollout.replaced_image),
    asked only when an agent waits on its image; "" otherwise."""
    if not any(map(image_at_fault, state.not_ready())):
        return ""
    try:
        daemonset = status_daemonset(client, namespace)
    except KmeshctlError:
        return before
    return replaced_image(client, daemonset, before) if daemonset else before


# -- uninstall ------------------------------------------------------------------------------


UninstallOutputOption = Annotated[Optional[ManifestFormat], typer.Option(
    "-o", "--output", metavar="json|yaml", show_default=False,
    help="Print what was (with --dry-run: would be) deleted, what was already absent and any error as one "
         "JSON / YAML document (schema: docs/usage.md) instead of one line per object.")]


@app.command()
def uninstall(
    namespace: UninstallNamespaceOption = DEFAULT_NAMESPACE,
    istio_namespace: IstioNamespaceOption = DEFAULT_ISTIO_NAMESPACE,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List what would be deleted, in order, deleting nothing: each delete is sent with "
                          "dryRun=All, so the API server answers for what exists (admission, RBAC). "
                          "--dry-run=server is the same; with no cluster configured at all, every object is "
                          "listed unchecked.")] = False,
    output: UninstallOutputOption = None,
    timeout: TimeoutOption = UNINSTALL_TIMEOUT_S,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress lines (each object as it goes), only "
                                        "the result: what needs a fix, and the summary.")] = False,
) -> None:
    """Delete what install created, in reverse order, waiting for each object to go; each
    node's agent removes its data path as its DaemonSet goes.

    Safe to repeat. A -n that is not the namespace of the install on the cluster is
    refused before anything is deleted. Ctrl-C says what was deleted and what was not.
    Namespaces still labelled istio.io/dataplane-mode=Kmesh are listed
    (disable them with `kmeshctl disable-ns`); waypoints made by `kmeshctl waypoint apply`
    are kept, as istioctl's uninstall keeps the user's, each listed with the
    `kmeshctl waypoint delete` that removes it. An agent pod being replaced (deleted just
    before) is waited for first, within --timeout: its replacement removes the node's data
    path. Exit 1 when a node may keep a data path
    (its agent did not run or did not clean up): the line names the fix. Pods still
    marked on a node no agent pod was left on (an earlier uninstall cut) get a warning
    naming the fix, exit 0.
    With --dry-run nothing is deleted: the objects that would be are listed in the order
    they would go. -o json|yaml prints the result as one document.

    Examples:

      kmeshctl uninstall
      kmeshctl uninstall -n kmesh-system --istio-namespace istio-system
      kmeshctl uninstall --dry-run
      kmeshctl uninstall -o json
    """
    check_namespace_flags()
    objs = installed_objects(namespace, istio_namespace)  # checks the namespace flags first
    try:  # a stop while the API is asked whether it answers: nothing was deleted (its line, not a bare `stopped by`)
        with sigterm_stops():
            client = _uninstall_client(dry_run)
    except KeyboardInterrupt as stop:
        _uninstall_stopped(stop, objs, [], [], dry_run, output, False)
    console = out()
    results: list[DeleteResult] = []
    sent: list[str] = []  # deletes accepted, awaited: what a Ctrl-C leaves going
    sending: list[str] = []  # deletes sent: a Ctrl-C before the answer was read may leave one going

    def report(result: DeleteResult) -> None:
        results.append(result)
        if output is None and result.outcome == uninstall_mod.LEFT_MARKED:  # a fix, so -q says it too
            err().print(f"[yellow]{escape(fix_hint(f'Warning: {result.ref}: {result.detail}'))}[/]")
            return
        if output is not None or (quiet and result.outcome != "needs cleanup"):
            return
        style = {"deleted": "green", "stopped": "green", "would be deleted": "yellow",
                 "needs cleanup": "red", "left alone": "yellow", "kept": "yellow"}.get(result.outcome, "dim")
        if result.outcome in SPARED:
            console.print(f"[{style}]{escape(fix_hint(result.text))}[/]")
            return
        detail = f" ({escape(fix_hint(result.detail))})" if result.detail else ""
        console.print(f"{escape(result.ref)} [{style}]{result.outcome}[/]{detail}")

    try:
        with sigterm_stops():
            if client is not None:
                objs = uninstall_mod.made_here(client, objs)
                _check_install_namespace(client, objs, namespace, istio_namespace)
            if dry_run:
                uninstall_dry_run(client, objs, report)
            else:
                assert client is not None
                uninstall_objects(client, objs, wait_limit(timeout), report, sent.append,
                                  on_wait=lambda line: err(quiet or output is not None).print(escape(line)),
                                  again=same_work_command(["uninstall"]), on_sending=sending.append)
            enrolled = _still_enrolled(client)  # before the summary
            waypoints = _kept_waypoints(client)
    except KeyboardInterrupt as stop:
        _uninstall_stopped(stop, objs, results, sent, dry_run, output, client is not None, sending)
    except KmeshctlError as error:
        error = _uninstall_refusal(error)
        if output is not None and not isinstance(error, UsageError):  # bad -n: nothing ran
            _print_uninstall(results, output, dry_run, client is not None, None, [str(error)], None)
        raise error
    if output is not None:
        _print_uninstall(results, output, dry_run, client is not None, enrolled, [], waypoints)
    else:
        _uninstall_summary(results, dry_run, quiet, console)
    if enrolled:
        names = " ".join(enrolled)
        err().print(f"[yellow]Namespaces still labelled {ns_ops.MODE_LABEL}={ns_ops.MODE_VALUE}: {names} "
                    f"(run: `{escape(suggest('kmeshctl disable-ns ' + names))}`)[/]")
    if waypoints:
        listed = ", ".join(f"{ns}/{name} (run: `{_waypoint_delete(ns, name)}`)" for ns, name in waypoints)
        err().print(f"[yellow]Waypoints made by kmeshctl waypoint apply, which uninstall leaves running: "
                    f"{escape(listed)}[/]")
    if cleanup := [r for r in results if r.outcome == "needs cleanup"]:  # why the exit is 1, the uninstall done
        nodes = {r.ref.partition(":")[0] for r in cleanup}  # `node N: agent pod ...`: two pods of one node count once
        err().print(f"[yellow]Exit 1: {counted(len(nodes), 'node')} may need a cleanup (each above, with the line "
                    "to run); the uninstall itself finished[/]")
        raise typer.Exit(1)


def _keep_namespace_hint(flag: str, args: list[str]) -> str:
    """`uninstall --keep-namespace` (helm's habit): what uninstall does with the namespace
    instead, and the dry run of the line typed that shows it (it deletes nothing)."""
    from kmeshctl.cli.badinput import typed_value
    from kmeshctl.cli.cmdline import spelled, without_flag

    rest = without_flag(args, flag, valued=False)
    namespace = typed_value(rest, "-n", "--namespace") or DEFAULT_NAMESPACE
    dry = rest if any(spelled(w, {"--dry-run"}) for w in rest) else [*rest, "--dry-run"]
    return (f"; uninstall deletes namespace {shlex.quote(namespace)} only when install made it and it holds nothing "
            "else (one holding other objects is kept, only install's Pod Security labels go): leave "
            f"{flag} out; `{shlex.join(['kmeshctl', *dry])}` says which it does, deleting nothing")


COMMAND_HABITS[("uninstall", "--keep-namespace")] = _keep_namespace_hint


def _still_enrolled(client: Optional[KubeClient]) -> Optional[list[str]]:
    """The namespaces still labelled for Kmesh, after the deletes; None when they could not
    be listed (one stderr line says so, and how to look, as the line naming them would;
    no ``client``, a dry run with no cluster: None, no line, the note said it):
    the uninstall is done all the same, so neither its summary nor its exit status depend
    on this look."""
    if client is None:
        return None
    try:
        return ns_ops.enrolled_namespaces(client)
    except (ApiError, ApiUnreachable) as error:
        label = f"{ns_ops.MODE_LABEL}={ns_ops.MODE_VALUE}"
        line = (f"Could not list the namespaces still labelled {label} ({error.problem}): "
                f"see them with `kubectl get namespaces -l {label}`")
        err().print(f"[yellow]{escape(fix_hint(line))}[/]")
        return None


def _kept_waypoints(client: Optional[KubeClient]) -> Optional[list[tuple[str, str]]]:
    """(namespace, name) of each waypoint kmeshctl made, which uninstall leaves (as
    istioctl's leaves the user's waypoints: they route the user's Services); None when
    they could not be listed (one stderr line says so, and how to look), as _still_enrolled."""
    if client is None:
        return None
    try:
        return uninstall_mod.kept_waypoints(client)
    except (ApiError, ApiUnreachable) as error:
        line = (f"Could not list the waypoints made by kmeshctl waypoint apply ({error.problem}): "
                "see them with `kmeshctl waypoint list -A`")
        err().print(f"[yellow]{escape(fix_hint(line))}[/]")
        return None


def _waypoint_delete(namespace: str, name: str) -> str:
    """The `kmeshctl waypoint delete -n NS --name N` that removes waypoint namespace/name,
    with the user's --kubeconfig / --context."""
    return suggest(shlex.join(["kmeshctl", "waypoint", "delete", "-n", namespace, "--name", name]))


def _check_install_namespace(client: KubeClient, objs: list[dict], namespace: str, istio_namespace: str) -> None:
    """Before any delete: -n and --istio-namespace name those of the install on the
    cluster, or the cluster-scoped objects of another namespace's install would go with
    nothing else (or its EnvoyFilters would stay)."""
    try:
        check_install_namespaces(client, objs, namespace, istio_namespace)
    except InstalledElsewhere as error:
        raise UsageError(elsewhere_line(error, ["uninstall"])) from error


def _uninstall_refusal(error: KmeshctlError) -> KmeshctlError:
    """A 403 during uninstall points at `precheck --uninstall` (what uninstall needs),
    not at precheck's install checks; any other error as it is."""
    if "precheck --uninstall" in error.fix:
        return error
    check = same_work_command(["precheck"], ["--uninstall"])
    return _refusal_pointing_at(error, f"`{check}` lists what uninstall needs")


def _refusal_pointing_at(error: KmeshctlError, see: str) -> KmeshctlError:
    """A 403 of install / uninstall pointing at the precheck that lists what the command
    needs (kube's own pointer, `kubectl auth can-i ...`, fits every other command; a 403
    a raiser re-worded without it too); any other error as it is."""
    refused = isinstance(error, ApiError) and error.status == 403 and not error.see
    return error.pointing_at(see) if refused or is_can_i_pointer(error.see) else error


def _uninstall_stopped(stop: KeyboardInterrupt, objs: list[dict], results: list[DeleteResult], sent: list[str],
                       dry_run: bool, output: Optional[ManifestFormat], checked: bool,
                       sending: tuple[str, ...] | list[str] = ()) -> None:
    """A signal stopped uninstall: one stderr line (what went, what was going, what did not,
    and the command that removes the rest); with -o the document so far, its error the same.
    ``sending``: deletes sent whose answer was not read (never `not deleted`)."""
    from kmeshctl.stopping import stopped_by

    how = stopped_by(stop)
    again = same_work_command(["uninstall"])
    if dry_run or results or sent or sending:
        line = (f"{stopped_text(how.how, objs, results, sent, dry_run, sending)}; re-run `{again}` "
                f"{'to list it' if dry_run else 'to remove the rest (it is safe to repeat)'}")
    else:  # no delete sent yet (the API asked, the install looked up): say so, not every object one by one
        line = f"uninstall stopped by {how.how} before anything was deleted; re-run `{again}` to uninstall"
    line = fix_hint(line)
    if output is not None:
        _print_uninstall(results, output, dry_run, checked, None, [line], None)  # never listed: null
    say(line)
    raise typer.Exit(how.exit_code)


def _uninstall_client(dry_run: bool) -> Optional[KubeClient]:
    """The cluster; for --dry-run None when none is configured at all (the objects are then
    listed unchecked). A configured cluster that does not answer is an error either way."""
    target = run_options()
    if not dry_run:
        return connect_reachable(target)
    try:
        return connect_reachable(target)
    except NoClusterConfigured as error:
        from kmeshctl.cli.progress import note

        why = error.problem.removeprefix("no cluster configured: ")  # the line says it once
        fix = f"; to check them, {error.fix}" if error.fix else ""
        note(f"No cluster configured ({why}): listing every object unchecked{fix}", target.quiet)
        return None


NOTHING_OURS = "none of kmeshctl's objects exist"


def _uninstall_summary(results: list[DeleteResult], dry_run: bool, quiet: bool, console: Console) -> None:
    """The last line; `Nothing to uninstall` when nothing of kmeshctl's exists (objects
    of its names it did not make were left alone, each said so above)."""
    kept = [r for r in results if r.outcome == "kept" and r.detail != NOT_OURS]
    also = _kept_words(kept, dry_run) if quiet else ""  # -q showed no kept line
    if dry_run:
        count = sum(1 for r in results if r.outcome == "would be deleted")
        console.print(f"Dry run: {counted(count, 'object')} would be deleted{also}; nothing deleted." if count else
                      f"Dry run: nothing to uninstall: {NOTHING_OURS}." if not kept else
                      f"Dry run: nothing would be deleted{also}.")
        return
    deleted = sum(1 for r in results if r.outcome == "deleted")
    going = sum(1 for r in results if r.outcome == uninstall_mod.BEING_DELETED)  # another run's deletes: not counted
    if not deleted and going:
        console.print(f"Nothing deleted by this run: {counted(going, 'object')} already being deleted by another or "
                      f"an earlier uninstall (now gone){also}.")
    elif not deleted:
        console.print(f"Nothing to uninstall: {NOTHING_OURS}." if not kept else f"Nothing deleted{also}.")
    elif quiet:
        others = f", {going} already being deleted by another or an earlier uninstall" if going else ""
        console.print(f"Uninstalled: {counted(deleted, 'object')} deleted{others}{also}.")


def _kept_words(kept: list[DeleteResult], dry_run: bool = False) -> str:
    """`; namespace kmesh-system kept (holds objects not made by kmeshctl; the labels
    install added removed)`: -q's summary naming each namespace kept (its line not shown);
    ``dry_run``: `would be kept`, and what would become of the labels."""
    gone, stay = ((uninstall_mod.LABELS_WOULD_GO, uninstall_mod.LABELS_WOULD_STAY) if dry_run else
                  (uninstall_mod.LABELS_REMOVED, uninstall_mod.LABELS_LEFT))
    words = []
    for result in kept:
        why = "holds" if result.reason == uninstall_mod.USER_OBJECTS_REASON else "may hold"
        removed = f"; {gone}" if result.labels_removed else ""
        left = f"; {stay}" if stay in result.detail else ""
        words.append(f"; {result.ref[0].lower()}{result.ref[1:]} {'would be ' if dry_run else ''}kept ({why} "
                     f"objects not made by kmeshctl{removed}{left})")
    return "".join(words)


def uninstall_document(results: list[DeleteResult], dry_run: bool, checked: bool, enrolled: Optional[list[str]],
                       errors: list[str], waypoints: Optional[list[tuple[str, str]]] = ()) -> dict:
    """`uninstall -o json|yaml` (docs/usage.md): objects in the order they went (or would);
    ``enrolled`` None (null): the namespaces still labelled could not be listed;
    ``waypoints`` (namespace, name) of those kmeshctl made, left (None: not listed).
    Not ``checked`` (no cluster read): what only the cluster tells (absent, spared, nodes)
    is null too, as `[]` would say there is none."""
    read = checked or None  # a list when the cluster was read, else None (null)
    return {
        "dryRun": dry_run,
        "checked": checked,
        "deleted": [r.ref for r in results if r.outcome in ("deleted", "would be deleted")],
        "absent": read and [{"object": r.ref, "reason": r.outcome} for r in results if r.outcome in ABSENT],
        "spared": read and [{"object": r.ref, "outcome": r.outcome, "reason": r.detail,
                             "labelsRemoved": list(r.labels_removed)} for r in results if r.outcome in SPARED],
        "nodes": read and [{"agent": r.ref, "outcome": r.outcome, "detail": r.detail} for r in results
                           if r.outcome in ("stopped", "needs cleanup", uninstall_mod.LEFT_MARKED)],
        "enrolledNamespaces": enrolled,
        "keptWaypoints": None if waypoints is None else [
            {"namespace": ns, "name": name, "fix": _waypoint_delete(ns, name)} for ns, name in waypoints],
        "errors": errors,
    }


def _print_uninstall(results: list[DeleteResult], output: ManifestFormat, dry_run: bool, checked: bool,
                     enrolled: Optional[list[str]], errors: list[str],
                     waypoints: Optional[list[tuple[str, str]]] = ()) -> None:
    print_data(uninstall_document(results, dry_run, checked, enrolled, errors, waypoints), OutputFormat(output.value))


# -- precheck ---------------------------------------------------------------------------------


@app.command()
def precheck(
    namespace: PrecheckNamespaceOption = DEFAULT_NAMESPACE,
    istio_namespace: IstioNamespaceOption = DEFAULT_ISTIO_NAMESPACE,
    output: PrecheckOutputOption = OutputFormat.table,
    for_uninstall: Annotated[bool, typer.Option(
        "--uninstall", help="Check what uninstall needs instead of install's checks: -n and "
                            "--istio-namespace those of the install on the cluster (uninstall refuses others), "
                            "get and delete on each object install creates, list pods in every namespace.")] = False,
    cluster_id: Annotated[Optional[str], typer.Option(
        "--cluster-id", metavar="ID", help="The --cluster-id install will be given: the istiod cluster id "
                                           "check fails when istiod's is another.")] = None,
) -> None:
    """Check the cluster is ready for install (pass / warn / fail, with a fix for each failure).

    Checks: API reachable, Kubernetes >= 1.26, Istio CRDs served, the istiod Service with
    port 15012, istiod's cluster id (when its Deployment is in the cluster: the --cluster-id
    install needs), node kernels >= 5.10, that -n and
    --istio-namespace are those of an install already on the cluster (install refuses others), the Pod Security level of an existing -n namespace
    (install refuses one enforcing another level than privileged), no object install would
    write that kmeshctl did not make (install refuses those), permission to create what
    install creates.
    With --uninstall: API reachable, -n and --istio-namespace those of the install on the
    cluster, and permission to delete what install creates.
    Exit 0 when nothing fails, 1 otherwise.

    Examples:

      kmeshctl precheck
      kmeshctl --context ack-prod precheck -o json
      kmeshctl precheck --cluster-id c1
      kmeshctl precheck --uninstall
    """
    check_namespace_flags()
    if for_uninstall and cluster_id is not None:  # on stderr, -o json too (stdout is the document)
        typer.echo(fix_hint(f"Warning: {checks.uninstall_ignores(flag_as_typed('cluster_id'))}"), err=True)
    results = [replace(r, detail=fix_hint(r.detail), fix=fix_hint(r.fix))
               for r in checks.precheck_target(namespace, istio_namespace, run_options(), for_uninstall,
                                               precheck_fix_command, cluster_id)]
    report = checks.to_json(results)
    if is_data(output):
        print_data(report, output)
    else:
        print_checks([{**row, "fix": row["fix"] or ""} for row in report["checks"]], output)
    if not checks.passed(results):  # said on stderr as node preflight says it (-o json: stdout is the report)
        failed = counted(sum(r.status == "fail" for r in results), "check")
        raise KmeshctlError(f"{failed} failed: fix the rows marked fail" if not is_data(output) else f"{failed} failed")


def print_checks(rows: list[dict], output: OutputFormat) -> None:
    """The CHECK / RESULT / DETAIL / FIX table of `precheck` and `node preflight` (rows as
    in their JSON: name, status, detail, fix)."""
    table = Table(show_edge=False, pad_edge=False)
    table.add_column("CHECK")
    table.add_column("RESULT", no_wrap=True)
    # Nothing is cut with an ellipsis (a fix must stay readable in 80 columns): lines break
    # between words, and FIX is as wide as its longest word (`--kubeconfig/--context`) so
    # a flag is never split; only DETAIL folds a word longer than its column (a URL).
    table.add_column("DETAIL", overflow="fold")
    table.add_column("FIX", overflow="fold", min_width=_longest_word([r["fix"] for r in rows]))
    style = {"pass": "green", "warn": "yellow", "fail": "red"}
    for r in rows:
        table.add_row(r["name"], f"[{style[r['status']]}]{r['status']}[/]", escape(r["detail"]), escape(r["fix"]))
    console = out(output)
    if console.is_terminal and not _words_fit(table, [[r["name"], r["status"], r["detail"], r["fix"]] for r in rows],
                                              console.width):
        _print_checks_stacked(rows, console, style)  # a table would split words: one block per check instead
        return
    console.print(table)


def _words_fit(table: Table, cells: list[list[str]], width: int) -> bool:
    """Each column of ``table`` can be as wide as its longest word (header included)
    within ``width``: no word needs splitting."""
    longest = [max(len(w) for text in [column.header, *(row[i] for row in cells)] for w in str(text).split())
               for i, column in enumerate(table.columns)]
    return sum(longest) + overhead(table) <= width


def _print_checks_stacked(rows: list[dict], console: Console, style: dict[str, str]) -> None:
    """`CHECK: RESULT`, then DETAIL and FIX indented, wrapped at spaces only (a word longer
    than the line stays whole on its own line)."""
    from kmeshctl.cli.tables import WholeWordsWrapper

    def wrapped(label: str, text: str) -> str:
        return escape(WholeWordsWrapper(max(20, console.width), initial_indent=f"  {label}",
                                        subsequent_indent="    ").fill(text))

    for r in rows:
        console.print(f"{escape(r['name'])}: [{style[r['status']]}]{r['status']}[/]")
        console.print(wrapped("", r["detail"]), soft_wrap=True)
        if r["fix"]:
            console.print(wrapped("FIX: ", r["fix"]), soft_wrap=True)


MAX_FIX_WORD = 32  # a longer word of a fix (a path) may fold rather than squeeze DETAIL away


def _longest_word(texts: list[str]) -> int:
    return min(MAX_FIX_WORD, max((len(w) for t in texts for w in t.split()), default=0))


# -- status -------------------------------------------------------------------------------------


@app.command()
def status(
    namespace: StatusNamespaceOption = DEFAULT_NAMESPACE,
    output: StatusOutputOption = OutputFormat.table,
) -> None:
    """Show the node-agent DaemonSet and its pods with each agent's istiod connection,
    enrolled namespaces and redirected pods.

    Exit 1 when kmesh is not installed, not every pod is ready or an agent is not connected
    to istiod: the output then ends with why and the fix to paste (-o json: problems, fix).

    Examples:

      kmeshctl status
      kmeshctl status -n kmesh-system -o wide
      kmeshctl status -o json
    """
    check_namespace_flags()
    try:
        client = connect_reachable(run_options())
    except NoClusterConfigured as error:
        raise pointing_at_sandboxes(error, "a sandbox's agent and pods are shown by") from None
    try:
        state = mesh_status(client, namespace,
                            fetch=functools.partial(config_dump.fetch_from_pod, target=client.target))
    except InstalledElsewhere as error:
        raise UsageError(elsewhere_line(error, ["status"])) from error
    if is_data(output):
        print_data(state.to_dict(), output)
    else:
        _print_status(state, output)
    if not state.healthy:
        raise typer.Exit(1)


def _pointing_at_install(error: UsageError, namespace: str) -> UsageError:
    """`status -n Kmesh` (no namespace name): when the cluster says where kmesh is installed
    (asked within COMPLETION_LOOKUP_TIMEOUT_S), the line with that -n, one paste rather than
    the lower-cased value and then the install's; ``error`` as it is otherwise (no install
    found, no answer, or the value meant is the install's)."""
    from kmeshctl import istiod
    from kmeshctl.cli.render import this_command
    from kmeshctl.params import meant_namespace
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S
    from kmeshctl.rollout import set_flag

    target = run_options()
    found, _ = istiod.ask_quickly(target.kubeconfig, target.context, COMPLETION_LOOKUP_TIMEOUT_S,
                                  ns_ops.agent_namespaces, "asking which namespace kmesh is installed in")
    if not found or meant_namespace(namespace) in found:
        return error
    flag = flag_as_typed("namespace")
    line = shlex.join(set_flag(shlex.split(this_command()), flag, found[0]))
    installed = found[0] if len(found) == 1 else f"{found[0]} (and {', '.join(found[1:])})"
    problem = error.problem.split("; did you mean ")[0]  # the lower-cased value: not the one to use
    return UsageError(problem, fix=f"kmesh is installed in namespace {installed}: `{line}`")


name_checks.NAME_ERROR_READERS[("status",)] = lambda error, values: _pointing_at_install(error, values["namespace"])


def _print_status(state: MeshStatus, output: OutputFormat) -> None:
    console = out(output)
    if state.daemonset is None and state.terminating:  # install refuses it until it is gone: not suggested
        console.print(f"[red]Being deleted:[/] {escape(fix_hint(state.terminating_problem))}")
    elif state.daemonset is None and state.enrolled_here and not state.remaining:  # an install there is refused
        console.print(f"[red]Not installed:[/] {escape(fix_hint(state.app_namespace_problem))}")
    elif state.daemonset is None and state.remaining:
        console.print(f"[red]Partly installed or partly uninstalled:[/] "
                      f"{escape(fix_hint(state.problems[0].partition(': ')[2]))}")
    elif state.daemonset is None:
        console.print(f"[red]Not installed:[/] no DaemonSet {DAEMONSET_NAME} in namespace {state.namespace} "
                      f"({escape(fix_hint(state.install_hint))})")
    if state.daemonset is None and state.kept:
        console.print(f"[yellow]Kept:[/] {escape(fix_hint(state.kept_text))}")
    if state.daemonset is None:
        for conflict in state.conflicts:
            console.print(f"[red]Conflict:[/] {escape(fix_hint(conflict))}")
    else:
        ds = state.daemonset
        console.print(f"DaemonSet {state.namespace}/{ds['name']}: {counts_text(ds['desired'], ds['updated'], ds['ready'])}"
                      f"  image {ds['image']}")
        table = Table(show_edge=False, pad_edge=False)
        for column in ("NODE", "POD"):  # names are never cut (kubectl's, and -o wide's, promise)
            table.add_column(column, no_wrap=True, overflow="ignore")
        for column in ("READY", "STATUS", "ISTIOD", "RESTARTS", "AGE"):
            table.add_column(column)
        table.add_column("IMAGE", overflow="fold")  # an id: folded at the edge, never cut with …
        rows = status_rows(state)
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        wide_only(table, STATUS_WIDE, output is OutputFormat.wide)  # the DaemonSet line names it
        if rows:
            _table_console(console, table, rows).print(table)
        else:  # no header over nothing: why there are no pods is in the Not healthy line
            console.print("Agent pods: (none)")
        _print_agent_errors(console, state.agents)
    console.print(f"Enrolled namespaces: {', '.join(state.enrolled_namespaces) or '(none)'}")
    console.print(f"Pods with kmesh.net/redirection=enabled: {', '.join(state.redirected_pods) or '(none)'}")
    for line in state.left_marked_lines:  # no agent left to unmark them: the fix of each node
        console.print(f"[yellow]Left from an earlier install:[/] {escape(fix_hint(line))}")
    if state.daemonset is not None and state.deleting:  # an uninstall under way: install is no fix
        said = "; ".join(state.problems).removeprefix(BEING_UNINSTALLED)
        console.print(f"[red]Being uninstalled:[/] {escape(fix_hint(said))}")
    elif state.daemonset is not None and state.problems:
        console.print(f"[red]Not healthy:[/] {escape(fix_hint('; '.join(_short_problems(state))))}")
    if state.fix and not any(state.fix in problem for problem in state.problems):  # not said twice
        console.print(f"Fix: {escape(fix_hint(state.fix))}")


def _table_console(console: Console, table: Table, rows: list[list[str]]) -> Console:
    """``console``, or in a terminal too narrow for the whole names (NODE, POD) and each
    other column's longest word, one as wide as that: the terminal then folds the long
    lines, and no name is cut or squeezed out (kubectl prints such lines whole too)."""
    if not console.is_terminal:
        return console
    widest = [max(len(str(c.header)), *(len(r[i]) if i < 2 else max((len(w) for w in r[i].split()), default=0)
                                        for r in rows)) for i, c in enumerate(table.columns)]
    needed = sum(widest) + overhead(table)
    return console if needed <= console.width else cli_console(highlight=False, soft_wrap=True, width=needed)


NOT_SCHEDULED = "<not scheduled>"  # the NODE cell of a pod no node took (never blank: the column stays)
STATUS_CELL_MAX = 32  # a status cell longer than this is a message: it belongs under the table


def status_rows(state: MeshStatus) -> list[list[str]]:
    """The status table's cells: NODE, POD, READY, STATUS, ISTIOD, RESTARTS, AGE, IMAGE.
    Every cell but the names and the image is a few words, as kubectl's (READY `no`,
    STATUS `ErrImagePull`): each goes through short_cell, so no message (the kubelet's,
    an agent's last error, a port-forward failure) can widen the table; the messages are
    under it (`Agent ...:`, `Not healthy: ...`)."""
    agents = {a.pod: a for a in state.agents}
    return [[pod.node or NOT_SCHEDULED, pod.name, *map(short_cell, ("yes" if pod.ready else "no", pod.status,
                                                   _xds_cell(agents.get(pod.name)), str(pod.restarts),
                                                   pod.to_dict()["age"])), pod.image] for pod in state.pods]


def short_cell(text: str) -> str:
    """``text`` when it is a few words, else its head (before the first `:` or ` (`)."""
    if len(text) <= STATUS_CELL_MAX:
        return text
    return re.split(r":| \(", text, maxsplit=1)[0][:STATUS_CELL_MAX]


def _xds_cell(agent: Optional[AgentXds]) -> str:
    """The ISTIOD cell: a few words; why an agent could not be asked, or its last error,
    is printed below the table (a port-forward error is a paragraph, not a cell)."""
    if agent is not None and agent.xds is None and agent.error:
        return f"unknown ({_error_kind(agent.error)})"
    if agent is not None and agent.xds is not None and not agent.connected:
        return "disconnected"
    return _xds_text(agent)


def _error_kind(error: str) -> str:
    if error.startswith("cannot port-forward"):  # a 403: this user's permission (the fix line says which)
        return "port-forward forbidden" if "answered 403" in error else "port-forward failed"
    if error.startswith("no agent admin endpoint"):
        return "no admin endpoint"
    if error.startswith("pod is "):
        return error
    return "not answered"


def _print_agent_errors(console: Console, agents: list[AgentXds]) -> None:
    """Each distinct reason an agent could not be asked, once, with the pods it hit."""
    by_error: dict[str, list[str]] = {}
    for agent in agents:
        if agent.xds is None and agent.error and not agent.error.startswith("pod is "):
            by_error.setdefault(agent.error, []).append(agent.pod)
    for error, pods in by_error.items():
        console.print(f"Agent {', '.join(pods)}: {escape(fix_hint(error))}")


def _short_problems(state: MeshStatus) -> list[str]:
    """state.problems, an agent that could not be asked named in a few words (its detail
    is printed under the table)."""
    short = {agent_problem(a): f"{UNKNOWN_HEAD}{a.pod} unknown ({_error_kind(a.error)})"
             for a in state.agents if a.xds is None and a.error}
    return [short.get(problem, problem) for problem in state.problems]


def _xds_text(agent: Optional[AgentXds]) -> str:
    if agent is None or agent.xds is None:
        return f"unknown ({agent.error})" if agent else "unknown"
    xds = agent.xds
    if not xds.get("connected"):
        return f"disconnected ({xds.get('lastError') or 'not yet connected'})"
    nacks = f", {xds['nacks']} NACKs" if xds.get("nacks") else ""
    return f"connected{' synced' if xds.get('synced') else ''}{nacks}"


# -- enable-ns / disable-ns -----------------------------------------------------------------------

NamespacesArgument = Annotated[list[str], typer.Argument(metavar="NAMESPACE...", help="Namespaces to change.")]
WaitOption = Annotated[
    bool, typer.Option("--wait/--no-wait", help="Wait until every running pod is (un)marked by the node agent.")
]


@app.command("enable-ns")
def enable_ns(
    namespaces: NamespacesArgument,
    wait: WaitOption = False,
    timeout: TimeoutOption = 300,
    output: EnrollmentOutputOption = OutputFormat.table,
    quiet: QuietOption = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Move a namespace another data plane has (istio.io/dataplane-mode=ambient, or "
                            "none) to kmesh; without it such a namespace is refused, as `kubectl label` does.")] = False,
) -> None:
    """Enroll namespaces: label them istio.io/dataplane-mode=Kmesh (all must exist, else nothing changes).

    Refused, nothing changed: a namespace another data plane has (unless --overwrite), and
    kmesh's own, Istio's and Kubernetes' system namespaces. With kmesh not installed the
    label is set all the same (a warning says the pods are not redirected until it is);
    --wait is then refused.

    Examples:

      kmeshctl enable-ns default
      kmeshctl enable-ns default demo --wait --timeout 60
      kmeshctl enable-ns team-b --overwrite
    """
    _set_mode(namespaces, True, wait, timeout, output, quiet, overwrite)


@app.command("disable-ns")
def disable_ns(
    namespaces: NamespacesArgument,
    wait: WaitOption = False,
    timeout: TimeoutOption = 300,
    output: EnrollmentOutputOption = OutputFormat.table,
    quiet: QuietOption = False,
) -> None:
    """Release namespaces: remove the label istio.io/dataplane-mode (all must exist, else nothing changes).

    A namespace enable-ns --overwrite took from another data plane gets that label back
    (recorded in its annotation kmeshctl.io/previous-dataplane-mode). With --wait and no
    node agent installed there is nothing to wait for: the label goes all the same.

    Examples:

      kmeshctl disable-ns default
    """
    _set_mode(namespaces, False, wait, timeout, output, quiet)


def _set_mode(names: list[str], enable: bool, wait: bool, timeout: float, output: OutputFormat,
              quiet: bool = False, overwrite: bool = False) -> None:
    from kmeshctl.cli.splitvalues import check_split_arguments

    check_split_arguments(names, "a namespace")  # `--timeout 5 m`: m is the unit, never a namespace to change
    check_no_kind_word(names)
    check_namespace_words("namespace", names)
    if enable:  # a system namespace: refused before connecting
        _checked_namespaces(None, names, enable, overwrite)
    idle: list[str] = []
    try:
        with sigterm_stops():  # connecting and reading: a stop says nothing was changed
            client = connect_reachable(run_options())
            found = _checked_namespaces(client, names, enable, overwrite, wait)  # refusals needing no agent: first
            awaited = wait and _agent_to_wait_for(client, enable, idle)
    except KeyboardInterrupt as stop:
        _mode_stopped(stop, enable, "before any namespace was changed; re-run `{}`")
    changes = ns_ops.label_namespaces(client, found, enable)
    as_json = is_data(output)
    for change in changes:
        if not as_json:
            out().print(f"namespace {change.name} {_change_words(change, enable)}")
        if enable and change.sidecar_injection:
            err().print(f"[yellow]{escape(fix_hint('Warning: ' + ns_ops.sidecar_warning(change)))}[/]")
    namespaces = [c.name for c in changes]  # each once
    if enable and not wait:  # --wait refused it already
        _warn_if_not_installed(client, namespaces)
    if awaited:
        try:
            with sigterm_stops():
                pods = ns_ops.wait_for_annotations(client, namespaces, wait_limit(timeout),
                                                   on_poll=_progress_printer(wait_limit(timeout), as_json or quiet))
        except KeyboardInterrupt as stop:
            done = f"{'enrolled' if enable else 'released'}: {', '.join(namespaces)}"
            _mode_stopped(stop, enable, f"while waiting, every namespace {done}; the node agents go on "
                                        f"{'marking' if enable else 'unmarking'} their pods: `{{}}` waits again")
    else:
        pods = ns_ops.pods_of(client, namespaces)
    if wait and not awaited:
        err().print(escape(fix_hint(_nothing_to_wait_for(pods, idle))))
    if as_json:
        print_data({"namespaces": [c.to_dict() for c in changes], "pods": [p.to_dict() for p in pods]}, output)
    else:
        _print_pods(pods, output, namespaces)
        if not wait and (note := _not_yet_note(pods, enable)):
            err(quiet).print(escape(fix_hint(note)))


def _not_yet_note(pods: list[ns_ops.PodEnrollment], enable: bool) -> str:
    """The pods the table shows before their node agents caught up (enable-ns / disable-ns
    without --wait): `2 pods not unmarked yet: their node agents do it in a moment; `CMD
    --wait` waits for it`, '' when none."""
    from kmeshctl.cli.render import this_command

    pending = [p for p in pods if (p.expected is True and not p.annotated) if enable] or \
        [p for p in pods if p.annotated and not enable]
    if not pending:
        return ""
    what = "marked" if enable else "unmarked"
    return (f"{len(pending)} pod{'s' if len(pending) != 1 else ''} not {what} yet (ANNOTATED "
            f"{'no' if enable else 'yes'}): their node agents do it in a moment; `{this_command()} --wait` "
            "waits for it")


def _mode_stopped(stop: KeyboardInterrupt, enable: bool, what: str) -> NoReturn:
    """enable-ns / disable-ns stopped by a signal: `enable-ns stopped by Ctrl-C (SIGINT) ` and
    ``what`` (its `{}`: the command being run, to paste); exit 130 / 143."""
    from kmeshctl.cli.render import this_command

    how = stopped_by(stop)
    say(fix_hint(f"{'enable-ns' if enable else 'disable-ns'} stopped by {how.how} " + what.format(this_command())))
    raise typer.Exit(how.exit_code) from stop


def _agent_to_wait_for(client: KubeClient, enable: bool, idle: list[str]) -> bool:
    """--wait: whether a node agent runs to wait for. enable-ns refuses without one (it
    would wait its whole limit for marks nobody makes); disable-ns has nothing to wait for
    then, and releasing a namespace from a mesh that is not there still makes sense. A
    DaemonSet that wants no pod (no node matches it) runs no agent either: its namespace
    is added to ``idle``."""
    if enable:
        try:
            ns_ops.check_agents_for_wait(client)
        except ns_ops.NoAgentToWaitFor as error:
            raise ns_ops.NoAgentToWaitFor(error.install, _without_waiting(), error.idle) from None
        return True
    installed = ns_ops.agent_namespaces(client)
    idle += ns_ops.idle_agent_namespaces(client, installed)
    return len(idle) < len(installed)


def _without_waiting() -> str:
    """The command being run, every argument and flag typed kept but --wait and --timeout."""
    from kmeshctl.cli.render import this_command

    words = [word for word in shlex.split(this_command()) if word != "--wait"]
    return shlex.join(_without_flag(words, "timeout"))


# kubectl's words for the kind (`kubectl label namespace NAME`): enable-ns / disable-ns take names alone
NAMESPACE_KIND_WORDS = ("namespace", "namespaces", "ns")


def check_no_kind_word(names: list[str]) -> None:
    """``names`` (enable-ns / disable-ns) starting with the kind's word and then names, as
    `kubectl label namespace NAME` has it: a UsageError with the line without the word,
    before anything connects. The word alone may be a namespace of that name: taken."""
    from kmeshctl.cli.render import this_command

    if len(names) > 1 and names[0] in NAMESPACE_KIND_WORDS:
        raise UsageError(f"{names[0]} is kubectl's word for the kind, not a namespace name (this command takes "
                         f"names alone)", fix=f"drop the word {names[0]}: `{this_command(arguments=names[1:])}`")


def _warn_if_not_installed(client: KubeClient, namespaces: list[str]) -> None:
    """enable-ns with no node agent installed: the label stays set (as `kubectl label`
    sets it: kmesh may be installed next), and a warning on stderr says the pods are not
    redirected until kmesh is installed, with the install to run (under -q too: it has a fix).
    No warning when the DaemonSets cannot be listed: the enrollment is done, only the warning
    depends on it."""
    try:
        if ns_ops.agent_namespaces(client):
            return
    except KmeshctlError:
        return
    one = len(namespaces) == 1
    line = (f"Warning: kmesh is not installed (no kmesh DaemonSet in any namespace): namespace{'' if one else 's'} "
            f"{', '.join(namespaces)} {'is' if one else 'are'} labelled, but {'its' if one else 'their'} pods are "
            f"not redirected until kmesh is installed: "
            f"{install_hint(istiod.known_cluster_id(client, DEFAULT_ISTIO_NAMESPACE))}")
    err().print(f"[yellow]{escape(fix_hint(line))}[/]")  # -q too: a warning with a fix (docs/usage.md)


def _nothing_to_wait_for(pods: list[ns_ops.PodEnrollment], idle: list[str]) -> str:
    """disable-ns --wait with no node agent (none installed, or ``idle``: the namespaces of
    DaemonSets that want no pod): why it did not wait, and the marks it leaves."""
    where = ns_ops.idle_words(idle) if idle else "the kmesh DaemonSet is not installed"
    line = f"--wait: nothing to wait for: {where}, so no node agent runs to unmark pods"
    marked = ns_ops.pending_pods(pods)
    if marked:
        it = "it is" if len(marked) == 1 else "they are"
        line += (f"; {counted(len(marked), 'pod')} still {'carries' if len(marked) == 1 else 'carry'} "
                 f"{ns_ops.REDIRECTION_ANNOTATION} from an earlier agent, which stays until {it} restarted")
    if idle:
        line += f" (`kmeshctl status -n {idle[0]}` says why no node runs an agent)"
    return line


def _with_separator(line: str, names: list[str]) -> str:
    """``line`` (this_command's: flags after the namespaces) with the namespaces after `--`
    again when the user typed them so: the line keeps what was typed, and the one error
    naming every bad value reads it as the same line with a word left out."""
    from kmeshctl.cli import cmdline

    args = list(cmdline.ARGS)
    if "--" not in args or not names:
        return line
    words = shlex.split(line)
    rest = words[2:]  # after `kmeshctl enable-ns`: this_command puts the arguments first, moved after `--`
    for name in names:
        if name in rest:
            rest.remove(name)
    return shlex.join([*words[:2], *rest, "--", *names])


def _checked_namespaces(client: Optional[KubeClient], names: list[str], enable: bool, overwrite: bool,
                        wait: bool = False) -> list[dict]:
    """ns_ops.checked_namespaces, its refusals with the command to paste (every flag typed
    kept, but a --wait the next check would refuse: enable-ns with no agent to wait for,
    one paste, not two); with no ``client`` only ns_ops.check_not_system's ([] when it passes)."""
    from kmeshctl.cli.render import this_command

    def pasted(extra: tuple[str, ...] = (), arguments: Optional[list[str]] = None) -> str:
        """`` `LINE` `` to paste, and why --wait is left out of it when it is."""
        none = _no_agent_to_wait_for(client) if wait and enable and client is not None else None
        if none is None:
            return f"`{_with_separator(this_command(extra, arguments), arguments or names)}`"
        words = [w for w in shlex.split(_with_separator(this_command(extra, arguments), arguments or names))
                 if w != "--wait"]
        why = ns_ops.idle_words(none.idle) if none.idle else "kmesh is not installed"
        return f"`{shlex.join(_without_flag(words, 'timeout'))}` (--wait left out: {why}, no node agent to wait for)"

    try:
        if client is None:
            ns_ops.check_not_system(names)
            return []
        return ns_ops.checked_namespaces(client, names, enable, overwrite)
    except ns_ops.NamespacesNotFound as error:
        corrected = error.corrected(names)
        if corrected is None and enable and error.to_create:
            raise UsageError(error.problem, fix=_create_first(error, names, pasted)) from None
        if corrected is None:
            raise
        raise UsageError(error.problem, fix=f"{error.fix} {pasted(arguments=corrected)}") from None
    except ns_ops.EnrolledElsewhere as error:
        them = "it" if len(error.found) == 1 else "them"
        raise UsageError(error.problem, fix=f"pass --overwrite to move {them} to kmesh: "
                                            f"{pasted(('--overwrite',))}") from None
    except ns_ops.NotToEnroll as error:
        rest = [name for name in dict.fromkeys(names) if name not in error.names]
        missing = _missing_quickly(rest) if client is None else []  # refused offline: the rest not looked at yet
        kept = [name for name in rest if name not in missing]
        them = "it" if len(error.names) == 1 else "them"
        fix = f"leave {them} out: {pasted(arguments=kept)}" if kept else \
            "enroll the namespaces your applications run in (`kubectl get namespaces`)"
        if missing:
            fix += f" ({', '.join(missing)}: no such namespace, left out too)"
        raise UsageError(error.problem, fix=fix) from None


def _create_first(error: ns_ops.NamespacesNotFound, names: list[str], pasted: Callable[..., str]) -> str:
    """enable-ns of namespaces that do not exist: the kubectl line that creates those that
    are no typo, then this enable-ns again (a typo's guess in its place), or the names to pick."""
    creates = " && ".join(f"kubectl create namespace {shlex.quote(name)}" for name in error.to_create)
    them = "it" if len(error.to_create) == 1 else "them"
    again = [error.meant.get(name, name) for name in dict.fromkeys(names) if name not in error.repeats]
    return f"create {them} first: `{creates}`, then re-run {pasted(arguments=again)}; or {error.pick}"


def _no_agent_to_wait_for(client: KubeClient) -> Optional[ns_ops.NoAgentToWaitFor]:
    """enable-ns --wait's refusal, when it would be refused (ns_ops.check_agents_for_wait);
    None when not, or when the DaemonSets cannot be read (the refusal then says so itself)."""
    try:
        ns_ops.check_agents_for_wait(client)
    except ns_ops.NoAgentToWaitFor as refused:
        return refused
    except KmeshctlError:
        return None
    return None


def _missing_quickly(names: list[str]) -> list[str]:
    """Those of ``names`` the cluster of this run has no namespace of, asked within
    COMPLETION_LOOKUP_TIMEOUT_S ([] when it does not answer in time: a fix line is no wait)."""
    from kmeshctl.params import COMPLETION_LOOKUP_TIMEOUT_S

    if not names:
        return []
    target = run_options()
    found, _ = istiod.ask_quickly(target.kubeconfig, target.context, COMPLETION_LOOKUP_TIMEOUT_S,
                                  lambda client: [n for n in names if client.get("v1", "Namespace", n) is None],
                                  f"asking whether namespace {names[0]} exists" if len(names) == 1 else
                                  f"asking which of namespaces {spoken_list(names)} exist")
    return found or []


def _change_words(change: ns_ops.NamespaceChange, enable: bool) -> str:
    """`enrolled`, `already enrolled`, `released`, `not enrolled`, and another data plane's
    label replaced (enable --overwrite) or left as it was (disable)."""
    was = f"{ns_ops.MODE_LABEL}={change.other_mode}"
    if enable:
        return ("enrolled" + (f" (was {was})" if change.other_mode else "")) if change.changed else "already enrolled"
    if change.other_mode:
        return f"not enrolled in kmesh ({was} is another data plane's: left as it is)"
    if change.restored:
        return f"released ({ns_ops.MODE_LABEL}={change.restored} put back, as before enable-ns --overwrite)"
    return "released" if change.changed else "not enrolled"


def _progress_printer(timeout: float, quiet: bool):
    """A line per poll in a terminal; piped (a CI log), a line only when the pods waited
    for change (as install's rollout)."""
    console = err()
    shown: list[object] = [None]

    def show(pods: list[ns_ops.PodEnrollment], waited: float) -> None:
        pending = ns_ops.pending_pods(pods)
        state = sorted((p.namespace, p.name, p.expected) for p in pending)
        if quiet or not pending or (state == shown[0] and not console.is_terminal):
            return
        shown[0] = state
        console.print(f"waiting for {counted(len(pending), 'pod')} to be {ns_ops.direction(pending)} "
                      f"({waited_words(waited, timeout)})")

    return show




def _annotated_cell(pod: ns_ops.PodEnrollment) -> str:
    """`yes`, `no`, or for a pod the agent never marks `no (waypoint pod)`: expected, no failure."""
    if pod.annotated:
        return "yes"
    return f"no ({pod.skipped})" if pod.skipped else "no"


def _expected_cell(pod: ns_ops.PodEnrollment) -> str:
    """-o wide's EXPECTED: whether the agent should mark the pod (-o json's expected; None:
    the bypass label, so it depends on the install's --enable-bypass)."""
    return "yes unless --enable-bypass" if pod.expected is None else ("yes" if pod.expected else "no")


def _print_pods(pods: list[ns_ops.PodEnrollment], output: OutputFormat, namespaces: list[str]) -> None:
    from kmeshctl.cli.tables import EMPTY

    table = Table(show_edge=False, pad_edge=False)
    for column in ("NAMESPACE", "POD", "PHASE", "ANNOTATED", *ENROLLMENT_WIDE):
        table.add_column(column)
    for pod in pods:
        table.add_row(pod.namespace, pod.name, pod.phase, _annotated_cell(pod), _expected_cell(pod),
                      pod.ip or EMPTY, pod.node or EMPTY)
    wide_only(table, ENROLLMENT_WIDE, output is OutputFormat.wide)
    if not pods:  # as kubectl's "No resources found": stdout holds rows only (-q: not even the note)
        err(run_options().quiet).print(f"No pods in namespace{'s' if len(namespaces) != 1 else ''} {', '.join(namespaces)}.")
        return
    out(output).print(table)
