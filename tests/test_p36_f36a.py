"""Hint lines of the CLI work when pasted, in one paste (pass 36, issue 14, f36a; t35a's
findings): a bad --xds-address shape (no port, a scheme, a second port, `host:`, a list)
gets a whole line to paste on render and install, the line of another mistake (istioctl's
--revision) mends it too; an unquoted `--context my ctx` gets the name quoted; another
command's namespace flag on enable-ns keeps its value as the namespace; cilium's
--wait-duration becomes --timeout with the --wait it needs; two bad values are both said;
`-qo <TAB>` completes -o's values; kubectl's `-v 6` is the log level; `--istio-ns` is
--istio-namespace; `kmeshctl --context status` offers no context the user did not choose.

In-process (test_cli_kinds.cli), HOME a temporary directory: nothing reaches a cluster;
completion through the real protocol (test_cli_value_completion)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from test_cli_kinds import cli, no_env  # noqa: F401
from test_cli_value_completion import protocol, tree  # noqa: F401
from test_p34_hints import no_cluster  # noqa: F401 (fixture)

KUBECONFIG = """apiVersion: v1
kind: Config
current-context: prod
contexts:
- {name: prod, context: {cluster: c, user: u}}
- {name: my ctx, context: {cluster: c, user: u}}
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:1"}}
users:
- {name: u, user: {}}
"""


@pytest.fixture
def kubeconfig(tmp_path, monkeypatch, no_cluster) -> str:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(path))
    return str(path)


def _lines(err: str) -> list[str]:
    return re.findall(r"`(kmeshctl [^`]*)`", err)


def _one_line(capsys, *typed: str) -> list[str]:
    code, _, err = cli(capsys, *typed)
    lines = _lines(err)
    assert code == 2 and len(lines) == 1 and len(err.strip().splitlines()) == 1, err
    return shlex.split(lines[0])


# ------------------------------------------------------------------ 1, 4. --xds-address shapes: one paste

SHAPES = ["istiod.istio-system.svc", "https://istiod.istio-system.svc:15012", "istiod:15012:15012", "istiod:",
          "a.istio-system.svc:15012,b.istio-system.svc:15012", "istiod-canary.istio-system.svc"]


@pytest.mark.parametrize("address", SHAPES)
@pytest.mark.parametrize("more", [["--cluster-id", "c1"], ["--cluster-id", "c1", "-o", "json"], []],
                         ids=lambda x: " ".join(x) or "no-cluster-id")
def test_render_offers_one_whole_line_that_renders(address, more, capsys, no_cluster) -> None:
    line = _one_line(capsys, "render", "--xds-address", address, *more)
    assert line[:2] == ["kmeshctl", "render"] and all(w in line for w in more), line
    code, out, err = cli(capsys, *line[1:])
    assert code == 0 and "kind: DaemonSet" in out or '"DaemonSet"' in out, err


@pytest.mark.parametrize("address", SHAPES)
def test_an_offline_install_dry_run_offers_one_whole_line(address, capsys, no_cluster) -> None:
    line = _one_line(capsys, "install", "--dry-run", "--xds-address", address)
    assert line[:2] == ["kmeshctl", "install"] and "--dry-run" in line and "--cluster-id" in line, line
    code, _, err = cli(capsys, "render", *line[2:][:0], "--xds-address", line[line.index("--xds-address") + 1],
                       "--cluster-id", "c1")
    assert code == 0, err  # the address offered passes render's own check


@pytest.mark.parametrize("command", [["render", "--cluster-id", "c1"], ["install", "--cluster-id", "c1", "--dry-run"]],
                         ids=" ".join)
def test_the_revision_line_mends_an_address_without_a_port(command, capsys, no_cluster) -> None:
    line = _one_line(capsys, *command[:1], "--revision", "canary", "--xds-address", "istiod-canary.istio-system.svc",
                     *command[1:])
    assert "--revision" not in line and "istiod-canary.istio-system.svc:15012" in line, line
    assert all(w in line for w in command[1:]), line
    if command[0] == "render":
        assert cli(capsys, *line[1:])[0] == 0


# ------------------------------------------------------------------ 2. `--context my ctx` unquoted

@pytest.mark.parametrize("typed,line", [
    (["status", "--context", "my", "ctx"], ["status", "--context", "my ctx"]),
    (["--context", "my", "ctx", "status"], ["--context", "my ctx", "status"]),
    (["--context=my", "ctx", "version", "--client"], ["--context", "my ctx", "version", "--client"]),
    (["enable-ns", "foo", "--context", "my", "ctx"], ["enable-ns", "foo", "--context", "my ctx"]),
], ids=lambda x: " ".join(x))
def test_a_context_name_split_by_the_shell_is_quoted(typed, line, capsys, kubeconfig) -> None:
    said = _one_line(capsys, *typed)
    assert said == ["kmeshctl", *line], said
    _, _, err = cli(capsys, *typed)
    assert "'my ctx'" in err and "quote it" in err, err


# ------------------------------------------------------------------ 3, 9. another command's namespace flag

@pytest.mark.parametrize("typed,line", [
    (["enable-ns", "--istio-namespace", "team-a"], "kmeshctl enable-ns team-a"),
    (["disable-ns", "--istio-namespace=team-a", "--wait"], "kmeshctl disable-ns --wait team-a"),
    (["enable-ns", "--pod-namespace", "team-a"], "kmeshctl enable-ns team-a"),
    (["enable-ns", "--istio-ns", "team-a"], "kmeshctl enable-ns team-a"),
    (["enable-ns", "foo", "--istio-namespace", "istio-system"], "kmeshctl enable-ns foo"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_another_commands_namespace_flag_keeps_the_namespace(typed, line, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and _lines(err) == [line], err


def test_another_commands_flag_never_offers_enable_ns_without_a_namespace(capsys, no_cluster) -> None:
    code, _, err = cli(capsys, "enable-ns", "--cluster-id", "c1")
    assert code == 2 and "name the namespaces" in err and "`kmeshctl enable-ns`" not in err, err


@pytest.mark.parametrize("typed,said", [
    (["install", "--istio-ns", "x"], "did you mean --istio-namespace?"),
    (["node", "run", "--pod-ns", "x"], "did you mean --pod-namespace?"),
    (["status", "--istio-ns", "x"], "status does not need --istio-namespace (--istio-ns is --istio-namespace"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_ns_is_namespace_in_a_flags_name(typed, said, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and said in err, err


# ------------------------------------------------------------------ 5. --wait-duration

@pytest.mark.parametrize("typed,line", [
    (["enable-ns", "foo", "--wait-duration", "60s"], "kmeshctl enable-ns foo --timeout 60s --wait"),
    (["disable-ns", "foo", "--wait-duration=60s"], "kmeshctl disable-ns foo --timeout=60s --wait"),
    (["enable-ns", "foo", "--wait", "--wait-duration", "60s"], "kmeshctl enable-ns foo --wait --timeout 60s"),
    (["uninstall", "--wait-duration", "60s"], "kmeshctl uninstall --timeout 60s"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_wait_duration_becomes_a_timeout_that_bounds_a_wait(typed, line, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and _lines(err) == [line], err


# ------------------------------------------------------------------ 6. two bad values in one line

def test_two_bad_values_are_both_said(capsys, no_cluster) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", "istiod", "--cluster-id", "bad id", "--network", "a b")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    for said in ("--cluster-id 'bad id'", "--network 'a b'", "--xds-address istiod: missing port",
                 "istiod.istio-system.svc:15012"):
        assert said in err, err


# ------------------------------------------------------------------ 7. `-qo <TAB>`

@pytest.mark.parametrize("line", ["kmeshctl status -qo ", "kmeshctl -qo ", "kmeshctl sandbox list -qo "])
def test_short_flags_together_complete_the_last_ones_values(line: str, tree: Path) -> None:  # noqa: F811
    assert protocol(line, tree) == protocol(line.replace("-qo", "-q -o"), tree)
    assert {"json", "yaml"} <= set(protocol(line, tree)), line


# ------------------------------------------------------------------ 8. kubectl's `-v 6`

@pytest.mark.parametrize("level,said", [("6", "-v takes no level (kubectl's -v sets one)"),
                                        ("0", "kubectl's -v=0 is its default")])
def test_a_spaced_log_level_is_read_as_one(level, said, capsys, no_cluster) -> None:
    code, _, err = cli(capsys, "demo", "traffic-shift", "-v", level)
    assert code == 2 and said in err and "no sandbox is named" not in err, err


# ------------------------------------------------------------------ 10. `kmeshctl --context status`

@pytest.mark.parametrize("typed", [["--context", "status"], ["--context=status"], ["status", "--context"]],
                         ids=" ".join)
def test_a_missing_context_offers_no_context_not_chosen(typed, capsys, kubeconfig) -> None:
    code, _, err = cli(capsys, *typed)
    assert code == 2 and "prod, 'my ctx'" in err, err
    # none the user did not choose: only the current context, which leaving the flag out uses (t43b 5)
    assert "--context 'my ctx'" not in err and "prod is its current context" in err, err
