"""Fixer f41d, pass 41 (tester t41a's findings on the local sandbox, demo and dump): every
fix line a local command offers works when pasted.

- `sandbox exec` without `--` refuses -q/--quiet/-h/--help after the command's first word
  (they were kmeshctl's own, taken from the command) with the `--` line (1);
- the demo offers only sandboxes it would run on as typed: its --weights fit their
  subsets, no weighted subset without a pod, ready (2, 3); none: the demo in a new one;
- the `-n 10` hint's -c is at least what the weights need (4);
- a pod whose netns was removed behind the sandbox's back makes it not ready, and exec
  says so with a fix that ends with the exec (5);
- failed sandboxes are listed by the "several" and "not found" lines (11);
- `sandbox up -q` keeps the manifests' warnings, which carry a fix (8);
- a stopped demo says its own sandbox was removed (9); a restore cut once the weights are
  back says so and leaves no record (10);
- `node cleanup` with nothing installed names the sandboxes up (13);
- `-f DIR` is echoed as typed (14); `CNI DEL done (it had no address yet)` (15).

No root, no processes: the records are the sandboxes (local_demo_doubles' stand-ins)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from kmeshctl import sandboxes
from kmeshctl.sandbox import sandbox as sandbox_mod
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files, load
import local_demo_doubles
from local_demo_doubles import stand_ins  # noqa: F401 - the fixture
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

TAG = f"d{os.getpid() % 10000}"


def _sandbox(name: str, v2_replicas: int = 1, processes: bool = False) -> state_mod.SandboxState:
    """A ready sandbox with the demo's objects in default (80/20), fortio-v2 with
    ``v2_replicas``; ``processes``: each pod with a process record (as a real one has)."""
    docs = load(default_files()).documents
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    for route, weight in zip(vs["spec"]["http"][0]["route"], (80, 20)):
        route["weight"] = weight
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "fortio-v2":
            doc["spec"]["replicas"] = v2_replicas
    names = ["waypoint", "fortio-v1-0", "netutils-0"] + (["fortio-v2-0"] if v2_replicas else [])
    pods = [state_mod.PodRecord(pod, "default", pod.split("-")[0], {}, f"10.244.0.{i + 2}", f"ns-{TAG}-{name}-{pod}",
                                "/nonexistent-cgroup", waypoint=pod == "waypoint")
            for i, pod in enumerate(names)]
    state = local_demo_doubles.save_ready(name, docs, pods, {"default/fortio": "10.96.0.10"})
    if processes:
        state.processes = [state_mod.ProcessRecord("container", 0, pod) for pod in names]
        state.save()
    return state


def _one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    return lines[0]


# ------------------------------------------------------------------ 1. exec: -q, --quiet, -h, --help in the command


@pytest.mark.parametrize("flag,meaning", [("-q", "kmeshctl's own (--quiet)"), ("--quiet", "kmeshctl's own (--quiet)"),
                                          ("-h", "sandbox exec's own (--help)"),
                                          ("--help", "sandbox exec's own (--help)")])
def test_exec_refuses_a_quiet_or_help_flag_of_the_command_with_the_dashes_line(flag, meaning, capsys, no_env,
                                                                                state_root) -> None:
    code, out, err = cli(capsys, "sandbox", "exec", "--name", f"{TAG}-e", "netutils", "grep", flag, "x", "/etc/hosts")
    line = _one_line_error(err)
    assert code == 2 and not out, (code, out, err)
    assert f"{flag} after the command's first word (grep) would be {meaning}" in line, line
    assert f"`kmeshctl sandbox exec --name {TAG}-e netutils -- grep {flag} x /etc/hosts`" in line, line


def test_exec_quiet_before_the_command_stays_kmeshctls(capsys, no_env, state_root) -> None:
    code, _, err = cli(capsys, "sandbox", "exec", "-q", "--name", f"{TAG}-e", "netutils", "true")
    assert code == 1 and "not found" in err and "first word" not in err, err


# ------------------------------------------------------------------ 2, 3. the sandboxes a demo line offers


def test_several_line_names_a_sandbox_the_typed_weights_fit(capsys, no_env, state_root, stand_ins) -> None:
    _sandbox(f"{TAG}-a", v2_replicas=0)  # 80/20 gives v2 (no pod) requests: refused as pasted
    _sandbox(f"{TAG}-b")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "-c", "30")
    line = _one_line_error(err)
    assert code == 2 and f"e.g. `kmeshctl demo traffic-shift --sandbox {TAG}-b " in line, line
    code, _, err = cli(capsys, "demo", "traffic-shift", "--target", "local", "-c", "30", "--weights", "100/0")
    line = _one_line_error(err)
    assert code == 2 and f"e.g. `kmeshctl demo traffic-shift --sandbox {TAG}-a " in line, line


def test_unfit_says_why_the_weights_typed_do_not_fit(state_root, no_env, monkeypatch) -> None:
    _sandbox(f"{TAG}-c")
    typed = sandboxes.Typed("kmeshctl demo traffic-shift", None, sandboxes.rerun_line,
                            "kmeshctl demo traffic-shift --weights 30/30/40")
    monkeypatch.setattr(sandboxes, "typed_now", lambda: typed)
    assert sandboxes.unfit(f"{TAG}-c", "ready", "kmeshctl demo traffic-shift") == \
        "--weights 30/30/40 does not fit its 2 subsets (v1/v2)"
    assert sandboxes.unfit(f"{TAG}-c", "ready", "kmeshctl sandbox status") == ""


def test_bad_kubeconfig_offers_only_sandboxes_the_demo_runs_on(capsys, no_env, state_root, stand_ins,
                                                                monkeypatch, tmp_path) -> None:
    _sandbox(f"{TAG}-a", v2_replicas=0)
    _sandbox(f"{TAG}-b")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing.kc"))
    code, _, err = cli(capsys, "demo", "traffic-shift", "-c", "30")
    line = _one_line_error(err)
    assert code == 2 and f"--sandbox {TAG}-b -c 30 --target local`" in line, line
    assert f"--sandbox {TAG}-a" not in line, line
    code, _, err = cli(capsys, "demo", "traffic-shift", "-c", "30", "--weights", "30/30/40")  # fits none
    line = _one_line_error(err)
    assert "`kmeshctl sandbox up --name kmesh-demo && kmeshctl demo traffic-shift --sandbox kmesh-demo" in line, line


# ------------------------------------------------------------------ 4. -n COUNT: a -c that is enough


def test_namespace_of_digits_hint_gives_the_count_the_weights_need(capsys, no_env, state_root, stand_ins) -> None:
    _sandbox(f"{TAG}-n")
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", f"{TAG}-n", "-n", "10")
    line = _one_line_error(err)
    assert code == 2 and f"e.g. -c 24: `kmeshctl demo traffic-shift --sandbox {TAG}-n -c 24`" in line, line
    code, _, err = cli(capsys, "demo", "traffic-shift", "--sandbox", f"{TAG}-n", "-n", "500")
    line = _one_line_error(err)
    assert f"e.g. -c 500: `kmeshctl demo traffic-shift --sandbox {TAG}-n -c 500`" in line, line


# ------------------------------------------------------------------ 5. a pod's netns removed by hand


def test_a_pod_netns_gone_makes_the_sandbox_not_ready(state_root, no_env, monkeypatch) -> None:
    state = _sandbox(f"{TAG}-g", processes=True)
    healthy = SimpleNamespace(failed=False, removed=False, stopped=False)
    monkeypatch.setattr(sandbox_mod, "_process_health", lambda state, record: healthy)
    assert sorted(p.name for p in sandbox_mod.netns_gone(state)) == ["fortio-v1-0", "fortio-v2-0", "netutils-0",
                                                                      "waypoint"]
    problems = sandbox_mod.process_problems(state)
    assert any(p.startswith("pod default/netutils-0: its network namespace /run/netns/") and "is gone" in p
               and f"kmeshctl sandbox down --name {TAG}-g && " in p and f"kmeshctl sandbox up --name {TAG}-g" in p
               for p in problems), problems
    with pytest.raises(sandbox_mod.KmeshctlError) as caught:
        sandbox_mod._check_pod_running(state, "netutils-0", "default", f"kmeshctl sandbox exec netutils --name "
                                       f"{TAG}-g -- true")
    text = str(caught.value)
    assert "cannot exec into pod default/netutils-0" in text and "is gone" in text, text
    assert text.endswith(f"&& kmeshctl sandbox exec netutils --name {TAG}-g -- true`"), text


def test_a_record_without_processes_has_no_netns_to_lose(state_root, no_env) -> None:
    assert sandbox_mod.netns_gone(_sandbox(f"{TAG}-h")) == []


# ------------------------------------------------------------------ 11. failed sandboxes listed


def test_failed_sandboxes_are_listed_never_offered(capsys, no_env, state_root) -> None:
    _sandbox(f"{TAG}-r1")
    _sandbox(f"{TAG}-r2")
    (state_root / f"{sandboxes.FAILED_UP_PREFIX}{TAG}-f").mkdir(parents=True)
    code, _, err = cli(capsys, "sandbox", "status")
    line = _one_line_error(err)
    assert code == 2 and f"{TAG}-f failed" in line and f"--name {TAG}-r1`" in line, line
    assert sandboxes.known_text() == f"sandboxes: {TAG}-r1, {TAG}-r2, {TAG}-f failed"


# ------------------------------------------------------------------ 14. -f DIR as typed


def test_a_directory_is_echoed_as_typed(capsys, no_env, state_root, tmp_path, monkeypatch) -> None:
    (tmp_path / "emptydir").mkdir()
    monkeypatch.chdir(tmp_path)
    for typed in ("emptydir", "emptydir/"):
        code, _, err = cli(capsys, "sandbox", "up", "--name", f"{TAG}-x", "-f", typed)
        line = _one_line_error(err)
        assert code == 2 and line.startswith(f"Error: -f {typed}: no YAML manifests"), line


# ------------------------------------------------------------------ 15. CNI DEL of a pod with no address


def test_cni_del_of_a_pod_without_an_address_reads_as_done(monkeypatch, tmp_path) -> None:
    from kmeshctl.sandbox import pods

    pod = SimpleNamespace(namespace="default", name="fortio-v2-0", container_id="c1")
    runtime = SimpleNamespace(cached_pods=lambda: [pod], result=lambda p: None, delete=lambda p: None)
    monkeypatch.setattr(pods, "cni_runtime", lambda state: runtime)
    monkeypatch.setattr(pods, "LocalPods", lambda path: SimpleNamespace(delete_pod=lambda ns, n: None))
    said: list[str] = []
    state = SimpleNamespace(local_pods_dir=tmp_path, pods=[])
    try:
        pods.remove_pods(state, said.append)  # type: ignore[arg-type]
    except AttributeError:
        pass  # the netns removal after the DELs needs a real record
    assert "pod default/fortio-v2-0: CNI DEL done (it had no address yet)" in said, said



# ------------------------------------------------------------------ 8. sandbox up -q keeps the warning with a fix


def test_up_quiet_keeps_the_manifest_warning_and_drops_the_enrolment_note(capsys, no_env, state_root,
                                                                          monkeypatch) -> None:
    from kmeshctl.cli import sandbox as cli_sandbox

    state = _sandbox(f"{TAG}-q")
    monkeypatch.setattr(sandbox_mod, "check_up", lambda *a, **k: None)
    monkeypatch.setattr(sandbox_mod, "up", lambda *a, **k: state)
    monkeypatch.setattr(sandbox_mod, "unenrolled_note", lambda s: "pods not enrolled in Kmesh (ns1/web-0) ...")
    monkeypatch.setattr(cli_sandbox, "manifest_warnings", lambda m, name=None: ["subset v2 selects no running pod; "
                                                                                 "give it replicas: 1"])
    code, out, err = cli(capsys, "sandbox", "up", "--name", f"{TAG}-q", "-q")
    assert code == 0 and f"Sandbox {TAG}-q is up" in out, (code, out, err)
    assert err == "Warning: subset v2 selects no running pod; give it replicas: 1\n", err


# ------------------------------------------------------------------ 9, 10. a stopped demo's line


def test_the_demos_own_sandbox_removed_is_what_a_stop_says_it_left(state_root, no_env, monkeypatch) -> None:
    from kmeshctl import stopping
    from kmeshctl.sandbox import demo_target

    monkeypatch.setattr(stopping, "_left", "")
    monkeypatch.setattr(demo_target.sb, "down", lambda name: None)
    target = demo_target.LocalTarget(f"{TAG}-own", ("default", "fortio"), [90, 10])
    target._started_here = True
    target.finish(lambda line: None)
    assert stopping.left() == f"sandbox {TAG}-own (the demo's own) was removed"


def test_a_restore_cut_once_the_weights_are_back_says_so_and_leaves_no_record(state_root, no_env) -> None:
    from kmeshctl.sandbox import demo_target

    state = _sandbox(f"{TAG}-w")  # its record: 80/20, the VirtualService's own
    record = demo_target.weights_record(state)
    record.write_text("{}")
    target = demo_target.LocalTarget(f"{TAG}-w", ("default", "fortio"), [80, 20])
    target._state = state
    assert target._weights_left() == "the VirtualService's own weights 80/20 were put back"
    assert not record.exists()


# ------------------------------------------------------------------ 13. node cleanup names the sandboxes up


@pytest.mark.skipif(Path("/sys/fs/bpf/kmesh").exists(), reason="this node has a kmesh data path")
def test_node_cleanup_with_nothing_installed_names_the_sandboxes_up(capsys, no_env, state_root) -> None:
    _sandbox(f"{TAG}-c1")
    code, _, err = cli(capsys, "node", "cleanup")
    line = _one_line_error(err)
    assert code == 1 and line.endswith(f"; sandbox {TAG}-c1 is up: each one's data path goes with it, "
                                       f"`kmeshctl sandbox down --name {TAG}-c1`"), line
