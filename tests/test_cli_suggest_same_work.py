"""Issue 14, kind "a suggested command works when pasted", for the suggestions of another
form of the same work (install -> the offline `render`, render -> `install --dry-run`,
a missing istiod address -> `install --dry-run --xds-address ...`): such a command
carries every flag the user typed that it takes, not only the ones that choose a target,
and pasted back it runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from test_cli_kinds import _dead_kubeconfig, cli, no_env  # noqa: F401

XDS = "istiod.istio-system.svc:15012"
# install flags render takes too, each given a value install and render accept
SHARED = ["--xds-address", XDS, "--cluster-id", "c1", "--image", "registry.example.com/kmesh/node:1",
          "-n", "kmesh2", "--no-enable-bypass", "--enable-bpf-log", "--istio-namespace", "istio2",
          "--network", "n1", "--kubernetes-version", "1.29", "-o", "json", "--mode", "dual-engine"]


def _suggested(err: str, program: str = "kmeshctl") -> list[str]:
    found = re.findall(rf"`({program} [^`]*)`", err)
    assert found, err
    return shlex.split(found[-1])


def _no_cluster_home(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def test_a_dry_run_on_a_cluster_that_is_down_suggests_render_with_every_flag_given(tmp_path: Path, capsys,
                                                                                   no_env) -> None:
    dead = _dead_kubeconfig(tmp_path / "dead.yaml")
    code, out, err = cli(capsys, "install", "--cluster-id", "c1", "--dry-run", "--xds-address", XDS,
                         "--kubeconfig", str(dead))
    assert code == 1 and not out, err
    assert err.strip().endswith(f"to validate without a cluster: `kmeshctl render --xds-address {XDS} "
                                "--cluster-id c1`"), err
    code, out, err = cli(capsys, "install", "--dry-run", "--kubeconfig", str(dead), "--no-wait", "--timeout", "9",
                         *SHARED)
    assert code == 1 and not out, err
    words = _suggested(err)
    assert words[:2] == ["kmeshctl", "render"] and sorted(words[2:]) == sorted(SHARED), words
    # pasted back, it runs: render with the same flags prints the manifests
    code, out, err = cli(capsys, *words[1:])
    assert code == 0 and '"kind": "List"' in out, err


def test_a_dry_run_without_istiod_or_cluster_suggests_the_same_install_with_the_address(tmp_path: Path, capsys,
                                                                                         monkeypatch, no_env) -> None:
    _no_cluster_home(tmp_path, monkeypatch)
    code, out, err = cli(capsys, "install", "--dry-run", "--cluster-id", "c1", "-n", "kmesh3", "--image",
                         "registry.example.com/kmesh/node:1")
    assert code == 2 and not out and "--xds-address is required" in err, err
    words = _suggested(err)
    assert words[:2] == ["kmeshctl", "install"] and "--xds-address" in words and words.count("--dry-run") == 1
    assert {"-n", "kmesh3", "--image", "registry.example.com/kmesh/node:1", "--cluster-id", "c1"} <= set(words)
    code, out, err = cli(capsys, *words[1:])  # pasted: the offline dry run
    assert code == 0 and "kind: DaemonSet" in out and "namespace: kmesh3" in out, err


def test_render_without_crd_schemas_suggests_install_dry_run_with_its_flags(capsys, no_env) -> None:
    code, out, err = cli(capsys, "render", "--xds-address", XDS, "--cluster-id", "c1", "-n", "kmesh2")
    assert code == 0 and out, err
    words = _suggested(err)
    assert words == ["kmeshctl", "install", "--xds-address", XDS, "--cluster-id", "c1", "-n", "kmesh2",
                     "--dry-run"], err


@pytest.mark.parametrize("value", ["client"])  # --dry-run=server is --dry-run; none: tests/test_p25_fixes.py
def test_kubectls_dry_run_values_say_what_dry_run_is_and_name_the_offline_form(value: str, capsys,
                                                                               no_env) -> None:
    code, out, err = cli(capsys, "install", "--cluster-id", "c1", "--image", "registry.example.com/kmesh/node:1",
                         f"--dry-run={value}", "--no-wait")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert "write --dry-run (it is kubectl's --dry-run=server: the API server checks every object, nothing is " \
           "changed)" in err, err
    # no cluster here: istiod's unrevisioned Service (pass 30: a line that renders), never an example's address
    assert _suggested(err) == ["kmeshctl", "render", "--cluster-id", "c1", "--image",
                               "registry.example.com/kmesh/node:1", "--xds-address", "istiod.istio-system.svc:15012"], err


def test_every_command_with_dry_run_explains_it(capsys, no_env) -> None:
    from test_cli_kinds import leaf_commands

    with_dry_run = [words for words, command in leaf_commands()
                    if any("--dry-run" in p.opts for p in command.params)]
    assert ["install"] in with_dry_run and ["waypoint", "apply"] in with_dry_run
    for words in with_dry_run:
        code, _, err = cli(capsys, *words, "--dry-run=client")
        own = "it is kubectl's --dry-run=client" if words == ["waypoint", "delete"] else "it is kubectl's --dry-run=server"
        assert code == 2 and own in err and ("offline (client) form" in err or words == ["waypoint", "delete"]), err
