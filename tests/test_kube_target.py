"""The kube layer stands alone: it imports without the CLI, and the CLI's global
--kubeconfig/--context pick the cluster its client talks to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO_ROOT
from kmeshctl import kube
from standin_apiserver import StandinCluster, cluster  # noqa: F401 (fixture)

UNREACHABLE = "http://127.0.0.1:1"  # loopback port 1: nothing listens, connect is refused


@pytest.mark.parametrize("module", ["kmeshctl.kube", "kmeshctl.apply", "kmeshctl.demo_cluster", "kmeshctl.node.agent"])
def test_product_modules_import_without_the_cli(module: str) -> None:
    probe = f"import sys, {module}; print('kmeshctl.cli' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"  # the product layer never pulls in the CLI


def two_context_kubeconfig(standin: StandinCluster, path: Path) -> Path:
    """The stand-in as context `standin`, and an unreachable cluster as the current context."""
    config = yaml.safe_load(standin.kubeconfig.read_text())
    config["clusters"].append({"name": "elsewhere", "cluster": {"server": UNREACHABLE}})
    config["contexts"].append({"name": "elsewhere", "context": {"cluster": "elsewhere", "user": "standin-user"}})
    config["current-context"] = "elsewhere"
    path.write_text(yaml.safe_dump(config))
    return path


def test_global_context_and_kubeconfig_reach_the_client(cluster, tmp_path) -> None:
    target = StandinCluster(cluster.server, two_context_kubeconfig(cluster, tmp_path / "two"), cluster.capsys)

    default = target.kmeshctl("status", "-o", "json")
    assert default.code == 1
    assert f"cannot reach the Kubernetes API at {UNREACHABLE}" in default.err
    assert cluster.server.requests == []

    chosen = target.kmeshctl("--context", "standin", "status", "-o", "json")
    assert "cannot reach" not in chosen.err
    assert json.loads(chosen.out)["namespace"] == "kmesh-system"
    assert cluster.server.requests  # the stand-in answered


def test_typed_client_follows_the_target(cluster, monkeypatch) -> None:
    names = {ns.metadata.name for ns in kube.core_v1_api(kube.KubeTarget(str(cluster.kubeconfig))).list_namespace().items}
    assert "istio-system" in names  # seeded by the stand-in
    assert cluster.server.requests[-1].path == "/api/v1/namespaces"


def test_precheck_with_a_kubeconfig_the_user_gave_that_does_not_load_is_bad_input(cluster, tmp_path) -> None:
    """Issue 14 item 5: exit 2 and the file named, as every cluster command does (an
    unreachable cluster stays the first failed check, exit 1)."""
    missing = StandinCluster(cluster.server, tmp_path / "no-such-kubeconfig", cluster.capsys)
    result = missing.kmeshctl("precheck", "-o", "json")
    assert result.code == 2 and not result.out
    from kmeshctl.params import shown  # the one quoting rule of every value echoed (a long one cut)

    assert f"--kubeconfig {shown(tmp_path / 'no-such-kubeconfig')}: does not exist" in result.err


def test_a_kubeconfig_list_uses_the_first_files_current_context(tmp_path, monkeypatch) -> None:
    # kubectl: in a KUBECONFIG list the first file that sets current-context wins (the
    # client library alone would take the last one's, and talk to another cluster)
    def kubeconfig(name: str, server: str) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": server}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "users": [{"name": name, "user": {"token": "t"}}]}))
        return path

    first, second = kubeconfig("first", "https://127.0.0.1:1"), kubeconfig("second", "https://127.0.0.1:2")
    for order, server in (([first, second], "https://127.0.0.1:1"), ([second, first], "https://127.0.0.1:2")):
        assert kube.load_configuration(kube.KubeTarget(":".join(map(str, order)))).host == server


def test_one_connect_parses_each_kubeconfig_file_once(tmp_path, monkeypatch) -> None:
    """check_kubeconfig's one parse gives the files, the contexts and the current context;
    the context passed to the client and the "cannot reach" origin text reuse it."""
    def kubeconfig(name: str, current: bool) -> Path:
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", **({"current-context": name} if current else {}),
            "clusters": [{"name": name, "cluster": {"server": "https://127.0.0.1:1"}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "users": [{"name": name, "user": {"token": "t"}}]}))
        return path

    files = [kubeconfig("a", False), kubeconfig("b", True)]
    reads: list[str] = []
    read = kube._read_kubeconfig
    monkeypatch.setattr(kube, "_read_kubeconfig", lambda file: reads.append(file) or read(file))
    cfg = kube.load_configuration(kube.KubeTarget(":".join(map(str, files))))
    assert reads == [str(f) for f in files]  # once each, in order
    assert kube.ORIGIN[id(cfg)] == f"kubeconfig {files[0]}:{files[1]}, context b"
    found = kube.check_kubeconfig(":".join(map(str, files)), None, explicit=True)
    assert (found.files, found.contexts, found.current) == ([str(f) for f in files], ["a", "b"], "b")
    reads.clear()
    cfg = kube.load_configuration(kube.KubeTarget(":".join(map(str, files)), "a"))
    assert len(reads) == 2 and kube.ORIGIN[id(cfg)].endswith("context a")
