"""Lines to paste act on what was typed and pass the checks they are offered for (pass 34,
issue 14, f34a): kubectl's `-n NS` on enable-ns / disable-ns is the namespace argument in
every line (never an example's `default`); a waypoint name typed as a stray word or as
kubectl's TYPE/NAME is the one labelled and offered; a command given as a flag's `=` value
is that flag's missing value; a choice typed wrong is mended or left out of the line; the
kubeconfig lines of kubectl's auth flags name the entry in use, all flags in one line, a
$KUBECONFIG list's contexts once and never as kubectl's --kubeconfig; an xDS address
offered passes the command's own check.

In-process (test_cli_kinds.cli), HOME a temporary directory: nothing reaches a cluster."""

from __future__ import annotations

import re
import shlex

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401

KUBECONFIG_A = """apiVersion: v1
kind: Config
current-context: a
contexts:
- {name: a, context: {cluster: c, user: u}}
- {name: b, context: {cluster: c, user: u}}
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:1"}}
users:
- {name: u, user: {}}
"""
KUBECONFIG_B = """apiVersion: v1
kind: Config
contexts:
- {name: b, context: {cluster: c, user: u2}}
- {name: x, context: {cluster: c, user: u2}}
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:1"}}
users:
- {name: u2, user: {}}
"""


@pytest.fixture
def no_cluster(tmp_path, monkeypatch, no_env) -> None:  # noqa: F811 - the fixture of test_cli_kinds
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.fixture
def two_files(tmp_path, monkeypatch, no_cluster) -> str:
    """$KUBECONFIG of two files sharing context b (the first file's wins): the list."""
    first, second = tmp_path / "ka", tmp_path / "kb"
    first.write_text(KUBECONFIG_A)
    second.write_text(KUBECONFIG_B)
    listed = f"{first}:{second}"
    monkeypatch.setenv("KUBECONFIG", listed)
    return listed


def _lines(err: str) -> list[str]:
    return re.findall(r"`((?:kmeshctl|kubectl|KUBECONFIG=)[^`]*)`", err)


# ------------------------------------------------------------------ 1. -n on enable-ns / disable-ns

@pytest.mark.parametrize("typed,line", [
    (["enable-ns", "-A", "-n", "team-a"], "kmeshctl enable-ns team-a"),
    (["enable-ns", "--all", "--namespace", "team-a", "--wait"], "kmeshctl enable-ns team-a --wait"),
    (["disable-ns", "-A", "team-b"], "kmeshctl disable-ns team-b"),
    (["enable-ns", "--wait=true", "-n", "team-a"], "kmeshctl enable-ns team-a --wait"),
    (["disable-ns", "--overwrite=false", "--namespace=team-a,team-b"], "kmeshctl disable-ns team-a team-b"),
    (["enable-ns", "-o", "xml", "-n", "team-a"], "kmeshctl enable-ns team-a"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_namespace_flag_is_the_argument_of_every_line(typed, line, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and f"`{line}`" in err, err
    assert "enable-ns default" not in err and "disable-ns default" not in err, err


def test_a_flag_after_the_separator_is_said_to_be_one(capsys, no_cluster) -> None:
    code, _, err = cli(capsys, "enable-ns", "--", "-n", "foo")
    assert code == 2 and "-n came after `--`, so it was read as a namespace name, not a flag" in err, err
    assert "`kmeshctl enable-ns foo`" in err and "e.g. default" not in err, err


# ------------------------------------------------------------------ 3, 6. the waypoint name typed

@pytest.mark.parametrize("typed,line,label", [
    (["waypoint", "apply", "east", "--enroll-namespace"], "kmeshctl waypoint apply --name east",
     "kubectl label namespace default istio.io/use-waypoint=east"),
    (["waypoint", "apply", "east", "--enroll-namespace", "-n", "team-a"],
     "kmeshctl waypoint apply --name east -n team-a", "kubectl label namespace team-a istio.io/use-waypoint=east"),
    (["waypoint", "apply", "--enroll-namespace", "--name", "east"], "kmeshctl waypoint apply --name east",
     "kubectl label namespace default istio.io/use-waypoint=east"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_enroll_namespace_labels_the_waypoint_of_the_line(typed, line, label, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and f"`{line}`" in err and f"`{label}`" in err, err


@pytest.mark.parametrize("typed,line", [
    (["waypoint", "apply", "--name", "gateway/east"], "kmeshctl waypoint apply --name east"),
    (["waypoint", "status", "--name=gtw/East", "-n", "foo"], "kmeshctl waypoint status --name=east -n foo"),
    (["waypoint", "delete", "--name", "gateways.gateway.networking.k8s.io/east"],
     "kmeshctl waypoint delete --name east"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_kubectl_type_slash_name_offers_the_name(typed, line, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and "did you mean --name east" in err and f"`{line}`" in err, err
    assert "--name waypoint" not in err, err


# ------------------------------------------------------------------ 4, 9. every error the line can see

def test_a_log_level_typed_is_never_given_twice(capsys, no_cluster) -> None:
    code, _, err = cli(capsys, "node", "run", "--log-level", "info", "-v=6")
    assert code == 2 and "--log-level info is given already: leave -v out" in err, err
    assert "`kmeshctl node run --log-level info`" in err and err.count("--log-level") == 3, err


@pytest.mark.parametrize("typed,line,said", [
    (["version", "--short", "--remote=false", "-o", "yml"], "kmeshctl version -o yaml", "-o yml given as -o yaml"),
    (["enable-ns", "--output=JSON", "--wait=true", "team-a"], "kmeshctl enable-ns --output=json --wait team-a",
     "did you mean json?"),
    (["enable-ns", "-o", "xml", "-n", "team-a"], "kmeshctl enable-ns team-a", "-o xml left out"),
    (["enable-ns", "-n", "team-a", "--timeout", "5x"], "kmeshctl enable-ns team-a", "--timeout 5x left out"),
    (["waypoint", "apply", "--replicas", "2.5", "--enroll-namespace"], "kmeshctl waypoint apply",
     "--replicas 2.5 left out"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_choice_typed_wrong_is_mended_in_the_line(typed, line, said, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and f"`{line}`" in err and said in err, err


# ------------------------------------------------------------------ 5. a command as a flag's `=` value

@pytest.mark.parametrize("typed,said,line", [
    (["--output=status"], "--output needs a value", "kmeshctl status --output table"),
    (["--namespace=status"], "--namespace needs a value (--namespace NAME), not the command status",
     "kmeshctl status --namespace kmesh-system"),
    # with no kubeconfig, where to give one is said too (p49 f49c): `(--context NAME; no kubeconfig ...)`
    (["--context=status", "-o", "yaml"], "--context needs a value (--context NAME; no kubeconfig to look one up in",
     "kmeshctl status -o yaml --context NAME"),
    (["--context=enable-ns", "team-a"], "--context needs a value (--context NAME; no kubeconfig to look one up in",
     "kmeshctl enable-ns team-a --context NAME"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_command_as_an_equals_value_is_a_value_left_out(typed, said, line, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    if line.endswith(" NAME"):  # a placeholder is no line to paste: what to fill in, in words (t43b 7)
        assert code == 2 and said in err and f"with NAME filled in: {line} (see" in err, err
        assert f"not the command {typed[0].partition('=')[2]}; give it after the command" in err, err
        return
    assert code == 2 and said in err and f"`{line}`" in err, err
    assert "missing a command" not in err and "has no command" not in err, err


# ------------------------------------------------------------------ 8. an address offered passes

@pytest.mark.parametrize("typed", [
    ["render", "--xds-address", "istiod:15012:1"],
    ["render", "--xds-address", "istiod:15012:1", "--cluster-id", "c1"],
    ["install", "--xds-address", "istiod:15012:1", "--cluster-id", "c1", "--dry-run"],
], ids=" ".join)
def test_an_xds_address_offered_passes_the_check(typed, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and "istiod.istio-system.svc:15012" in err, err
    assert not re.search(r"istiod:15012(?!:)", err), err


# ------------------------------------------------------------------ 2, 10. kubeconfig lines

def test_auth_flags_of_one_entry_are_one_line(capsys, two_files) -> None:
    _, _, err = cli(capsys, "status", "--username", "x", "--password", "y")
    assert "`kubectl config set-credentials NAME --username=x --password=PASSWORD` puts it in one" in err, err
    assert "'y'" not in err and "=y" not in err, err  # a password is never echoed
    _, _, err = cli(capsys, "status", "--user", "zz", "--cluster", "qq")
    assert "`kubectl config set-context NAME --cluster=qq --user=zz`" in err, err
    _, _, err = cli(capsys, "status", "--as", "alice", "--as-uid", "7")
    assert "`kubectl config set users.NAME.as alice` and `kubectl config set users.NAME.as-uid 7` put it" in err, err


def test_a_kubeconfig_list_lists_each_context_once(capsys, two_files) -> None:
    _, _, err = cli(capsys, "status", "--as", "alice")
    assert ": a, b, x;" in err, err
    _, _, err = cli(capsys, "status", "--user", "u2")
    assert "user u2 is context x's: `kmeshctl status --context x`" in err, err  # b is the first file's (user u)


def test_kubectl_lines_never_take_a_kubeconfig_list(capsys, two_files) -> None:
    for typed in (["status", "--as", "alice"], ["enable-ns", "-l", "a=b"], ["waypoint", "apply", "--enroll-namespace"]):
        _, _, err = cli(capsys, "--kubeconfig", two_files, *typed)
        kubectl = [line for line in _lines(err) if re.match(r"(KUBECONFIG=\S+ )?kubectl ", line)]
        assert kubectl and all(line.startswith(f"KUBECONFIG={two_files} kubectl ") for line in kubectl), err
        assert not re.search(rf"kubectl [^`]*--kubeconfig {re.escape(two_files)}", err), err


def test_lines_without_the_namespace_words_parse(capsys, no_cluster) -> None:
    """Each kmeshctl line of these errors is accepted pasted (no cluster: exit 1 at most)."""
    for typed in (["enable-ns", "-A", "-n", "team-a"], ["version", "--short", "-o", "yml"],
                  ["waypoint", "apply", "--name", "gateway/east", "--dry-run"]):
        _, _, err = cli(capsys, *typed)
        for line in re.findall(r"`(kmeshctl [^`]*)`", err):
            code, out, again = cli(capsys, *shlex.split(line)[1:])
            assert code != 2, (err, line, again)
