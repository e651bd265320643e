"""Fixer f38d, tester t38a's findings 1, 2, 4-10: a demo line offered for a sandbox
carries the -c its route needs; -o hints name a sandbox when several exist; a non-root
user is told the command needs root; bench --out refuses a missing parent; node cleanup
of an empty --bpf-fs is `nothing to clean up` (exit 1); `sandbox down --name a --name b`
offers both downs; small wordings; a subset with replicas 0 and weight 0 runs; a demo
failed by an AuthorizationPolicy says so.

Sandbox records live in a temporary state root (test_cli_kinds' `state_root`); nothing
is started unless a test says so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import local_demo_doubles
from kmeshctl.demo_cluster import in_namespace
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files, load
from local_demo_doubles import stand_ins  # noqa: F401 - the fixture
from test_cli_kinds import cli, no_env, state_root  # noqa: F401

PID = os.getpid()


def _docs(weights: tuple[int, int] = (80, 20), replicas: tuple[int, int] = (1, 1)) -> list[dict]:
    docs = in_namespace(load(default_files()).documents, "default")
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    for route, weight in zip(vs["spec"]["http"][0]["route"], weights):
        route["weight"] = weight
    for version, count in zip(("fortio-v1", "fortio-v2"), replicas):
        next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == version)["spec"]["replicas"] \
            = count
    return docs


def _sandbox(name: str, phase: str = state_mod.PHASE_READY, weights: tuple[int, int] = (80, 20),
             replicas: tuple[int, int] = (1, 1)) -> state_mod.SandboxState:
    """A sandbox's record with the demo's objects in `default`, routing ``weights``."""
    pods, vips = [], {"default/fortio": "10.96.0.10"}
    for i, (pod, waypoint) in enumerate((("waypoint", True), ("fortio-v1-0", False), ("fortio-v2-0", False),
                                         ("netutils-0", False))):
        pods.append(state_mod.PodRecord(pod, "default", pod.split("-")[0], {}, f"10.244.0.{i + 2}",
                                        f"ns-f38d-{PID}-{pod}", "/nonexistent-cgroup", waypoint=waypoint))
    state = local_demo_doubles.save_ready(name, _docs(weights, replicas), pods, vips)
    if phase != state_mod.PHASE_READY:
        state.phase = phase
        state.save()
    return state


# ------------------------------------------------------------------ 1. the remake lines carry -c


def _demo_part(err: str) -> str:
    """The last command of the backticked line in ``err``: the demo."""
    line = err.rsplit("`", 2)[-2]
    return line.split(" && ")[-1]


def test_a_half_removed_80_20_sandbox_is_made_again_with_the_c_it_needs(state_root, no_env, stand_ins,
                                                                       capsys) -> None:
    name = f"f38d-h{PID}"
    _sandbox(name, phase=state_mod.PHASE_REMOVING)
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name)
    assert code == 1 and "half-removed" in err, err
    assert _demo_part(err) == f"kmeshctl demo traffic-shift --sandbox {name} -c 24", err


def test_a_not_ready_80_20_sandbox_is_made_again_with_the_c_it_needs(state_root, no_env, stand_ins, capsys,
                                                                    monkeypatch) -> None:
    from kmeshctl.sandbox import demo_target

    name = f"f38d-n{PID}"
    _sandbox(name)
    monkeypatch.setattr(demo_target.sb, "process_problems", lambda state: ["pod fortio-v1-0: killed by SIGKILL"])
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name, "-q")
    assert code == 1 and "is not ready" in err and "make it again" in err, err
    assert _demo_part(err) == f"kmeshctl demo traffic-shift --sandbox {name} -q -c 24", err
    # -c typed and enough: kept as typed
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name, "-c", "30")
    assert _demo_part(err) == f"kmeshctl demo traffic-shift --sandbox {name} -c 30", err
    # --weights typed: that run's own check says what it needs
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name, "--weights", "50/50")
    assert _demo_part(err) == f"kmeshctl demo traffic-shift --sandbox {name} --weights 50/50", err


def test_a_90_10_sandbox_needs_no_c(state_root, no_env, stand_ins, capsys) -> None:
    name = f"f38d-d{PID}"
    _sandbox(name, phase=state_mod.PHASE_REMOVING, weights=(90, 10))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name)
    assert code == 1 and _demo_part(err) == f"kmeshctl demo traffic-shift --sandbox {name}", err


def test_several_sandboxes_offer_the_demo_with_the_c_it_needs(state_root, no_env, stand_ins, capsys) -> None:
    _sandbox(f"f38d-a{PID}")
    _sandbox(f"f38d-b{PID}")
    code, out, err = cli(capsys, "demo", "traffic-shift", "--target", "local")
    assert code == 2 and "several sandboxes exist" in err, err
    assert f"e.g. `kmeshctl demo traffic-shift --sandbox f38d-a{PID} --target local -c 24`" in err, err


def test_a_failed_up_of_an_80_20_route_is_made_again_with_the_c_it_needs(state_root, no_env, stand_ins,
                                                                        capsys) -> None:
    import yaml

    name = f"f38d-f{PID}"
    _sandbox(f"f38d-o{PID}")  # another one up: the typed name is looked up, not made
    logs = state_mod.failed_up_logs(name)
    logs.mkdir(parents=True)
    (logs / "manifests.yaml").write_text(yaml.safe_dump_all(_docs(), sort_keys=False))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name)
    assert code == 1 and f"sandbox {name} failed" in err, err
    assert _demo_part(err) == f"kmeshctl demo traffic-shift --sandbox {name} -c 24", err


# ------------------------------------------------------------------ 2. -o hints name a sandbox when several exist


def test_o_name_on_sandbox_status_names_a_sandbox_when_several_exist(state_root, no_env, capsys) -> None:
    first, second = f"f38d-s{PID}", f"f38d-t{PID}"
    _sandbox(first)
    code, out, err = cli(capsys, "sandbox", "status", "-o", "name")
    assert code == 2 and "`kmeshctl sandbox status -o json`" in err, err  # one sandbox: it picks it alone
    _sandbox(second)
    code, out, err = cli(capsys, "sandbox", "status", "-o", "name")
    assert code == 2 and f"`kmeshctl sandbox status -o json --name {first}`" in err, err
    code, out, err = cli(capsys, "sandbox", "status", "--name", second, "-o", "name")
    assert code == 2 and f"`kmeshctl sandbox status --name {second} -o json`" in err, err


def test_did_you_mean_lines_of_sandbox_status_name_a_sandbox_when_several_exist(state_root, no_env,
                                                                               capsys) -> None:
    _sandbox(f"f38d-w{PID}")
    _sandbox(f"f38d-x{PID}")
    code, out, err = cli(capsys, "sandbox", "status", "-o", "jsn")
    assert code == 2 and f"did you mean json? `kmeshctl sandbox status -o json --name f38d-w{PID}`" in err, err
    code, out, err = cli(capsys, "sandbox", "status", "--no-headers")
    assert code == 2 and f"`kmeshctl sandbox status -o json --name f38d-w{PID}`" in err, err


def test_o_name_on_dump_maps_names_a_sandbox_when_several_exist(state_root, no_env, capsys) -> None:
    _sandbox(f"f38d-u{PID}")
    _sandbox(f"f38d-v{PID}")
    code, out, err = cli(capsys, "dump", "maps", "-o", "name")
    assert code == 2, err
    assert f"`kmeshctl dump maps -o json --sandbox f38d-u{PID}`" in err, err


# ------------------------------------------------------------------ 9. a subset with replicas 0


def test_a_podless_subset_given_weight_0_runs_and_its_refusal_gives_lines(state_root, no_env, stand_ins,
                                                                          capsys) -> None:
    name = f"f38d-z{PID}"
    _sandbox(name, weights=(90, 10), replicas=(1, 0))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name, "-c", "5")
    assert code == 1 and "has no pod (replicas 0 in Deployment default/fortio-v2)" in err, err
    assert f"send it nothing, `kmeshctl demo traffic-shift --sandbox {name} -c 5 --weights 100/0`" in err, err
    assert "make the sandbox again with replicas >= 1 for it" in err, err
    assert not stand_ins["pushes"]
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name, "-c", "5", "--weights", "100/0")
    assert "has no pod" not in err, err
    assert stand_ins["pushes"][0] == ("default", "fortio", 0, [100, 0]), stand_ins  # switched before any request
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name, "--weights", "100/0,50/50")
    assert code == 1 and "`kmeshctl demo traffic-shift --sandbox f38d-z" in err and "--weights 100/0`" in err, err


def test_without_podless_moves_the_weight_to_a_subset_with_pods() -> None:
    from kmeshctl import demo
    from kmeshctl.sandbox.manifests import from_documents

    subject = demo.demo_subject(from_documents(_docs((90, 10), (1, 0))))
    assert demo.without_podless(subject, [[90, 10], [50, 50], [100, 0]]) == [[100, 0]]
    assert demo.without_podless(subject, [[100, 0]]) == [[100, 0]]


# ------------------------------------------------------------------ 10. a demo failed by authorization


def test_a_demo_failed_by_an_authorization_policy_says_so_in_text_and_json(state_root, no_env, stand_ins, capsys,
                                                                          monkeypatch) -> None:
    import json

    from kmeshctl import dump

    name = f"f38d-p{PID}"
    _sandbox(name)
    seen = iter([{}, {"AuthorizationPolicy default/deny-v2": 8, "no ALLOW policy matched": 1}])
    monkeypatch.setattr(dump, "denials", lambda bpf_fs: next(seen))
    # the stand-in loop answers 80/20: 50/50 is rejected, so the demo asks why
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name, "--weights", "50/50", "-c", "60",
                         "-o", "json")
    report = json.loads(out)
    assert code == 1 and report["passed"] is False, err
    assert report["reason"] == ("likeliest reason: AuthorizationPolicy default/deny-v2 denied 8 connections during "
                                f"the run (and 1 more); see `kmeshctl dump maps --sandbox {name} --map "
                                "km_authz_stats`"), report


def test_denials_before_the_run_are_no_reason(state_root, no_env, stand_ins, capsys, monkeypatch) -> None:
    from kmeshctl import dump

    name = f"f38d-q{PID}"
    _sandbox(name)
    monkeypatch.setattr(dump, "denials", lambda bpf_fs: {"AuthorizationPolicy default/deny-v2": 8})
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", name, "--weights", "50/50", "-c", "60")
    assert code == 1 and "FAIL" in out and "AuthorizationPolicy" not in out + err, out + err


# ------------------------------------------------------------------ 5. bench --out


def test_bench_out_refuses_a_missing_parent_and_makes_nothing(capsys, no_env, tmp_path) -> None:
    missing = tmp_path / f"f38d-{PID}" / "x"
    code, out, err = cli(capsys, "bench", "dataplane", "--paths", "direct", "--out", str(missing))
    assert code == 2 and not out and err.count("\n") == 1, err
    assert f"Error: --out {missing}: directory {missing.parent} does not exist; give a directory in an existing " \
           f"one, or make it first: `mkdir -p {missing.parent} && kmeshctl bench dataplane --paths direct --out " \
           f"{missing}`" in err, err
    assert not missing.parent.exists()


# ------------------------------------------------------------------ 6. node cleanup of an empty directory


def test_node_cleanup_of_an_empty_bpffs_directory_is_nothing_to_clean_up(capsys, no_env, state_root) -> None:
    empty = Path(f"/sys/fs/bpf/f38d-empty-{PID}")
    if not Path("/sys/fs/bpf").is_dir() or os.geteuid() != 0:
        pytest.skip("needs root and a bpf filesystem at /sys/fs/bpf")
    empty.mkdir()
    try:
        code, out, err = cli(capsys, "node", "cleanup", "--bpf-fs", str(empty))
        assert code == 1 and not out, err
        assert err.startswith(f"Error: nothing to clean up: {empty} is an empty directory (no pin of kmesh's data "
                              f"path); `kmeshctl node cleanup --bpf-fs {empty} --ignore-not-found` makes this "
                              "exit 0"), err
        code, out, err = cli(capsys, "node", "cleanup", "--bpf-fs", str(empty), "--ignore-not-found")
        assert code == 0 and out.strip() == f"nothing to clean up under {empty}", err
    finally:
        empty.rmdir()


# ------------------------------------------------------------------ 7. two sandboxes named


def test_sandbox_down_of_two_names_offers_both_downs(capsys, no_env, state_root) -> None:
    code, out, err = cli(capsys, "sandbox", "down", "--name", "f38d-a", "--name", "f38d-b", "-q")
    assert code == 2, err
    assert "--name f38d-a and --name f38d-b name two sandboxes; give one; to remove both: `kmeshctl sandbox down " \
           "-q --name f38d-a && kmeshctl sandbox down -q --name f38d-b`" in err, err
    code, out, err = cli(capsys, "sandbox", "status", "--name", "f38d-a", "--sandbox", "f38d-b")
    assert code == 2 and "give one, e.g. `kmeshctl sandbox status --name f38d-a` or `kmeshctl sandbox status " \
                         "--name f38d-b`" in err, err
    code, out, err = cli(capsys, "sandbox", "exec", "netutils", "--name", "f38d-a", "--name", "f38d-b", "--", "true")
    assert code == 2 and "`kmeshctl sandbox exec netutils --name f38d-a -- true`" in err, err


# ------------------------------------------------------------------ 8. wordings


def test_a_bad_digest_is_named() -> None:
    from kmeshctl.errors import UsageError
    from kmeshctl.params import check_image

    with pytest.raises(UsageError) as refused:
        check_image("docker.io/x/y@sha256:abc")
    assert "digest sha256:abc is not sha256: and 64 hex digits" in str(refused.value), refused.value
    assert "--image docker.io/x/y" in str(refused.value)
    check_image("docker.io/x/y@sha256:" + "a" * 64)


def test_too_few_requests_and_the_even_spread_do_not_contradict() -> None:
    from types import SimpleNamespace

    from kmeshctl.cli.demo import unweighted_note

    phase = SimpleNamespace(weights={"v1": 50, "v2": 50}, unweighted={"v1": 0.5, "v2": 0.5}, judged=False, needed=11)
    note = unweighted_note(phase, "90/10")
    assert note == ("11 requests tell whether the split is 50/50, but not whether the weights made it: routing "
                    "without them spreads requests evenly over the pods, 50/50 here; weights like 90/10 show the "
                    "weights at work."), note
    assert "no request count" not in note


def test_sandbox_down_stopped_before_it_removed_anything_says_so(capsys, no_env, state_root, monkeypatch) -> None:
    from kmeshctl.sandbox import sandbox as sandbox_mod

    name = f"f38d-c{PID}"
    _sandbox(name)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sandbox_mod, "down", stopped)
    code, out, err = cli(capsys, "sandbox", "down", "--name", name)
    assert code == 130, err
    assert err.strip() == f"Error: stopped by Ctrl-C (SIGINT): nothing was removed (sandbox {name} is still up)", err


# ------------------------------------------------------------------ 4. without root (a real sandbox)


def test_without_root_the_commands_that_need_it_say_so_and_list_shows_what_it_sees() -> None:
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("needs root to make the sandbox")
    kmeshctl = [sys.executable, "-m", "kmeshctl"]
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    name = f"f38d-nr{PID}"
    env = {k: v for k, v in os.environ.items() if k != "KMESHCTL_SANDBOX_NAME"}
    try:
        made = subprocess.run([*kmeshctl, "sandbox", "up", "--name", name, "-q"], capture_output=True, text=True,
                              timeout=300, env=env, cwd="/")
        assert made.returncode == 0, made.stderr
        listed = subprocess.run([*nobody, *kmeshctl, "sandbox", "list", "-o", "name"], capture_output=True, text=True,
                                timeout=60, env=env, cwd="/")
        assert listed.returncode == 0 and name in listed.stdout.split(), listed.stderr
        needs_root = "Error: the sandbox needs root (network namespaces, cgroups, eBPF): run it as root"
        for command in (["sandbox", "status", "--name", name], ["dump", "maps", "--sandbox", name],
                        ["demo", "traffic-shift", "--sandbox", name, "-q"]):
            result = subprocess.run([*nobody, *kmeshctl, *command], capture_output=True, text=True, timeout=60,
                                    env=env, cwd="/")
            errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
            assert result.returncode == 1 and errors == [needs_root], (command, result.stderr)
    finally:
        subprocess.run([*kmeshctl, "sandbox", "down", "--name", name, "-q", "--ignore-not-found"], capture_output=True,
                       timeout=300, env=env, cwd="/")
