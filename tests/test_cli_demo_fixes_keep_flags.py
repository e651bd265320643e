"""Helper h62, the demo's and dump's suggested fixes, one test per kind: 1 a sandbox
without the demo's manifests gets a new sandbox, never a `down` of the user's; 2 every
suggested demo re-run keeps the flags the user typed (half-removed, not ready, not
found); `dump config WORD` without a cluster reads WORD locally; 3-6 `dump maps` /
`dump config` cells and JSON; 7 --plot DIR and --weights 90.5/9.5 in plain words;
8 `node preflight`'s empty fix is `<none>` / null.

Sandbox records live in a temporary state root (test_cli_kinds' `state_root`); nothing
is started."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from kmeshctl import demo, nodecheck
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.state import PHASE_REMOVING
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_local_tools import _agent_record, _fortio_record
from test_cli_newuser import _record

BACKTICKED = re.compile(r"`(kmeshctl [^`]*)`")


def _fixes(err: str) -> list[list[list[str]]]:
    """Each backticked kmeshctl command of ``err``, as its `&&`-separated commands' words."""
    return [[shlex.split(part) for part in found.split(" && ")] for found in BACKTICKED.findall(err)]


def _value(words: list[str], *flags: str) -> str | None:
    return next((words[i + 1] for i, w in enumerate(words[:-1]) if w in flags), None)


# ------------------------------------------------------------------ 1. a new sandbox, not the user's


def test_a_sandbox_without_fortio_gets_the_demo_in_a_new_sandbox_with_the_flags_typed(state_root, capsys,
                                                                                     no_env) -> None:
    _record("h57b", (("netutils-0", False),))  # the user's own workload
    _record("h57b-demo", (("netutils-0", False),))  # the first name is taken: the next one is offered
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h57b", "-c", "1", "--weights", "90/10")
    assert code == 1 and not out and "sandbox h57b has no fortio Service" in err, err
    [[up, rerun]] = _fixes(err)
    assert up == ["kmeshctl", "sandbox", "up", "--name", "h57b-demo2"], err
    assert rerun[:3] == ["kmeshctl", "demo", "traffic-shift"] and _value(rerun, "--sandbox") == "h57b-demo2"
    assert _value(rerun, "-c", "--requests") == "1" and _value(rerun, "--weights") == "90/10", rerun
    assert "down" not in err and "-f" not in up and "--name h57b " not in err, err


def test_a_new_sandbox_name_is_a_valid_one_not_in_use(state_root, no_env) -> None:
    long = "a" * state_mod.NAME_MAX
    for base in ("kmesh", long, "ab-cdefghijklmno"):
        name = demo.free_sandbox_name(base)
        assert state_mod.check_name(name) == name and name not in (base,), name
    first = demo.free_sandbox_name(long)
    _record(first)  # taken now: the next one is another valid name
    second = demo.free_sandbox_name(long)
    assert second != first and state_mod.check_name(second) == second, (first, second)


# ------------------------------------------------------------------ 2. re-runs keep the typed flags


def test_a_half_removed_sandbox_fix_reruns_the_demo_with_sandbox_and_flags(state_root, capsys, no_env,
                                                                          monkeypatch) -> None:
    from kmeshctl.sandbox import sandbox as sandbox_mod

    monkeypatch.setattr(sandbox_mod, "require_root", lambda: None)
    state = _fortio_record("h57b")
    state.phase = PHASE_REMOVING
    state.save()
    code, _, err = cli(capsys, "demo", "traffic-shift", "--name", "h57b", "-c", "2", "-o", "json")
    assert code == 1 and "half-removed" in err, err
    [commands] = _fixes(err)
    rerun = commands[-1]
    assert rerun[:3] == ["kmeshctl", "demo", "traffic-shift"] and _value(rerun, "--name") == "h57b", err
    assert "--sandbox" not in rerun and _value(rerun, "-c") == "2" and _value(rerun, "-o") == "json", rerun


def test_a_sandbox_not_ready_fix_ends_with_the_demo_rerun(state_root, tmp_path: Path, capsys, no_env) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        _fortio_record("dead", processes=[_agent_record(tmp_path, sleeper.pid, "")])
    finally:
        sleeper.kill()
        sleeper.wait()
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "dead", "-c", "3", "-q")
    assert code == 1 and "is not ready" in err, err
    remake = next(f for f in _fixes(err) if len(f) > 1)
    assert remake[0][:3] == ["kmeshctl", "sandbox", "down"] and remake[1][:3] == ["kmeshctl", "sandbox", "up"]
    rerun = remake[-1]
    assert _value(rerun, "--sandbox") == "dead" and _value(rerun, "-c") == "3" and "-q" in rerun, rerun


def test_a_sandbox_not_found_fix_makes_it_and_runs_the_demo_there(state_root, capsys, no_env) -> None:
    _fortio_record("alpha")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "nope", "-c", "4", "--plot", "/tmp/h62.png")
    assert code == 1 and "sandbox nope not found (sandboxes: alpha)" in err, err
    [[up, rerun]] = _fixes(err)
    assert up == ["kmeshctl", "sandbox", "up", "--name", "nope"], err
    assert _value(rerun, "--sandbox") == "nope" and _value(rerun, "-c") == "4", rerun
    assert _value(rerun, "--plot") == "/tmp/h62.png", rerun


def test_the_rerun_outside_a_demo_run_is_the_bare_command() -> None:
    assert demo.rerun_command("x") == "kmeshctl demo traffic-shift --sandbox x"


# ------------------------------------------------------------------ 7. flag values in plain words


def test_plot_of_a_directory_says_it_is_one(capsys, tmp_path: Path, no_env) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", "--plot", str(tmp_path))
    assert code == 2 and not out and f"--plot {tmp_path}: is a directory; give a .png file name" in err, err


@pytest.mark.parametrize("value,meant", [("90.5/9.5", "90/10"), ("90/x", "90/10"), ("90/10,x", "90/10,50/50")])
def test_weights_not_whole_numbers_say_so_once(capsys, value: str, meant: str, no_env) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--weights", value)
    line = err.strip().splitlines()[0]
    assert code == 2 and "weights must be whole numbers" in line and f"e.g. {meant}" in line, line
    assert line.count("separated by") == 1 and "not integers" not in line, line


# ------------------------------------------------------------------ 8. preflight's empty fix


def test_preflight_fix_is_null_in_json_and_none_in_tables(capsys, monkeypatch, no_env) -> None:
    results = [nodecheck.CheckResult("root", True, "running as root"),
               nodecheck.CheckResult("bpffs", False, "not mounted: mount it with `mount -t bpf bpf /sys/fs/bpf`")]
    monkeypatch.setattr(nodecheck, "run_preflight", lambda mount_missing: results)
    code, out, _ = cli(capsys, "node", "preflight", "-o", "json")
    checks = json.loads(out)["checks"]
    assert code == 1 and checks[0]["fix"] is None and checks[1]["fix"].startswith("mount it"), checks
    code, out, _ = cli(capsys, "node", "preflight")
    root = next(line for line in out.splitlines() if line.startswith("root"))
    assert code == 1 and root.split()[-1] == "<none>", out


# ------------------------------------------------------------------ 2. `dump config WORD` read locally


def test_dump_config_word_without_a_cluster_suggests_what_works_here(state_root, capsys, monkeypatch,
                                                                      tmp_path: Path, no_env) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config: no cluster configured
    code, _, err = cli(capsys, "dump", "config", "extra")
    assert code == 2 and "--pod extra`" not in err and "`kmeshctl dump config`" in err, err
    assert "needs a cluster, none is configured" in err, err
    _record("extra")
    code, _, err = cli(capsys, "dump", "config", "extra")
    assert code == 2 and "`kmeshctl dump config --sandbox extra`" in err, err
    code, _, err = cli(capsys, "dump", "config", "services")
    assert code == 2 and "`kmeshctl dump config -o json`" in err and "--pod" not in err, err


def test_dump_config_word_with_a_cluster_is_still_read_as_a_pod(state_root, capsys, monkeypatch,
                                                                 tmp_path: Path, no_env) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("apiVersion: v1\nkind: Config\n")
    code, _, err = cli(capsys, "dump", "config", "kmesh-5jnht")
    assert code == 2 and "`kmeshctl dump config --pod kmesh-5jnht`" in err, err


# ------------------------------------------------------------------ 3-6. dump tables and JSON


def _backend_and_service_tables(columns: int, wide: bool = False) -> str:
    import io
    import ipaddress
    import os

    from kmeshctl import dump
    from kmeshctl.cli.tables import PipeFriendlyConsole
    from kmeshctl.maps import BACKEND, SERVICE, BackendKey, BackendValue, LbPolicy, ServiceKey, ServiceValue

    os.environ["COLUMNS"] = str(columns)
    ip = ipaddress.ip_address
    backends = [(BackendKey(2), BackendValue((ip("10.244.0.3"),), (1, 4), 774230474)),
                (BackendKey(774230474), BackendValue((ip("10.244.0.9"),), ()))]
    services = [(ServiceKey(1), ServiceValue(lb_policy=LbPolicy.RANDOM, ports=((80, 8080),), waypoint_id=774230474))]
    buffer = io.StringIO()
    console = PipeFriendlyConsole(file=buffer, force_terminal=True, color_system=None)
    dump.render_tables([dump.MapDump(BACKEND, backends), dump.MapDump(SERVICE, services)], _Ids(), console,
                       wide=wide)  # type: ignore[arg-type]
    return buffer.getvalue()


class _Ids:
    names = {1: "default/fortio.default.svc.cluster.local", 2: "Kubernetes//Pod/default/fortio-v1-0",
             774230474: "Kubernetes//Pod/default/waypoint", 4: "default/netutils.default.svc.cluster.local"}

    def name_of(self, id_: int) -> str | None:
        return self.names.get(id_)

    def kind_of(self, id_: int):  # type: ignore[no-untyped-def]
        from kmeshctl.maps import IdKind

        return IdKind(1) if id_ == 774230474 else None


def _at_boundaries(piece: str, name: str) -> bool:
    """``piece`` starts and ends where ``name`` may fold: its ends or right after a / or ."""
    bounds = {0, len(name)} | {m.end() for m in re.finditer(r"[/.]", name)}
    return any(name.startswith(piece, i) and i + len(piece) in bounds for i in bounds)


@pytest.mark.parametrize("columns", [80, 60, 50])
def test_names_fold_only_at_slash_and_dot(columns: int, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    text = _backend_and_service_tables(columns)
    assert not re.search(r"fortio\.def\s|\bault\.svc", text), text  # the new-user pass's cut
    for line in text.splitlines():
        assert len(line) <= columns or line.startswith("km_"), text
        for piece in (p.rstrip(",") for p in line.split()):
            for name in _Ids.names.values():
                if len(piece) > 2 and piece in name:
                    assert _at_boundaries(piece, name) or any(_at_boundaries(piece, n) for n in _Ids.names.values()
                                                              if piece in n), (piece, text)


def test_the_waypoint_id_is_wide_only(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    narrow = _backend_and_service_tables(200)
    assert "Kubernetes//Pod/default/waypoint" in narrow and "774230474" not in narrow, narrow
    assert "WAYPOINT ID" not in narrow, narrow
    wide = _backend_and_service_tables(80, wide=True)
    assert "WAYPOINT ID" in wide and "774230474" in wide, wide


@pytest.mark.parametrize("lb,cell", [({}, "RANDOM (default)"), ({"mode": "STRICT"}, "STRICT"),
                                     ({"routing_preference": ["REGION", "ZONE"]}, "FAILOVER (default) REGION ZONE"),
                                     ({"mode": "FAILOVER", "routing_preference": ["NODE"]}, "FAILOVER NODE")])
def test_the_lb_cell_names_the_mode_that_applies(lb: dict, cell: str) -> None:
    from kmeshctl.config_dump import lb_text

    assert lb_text(lb) == cell


def test_map_json_carries_each_maps_size() -> None:
    from kmeshctl import dump
    from kmeshctl.maps import MANAGE, ManageKey, ManageValue

    data = dump.to_json([dump.MapDump(MANAGE, [(ManageKey(7), ManageValue())])], _Ids(), {})  # type: ignore[arg-type]
    assert data["sizes"] == {"km_manage": {"entries": 1, "capacity": MANAGE.max_entries}}, data


def test_preflight_all_passing_leaves_the_fix_column_out(capsys, monkeypatch, no_env) -> None:
    monkeypatch.setattr(nodecheck, "run_preflight", lambda mount_missing: [nodecheck.CheckResult("root", True, "ok")])
    code, out, _ = cli(capsys, "node", "preflight")
    assert code == 0 and "FIX" not in out and "<none>" not in out, out
