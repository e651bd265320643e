"""`kmeshctl bench dataplane`: the data-plane comparison (direct, kmesh-l4, kmesh-waypoint,
ambient-style, sidecar-style), written as markdown, JSON and a PNG chart."""

from __future__ import annotations

import os
import sys
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Iterable, Optional

import typer

from kmeshctl.cli.common import MAX_REPEATS, MAX_RUN_S, OutputFormat, app, print_data
from kmeshctl.cli.suggestions import flag_as_typed
from kmeshctl.cli.outpaths import check_output_dir
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.params import refuse_spaces, shown

bench_app = typer.Typer(help="Benchmarks of the data path. Needs root.\n\n"
                             "Examples:\n\n"
                             "  kmeshctl bench dataplane --paths direct,kmesh-l4 --repeats 1\n"
                             "  kmeshctl bench cleanup", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


class BenchOutput(str, Enum):
    table = "table"
    wide = "wide"  # as every data command takes it: the same markdown table (nothing is cut)
    json = "json"
    yaml = "yaml"


def _progress(line: str) -> None:
    typer.echo(f"  {line}", err=True)



def _check_out_parent(out: Path) -> None:
    """--out DIR typed: DIR is made, never its missing parent (as --plot: a typo must not
    make directories after a long run); the default's parents are made (it is ours)."""
    parent = out.absolute().parent
    if not parent.exists():
        raise UsageError(f"{flag_as_typed('out')} {shown(out)}: directory {shown(parent)} does not exist; "
                         f"give a directory in an existing one, or make it first: `mkdir -p {_quoted(parent)} && "
                         f"{typed_line()}`")

def _csv(value: str, flag: str, known: Iterable[str]) -> tuple[str, ...]:
    """A comma-separated list of names from ``known``, each once; errors name ``flag``."""
    from kmeshctl.cli.names import check_choice_list

    return check_choice_list(flag, value, known)


def _cpus(value: Optional[str], flag: str, default: str) -> str:
    """A taskset CPU list ("1", "0,2", "0-3"); errors name ``flag``."""
    from kmeshctl.bench.topology import BenchError, cpu_list_text, parse_cpu_list

    if value is None:
        return default
    refuse_spaces(flag, value)
    try:
        cpus = parse_cpu_list(value)
    except BenchError as error:
        why = str(error).split("; ")[0].replace("CPU range", "range") if "backwards" in str(error) else ""
        if why:
            raise UsageError(f"{flag} {shown(value)}: {why}; write the lower CPU first, "
                             f"e.g. {flag} {str(error).rsplit('e.g. ', 1)[1]}") from None
        raise UsageError(f"{flag} {shown(value)}: not a CPU list; use e.g. 1, 0,2 or 0-1") from None
    usable = os.sched_getaffinity(0)
    if cpus - usable:
        missing = cpu_list_text(cpus - usable)
        raise UsageError(f"{flag} {shown(value)}: CPU{'s' if len(cpus - usable) > 1 else ''} {missing} not on this "
                         f"machine; use CPUs of {cpu_list_text(usable)}, e.g. {flag} {min(usable)}")
    return value


@bench_app.command("dataplane")
def dataplane(
    paths: str = typer.Option(
        "direct,kmesh-l4,kmesh-waypoint,ambient-style,sidecar-style", "--paths", metavar="NAMES",
        show_default=False,  # too long for one help line: named in the help text
        help="Comma-separated paths to compare: direct, kmesh-l4, kmesh-waypoint, ambient-style, "
             "sidecar-style (default: all)."),
    loads: str = typer.Option(
        "paced-1k,paced-4k,max-64", "--loads", metavar="NAMES",
        help="Comma-separated loads: paced-1k, paced-4k, closed-4, max-64."),
    repeats: int = typer.Option(5, "--repeats", min=1, max=MAX_REPEATS, metavar="COUNT",
                                help="Runs per path and load (interleaved)."),
    duration: int = typer.Option(10, "--duration", min=1, max=MAX_RUN_S, metavar="DURATION",
                                 help="Time per run (e.g. 10s, 1m; a plain number is seconds)."),
    warmup: int = typer.Option(2, "--warmup", min=0, max=MAX_RUN_S, metavar="DURATION",
                               help="Unrecorded warm-up per path (e.g. 2s; a plain number is seconds)."),
    client_cpus: Optional[str] = typer.Option(
        None, "--client-cpus", metavar="CPUS", help="CPUs for wrk (taskset list); default 0."),
    mesh_cpus: Optional[str] = typer.Option(
        None, "--mesh-cpus", metavar="CPUS", help="CPUs for nginx and every Envoy; default 1."),
    out: Optional[Path] = typer.Option(
        None, "--out", metavar="DIR",
        help="Results folder; default: ./benchmarks/results/<date>/ (under the current directory); "
             "earlier results there are refused unless --force."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier run's results in --out."),
    output: BenchOutput = typer.Option(BenchOutput.table, "-o", "--output", metavar="table|wide|json|yaml",
                                       help="table (or wide, the same: it has no detail columns): the markdown "
                                            "table; json or yaml: the summary."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="No progress lines, only the result."),
) -> None:
    """Run the same load over five paths and report latency percentiles, throughput,
    proxy CPU, ratios to direct and the targets; results go to --out (dataplane.md,
    dataplane.json, dataplane.png). A folder already holding any of them is refused
    before the run (exit 2) unless --force. Progress goes to stderr (-q: none).

    Examples:

      kmeshctl bench dataplane
      kmeshctl bench dataplane --paths direct,kmesh-l4 --repeats 1
      kmeshctl bench dataplane -o json --out /tmp/bench --force
    """
    from kmeshctl.bench import report
    from kmeshctl.bench.dataplane import BenchConfig, run_dataplane
    from kmeshctl.bench.topology import PATHS, CpuPlan, default_cpu_plan
    from kmeshctl.bench.wrk import LOADS

    default_cpus = default_cpu_plan()
    out_dir = out or Path("benchmarks") / "results" / date.today().isoformat()
    config = BenchConfig(
        paths=_csv(paths, "--paths", PATHS), loads=_csv(loads, "--loads", LOADS), repeats=repeats,
        duration_s=duration, warmup_s=warmup,
        cpus=CpuPlan(_cpus(client_cpus, "--client-cpus", default_cpus.client),
                     _cpus(mesh_cpus, "--mesh-cpus", default_cpus.mesh)))
    check_output_dir(flag_as_typed("out"), out_dir, tuple(report.RESULT_FILES.values()), force)
    if out is not None:
        _check_out_parent(out)
    command = typed_line()
    records, env = run_dataplane(config, (lambda _line: None) if quiet else _progress)
    files, failure = _written(out_dir, records, env, command, make_parents=out is None)
    summary = report.summarize(records)
    checks = report.check_targets(summary)
    if output in (BenchOutput.json, BenchOutput.yaml):  # measured: printed whether or not --out took them
        print_data(report.to_json(records, summary, checks, env, command) | {
            "files": {k: str(v) for k, v in files.items()}}, OutputFormat(output.value))
    else:
        typer.echo(report.markdown(summary, checks, env, command))
        if not quiet and files:  # -q: no line on stderr but errors
            typer.echo(f"Results: {', '.join(_quoted(p) for p in files.values())}", err=True)
    if failure is not None:
        raise failure


def _written(out_dir: Path, records: list, env: dict, command: str,
             make_parents: bool) -> tuple[dict[str, Path], Optional[KmeshctlError]]:
    """report.write_results: the files written, or none and the error line to end with
    (nothing of them left, so the run again, ``command``, is not refused for a leftover)."""
    from kmeshctl.bench import report
    from kmeshctl.cli.outpaths import NotWritten

    try:
        return report.write_results(out_dir, records, env, command, flag_as_typed("out"), make_parents), None
    except NotWritten as err:
        return {}, err.again(command, "the benchmark")


def _quoted(path: Path) -> str:
    """``path`` as a shell takes it (a name of bytes too: outpaths.shell_line)."""
    from kmeshctl.cli.outpaths import shell_line

    return shell_line([str(path)])


def typed_line() -> str:
    """The command line typed, ready to paste into a shell (outpaths.shell_line)."""
    from kmeshctl.cli.outpaths import shell_line

    return shell_line(["kmeshctl", *sys.argv[1:]])


@bench_app.command("cleanup")
def cleanup(
    run_id: Optional[str] = typer.Option(None, "--run-id", metavar="ID", help="Only this run (6 hex digits); "
                                         "a run with nothing left is NotFound (exit 1)."),
    ignore_not_found: bool = typer.Option(False, "--ignore-not-found",
                                          help="Exit 0 when --run-id names a run with nothing left (for scripts)."),
) -> None:
    """Remove what benchmark runs left behind, found by their names alone: network
    namespaces kmdpID-*, cgroups <cgroup v2>/kmdp-ID (their processes are killed), pinned
    BPF objects /sys/fs/bpf/kmdp-ID and work directories $TMPDIR/kmdp-ID-*. Nothing else
    (sandboxes, this node's data path) is touched.

    A `bench dataplane` still running owns such names too: cleanup stops it (use --run-id
    to spare other runs). Without --run-id and with nothing left it says so, exit 0; a
    --run-id with nothing left is an error (exit 1), as `kubectl delete` of a missing
    object, unless --ignore-not-found.

    Examples:

      kmeshctl bench cleanup
      kmeshctl bench cleanup --run-id 3f9a1c
    """
    from kmeshctl.bench.topology import cleanup_run, leftover_run_ids

    from kmeshctl.cli import names

    if run_id is not None:
        names.check_run_id(flag_as_typed("run_id"), run_id)  # the check a stray `bench cleanup ID` passes too
    found = leftover_run_ids()
    wanted = run_id.lower() if run_id is not None else None
    run_ids = [r for r in found if r == wanted] if wanted else found
    if wanted and not run_ids:
        if ignore_not_found:
            return
        from kmeshctl.cli import cmdline
        from kmeshctl.cli.render import this_command

        others = f"runs with leftovers: {', '.join(found)}" if found else "no run left anything"
        # the line typed with --ignore-not-found; -q is the root's (no flag of cleanup's): kept too
        quiet = [w for w in cmdline.ARGS[:cmdline.separator_at(cmdline.ARGS)] if w in cmdline.QUIET_FLAGS][:1]
        raise KmeshctlError(f"benchmark run {wanted} not found ({others}); "
                            f"`{this_command([*quiet, '--ignore-not-found'])}` makes this exit 0")
    for one in run_ids:
        cleanup_run(one)
        typer.echo(f"removed benchmark run {one}")
    if not run_ids:
        typer.echo("nothing to clean up: no benchmark run left anything")
