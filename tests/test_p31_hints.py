"""Pass 31 (a kubectl user, no cluster): a global or leading flag whose value was left out,
so it took the command as its value, gets the line the user meant; install on a cluster
with no Istio at all says so (exit 1), blaming --istio-namespace only when it names
another namespace; several names to a waypoint command and a namespace with spaces get
lines to paste; install --dry-run=client's render line keeps -q."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest

from standin import StandinApiServer, istiod_service, namespace, node, start_cluster
from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixtures)


@pytest.fixture
def offline(tmp_path: Path, monkeypatch, no_env, state_root) -> Path:  # noqa: F811
    """No cluster configured (HOME without a kubeconfig, not in a pod), no sandbox."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def _one_line(err: str) -> str:
    [line] = [ln for ln in err.splitlines() if ln.strip()]
    return line


def _pasted(line: str) -> list[str]:
    """The words of the first backticked `kmeshctl ...` of ``line``."""
    return shlex.split(line.split("`")[1])


# -- 1: a valued flag before the command that took the command as its value --------------------


@pytest.mark.parametrize("typed, meant", [
    ("--kubeconfig status", ["kmeshctl", "status", "--kubeconfig"]),
    ("--context status", ["kmeshctl", "status", "--context"]),
    ("--request-timeout status", ["kmeshctl", "status", "--request-timeout"]),
    ("--kubeconfig enable-ns enable-ns", ["kmeshctl", "enable-ns", "default", "--kubeconfig"]),
    ("--kubeconfig enable-ns foo", ["kmeshctl", "enable-ns", "foo", "--kubeconfig"]),
    ("--kubeconfig status status -o json", ["kmeshctl", "status", "-o", "json", "--kubeconfig"]),
    ("-n status", ["kmeshctl", "status", "-n"]),
    ("-q -n waypoint list", ["kmeshctl", "-q", "waypoint", "list", "-n"]),
])
def test_1_a_flag_that_took_the_command_as_its_value_needs_a_value(typed: str, meant: list[str], capsys,
                                                                   offline) -> None:
    code, _, err = cli(capsys, *shlex.split(typed))
    assert code == 2, err
    line = _one_line(err)
    flag = meant[-1]
    assert f"{flag} needs a value" in line and "not the command" in line, line
    if "`" not in line:  # pass 44 (t43b 7): no real value to give (no kubeconfig here): what to fill in, in words
        said = line.partition(" filled in: ")[2].partition(" (see ")[0]
        assert said and shlex.split(said)[:len(meant)] == meant, line
        return
    words = _pasted(line)
    assert words[:len(meant)] == meant, line
    assert words[len(meant)] not in ("status", "enable-ns", "waypoint"), line  # a value, never the command


def test_1_the_flag_is_left_out_where_the_command_meant_takes_none(capsys, offline) -> None:
    code, _, err = cli(capsys, "-n", "enable-ns", "foo")
    assert code == 2
    line = _one_line(err)
    assert "-n needs a value" in line and "enable-ns takes no -n" in line, line
    assert _pasted(line) == ["kmeshctl", "enable-ns", "foo"], line


def test_1_a_value_that_is_a_command_with_a_command_after_it_is_the_value(capsys, offline) -> None:
    code, _, err = cli(capsys, "--context", "status", "status")  # the context `status`: looked up
    assert code == 2 and "--context status: no kubeconfig" in err, err
    code, _, err = cli(capsys, "-o", "status")  # -o's values are choices: its own line, as before
    assert code == 2 and "-o needs a value (-o table|wide|json|yaml)" in err, err


def test_1_a_help_line_still_shows_help(capsys, offline) -> None:
    code, out, _ = cli(capsys, "--kubeconfig", "status", "--help")
    assert code == 0 and "Usage:" in out, out


# -- 2: install on a cluster with no Istio -------------------------------------------------------


def _no_istio(tmp_path: Path, capsys: Any, *namespaces: str) -> Any:
    server = StandinApiServer(crds=[])
    for name in namespaces:
        server.put(namespace(name))
    server.put(node("node-a"))
    return start_cluster(tmp_path, capsys, server)


@pytest.mark.parametrize("extra", [[], ["--dry-run"], ["--xds-address", "istiod.istio-system.svc:15012"]])
def test_2_install_on_a_cluster_without_istio_says_so_and_how_to_get_it(tmp_path: Path, capsys: Any,
                                                                       extra: list[str]) -> None:
    cluster = _no_istio(tmp_path, capsys)
    try:
        result = cluster.kmeshctl("install", "--cluster-id", "c1", *extra)
    finally:
        cluster.server.stop()
    assert result.code == 1, result
    line = _one_line(result.err)
    assert line.startswith("Error: no Istio found in the cluster"), line
    assert "--istio-namespace istio-system:" not in line, line
    assert "install Istio or add the cluster to an ASM instance" in line, line
    assert "--istio-namespace" in line, line  # how to name Istio's namespace when it has another name


def test_2_a_typed_istio_namespace_that_does_not_exist_is_still_bad_input(tmp_path: Path, capsys: Any) -> None:
    cluster = _no_istio(tmp_path, capsys)
    try:
        result = cluster.kmeshctl("install", "--cluster-id", "c1", "--istio-namespace", "istio-sytem")
    finally:
        cluster.server.stop()
    assert result.code == 2, result
    assert "--istio-namespace istio-sytem: no such namespace" in result.err, result


def test_2_istiod_in_another_namespace_is_named_with_the_line(tmp_path: Path, capsys: Any) -> None:
    cluster = _no_istio(tmp_path, capsys, "istio-1")
    cluster.server.put(istiod_service("istiod", "istio-1"))
    try:
        result = cluster.kmeshctl("install", "--cluster-id", "c1")
    finally:
        cluster.server.stop()
    assert result.code == 2, result
    line = _one_line(result.err)
    assert line.startswith("Error: no namespace istio-system (the default --istio-namespace; "), line
    assert _pasted(line)[-2:] == ["--istio-namespace", "istio-1"], line


# -- 3: several names to a command that takes one --name -----------------------------------------


@pytest.mark.parametrize("typed", ["waypoint delete wp1 wp2 -n foo", "waypoint status wp1 wp2",
                                   "-q waypoint delete wp1 wp2 --dry-run"])
def test_3_several_names_get_one_line_per_name_keeping_the_flags(typed: str, capsys, offline) -> None:
    code, _, err = cli(capsys, *shlex.split(typed))
    assert code == 2, err
    line = _one_line(err)
    assert "one run each" in line, line
    lines = [shlex.split(part) for part in line.split("`")[1::2]]
    typed_less_names = ["kmeshctl", *(w for w in shlex.split(typed) if w not in ("wp1", "wp2"))]
    assert len(lines) == 2, line
    for name, pasted in zip(("wp1", "wp2"), lines):
        at = pasted.index("--name")
        assert pasted[at + 1] == name and pasted[:at] + pasted[at + 2:] == typed_less_names, line


def test_3_no_run_each_for_kmesh_s_own_namespace_nor_a_name_refused(capsys, offline) -> None:
    code, _, err = cli(capsys, "uninstall", "a", "b")  # never an uninstall guessed per word
    assert code == 2 and "`" not in err, err
    code, _, err = cli(capsys, "waypoint", "delete", "Bad_1", "wp2")  # a line that fails pasted: none
    assert code == 2 and "`" not in err, err


# -- 4: a namespace with spaces, as one with commas ---------------------------------------------


@pytest.mark.parametrize("command", ["enable-ns", "disable-ns"])
def test_4_a_namespace_with_spaces_gets_the_split_offer(command: str, capsys, offline) -> None:
    code, _, err = cli(capsys, command, "a b", "-q")
    assert code == 2, err
    line = _one_line(err)
    assert "did you mean a b?" in line and _pasted(line) == ["kmeshctl", command, "a", "b", "-q"], line
    code, _, err = cli(capsys, command, "a b_")  # a part that means no name: no line
    assert code == 2 and "e.g. default" in err and "`" not in err, err


# -- 5: install --dry-run=client's render line keeps -q -----------------------------------------


@pytest.mark.parametrize("typed", ["-q install --dry-run=client --cluster-id c1",
                                   "install --dry-run client --cluster-id c1 --quiet"])
def test_5_the_render_line_keeps_quiet(typed: str, capsys, offline) -> None:
    code, _, err = cli(capsys, *shlex.split(typed))
    assert code == 2, err
    render = _pasted(_one_line(err))
    assert render[:2] == ["kmeshctl", "render"] and ("-q" in render or "--quiet" in render), err
