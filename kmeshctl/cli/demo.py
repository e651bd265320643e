"""`kmeshctl demo traffic-shift`: the fortio 90/10 demo, locally or on a cluster."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from kmeshctl import demo
from kmeshctl.cli.common import app, print_json

demo_app = typer.Typer(help="Demos of the mesh at work.", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


class Target(str, Enum):
    auto = "auto"
    local = "local"
    cluster = "cluster"


class DemoOutput(str, Enum):
    table = "table"
    json = "json"


@demo_app.command("traffic-shift")
def traffic_shift(
    requests: int = typer.Option(20, "--requests", "-n", min=1, max=100_000,
                                 help="Requests per phase."),
    target: Target = typer.Option(Target.auto, "--target",
                                  help="auto: a reachable cluster if one is configured, else local."),
    weights: Optional[str] = typer.Option(
        None, "--weights", help="Weight sets v1/v2, one phase each, e.g. 90/10,50/50,0/100 "
                                "(default: the VirtualService's own)."),
    output: DemoOutput = typer.Option(DemoOutput.table, "-o", "--output"),
) -> None:
    """Send requests from netutils to the fortio Service and check the observed split
    against the VirtualService weights. Exit 1 if any request failed or the split is
    implausible (p < 0.001)."""
    err = Console(stderr=True)
    documents, subject = demo.fortio_demo()
    weight_sets = demo.parse_weight_sets(weights, subject)
    chosen, note = demo.choose_target(target.value, documents, subject)
    err.print(note, highlight=False)
    progress = lambda line: err.print(f"  {line}", highlight=False)  # noqa: E731
    as_table = output is DemoOutput.table
    try:
        chosen.prepare(progress)
        err.print(f"Sending {requests} request(s) per phase to {chosen.service_url()} "
                  "from the netutils pod")
        report = demo.run_traffic_shift(
            chosen, subject, requests, weight_sets,
            on_request=_print_request(requests) if as_table else lambda *_: None,
            on_phase=_print_phase(subject) if as_table else lambda *_: None,
        )
    finally:
        chosen.finish(progress)
    if as_table:
        _print_summary(report, subject)
    else:
        print_json(report.to_json())
    if not report.passed:
        raise typer.Exit(1)


def _print_phase(subject: demo.DemoSubject):
    def show(number: int, weights: list[int]) -> None:
        split = ", ".join(f"{v.subset}={w}" for v, w in zip(subject.versions, weights))
        typer.echo(f"Phase {number}: {split}")
    return show


def _print_request(total: int):
    width = len(str(total))

    def show(phase: int, result: demo.RequestResult, version: demo.Version | None) -> None:
        prefix = f"  [{result.index:>{width}}/{total}]"
        if not result.ok:
            typer.echo(f"{prefix} FAILED (curl exit {result.curl_exit}, HTTP {result.status})")
            return
        label = f"({version.subset})" if version else "(unknown version)"
        typer.echo(f"{prefix} HTTP {result.status}  < Server: {result.server}  {label}")
    return show


def _print_summary(report: demo.DemoReport, subject: demo.DemoSubject) -> None:
    console = Console()
    console.print()
    for number, phase in enumerate(report.phases, start=1):
        traffic = phase.traffic
        ok = traffic.requests - traffic.failures
        table = Table("VERSION", "SERVER", "CONFIGURED", "OBSERVED", "SHARE",
                      title=f"Phase {number}: {traffic.requests} requests, {traffic.failures} failed",
                      title_justify="left")
        for version, weight in zip(subject.versions, phase.weights.values()):
            count = traffic.counts.get(version.server, 0)
            table.add_row(version.subset, version.server, f"{weight}%", str(count), _share(count, ok))
        for server, count in sorted(traffic.counts.items()):
            if server not in {v.server for v in subject.versions}:
                table.add_row("?", server, "0%", str(count), _share(count, ok))
        console.print(table)
        console.print(_verdict(phase))
        if phase.change is not None:
            change = phase.change
            console.print(f"While switching to these weights: {change.requests} requests, "
                          f"{change.failures} failed.")
        console.print()
    style = "green" if report.passed else "red"
    verdict = "PASS" if report.passed else "FAIL"
    console.print(f"[{style}]{verdict}[/]: target {report.target}, {report.failures} failed request(s), "
                  f"split check threshold p >= {demo.P_VALUE_FLOOR}")


def _share(count: int, total: int) -> str:
    return f"{100.0 * count / total:.1f}%" if total else "-"


def _verdict(phase: demo.PhaseReport) -> str:
    if phase.p_value is None:
        return "Split check: no successful request to check."
    consistent = phase.p_value >= demo.P_VALUE_FLOOR
    words = "consistent with the weights" if consistent else "[red]NOT consistent with the weights[/]"
    return f"Split check ({phase.test} test): p = {phase.p_value:.3g}, {words}."

