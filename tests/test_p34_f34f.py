"""Pass 34 (f34f): -q silences the empty-list notes (`No waypoints found`, `No pods in
namespace`, a dump's and sandbox status's); a $KUBECONFIG of separators alone (`:`) is as
unset; --context / --kubeconfig values are shell-quoted in their errors; `dump maps
--bpf-fs <A's> --admin-port <B's agent>` is refused as `--sandbox A --admin-port <B's>`
is; dump titles wrap between words; precheck --uninstall warns of a --cluster-id typed."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from rich.table import Table

from kmeshctl import sandboxes
from kmeshctl.kube import KubeTarget, kubeconfig_from_env
from kmeshctl.params import shown
from standin_apiserver import cluster, namespace  # noqa: F401 (fixtures)
from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixtures)
from test_p26_dump import _sandbox, maps_read  # noqa: F401 (fixture)

BACKTICKED = re.compile(r"`(kmeshctl [^`]*)`")


# ------------------------------------------------------------------ 1. -q and the empty-list notes


def test_quiet_silences_no_waypoints_found(cluster) -> None:  # noqa: F811
    from test_cli_cluster_context import gateway_crd

    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    listed = cluster.kmeshctl("waypoint", "list", "-n", "default")
    assert listed.code == 0 and listed.err == "No waypoints found in namespace default.\n", listed
    for args in (["waypoint", "list", "-n", "default", "-q"], ["-q", "waypoint", "list", "-A"]):
        listed = cluster.kmeshctl(*args)
        assert listed.code == 0 and listed.out == "" and listed.err == "", listed


def test_quiet_silences_no_pods_in_namespace(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("team-a"))
    enabled = cluster.kmeshctl("enable-ns", "team-a", "-q")
    assert enabled.code == 0 and enabled.out.strip() == "namespace team-a enrolled", enabled
    assert "No pods" not in enabled.err, enabled
    disabled = cluster.kmeshctl("disable-ns", "team-a", "-q")
    assert disabled.code == 0 and "No pods" not in disabled.err, disabled
    disabled = cluster.kmeshctl("disable-ns", "team-a")
    assert "No pods in namespace team-a." in disabled.err, disabled


@pytest.mark.parametrize("quiet", [False, True])
def test_quiet_silences_the_notes_of_empty_tables_and_sections(quiet, capsys, monkeypatch) -> None:
    from kmeshctl.cli import common
    from kmeshctl.cli.tables import cli_console, print_or_note
    from kmeshctl.dump import print_sections

    monkeypatch.setattr(common, "run_options", lambda ctx=None: KubeTarget(quiet=quiet))
    console = cli_console()
    print_or_note(console, "No pods in sandbox s.", Table("A"), lambda: None)
    print_sections(console, [("t", Table("A"), (), ())], False, "No services, workloads or authorization policies.",
                   quiet)  # the CLI passes -q down (kmeshctl.cli.dump)
    err = capsys.readouterr().err
    assert err == ("" if quiet else "No pods in sandbox s.\nNo services, workloads or authorization policies.\n")


# ------------------------------------------------------------------ 2. KUBECONFIG of separators alone


def test_kubeconfig_of_separators_alone_is_unset() -> None:
    assert kubeconfig_from_env(":") is None and kubeconfig_from_env("::") is None and kubeconfig_from_env("") is None
    assert kubeconfig_from_env(None) is None
    assert kubeconfig_from_env(":/a") == ":/a" and kubeconfig_from_env("/a") == "/a"


def test_kubeconfig_colon_is_the_default_kubeconfig(capsys, monkeypatch, tmp_path: Path, no_env,  # noqa: F811
                                                     state_root) -> None:  # noqa: F811
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.setattr("kmeshctl.kube.DEFAULT_KUBECONFIG", str(tmp_path / ".kube" / "config"))
    monkeypatch.setenv("KUBECONFIG", ":")
    code, _, err = cli(capsys, "status")
    assert code == 1 and "no cluster configured" in err and "names no file" not in err, err


def test_kubeconfig_colon_reaches_the_default_kubeconfig(cluster, monkeypatch) -> None:  # noqa: F811
    from test_cli_cluster_context import gateway_crd

    cluster.server.put(gateway_crd())
    monkeypatch.setattr("kmeshctl.kube.DEFAULT_KUBECONFIG", str(cluster.kubeconfig))
    monkeypatch.setenv("KUBECONFIG", ":")
    result = cluster.as_typed("kmeshctl", "waypoint", "list", "-A")
    assert result.code == 0 and result.err == "No waypoints found.\n", result


def test_kubeconfig_list_of_one_missing_file_names_the_variable(capsys, monkeypatch, no_env,  # noqa: F811
                                                                 state_root) -> None:  # noqa: F811
    monkeypatch.setenv("KUBECONFIG", ":/nonexist-f34f")
    code, _, err = cli(capsys, "status")
    assert code == 2 and err.startswith("Error: $KUBECONFIG=:/nonexist-f34f: /nonexist-f34f does not exist;"), err


# ------------------------------------------------------------------ 3. --context / --kubeconfig quoted


def test_context_and_kubeconfig_values_are_shell_quoted(cluster, monkeypatch, tmp_path: Path) -> None:  # noqa: F811
    spaced = tmp_path / "a kc.yaml"
    spaced.write_text(cluster.kubeconfig.read_text())
    result = cluster.as_typed("kmeshctl", "--kubeconfig", str(spaced), "--context", "my ctx", "status")
    assert result.code == 2, result
    assert result.err.startswith(f"Error: --context 'my ctx': no such context in {shown(spaced)} "), result
    missing = str(tmp_path / "no such.yaml")
    result = cluster.as_typed("kmeshctl", "--kubeconfig", missing, "status")
    assert result.code == 2 and result.err.startswith(f"Error: --kubeconfig {shown(missing)}: does not exist"), \
        result
    monkeypatch.setenv("KUBECONFIG", str(spaced))  # the variable is marked after the quoted path
    result = cluster.as_typed("kmeshctl", "--context", "my ctx", "status")
    assert f"no such context in {shown(spaced)} (from $KUBECONFIG) (contexts:" in result.err, result
    monkeypatch.setenv("KUBECONFIG", missing)
    result = cluster.as_typed("kmeshctl", "status")
    assert result.err.startswith(f"Error: $KUBECONFIG={shown(missing)}: does not exist;"), result


# ------------------------------------------------------------------ 4. --bpf-fs of A, --admin-port of B's agent


def test_bpf_fs_of_one_sandbox_and_admin_port_of_another_are_refused(capsys, no_env, state_root,  # noqa: F811
                                                                      maps_read, monkeypatch) -> None:  # noqa: F811
    a, b = _sandbox("f34f-a", 41001), _sandbox("f34f-b", 41002)
    for state in (a, b):
        state.bpffs.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr("kmeshctl.nodecheck.bpffs_mounted", lambda path=None: True)
    code, out, err = cli(capsys, "dump", "maps", "--bpf-fs", str(a.bpffs), "--admin-port", "41002", "--map",
                         "km_manage")
    assert code == 2 and not out and not maps_read, err
    assert "the directory is sandbox f34f-a's bpffs, the port sandbox f34f-b's node agent admin port" in err, err
    assert [shlex.split(line) for line in BACKTICKED.findall(err)] == [
        ["kmeshctl", "dump", "maps", "--sandbox", "f34f-a", "--map", "km_manage"],
        ["kmeshctl", "dump", "maps", "--sandbox", "f34f-b", "--map", "km_manage"]], err


def test_bpf_fs_and_admin_port_of_one_sandbox_are_accepted(capsys, no_env, state_root,  # noqa: F811
                                                           maps_read, monkeypatch) -> None:  # noqa: F811
    a = _sandbox("f34f-a", 41001)
    a.bpffs.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr("kmeshctl.nodecheck.bpffs_mounted", lambda path=None: True)
    monkeypatch.setattr(sandboxes, "check_data_path", lambda state: None)
    code, _, err = cli(capsys, "dump", "maps", "--bpf-fs", str(a.bpffs), "--admin-port", "41001", "--map",
                       "km_endpoint")
    assert code == 0 and "node agent admin port" not in err, err


# ------------------------------------------------------------------ 5. titles wrap between words


def test_dump_titles_wrap_between_words_with_their_style() -> None:
    from kmeshctl.dump import title_lines

    title = "[bold]km_endpoint[/bold]: endpoint slots (1-based per priority group) (2 of 105000 entries)"
    lines = title_lines(title, 40)
    assert [line.plain for line in lines] == ["km_endpoint: endpoint slots (1-based per",
                                              "priority group) (2 of 105000 entries)"]
    assert [(s.start, s.end, s.style) for s in lines[0].spans] == [(0, 11, "bold")]
    assert [line.plain for line in title_lines(title, 200)] == [
        "km_endpoint: endpoint slots (1-based per priority group) (2 of 105000 entries)"]
    assert [line.plain for line in title_lines("[bold]km_endpoint[/bold]:", 5)] == ["km_endpoint:"]  # never split


# ------------------------------------------------------------------ 6. precheck --uninstall --cluster-id


def test_precheck_uninstall_warns_of_cluster_id(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("precheck", "--uninstall", "--cluster-id", "x")
    assert "Warning: --cluster-id has no effect with --uninstall" in result.err, result
    result = cluster.kmeshctl("precheck", "--uninstall", "--cluster-id", "x", "-o", "json")
    assert "Warning: --cluster-id has no effect with --uninstall" in result.err, result
    json.loads(result.out)
    for args in (["--uninstall"], ["--cluster-id", "x"]):
        result = cluster.kmeshctl("precheck", *args)
        assert "has no effect" not in result.err, result
