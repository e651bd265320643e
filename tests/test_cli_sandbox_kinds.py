"""Issue 14, fifth new-user pass: sandbox discovery and not-found, one test per kind of
fault, across every command it reaches (kmeshctl.cli.main in-process, or the console
script; sandbox records in a temporary state root instead of /run/kmeshctl, so no real
sandbox is touched; the stand-in API server where a cluster must answer).

1 a missing POD of `sandbox exec`; 2a a --bpf-fs that is a sandbox's; 2b
$KMESHCTL_SANDBOX_NAME honoured by every command that chooses a sandbox; 2c one rule for
a sandbox that does not exist (NotFound, exit 1) and a malformed name (exit 2); 2d one
not-found rule for deletes; 5 a directory without our maps names the map asked for."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kmeshctl import dump as dumper
from kmeshctl import sandboxes
from kmeshctl.maps import MAP_NAMES, MapMissingError
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env, run, state_root  # noqa: F401
from test_cli_newuser import _record

PODS = (("waypoint", True), ("fortio-v1-0", False), ("netutils-0", False))

# Every command that names a sandbox, with the flag it names it by.
NAMING = [
    (["sandbox", "status"], "--name"),
    (["sandbox", "down"], "--name"),
    (["sandbox", "exec", "netutils-0"], "--name"),
    (["dump", "maps"], "--sandbox"),
    (["dump", "config"], "--sandbox"),
    (["demo", "traffic-shift", "--target", "local", "-c", "1"], "--name"),
]
AFTER = {"exec": ["--", "true"]}  # what goes after the flags


# ------------------------------------------------------------------ 1. POD is required


@pytest.mark.parametrize("args", [
    ["--name", "alpha", "--", "true"],  # click would take `true` for the pod
    ["--name", "alpha"],
    ["-n", "default", "--name", "alpha", "--", "ip", "addr"],  # an option's value is no pod
    ["-it", "--name", "alpha", "--", "sh"],
])
def test_exec_without_a_pod_says_pod_is_required_and_lists_the_pods(args: list[str], state_root, capsys,
                                                                    no_env) -> None:
    _record("alpha", PODS)
    code, out, err = cli(capsys, "sandbox", "exec", *args)
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert err.startswith("Error: POD is required") and "give the command" not in err, err
    assert "the pods of sandbox alpha: waypoint, fortio-v1-0, netutils-0" in err, err


def test_exec_without_a_pod_in_a_sandbox_that_does_not_exist_says_both(state_root, capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "exec", "--name", "x", "--", "true")
    assert code == 2 and err.startswith("Error: POD is required") and "sandbox x not found" in err, err


# ------------------------------------------------------------------ 2a. --bpf-fs of a sandbox


def test_a_bpf_fs_that_is_a_sandboxs_uses_that_sandboxs_agent(state_root, no_env) -> None:
    alpha = _record("alpha", PODS)
    alpha.agent = {"admin": "127.0.0.1:41234"}
    alpha.save()
    _record("beta")
    target = sandboxes.local_target(alpha.bpffs, None, None)
    assert target.sandbox is not None and target.sandbox.name == "alpha" and target.admin_port == 41234
    # spelled differently, the same directory
    odd = Path(str(alpha.bpffs.parent)) / ".." / alpha.bpffs.parent.name / alpha.bpffs.name
    alpha.bpffs.mkdir(parents=True)
    assert sandboxes.local_target(odd, None, None).admin_port == 41234
    # a typed --admin-port still wins; a directory of no sandbox has none
    assert sandboxes.local_target(alpha.bpffs, 9, None).admin_port == 9
    other = sandboxes.local_target(Path("/sys/fs/bpf"), None, None)
    assert other.sandbox is None and other.admin_port is None


# ------------------------------------------------------------------ 2b + 2c. one rule for a missing sandbox


@pytest.mark.parametrize("words,flag", NAMING, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_a_sandbox_that_does_not_exist_is_not_found_exit_1_everywhere(words: list[str], flag: str, state_root,
                                                                      capsys, no_env) -> None:
    _record("alpha", PODS)  # another sandbox is up: the demo must not make the missing one
    code, out, err = cli(capsys, *words, flag, "zz9none", *AFTER.get(words[1], []))
    assert code == 1 and not out and len(err.strip().splitlines()) == 1, err
    assert "zz9none" in err and ("not found" in err or "no such sandbox" in err) and "alpha" in err, err
    assert sandboxes.names() == ["alpha"]


@pytest.mark.parametrize("words,flag", NAMING, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_a_malformed_sandbox_name_is_bad_input_exit_2_everywhere(words: list[str], flag: str, state_root,
                                                                 capsys, no_env) -> None:
    code, _, err = cli(capsys, *words, flag, "Bad!", *AFTER.get(words[1], []))
    assert code == 2 and "not a sandbox name" in err, err


@pytest.mark.parametrize("words", [w for w, _ in NAMING if w[0] != "demo"], ids=" ".join)
def test_every_command_that_chooses_a_sandbox_honours_the_environment(words: list[str], state_root, capsys,
                                                                      monkeypatch, no_env) -> None:
    _record("alpha", PODS)
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "zz9env")
    code, _, err = cli(capsys, *words, *AFTER.get(words[1], []))
    assert code == 1 and "zz9env" in err and "$KMESHCTL_SANDBOX_NAME" in err, err


def test_dump_takes_the_sandbox_of_the_environment_and_typed_places_win(state_root, capsys, monkeypatch,
                                                                        no_env) -> None:
    _record("alpha", PODS)  # its agent's admin address: 127.0.0.1:1, where nothing answers
    _record("beta")  # two sandboxes: without the variable, dump would ask which
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "alpha")
    code, _, err = cli(capsys, "dump", "config")
    assert code == 1 and "the node agent of sandbox alpha (from $KMESHCTL_SANDBOX_NAME) does not answer" in err, err
    code, _, err = cli(capsys, "dump", "config", "--admin-port", "2")  # typed: this node's agent at :2
    assert code == 1 and "the node agent of sandbox alpha" not in err and "several sandboxes" not in err, err
    assert "or leave out --admin-port" in err, err  # without it: $KMESHCTL_SANDBOX_NAME's sandbox (p30)


def test_dump_with_the_environment_and_a_typed_bpf_fs_reads_the_typed_one(state_root, capsys, monkeypatch,
                                                                           no_env) -> None:
    if any((Path("/sys/fs/bpf") / name).exists() for name in MAP_NAMES):
        pytest.skip("/sys/fs/bpf holds maps of a data path")
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "zz9env")
    code, _, err = cli(capsys, "dump", "maps", "--bpf-fs", "/sys/fs/bpf", "--map", "km_idreg")
    assert code == 1 and "/sys/fs/bpf" in err and "zz9env" not in err, err


def test_down_of_a_missing_sandbox_still_says_ignore_not_found(state_root, capsys, no_env) -> None:
    code, _, err = cli(capsys, "sandbox", "down", "--name", "zz9none")
    assert code == 1 and "--ignore-not-found" in err, err
    code, out, err = cli(capsys, "sandbox", "down", "--name", "zz9none", "--ignore-not-found")
    assert code == 0 and not out and not err


def test_the_exit_code_rule_is_in_the_docs() -> None:
    docs = (Path(__file__).resolve().parent.parent / "docs" / "usage.md").read_text()
    row = next(line for line in docs.splitlines() if line.startswith("| `1` |"))
    assert "NotFound" in row and "sandbox" in row and "waypoint delete" in row
    assert "idempotent" in docs and "`uninstall`" in docs


# ------------------------------------------------------------------ 2d. one not-found rule for deletes


def test_waypoint_delete_of_a_missing_waypoint_is_not_found_unless_ignored(cluster) -> None:  # noqa: F811
    from test_cli_cluster_context import gateway_crd

    cluster.server.put(gateway_crd())  # a cluster that serves the Gateway API (without it: that error)
    cluster.server.put(namespace("default"))  # an existing namespace (a missing one is exit 2: f37b)
    missing = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "zz9none")
    assert missing.code == 1 and not missing.out, missing
    # the suggested command works when pasted: it keeps --kubeconfig, and -n never goes with -A
    assert missing.err.strip() == ("Error: waypoint default/zz9none not found (waypoints in default: none; see "
                                   f"`kmeshctl --kubeconfig {cluster.kubeconfig} waypoint list -A`); "
                                   f"`kmeshctl --kubeconfig {cluster.kubeconfig} waypoint delete -n default --name "
                                   "zz9none --ignore-not-found` makes this exit 0"), \
        missing.err
    ignored = cluster.kmeshctl("waypoint", "delete", "-n", "default", "--name", "zz9none", "--ignore-not-found")
    assert ignored.code == 0 and ignored.out.strip() == \
        "Nothing to delete: waypoint default/zz9none does not exist.", ignored


def test_every_delete_takes_ignore_not_found() -> None:
    from test_cli_kinds import ROOT

    for path in (("sandbox", "down"), ("waypoint", "delete")):
        command = ROOT.commands[path[0]].commands[path[1]]
        assert any("--ignore-not-found" in p.opts for p in command.params), path


# ------------------------------------------------------------------ 5. the map asked for, and where


def test_a_directory_without_our_maps_names_the_map_asked_for(tmp_path: Path) -> None:
    for name in ("km_idreg", "km_manage", "km_backend"):
        with pytest.raises(MapMissingError) as err:
            dumper.dump_json(tmp_path, name)
        assert str(err.value).startswith(f"no pinned map {name} in {tmp_path}"), err.value
    with pytest.raises(MapMissingError) as err:
        dumper.dump_json(tmp_path)
    assert str(err.value).startswith(f"no map of the data path is pinned in {tmp_path}"), err.value


def test_a_map_asked_for_that_is_there_names_the_one_that_is_missing(tmp_path: Path) -> None:
    for name in MAP_NAMES:
        if name != "km_idreg":
            (tmp_path / name).touch()  # the presence check only looks; nothing is opened
    with pytest.raises(MapMissingError) as err:
        dumper.check_pinned(tmp_path, "km_backend")
    assert str(err.value).startswith(f"no pinned map km_idreg in {tmp_path} (needed beside km_backend"), err.value


def test_dump_maps_of_a_bpffs_without_our_maps_names_the_map_and_the_directory() -> None:
    if os.geteuid() != 0 or any((Path("/sys/fs/bpf") / name).exists() for name in MAP_NAMES):
        pytest.skip("needs root and a /sys/fs/bpf without a data path's maps")
    result = run("dump", "maps", "--bpf-fs", "/sys/fs/bpf", "--map", "km_idreg")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: no pinned map km_idreg in /sys/fs/bpf"), result.stderr
    assert "km_frontend" not in result.stderr
