"""`kmeshctl demo traffic-shift`: the fortio 90/10 demo, locally or on a cluster."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kmeshctl.cli.tables import EMPTY, cli_console

from kmeshctl import demo, sandboxes, stopping
from kmeshctl.cli.common import (OutputFormat, app, complete_sandbox_names, fix_hint, is_data,
                                 output_option, print_data, run_options)
from kmeshctl.cli.common import SandboxFlagCommand
from kmeshctl.cli.cmdline import spelled
from kmeshctl.cli.suggestions import flag_as_typed, given_flags, given_on_command_line
from kmeshctl.cli.progress import HEARTBEAT_S, Progress, note as progress_note
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.params import DEMO_NAMESPACE, DEMO_REQUESTS, counted
from kmeshctl.sandbox.state import NAME_RULE
from kmeshctl.stopping import Stopped, say, sigterm_stops, stopped_by

demo_app = typer.Typer(
    help="Demos of the mesh at work.\n\n"
         "Examples:\n\n"
         "  kmeshctl demo traffic-shift\n"
         "  kmeshctl demo traffic-shift --sandbox demo -c 200 --weights 90/10,0/100",
    no_args_is_help=True)
app.add_typer(demo_app, name="demo")

SHOWN_PER_PHASE = 20  # request lines shown per phase before they are summarised (-v: all)
PROGRESS_EVERY = 100  # past that, one progress line per this many requests


class Target(str, Enum):
    auto = "auto"
    local = "local"
    cluster = "cluster"


DemoOutputOption = output_option(None)  # each phase's table is all of it: wide only stops cutting


@demo_app.command("traffic-shift", cls=SandboxFlagCommand)
def traffic_shift(
    requests: Annotated[int, typer.Option("-c", "--requests", min=1, max=100_000, metavar="COUNT",
                                          help="Requests per phase.")] = DEMO_REQUESTS,
    target: Annotated[Target, typer.Option("--target", metavar="auto|local|cluster",
                                           help="auto: a reachable cluster if one is configured, else "
                                                "the local sandbox.")] = Target.auto,
    name: Annotated[Optional[str], typer.Option(
        "--sandbox", "--name", metavar="NAME", autocompletion=complete_sandbox_names,
        help="Local sandbox to use (also --name NAME; implies --target local with auto); one not up is made "
             "(and removed afterwards) only when no sandbox is up, else it is taken for a typo. Default: "
             "$KMESHCTL_SANDBOX_NAME, a script's own sandbox, made even while others are up; else the only "
             f"sandbox up (it stays up), else a new one, 'kmesh', removed afterwards. A name is {NAME_RULE}.")] = None,
    namespace: Annotated[str, typer.Option(
        "-n", "--namespace", metavar="NAMESPACE",
        help=f"The namespace of fortio, netutils and their Services (default: {DEMO_NAMESPACE}, or in a local "
             "sandbox without them there the only namespace of its manifests that has them): on a cluster where "
             "the demo deploys them, in a local sandbox where its manifests put them. It chooses no target.",
        show_default=False)] = DEMO_NAMESPACE,
    waypoint: Annotated[Optional[str], typer.Option(
        "--waypoint", metavar="NAME", show_default=False,
        help="Cluster only (with --target auto it means the cluster): the waypoint of the demo's namespace its "
             "fortio Service uses (default: the one the namespace's istio.io/use-waypoint label names, else the "
             "only ready kmeshctl waypoint there, else 'waypoint').")] = None,
    weights: Annotated[Optional[str], typer.Option(
        "--weights", metavar="V1/V2,...", help="Weight sets, one phase each: a weight per subset of the "
                                               "VirtualService's route, in its order (v1/v2 in the demo's "
                                               "manifests), e.g. 90/10,50/50,0/100 (default: the "
                                               "VirtualService's own: a local sandbox's as it was made, the "
                                               "demo's in the cluster as it is).")] = None,
    output: DemoOutputOption = OutputFormat.table,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", metavar="FILE.png", help="Also draw configured vs observed share per phase (an existing "
                                           "file is refused unless --force).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --plot file.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Show every request, not only the "
                                          f"first {SHOWN_PER_PHASE} of each phase.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress and no request lines: only the "
                                        "result.")] = False,
) -> None:
    """Send requests from netutils to the fortio Service and check the observed split
    against the VirtualService weights. Exit 1 if any request failed, the split is
    implausible (p < 0.001), or too few requests were sent to tell the weights from an
    even spread (the result line says how many are needed: 12 for 90/10). On a cluster,
    the demo's manifests include its Namespace object, which enrolls the namespace
    (istio.io/dataplane-mode=Kmesh: one released with disable-ns is enrolled again, and
    its progress line says so). It first checks three things: that kmesh is ready, that
    the namespace is one it may enroll, and that the fortio Service's waypoint is
    programmed; when one is not, it refuses (nothing changed), naming the command that
    fixes it; besides that label it changes only its own objects
    (labelled app.kubernetes.io/part-of=kmeshctl-demo) and refuses any of its names that
    it did not make.

    Progress goes to stderr, the result to stdout (-o json|yaml: the documented schema of
    docs/usage.md). The first line names the sandbox or cluster used. Locally, without
    --sandbox, the only sandbox up is used (and left up, its weights restored); with none
    up, one is brought up and removed afterwards; with several, pass --sandbox.

    Examples:

      kmeshctl demo traffic-shift
      kmeshctl demo traffic-shift --sandbox demo -c 200 --weights 90/10,0/100
      kmeshctl --context prod demo traffic-shift -o json --plot split.png
      kmeshctl demo traffic-shift --target cluster -n demo
      kmeshctl demo traffic-shift -n team-a --waypoint waypoint-demo
      kmeshctl demo traffic-shift --sandbox team -n team-a
    """
    _check_target_flags(name, target)
    report: Optional[demo.DemoReport] = None
    chosen: Optional[demo.DemoTarget] = None
    subject: Optional[demo.DemoSubject] = None
    try:
        with sigterm_stops():  # a stop at any point: with -o json|yaml still the one document
            from kmeshctl.cli.names import check_waypoint_name
            from kmeshctl.demo_cluster import waypoint_flag_target  # its import too (tens of ms)
            from kmeshctl.params import DEMO_WAYPOINT
            import kmeshctl.demo_plot  # noqa: F401  # its import too (tens of ms), before any traffic
            from kmeshctl.sandbox.demo_target import judging  # a fix's demo line carries the -c it needs

            chosen_namespace = _checked_flags(verbose, quiet, plot, namespace, name, target, force)
            _check_waypoint_place(waypoint, target, name)
            cluster_by = f"--waypoint {waypoint}" if waypoint and target is Target.auto else ""
            if waypoint is not None:  # the waypoint commands' rule, with the line to paste
                check_waypoint_name("--waypoint", waypoint, DEMO_WAYPOINT)
            target = Target(waypoint_flag_target(waypoint, target.value, flag_as_typed("name") if name else ""))
            documents, subject = demo.fortio_demo()
            _check_weights_early(weights, subject, name, chosen_namespace)
            chosen, note = demo.choose_target(target.value, documents, subject, name, _cluster_flags(),
                                              chosen_namespace, flag_as_typed("name"), run_options(), judging(_rerun),
                                              cluster_by)
            if waypoint:
                chosen.waypoint = waypoint  # type: ignore[union-attr]  # a ClusterTarget (waypoint_flag_target)
            subject = _subject_of(chosen, subject, note, quiet)  # a sandbox's own VirtualService: subsets, weights
            weight_sets = demo.parse_weight_sets(weights, subject)
            Progress(quiet=quiet, indent="")(note)
            if chosen.name == "local":
                _check_pods(chosen, subject, weight_sets)
            else:
                _check_cluster_pods(subject, weight_sets)
            report = demo.new_report(chosen, subject, requests, len(weight_sets))
            _run(chosen, report, weight_sets, verbose, quiet)
            rerun = _rerun_with_requests(chosen)
            report.reason = demo.fail_reason(chosen, report, rerun)
            if demo.more_requests_needed(report):
                report.fix = fix_hint(f"`{rerun(demo.more_requests_needed(report))}`").strip("`")
                report.fix_seconds = demo.rerun_seconds(report)
    except KeyboardInterrupt as err:  # after the target's finish: weights restored, a sandbox made removed
        report = report or demo.unstarted_report(chosen, subject, requests, _explicit(target))
        _report_stop(stopped_by(err), report, output, demo.made_text(chosen))
    except KmeshctlError as err:
        _report_error(err, report, output, chosen)
    assert report is not None and subject is not None
    not_written = _plotted(report, plot, chosen)
    if not is_data(output):
        _print_summary(report, subject, output)
    else:
        print_data(report.to_json(), output)
    if plot is not None and not not_written:
        progress_note(f"Plot: {plot}", quiet)  # -q: only the result
    if report.stopped:  # e.g. the sandbox removed by `sandbox down --force` mid-run
        typer.echo(f"Error: {report.stopped}", err=True)
    if not_written is not None:
        raise not_written
    if not report.passed:
        raise typer.Exit(1)


def _plotted(report: demo.DemoReport, plot: Optional[Path],
             chosen: Optional[demo.DemoTarget]) -> Optional[KmeshctlError]:
    """Draw --plot before the result is printed, so that a plot that cannot be written
    (a full disk, its directory gone: nothing of it is left) is in the result too: the
    report's `error`, `passed` false; the error line to end the run with, or None."""
    from kmeshctl.cli.outpaths import NotWritten
    from kmeshctl.demo_plot import plot_shares

    if plot is None:
        return None
    try:
        plot_shares(report.to_json(), plot)
    except NotWritten as err:
        sandbox = _untyped_sandbox(chosen) if chosen is not None else ""
        failure = err.again(_again([], sandbox), "the demo")  # nothing written: no --force
        report.not_written = str(failure)
        return failure
    return None


def _run(chosen: demo.DemoTarget, report: demo.DemoReport, weight_sets: list[list[int]], verbose: bool,
         quiet: bool) -> None:
    """Prepare the target, send the phases into ``report``, and always finish the target."""
    assert report.subject is not None
    # One heartbeat per stage, so "still working ... after: X" always names the stage's
    # own last line: the setup's step, or the request lines (it stays quiet while they flow).
    # The first stop ends the run and starts the finish; from then on one more signal
    # waits for the finish (the weights put back), and only a third cuts it short.
    with stopping.finishing("finishing the demo (putting the weights back)", armed=False) as block:
        try:
            with Progress(quiet=quiet, heartbeat_s=HEARTBEAT_S) as progress:
                chosen.prepare(progress)
            report.began = True
            with Progress(quiet=quiet, indent="", heartbeat_s=HEARTBEAT_S) as lines:
                lines(f"Sending {counted(report.requests, 'request')} per phase to {chosen.service_url()} from "
                      "the netutils pod")
                printer = RequestPrinter(report.requests, report.subject, verbose, quiet, echo=lines)  # stderr
                demo.run_traffic_shift(chosen, report.subject, report.requests, weight_sets,
                                       on_request=printer.request, on_phase=printer.phase, report=report)
                printer.end_phase()  # a last phase whose loop ended early
        except BaseException:
            block.arm()
            _finish(chosen, quiet, under_way=True)
            raise
        block.arm()
        _finish(chosen, quiet, under_way=False)


def _finish(chosen: demo.DemoTarget, quiet: bool, under_way: bool) -> None:
    """Finish the target. ``under_way``: the run already ends with its own error or stop,
    which stays its outcome; finish's failure is then one line of its own before it (a
    progress line for a demo.PartlyFinished: the run's own error names its cause)."""
    with Progress(quiet=quiet, heartbeat_s=HEARTBEAT_S) as progress:
        try:
            chosen.finish(progress)
        except KmeshctlError as err:
            if not under_way:
                raise
            if isinstance(err, demo.PartlyFinished):
                progress(err.problem)
            else:
                typer.echo(f"Error: {err}", err=True)  # not say(): the stop line must still follow


def _report_stop(stop: Stopped, report: Optional[demo.DemoReport], output: OutputFormat,
                 made: str = "") -> NoReturn:
    """A stopped demo: the requests sent per phase, and what the run left in the cluster
    (``made``: the objects it created, the namespace it enrolled, and how to remove them), on
    one stderr line (and in -o json|yaml the report, its `error` saying the same); exit 128
    + the signal (130 Ctrl-C, 143 SIGTERM)."""
    text = demo.stop_text(stop, report, fix_hint(made))  # its commands keep --kubeconfig/--context
    if stopping.left() and stopping.left() not in text:  # a finish cut short: the document says it too
        text = f"{text}; {stopping.left()}"
    if report is not None and is_data(output):
        report.stopped = text
        print_data(report.to_json(), output)
    if not stopping.said():  # a line said already (a `sandbox down` removed the one being made) stands
        say(text)
    raise typer.Exit(stop.exit_code)


def _report_error(err: KmeshctlError, report: Optional[demo.DemoReport], output: OutputFormat,
                  chosen: Optional[demo.DemoTarget] = None) -> NoReturn:
    """A run that failed once it had begun (its target prepared): with -o json|yaml its
    document still comes, its `error` the error line's words (the requests sent are in its
    totals), its `reason` what a local sandbox (``chosen``) shows wrong, when it tells (a
    process of it that ended), then the error line as usual. A refusal or failure before
    that prints none."""
    if report is not None and report.began and is_data(output):
        report.stopped = str(err)
        ask = getattr(chosen, "fail_reason", None) if getattr(chosen, "name", "") == "local" else None
        if callable(ask):  # a local sandbox's processes, no request: a cluster that failed may not answer
            try:
                report.reason = ask(report)
            except KmeshctlError:  # a reason is a help, never in the way
                pass
        print_data(report.to_json(), output)
    raise err


def _subject_of(chosen: demo.DemoTarget, default: demo.DemoSubject, note: str, quiet: bool) -> demo.DemoSubject:
    """demo.subject_of; a refusal of the target's own objects (exit 1) comes after the
    `Target:` line naming it, as prepare's do; bad input (exit 2) stays one line."""
    from kmeshctl.errors import KmeshctlError

    try:
        return demo.subject_of(chosen, default)
    except KmeshctlError as error:
        if not isinstance(error, UsageError):
            Progress(quiet=quiet, indent="")(note)
        raise


def _checked_flags(verbose: bool, quiet: bool, plot: Optional[Path], namespace: str, name: Optional[str],
                   target: Target, force: bool = False) -> Optional[str]:
    """The flags checked before anything runs; -n as typed (None: not typed)."""
    from kmeshctl.demo_plot import check_plot_path

    if verbose and quiet:
        raise UsageError(f"{flag_as_typed('verbose')} and {flag_as_typed('quiet')} contradict each other: "
                         "give one of them")
    if plot is not None:
        check_plot_path(plot, flag_as_typed("plot"), force)
    elif force:
        raise UsageError("--force only lets --plot replace an existing file: add --plot FILE.png, or drop --force")
    chosen_namespace = namespace if given_on_command_line("namespace") else None
    if chosen_namespace is not None:
        _check_namespace(chosen_namespace, target)
        _check_not_system(chosen_namespace, target)
    if name is None and target is Target.local:
        sandboxes.name_from_env()  # a bad $KMESHCTL_SANDBOX_NAME is named as such, before anything runs
    return chosen_namespace


def _check_namespace(namespace: str, target: Target) -> None:
    """-n is the namespace of the demo's objects, on a cluster and in a sandbox alike; only
    fortio's and hey's habit, `-n COUNT`, is refused, pointing at -c (with --sandbox too: a
    count is what `-n 10` means there as anywhere). The long form, and -n with --target
    typed, are plainly the namespace; the refusal's way out for a namespace of digits
    is the long form, which fits every other flag typed."""
    flag = flag_as_typed("namespace")
    if namespace.isdigit() and target is Target.auto and flag != "--namespace":
        from typer._click.globals import get_current_context

        from kmeshctl.sandbox.demo_target import requests_needed

        params = get_current_context().params  # a count too few to judge the weights would fail when pasted
        count = max(int(namespace), requests_needed(params.get("name"), params.get("weights")))
        raise UsageError(f"{flag} {namespace}: {flag} is the demo's namespace (as on every command); the "
                         f"request count is -c/--requests, e.g. -c {count} (a namespace of digits: spell "
                         f"it --namespace {namespace})")


def _check_not_system(namespace: str, target: Optional[Target]) -> None:
    """-n of a system namespace (kube-system, Istio's, kmesh's) on a cluster, refused before
    connecting as `waypoint apply -n kube-system` is: the demo labels its namespace for
    kmesh, which enable-ns never does there (the cluster would refuse it later)."""
    import shlex

    from kmeshctl.cli import cmdline
    from kmeshctl.namespaces import system_namespaces

    why = system_namespaces().get(namespace)
    on_cluster = target is Target.cluster or (target is Target.auto and bool(_cluster_flags()))
    if why is None or not on_cluster:
        return
    flag = flag_as_typed("namespace")
    raise UsageError(f"{flag} {namespace}: namespace {namespace} {why}: enrolling it (the demo labels its namespace "
                     "for kmesh) makes no sense (nothing was changed)",
                     fix=f"leave out {flag} (the demo's own namespace, {DEMO_NAMESPACE}, is then used), "
                         f"`{shlex.join(['kmeshctl', *cmdline.without_flag(cmdline.ARGS, flag)])}`, or give "
                         f"{flag} another namespace")


def _namespace_not_system(values: dict) -> None:
    """_check_not_system as a parse-time check (value_checks.VALUE_CHECKS)."""
    namespace = values.get("namespace")
    if isinstance(namespace, str) and given_on_command_line("namespace"):
        _check_not_system(namespace, values.get("target"))


def _check_target_flags(name: Optional[str], target: Target) -> None:
    """The flags that choose where the demo runs, before anything runs (the --kubeconfig /
    --context typed are checked here, not before the command: conventions.SELF_CHECKED_COMMANDS):
    a sandbox named beside a cluster (--target cluster, or a cluster flag with auto) is
    refused with both lines to paste, any fault of the cluster flags named too; with
    --target local a cluster flag that does not load is refused with the line without it."""
    from kmeshctl.cli.conventions import check_typed_cluster_flags

    try:
        check_typed_cluster_flags()
        problem: Optional[UsageError] = None
    except UsageError as err:
        problem = err
    chosen = "--target cluster" if target is Target.cluster else ""
    cluster = " and ".join(words for words in (chosen, _cluster_flags()) if words)  # what names a cluster
    sandbox = name if given_on_command_line("name") else None
    if sandbox and cluster and target is not Target.local:
        raise _sandbox_and_cluster(sandbox, cluster, problem)
    if problem is not None and target is Target.local:
        raise UsageError(f"{problem.problem}; --target local needs no cluster: leave {_cluster_words()} out, "
                         f"`{_local_line()}`") from None
    if problem is not None:
        raise problem


def check_sandbox_beside_cluster(values: dict) -> None:
    """A sandbox named beside a cluster, refused at parse time too (value_checks.VALUE_CHECKS),
    so that a line mending another bad value (`--target clusters` -> cluster) is never
    offered with both; the body's check (_check_target_flags) also says a cluster flag
    that does not load."""
    name, target = values.get("name"), values.get("target")
    if not (isinstance(name, str) and name and given_on_command_line("name")) or target is None:
        return
    chosen = "--target cluster" if target is Target.cluster else ""
    cluster = " and ".join(words for words in (chosen, _cluster_flags()) if words)
    if cluster and target is not Target.local:
        raise _sandbox_and_cluster(name, cluster, None)


def beside_cluster(name: Optional[str], target: Optional[Target]) -> bool:
    """A sandbox named beside a cluster (check_sandbox_beside_cluster refuses it): its two
    lines say where --waypoint goes too (on the cluster's, not the sandbox's)."""
    chosen = target is Target.cluster or (target is not Target.local and bool(_cluster_flags()))
    return bool(name) and given_on_command_line("name") and chosen


def _sandbox_and_cluster(sandbox: str, cluster: str, problem: Optional[UsageError]) -> UsageError:
    """`--sandbox x names a local sandbox, --kubeconfig k a cluster (PROBLEM): give one of
    them, `LOCAL` or `CLUSTER``: the local line keeps the sandbox and drops the cluster
    flags; the cluster line drops the sandbox (with a kubeconfig that loads in place of a
    missing one; none offered when this machine has none)."""
    from kmeshctl.cli.suggestions import existing_kubeconfig

    said = f"{flag_as_typed('name')} {sandbox} names a local sandbox, {cluster} a cluster"
    if problem is not None:
        said += f" ({problem.problem})"
    waypoint = " (--waypoint left out: a sandbox has its own waypoint)" if _typed_without("--waypoint") != \
        _typed_without() else ""
    lines = [f"`{_judged(_local_line(), sandbox)}` ({_sandbox_said(sandbox)}){waypoint}"]
    kubeconfig = existing_kubeconfig([given_flags().get("kubeconfig", ("", ""))[1]]) if problem is not None else ""
    if problem is None or (kubeconfig and "kubeconfig" in given_flags() and "context" not in given_flags()):
        line, note = _waypoint_mended(_cluster_line(kubeconfig))
        lines.append(f"`{line}` (the cluster{note})")
    return UsageError(f"{said}: give one of them, {' or '.join(lines)}")


def _waypoint_mended(line: str) -> tuple[str, str]:
    """(the cluster ``line`` with its --waypoint a valid name, `; --waypoint Wp given as
    wp`); as it is when no mending makes one (suggestions.parseable says what to fix)."""
    import shlex

    from kmeshctl.cli.badinput import typed_value
    from kmeshctl.cli.cmdline import with_flag_value

    words = shlex.split(line)
    typed = typed_value(words, "--waypoint")
    meant = _waypoint_meant(typed) if typed is not None else typed
    if typed is None or meant is None or meant == typed:
        return line, ""
    return shlex.join(with_flag_value(words, "--waypoint", meant)), f"; --waypoint {typed} given as {meant}"


def _judged(line: str, sandbox: Optional[str]) -> str:
    """A demo ``line`` on ``sandbox`` with the -c its weights need there when none was typed
    (demo_target.judged_again, as every fix naming a sandbox); as it is for no sandbox."""
    from kmeshctl.sandbox.demo_target import judged_again

    return judged_again(line, sandbox) if sandbox else line


def _sandbox_said(sandbox: str) -> str:
    """`sandbox demo`; `the sandbox` for a name that is none (its own check says so and
    mends it in the line offered: the note never names what the line no longer has)."""
    from kmeshctl.sandbox.state import check_name

    try:
        check_name(sandbox)
    except UsageError:
        return "the sandbox"
    return f"sandbox {sandbox}"


def _cluster_words() -> str:
    """`--kubeconfig k and --context c`: the cluster flags typed, as said."""
    return " and ".join(f"{flag} {value}" for key, (flag, value) in given_flags().items()
                        if key in ("kubeconfig", "context"))


def _local_line() -> str:
    """This demo as typed (the sandbox named, if any) on the local target, no cluster flag:
    the words typed in their order (cmdline.ARGS: the line being parsed, also when a line
    is only checked), so that beside other bad values it reads as the words it changes."""
    import shlex

    words = _typed_without("--target", "--kubeconfig", "--context", "--waypoint")  # a sandbox has its own waypoint
    return shlex.join([*words, "--target", "local"])


def _cluster_line(kubeconfig: str) -> str:
    """This demo as typed on --target cluster, without the sandbox flag, with ``kubeconfig``
    in place of the one typed when given (before the command when none was typed)."""
    import shlex

    from kmeshctl.cli.cmdline import with_flag_value

    words = _typed_without("--target", "--sandbox", "--name")
    if kubeconfig and with_flag_value(words, "--kubeconfig", kubeconfig) != words:  # typed: in its place
        words = with_flag_value(words, "--kubeconfig", kubeconfig)
    elif kubeconfig:
        words = [words[0], "--kubeconfig", kubeconfig, *words[1:]]
    return shlex.join([*words, "--target", "cluster"])


def _typed_without(*flags: str) -> list[str]:
    """`kmeshctl ...` as typed, without each of ``flags`` (and its value)."""
    from kmeshctl.cli import cmdline

    words = ["kmeshctl", *cmdline.ARGS]
    for flag in flags:
        words = cmdline.without_flag(words, flag)
    return words


def _check_waypoint_place(waypoint: Optional[str], target: Target, name: Optional[str]) -> None:
    """--waypoint (a cluster's waypoint) with --target local or a sandbox: refused before its
    value is checked (a line with the name mended would still be refused), with both ways out
    to paste: locally without --waypoint, and on the cluster with it (its name mended) and
    without the sandbox."""
    import shlex

    from kmeshctl.cli.cmdline import without_flag
    from kmeshctl.cli.render import this_command
    from kmeshctl.demo import with_option

    if waypoint is None or (name is None and target is not Target.local) or beside_cluster(name, target):
        return
    why = f"{flag_as_typed('name')} {name} names a local sandbox" if name else "--target local"
    local = _judged(shlex.join(without_flag(shlex.split(_again([])), "--waypoint")), name)
    meant = _waypoint_meant(waypoint)
    cluster = with_option(with_option(this_command(), "--target", "--target", "cluster"),
                          "--waypoint", "--waypoint", meant or waypoint)
    then = "" if meant else f" (then fix --waypoint {waypoint}: not a valid waypoint name)"
    raise UsageError(f"--waypoint names the cluster waypoint the demo's Service uses, and {why}: leave --waypoint "
                     f"out (a local sandbox has its own waypoint), `{local}`, or run on a cluster, "
                     f"`{cluster}`{then}")


def _waypoint_meant(value: str) -> Optional[str]:
    """--waypoint ``value`` as a valid waypoint name (`Bad_W` -> bad-w, `1w` -> w-1w); None
    when no simple mending makes one."""
    from kmeshctl.cli.names import check_waypoint_name

    meant = value.strip().lower().replace("_", "-")
    meant = f"w-{meant}"[:63] if meant[:1].isdigit() else meant
    try:
        check_waypoint_name("--waypoint", meant)
    except UsageError:
        return None
    return meant


def _explicit(target: Target) -> str:
    """The target typed ('' for auto: none is chosen before choose_target returns)."""
    return "" if target is Target.auto else target.value


def _check_weights_early(weights: Optional[str], subject: demo.DemoSubject, name: Optional[str],
                         namespace: Optional[str] = None) -> None:
    """Bad --weights named before anything runs: the VirtualService measured (a sandbox's own,
    the demo's own in the cluster) may have other subsets than the manifests, so only what
    holds whatever their count (whole numbers >= 0 adding up to 100), its examples naming
    the subsets they fit; the count once it is known: at once for a sandbox named (``name``)
    whose own VirtualService is read from its record (in ``namespace``, -n), or from the
    manifests for one with no record (made from them, or refused as a typo)."""
    own = _named_sandbox_subject(name, namespace)
    if own is None and name is not None and name not in sandboxes.names():
        own = subject  # the fix `sandbox up --name NAME && ...` makes it from the manifests
    if own is not None:
        demo.parse_weight_sets(weights, own)
        return
    try:
        demo.parse_weight_sets(weights, subject)
    except UsageError:
        demo.parse_weight_sets(weights, subject, check_count=False)


def _named_sandbox_subject(name: Optional[str], namespace: Optional[str] = None) -> Optional[demo.DemoSubject]:
    """Sandbox ``name``'s own subject, or None (no name, no such sandbox, or one whose record
    or manifests the run itself refuses later, with the fix)."""
    from kmeshctl.errors import KmeshctlError
    from kmeshctl.sandbox.demo_target import measured_subject

    if name is None:
        return None
    try:
        return measured_subject(name, namespace)
    except KmeshctlError:
        return None


def _rerun_with_requests(chosen: demo.DemoTarget) -> Callable[[int], str]:
    """``_with_requests`` for a run on ``chosen``: naming the sandbox it ran on when the
    command alone would not pick it (see _untyped_sandbox)."""
    sandbox = _untyped_sandbox(chosen)
    return lambda count: _with_requests(count, sandbox)


def _untyped_sandbox(chosen: demo.DemoTarget) -> str:
    """The sandbox a re-run must name although none was typed ('' when none must): one
    from $KMESHCTL_SANDBOX_NAME (a pasted line runs without it), or one picked by itself,
    still up, that the command alone would no longer pick (others are up now; one the run
    made and removed cannot be named: --sandbox of it would be taken for a typo)."""
    sandbox = getattr(chosen, "sandbox_name", "")
    if chosen.name != "local" or not sandbox or given_on_command_line("name"):
        return ""
    if sandboxes.name_from_env() == sandbox:
        return sandbox
    return sandbox if sandbox in sandboxes.names() and not sandboxes.picks_alone(sandbox) else ""


def _with_requests(count: int, sandbox: str = "") -> str:
    """This demo again with -c ``count``: every flag typed kept (--sandbox, --weights,
    --target, -n, ...) but the request count, replaced; a fix that dropped them would run
    another demo. ``sandbox``: one to name although it was not typed (_untyped_sandbox)."""
    return _again([("-c", "--requests", str(count))], sandbox, ran=True)


def _again(options: list[tuple[str, str, str]], sandbox: str = "", ran: bool = False) -> str:
    """This demo again with ``options`` (short, long, value) in place of those typed, every
    other flag typed kept (see _with_requests; ``ran``: see demo.with_options)."""
    from kmeshctl.cli.render import rerun_line, this_command

    command = this_command()
    if given_on_command_line("name"):  # this_command leaves the sandbox flag to rerun_line
        flag, sandbox = flag_as_typed("name"), _typed_value("name")
        command = rerun_line(demo.DEMO_COMMAND, flag, sandbox)
    elif sandbox:
        command = _naming_sandbox(sandbox)
    return demo.with_options(command, options, ran=ran)


def _check_pods(chosen: demo.DemoTarget, subject: demo.DemoSubject, weight_sets: list[list[int]]) -> None:
    """demo.check_pods on the local sandbox, its fixes as lines: this demo with --weights
    that send a subset without a pod nothing, and the sandbox made again then this demo."""
    from kmeshctl.sandbox.demo_target import remake_after_edit

    name = getattr(chosen, "sandbox_name", "")
    sandbox = _untyped_sandbox(chosen)
    remake = remake_after_edit(name)
    demo.check_pods(subject, weight_sets, f"sandbox {name}", lambda text: _again([("--weights", "--weights", text)],
                                                                                sandbox),
                    f"{remake} && {_again([], sandbox)}" if remake else "")


def _check_cluster_pods(subject: demo.DemoSubject, weight_sets: list[list[int]]) -> None:
    """demo.check_pods in the cluster, before anything is applied: its fixes this demo with
    --weights that send a subset without a pod nothing, and the kubectl scale of its
    Deployment (the demo keeps replicas another field manager set: it scales nothing)."""
    from kmeshctl.demo_cluster import NOTHING_CHANGED

    def scale_up(deployment: str) -> str:
        namespace, name = deployment.split("/", 1)
        return f"kubectl scale deployment {name} -n {namespace} --replicas 1"

    demo.check_pods(subject, weight_sets, "the cluster", lambda text: _again([("--weights", "--weights", text)]),
                    scale_up=scale_up, outcome=NOTHING_CHANGED)


def _naming_sandbox(sandbox: str) -> str:
    """This demo on ``sandbox``: with --sandbox, unless the run made it from
    $KMESHCTL_SANDBOX_NAME and removed it while others are up (--sandbox of a sandbox not
    up is then taken for a typo): the variable is then set on the line itself."""
    import shlex

    from kmeshctl.cli.render import rerun_line, this_command

    if sandbox in sandboxes.names() or not sandboxes.names():
        return rerun_line(demo.DEMO_COMMAND, "--sandbox", sandbox)
    return f"{sandboxes.NAME_ENV}={shlex.quote(sandbox)} {this_command()}"


def _rerun(command: str, flag: str, name: str, after: str = "") -> str:
    """The demo again on sandbox ``name`` for a fix (a kmeshctl.sandboxes.Rerun):
    render.rerun_line, which keeps every flag typed, with the --kubeconfig / --context /
    --request-timeout typed too, first, as on every suggested line (paste_ready gives them
    only to a line's first command: `sandbox up ... && THIS` would lose them)."""
    import shlex

    from kmeshctl.cli.render import rerun_line
    from kmeshctl.cli.suggestions import CLUSTER_FLAGS

    words = shlex.split(rerun_line(command, flag, name, after))
    cluster = [w for key, (long, value) in given_flags().items() if key in CLUSTER_FLAGS
               and not any(spelled(typed, {long}) for typed in words) for w in (long, value)]
    return shlex.join([words[0], *cluster, *words[1:]])


def _typed_value(param: str) -> str:
    from typer._click.globals import get_current_context

    return str(get_current_context().params.get(param))


def _cluster_flags() -> str:
    """The --kubeconfig / --context typed on this command line ("" when none): they
    choose a cluster, so the demo never quietly runs locally instead."""
    given = given_flags()
    return " ".join(f"{flag} {value}" for key, (flag, value) in given.items() if key in ("kubeconfig", "context"))


class RequestPrinter:
    """Phase headings and request lines: the first SHOWN_PER_PHASE of a phase (all with
    -v), then a progress line every PROGRESS_EVERY requests; a failure past them is shown
    until SHOWN_PER_PHASE of its reason were (a pod that died fails every request alike),
    the rest counted by reason on one line at the phase's end; on stderr (stdout carries
    only the result, as docs/usage.md says); nothing with --quiet."""

    def __init__(self, total: int, subject: demo.DemoSubject, verbose: bool, quiet: bool,
                 to_stdout: bool = False, echo: Optional[Callable[[str], None]] = None) -> None:
        """``echo``: where lines go (default: stderr, stdout with ``to_stdout``)."""
        self.total = total
        self.subject = subject
        self.verbose = verbose
        self.quiet = quiet
        self.echo = echo or (lambda line: typer.echo(line, err=not to_stdout))
        self.width = len(str(total))
        self.failed = 0
        self.shown_failures: dict[str, int] = {}  # reason -> its failure lines shown this phase
        self.hidden_failures: dict[str, int] = {}  # reason -> its failures not shown this phase

    def _echo(self, line: str) -> None:
        if not self.quiet:
            self.echo(line)

    def phase(self, number: int, weights: list[int]) -> None:
        self.end_phase()  # a phase whose loop ended early never reached its last request
        self.failed = 0
        split = ", ".join(f"{v.subset}={w}" for v, w in zip(self.subject.versions, weights))
        self._echo(f"Phase {number}: {split}")

    def end_phase(self) -> None:
        """The failures of the phase not shown, counted by reason, on one line (none: nothing)."""
        hidden, self.hidden_failures, self.shown_failures = self.hidden_failures, {}, {}
        if hidden:
            counts = ", ".join(f"{count} x {reason}" for reason, count in sorted(hidden.items()))
            self._echo(f"  ... {counted(sum(hidden.values()), 'more failed request')} of this phase not shown, "
                       f"like those above: {counts} (-v shows each)")

    def request(self, phase: int, result: demo.RequestResult, version: demo.Version | None) -> None:
        self.failed += 0 if result.ok else 1
        prefix = f"  [{result.index:>{self.width}}/{self.total}]"
        if self._shown(result):
            self._echo(self._line(prefix, result, version))
        if not self.verbose and result.index == SHOWN_PER_PHASE < self.total:
            self._echo(f"  ... the other {self.total - SHOWN_PER_PHASE} requests of this phase are counted, "
                       f"not shown (-v shows each; failures are shown, up to {SHOWN_PER_PHASE} of each reason)")
        elif not self.verbose and result.index > SHOWN_PER_PHASE and (
                result.index % PROGRESS_EVERY == 0 or result.index == self.total):
            self._echo(f"  [{result.index:>{self.width}}/{self.total}] sent, {self.failed} failed")
        if result.index == self.total:
            self.end_phase()

    def _shown(self, result: demo.RequestResult) -> bool:
        """Whether ``result`` gets its own line; a failure not shown is counted for end_phase."""
        if not result.ok:
            shown = self.shown_failures.get(result.reason, 0)
            if self.verbose or result.index <= SHOWN_PER_PHASE or shown < SHOWN_PER_PHASE:
                self.shown_failures[result.reason] = shown + 1
                return True
            self.hidden_failures[result.reason] = self.hidden_failures.get(result.reason, 0) + 1
            return False
        return self.verbose or result.index <= SHOWN_PER_PHASE

    @staticmethod
    def _line(prefix: str, result: demo.RequestResult, version: demo.Version | None) -> str:
        if not result.ok:
            return f"{prefix} FAILED ({result.reason})"
        label = f"({version.subset})" if version else "(unknown version)"
        return f"{prefix} HTTP {result.status}  < Server: {result.server}  {label}"


def _print_summary(report: demo.DemoReport, subject: demo.DemoSubject, output: OutputFormat) -> None:
    console = cli_console(wide=output is OutputFormat.wide)
    for number, phase in enumerate(report.phases, start=1):
        traffic = phase.traffic
        ok = traffic.requests - traffic.failures
        table = Table("VERSION", "SERVER", "CONFIGURED", "OBSERVED", "SHARE",
                      title=f"Phase {number}: {_count(traffic.requests, 'request')}, {traffic.failures} failed",
                      title_justify="left")
        for version, weight in zip(subject.versions, phase.weights.values()):
            count = traffic.counts.get(version.server, 0)
            table.add_row(version.subset, version.server, f"{weight}%", str(count), _share(count, ok))
        for server, count in sorted(traffic.counts.items()):
            if server not in {v.server for v in subject.versions}:
                table.add_row("?", server, "0%", str(count), _share(count, ok))
        console.print(table)
        console.print(_verdict(phase))
        _print_failures(console, traffic)
        if phase.change is not None:
            change = phase.change
            console.print(f"While switching to these weights: {change.requests} requests, "
                          f"{change.failures} failed.")
            _print_failures(console, change)
        console.print()
    style = "green" if report.passed else "red"
    verdict = "PASS" if report.passed else "FAIL"
    where = f" {report.where}" if report.where else ""
    reason = f"; {escape(fix_hint(report.reason))}" if report.reason else ""
    if report.not_written:  # the error line follows on stderr
        reason += f"; {escape(report.not_written.split(': cannot write', 1)[0])} could not be written"
    console.print(f"[{style}]{verdict}[/]: target {report.target}{where}, {counted(report.failures, 'failed request')}, "
                  f"split check threshold p >= {demo.P_VALUE_FLOOR}{reason}", highlight=False)


def _print_failures(console: Console, traffic: demo.TrafficCount) -> None:
    reasons: dict[str, int] = {}
    for result in traffic.failed:
        reasons[result.reason] = reasons.get(result.reason, 0) + 1
    for reason, count in sorted(reasons.items()):
        console.print(f"  failed: {count} x {reason}", highlight=False)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _share(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f}%" if total else EMPTY


def _verdict(phase: demo.PhaseReport) -> str:
    if phase.p_value is None:
        return "Split check: no successful request to check."
    if not phase.judged:
        words = f"[red]too few requests to judge (need at least {phase.needed} for these weights)[/]"
    elif phase.consistent:
        words = "consistent with the weights"
    else:
        words = "[red]NOT consistent with the weights[/]"
    p_value = f"{demo.shown_p_value(phase.p_value):.{demo.P_VALUE_DIGITS}g}"
    verdict = f"Split check ({phase.test} test): p = {p_value}, {words}."
    # the caveat qualifies a split the check accepted (at any count: more requests would not help); a rejection stands
    telling = demo.telling_weights(phase.unweighted) if phase.like_unweighted and phase.consistent else ""
    return verdict + (f" {unweighted_note(phase, telling)}" if telling else "")


def unweighted_note(phase: demo.PhaseReport, telling: str) -> str:
    """Weights no request count tells from routing that ignores them (an even spread over
    the subsets' pods), and weights that can be told apart (``telling``)."""
    weights = "/".join(map(str, phase.weights.values()))
    spread = "/".join(f"{100 * share:.4g}" for share in phase.unweighted.values())
    if not phase.judged:  # the count above judges the split, not whether the weights made it
        return (f"{phase.needed} requests tell whether the split is {weights}, but not whether the weights made it: "
                f"routing without them spreads requests evenly over the pods, {spread} here; weights like {telling} "
                "show the weights at work.")
    return (f"But routing without the weights spreads requests evenly over the pods, {spread} here, and no request "
            f"count tells {weights} from that: weights like {telling} show the "
            "weights at work.")


OnLine = Callable[[str], None]


def _waypoint_place_value(values: dict) -> None:
    """_check_waypoint_place as a parse-time check (value_checks.VALUE_CHECKS: a line mending the
    other values, `-o JSON`, is offered only when it is not refused for this too)."""
    waypoint, target, name = values.get("waypoint"), values.get("target"), values.get("name")
    if waypoint is not None and (name is not None or target is Target.local) and not beside_cluster(name, target):
        why = f"{flag_as_typed('name')} {name} names a local sandbox" if name is not None else "--target local"
        raise UsageError(f"--waypoint names the cluster waypoint the demo's Service uses, and {why}: leave "
                         "--waypoint out (a local sandbox has its own waypoint) or run on a cluster (--target cluster)")


def _with_value_checks() -> None:
    from kmeshctl.cli.value_checks import VALUE_CHECKS

    VALUE_CHECKS[demo.DEMO_COMMAND.partition(" ")[2]] = (*VALUE_CHECKS.get("demo traffic-shift", ()),
                                                         _waypoint_place_value, _namespace_not_system)


_with_value_checks()
