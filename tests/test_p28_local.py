"""Pass 28 (F28-D), local commands: 1 `version --client` with a wrong typed --kubeconfig /
--context prints nothing before its refusal; 2 `help` as the only word of `completion` and
`sandbox exec` prints their help; 3 `node run`'s value errors in the usual `FLAG VALUE:
problem; fix, e.g. FLAG GOOD` form; 4 `dump maps` / `dump config` given --sandbox and the
sandbox's own --bpf-fs / --admin-port accept it, and refuse another place naming whose it
is, with lines that are accepted when pasted; 5 no help line ends in whitespace at any
width; 6 `sandbox down` with several sandboxes up picks none for its fix. Sandboxes are
records in a temporary state root; agents are loopback stand-ins (no root needed)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from kmeshctl import nodecheck
from kmeshctl.params import shown
from test_cli_kinds import cli, commands, no_env, state_root  # noqa: F401 (fixtures)
from test_cli_malformed_answers import serve  # noqa: F401 (fixture)
from test_p26_dump import _agent, _sandbox, maps_read  # noqa: F401 (fixture)

BACKTICKED = re.compile(r"`([^`]*)`")


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _pasted(capsys, line: str) -> tuple[int, str, str]:
    words = shlex.split(line)
    assert words[0] == "kmeshctl", line
    return cli(capsys, *words[1:])


# ------------------------------------------------------------------ 1. version --client, a wrong cluster flag


@pytest.mark.parametrize("output", [[], ["-o", "json"], ["-o", "yaml"]], ids=lambda o: " ".join(o) or "table")
@pytest.mark.parametrize("flags", [["--context", "nosuch"], ["--kubeconfig", "/nonexist"]], ids=" ".join)
def test_p28_version_client_with_a_wrong_cluster_flag_prints_the_client(flags, output, capsys, no_env, tmp_path,
                                                                        monkeypatch) -> None:
    """p28 refused these (exit 2, nothing printed); t39a 8: --client reads no kubeconfig, as
    kubectl's, so a wrong --kubeconfig/--context is not used, as a wrong $KUBECONFIG is not."""
    monkeypatch.setenv("HOME", str(tmp_path))
    code, out, err = cli(capsys, "version", "--client", *flags, *output)
    assert code == 0 and err == "", err
    assert "0.1.0" in out and ("Client: " in out if not output else "client" in out), out


# ------------------------------------------------------------------ 2. `help` as a word


@pytest.mark.parametrize("words", [["completion", "help"], ["sandbox", "exec", "help"],
                                   ["sandbox", "exec", "-q", "help"], ["sandbox", "exec", "help", "--name", "x"]],
                         ids=" ".join)
def test_p28_help_as_the_only_word_prints_the_commands_help(words, capsys, no_env, state_root) -> None:
    code, out, err = cli(capsys, *words)
    path = " ".join(w for w in words if w != "help" and not w.startswith("-") and w != "x")
    assert code == 0 and out.startswith(f"Usage: kmeshctl {path} "), (out, err)


def test_p28_help_stays_a_value_where_it_can_be_one(capsys, no_env, state_root) -> None:
    # a pod named help with a command after `--`; the command `help` run in pod web; --name help
    for words in (["sandbox", "exec", "help", "--", "sh"], ["sandbox", "exec", "web", "help"],
                  ["sandbox", "exec", "--name", "help"]):
        code, out, _ = cli(capsys, *words)
        assert code != 0 and not out.startswith("Usage:"), words


# ------------------------------------------------------------------ 3. node run's value errors


@pytest.mark.parametrize("typed,line", [
    (["--instance-ip", "300.1.1.1"], "--instance-ip 300.1.1.1: not an IP address; pass this node's pod-network "
                                     "address (the DaemonSet passes status.podIP as INSTANCE_IP), "
                                     "e.g. --instance-ip 10.0.0.7"),
    (["--instance-ip", "a b"], "--instance-ip 'a b': not an IP address; "),
    # f49c (t48a 12): the flag typed is named, and the line keeps it
    (["--admin-port", "15020"], "--admin-port 15020: the same port as --metrics-port's default; give each its own "
                                "(defaults: admin 15200, metrics 15020): "
                                "`kmeshctl node run --admin-port 15020 --metrics-port 15021`"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_p28_node_run_value_errors_echo_the_value_plainly_with_an_example(typed, line, capsys, no_env) -> None:
    code, out, err = cli(capsys, "node", "run", *typed)
    assert code == 2 and out == "", err
    assert _one_line(err).startswith(f"Error: {line}"), err


def test_p28_node_run_instance_ip_from_the_environment_names_it(capsys, no_env, monkeypatch) -> None:
    monkeypatch.setenv("INSTANCE_IP", "1.2.3")
    code, _, err = cli(capsys, "node", "run")
    assert code == 2 and _one_line(err).startswith("Error: $INSTANCE_IP=1.2.3: not an IP address; "), err


def test_p28_node_run_example_instance_ip_is_accepted() -> None:
    from kmeshctl.node.agent import EXAMPLE_INSTANCE_IP, _check_ip

    _check_ip("--instance-ip", EXAMPLE_INSTANCE_IP)


def test_p28_node_run_cni_dir_error_in_the_usual_form(capsys, no_env, tmp_path) -> None:
    code, _, err = cli(capsys, "node", "run", "--proc-root", "/proc", "--xds-insecure", "--xds-address",
                       "127.0.0.1:1", "--cni-conf-dir", str(tmp_path / "nope"))
    assert code == 2 and _one_line(err).startswith(f"Error: --cni-conf-dir {shown(tmp_path / 'nope')}: "
                                                   "not a directory; "), err


# ------------------------------------------------------------------ 4. --sandbox with a place of its own


@pytest.fixture
def two_sandboxes(serve, state_root, monkeypatch):  # noqa: F811
    """Sandboxes alpha and beta, their bpffs directories made, each agent a stand-in."""
    monkeypatch.setattr(nodecheck, "bpffs_mounted", lambda path: True)
    made = {name: _sandbox(name, _agent(serve)) for name in ("alpha", "beta")}
    for state in made.values():
        state.bpffs.mkdir(parents=True, exist_ok=True)
    return made


def _port(state) -> str:
    return str(state.agent["admin"]).rpartition(":")[2]


def test_p28_the_sandboxs_own_place_is_accepted_by_both_dump_commands(two_sandboxes, capsys, no_env,
                                                                      maps_read) -> None:
    beta = two_sandboxes["beta"]
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "beta", "--bpf-fs", str(beta.bpffs), "-o", "json")
    assert code == 0 and "Error" not in err, err
    assert maps_read[-1][0] == beta.bpffs, maps_read
    code, _, err = cli(capsys, "dump", "maps", "--sandbox", "beta", "--bpf-fs", f"{beta.bpffs}/", "--admin-port",
                       _port(beta), "-o", "json")
    assert code == 0 and "Error" not in err, err
    code, out, err = cli(capsys, "dump", "config", "--sandbox", "beta", "--admin-port", _port(beta), "-o", "json")
    assert code == 0 and json.loads(out)["enrolled"], err


@pytest.mark.parametrize("command,flag", [("maps", "--bpf-fs"), ("config", "--admin-port"), ("maps", "--admin-port")])
def test_p28_another_sandboxs_place_is_refused_naming_whose_it_is(command, flag, two_sandboxes, capsys, no_env,
                                                                   maps_read) -> None:
    beta = two_sandboxes["beta"]
    value = str(beta.bpffs) if flag == "--bpf-fs" else _port(beta)
    code, out, err = cli(capsys, "dump", command, "--sandbox", "alpha", flag, value, "-o", "json")
    line = _one_line(err)
    assert code == 2 and out == "", err
    assert line.startswith(f"Error: --sandbox alpha {flag} {shown(value)}: that is sandbox beta's "), line
    assert "not alpha's; give one: " in line, line
    fixes = BACKTICKED.findall(line)
    assert fixes == [f"kmeshctl dump {command} --sandbox alpha -o json",
                     f"kmeshctl dump {command} --sandbox beta -o json"], line
    for fix in fixes:
        code, out, err = _pasted(capsys, fix)
        assert code == 0 and out.strip(), (fix, err)


@pytest.mark.parametrize("flag", ["--sandbox", "--name"])
def test_p28_a_place_of_no_sandbox_is_refused_saying_the_sandboxs_own(flag, two_sandboxes, capsys, no_env, tmp_path,
                                                                      maps_read) -> None:
    alpha = two_sandboxes["alpha"]
    other = tmp_path / "other-bpffs"
    other.mkdir()
    code, _, err = cli(capsys, "dump", "maps", flag, "alpha", "--bpf-fs", str(other))
    line = _one_line(err)
    assert code == 2 and line.startswith(f"Error: {flag} alpha --bpf-fs {shown(other)}: not sandbox alpha's bpffs "
                                         f"directory (its own: {alpha.bpffs}); give one: "), line
    assert f"or leave out {flag} to read {shown(other)}" in line, line
    fix = BACKTICKED.findall(line)[0]
    if flag == "--name" and "--bpf-fs" in fix:
        pytest.xfail("the pasted line gets --bpf-fs back until suggestions.with_given_flags takes --name as "
                     "--sandbox (the lead's edit)")
    assert fix == f"kmeshctl dump maps {flag} alpha", line
    assert _pasted(capsys, fix)[0] == 0
    code, _, err = cli(capsys, "dump", "config", flag, "alpha", "--admin-port", "9")
    line = _one_line(err)
    assert code == 2 and line.startswith(f"Error: {flag} alpha --admin-port 9: not sandbox alpha's node agent "
                                         f"admin port (its own: {_port(alpha)}); give one: "), line
    fix = BACKTICKED.findall(line)[0]
    assert fix == f"kmeshctl dump config {flag} alpha", line
    assert _pasted(capsys, fix)[0] == 0


# ------------------------------------------------------------------ 5. help lines end in no whitespace


WIDTHS = ("20", "30", "35", "40", "45", "50", "60", "80", "120")


@pytest.mark.parametrize("words", [words for words, _ in commands()], ids=lambda w: " ".join(w) or "kmeshctl")
def test_p28_no_help_line_ends_in_whitespace_at_any_width(words, capsys, no_env, monkeypatch) -> None:
    for width in WIDTHS:
        monkeypatch.setenv("COLUMNS", width)
        code, out, _ = cli(capsys, *words, "--help")
        assert code == 0 and out.startswith("Usage: kmeshctl"), (width, out)
        trailing = [line for line in out.splitlines() if line != line.rstrip()]
        assert not trailing, (width, trailing)


def test_p28_help_word_and_help_command_end_lines_in_no_whitespace(capsys, no_env, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    for words in (["help", "demo", "traffic-shift"], ["demo", "traffic-shift", "help"], ["-h", "bench", "dataplane"]):
        code, out, _ = cli(capsys, *words)
        assert code == 0 and all(line == line.rstrip() for line in out.splitlines()), (words, out)


# ------------------------------------------------------------------ 6. `sandbox down` picks none


def test_p28_sandbox_down_with_several_up_names_none_to_remove(state_root, capsys, no_env) -> None:
    from test_cli_kinds import _record

    for name in ("t28a-one", "t28a-two"):
        _record(name)
    for extra in ([], ["--force"], ["-q"]):
        code, out, err = cli(capsys, "sandbox", "down", *extra)
        line = _one_line(err)
        assert code == 2 and out == "", err
        assert line.startswith("Error: several sandboxes exist (t28a-one ready, t28a-two ready): pass --name NAME "
                               "with the one to remove, `kmeshctl sandbox down --name t28a-one"), line
        assert "e.g." not in line and "`kmeshctl sandbox down --name t28a-two" in line, line  # a line each (p30)
    assert sorted(p.name for p in state_root.iterdir()) == ["sandbox-t28a-one", "sandbox-t28a-two"]


def test_p28_a_command_that_removes_nothing_still_gets_an_example(state_root, capsys, no_env) -> None:
    from test_cli_kinds import _record

    for name in ("t28a-one", "t28a-two"):
        _record(name)
    code, _, err = cli(capsys, "sandbox", "status")
    assert code == 2 and "pass --name NAME, e.g. `kmeshctl sandbox status --name t28a-one`" in err, err


def test_p28_sandbox_down_says_which_one_a_demo_holds_and_still_picks_none(state_root, capsys, no_env) -> None:
    from test_cli_kinds import _record
    from test_sandbox_fixes_g1 import _hold

    holders: list = []
    try:
        _record("t28a-one")
        _record("t28a-two")
        pid = _hold("t28a-one", holders)
        code, _, err = cli(capsys, "sandbox", "down")
        line = _one_line(err)
        assert code == 2 and line.startswith("Error: several sandboxes exist (t28a-one ready, t28a-two ready): pass "
                                             "--name NAME with the one to remove, `kmeshctl sandbox down --name "
                                             f"t28a-two`; t28a-one: in use by demo pid {pid}"), line
        assert "--name t28a-one`" not in line, line  # no line for the one the demo holds (p30)
    finally:
        for process in holders:
            process.kill()
            process.wait()
