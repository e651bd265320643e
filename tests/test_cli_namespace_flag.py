"""Issue 14, tenth new-user pass, kind "-n/--namespace means a namespace on every
command": every option spelled -n is --namespace (no request count, no other meaning);
the cluster demo has one (where fortio, netutils and their Services are deployed), which
a local run refuses instead of ignoring, and fortio's `-n 10` habit is pointed at -c."""

from __future__ import annotations

import pytest

from kmeshctl import demo
from kmeshctl.demo_cluster import ClusterTarget, in_namespace
from test_cli_kinds import cli, commands, no_env, state_root  # noqa: F401


def test_every_dash_n_is_the_namespace_flag() -> None:
    found = [(words, p) for words, c in commands() for p in c.params if "-n" in getattr(p, "opts", ())]
    assert (["demo", "traffic-shift"]) in [w for w, _ in found]
    for words, param in found:
        assert param.name == "namespace" and "--namespace" in param.opts, (words, param.opts)


def test_the_demo_objects_move_to_the_namespace_given() -> None:
    documents, _ = demo.fortio_demo()
    moved = in_namespace(documents, "h45demo")
    assert {d["metadata"]["name"] for d in moved if d["kind"] == "Namespace"} == {"h45demo"}
    assert {d["metadata"]["namespace"] for d in moved if d["kind"] != "Namespace"} == {"h45demo"}
    assert in_namespace(documents, None) is documents
    assert {d["metadata"].get("namespace") for d in documents if d["kind"] != "Namespace"} == {"default"}


class _Client:
    host = "https://standin.h45"


@pytest.mark.parametrize("choice", ["auto", "cluster"])
def test_a_namespace_chooses_the_cluster_demo_in_that_namespace(choice: str, monkeypatch) -> None:
    import kmeshctl.demo_cluster as demo_cluster

    monkeypatch.setattr(demo_cluster, "reachable_cluster", lambda _target: (_Client(), None))
    documents, subject = demo.fortio_demo()
    target, note = demo.choose_target(choice, documents, subject, namespace="h45demo")
    assert isinstance(target, ClusterTarget) and note.startswith("Target: cluster"), note
    assert target._vs_namespace == "h45demo"
    assert {d["metadata"]["namespace"] for d in target._documents if d["kind"] != "Namespace"} == {"h45demo"}


@pytest.mark.parametrize("line,expected", [  # h108: -n is the local demo's namespace too (test_demo_local_namespace)
    (["-n", "10"], "-n 10: -n is the demo's namespace (as on every command); the request count is "
                   "-c/--requests, e.g. -c 12"),  # t41a 4: what 90/10 needs, not 10
], ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_the_demo_namespace_is_refused_where_it_would_be_ignored(line, expected, capsys, no_env, state_root) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", *line)
    assert code == 2 and not out and err.count("\n") == 1 and expected in err, err
    assert err.rstrip().endswith("(see 'kmeshctl demo traffic-shift --help')"), err


def test_without_a_cluster_the_namespace_names_why_the_cluster_was_asked(capsys, no_env, tmp_path,
                                                                         monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, _, err = cli(capsys, "demo", "traffic-shift", "-n", "h45demo", "--target", "cluster")
    assert code == 1 and err.startswith("Error: --target cluster: no cluster configured"), err
