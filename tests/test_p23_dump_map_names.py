"""`dump maps --map km_authz_rule|km_authz_stats` names the policies as the whole dump does
(tester pass 23): the policy names live in km_authz_pol, which must be read to decode the
narrowed map though it is not shown. No root: the pinned maps are stood in for."""

from __future__ import annotations

import re

import io
import ipaddress
from pathlib import Path

import pytest
from rich.console import Console

from kmeshctl import dump as dumper
from kmeshctl.maps import (AUTHZ_POL, AUTHZ_RULE, AUTHZ_STATS, IDREG, MAP_NAMES, AuthzPolKey, AuthzPolValue,
                           AuthzRuleKey, AuthzRuleValue, AuthzStatKey, AuthzStatValue, AuthzVerdict)

DENY_NOTHING, ALLOW_TEAM = "team-a/deny-nothing", "team-a/allow-team"


class _Map:
    def __init__(self, entries: dict) -> None:
        self._entries = entries

    def items(self) -> list:
        return list(self._entries.items())


class _PinnedMaps:
    """What dump_json / print_tables read of DataplaneMaps: ``maps`` by name; as the id
    registry's map (IdRegistry reads ``items()``) it is km_idreg, empty here."""

    def __init__(self, bpf_fs: Path) -> None:
        self.maps = {name: _Map({}) for name in MAP_NAMES}
        self.maps[AUTHZ_POL.name] = _Map({AuthzPolKey(1): AuthzPolValue(DENY_NOTHING, action=1),
                                          AuthzPolKey(2): AuthzPolValue(ALLOW_TEAM, action=0)})
        net = ipaddress.ip_network("::ffff:10.244.0.0/120")
        self.maps[AUTHZ_RULE.name] = _Map({
            AuthzRuleKey(1, 0, net): AuthzRuleValue(AuthzVerdict.DENY_POLICY, 1, AuthzVerdict.DENY_POLICY, 1),
            AuthzRuleKey(2, 0, net): AuthzRuleValue(AuthzVerdict.ALLOW_POLICY, 2, AuthzVerdict.ALLOW_POLICY, 2),
        })
        self.maps[AUTHZ_STATS.name] = _Map({AuthzStatKey(1, AuthzVerdict.DENY_POLICY): AuthzStatValue(4),
                                            AuthzStatKey(2, AuthzVerdict.ALLOW_POLICY): AuthzStatValue(7)})

    def items(self) -> list:
        return self.maps[IDREG.name].items()

    def __enter__(self) -> "_PinnedMaps":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.fixture
def bpf_fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in MAP_NAMES:  # check_pinned looks for every map's pin
        (tmp_path / name).touch()
    monkeypatch.setattr(dumper, "DataplaneMaps", _PinnedMaps)
    return tmp_path


def _tables(bpf_fs: Path, name: str | None) -> str:
    out = io.StringIO()
    dumper.print_tables(bpf_fs, name, Console(file=out, width=200, highlight=False, color_system=None))
    return out.getvalue()


def _section(text: str, name: str) -> str:
    return next(part for part in text.split("\n\n") if part.startswith(f"{name}:"))


def test_map_km_authz_rule_table_names_the_policies(bpf_fs: Path) -> None:
    text = _tables(bpf_fs, AUTHZ_RULE.name)
    rows = [line.split() for line in text.splitlines()[2:] if line.strip()]
    assert [row[4:6] for row in rows] == [["DENY_POLICY", DENY_NOTHING], ["ALLOW_POLICY", ALLOW_TEAM]], text
    assert not re.search(r"\bpolicy \d", text), text  # no id left unnamed
    assert AUTHZ_POL.name not in text  # read to name the ids, not shown


def test_map_km_authz_stats_table_names_the_policies(bpf_fs: Path) -> None:
    text = _tables(bpf_fs, AUTHZ_STATS.name)
    rows = [line.split()[0] for line in text.splitlines()[2:] if line.strip()]
    assert rows == [DENY_NOTHING, ALLOW_TEAM]
    assert AUTHZ_POL.name not in text


@pytest.mark.parametrize("name", [AUTHZ_RULE.name, AUTHZ_STATS.name])
def test_map_table_is_the_whole_dumps_section(bpf_fs: Path, name: str) -> None:
    assert _tables(bpf_fs, name).strip() == _section(_tables(bpf_fs, None), name).strip()


def test_map_json_names_the_policies(bpf_fs: Path) -> None:
    rule = dumper.maps_output(dumper.dump_json(bpf_fs, AUTHZ_RULE.name))[AUTHZ_RULE.name]
    assert [(row["value"]["policyName"], row["value"]["shadowPolicyName"]) for row in rule] == \
        [(DENY_NOTHING, DENY_NOTHING), (ALLOW_TEAM, ALLOW_TEAM)]
    stats = dumper.maps_output(dumper.dump_json(bpf_fs, AUTHZ_STATS.name))[AUTHZ_STATS.name]
    assert [row["key"]["policyName"] for row in stats] == [DENY_NOTHING, ALLOW_TEAM]


@pytest.mark.parametrize("name", MAP_NAMES)
def test_map_json_rows_are_the_whole_dumps(bpf_fs: Path, name: str) -> None:
    whole = dumper.dump_json(bpf_fs)
    narrowed = dumper.dump_json(bpf_fs, name)
    assert set(narrowed) == {name, dumper.SIZES}
    assert narrowed[name] == whole[name]
    assert narrowed[dumper.SIZES] == {name: whole[dumper.SIZES][name]}


@pytest.mark.parametrize("name", [AUTHZ_RULE.name, AUTHZ_STATS.name])
def test_an_agents_dump_narrowed_by_map_names_the_policies(bpf_fs: Path, name: str) -> None:
    """`dump maps --pod P --map km_authz_rule`: the agent's whole dump is read, its
    km_authz_pol names the ids of the one map shown."""
    from kmeshctl import config_dump

    out = io.StringIO()
    config_dump.print_maps_json_as_tables(dumper.dump_json(bpf_fs), name,
                                          Console(file=out, width=200, highlight=False, color_system=None))
    text = out.getvalue()
    assert DENY_NOTHING in text and ALLOW_TEAM in text and "policy 1" not in text, text
    assert AUTHZ_POL.name not in text, text
