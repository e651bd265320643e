"""Issue 14, kind "a suggested command talks to the cluster the user named": every
kmeshctl or kubectl command that an output suggests (an error line, a JSON or YAML
field, a table cell, a line under a table) carries the --context the user typed, so
pasting it never reaches another cluster. A sweep of failing commands, each run with
`--context X` (the kubeconfig from $KUBECONFIG, as most users have it), in every output
format, checks each suggestion.

Real parts: kmeshctl.cli.main in-process; a loopback HTTP server answering 403 to
everything (test_cli_cluster_errors' `web`), and the stand-in API server (tests/standin)
with kmesh installed whose agents cannot be port-forwarded to."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from standin import tls
from standin_apiserver import TOKEN, cluster  # noqa: F401 (fixture)
from test_cli_cluster_errors import status_body, url, web  # noqa: F401 (fixture)
from test_cli_kinds import cli
from kmeshctl.cli.suggestions import LOCAL_GROUPS

SWEEP = [["status"], ["status", "-o", "json"], ["status", "-o", "yaml"], ["status", "-o", "wide"], ["version"],
         ["version", "-o", "json"], ["version", "-o", "yaml"], ["precheck"], ["precheck", "-o", "json"],
         ["uninstall"], ["enable-ns", "default"], ["waypoint", "list"], ["dump", "config", "--pod", "nope"]]


def _kubeconfig(path: Path, servers: dict[str, str]) -> Path:
    """One kubeconfig, a context (and cluster) per name; current-context is none of them.
    An https server is trusted as the stand-in's (its CA)."""
    def cluster(server: str) -> dict:
        return {"server": server, **({"certificate-authority-data": tls.ca_data()} if server.startswith("https:")
                                     else {})}

    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "elsewhere",
        "clusters": [{"name": n, "cluster": cluster(s)} for n, s in [*servers.items(), ("elsewhere",
                                                                                      "https://127.0.0.1:1")]],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "u"}} for n in [*servers, "elsewhere"]],
        "users": [{"name": "u", "user": {"token": TOKEN}}]}))
    return path


def suggestions(text: str) -> list[list[str]]:
    """Every backticked kmeshctl / kubectl command of ``text`` (lines joined), as words."""
    flat = " ".join(text.split())
    return [shlex.split(found) for found in re.findall(r"`((?:kmeshctl|kubectl) [^`]*)`", flat)]


def carries_context(words: list[str], context: str) -> bool:
    if words[0] == "kmeshctl" and len(words) > 1 and next((w for w in words[1:] if not w.startswith("-")),
                                                         "") in LOCAL_GROUPS:
        return True  # a local command: no cluster to name
    return any(a == "--context" and b == context for a, b in zip(words, words[1:])) or f"--context={context}" in words


def test_every_suggestion_of_every_failing_command_keeps_the_context(cluster, web, tmp_path, capsys,  # noqa: F811
                                                                     monkeypatch) -> None:
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20", "-q").code == 0
    forbidden = web(403, status_body(403, "Forbidden", 'forbidden: User "bob" cannot get path "/version"'))
    config = _kubeconfig(tmp_path / "multi.yaml", {"forbidden": url(forbidden), "empty": cluster.server.url})
    monkeypatch.setenv("KUBECONFIG", str(config))
    monkeypatch.delenv("KMESHCTL_SANDBOX_NAME", raising=False)
    checked = 0
    for context in ("forbidden", "empty"):
        for args in SWEEP:
            code, out, err = cli(capsys, "--context", context, *args)
            found = suggestions(out + err)
            for words in found:
                assert carries_context(words, context), (context, args, words, out + err)
            checked += len(found)
            if context == "empty" and args[0] in ("status", "version"):
                assert found, (args, out, err)  # the port-forward hint is there to check
    assert checked >= 20, checked


@pytest.mark.parametrize("args", [["version", "-o", "json"], ["version", "-o", "yaml"], ["version"],
                                  ["precheck", "-o", "json"], ["precheck"], ["status"]], ids=" ".join)
def test_a_kubeconfig_from_the_variable_is_named_so_in_every_form(args, tmp_path, capsys, monkeypatch) -> None:
    """`(from $KUBECONFIG)` after the path, in a JSON field or a precheck row as in an error line."""
    from test_cli_kinds import _dead_kubeconfig

    dead = _dead_kubeconfig(tmp_path / "dead.yaml")
    monkeypatch.setenv("KUBECONFIG", str(dead))
    monkeypatch.delenv("KMESHCTL_SANDBOX_NAME", raising=False)
    code, out, err = cli(capsys, "--request-timeout", "2", *args)
    text = " ".join((out + err).split())
    assert code == 1 and str(dead) in text, (out, err)
    assert f"{dead} (from $KUBECONFIG)" in text, (out, err)


def test_a_missing_argument_example_keeps_the_typed_cluster_flags(tmp_path, capsys) -> None:
    # click's "Missing argument" becomes the command's own example, pasteable as typed
    config = _kubeconfig(tmp_path / "k.yaml", {"ctx": "https://127.0.0.1:9"})
    code, out, err = cli(capsys, "--kubeconfig", str(config), "--context", "ctx", "enable-ns")
    assert code == 2 and not out, err
    assert f"e.g. `kmeshctl --kubeconfig {config} --context ctx enable-ns default`" in err, err
