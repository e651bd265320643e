"""Issue 14, sixth new-user pass, the cluster-facing commands and the top-level CLI, one
test (or a few) per kind, every command the kind applies to:

1 every waypoint command on a cluster without the Gateway API: one line, how to install it;
2 -n of the commands acting on the user's objects defaults to the kubeconfig context's
  namespace (kmesh's own namespace keeps kmesh-system);
3 a typed --kubeconfig / --context that is wrong is bad input on every command;
4 `kmeshctl -h WORD` is `kmeshctl WORD -h`;
5 `-q/--quiet` on every cluster command with progress lines, uninstall included;
6 a suggested command carries the flags the user typed, and works when pasted.

The cluster is the stand-in API server (tests/standin, a named stand-in: no API server
runs here), the CLI the real command tree through kmeshctl.cli.main, in-process."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from kmeshctl.cli.suggestions import SYSTEM_NAMESPACE_COMMANDS
from kmeshctl.waypoint.deploy import GATEWAY_API_INSTALL
from standin_apiserver import cluster, namespace  # noqa: F401
from test_cli_kinds import REQUIRED_ARGS, ROOT, cli, leaf_commands, no_env  # noqa: F401

GATEWAY_MISSING = "the cluster does not serve the Gateway API (kind Gateway, gateway.networking.k8s.io/v1)"


def gateway_crd() -> dict:
    """The Gateway API's Gateway CRD as the stand-in needs it to serve the kind (its
    schema is not checked there)."""
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gateways.gateway.networking.k8s.io"},
            "spec": {"group": "gateway.networking.k8s.io", "scope": "Namespaced",
                     "names": {"plural": "gateways", "singular": "gateway", "kind": "Gateway",
                               "listKind": "GatewayList"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]}}


def unused_kubeconfig(path: Path) -> Path:
    """A kubeconfig that loads, with the one context `standin`, of a server never asked
    (port 9 on loopback: nothing connects in these tests)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "standin",
        "clusters": [{"name": "standin", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "standin", "context": {"cluster": "standin"}}]}))
    return path


def waypoint_commands() -> list[str]:
    return sorted(name for name, c in ROOT.commands["waypoint"].commands.items() if not c.hidden)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def with_context_namespaces(kubeconfig: Path, namespaces: dict[str, str | None]) -> Path:
    """The stand-in's kubeconfig with one context per entry of ``namespaces`` (context ->
    its `namespace`, None: none set), the first one current."""
    config = yaml.safe_load(kubeconfig.read_text())
    base = config["contexts"][0]["context"]
    config["contexts"] = [{"name": name, "context": {**base, **({"namespace": ns} if ns else {})}}
                          for name, ns in namespaces.items()]
    config["current-context"] = next(iter(namespaces))
    kubeconfig.write_text(yaml.safe_dump(config))
    return kubeconfig


# ------------------------------------------------------------------ 1. no Gateway API


def test_the_waypoint_commands_are_the_four_checked_here() -> None:
    assert waypoint_commands() == ["apply", "delete", "list", "status"]


@pytest.mark.parametrize("words", [["apply"], ["list"], ["list", "-A"], ["list", "-n", "default"], ["status"],
                                   ["delete"]], ids=" ".join)
def test_every_waypoint_command_says_the_cluster_lacks_the_gateway_api(words: list[str], cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("default"))
    result = cluster.kmeshctl("waypoint", *words)
    line = one_line(result.err)
    assert result.code == 1 and not result.out, result
    assert line.startswith(f"Error: {GATEWAY_MISSING}, which waypoints need"), line
    # how to install it, as a kubectl command for the same cluster
    assert f"`{GATEWAY_API_INSTALL} --kubeconfig {cluster.kubeconfig}`" in line, line
    if words == ["apply"]:
        assert "nothing was applied" in line
        assert not [r for r in cluster.server.requests if r.method in ("PATCH", "POST", "DELETE")]


def test_delete_ignore_not_found_without_the_gateway_api_has_nothing_to_delete(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace("default"))
    result = cluster.kmeshctl("waypoint", "delete", "--ignore-not-found")
    assert result.code == 0, result
    assert "Nothing to delete" in result.out + result.err and "does not serve the Gateway API" in result.out + result.err
    assert not [r for r in cluster.server.requests if r.method == "DELETE"]


def test_with_the_gateway_api_an_empty_list_names_its_namespace(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))  # as on a real cluster (a missing one is an error: h92)
    listed = cluster.kmeshctl("waypoint", "list")
    # as kubectl's "No resources found": stdout stays empty, the note is on stderr
    assert listed.code == 0 and listed.out == "" and listed.err.strip() == "No waypoints found in namespace default.", \
        listed
    every = cluster.kmeshctl("waypoint", "list", "-A")
    assert every.code == 0 and every.out == "" and every.err.strip() == "No waypoints found.", every


# ------------------------------------------------------------------ 2. -n from the context


def test_the_waypoint_commands_default_to_the_context_namespace(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    for ns in ("team", "default", "kube-system"):  # default and kube-system: as on a real cluster
        cluster.server.put(namespace(ns))
    with_context_namespaces(cluster.kubeconfig, {"standin": "team", "plain": None})
    assert cluster.kmeshctl("waypoint", "list").err.strip() == "No waypoints found in namespace team."
    status = cluster.kmeshctl("waypoint", "status")
    assert status.code == 1 and "waypoint team/waypoint not found (waypoints in team: none" in status.err, status
    delete = cluster.kmeshctl("waypoint", "delete")
    assert delete.code == 1 and "waypoint team/waypoint not found" in delete.err, delete
    dry = cluster.kmeshctl("waypoint", "apply", "--dry-run", "-o", "json")
    namespaced = [o for o in json.loads(dry.out)["items"] if "namespace" in o["metadata"]]
    assert dry.code == 0 and namespaced and {o["metadata"]["namespace"] for o in namespaced} == {"team"}, dry
    # --context chooses the context whose namespace applies; no namespace there: default
    assert cluster.kmeshctl("--context", "plain", "waypoint", "list").err.strip() == \
        "No waypoints found in namespace default."
    # -n wins over the context's namespace
    assert cluster.kmeshctl("waypoint", "list", "-n", "kube-system").err.strip() == \
        "No waypoints found in namespace kube-system."
    # kmesh's own namespace is not the context's: status still looks in kmesh-system
    assert "no DaemonSet kmesh in namespace kmesh-system" in cluster.kmeshctl("status").out


def test_each_namespace_flag_defaults_by_its_meaning() -> None:
    """-n of kmesh's own namespace defaults to kmesh-system; every other -n of a cluster
    command to the context's namespace (None: looked up when the command runs)."""
    for words, command in leaf_commands():
        param = next((p for p in command.params if p.name == "namespace"), None)
        if param is None or command.hidden:
            continue
        if tuple(words) in SYSTEM_NAMESPACE_COMMANDS:
            assert param.default == "kmesh-system", words
        elif words == ["demo", "traffic-shift"]:  # the namespace of the demo's own manifests
            assert param.default == "default", words
        else:
            assert param.default is None, words  # waypoint *, sandbox exec (any namespace)
        if words[0] == "waypoint":
            assert "kubeconfig context's namespace" in (param.help or ""), words


def test_a_local_dry_run_needs_no_kubeconfig_for_its_namespace(tmp_path: Path, capsys, no_env,
                                                              monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config at all
    code, out, err = cli(capsys, "waypoint", "apply", "--dry-run")
    assert code == 0 and err.startswith("No reachable cluster (") and "rendered offline" in err, err
    assert {d["metadata"].get("namespace") for d in yaml.safe_load_all(out) if d} == {None, "default"}


# ------------------------------------------------------------------ 3. wrong cluster flags


def _every_command_line(words: list[str]) -> list[str]:
    return [*words, *REQUIRED_ARGS.get(tuple(words), []), *(["--", "true"] if words[-1] == "exec" else [])]


def _first_output(words: list[str]) -> str:
    """`version` prints the client's version before any cluster error (as `kubectl version`)."""
    from kmeshctl import __version__

    return f"Client: {__version__}\n" if words == ["version"] else ""


# render and completion read no kubeconfig (as kubectl's completion): a wrong one is not theirs to refuse
OFFLINE = (["render"], ["completion"])
RUNNABLE = [words for words, command in leaf_commands() if not command.hidden and words != ["help"]
            and words not in OFFLINE]


@pytest.mark.parametrize("words", RUNNABLE, ids=" ".join)
def test_a_context_that_does_not_exist_is_refused_by_every_command(words: list[str], tmp_path: Path, capsys,
                                                                   no_env) -> None:
    kubeconfig = unused_kubeconfig(tmp_path / "kc")
    line = _every_command_line(words)
    # after the command (global flags go anywhere), before a `--` (what follows is the pod's)
    at = line.index("--") if "--" in line else len(line)
    code, out, err = cli(capsys, *line[:at], "--kubeconfig", str(kubeconfig), "--context", "nosuch", *line[at:])
    assert code == 2 and out == _first_output(words), (code, out, err)
    assert one_line(err) == (f"Error: --context nosuch: no such context in {kubeconfig} (contexts: standin); "
                             f"pass --context with one of them (see 'kmeshctl {' '.join(words)} --help')")


@pytest.mark.parametrize("words", RUNNABLE, ids=" ".join)
def test_a_kubeconfig_that_does_not_exist_is_refused_by_every_command(words: list[str], tmp_path: Path, capsys,
                                                                      no_env) -> None:
    missing = tmp_path / "nope"
    code, out, err = cli(capsys, "--kubeconfig", str(missing), *_every_command_line(words))
    assert code == 2 and out == _first_output(words), (code, out, err)
    assert one_line(err) == f"Error: --kubeconfig {missing}: does not exist; pass --kubeconfig PATH " \
                            f"of an existing kubeconfig file (see 'kmeshctl {' '.join(words)} --help')"


@pytest.mark.parametrize("words", OFFLINE, ids=" ".join)
def test_the_offline_commands_run_with_cluster_flags_they_never_use(words: list[str], tmp_path: Path, capsys,
                                                                   no_env) -> None:
    kubeconfig = unused_kubeconfig(tmp_path / "kc")
    for flags in (["--kubeconfig", str(tmp_path / "nope")], ["--kubeconfig", str(kubeconfig), "--context", "nosuch"]):
        needed = ["--xds-address", "istiod.istio-system.svc:15012", "--cluster-id", "c1"] if words == ["render"] else []
        code, out, err = cli(capsys, *flags, *_every_command_line(words), *needed)
        assert code == 0 and out, (code, out, err)


def test_the_cluster_flags_rule_cases_of_the_report(tmp_path: Path, capsys, no_env, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for words in (["sandbox", "list"], ["dump", "maps"]):
        code, _, err = cli(capsys, *words, "--context", "nosuch")
        assert code == 2 and one_line(err).startswith("Error: --context nosuch: no kubeconfig to look it up in"), err
    # version --client reads no kubeconfig, as kubectl's (t39a 8): the client's version, exit 0
    code, out, err = cli(capsys, "version", "--client", "--context", "nosuch")
    assert code == 0 and out.startswith("Client: ") and not err, (code, out, err)
    # a good context is accepted where it is not used; help never checks
    kubeconfig = unused_kubeconfig(tmp_path / "kc")
    code, out, err = cli(capsys, "--kubeconfig", str(kubeconfig), "--context", "standin", "version", "--client")
    assert code == 0 and out.startswith("Client: "), err
    assert cli(capsys, "--context", "nosuch", "help", "sandbox")[0] == 0
    assert cli(capsys, "--context", "nosuch", "sandbox", "list", "-h")[0] == 0


def test_the_rule_is_documented() -> None:
    docs = (Path(__file__).resolve().parents[1] / "docs" / "usage.md").read_text()
    assert "A `--kubeconfig` or `--context` you type is checked on every command" in docs
    assert "Two kinds of `-n/--namespace`" in docs and "`namespace` of the kubeconfig context in use" in docs


# ------------------------------------------------------------------ 4. -h before a word


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_before_an_unknown_word_fails_as_the_word_does(flag: str, capsys, no_env) -> None:
    expected = cli(capsys, "nosuch", "-h")
    assert expected[0] == 2 and expected[2].strip().startswith("Error: kmeshctl has no command nosuch; its commands: ")
    assert cli(capsys, flag, "nosuch") == expected
    assert cli(capsys, "nosuch") == expected
    under_group = cli(capsys, "sandbox", "nosuch")
    assert under_group[0] == 2 and "kmeshctl sandbox has no command nosuch" in under_group[2]
    assert cli(capsys, flag, "sandbox", "nosuch") == under_group == cli(capsys, "sandbox", flag, "nosuch")


@pytest.mark.parametrize("words", [["sandbox"], ["sandbox", "up"], ["waypoint", "list"], ["status"]], ids=" ".join)
def test_help_before_a_command_is_that_commands_help(words: list[str], capsys, no_env) -> None:
    own = cli(capsys, *words, "-h")
    assert own[0] == 0 and own[1].startswith(f"Usage: kmeshctl {' '.join(words)} ")
    assert cli(capsys, "-h", *words) == own == cli(capsys, "--help", *words)


# ------------------------------------------------------------------ 5. --quiet


def test_every_cluster_command_with_progress_lines_takes_quiet() -> None:
    for path in (("install",), ("uninstall",), ("enable-ns",), ("disable-ns",), ("waypoint", "apply")):
        command = ROOT
        for word in path:
            command = command.commands[word]
        assert any(p.opts[:2] == ["-q", "--quiet"] for p in command.params), path


def test_uninstall_quiet_prints_only_the_result(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait").code == 0
    quiet = cluster.kmeshctl("uninstall", "--quiet", "--timeout", "20")
    assert quiet.code == 0, quiet.err
    assert quiet.out.strip() == "Uninstalled: 10 objects deleted.", quiet.out
    again = cluster.kmeshctl("uninstall", "-q")
    assert again.code == 0 and again.out.strip() == "Nothing to uninstall: none of kmeshctl's objects exist.", again


# ------------------------------------------------------------------ 6. suggestions carry the flags


SUGGESTED = re.compile(r"`(kmeshctl [^`]*)`")


def _paste(line: str, cluster: Any, *, replace: tuple[str, str] = ("", ""), extra: tuple[str, ...] = ()) -> Any:
    """Run the first suggested `kmeshctl ...` of ``line`` as pasted (without the fixture's
    own --kubeconfig: the suggestion must carry it)."""
    command = SUGGESTED.search(line).group(1).replace(*replace) if replace[0] else SUGGESTED.search(line).group(1)
    argv = shlex.split(command)
    assert argv[0] == "kmeshctl", command
    code, out, err = cli(cluster.capsys, *argv[1:], *extra)
    return command, code, out, err


def test_suggestions_carry_the_typed_flags_and_work_when_pasted(cluster, monkeypatch) -> None:  # noqa: F811
    monkeypatch.delenv("KUBECONFIG", raising=False)
    cluster.server.put(gateway_crd())
    with_context_namespaces(cluster.kubeconfig, {"standin": None, "alt": None})
    kc = str(cluster.kubeconfig)
    # status -n foo --context alt: not installed; the install it suggests keeps all three
    status = cluster.kmeshctl("status", "-n", "foo", "--context", "alt")
    line = next(l for l in status.out.splitlines() if l.startswith("Not installed"))
    assert f"`kmeshctl --kubeconfig {kc} --context alt install --namespace foo --cluster-id ID`" in line, line
    command, code, out, err = _paste(line, cluster, replace=("ID", "c1"), extra=("--dry-run",))
    assert code == 0 and "namespace: foo" in out, (command, err)
    # waypoint status -n team --name east --context alt: apply and list keep them
    cluster.server.put(namespace("team"))
    wp = cluster.kmeshctl("waypoint", "status", "--namespace", "team", "--name", "east", "--context", "alt")
    line = one_line(wp.err)
    assert f"`kmeshctl --kubeconfig {kc} --context alt waypoint apply -n team --name east`" in line, line
    assert f"`kmeshctl --kubeconfig {kc} --context alt waypoint list -A`" in line, line  # never -n with -A
    command, code, out, err = _paste(line, cluster, extra=("--dry-run",))
    assert code == 0 and "namespace: team" in out and "name: east" in out, (command, err)
    # waypoint delete: the list it suggests runs as pasted
    gone = cluster.kmeshctl("waypoint", "delete", "-n", "team", "--name", "east", "--context", "alt")
    command, code, out, err = _paste(one_line(gone.err), cluster)
    assert code == 0 and not out.strip() and err.strip() == "No waypoints found.", (command, err)
    # enable-ns of a namespace that does not exist: the namespaces there are, read through --context alt
    enable = cluster.kmeshctl("enable-ns", "nosuchns", "--context", "alt")
    assert "(namespaces: team)" in one_line(enable.err), enable.err


def test_precheck_fixes_are_commands_with_the_typed_flags(cluster, monkeypatch) -> None:  # noqa: F811
    from standin_apiserver import istiod_service

    monkeypatch.delenv("KUBECONFIG", raising=False)
    cluster.server.put(istiod_service("istiod-1-23-0"))  # two revisions: precheck asks to name one
    result = cluster.kmeshctl("precheck", "-n", "kx", "--istio-namespace", "istio-system", "-o", "json")
    fix = next(c["fix"] for c in json.loads(result.out)["checks"] if c["name"].startswith("istiod"))
    # -n as typed, precheck's -o json not carried to install (h93)
    assert fix.startswith(f"name the one to use: `kmeshctl --kubeconfig {cluster.kubeconfig} install -n kx "
                          "--istio-namespace istio-system --cluster-id ID --xds-address istiod-1-"), fix
    command, code, out, err = _paste(fix, cluster, replace=("ID", "c1"), extra=("--dry-run",))
    assert code == 0 and "namespace: kx" in out, (command, err)


def test_namespace_goes_only_to_a_command_whose_n_means_the_same(cluster, monkeypatch) -> None:  # noqa: F811
    """A waypoint's -n is not kmesh's namespace: kmeshctl precheck (suggested on a 403) and
    waypoint commands never trade it."""
    from kmeshctl.cli.suggestions import namespace_meaning

    assert namespace_meaning(["waypoint", "status"]) == "objects" != namespace_meaning(["precheck"])
    assert namespace_meaning(["status"]) == namespace_meaning(["install"]) == "system"
    monkeypatch.delenv("KUBECONFIG", raising=False)
    # `version -n foo` with no agents suggests install with the same kmesh namespace
    version = cluster.kmeshctl("version", "-n", "foo")
    assert f"`kmeshctl --kubeconfig {cluster.kubeconfig} install --namespace foo --cluster-id ID`" in version.out
    # the 403 of a waypoint command suggests precheck without the waypoint's -n
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("team"))

    import kmeshctl.kube as kube

    # a fault injected (the stand-in has no RBAC): the API server's 403 as kmeshctl words it
    refused = kube._api_error(403, "GET", "/api/v1/namespaces/team/pods", {"message": "pods is forbidden"})

    def forbidden(_self: Any) -> dict:
        raise refused

    monkeypatch.setattr(kube.KubeClient, "server_version", forbidden)
    denied = cluster.kmeshctl("waypoint", "list", "-n", "team")
    # h117 (M7): precheck lists what install needs; kubectl's check of the refused call is true for a waypoint
    assert f"(`kubectl auth can-i list pods -n team --kubeconfig {cluster.kubeconfig}` checks it)" in denied.err, \
        denied.err
