"""Pass-27 new-user findings on command words (fixer F27-4), in-process through
kmeshctl.cli.main (sandbox records in a temporary state root; a cluster only where a test
starts the stand-in API server; a pasted kmeshctl line must get past parsing and every
flag check: the commands' own work is stubbed to exit 7, unless a test runs it):

- 1: istioctl's and bpftool's words (`proxy-config`, `ztunnel-config`, `bpf`, `map`) and
  `dump services` with a cluster configured suggested `dump config` / `dump maps` alone,
  which the typed --kubeconfig makes refuse: now with `--pod AGENT -n NS` when the cluster
  answers, else the POD placeholder (prose, not a line to paste) and the kubectl line that
  lists the agent pods; with no cluster, the local form as before;
- 2: istioctl's `waypoint generate` (also after its `x`), cilium's `connectivity test`
  and `sysdump` got no pointer;
- 3: `sandbox rm|delete --name X` replaced X by NAME; `sandbox destroy|stop|create|start`
  and `waypoint create|destroy|...` gave no command: the whole command, however the name
  was typed (--name, --sandbox, a word), the typed flags kept;
- 4: the demo's `sandbox up ... && kmeshctl demo ...` fixes dropped --kubeconfig; its
  in-use refusal said one sandbox flag in its words and another in its example.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import state as state_mod
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import _dead_kubeconfig, _record, cli, no_env, state_root  # noqa: F401
from test_demo_sandbox_own_weights import _sandbox
from test_p23_command_hints import BACKTICKED, STUBBED, _assert_pastable, _hint, _line, stubbed  # noqa: F401
from test_p24_status_dump import _agents


@pytest.fixture
def offline(tmp_path: Path, monkeypatch, no_env) -> None:  # noqa: F811
    """No cluster configured: no ~/.kube/config, no $KUBECONFIG."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def _commands(line: str, program: str = "kmeshctl") -> list[list[str]]:
    return [shlex.split(found) for found in BACKTICKED.findall(line) if found.startswith(program)]


# ------------------------------------------------------------------ 1. a dump line on a cluster

AGENT_WORDS = [(["proxy-config"], ["dump", "config"]), (["ztunnel-config", "workloads"], ["dump", "config"]),
               (["bpf"], ["dump", "maps"]), (["map", "list"], ["dump", "maps"]),
               (["dump", "services", "-o", "yaml"], ["dump", "config", "-o", "yaml"])]


@pytest.mark.parametrize("words,command", AGENT_WORDS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_1_a_cluster_that_answers_gets_its_agent_pod(cluster, stubbed, state_root, capsys, no_env,  # noqa: F811
                                                     words: list[str], command: list[str]) -> None:
    agents = _agents(cluster.server)
    kubeconfig = str(cluster.kubeconfig)
    line = _line(capsys, "--kubeconfig", kubeconfig, *words)
    pasted = _commands(line)
    assert pasted[0] == ["kmeshctl", "--kubeconfig", kubeconfig, *command, "--pod", agents[0], "-n",
                         "kmesh-system"], line
    if words[0] == "proxy-config":  # its second line, the maps, reads the same agent
        assert pasted[1] == ["kmeshctl", "--kubeconfig", kubeconfig, "dump", "maps", "--pod", agents[0], "-n",
                             "kmesh-system"], line
    _assert_pastable(capsys, line)


@pytest.mark.parametrize("where", ["typed", "exported"])
@pytest.mark.parametrize("words,command", AGENT_WORDS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_1_a_cluster_that_cannot_be_asked_gets_the_pod_placeholder_and_kubectl(  # noqa: F811
        stubbed, state_root, capsys, offline, monkeypatch, tmp_path: Path, where: str, words: list[str],
        command: list[str]) -> None:
    kubeconfig = str(_dead_kubeconfig(tmp_path / "dead.yaml"))
    typed = ["--kubeconfig", kubeconfig] if where == "typed" else []
    if where == "exported":
        monkeypatch.setenv("KUBECONFIG", kubeconfig)
    line = _line(capsys, *typed, *words)
    placeholder = shlex.join(["kmeshctl", *typed, *command, "--pod", "POD", "-n", "kmesh-system"])
    assert f"{placeholder}" in line and f"`{placeholder}`" not in line, line  # prose: no pod takes POD
    assert not any(c[1:1 + len(typed) + 1][-1:] == ["dump"] for c in _commands(line)), line  # no bare dump line
    [kubectl] = _commands(line, "kubectl")
    assert kubectl == ["kubectl", "get", "pods", "-n", "kmesh-system", "-l", "app=kmesh", *typed], line


def test_1_no_cluster_keeps_the_local_dump_line(stubbed, state_root, capsys, offline) -> None:  # noqa: F811
    for words, command in AGENT_WORDS:
        line = _line(capsys, *words)
        assert _commands(line)[0] == ["kmeshctl", *command] and "--pod" not in line.replace(
            "only with --pod POD", ""), line
        _assert_pastable(capsys, line)


def test_1_the_namespace_typed_is_the_pods(stubbed, state_root, capsys, offline, tmp_path: Path) -> None:  # noqa: F811
    kubeconfig = str(_dead_kubeconfig(tmp_path / "dead.yaml"))
    line = _line(capsys, "--kubeconfig", kubeconfig, "proxy-config", "-n", "kmesh")
    assert "dump config --pod POD -n kmesh;" in line and "only with --pod" not in line, line
    assert _commands(line, "kubectl")[0][3:5] == ["-n", "kmesh"], line


# ------------------------------------------------------------------ 2. other tools' words


@pytest.mark.parametrize("words,said,command", [
    (["waypoint", "generate"], "kmeshctl waypoint has no command generate; did you mean apply? with --dry-run it "
                               "prints the waypoint's objects and applies nothing",
     ["waypoint", "apply", "--dry-run", "-o", "yaml"]),
    (["waypoint", "generate", "--name", "wp", "-n", "team-a"], "did you mean apply?",
     ["waypoint", "apply", "--dry-run", "-o", "yaml", "--name", "wp", "-n", "team-a"]),
    (["waypoint", "generate", "-o", "json"], "did you mean apply?", ["waypoint", "apply", "--dry-run", "-o", "json"]),
    (["x", "waypoint", "generate", "--name", "wp"], "kmeshctl has no command x; nor a command waypoint generate: "
                                                    "did you mean apply?",
     ["waypoint", "apply", "--dry-run", "-o", "yaml", "--name", "wp"]),
    (["connectivity", "test"], "kmeshctl's traffic check (cilium's connectivity test) is",
     ["demo", "traffic-shift"]),
    (["sysdump"], "none gathers a bundle (cilium's sysdump): the install is shown by", ["status"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_2_other_tools_words_point_at_kmeshctls_command(stubbed, state_root, capsys, offline,  # noqa: F811
                                                        words: list[str], said: str, command: list[str]) -> None:
    line = _line(capsys, *words)
    assert said in line and "its commands:" not in line, line
    assert _commands(line)[0] == ["kmeshctl", *command], line
    _assert_pastable(capsys, line)


def test_2_sysdump_names_the_agents_state_and_logs(stubbed, state_root, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "sysdump")
    assert [c[1:] for c in _commands(line)] == [["status"], ["dump", "config"], ["dump", "maps"]], line
    assert "`kubectl logs -n kmesh-system -l app=kmesh`" in line, line


def test_2_connectivity_test_with_several_sandboxes_names_one(stubbed, state_root, capsys,  # noqa: F811
                                                              offline) -> None:
    _record("f274a")
    _record("f274b")
    line = _line(capsys, "connectivity", "test")
    assert _commands(line)[0] == ["kmeshctl", "demo", "traffic-shift", "--name", "f274a"], line
    _assert_pastable(capsys, line)


# ------------------------------------------------------------------ 3. a kind's verbs and the name typed


@pytest.mark.parametrize("verb", ["rm", "delete", "remove", "destroy", "stop", "del"])
@pytest.mark.parametrize("named", [["--name", "f274a"], ["--sandbox", "f274a"], ["--name=f274a"], ["f274a"]],
                         ids=" ".join)
def test_3_removing_a_sandbox_keeps_its_name(stubbed, state_root, capsys, offline, verb: str,  # noqa: F811
                                             named: list[str]) -> None:
    _record("f274a")
    assert _hint(capsys, "sandbox", verb, *named) == ["kmeshctl", "sandbox", "down", "--name", "f274a"]
    assert _hint(capsys, "sandbox", verb, *named, "-q") == ["kmeshctl", "sandbox", "down", "--name", "f274a"]


@pytest.mark.parametrize("verb", ["create", "start"])
@pytest.mark.parametrize("named", [["--name", "f274x"], ["--sandbox", "f274x"], ["f274x"]], ids=" ".join)
def test_3_making_a_sandbox_keeps_its_name_and_files(stubbed, state_root, capsys, offline, verb: str,  # noqa: F811
                                                     named: list[str], tmp_path: Path) -> None:
    manifests = tmp_path / "app.yaml"
    manifests.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n")
    line = _line(capsys, "sandbox", verb, *named)
    assert f"did you mean up? to create sandbox f274x: `kmeshctl sandbox up --name f274x`" in line, line
    assert _hint(capsys, "sandbox", verb, *named, "-f", str(manifests)) == [
        "kmeshctl", "sandbox", "up", "--name", "f274x", "-f", str(manifests)]
    assert _hint(capsys, "sandbox", verb) == ["kmeshctl", "sandbox", "up"]


def test_3_making_a_sandbox_that_exists_says_so(stubbed, state_root, capsys, offline) -> None:  # noqa: F811
    _record("f274a")
    line = _line(capsys, "sandbox", "create", "--name", "f274a")
    assert "sandbox f274a exists already: `kmeshctl sandbox status --name f274a`" in line, line
    assert "sandbox up --name f274a`" not in line, line


@pytest.mark.parametrize("words,command", [
    (["waypoint", "create", "--name", "wp", "-n", "team-a"], ["waypoint", "apply", "--name", "wp", "-n", "team-a"]),
    (["waypoint", "start"], ["waypoint", "apply"]),
    (["waypoint", "destroy", "--name", "wp"], ["waypoint", "delete", "--name", "wp"]),
    (["waypoint", "rm", "--name=wp", "-n", "team-a"], ["waypoint", "delete", "--name", "wp", "-n", "team-a"]),
    (["waypoint", "remove", "wp"], ["waypoint", "delete", "--name", "wp"]),
    (["waypoint", "get", "--name", "wp"], ["waypoint", "status", "--name", "wp"]),
    (["waypoint", "ls", "-n", "team-a"], ["waypoint", "list", "-n", "team-a"]),
    (["create", "sandbox", "--name", "f274x"], ["sandbox", "up", "--name", "f274x"]),
    (["create", "waypoint", "wp", "-n", "team-a"], ["waypoint", "apply", "--name", "wp", "-n", "team-a"]),
    (["delete", "waypoint", "--name", "wp"], ["waypoint", "delete", "--name", "wp"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_3_waypoint_and_kubectl_verbs_get_the_whole_command(stubbed, state_root, capsys, offline,  # noqa: F811
                                                            words: list[str], command: list[str]) -> None:
    assert _hint(capsys, *words) == ["kmeshctl", *command]


def test_3_the_global_flags_typed_are_kept(stubbed, state_root, capsys, offline, tmp_path: Path) -> None:  # noqa: F811
    kubeconfig = str(_dead_kubeconfig(tmp_path / "dead.yaml"))
    cluster_flags = ["--kubeconfig", kubeconfig, "--context", "dead"]
    for words in (["waypoint", "create", "--name", "wp"], ["waypoint", "destroy", "--name", "wp"]):
        for typed in (cluster_flags + words, words + cluster_flags):
            pasted = _commands(_line(capsys, *typed))
            assert pasted[0][1:5] == cluster_flags and "--name" in pasted[0], (typed, pasted)
    _record("f274a")
    line = _line(capsys, *cluster_flags, "sandbox", "rm", "--name", "f274a")
    assert _commands(line) == [["kmeshctl", "sandbox", "down", "--name", "f274a"]], line  # local: no cluster flag


# ------------------------------------------------------------------ 4. the demo's fixes


def test_4_a_sandbox_made_for_the_demo_keeps_every_flag_typed(state_root, capsys, offline,  # noqa: F811
                                                              tmp_path: Path) -> None:
    _record("f274a")
    kubeconfig = str(_dead_kubeconfig(tmp_path / "dead.yaml"))
    for flag in ("--sandbox", "--name"):
        code, _, err = cli(capsys, "--kubeconfig", kubeconfig, "demo", "traffic-shift", "--target", "local", flag,
                           "f274nope", "-c", "5", "-q")
        assert code == 1, err
        [fix] = [found for found in BACKTICKED.findall(err) if "&&" in found]
        up, again = (shlex.split(part) for part in fix.split(" && "))
        assert up == ["kmeshctl", "sandbox", "up", "--name", "f274nope"], err
        assert again[:4] == ["kmeshctl", "--kubeconfig", kubeconfig, "demo"], err
        assert again[5:7] == [flag, "f274nope"] and {"-c", "5", "-q"} <= set(again) and \
            again[again.index("--target") + 1] == "local", err


def test_4_the_in_use_refusal_names_one_flag_in_words_and_example(state_root, capsys, offline,  # noqa: F811
                                                                  monkeypatch) -> None:
    _sandbox("f274a", [90, 10])
    _sandbox("f274b", [90, 10])
    monkeypatch.setattr(demo_target.sb, "require_root", lambda: None)
    holder = subprocess.Popen(["sleep", "30"])
    try:
        lock_mod.lock_path("f274a").write_text(json.dumps(
            {"pid": holder.pid, "started": state_mod.process_start_time(holder.pid), "command": lock_mod.DEMO}))
        for flag in ("--name", "--sandbox"):
            code, _, err = cli(capsys, "demo", "traffic-shift", flag, "f274a", "-c", "5")
            assert code == 1, err
            # -c 5 raised to the 12 a 90/10 route needs: the line works when pasted
            assert f"in use by demo pid {holder.pid}; wait for it or pass {flag} of another sandbox, e.g. " \
                   f"`kmeshctl demo traffic-shift {flag} f274b -c 12`" in err, err
    finally:
        holder.kill()
        holder.wait()


def test_4_the_locks_own_text_takes_the_flag_and_example() -> None:
    found = lock_mod.Holder(1, "0", lock_mod.DEMO)
    assert lock_mod.in_use_text("a", found).endswith("pass --sandbox of another sandbox")
    assert lock_mod.in_use_text("a", found, flag="--name", other="kmeshctl demo traffic-shift --name b").endswith(
        "pass --name of another sandbox, e.g. `kmeshctl demo traffic-shift --name b`")
