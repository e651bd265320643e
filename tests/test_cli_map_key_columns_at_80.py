"""Every `dump maps --map` table in an 80-column terminal with realistic rows (long
service and pod names, IPv6 addresses): the key columns (what tells the map's rows
apart: its key and the key's name) are never the folded part; the other columns wrap
or are left out first (new-user pass: km_endpoint's SERVICE wrapped as
`default/fortio.default.svc.` / `cluster.local` while the value column BACKEND stayed
whole). Real parts: kmeshctl.dump.render_tables through PipeFriendlyConsole as in a
terminal (helper h77)."""

from __future__ import annotations

import io
import sys
import ipaddress
from typing import Any

import pytest

from kmeshctl import dump
from kmeshctl.cli.tables import PipeFriendlyConsole
from kmeshctl.maps import (AUTHZ_DST, AUTHZ_POL, AUTHZ_PORT, AUTHZ_RULE, AUTHZ_STATS, BACKEND, ENDPOINT, FRONTEND,
                           IDREG, MANAGE, MAP_NAMES, SERVICE, SOCKET, AuthzDstKey, AuthzDstValue, AuthzPolKey,
                           AuthzPolValue, AuthzPortKey, AuthzPortValue, AuthzRuleKey, AuthzRuleValue, AuthzStatKey,
                           AuthzStatValue, AuthzVerdict, BackendKey, BackendValue, EndpointKey, EndpointValue,
                           FrontendKey, FrontendValue, IdKind, IdRegKey, IdRegValue, LbPolicy, ManageKey,
                           ManageValue, ServiceKey, ServiceValue, SockKey, SockValue, Tunnel)

WIDTH = 80
SVC_ID, WP_SVC_ID, POD_1, POD_2, WP_POD = 1014011164, 2088116610, 3492541779, 4105537086, 2966104420
NAMES = {
    SVC_ID: "default/fortio.default.svc.cluster.local",
    WP_SVC_ID: "default/waypoint.default.svc.cluster.local",
    POD_1: "Kubernetes//Pod/default/fortio-v1-596b55cb8b-sfktr",
    POD_2: "Kubernetes//Pod/default/fortio-v2-6f8d9c7b5d-x2k9q",
    WP_POD: "Kubernetes//Pod/default/waypoint-7d9f8c6b54-q8wzl",
}
POLICY = "default/deny-from-other-namespaces-to-fortio"
COOKIE = 18446744073709551000
POD_OF_COOKIE = "default/fortio-v1-596b55cb8b-sfktr"


class _Ids:
    def name_of(self, id_: int) -> str | None:
        return NAMES.get(id_)

    def kind_of(self, id_: int) -> IdKind:
        return IdKind.SERVICE if id_ in (SVC_ID, WP_SVC_ID) else IdKind.BACKEND


def _entries() -> dict[str, list[tuple[Any, Any]]]:
    v6 = ipaddress.ip_address("fd00:10:244:1a2b:3c4d:5e6f:7a8b:9c0d")
    return {
        FRONTEND.name: [(FrontendKey(ipaddress.ip_address("10.96.33.1")), FrontendValue(SVC_ID)),
                        (FrontendKey(v6), FrontendValue(POD_1))],
        SERVICE.name: [(ServiceKey(SVC_ID), ServiceValue((2, 1), LbPolicy.FAILOVER, ((80, 8080), (443, 8443)),
                                                         WP_SVC_ID))],
        ENDPOINT.name: [(EndpointKey(SVC_ID, 0, 1), EndpointValue(POD_1, (8080,))),
                        (EndpointKey(SVC_ID, 0, 2), EndpointValue(POD_2, (8080,))),
                        (EndpointKey(SVC_ID, 1, 1), EndpointValue(WP_POD, (15008,)))],
        BACKEND.name: [(BackendKey(POD_1), BackendValue((ipaddress.ip_address("10.244.1.17"), v6), (SVC_ID,),
                                                        WP_SVC_ID)),
                       (BackendKey(WP_POD), BackendValue((ipaddress.ip_address("10.244.2.9"),), (WP_SVC_ID,),
                                                         tunnel=Tunnel(15008)))],
        MANAGE.name: [(ManageKey(COOKIE), ManageValue(True))],
        SOCKET.name: [(SockKey(ipaddress.ip_address("fd00:10:244:1::1a"), ipaddress.ip_address("fd00:10:244:2::9"),
                               48212, 15019),
                       SockValue(9223372036854775901))],
        IDREG.name: [(IdRegKey(id_), IdRegValue(IdKind.SERVICE if id_ in (SVC_ID, WP_SVC_ID) else IdKind.BACKEND,
                                                name)) for id_, name in NAMES.items()],
        AUTHZ_DST.name: [(AuthzDstKey(v6), AuthzDstValue(7))],
        AUTHZ_PORT.name: [(AuthzPortKey(7, 8080), AuthzPortValue(1))],
        AUTHZ_RULE.name: [(AuthzRuleKey(7, 1, ipaddress.ip_network("fd00:10:244:1a2b::/64")),
                           AuthzRuleValue(AuthzVerdict.DENY_POLICY, 3, AuthzVerdict.ALLOW_POLICY, 4))],
        AUTHZ_POL.name: [(AuthzPolKey(3), AuthzPolValue(POLICY, 1)),
                         (AuthzPolKey(4), AuthzPolValue(POLICY + "-dry-run", 0, True))],
        AUTHZ_STATS.name: [(AuthzStatKey(3, AuthzVerdict.DENY_POLICY, False), AuthzStatValue(12))],
    }


def _rendered(monkeypatch, name: str) -> str:
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    buffer = io.StringIO()
    console = PipeFriendlyConsole(file=buffer, force_terminal=True, color_system=None)
    dumps = [dump.MapDump(dump.SPECS_BY_NAME[name], _entries()[name])]
    if name == AUTHZ_RULE.name or name == AUTHZ_STATS.name:
        dumps.append(dump.MapDump(AUTHZ_POL, _entries()[AUTHZ_POL.name]))  # names the policy ids
    dump.render_tables(dumps, _Ids(), console, pods={COOKIE: POD_OF_COOKIE})  # type: ignore[arg-type]
    return buffer.getvalue()


def _key_columns(name: str) -> list[list[str]]:
    """The key columns of ``name``'s table, each as its header and cells' text, as the map's
    own table builder makes them, leaving out the detail columns only -o wide shows."""
    dumps = [dump.MapDump(dump.SPECS_BY_NAME[name], _entries()[name]),
             dump.MapDump(AUTHZ_POL, _entries()[AUTHZ_POL.name])]
    authz = dump._AUTHZ_TABLES.get(name)
    if authz:
        table = authz[0](dumps[0].entries, _Ids(), dump._policy_names(dumps))
    elif name == MANAGE.name:
        table = dump._manage_table(dumps[0].entries, _Ids(), {COOKIE: POD_OF_COOKIE})  # type: ignore[arg-type]
    else:
        table = dump._TABLES[name][0](dumps[0].entries, _Ids())
    keys = set(dump._KEY_COLUMNS[name]) - set(dump._DETAIL_COLUMNS.get(name, ()))
    return [[str(column.header), *(str(cell) for cell in column.cells)] for column in table.columns
            if column.header in keys]


def _key_cells(name: str) -> list[str]:
    """The text of every key cell of ``name``'s table, as the table shows it."""
    return [cell for column in _key_columns(name) for cell in column[1:]]


def test_every_map_has_a_realistic_row_here() -> None:
    assert set(_entries()) == set(MAP_NAMES)


@pytest.mark.parametrize("name", MAP_NAMES)
def test_key_cells_are_whole_at_80_columns(name: str, monkeypatch) -> None:
    text = _rendered(monkeypatch, name)
    lines = text.splitlines()
    cells = _key_cells(name)
    assert cells, name
    for cell in cells:
        assert any(cell in line for line in lines), (name, cell, text)
    # the tables fit (a map's title is one line however long: the terminal folds it), unless
    # the key columns alone do not: km_endpoint's service and backend names (h103)
    assert all(len(line) <= max(WIDTH, _keys_width(name)) for line in lines if not line.startswith("km_")), text


def _keys_width(name: str) -> int:
    """The terminal's width, or the width of ``name``'s key columns alone (3 spaces between
    columns) when wider: km_endpoint's service and backend names, km_frontend's IPv6
    address and the pod name it leads to, km_authz_stats' policy name and count."""
    columns = _key_columns(name)
    return max(WIDTH, sum(max(len(text) for text in column) for column in columns) + 3 * (len(columns) - 1))


def test_km_endpoint_keeps_service_prio_index_and_backend_whole(monkeypatch) -> None:
    """BACKEND, km_endpoint's pod-name column, is a name column: kept whole as the keys
    are (h103: at 60 columns it was left out); the other columns are left out first."""
    text = _rendered(monkeypatch, ENDPOINT.name)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("SERVICE"))
    assert header.split()[:4] == ["SERVICE", "PRIO", "INDEX", "BACKEND"], text
    rows = [line for line in lines if line.startswith(NAMES[SVC_ID])]
    assert [row.split()[1:3] for row in rows] == [["0", "1"], ["0", "2"], ["1", "1"]], text
    assert all(row.split()[3] in NAMES.values() for row in rows), text  # each backend whole on its row
    assert "cluster.local" not in [line.strip() for line in lines], text  # the service never folds
    assert "(not shown at this width: OWN TARGET PORTS; -o wide shows every column)" in text, text


def test_km_endpoint_keeps_the_backend_whole_where_it_fits(monkeypatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "WIDTH", 100)
    text = _rendered(monkeypatch, ENDPOINT.name)
    lines = text.splitlines()
    assert next(line for line in lines if line.startswith("SERVICE")).split()[:4] == ["SERVICE", "PRIO", "INDEX",
                                                                                         "BACKEND"], text
    assert len([line for line in lines if line.startswith(NAMES[SVC_ID] + " ")]) == 3, text
    assert NAMES[POD_1] in text, text  # the backend whole (h103: it wrapped)
    assert all(len(line) <= max(100, _keys_width(ENDPOINT.name)) for line in lines if not line.startswith("km_")), text
