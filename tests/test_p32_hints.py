"""A line to paste fixes every mistake of the line typed, not only the first (pass 32,
issue 14): each backticked `kmeshctl ...` of an error is run as pasted and is never
refused as bad input (exit 2); with no cluster configured it fails with exit 1 at most.
kubectl's global auth flags get the kubeconfig line that sets them, its other globals the
line without them; a flag written after `--` is said to be one.

In-process (test_cli_kinds.cli), HOME a temporary directory (no kubeconfig): nothing
reaches a cluster; a pasted sandbox, node or demo line is never run."""

from __future__ import annotations

import re
import shlex

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401

RENDER = ("render", "--xds-address", "istiod.istio-system.svc:15012")

MIXED = [
    ("waypoint", "delete", "--name", "east", "--force", "--grace-period", "0"),
    ("uninstall", "-y", "--force"),
    ("status", "--wait", "--timeout", "5m"),
    (*RENDER, "--cluster-id", "c1", "--wait", "--no-wait"),
    ("install", "--cluster-id", "c1", "--skip-confirmation", "--set", "values.x=1"),
    ("waypoint", "delete", "east", "--force"),
    ("status", "--", "-n", "foo"),
    ("install", "--", "--cluster-id", "c1"),
    ("uninstall", "--", "--dry-run"),
    (*RENDER, "--cluster-id", "--", "-c1"),
    ("status", "--as", "admin", "--cache-dir", "/tmp"),
    ("waypoint", "list", "--username", "u", "--watch"),
    ("install", "--cluster-id", "c1", "--password", "p", "-y"),
    ("uninstall", "--purge", "--yes", "--grace-period", "5"),
    ("status", "-w", "--request-timeout", "5s", "--no-headers"),
    ("waypoint", "status", "east", "--watch", "--timeout", "1m"),
    ("version", "--short", "--cache-dir", "/tmp"),
    ("precheck", "--verbose", "--timeout", "1m"),
    ("waypoint", "apply", "--name", "w1", "--grace-period", "0", "--force"),
    ("enable-ns", "foo", "--overwrite", "--as", "admin"),
    (*RENDER, "--cluster-id", "c1", "--set", "a=b", "--timeout", "5m"),
    ("uninstall", "--force", "--now", "--wait"),
]
RUN_NEVER = ("sandbox", "node", "demo", "bench")  # they act on this machine: not run pasted


@pytest.fixture
def no_cluster(tmp_path, monkeypatch, no_env) -> None:  # noqa: F811 - the fixture of test_cli_kinds
    monkeypatch.setenv("HOME", str(tmp_path))


def _pasted(err: str) -> list[list[str]]:
    return [shlex.split(line)[1:] for line in re.findall(r"`(kmeshctl(?: [^`]*)?)`", err)]


@pytest.mark.parametrize("typed", MIXED, ids=" ".join)
def test_every_line_to_paste_parses(typed, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and err.count("\n") == 1, err
    assert "`" in err, err  # a line to paste (a kubectl one for --as)
    for words in _pasted(err):
        assert words[0] not in RUN_NEVER, err
        pasted, out, again = cli(capsys, *words)
        assert pasted != 2, (err, words, again)
        assert pasted == 0 or "no cluster configured" in out + again, (words, out, again)


@pytest.mark.parametrize("typed,said,line", [
    (("waypoint", "delete", "--name", "east", "--force", "--grace-period", "0"),
     "leave --force and --grace-period 0 out", "kmeshctl waypoint delete --name east"),
    (("uninstall", "-y", "--force"), "leave -y and --force out", "kmeshctl uninstall"),
    (("status", "--wait", "--timeout", "5m"), "leave --wait and --timeout 5m out", "kmeshctl status"),
    (("waypoint", "delete", "east", "--force"), "east given as --name east", "kmeshctl waypoint delete --name east"),
    (("install", "--cluster-id", "c1", "--skip-confirmation", "--set", "values.x=1"),
     "leave --skip-confirmation and --set values.x=1 out", "kmeshctl install --cluster-id c1"),
], ids=lambda x: " ".join(x) if isinstance(x, tuple) else None)
def test_each_word_left_out_is_named(typed, said, line, capsys, no_cluster) -> None:
    _, _, err = cli(capsys, *typed)
    assert said in err and f"`{line}`" in err, err


@pytest.mark.parametrize("flag,value,kubectl", [
    ("--as", "admin", "kubectl config set users.NAME.as admin"),
    ("--as-uid", "7", "kubectl config set users.NAME.as-uid 7"),
    ("--tls-server-name", "api.example", "kubectl config set-cluster NAME --tls-server-name=api.example"),
    ("--username", "u", "kubectl config set-credentials NAME --username=u"),
    ("--password", "secret", "kubectl config set-credentials NAME --password=PASSWORD"),
    ("--as-group", "ops", ""),
])
@pytest.mark.parametrize("command", [("status",), ("waypoint", "list"), ("install",)], ids=" ".join)
def test_kubectl_auth_flags_say_where_kmeshctl_reads_them(flag, value, kubectl, command, capsys, no_cluster) -> None:
    _, _, err = cli(capsys, *command, flag, value)
    assert f"has no {flag} (kubectl's)" in err and "kubeconfig context" in err, err
    assert (f"`{kubectl}`" in err) if kubectl else "as-groups" in err, err
    assert "secret" not in err


@pytest.mark.parametrize("flag,value", [("--cache-dir", "/tmp"), ("--disable-compression", None),
                                        ("--match-server-version", None), ("--log-file", "/tmp/x"),
                                        ("--warnings-as-errors", None), ("--profile", "cpu")])
def test_kubectl_other_globals_give_the_line_without_them(flag, value, capsys, no_cluster) -> None:
    _, _, err = cli(capsys, "status", "-n", "foo", flag, *([value] if value else []))
    assert f"kmeshctl has no {flag} (kubectl's global flag)" in err and "`kmeshctl status -n foo`" in err, err


@pytest.mark.parametrize("typed,line", [
    (("status", "--", "-n", "foo"), "kmeshctl status -n foo"),
    (("install", "--", "--cluster-id", "c1"), "kmeshctl install --cluster-id c1"),
    (("uninstall", "--", "--dry-run"), "kmeshctl uninstall --dry-run"),
], ids=lambda x: " ".join(x) if isinstance(x, tuple) else None)
def test_flags_after_the_separator_are_said_to_be(typed, line, capsys, no_cluster) -> None:
    _, _, err = cli(capsys, *typed)
    assert "came after `--`" in err and f"without the `--`, `{line}`" in err and "given already" not in err, err


def test_separator_taken_as_a_flags_value(capsys, no_cluster) -> None:
    _, _, err = cli(capsys, *RENDER, "--cluster-id", "--", "-c1")
    assert "--cluster-id took the `--` after it as its value, so -c1 was read as a flag" in err, err
    assert "`kmeshctl render --xds-address istiod.istio-system.svc:15012 --cluster-id c1`" in err, err


# ------------------------------------------------------------------ t33b: never a line on another target

@pytest.mark.parametrize("typed,kept", [
    (["uninstall", "-y", "--kube-context", "ctx2"], ["--kube-context", "ctx2"]),
    (["uninstall", "-y", "--istioNamespace", "istio-x", "-n", "kmesh-x"], ["--istioNamespace", "istio-x"]),
    (["waypoint", "delete", "--force", "east", "west"], ["east", "west"]),
    (["disable-ns", "--overwrite=true", "-n", "team-a"], ["team-a"]),  # p34: kubectl's -n is the argument
])
def test_a_word_that_names_the_target_is_never_left_out(typed, kept, capsys, no_env) -> None:  # noqa: F811
    """Leaving out --kube-context, a namespace or the names would make the pasted line act
    on the current context, a default namespace or the default waypoint (t33b 2-4): the
    line keeps them (the next hint respells them) rather than drop them."""
    code, _, err = cli(capsys, *typed)
    assert code == 2, err
    lines = [shlex.split(line) for line in re.findall(r"`(kmeshctl [^`]*)`", err)]
    assert lines and all(" ".join(kept) in " ".join(line) for line in lines), err


def test_a_stray_word_beside_target_cluster_is_no_sandbox(capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target=cluster", "--kube-context", "ctx2", "extra")
    assert code == 2 and "--sandbox" not in err, err
