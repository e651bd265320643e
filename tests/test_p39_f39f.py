"""Fixer f39f: tester t39b's findings 1, 2, 4, 5, 6, 9 and t39a's "still present" node run
item, each as a kind (issue 14): every suggested fix is a whole line that parses when pasted
(badinput.line_works) or runs (render, offline), keeping every word typed; every bad value
of a line said in one error.

1 `--wait false` (an on/off flag and a true/false word); 2 `--context my ctx` with neither
a context; 4 whole lines where a value or a template was given; 5 a group given a
subcommand's flag or --version; 6 one short line per command in a group's list; 9 the
`2>&1 | head -1` note; t39a: node run's bad values in one error.

No cluster: a kubeconfig whose API server refuses (127.0.0.1:1); nothing here runs a
command that changes anything (a line is parsed, only `render` lines are run)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.badinput import line_problems, line_works
from test_cli_kinds import cli, state_root  # noqa: F401

ROOT = typer.main.get_command(app)
LINE = re.compile(r"`(kmeshctl [^`]*)`")
DOCS = Path(__file__).resolve().parent.parent / "docs" / "usage.md"


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KUBECONFIG", "KMESHCTL_SANDBOX_NAME", "COLUMNS", "XDS_ADDRESS", "CLUSTER_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / f"home-{os.getpid()}"))  # no ~/.kube/config of the machine's


@pytest.fixture
def dead(tmp_path: Path) -> str:
    """A kubeconfig of two contexts (ctx1, ctx2) whose API server refuses connections."""
    path = tmp_path / f"dead-{os.getpid()}.yaml"
    path.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                    "contexts:\n- name: ctx1\n  context: {cluster: c, user: u}\n- name: ctx2\n"
                    "  context: {cluster: c, user: u}\ncurrent-context: ctx1\nusers:\n- name: u\n  user: {token: x}\n")
    return str(path)


def lines_of(err: str) -> list[list[str]]:
    return [shlex.split(line) for line in LINE.findall(err)]


def assert_pastes(err: str) -> list[list[str]]:
    """Every `kmeshctl ...` line of ``err`` parses, with no bad value left."""
    found = lines_of(err)
    assert found, err
    for words in found:
        assert line_works(words, ROOT), (words, line_problems(words, ROOT), err)
    return found


# ---------------------------------------------------------------- 1. `--wait false`


@pytest.mark.parametrize("typed,meant", [
    ("install --cluster-id c1 --wait false --xds-address 10.0.0.7:15012",
     "kmeshctl install --cluster-id c1 --no-wait --xds-address 10.0.0.7:15012"),
    ("install --cluster-id c1 --no-wait false", "kmeshctl install --cluster-id c1 --wait"),
    ("waypoint apply --wait true", "kmeshctl waypoint apply --wait"),
    ("waypoint apply --wait T -n team", "kmeshctl waypoint apply --wait -n team"),
    ("waypoint delete --ignore-not-found yes --name east", "kmeshctl waypoint delete --ignore-not-found --name east"),
    ("uninstall --dry-run false", "kmeshctl uninstall"),
    ("render --xds-address 10.0.0.7:15012 --cluster-id c1 --enable-bpf-log yes",
     "kmeshctl render --xds-address 10.0.0.7:15012 --cluster-id c1 --enable-bpf-log"),
    ("install --cluster-id c1 --wait=false --dry-run 1 --xds-address 10.0.0.7:15012",
     "kmeshctl install --cluster-id c1 --no-wait --dry-run --xds-address 10.0.0.7:15012"),
    ("waypoint list -A no", "kmeshctl waypoint list"),
])
def test_a_true_false_word_after_an_on_off_flag_is_its_value(capsys, no_env, dead, typed: str, meant: str) -> None:
    code, _, err = cli(capsys, *shlex.split(typed), "--kubeconfig", dead)
    assert code == 2 and err.startswith("Error: on/off flags take no value here: "), err
    assert f"`{meant} --kubeconfig {dead}`" in err, err
    assert_pastes(err)
    for word in ("true", "false", "yes", "no", "0", "1", "T"):  # never a name, a namespace or a cluster id
        assert all(word not in words for words in lines_of(err)), err


@pytest.mark.parametrize("typed,on", [
    ("uninstall --dry-run=0", False), ("uninstall --dry-run=false", False),
    ("install --cluster-id c1 --dry-run=true", True), ("waypoint apply --dry-run=no", False),
])
def test_dry_run_equals_a_true_false_word_is_on_or_off(capsys, no_env, dead, typed: str, on: bool) -> None:
    code, _, err = cli(capsys, *shlex.split(typed), "--kubeconfig", dead)  # was: `--dry-run` for =false
    assert code == 2 and err.startswith("Error: Option '--dry-run' does not take a value; on/off flags"), err
    (line,) = assert_pastes(err)
    assert ("--dry-run" in line) is on and line[:len(typed.split())] == ["kmeshctl", *typed.split()[:-1]], err


def test_render_enable_bpf_log_true_never_becomes_cluster_id_true(capsys, no_env) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", "10.0.0.7:15012", "--enable-bpf-log", "true")
    assert code == 2 and "--enable-bpf-log true is written --enable-bpf-log" in err, err
    assert "`kmeshctl render --xds-address 10.0.0.7:15012 --enable-bpf-log`" in err, err
    assert "render also needs --cluster-id ID" in err and "--cluster-id true" not in err, err
    code, out, err = cli(capsys, "render", "--xds-address", "10.0.0.7:15012", "--enable-bpf-log", "--cluster-id",
                         "c1")  # the line with the cluster id the note asks for
    assert code == 0 and 'value: "true"' not in out and "c1" in out, err


def test_a_true_false_word_after_another_tools_on_off_flag_goes_with_it(capsys, no_env, dead) -> None:
    code, _, err = cli(capsys, "status", "-w", "false", "--kubeconfig", dead)
    assert code == 2 and f"`kmeshctl status --kubeconfig {dead}`" in err and "--namespace false" not in err, err


# ---------------------------------------------------------------- 2. `--context my ctx`


def test_an_unknown_context_with_a_stray_word_says_the_context_first(capsys, no_env, dead) -> None:
    for command in ("version", "status"):
        code, _, err = cli(capsys, command, "--context", "my", "ctx", "--kubeconfig", dead)
        assert code == 2 and err.startswith(f"Error: --context my: no such context in {dead} (contexts: ctx1, "
                                            "ctx2)"), err
        assert "--context 'my ctx'" in err and not any("my" in words for words in lines_of(err)), err


def test_a_context_typed_in_another_case_gets_a_did_you_mean_line(capsys, no_env, dead) -> None:
    code, _, err = cli(capsys, "version", "--context", "CTX1", "--kubeconfig", dead)
    assert code == 2 and f"did you mean ctx1? `kmeshctl version --context ctx1 --kubeconfig {dead}`" in err, err
    assert_pastes(err)
    code, _, err = cli(capsys, "status", "--context", "ctx3", "--kubeconfig", dead)  # another cluster: no guess
    assert code == 2 and "did you mean" not in err and "pass --context with one of them" in err, err


# ---------------------------------------------------------------- 4. whole lines


@pytest.mark.parametrize("address,meant", [
    ("fd00::1:15012", "'[fd00::1]:15012'"), ("fd00::2:15013", "'[fd00::2]:15013'"),
    (":15012", "istiod.istio-system.svc:15012"), ("unix:/tmp/x.sock", "istiod.istio-system.svc:15012"),
    ("300.1.1.1:15012", "istiod.istio-system.svc:15012"), ("a.1:15012", "istiod.istio-system.svc:15012"),
    ("istiod.istio-system.svc:abc", "istiod.istio-system.svc:15012"),
    ("istiod.istio-system.svc:99999", "istiod.istio-system.svc:15012"),
])
def test_a_bad_xds_address_gets_the_whole_line_and_it_runs(capsys, no_env, address: str, meant: str) -> None:
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", address, "-o", "json")
    assert code == 2, err
    pasted = next(words for words in lines_of(err) if words[1] == "render")  # not `kmeshctl node run` of unix:
    assert sorted(pasted) == sorted(shlex.split(f"kmeshctl render --cluster-id c1 --xds-address {meant} -o json")), err
    code, out, err = cli(capsys, *pasted[1:])
    assert code == 0 and out.startswith("{"), err


def test_a_mode_in_another_case_gets_a_did_you_mean_line(capsys, no_env) -> None:
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", "10.0.0.7:15012", "--mode",
                       "Dual-Engine")
    assert code == 2 and "did you mean dual-engine? `kmeshctl render --cluster-id c1 --xds-address " \
                         "10.0.0.7:15012 --mode dual-engine`" in err, err
    code, _, err = cli(capsys, *lines_of(err)[0][1:])
    assert code == 0, err


def test_demo_values_get_whole_lines(capsys, no_env, dead, state_root) -> None:  # state_root: no sandbox's -c
    # parsed only: a demo line pasted would run the demo
    code, _, err = cli(capsys, "demo", "traffic-shift", "--weights", "90,10", "--kubeconfig", dead)
    assert code == 2 and f"did you mean --weights 90/10? `kmeshctl demo traffic-shift --weights 90/10 " \
                         f"--kubeconfig {dead}`" in err, err
    assert_pastes(err)
    code, _, err = cli(capsys, "demo", "traffic-shift", "-n", "10", "--kubeconfig", dead)
    assert code == 2 and f"e.g. -c 12: `kmeshctl demo traffic-shift -c 12 --kubeconfig {dead}`" in err, err  # t41a 4
    assert_pastes(err)


def test_dry_run_with_wait_offers_both_lines(capsys, no_env, dead) -> None:
    # a --dry-run typed: no line that would apply without it (t43b 1), so only the dry run's line
    code, _, err = cli(capsys, "waypoint", "apply", "--dry-run", "--wait", "-n", "team", "--kubeconfig", dead)
    assert code == 2 and "give one of them, `kmeshctl waypoint apply --dry-run -n team" in err, err
    assert "`kmeshctl waypoint apply --wait -n team" not in err and "no line without --dry-run" in err, err
    assert len(assert_pastes(err)) == 1


def test_node_run_same_ports_gets_the_line(capsys, no_env) -> None:
    code, _, err = cli(capsys, "node", "run", "--admin-port", "15200", "--metrics-port", "15200")
    assert code == 2 and "`kmeshctl node run --admin-port 15200 --metrics-port 15020`" in err, err
    assert not [p for p in line_problems(lines_of(err)[0], ROOT) if "port" in p], err


# ---------------------------------------------------------------- 5. a group with a subcommand's flag


@pytest.mark.parametrize("typed,meant", [
    ("sandbox --name x", "kmeshctl sandbox status --name x"),
    ("waypoint --name x", "kmeshctl waypoint status --name x"),
    ("dump --pod kmesh-x", "kmeshctl dump maps --pod kmesh-x"),
])
def test_a_group_given_a_subcommands_flag_gets_the_line(capsys, no_env, typed: str, meant: str) -> None:
    code, _, err = cli(capsys, *shlex.split(typed))
    assert code == 2 and "missing a command; e.g. " in err and f"`{meant}`" in err, err
    assert_pastes(err)


@pytest.mark.parametrize("group", ["sandbox", "dump", "waypoint", "node"])
def test_a_group_given_version_points_at_kmeshctl_version(capsys, no_env, group: str) -> None:
    code, _, err = cli(capsys, group, "--version")
    assert code == 2 and f"kmeshctl {group} has no --version: kmeshctl's own is `kmeshctl version`" in err, err
    assert_pastes(err)


# ---------------------------------------------------------------- 6. one short line per command


@pytest.mark.parametrize("group", ["", "demo", "sandbox", "node", "dump", "waypoint", "bench"])
def test_a_groups_list_gives_each_command_a_short_line(capsys, no_env, monkeypatch, group: str) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = cli(capsys, *group.split(), "--help")
    listing = out.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    entries = [i for i, line in enumerate(listing) if re.match(r"  \S", line)]
    spans = [b - a for a, b in zip(entries, [*entries[1:], len(listing)])]
    assert code == 0 and entries and max(spans) <= 2, out  # kubectl's one line; two at most where a cut would not read
    assert all(len(line) <= 80 for line in listing), out


def test_traffic_shift_help_says_its_checks_in_a_sentence_that_parses(capsys, no_env) -> None:
    code, out, _ = cli(capsys, "demo", "traffic-shift", "--help")
    text = " ".join(out.split())
    assert code == 0 and "It first checks three things: that kmesh is ready, that the namespace is one it may " \
                         "enroll, and that the fortio Service's waypoint is programmed" in text, out
    assert "the namespace one it may" not in text


# ---------------------------------------------------------------- 9. `2>&1 | head -1`


def test_usage_says_what_a_shared_pipe_does_to_head() -> None:
    text = " ".join(DOCS.read_text().split())
    assert "(`2>&1 | head -1`)" in text and "0 or 1 depending on which comes first" in text


# ---------------------------------------------------------------- t39a: node run's every bad value


def test_node_run_says_every_bad_value_in_one_error(capsys, no_env, tmp_path: Path) -> None:
    missing = tmp_path / f"nobpf-{os.getpid()}"
    code, _, err = cli(capsys, "node", "run", "--xds-address", "foo", "--bpf-fs", str(missing))
    assert code == 2 and "--xds-address foo: missing port" in err and f"also --bpf-fs {missing}:" in err, err
    assert "`kmeshctl node run --xds-address foo:15012" not in err, err  # no line keeping the bad --bpf-fs
    code, _, err = cli(capsys, "node", "run", "--mode", "kernel-native", "--cni-socket", "x")
    assert code == 2 and "--mode kernel-native" in err and "also --cni-socket applies only with --cni-conf-dir" in err


def test_node_run_mended_values_give_one_line(capsys, no_env) -> None:
    code, _, err = cli(capsys, "node", "run", "--metrics-port", "15020", "--admin-port", "15020", "--mode",
                       "Dual-Engine")
    assert code == 2 and "also --mode Dual-Engine" in err, err
    assert "every value mended: `kmeshctl node run --metrics-port 15021 --admin-port 15020 --mode dual-engine`" in err


def test_a_flag_given_two_values_offers_a_line_for_each(capsys, no_env) -> None:
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", "10.0.0.7:15012", "--xds-address",
                       "10.0.0.8:15012")
    assert code == 2 and "takes one value; give one, `kmeshctl render --cluster-id c1 --xds-address " \
                         "10.0.0.7:15012` or `kmeshctl render --cluster-id c1 --xds-address 10.0.0.8:15012`" in err, err
    for words in assert_pastes(err):
        assert cli(capsys, *words[1:])[0] == 0
    code, _, err = cli(capsys, "dump", "maps", "--map", "km_backend", "--map=km_service")
    assert code == 2 and "`kmeshctl dump maps --map km_backend` or `kmeshctl dump maps --map=km_service`" in err, err
    assert_pastes(err)


@pytest.mark.parametrize("namespace", ["kube-system", "default"])
def test_a_reserved_install_namespace_gets_the_line_with_the_default(capsys, no_env, namespace: str) -> None:
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", "10.0.0.7:15012", "-n", namespace)
    assert code == 2 and "(default kmesh-system): `kmeshctl render --cluster-id c1 --xds-address 10.0.0.7:15012 " \
                         "-n kmesh-system`" in err, err
    assert cli(capsys, *lines_of(err)[0][1:])[0] == 0


def test_a_dry_run_value_that_is_no_mode_gets_the_line(capsys, no_env, dead) -> None:
    code, _, err = cli(capsys, "install", "--dry-run=bogus", "--cluster-id", "c1", "--kubeconfig", dead)
    assert code == 2 and f"`kmeshctl install --cluster-id c1 --kubeconfig {dead} --dry-run`" in err, err
    assert_pastes(err)


def test_kubectls_delete_sandbox_names_this_machines_sandboxes(capsys, no_env, monkeypatch) -> None:
    from kmeshctl import sandboxes

    name = f"f39f{os.getpid() % 100000}"
    monkeypatch.setattr(sandboxes, "names", lambda: [name])  # no record is made: the line is only parsed
    code, _, err = cli(capsys, "sandbox", "delete")
    assert code == 2 and f"sandboxes are removed by name: `kmeshctl sandbox down --name {name}`" in err, err
    assert_pastes(err)


@pytest.mark.parametrize("typed,meant", [
    ("render --xds-address 10.0.0.7:15012 true", "kmeshctl render --xds-address 10.0.0.7:15012"),
    ("waypoint apply false", "kmeshctl waypoint apply"), ("uninstall no", "kmeshctl uninstall"),
])
def test_a_stray_true_false_word_is_never_a_name(capsys, no_env, typed: str, meant: str) -> None:
    code, _, err = cli(capsys, *shlex.split(typed))
    assert code == 2 and f"is no name: on/off flags are given alone (--wait) or in their off form (--no-wait): " \
                         f"`{meant}`" in err, err
    assert not any(w in words for words in lines_of(err) for w in ("true", "false", "no")), err
