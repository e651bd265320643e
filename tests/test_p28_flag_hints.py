"""Pass-28 new-user findings on flags (fixer F28-C), in-process through kmeshctl.cli.main
(sandbox records in a temporary state root; the commands' own work stubbed to exit 7, so
a pasted kmeshctl line must get past parsing and every flag check; cluster cases against
the stand-in API server):

- 1: --revision offers the istiod Services the cluster has (labelled istio.io/rev=R, or
  named as Istio names them), else all found; offline, `istiod` for the default revision;
- 2: kubectl's, helm's and cilium's cluster, verbosity and install flags say what to do;
- 3: `--context=` lists the kubeconfig's contexts, `--kubeconfig=` gives an example path;
- 4: a path typed unquoted with a space is offered quoted, the whole line;
- 5: -n on a command whose namespace flag has another name (node run's --pod-namespace);
- 6: a list flag given twice (`--weights 90/10 --weights 50/50`) is offered joined.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import typer

import test_p27_flag_hints as p27
from kmeshctl.cli import app
from standin_apiserver import istiod_service, make_cluster  # noqa: F401 (fixture)
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import STUBBED, _line, stubbed  # noqa: F401
from test_p23_command_hints import _pasted_lines as _pasted
from test_p26_habits import kubeconfig, offline  # noqa: F401 (fixtures)
from test_p27_flag_hints import _assert_pastable, one_tree  # noqa: F401

ROOT = typer.main.get_command(app)
SANDBOX = "t28c-one"
USER = "kubectl-create"


# ------------------------------------------------------------------ 1. --revision: istiod's Services


@pytest.mark.parametrize("revision,service", [("default", "istiod"), ("1-22", "istiod-1-22")])
def test_offline_the_revision_names_istiods_service_as_istio_does(revision: str, service: str, stubbed, capsys,
                                                                  offline) -> None:  # noqa: F811
    line = _line(capsys, "install", "--cluster-id", "c1", "--revision", revision)
    assert _pasted(line) == [["kmeshctl", "install", "--cluster-id", "c1", "--xds-address",
                              f"{service}.istio-system.svc:15012"]], line
    _assert_pastable(capsys, line)


def _revision_cluster(make_cluster):  # noqa: F811
    """istiod (default, unlabelled), istiod-1-22-6 (by name) and a Service labelled istio.io/rev=canary."""
    running = make_cluster(istiod_names=("istiod", "istiod-1-22-6"))
    canary = istiod_service("istiod-canary")
    canary["metadata"]["labels"] = {"app": "istiod", "istio.io/rev": "canary"}
    running.server.put(canary, USER)
    return running


@pytest.mark.parametrize("revision,offered", [
    ("default", ["istiod.istio-system.svc:15012"]),
    ("1-22-6", ["istiod-1-22-6.istio-system.svc:15012"]),
    ("canary", ["istiod-canary.istio-system.svc:15012"]),
    ("1-23", ["istiod-1-22-6.istio-system.svc:15012", "istiod-canary.istio-system.svc:15012",
              "istiod.istio-system.svc:15012"]),
])
def test_with_a_cluster_the_revision_offers_its_istiod_services(revision: str, offered: list[str], make_cluster,
                                                                stubbed) -> None:  # noqa: F811
    running = _revision_cluster(make_cluster)
    result = running.kmeshctl("install", "--cluster-id", "c1", "--revision", revision)
    assert result.code == 2, result
    line = result.err.strip()
    assert len(line.splitlines()) == 1, line
    if revision == "1-23":
        assert "no istiod Service of revision 1-23 was found" in line, line
    pasted = _pasted(line)
    assert [words[-1] for words in pasted] == offered, line
    for words in pasted:
        assert words[:-1] == ["kmeshctl", "--kubeconfig", str(running.kubeconfig), "install", "--cluster-id", "c1",
                              "--xds-address"], line
        assert running.as_typed(*words).code == STUBBED, words


# ------------------------------------------------------------------ 2. other tools' flags on every command

NEW_FLAGS = [["--cluster", "c"], ["--user", "u"], ["--server", "https://127.0.0.1:1"], ["-s", "https://127.0.0.1:1"],
             ["--token", "t"], ["--insecure-skip-tls-verify"], ["-v=6"], ["--v=6"], ["-v", "6"], ["--verbose"],
             ["--kube-context", "c"], ["--helm-set", "a=b"], ["--wait-duration", "5m"], ["--chart-directory", "d"]]


@pytest.mark.parametrize("words", p27._leaves(), ids=" ".join)
def test_no_cluster_verbosity_or_install_flag_gets_a_bare_no_such_option(words: list[str], state_root, one_tree,
                                                                         capsys, offline, kubeconfig: str,
                                                                         monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr(p27, "OTHER_TOOLS_FLAGS", NEW_FLAGS)
    p27.test_no_other_tools_flag_gets_a_bare_no_such_option(words, state_root, one_tree, capsys, offline, kubeconfig)


KUBECONFIG = ("apiVersion: v1\nkind: Config\nclusters:\n- name: prod-cluster\n"
              "  cluster: {server: 'https://127.0.0.1:1'}\n"
              "contexts:\n- name: prod\n  context: {cluster: prod-cluster, user: admin}\n- name: dev\n"
              "  context: {cluster: dev-cluster, user: dev}\ncurrent-context: prod\n"
              "users:\n- name: admin\n  user: {token: x}\n")


@pytest.fixture
def two_contexts(tmp_path: Path) -> str:
    path = tmp_path / "t28c-kubeconfig"
    path.write_text(KUBECONFIG)
    return str(path)


@pytest.mark.parametrize("flag,said,context", [
    (["--cluster", "prod-cluster"], "cluster prod-cluster is context prod's", "prod"),
    (["--user", "dev"], "user dev is context dev's", "dev"),
    (["--kube-context", "dev"], "did you mean --context (helm's --kube-context)?", "dev"),
])
def test_a_cluster_or_user_typed_offers_its_context(flag: list[str], said: str, context: str, stubbed, capsys,
                                                    offline, two_contexts: str) -> None:  # noqa: F811
    line = _line(capsys, "--kubeconfig", two_contexts, "status", *flag)
    assert said in line, line
    assert _pasted(line) == [["kmeshctl", "--kubeconfig", two_contexts, "status", "--context", context]], line
    _assert_pastable(capsys, line)


@pytest.mark.parametrize("flag,kubectl", [
    (["--user", "nobody"], "kubectl config set-context NAME --cluster=CLUSTER --user=nobody"),
    (["-s", "https://10.0.0.1:6443"], "kubectl config set-cluster NAME --server=https://10.0.0.1:6443"),
    (["--token", "secret"], "kubectl config set-credentials NAME --token=TOKEN"),
    (["--insecure-skip-tls-verify"], "kubectl config set-cluster NAME --insecure-skip-tls-verify=true"),
])
def test_another_cluster_setting_lists_the_contexts_and_the_kubectl_line(flag: list[str], kubectl: str, stubbed,
                                                                         capsys, offline,
                                                                         two_contexts: str) -> None:  # noqa: F811
    line = _line(capsys, "--kubeconfig", two_contexts, "status", *flag)
    assert f"--context NAME (contexts in {two_contexts}: prod, dev;" in line, line
    assert f"`{kubectl} --kubeconfig {two_contexts}`" in line and "secret" not in line, line


@pytest.mark.parametrize("words,flag,line", [
    (["demo", "traffic-shift", "--sandbox", SANDBOX], ["--v=6"],
     ["demo", "traffic-shift", "--sandbox", SANDBOX, "-v"]),
    (["node", "run"], ["--verbose"], ["node", "run", "--log-level", "debug"]),
    (["status"], ["-v=6"], ["status"]),
    (["install", "--cluster-id", "c1"], ["--wait-duration", "5m"],
     ["install", "--cluster-id", "c1", "--timeout", "5m", "--wait"]),  # its --timeout bounds --wait's (f36a)
    (["install", "--cluster-id", "c1"], ["--chart-directory", "d"], ["install", "--cluster-id", "c1", "--dry-run"]),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_verbosity_and_cilium_install_flags_offer_kmeshctls(words: list[str], flag: list[str], line: list[str],
                                                            state_root, stubbed, capsys,
                                                            kubeconfig: str) -> None:  # noqa: F811
    _record(SANDBOX)
    said = _line(capsys, *words, *flag, "--kubeconfig", kubeconfig)
    # the demo's --sandbox beside --kubeconfig is refused itself ("give one of them"): its first way the sandbox's
    assert _pasted(said)[0] == ["kmeshctl", *line, "--kubeconfig", kubeconfig] or \
        _pasted(said)[0] == ["kmeshctl", *words, "--kubeconfig", kubeconfig, *line[len(words):]] or \
        "--sandbox" in words and _pasted(said)[0] == ["kmeshctl", *line, "--target", "local"], said
    _assert_pastable(capsys, said)


# ------------------------------------------------------------------ 3. empty --context= and --kubeconfig=


def test_an_empty_context_lists_the_kubeconfigs_contexts(stubbed, capsys, offline,
                                                         two_contexts: str) -> None:  # noqa: F811
    for flag in ("--context=", "--context"):
        line = _line(capsys, "--kubeconfig", two_contexts, "status", flag)
        # no example context the user did not choose (f36a): only the current one, which leaving the flag out uses
        assert f"(contexts in {two_contexts}: prod, dev)" in line and "--context dev" not in line, line
        assert flag == "--context=" or "prod is its current context: `" in line, line
    assert cli(capsys, "--kubeconfig", two_contexts, "status", "--context", "prod")[0] == STUBBED


def test_an_empty_kubeconfig_gives_an_example_path(stubbed, capsys, offline, two_contexts: str,
                                                   monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("KUBECONFIG", two_contexts)
    line = _line(capsys, "status", "--kubeconfig=")
    assert line.startswith(f"Error: --kubeconfig '': empty value; give PATH, e.g. --kubeconfig {two_contexts}"), line
    monkeypatch.delenv("KUBECONFIG")
    line = _line(capsys, "status", "--kubeconfig=")  # pass 31: no file to offer, no path that is not there
    assert line.startswith("Error: --kubeconfig '': empty value; give PATH (see"), line
    default = Path("~/.kube/config").expanduser()
    default.parent.mkdir(parents=True, exist_ok=True)
    default.write_text(Path(two_contexts).read_text())
    line = _line(capsys, "status", "--kubeconfig=")
    assert f"e.g. --kubeconfig {default}" in line, line


# ------------------------------------------------------------------ 4. a path typed unquoted


@pytest.fixture
def spaced(tmp_path: Path) -> Path:
    (tmp_path / "my dir").mkdir()
    (tmp_path / "my dir" / "app.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: t28c}\n")
    return tmp_path


@pytest.mark.parametrize("words,path", [
    (["demo", "traffic-shift", "--sandbox", SANDBOX, "-q", "-c", "12", "--plot", "{d}/my", "plot.png"],
     "{d}/my plot.png"),
    (["demo", "traffic-shift", "-q", "--plot={d}/a", "b", "c.png", "-c", "12"], "{d}/a b c.png"),
    (["sandbox", "up", "-f", "{d}/my", "dir/", "--name", "t28c-two"], "{d}/my dir/"),
    (["bench", "dataplane", "--out", "{d}/my", "results"], "{d}/my results"),
], ids=["plot", "plot= two spaces", "sandbox up -f", "bench --out"])
def test_a_path_with_a_space_typed_unquoted_is_offered_quoted(words: list[str], path: str, spaced: Path, state_root,
                                                              stubbed, capsys, offline) -> None:  # noqa: F811
    _record(SANDBOX)
    words = [w.format(d=spaced) for w in words]
    path = path.format(d=spaced)
    line = _line(capsys, *words)
    flag = next(w.partition("=")[0] for w in words if w.startswith("-") and path.startswith(
        w.partition("=")[2] or "\0") or w in ("--plot", "-f", "--out"))
    assert f"quote the path: {flag} {shlex.quote(path)}: `" in line, line
    [pasted] = _pasted(line)
    assert path in pasted and not set(words) - set(pasted) - {path.split(" ")[0], *path.split(" ")[1:],
                                                                f"{flag}={path.split(' ')[0]}"}, line
    _assert_pastable(capsys, line)


def test_a_stray_word_that_makes_no_path_is_no_quoting_hint(spaced: Path, state_root, stubbed, capsys,
                                                            offline) -> None:  # noqa: F811
    line = _line(capsys, "sandbox", "up", "-f", f"{spaced}/my", "other/")
    assert "quote the path" not in line, line


# ------------------------------------------------------------------ 5. -n for a namespace flag of another name


def test_node_run_n_is_its_pod_namespace(stubbed, capsys, offline) -> None:  # noqa: F811
    for typed in (["-n", "kmesh-system"], ["-nkmesh-system"], ["--namespace=kmesh-system"]):
        line = _line(capsys, "node", "run", *typed)
        assert "did you mean --pod-namespace?" in line, line
        [pasted] = _pasted(line)
        assert pasted[:3] == ["kmeshctl", "node", "run"] and pasted[3:] in (["--pod-namespace", "kmesh-system"],
                                                                       ["--pod-namespace=kmesh-system"]), line
        _assert_pastable(capsys, line)


def test_every_command_with_a_namespace_flag_of_another_name_offers_it(stubbed, capsys, offline) -> None:  # noqa
    checked = []
    for words in p27._leaves():
        command = ROOT
        for word in words:
            command = command.commands[word]
        names = {p.name for p in command.params}
        other = [p for p in command.params if (p.name or "").endswith("_namespace") and p.param_type_name == "option"]
        if "namespace" in names or not other:
            continue  # takes -n, or has no namespace flag of another name
        line = _line(capsys, *words, "-n", "kmesh-system", *p27.NEEDS.get(tuple(words), []))
        assert f"did you mean {other[0].opts[0]}?" in line, line
        checked.append(words)
    assert ["node", "run"] in checked


# ------------------------------------------------------------------ 6. a list flag typed once per value


@pytest.mark.parametrize("words,line", [
    (["demo", "traffic-shift", "--sandbox", SANDBOX, "--weights", "90/10", "--weights", "50/50"],
     ["demo", "traffic-shift", "--sandbox", SANDBOX, "--weights", "90/10,50/50"]),
    (["demo", "traffic-shift", "--weights=90/10", "--sandbox", SANDBOX, "--weights", "50/50", "--weights", "0/100"],
     ["demo", "traffic-shift", "--weights", "90/10,50/50,0/100", "--sandbox", SANDBOX]),
    (["bench", "dataplane", "--paths", "direct", "--paths", "kmesh-l4"],
     ["bench", "dataplane", "--paths", "direct,kmesh-l4"]),
], ids=["weights", "weights thrice", "bench paths"])
def test_a_list_flag_given_twice_is_offered_joined(words: list[str], line: list[str], state_root, stubbed, capsys,
                                                   offline) -> None:  # noqa: F811
    _record(SANDBOX)
    said = _line(capsys, *words)
    flag, value = line[line.index(next(w for w in line if w in ("--weights", "--paths")))::][:2]
    assert f"did you mean {flag} {value}?" in said, said
    assert _pasted(said) == [["kmeshctl", *line]], said
    _assert_pastable(capsys, said)


def test_values_that_hold_the_joiner_already_are_not_joined(state_root, stubbed, capsys, offline) -> None:  # noqa
    said = _line(capsys, "demo", "traffic-shift", "--weights", "90,10", "--weights", "50/50")
    # one line per value since t39b 4, each offered only when it parses; `--weights 90,10` (two sets of one
    # weight) is mended to the 90/10 it spells since pass 46 (f46d: a doubled flag's values each checked)
    assert "give one" in said and "did you mean --weights 90/10?" in said, said
    assert _pasted(said) == [["kmeshctl", "demo", "traffic-shift", "--weights", "90/10"],
                             ["kmeshctl", "demo", "traffic-shift", "--weights", "50/50"]], said
