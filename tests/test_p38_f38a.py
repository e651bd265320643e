"""Pass 38 findings of fixer f38a (issue 14's rule: every fix a whole line that runs as
pasted, every bad value of a line said at once). kmeshctl.cli.main in-process (test_cli_kinds'
cli); sandbox records in a temporary state root, HOME without a kubeconfig unless a test
writes one: no cluster, no real sandbox is touched."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from kmeshctl.cli import cmdline
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p31_hints import offline  # noqa: F401 (fixture: no cluster, no sandbox)

SERVICE = "istiod.istio-system.svc:15012"


def _kubeconfig(home: Path) -> Path:
    """A kubeconfig at HOME/.kube/config (its cluster answers nowhere)."""
    path = home / ".kube" / "config"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                    "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
                    "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {}}]\n")
    return path


def _lines(err: str) -> list[str]:
    return re.findall(r"`(kmeshctl [^`]*)`", err)


def _pasted(capsys, line: str) -> tuple[int, str, str]:
    return cli(capsys, *shlex.split(line)[1:])


# ---------------------------------------------------------------- 1: a line offered mends the other bad values


@pytest.mark.parametrize("extra", [["--revision", "1-22"], ["--ouput", "json"], ["-y"], ["--dry-run=client"],
                                   ["--enable-bypas"], ["-A"], ["--wait"], ["--namespace-name", "x"]])
def test_1_an_unknown_option_line_mends_a_bad_xds_address(extra, capsys, offline) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", ":15012", "--cluster-id", "c1", *extra)
    assert code == 2, err
    lines = _lines(err)
    assert lines and all(f"--xds-address {SERVICE}" in line and ":15012 " not in line.replace(SERVICE, "")
                         for line in lines), err
    assert f"--xds-address :15012 given as --xds-address {SERVICE}" in err, err
    assert _pasted(capsys, lines[0])[0] == 0


def test_1_the_line_mends_mode_image_and_a_namespace_too(capsys, offline) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", ":15012", "--cluster-id", "c1", "--mode", "foo",
                       "--image", "docker.io/Kmesh/x:1", "-n", "Kmesh_System", "-y")
    assert code == 2, err
    line = _lines(err)[0]
    assert "--mode dual-engine" in line and "--image docker.io/kmesh/x:1" in line and "-n kmesh-system" in line, err
    assert _pasted(capsys, line)[0] == 0
    code, _, err = cli(capsys, "render", "--xds-address", SERVICE, "--cluster-id", "c1", "--image", "bad image",
                       "--force")
    assert code == 2 and "--image 'bad image' left out" in err and "bad image" not in _lines(err)[0], err
    assert _pasted(capsys, _lines(err)[0])[0] == 0


def test_1_a_placeholder_in_a_line_is_never_mended() -> None:
    from kmeshctl.cli.suggestions import PLACEHOLDER

    assert all(PLACEHOLDER.fullmatch(v) for v in ("NAMESPACE", "HOST:PORT", "IMAGE:TAG"))
    assert not any(PLACEHOLDER.fullmatch(v) for v in ("Bad_NS", ":15012", "istiod"))


# ---------------------------------------------------------------- 2: a list of addresses


@pytest.mark.parametrize("value,meant", [
    ("istiod.istio-system.svc,istiod2", SERVICE),
    ("istiod.istio-system.svc:15012 istiod2:15012", SERVICE),
    ("istiod.istio-system.svc:15012;istiod2:15012", SERVICE),
])
@pytest.mark.parametrize("command", [["render"], ["install", "--dry-run"]])
def test_2_a_list_of_addresses_is_named_a_list_with_a_whole_line(value, meant, command, capsys, offline) -> None:
    code, _, err = cli(capsys, *command, "--xds-address", value, "--cluster-id", "c1")
    assert code == 2 and f"--xds-address {shlex.quote(value)}: a list of addresses; use `kmeshctl " in err, err
    line = _lines(err)[0]
    assert f"--xds-address {meant} --cluster-id c1" in line and "istiod2" not in line, err
    if command == ["render"]:
        assert _pasted(capsys, line)[0] == 0


def test_2_node_run_says_a_bad_address_with_its_whole_line(capsys, offline, monkeypatch) -> None:
    code, _, err = cli(capsys, "node", "run", "--xds-address", "a:15012 b:15012", "--cluster-id", "c1")
    assert code == 2 and "a list of addresses; use `kmeshctl node run --xds-address a:15012 --cluster-id c1`" in err
    code, _, err = cli(capsys, "node", "run", "--xds-address", "istiod")
    assert code == 2 and "missing port; use `kmeshctl node run --xds-address istiod:15012`" in err, err
    monkeypatch.setenv("XDS_ADDRESS", "istiod")
    code, _, err = cli(capsys, "node", "run")
    assert code == 2 and "$XDS_ADDRESS=istiod: missing port; use `kmeshctl node run --xds-address istiod:15012`" \
        in err, err


# ---------------------------------------------------------------- 3: the demo's target flags


def test_3_a_sandbox_beside_a_missing_kubeconfig_names_both_with_lines(capsys, offline) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "x", "--kubeconfig", "/nonexist", "-c", "5")
    assert code == 2 and not out, err
    assert "--sandbox x names a local sandbox, --kubeconfig /nonexist a cluster (--kubeconfig /nonexist: does " \
           "not exist)" in err, err
    assert "`kmeshctl demo traffic-shift --sandbox x -c 5 --target local`" in err, err  # the order typed (t42b 5)
    assert "--target cluster`" not in err, err  # no kubeconfig on this machine: no cluster line
    config = _kubeconfig(offline)
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "x", "--kubeconfig", "/nonexist")
    assert code == 2 and f"`kmeshctl demo traffic-shift --kubeconfig {config} --target cluster` (the cluster)" \
        in err, err  # in place of the one typed


def test_3_a_sandbox_with_target_cluster_gets_both_lines(capsys, offline) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--name", "x", "--target", "cluster", "-c", "5")
    assert code == 2 and "--name x names a local sandbox, --target cluster a cluster: give one of them, " in err, err
    assert "`kmeshctl demo traffic-shift --name x -c 5 --target local`" in err, err
    assert "`kmeshctl demo traffic-shift -c 5 --target cluster`" in err, err


def test_3_target_local_with_a_missing_kubeconfig_offers_the_line_without_it(capsys, offline) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "--kubeconfig", "/nonexist")
    assert code == 2 and "--kubeconfig /nonexist: does not exist; --target local needs no cluster: leave " \
                         "--kubeconfig /nonexist out, `kmeshctl demo traffic-shift --target local`" in err, err


def test_3_a_missing_kubeconfig_variable_gets_whole_lines(capsys, offline, monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/nonexist")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "cluster")
    assert code == 2 and "$KUBECONFIG=/nonexist: does not exist" in err, err
    assert "or run the demo in a local sandbox: `kmeshctl demo traffic-shift --target local`" in err, err
    config = _kubeconfig(offline)
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "cluster")
    assert code == 2 and f"`kmeshctl --kubeconfig {config} demo traffic-shift --target cluster`" in err, err
    code, _, err = cli(capsys, "status", "-o", "json")  # every command's $KUBECONFIG error alike
    assert code == 2 and f"e.g. `kmeshctl --kubeconfig {config} status -o json`" in err, err
    monkeypatch.delenv("KUBECONFIG")
    code, _, err = cli(capsys, "status", "--kubeconfig", "/nonexist")
    assert code == 2 and f"e.g. `kmeshctl status --kubeconfig {config}`" in err, err


# ---------------------------------------------------------------- 4: a short flag's case slipped


@pytest.mark.parametrize("words,said", [
    (["status", "-O", "json"], "No such option: -O; did you mean -o? `kmeshctl status -o json`"),
    (["status", "-Ojson"], "No such option: -O; did you mean -o? `kmeshctl status -o json`"),
    (["status", "-N", "kmesh-system"], "No such option: -N; did you mean -n? `kmeshctl status -n kmesh-system`"),
    (["waypoint", "list", "-a"], "No such option: -a; did you mean -A? `kmeshctl waypoint list -A`"),
    (["sandbox", "list", "-Q"], "No such option: -Q; did you mean -q? `kmeshctl sandbox list -q`"),
])
def test_4_a_short_flag_of_the_wrong_case_gets_the_corrected_line(words, said, capsys, offline) -> None:
    code, _, err = cli(capsys, *words)
    assert code == 2 and said in err, err


def test_4_a_letter_no_flag_has_in_either_case_gets_no_guess(capsys, offline) -> None:
    code, _, err = cli(capsys, "status", "-X")
    assert code == 2 and "did you mean" not in err, err


# ---------------------------------------------------------------- 5: every bad value at once


@pytest.mark.parametrize("command", [["render"], ["install", "--dry-run"]])
def test_5_a_bad_image_and_mode_are_said_at_once(command, capsys, offline) -> None:
    code, _, err = cli(capsys, *command, "--xds-address", SERVICE, "--cluster-id", "c1", "--image", "bad image",
                       "--mode", "foo")
    assert code == 2 and "--image 'bad image': not an image reference" in err, err
    assert "also --mode foo: not an accepted value; use one of dual-engine" in err, err


def test_5_a_bad_address_image_and_mode_are_all_said(capsys, offline) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", "istiod", "--cluster-id", "a b", "--image", "bad image",
                       "--mode", "foo")
    assert code == 2, err
    for said in ("--cluster-id 'a b'", "--xds-address istiod: missing port", "--image 'bad image'", "--mode foo"):
        assert said in err, err


def test_5_node_run_says_its_bad_address_and_mode_at_once(capsys, offline) -> None:
    code, _, err = cli(capsys, "node", "run", "--xds-address", "istiod", "--mode", "foo")
    assert code == 2 and "--xds-address istiod: missing port" in err and "also --mode foo" in err, err


def test_5_one_bad_mode_alone_is_said_as_before(capsys, offline) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", SERVICE, "--cluster-id", "c1", "--mode", "foo")
    assert code == 2 and "--mode foo: not an accepted value; use one of dual-engine" in err and "also" not in err


# ---------------------------------------------------------------- 6: one "line without FLAG"


@pytest.mark.parametrize("words,flag,valued,left", [
    (["status", "-n", "x", "-o", "json"], "-n", True, ["status", "-o", "json"]),
    (["status", "--namespace=x"], "--namespace", True, ["status"]),
    (["status", "-w", "default"], "-w", False, ["status", "default"]),
    (["up", "-f", "a", "-f", "b"], "-f", True, ["up"]),  # every time it is given
    (["exec", "p", "-n", "x", "--", "ls", "-n", "y"], "-n", True, ["exec", "p", "--", "ls", "-n", "y"]),
    (["status", "-n", "-o", "json"], "-n", True, ["status", "-o", "json"]),  # no value typed: the next flag stays
])
def test_6_without_flag(words, flag, valued, left) -> None:
    assert cmdline.without_flag(words, flag, valued) == left


def test_6_the_twins_are_gone() -> None:
    import inspect

    from kmeshctl.cli import badinput, cluster, node

    assert not hasattr(badinput, "_without_flag")
    assert "without_flag(" in inspect.getsource(cluster._without_flag)
    for function in (node._attached_elsewhere, node._plaintext_to_istiod):
        assert "cmdline.without_flag(" in inspect.getsource(function)
