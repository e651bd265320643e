"""Issue 14, kinds "a malformed kubeconfig server is named for what it is" and "a
kubeconfig path problem reads as every path flag's": each malformed `server` of the
context in use gets its own diagnosis, exit 2, before anything connects; a --kubeconfig
(or $KUBECONFIG, or ~/.kube/config) that is missing, a directory or unreadable reads
`FLAG PATH: does not exist | is not a file | is not readable (permission denied)`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from test_cli_kinds import KMESHCTL, cli, no_env  # noqa: F401


def _kubeconfig(path: Path, server: str) -> Path:
    path.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: '" + server + "'}\n"
                    "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n"
                    "users:\n- name: u\n  user: {token: t}\n")
    return path


@pytest.mark.parametrize("server,problem", [
    ("https://[::1:56677", "the [ of '[::1:56677' is not closed (an IPv6 address is written in brackets: "
                           "https://[ADDRESS]:PORT)"),
    ("htps//127.0.0.1::x", "not a URL: it starts with htps//, which is not a scheme (write https://)"),
    ("https:/127.0.0.1:6443", "not a URL: it starts with https:/, which is not a scheme (write https://)"),
    ("ftp://127.0.0.1:6443", "scheme ftp is not supported (an API server speaks https://)"),
    ("https://127.0.0.1::x", "127.0.0.1::x has more than one ':' (an IPv6 address is written in brackets"),
    ("https://[::1]:70000", "port 70000 is out of range (1-65535)"),
    ("https://[zz]:6443", "[zz] is not an IPv6 address"),
    ("https://[::1]x", "x after [::1] is not :PORT"),
    ("https://host:", "no port after ':'"),
    ("https://host:abc", "port abc is not a number"),
    ("https://", "not a URL: no host after https://"),
    ("https://bad_host!:6443", "'bad_host!' is not a host name or IP address"),
    ("not a url", "not a URL (it has a space)"),
])
def test_every_malformed_server_gets_its_own_diagnosis_exit_2(server: str, problem: str, tmp_path: Path, capsys,
                                                              no_env) -> None:
    config = _kubeconfig(tmp_path / "kc.yaml", server)
    for words in (["status"], ["precheck"], ["install", "--cluster-id", "c1", "--dry-run"]):
        code, out, err = cli(capsys, "--kubeconfig", str(config), *words)
        assert code == 2 and not out, (words, err)
        assert f"the cluster c in kubeconfig {config} has server " in err and f": {problem}" in err, err
        assert "cannot reach" not in err and "port 56677 is out of range" not in err, err


# (a server without a scheme: tests/test_p30_kubeconfig.py; kubectl's scheme for it, http)
@pytest.mark.parametrize("server", ["https://127.0.0.1:1", "https://[::1]:1", "http://localhost:1"])
def test_a_well_formed_server_is_asked(server: str, tmp_path: Path, capsys, no_env) -> None:
    code, _, err = cli(capsys, "--kubeconfig", str(_kubeconfig(tmp_path / "kc.yaml", server)), "status")
    assert code == 1 and "cannot reach the Kubernetes API" in err, err


def test_a_kubeconfig_directory_is_not_a_file_on_every_source(tmp_path: Path, capsys, no_env, monkeypatch) -> None:
    folder = tmp_path / "dir"
    folder.mkdir()
    for words in (["status"], ["sandbox", "list"]):
        code, _, err = cli(capsys, "--kubeconfig", str(folder), *words)
        assert code == 2 and err.startswith(f"Error: --kubeconfig {folder}: is not a file; pass --kubeconfig "
                                            "PATH of a kubeconfig file"), err
    monkeypatch.setenv("KUBECONFIG", str(folder))
    code, _, err = cli(capsys, "status")
    assert code == 2 and err.startswith(f"Error: $KUBECONFIG={folder}: is not a file;"), err
    monkeypatch.delenv("KUBECONFIG")
    home = tmp_path / "home"
    (home / ".kube" / "config").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    code, _, err = cli(capsys, "status")
    assert code == 1 and err.startswith(f"Error: kubeconfig {home}/.kube/config: is not a file;"), err


def test_a_missing_kubeconfig_says_does_not_exist(tmp_path: Path, capsys, no_env, monkeypatch) -> None:
    missing = tmp_path / "nope"
    code, _, err = cli(capsys, "--kubeconfig", str(missing), "status")
    assert code == 2 and err.startswith(f"Error: --kubeconfig {missing}: does not exist; pass --kubeconfig PATH "
                                        "of an existing kubeconfig file"), err
    monkeypatch.setenv("KUBECONFIG", str(missing))
    code, _, err = cli(capsys, "status")
    assert code == 2 and err.startswith(f"Error: $KUBECONFIG={missing}: does not exist;"), err


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv is not installed")
def test_an_unreadable_kubeconfig_says_permission_denied() -> None:
    # root reads every file: the real check runs as nobody (setpriv), on a file it may not
    # read, in a directory of its own that nobody may enter (pytest's tmp_path is root's only)
    folder = Path(tempfile.mkdtemp(prefix="kmeshctl-unreadable-"))
    try:
        folder.chmod(0o755)
        config = _kubeconfig(folder / "kc.yaml", "https://127.0.0.1:1")
        config.chmod(0o000)
        done = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", KMESHCTL,
                               "--kubeconfig", str(config), "status"], capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(folder),
                                   **{k: v for k, v in os.environ.items() if k == "PYTHONPATH"}})
    finally:
        shutil.rmtree(folder)
    assert done.returncode == 2 and done.stderr.startswith(
        f"Error: --kubeconfig {config}: is not readable (permission denied);"), done.stderr
