"""Pass-44 fixer f44b (t43b 3, 4, 6, 9, 10): the lines offered for waypoint's istioctl flags,
NAMESPACE/NAME beside -n, and the kubeconfig problems are whole lines that work when pasted.

- `waypoint apply --enroll-namespace`: the kubectl label line names the namespace and the
  (mended) name of the waypoint the kmeshctl line makes; --for and --enroll-namespace are
  left out together;
- `waypoint apply/delete -n A B/NAME`: two namespaces, both lines; `ns/NAME` is a namespace;
- a kubeconfig that would not load (current-context none of its contexts, a context's
  cluster missing, no current-context, a missing $KUBECONFIG file) is named with the other
  bad values of the line, read only (never connected); demo traffic-shift names a bad
  --context with its flags.

In-process through kmeshctl.cli.main, every command's own work stubbed. The kubeconfigs
point at https://127.0.0.1:1 and are only read.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
import typer

from kmeshctl.cli import app
from kmeshctl.cli.badinput import line_works
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, _pasted_lines, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p43_f43a import _offered

ROOT = typer.main.get_command(app)

_CLUSTER = "clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\n"
_USER = "users:\n- name: u\n  user: {token: x}\n"


def _context(name: str, namespace: str = "", cluster: str = "c") -> str:
    extra = f", namespace: {namespace}" if namespace else ""
    return f"- name: {name!r}\n  context: {{cluster: {cluster}, user: u{extra}}}\n"


KUBECONFIGS = {
    "kc1": "current-context: prod\n" + "contexts:\n" + _context("prod") + _context("dev", "kube-system"),
    "kc4": "current-context: team-b\n" + "contexts:\n" + _context("team-b", "Team_B") + _context("-dash"),
    "kc5": "current-context: Prod\n" + "contexts:\n" + _context("Prod Cluster") + _context("prod") +
           _context("dev"),
    "kc8": "current-context: ghost\n" + "contexts:\n" + _context("ghost", "Team_X", "missing"),
    "kc3": "contexts:\n" + _context("My Ctx") + _context("my ctx"),
    "kc9": "contexts:\n" + _context("only"),
}


@pytest.fixture
def kubeconfigs(tmp_path: Path, monkeypatch) -> Path:
    """The kubeconfigs above in a directory that is the working directory (lines name them relative)."""
    for name, body in KUBECONFIGS.items():
        (tmp_path / f"{name}.yaml").write_text(f"apiVersion: v1\nkind: Config\n{_CLUSTER}{_USER}{body}")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _kubectl(line: str) -> list[str]:
    return [shlex.split(part) for part in line.split("`")[1::2] if part.startswith("kubectl")][0]


# ------------------------------------------------------------------ 3. --enroll-namespace and --for


@pytest.mark.parametrize("words,kmeshctl,kubectl", [
    # pass 46 (t45a 9, 11): a dry run (the namespace is an example: a real apply gets no line), its label line one too
    (["--kubeconfig", "kc1.yaml", "--context", "dev", "waypoint", "apply", "--enroll-namespace", "--name", "wp",
      "--dry-run"],
     "kmeshctl --kubeconfig kc1.yaml --context dev waypoint apply --name wp --dry-run -n default",
     "kubectl label namespace default istio.io/use-waypoint=wp --kubeconfig kc1.yaml --context dev --dry-run=server"),
    # p47 f47b (t47a 3): w-1a is made up for 1a: a real apply gets no line, a dry run does
    (["waypoint", "apply", "--enroll-namespace", "--name", "1a", "--dry-run"],
     "kmeshctl waypoint apply --name w-1a --dry-run",
     "kubectl label namespace default istio.io/use-waypoint=w-1a --dry-run=server"),
    (["--kubeconfig", "kc1.yaml", "waypoint", "apply", "--enroll-namespace", "-n", "default", "--name", "My_WP"],
     "kmeshctl --kubeconfig kc1.yaml waypoint apply -n default --name my-wp",
     "kubectl label namespace default istio.io/use-waypoint=my-wp --kubeconfig kc1.yaml"),
    (["waypoint", "apply", "--enroll-namespace", "default", "--name", "wp"],
     "kmeshctl waypoint apply --name wp -n default", "kubectl label namespace default istio.io/use-waypoint=wp"),
    (["waypoint", "apply", "--enroll-namespace", "--for", "workload", "-n", "default"],
     "kmeshctl waypoint apply -n default", "kubectl label namespace default istio.io/use-waypoint=waypoint"),
    (["waypoint", "apply", "--for", "workload", "-n", "default", "--enroll-namespace", "--name", "1a", "--dry-run"],
     "kmeshctl waypoint apply -n default --name w-1a --dry-run",
     "kubectl label namespace default istio.io/use-waypoint=w-1a --dry-run=server"),
], ids=["context-namespace-refused", "name-mended", "name-folded", "enroll-word", "with-for", "for-first"])
def test_the_label_line_names_the_waypoint_the_kmeshctl_line_makes(words, kmeshctl, kubectl, kubeconfigs,
                                                                    state_root, stubbed, capsys,  # noqa: F811
                                                                    offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    assert offered == [shlex.split(kmeshctl)], line
    assert _kubectl(line) == shlex.split(kubectl), line


def test_a_context_namespace_that_is_no_name_labels_the_one_meant(kubeconfigs, state_root, stubbed, capsys,  # noqa: F811
                                                                   offline) -> None:  # noqa: F811
    # p46 f46b: the kmeshctl line passes -n the context's Team_B means (team-b), and the label names it
    line, offered = _offered(capsys, "--kubeconfig", "kc4.yaml", "waypoint", "apply", "--enroll-namespace",
                             "--name", "wp")
    assert offered == [shlex.split("kmeshctl --kubeconfig kc4.yaml waypoint apply --name wp -n team-b")], line
    assert _kubectl(line) == shlex.split("kubectl label namespace team-b istio.io/use-waypoint=wp "
                                         "--kubeconfig kc4.yaml"), line
    assert "namespace namespace" not in line, line


# ------------------------------------------------------------------ 4. NAMESPACE/NAME beside -n


@pytest.mark.parametrize("words,said,lines", [
    (["waypoint", "apply", "-n", "default", "team-a/wp1", "--dry-run"],
     "team-a/wp1 and -n default name two namespaces; give one",
     ["kmeshctl waypoint apply -n team-a --name wp1 --dry-run",
      "kmeshctl waypoint apply -n default --name wp1 --dry-run"]),
    (["waypoint", "delete", "-n", "default", "team-a/wp1"], "team-a/wp1 and -n default name two namespaces; give one",
     ["kmeshctl waypoint delete -n team-a --name wp1", "kmeshctl waypoint delete -n default --name wp1"]),
    (["waypoint", "apply", "-n", "default", "ns/default", "--dry-run"],
     "ns/default is kubectl's TYPE/NAME of namespace default", ["kmeshctl waypoint apply -n default --dry-run"]),
    (["waypoint", "delete", "-n", "x", "ns/default"], "and -n x names another; give one",
     ["kmeshctl waypoint delete -n default", "kmeshctl waypoint delete -n x"]),
], ids=["stray", "delete", "ns-type", "ns-type-other"])
def test_a_namespace_slash_name_beside_another_n_offers_both(words, said, lines, state_root, stubbed,  # noqa: F811
                                                              capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    assert said in line, line
    assert offered == [shlex.split(each) for each in lines], line


def _run(*words: str, cwd: str | None = None, **env: str) -> str:
    """The one error line of `kmeshctl WORDS` run as a process (the name checks of the
    command's body run too), exit 2."""
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KMESHCTL_SANDBOX_NAME", "COLUMNS")}
    done = subprocess.run([sys.executable, "-m", "kmeshctl", *words], capture_output=True, text=True, timeout=60,
                          cwd=cwd,
                          env={**base, "HOME": f"/nonexist-f44b-{os.getpid()}",
                               "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **env})
    assert done.returncode == 2 and not done.stdout, (done.returncode, done.stdout, done.stderr)
    (line,) = done.stderr.strip().splitlines()
    return line


def test_name_given_namespace_slash_name_beside_another_n_offers_both(offline) -> None:  # noqa: F811
    line = _run("waypoint", "apply", "-n", "default", "--name", "team-a/wp1", "--dry-run")
    assert "team-a/wp1 and -n default name two namespaces; give one" in line, line
    offered = _pasted_lines(line)
    assert offered == [shlex.split("kmeshctl waypoint apply -n team-a --name wp1 --dry-run"),
                       shlex.split("kmeshctl waypoint apply -n default --name wp1 --dry-run")], line
    assert all(line_works(each, ROOT) for each in offered), line
    line = _run("waypoint", "apply", "-n", "x", "--name", "ns/default")
    assert "did you mean -n default and --name with the name alone?" in line and _pasted_lines(line) == [], line


# ------------------------------------------------------------------ 6. kubeconfig problems with the flag problems


@pytest.mark.parametrize("words,said,lines", [
    (["--kubeconfig", "kc5.yaml", "status", "-o", "jsn"], ["-o jsn", "current-context Prod is not one of its"],
     ["kmeshctl --kubeconfig kc5.yaml --context prod status -o json"]),
    (["--kubeconfig", "kc8.yaml", "status", "-o", "jsn"], ["-o jsn", "names cluster missing, which is not there"],
     []),
    # pass 48 (t47a, still from t45a): a line per context, every other value mended in each
    (["--kubeconfig", "kc3.yaml", "status", "-n", "Bad_NS", "-o", "jsn"],
     ["-n Bad_NS", "-o jsn", "has no current-context"],
     ["kmeshctl --kubeconfig kc3.yaml --context 'My Ctx' status -n bad-ns -o json",
      "kmeshctl --kubeconfig kc3.yaml --context 'my ctx' status -n bad-ns -o json"]),
    (["--kubeconfig", "kc5.yaml", "install", "--dry-run", "-o", "yml", "--cluster-id", "c1", "--xds-address", "x:1"],
     ["-o yml", "current-context Prod"],
     ["kmeshctl --kubeconfig kc5.yaml --context prod install --dry-run -o yaml --cluster-id c1 --xds-address x:1"]),
    (["--kubeconfig", "kc1.yaml", "--context", "Dev", "demo", "traffic-shift", "--target", "cluster", "-n",
      "Default"], ["--context Dev: no such context", "-n Default"],
     ["kmeshctl --kubeconfig kc1.yaml --context dev demo traffic-shift --target cluster -n default"]),
], ids=["kc5-current", "kc8-cluster", "kc3-no-current", "kc5-install", "demo-context"])
def test_a_kubeconfig_that_would_not_load_is_said_with_the_flags(words, said, lines, kubeconfigs,
                                                                 state_root, stubbed, capsys,  # noqa: F811
                                                                 offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *words)
    for each in said:
        assert each in line, line
    if lines is not None:
        assert offered == [shlex.split(each) for each in lines], line


def test_a_missing_kubeconfig_env_file_is_said_with_the_flags(state_root, stubbed, capsys, offline,  # noqa: F811
                                                               monkeypatch) -> None:
    monkeypatch.setenv("KUBECONFIG", f"/nonexist-f44b-{os.getpid()}/a.yaml")
    line, offered = _offered(capsys, "status", "-o", "jsn")
    assert "-o jsn" in line and "does not exist" in line and offered == [], line


def test_a_mended_line_is_refused_while_the_kubeconfig_would_not_load(kubeconfigs, offline) -> None:
    assert not line_works(shlex.split("kmeshctl --kubeconfig kc5.yaml status -o json"), ROOT)
    assert not line_works(shlex.split("kmeshctl --kubeconfig kc8.yaml status"), ROOT)
    assert line_works(shlex.split("kmeshctl --kubeconfig kc5.yaml --context prod status -o json"), ROOT)
    assert line_works(shlex.split("kmeshctl --kubeconfig kc8.yaml sandbox list"), ROOT)  # uses no cluster


# ------------------------------------------------------------------ 9. values mended as their single form is


@pytest.mark.parametrize("words,line", [
    (["sandbox", "status", "--name", "Other_X"], "kmeshctl sandbox status --name other-x"),
    (["sandbox", "down", "--name", "T43b_zz", "--ignore-not-found"],
     "kmeshctl sandbox down --name t43b-zz --ignore-not-found"),
    (["sandbox", "status", "--name", "T43B_zz", "-o", "jsn"], "kmeshctl sandbox status --name t43b-zz -o json"),
    (["status", "-n", "Team A"], "kmeshctl status -n team-a"),
    (["dump", "config", "--pod", "pod/Kmesh_1"], "kmeshctl dump config --pod pod/kmesh-1"),
    (["dump", "config", "--pod", "kmesh-system/Kmesh_1"], "kmeshctl dump config --pod kmesh-system/kmesh-1"),
    (["bench", "dataplane", "--paths", "diect"], "kmeshctl bench dataplane --paths direct"),
    (["bench", "dataplane", "--loads", "paced1k"], "kmeshctl bench dataplane --loads paced-1k"),
    (["bench", "dataplane", "--paths", "direct,Kmesh-L4,kmesh_waypoint"],
     "kmeshctl bench dataplane --paths direct,kmesh-l4,kmesh-waypoint"),
    (["bench", "dataplane", "--paths", "direct,direct", "-o", "jsn"],
     "kmeshctl bench dataplane --paths direct -o json"),
], ids=["sandbox-status", "sandbox-down-ignore", "sandbox-status-o", "namespace-space", "pod-type", "pod-ns",
        "paths-typo", "loads-dash", "paths-list", "paths-twice"])
def test_a_value_is_mended_in_every_form(words, line) -> None:
    said = _run(*words)
    offered = _pasted_lines(said)
    assert offered == [shlex.split(line)], said
    assert line_works(offered[0], ROOT), said


def test_a_list_naming_something_unknown_gets_no_guess() -> None:
    said = _run("bench", "dataplane", "--paths", "direct,Kmesh-L4,foo")
    assert "use a comma-separated list of" in said and _pasted_lines(said) == [], said
    said = _run("bench", "dataplane", "--paths", "direct,direct")
    assert "direct is given twice; use each name once; did you mean --paths direct?" in said, said


def test_sandbox_down_of_no_such_sandbox_offers_no_name() -> None:
    said = _run("sandbox", "down", "--name", "Zz_9")
    # pass 48 (t47a): the name meant is said (not an example), still with no line
    assert "it would be --name zz-9, and no sandbox is named zz-9" in said and _pasted_lines(said) == [], said


def test_the_sandbox_variable_is_mended_on_every_command() -> None:
    for words in (["sandbox", "status"], ["dump", "maps"]):
        said = _run(*words, KMESHCTL_SANDBOX_NAME="Bad_1")
        assert "did you mean $KMESHCTL_SANDBOX_NAME=bad-1? `export KMESHCTL_SANDBOX_NAME=bad-1`" in said, said


# ------------------------------------------------------------------ 10. contexts


@pytest.mark.parametrize("words,said,lines", [
    (["--kubeconfig", "kc9.yaml", "status"], "has no current-context (contexts: only); pass --context only:",
     ["kmeshctl --kubeconfig kc9.yaml --context only status"]),
    (["--kubeconfig", "kc3.yaml", "status"],  # pass 48: a line per context (none is current)
     "has no current-context (contexts: 'My Ctx', 'my ctx'); pass --context with one of them: `",
     ["kmeshctl --kubeconfig kc3.yaml --context 'My Ctx' status",
      "kmeshctl --kubeconfig kc3.yaml --context 'my ctx' status"]),
    (["--kubeconfig", "kc3.yaml", "--context", "My Ctx ", "status"], "did you mean 'My Ctx'?",
     ["kmeshctl --kubeconfig kc3.yaml --context 'My Ctx' status"]),
    (["--kubeconfig", "kc1.yaml", "--cluster", "c", "enable-ns", "default"],
     "(contexts in kc1.yaml: prod, dev; --kubeconfig PATH for another file); cluster c is that of contexts prod, dev",
     ["kmeshctl --kubeconfig kc1.yaml enable-ns default --context prod",
      "kmeshctl --kubeconfig kc1.yaml enable-ns default --context dev"]),
], ids=["one-context", "two-contexts", "trailing-space", "cluster-list"])
def test_context_lines(words, said, lines, kubeconfigs) -> None:
    line = _run(*words, cwd=str(kubeconfigs))
    offered = _pasted_lines(line)
    assert said in line, line
    assert offered == [shlex.split(each) for each in lines], line
    assert all(line_works(each, ROOT) for each in offered), line  # the kubeconfigs fixture's working directory


def test_context_names_in_lists_are_quoted(tmp_path, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    kc = tmp_path / "kc.yaml"
    kc.write_text(f"apiVersion: v1\nkind: Config\n{_CLUSTER}{_USER}current-context: prod\ncontexts:\n"
                  + _context("prod") + _context("Prod Cluster"))
    line = _line(capsys, "--kubeconfig", str(kc), "--token", "x", "status")
    assert f"(contexts in {kc}: prod, 'Prod Cluster';" in line, line


def test_completion_leaves_a_dash_context_out_of_a_separate_word(kubeconfigs, capsys, monkeypatch) -> None:
    from kmeshctl.cli.common import complete_contexts

    class Root:
        params = {"kubeconfig": "kc4.yaml"}

    class Ctx:
        def find_root(self) -> Root:
            return Root()

    monkeypatch.setenv("COMP_WORDS", "kmeshctl\n--kubeconfig\nkc4.yaml\n--context\n-")
    monkeypatch.setenv("COMP_CWORD", "4")
    assert complete_contexts(Ctx(), "-") == []  # type: ignore[arg-type]
    assert complete_contexts(Ctx(), "") == ["team-b"]  # type: ignore[arg-type]
    monkeypatch.setenv("COMP_WORDS", "kmeshctl\n--kubeconfig\nkc4.yaml\n--context=-")
    monkeypatch.setenv("COMP_CWORD", "3")
    assert complete_contexts(Ctx(), "-") == ["-dash"]  # type: ignore[arg-type]


def test_a_namespace_variable_gets_its_export_line() -> None:
    said = _run("node", "run", "--admin-port", "0", "--log-level", "x", POD_NAMESPACE="Kmesh_System")
    assert "did you mean $POD_NAMESPACE=kmesh-system? `export POD_NAMESPACE=kmesh-system`" in said, said
