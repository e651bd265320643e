"""New-user review (kubectl / istioctl / cilium users), the output cases, one test per kind:

1 `-o wide` adds a table's detail columns (ids, cookies, addresses, node, image) whatever
  the terminal or pipe, and the default table is the essential columns; -o's help says so;
2 one table style: plain kubectl columns (UPPERCASE headers, spaces, no box lines) in a
  terminal and piped alike, a terminal only making the headers bold;
3 one empty-cell marker, `<none>` (kmeshctl.params.TABLE_EMPTY), in every table; JSON
  keeps null;
4 a column empty in every row (preflight's FIX when every check passes) is left out.

Real parts: kmeshctl.cli.tables' console (terminal forced or piped into a buffer), the map
tables of kmeshctl.dump, the cache tables of kmeshctl.config_dump and the check table of
precheck / node preflight (kmeshctl.cli.cluster.print_checks). Also the column reader the
other table tests share (plain_cells)."""

from __future__ import annotations

import io
import re

import pytest
from rich.table import Table

from kmeshctl import config_dump, dump
from kmeshctl.cli.common import OUTPUT_HELP, OutputFormat
from kmeshctl.cli.tables import EMPTY, PipeFriendlyConsole, drop_empty_columns, wide_only
from kmeshctl.maps import (ENDPOINT, IDREG, MANAGE, SERVICE, EndpointKey, EndpointValue, IdKind, IdRegKey,
                           IdRegValue, ManageKey, ManageValue, ServiceKey, ServiceValue)
from kmeshctl.params import TABLE_EMPTY

BOX = set("│┃━─╇┼┏┓┗┛┡┩└┘┌┐|+")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SERVICE_NAME = "default/fortio.default.svc.cluster.local"


# ------------------------------------------------------------------ shared by the table tests


def plain_cells(lines: list[str], column: int) -> list[str]:
    """Column ``column`` of a plain-columns table, line by line below the header (the first
    line): each column starts where its header starts (headers are separated by at least
    two spaces; a header itself may hold one, `NETNS COOKIE`)."""
    starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", lines[0])]
    end = starts[column + 1] if column + 1 < len(starts) else None
    return [line[starts[column]:end].strip() for line in lines[1:]]


def headers(line: str) -> list[str]:
    return re.findall(r"\S+(?: \S+)*", line)


# ------------------------------------------------------------------ fixtures


class _Ids:
    names = {1014011164: SERVICE_NAME, 3492541779: "Kubernetes//Pod/default/fortio-v1-0"}

    def name_of(self, id_: int) -> str | None:
        return self.names.get(id_)

    def kind_of(self, _id: int) -> None:
        return None


def _dumps() -> list[dump.MapDump]:
    return [dump.MapDump(SERVICE, [(ServiceKey(1014011164), ServiceValue((1,)))]),
            dump.MapDump(ENDPOINT, [(EndpointKey(1014011164, 0, 1), EndpointValue(3492541779, ()))]),
            dump.MapDump(MANAGE, [(ManageKey(7), ManageValue(True))]),
            dump.MapDump(IDREG, [(IdRegKey(i), IdRegValue(IdKind(1), n)) for i, n in _Ids.names.items()])]


def _cache() -> dict:
    return {"services": [{"namespace": "default", "hostname": "fortio", "addresses": ["10.96.0.10"], "ports": []}],
            "workloads": [{"uid": "Kubernetes//Pod/default/fortio-v1-0", "addresses": ["10.0.0.5"],
                           "node": "worker-h54"},
                          {"uid": "Kubernetes//Pod/default/netutils-0", "addresses": ["10.0.0.6"]}],
            "policies": []}


def _console(terminal: bool, width: int = 200, color: bool = False) -> tuple[PipeFriendlyConsole, io.StringIO]:
    buffer = io.StringIO()
    return PipeFriendlyConsole(file=buffer, width=width, force_terminal=terminal,
                               color_system="standard" if color else None), buffer


def _maps(terminal: bool, wide: bool, width: int = 200) -> str:
    console, buffer = _console(terminal, width)
    dump.render_tables(_dumps(), _Ids(), console, pods={}, wide=wide)  # type: ignore[arg-type]
    return buffer.getvalue()


def _cache_tables(terminal: bool, wide: bool) -> str:
    console, buffer = _console(terminal)
    config_dump.print_cache_tables(_cache(), console, wide=wide)
    return buffer.getvalue()


# ------------------------------------------------------------------ 1. -o wide adds columns


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "piped"])
def test_wide_adds_the_detail_columns_whatever_the_terminal(terminal: bool) -> None:
    default, wide = _maps(terminal, False), _maps(terminal, True)
    for detail in ("SERVICE ID", "BACKEND UID"):
        assert detail not in default and detail in wide, (detail, default, wide)
    assert "3492541779" in wide.split("km_endpoint")[1].split("km_manage")[0], wide
    assert "NETNS COOKIE" in default, default  # a map whose key is its id keeps it
    assert "LB POLICY   ENDPOINTS\n" in default, default  # no column squeezed by the drop (PORTS, WAYPOINT: <none>)
    default, wide = _cache_tables(terminal, False), _cache_tables(terminal, True)
    assert "NODE" not in default and "worker-h54" not in default, default
    assert "NODE" in wide and "worker-h54" in wide and "LB" in wide, wide


def test_wide_only_leaves_a_table_without_detail_as_it_is() -> None:
    table = Table("NAME", "PHASE")
    table.add_row("h54", "ready")
    assert [c.header for c in wide_only(table, ("IMAGE",), False).columns] == ["NAME", "PHASE"]
    table = Table("NAME", "IMAGE")
    table.add_row("h54", "img")
    assert [c.header for c in wide_only(table, ("IMAGE",), False).columns] == ["NAME"]


def test_the_output_help_says_what_wide_does() -> None:
    assert "nothing cut" not in OUTPUT_HELP and "detail columns" in OUTPUT_HELP, OUTPUT_HELP


# ------------------------------------------------------------------ 2. one style


@pytest.mark.parametrize("wide", [False, True])
def test_a_table_looks_the_same_in_a_terminal_and_piped(wide: bool) -> None:
    assert _maps(True, wide) == _maps(False, wide)
    assert _cache_tables(True, wide) == _cache_tables(False, wide)


@pytest.mark.parametrize("build", [lambda: Table("A", "B"), lambda: Table("A", "B", show_edge=True),
                                   lambda: Table("A", "B", show_edge=False, pad_edge=False)],
                         ids=["default", "boxed", "edgeless"])
def test_terminal_tables_are_plain_columns_with_bold_headers_only(build) -> None:
    shown = {}
    for terminal, color in ((True, True), (False, False)):
        table = build()
        table.add_row("x", "y")
        console, buffer = _console(terminal, 100, color)
        console.print(table)
        shown[terminal] = buffer.getvalue()
    assert "\x1b[1m" in shown[True], shown  # bold headers in a terminal
    assert ANSI.sub("", shown[True]) == shown[False] == "A   B\nx   y\n", shown
    assert not BOX & set(shown[False]), shown


def test_map_headers_are_upper_case_and_unboxed() -> None:
    text = _maps(True, True)
    assert "SERVICE ID   SERVICE" in text and not BOX & set(text), text


# ------------------------------------------------------------------ 3. one empty marker


def test_the_empty_marker_is_defined_once() -> None:
    assert EMPTY == TABLE_EMPTY == "<none>"


def test_empty_cells_are_the_marker_in_map_and_cache_tables() -> None:
    maps = _maps(False, True)
    lines = [line for line in maps.splitlines()]
    service = lines[lines.index(next(line for line in lines if line.startswith("SERVICE ID"))):][:2]
    assert "PORTS" not in service[0] and "WAYPOINT" not in service[0], service  # <none> in every row: left out
    manage = lines[lines.index(next(line for line in lines if line.startswith("NETNS COOKIE"))):][:2]
    assert "POD" not in manage[0], manage  # no cookie the agent names: left out
    cache = _cache_tables(False, True).splitlines()
    workloads = cache[cache.index(next(line for line in cache if line.startswith("UID"))):][:3]
    assert plain_cells(workloads, headers(workloads[0]).index("NODE")) == ["worker-h54", EMPTY], workloads
    for text in (maps, "\n".join(cache)):
        assert not re.search(r"(^|\s)(none|-)(\s|$)", text, re.MULTILINE), text


def test_json_keeps_null_not_the_marker() -> None:
    data = dump.to_json(_dumps(), _Ids(), {})  # type: ignore[arg-type]
    assert data["km_manage"][0]["key"]["pod"] is None
    assert EMPTY not in repr(data)


# ------------------------------------------------------------------ 4. empty columns left out


def _checks(rows: list[dict], terminal: bool) -> str:
    import kmeshctl.cli.cluster as cluster

    console, buffer = _console(terminal, 120)
    saved = cluster.out
    cluster.out = lambda output=OutputFormat.table: console  # type: ignore[assignment]
    try:
        cluster.print_checks(rows, OutputFormat.table)
    finally:
        cluster.out = saved
    return buffer.getvalue()


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "piped"])
def test_preflight_has_no_fix_column_when_every_check_passes(terminal: bool) -> None:
    rows = [{"name": "kernel version", "status": "pass", "detail": "6.1 (>= 5.10)", "fix": ""},
            {"name": "bpf syscall", "status": "pass", "detail": "bpf() works", "fix": ""}]
    assert headers(_checks(rows, terminal).splitlines()[0]) == ["CHECK", "RESULT", "DETAIL"]
    rows[1] = {**rows[1], "status": "fail", "fix": "run as root"}
    assert headers(_checks(rows, terminal).splitlines()[0]) == ["CHECK", "RESULT", "DETAIL", "FIX"]


def test_a_table_without_rows_keeps_its_headers() -> None:
    table = Table("A", "B")
    drop_empty_columns(table)
    assert len(table.columns) == 2
    table.add_row("x", "")
    drop_empty_columns(table)
    assert [c.header for c in table.columns] == ["A"]


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "piped"])
def test_status_shows_each_pods_image_only_in_wide(terminal: bool) -> None:
    import kmeshctl.cli.cluster as cluster
    from kmeshctl.rollout import PodState
    from kmeshctl.status import AgentXds, MeshStatus

    pods = [PodState("kmesh-h54", "kmesh-system", "node-h54", "Running", True, 0, "registry.example/node:h54", "",
                     "2026-12-01T13:00:00Z")]
    state = MeshStatus("kmesh-system", {"name": "kmesh", "desired": 1, "updated": 1, "ready": 1,
                                        "image": "registry.example/node:h54"},
                       pods=pods, agents=[AgentXds("kmesh-h54", "node-h54", {"connected": True})])
    shown = {}
    saved = cluster.out
    for output in (OutputFormat.table, OutputFormat.wide):
        console, buffer = _console(terminal, 200)
        cluster.out = lambda output=OutputFormat.table: console  # type: ignore[assignment]
        try:
            cluster._print_status(state, output)
        finally:
            cluster.out = saved
        shown[output] = next(line for line in buffer.getvalue().splitlines() if line.startswith("NODE"))
    assert headers(shown[OutputFormat.table]) == ["NODE", "POD", "READY", "STATUS", "ISTIOD", "RESTARTS", "AGE"], shown
    assert headers(shown[OutputFormat.wide])[-1] == "IMAGE", shown
