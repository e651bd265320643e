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

from kmeshctl import demo, sandboxes
from kmeshctl.cli.common import (OutputFormat, app, complete_sandbox_names, fix_hint, is_data,
                                 output_option, print_data, run_options)
from kmeshctl.cli.common import SandboxFlagCommand
from kmeshctl.cli.conventions import flag_as_typed, given_flags, given_on_command_line
from kmeshctl.cli.progress import HEARTBEAT_S, Progress, note as progress_note
from kmeshctl.errors import UsageError
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
        help="Cluster demo (given, it implies --target cluster with auto): the namespace fortio, netutils and "
             f"their Services are deployed in (default: {DEMO_NAMESPACE}, where the demo's manifests put them).",
        show_default=False)] = DEMO_NAMESPACE,
    weights: Annotated[Optional[str], typer.Option(
        "--weights", metavar="V1/V2,...", help="Weight sets, one phase each: a weight per subset of the "
                                               "VirtualService's route, in its order (v1/v2 in the demo's "
                                               "manifests), e.g. 90/10,50/50,0/100 (default: the "
                                               "VirtualService's own: a local sandbox's as it was made, the "
                                               "demo's in the cluster as it is).")] = None,
    output: DemoOutputOption = OutputFormat.table,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", metavar="FILE.png", help="Also draw configured vs observed share per phase.")] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Show every request, not only the "
                                          f"first {SHOWN_PER_PHASE} of each phase.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress and no request lines: only the "
                                        "result.")] = False,
) -> None:
    """Send requests from netutils to the fortio Service and check the observed split
    against the VirtualService weights. Exit 1 if any request failed, the split is
    implausible (p < 0.001), or too few requests were sent to tell the weights from an
    even spread (the result line says how many are needed: 12 for 90/10). On a cluster,
    it first checks that kmesh is ready, the namespace enrolled and the fortio Service's
    waypoint programmed, and refuses (nothing changed) naming the command that fixes it;
    it changes only its own objects (labelled app.kubernetes.io/part-of=kmeshctl-demo) and
    refuses any of its names that it did not make.

    Progress goes to stderr, the result to stdout (-o json|yaml: the documented schema of
    docs/usage.md). The first line names the sandbox or cluster used. Locally, without
    --sandbox, the only sandbox up is used (and left up, its weights restored); with none
    up, one is brought up and removed afterwards; with several, pass --sandbox.

    Examples:

      kmeshctl demo traffic-shift
      kmeshctl demo traffic-shift --sandbox demo -c 200 --weights 90/10,0/100
      kmeshctl --context prod demo traffic-shift -o json --plot split.png
      kmeshctl demo traffic-shift --target cluster -n demo
    """
    from kmeshctl.cli.render import rerun_line
    from kmeshctl.demo_plot import check_plot_path, plot_shares

    if verbose and quiet:
        raise UsageError(f"{flag_as_typed('verbose')} and {flag_as_typed('quiet')} contradict each other: "
                         "give one of them")
    if plot is not None:
        check_plot_path(plot, flag_as_typed("plot"))
    chosen_namespace = namespace if given_on_command_line("namespace") else None
    if chosen_namespace is not None:
        _check_cluster_namespace(chosen_namespace, name, target)
    if name is None and target is Target.local:
        sandboxes.name_from_env()  # a bad $KMESHCTL_SANDBOX_NAME is named as such, before anything runs
    documents, subject = demo.fortio_demo()
    _check_weights_early(weights, subject, name)
    report: Optional[demo.DemoReport] = None
    chosen: Optional[demo.DemoTarget] = None
    try:
        with sigterm_stops():
            chosen, note = demo.choose_target(target.value, documents, subject, name, _cluster_flags(),
                                              chosen_namespace, flag_as_typed("name"), run_options(), rerun_line)
            subject = demo.subject_of(chosen, subject)  # a sandbox's own VirtualService: its subsets, weights
            weight_sets = demo.parse_weight_sets(weights, subject)
            Progress(quiet=quiet, indent="")(note)
            report = demo.new_report(chosen, subject, requests, len(weight_sets))
            _run(chosen, report, weight_sets, verbose, quiet)
            report.reason = demo.fail_reason(chosen, report, _with_requests)
            if demo.more_requests_needed(report):
                report.fix = fix_hint(f"`{_with_requests(demo.more_requests_needed(report))}`").strip("`")
    except KeyboardInterrupt as err:  # after the target's finish: weights restored, a sandbox made removed
        _report_stop(stopped_by(err), report, output, demo.made_text(chosen))
    assert report is not None
    as_table = not is_data(output)
    data = report.to_json()
    if as_table:
        _print_summary(report, subject, output)
    else:
        print_data(data, output)
    if plot is not None:
        plot_shares(data, plot)
        progress_note(f"Plot: {plot}", quiet)  # -q: only the result
    if report.stopped:  # e.g. the sandbox removed by `sandbox down --force` mid-run
        typer.echo(f"Error: {report.stopped}", err=True)
    if not report.passed:
        raise typer.Exit(1)


def _run(chosen: demo.DemoTarget, report: demo.DemoReport, weight_sets: list[list[int]], verbose: bool,
         quiet: bool) -> None:
    """Prepare the target, send the phases into ``report``, and always finish the target."""
    assert report.subject is not None
    # One heartbeat per stage, so "still working ... after: X" always names the stage's
    # own last line: the setup's step, or the request lines (it stays quiet while they flow).
    try:
        with Progress(quiet=quiet, heartbeat_s=HEARTBEAT_S) as progress:
            chosen.prepare(progress)
        with Progress(quiet=quiet, indent="", heartbeat_s=HEARTBEAT_S) as lines:
            lines(f"Sending {counted(report.requests, 'request')} per phase to {chosen.service_url()} from the "
                  "netutils pod")
            printer = RequestPrinter(report.requests, report.subject, verbose, quiet, echo=lines)  # stderr: progress
            demo.run_traffic_shift(chosen, report.subject, report.requests, weight_sets,
                                   on_request=printer.request, on_phase=printer.phase, report=report)
    finally:
        with Progress(quiet=quiet, heartbeat_s=HEARTBEAT_S) as progress:
            chosen.finish(progress)


def _report_stop(stop: Stopped, report: Optional[demo.DemoReport], output: OutputFormat,
                 made: str = "") -> NoReturn:
    """A stopped demo: the requests sent per phase, and what the run left in the cluster
    (``made``: the objects it created, the namespace it enrolled, and how to remove them), on
    one stderr line (and in -o json|yaml the report, its `error` saying the same); exit 128
    + the signal (130 Ctrl-C, 143 SIGTERM)."""
    text = demo.stop_text(stop, report, fix_hint(made))  # its commands keep --kubeconfig/--context
    if report is not None and is_data(output):
        report.stopped = text
        print_data(report.to_json(), output)
    say(text)
    raise typer.Exit(stop.exit_code)


def _check_cluster_namespace(namespace: str, name: Optional[str], target: Target) -> None:
    """-n is the cluster demo's namespace: with a local sandbox (--sandbox, --target local) it
    would be ignored, so it is refused."""
    from kmeshctl.params import shown

    flag = flag_as_typed("namespace")
    if namespace.isdigit() and target is not Target.cluster:  # fortio's and hey's -n is a request count
        raise UsageError(f"{flag} {namespace}: {flag} is the cluster demo's namespace (as on every command); the "
                         f"request count is -c/--requests, e.g. -c {namespace} (a namespace of digits: add "
                         "--target cluster)")
    if name is not None:
        raise UsageError(f"{flag_as_typed('name')} names a local sandbox, {flag} {shown(namespace)} the cluster "
                         "demo's namespace: give one of them")
    if target is Target.local:
        raise UsageError(f"{flag} {shown(namespace)} is the cluster demo's namespace (the local sandbox uses its "
                         f"manifests' own): leave out {flag}, or use --target cluster")


def _check_weights_early(weights: Optional[str], subject: demo.DemoSubject, name: Optional[str]) -> None:
    """Bad --weights named before anything runs: the VirtualService measured (a sandbox's own,
    the demo's own in the cluster) may have other subsets than the manifests, so only what
    holds whatever their count (whole numbers >= 0 adding up to 100), its examples naming
    the subsets they fit; the count once it is known: at once for a sandbox named (``name``)
    whose own VirtualService is read from its record."""
    own = _named_sandbox_subject(name)
    if own is not None:
        demo.parse_weight_sets(weights, own)
        return
    try:
        demo.parse_weight_sets(weights, subject)
    except UsageError:
        demo.parse_weight_sets(weights, subject, check_count=False)


def _named_sandbox_subject(name: Optional[str]) -> Optional[demo.DemoSubject]:
    """Sandbox ``name``'s own subject, or None (no name, no such sandbox, or one whose record
    or manifests the run itself refuses later, with the fix)."""
    from kmeshctl.errors import KmeshctlError
    from kmeshctl.sandbox.demo_target import measured_subject

    if name is None:
        return None
    try:
        return measured_subject(name)
    except KmeshctlError:
        return None


def _with_requests(count: int) -> str:
    """This demo again with -c ``count``: every flag typed kept (--sandbox, --weights,
    --target, -n, ...) but the request count, replaced; a fix that dropped them would run
    another demo."""
    import shlex

    from kmeshctl.cli.render import rerun_line, this_command

    command = this_command()
    if given_on_command_line("name"):  # this_command leaves the sandbox flag to rerun_line
        flag, sandbox = flag_as_typed("name"), _typed_value("name")
        command = rerun_line(demo.DEMO_COMMAND, flag, sandbox)
    words, kept, skip = shlex.split(command), [], False
    for word in words:
        if skip:
            skip = False
        elif word in ("-c", "--requests"):
            skip = True  # its value is the next word
        elif not word.startswith(("--requests=", "-c=")):
            kept.append(word)
    return shlex.join([*kept, "-c", str(count)])


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
    -v, failures always), then a progress line every PROGRESS_EVERY requests, on stderr
    (stdout carries only the result, as docs/usage.md says); nothing with --quiet."""

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

    def _echo(self, line: str) -> None:
        if not self.quiet:
            self.echo(line)

    def phase(self, number: int, weights: list[int]) -> None:
        self.failed = 0
        split = ", ".join(f"{v.subset}={w}" for v, w in zip(self.subject.versions, weights))
        self._echo(f"Phase {number}: {split}")

    def request(self, phase: int, result: demo.RequestResult, version: demo.Version | None) -> None:
        self.failed += 0 if result.ok else 1
        prefix = f"  [{result.index:>{self.width}}/{self.total}]"
        if self.verbose or result.index <= SHOWN_PER_PHASE or not result.ok:
            self._echo(self._line(prefix, result, version))
        if not self.verbose and result.index == SHOWN_PER_PHASE < self.total:
            self._echo(f"  ... the other {self.total - SHOWN_PER_PHASE} requests of this phase are counted, "
                       "not shown (-v shows each; failures are always shown)")
        elif not self.verbose and result.index > SHOWN_PER_PHASE and (
                result.index % PROGRESS_EVERY == 0 or result.index == self.total):
            self._echo(f"  [{result.index:>{self.width}}/{self.total}] sent, {self.failed} failed")

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
    return f"Split check ({phase.test} test): p = {demo.shown_p_value(phase.p_value):.{demo.P_VALUE_DIGITS}g}, {words}."


OnLine = Callable[[str], None]
